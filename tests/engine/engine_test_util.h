// Runs the real engine on a builder-made snapshot and reads the plan by names.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cluster_builder.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "policy/policy.h"
#include "policy/registry.h"

namespace accelpack::testing {

struct Outcome {
  model::Snapshot snapshot;
  engine::Plan plan;

  // Node names each started job got, in name order.
  std::map<uint32_t, std::vector<std::string>> Started() const {
    std::map<uint32_t, std::vector<std::string>> started;
    for (const auto& start : plan.starts) {
      for (const auto& placement : start.placements) {
        started[start.job_id].push_back(snapshot.nodes[static_cast<size_t>(placement.node)].name);
      }
    }
    return started;
  }
  const engine::JobStart* Start(uint32_t job) const {
    for (const auto& start : plan.starts) {
      if (start.job_id == job) return &start;
    }
    return nullptr;
  }
  const engine::PendingReason* Pending(uint32_t job) const {
    for (const auto& reason : plan.pending) {
      if (reason.job_id == job) return &reason;
    }
    return nullptr;
  }
};

inline Outcome RunEngine(model::Snapshot snapshot,
                         const policy::PolicyConfig& config = policy::DefaultPolicy()) {
  auto built = policy::BuildPolicy(config);
  EXPECT_TRUE(built.ok()) << MessageOf(built.status());
  const absl::Status valid = model::ValidateSnapshot(snapshot, built->catalog);
  EXPECT_TRUE(valid.ok()) << MessageOf(valid);
  Outcome outcome{std::move(snapshot), {}};
  outcome.plan = engine::Schedule(outcome.snapshot, built->catalog, *built->pipeline);
  return outcome;
}

}  // namespace accelpack::testing
