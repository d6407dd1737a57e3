// SPDX-License-Identifier: GPL-2.0-or-later
#include "policy/share_patterns.h"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>

#include "common/strings.h"
#include "policy/fragmentation.h"

namespace accelpack::policy {

namespace {

constexpr int kCapacity = model::kMilliPerDevice;
// Column generation stops here at the latest, a bound on what one solve costs a cycle
// (the FGD default list's typical shapes, 11 share sizes, end at 21 columns; 31 random
// sizes at 59).
constexpr int kMaxColumns = 300;
constexpr double kEpsilon = 1e-9;

// GLPK keeps an environment per thread until glp_free_env; a daemon's gRPC threads come
// and go, so each solve frees it (after its problem: declared first, destroyed last).
struct GlpkEnvironment {
  GlpkEnvironment() { glp_term_out(GLP_OFF); }
  ~GlpkEnvironment() { glp_free_env(); }
  GlpkEnvironment(const GlpkEnvironment&) = delete;
  GlpkEnvironment& operator=(const GlpkEnvironment&) = delete;
};

struct GlpkProblem {
  GlpkProblem() : lp(glp_create_prob()) {}
  ~GlpkProblem() { glp_delete_prob(lp); }
  GlpkProblem(const GlpkProblem&) = delete;
  GlpkProblem& operator=(const GlpkProblem&) = delete;
  glp_prob* lp;
};

void AddColumn(glp_prob* lp, const std::vector<int>& counts) {
  const int col = glp_add_cols(lp, 1);
  glp_set_col_bnds(lp, col, GLP_LO, 0, 0);
  glp_set_obj_coef(lp, col, 1);
  std::vector<int> rows = {0};
  std::vector<double> values = {0};
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    rows.push_back(static_cast<int>(i) + 1);
    values.push_back(counts[i]);
  }
  glp_set_mat_col(lp, col, static_cast<int>(rows.size()) - 1, rows.data(), values.data());
}

}  // namespace

std::pair<std::vector<int>, double> BestSharePattern(const std::vector<int>& sizes,
                                                     const std::vector<double>& values) {
  std::vector<double> best(kCapacity + 1, 0);
  std::vector<int> last(kCapacity + 1, -1);  // the size added last on the best way to c
  for (int c = 1; c <= kCapacity; ++c) {
    best[static_cast<size_t>(c)] = best[static_cast<size_t>(c - 1)];
    last[static_cast<size_t>(c)] = -2;  // as c - 1
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] > c) continue;
      const double value = best[static_cast<size_t>(c - sizes[i])] + values[i];
      if (value > best[static_cast<size_t>(c)] + kEpsilon) {
        best[static_cast<size_t>(c)] = value;
        last[static_cast<size_t>(c)] = static_cast<int>(i);
      }
    }
  }
  std::vector<int> counts(sizes.size(), 0);
  for (int c = kCapacity; c > 0;) {
    const int i = last[static_cast<size_t>(c)];
    if (i == -1) break;
    if (i == -2) {
      --c;
      continue;
    }
    ++counts[static_cast<size_t>(i)];
    c -= sizes[static_cast<size_t>(i)];
  }
  return {counts, best[kCapacity]};
}

