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
