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
#include "src/slurmctld/slurmctld.h"

#include "copy_util.h"
#include "job_request.h"
#include "slurm_compat.h"

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
		uint64_t per_node = 0;

		if (!gres_js || !copy_in_list(accel_gres, gres_state->gres_name))
			continue;
		if (out->gres_name &&
		    xstrcmp(out->gres_name, gres_state->gres_name))
			continue;	/* one accelerator GRES per job */
		if (gres_js->gres_per_node && gres_js->gres_per_node != NO_VAL64)
			per_node = gres_js->gres_per_node;
		else if (gres_js->gres_per_job &&
			 gres_js->gres_per_job != NO_VAL64)
			/* --gpus=N: spread over the job's nodes, rounding
			 * up (select_nodes distributes the exact total) */
			per_node = (gres_js->gres_per_job + num_nodes - 1) /
				   num_nodes;
		else if (gres_js->gres_per_task &&
			 gres_js->gres_per_task != NO_VAL64 && job_ptr->details) {
			uint64_t tasks = job_ptr->details->ntasks_per_node;

			if (!tasks || tasks == NO_VAL16)
				tasks = (job_ptr->details->num_tasks +
					 num_nodes - 1) / num_nodes;
			per_node = gres_js->gres_per_task * (tasks ? tasks : 1);
		} else if (gres_js->gres_per_socket &&
			   gres_js->gres_per_socket != NO_VAL64)
			per_node = gres_js->gres_per_socket; /* >= one socket */
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

extern bool job_request(job_record_t *job_ptr, arena_t *arena,
			const char *accel_gres, ap_pending_job_t *out)
{
	job_details_t *details = job_ptr->details;
	uint32_t num_nodes, cpus;
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
	out->submit_time = details->submit_time;
	if ((job_ptr->time_limit != NO_VAL) &&
	    (job_ptr->time_limit != INFINITE))
		out->time_limit_s = (int64_t) job_ptr->time_limit * 60;
	num_nodes = (details->min_nodes && details->min_nodes != NO_VAL) ?
		details->min_nodes : 1;
	out->num_nodes = num_nodes;

	cpus = details->pn_min_cpus;
	if (details->min_cpus && (details->min_cpus != NO_VAL) &&
	    ((details->min_cpus + num_nodes - 1) / num_nodes > cpus))
		cpus = (details->min_cpus + num_nodes - 1) / num_nodes;
	if (details->ntasks_per_node && details->ntasks_per_node != NO_VAL16) {
		uint32_t per = details->ntasks_per_node *
			((details->cpus_per_task &&
			  details->cpus_per_task != NO_VAL16) ?
			 details->cpus_per_task : 1);
		if (per > cpus)
			cpus = per;
	}
	out->cpus_per_node = cpus ? cpus : 1;

	mem = details->pn_min_memory;
	if (mem == NO_VAL64)
		mem = 0;
	if (mem & MEM_PER_CPU)
		mem = (mem & ~MEM_PER_CPU) * out->cpus_per_node;
	out->mem_per_node_mib = mem;

	/* "a&b" and "a,b" are lists of required features; anything richer
	 * (|, [], *count) is passed as its plain names and left for
	 * select_nodes to enforce. */
	out->feature_cnt = copy_split(arena, details->features_use ?
				  details->features_use : details->features,
				  "&,|[]()", &out->features);
	out->req_node_cnt = copy_node_names(arena, details->req_node_bitmap,
					  &out->req_nodes);
	out->exc_node_cnt = copy_node_names(arena, details->exc_node_bitmap,
					  &out->exc_nodes);
	_job_gres(job_ptr, num_nodes, accel_gres, arena, out);
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
	h = _fnv_str(h, job->gres_name);
	h = _fnv_strs(h, job->gres_types, job->gres_type_cnt);
	h = _fnv_strs(h, job->features, job->feature_cnt);
	h = _fnv_strs(h, job->req_nodes, job->req_node_cnt);
	h = _fnv_strs(h, job->exc_nodes, job->exc_node_cnt);
	return h;
}
