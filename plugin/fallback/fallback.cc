// fallback.cc: see fallback.h. SPDX-License-Identifier: GPL-2.0-or-later
#include "fallback.h"

#include <accelpack/v1/placement.pb.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "convert.h"
#include "engine/engine.h"
#include "model/cluster.h"
#include "policy/policy.h"
#include "service/proto_convert.h"

namespace accelpack::fallback {
namespace {

// Built once per process: the pipeline is immutable and the engine only reads it.
const absl::StatusOr<policy::BuiltPolicy>& BuiltInPolicy() {
  static const absl::StatusOr<policy::BuiltPolicy> built =
      policy::BuildPolicy(policy::DefaultPolicy());
  return built;
}

}  // namespace

absl::StatusOr<bridge::PlanData> Schedule(const ap_snapshot_t& snap,
                                          const engine::WorkBudget& budget) {
  const auto& built = BuiltInPolicy();
  if (!built.ok()) return built.status();

  accelpack::v1::ClusterSnapshot wire;
  bridge::FillSnapshot(snap, &wire);
  absl::StatusOr<model::Snapshot> snapshot = service::SnapshotFromProto(wire);
  if (!snapshot.ok()) return snapshot.status();
  if (absl::Status valid = model::ValidateSnapshot(*snapshot, built->catalog); !valid.ok()) {
    return valid;
  }
  const engine::Plan plan = engine::Schedule(*snapshot, built->catalog, *built->pipeline, budget);

  accelpack::v1::ScheduleResponse response;
  *response.mutable_plan() = service::PlanToProto(plan, *snapshot, built->catalog);
  response.set_policy_name(kPolicyName);
  absl::StatusOr<bridge::PlanData> data = bridge::PlanFromProto(response, snap);
  if (!data.ok()) {
    return absl::InternalError(absl::StrCat("engine plan refused: ", data.status().message()));
  }
  data->policy_name = kPolicyName;
  return data;
}

}  // namespace accelpack::fallback
