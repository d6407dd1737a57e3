/*****************************************************************************\
 *  job_request.c - what one pending job asks for, in the bridge's terms, and a
 *  fingerprint of it.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/job_scheduler.h"
#include "src/slurmctld/reservation.h"
#include "src/slurmctld/slurmctld.h"

#include "copy_util.h"
#include "feature_expr.h"
#include "job_request.h"
#include "slurm_compat.h"
#include "snapshot_shards.h"
#include "victim_memo.h"

/* The largest request the core takes (proto_convert.cc: counts up to 2^24, memory
 * up to 2^40 MiB); past them it refuses the whole snapshot. */
#define AP_MAX_REQUEST_CPUS (1ULL << 24)
#define AP_MAX_REQUEST_MEM_MIB (1ULL << 40)

/* The plugin's victims' submit times before requeue. Agent thread only (the
 * snapshot and apply both run there, under slurmctld's job lock). */
static victim_memo_t victims;

extern void job_request_note_victim(job_record_t *job_ptr)
{
	if (!job_ptr->details)
		return;
	if (!victim_memo_remember(&victims, job_ptr->job_id,
				  job_ptr->restart_cnt,
				  job_ptr->details->submit_time))
		error("accelpack: out of memory: %pJ will queue by its requeue time",
		      job_ptr);
}

static bool _victim_still_queued(uint32_t job_id, void *arg)
{
	job_record_t *job_ptr = find_job_record(job_id);

	return job_ptr && !IS_JOB_FINISHED(job_ptr);
}

extern void job_request_forget_ended_victims(void)
{
	victim_memo_prune(&victims, _victim_still_queued, NULL);
}

extern void job_request_clear_stale_grace(void)
{
	for (uint32_t i = 0; COMPAT_GRACE_PREEMPT && (i < victims.cnt); i++) {
		job_record_t *job_ptr = find_job_record(victims.entries[i].job_id);

		/* Pending and done completing: its first run's end is handled,
		 * the flag can only requeue the rerun. */
		if (!job_ptr || !IS_JOB_PENDING(job_ptr) ||
		    IS_JOB_COMPLETING(job_ptr) ||
		    !(job_ptr->bit_flags & COMPAT_GRACE_PREEMPT))
			continue;
		job_ptr->bit_flags &= ~COMPAT_GRACE_PREEMPT;
		info("accelpack: %pJ requeued after its grace time: GRACE_PREEMPT cleared",
		     job_ptr);
	}
}

extern void job_request_fini(void)
{
	victim_memo_free(&victims);
}

/* Slurm leaves a count the user did not give as 0 or NO_VAL64. */
static bool _given(uint64_t count)
{
	return count && (count != NO_VAL64);
}

extern uint64_t job_gres_per_node(job_record_t *job_ptr, void *gres_data,
				  uint32_t num_nodes)
{
	gres_job_state_t *gres_js = gres_data;
	uint64_t per_node = 0;

	if (_given(gres_js->gres_per_node))
		per_node = gres_js->gres_per_node;
	else if (_given(gres_js->gres_per_job))
		/* --gpus=N: spread over the job's nodes, rounding up
		 * (select_nodes distributes the exact total) */
		per_node = (gres_js->gres_per_job + num_nodes - 1) / num_nodes;
	else if (_given(gres_js->gres_per_task) && job_ptr->details) {
		uint64_t tasks = job_ptr->details->ntasks_per_node;

		if (!tasks || tasks == NO_VAL16)
			tasks = (job_ptr->details->num_tasks + num_nodes - 1) /
				num_nodes;
		per_node = gres_js->gres_per_task * (tasks ? tasks : 1);
	} else if (_given(gres_js->gres_per_socket))
		per_node = gres_js->gres_per_socket; /* >= one socket */
	return per_node;
}

/* Accelerators a job asks for on each node (first accelerator GRES). */
static void _job_gres(job_record_t *job_ptr, uint32_t num_nodes,
		      const char *accel_gres, arena_t *arena,
		      ap_pending_job_t *out)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	const char **types;
	uint32_t cap = 0;

	if (!job_ptr->gres_list_req)
		return;
	cap = (uint32_t) list_count(job_ptr->gres_list_req);
	if (!cap)
		return;
	types = arena_alloc(arena, cap * sizeof(char *));
	iter = list_iterator_create(job_ptr->gres_list_req);
	while ((gres_state = list_next(iter))) {
		gres_job_state_t *gres_js = gres_state->gres_data;
		uint64_t per_node;

		if (!gres_js || !copy_in_list(accel_gres, gres_state->gres_name))
			continue;
		if (out->gres_name &&
		    xstrcmp(out->gres_name, gres_state->gres_name))
			continue;	/* one accelerator GRES per job */
		per_node = job_gres_per_node(job_ptr, gres_js, num_nodes);
		if (!out->gres_name) {
			out->gres_name = arena_strdup(arena,
						      gres_state->gres_name);
			out->gres_per_node = copy_u32(per_node);
		} else if (per_node > out->gres_per_node) {
			out->gres_per_node = copy_u32(per_node);
		}
		if (gres_js->type_name && gres_js->type_name[0])
			types[out->gres_type_cnt++] =
				arena_strdup(arena, gres_js->type_name);
	}
	list_iterator_destroy(iter);
	out->gres_types = types;
}

