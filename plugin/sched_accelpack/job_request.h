/*****************************************************************************\
 *  job_request.h - one pending job's request, converted for the bridge: used for
 *  the snapshot and again when applying, to see whether the job still asks
 *  for what the plan was made for.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_JOB_REQUEST_H
#define _ACCELPACK_JOB_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "accelpack_bridge.h"
#include "src/slurmctld/slurmctld.h"

#include "arena.h"
#include "slurm_compat.h"

/*
 * Convert one pending job's request into out, strings in arena.
 * Locks: job READ at least (the snapshot and apply hold the scheduler locks).
 * RET false if the job is not something placement handles (out untouched)
 */
extern bool job_request(job_record_t *job_ptr, arena_t *arena,
			const char *accel_gres, ap_pending_job_t *out);

/*
 * The MAGNETIC reservations job_ptr may use without asking for one, as Slurm's
 * own queue lists them: job_queue_rec_t records (resv_ptr set), or NULL when
 * there are none or the job has a reservation (asked for or pointed at).
 * Free with FREE_NULL_LIST. Locks: as job_request.
 */
extern list_t *job_magnetic_queue(job_record_t *job_ptr);

/*
 * --exclusive=user or an ExclusiveUser=YES partition: the job shares its nodes
 * only with its user's jobs, and no other user's job joins them while it runs.
 * Locks: job READ at least.
 */
extern bool job_exclusive_user(job_record_t *job_ptr);

/* A GRES request's count per node (gres_data: the job's gres_job_state_t):
 * per node, per job spread over num_nodes, per task, or per socket. */
extern uint64_t job_gres_per_node(job_record_t *job_ptr, void *gres_data,
				  uint32_t num_nodes);

/*
 * A victim the plugin is about to requeue: remembered with its submit time,
 * which job_request() reports instead of the one the requeue sets, so that
 * the job keeps its age and place in the core's queue (victim_memo.h).
 * Locks: job READ at least; agent thread.
 */
extern void job_request_note_victim(job_record_t *job_ptr);

/* Forget the victims that are gone or finished. Locks: job READ at least. */
extern void job_request_forget_ended_victims(void);

/*
 * The victims requeued when their GraceTime ended, done completing: clear the
 * grace flag Slurm leaves set (COMPAT_GRACE_PREEMPT), which would requeue their
 * rerun once more when it ends. Locks: job WRITE.
 */
extern void job_request_clear_stale_grace(void);

/* At the agent's end. */
extern void job_request_fini(void);

/* Hash of the request fields of a converted job (not priority, partitions). */
extern uint64_t job_fingerprint(const ap_pending_job_t *job);

#endif
