/*****************************************************************************\
 *  snapshot.h - copy what placement needs out of slurmctld, under its locks.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_SNAPSHOT_H
#define _ACCELPACK_SNAPSHOT_H

#include <time.h>

#include "accelpack_bridge.h"
#include "src/slurmctld/slurmctld.h"

#include "arena.h"
#include "lock_clock.h"

typedef struct {
	ap_snapshot_t snap;		/* what the bridge reads */
	ap_node_t *nodes;
	ap_pending_job_t *pending;
	ap_running_job_t *running;
	uint64_t *fingerprints;		/* per pending job, see job_fingerprint */
	uint32_t skipped_het;		/* pending jobs left out, by cause */
	uint32_t skipped_throttle;
	uint32_t skipped_limits;	/* held by Slurm's limits or licenses */
	uint32_t skipped_cap;
	uint32_t skipped_gone;		/* ended or changed during a yield */
	double queue_ms;		/* the job queue, under the locks */
	double queue_sort_ms;		/* of it: the last hold, check + sort */
	uint32_t queue_chunks;		/* holds it took */
	bool queue_slurm_built;		/* by build_job_queue(), one hold */
	arena_t arena;
} snapshot_t;

/* A snapshot yields the locks whenever it has held them this long. */
#define SNAPSHOT_HOLD_MS 3

/*
 * Fill snap from slurmctld's state. Pending jobs first, in chunks: whenever the
 * locks were held SNAPSHOT_HOLD_MS, they are yielded (lock_clock_maybe_yield)
 * and each job after a yield is looked up again by id. Nodes, running jobs and
 * reservations come in one hold, so they agree with each other.
 * Locks: caller holds {conf READ, job WRITE, node WRITE, part READ, fed READ}
 * through lc; they are held again on return.
 * IN accel_gres - comma list of GRES names reported as accelerators
 * IN max_pending - most pending jobs to include (queue order)
 * IN yield_ms - YieldMs, for the yields
 * IN queue_check - QueueCheck: compare the queue with Slurm's (tests)
 * OUT snap - caller frees with snapshot_free (no locks needed)
 */
extern void snapshot_build(snapshot_t *snap, const char *accel_gres,
			   uint32_t max_pending, lock_clock_t *lc,
			   uint32_t yield_ms, bool queue_check);
extern void snapshot_free(snapshot_t *snap);

/* The parts of snapshot_build, one file each; same locks. */
extern void snapshot_nodes(snapshot_t *snap, const char *accel_gres,
			   time_t now);
extern void snapshot_pending(snapshot_t *snap, const char *accel_gres,
			     uint32_t max_pending, lock_clock_t *lc,
			     uint32_t yield_ms, bool queue_check);
extern void snapshot_running(snapshot_t *snap, const char *accel_gres);
extern void snapshot_reservations(snapshot_t *snap, const char *accel_gres,
				  time_t now);

#endif
