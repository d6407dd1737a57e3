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
  // the training job's 9 h of ageing (90). (No wait bounds here: ageing alone.)
  PolicyConfig ageing_only = DefaultPolicy();
  ageing_only.queue.max_wait_s.clear();
  snapshot.pending = {JobBuilder(1).Gpus(1).Partitions({"training"}).Submitted(3600).Build(),
                      JobBuilder(2).Gpus(1).Partitions({"inference"}).Submitted(36000).Build()};
  auto outcome = testing::RunEngine(snapshot, ageing_only);
  EXPECT_NE(outcome.Start(2), nullptr);
  EXPECT_EQ(outcome.Start(1), nullptr);
  // After 11 h the training job's age (110) wins.
  snapshot.now = 50000;
  snapshot.pending[1].submit_time = 50000;
  snapshot.pending[0].submit_time = 50000 - 11 * 3600;
  outcome = testing::RunEngine(snapshot, ageing_only);
  EXPECT_NE(outcome.Start(1), nullptr);
}

// The default's bounded wait: past 1800 s a training job goes ahead of fresh inference.
TEST(QueueOrder, PastItsBoundAJobGoesFirst) {
  using testing::JobBuilder;
  model::Snapshot snapshot;
  snapshot.now = 100000;
  snapshot.nodes = {testing::NodeBuilder("n")
                        .Hopper(8)
                        .Busy({0, 1, 2, 3, 4, 5, 6})
                        .Partitions({"inference", "training"})
                        .Build()};
  auto with_wait = [&](int64_t waited) {
    snapshot.pending = {
        JobBuilder(1).Gpus(1).Partitions({"training"}).Submitted(100000 - waited).Build(),
        JobBuilder(2).Gpus(1).Partitions({"inference"}).Submitted(100000).Build()};
    return testing::RunEngine(snapshot);
  };
  // 1799 s: boost 100 against 0.5 of ageing: inference first.
  EXPECT_NE(with_wait(1799).Start(2), nullptr);
  // 1800 s: the training job is overdue and goes first.
  EXPECT_NE(with_wait(1800).Start(1), nullptr);
}

// A training gang behind a stream of inference: once overdue it reserves the nodes the
// stream keeps busy, and new inference may only backfill what ends before that start.
TEST(QueueOrder, OverdueGangReservesAndInferenceOnlyBackfills) {
  using testing::JobBuilder;
  using testing::NodeBuilder;
  model::Snapshot snapshot;
  snapshot.now = 10000;
  for (const char* name : {"a", "b"}) {
    snapshot.nodes.push_back(
        NodeBuilder(name).Hopper(8).Busy({0}).Partitions({"inference", "training"}).Build());
  }
  // One inference job on each node, ending at 10000 + 300.
  snapshot.running = {testing::Running(10, "a", "gpu", "h100", {0}, 9700, 600),
                      testing::Running(11, "b", "gpu", "h100", {0}, 9700, 600)};
  snapshot.pending = {
      JobBuilder(1).Gpus(8).Nodes(2).Partitions({"training"}).Submitted(10000 - 1800).Build(),
      // fresh inference: one that would outlast the reservation, one that ends before it
      JobBuilder(2).Gpus(1).Partitions({"inference"}).Submitted(10000).TimeLimit(3600).Build(),
      JobBuilder(3).Gpus(1).Partitions({"inference"}).Submitted(10000).TimeLimit(120).Build()};
  auto outcome = testing::RunEngine(snapshot);
  EXPECT_EQ(outcome.Start(1), nullptr);
  ASSERT_EQ(outcome.plan.reservations.size(), 1u);
  EXPECT_EQ(outcome.plan.reservations[0].job_id, 1u);
  EXPECT_EQ(outcome.plan.reservations[0].planned_start, 10300);
  EXPECT_EQ(outcome.Start(2), nullptr);  // would delay the gang
  EXPECT_NE(outcome.Start(3), nullptr);  // ends at 10120, before 10300

  // Within its bound the gang does not hold the stream back.
  snapshot.pending[0].submit_time = 10000 - 1799;
  outcome = testing::RunEngine(snapshot);
  EXPECT_NE(outcome.Start(2), nullptr);
}

TEST(PolicyFile, MaxWaitMustBePositiveWholeSeconds) {
  EXPECT_THAT(ErrorOf("queue: {max_wait_s: {training: 0}}\n"),
              HasSubstr("queue.max_wait_s.training"));
  EXPECT_THAT(ErrorOf("queue: {max_wait_s: {training: 1.5}}\n"), HasSubstr("whole number"));
  EXPECT_THAT(ErrorOf("queue: {max_wait_s: {nobody: 60}}\n"), HasSubstr("unknown class"));
  auto parsed = ParsePolicyYaml("queue: {max_wait_s: {training: 60}}\n", "site.yaml");
  ASSERT_TRUE(parsed.ok()) << MessageOf(parsed.status());
  EXPECT_EQ(parsed->queue.max_wait_s.at(model::JobClass::kTraining), 60);
  EXPECT_EQ(parsed->queue.max_wait_s.size(), 1u);  // replaces the default's bounds
}

}  // namespace
}  // namespace accelpack::policy
