/*****************************************************************************\
 *  apply.c - start planned jobs on exactly the planned nodes and write the
 *  plan's pending reasons, re-checking every decision against the live
 *  state first: a decision that no longer fits is dropped, never forced.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "slurm/slurm.h"
#include "slurm/slurm_errno.h"
#include "slurm/slurmdb.h"
#include "src/common/bitstring.h"
#include "src/common/list.h"
#include "src/common/log.h"
#include "src/common/node_conf.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/slurmctld.h"
#include "src/slurmctld/fed_mgr.h"
#include "src/slurmctld/job_scheduler.h"
#include "src/slurmctld/licenses.h"
#include "src/slurmctld/node_scheduler.h"
#include "src/slurmctld/reservation.h"

#include "apply.h"
#include "device_pick.h"
#include "lifecycle.h"
#include "job_request.h"
#include "refusals.h"
#include "slurm_compat.h"

/* Far enough ahead that select_nodes() sees a preemption in progress. */
#define PREEMPT_GUARD_S 3600

/* pending[] indices sorted by job id, to find a planned job's snapshot. */
typedef struct {
	uint32_t job_id;
	uint32_t index;
} job_index_t;

static int _cmp_job_index(const void *a, const void *b)
{
	const job_index_t *x = a, *y = b;

	return (x->job_id > y->job_id) - (x->job_id < y->job_id);
}

static int64_t _find_pending(const job_index_t *idx, uint32_t cnt,
			     uint32_t job_id)
{
	job_index_t key = { .job_id = job_id };
	const job_index_t *hit = bsearch(&key, idx, cnt, sizeof(*idx),
					 _cmp_job_index);

	return hit ? (int64_t) hit->index : -1;
}

/* The job's partition (in the snapshot's order) that holds every chosen
 * node. RET NULL if none */
static part_record_t *_pick_partition(job_record_t *job_ptr,
				      const ap_pending_job_t *job,
				      bitstr_t *chosen)
{
	for (uint32_t p = 0; p < job->partition_cnt; p++) {
		part_record_t *part_ptr = NULL;

		if (job_ptr->part_ptr_list) {
			list_itr_t *iter =
				list_iterator_create(job_ptr->part_ptr_list);
			while ((part_ptr = list_next(iter)))
				if (!xstrcmp(part_ptr->name,
					     job->partitions[p]))
					break;
			list_iterator_destroy(iter);
		} else if (job_ptr->part_ptr &&
			   !xstrcmp(job_ptr->part_ptr->name,
				    job->partitions[p])) {
			part_ptr = job_ptr->part_ptr;
		}
		if (part_ptr && part_ptr->node_bitmap &&
		    bit_super_set(chosen, part_ptr->node_bitmap))
			return part_ptr;
	}
	return NULL;
}

/* A job asking for several reservations (--reservation=a,b) runs in the one
 * that holds the chosen nodes: point it there, as Slurm's own scheduler does
 * per queue record (job_queue_rec_resv_list). */
static void _pick_reservation(job_record_t *job_ptr, bitstr_t *chosen)
{
	list_itr_t *iter;
	slurmctld_resv_t *resv;

	if (!job_ptr->resv_list)
		return;
	iter = list_iterator_create(job_ptr->resv_list);
	while ((resv = list_next(iter))) {
		if (resv->node_bitmap && bit_super_set(chosen, resv->node_bitmap)) {
			job_ptr->resv_ptr = resv;
			job_ptr->resv_id = resv->resv_id;
			break;
		}
	}
	list_iterator_destroy(iter);
}

/* A job that asked for no reservation runs inside a MAGNETIC one that holds
 * the chosen nodes only when pointed at it, as Slurm's scheduler does per
 * queue record (job_queue_rec_magnetic_resv). RET true if pointed (undo with
 * job_resv_clear_magnetic_flag when the start fails). */
static bool _pick_magnetic(job_record_t *job_ptr, bitstr_t *chosen)
{
	list_t *queue;
	list_itr_t *iter;
	job_queue_rec_t *rec;
	bool pointed = false;

	job_resv_clear_magnetic_flag(job_ptr);	/* a stale pointing */
	if (!(queue = job_magnetic_queue(job_ptr)))
		return false;
	iter = list_iterator_create(queue);
	while ((rec = list_next(iter))) {
		if (rec->resv_ptr && rec->resv_ptr->node_bitmap &&
		    (rec->resv_ptr->start_time <= time(NULL)) &&
		    bit_super_set(chosen, rec->resv_ptr->node_bitmap)) {
			job_queue_rec_magnetic_resv(rec);
			pointed = true;
			break;
		}
	}
	list_iterator_destroy(iter);
	FREE_NULL_LIST(queue);
	return pointed;
}

