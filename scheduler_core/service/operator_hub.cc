// SPDX-License-Identifier: GPL-2.0-or-later
#include "service/operator_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/strings.h"
#include "engine/engine.h"
#include "engine/explain.h"
#include "engine/reason.h"
#include "engine/usage.h"

namespace accelpack::service {

namespace {

constexpr size_t kLatencyWindow = 1000;
// Each queued record keeps a whole snapshot alive: few, so a slow worker costs memory only briefly.
constexpr size_t kMaxQueuedRecords = 4;

// Seconds; the engine takes ~0.1 ms on a small cluster and ~100 ms at 10k nodes.
std::vector<double> LatencyBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
}

uint64_t Percentile(std::vector<uint64_t> values, double fraction) {
  if (values.empty()) return 0;
  const size_t index = std::min(values.size() - 1,
                                static_cast<size_t>(fraction * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
  return values[index];
}

}  // namespace

OperatorHub::OperatorHub(DecisionLogOptions decisions)
    : decisions_(std::move(decisions)),
      cycle_seconds_(LatencyBounds()),
      engine_seconds_(LatencyBounds()),
      worker_([this] { Work(); }) {}

OperatorHub::~OperatorHub() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void OperatorHub::OnCycle(CycleRecord record) {
  cycle_seconds_.Observe(static_cast<double>(record.cycle_us) / 1e6);
  engine_seconds_.Observe(static_cast<double>(record.engine_us) / 1e6);
  // Counted here, not by the worker: the cycles it falls behind on and drops had
  // starts too. Per kind index first, so the named map is touched once per kind.
  std::map<int, uint64_t> starts_by_kind_index;
  if (record.plan != nullptr) {
    for (const engine::JobStart& start : record.plan->starts) ++starts_by_kind_index[start.kind];
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& [kind, count] : starts_by_kind_index) {
      const bool named = kind >= 0 && record.policy != nullptr;
      starts_by_kind_[named ? record.policy->catalog.kind(kind).name : "none"] += count;
      starts_total_ += count;
    }
    record.cycle = ++cycles_;
    auto shared = std::make_shared<const CycleRecord>(std::move(record));
    if (engine_us_ring_.size() < kLatencyWindow) {
      engine_us_ring_.push_back(shared->engine_us);
    } else {
      engine_us_ring_[ring_next_] = shared->engine_us;
      ring_next_ = (ring_next_ + 1) % kLatencyWindow;
    }
    if (shared->controller) controller_ = shared->controller;
    last_ = shared;
    // A worker that falls behind loses the oldest cycles' decisions, never the cycle.
    if (queue_.size() >= kMaxQueuedRecords) {
      queue_.pop_front();
      ++dropped_records_;
    }
    queue_.push_back(std::move(shared));
  }
  wake_.notify_one();
}

void OperatorHub::OnRejected() {
  std::lock_guard lock(mu_);
  ++rejected_;
}

void OperatorHub::OnPolicyReload(bool ok) {
  std::lock_guard lock(mu_);
  ++(ok ? reloads_ok_ : reloads_failed_);
}

std::shared_ptr<const CycleRecord> OperatorHub::Last() const {
  std::lock_guard lock(mu_);
  return last_;
}

void OperatorHub::Work() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto record = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    // Operators' views are a by-product: a failure there must not end the daemon.
    try {
      Derive(*record);
    } catch (const std::exception& error) {
      spdlog::error("operator views of cycle {}: {}", record->cycle, error.what());
    }
    lock.lock();
  }
}