/* Whether the job asks exactly its count of GRES `name` of each node: per node,
 * or per job on one node. Per task or per socket, the count on a node follows
 * the cores cons_tres picks, which the core does not know. */
static bool _exact_per_node(job_record_t *job_ptr, const char *name,
			    uint32_t node_cnt)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	bool exact = false;
	int entries = 0;

	if (!job_ptr->gres_list_req)
		return false;
	iter = list_iterator_create(job_ptr->gres_list_req);
	while ((gres_state = list_next(iter))) {
		gres_job_state_t *gres_js = gres_state->gres_data;

		if (!gres_js || xstrcmp(gres_state->gres_name, name))
			continue;
		entries++;
		exact = (_given(gres_js->gres_per_node) ||
			 ((node_cnt == 1) &&
			  _given(gres_js->gres_per_job))) &&
			!_given(gres_js->gres_per_task) &&
			!_given(gres_js->gres_per_socket);
	}
	list_iterator_destroy(iter);
	return exact && (entries == 1);	/* npu:a:1,npu:b:1: left alone */
}

/*
 * --constraint, as feature_expr.h reads it: what every node needs, alternatives a
 * node needs one of, and "[a|b]" (all the job's nodes take one alternative).
 * Counts it cannot model make the constraint weaker, never stronger:
 * select_nodes has the last word (a start it refuses is remembered, see
 * refusals.h). An expression too large to read: no feature constraint here.
 */
static void _job_features(const char *expr, arena_t *arena,
			  ap_pending_job_t *out)
{
	feature_expr_t parsed;
	char buf[2048];

	if (!expr || !expr[0] || !feature_expr_parse(expr, buf, sizeof(buf),
						     &parsed))
		return;
	out->feature_cnt = copy_split(arena, parsed.all, "&", &out->features);
	out->feature_any_cnt = copy_split(arena, parsed.any, "|",
					  &out->feature_any);
	out->feature_any_matching = parsed.matching && out->feature_any_cnt > 1;
}

extern list_t *job_magnetic_queue(job_record_t *job_ptr)
{
	list_t *queue;
	job_queue_req_t req = { .job_ptr = job_ptr,
				.part_ptr = job_ptr->part_ptr,
				.prio = job_ptr->priority };

	/* Slurm creates both lists together: with resv_list there, counting
	 * the magnetic ones is safe, and it keeps a cycle without any from
	 * building a list per pending job. */
	if (!resv_list || !get_magnetic_resv_count() || !job_ptr->part_ptr ||
	    job_ptr->resv_list || job_ptr->het_job_id || job_ptr->resv_name)
		return NULL;	/* (22.05 logs a "security violation" per
				 * denied reservation when resv_name is set) */
	queue = list_create(xfree_ptr);
	req.job_queue = queue;
	job_resv_append_magnetic(&req);
	if (!list_count(queue))
		FREE_NULL_LIST(queue);
	return queue;
}

/* MAGNETIC reservations the job may use without asking: its windows too, but
 * it may run anywhere else as well. */
static void _job_magnetic(job_record_t *job_ptr, arena_t *arena,
			  ap_pending_job_t *out)
{
	list_t *queue = job_magnetic_queue(job_ptr);
	list_itr_t *iter;
	job_queue_rec_t *rec;
	const char **names;

	if (!queue)
		return;
	names = arena_alloc(arena, (size_t) list_count(queue) * sizeof(char *));
	iter = list_iterator_create(queue);
	while ((rec = list_next(iter))) {
		/* "prefer" queues a job twice per reservation */
		if (!rec->resv_ptr ||
		    (out->reservation_cnt &&
		     !xstrcmp(names[out->reservation_cnt - 1],
			      rec->resv_ptr->name)))
			continue;
		names[out->reservation_cnt++] =
			arena_strdup(arena, rec->resv_ptr->name);
	}
	list_iterator_destroy(iter);
	FREE_NULL_LIST(queue);
	out->reservations = names;
	out->reservation_only = false;
}