/* Write a pending reason; touch last_job_update only on a real change, so a
 * steady queue does not make every client refresh every cycle. */
static bool _set_reason(job_record_t *job_ptr, enum job_state_reason reason,
			const char *desc)
{
	if ((job_ptr->state_reason == reason) &&
	    !xstrcmp(job_ptr->state_desc, desc))
		return false;
	job_ptr->state_reason = reason;
	xfree(job_ptr->state_desc);
	job_ptr->state_desc = desc ? xstrdup(desc) : NULL;
	last_job_update = time(NULL);
	return true;
}

/*
 * Slurm's own gates, asked again right before the start as backfill does
 * before select_nodes(): the snapshot asked them before the core planned, the
 * locks were released since, and a start made earlier in this plan may have
 * taken the last of a licence (select_nodes() tests licences only from 24.11).
 * RET NULL if the job may start, else why not (xfree it)
 */
static char *_gate_refusal(job_record_t *job_ptr)
{
	enum job_state_reason reason;

	if (!job_independent(job_ptr))
		return xstrdup("a dependency is not satisfied");
	/* Ends the job (DEADLINE) when its time no longer fits before it. */
	if (job_ptr->deadline && (job_ptr->deadline != NO_VAL) &&
	    !deadline_ok(job_ptr, "accelpack"))
		return xstrdup("cancelled: it cannot end before its deadline");
	if ((reason = job_limits_check(&job_ptr, false)) != WAIT_NO_REASON)
		return xstrdup_printf("partition limits: %s",
				      COMPAT_REASON_STRING(reason));
	if (license_job_test(job_ptr, time(NULL), true) != SLURM_SUCCESS) {
		if (job_ptr->state_reason != WAIT_LICENSES) {
			job_ptr->state_reason = WAIT_LICENSES;
			xfree(job_ptr->state_desc);
			last_job_update = time(NULL);
		}
		return xstrdup("licenses not available");
	}
	return NULL;
}

/*
 * A job with a --deadline runs no longer than the deadline allows: its time
 * limit (or the partition's default or maximum when it has none) is cut to
 * what is left, as Slurm's main scheduler does. The caller restores
 * `*saved_limit` if the start fails. RET whether the limit was cut
 */
static bool _cut_to_deadline(job_record_t *job_ptr, uint32_t *saved_limit)
{
	uint32_t left, limit = job_ptr->time_limit;
	part_record_t *part_ptr = job_ptr->part_ptr;
	time_t now = time(NULL);

	if (!job_ptr->deadline || (job_ptr->deadline == NO_VAL) ||
	    (job_ptr->deadline <= now))
		return false;
	left = (uint32_t) ((job_ptr->deadline - now) / 60);
	if ((limit == NO_VAL) || (limit == INFINITE)) {
		limit = INFINITE;
		if (part_ptr && (part_ptr->default_time != NO_VAL) &&
		    (part_ptr->default_time != INFINITE))
			limit = part_ptr->default_time;
		else if (part_ptr && (part_ptr->max_time != NO_VAL) &&
			 (part_ptr->max_time != INFINITE))
			limit = part_ptr->max_time;
	}
	if ((limit != INFINITE) && (limit <= left))
		return false;
	*saved_limit = job_ptr->time_limit;
	job_ptr->time_limit = left;
	return true;
}

/*
 * Start one planned job.
 * OUT refused - true when Slurm itself refused these nodes (not the job's
 *	 state moving on): worth remembering, see refusals.h
 * RET SLURM_SUCCESS if started; otherwise *why (xmalloc'd) says why not
 */
