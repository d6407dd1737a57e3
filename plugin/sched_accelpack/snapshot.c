/*****************************************************************************\
 *  snapshot.c - copy nodes, pending and running jobs out of slurmctld while
 *  it is locked, into plain C structs the bridge turns into protobuf.
 *  SPDX-License-Identifier: GPL-2.0-or-later
 *
 *  Everything here runs with the scheduler's locks held, so it only copies:
 *  no sorting beyond Slurm's own queue sort, no I/O, one arena for memory;
 *  the pending jobs in chunks between which the locks are yielded. Hashing
 *  and protobuf happen in the bridge, after the locks are released.
 *  One file per thing copied: snapshot_nodes.c, snapshot_pending.c (with
 *  job_request.c), snapshot_running.c, snapshot_resv.c.
\*****************************************************************************/

#include <string.h>
#include <time.h>

#include "snapshot.h"

extern void snapshot_build(snapshot_t *snap, const char *accel_gres,
			   uint32_t max_pending, lock_clock_t *lc,
			   uint32_t yield_ms, bool queue_check)
{
	time_t now = time(NULL);

	memset(snap, 0, sizeof(*snap));
	snap->snap.now = now;	/* the parts read it */
	snapshot_pending(snap, accel_gres, max_pending, lc, yield_ms,
			 queue_check);
	(void) lock_clock_maybe_yield(lc, SNAPSHOT_HOLD_MS, yield_ms);
	snapshot_nodes(snap, accel_gres, now);
	snapshot_running(snap, accel_gres);
	snapshot_reservations(snap, accel_gres, now);
	snap->snap.nodes = snap->nodes;
	snap->snap.pending = snap->pending;
	snap->snap.running = snap->running;
}

extern void snapshot_free(snapshot_t *snap)
{
	arena_free(&snap->arena);
	memset(snap, 0, sizeof(*snap));
}
