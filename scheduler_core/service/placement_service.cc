#include "service/placement_service.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/strings.h"
#include "engine/engine.h"
#include "engine/usage.h"
#include "service/proto_convert.h"

namespace accelpack::service {

namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(MessageOf(status)));
}

}  // namespace

void PlacementService::RecordRejected() {
  std::lock_guard lock(mu_);
  last_.set_rejected_snapshots_total(last_.rejected_snapshots_total() + 1);
}

grpc::Status PlacementService::Schedule(grpc::ServerContext* context,
                                        const v1::ScheduleRequest* request,
                                        v1::ScheduleResponse* response) {
  const auto started = std::chrono::steady_clock::now();
  auto snapshot = SnapshotFromProto(request->snapshot());
  const auto policy = policies_->Current();
  if (snapshot.ok() && topology_ != nullptr) topology_->Annotate(*snapshot);
  absl::Status valid =
      snapshot.ok() ? model::ValidateSnapshot(*snapshot, policy->catalog) : snapshot.status();
  if (!valid.ok()) {
    RecordRejected();
    spdlog::warn("rejected snapshot from {}: {}", context->peer(), MessageOf(valid));
    return ToGrpc(valid);
  }
  // A cycle whose caller has given up (deadline passed, plugin gone) stops early.
  engine::WorkBudget budget;
  budget.cancelled = [context] { return context->IsCancelled(); };
  const engine::Plan plan = engine::Schedule(*snapshot, policy->catalog, *policy->pipeline, budget);
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "caller gave up");
  const auto latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
  *response->mutable_plan() = PlanToProto(plan, *snapshot, policy->catalog);
  response->set_engine_latency_us(static_cast<uint64_t>(latency_us));
  response->set_policy_name(policy->pipeline->name);

  const auto usage = engine::UsageByKind(*snapshot, policy->catalog, plan);
  {
    std::lock_guard lock(mu_);
    last_.set_has_cycle(true);
    last_.set_last_cycle_unix(snapshot->now);
    last_.set_cycles_total(last_.cycles_total() + 1);
    last_.set_last_cycle_latency_us(static_cast<uint64_t>(latency_us));
    last_.set_nodes(static_cast<uint32_t>(snapshot->nodes.size()));
    last_.set_pending_jobs(static_cast<uint32_t>(snapshot->pending.size() - plan.starts.size()));
    last_.set_running_jobs(static_cast<uint32_t>(snapshot->running.size() + plan.starts.size()));
    last_.set_started_last_cycle(static_cast<uint32_t>(plan.starts.size()));
    last_.set_policy_name(policy->pipeline->name);
    UsageToProto(usage, policy->catalog, last_.mutable_kinds());
  }
  // Cycles that start nothing are routine at ~10 per second: keep them at debug.
  const auto level = plan.starts.empty() ? spdlog::level::debug : spdlog::level::info;
  spdlog::log(level,
              "cycle from {}: {} nodes, {} pending, {} running -> {} started, {} reserved, {} us",
              request->caller().empty() ? context->peer() : request->caller(),
              snapshot->nodes.size(), snapshot->pending.size(), snapshot->running.size(),
              plan.starts.size(), plan.reservations.size(), latency_us);
  return grpc::Status::OK;
}

grpc::Status PlacementService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                                         v1::GetStatusResponse* response) {
  std::lock_guard lock(mu_);
  *response = last_;
  response->set_policy_name(policies_->CurrentName());
  response->set_version(ACCELPACK_VERSION);
  return grpc::Status::OK;
}

}  // namespace accelpack::service
