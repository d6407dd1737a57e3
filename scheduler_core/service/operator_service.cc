// SPDX-License-Identifier: GPL-2.0-or-later
#include "service/operator_service.h"

#include <absl/cleanup/cleanup.h>

#include <cmath>
#include <unordered_set>

#include "accelpack/v1/wire_text.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "engine/explain.h"
#include "engine/reason.h"
#include "policy/baselines.h"
#include "service/proto_convert.h"

namespace accelpack::service {

namespace {

// Texts built from Slurm's names (an explanation, a decision's detail) may be long.
constexpr size_t kMaxTextBytes = 64 * 1024;

constexpr uint32_t kDefaultMaxAgeS = 60;

std::string_view StateName(model::NodeState state) {
  switch (state) {
    case model::NodeState::kIdle:
      return "idle";
    case model::NodeState::kMixed:
      return "mixed";
    case model::NodeState::kAllocated:
      return "allocated";
    case model::NodeState::kDown:
      return "down";
    case model::NodeState::kDrained:
      return "drained";
    case model::NodeState::kReserved:
      return "reserved";
  }
  return "unknown";
}

// The queue's typical shapes (FGD's workload table, as the workload scorers see it),
// from the pending jobs that can run somewhere: a shape no node can ever host would
// count every free device.
policy::ShapeTable QueueShapes(const model::Snapshot& snapshot, const engine::Plan& plan) {
  std::unordered_set<uint32_t> never;
  for (const auto& reason : plan.pending) {
    if (reason.code == engine::PendingCode::kNeverFits) never.insert(reason.job_id);
  }
  return policy::QueueShapes(snapshot,
                             [&](const model::PendingJob& job) { return !never.contains(job.id); });
}

}  // namespace

grpc::Status OperationsService::Fresh(uint32_t max_age_s,
                                      std::shared_ptr<const CycleRecord>* out) const {
  auto last = hub_->Last();
  if (last == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "no scheduling cycle yet: the Slurm plugin has not called the core");
  }
  const uint32_t limit = max_age_s == 0 ? kDefaultMaxAgeS : max_age_s;
  const double age =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last->received).count();
  if (age > limit) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        Cat("stale snapshot: the last cycle was ", static_cast<int64_t>(age), " s ago (limit ",
            limit, " s); is slurmctld running with SchedulerType=sched/accelpack?"));
  }
  *out = std::move(last);
  return grpc::Status::OK;
}

grpc::Status OperationsService::Explain(grpc::ServerContext*, const v1::ExplainRequest* request,
                                        v1::ExplainResponse* response) {
  std::shared_ptr<const CycleRecord> cycle;
  if (auto status = Fresh(request->max_age_s(), &cycle); !status.ok()) return status;
  const auto& policy = *cycle->policy;
  const int max_candidates = request->max_candidates() == 0
                                 ? 3
                                 : static_cast<int>(std::min(request->max_candidates(), 100u));
  auto explanation = engine::Explain(request->job_id(), *cycle->snapshot, policy.catalog,
                                     *policy.pipeline, *cycle->plan, max_candidates);
  if (!explanation) {
    bool running = false;
    for (const auto& job : cycle->snapshot->running)
      running = running || job.id == request->job_id();
    return grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        Cat("job ", request->job_id(),
            running ? " is running, not pending"
                    : " is not pending in the last snapshot (unknown, finished, held, or "
                      "waiting on a dependency: Slurm does not hand such jobs to the scheduler)"));
  }
  const model::Snapshot& snapshot = *cycle->snapshot;
  response->set_job_id(explanation->job_id);
  response->set_snapshot_unix(snapshot.now);
  response->set_queue_position(static_cast<uint32_t>(explanation->queue_position));
  response->set_queue_length(static_cast<uint32_t>(explanation->queue_length));
  response->set_effective_priority(explanation->effective_priority);
  for (const auto& job : snapshot.pending) {
    if (job.id == explanation->job_id) {
      response->set_slurm_priority(job.priority);
      response->set_request(wire::Utf8Shown(engine::DescribeRequest(job), kMaxTextBytes));
    }
  }
  response->set_job_class(std::string(policy::ClassName(explanation->job_class)));
  response->set_code(explanation->started ? v1::PENDING_REASON_UNSPECIFIED
                                          : PendingCodeToProto(explanation->code));
  response->set_reason(wire::Utf8Shown(explanation->reason, kMaxTextBytes));
  response->set_nodes_total(static_cast<uint32_t>(explanation->nodes_total));
  for (const auto& rejection : explanation->rejections) {
    auto* out = response->add_rejections();
    out->set_reason(wire::Utf8Shown(rejection.reason, kMaxTextBytes));
    out->set_nodes(static_cast<uint32_t>(rejection.nodes));
    out->set_never(rejection.never);
  }
  for (const auto& candidate : explanation->candidates) {
    auto* out = response->add_candidates();
    const model::Node& node = snapshot.nodes[static_cast<size_t>(candidate.node)];
    out->set_node(wire::Utf8Shown(node.name));
    if (candidate.pool >= 0) {
      out->set_kind(
          policy.catalog.kind(node.accelerators[static_cast<size_t>(candidate.pool)].kind_index)
              .name);
    }
    for (int d : candidate.devices) out->add_devices(static_cast<uint32_t>(d));
    out->set_fraction_milli(static_cast<uint32_t>(candidate.fraction_milli));
    out->set_total(candidate.total);
    for (const auto& part : candidate.scores) {
      auto* score = out->add_scores();
      score->set_scorer(part.scorer);
      score->set_weight(part.weight);
      score->set_score(part.score);
    }
  }
  if (explanation->reservation) {
    auto* reservation = response->mutable_reservation();
    reservation->set_job_id(explanation->reservation->job_id);
    reservation->set_planned_start_unix(explanation->reservation->planned_start);
    for (int n : explanation->reservation->nodes)
      reservation->add_nodes(wire::Utf8Shown(snapshot.nodes[static_cast<size_t>(n)].name));
  }
  response->set_what_must_change(wire::Utf8Shown(explanation->what_must_change, kMaxTextBytes));
  return grpc::Status::OK;
}