/* Advanced reservations the job asked for (--reservation=a[,b]). Without FLEX
 * it may run only inside one of them. A job that asked for none may be drawn
 * into MAGNETIC ones. */
static void _job_reservations(job_record_t *job_ptr, arena_t *arena,
			      ap_pending_job_t *out)
{
	const char **names;
	slurmctld_resv_t *resv;
	bool flex = false;

	if (job_ptr->resv_list && list_count(job_ptr->resv_list)) {
		list_itr_t *iter = list_iterator_create(job_ptr->resv_list);

		names = arena_alloc(arena, (size_t) list_count(
			job_ptr->resv_list) * sizeof(char *));
		while ((resv = list_next(iter))) {
			names[out->reservation_cnt++] =
				arena_strdup(arena, resv->name);
			flex = flex || (resv->flags & RESERVE_FLAG_FLEX);
		}
		list_iterator_destroy(iter);
	} else if (job_ptr->resv_name && job_ptr->resv_name[0] &&
		   !(job_ptr->bit_flags & JOB_MAGNETIC)) {
		names = arena_alloc(arena, sizeof(char *));
		names[out->reservation_cnt++] =
			arena_strdup(arena, job_ptr->resv_name);
		flex = job_ptr->resv_ptr &&
		       (job_ptr->resv_ptr->flags & RESERVE_FLAG_FLEX);
	} else {
		_job_magnetic(job_ptr, arena, out);
		return;
	}
	out->reservations = names;
	out->reservation_only = !flex;
}

/* WHOLE_NODE_USER alone: a value up to 22.05 (where 0x03 is MCS) and a bit
 * since (with MCS and TOPO bits of their own), so only the exact value is
 * "user"; any other whole_node is a whole-node form. */
extern bool job_exclusive_user(job_record_t *job_ptr)
{
	job_details_t *details = job_ptr->details;
	part_record_t *part_ptr = job_ptr->part_ptr;

	if (details && (details->whole_node == WHOLE_NODE_USER))
		return true;
	return part_ptr && (part_ptr->flags & PART_FLAG_EXCLUSIVE_USER);
}

/* Every way Slurm gives a job its nodes whole: --exclusive[=mcs|topo]
 * (whole_node other than =user), no sharing (share_res 0), --core-spec or an
 * OverSubscribe=EXCLUSIVE partition (max_share 0). --exclusive=mcs is treated
 * as whole (sharing within an MCS label is not modelled: when in doubt, wait
 * for an idle node). */
static bool _exclusive(job_record_t *job_ptr)
{
	job_details_t *details = job_ptr->details;
	part_record_t *part_ptr = job_ptr->part_ptr;

	if ((details->whole_node && (details->whole_node != WHOLE_NODE_USER)) ||
	    (details->share_res == 0))
		return true;
	if (details->core_spec && (details->core_spec != NO_VAL16))
		return true;
	return part_ptr && (part_ptr->max_share == 0);
}

