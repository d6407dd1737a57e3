// Standard filters. Static ones read only configuration (a rejection means the
// node can never host the job); dynamic ones read what is free now.
#include <algorithm>

#include "policy/plugins.h"

namespace accelpack::policy {

namespace {

using engine::ClusterState;
using engine::FilterStage;
using engine::Job;

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A filter defined by its name, stage, reason and a predicate.
template <typename Predicate>
class SimpleFilter final : public engine::Filter {
 public:
  SimpleFilter(std::string_view name, FilterStage stage, std::string_view reason, Predicate accepts)
      : name_(name), stage_(stage), reason_(reason), accepts_(std::move(accepts)) {}
  std::string_view name() const override { return name_; }
  FilterStage stage() const override { return stage_; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    return accepts_(job, n, state) ? std::string_view() : reason_;
  }

 private:
  std::string_view name_;
  FilterStage stage_;
  std::string_view reason_;
  Predicate accepts_;
};

template <typename Predicate>
std::unique_ptr<engine::Filter> Make(std::string_view name, FilterStage stage,
                                     std::string_view reason, Predicate accepts) {
  return std::make_unique<SimpleFilter<Predicate>>(name, stage, reason, std::move(accepts));
}

// The accelerator filter has three reasons, so it is a class of its own.
class AcceleratorTypeFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "accelerator_type"; }
  FilterStage stage() const override { return FilterStage::kStatic; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    const model::AcceleratorRequest& request = job->accelerators;
    if (!request.WantsDevices()) return {};
    std::string_view reason = "no allowed accelerator type";
    for (const auto& pool : state.node(n).accelerators) {
      if (!request.Allows(pool)) continue;
      if (request.count_per_node > pool.count) {
        reason = "fewer devices than requested";
        continue;
      }
      const auto& rule = state.catalog().kind(pool.kind_index).rule;
      if (!request.IsFractional() && !rule.IsLegalCount(request.count_per_node)) {
        reason = "device count not legal for the kind's topology";
        continue;
      }
      return {};
    }
    return reason;
  }
};

}  // namespace

std::unique_ptr<engine::Filter> MakePartitionFilter() {
  return Make("partition", FilterStage::kStatic, "not in partition",
              [](const Job& job, int n, const ClusterState& state) {
                if (job->partitions.empty()) return true;
                const auto& node_partitions = state.node(n).partitions;
                return std::any_of(
                    job->partitions.begin(), job->partitions.end(),
                    [&](const std::string& p) { return Contains(node_partitions, p); });
              });
}

std::unique_ptr<engine::Filter> MakeFeatureFilter() {
  return Make("features", FilterStage::kStatic, "missing a required feature",
              [](const Job& job, int n, const ClusterState& state) {
                const auto& features = state.node(n).features;
                auto has_all = [&](const std::vector<std::string>& wanted) {
                  return std::all_of(wanted.begin(), wanted.end(),
                                     [&](const std::string& f) { return Contains(features, f); });
                };
                return has_all(job->features) &&
                       (job->feature_any.empty() ||
                        std::any_of(job->feature_any.begin(), job->feature_any.end(), has_all));
              });
}

std::unique_ptr<engine::Filter> MakeReservationFilter() {
  return Make(
      "reservation", FilterStage::kStatic, "outside the job's reservation",
      [](const Job& job, int n, const ClusterState& state) {
        if (!job->reservation_only) return true;
        const std::string& name = state.node(n).name;
        for (const auto& reservation : state.snapshot().reservations) {
          if (Contains(job->reservations, reservation.name) && Contains(reservation.nodes, name)) {
            return true;
          }
        }
        return false;
      });
}

std::unique_ptr<engine::Filter> MakeExcludedNodesFilter() {
  return Make("excluded_nodes", FilterStage::kStatic, "excluded by the job (-x)",
              [](const Job& job, int n, const ClusterState& state) {
                return !Contains(job->excluded_nodes, state.node(n).name);
              });
}

std::unique_ptr<engine::Filter> MakeAcceleratorTypeFilter() {
  return std::make_unique<AcceleratorTypeFilter>();
}

std::unique_ptr<engine::Filter> MakeCapacityFilter() {
  return Make("capacity", FilterStage::kStatic, "node too small (CPUs or memory)",
              [](const Job& job, int n, const ClusterState& state) {
                const model::Node& node = state.node(n);
                return job->cpus_per_node <= node.cpus_total &&
                       job->memory_per_node_mib <= node.memory_total_mib;
              });
}

std::unique_ptr<engine::Filter> MakeNodeStateFilter() {
  return Make("node_state", FilterStage::kDynamic, "node down, drained or reserved",
              [](const Job&, int n, const ClusterState& state) { return state.node(n).Usable(); });
}

std::unique_ptr<engine::Filter> MakeFreeCpusFilter() {
  return Make("free_cpus", FilterStage::kDynamic, "too few free CPUs",
              [](const Job& job, int n, const ClusterState& state) {
                return job->cpus_per_node <= state.cpus_free(n);
              });
}

std::unique_ptr<engine::Filter> MakeExclusiveFilter() {
  return Make("exclusive", FilterStage::kDynamic, "exclusive job: node not idle",
              [](const Job& job, int n, const ClusterState& state) {
                if (!job->exclusive) return true;
                const model::Node& node = state.node(n);
                if (state.cpus_free(n) < node.cpus_total) return false;
                if (state.memory_free(n) < node.memory_total_mib) return false;
                for (size_t p = 0; p < node.accelerators.size(); ++p) {
                  const int pool = static_cast<int>(p);
                  if (state.free_devices(n, pool) < node.accelerators[p].count) return false;
                  for (int used : state.used_milli(n, pool)) {
                    if (used > 0) return false;  // a device share is in use
                  }
                }
                return true;
              });
}

std::unique_ptr<engine::Filter> MakeRefusedNodesFilter() {
  return Make("refused_nodes", FilterStage::kStatic, "Slurm refused the start here recently",
              [](const Job& job, int n, const ClusterState& state) {
                return !Contains(job->refused_nodes, state.node(n).name);
              });
}

std::unique_ptr<engine::Filter> MakeFreeMemoryFilter() {
  return Make("free_memory", FilterStage::kDynamic, "too little free memory",
              [](const Job& job, int n, const ClusterState& state) {
                return job->memory_per_node_mib <= state.memory_free(n);
              });
}

}  // namespace accelpack::policy