absl::StatusOr<SharePatterns> SharePatterns::Solve(const Demand& demand) {
  std::map<int, double> by_size;
  double largest = 0;
  for (const auto& [size, weight] : demand) {
    if (size <= 0 || size >= kCapacity) {
      return absl::InvalidArgumentError(
          Cat("share size ", size, ": expected 1..", kCapacity - 1, " milli-devices"));
    }
    if (!(weight > 0) || !std::isfinite(weight)) {
      return absl::InvalidArgumentError(Cat("share size ", size, ": weight must be > 0"));
    }
    largest = std::max(largest, weight);
  }
  // Weights relative to the largest, so that their sum stays finite however large they
  // are (GLPK aborts the process on a bound that is not a number).
  double total = 0;
  for (const auto& [size, weight] : demand) {
    by_size[size] += weight / largest;
    total += weight / largest;
  }
  SharePatterns result;
  result.levels_.set(0);
  if (by_size.empty()) return result;
  std::vector<int> sizes;
  std::vector<double> need;
  for (auto it = by_size.rbegin(); it != by_size.rend(); ++it) {
    sizes.push_back(it->first);
    need.push_back(it->second / total);
  }

  // GLPK's environment and terminal hook are shared state: one solve at a time.
  static std::mutex glpk_mutex;
  const std::lock_guard<std::mutex> lock(glpk_mutex);
  const GlpkEnvironment environment;
  GlpkProblem problem;
  glp_prob* lp = problem.lp;
  glp_set_obj_dir(lp, GLP_MIN);
  glp_add_rows(lp, static_cast<int>(sizes.size()));
  for (size_t i = 0; i < sizes.size(); ++i) {
    glp_set_row_bnds(lp, static_cast<int>(i) + 1, GLP_LO, need[i], 0);
  }
  // Start from one single-size pattern per size: always feasible.
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<int> counts(sizes.size(), 0);
    counts[i] = kCapacity / sizes[i];
    AddColumn(lp, counts);
  }
  glp_smcp parameters;
  glp_init_smcp(&parameters);
  parameters.msg_lev = GLP_MSG_OFF;
  std::vector<double> duals(sizes.size());
  for (int columns = static_cast<int>(sizes.size());; ++columns) {
    const int error = glp_simplex(lp, &parameters);
    if (error != 0 || glp_get_status(lp) != GLP_OPT) {
      return absl::InternalError(Cat("share patterns: GLPK found no optimum (glp_simplex ", error,
                                     ", status ", glp_get_status(lp), ")"));
    }
    if (columns >= kMaxColumns) break;  // the LP's current optimum: still a good packing
    for (size_t i = 0; i < sizes.size(); ++i) {
      duals[i] = std::max(0.0, glp_get_row_dual(lp, static_cast<int>(i) + 1));
    }
    auto [counts, value] = BestSharePattern(sizes, duals);
    if (value <= 1 + kEpsilon) break;  // no pattern has negative reduced cost: optimal
    AddColumn(lp, counts);
  }

  std::vector<int> rows(sizes.size() + 1);
  std::vector<double> values(sizes.size() + 1);
  for (int col = 1; col <= glp_get_num_cols(lp); ++col) {
    const double x = glp_get_col_prim(lp, col);
    if (x <= kEpsilon) continue;
    const int length = glp_get_mat_col(lp, col, rows.data(), values.data());
    std::vector<int> pattern;
    std::bitset<kCapacity + 1> reach;
    reach.set(0);
    for (int k = 1; k <= length; ++k) {
      const int size = sizes[static_cast<size_t>(rows[static_cast<size_t>(k)] - 1)];
      for (int copy = 0; copy < static_cast<int>(std::lround(values[static_cast<size_t>(k)]));
           ++copy) {
        pattern.push_back(size);
        reach |= reach << static_cast<size_t>(size);
      }
    }
    std::sort(pattern.rbegin(), pattern.rend());
    result.levels_ |= reach;
    result.patterns_.emplace_back(std::move(pattern), x);
  }
  std::stable_sort(result.patterns_.begin(), result.patterns_.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return result;
}

SharePatterns::Demand ShareDemand(const ShapeTable& shapes) {
  SharePatterns::Demand demand;
  for (const TaskShape& shape : shapes) {
    if (shape.gpu_count == 1 && shape.gpu_milli > 0 && shape.gpu_milli < kCapacity &&
        shape.weight > 0) {
      demand.emplace_back(shape.gpu_milli, shape.weight);
    }
  }
  return demand;
}

