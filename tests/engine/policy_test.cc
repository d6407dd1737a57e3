// Policy files: parsed whole, errors name file:line:column and the key.
#include "policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/strings.h"
#include "engine_test_util.h"

namespace accelpack::policy {
namespace {

using ::testing::AllOf;
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
limits: {max_reservations: 3, reservation_window_s: 86400, reservations_hold_whole_nodes: true,
         select_consecutive_runs: true}
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
  EXPECT_EQ(parsed->limits.reservation_window_s, 86400);
  EXPECT_TRUE(parsed->limits.reservations_hold_whole_nodes);
  EXPECT_TRUE(parsed->limits.select_consecutive_runs);
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
              HasSubstr("site.yaml:2:5: scorers[0]: unknown scorer \"magic\""));
}

TEST(PolicyFile, UnknownClass) {
  EXPECT_THAT(ErrorOf("queue:\n  default_class: urgent\n"),
              HasSubstr("queue.default_class: unknown class"));
}

TEST(PolicyFile, MappingToUnknownKind) {
  EXPECT_THAT(ErrorOf("kinds:\n  - {gres: \"gpu:x\", kind: nope}\n"),
              HasSubstr("site.yaml:2:27: kinds[0].kind: gres gpu:x: unknown kind nope"));
}

TEST(PolicyFile, NotYaml) { EXPECT_THAT(ErrorOf("queue: [unclosed\n"), HasSubstr("site.yaml:")); }

TEST(PolicyFile, MissingFile) {
  auto loaded = LoadPolicyFile("/nonexistent/policy.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(MessageOf(loaded.status()),
              HasSubstr("cannot read policy file /nonexistent/policy.yaml: No such file"));
}

// Issue 12, finding 5: every number of the file must be finite.
TEST(PolicyFile, NanAndInfinityAreRefusedForEveryNumber) {
  for (const char* bad : {".nan", ".inf", "-.inf", ".NaN"}) {
    EXPECT_THAT(ErrorOf(Cat("queue:\n  priority_weight: ", bad, "\n")),
                HasSubstr("site.yaml:2:20: queue.priority_weight: expected a finite number"))
        << bad;
    EXPECT_THAT(ErrorOf(Cat("queue:\n  age_weight_per_hour: ", bad, "\n")),
                HasSubstr("queue.age_weight_per_hour: expected a finite number"));
    EXPECT_THAT(ErrorOf(Cat("queue:\n  class_boost: {training: ", bad, "}\n")),
                HasSubstr("queue.class_boost.training: expected a finite number"));
    EXPECT_THAT(ErrorOf(Cat("scorers:\n  - {name: best_fit_cpu, weight: ", bad, "}\n")),
                HasSubstr("scorers[0].weight: expected a finite number"));
  }
  for (const char* bad : {"nan", "inf", "-inf", "infinity", "NAN"}) {
    EXPECT_THAT(ErrorOf(Cat("scorers:\n  - name: kind_preference\n    args: {speeds: \"h100=", bad,
                            "\"}\n")),
                HasSubstr("site.yaml:3:11: scorers[0]: scorer kind_preference: speeds: speed of "
                          "h100 must be a number > 0"))
        << bad;
  }
}

TEST(PolicyFile, DuplicateKeysAreRefusedAtAnyDepth) {
  EXPECT_EQ(ErrorOf("name: a\nname: b\n"), "site.yaml:2:1: name: duplicate key");
  EXPECT_EQ(ErrorOf("queue:\n  class_boost: {training: 1, training: 2}\n"),
            "site.yaml:2:30: queue.class_boost.training: duplicate key");
  EXPECT_THAT(ErrorOf("scorers:\n  - {name: best_fit_cpu, weight: 1, weight: 2}\n"),
              HasSubstr("site.yaml:2:37: scorers[0].weight: duplicate key"));
}

TEST(PolicyFile, ASecondYamlDocumentIsRefused) {
  EXPECT_THAT(
      ErrorOf("name: a\n---\nname: b\n"),
      HasSubstr("site.yaml:2:1: policy: a policy file holds one YAML document, found more"));
}

// A dozen lines of nested aliases name 10^12 paths, and checking the loaded tree
// walked them one by one: the daemon's start and reload and `policy check` hung on
// a 1 KB file. Aliases are refused before any tree is built.
TEST(PolicyFile, AliasesAreRefusedBeforeAnyWalk) {
  std::string text = "l0: &a0 [0,0,0,0,0,0,0,0,0,0]\n";
  for (int level = 1; level <= 12; ++level) {
    text += Cat("l", level, ": &a", level, " [");
    for (int i = 0; i < 10; ++i) text += Cat(i > 0 ? "," : "", "*a", level - 1);
    text += "]\n";
  }
  EXPECT_THAT(ErrorOf(text), AllOf(HasSubstr("site.yaml:2:"), HasSubstr("no YAML aliases")));
  EXPECT_THAT(ErrorOf("name: &n x\nfilters: [*n]\n"),
              AllOf(HasSubstr("site.yaml:2:"), HasSubstr("no YAML aliases")));
}

