// GRES views of an inventory shared by the renderers and the checker.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "model/mig.h"
#include "probe/probe.h"

namespace accelpack::probe {

// How many known devices of one GRES (name, type) the node has.
struct GresCount {
  std::string name;  // "gpu"
  std::string type;  // "h100"
  std::string kind;  // catalog kind "h100"
  int count = 0;
};

// Known devices per GRES, in device order of first appearance; devices at the
// positions `left_out` (GPUs partitioned into MIG slices) are not counted.
std::vector<GresCount> CountGres(const NodeInventory& node, const std::set<int>& left_out = {});

// --- MIG (mig.cc) ---

// Position in node.devices of the known GPU /dev/nvidiaN; nullopt when there is none.
std::optional<int> GpuPosition(const NodeInventory& node, int index);

// Positions of the GPUs the layout partitions.
std::set<int> MigPartitioned(const NodeInventory& node, const std::optional<MigLayout>& layout);

// The device's MIG profile `name` from the catalog; nullptr when its model has none.
const model::MigProfile* FindMigProfile(const Device& device, absl::string_view name);

// The profile a Slurm gpu type stands for: "3g.40gb" as configured by hand, or an
// autodetected "nvidia_h100_80gb_hbm3_3g.40gb"; nullptr for other types.
const model::MigProfile* MigProfileOfType(absl::string_view type);

// Slices per profile over the whole layout, in order of first appearance.
std::vector<std::pair<std::string, int>> CountMigSlices(const MigLayout& layout);

// The MIG lines of RenderGresConf; `first_line` as there (AutoDetect=off goes on the
// node's first active line).
std::string RenderMigLines(const NodeInventory& node, const SharingPlan& sharing, bool& first_line);

// Shard lines for the GPUs not at `left_out`.
std::string RenderShardLinesExcept(const NodeInventory& node, int shards_per_gpu,
                                   const std::set<int>& left_out);

}  // namespace accelpack::probe
