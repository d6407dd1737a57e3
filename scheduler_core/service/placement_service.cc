#include "service/placement_service.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "accelpack/v1/wire_text.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "engine/usage.h"
#include "service/proto_convert.h"

namespace accelpack::service {

namespace {

// A refusal always says why: the message names the field, with the names it
// quotes escaped and bounded (they are the caller's bytes).
std::string RefusalText(const absl::Status& status) {
  const std::string text = wire::Printable(MessageOf(status));
  return text.empty() ? Cat("snapshot refused (", absl::StatusCodeToString(status.code()), ")")
                      : text;
}

// A request with an identity becomes its controller's base for the next delta,
// once it has passed validation, and the answer says so.
absl::Status KeepBase(SnapshotBases& bases, const v1::ScheduleRequest& request,
                      SnapshotBase&& applied, bool is_delta,
                      const std::shared_ptr<model::Snapshot>& model,
                      const std::shared_ptr<const policy::BuiltPolicy>& policy,
                      v1::ScheduleResponse& response) {
  if (!request.has_identity() || request.identity().sequence() == 0) return absl::OkStatus();
  SnapshotBase base = std::move(applied);
  if (!is_delta) {
    base.snapshot = request.snapshot();
    if (absl::Status indexed = IndexBase(base); !indexed.ok()) return indexed;
    base.model = model;
    base.checked_with = policy;
  }
  base.controller = request.identity().controller();
  base.epoch = request.identity().epoch();
  base.sequence = request.identity().sequence();
  if (!is_delta) {  // a start, restart or resync: rare, worth a line
    spdlog::info("whole snapshot from {} (epoch {}, snapshot {}) kept as the base of its deltas",
                 wire::Printable(base.controller, wire::kMaxLabelBytes), base.epoch, base.sequence);
  }
  bases.Keep(std::move(base));
  response.set_kept_sequence(request.identity().sequence());
  return absl::OkStatus();
}

// For the cycle's log line: how the snapshot came.
std::string SnapshotKind(const v1::ScheduleRequest& request) {
  if (request.base_sequence() == 0) return "whole";
  const v1::ClusterSnapshot& s = request.snapshot();
  const v1::SnapshotRemovals& r = request.removed();
  return Cat("delta on ", request.base_sequence(), ": ",
             s.nodes_size() + s.pending_jobs_size() + s.running_jobs_size() + s.reservations_size(),
             " changed, ",
             r.nodes_size() + r.pending_jobs_size() + r.running_jobs_size() + r.reservations_size(),
             " removed");
}

}  // namespace

PlacementService::PlacementService(const PolicyStore* policies, const TopologyBook* topology,
                                   OperatorHub* hub)
    : policies_(policies),
      topology_(topology),
      hub_(hub),
      record_(std::make_shared<Record>()),
      bases_(std::make_shared<SnapshotBases>()) {}

PlacementService::PlacementService(const PlacementService& shared, RoleOf role_of,
                                   Describe describe)
    : policies_(shared.policies_),
      topology_(shared.topology_),
      hub_(shared.hub_),
      record_(shared.record_),
      bases_(shared.bases_),
      role_of_(std::move(role_of)),
      describe_(std::move(describe)),
      cycle_budget_(shared.cycle_budget_) {}

grpc::Status PlacementService::Allow(const grpc::ServerContext& context, Role needed,
                                     std::string_view call) const {
  const Role role = role_of_ ? role_of_(context) : Role::kScheduler;
  if (role >= needed) return grpc::Status::OK;
  if (role != Role::kDenied) {
    spdlog::warn("refused {} from {} ({}): {} needs the {} role", call, context.peer(),
                 describe_ ? describe_(context) : std::string(RoleName(role)), call,
                 RoleName(needed));
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      Cat(call, " needs the ", RoleName(needed), " role; this connection is ",
                          RoleName(role), " (see accelpackd --slurm-user, --operator-group)"));
}

namespace {

class UnparsableRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  UnparsableRequestInterceptor(grpc::experimental::ServerRpcInfo* info,
                               std::function<std::string(std::string_view)> record)
      : info_(info), record_(std::move(record)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      // Schedule itself never answers INTERNAL: this is gRPC's failed parse.
      const grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().empty()) {
        methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                               record_(info_->server_context()->peer())));
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  std::function<std::string(std::string_view)> record_;
};

