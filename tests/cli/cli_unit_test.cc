// SPDX-License-Identifier: GPL-2.0-or-later
// Pure pieces of the operators' tools: tables, policy checks that list every
// problem, accelpack.conf, the Prometheus text format and the rotating
// decision log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/client_config.h"
#include "cli/operator_views.h"
#include "cluster_builder.h"
#include "policy/policy.h"
#include "service/decision_log.h"
#include "service/metrics.h"

namespace accelpack {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("accelpack-cli-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST(Table, AlignsAndPicksColumnsCaseInsensitively) {
  cli::Table table({"NODE", "FREE"});
  table.Add({"h100-1", "2"});
  table.Add({"a910c-10", "16"});
  EXPECT_EQ(*table.Render("", true), "NODE      FREE\nh100-1       2\na910c-10    16\n");
  EXPECT_EQ(*table.Render("free", false), " 2\n16\n");
  auto bad = table.Render("node,nope", true);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("unknown column \"nope\"; columns: NODE,FREE"));
}

TEST(Since, ReadsSpansAndUnixSecondsAndRefusesTheRest) {
  const int64_t now = 1'000'000'000;
  EXPECT_EQ(cli::ParseSince("", now), 0);
  EXPECT_EQ(cli::ParseSince("0", now), 0);
  EXPECT_EQ(cli::ParseSince("1700000000", now), 1'700'000'000);
  EXPECT_EQ(cli::ParseSince("90s", now), now - 90);
  EXPECT_EQ(cli::ParseSince("10m", now), now - 600);
  EXPECT_EQ(cli::ParseSince("2h", now), now - 7200);
  EXPECT_EQ(cli::ParseSince("1d", now), now - 86400);
  for (const char* bad : {"-5m", "10x", "m", "10 m", "1.5h", "99999999999999999999", "1dd"}) {
    EXPECT_EQ(cli::ParseSince(bad, now), std::nullopt) << bad;
  }
}

TEST(Since, ASpanReachingBefore1970MeansEverything) {
  const int64_t now = 1'000'000'000;
  // value * 86400 overflows int64 (before: undefined, a time in the future or past).
  EXPECT_EQ(cli::ParseSince("999999999999999999d", now), 0);
  EXPECT_EQ(cli::ParseSince("11575d", now), 0);  // 11575 days > 1e9 s
  EXPECT_EQ(cli::ParseSince("11574d", now), now - int64_t{11574} * 86400);
}

using PolicyCheck = TempDir;

TEST_F(PolicyCheck, ListsEveryProblemWithItsLine) {
  const auto path = Write("p.yaml",
                          "name: x\n"
                          "scorers:\n  - {name: nope}\n"
                          "queue:\n  default_class: bogus\n"
                          "filters: [partition]\n");
  const auto problems = cli::CheckPolicyFile(path).problems;
  ASSERT_EQ(problems.size(), 2u) << ::testing::PrintToString(problems);
  EXPECT_THAT(problems[0], HasSubstr("p.yaml:3:5: scorers[0]: unknown scorer \"nope\""));
  EXPECT_THAT(problems[1], HasSubstr("p.yaml:5:"));  // line numbers kept per section
}

TEST_F(PolicyCheck, AFileOfManyKeysIsCheckedInLinearTime) {
  // 90,000 top-level keys, under the 1 MiB bound: each was once parsed apart with the
  // whole file padded around it (hours); now the first 16 are, the rest in one parse.
  std::string text = "name: many\n";
  for (int i = 0; i < 90'000; ++i) text += "k" + std::to_string(i) + ": 1\n";
  ASSERT_LT(text.size(), policy::kMaxPolicyBytes);
  const auto problems = cli::CheckPolicyFile(Write("many.yaml", text)).problems;
  ASSERT_LE(problems.size(), 17u);
  EXPECT_THAT(problems[0], HasSubstr("90001 top-level keys (a policy has at most 7)"));
  EXPECT_THAT(problems[1], HasSubstr("many.yaml:2:1: policy.k0: unknown key"));
  // A problem past the sections checked apart is still named (by the whole file's parse).
  std::string late;
  for (int i = 0; i < 16; ++i) late += "name: a" + std::to_string(i) + "\n";
  late += "bogus: 1\n";
  EXPECT_THAT(cli::CheckPolicyFile(Write("late.yaml", late)).problems,
              ::testing::Contains(HasSubstr("late.yaml:2:1")));
}

TEST_F(PolicyCheck, RefusesAnEmptyFileAndPassesAGoodOne) {
  EXPECT_THAT(cli::CheckPolicyFile(Write("e.yaml", "# only a comment\n\n")).problems,
              ElementsAre(HasSubstr("empty policy file")));
  const auto good =
      cli::CheckPolicyFile(Write("g.yaml", "name: good\nlimits: {max_reservations: 4}\n"));
  EXPECT_TRUE(good.problems.empty());
  EXPECT_EQ(good.name, "good");
  EXPECT_THAT(cli::CheckPolicyFile((dir_ / "missing.yaml").string()).problems,
              ElementsAre(HasSubstr("cannot read policy file")));
  // A file with a problem has no name to report, even where its name parses.
  EXPECT_EQ(cli::CheckPolicyFile(Write("b.yaml", "name: bad\nscorers:\n  - {name: nope}\n")).name,
            "");
}

// The check reads the file as the daemon does: what accelpackd would refuse is a
// problem here too, and nothing at the path can make the check wait or abort.
TEST_F(PolicyCheck, RefusesWhatTheDaemonRefusesWithoutWaiting) {
  const auto fifo = (dir_ / "fifo.yaml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(cli::CheckPolicyFile(fifo).problems, ElementsAre(HasSubstr("not a regular file")));
  EXPECT_THAT(cli::CheckPolicyFile(dir_.string()).problems,
              ElementsAre(HasSubstr("not a regular file")));
  const auto big = Write("big.yaml", "name: big\n" + std::string(size_t{1} << 20, '#') + "\n");
  EXPECT_THAT(cli::CheckPolicyFile(big).problems, ElementsAre(HasSubstr("larger than 1 MiB")));
  const auto good = cli::CheckPolicyFile(Write("g.yaml", "name: good\n"));
  EXPECT_TRUE(good.problems.empty());
  EXPECT_EQ(good.text, "name: good\n");
}

using Conf = TempDir;

TEST_F(Conf, ReadsCoreAddressLikeThePlugin) {
  std::string error;
  EXPECT_EQ(cli::CoreAddressFromConf(
                Write("a.conf", "IntervalMs=100\ncoreaddress = unix:/x.sock # c\n"), &error),
            "unix:/x.sock");
  EXPECT_EQ(cli::CoreAddressFromConf(Write("b.conf", "#CoreAddress=unix:/no\n"), &error), "");
  EXPECT_EQ(cli::CoreAddressFromConf((dir_ / "none.conf").string(), &error), "");
  EXPECT_TRUE(error.empty());
  const auto fifo = (dir_ / "fifo.conf").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(cli::CoreAddressFromConf(fifo, &error), "");
  EXPECT_THAT(error, HasSubstr("not a regular file"));
  error.clear();
  ::setenv("SLURM_CONF", "/etc/site/slurm.conf", 1);
  ::unsetenv("ACCELPACK_CONF");
  EXPECT_EQ(cli::AcceleratorConfPath(), "/etc/site/accelpack.conf");
}

TEST(Metrics, WritesTheExpositionFormat) {
  service::MetricsText text;
  text.Family("x_devices", "gauge", "Devices.");
  text.Sample("x_devices", {{"node", "a\"b"}, {"kind", "h100"}}, 2);
  text.Sample("x_devices", {}, 0.25);
  service::Histogram histogram({0.001, 0.01});
  histogram.Observe(0.0005);
  histogram.Observe(0.005);
  histogram.Observe(5);
  text.Family("x_seconds", "histogram", "Time.");
  histogram.WriteTo(text, "x_seconds");
  EXPECT_EQ(text.text(),
            "# HELP x_devices Devices.\n# TYPE x_devices gauge\n"
            "x_devices{node=\"a\\\"b\",kind=\"h100\"} 2\nx_devices 0.25\n"
            "# HELP x_seconds Time.\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.001\"} 1\nx_seconds_bucket{le=\"0.01\"} 2\n"
            "x_seconds_bucket{le=\"+Inf\"} 3\nx_seconds_sum 5.0055\nx_seconds_count 3\n");
}

using Decisions = TempDir;

TEST_F(Decisions, RecordsChangesOnlyAndRotatesTheAuditFile) {
  model::Snapshot snapshot;
  snapshot.now = 100;
  snapshot.nodes = {testing::NodeBuilder("n").Hopper(8).Build()};
  const model::Catalog& catalog = model::Catalog::BuiltIn();
  engine::Plan plan;
  plan.starts.push_back({1, {{0, 0, {0, 1}, 0}}, *catalog.FindKind("h100")});
  plan.pending.push_back({2, engine::PendingCode::kResources, "0/1 nodes fit"});
  plan.reservations.push_back({2, 500, {0}});
  const std::string path = (dir_ / "audit.jsonl").string();
  service::DecisionLog log(
      {.history = 3, .audit_path = path, .audit_max_bytes = 300, .audit_files = 2});
  ASSERT_TRUE(log.Open().ok());
  log.Record(1, snapshot, catalog, plan);
  auto entries = log.Query(0, 0);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].what, "start");
  EXPECT_EQ(entries[0].detail, "n devices 0,1 [h100]");
  EXPECT_EQ(entries[1].what, "reserve");
  EXPECT_EQ(entries[2].what, "reason");
  // The same plan again: nothing changed, nothing recorded (except the start).
  engine::Plan same = plan;
  same.starts.clear();
  log.Record(2, snapshot, catalog, same);
  EXPECT_EQ(log.Query(0, 2).size(), 2u);
  // Job 2 starts where it was reserved; history keeps the last 3 entries.
  engine::Plan started;
  started.starts.push_back({2, {{0, 0, {2, 3, 4, 5, 6, 7}, 0}}, *catalog.FindKind("h100")});
  snapshot.now = 600;
  log.Record(3, snapshot, catalog, started);
  entries = log.Query(600, 2);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_THAT(entries[0].detail, HasSubstr("(reservation on n kept)"));
  EXPECT_EQ(log.Query(0, 0).size(), 3u);
  for (int cycle = 4; cycle < 20; ++cycle)
    log.Record(static_cast<uint64_t>(cycle), snapshot, catalog, plan);
  EXPECT_TRUE(std::filesystem::exists(path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  EXPECT_LE(std::filesystem::file_size(path), 300u);
}

}  // namespace
}  // namespace accelpack
