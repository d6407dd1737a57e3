// Standard filters. Static ones read only configuration (a rejection means the
// node can never host the job); dynamic ones read what is free now.
#include <algorithm>

#include "common/strings.h"
#include "policy/plugins.h"

namespace accelpack::policy {

namespace {

using engine::ClusterState;
using engine::FilterStage;
using engine::Job;

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Up to this many names a job's list is scanned; beyond, its hash set is asked
// (hashing costs more than comparing a few short names).
constexpr size_t kScanUpTo = 8;

bool UseSets(const Job& job, size_t list_size) {
  return job.names != nullptr && list_size > kScanUpTo;
}

// A filter defined by its name, stage, reason and a predicate.
template <typename Predicate>
class SimpleFilter final : public engine::Filter {
 public:
  SimpleFilter(std::string_view name, FilterStage stage, std::string_view reason,
               bool reads_cpus_or_memory, Predicate accepts)
      : name_(name),
        stage_(stage),
        reason_(reason),
        reads_cpus_or_memory_(reads_cpus_or_memory),
        accepts_(std::move(accepts)) {}
  std::string_view name() const override { return name_; }
  FilterStage stage() const override { return stage_; }
  bool ReadsCpusOrMemory() const override { return reads_cpus_or_memory_; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    return accepts_(job, n, state) ? std::string_view() : reason_;
  }

 private:
  std::string_view name_;
  FilterStage stage_;
  std::string_view reason_;
  bool reads_cpus_or_memory_;
  Predicate accepts_;
};

// Whether a filter reads the job's CPUs or memory (see Filter::ReadsCpusOrMemory).
enum class Reads { kNeitherCpusNorMemory, kCpusOrMemory };

template <typename Predicate>
std::unique_ptr<engine::Filter> Make(std::string_view name, FilterStage stage,
                                     std::string_view reason, Reads reads, Predicate accepts) {
  return std::make_unique<SimpleFilter<Predicate>>(
      name, stage, reason, reads == Reads::kCpusOrMemory, std::move(accepts));
}

// The accelerator filter has three reasons, so it is a class of its own.
class AcceleratorTypeFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "accelerator_type"; }
  FilterStage stage() const override { return FilterStage::kStatic; }
  bool ReadsCpusOrMemory() const override { return false; }
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

// Reads only each node's size, so nodes of one size are one key (a cluster has a
// few sizes): the engine asks once per size and job shape.
class CapacityFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "capacity"; }
  FilterStage stage() const override { return FilterStage::kStatic; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    const model::Node& node = state.node(n);
    const bool fits =
        job->cpus_per_node <= node.cpus_total && job->memory_per_node_mib <= node.memory_total_mib;
    return fits ? std::string_view() : "node too small (CPUs or memory)";
  }
  std::optional<std::string> NodeKey(int n, const ClusterState& state) const override {
    const model::Node& node = state.node(n);
    return Cat(node.cpus_total, "/", node.memory_total_mib);
  }
};

}  // namespace

std::unique_ptr<engine::Filter> MakePartitionFilter() {
  return Make("partition", FilterStage::kStatic, "not in partition", Reads::kNeitherCpusNorMemory,
              [](const Job& job, int n, const ClusterState& state) {
                if (job->partitions.empty()) return true;
                const auto& node_partitions = state.node(n).partitions;
                if (UseSets(job, job->partitions.size())) {
                  return std::any_of(node_partitions.begin(), node_partitions.end(),
                                     [&](const std::string& p) {
                                       return job.names->partitions.contains(std::string_view(p));
                                     });
                }
                return std::any_of(
                    job->partitions.begin(), job->partitions.end(),
                    [&](const std::string& p) { return Contains(node_partitions, p); });
              });
}

std::unique_ptr<engine::Filter> MakeFeatureFilter() {
  return Make("features", FilterStage::kStatic, "missing a required feature",
              Reads::kNeitherCpusNorMemory, [](const Job& job, int n, const ClusterState& state) {
                const model::Node& node = state.node(n);
                const auto& features = node.features;
                const bool any =
                    job->feature_any.empty() ||
                    std::any_of(job->feature_any.begin(), job->feature_any.end(),
                                [&](const auto& clause) { return node.HasFeatures(clause); });
                if (!any) return false;
                if (job->features.empty()) return true;
                if (UseSets(job, job->features.size())) {
                  // Node features are distinct (validation): all of the job's are
                  // there when as many of the node's are among them.
                  const auto found =
                      std::count_if(features.begin(), features.end(), [&](const std::string& f) {
                        return job.names->features.contains(std::string_view(f));
                      });
                  return static_cast<size_t>(found) >= job.names->features.size();
                }
                return node.HasFeatures(job->features);
              });
}

