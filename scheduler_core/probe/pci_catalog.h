// The PCI IDs of the accelerators accelpack knows: the only place they live.
//
// Debian's pci.ids lacks most of these parts (H200, H20, GH200, every Ascend), so the
// probe matches vendor AND device ID against this table. A device of a known vendor
// and an accelerator class whose ID is not here is reported as unknown, never
// guessed; other devices of those vendors (NVSwitch, Huawei NICs) are not
// accelerators at all.
//
// Thread-safety: the table is immutable; all functions are pure.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/strings/string_view.h"
#include "probe/probe.h"

namespace accelpack::probe {

struct PciPart {
  DeviceVendor vendor;
  uint16_t device_id;
  absl::string_view kind;       // the core's catalog kind name
  absl::string_view gres_type;  // Slurm GRES type
  absl::string_view model;
  // How the devices of one board are linked, when PCI IDs alone tell it: a node
  // holding a multiple of board_size devices of this part is that many boards, each
  // split (in device index order) into all-to-all groups of group_size.
  // board_size 0: the links cannot be known from PCI (PCIe cards, NVL bridges).
  int board_size = 0;
  int group_size = 0;
  Interconnect interconnect = Interconnect::kNone;
  int link_weight = 0;
};

enum class PciRole { kNotAccelerator, kKnownAccelerator, kUnknownAccelerator };

struct PciMatch {
  PciRole role = PciRole::kNotAccelerator;
  DeviceVendor vendor = DeviceVendor::kNvidia;
  const PciPart* part = nullptr;  // set for kKnownAccelerator
};

// What a PCI function is, from its vendor, device and class IDs.
PciMatch ClassifyPciDevice(uint16_t vendor_id, uint16_t device_id, uint16_t class_id);

std::span<const PciPart> KnownParts();

uint16_t VendorPciId(DeviceVendor vendor);
absl::string_view VendorName(DeviceVendor vendor);        // "nvidia" / "huawei"
absl::string_view VendorGresName(DeviceVendor vendor);    // "gpu" / "npu"
absl::string_view VendorDevicePath(DeviceVendor vendor);  // "/dev/nvidia" / "/dev/davinci"

}  // namespace accelpack::probe
