/*****************************************************************************\
 *  job_queue.c - Slurm's pending queue, built in chunks (see job_queue.h).
 *  SPDX-License-Identifier: GPL-2.0-or-later
 *
 *  build_job_queue() walks every job and runs its runnability tests on each
 *  pending one in one hold, which grows with the queue (2-4 us a job); the
 *  records it returns point into slurmctld's state, so they cannot outlive a
 *  yield. Here the same tests run per chunk on jobs looked up by id, and the
 *  records are checked again before Slurm's own comparison sorts them. The
 *  tests follow job_scheduler.c of each release (slurm_compat.h for what
 *  differs); Slurm keeps them private.
\*****************************************************************************/

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/list.h"
#include "src/common/log.h"
#include "src/common/xmalloc.h"
#include "src/slurmctld/slurmctld.h"
/* after slurmctld.h: they use its types without including it */
#include "src/slurmctld/acct_policy.h"
#include "src/slurmctld/job_scheduler.h"
#include "src/slurmctld/reservation.h"

#include "job_queue.h"
#include "lifecycle.h"
#include "lock_clock.h"
#include "slurm_compat.h"

typedef struct {
	uint32_t *ids;
	uint32_t cnt;
	uint32_t cap;
	bool needs_split;	/* an array only Slurm's own build splits */
} pending_ids_t;

static int _is_aftercorr(void *x, void *arg)
{
	depend_spec_t *dep_ptr = x;

	return dep_ptr->depend_type == SLURM_DEPEND_AFTER_CORRESPOND;
}

/* build_job_queue() first splits array tasks out of these (burst buffer
 * staging, aftercorr dependencies) through functions private to it. */
static bool _array_needs_split(job_record_t *job_ptr)
{
	if (!job_ptr->array_recs || !job_ptr->array_recs->task_id_bitmap ||
	    (job_ptr->array_task_id != NO_VAL))
		return false;
	if (job_ptr->burst_buffer)
		return true;
	return job_ptr->details && job_ptr->details->depend_list &&
	       list_find_first(job_ptr->details->depend_list, _is_aftercorr,
			       NULL);
}

/* What build_job_queue() does to every job before its tests; for a job that
 * is not pending that is all it does. */
static void _reset_job(job_record_t *job_ptr)
{
	job_ptr->preempt_in_progress = false;
	if (COMPAT_RESET_PEND_RUN_TASKS && job_ptr->array_recs)
		job_ptr->array_recs->pend_run_tasks = 0;
	if (job_ptr->resv_list)
		job_ptr->resv_ptr = NULL;
}

static int _collect_pending(void *x, void *arg)
{
	job_record_t *job_ptr = x;
	pending_ids_t *pending = arg;

	if (!IS_JOB_PENDING(job_ptr)) {
		_reset_job(job_ptr);
		return 0;
	}
	if (_array_needs_split(job_ptr))
		pending->needs_split = true;
	if (pending->cnt == pending->cap) {
		pending->cap = pending->cap ? 2 * pending->cap : 1024;
		xrecalloc(pending->ids, pending->cap, sizeof(uint32_t));
	}
	pending->ids[pending->cnt++] = job_ptr->job_id;
	return 0;
}

