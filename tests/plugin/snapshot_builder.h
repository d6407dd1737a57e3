// snapshot_builder.h: C snapshots (ap_snapshot_t) for tests, with the storage they
// point into. SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <deque>
#include <initializer_list>
#include <string>
#include <vector>

#include "accelpack_bridge.h"

namespace accelpack::test {

// Owns every string and array an ap_snapshot_t points to. Build, then Get().
class SnapshotBuilder {
 public:
  struct NodeSpec {
    std::string name;
    ap_node_state_t state = AP_NODE_IDLE;
    std::vector<std::string> partitions = {"batch"};
    std::vector<std::string> features{};
    uint32_t cpus = 64, cpus_alloc = 0;
    uint64_t mem = 512000, mem_alloc = 0;
    std::string gres_name = "gpu", gres_type = "h100";
    uint32_t devices = 8, devices_alloc = 0;
    std::string network_switch{}, superpod{};  // empty: not labelled (NULL)
  };
  struct JobSpec {
    uint32_t id = 0;
    int64_t priority = 100;
    int64_t submit = 1000;
    uint32_t nodes = 1;
    std::string gres_name = "gpu";
    std::vector<std::string> types{};
    uint32_t per_node = 1;
    uint32_t cpus = 1;
    uint64_t mem = 0;
    std::vector<std::string> partitions = {"batch"};
    std::vector<std::string> features{}, required{}, excluded{};
    std::string user = "alice";  // Slurm's bytes, in whatever encoding
  };

  SnapshotBuilder& Node(NodeSpec spec) {
    nodes_.push_back(std::move(spec));
    return *this;
  }
  SnapshotBuilder& Job(JobSpec spec) {
    jobs_.push_back(std::move(spec));
    return *this;
  }
  // The jobs so far, to change or remove between two cycles.
  std::vector<JobSpec>& jobs() { return jobs_; }

  const ap_snapshot_t& Get() {
    c_nodes_.clear();
    c_pools_.clear();
    c_jobs_.clear();
    c_nodes_.reserve(nodes_.size());
    for (const NodeSpec& n : nodes_) {
      ap_pool_t& pool = c_pools_.emplace_back();
      pool.gres_name = Str(n.gres_name);
      pool.gres_type = Str(n.gres_type);
      pool.count = n.devices;
      pool.allocated = n.devices_alloc;
      ap_node_t node{};
      node.name = Str(n.name);
      node.state = n.state;
      node.partitions = Strs(n.partitions, &node.partition_cnt);
      node.features = Strs(n.features, &node.feature_cnt);
      node.cpus_total = n.cpus;
      node.cpus_alloc = n.cpus_alloc;
      node.mem_total_mib = n.mem;
      node.mem_alloc_mib = n.mem_alloc;
      node.pools = n.devices > 0 ? &pool : nullptr;
      node.pool_cnt = n.devices > 0 ? 1 : 0;
      node.network_switch = n.network_switch.empty() ? nullptr : Str(n.network_switch);
      node.superpod = n.superpod.empty() ? nullptr : Str(n.superpod);
      c_nodes_.push_back(node);
    }
    for (const JobSpec& j : jobs_) {
      ap_pending_job_t job{};
      job.job_id = j.id;
      job.user = Str(j.user);
      job.account = Str("research");
      job.qos = Str("normal");
      job.partitions = Strs(j.partitions, &job.partition_cnt);
      job.priority = j.priority;
      job.submit_time = j.submit;
      job.time_limit_s = 3600;
      job.num_nodes = j.nodes;
      job.gres_name = Str(j.gres_name);
      job.gres_types = Strs(j.types, &job.gres_type_cnt);
      job.gres_per_node = j.per_node;
      job.cpus_per_node = j.cpus;
      job.mem_per_node_mib = j.mem;
      job.features = Strs(j.features, &job.feature_cnt);
      job.req_nodes = Strs(j.required, &job.req_node_cnt);
      job.exc_nodes = Strs(j.excluded, &job.exc_node_cnt);
      c_jobs_.push_back(job);
    }
    snap_ = ap_snapshot_t{};
    snap_.now = 5000;
    snap_.nodes = c_nodes_.data();
    snap_.node_cnt = static_cast<uint32_t>(c_nodes_.size());
    snap_.pending = c_jobs_.data();
    snap_.pending_cnt = static_cast<uint32_t>(c_jobs_.size());
    return snap_;
  }

 private:
  const char* Str(const std::string& s) { return strings_.emplace_back(s).c_str(); }
  const char* const* Strs(const std::vector<std::string>& v, uint32_t* count) {
    std::vector<const char*>& arr = arrays_.emplace_back();
    for (const std::string& s : v) arr.push_back(Str(s));
    *count = static_cast<uint32_t>(v.size());
    return arr.empty() ? nullptr : arr.data();
  }

  std::vector<NodeSpec> nodes_;
  std::vector<JobSpec> jobs_;
  std::deque<std::string> strings_;
  std::deque<std::vector<const char*>> arrays_;
  std::deque<ap_pool_t> c_pools_;
  std::vector<ap_node_t> c_nodes_;
  std::vector<ap_pending_job_t> c_jobs_;
  ap_snapshot_t snap_{};
};

}  // namespace accelpack::test
