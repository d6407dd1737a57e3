/*****************************************************************************\
 *  job_queue.h - Slurm's pending queue (what build_job_queue() and
 *  sort_job_queue() return), built in chunks between which the scheduler's
 *  locks are yielded, so that no single hold grows with the queue.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_JOB_QUEUE_H
#define _ACCELPACK_JOB_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "src/slurmctld/slurmctld.h"

#include "lock_clock.h"
#include "slurm_compat.h"

typedef struct {
	double held_ms;		/* time under the locks building the queue */
	double sort_ms;		/* of it: ordering the records (last hold) */
	uint32_t chunks;	/* holds the build took */
	uint32_t dropped;	/* records whose job ended or changed meanwhile */
	bool slurm_built;	/* fell back to build_job_queue() in one hold */
	bool checked;		/* every record valid in the current hold */
} job_queue_stats_t;

/*
 * The same records as build_job_queue(false, false) followed by
 * sort_job_queue(): every pending job once per partition (and QOS) it may run
 * in, with the same runnability tests and their side effects (reasons,
 * accrue time, held and dependency states), in Slurm's own order.
 *
 * Job ids first in one pass; then the tests per job in chunks of at most
 * max_ms under the locks, each job looked up again by id after a yield and
 * skipped if it is gone or no longer pending. Each record's sort keys (what
 * sort_job_queue2() compares) are read when it is made, and the records are
 * sorted on them, touching nothing of slurmctld's: records made before a
 * yield are not checked again (stats->checked false), so the caller must
 * look each job up by id (find_job_record(rec->job_id) == rec->job_ptr) and
 * test that it is still pending and not held before reading it. With
 * preemption configured the plugin's order joins the comparison: then every
 * record is checked again in one hold and Slurm's sort_job_queue() orders
 * them (stats->checked true). If partitions, reservations or the
 * configuration change during a yield, or a job array needs Slurm's own
 * splitting (burst buffer, aftercorr), Slurm's build_job_queue() builds it
 * in one hold instead.
 *
 * Locks: the scheduler's locks, held through lc on entry and return.
 * RET list of job_queue_rec_t, in queue order; caller frees with
 *     FREE_NULL_LIST()
 */
extern list_t *job_queue_build(lock_clock_t *lc, uint32_t max_ms,
			       uint32_t yield_ms, job_queue_stats_t *stats);

/*
 * QueueCheck (tests): build Slurm's own queue in the current hold and compare
 * it with queue: the same records, and the jobs in the same order. Each
 * difference is logged as an error ("accelpack: queue check: ...").
 * RET number of differences found (0: the same)
 */
extern uint32_t job_queue_check(list_t *queue);

#endif