static int _start_one(const snapshot_t *snap, int64_t pidx,
		      const ap_start_t *start, const char *source,
		      uint64_t cycle, const accelpack_conf_t *conf, char **why,
		      bool *refused)
{
	const ap_pending_job_t *job = &snap->pending[pidx];
	job_record_t *job_ptr = find_job_record(start->job_id);
	job_details_t *details;
	bitstr_t *chosen = NULL, *orig_exc = NULL;
	device_pick_t *pick = NULL;
	char *pick_why = NULL;
	part_record_t *part_ptr;
	ap_pending_job_t live;
	arena_t tmp = { 0 };
	bool is_array_head, fingerprint_ok, magnetic;
	char *nodes = NULL;
	time_t saved_preempt_start;
	uint32_t saved_limit = 0;
	bool deadline_cut;
	int rc;

	if (!job_ptr || !job_ptr->details) {
		*why = xstrdup("job is gone");
		return SLURM_ERROR;
	}
	details = job_ptr->details;
	if (!IS_JOB_PENDING(job_ptr) || IS_JOB_COMPLETING(job_ptr)) {
		*why = xstrdup("no longer pending");
		return SLURM_ERROR;
	}
	if (!job_ptr->priority) {
		*why = xstrdup("held");
		return SLURM_ERROR;
	}
	if (((job_ptr->array_task_id != NO_VAL) || job_ptr->array_recs) &&
	    !job_array_start_test(job_ptr)) {
		*why = xstrdup("array task limit reached");
		return SLURM_ERROR;
	}
	/* Same job as planned: its request must not have changed since. */
	details->features_use = details->features;
	details->feature_list_use = details->feature_list;
	fingerprint_ok = job_request(job_ptr, &tmp, conf->accel_gres, &live) &&
		(job_fingerprint(&live) == snap->fingerprints[pidx]);
	arena_free(&tmp);
	if (!fingerprint_ok) {
		*why = xstrdup("request changed since the snapshot");
		return SLURM_ERROR;
	}

	chosen = bit_alloc(node_record_count);
	for (uint32_t n = 0; n < start->node_cnt; n++) {
		node_record_t *node_ptr = find_node_record(start->nodes[n]);

		if (!node_ptr) {
			*why = xstrdup_printf("node %s is gone",
					      start->nodes[n]);
			goto fail;
		}
		if (!bit_test(avail_node_bitmap, node_ptr->index)) {
			*refused = true;
			*why = xstrdup_printf("node %s is not available",
					      start->nodes[n]);
			goto fail;
		}
		/* A job just ended there and its epilog is not done:
		 * select_nodes would say "busy" for a moment. Not a
		 * refusal to remember (that would keep the job off the
		 * node for REFUSAL_MEMORY_S); the next cycle tries again. */
		if (IS_NODE_COMPLETING(node_ptr)) {
			*why = xstrdup_printf("node %s is completing a job",
					      start->nodes[n]);
			goto fail;
		}
		bit_set(chosen, node_ptr->index);
	}
	if (!(part_ptr = _pick_partition(job_ptr, job, chosen))) {
		*why = xstrdup("nodes not all in one of the job's partitions");
		goto fail;
	}
	job_ptr->part_ptr = part_ptr;
	_pick_reservation(job_ptr, chosen);
	if ((*why = _gate_refusal(job_ptr)))
		goto fail;
	magnetic = _pick_magnetic(job_ptr, chosen);
	deadline_cut = _cut_to_deadline(job_ptr, &saved_limit);

	/*
	 * Backfill's trick to place a job on nodes of our choosing: exclude
	 * every other node for the duration of select_nodes(). cons_tres
	 * still picks cores and devices inside the chosen nodes, and
	 * select_nodes() still enforces limits, licenses and reservations.
	 */
	if (details->exc_node_bitmap)
		orig_exc = bit_copy(details->exc_node_bitmap);
	FREE_NULL_BITMAP(details->exc_node_bitmap);
	details->exc_node_bitmap = bit_copy(chosen);
	bit_not(details->exc_node_bitmap);
	if (orig_exc)
		bit_or(details->exc_node_bitmap, orig_exc);
	is_array_head = job_ptr->array_recs &&
		(job_ptr->array_task_id == NO_VAL);

	/*
	 * With a PreemptType, select_nodes() preempts the jobs cons_tres names
	 * when the job fits only without them, unless a preemption for this
	 * job started moments ago. Victims are the core's to choose (and
	 * apply_preemptions' to requeue): claim that moment, so such a start
	 * fails as busy and preempts nothing.
	 */
	saved_preempt_start = details->preempt_start_time;
	details->preempt_start_time = time(NULL) + PREEMPT_GUARD_S;
	/* The devices too: the ones the core checked, not the ones gres.conf's
	 * Cores= would have cons_tres prefer. */
	if (device_pick_hold(job_ptr, job, start, &pick, &pick_why) !=
	    SLURM_SUCCESS) {
		rc = ESLURM_NODES_BUSY;	/* not Slurm's refusal: see below */
	} else if (fed_mgr_job_lock(job_ptr)) {
		rc = ESLURM_FED_JOB_LOCK;
	} else {
		rc = compat_select_nodes(job_ptr, SLURMDB_JOB_FLAG_SCHED);
		if (rc == SLURM_SUCCESS)
			fed_mgr_job_start(job_ptr, job_ptr->start_time);
		else
			fed_mgr_job_unlock(job_ptr);
	}
	device_pick_release(pick, job_ptr->job_id, rc == SLURM_SUCCESS);
	if (deadline_cut && (rc != SLURM_SUCCESS))
		job_ptr->time_limit = saved_limit;

	if (job_ptr->details)
		job_ptr->details->preempt_start_time = saved_preempt_start;

	/* An array's meta record was split: the started task is job_ptr (a
	 * new job id), the rest stays pending under the old id and got a
	 * copy of our temporary exclusions. Give both the user's back. */
	if (is_array_head && job_ptr->array_job_id) {
		job_record_t *base = find_job_record(job_ptr->array_job_id);

		if (base && (base != job_ptr) && base->details) {
			base->details->preempt_start_time =
				saved_preempt_start;
			if (deadline_cut)
				base->time_limit = saved_limit;
			FREE_NULL_BITMAP(base->details->exc_node_bitmap);
			if (orig_exc)
				base->details->exc_node_bitmap =
					bit_copy(orig_exc);
		}
	}
	if (job_ptr->details) {
		FREE_NULL_BITMAP(job_ptr->details->exc_node_bitmap);
		job_ptr->details->exc_node_bitmap = orig_exc;
		orig_exc = NULL;
	}
	FREE_NULL_BITMAP(orig_exc);

	if (pick_why) {
		if (magnetic)
			job_resv_clear_magnetic_flag(job_ptr);
		*why = pick_why;	/* the next cycle plans again */
		goto fail;
	}
	if (rc != SLURM_SUCCESS) {
		if (magnetic)
			job_resv_clear_magnetic_flag(job_ptr);
		*refused = true;
		*why = xstrdup_printf("select_nodes: %s", slurm_strerror(rc));
		goto fail;
	}

	last_job_update = time(NULL);
	nodes = bitmap2node_name(chosen);
	if (!job_ptr->node_bitmap ||
	    !bit_equal(job_ptr->node_bitmap, chosen))
		error("accelpack: JobId=%u started on %s, but the plan said %s",
		      job_ptr->job_id, job_ptr->nodes, nodes);
	xfree(job_ptr->system_comment);
	job_ptr->system_comment = xstrdup_printf(
		"accelpack: started on %s by plan %" PRIu64 " (%s)",
		job_ptr->nodes, cycle, source);
	xfree(job_ptr->state_desc);
	job_ptr->state_reason = WAIT_NO_REASON;
	if (job_ptr->array_task_id != NO_VAL)
		info("accelpack: started JobId=%u on %s (array %u_%u) plan %" PRIu64 " (%s)",
		     job_ptr->job_id, job_ptr->nodes, job_ptr->array_job_id,
		     job_ptr->array_task_id, cycle, source);
	else
		info("accelpack: started JobId=%u on %s plan %" PRIu64 " (%s)",
		     job_ptr->job_id, job_ptr->nodes, cycle, source);
	if (job_ptr->batch_flag == 0)
		srun_allocate(job_ptr);
	else if (!IS_JOB_CONFIGURING(job_ptr))
		launch_job(job_ptr);
	rebuild_job_part_list(job_ptr);
	xfree(nodes);
	FREE_NULL_BITMAP(chosen);
	return SLURM_SUCCESS;

fail:
	FREE_NULL_BITMAP(chosen);
	return SLURM_ERROR;
}

