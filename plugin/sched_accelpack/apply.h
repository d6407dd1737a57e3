/*****************************************************************************\
 *  apply.h - carry out a plan: start jobs on exactly the planned nodes, write
 *  pending reasons. SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_APPLY_H
#define _ACCELPACK_APPLY_H

#include "accelpack_bridge.h"
#include "ap_config.h"
#include "lock_clock.h"
#include "snapshot.h"

typedef struct {
	uint32_t started;
	uint32_t dropped;	/* decisions that no longer fit: not forced */
	uint32_t reasons;	/* pending reasons changed */
	uint32_t requeued;	/* planned victims preempted (requeued, or
				 * signalled with the requeue after GraceTime) */
	uint32_t preempt_skipped; /* planned preemptions not carried out */
	bool aborted;		/* partitions/config changed while yielding */
} apply_stats_t;

/*
 * Apply plan (made from snap) to the live state: requeue the planned victims
 * (the core's plans only; their preemptor starts in a later cycle), start
 * the planned jobs, write the reasons.
 * Locks: caller holds the scheduler locks through lc; they may be yielded
 *        (and re-taken) when held longer than conf->max_lock_ms.
 * IN source - "core" or "built-in", for the log
 * IN cycle - cycle number, for the log and the job's system comment
 */
extern void apply_plan(const snapshot_t *snap, const ap_plan_t *plan,
		       const char *source, uint64_t cycle,
		       const accelpack_conf_t *conf, lock_clock_t *lc,
		       apply_stats_t *stats);

#endif
