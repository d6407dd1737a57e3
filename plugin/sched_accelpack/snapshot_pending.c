/*****************************************************************************\
 *  snapshot_pending.c - copy the pending queue in Slurm's own order, once per job
 *  (a job queued in several partitions comes once, with all of them).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/slurmctld.h"
/* after slurmctld.h: they use its types without including it */
#include "src/slurmctld/acct_policy.h"
#include "src/slurmctld/job_scheduler.h"
#include "src/slurmctld/licenses.h"

#include "job_queue.h"
#include "job_request.h"
#include "lock_clock.h"
#include "refusals.h"
#include "slurm_compat.h"
#include "snapshot.h"

/* Leave a pending job with a reason that says why accelpack skips it. */
static void _say_skipped(job_record_t *job_ptr, const char *why)
{
	if (!xstrcmp(job_ptr->state_desc, why))
		return;
	xfree(job_ptr->state_desc);
	job_ptr->state_desc = xstrdup(why);
	job_ptr->state_reason = WAIT_NO_REASON;
	last_job_update = time(NULL);
}

/*
 * Slurm's own gates before placement, as its main scheduler asks them:
 * association/QOS limits and licenses. A job they hold keeps Slurm's reason;
 * planning it would only have select_nodes refuse it every cycle.
 */
static bool _slurm_allows(job_record_t *job_ptr, time_t now)
{
	if (COMPAT_LIMITS_MAY_HOLD(job_ptr) &&
	    !acct_policy_job_runnable_pre_select(job_ptr, false))
		return false;
	if (license_job_test(job_ptr, now, true) != SLURM_SUCCESS) {
		if (job_ptr->state_reason != WAIT_LICENSES) {
			job_ptr->state_reason = WAIT_LICENSES;
			xfree(job_ptr->state_desc);
			last_job_update = now;
		}
		return false;
	}
	return true;
}

/* A job asking for several QOS (24.11 on) has a queue record per partition x
 * QOS: the same partition may come again under another QOS. */
static bool _has_partition(const ap_pending_job_t *job, const char *name)
{
	for (uint32_t p = 0; p < job->partition_cnt; p++)
		if (!xstrcmp(job->partitions[p], name))
			return true;
	return false;
}

#if COMPAT_HAS_QOS_LIST
/*
 * Building the queue left the job under the last QOS of its list; its first
 * record (queue order: the highest priority) is the QOS it is planned and
 * started under, as Slurm's schedulers set qos_ptr from the record before
 * select_nodes(). Only a QOS still in the job's list: the record was made in
 * an earlier hold.
 */
static void _use_record_qos(job_record_t *job_ptr, slurmdb_qos_rec_t *qos_ptr)
{
	if (!qos_ptr || !job_ptr->qos_list || (job_ptr->qos_ptr == qos_ptr) ||
	    !list_find_first(job_ptr->qos_list, compat_same_ptr, qos_ptr))
		return;
	job_ptr->qos_ptr = qos_ptr;
#if COMPAT_QOS_ID_FOLLOWS
	job_ptr->qos_id = qos_ptr->id;
#endif
}
#endif

/* Open-addressing set of job records already in the snapshot: a job that
 * may run in several partitions comes once per partition from the queue. */
typedef struct {
	job_record_t **slots;
	uint32_t *index;	/* pending[] index of the job */
	uint32_t mask;
} job_set_t;

static int64_t _job_set_find(job_set_t *set, job_record_t *job_ptr,
			     uint32_t *slot)
{
	uint32_t s = (job_ptr->job_id * 2654435761u) & set->mask;

	while (set->slots[s]) {
		if (set->slots[s] == job_ptr) {
			*slot = s;
			return set->index[s];
		}
		s = (s + 1) & set->mask;
	}
	*slot = s;
	return -1;
}

