// convert.cc: C snapshot -> accelpack.v1 proto, proto plan -> PlanData.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "convert.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "accelpack/v1/wire_text.h"

namespace accelpack::bridge {
namespace {

namespace pb = accelpack::v1;

std::string Str(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

template <typename Repeated>
void AddStrings(Repeated* out, const char* const* items, uint32_t count) {
  if (items == nullptr) return;
  for (uint32_t i = 0; i < count; ++i) out->Add(Str(items[i]));
}

pb::NodeState ToProto(ap_node_state_t state) {
  switch (state) {
    case AP_NODE_IDLE:
      return pb::NODE_STATE_IDLE;
    case AP_NODE_MIXED:
      return pb::NODE_STATE_MIXED;
    case AP_NODE_ALLOCATED:
      return pb::NODE_STATE_ALLOCATED;
    case AP_NODE_DOWN:
      return pb::NODE_STATE_DOWN;
    case AP_NODE_DRAINED:
      return pb::NODE_STATE_DRAINED;
    case AP_NODE_RESERVED:
      return pb::NODE_STATE_RESERVED;
    case AP_NODE_UNSPECIFIED:
      break;
  }
  return pb::NODE_STATE_UNSPECIFIED;
}

ap_reason_code_t FromProto(pb::PendingReasonCode code) {
  switch (code) {
    case pb::PENDING_REASON_RESOURCES:
      return AP_REASON_RESOURCES;
    case pb::PENDING_REASON_PRIORITY:
      return AP_REASON_PRIORITY;
    case pb::PENDING_REASON_NEVER_FITS:
      return AP_REASON_NEVER_FITS;
    case pb::PENDING_REASON_TOPOLOGY:
      return AP_REASON_TOPOLOGY;
    case pb::PENDING_REASON_CYCLE_LIMIT:
      return AP_REASON_CYCLE_LIMIT;
    default:
      return AP_REASON_UNSPECIFIED;
  }
}

void FillNode(const ap_node_t& in, pb::Node* out) {
  out->set_name(Str(in.name));
  out->set_state(ToProto(in.state));
  AddStrings(out->mutable_partitions(), in.partitions, in.partition_cnt);
  AddStrings(out->mutable_features(), in.features, in.feature_cnt);
  out->set_cpus_total(in.cpus_total);
  out->set_cpus_allocated(in.cpus_alloc);
  out->set_memory_total_mib(in.mem_total_mib);
  out->set_memory_allocated_mib(in.mem_alloc_mib);
  for (uint32_t p = 0; in.pools != nullptr && p < in.pool_cnt; ++p) {
    const ap_pool_t& pool = in.pools[p];
    pb::AcceleratorPool* acc = out->add_accelerators();
    acc->set_gres_name(Str(pool.gres_name));
    acc->set_gres_type(Str(pool.gres_type));
    acc->set_count(pool.count);
    acc->set_allocated(pool.allocated);
    for (uint32_t d = 0; pool.device_used_milli != nullptr && d < pool.device_cnt; ++d) {
      acc->add_device_used_milli(pool.device_used_milli[d]);
    }
    for (uint32_t d = 0; pool.shards_total != nullptr && d < pool.shard_dev_cnt; ++d) {
      acc->add_device_shards_total(pool.shards_total[d]);
      acc->add_device_shards_used(pool.shards_used != nullptr ? pool.shards_used[d] : 0);
    }
    acc->set_shards_one_sharing(pool.shards_one_sharing);
  }
  if (in.network_switch != nullptr || in.superpod != nullptr) {
    out->mutable_topology()->set_network_switch(Str(in.network_switch));
    out->mutable_topology()->set_superpod(Str(in.superpod));
  }
}

void FillPending(const ap_pending_job_t& in, pb::PendingJob* out) {
  out->set_job_id(in.job_id);
  out->set_user(Str(in.user));
  out->set_account(Str(in.account));
  out->set_qos(Str(in.qos));
  AddStrings(out->mutable_partitions(), in.partitions, in.partition_cnt);
  out->set_priority(in.priority);
  out->set_submit_time_unix(in.submit_time);
  out->set_time_limit_s(in.time_limit_s);
  out->set_num_nodes(in.num_nodes);
  if (in.gres_name != nullptr && in.gres_name[0] != '\0' && in.gres_per_node > 0) {
    pb::AcceleratorRequest* acc = out->mutable_accelerators();
    acc->set_gres_name(in.gres_name);
    AddStrings(acc->mutable_allowed_types(), in.gres_types, in.gres_type_cnt);
    acc->set_count_per_node(in.gres_per_node);
    acc->set_shards_per_node(in.shards_per_node);
  }
  out->set_cpus_per_node(in.cpus_per_node);
  out->set_memory_per_node_mib(in.mem_per_node_mib);
  AddStrings(out->mutable_features(), in.features, in.feature_cnt);
  AddStrings(out->mutable_required_nodes(), in.req_nodes, in.req_node_cnt);
  AddStrings(out->mutable_excluded_nodes(), in.exc_nodes, in.exc_node_cnt);
  out->set_exclusive(in.exclusive);
  AddStrings(out->mutable_refused_nodes(), in.refused_nodes, in.refused_node_cnt);
  out->set_refused_starts(in.refused_starts);
  out->set_refused_reason(Str(in.refused_reason));
  AddStrings(out->mutable_reservations(), in.reservations, in.reservation_cnt);
  out->set_reservation_only(in.reservation_only);
  for (uint32_t c = 0; in.feature_any != nullptr && c < in.feature_any_cnt; ++c) {
    pb::FeatureClause* clause = out->add_feature_any();
    for (absl::string_view f : absl::StrSplit(Str(in.feature_any[c]), '&', absl::SkipEmpty())) {
      clause->add_all(std::string(f));
    }
  }
}

void FillRunning(const ap_running_job_t& in, pb::RunningJob* out) {
  out->set_job_id(in.job_id);
  out->set_start_time_unix(in.start_time);
  out->set_time_limit_s(in.time_limit_s);
  out->set_partition(Str(in.partition));
  out->set_qos(Str(in.qos));
  out->set_requeueable(in.requeueable);
  out->set_draining(in.draining);
  out->set_preempt_exempt_until_unix(in.preempt_exempt_until);
  for (uint32_t a = 0; in.allocs != nullptr && a < in.alloc_cnt; ++a) {
    const ap_alloc_t& alloc = in.allocs[a];
    pb::NodeAllocation* na = out->add_allocations();
    na->set_node(Str(alloc.node));
    na->set_gres_name(Str(alloc.gres_name));
    na->set_gres_type(Str(alloc.gres_type));
    na->set_device_count(alloc.device_count);
    for (uint32_t d = 0; alloc.device_indices != nullptr && d < alloc.device_index_cnt; ++d) {
      na->add_device_indices(alloc.device_indices[d]);
    }
    for (uint32_t d = 0; alloc.device_shards != nullptr && d < alloc.device_index_cnt; ++d) {
      na->add_device_shards(alloc.device_shards[d]);
    }
    na->set_cpus(alloc.cpus);
    na->set_memory_mib(alloc.mem_mib);
  }
}

}  // namespace

void FillSnapshot(const ap_snapshot_t& snap, pb::ClusterSnapshot* out) {
  out->set_now_unix(snap.now);
  if (snap.shards_least_loaded || snap.shards_multiple_per_job || snap.shards_unguarded) {
    pb::ShardRules* rules = out->mutable_shard_rules();
    rules->set_least_loaded(snap.shards_least_loaded);
    rules->set_multiple_per_job(snap.shards_multiple_per_job);
    rules->set_whole_and_shards_unguarded(snap.shards_unguarded);
  }
  out->mutable_nodes()->Reserve(static_cast<int>(snap.node_cnt));
  for (uint32_t i = 0; snap.nodes != nullptr && i < snap.node_cnt; ++i) {
    FillNode(snap.nodes[i], out->add_nodes());
  }
  out->mutable_pending_jobs()->Reserve(static_cast<int>(snap.pending_cnt));
  for (uint32_t i = 0; snap.pending != nullptr && i < snap.pending_cnt; ++i) {
    FillPending(snap.pending[i], out->add_pending_jobs());
  }
  for (uint32_t i = 0; snap.running != nullptr && i < snap.running_cnt; ++i) {
    FillRunning(snap.running[i], out->add_running_jobs());
  }
  for (uint32_t i = 0; snap.adv_resv != nullptr && i < snap.adv_resv_cnt; ++i) {
    const ap_adv_resv_t& in = snap.adv_resv[i];
    pb::AdvancedReservation* r = out->add_reservations();
    r->set_name(Str(in.name));
    r->set_start_unix(in.start_time);
    r->set_end_unix(in.end_time);
    AddStrings(r->mutable_nodes(), in.nodes, in.node_cnt);
    r->set_partial(in.partial);
  }
}

pb::ClusterSnapshot SnapshotToProto(const ap_snapshot_t& snap) {
  pb::ClusterSnapshot out;
  FillSnapshot(snap, &out);
  return out;
}

absl::StatusOr<PlanData> PlanFromProto(const pb::ScheduleResponse& response,
                                       const ap_snapshot_t& snap) {
  PlanData plan;
  const pb::Plan& in = response.plan();
  plan.engine_latency_us = response.engine_latency_us();
  // The plugin logs the policy name: one short printable line, whatever the core sent.
  plan.policy_name = wire::OneLine(response.policy_name(), wire::kMaxLabelBytes);
  plan.reservations.reserve(static_cast<size_t>(in.reservations_size()));
  for (const pb::Reservation& reservation : in.reservations()) {
    plan.reservations.push_back(
        {reservation.job_id(), reservation.planned_start_unix(),
         std::vector<std::string>(reservation.nodes().begin(), reservation.nodes().end())});
  }
  plan.starts.reserve(static_cast<size_t>(in.starts_size()));
  for (const pb::JobStart& start : in.starts()) {
    PlannedStart out;
    out.job_id = start.job_id();
    for (const pb::NodePlacement& placement : start.placements()) {
      out.nodes.push_back(placement.node());
      out.gres_types.push_back(placement.gres_type());
    }
    plan.starts.push_back(std::move(out));
  }
  plan.reasons.reserve(static_cast<size_t>(in.pending_size()));
  for (const pb::PendingReason& reason : in.pending()) {
    // A reason goes verbatim into squeue: one printable line, cut at a character
    // boundary, with no terminal escape sequences, whatever the core sent.
    plan.reasons.push_back({reason.job_id(), FromProto(reason.code()),
                            wire::OneLine(reason.message(), wire::kMaxReasonBytes)});
  }
  plan.preemptions.reserve(static_cast<size_t>(in.preemptions_size()));
  for (const pb::Preemption& preemption : in.preemptions()) {
    plan.preemptions.push_back(
        {preemption.job_id(),
         std::vector<uint32_t>(preemption.victims().begin(), preemption.victims().end()),
         std::vector<uint32_t>(preemption.awaiting().begin(), preemption.awaiting().end()),
         std::vector<std::string>(preemption.nodes().begin(), preemption.nodes().end())});
  }
  if (absl::Status shape = CheckPlanShape(plan, snap); !shape.ok()) return shape;
  return plan;
}

}  // namespace accelpack::bridge
