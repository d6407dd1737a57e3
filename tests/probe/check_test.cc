// --check: every disagreement between configuration and hardware, one line each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "probe/probe.h"
#include "topology_xml.h"

namespace accelpack::probe {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Lines = std::vector<std::string>;

// gpu01: 2 sockets x 4 cores x 2 threads, 4096 MiB, 8x H100 SXM (nvidia0-3 on
// socket 0, nvidia4-7 on socket 1).
NodeInventory HgxNode() {
  return *ProbeXmlText(testing::DirectHgx("gpu01", 2, testing::H100Sxm).Build(), "gpu01.xml");
}

Lines Check(const std::string& gres_conf, const std::string& slurm_conf) {
  absl::StatusOr<Lines> mismatches = CheckNode(HgxNode(), gres_conf, slurm_conf);
  EXPECT_TRUE(mismatches.ok()) << mismatches.status();
  return mismatches.ok() ? *mismatches : Lines{"<error>"};
}

TEST(CheckNode, ProbesOwnOutputMatches) {
  const NodeInventory node = HgxNode();
  EXPECT_THAT(Check(RenderGresConf(node), RenderNodeNameLine(node)), ::testing::IsEmpty());
}

TEST(CheckNode, ProbesOwnShardLinesMatch) {
  const NodeInventory node = HgxNode();
  const std::string shards = RenderShardLines(node, 4);
  EXPECT_THAT(shards, HasSubstr("NodeName=gpu01 Name=shard Count=4 File=/dev/nvidia7\n"));
  EXPECT_THAT(shards, HasSubstr("shard:32 in this node's Gres="));
  EXPECT_EQ(RenderShardLines(node, 0), "");
  EXPECT_THAT(Check(RenderGresConf(node) + shards, RenderNodeNameLine(node)), ::testing::IsEmpty());
}

TEST(CheckNode, ShardsOnlyOnTheNodesGpus) {
  const NodeInventory node = HgxNode();
  EXPECT_THAT(Check(RenderGresConf(node) + "Name=shard Count=8 File=/dev/nvidia[6-9]\n" +
                        "Name=shard Count=1 File=/dev/nvidia[0-1]\n",
                    RenderNodeNameLine(node)),
              ElementsAre("gres.conf line 10: shard File=/dev/nvidia8, hardware has no such GPU",
                          "gres.conf line 10: shard File=/dev/nvidia9, hardware has no such GPU",
                          "gres.conf line 11: shard Count=1 for 2 GPUs: some GPU gets no shard"));
}

TEST(CheckNode, HandWrittenEquivalentMatches) {
  const std::string gres_conf =
      "AutoDetect=off\n"
      "NodeName=gpu[01-04] Name=gpu Type=H100 File=/dev/nvidia[0-3] Cores=0-3\n"
      "NodeName=gpu[01-04] Name=gpu Type=H100 File=/dev/nvidia[4-7] Cores=4-7\n"
      "NodeName=cpu[01-99] Name=gpu Type=h100 Count=1\n"
      "Name=shard Count=64\n";
  const std::string slurm_conf =
      "GresTypes=gpu,npu\n"
      "NodeName=DEFAULT Sockets=2 ThreadsPerCore=2\n"
      "nodename=gpu[01-04] corespersocket=4 RealMemory=4000 Gres=gpu:h100:8(S:0-1),shard:64\n"
      "PartitionName=all Nodes=ALL Default=YES\n";
  EXPECT_THAT(Check(gres_conf, slurm_conf), ::testing::IsEmpty());
}

TEST(CheckNode, TypelessCountsCompareWithEveryType) {
  EXPECT_THAT(Check("Name=gpu File=/dev/nvidia[0-7]\n", "NodeName=gpu01 Gres=gpu:8\n"),
              ::testing::IsEmpty());
  EXPECT_THAT(Check("Name=gpu Count=4\n", "NodeName=gpu01 Gres=gpu:6\n"),
              ElementsAre("gres.conf: gpu count 4, hardware has 8",
                          "slurm.conf: Gres gpu count 6, hardware has 8"));
}

TEST(CheckNode, ReportsEveryMismatch) {
  const std::string gres_conf =
      "NodeName=gpu[01-04] Name=gpu Type=h100 File=/dev/nvidia[0-3] Cores=0-3\n"
      "NodeName=gpu[01-04] Name=gpu Type=h100 File=/dev/nvidia[4-6,9] Cores=0-3\n"
      "NodeName=gpu01 Name=npu Type=910b Count=2\n";
  const std::string slurm_conf =
      "NodeName=DEFAULT CoresPerSocket=4 ThreadsPerCore=2 RealMemory=5000\n"
      "NodeName=gpu[01-02] Sockets=2 CoresPerSocket=8 Gres=gpu:h100:4\n";
  EXPECT_THAT(Check(gres_conf, slurm_conf),
              ElementsAre("gres.conf: npu:910b count 2, hardware has 0",
                          "gres.conf: gpu:h100 File=/dev/nvidia9, hardware has no such gpu:h100 "
                          "device",
                          "gres.conf: gpu:h100 lacks File=/dev/nvidia7, hardware has it",
                          "gres.conf: /dev/nvidia4 Cores=0-3, hardware has 4-7",
                          "gres.conf: /dev/nvidia5 Cores=0-3, hardware has 4-7",
                          "gres.conf: /dev/nvidia6 Cores=0-3, hardware has 4-7",
                          "slurm.conf: CoresPerSocket=8, hardware has 4",
                          "slurm.conf: RealMemory=5000 MiB, hardware has 4096",
                          "slurm.conf: Gres gpu:h100 count 4, hardware has 8"));
}

TEST(CheckNode, MissingConfigurationForTheNode) {
  EXPECT_THAT(Check("NodeName=gpu02 Name=gpu Type=h100 File=/dev/nvidia[0-7]\n",
                    "NodeName=gpu[02-03] Sockets=2\n"),
              ElementsAre("gres.conf: gpu:h100 count 0, hardware has 8",
                          "slurm.conf: no NodeName line for gpu01"));
  EXPECT_THAT(Check("", "NodeName=gpu01 Sockets=2 CPUs=16 ThreadsPerCore=1\n"),
              ElementsAre("gres.conf: gpu:h100 count 0, hardware has 8",
                          "slurm.conf: ThreadsPerCore=1, hardware has 2",
                          "slurm.conf: Gres gpu:h100 count 0, hardware has 8"));
}

TEST(CheckNode, UnparsableConfigurationIsAnError) {
  const NodeInventory node = HgxNode();
  absl::StatusOr<Lines> result = CheckNode(node, "\nName=gpu File=/dev/nvidia[0-\n", "");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("gres.conf line 2"));
  result = CheckNode(node, "", "NodeName=gpu01 Gres=gpu:h100:many\n");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("gpu:h100:many"));
}

