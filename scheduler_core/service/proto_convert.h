// The one place where wire messages (accelpack.v1) become model values and
// plans become wire messages. Range checks that the wire types cannot express
// (a uint32 too large for a count) fail here, naming the field.
#pragma once

#include "absl/status/statusor.h"
#include "accelpack/v1/placement.pb.h"
#include "common/field_path.h"
#include "engine/plan.h"
#include "engine/usage.h"
#include "model/cluster.h"

namespace accelpack::service {

namespace v1 = ::accelpack::v1;

absl::StatusOr<model::Snapshot> SnapshotFromProto(const v1::ClusterSnapshot& wire);
// One record, as SnapshotFromProto converts it (for delta bases, which convert only
// what changed); errors name `field`.
absl::Status RecordFromProto(const v1::Node& wire, const FieldPath& field, model::Node* out);
absl::Status RecordFromProto(const v1::PendingJob& wire, const FieldPath& field,
                             model::PendingJob* out);
absl::Status RecordFromProto(const v1::RunningJob& wire, const FieldPath& field,
                             model::RunningJob* out);
absl::Status RecordFromProto(const v1::AdvancedReservation& wire, const FieldPath& field,
                             model::AdvancedReservation* out);
v1::ClusterSnapshot SnapshotToProto(const model::Snapshot& snapshot);

// Whether PlanToProto fills the pending reasons: kLeaveOut when the caller answers
// them itself (AnswerReasons: a reason delta).
enum class PlanReasons { kAll, kLeaveOut };

// `snapshot` is the one the plan was made from (node indices refer to it).
v1::Plan PlanToProto(const engine::Plan& plan, const model::Snapshot& snapshot,
                     const model::Catalog& catalog, PlanReasons reasons = PlanReasons::kAll);

// A reason's message as it goes on the wire: it may echo names (any bytes), the
// wire's `string` must be valid UTF-8, and squeue shows one printable line.
std::string ReasonText(const engine::PendingReason& reason);

v1::PendingReasonCode PendingCodeToProto(engine::PendingCode code);

void UsageToProto(const std::vector<engine::KindUsage>& usage, const model::Catalog& catalog,
                  google::protobuf::RepeatedPtrField<v1::KindUsage>* out);

}  // namespace accelpack::service
