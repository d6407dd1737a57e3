// SPDX-License-Identifier: GPL-2.0-or-later
// How a workload's device shares (one device, part of it) pack best, and which fill
// levels of a device lie on the way there.
//
// Shares that arrive one at a time and land best fit strand more of a device than an
// offline packing of the same shares would: on the FGD default list best fit leaves
// about 268 GPUs in slivers, the best offline packing about 233. Which shares should
// meet on one device follows from the workload's share sizes alone: the optimal
// solution of the cutting-stock LP (Gilmore and Gomory 1961) over the sizes and their
// popularity uses a handful of patterns, e.g. 650+320, 470+470+50, 590+370. A device
// at a fill level that is part of such a pattern can still end full; one at any other
// level (470+320 = 790: nothing popular fills the 210 left) cannot. The
// `share_patterns` scorer places a share where the level it makes is one of these,
// fresh devices included, before anywhere else; best fit and fragmentation choose
// among those.
//
// Thread-safety: a SharePatterns is immutable after Solve.
#pragma once

#include <bitset>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/cluster.h"
#include "policy/fragmentation.h"

namespace accelpack::policy {

class SharePatterns {
 public:
  // A share size (1..kMilliPerDevice-1 milli-devices) and its weight (popularity;
  // any positive scale).
  using Demand = std::vector<std::pair<int, double>>;

  // Solves the LP by column generation (GLPK for the master, an exact knapsack for
  // the pricing). Sizes out of range or weights that are not positive are an error;
  // an empty demand gives empty patterns.
  static absl::StatusOr<SharePatterns> Solve(const Demand& demand);

  bool empty() const { return patterns_.empty(); }
  // Whether a device filled to `level_milli` by shares is part of an optimal pattern
  // (0 always is). Levels above a device's capacity never are.
  bool OnPattern(int level_milli) const {
    return level_milli >= 0 && level_milli <= model::kMilliPerDevice &&
           levels_[static_cast<size_t>(level_milli)];
  }
  // The patterns the LP's optimum uses (sizes, largest first) and their weight
  // (devices per unit of demand weight).
  const std::vector<std::pair<std::vector<int>, double>>& patterns() const { return patterns_; }

 private:
  std::vector<std::pair<std::vector<int>, double>> patterns_;
  std::bitset<model::kMilliPerDevice + 1> levels_;
};

// The most valuable multiset of `sizes` (milli-devices) that fits one device, by exact
// unbounded knapsack: counts per size and their total value (`values[i]` per copy of
// `sizes[i]`). The pricing step of the cutting-stock LP, here and in accelpack-sim's
// lower bound.
std::pair<std::vector<int>, double> BestSharePattern(const std::vector<int>& sizes,
                                                     const std::vector<double>& values);

// The shares of a shape table (one device, part of it) and their popularity.
SharePatterns::Demand ShareDemand(const ShapeTable& shapes);
// The shares a snapshot's cluster runs and its queue waits for, counted (a pending
// job once per node); shards are Slurm's to place and do not count.
SharePatterns::Demand ShareDemand(const model::Snapshot& snapshot);

// The `share_patterns` scorer: `args: {shapes: ...}` as `fragmentation`; without
// shapes, the patterns of the shares each cycle's snapshot runs and waits for.
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeSharePatternsScorer(const PluginArgs& args);

}  // namespace accelpack::policy