TEST(CheckNode, HostileConfigurationIsBoundedAndRefused) {
  const NodeInventory node = HgxNode();
  // 100 lines of 65,536 files each: once 6.5 M names and 1.6 GB; one node's lines
  // name at most 4096 device files in all.
  std::string files;
  for (int i = 0; i < 100; ++i) files += "Name=gpu Type=h100 File=/dev/nvidia[00000-65535]\n";
  absl::StatusOr<Lines> result = CheckNode(node, files, "");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("gres.conf line 1"));
  // NodeName ranges: one budget for the file's node names (2^24), so a file of many
  // lines costs seconds at most; a large real cluster's file passes.
  std::string names;
  for (int i = 0; i < 64; ++i) names += "NodeName=big[00001-17000] Name=gpu Type=h100 Count=1\n";
  EXPECT_TRUE(CheckNode(node, names, "").ok()) << "1,088,000 names: a big cluster's gres.conf";
  for (int i = 0; i < 250; ++i) names += "NodeName=n[00000-65535] Name=gpu Type=h100 Count=1\n";
  result = CheckNode(node, names, "");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("name more than 16777216 items in all"));
  // Cores= on lines without files is not read; with a file, bounded per line.
  std::string cores;
  for (int i = 0; i < 10'000; ++i) cores += "Name=gpu Type=h100 Count=0 Cores=0-65535\n";
  EXPECT_TRUE(CheckNode(node, cores, "").ok());
  result = CheckNode(node, "Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-65535\n", "");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("names more than 4096"));
  // Count= that disagrees with File=: slurmd refuses the line, so no "matches".
  result = CheckNode(node, "Name=gpu Type=h100 File=/dev/nvidia[0-7] Count=4\n", "");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("Count=4 but File= names 8 devices"));
  // The same line continued with a backslash: Slurm joins the two, so does --check.
  result = CheckNode(node, "Name=gpu Type=h100 File=/dev/nvidia[0-7] \\\nCount=4\n", "");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("line 1: Count=4 but File= names 8 devices"));
  // Counts whose suffix overflows: refused, not wrapped to 0 or negative.
  for (const char* count : {"16384P", "8192P", "99999999999999999999"}) {
    result = CheckNode(node, "", absl::StrCat("NodeName=gpu01 Gres=npu:910b:", count, "\n"));
    EXPECT_FALSE(result.ok()) << count;
  }
  std::string line = RenderNodeNameLine(node);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  const Lines memory = Check(RenderGresConf(node), line + " RealMemory=16384P\n");
  EXPECT_THAT(memory, ::testing::Contains(HasSubstr("RealMemory=16384P")));
  // A Gres entry of only no_consume is skipped (it was read past its end).
  EXPECT_TRUE(CheckNode(node, "", "NodeName=gpu01 Gres=no_consume,gpu:h100:8\n").ok());
}

}  // namespace
}  // namespace accelpack::probe
