// SPDX-License-Identifier: GPL-2.0-or-later
#include "plan_checker.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/strings.h"

namespace accelpack::fuzz {

namespace {

bool Has(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

class Checker {
 public:
  Checker(const model::Snapshot& snapshot, const model::Catalog& catalog,
          const CheckOptions& options)
      : snapshot_(snapshot), catalog_(catalog), options_(options) {
    for (const model::Node& node : snapshot.nodes) {
      cpus_free_.push_back(node.cpus_total - node.cpus_allocated);
      memory_free_.push_back(node.memory_total_mib - node.memory_allocated_mib);
      std::vector<std::vector<int>> pools;
      std::vector<std::vector<int>> shards;
      for (const auto& pool : node.accelerators) {
        pools.push_back(pool.used_milli);
        shards.push_back(pool.shards_used);
      }
      used_.push_back(std::move(pools));
      shards_used_.push_back(std::move(shards));
    }
  }

  std::vector<std::string> Run(const engine::Plan& plan) {
    std::map<uint32_t, int> outcomes;
    std::unordered_map<uint32_t, const model::PendingJob*> pending;
    for (const auto& job : snapshot_.pending) pending[job.id] = &job;
    for (const auto& start : plan.starts) {
      ++outcomes[start.job_id];
      auto it = pending.find(start.job_id);
      if (it == pending.end()) {
        Broken(Cat("job ", start.job_id, " started but is not pending"));
        continue;
      }
      CheckStart(*it->second, start);
    }
    for (const auto& reason : plan.pending) {
      ++outcomes[reason.job_id];
      if (!pending.contains(reason.job_id)) {
        Broken(Cat("reason for job ", reason.job_id, ", which is not pending"));
      }
      if (reason.message.empty()) Broken(Cat("job ", reason.job_id, " has an empty reason"));
    }
    for (const auto& job : snapshot_.pending) {
      if (outcomes[job.id] != 1) {
        Broken(
            Cat("job ", job.id, " has ", outcomes[job.id], " outcomes (start or reason), not 1"));
      }
    }
    for (const auto& reservation : plan.reservations) {
      for (int n : reservation.nodes) {
        if (n < 0 || n >= static_cast<int>(snapshot_.nodes.size())) {
          Broken(Cat("reservation of job ", reservation.job_id, " names node index ", n));
        }
      }
    }
    return std::move(problems_);
  }

 private:
  bool On(const char* filter) const { return options_.filters.contains(filter); }
  void Broken(std::string problem) { problems_.push_back(std::move(problem)); }

  void CheckStart(const model::PendingJob& job, const engine::JobStart& start) {
    const std::string who = Cat("job ", job.id);
    if (static_cast<int>(start.placements.size()) != job.num_nodes) {
      Broken(Cat(who, ": ", start.placements.size(), " nodes for a ", job.num_nodes, "-node job"));
    }
    std::set<int> nodes;
    std::set<int> kinds;
    std::set<std::string> superpods;
    for (const auto& placement : start.placements) {
      const int n = placement.node;
      if (n < 0 || n >= static_cast<int>(snapshot_.nodes.size())) {
        Broken(Cat(who, ": node index ", n));
        return;
      }
      if (!nodes.insert(n).second) Broken(Cat(who, ": node ", n, " twice"));
      const model::Node& node = snapshot_.nodes[static_cast<size_t>(n)];
      const std::string at = Cat(who, " on ", node.name);
      CheckNode(job, node, at);
      cpus_free_[static_cast<size_t>(n)] -= job.cpus_per_node;
      memory_free_[static_cast<size_t>(n)] -= job.memory_per_node_mib;
      if (On("free_cpus") && cpus_free_[static_cast<size_t>(n)] < 0) {
        Broken(Cat(at, ": CPUs over-committed"));
      }
      if (On("free_memory") && memory_free_[static_cast<size_t>(n)] < 0) {
        Broken(Cat(at, ": memory over-committed"));
      }
      const int kind = CheckDevices(job, node, n, placement, at);
      kinds.insert(kind);
      superpods.insert(node.superpod);
    }
    for (const auto& name : job.required_nodes) {
      if (std::none_of(nodes.begin(), nodes.end(), [&](int n) {
            return snapshot_.nodes[static_cast<size_t>(n)].name == name;
          })) {
        Broken(Cat(who, ": required node ", name, " not used"));
      }
    }
    if (kinds.size() > 1) Broken(Cat(who, ": a gang over several accelerator kinds"));
    if (kinds.size() == 1 && *kinds.begin() >= 0 && job.num_nodes > 1 &&
        catalog_.kind(*kinds.begin()).rule.gang_within_superpod && superpods.size() > 1) {
      Broken(Cat(who, ": a gang over ", superpods.size(), " SuperPoDs"));
    }
  }

  void CheckNode(const model::PendingJob& job, const model::Node& node, const std::string& at) {
    if (On("node_state") && !node.Usable()) Broken(Cat(at, ": node not usable"));
    if (On("partition") && !job.partitions.empty() &&
        std::none_of(job.partitions.begin(), job.partitions.end(),
                     [&](const std::string& p) { return Has(node.partitions, p); })) {
      Broken(Cat(at, ": not in any of the job's partitions"));
    }
    if (On("features")) {
      for (const auto& feature : job.features) {
        if (!Has(node.features, feature)) Broken(Cat(at, ": lacks feature ", feature));
      }
    }
    if (On("excluded_nodes") && Has(job.excluded_nodes, node.name)) {
      Broken(Cat(at, ": excluded by the job"));
    }
    if (On("capacity") &&
        (job.cpus_per_node > node.cpus_total || job.memory_per_node_mib > node.memory_total_mib)) {
      Broken(Cat(at, ": node too small"));
    }
  }

  // Returns the catalog kind used, -1 for none.
  int CheckDevices(const model::PendingJob& job, const model::Node& node, int n,
                   const engine::NodePlacement& placement, const std::string& at) {
    const model::AcceleratorRequest& request = job.accelerators;
    if (!request.WantsDevices()) {
      if (placement.pool != -1 || !placement.devices.empty())
        Broken(Cat(at, ": devices for a job that wants none"));
      return -1;
    }
    if (placement.pool < 0 || placement.pool >= static_cast<int>(node.accelerators.size())) {
      Broken(Cat(at, ": pool index ", placement.pool));
      return -2;
    }
    const model::AcceleratorPool& pool = node.accelerators[static_cast<size_t>(placement.pool)];
    if (pool.gres_name != request.gres_name ||
        (!request.allowed_types.empty() && !Has(request.allowed_types, pool.gres_type))) {
      Broken(Cat(at, ": gres ", pool.gres_name, ":", pool.gres_type, " not what the job allows"));
    }
    const model::TopologyRule& rule = catalog_.kind(pool.kind_index).rule;
    std::vector<int>& used = used_[static_cast<size_t>(n)][static_cast<size_t>(placement.pool)];
    std::set<int> devices(placement.devices.begin(), placement.devices.end());
    if (devices.size() != placement.devices.size()) Broken(Cat(at, ": a device twice"));
    for (int d : devices) {
      if (d < 0 || d >= static_cast<int>(used.size())) {
        Broken(Cat(at, ": device ", d, " outside the pool"));
        return pool.kind_index;
      }
    }
    std::vector<int>& shards =
        shards_used_[static_cast<size_t>(n)][static_cast<size_t>(placement.pool)];
    if (request.WantsShards()) {
      CheckShards(request, pool, placement, used, shards, at);
      return pool.kind_index;
    }
    // Whole devices and milli shares never go onto a GPU carrying Slurm shards.
    for (int d : devices) {
      if (!shards.empty() && shards[static_cast<size_t>(d)] > 0) {
        Broken(Cat(at, ": device ", d, " carries shards"));
      }
    }
    // Before 23.11.5 Slurm may pick any GPU free in its GPU bitmap, shards or not.
    if (snapshot_.shard_rules.whole_and_shards_unguarded && !request.IsFractional()) {
      for (size_t d = 0; d < shards.size(); ++d) {
        if (shards[d] > 0 && used[d] == 0) {
          Broken(Cat(at, ": whole devices on a node where Slurm may hand out GPU ", d,
                     " that carries shards"));
        }
      }
    }
    if (request.IsFractional()) {
      if (devices.size() != 1 || placement.fraction_milli != request.fraction_milli) {
        Broken(Cat(at, ": a share must be one device at the requested fraction"));
      }
      for (int d : devices) {
        used[static_cast<size_t>(d)] += request.fraction_milli;
        if (used[static_cast<size_t>(d)] > model::kMilliPerDevice) {
          Broken(Cat(at, ": device ", d, " over-committed"));
        }
      }
      return pool.kind_index;
    }
    const int count = static_cast<int>(devices.size());
    if (count != request.count_per_node) {
      Broken(Cat(at, ": ", count, " devices, the job asked ", request.count_per_node));
    }
    if (!rule.IsLegalCount(count)) Broken(Cat(at, ": ", count, " devices is not a legal count"));
    for (int d : devices) {
      if (used[static_cast<size_t>(d)] != 0) Broken(Cat(at, ": device ", d, " not free"));
      used[static_cast<size_t>(d)] = model::kMilliPerDevice;
    }
    // Even counts on module kinds take whole modules (dies 2k and 2k+1 on a 910C).
    if (rule.module_size > 1 && count % rule.module_size == 0) {
      for (int d : devices) {
        const int first = d / rule.module_size * rule.module_size;
        for (int mate = first; mate < first + rule.module_size; ++mate) {
          if (!devices.contains(mate)) Broken(Cat(at, ": module of device ", d, " split"));
        }
      }
    }
    // At most a group's worth inside one group; more, evenly over groups.
    std::vector<std::vector<int>> groups = pool.device_groups;
    if (groups.empty()) {
      const int size = std::min(rule.group_size, static_cast<int>(used.size()));
      for (int first = 0; first < static_cast<int>(used.size()); first += size) {
        groups.emplace_back();
        for (int d = first; d < std::min(first + size, static_cast<int>(used.size())); ++d) {
          groups.back().push_back(d);
        }
      }
    }
    size_t largest = 0;
    std::vector<int> per_group;
    for (const auto& group : groups) {
      largest = std::max(largest, group.size());
      const auto here =
          std::count_if(group.begin(), group.end(), [&](int d) { return devices.contains(d); });
      if (here > 0) per_group.push_back(static_cast<int>(here));
    }
    if (static_cast<size_t>(count) <= largest && per_group.size() > 1) {
      Broken(Cat(at, ": ", count, " devices over ", per_group.size(), " groups, one holds them"));
    }
    if (std::adjacent_find(per_group.begin(), per_group.end(), std::not_equal_to<>()) !=
        per_group.end()) {
      Broken(Cat(at, ": devices not spread evenly over groups"));
    }
    return pool.kind_index;
  }

  // Slurm shards: one device unless MULTIPLE_SHARING_GRES_PJ, the requested count in
  // all, no device past its shard count, none on a device held whole.
  void CheckShards(const model::AcceleratorRequest& request, const model::AcceleratorPool& pool,
                   const engine::NodePlacement& placement, const std::vector<int>& used,
                   std::vector<int>& shards, const std::string& at) {
    if (!pool.HasShards()) {
      Broken(Cat(at, ": shards on a pool without shards"));
      return;
    }
    if (placement.device_shards.size() != placement.devices.size()) {
      Broken(Cat(at, ": ", placement.device_shards.size(), " shard counts for ",
                 placement.devices.size(), " devices"));
      return;
    }
    if (placement.devices.size() != 1 && !snapshot_.shard_rules.multiple_per_job) {
      Broken(Cat(at, ": shards from ", placement.devices.size(), " devices"));
    }
    int total = 0;
    for (size_t i = 0; i < placement.devices.size(); ++i) {
      const size_t d = static_cast<size_t>(placement.devices[i]);
      total += placement.device_shards[i];
      if (placement.device_shards[i] < 1) Broken(Cat(at, ": no shards from device ", d));
      if (used[d] > 0) Broken(Cat(at, ": shards on device ", d, ", held whole"));
      shards[d] += placement.device_shards[i];
      if (shards[d] > pool.shards_total[d]) {
        Broken(Cat(at, ": device ", d, " over-committed (", shards[d], " of ", pool.shards_total[d],
                   " shards)"));
      }
    }
    if (total != request.shards_per_node) {
      Broken(Cat(at, ": ", total, " shards, the job asked ", request.shards_per_node));
    }
  }

  const model::Snapshot& snapshot_;
  const model::Catalog& catalog_;
  const CheckOptions& options_;
  std::vector<int64_t> cpus_free_;
  std::vector<int64_t> memory_free_;
  std::vector<std::vector<std::vector<int>>> used_;
  std::vector<std::vector<std::vector<int>>> shards_used_;  // per node, pool, device
  std::vector<std::string> problems_;
};

}  // namespace

CheckOptions AllFilters() {
  return CheckOptions{{"partition", "features", "excluded_nodes", "accelerator_type", "capacity",
                       "node_state", "free_cpus", "free_memory"}};
}

std::vector<std::string> CheckPlan(const model::Snapshot& snapshot, const model::Catalog& catalog,
                                   const engine::Plan& plan, const CheckOptions& options) {
  return Checker(snapshot, catalog, options).Run(plan);
}

}  // namespace accelpack::fuzz
