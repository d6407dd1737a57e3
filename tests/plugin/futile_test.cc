// The plugin's rule for a core whose plans start nothing (plugin/sched_accelpack/futile.c):
// every planned start failing the checks several cycles in a row sends the plugin to its
// built-in policy; an empty plan (nothing fits) never does (issue 12, finding 8).
// SPDX-License-Identifier: GPL-2.0-or-later
#include "futile.h"

#include <gtest/gtest.h>

namespace accelpack::plugin {
namespace {

futile_cycle_t CorePlan(uint32_t started, uint32_t dropped) {
  futile_cycle_t cycle{};
  cycle.from_core = true;
  cycle.started = started;
  cycle.dropped = dropped;
  return cycle;
}

const futile_cycle_t kAllRefused = CorePlan(0, 3);
const futile_cycle_t kOneStarted = CorePlan(1, 2);
const futile_cycle_t kEmpty = CorePlan(0, 0);

// Counts the cycles until the first fallback, at most `limit`; 0 when none came.
int CyclesUntilFallback(futile_count_t* count, const futile_cycle_t& cycle, int limit) {
  for (int i = 1; i <= limit; ++i) {
    if (futile_count_cycle(count, &cycle)) return i;
  }
  return 0;
}

TEST(FutilePlans, EveryStartRefusedInARowFallsBackAtTheLimitNotBefore) {
  static_assert(FUTILE_CORE_CYCLES > 1, "one refused start is routine");
  futile_count_t count{};
  EXPECT_EQ(CyclesUntilFallback(&count, kAllRefused, 3 * FUTILE_CORE_CYCLES), FUTILE_CORE_CYCLES);
  // The count starts again after a fallback: the retried core gets as many cycles.
  EXPECT_EQ(count.in_a_row, 0u);
  EXPECT_EQ(CyclesUntilFallback(&count, kAllRefused, 3 * FUTILE_CORE_CYCLES), FUTILE_CORE_CYCLES);
}

TEST(FutilePlans, OneStartedJobResetsTheCount) {
  futile_count_t count{};
  for (int i = 0; i < FUTILE_CORE_CYCLES - 1; ++i) {
    ASSERT_FALSE(futile_count_cycle(&count, &kAllRefused)) << "cycle " << i;
  }
  EXPECT_FALSE(futile_count_cycle(&count, &kOneStarted));
  EXPECT_EQ(count.in_a_row, 0u);
  // A whole run of refused plans is needed again.
  EXPECT_EQ(CyclesUntilFallback(&count, kAllRefused, 3 * FUTILE_CORE_CYCLES), FUTILE_CORE_CYCLES);
}

TEST(FutilePlans, AnEmptyPlanIsNeverFutile) {
  futile_count_t count{};
  EXPECT_EQ(CyclesUntilFallback(&count, kEmpty, 10 * FUTILE_CORE_CYCLES), 0);
  EXPECT_EQ(count.in_a_row, 0u);
  // Nor does it add to a run of refused plans: the run starts again after it.
  for (int i = 0; i < FUTILE_CORE_CYCLES - 1; ++i) {
    ASSERT_FALSE(futile_count_cycle(&count, &kAllRefused)) << "cycle " << i;
  }
  EXPECT_FALSE(futile_count_cycle(&count, &kEmpty));
  EXPECT_FALSE(futile_count_cycle(&count, &kAllRefused));
  EXPECT_EQ(count.in_a_row, 1u);
}

TEST(FutilePlans, BuiltInPlansAndAbortedAppliesSayNothingAboutTheCore) {
  futile_cycle_t built_in = kAllRefused;
  built_in.from_core = false;
  futile_cycle_t aborted = kAllRefused;
  aborted.aborted = true;
  futile_cycle_t aborted_nothing_tried = kEmpty;
  aborted_nothing_tried.aborted = true;

  futile_count_t count{};
  EXPECT_EQ(CyclesUntilFallback(&count, built_in, 3 * FUTILE_CORE_CYCLES), 0);
  EXPECT_EQ(CyclesUntilFallback(&count, aborted, 3 * FUTILE_CORE_CYCLES), 0);
  for (int i = 0; i < FUTILE_CORE_CYCLES - 1; ++i) {
    ASSERT_FALSE(futile_count_cycle(&count, &kAllRefused)) << "cycle " << i;
    // Interleaved, they neither end the run nor lengthen it.
    ASSERT_FALSE(futile_count_cycle(&count, &built_in));
    ASSERT_FALSE(futile_count_cycle(&count, &aborted));
    ASSERT_FALSE(futile_count_cycle(&count, &aborted_nothing_tried));
  }
  EXPECT_TRUE(futile_count_cycle(&count, &kAllRefused));
}

TEST(FutilePlans, AnAbortedApplyThatStartedAJobResetsTheCount) {
  futile_cycle_t aborted = kOneStarted;
  aborted.aborted = true;
  futile_count_t count{};
  for (int i = 0; i < FUTILE_CORE_CYCLES - 1; ++i) {
    ASSERT_FALSE(futile_count_cycle(&count, &kAllRefused));
  }
  EXPECT_FALSE(futile_count_cycle(&count, &aborted));
  EXPECT_EQ(count.in_a_row, 0u);
}

}  // namespace
}  // namespace accelpack::plugin
