// Builders for test clusters: NodeBuilder("h100-0").Gres("gpu", "h100", 8).Build().
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/cluster.h"

namespace accelpack::testing {

class NodeBuilder {
 public:
  explicit NodeBuilder(std::string name) {
    node_.name = std::move(name);
    node_.cpus_total = 64;
    node_.memory_total_mib = 512 * 1024;
    node_.partitions = {"batch"};
  }
  NodeBuilder& Gres(std::string name, std::string type, int count) {
    model::AcceleratorPool pool;
    pool.gres_name = std::move(name);
    pool.gres_type = std::move(type);
    pool.count = count;
    node_.accelerators.push_back(std::move(pool));
    return *this;
  }
  NodeBuilder& Hopper(int count = 8, std::string type = "h100") {
    return Gres("gpu", std::move(type), count);
  }
  NodeBuilder& Ascend910(int count = 8) { return Gres("npu", "910", count); }
  NodeBuilder& Ascend910B(int count = 8) { return Gres("npu", "910b", count); }
  NodeBuilder& Ascend910C(int count = 16) { return Gres("npu", "910c", count); }
  // Devices in use on the last pool, by index (whole devices).
  NodeBuilder& Busy(std::vector<int> devices) {
    auto& pool = node_.accelerators.back();
    pool.used_milli.assign(static_cast<size_t>(pool.count), 0);
    for (int d : devices) pool.used_milli[static_cast<size_t>(d)] = model::kMilliPerDevice;
    pool.allocated = static_cast<int>(devices.size());
    return *this;
  }
  NodeBuilder& UsedMilli(std::vector<int> used) {
    auto& pool = node_.accelerators.back();
    pool.allocated = 0;
    for (int u : used) pool.allocated += u > 0 ? 1 : 0;
    pool.used_milli = std::move(used);
    return *this;
  }
  NodeBuilder& Cpus(int total, int allocated = 0) {
    node_.cpus_total = total;
    node_.cpus_allocated = allocated;
    return *this;
  }
  NodeBuilder& MemoryMib(int64_t total, int64_t allocated = 0) {
    node_.memory_total_mib = total;
    node_.memory_allocated_mib = allocated;
    return *this;
  }
  NodeBuilder& Partitions(std::vector<std::string> partitions) {
    node_.partitions = std::move(partitions);
    return *this;
  }
  NodeBuilder& Features(std::vector<std::string> features) {
    node_.features = std::move(features);
    return *this;
  }
  NodeBuilder& State(model::NodeState state) {
    node_.state = state;
    return *this;
  }
  NodeBuilder& Switch(std::string name) {
    node_.network_switch = std::move(name);
    return *this;
  }
  NodeBuilder& SuperPod(std::string name) {
    node_.superpod = std::move(name);
    return *this;
  }
  model::Node Build() const { return node_; }

 private:
  model::Node node_;
};

class JobBuilder {
 public:
  explicit JobBuilder(uint32_t id) {
    job_.id = id;
    job_.partitions = {"batch"};
    job_.cpus_per_node = 4;
    job_.memory_per_node_mib = 16 * 1024;
    job_.time_limit_s = 3600;
    job_.submit_time = 1000;
  }
  JobBuilder& Gres(std::string name, std::vector<std::string> types, int count) {
    job_.accelerators.gres_name = std::move(name);
    job_.accelerators.allowed_types = std::move(types);
    job_.accelerators.count_per_node = count;
    return *this;
  }
  JobBuilder& Gpus(int count, std::string type = "h100") {
    return Gres("gpu", {std::move(type)}, count);
  }
  JobBuilder& Npus(int count, std::string type = "910b") {
    return Gres("npu", {std::move(type)}, count);
  }
  JobBuilder& Share(int milli) {
    job_.accelerators.fraction_milli = milli;
    job_.accelerators.count_per_node = 1;
    return *this;
  }
  JobBuilder& Nodes(int count) {
    job_.num_nodes = count;
    return *this;
  }
  JobBuilder& Cpus(int count) {
    job_.cpus_per_node = count;
    return *this;
  }
  JobBuilder& MemoryMib(int64_t mib) {
    job_.memory_per_node_mib = mib;
    return *this;
  }
  JobBuilder& Priority(int64_t priority) {
    job_.priority = priority;
    return *this;
  }
  JobBuilder& Submitted(int64_t time) {
    job_.submit_time = time;
    return *this;
  }
  JobBuilder& TimeLimit(int64_t seconds) {
    job_.time_limit_s = seconds;
    return *this;
  }
  JobBuilder& Partitions(std::vector<std::string> partitions) {
    job_.partitions = std::move(partitions);
    return *this;
  }
  JobBuilder& Features(std::vector<std::string> features) {
    job_.features = std::move(features);
    return *this;
  }
  JobBuilder& Required(std::vector<std::string> nodes) {
    job_.required_nodes = std::move(nodes);
    return *this;
  }
  JobBuilder& Excluded(std::vector<std::string> nodes) {
    job_.excluded_nodes = std::move(nodes);
    return *this;
  }
  JobBuilder& Class(model::JobClass job_class) {
    job_.job_class = job_class;
    return *this;
  }
  JobBuilder& InReservations(std::vector<std::string> names, bool only = true) {
    job_.reservations = std::move(names);
    job_.reservation_only = only;
    return *this;
  }
  JobBuilder& FeatureAny(std::vector<std::vector<std::string>> clauses, bool matching = false) {
    job_.feature_any = std::move(clauses);
    job_.feature_any_matching = matching;
    return *this;
  }
  JobBuilder& Exclusive() {
    job_.exclusive = true;
    return *this;
  }
  JobBuilder& User(uint32_t user_id) {
    job_.user_id = user_id;
    return *this;
  }
  // --exclusive=user
  JobBuilder& ExclusiveUser() {
    job_.exclusive_user = true;
    return *this;
  }
  JobBuilder& Refused(std::vector<std::string> nodes, int times, std::string why) {
    job_.refused_nodes = std::move(nodes);
    job_.refused_starts = times;
    job_.refused_reason = std::move(why);
    return *this;
  }
  model::PendingJob Build() const { return job_; }

 private:
  model::PendingJob job_;
};

// A running job holding whole devices on one node.
inline model::RunningJob Running(uint32_t id, std::string node, std::string gres_name,
                                 std::string gres_type, std::vector<int> devices, int64_t start,
                                 int64_t limit, int cpus = 4) {
  model::RunningJob job;
  job.id = id;
  job.start_time = start;
  job.time_limit_s = limit;
  model::NodeAllocation alloc;
  alloc.node = std::move(node);
  alloc.gres_name = std::move(gres_name);
  alloc.gres_type = std::move(gres_type);
  alloc.device_count = static_cast<int>(devices.size());
  alloc.device_indices = std::move(devices);
  alloc.cpus = cpus;
  alloc.memory_mib = 16 * 1024;
  job.allocations.push_back(std::move(alloc));
  return job;
}

// A synthetic cluster of n nodes, a quarter each H100, H200, 910B and 910C,
// `busy_share` of their devices taken, and m pending jobs of mixed shapes.
// Deterministic for a given seed (a simple LCG; no <random> engine differences).
model::Snapshot SyntheticCluster(int nodes, int pending, double busy_share, uint32_t seed);

}  // namespace accelpack::testing
