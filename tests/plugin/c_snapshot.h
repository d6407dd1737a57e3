// c_snapshot.h: a C snapshot (ap_snapshot_t) with every field of a wire snapshot,
// for tests and benchmarks of the bridge: what the plugin copies out of slurmctld,
// made from a ClusterSnapshot. Owns every string and array it points to; the
// records stay writable (records()), as the plugin's copy changes between cycles.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <accelpack/v1/placement.pb.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "accelpack_bridge.h"

namespace accelpack::test {

class CSnapshot {
 public:
  explicit CSnapshot(const v1::ClusterSnapshot& in) {
    snap_.now = in.now_unix();
    snap_.shards_least_loaded = in.shard_rules().least_loaded();
    snap_.shards_multiple_per_job = in.shard_rules().multiple_per_job();
    snap_.shards_unguarded = in.shard_rules().whole_and_shards_unguarded();
    for (const v1::Node& n : in.nodes()) nodes_.push_back(NodeOf(n));
    for (const v1::PendingJob& j : in.pending_jobs()) pending_.push_back(PendingOf(j));
    for (const v1::RunningJob& j : in.running_jobs()) running_.push_back(RunningOf(j));
    for (const v1::AdvancedReservation& r : in.reservations()) resv_.push_back(ReservationOf(r));
    snap_.nodes = nodes_.data();
    snap_.node_cnt = static_cast<uint32_t>(nodes_.size());
    snap_.pending = pending_.data();
    snap_.pending_cnt = static_cast<uint32_t>(pending_.size());
    snap_.running = running_.data();
    snap_.running_cnt = static_cast<uint32_t>(running_.size());
    snap_.adv_resv = resv_.data();
    snap_.adv_resv_cnt = static_cast<uint32_t>(resv_.size());
  }
  CSnapshot(const CSnapshot&) = delete;
  CSnapshot& operator=(const CSnapshot&) = delete;

  const ap_snapshot_t& get() const { return snap_; }
  std::vector<ap_pending_job_t>& pending() { return pending_; }

 private:
  const char* Str(const std::string& s) { return strings_.emplace_back(s).c_str(); }
  // NULL for "" where the plugin leaves absent strings NULL.
  const char* StrOrNull(const std::string& s) { return s.empty() ? nullptr : Str(s); }
  template <typename R>
  const char* const* Strs(const R& items, uint32_t* count) {
    std::vector<const char*>& out = arrays_.emplace_back();
    for (const std::string& s : items) out.push_back(Str(s));
    *count = static_cast<uint32_t>(out.size());
    return out.empty() ? nullptr : out.data();
  }
  template <typename R>
  const uint32_t* Ints(const R& items) {
    if (items.empty()) return nullptr;
    return ints_.emplace_back(items.begin(), items.end()).data();
  }
  // A list the C record counts with another one's count: exactly `count` entries
  // (a wire list of another length cannot be said in C; padded or cut, it comes
  // back different, which tests see).
  template <typename R>
  const uint32_t* IntsOfCount(const R& items, size_t count) {
    if (items.empty()) return nullptr;
    std::vector<uint32_t>& out = ints_.emplace_back(items.begin(), items.end());
    out.resize(count, 0);
    return out.empty() ? nullptr : out.data();
  }

  ap_node_t NodeOf(const v1::Node& n) {
    ap_node_t out{};
    out.name = Str(n.name());
    out.state = static_cast<ap_node_state_t>(n.state());
    out.partitions = Strs(n.partitions(), &out.partition_cnt);
    out.features = Strs(n.features(), &out.feature_cnt);
    out.cpus_total = n.cpus_total();
    out.cpus_alloc = n.cpus_allocated();
    out.mem_total_mib = n.memory_total_mib();
    out.mem_alloc_mib = n.memory_allocated_mib();
    std::vector<ap_pool_t>& pools = pools_.emplace_back();
    for (const v1::AcceleratorPool& p : n.accelerators()) {
      ap_pool_t pool{};
      pool.gres_name = Str(p.gres_name());
      pool.gres_type = Str(p.gres_type());
      pool.count = p.count();
      pool.allocated = p.allocated();
      pool.device_used_milli = Ints(p.device_used_milli());
      pool.device_cnt = static_cast<uint32_t>(p.device_used_milli_size());
      pool.shards_total = Ints(p.device_shards_total());
      pool.shards_used =
          IntsOfCount(p.device_shards_used(), static_cast<size_t>(p.device_shards_total_size()));
      pool.shard_dev_cnt = static_cast<uint32_t>(p.device_shards_total_size());
      pool.shards_one_sharing = p.shards_one_sharing();
      pool.holds_planned_devices = p.holds_planned_devices();
      pool.holds_planned_shards = p.holds_planned_shards();
      pools.push_back(pool);
    }
    out.pools = pools.empty() ? nullptr : pools.data();
    out.pool_cnt = static_cast<uint32_t>(pools.size());
    if (n.has_topology()) {
      out.network_switch = Str(n.topology().network_switch());
      out.superpod = Str(n.topology().superpod());
    }
    return out;
  }