std::unique_ptr<engine::Filter> MakeReservationFilter() {
  return Make("reservation", FilterStage::kStatic, "outside the job's reservation",
              Reads::kNeitherCpusNorMemory, [](const Job& job, int n, const ClusterState& state) {
                if (!job->reservation_only) return true;
                const bool sets = UseSets(job, job->reservations.size());
                for (const int32_t r : state.reservations_on(n)) {
                  const std::string& reservation =
                      state.snapshot().reservations[static_cast<size_t>(r)].name;
                  if (sets ? job.names->reservations.contains(reservation)
                           : Contains(job->reservations, reservation)) {
                    return true;
                  }
                }
                return false;
              });
}

std::unique_ptr<engine::Filter> MakeExcludedNodesFilter() {
  return Make("excluded_nodes", FilterStage::kStatic, "excluded by the job (-x)",
              Reads::kNeitherCpusNorMemory, [](const Job& job, int n, const ClusterState& state) {
                if (UseSets(job, job->excluded_nodes.size())) {
                  return !job.names->excluded_nodes.contains(std::string_view(state.node(n).name));
                }
                return !Contains(job->excluded_nodes, state.node(n).name);
              });
}

std::unique_ptr<engine::Filter> MakeAcceleratorTypeFilter() {
  return std::make_unique<AcceleratorTypeFilter>();
}

std::unique_ptr<engine::Filter> MakeCapacityFilter() { return std::make_unique<CapacityFilter>(); }

std::unique_ptr<engine::Filter> MakeNodeStateFilter() {
  return Make("node_state", FilterStage::kDynamic, "node down, drained or reserved",
              Reads::kNeitherCpusNorMemory,
              [](const Job&, int n, const ClusterState& state) { return state.node(n).Usable(); });
}

std::unique_ptr<engine::Filter> MakeFreeCpusFilter() {
  return Make("free_cpus", FilterStage::kDynamic, "too few free CPUs", Reads::kCpusOrMemory,
              [](const Job& job, int n, const ClusterState& state) {
                return job->cpus_per_node <= state.cpus_free(n);
              });
}

namespace {

// Nothing in use on node n in `state`: no CPU, memory, device or device share.
bool NodeIdle(int n, const ClusterState& state) {
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
}

// Slurm's exclusivity. --exclusive (and its kin) needs an idle node. --exclusive=user
// needs a node where only its user's jobs run: idle, or as the snapshot has it with
// only that user's jobs and nothing placed there since (a start planned this cycle
// holds the node whole, so it never joins another user's). A node whose running
// --exclusive=user job is another user's takes nothing until it is idle.
class ExclusiveFilter final : public engine::Filter {
 public:
  std::string_view name() const override { return "exclusive"; }
  FilterStage stage() const override { return FilterStage::kDynamic; }
  bool ReadsCpusOrMemory() const override { return false; }
  std::string_view Reject(const Job& job, int n, const ClusterState& state) const override {
    if (job->exclusive) return NodeIdle(n, state) ? "" : "exclusive job: node not idle";
    if (job->exclusive_user) {
      if ((state.version(n) == 0 && state.runs_only_jobs_of(n, job->user_id)) || NodeIdle(n, state))
        return "";
      return "exclusive to its user (--exclusive=user): another user's job is on the node";
    }
    if (!state.has_exclusive_owners()) return "";
    const std::optional<uint32_t> owner = state.exclusive_owner(n);
    if (!owner.has_value() || *owner == job->user_id || NodeIdle(n, state)) return "";
    return "node exclusive to another user's running job (--exclusive=user)";
  }
};

}  // namespace

std::unique_ptr<engine::Filter> MakeExclusiveFilter() {
  return std::make_unique<ExclusiveFilter>();
}

std::unique_ptr<engine::Filter> MakeRefusedNodesFilter() {
  return Make("refused_nodes", FilterStage::kStatic, "Slurm refused the start here recently",
              Reads::kNeitherCpusNorMemory, [](const Job& job, int n, const ClusterState& state) {
                return !Contains(job->refused_nodes, state.node(n).name);
              });
}

std::unique_ptr<engine::Filter> MakeFreeMemoryFilter() {
  return Make("free_memory", FilterStage::kDynamic, "too little free memory", Reads::kCpusOrMemory,
              [](const Job& job, int n, const ClusterState& state) {
                return job->memory_per_node_mib <= state.memory_free(n);
              });
}

}  // namespace accelpack::policy