// Found by fuzz_policy: yaml-cpp's LoadAll never returned on this text.
TEST(PolicyFile, MalformedTextEndsInAnAnswer) {
  EXPECT_THAT(ErrorOf(",:a:"), HasSubstr("site.yaml:"));
}

// Found by fuzz_policy: a name with carriage returns and stray bytes was accepted,
// and `policy show` wrote it so that it read back different (one \r fewer).
TEST(PolicyFile, TextThatIsNotPrintableUtf8IsRefusedNamingWhere) {
  EXPECT_EQ(ErrorOf("name: site\r\r\xf8"
                    "au\r\r"),
            "site.yaml:1:7: name: expected printable UTF-8 text, not "
            "\"site\\x0d\\x0d\\xf8au\\x0d\\x0d\"");
  EXPECT_THAT(ErrorOf("queue:\n  partition_classes: {\"gpu\\x1b[2J\": training}\n"),
              HasSubstr("site.yaml:2:23: queue.partition_classes.gpu\\x1b[2J: expected printable "
                        "UTF-8 text"));
  EXPECT_THAT(ErrorOf("filters: [\"partition\\t\"]\n"),
              HasSubstr("site.yaml:1:11: filters[0]: expected printable UTF-8 text"));
  // Printable text in any script stays a name, and so does a Windows file's line end.
  auto accepted = ParsePolicyYaml("name: \"r\xc3\xa9gion-\xe5\x8c\x97\"\r\n", "site.yaml");
  ASSERT_TRUE(accepted.ok()) << MessageOf(accepted.status());
  EXPECT_EQ(accepted->name, "r\xc3\xa9gion-\xe5\x8c\x97");
}

TEST(PolicyFile, PluginErrorsNameLineAndColumn) {
  EXPECT_EQ(ErrorOf("filters: [partition, teleport]\n"),
            "site.yaml:1:22: filters[1]: unknown filter \"teleport\" (known: accelerator_type, "
            "capacity, excluded_nodes, exclusive, features, free_cpus, free_memory, node_state, "
            "partition, refused_nodes, reservation, shard_collision, untyped_whole_devices)");
  EXPECT_THAT(ErrorOf("scorers:\n  - name: node_order\n    args: {x: 1}\n"),
              HasSubstr("site.yaml:3:11: scorers[0]: scorer node_order: takes no arguments"));
}

TEST(PolicyFile, ReservationLimitsAreCheckedNamingTheKey) {
  EXPECT_THAT(
      ErrorOf("limits:\n  reservations_hold_whole_nodes: maybe\n"),
      HasSubstr("site.yaml:2:34: limits.reservations_hold_whole_nodes: expected true or false"));
  EXPECT_THAT(ErrorOf("limits:\n  reservation_window_s: -1\n"),
              HasSubstr("limits.reservation_window_s"));
  EXPECT_THAT(ErrorOf("limits:\n  select_consecutive_runs: 2\n"),
              HasSubstr("site.yaml:2:28: limits.select_consecutive_runs: expected true or false"));
}

// Issue 12, finding 3: a default time limit that overflows every end time.
TEST(PolicyFile, HugeDefaultTimeLimitIsRefused) {
  EXPECT_THAT(ErrorOf("limits:\n  default_time_limit_s: 9223372036854775807\n"),
              HasSubstr("site.yaml:2:25: limits.default_time_limit_s: 9223372036854775807 outside "
                        "0..1099511627776"));
  EXPECT_THAT(ErrorOf("limits:\n  max_reservations: -1\n"),
              HasSubstr("limits.max_reservations: -1 outside 0.."));
}

class PolicyPath : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           Cat("policy-path-", ::getpid(), "-", ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// A FIFO at the policy path used to block the reader (the daemon's signal thread)
// until a writer came; now it is refused at once.
TEST_F(PolicyPath, FifoIsRefusedWithoutBlocking) {
  const std::string fifo = (dir_ / "policy.yaml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto loaded = LoadPolicyFile(fifo);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(MessageOf(loaded.status()), HasSubstr("not a regular file"));
}

TEST_F(PolicyPath, DirectoryAndOversizedFileAreRefused) {
  auto loaded = LoadPolicyFile(dir_.string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(MessageOf(loaded.status()), HasSubstr("not a regular file"));
  const std::string big = (dir_ / "big.yaml").string();
  std::ofstream(big) << "# " << std::string(2 << 20, 'x') << "\n";
  loaded = LoadPolicyFile(big);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(MessageOf(loaded.status()), HasSubstr("larger than 1 MiB"));
}

TEST(PolicyFile, ShowThenParseRoundTrips) {
  PolicyConfig config = DefaultPolicy();
  config.kinds.push_back({"gpu", "hopper", "h100"});
  config.limits.reservations_hold_whole_nodes = true;
  config.limits.reservation_window_s = 3600;
  config.limits.select_consecutive_runs = true;
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