/* A blocked job's planned start where users look: squeue --start shows the
 * job's start_time and sched_nodes (as backfill sets them). Written only on a
 * change, so a steady plan does not touch the record every cycle. */
static void _show_reservation(const ap_reservation_t *resv,
			      const job_index_t *idx, uint32_t cnt)
{
	job_record_t *job_ptr;

	if ((_find_pending(idx, cnt, resv->job_id) < 0) ||
	    !(job_ptr = find_job_record(resv->job_id)) ||
	    !IS_JOB_PENDING(job_ptr) || (resv->start_time <= 0))
		return;
	if ((job_ptr->start_time == (time_t) resv->start_time) &&
	    !xstrcmp(job_ptr->sched_nodes, resv->nodes))
		return;
	job_ptr->start_time = (time_t) resv->start_time;
	xfree(job_ptr->sched_nodes);
	job_ptr->sched_nodes = xstrdup(resv->nodes);
	last_job_update = time(NULL);
}

/* The snapshot's record of running job `job_id`. RET NULL if none */
static const ap_running_job_t *_find_running(const snapshot_t *snap,
					     const job_index_t *idx,
					     uint32_t job_id)
{
	int64_t i = _find_pending(idx, snap->snap.running_cnt, job_id);

	return (i < 0) ? NULL : &snap->running[i];
}

