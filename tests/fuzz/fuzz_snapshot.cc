// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: the daemon's path for one cycle, wire bytes -> conversion ->
// validation -> engine, then an independent check of the plan (plan_checker.h).
// Any input must end in a refused snapshot or a plan that keeps every rule.
//
//   build-fuzz/tests/fuzz/fuzz_snapshot tests/fuzz/corpus/snapshot -max_total_time=600
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "accelpack/v1/placement.pb.h"
#include "engine/engine.h"
#include "plan_checker.h"
#include "policy/policy.h"
#include "service/proto_convert.h"

namespace {

using namespace accelpack;

const policy::BuiltPolicy& DefaultPolicy() {
  static const policy::BuiltPolicy* const kPolicy =
      new policy::BuiltPolicy(*policy::BuildPolicy(policy::DefaultPolicy()));
  return *kPolicy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::ClusterSnapshot wire;
  if (!wire.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto snapshot = service::SnapshotFromProto(wire);
  if (!snapshot.ok()) return 0;
  const policy::BuiltPolicy& built = DefaultPolicy();
  if (!model::ValidateSnapshot(*snapshot, built.catalog).ok()) return 0;
  // A budget keeps one input's run short; the plan must be right however far it got.
  engine::WorkBudget budget;
  budget.max_node_evaluations = 200000;
  const engine::Plan plan = engine::Schedule(*snapshot, built.catalog, *built.pipeline, budget);
  const auto problems = fuzz::CheckPlan(*snapshot, built.catalog, plan, fuzz::AllFilters());
  for (const auto& problem : problems)
    std::fprintf(stderr, "plan breaks a rule: %s\n", problem.c_str());
  if (!problems.empty()) std::abort();
  return 0;
}