grpc::Status OperationsService::ListNodes(grpc::ServerContext*, const v1::ListNodesRequest* request,
                                          v1::ListNodesResponse* response) {
  std::shared_ptr<const CycleRecord> cycle;
  if (auto status = Fresh(request->max_age_s(), &cycle); !status.ok()) return status;
  const model::Snapshot& snapshot = *cycle->snapshot;
  const model::Catalog& catalog = cycle->policy->catalog;
  const policy::ShapeTable shapes = QueueShapes(snapshot, *cycle->plan);
  response->set_snapshot_unix(snapshot.now);
  for (const engine::NodeUsage& usage : engine::UsageByNode(snapshot, catalog, *cycle->plan)) {
    const model::Node& node = snapshot.nodes[static_cast<size_t>(usage.node)];
    if (!request->state().empty() && StateName(node.state) != request->state()) continue;
    if (!request->partition().empty() && std::find(node.partitions.begin(), node.partitions.end(),
                                                   request->partition()) == node.partitions.end()) {
      continue;
    }
    v1::NodeView view;
    for (const engine::PoolUsage& pool : usage.pools) {
      const model::AcceleratorPool& record = node.accelerators[static_cast<size_t>(pool.pool)];
      const std::string& kind = catalog.kind(record.kind_index).name;
      if (!request->kind().empty() && kind != request->kind()) continue;
      auto* out = view.add_pools();
      out->set_kind(kind);
      out->set_gres(wire::Utf8Shown(Cat(record.gres_name, ":", record.gres_type)));
      out->set_devices(static_cast<uint32_t>(pool.devices));
      out->set_used(static_cast<uint32_t>(pool.used));
      out->set_free(static_cast<uint32_t>(pool.free));
      out->set_shared(static_cast<uint32_t>(pool.shared));
      out->set_stranded(pool.stranded);
      out->set_fragmentation(shapes.empty() || !node.Usable()
                                 ? 0.0
                                 : policy::PoolFragmentation(shapes, usage.cpus_free,
                                                             pool.used_milli, record.gres_type) /
                                       model::kMilliPerDevice);
    }
    if (!request->kind().empty() && view.pools_size() == 0) continue;
    view.set_name(wire::Utf8Shown(node.name));
    view.set_state(std::string(StateName(node.state)));
    for (const auto& p : node.partitions) view.add_partitions(wire::Utf8Shown(p));
    view.set_cpus_total(static_cast<uint32_t>(node.cpus_total));
    view.set_cpus_free(static_cast<uint32_t>(std::max(usage.cpus_free, 0)));
    view.set_memory_total_mib(static_cast<uint64_t>(node.memory_total_mib));
    view.set_memory_free_mib(static_cast<uint64_t>(std::max<int64_t>(usage.memory_free_mib, 0)));
    *response->add_nodes() = std::move(view);
  }
  std::sort(response->mutable_nodes()->begin(), response->mutable_nodes()->end(),
            [](const v1::NodeView& a, const v1::NodeView& b) { return a.name() < b.name(); });
  return grpc::Status::OK;
}

