// convert.h: the one place where the C snapshot/plan meet the wire format
// (accelpack.v1). SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <accelpack/v1/placement.pb.h>

#include <vector>

#include "absl/status/statusor.h"
#include "accelpack_bridge.h"
#include "plan_data.h"

namespace accelpack::bridge {

// The C snapshot as a ClusterSnapshot. Never fails: NULL strings become "".
accelpack::v1::ClusterSnapshot SnapshotToProto(const ap_snapshot_t& snap);
// The same, into a message the caller owns (e.g. on a protobuf arena).
void FillSnapshot(const ap_snapshot_t& snap, accelpack::v1::ClusterSnapshot* out);

// A plan from the core, checked against the snapshot it answers (CheckPlanShape),
// with the answer's reasons as they come (a whole answer).
// INVALID_ARGUMENT: the core answered garbage; the message says where.
absl::StatusOr<PlanData> PlanFromProto(const accelpack::v1::ScheduleResponse& response,
                                       const ap_snapshot_t& snap);
// The same with the answer's reasons made whole by the caller (a reason delta merged).
absl::StatusOr<PlanData> PlanFromProto(const accelpack::v1::ScheduleResponse& response,
                                       const ap_snapshot_t& snap,
                                       std::vector<PlannedReason> reasons);

// A reason as the plugin shows it: one printable line, cut at a character
// boundary, with no terminal escape sequences, whatever the core sent.
PlannedReason ReasonFromProto(const accelpack::v1::PendingReason& reason);
std::vector<PlannedReason> ReasonsFromProto(const accelpack::v1::Plan& plan);

}  // namespace accelpack::bridge
