// The PCI IDs of the accelerators accelpack knows: the only place they live.
//
// Debian's pci.ids lacks most of these parts (H200, H20, GH200, every Ascend), so the
// probe matches vendor AND device ID against this table. A device of a known vendor
// and an accelerator class whose ID is not here is reported as unknown, never
// guessed; other devices of those vendors (NVSwitch, Huawei NICs) are not
// accelerators at all. Huawei's server chips also show PCI functions of accelerator
// classes (the iBMC's VGA, the Kunpeng ZIP/SEC/HPRE/RDE engines): the table names
// them as host functions, so they neither count as NPUs nor shift /dev/davinciN.
//
// Thread-safety: the table is immutable; all functions are pure.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "absl/strings/string_view.h"
#include "probe/probe.h"

namespace accelpack::probe {

// One way a part's devices are built into boards, when PCI IDs alone tell it: a node
// holding a multiple of board_size devices of the part is that many boards, each
// split (in device index order) into all-to-all groups of group_size.
struct BoardLayout {
  int board_size = 0;  // 0: no layout
  int group_size = 0;
  Interconnect interconnect = Interconnect::kNone;
  // Slurm Links= between two members of a group: what Slurm's NVML autodetect
  // writes (NVLinks wired GPU to GPU; 0 through NVSwitches), HCCS links for Ascend.
  int pair_links = 0;
};

struct PciPart {
  DeviceVendor vendor;
  uint16_t device_id;
  absl::string_view kind;       // the core's catalog kind name
  absl::string_view gres_type;  // Slurm GRES type
  absl::string_view model;
  // Board layouts in order of preference; the first that takes every device of the
  // part wins. None for PCIe cards and NVL cards (their links cannot be known from
  // PCI). A kNvLink layout (4-GPU HGX, no NVSwitch) is not used when the node shows
  // NVSwitch chips: those devices are part of a larger board.
  std::array<BoardLayout, 2> boards = {};
  // NVL cards: pairs (or fours) joined by NVLink bridges that PCI does not show.
  bool nvlink_bridges = false;
  // hwloc's NVLinkBandwidth unit for one NVLink of this part (MB/s; hwloc writes
  // 25000 per link for NVLink 2 to 4, i.e. every Hopper part).
  int nvlink_mbps = 0;
  // Catalog kind whose MIG profile table (model/mig.h) this part's MIG slices follow;
  // empty when the part has no MIG profiles in the catalog (H100 NVL's 94 GB differ).
  absl::string_view mig_profiles = {};
};

enum class PciRole { kNotAccelerator, kHostFunction, kKnownAccelerator, kUnknownAccelerator };

struct PciMatch {
  PciRole role = PciRole::kNotAccelerator;
  DeviceVendor vendor = DeviceVendor::kNvidia;
  const PciPart* part = nullptr;    // set for kKnownAccelerator
  absl::string_view host_function;  // what a kHostFunction is ("iBMC VGA")
};

// What a PCI function is, from its vendor, device and class IDs.
PciMatch ClassifyPciDevice(uint16_t vendor_id, uint16_t device_id, uint16_t class_id);

std::span<const PciPart> KnownParts();

// An NVIDIA NVSwitch chip (HGX A100/H100 boards), which is not an accelerator.
bool IsNvSwitch(uint16_t vendor_id, uint16_t device_id);

uint16_t VendorPciId(DeviceVendor vendor);
absl::string_view VendorName(DeviceVendor vendor);        // "nvidia" / "huawei"
absl::string_view VendorGresName(DeviceVendor vendor);    // "gpu" / "npu"
absl::string_view VendorDevicePath(DeviceVendor vendor);  // "/dev/nvidia" / "/dev/davinci"

}  // namespace accelpack::probe