/* _job_runnable_test1(): may the job run now, partitions aside. */
static bool _runnable_now(job_record_t *job_ptr, time_t now)
{
	bool independent;

	if (!IS_JOB_PENDING(job_ptr) || IS_JOB_COMPLETING(job_ptr) ||
	    IS_JOB_REVOKED(job_ptr))
		return false;
	if (compat_job_select_cleaning(job_ptr) ||
	    (job_ptr->details && job_ptr->details->prolog_running) ||
	    (job_ptr->step_list && list_count(job_ptr->step_list))) {
		/* requeued, and the previous run has not finished */
		job_ptr->state_reason = WAIT_CLEANING;
		xfree(job_ptr->state_desc);
		last_job_update = now;
		return false;
	}
	independent = job_independent(job_ptr);
	if (job_ptr->priority == 0) {	/* held */
		uint32_t reason = job_ptr->state_reason;

		if ((reason != FAIL_BAD_CONSTRAINTS) &&
		    (reason != FAIL_BURST_BUFFER_OP) &&
		    (reason != WAIT_HELD) && (reason != WAIT_HELD_USER) &&
		    (reason != WAIT_MAX_REQUEUE) &&
		    !COMPAT_HELD_REASON_KEPT(reason)) {
			job_ptr->state_reason = WAIT_HELD;
			xfree(job_ptr->state_desc);
			last_job_update = now;
		}
		return false;
	}
	if (!independent && ((job_ptr->state_reason == WAIT_HELD) ||
			     (job_ptr->state_reason == WAIT_HELD_USER))) {
		/* released, but behind an active dependency */
		job_ptr->state_reason = WAIT_DEPENDENCY;
		xfree(job_ptr->state_desc);
		last_job_update = now;
	}
	return independent;
}

/* _job_runnable_test2(): the partition (and QOS) now in job_ptr. */
static bool _runnable_in_part(job_record_t *job_ptr, time_t now)
{
	uint32_t reason = (uint32_t) job_limits_check(&job_ptr, false);

	if ((reason != job_ptr->state_reason) &&
	    ((reason != WAIT_NO_REASON) || COMPAT_PART_LIMITS_HELD(job_ptr))) {
		job_ptr->state_reason = reason;
		xfree(job_ptr->state_desc);
		last_job_update = now;
	}
	return reason == WAIT_NO_REASON;
}

static int _append_in_resv(void *x, void *arg)
{
	job_queue_req_t *req = arg;

	req->resv_ptr = x;
	if ((req->job_ptr->bit_flags & JOB_PART_ASSIGNED) &&
	    req->resv_ptr->part_ptr)
		req->part_ptr = req->resv_ptr->part_ptr;
	job_queue_append_internal(req);
	return 0;
}

/* _job_queue_append(): one record, or one per reservation it may use. */
static void _append(list_t *queue, job_record_t *job_ptr, uint32_t prio)
{
	job_queue_req_t req = { .job_ptr = job_ptr,
				.job_queue = queue,
				.part_ptr = job_ptr->part_ptr,
				.prio = prio };

	if (job_ptr->resv_list) {
		list_for_each(job_ptr->resv_list, _append_in_resv, &req);
		return;
	}
	job_queue_append_internal(&req);
	/* A job that asked for a reservation gets no magnetic ones, nor does
	 * a het job component, as in build_job_queue(). */
	if (job_ptr->resv_name || job_ptr->het_job_id)
		return;
	job_resv_append_magnetic(&req);
}

typedef struct {
	list_t *queue;
	job_record_t *job_ptr;
	time_t now;
	int prio_inx;	/* into the priority array: partition x QOS */
} job_walk_t;

static int _append_for_qos(void *x, void *arg)
{
	job_walk_t *walk = arg;
	job_record_t *job_ptr = walk->job_ptr;
	uint32_t *prio_array;

#if COMPAT_HAS_QOS_LIST
	job_ptr->qos_ptr = x;
#if COMPAT_QOS_ID_FOLLOWS
	if (job_ptr->qos_ptr)
		job_ptr->qos_id = job_ptr->qos_ptr->id;
#endif
#endif
	walk->prio_inx++;
	if (!_runnable_in_part(job_ptr, walk->now))
		return 0;
	prio_array = COMPAT_PRIORITY_ARRAY(job_ptr);
	_append(walk->queue, job_ptr,
		prio_array ? prio_array[walk->prio_inx] : job_ptr->priority);
	return 0;
}

static int _append_for_part(void *x, void *arg)
{
	job_walk_t *walk = arg;
	job_record_t *job_ptr = walk->job_ptr;

	job_ptr->part_ptr = x;
#if COMPAT_HAS_QOS_LIST
	if (job_ptr->qos_list) {
		(void) list_for_each(job_ptr->qos_list, _append_for_qos, walk);
		return 0;
	}
	return _append_for_qos(job_ptr->qos_ptr, walk);
#else
	return _append_for_qos(NULL, walk);
#endif
}