/*
 * Whether victim may still be requeued for a start on `planned`: the job the
 * core chose (same partition and QOS, past its exempt time, not yet being
 * preempted), running there, and a batch job Slurm will requeue. That last
 * check is what keeps it alive: slurm_job_preempt() kills a job whose
 * requeue fails. RET NULL if so, else why not (xfree it)
 */
static char *_victim_refusal(job_record_t *victim,
			     const ap_running_job_t *seen, bitstr_t *planned,
			     time_t now)
{
	if (!victim || !seen)
		return xstrdup("gone");
	if (!IS_JOB_RUNNING(victim) || IS_JOB_COMPLETING(victim))
		return xstrdup("no longer running");
	if (victim->preempt_time)
		return xstrdup("already being preempted");
	if (!victim->batch_flag || !victim->details ||
	    !victim->details->requeue || victim->het_job_id || !seen->requeueable)
		return xstrdup("not a requeueable batch job");
	if (xstrcmp(victim->part_ptr ? victim->part_ptr->name : NULL,
		    seen->partition) ||
	    xstrcmp(victim->qos_ptr ? victim->qos_ptr->name : NULL, seen->qos))
		return xstrdup("partition or QOS changed");
	if (victim->start_time != (time_t) seen->start_time)
		return xstrdup("restarted since the snapshot");
	if (seen->preempt_exempt_until > (int64_t) now)
		return xstrdup("inside its PreemptExemptTime");
	if (!victim->node_bitmap || !bit_overlap_any(victim->node_bitmap,
						     planned))
		return xstrdup("not on the planned nodes");
	if (slurm_preemption_enabled() &&
	    (slurm_job_preempt_mode(victim) != PREEMPT_MODE_REQUEUE))
		return xstrdup("its PreemptMode is not REQUEUE");
	return NULL;
}

/*
 * Requeue one checked victim through Slurm's preemption path: with a
 * PreemptType, slurm_job_preempt() signals it and starts GraceTime (Slurm's
 * time limit check requeues it when that ends), or requeues it at once;
 * without one, the plain requeue. RET whether it is now being preempted
 */
static bool _preempt_victim(job_record_t *victim, job_record_t *preemptor)
{
	int rc;

	if (!slurm_preemption_enabled())
		return compat_job_requeue(victim) == SLURM_SUCCESS;
	rc = slurm_job_preempt(victim, preemptor, PREEMPT_MODE_REQUEUE, false);
	/* An error with preempt_time set: the grace period runs. */
	return (rc == SLURM_SUCCESS) ||
		(IS_JOB_RUNNING(victim) && victim->preempt_time);
}

/*
 * With a PreemptType, Slurm's own rules say whom a job may preempt (its QOS's
 * Preempt list, the partitions' PriorityTier, ...): the core's choice stays
 * within them. Asked for the partition that holds the planned nodes.
 * RET NULL if every victim is one Slurm lets it preempt, else why not (xfree)
 */