grpc::Status OperationsService::ListDecisions(grpc::ServerContext*,
                                              const v1::ListDecisionsRequest* request,
                                              v1::ListDecisionsResponse* response) {
  for (const DecisionEntry& entry :
       hub_->decisions().Query(request->since_unix(), request->job_id())) {
    auto* out = response->add_decisions();
    out->set_cycle_unix(entry.cycle_unix);
    out->set_cycle(entry.cycle);
    out->set_job_id(entry.job_id);
    out->set_what(wire::Utf8Shown(entry.what, kMaxTextBytes));
    out->set_detail(wire::Utf8Shown(entry.detail, kMaxTextBytes));
  }
  response->set_kept(static_cast<uint32_t>(hub_->decisions().capacity()));
  response->set_audit_log(hub_->decisions().audit_path());
  return grpc::Status::OK;
}

grpc::Status OperationsService::DiffPolicy(grpc::ServerContext* context,
                                           const v1::DiffPolicyRequest* request,
                                           v1::DiffPolicyResponse* response) {
  // Each diff parses a policy, copies the snapshot twice and runs two cycles beside
  // accelpackd's own, and any reader may ask: one runs at a time, the others are
  // told to retry.
  if (diffs_running_.fetch_add(1) >= kMaxDiffsAtOnce) {
    diffs_running_.fetch_sub(1);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "another policy diff is running; try again when it has finished");
  }
  const absl::Cleanup finished = [this] { diffs_running_.fetch_sub(1); };
  // What a policy file may hold: the reader role must not make the daemon parse more.
  if (request->policy_yaml().size() > policy::kMaxPolicyBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        Cat("policy text of ", request->policy_yaml().size(),
                            " bytes, more than a policy file's ", policy::kMaxPolicyBytes));
  }
  auto config = policy::ParsePolicyYaml(request->policy_yaml(),
                                        request->source().empty() ? "policy" : request->source());
  if (!config.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(MessageOf(config.status())));
  }
  auto other = policy::BuildPolicy(*config);
  if (!other.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(MessageOf(other.status())));
  }
  std::shared_ptr<const CycleRecord> cycle;
  if (auto status = Fresh(request->max_age_s(), &cycle); !status.ok()) return status;
  // The running policy is the one in force now, run afresh on the same snapshot.
  const auto running = policies_->Current();
  model::Snapshot snapshot_a = *cycle->snapshot;
  model::Snapshot snapshot_b = *cycle->snapshot;
  for (auto* snapshot : {&snapshot_a, &snapshot_b}) {
    const auto& catalog = snapshot == &snapshot_a ? running->catalog : other->catalog;
    if (absl::Status valid = model::ValidateSnapshot(*snapshot, catalog); !valid.ok()) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          Cat("the last snapshot under ", snapshot == &snapshot_a ? "the running" : "the other",
              " policy's kinds: ", MessageOf(valid)));
    }
  }
  // Bounded and cancellable as accelpackd's own cycles: a caller that gave up stops it.
  engine::WorkBudget budget = cycle_budget_;
  budget.cancelled = [context] { return context->IsCancelled(); };
  const engine::Plan plan_a =
      engine::Schedule(snapshot_a, running->catalog, *running->pipeline, budget);
  const engine::Plan plan_b =
      engine::Schedule(snapshot_b, other->catalog, *other->pipeline, budget);
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "caller gave up");
  const engine::PlanComparison diff = engine::ComparePlans(snapshot_a, running->catalog, plan_a,
                                                           snapshot_b, other->catalog, plan_b);
  response->set_running_policy(running->pipeline->name);
  response->set_other_policy(other->pipeline->name);
  response->set_snapshot_unix(cycle->snapshot->now);
  response->set_starts_running(static_cast<uint32_t>(diff.starts_a));
  response->set_starts_other(static_cast<uint32_t>(diff.starts_b));
  for (const auto& start : diff.starts) {
    auto* out = response->add_starts();
    out->set_job_id(start.job_id);
    out->set_running(start.a);
    out->set_other(start.b);
  }
  for (const auto& kind : diff.kinds) {
    auto* out = response->add_kinds();
    out->set_kind(kind.kind);
    out->set_idle_running(static_cast<uint32_t>(kind.idle_a));
    out->set_idle_other(static_cast<uint32_t>(kind.idle_b));
    out->set_stranded_running(kind.stranded_a);
    out->set_stranded_other(kind.stranded_b);
  }
  for (const auto& reason : diff.reasons) {
    auto* out = response->add_reasons();
    out->set_job_id(reason.job_id);
    out->set_running(reason.a);
    out->set_other(reason.b);
  }
  return grpc::Status::OK;
}

grpc::Status OperationsService::GetStats(grpc::ServerContext*, const v1::GetStatsRequest*,
                                         v1::GetStatsResponse* response) {
  hub_->Stats(response);
  return grpc::Status::OK;
}

grpc::Status OperationsService::GetPolicy(grpc::ServerContext*, const v1::GetPolicyRequest*,
                                          v1::GetPolicyResponse* response) {
  response->set_name(policies_->CurrentName());
  response->set_yaml(policies_->CurrentYaml());
  return grpc::Status::OK;
}

}  // namespace accelpack::service