/* build_job_queue()'s body for one pending job. */
static void _queue_job(list_t *queue, job_record_t *job_ptr, time_t now)
{
	job_walk_t walk = { .queue = queue, .job_ptr = job_ptr, .now = now,
			    .prio_inx = -1 };

	job_ptr->bit_flags &= ~BACKFILL_SCHED;
	set_job_failed_assoc_qos_ptr(job_ptr);
	acct_policy_handle_accrue_time(job_ptr, false);
	if ((job_ptr->state_reason != WAIT_NO_REASON) &&
	    (job_ptr->state_reason != WAIT_PRIORITY) &&
	    (job_ptr->state_reason != WAIT_RESOURCES) &&
	    (job_ptr->state_reason != job_ptr->state_reason_prev_db)) {
		job_ptr->state_reason_prev_db = job_ptr->state_reason;
		last_job_update = now;
	}
	_reset_job(job_ptr);
	if (!_runnable_now(job_ptr, now))
		return;
	if (job_ptr->part_ptr_list) {
		(void) list_for_each(job_ptr->part_ptr_list, _append_for_part,
				     &walk);
		return;
	}
	if (!job_ptr->part_ptr) {
		part_record_t *part_ptr = find_part_record(job_ptr->partition);

		if (!part_ptr) {
			error("accelpack: no partition %s for JobId=%u",
			      job_ptr->partition, job_ptr->job_id);
			return;
		}
		job_ptr->part_ptr = part_ptr;
		job_ptr->bit_flags |= JOB_PART_ASSIGNED;
	}
	(void) _append_for_part(job_ptr->part_ptr, &walk);
}

/*
 * What sort_job_queue2() compares, read when the record is made: sorting on
 * these touches nothing of slurmctld's, so records made in earlier holds
 * need not be checked again first (the snapshot looks each job up by id).
 * Without preemption the comparison is these fields in this order; with it,
 * the preemption plugin joins in and Slurm's own sort is used.
 */
typedef struct {
	job_queue_rec_t *rec;
	uint32_t seq;		/* made in this order (build_job_queue's) */
	uint32_t tier;		/* partition's PriorityTier */
	uint32_t priority;	/* in this partition (x QOS) */
	uint32_t job_id;	/* the array's for an array task */
	uint32_t array_task_id;
	time_t submit_time;
	time_t resv_start;
	bool expedited;
	bool has_resv;
	bool has_resv_ptr;
	bool use_prefer;
} rec_order_t;

static void _order_key(rec_order_t *o, job_queue_rec_t *rec, uint32_t seq)
{
	job_record_t *job_ptr = rec->job_ptr;

	o->rec = rec;
	o->seq = seq;
	o->expedited = COMPAT_JOB_EXPEDITED(job_ptr);
	o->has_resv = job_ptr->resv_id || rec->resv_ptr;
	o->has_resv_ptr = rec->resv_ptr;
	o->resv_start = rec->resv_ptr ? rec->resv_ptr->start_time : 0;
	o->tier = rec->part_ptr ? rec->part_ptr->priority_tier : 0;
	o->priority = (job_ptr->part_ptr_list &&
		       COMPAT_PRIORITY_ARRAY(job_ptr)) ?
		rec->priority : job_ptr->priority;
	o->submit_time = job_ptr->details ? job_ptr->details->submit_time : 0;
	o->job_id = (rec->array_task_id == NO_VAL) ? rec->job_id :
		job_ptr->array_job_id;
	o->array_task_id = rec->array_task_id;
	o->use_prefer = rec->use_prefer;
}

/* sort_job_queue2() without preemption (het jobs aside: never planned).
 * Records it calls equal keep the order they were made in, as glibc's merge
 * sort keeps them under 22.05's comparison, which never says equal. */