static char *_slurm_rules_refusal(job_record_t *preemptor,
				  const ap_pending_job_t *job,
				  bitstr_t *planned,
				  const ap_preemption_t *pre)
{
	part_record_t *part_ptr = _pick_partition(preemptor, job, planned);
	list_t *candidates;
	char *why = NULL;

	if (!part_ptr)
		return xstrdup("the planned nodes are not all in one of its partitions");
	preemptor->part_ptr = part_ptr;
	candidates = slurm_find_preemptable_jobs(preemptor);
	for (uint32_t v = 0; !why && (v < pre->victim_cnt); v++) {
		job_record_t *victim = find_job_record(pre->victims[v]);

		if (!candidates || !victim ||
		    !list_find_first(candidates, compat_same_ptr, victim))
			why = xstrdup_printf("victim JobId=%u is not a job Slurm's preemption rules let it preempt (partition %s)",
					     pre->victims[v], part_ptr->name);
	}
	FREE_NULL_LIST(candidates);
	return why;
}

/*
 * Carry out one planned preemption: all of its victims, or none (a part of
 * them frees no legal placement). RET NULL if done, else why not (xfree it)
 */
static char *_preempt_one(const snapshot_t *snap, const job_index_t *ridx,
			  const job_index_t *idx, const ap_preemption_t *pre,
			  uint64_t cycle, apply_stats_t *stats)
{
	job_record_t *preemptor = find_job_record(pre->job_id);
	bitstr_t *planned;
	time_t now = time(NULL);
	char *why = NULL;

	if (!preemptor || !IS_JOB_PENDING(preemptor) ||
	    IS_JOB_COMPLETING(preemptor) || !preemptor->priority)
		return xstrdup("the job is no longer pending");
	planned = bit_alloc(node_record_count);
	for (uint32_t n = 0; n < pre->node_cnt; n++) {
		node_record_t *node_ptr = find_node_record(pre->nodes[n]);

		if (!node_ptr) {
			FREE_NULL_BITMAP(planned);
			return xstrdup_printf("node %s is gone", pre->nodes[n]);
		}
		bit_set(planned, node_ptr->index);
	}
	for (uint32_t v = 0; v < pre->victim_cnt; v++) {
		char *refusal = _victim_refusal(
			find_job_record(pre->victims[v]),
			_find_running(snap, ridx, pre->victims[v]), planned,
			now);

		if (refusal) {
			why = xstrdup_printf("victim JobId=%u %s",
					     pre->victims[v], refusal);
			xfree(refusal);
			FREE_NULL_BITMAP(planned);
			return why;
		}
	}
	if (slurm_preemption_enabled()) {
		int64_t pidx = _find_pending(idx, snap->snap.pending_cnt,
					     pre->job_id);

		why = (pidx < 0) ? xstrdup("not in the snapshot") :
			_slurm_rules_refusal(preemptor, &snap->pending[pidx],
					     planned, pre);
		if (why) {
			FREE_NULL_BITMAP(planned);
			return why;
		}
	}
	FREE_NULL_BITMAP(planned);
	for (uint32_t v = 0; v < pre->victim_cnt; v++) {
		job_record_t *victim = find_job_record(pre->victims[v]);

		info("accelpack: requeue %pJ for %pJ (planned, plan %" PRIu64 ")",
		     victim, preemptor, cycle);
		job_request_note_victim(victim);
		if (_preempt_victim(victim, preemptor))
			stats->requeued++;
		else
			error("accelpack: requeue of %pJ for %pJ failed",
			      victim, preemptor);
	}
	last_job_update = now;
	return NULL;
}

/*
 * Victims of earlier cycles whose GraceTime is over: requeue them now rather
 * than at Slurm's next time-limit pass (about every 30 s), as that pass would
 * (slurm_job_preempt() requeues a job whose grace ended). Still only a
 * requeueable batch job whose PreemptMode is REQUEUE.
 */
static void _finish_grace(const ap_preemption_t *pre, uint64_t cycle,
			  apply_stats_t *stats)
{
	job_record_t *preemptor = find_job_record(pre->job_id);
	time_t now = time(NULL);

	if (!preemptor || !IS_JOB_PENDING(preemptor) ||
	    !slurm_preemption_enabled())
		return;
	for (uint32_t a = 0; a < pre->awaiting_cnt; a++) {
		job_record_t *victim = find_job_record(pre->awaiting[a]);

		if (!victim || !IS_JOB_RUNNING(victim) ||
		    IS_JOB_COMPLETING(victim) || !victim->preempt_time ||
		    (now < victim->end_time) || !victim->batch_flag ||
		    !victim->details || !victim->details->requeue ||
		    victim->het_job_id ||
		    (slurm_job_preempt_mode(victim) != PREEMPT_MODE_REQUEUE))
			continue;
		info("accelpack: requeue %pJ for %pJ (grace over, plan %" PRIu64 ")",
		     victim, preemptor, cycle);
		if (slurm_job_preempt(victim, preemptor, PREEMPT_MODE_REQUEUE,
				      false) == SLURM_SUCCESS)
			stats->requeued++;
	}
}