class UnparsableRequestCounter final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit UnparsableRequestCounter(std::function<std::string(std::string_view)> record)
      : record_(std::move(record)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (std::string_view(info->method()) != "/accelpack.v1.Placement/Schedule") return nullptr;
    return new UnparsableRequestInterceptor(info, record_);
  }

 private:
  std::function<std::string(std::string_view)> record_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
PlacementService::CountUnparsableRequests(PlacementService* service) {
  return std::make_unique<UnparsableRequestCounter>(
      [service](std::string_view peer) { return service->RecordUnparsable(peer); });
}

std::string PlacementService::RecordUnparsable(std::string_view peer) {
  RecordRejected();
  const std::string text =
      "request: not a valid accelpack.v1.ScheduleRequest message (protobuf parse failed)";
  spdlog::warn("rejected snapshot from {}: {}", peer, text);
  return text;
}

void PlacementService::RecordRejected() {
  std::lock_guard lock(record_->mu);
  record_->last.set_rejected_snapshots_total(record_->last.rejected_snapshots_total() + 1);
  if (hub_ != nullptr) hub_->OnRejected();
}

grpc::Status PlacementService::Schedule(grpc::ServerContext* context,
                                        const v1::ScheduleRequest* request,
                                        v1::ScheduleResponse* response) {
  const auto started = std::chrono::steady_clock::now();
  if (grpc::Status allowed = Allow(*context, Role::kScheduler, "Schedule"); !allowed.ok())
    return allowed;
  const std::string caller = request->caller().empty()
                                 ? context->peer()
                                 : wire::Printable(request->caller(), wire::kMaxLabelBytes);
  SnapshotBases::Resolved resolved;
  absl::Status delta = bases_->Resolve(*request, resolved);
  if (delta.ok() && resolved.kind == SnapshotBases::Kind::kResync) {
    spdlog::info("delta snapshot from {} not applied: {}; asking for the whole snapshot", caller,
                 resolved.reason);
    response->set_full_snapshot_required(true);
    response->set_full_snapshot_reason(resolved.reason);
    return grpc::Status::OK;
  }
  const bool is_delta = resolved.kind == SnapshotBases::Kind::kDelta;
  const auto policy = policies_->Current();
  // The engine's snapshot: a delta's base converts and checks only what changed.
  std::shared_ptr<model::Snapshot> snapshot;
  absl::Status valid = delta;
  if (valid.ok() && is_delta) {
    valid = PrepareModel(resolved.base, policy, topology_);
    snapshot = resolved.base.model;
  } else if (valid.ok()) {
    absl::StatusOr<std::shared_ptr<model::Snapshot>> whole =
        ModelOf(request->snapshot(), *policy, topology_);
    valid = whole.status();
    if (whole.ok()) snapshot = *std::move(whole);
  }
  // The reasons answered to the delta's base, which the plugin holds merged.
  const bool reason_delta =
      is_delta && request->accepts_reason_deltas() && resolved.base.has_reasons;
  ReasonsByJob base_reasons = std::move(resolved.base.reasons);
  resolved.base.has_reasons = false;
  resolved.base.reasons.clear();
  if (valid.ok())
    valid = KeepBase(*bases_, *request, std::move(resolved.base), is_delta, snapshot, policy,
                     *response);
  if (!valid.ok()) {
    bases_->Forget(request->identity().controller());
    RecordRejected();
    const std::string text = RefusalText(valid);
    spdlog::warn("rejected snapshot from {}: {}", context->peer(), text);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, text);
  }
  const auto engine_started = std::chrono::steady_clock::now();
  // A cycle whose caller has given up (deadline passed, plugin gone) stops early;
  // one over the configured work stops too, the same way for the same snapshot.
  engine::WorkBudget budget = cycle_budget_;
  budget.cancelled = [context] { return context->IsCancelled(); };
  engine::Plan plan = engine::Schedule(*snapshot, policy->catalog, *policy->pipeline, budget);
  if (plan.work_budget_ran_out) {
    spdlog::warn(
        "cycle stopped by --max-node-evaluations {}: jobs after that point wait "
        "(\"not evaluated\") until a cycle reaches them",
        budget.max_node_evaluations);
  }
  if (plan.shape_table_full) {
    spdlog::warn(
        "cycle stopped by --max-shape-memory-mib {}: its distinct job shapes filled the "
        "table; jobs after that point wait (\"not evaluated\") until a cycle reaches them",
        budget.max_shape_bytes >> 20);
  }
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "caller gave up");
  const auto engine_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - engine_started)
                             .count();
  const auto latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  if (response->kept_sequence() != 0 || reason_delta) {
    // The base's reasons become this answer's in place: ~10^4 unchanged reasons per
    // cycle are neither copied nor sent.
    *response->mutable_plan() =
        PlanToProto(plan, *snapshot, policy->catalog, PlanReasons::kLeaveOut);
    AnswerReasons(plan, reason_delta ? request->base_sequence() : 0, base_reasons, *response);
    if (response->kept_sequence() != 0)
      bases_->KeepReasons(request->identity().controller(), response->kept_sequence(),
                          std::move(base_reasons));
  } else {
    *response->mutable_plan() = PlanToProto(plan, *snapshot, policy->catalog);
  }
  response->set_engine_latency_us(static_cast<uint64_t>(latency_us));
  const std::string policy_name = wire::OneLine(policy->pipeline->name, wire::kMaxLabelBytes);
  response->set_policy_name(policy_name);

  {
    std::lock_guard lock(record_->mu);
    v1::GetStatusResponse& last = record_->last;
    last.set_has_cycle(true);
    last.set_last_cycle_unix(snapshot->now);
    last.set_cycles_total(last.cycles_total() + 1);
    last.set_last_cycle_latency_us(static_cast<uint64_t>(latency_us));
    last.set_nodes(static_cast<uint32_t>(snapshot->nodes.size()));
    last.set_pending_jobs(static_cast<uint32_t>(snapshot->pending.size() - plan.starts.size()));
    last.set_running_jobs(static_cast<uint32_t>(snapshot->running.size() + plan.starts.size()));
    last.set_started_last_cycle(static_cast<uint32_t>(plan.starts.size()));
    last.set_policy_name(policy_name);
    UsageToProto(plan.usage, policy->catalog, last.mutable_kinds());
  }
  // Cycles that start nothing are routine at ~10 per second: keep them at debug.
  const auto level = plan.starts.empty() ? spdlog::level::debug : spdlog::level::info;
  spdlog::log(level,
              "cycle from {}: {} nodes, {} pending, {} running ({}) -> {} started, {} reserved, "
              "{} us",
              caller, snapshot->nodes.size(), snapshot->pending.size(), snapshot->running.size(),
              SnapshotKind(*request), plan.starts.size(), plan.reservations.size(), latency_us);
  if (hub_ != nullptr) {
    CycleRecord record;
    record.snapshot = std::move(snapshot);
    record.policy = policy;
    record.plan = std::make_shared<const engine::Plan>(std::move(plan));
    record.received = started;
    record.engine_us = static_cast<uint64_t>(engine_us);
    record.cycle_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                std::chrono::steady_clock::now() - started)
                                                .count());
    if (request->has_controller_stats()) record.controller = request->controller_stats();
    hub_->OnCycle(std::move(record));
  }
  return grpc::Status::OK;
}

grpc::Status PlacementService::GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest*,
                                         v1::GetStatusResponse* response) {
  if (grpc::Status allowed = Allow(*context, Role::kReader, "GetStatus"); !allowed.ok())
    return allowed;
  std::lock_guard lock(record_->mu);
  *response = record_->last;
  response->set_policy_name(wire::OneLine(policies_->CurrentName(), wire::kMaxLabelBytes));
  response->set_version(ACCELPACK_VERSION);
  return grpc::Status::OK;
}

}  // namespace accelpack::service