static int _cmp_order(const void *a, const void *b)
{
	const rec_order_t *x = a, *y = b;

	if (x->expedited != y->expedited)
		return x->expedited ? -1 : 1;
	if (x->has_resv != y->has_resv)
		return x->has_resv ? -1 : 1;
	if (x->tier != y->tier)
		return (x->tier > y->tier) ? -1 : 1;
	if (x->priority != y->priority)
		return (x->priority > y->priority) ? -1 : 1;
	if (x->submit_time != y->submit_time)
		return (x->submit_time < y->submit_time) ? -1 : 1;
	if (x->job_id != y->job_id)
		return (x->job_id < y->job_id) ? -1 : 1;
	if (x->array_task_id != y->array_task_id)
		return (x->array_task_id < y->array_task_id) ? -1 : 1;
	if (x->has_resv_ptr && y->has_resv_ptr &&
	    (x->resv_start != y->resv_start))
		return (x->resv_start < y->resv_start) ? -1 : 1;
	if (x->use_prefer != y->use_prefer)
		return x->use_prefer ? -1 : 1;
	return (x->seq < y->seq) ? -1 : (x->seq > y->seq);
}

/* From this many records on, sorting them (about 1 ms per 10,000) is done
 * with the locks released. */
#define SORT_OUTSIDE_LOCKS 2000

typedef struct {
	rec_order_t *recs;
	uint32_t cnt;
	uint32_t cap;
	bool keyed;		/* every record has what _cmp_order needs */
} rec_array_t;

/* Move the records one job just made (in tmp) into recs, with their keys. */
static void _take_records(rec_array_t *recs, list_t *tmp)
{
	job_queue_rec_t *rec;

	while ((rec = list_dequeue(tmp))) {
		if (recs->cnt == recs->cap) {
			recs->cap = recs->cap ? 2 * recs->cap : 1024;
			xrecalloc(recs->recs, recs->cap, sizeof(rec_order_t));
		}
		if (!rec->job_ptr->details)
			recs->keyed = false;
		_order_key(&recs->recs[recs->cnt], rec, recs->cnt);
		recs->cnt++;
	}
}

/* A record made before a yield: drop it unless its job, partition and
 * reservation are still the ones it points to and the job may still run. */
static int _record_stale(void *x, void *arg)
{
	job_queue_rec_t *rec = x;
	job_record_t *job_ptr = find_job_record(rec->job_id);

	if (!job_ptr || (job_ptr != rec->job_ptr) ||
	    !IS_JOB_PENDING(job_ptr) || IS_JOB_COMPLETING(job_ptr) ||
	    !job_ptr->priority)
		return 1;
	if (!rec->part_ptr ||
	    !list_find_first(part_list, compat_same_ptr, rec->part_ptr))
		return 1;
	if (rec->resv_ptr &&
	    !list_find_first(resv_list, compat_same_ptr, rec->resv_ptr))
		return 1;
	return 0;
}

static list_t *_slurm_queue(job_queue_stats_t *stats)
{
	list_t *queue = build_job_queue(false, false);

	sort_job_queue(queue);
	stats->slurm_built = true;
	stats->checked = true;
	return queue;
}

static void _free_records(rec_array_t *recs)
{
	for (uint32_t i = 0; i < recs->cnt; i++)
		xfree(recs->recs[i].rec);
	xfree(recs->recs);
	memset(recs, 0, sizeof(*recs));
}

/* The records as a list, sorted on their keys when they have them, else in
 * the order they were made. */
static list_t *_as_list(rec_array_t *recs)
{
	list_t *queue = list_create(xfree_ptr);

	if (recs->keyed)
		qsort(recs->recs, recs->cnt, sizeof(rec_order_t), _cmp_order);
	for (uint32_t i = 0; i < recs->cnt; i++)
		list_append(queue, recs->recs[i].rec);
	xfree(recs->recs);
	memset(recs, 0, sizeof(*recs));
	return queue;
}