SharePatterns::Demand ShareDemand(const model::Snapshot& snapshot) {
  std::map<int, double> count;
  for (const model::PendingJob& job : snapshot.pending) {
    if (job.accelerators.IsFractional() && !job.accelerators.WantsShards()) {
      count[job.accelerators.fraction_milli] += std::max(1, job.num_nodes);
    }
  }
  for (const model::RunningJob& job : snapshot.running) {
    for (const model::NodeAllocation& allocation : job.allocations) {
      if (allocation.fraction_milli > 0 && allocation.fraction_milli < kCapacity &&
          allocation.device_shards.empty()) {
        count[allocation.fraction_milli] += 1;
      }
    }
  }
  SharePatterns::Demand demand(count.begin(), count.end());
  // The most common sizes, as QueueShapes keeps the most popular shapes: a cluster
  // with hundreds of distinct sizes would make each cycle's LP slow for little gain.
  if (demand.size() > kMaxQueueShapes) {
    std::stable_sort(demand.begin(), demand.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    demand.resize(kMaxQueueShapes);
    std::sort(demand.begin(), demand.end());
  }
  return demand;
}

namespace {

struct QueuePatterns final : engine::ScorerCycleData {
  std::shared_ptr<const SharePatterns> patterns;
};

class SharePatternsScorer final : public engine::Scorer {
 public:
  explicit SharePatternsScorer(std::shared_ptr<const SharePatterns> table)
      : table_(std::move(table)) {}
  std::string_view name() const override { return "share_patterns"; }
  bool ReadsCpusOrMemory() const override { return false; }
  // e.g. patterns {650+320, 470+470}: a 470 share on a device at 470 (-> 940) or a
  // fresh one scores 100, on a device at 320 (-> 790, off every pattern) 0.
  double Score(const engine::Job& job, const engine::Candidate& candidate,
               const engine::ClusterState& state) const override {
    const model::AcceleratorRequest& request = job->accelerators;
    if (candidate.pool < 0 || !request.IsFractional() || candidate.devices.size() != 1) {
      return kOnPattern;
    }
    const SharePatterns* patterns = table_.get();
    if (patterns == nullptr) {
      const QueuePatterns* queue = FromQueue<QueuePatterns>(this, job);
      if (queue == nullptr) return kOnPattern;
      patterns = queue->patterns.get();
    }
    if (patterns->empty()) return kOnPattern;
    const int used =
        state.used_milli(candidate.node, candidate.pool)[static_cast<size_t>(candidate.devices[0])];
    return patterns->OnPattern(used + candidate.fraction_milli) ? kOnPattern : 0;
  }
  // Without a table of its own: the patterns of the shares the cluster runs and those
  // that wait. Shares come and go in a daemon's cluster, so the queue alone (a few
  // jobs) is not the workload: patterns from it sent shares to fresh devices that the
  // running ones' levels could have taken (the dynamic replay: inference p99 31 ->
  // 321 s). The LP is solved again when the sizes or their counts change, which in a
  // busy cluster is most cycles; at most 32 sizes keep that near a millisecond.
  std::unique_ptr<const engine::ScorerCycleData> PreScore(
      const model::Snapshot& snapshot) const override {
    if (table_ != nullptr) return nullptr;
    SharePatterns::Demand demand = ShareDemand(snapshot);
    auto queue = std::make_unique<QueuePatterns>();
    const std::lock_guard<std::mutex> lock(mutex_);
    if (last_ == nullptr || demand != last_demand_) {
      auto solved = SharePatterns::Solve(demand);
      // A failed solve leaves the scorer neutral for the cycle, never the cycle undone.
      last_ = solved.ok() ? std::make_shared<const SharePatterns>(std::move(*solved))
                          : std::make_shared<const SharePatterns>();
      last_demand_ = std::move(demand);
    }
    queue->patterns = last_;
    return queue;
  }

 private:
  static constexpr double kOnPattern = 100;
  std::shared_ptr<const SharePatterns> table_;  // from `shapes`; null: the queue's
  mutable std::mutex mutex_;
  mutable SharePatterns::Demand last_demand_;
  mutable std::shared_ptr<const SharePatterns> last_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeSharePatternsScorer(const PluginArgs& args) {
  auto shapes = ShapesArg(args);
  if (!shapes.ok()) return shapes.status();
  if (shapes->empty()) return std::make_unique<SharePatternsScorer>(nullptr);
  auto patterns = SharePatterns::Solve(ShareDemand(*shapes));
  if (!patterns.ok()) return patterns.status();
  return std::make_unique<SharePatternsScorer>(
      std::make_shared<const SharePatterns>(std::move(*patterns)));
}

}  // namespace accelpack::policy
