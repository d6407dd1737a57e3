// A policy: which plugins at which weights, how the queue is ordered, limits,
// and extra GRES -> kind mappings. Admins write it as YAML; it is validated
// whole before it takes effect, so a bad file never replaces a good policy.
//
// Thread-safety: PolicyConfig is a value; a built Pipeline is immutable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bounded_file.h"
#include "engine/framework.h"
#include "model/catalog.h"
#include "policy/plugins.h"

namespace accelpack::policy {

struct ScorerConfig {
  std::string name;
  double weight = 1;
  std::map<std::string, std::string> args;  // plugin-specific, validated by its factory
};

struct PolicyConfig {
  std::string name = "accelpack-default";
  QueueOrderConfig queue;
  std::vector<std::string> filters;
  std::vector<ScorerConfig> scorers;
  engine::EngineLimits limits;
  std::vector<model::GresKindMapping> kinds;
  engine::PreemptionRules preemption;  // none named: no preemption (docs/preemption.md)
};

// The default accelpack policy: every standard filter; best fit on devices,
// then CPUs; inference ahead of training at equal priority; jobs age.
PolicyConfig DefaultPolicy();

// A policy's pieces, ready to run.
struct BuiltPolicy {
  std::unique_ptr<engine::Pipeline> pipeline;
  model::Catalog catalog;  // built-in kinds plus the policy's mappings
};

// Instantiates every plugin named; fails naming the first unknown plugin or bad argument.
absl::StatusOr<BuiltPolicy> BuildPolicy(const PolicyConfig& config);

// Parses YAML text; `source` (a file name) prefixes every error, with line:column.
absl::StatusOr<PolicyConfig> ParsePolicyYaml(std::string_view text, std::string_view source);
// Real policies are a few KiB; a bound keeps a mistaken path (a log, a disk image),
// or a policy text sent to accelpackd, cheap.
inline constexpr size_t kMaxPolicyBytes = kMiB;
// A policy file's text: only a regular file of at most kMaxPolicyBytes, opened
// without blocking (a FIFO or device at the path is refused, never waited on).
absl::StatusOr<std::string> ReadPolicyFile(const std::string& path);
// Reads (as ReadPolicyFile) and parses a policy file.
absl::StatusOr<PolicyConfig> LoadPolicyFile(const std::string& path);
// The YAML form of a policy (what `accelpack policy show` prints).
std::string PolicyToYaml(const PolicyConfig& config);

std::string_view ClassName(model::JobClass job_class);
absl::StatusOr<model::JobClass> ParseClass(std::string_view name);

}  // namespace accelpack::policy