extern list_t *job_queue_build(lock_clock_t *lc, uint32_t max_ms,
			       uint32_t yield_ms, job_queue_stats_t *stats)
{
	pending_ids_t pending = { 0 };
	rec_array_t recs = { 0 };
	struct timespec t0, t1;
	list_t *queue, *made;
	time_t now = time(NULL), resv_update = last_resv_update;
	uint32_t yields = lc->yields;
	double held_before = lc->held_ms, hold_at_start = lock_clock_now_ms(lc);

	memset(stats, 0, sizeof(*stats));
	stats->chunks = 1;
	(void) list_for_each(job_list, _collect_pending, &pending);
	if (pending.needs_split) {
		queue = _slurm_queue(stats);
		goto done;
	}
	recs.keyed = !slurm_preemption_enabled();
	made = list_create(NULL);
	for (uint32_t i = 0; i < pending.cnt; i++) {
		job_record_t *job_ptr;

		if (lock_clock_now_ms(lc) >= (double) max_ms) {
			bool suspect = lock_clock_maybe_yield(lc, max_ms,
							      yield_ms);

			stats->chunks++;
			/* What the records point to may have been rebuilt
			 * meanwhile: let Slurm build the queue instead. */
			if (suspect || (last_resv_update != resv_update)) {
				FREE_NULL_LIST(made);
				_free_records(&recs);
				if (agent_stopping()) {
					queue = list_create(xfree_ptr);
					stats->checked = true;
				} else {
					queue = _slurm_queue(stats);
				}
				goto done;
			}
		}
		job_ptr = find_job_record(pending.ids[i]);
		if (!job_ptr || !IS_JOB_PENDING(job_ptr))
			continue;	/* ended or started meanwhile */
		_queue_job(made, job_ptr, now);
		_take_records(&recs, made);
	}
	FREE_NULL_LIST(made);
	if (recs.keyed && (recs.cnt < SORT_OUTSIDE_LOCKS)) {
		clock_now(&t0);
		queue = _as_list(&recs);
		stats->checked = (lc->yields == yields);
	} else if (recs.keyed) {
		time_t part_update = last_part_update;
		time_t conf_update = slurm_conf.last_update;

		/* The keys are copies: sort them without the locks. */
		lock_clock_release(lc);
		lc->yields++;
		clock_now(&t0);
		queue = _as_list(&recs);
		clock_now(&t1);
		lock_clock_acquire(lc);
		stats->chunks++;
		stats->sort_ms = clock_ms_between(&t0, &t1);
		stats->checked = false;
		if ((last_part_update != part_update) ||
		    (slurm_conf.last_update != conf_update) ||
		    (last_resv_update != resv_update)) {
			FREE_NULL_LIST(queue);
			queue = _slurm_queue(stats);
		}
		goto done;
	} else {
		/* Slurm's sort reads the records: check them again in a
		 * fresh hold and sort them in it. */
		if (lock_clock_now_ms(lc) >= (double) max_ms) {
			(void) lock_clock_maybe_yield(lc, max_ms, yield_ms);
			stats->chunks++;
		}
		clock_now(&t0);
		queue = _as_list(&recs);
		if (lc->yields != yields) {
			int before = list_count(queue);

			(void) list_delete_all(queue, _record_stale, NULL);
			stats->dropped = (uint32_t) (before - list_count(queue));
		}
		sort_job_queue(queue);
		stats->checked = true;
	}
	clock_now(&t1);
	stats->sort_ms = clock_ms_between(&t0, &t1);
done:
	/* the holds that ended meanwhile, less what came before this call in
	 * the first of them, plus the current one */
	stats->held_ms = (lc->held_ms - held_before) - hold_at_start +
			 lock_clock_now_ms(lc);
	xfree(pending.ids);
	return queue;
}

/* One record as compared: what the snapshot and the sort read of it. */
typedef struct {
	uint32_t job_id;
	uint32_t priority;
	uintptr_t part;
	uintptr_t resv;
	bool use_prefer;
} rec_key_t;