  ap_pending_job_t PendingOf(const v1::PendingJob& j) {
    ap_pending_job_t out{};
    out.job_id = j.job_id();
    out.user = Str(j.user());
    out.account = Str(j.account());
    out.qos = Str(j.qos());
    out.partitions = Strs(j.partitions(), &out.partition_cnt);
    out.priority = j.priority();
    out.submit_time = j.submit_time_unix();
    out.time_limit_s = j.time_limit_s();
    out.num_nodes = j.num_nodes();
    if (j.has_accelerators()) {
      out.gres_name = Str(j.accelerators().gres_name());
      out.gres_types = Strs(j.accelerators().allowed_types(), &out.gres_type_cnt);
      out.gres_per_node = j.accelerators().count_per_node();
      out.shards_per_node = j.accelerators().shards_per_node();
      out.exact_per_node = j.accelerators().exact_per_node();
    }
    out.cpus_per_node = j.cpus_per_node();
    out.mem_per_node_mib = j.memory_per_node_mib();
    out.features = Strs(j.features(), &out.feature_cnt);
    out.req_nodes = Strs(j.required_nodes(), &out.req_node_cnt);
    out.exc_nodes = Strs(j.excluded_nodes(), &out.exc_node_cnt);
    out.exclusive = j.exclusive();
    out.refused_nodes = Strs(j.refused_nodes(), &out.refused_node_cnt);
    out.refused_starts = j.refused_starts();
    out.refused_reason = StrOrNull(j.refused_reason());
    out.reservations = Strs(j.reservations(), &out.reservation_cnt);
    out.reservation_only = j.reservation_only();
    std::vector<std::string> clauses;
    for (const v1::FeatureClause& c : j.feature_any())
      clauses.push_back(absl::StrJoin(c.all(), "&"));
    out.feature_any = Strs(clauses, &out.feature_any_cnt);
    out.feature_any_matching = j.feature_any_matching();
    out.exclusive_user = j.exclusive_user();
    out.user_id = j.user_id();
    return out;
  }

  ap_running_job_t RunningOf(const v1::RunningJob& j) {
    ap_running_job_t out{};
    out.job_id = j.job_id();
    out.start_time = j.start_time_unix();
    out.time_limit_s = j.time_limit_s();
    out.partition = StrOrNull(j.partition());
    out.qos = StrOrNull(j.qos());
    out.requeueable = j.requeueable();
    out.draining = j.draining();
    out.preempt_exempt_until = j.preempt_exempt_until_unix();
    out.user_id = j.user_id();
    out.exclusive_user = j.exclusive_user();
    out.reservation = StrOrNull(j.reservation());
    std::vector<ap_alloc_t>& allocs = allocs_.emplace_back();
    for (const v1::NodeAllocation& a : j.allocations()) {
      ap_alloc_t alloc{};
      alloc.node = Str(a.node());
      alloc.gres_name = StrOrNull(a.gres_name());
      alloc.gres_type = StrOrNull(a.gres_type());
      alloc.device_count = a.device_count();
      alloc.device_indices = Ints(a.device_indices());
      alloc.device_index_cnt = static_cast<uint32_t>(a.device_indices_size());
      alloc.cpus = a.cpus();
      alloc.mem_mib = a.memory_mib();
      alloc.device_shards =
          IntsOfCount(a.device_shards(), static_cast<size_t>(a.device_indices_size()));
      allocs.push_back(alloc);
    }
    out.allocs = allocs.empty() ? nullptr : allocs.data();
    out.alloc_cnt = static_cast<uint32_t>(allocs.size());
    return out;
  }

  ap_adv_resv_t ReservationOf(const v1::AdvancedReservation& r) {
    ap_adv_resv_t out{};
    out.name = Str(r.name());
    out.start_time = r.start_unix();
    out.end_time = r.end_unix();
    out.nodes = Strs(r.nodes(), &out.node_cnt);
    out.partial = r.partial();
    const auto per_node = static_cast<size_t>(r.nodes_size());
    out.reserved_cpus = IntsOfCount(r.reserved_cpus(), per_node);
    out.reserved_devices = IntsOfCount(r.reserved_devices(), per_node);
    return out;
  }