extern void snapshot_pending(snapshot_t *snap, const char *accel_gres,
			     uint32_t max_pending, lock_clock_t *lc,
			     uint32_t yield_ms, bool queue_check)
{
	job_queue_stats_t queue_stats;
	list_t *job_queue;
	job_queue_rec_t *rec;
	job_set_t set = { 0 };
	uint32_t cap, size = 16, yields;
	const char ***parts;
	uint32_t *part_cap;
	bool stop = false, recheck;

	job_queue = job_queue_build(lc, SNAPSHOT_HOLD_MS, yield_ms,
				    &queue_stats);
	/* Records made in earlier holds: look their jobs up by id. */
	yields = lc->yields;
	recheck = !queue_stats.checked;
	snap->queue_ms = queue_stats.held_ms;
	snap->queue_sort_ms = queue_stats.sort_ms;
	snap->queue_chunks = queue_stats.chunks;
	snap->queue_slurm_built = queue_stats.slurm_built;
	snap->skipped_gone += queue_stats.dropped;
	if (queue_check && !queue_stats.slurm_built)
		(void) job_queue_check(job_queue);
	cap = (uint32_t) list_count(job_queue);
	refusal_expire(snap->snap.now);
	job_request_forget_ended_victims();
	if (cap > max_pending)
		cap = max_pending;
	while (size < 2 * (cap + 1))
		size *= 2;
	set.slots = arena_alloc(&snap->arena, size * sizeof(job_record_t *));
	set.index = arena_alloc(&snap->arena, size * sizeof(uint32_t));
	set.mask = size - 1;
	snap->pending = arena_alloc(&snap->arena,
				    (cap ? cap : 1) * sizeof(ap_pending_job_t));
	snap->fingerprints = arena_alloc(&snap->arena,
					 (cap ? cap : 1) * sizeof(uint64_t));
	parts = arena_alloc(&snap->arena, (cap ? cap : 1) * sizeof(char **));
	part_cap = arena_alloc(&snap->arena, (cap ? cap : 1) * sizeof(uint32_t));

	while ((rec = list_pop(job_queue))) {
		job_record_t *job_ptr = rec->job_ptr;
		part_record_t *part_ptr = rec->part_ptr;
		uint32_t prio = rec->priority, slot, job_id = rec->job_id;
		int64_t found;
		ap_pending_job_t *job;
#if COMPAT_HAS_QOS_LIST
		slurmdb_qos_rec_t *qos_ptr = rec->qos_ptr;
#endif

		xfree(rec);
		/* Yield now and then, as backfill does. Partitions changing
		 * meanwhile leave the queue's partition pointers suspect: the
		 * snapshot keeps the jobs copied so far. */
		if (!stop && lock_clock_maybe_yield(lc, SNAPSHOT_HOLD_MS,
						    yield_ms))
			stop = true;
		if (stop)
			continue;
		/* After a yield a job may be gone: only its id is safe. */
		if ((recheck || (lc->yields != yields)) &&
		    (find_job_record(job_id) != job_ptr)) {
			snap->skipped_gone++;
			continue;
		}
		/* held or requeued since its record was made */
		if (!job_ptr || !IS_JOB_PENDING(job_ptr) ||
		    IS_JOB_COMPLETING(job_ptr) || !job_ptr->priority ||
		    !part_ptr)
			continue;
		if ((found = _job_set_find(&set, job_ptr, &slot)) >= 0) {
			/* Same job, another partition: lower or equal
			 * priority in queue order, keep the first. */
			job = &snap->pending[found];
#if COMPAT_HAS_QOS_LIST
			/* Only partitions of the QOS it is planned under: a
			 * record under another QOS may be one its QOS may not
			 * use (AllowQos), refused at every start. */
			if (qos_ptr && (qos_ptr != job_ptr->qos_ptr))
				continue;
#endif
			if ((job->partition_cnt < part_cap[found]) &&
			    !_has_partition(job, part_ptr->name))
				parts[found][job->partition_cnt++] =
					arena_strdup(&snap->arena,
						     part_ptr->name);
			continue;
		}
		if (job_ptr->het_job_id) {
			snap->skipped_het++;
			_say_skipped(job_ptr, "accelpack: heterogeneous jobs are not supported");
			continue;
		}
		if (job_ptr->preempt_in_progress)
			continue;
#if COMPAT_HAS_QOS_LIST
		_use_record_qos(job_ptr, qos_ptr);
#endif
		if (!_slurm_allows(job_ptr, snap->snap.now)) {
			snap->skipped_limits++;
			continue;
		}
		/* Slurm's schedulers end a job whose time no longer fits
		 * before its --deadline when they reach it; so does this
		 * pass, for the jobs the plan may not reach. */
		if (job_ptr->deadline && (job_ptr->deadline != NO_VAL) &&
		    !deadline_ok(job_ptr, "accelpack")) {
			snap->skipped_limits++;
			continue;
		}
		if (((job_ptr->array_task_id != NO_VAL) ||
		     job_ptr->array_recs) && !job_array_start_test(job_ptr)) {
			snap->skipped_throttle++;	/* %N throttle */
			continue;
		}
		if (snap->snap.pending_cnt >= cap) {
			snap->skipped_cap++;
			continue;
		}
		/* what _schedule() does per record: features to use now */
		job_ptr->details->features_use = job_ptr->details->features;
		job_ptr->details->feature_list_use =
			job_ptr->details->feature_list;
		job = &snap->pending[snap->snap.pending_cnt];
		if (!job_request(job_ptr, &snap->arena, accel_gres, job))
			continue;
		job->priority = prio;
		refusal_fill(job, &snap->arena, snap->snap.now);
		snap->fingerprints[snap->snap.pending_cnt] =
			job_fingerprint(job);
		part_cap[snap->snap.pending_cnt] = job_ptr->part_ptr_list ?
			(uint32_t) list_count(job_ptr->part_ptr_list) : 1;
		if (!part_cap[snap->snap.pending_cnt])
			part_cap[snap->snap.pending_cnt] = 1;
		parts[snap->snap.pending_cnt] =
			arena_alloc(&snap->arena,
				    part_cap[snap->snap.pending_cnt] *
				    sizeof(char *));
		parts[snap->snap.pending_cnt][0] =
			arena_strdup(&snap->arena, part_ptr->name);
		job->partition_cnt = 1;
		job->partitions = parts[snap->snap.pending_cnt];
		set.slots[slot] = job_ptr;
		set.index[slot] = snap->snap.pending_cnt;
		snap->snap.pending_cnt++;
	}
	FREE_NULL_LIST(job_queue);
}