/* The core's planned preemptions; the built-in policy never preempts. */
static void _apply_preemptions(const snapshot_t *snap, const ap_plan_t *plan,
			       const job_index_t *idx, const char *source,
			       uint64_t cycle, const accelpack_conf_t *conf,
			       lock_clock_t *lc, apply_stats_t *stats)
{
	uint32_t cnt = snap->snap.running_cnt;
	job_index_t *ridx;

	if (!plan->preemption_cnt || xstrcmp(source, "core"))
		return;
	ridx = xcalloc(cnt ? cnt : 1, sizeof(*ridx));
	for (uint32_t i = 0; i < cnt; i++) {
		ridx[i].job_id = snap->running[i].job_id;
		ridx[i].index = i;
	}
	qsort(ridx, cnt, sizeof(*ridx), _cmp_job_index);
	for (uint32_t p = 0; p < plan->preemption_cnt; p++) {
		const ap_preemption_t *pre = &plan->preemptions[p];
		char *why;

		if (lock_clock_maybe_yield(lc, conf->max_lock_ms,
					   conf->yield_ms)) {
			stats->aborted = true;
			break;
		}
		_finish_grace(pre, cycle, stats);
		if (!pre->victim_cnt)
			continue;
		if ((why = _preempt_one(snap, ridx, idx, pre, cycle, stats))) {
			verbose("accelpack: JobId=%u preempts nothing (plan %" PRIu64 "): %s",
				pre->job_id, cycle, why);
			stats->preempt_skipped++;
			xfree(why);
		}
	}
	xfree(ridx);
}

static enum job_state_reason _reason(ap_reason_code_t code)
{
	switch (code) {
	case AP_REASON_PRIORITY:
	case AP_REASON_CYCLE_LIMIT:
		return WAIT_PRIORITY;
	default:
		return WAIT_RESOURCES;
	}
}

/*
 * A planned start not made leaves its nodes other than the plan expected: the
 * next job there gets from cons_tres the devices (GPUs, shards) the missing one
 * was planned to take, not those the core chose for it. Later starts on those
 * nodes wait for the next cycle, which plans again from what is there.
 */
static void _note_missed(const ap_start_t *start, bitstr_t *missed)
{
	for (uint32_t n = 0; n < start->node_cnt; n++) {
		node_record_t *node_ptr = find_node_record(start->nodes[n]);

		if (node_ptr && (node_ptr->index < bit_size(missed)))
			bit_set(missed, node_ptr->index);
	}
}

/* RET the first node of start where an earlier start was not made, or NULL */
static const char *_after_missed(const ap_start_t *start, bitstr_t *missed)
{
	for (uint32_t n = 0; n < start->node_cnt; n++) {
		node_record_t *node_ptr = find_node_record(start->nodes[n]);

		if (node_ptr && (node_ptr->index < bit_size(missed)) &&
		    bit_test(missed, node_ptr->index))
			return start->nodes[n];
	}
	return NULL;
}

