// The plugin's memory of its victims' submit times (plugin/sched_accelpack/victim_memo.c):
// Slurm's requeue resets a job's submit time; a planned victim is reported with the one
// it had, so it keeps its age and place in the core's queue (issue 16).
// SPDX-License-Identifier: GPL-2.0-or-later
#include "victim_memo.h"

#include <gtest/gtest.h>

#include <set>

namespace accelpack::plugin {
namespace {

constexpr time_t kSubmitted = 1'700'000'000;
constexpr time_t kRequeued = kSubmitted + 3'600;

class VictimMemo : public ::testing::Test {
 protected:
  void TearDown() override { victim_memo_free(&memo_); }
  victim_memo_t memo_{};
};

TEST_F(VictimMemo, ARequeuedVictimReportsItsSubmitTimeBeforeTheRequeue) {
  ASSERT_TRUE(victim_memo_remember(&memo_, 7, 0, kSubmitted));
  EXPECT_EQ(victim_memo_submit_time(&memo_, 7, 1, kRequeued), kSubmitted);
}

TEST_F(VictimMemo, NotYetRequeuedOrNeverAVictimReportsItsOwnTime) {
  ASSERT_TRUE(victim_memo_remember(&memo_, 7, 0, kSubmitted));
  // Planned, still in its grace time (or its requeue failed): Restarts unchanged.
  EXPECT_EQ(victim_memo_submit_time(&memo_, 7, 0, kSubmitted + 5), kSubmitted + 5);
  EXPECT_EQ(victim_memo_submit_time(&memo_, 8, 1, kRequeued), kRequeued);
}

TEST_F(VictimMemo, AVictimAgainAfterItsRerunKeepsItsFirstSubmitTime) {
  ASSERT_TRUE(victim_memo_remember(&memo_, 7, 0, kSubmitted));
  ASSERT_TRUE(victim_memo_remember(&memo_, 7, 1, kRequeued));
  EXPECT_EQ(victim_memo_submit_time(&memo_, 7, 2, kRequeued + 600), kSubmitted);
}

TEST_F(VictimMemo, NeverReportsALaterTimeThanTheJobsOwn) {
  // A user who moved the job's submit time back (or a clock step) keeps the earlier one.
  ASSERT_TRUE(victim_memo_remember(&memo_, 7, 0, kRequeued));
  EXPECT_EQ(victim_memo_submit_time(&memo_, 7, 1, kSubmitted), kSubmitted);
}

TEST_F(VictimMemo, PruneForgetsEndedJobsAndKeepsTheOthers) {
  for (uint32_t id = 1; id <= 40; ++id) {  // past the first growth of the table
    ASSERT_TRUE(victim_memo_remember(&memo_, id, 0, kSubmitted + id));
  }
  std::set<uint32_t> ended = {1, 2, 17, 40};
  victim_memo_prune(
      &memo_,
      [](uint32_t job_id, void* arg) {
        return static_cast<std::set<uint32_t>*>(arg)->count(job_id) == 0;
      },
      &ended);
  EXPECT_EQ(memo_.cnt, 36u);
  for (uint32_t id = 1; id <= 40; ++id) {
    const time_t want = ended.count(id) ? kRequeued : kSubmitted + id;
    EXPECT_EQ(victim_memo_submit_time(&memo_, id, 1, kRequeued), want) << "job " << id;
  }
}

}  // namespace
}  // namespace accelpack::plugin
