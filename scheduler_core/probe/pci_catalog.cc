#include "probe/pci_catalog.h"

#include <array>

namespace accelpack::probe {
namespace {

constexpr uint16_t kNvidiaVendorId = 0x10de;
constexpr uint16_t kHuaweiVendorId = 0x19e5;

// PCI classes an accelerator of these vendors shows up as: VGA, 3D controller,
// processing accelerator. Huawei NICs (0200) and NVSwitch (0680) are not among them.
constexpr std::array<uint16_t, 3> kAcceleratorClasses = {0x0300, 0x0302, 0x1200};

// Links= weight of an NVSwitch board: every GPU reaches every other through all of
// its NVLinks (18 on H100/H200/H20, 8 on the export-limited H800).
constexpr int kHopperNvLinks = 18;
constexpr int kH800NvLinks = 8;
// One HCCS link between each pair of an Ascend ring or group.
constexpr int kHccsLinks = 1;

constexpr PciPart NvidiaSxm(uint16_t id, absl::string_view kind, absl::string_view model,
                            int nvlinks) {
  // HGX boards: 8 SXM GPUs, all-to-all through NVSwitch.
  return {DeviceVendor::kNvidia, id, kind, kind, model, 8, 8, Interconnect::kNvSwitch, nvlinks};
}

constexpr PciPart NvidiaCard(uint16_t id, absl::string_view kind, absl::string_view model) {
  return {DeviceVendor::kNvidia, id, kind, kind, model, 0, 0, Interconnect::kNone, 0};
}

constexpr PciPart Ascend(uint16_t id, absl::string_view kind, absl::string_view type,
                         absl::string_view model, int board, int group) {
  return {DeviceVendor::kHuawei,
          id,
          kind,
          type,
          model,
          board,
          group,
          board > 0 ? Interconnect::kHccs : Interconnect::kNone,
          board > 0 ? kHccsLinks : 0};
}

// IDs from the public PCI ID database and vendor documentation (accelerators.md).
constexpr std::array kParts = {
    NvidiaSxm(0x2330, "h100", "NVIDIA H100 SXM5", kHopperNvLinks),
    NvidiaCard(0x2331, "h100", "NVIDIA H100 PCIe"),
    NvidiaCard(0x2321, "h100", "NVIDIA H100 NVL"),
    NvidiaSxm(0x2324, "h800", "NVIDIA H800 SXM5", kH800NvLinks),
    NvidiaCard(0x2322, "h800", "NVIDIA H800 PCIe"),
    NvidiaCard(0x233a, "h800", "NVIDIA H800 NVL"),
    NvidiaSxm(0x2335, "h200", "NVIDIA H200 SXM", kHopperNvLinks),
    NvidiaCard(0x233b, "h200", "NVIDIA H200 NVL"),
    NvidiaSxm(0x2329, "h20", "NVIDIA H20", kHopperNvLinks),
    NvidiaSxm(0x232c, "h20", "NVIDIA H20-3e", kHopperNvLinks),
    NvidiaCard(0x2342, "gh200", "NVIDIA GH200"),
    NvidiaCard(0x2348, "gh200", "NVIDIA GH200 144G HBM3e"),
    Ascend(0xd100, "ascend310", "310", "Huawei Ascend 310", 0, 0),
    Ascend(0xd500, "ascend310p", "310p", "Huawei Ascend 310P", 0, 0),
    // Atlas 800 (first generation): two HCCS rings of 4 per board of 8.
    Ascend(0xd801, "ascend910", "910", "Huawei Ascend 910", 8, 4),
    // Atlas 800T A2: one HCCS group of 8 (a Box16 node is two such boards).
    Ascend(0xd802, "ascend910b", "910b", "Huawei Ascend 910B", 8, 8),
    // Atlas 900 A3: 16 dies (8 two-die modules) all on HCCS.
    Ascend(0xd803, "ascend910c", "910c", "Huawei Ascend 910C", 16, 16),
};

bool IsAcceleratorClass(uint16_t class_id) {
  for (uint16_t accelerator_class : kAcceleratorClasses) {
    if (class_id == accelerator_class) return true;
  }
  return false;
}

}  // namespace

PciMatch ClassifyPciDevice(uint16_t vendor_id, uint16_t device_id, uint16_t class_id) {
  DeviceVendor vendor;
  if (vendor_id == kNvidiaVendorId) {
    vendor = DeviceVendor::kNvidia;
  } else if (vendor_id == kHuaweiVendorId) {
    vendor = DeviceVendor::kHuawei;
  } else {
    return {};
  }
  for (const PciPart& part : kParts) {
    if (part.vendor == vendor && part.device_id == device_id) {
      return {PciRole::kKnownAccelerator, vendor, &part};
    }
  }
  if (IsAcceleratorClass(class_id)) return {PciRole::kUnknownAccelerator, vendor, nullptr};
  return {};
}

std::span<const PciPart> KnownParts() { return kParts; }

uint16_t VendorPciId(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? kNvidiaVendorId : kHuaweiVendorId;
}

absl::string_view VendorName(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? "nvidia" : "huawei";
}

absl::string_view VendorGresName(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? "gpu" : "npu";
}

absl::string_view VendorDevicePath(DeviceVendor vendor) {
  return vendor == DeviceVendor::kNvidia ? "/dev/nvidia" : "/dev/davinci";
}

}  // namespace accelpack::probe