extern bool job_request(job_record_t *job_ptr, arena_t *arena,
			const char *accel_gres, ap_pending_job_t *out)
{
	job_details_t *details = job_ptr->details;
	uint32_t num_nodes;
	uint64_t cpus;
	uint64_t mem;

	if (!details || job_ptr->het_job_id)
		return false;
	memset(out, 0, sizeof(*out));
	out->job_id = job_ptr->job_id;
	out->user = arena_strdup(arena, job_ptr->user_name);
	out->account = arena_strdup(arena, job_ptr->account);
	out->qos = arena_strdup(arena, job_ptr->qos_ptr ?
				job_ptr->qos_ptr->name : NULL);
	out->priority = job_ptr->priority;
	out->submit_time = victim_memo_submit_time(&victims, job_ptr->job_id,
						   job_ptr->restart_cnt,
						   details->submit_time);
	if ((job_ptr->time_limit != NO_VAL) &&
	    (job_ptr->time_limit != INFINITE))
		out->time_limit_s = (int64_t) job_ptr->time_limit * 60;
	num_nodes = (details->min_nodes && details->min_nodes != NO_VAL) ?
		details->min_nodes : 1;
	out->num_nodes = num_nodes;

	/* In 64 bits, capped at the largest values the core takes: a request
	 * near the types' limits must read as huge (it fits nowhere), never
	 * wrap round to small, nor go past what the core accepts (it would
	 * refuse the whole snapshot). */
	cpus = details->pn_min_cpus;
	if (details->min_cpus && (details->min_cpus != NO_VAL)) {
		uint64_t spread = ((uint64_t) details->min_cpus + num_nodes - 1) /
				  num_nodes;
		if (spread > cpus)
			cpus = spread;
	}
	if (details->ntasks_per_node && details->ntasks_per_node != NO_VAL16) {
		uint64_t per = (uint64_t) details->ntasks_per_node *
			((details->cpus_per_task &&
			  details->cpus_per_task != NO_VAL16) ?
			 details->cpus_per_task : 1);
		if (per > cpus)
			cpus = per;
	}
	if (cpus > AP_MAX_REQUEST_CPUS)
		cpus = AP_MAX_REQUEST_CPUS;
	out->cpus_per_node = cpus ? cpus : 1;

	mem = details->pn_min_memory;
	if (mem == NO_VAL64)
		mem = 0;
	if (mem & MEM_PER_CPU) {
		mem &= ~MEM_PER_CPU;
		mem = (mem > (AP_MAX_REQUEST_MEM_MIB / out->cpus_per_node)) ?
		      AP_MAX_REQUEST_MEM_MIB : mem * out->cpus_per_node;
	}
	if (mem > AP_MAX_REQUEST_MEM_MIB)
		mem = AP_MAX_REQUEST_MEM_MIB;
	out->mem_per_node_mib = mem;

	_job_features(details->features_use ? details->features_use :
		      details->features, arena, out);
	out->req_node_cnt = copy_node_names(arena, details->req_node_bitmap,
					  &out->req_nodes);
	out->exc_node_cnt = copy_node_names(arena, details->exc_node_bitmap,
					  &out->exc_nodes);
	_job_gres(job_ptr, num_nodes, accel_gres, arena, out);
	shards_request(job_ptr, num_nodes, arena, out);
	_job_reservations(job_ptr, arena, out);
	out->exclusive = _exclusive(job_ptr);
	/* A whole node's job gets every device there, whatever the plan says. */
	out->exact_per_node = out->gres_per_node && !out->exclusive &&
		_exact_per_node(job_ptr,
				out->shards_per_node ? SHARD_GRES_NAME :
						       out->gres_name,
				num_nodes);
	out->exclusive_user = !out->exclusive && job_exclusive_user(job_ptr);
	out->user_id = job_ptr->user_id;
	return true;
}

static uint64_t _fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t _fnv_str(uint64_t h, const char *s)
{
	h = _fnv(h, s ? s : "", s ? strlen(s) : 0);
	return _fnv(h, "", 1);	/* separator: "ab","c" != "a","bc" */
}

static uint64_t _fnv_strs(uint64_t h, const char *const *items, uint32_t cnt)
{
	h = _fnv(h, &cnt, sizeof(cnt));
	for (uint32_t i = 0; i < cnt; i++)
		h = _fnv_str(h, items[i]);
	return h;
}

extern uint64_t job_fingerprint(const ap_pending_job_t *job)
{
	uint64_t h = 14695981039346656037ULL;

	h = _fnv(h, &job->job_id, sizeof(job->job_id));
	h = _fnv(h, &job->num_nodes, sizeof(job->num_nodes));
	h = _fnv(h, &job->cpus_per_node, sizeof(job->cpus_per_node));
	h = _fnv(h, &job->mem_per_node_mib, sizeof(job->mem_per_node_mib));
	h = _fnv(h, &job->gres_per_node, sizeof(job->gres_per_node));
	h = _fnv(h, &job->shards_per_node, sizeof(job->shards_per_node));
	h = _fnv(h, &job->exact_per_node, sizeof(job->exact_per_node));
	h = _fnv(h, &job->exclusive, sizeof(job->exclusive));
	h = _fnv(h, &job->exclusive_user, sizeof(job->exclusive_user));
	h = _fnv(h, &job->user_id, sizeof(job->user_id));
	h = _fnv_str(h, job->gres_name);
	h = _fnv_strs(h, job->gres_types, job->gres_type_cnt);
	h = _fnv_strs(h, job->features, job->feature_cnt);
	h = _fnv_strs(h, job->feature_any, job->feature_any_cnt);
	h = _fnv(h, &job->feature_any_matching,
		 sizeof(job->feature_any_matching));
	h = _fnv_strs(h, job->reservations, job->reservation_cnt);
	h = _fnv_strs(h, job->req_nodes, job->req_node_cnt);
	h = _fnv_strs(h, job->exc_nodes, job->exc_node_cnt);
	return h;
}
