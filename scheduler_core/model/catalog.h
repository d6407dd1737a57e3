// Accelerator kinds and their vendor topology rules, kept in one place.
//
// Every rule about how many devices of a kind a job may take on one node, and
// which devices together, lives here (see DESIGN.md "Vendor topology rules").
// The engine asks the catalog; nothing else in the code knows a vendor.
//
// Thread-safety: a Catalog is immutable after construction and may be shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace accelpack::model {

enum class Vendor { kNvidia, kHuawei, kOther };

std::string_view VendorName(Vendor vendor);

// How devices of one kind may be combined on a node.
struct TopologyRule {
  int devices_per_node = 8;
  // Devices per interconnect group (Ascend 910 HCCS ring of 4, a Box16 half of 8).
  // Equal to devices_per_node when the node is one all-to-all group (NVSwitch).
  int group_size = 8;
  // Dies per module that even counts must take whole (Ascend 910C: 2).
  int module_size = 1;
  // Legal per-node counts; empty means any 1..devices_per_node.
  std::vector<int> legal_counts;
  // A request of at most group_size devices stays inside one group; a larger
  // one spreads evenly over the fewest groups that can hold it (Box16: 10 = 5 + 5,
  // Ascend 910: 8 = two whole rings). legal_counts rules out uneven splits.
  // Multi-node jobs must stay in one SuperPoD (Ascend 910C A3).
  bool gang_within_superpod = false;

  bool IsLegalCount(int count) const;
  // Which devices a request gets is decided by groups or modules, not any will do.
  bool ShapesDevices() const { return module_size > 1 || group_size < devices_per_node; }
  // The module a device belongs to: modules are dies module_size at a time by
  // device index, whatever groups a probe reports.
  int ModuleOf(int device) const { return device / module_size; }
  // Over how many groups (of at most `largest_group` devices, `groups_available`
  // of them) `count` devices spread: the fewest that split it evenly, and, when
  // `count` is whole modules, into whole modules per group (a 910C 6 over groups
  // of 4 is 2 + 2 + 2, never 3 + 3). nullopt when no such split exists.
  std::optional<int> GroupsForCount(int count, int largest_group, int groups_available) const;
};

struct AcceleratorKind {
  std::string name;          // catalog key: "h100", "ascend910b", ...
  std::string display_name;  // "NVIDIA H100 SXM5 80GB"
  Vendor vendor = Vendor::kOther;
  int memory_gib = 0;
  TopologyRule rule;
  // For a MIG profile (model/mig.h): the kind of the GPU it is a slice of; empty for
  // a whole device.
  std::string mig_parent = {};

  bool IsMigSlice() const { return !mig_parent.empty(); }
};

// Maps a Slurm GRES (name, type) to a catalog kind.
struct GresKindMapping {
  std::string gres_name;
  std::string gres_type;
  std::string kind;
};

class Catalog {
 public:
  // The built-in kinds (Hopper HGX, Ascend 910/910B/Box16/910C, the H100/H200 MIG
  // profiles) and the GRES names sites commonly give them (gpu:h100, npu:910b,
  // gpu:910b, gpu:1g.10gb, ...).
  static const Catalog& BuiltIn();

  Catalog() = default;

  // Adds a kind; fails if the name is taken or the rule is inconsistent.
  absl::Status AddKind(AcceleratorKind kind);
  // Adds or replaces the kind for a GRES (name, type); the kind must exist.
  absl::Status MapGres(GresKindMapping mapping);

  // Index of the named kind, or nullopt.
  std::optional<int> FindKind(std::string_view name) const;
  // Index of the kind for a GRES (name, type), or nullopt when unmapped.
  std::optional<int> KindForGres(std::string_view gres_name, std::string_view gres_type) const;

  const AcceleratorKind& kind(int index) const { return kinds_[static_cast<size_t>(index)]; }
  int size() const { return static_cast<int>(kinds_.size()); }
  const std::vector<AcceleratorKind>& kinds() const { return kinds_; }
  const std::vector<GresKindMapping>& gres_mappings() const { return gres_; }

 private:
  std::vector<AcceleratorKind> kinds_;
  std::vector<GresKindMapping> gres_;
};

}  // namespace accelpack::model
