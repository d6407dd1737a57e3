// Policy files: parsed whole, errors name file:line:column and the key.
#include "policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/strings.h"
#include "engine_test_util.h"

namespace accelpack::policy {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::string_view yaml) {
  auto parsed = ParsePolicyYaml(yaml, "site.yaml");
  EXPECT_FALSE(parsed.ok());
  return std::string(MessageOf(parsed.status()));
}

TEST(PolicyFile, EmptyFileIsTheDefault) {
  auto parsed = ParsePolicyYaml("", "empty.yaml");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->name, DefaultPolicy().name);
  EXPECT_EQ(parsed->scorers.size(), DefaultPolicy().scorers.size());
}

// The example an admin starts from must say what the daemon does without a file.
TEST(PolicyFile, ContribExampleIsTheBuiltInDefault) {
  auto loaded = LoadPolicyFile(ACCELPACK_SOURCE_DIR "/contrib/cluster/policy.yaml");
  ASSERT_TRUE(loaded.ok()) << MessageOf(loaded.status());
  EXPECT_EQ(PolicyToYaml(*loaded), PolicyToYaml(DefaultPolicy()));
}

TEST(PolicyFile, OverridesWhatItNames) {
  auto parsed = ParsePolicyYaml(R"(
name: site-a
queue:
  age_weight_per_hour: 50
  partition_classes: {serve: inference}
scorers:
  - {name: best_fit_devices, weight: 7}
limits: {max_reservations: 3}
kinds:
  - {gres: "gpu:hopper", kind: h100}
)",
                                "site.yaml");
  ASSERT_TRUE(parsed.ok()) << MessageOf(parsed.status());
  EXPECT_EQ(parsed->name, "site-a");
  EXPECT_EQ(parsed->queue.age_weight_per_hour, 50);
  EXPECT_EQ(parsed->queue.partition_classes.at("serve"), model::JobClass::kInference);
  ASSERT_EQ(parsed->scorers.size(), 1u);
  EXPECT_EQ(parsed->scorers[0].weight, 7);
  EXPECT_EQ(parsed->limits.max_reservations, 3);
  auto built = BuildPolicy(*parsed);
  ASSERT_TRUE(built.ok());
  EXPECT_TRUE(built->catalog.KindForGres("gpu", "hopper").has_value());
}

TEST(PolicyFile, UnknownKeyNamesLineAndColumn) {
  EXPECT_EQ(ErrorOf("name: x\nqueue:\n  agee: 3\n"), "site.yaml:3:3: queue.agee: unknown key");
}

TEST(PolicyFile, WrongTypeNamesTheKey) {
  EXPECT_EQ(ErrorOf("scorers:\n  - {name: best_fit_cpu, weight: heavy}\n"),
            "site.yaml:2:34: scorers[0].weight: expected a number");
}

TEST(PolicyFile, UnknownScorerIsRefusedBeforeItTakesEffect) {
  EXPECT_THAT(ErrorOf("scorers:\n  - {name: magic}\n"),
              HasSubstr("site.yaml: scorers[0]: unknown scorer \"magic\""));
}

TEST(PolicyFile, UnknownClass) {
  EXPECT_THAT(ErrorOf("queue:\n  default_class: urgent\n"),
              HasSubstr("queue.default_class: unknown class"));
}

TEST(PolicyFile, MappingToUnknownKind) {
  EXPECT_THAT(ErrorOf("kinds:\n  - {gres: \"gpu:x\", kind: nope}\n"),
              HasSubstr("kinds[0]: gres gpu:x: unknown kind nope"));
}

TEST(PolicyFile, NotYaml) { EXPECT_THAT(ErrorOf("queue: [unclosed\n"), HasSubstr("site.yaml:")); }

TEST(PolicyFile, MissingFile) {
  auto loaded = LoadPolicyFile("/nonexistent/policy.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(MessageOf(loaded.status()), "/nonexistent/policy.yaml: cannot open policy file");
}

TEST(PolicyFile, ShowThenParseRoundTrips) {
  PolicyConfig config = DefaultPolicy();
  config.kinds.push_back({"gpu", "hopper", "h100"});
  auto parsed = ParsePolicyYaml(PolicyToYaml(config), "shown.yaml");
  ASSERT_TRUE(parsed.ok()) << MessageOf(parsed.status());
  EXPECT_EQ(PolicyToYaml(*parsed), PolicyToYaml(config));
}

TEST(QueueOrder, ClassFromPartitionAndAgeing) {
  using testing::JobBuilder;
  model::Snapshot snapshot;
  snapshot.now = 10 * 3600;
  snapshot.nodes = {testing::NodeBuilder("n")
                        .Hopper(8)
                        .Busy({0, 1, 2, 3, 4, 5, 6})
                        .Partitions({"inference", "training"})
                        .Build()};
  // Same Slurm priority; the inference job is newer but its class boost (100) beats
  // the training job's 9 h of ageing (90).
  snapshot.pending = {JobBuilder(1).Gpus(1).Partitions({"training"}).Submitted(3600).Build(),
                      JobBuilder(2).Gpus(1).Partitions({"inference"}).Submitted(36000).Build()};
  auto outcome = testing::RunEngine(snapshot);
  EXPECT_NE(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Start(1), nullptr);
  // After 11 h the training job's age (110) wins.
  snapshot.pending[0].submit_time = -3600;
  outcome = testing::RunEngine(snapshot);
  EXPECT_NE(outcome.Start(1), nullptr);
}

}  // namespace
}  // namespace accelpack::policy