void OperatorHub::Derive(const CycleRecord& record) {
  const model::Snapshot& snapshot = *record.snapshot;
  const model::Catalog& catalog = record.policy->catalog;
  const engine::Plan& plan = *record.plan;
  decisions_.Record(record.cycle, snapshot, catalog, plan);

  // Per (node, kind): a kind is "demanded" when the cycle counted idle devices
  // of it as wanted, so the per-node series sum to `accelpack status`.
  std::vector<bool> demanded(static_cast<size_t>(catalog.size()), false);
  for (const engine::KindUsage& usage : engine::UsageByKind(snapshot, catalog, plan)) {
    demanded[static_cast<size_t>(usage.kind)] = usage.devices_idle_while_demanded > 0;
  }
  struct Figures {
    double total = 0, allocated = 0, idle = 0, wanted = 0, unusable = 0, stranded = 0;
  };
  std::map<std::pair<std::string, std::string>, Figures> by_node_kind;
  for (const engine::NodeUsage& usage : engine::UsageByNode(snapshot, catalog, plan)) {
    const model::Node& node = snapshot.nodes[static_cast<size_t>(usage.node)];
    for (const engine::PoolUsage& pool : usage.pools) {
      const int kind = node.accelerators[static_cast<size_t>(pool.pool)].kind_index;
      Figures& f = by_node_kind[{node.name, catalog.kind(kind).name}];
      if (!node.Usable()) {
        f.unusable += pool.devices;
        continue;
      }
      f.total += pool.devices;
      f.allocated += pool.used;
      f.idle += pool.free;
      if (demanded[static_cast<size_t>(kind)]) f.wanted += pool.free;
      f.stranded += pool.stranded;
    }
  }
  std::map<std::pair<std::string, std::string>, int> pending;  // (class, reason)
  std::unordered_map<uint32_t, engine::PendingCode> codes;
  for (const auto& reason : plan.pending) codes[reason.job_id] = reason.code;
  for (const model::PendingJob& job : snapshot.pending) {
    auto code = codes.find(job.id);
    if (code == codes.end()) continue;  // started
    const model::JobClass job_class = job.job_class != model::JobClass::kUnspecified
                                          ? job.job_class
                                          : record.policy->pipeline->queue_order->Classify(job);
    ++pending[{std::string(policy::ClassName(job_class)),
               std::string(engine::PendingCodeName(code->second))}];
  }

  MetricsText text;
  const std::pair<const char*, double Figures::*> devices[] = {
      {"accelpack_devices", &Figures::total},
      {"accelpack_devices_allocated", &Figures::allocated},
      {"accelpack_devices_idle", &Figures::idle},
      {"accelpack_devices_idle_while_demanded", &Figures::wanted},
      {"accelpack_devices_unusable", &Figures::unusable},
      {"accelpack_devices_stranded", &Figures::stranded}};
  const char* help[] = {"Accelerator devices on usable nodes.",
                        "Devices wholly or partly in use after the last cycle's starts.",
                        "Wholly free devices on usable nodes.",
                        "Idle devices of a kind that a pending job which can run asks for.",
                        "Devices on down, drained or reserved nodes.",
                        "Free devices the node's free CPUs or memory cannot feed."};
  for (size_t i = 0; i < std::size(devices); ++i) {
    text.Family(devices[i].first, "gauge", help[i]);
    for (const auto& [key, figures] : by_node_kind) {
      text.Sample(devices[i].first, {{"node", key.first}, {"kind", key.second}},
                  figures.*devices[i].second);
    }
  }
  text.Family("accelpack_pending_jobs", "gauge",
              "Jobs left pending by the last cycle, by class and reason code.");
  for (const auto& [key, count] : pending) {
    text.Sample("accelpack_pending_jobs", {{"class", key.first}, {"reason", key.second}}, count);
  }
  text.Single("accelpack_running_jobs", "gauge", "Running jobs after the last cycle's starts.",
              static_cast<double>(snapshot.running.size() + plan.starts.size()));
  text.Single("accelpack_last_cycle_timestamp_seconds", "gauge",
              "Controller clock of the last planned snapshot (Unix seconds).",
              static_cast<double>(snapshot.now));
  text.Family("accelpack_policy_info", "gauge", "The policy in force for the last cycle.");
  text.Sample("accelpack_policy_info", {{"policy", record.policy->pipeline->name}}, 1);

  std::lock_guard lock(mu_);
  derived_metrics_ = text.text();
}