static int _cmp_key(const void *a, const void *b)
{
	const rec_key_t *x = a, *y = b;

	if (x->job_id != y->job_id)
		return (x->job_id < y->job_id) ? -1 : 1;
	if (x->part != y->part)
		return (x->part < y->part) ? -1 : 1;
	if (x->resv != y->resv)
		return (x->resv < y->resv) ? -1 : 1;
	if (x->priority != y->priority)
		return (x->priority < y->priority) ? -1 : 1;
	return (int) x->use_prefer - (int) y->use_prefer;
}

/* Open-addressing set of job ids (0 is no job id). RET true if added */
static bool _id_set_add(uint32_t *slots, uint32_t mask, uint32_t id)
{
	uint32_t s = (id * 2654435761u) & mask;

	while (slots[s]) {
		if (slots[s] == id)
			return false;
		s = (s + 1) & mask;
	}
	slots[s] = id;
	return true;
}

/* Records as sorted keys, and the job ids in order of first appearance
 * (the order the snapshot takes them in). RET record count */
static uint32_t _queue_keys(list_t *queue, rec_key_t **keys, uint32_t **order,
			    uint32_t *order_cnt)
{
	uint32_t cnt = 0, n = (uint32_t) list_count(queue), size = 16;
	list_itr_t *itr = list_iterator_create(queue);
	job_queue_rec_t *rec;
	uint32_t *seen;

	while (size < 2 * (n + 1))
		size *= 2;
	seen = xcalloc(size, sizeof(uint32_t));
	*keys = xcalloc(n ? n : 1, sizeof(rec_key_t));
	*order = xcalloc(n ? n : 1, sizeof(uint32_t));
	*order_cnt = 0;
	while ((rec = list_next(itr)) && (cnt < n)) {
		(*keys)[cnt++] = (rec_key_t) {
			.job_id = rec->job_id, .priority = rec->priority,
			.part = (uintptr_t) rec->part_ptr,
			.resv = (uintptr_t) rec->resv_ptr,
			.use_prefer = rec->use_prefer };
		if (_id_set_add(seen, size - 1, rec->job_id))
			(*order)[(*order_cnt)++] = rec->job_id;
	}
	list_iterator_destroy(itr);
	xfree(seen);
	qsort(*keys, cnt, sizeof(rec_key_t), _cmp_key);
	return cnt;
}

extern uint32_t job_queue_check(list_t *queue)
{
	list_t *slurm_queue = build_job_queue(false, false);
	rec_key_t *ours, *theirs;
	uint32_t *our_order, *their_order, our_jobs, their_jobs;
	uint32_t our_cnt, their_cnt, diff = 0;

	sort_job_queue(slurm_queue);
	our_cnt = _queue_keys(queue, &ours, &our_order, &our_jobs);
	their_cnt = _queue_keys(slurm_queue, &theirs, &their_order,
				&their_jobs);
	if (our_cnt != their_cnt) {
		info("accelpack: queue check: differs: %u records, Slurm's queue %u",
		      our_cnt, their_cnt);
		diff++;
	}
	for (uint32_t i = 0; (i < our_cnt) && (i < their_cnt); i++)
		if (_cmp_key(&ours[i], &theirs[i])) {
			info("accelpack: queue check: differs: record %u: JobId=%u priority %u, Slurm's JobId=%u priority %u",
			      i, ours[i].job_id, ours[i].priority,
			      theirs[i].job_id, theirs[i].priority);
			diff++;
			break;
		}
	for (uint32_t i = 0; (i < our_jobs) && (i < their_jobs); i++)
		if (our_order[i] != their_order[i]) {
			info("accelpack: queue check: differs: position %u: JobId=%u, Slurm's JobId=%u",
			      i, our_order[i], their_order[i]);
			diff++;
			break;
		}
	if (!diff)
		info("accelpack: queue check: %u records, %u jobs, same as Slurm's",
		     our_cnt, our_jobs);
	xfree(ours);
	xfree(theirs);
	xfree(our_order);
	xfree(their_order);
	FREE_NULL_LIST(slurm_queue);
	return diff;
}
