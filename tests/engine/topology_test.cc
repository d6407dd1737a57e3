// Vendor topology rules: which device sets a request may take on one node.
#include "model/topology.h"

#include <gtest/gtest.h>

#include <algorithm>

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

// Every module (dies 2k, 2k+1) is either wholly in `chosen` or wholly out.
bool KeepsModulesWhole(const std::vector<int>& chosen) {
  for (int die : chosen) {
    if (std::find(chosen.begin(), chosen.end(), die ^ 1) == chosen.end()) return false;
  }
  return true;
}

std::vector<std::vector<int>> GroupsOf(int devices, int size) {
  std::vector<std::vector<int>> groups;
  for (int first = 0; first < devices; first += size) {
    groups.emplace_back();
    for (int d = first; d < std::min(devices, first + size); ++d) groups.back().push_back(d);
  }
  return groups;
}

// Issue 12, finding 1: probe groups holding an odd share split a two-die module.
TEST(Ascend910CRule, TenOverTwoProbeGroupsOfEightNeverSplitsAModule) {
  // 10 = 5 + 5 took [0-4, 8-12], splitting modules (4,5) and (12,13); no even
  // whole-module split over two groups exists, so no shape is legal.
  auto chosen = ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {}), 10, GroupsOf(16, 8));
  EXPECT_FALSE(chosen) << ::testing::PrintToString(*chosen);
}

TEST(Ascend910CRule, SixOverFourProbeGroupsOfFourTakesAModuleFromThree) {
  // 6 = 3 + 3 took [0,1,2,4,5,6]; 2 + 2 + 2 keeps every module whole.
  auto chosen = ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {}), 6, GroupsOf(16, 4));
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{0, 1, 4, 5, 8, 9}));
}

TEST(Ascend910CRule, OddProbeGroupsCannotPairDiesOfTwoModules) {
  // Groups {0,1,2} {3,4,5} ...: dies 2 and 3 are one module split across groups,
  // so a pair never takes (2,3) nor a die pair straddling two modules.
  const std::vector<std::vector<int>> groups = {{0, 1, 2},   {3, 4, 5},    {6, 7, 8},
                                                {9, 10, 11}, {12, 13, 14}, {15}};
  auto chosen = ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {0, 4}), 2, groups);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, (std::vector<int>{6, 7}));
}

TEST(Ascend910CRule, EvenCountsKeepModulesWholeUnderAnyProbeGrouping) {
  const auto& rule = RuleOf("ascend910c");
  for (int size : {1, 2, 3, 4, 5, 6, 7, 8, 16}) {
    for (int busy_seed = 0; busy_seed < 64; ++busy_seed) {
      std::vector<int> busy;
      // Each seed busies a different subset of dies, by the seed's bits over d % 6.
      for (int d = 0; d < 16; ++d) {
        if ((busy_seed >> (d % 6)) & 1) busy.push_back(d);
      }
      for (int count = 2; count <= 16; count += 2) {
        auto chosen = ChooseWholeDevices(rule, Used(16, busy), count, GroupsOf(16, size));
        if (!chosen) continue;
        EXPECT_EQ(static_cast<int>(chosen->size()), count);
        EXPECT_TRUE(KeepsModulesWhole(*chosen)) << "groups of " << size << ", count " << count
                                                << ": " << ::testing::PrintToString(*chosen);
      }
    }
  }
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

// Where Slurm picks the devices (the lowest free ones), the core may only say
// whether that pick keeps the rule. Each case differs from what the core would
// choose itself.
TEST(SlurmPicksDevices, TheLowestFreeOnlyWhereTheyKeepTheRule) {
  // 910C, die 0 busy: Slurm would give a 2-die job dies 1 and 2, two half modules
  // (the core itself would take module 2-3).
  EXPECT_EQ(ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {0}), 2), (std::vector<int>{2, 3}));
  EXPECT_FALSE(LowestFreeDevicesIfLegal(RuleOf("ascend910c"), Used(16, {0}), 2));
  // Module 0 whole and busy: dies 2 and 3 are the lowest and a whole module.
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("ascend910c"), Used(16, {0, 1}), 2),
            (std::vector<int>{2, 3}));
  // A single die is legal anywhere: the lowest free, not a half-busy module's.
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("ascend910c"), Used(16, {4}), 1),
            (std::vector<int>{0}));
  // Ascend 910 rings of 4, devices 0-2 busy: 2 devices would be 3 and 4, across rings.
  EXPECT_FALSE(LowestFreeDevicesIfLegal(RuleOf("ascend910"), Used(8, {0, 1, 2}), 2));
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("ascend910"), Used(8, {0, 1}), 2),
            (std::vector<int>{2, 3}));
  // Rings as a probe reported them (0,2,4,6 / 1,3,5,7): 0 and 1 are in two rings.
  const std::vector<std::vector<int>> interleaved = {{0, 2, 4, 6}, {1, 3, 5, 7}};
  EXPECT_FALSE(LowestFreeDevicesIfLegal(RuleOf("ascend910"), Used(8, {}), 2, interleaved));
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("ascend910"), Used(8, {1, 3, 5, 7}), 2, interleaved),
            (std::vector<int>{0, 2}));
  // 910C dies grouped out of order by a probe: dies 0-7 fill the first two groups
  // four each, but no module of them lies in one group, so none is whole there
  // (the core's own choice refuses those groups too and takes dies 8-15).
  const std::vector<std::vector<int>> odd_rings = {
      {0, 2, 4, 6}, {1, 3, 5, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}};
  EXPECT_FALSE(LowestFreeDevicesIfLegal(RuleOf("ascend910c"), Used(16, {}), 8, odd_rings));
  EXPECT_EQ(ChooseWholeDevices(RuleOf("ascend910c"), Used(16, {}), 8, odd_rings),
            (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("ascend910c"), Used(16, {0, 1, 2, 3, 4, 5, 6, 7}), 8,
                                     odd_rings),
            (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  // Eight over both rings of 4, four in each: legal when all eight are free.
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("ascend910"), Used(8, {}), 8)->size(), 8u);
  // Hopper: any set is legal, so the lowest free are what the job gets.
  EXPECT_EQ(LowestFreeDevicesIfLegal(RuleOf("h100"), Used(8, {0, 2}), 3),
            (std::vector<int>{1, 3, 4}));
  EXPECT_FALSE(LowestFreeDevicesIfLegal(RuleOf("h100"), Used(8, {0, 1, 2, 3, 4, 5}), 3));
  EXPECT_FALSE(LowestFreeDevicesIfLegal(RuleOf("ascend910"), Used(8, {}), 3));  // illegal count
}

}  // namespace
}  // namespace accelpack::model