  std::deque<std::string> strings_;
  std::deque<std::vector<const char*>> arrays_;
  std::deque<std::vector<uint32_t>> ints_;
  std::deque<std::vector<ap_pool_t>> pools_;
  std::deque<std::vector<ap_alloc_t>> allocs_;
  std::vector<ap_node_t> nodes_;
  std::vector<ap_pending_job_t> pending_;
  std::vector<ap_running_job_t> running_;
  std::vector<ap_adv_resv_t> resv_;
  ap_snapshot_t snap_{};
};

// One record of each kind with every field the C snapshot carries set to a value
// that is not its default (fields only the core fills, such as job_class, unset).
inline v1::ClusterSnapshot RichSnapshot() {
  v1::ClusterSnapshot s;
  s.set_now_unix(5000);
  s.mutable_shard_rules()->set_least_loaded(true);
  s.mutable_shard_rules()->set_multiple_per_job(true);  // two: one flipped keeps the rules
  v1::Node* node = s.add_nodes();
  node->set_name("n1");
  node->set_state(v1::NODE_STATE_MIXED);
  node->add_partitions("batch");
  node->add_features("cuda");
  node->set_cpus_total(64);
  node->set_cpus_allocated(8);
  node->set_memory_total_mib(512000);
  node->set_memory_allocated_mib(1000);
  v1::AcceleratorPool* pool = node->add_accelerators();
  pool->set_gres_name("gpu");
  pool->set_gres_type("h100");
  pool->set_count(8);
  pool->set_allocated(2);
  for (uint32_t used : {1000u, 500u}) pool->add_device_used_milli(used);
  for (uint32_t total : {4u, 4u}) pool->add_device_shards_total(total);
  for (uint32_t used : {0u, 2u}) pool->add_device_shards_used(used);
  pool->set_shards_one_sharing(true);
  pool->set_slurm_picks_devices(true);  // a pool with per-device use says so
  node->mutable_topology()->set_network_switch("s1");
  node->mutable_topology()->set_superpod("p1");
  v1::PendingJob* job = s.add_pending_jobs();
  job->set_job_id(11);
  job->set_user("alice");
  job->set_account("research");
  job->set_qos("normal");
  job->add_partitions("batch");
  job->set_priority(100);
  job->set_submit_time_unix(1000);
  job->set_time_limit_s(3600);
  job->set_num_nodes(1);
  job->mutable_accelerators()->set_gres_name("gpu");
  job->mutable_accelerators()->add_allowed_types("h100");
  job->mutable_accelerators()->set_count_per_node(2);
  job->mutable_accelerators()->set_shards_per_node(1);
  job->set_cpus_per_node(4);
  job->set_memory_per_node_mib(4000);
  job->add_features("cuda");
  job->add_required_nodes("n1");
  job->add_excluded_nodes("n2");
  job->set_exclusive(true);
  job->add_refused_nodes("n3");
  job->set_refused_starts(2);
  job->set_refused_reason("busy");
  job->add_reservations("maint");
  job->set_reservation_only(true);
  job->add_feature_any()->add_all("a");
  job->mutable_feature_any(0)->add_all("b");
  job->add_feature_any()->add_all("c");
  job->set_feature_any_matching(true);
  job->set_exclusive_user(true);
  job->set_user_id(1001);
  v1::RunningJob* running = s.add_running_jobs();
  running->set_job_id(12);
  running->set_start_time_unix(4000);
  running->set_time_limit_s(600);
  running->set_partition("spot");
  running->set_qos("low");
  running->set_requeueable(true);
  running->set_draining(true);
  running->set_preempt_exempt_until_unix(4100);
  running->set_user_id(1001);
  running->set_exclusive_user(true);
  running->set_reservation("maint");
  v1::NodeAllocation* alloc = running->add_allocations();
  alloc->set_node("n1");
  alloc->set_gres_name("gpu");
  alloc->set_gres_type("h100");
  alloc->set_device_count(1);
  alloc->add_device_indices(0);
  alloc->add_device_shards(2);
  alloc->set_cpus(8);
  alloc->set_memory_mib(1000);
  v1::AdvancedReservation* resv = s.add_reservations();
  resv->set_name("maint");
  resv->set_start_unix(6000);
  resv->set_end_unix(9000);
  resv->add_nodes("n1");
  resv->set_partial(true);
  resv->add_reserved_cpus(4);
  resv->add_reserved_devices(1);
  return s;
}

}  // namespace accelpack::test
