// SPDX-License-Identifier: GPL-2.0-or-later
// What operators may ask about the core: the last real cycle (snapshot, policy,
// plan), cycle statistics, the decision history and the Prometheus exposition.
//
// The Schedule path only hands records over (OnCycle is a few pointer moves);
// a worker thread derives decisions and per-node figures, so operators' views
// never lengthen a cycle.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "accelpack/v1/placement.pb.h"
#include "engine/plan.h"
#include "model/cluster.h"
#include "policy/policy.h"
#include "service/decision_log.h"
#include "service/metrics.h"

namespace accelpack::service {

// One scheduling cycle the engine planned (rejected snapshots never become one).
struct CycleRecord {
  uint64_t cycle = 0;
  std::shared_ptr<const model::Snapshot> snapshot;
  std::shared_ptr<const policy::BuiltPolicy> policy;
  std::shared_ptr<const engine::Plan> plan;
  std::chrono::steady_clock::time_point received;
  uint64_t engine_us = 0;
  uint64_t cycle_us = 0;
  std::optional<::accelpack::v1::ControllerStats> controller;
};

class OperatorHub {
 public:
  explicit OperatorHub(DecisionLogOptions decisions = {});
  ~OperatorHub();
  OperatorHub(const OperatorHub&) = delete;
  OperatorHub& operator=(const OperatorHub&) = delete;

  absl::Status Open() { return decisions_.Open(); }

  // Called by the Placement service.
  void OnCycle(CycleRecord record);
  void OnRejected();
  void OnPolicyReload(bool ok);

  // The last planned cycle, or null before the first.
  std::shared_ptr<const CycleRecord> Last() const;
  void Stats(::accelpack::v1::GetStatsResponse* out) const;
  const DecisionLog& decisions() const { return decisions_; }
  // Prometheus text for /metrics.
  std::string RenderMetrics() const;

 private:
  void Work();
  void Derive(const CycleRecord& record);  // worker thread

  DecisionLog decisions_;
  Histogram cycle_seconds_;
  Histogram engine_seconds_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::deque<std::shared_ptr<const CycleRecord>> queue_;  // to the worker
  uint64_t dropped_records_ = 0;
  std::shared_ptr<const CycleRecord> last_;
  uint64_t cycles_ = 0;
  uint64_t rejected_ = 0;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  std::vector<uint64_t> engine_us_ring_;  // last 1000 cycles
  size_t ring_next_ = 0;
  std::optional<::accelpack::v1::ControllerStats> controller_;
  // Derived by the worker from the latest record.
  std::string derived_metrics_;
  std::map<std::string, uint64_t> starts_by_kind_;
  uint64_t starts_total_ = 0;

  std::thread worker_;
};

}  // namespace accelpack::service
