// convert.h: the one place where the C snapshot/plan meet the wire format
// (accelpack.v1). SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <accelpack/v1/placement.pb.h>

#include "absl/status/statusor.h"
#include "accelpack_bridge.h"
#include "plan_data.h"

namespace accelpack::bridge {

// The C snapshot as a ClusterSnapshot. Never fails: NULL strings become "".
accelpack::v1::ClusterSnapshot SnapshotToProto(const ap_snapshot_t& snap);
// The same, into a message the caller owns (e.g. on a protobuf arena).
void FillSnapshot(const ap_snapshot_t& snap, accelpack::v1::ClusterSnapshot* out);

// A plan from the core, checked against the snapshot it answers (CheckPlanShape).
// INVALID_ARGUMENT: the core answered garbage; the message says where.
absl::StatusOr<PlanData> PlanFromProto(const accelpack::v1::ScheduleResponse& response,
                                       const ap_snapshot_t& snap);

}  // namespace accelpack::bridge
