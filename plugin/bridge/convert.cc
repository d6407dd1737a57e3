// convert.cc: C snapshot -> accelpack.v1 proto, proto plan -> PlanData.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "convert.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accelpack/v1/wire_text.h"
#include "record_fields.h"

namespace accelpack::bridge {
namespace {

namespace pb = accelpack::v1;

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

}  // namespace

void FillSnapshot(const ap_snapshot_t& snap, pb::ClusterSnapshot* out) {
  out->set_now_unix(snap.now);
  fields::ProtoFiller<pb::ClusterSnapshot> rules(out);
  fields::VisitRules(snap, rules);
  fields::ForEachCKind([&](auto kind) {
    using K = decltype(kind);
    const auto* records = K::Items(snap);
    const uint32_t count = records != nullptr ? K::Count(snap) : 0;
    K::Wire::Of(*out)->Reserve(static_cast<int>(count));
    for (uint32_t i = 0; i < count; ++i) fields::AddRecord<K>(records[i], out);
    return true;
  });
}

pb::ClusterSnapshot SnapshotToProto(const ap_snapshot_t& snap) {
  pb::ClusterSnapshot out;
  FillSnapshot(snap, &out);
  return out;
}

PlannedReason ReasonFromProto(const pb::PendingReason& reason) {
  return {reason.job_id(), FromProto(reason.code()),
          wire::OneLine(reason.message(), wire::kMaxReasonBytes)};
}

std::vector<PlannedReason> ReasonsFromProto(const pb::Plan& plan) {
  std::vector<PlannedReason> reasons;
  reasons.reserve(static_cast<size_t>(plan.pending_size()));
  for (const pb::PendingReason& reason : plan.pending()) reasons.push_back(ReasonFromProto(reason));
  return reasons;
}

absl::StatusOr<PlanData> PlanFromProto(const pb::ScheduleResponse& response,
                                       const ap_snapshot_t& snap) {
  return PlanFromProto(response, snap, ReasonsFromProto(response.plan()));
}

absl::StatusOr<PlanData> PlanFromProto(const pb::ScheduleResponse& response,
                                       const ap_snapshot_t& snap,
                                       std::vector<PlannedReason> reasons) {
  PlanData plan;
  plan.reasons = std::move(reasons);
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
      // Whole devices, and the GPUs a shard start's shards come from: the plugin makes
      // cons_tres take those. Another share's device is Slurm's to pick.
      const bool whole = placement.fraction_milli() == 0 && placement.device_shards().empty();
      const bool shards = !placement.device_shards().empty();
      out.devices.emplace_back();
      if (whole || shards)
        out.devices.back().assign(placement.device_indices().begin(),
                                  placement.device_indices().end());
    }
    plan.starts.push_back(std::move(out));
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
