// Vendor topology rules: which device sets a request may take on one node.
#include "model/topology.h"

#include <gtest/gtest.h>

#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::model {
namespace {

const TopologyRule& RuleOf(const char* kind) {
  const Catalog& catalog = Catalog::BuiltIn();
  return catalog.kind(*catalog.FindKind(kind)).rule;
}

std::vector<int> Used(int count, std::vector<int> busy) {
  std::vector<int> used(static_cast<size_t>(count), 0);
  for (int d : busy) used[static_cast<size_t>(d)] = kMilliPerDevice;
  return used;
}

TEST(HopperRule, AnyCountUpToEightFromFreeDevices) {
  const auto& rule = RuleOf("h100");
  for (int count = 1; count <= 8; ++count) EXPECT_TRUE(rule.IsLegalCount(count)) << count;
  EXPECT_FALSE(rule.IsLegalCount(9));
  auto chosen = ChooseWholeDevices(rule, Used(8, {0, 1, 2}), 5);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{3, 4, 5, 6, 7}));
  EXPECT_FALSE(ChooseWholeDevices(rule, Used(8, {0, 1, 2, 3}), 5));
}

TEST(Ascend910Rule, LegalCountsAreOneTwoFourEight) {
  const auto& rule = RuleOf("ascend910");
  EXPECT_TRUE(rule.IsLegalCount(1));
  EXPECT_TRUE(rule.IsLegalCount(2));
  EXPECT_FALSE(rule.IsLegalCount(3));
  EXPECT_TRUE(rule.IsLegalCount(4));
  EXPECT_FALSE(rule.IsLegalCount(6));
  EXPECT_TRUE(rule.IsLegalCount(8));
}

TEST(Ascend910Rule, FourStaysInsideOneRing) {
  // Ring 0 = 0-3 has device 1 busy; ring 1 = 4-7 is free: 4 must take ring 1 whole.
  auto chosen = ChooseWholeDevices(RuleOf("ascend910"), Used(8, {1}), 4);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{4, 5, 6, 7}));
}

TEST(Ascend910Rule, SixFreeDevicesSplitAcrossRingsCannotHostFour) {
  EXPECT_FALSE(ChooseWholeDevices(RuleOf("ascend910"), Used(8, {0, 4}), 4));
}

TEST(Ascend910Rule, SmallRequestFillsThePartlyUsedRing) {
  // Ring 0 has 2 free, ring 1 has 4 free: 2 goes to ring 0 so ring 1 stays whole.
  auto chosen = ChooseWholeDevices(RuleOf("ascend910"), Used(8, {0, 1}), 2);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{2, 3}));
}

TEST(Ascend910Rule, EightTakesTheWholeNode) {
  EXPECT_FALSE(ChooseWholeDevices(RuleOf("ascend910"), Used(8, {7}), 8));
  auto chosen = ChooseWholeDevices(RuleOf("ascend910"), Used(8, {}), 8);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->size(), 8u);
}

TEST(Ascend910Rule, ProbeReportedRingsReplaceContiguousOnes) {
  // Rings wired as 0,2,4,6 and 1,3,5,7 (as a probe report may say): device 0 busy
  // breaks the even ring, so 4 takes the odd ring, not 4-7.
  const std::vector<std::vector<int>> rings = {{0, 2, 4, 6}, {1, 3, 5, 7}};
  auto chosen = ChooseWholeDevices(RuleOf("ascend910"), Used(8, {0}), 4, rings);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{1, 3, 5, 7}));
  EXPECT_FALSE(ChooseWholeDevices(RuleOf("ascend910"), Used(8, {0, 1}), 4, rings));
}

TEST(Box16Rule, TenSplitsFiveAndFive) {
  const auto& rule = RuleOf("ascend910b-box16");
  EXPECT_FALSE(rule.IsLegalCount(9));
  auto chosen = ChooseWholeDevices(rule, Used(16, {}), 10);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{0, 1, 2, 3, 4, 8, 9, 10, 11, 12}));
  // Half 0 has only 4 free: 10 = 5 + 5 no longer fits though 12 devices are free.
  EXPECT_FALSE(ChooseWholeDevices(rule, Used(16, {0, 1, 2, 3}), 10));
}

TEST(Ascend910CRule, EvenCountsTakeWholeModules) {
  const auto& rule = RuleOf("ascend910c");
  EXPECT_FALSE(rule.IsLegalCount(3));
  // Dies 0 and 3 busy: modules 0 (0,1) and 1 (2,3) are broken; 2 takes module 2.
  auto chosen = ChooseWholeDevices(rule, Used(16, {0, 3}), 2);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{4, 5}));
}

TEST(Ascend910CRule, SingleDiePrefersABrokenModule) {
  auto chosen = ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {4}), 1);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{5}));
}

TEST(Ascend910CRule, HalfBusyModulesCannotHostAPair) {
  EXPECT_FALSE(ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {0, 2, 4, 6, 8, 10, 12, 14}), 2));
}

TEST(Shares, DevicesWithRoomForAShare) {
  EXPECT_EQ(DevicesWithRoomFor(std::vector<int>{1000, 600, 400, 0}, 500), (std::vector<int>{2, 3}));
}

TEST(Catalog, RejectsInconsistentRules) {
  Catalog catalog;
  AcceleratorKind bad{"odd", "odd", Vendor::kOther, 16, {}};
  bad.rule.devices_per_node = 8;
  bad.rule.group_size = 3;
  EXPECT_FALSE(catalog.AddKind(bad).ok());
  EXPECT_FALSE(catalog.MapGres({"gpu", "x", "missing-kind"}).ok());
  EXPECT_TRUE(Catalog::BuiltIn().KindForGres("npu", "910b").has_value());
}

}  // namespace
}  // namespace accelpack::model
