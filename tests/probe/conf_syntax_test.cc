#include "probe/conf_syntax.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace accelpack::probe {
namespace {

using Names = std::vector<std::string>;

TEST(FormatIndexRanges, CompactsRuns) {
  EXPECT_EQ(FormatIndexRanges({}), "");
  EXPECT_EQ(FormatIndexRanges({3}), "3");
  EXPECT_EQ(FormatIndexRanges({8, 0, 1, 2, 3, 10, 11}), "0-3,8,10-11");
}

TEST(ParseIndexRanges, ReadsWhatFormatWrites) {
  EXPECT_EQ(*ParseIndexRanges("0-3,8,10-11"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_FALSE(ParseIndexRanges("3-1").ok());
  EXPECT_FALSE(ParseIndexRanges("a").ok());
  EXPECT_FALSE(ParseIndexRanges("").ok());
}

TEST(ExpandHostlist, RangesListsAndPadding) {
  EXPECT_EQ(*ExpandHostlist("gpu[01-03,10],cpu1"),
            (Names{"gpu01", "gpu02", "gpu03", "gpu10", "cpu1"}));
  EXPECT_EQ(*ExpandHostlist("/dev/nvidia[0-1]"), (Names{"/dev/nvidia0", "/dev/nvidia1"}));
  EXPECT_EQ(*ExpandHostlist("r[1-2]n[1-2]"), (Names{"r1n1", "r1n2", "r2n1", "r2n2"}));
  EXPECT_EQ(*ExpandHostlist("node7"), (Names{"node7"}));
}

TEST(ExpandHostlist, RefusesBrokenAndHugeExpressions) {
  EXPECT_FALSE(ExpandHostlist("gpu[01-").ok());
  EXPECT_FALSE(ExpandHostlist("gpu[3-1]").ok());
  EXPECT_FALSE(ExpandHostlist("gpu]").ok());
  EXPECT_FALSE(ExpandHostlist("gpu[0-999999999]").ok());
}

TEST(ExpandHostlist, ManyBracketsAreRefusedNotRecursedInto) {
  std::string deep = "/dev/nvidia";
  for (int i = 0; i < 20'000; ++i) deep += "[0]";  // once one stack frame per bracket
  EXPECT_FALSE(ExpandHostlist(deep).ok());
  EXPECT_EQ(*ExpandHostlist("a[0]b[1]c[2]d[3]e[4]f[5]g[6]h[7]"),
            (Names{"a0b1c2d3e4f5g6h7"}));  // eight is fine
}

TEST(ParseIndexRanges, RepeatedRangesCountTowardsOneBound) {
  std::string many = "0-1048576";
  for (int i = 0; i < 299; ++i) many += ",0-1048576";  // each within 2^20; once 2 GB
  const auto parsed = ParseIndexRanges(many);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("names more than 65536 indexes"), std::string::npos)
      << parsed.status();
  EXPECT_EQ(ParseIndexRanges("0-7,4-11", 16)->size(), 12u);
  EXPECT_FALSE(ParseIndexRanges("0-7,8-16", 16).ok());
}

TEST(LogicalConfLines, BackslashesContinueLinesAsSlurmReadsThem) {
  const std::vector<ConfLine> lines = LogicalConfLines(
      "NodeName=a File=/dev/nvidia[0-7] \\\n"  // continued (trailing blank ignored)
      "  Count=4  \\  \n"
      "Cores=0-3\n"
      "# comment \\\n"         // a comment's backslash continues nothing
      "Name=gpu Type=x\\\\\n"  // two backslashes: no continuation
      "last\\");               // no newline at the end
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].number, 1);
  EXPECT_EQ(lines[0].text, "NodeName=a File=/dev/nvidia[0-7]   Count=4  Cores=0-3");
  EXPECT_EQ(lines[1].number, 4);
  EXPECT_EQ(lines[1].text, "");
  EXPECT_EQ(lines[2].number, 5);
  EXPECT_EQ(lines[2].text, "Name=gpu Type=x\\\\");
  EXPECT_EQ(lines[3].number, 6);
  EXPECT_EQ(lines[3].text, "last");  // continued into the end of the file
}

TEST(ParseConfLine, KeysLowerCaseCommentsAndQuotes) {
  const std::vector<ConfParam> params =
      ParseConfLine("NodeName=gpu01 Features=\"a b\" RealMemory=100  # Sockets=2");
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[0].key, "nodename");
  EXPECT_EQ(params[1].value, "a b");
  EXPECT_EQ(params[2].key, "realmemory");
  EXPECT_TRUE(ParseConfLine("   # only a comment").empty());
}

}  // namespace
}  // namespace accelpack::probe