void OperatorHub::Stats(::accelpack::v1::GetStatsResponse* out) const {
  std::vector<uint64_t> window;
  std::lock_guard lock(mu_);
  out->set_cycles_total(cycles_);
  out->set_rejected_snapshots_total(rejected_);
  out->set_starts_total(starts_total_);
  out->set_policy_reloads_total(reloads_ok_);
  out->set_policy_reload_failures_total(reloads_failed_);
  window = engine_us_ring_;
  out->set_engine_latency_p50_us(Percentile(window, 0.5));
  out->set_engine_latency_p99_us(Percentile(window, 0.99));
  out->set_engine_latency_max_us(window.empty() ? 0
                                                : *std::max_element(window.begin(), window.end()));
  if (last_ != nullptr) {
    out->set_last_engine_latency_us(last_->engine_us);
    out->set_last_cycle_latency_us(last_->cycle_us);
    out->set_last_cycle_unix(last_->snapshot->now);
    out->set_seconds_since_last_cycle(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_->received).count());
  }
  if (controller_) {
    out->set_has_controller_stats(true);
    *out->mutable_controller() = *controller_;
  }
}

std::string OperatorHub::RenderMetrics() const {
  MetricsText text;
  std::string derived;
  {
    std::lock_guard lock(mu_);
    text.Single("accelpack_cycles_total", "counter", "Scheduling cycles planned by the core.",
                static_cast<double>(cycles_));
    text.Single("accelpack_rejected_snapshots_total", "counter",
                "Snapshots refused as malformed (INVALID_ARGUMENT).",
                static_cast<double>(rejected_));
    text.Single("accelpack_decision_cycles_skipped_total", "counter",
                "Cycles the decision history and node figures skipped (worker behind).",
                static_cast<double>(dropped_records_));
    text.Family("accelpack_policy_reloads_total", "counter",
                "Policy reloads on SIGHUP, by result.");
    text.Sample("accelpack_policy_reloads_total", {{"result", "ok"}},
                static_cast<double>(reloads_ok_));
    text.Sample("accelpack_policy_reloads_total", {{"result", "error"}},
                static_cast<double>(reloads_failed_));
    text.Family("accelpack_starts_total", "counter", "Job starts the core planned, by kind.");
    for (const auto& [kind, count] : starts_by_kind_) {
      text.Sample("accelpack_starts_total", {{"kind", kind}}, static_cast<double>(count));
    }
    if (controller_) {
      text.Single("accelpack_controller_lock_hold_seconds", "gauge",
                  "Longest hold of slurmctld's locks in the plugin's last cycle.",
                  static_cast<double>(controller_->lock_hold_us()) / 1e6);
      text.Single("accelpack_controller_snapshot_seconds", "gauge",
                  "Time the plugin took to copy its last snapshot.",
                  static_cast<double>(controller_->snapshot_us()) / 1e6);
      text.Single("accelpack_controller_fallback_cycles_total", "counter",
                  "Cycles the plugin ran with its built-in policy.",
                  static_cast<double>(controller_->fallback_cycles_total()));
      text.Single("accelpack_controller_dropped_decisions_total", "counter",
                  "Planned starts the plugin dropped (refused or no longer fitting).",
                  static_cast<double>(controller_->dropped_decisions_total()));
    }
    derived = derived_metrics_;
  }
  text.Family("accelpack_cycle_duration_seconds", "histogram",
              "Whole Schedule call: conversion, validation, engine, reply.");
  cycle_seconds_.WriteTo(text, "accelpack_cycle_duration_seconds");
  text.Family("accelpack_engine_duration_seconds", "histogram", "Engine time per cycle.");
  engine_seconds_.WriteTo(text, "accelpack_engine_duration_seconds");
  return text.text() + derived;
}

}  // namespace accelpack::service
