/*****************************************************************************\
 *  snapshot.h - copy what placement needs out of slurmctld, under its locks.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_SNAPSHOT_H
#define _ACCELPACK_SNAPSHOT_H

#include "accelpack_bridge.h"
#include "src/slurmctld/slurmctld.h"

/* Bump allocator: a snapshot is built and dropped whole, so one free per chunk
 * keeps both the copy under the locks and the release cheap. */
typedef struct arena_chunk arena_chunk_t;
typedef struct {
	arena_chunk_t *head;
} arena_t;

extern void *arena_alloc(arena_t *arena, size_t size);	/* zeroed */
extern char *arena_strdup(arena_t *arena, const char *s);	/* NULL -> "" */
extern void arena_free(arena_t *arena);

typedef struct {
	ap_snapshot_t snap;		/* what the bridge reads */
	ap_node_t *nodes;
	ap_pending_job_t *pending;
	ap_running_job_t *running;
	uint64_t *fingerprints;		/* per pending job, see job_fingerprint */
	uint32_t skipped_het;		/* pending jobs left out, by cause */
	uint32_t skipped_resv;
	uint32_t skipped_throttle;
	uint32_t skipped_cap;
	arena_t arena;
} snapshot_t;

/*
 * Fill snap from slurmctld's state.
 * Locks: caller holds {conf READ, job WRITE, node WRITE, part READ, fed READ}.
 * IN accel_gres - comma list of GRES names reported as accelerators
 * IN max_pending - most pending jobs to include (queue order)
 * OUT snap - caller frees with snapshot_free (no locks needed)
 */
extern void snapshot_build(snapshot_t *snap, const char *accel_gres,
			   uint32_t max_pending);
extern void snapshot_free(snapshot_t *snap);

/*
 * Convert one pending job's request into out, strings in arena. Used for the
 * snapshot and again when applying, to see whether the job still asks for
 * what the plan was made for.
 * Locks: as snapshot_build.
 * RET false if the job is not something placement handles (out untouched)
 */
extern bool job_request(job_record_t *job_ptr, arena_t *arena,
			const char *accel_gres, ap_pending_job_t *out);

/* Hash of the request fields of a converted job (not priority, partitions). */
extern uint64_t job_fingerprint(const ap_pending_job_t *job);

#endif