extern void apply_plan(const snapshot_t *snap, const ap_plan_t *plan,
		       const char *source, uint64_t cycle,
		       const accelpack_conf_t *conf, lock_clock_t *lc,
		       apply_stats_t *stats)
{
	static uint32_t last_failed_job = 0;
	uint32_t cnt = snap->snap.pending_cnt;
	job_index_t *idx = xcalloc(cnt ? cnt : 1, sizeof(*idx));
	bitstr_t *reserved;	/* pending[] indices with a planned start */
	bitstr_t *missed = bit_alloc(node_record_count ? node_record_count : 1);

	for (uint32_t i = 0; i < cnt; i++) {
		idx[i].job_id = snap->pending[i].job_id;
		idx[i].index = i;
	}
	qsort(idx, cnt, sizeof(*idx), _cmp_job_index);
	job_request_clear_stale_grace();
	if (controller_stopping()) {
		/* Nothing is started or preempted: the next slurmctld plans
		 * again from the state this one saves. */
		info("accelpack: plan %" PRIu64 " not applied: slurmctld is stopping (%u starts left pending)",
		     cycle, plan->start_cnt);
		stats->aborted = true;
	} else {
		_apply_preemptions(snap, plan, idx, source, cycle, conf, lc,
				   stats);
	}
	reserved = bit_alloc(cnt ? cnt : 1);
	for (uint32_t r = 0; r < plan->reservation_cnt; r++) {
		int64_t p = _find_pending(idx, cnt,
					  plan->reservations[r].job_id);
		if (p >= 0)
			bit_set(reserved, p);
	}

	for (uint32_t s = 0; !stats->aborted && s < plan->start_cnt; s++) {
		const ap_start_t *start = &plan->starts[s];
		int64_t pidx = _find_pending(idx, cnt, start->job_id);
		char *why = NULL;
		const char *missed_node;
		bool refused = false;

		/* Checked before every start, not once: the signal that stops
		 * slurmctld does not wait for the locks we hold. */
		if (controller_stopping() ||
		    lock_clock_maybe_yield(lc, conf->max_lock_ms,
					   conf->yield_ms)) {
			stats->aborted = true;
			break;
		}
		if (pidx < 0) {	/* the bridge checks this; belt and braces */
			stats->dropped++;
			continue;
		}
		if ((missed_node = _after_missed(start, missed))) {
			why = xstrdup_printf("an earlier planned start on %s was not made",
					     missed_node);
		} else if (_start_one(snap, pidx, start, source, cycle, conf,
				      &why, &refused) == SLURM_SUCCESS) {
			refusal_forget(start->job_id);
			stats->started++;
			continue;
		}
		_note_missed(start, missed);
		stats->dropped++;
		if (refused)
			refusal_record(start, why, time(NULL));
		/* Say it once per job, not every 100 ms while it repeats. */
		if (start->job_id != last_failed_job) {
			verbose("accelpack: JobId=%u not started (%s plan %" PRIu64 "): %s",
				start->job_id, source, cycle, why);
			last_failed_job = start->job_id;
		} else {
			debug2("accelpack: JobId=%u not started: %s",
			       start->job_id, why);
		}
		xfree(why);
	}

	for (uint32_t r = 0; !stats->aborted && r < plan->reason_cnt; r++) {
		const ap_reason_t *reason = &plan->reasons[r];
		const ap_pending_job_t *job;
		job_record_t *job_ptr;
		char *desc = NULL;
		int64_t pidx;

		if (((r & 63) == 63) &&
		    lock_clock_maybe_yield(lc, conf->max_lock_ms,
					   conf->yield_ms)) {
			stats->aborted = true;
			break;
		}
		if ((pidx = _find_pending(idx, cnt, reason->job_id)) < 0 ||
		    !(job_ptr = find_job_record(reason->job_id)) ||
		    !IS_JOB_PENDING(job_ptr))
			continue;
		/* Only replace reasons a scheduler owns; Dependency, Held,
		 * limits and the like stay as Slurm set them. */
		if ((job_ptr->state_reason != WAIT_NO_REASON) &&
		    (job_ptr->state_reason != WAIT_RESOURCES) &&
		    (job_ptr->state_reason != WAIT_PRIORITY))
			continue;
		/* What Slurm said when it refused the core's starts: the
		 * part of the story only the controller knows. */
		job = &snap->pending[pidx];
		if (job->refused_starts && job->refused_reason)
			desc = xstrdup_printf("%s; Slurm refused %u starts: %s",
					      reason->message,
					      job->refused_starts,
					      job->refused_reason);
		if (_set_reason(job_ptr, _reason(reason->code),
				desc ? desc : reason->message))
			stats->reasons++;
		xfree(desc);
		/* No planned start any more: squeue --start says N/A again. */
		if (!bit_test(reserved, pidx) && job_ptr->sched_nodes) {
			xfree(job_ptr->sched_nodes);
			job_ptr->start_time = 0;
			last_job_update = time(NULL);
		}
	}

	for (uint32_t r = 0; !stats->aborted && r < plan->reservation_cnt; r++) {
		if (((r & 63) == 63) &&
		    lock_clock_maybe_yield(lc, conf->max_lock_ms,
					   conf->yield_ms)) {
			stats->aborted = true;
			break;
		}
		_show_reservation(&plan->reservations[r], idx, cnt);
	}
	xfree(idx);
	FREE_NULL_BITMAP(reserved);
	FREE_NULL_BITMAP(missed);
}
