// Probe reports -> device groups in the snapshot -> the engine's device choice.
#include "service/topology_book.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cluster_builder.h"
#include "common/strings.h"
#include "engine/engine.h"
#include "policy/policy.h"

namespace accelpack::testing {
namespace {

using ::testing::HasSubstr;

// A report as accelpack-probe writes it: an Ascend 910 node whose HCCS rings are
// wired 0,2,4,6 and 1,3,5,7 (link_group per device), plus a NIC-like unknown device.
nlohmann::json Report(const std::string& node) {
  nlohmann::json devices = nlohmann::json::array();
  for (int d = 0; d < 8; ++d) {
    devices.push_back(
        {{"index", d}, {"kind", "ascend910"}, {"gres", "npu:910"}, {"link_group", d % 2}});
  }
  devices.push_back(
      {{"index", 8}, {"kind", "unknown"}, {"gres", nullptr}, {"link_group", nullptr}});
  return {{"schema", "accelpack.probe/v1"},
          {"node", node},
          {"devices", devices},
          {"link_groups", {{0, 2, 4, 6}, {1, 3, 5, 7}}}};
}

TEST(TopologyBook, GroupsFromTheReportSteerTheEngine) {
  service::TopologyBook book;
  ASSERT_TRUE(book.Add(nlohmann::json::array({Report("npu-1")}), "reports.json").ok());
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("npu-1").Ascend910().Busy({0}).Build(),
                    NodeBuilder("npu-2").Ascend910().Build()};
  snapshot.pending = {JobBuilder(1).Npus(4, "910").Required({"npu-1"}).Build()};
  book.Annotate(snapshot);
  EXPECT_EQ(snapshot.nodes[0].accelerators[0].device_groups,
            (std::vector<std::vector<int>>{{0, 2, 4, 6}, {1, 3, 5, 7}}));
  EXPECT_TRUE(snapshot.nodes[1].accelerators[0].device_groups.empty());  // no report

  auto built = policy::BuildPolicy(policy::DefaultPolicy());
  ASSERT_TRUE(model::ValidateSnapshot(snapshot, built->catalog).ok());
  const engine::Plan plan = engine::Schedule(snapshot, built->catalog, *built->pipeline);
  ASSERT_EQ(plan.starts.size(), 1u);
  EXPECT_EQ(plan.starts[0].placements[0].devices, (std::vector<int>{1, 3, 5, 7}));
}

TEST(TopologyBook, PartialReportIsNotTrusted) {
  service::TopologyBook book;
  nlohmann::json report = Report("npu-1");
  report["devices"].erase(report["devices"].begin() + 7, report["devices"].end());  // 7 devices
  ASSERT_TRUE(book.Add(report, "r.json").ok());
  model::Snapshot snapshot;
  snapshot.nodes = {NodeBuilder("npu-1").Ascend910().Build()};
  book.Annotate(snapshot);
  EXPECT_TRUE(snapshot.nodes[0].accelerators[0].device_groups.empty());
}

TEST(TopologyBook, LoadsADirectoryAndNamesBadFiles) {
  const auto dir = std::filesystem::temp_directory_path() / Cat("topology-book-", ::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.json") << Report("npu-1").dump();
  std::ofstream(dir / "b.json") << Report("npu-2").dump();
  std::ofstream(dir / "notes.txt") << "ignored";
  auto book = service::TopologyBook::Load(dir.string());
  ASSERT_TRUE(book.ok()) << MessageOf(book.status());
  EXPECT_EQ(book->node_count(), 2u);

  std::ofstream(dir / "c.json") << "{ not json";
  auto bad = service::TopologyBook::Load(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(MessageOf(bad.status())), HasSubstr("c.json: not valid JSON"));

  std::ofstream(dir / "c.json") << R"({"schema": "something-else"})";
  bad = service::TopologyBook::Load(dir.string());
  EXPECT_THAT(std::string(MessageOf(bad.status())), HasSubstr("not an accelpack-probe report"));

  // A report file is one report or an array of them; 100k nested arrays (200 KB)
  // recursed once per level.
  std::ofstream(dir / "c.json") << std::string(100000, '[') << std::string(100000, ']');
  bad = service::TopologyBook::Load(dir.string());
  EXPECT_THAT(std::string(MessageOf(bad.status())),
              HasSubstr("c.json[0]: an array inside the array"));

  // Only a regular file: a FIFO among the reports is refused, not waited on.
  std::filesystem::remove(dir / "c.json");
  ASSERT_EQ(::mkfifo((dir / "c.json").c_str(), 0600), 0);
  bad = service::TopologyBook::Load(dir.string());
  EXPECT_THAT(std::string(MessageOf(bad.status())), HasSubstr("not a regular file"));
  std::filesystem::remove_all(dir);

  EXPECT_FALSE(service::TopologyBook::Load("/nonexistent/report.json").ok());
}

}  // namespace
}  // namespace accelpack::testing
