// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target: the policy loader. A file is refused with a message naming
// where, or accepted; an accepted policy builds, shows and parses back the same,
// and runs the engine on a small cluster to a plan that keeps every rule its
// filters stand for (plan_checker.h).
//
//   build-fuzz/tests/fuzz/fuzz_policy tests/fuzz/corpus/policy -max_total_time=600
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cluster_builder.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "plan_checker.h"
#include "policy/policy.h"

namespace {

using namespace accelpack;

[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "policy loader: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = policy::ParsePolicyYaml(text, "fuzz.yaml");
  if (!config.ok()) {
    if (!MessageOf(config.status()).starts_with("fuzz.yaml")) Die("an error without its file");
    return 0;
  }
  auto built = policy::BuildPolicy(*config);
  if (!built.ok()) Die(Cat("accepted but does not build: ", MessageOf(built.status())));
  const auto& queue = config->queue;
  if (!std::isfinite(queue.priority_weight) || !std::isfinite(queue.age_weight_per_hour)) {
    Die("a non-finite queue weight accepted");
  }
  for (const auto& scorer : config->scorers) {
    if (!std::isfinite(scorer.weight) || scorer.weight < 0) Die("a bad scorer weight accepted");
  }
  if (config->limits.default_time_limit_s > model::kMaxTimeS)
    Die("an unbounded time limit accepted");
  auto again = policy::ParsePolicyYaml(policy::PolicyToYaml(*config), "shown.yaml");
  if (!again.ok()) Die(Cat("shown policy does not parse back: ", MessageOf(again.status())));
  if (policy::PolicyToYaml(*again) != policy::PolicyToYaml(*config)) Die("show/parse not stable");

  static const model::Snapshot* const kCluster = [] {
    auto* snapshot = new model::Snapshot(testing::SyntheticCluster(16, 40, 0.5, 9));
    return snapshot;
  }();
  model::Snapshot snapshot = *kCluster;
  if (!model::ValidateSnapshot(snapshot, built->catalog).ok()) return 0;
  const engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
  fuzz::CheckOptions options;
  options.filters.insert(config->filters.begin(), config->filters.end());
  const auto problems = fuzz::CheckPlan(snapshot, built->catalog, plan, options);
  if (!problems.empty()) Die(Cat("plan breaks a rule: ", problems.front()));
  return 0;
}
