/*****************************************************************************\
 *  snapshot_running.c - copy running (and suspended) jobs: nodes, devices, CPUs and
 *  memory per node, start and time limit.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/common/job_resources.h"
#include "src/common/node_conf.h"
#include "src/common/xmalloc.h"
#include "src/slurmctld/slurmctld.h"

#include "copy_util.h"
#include "job_request.h"
#include "slurm_compat.h"
#include "snapshot.h"
#include "snapshot_shards.h"

/* Allocations of one running job on the node with job-relative index j. */
static uint32_t _running_allocs(job_record_t *job_ptr, node_record_t *node_ptr,
				int j, const char *accel_gres, arena_t *arena,
				ap_alloc_t *out, uint32_t cap)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	uint32_t cnt = 0;

	if (!job_ptr->gres_list_alloc)
		return 0;
	iter = list_iterator_create(job_ptr->gres_list_alloc);
	while ((gres_state = list_next(iter)) && (cnt < cap)) {
		gres_job_state_t *gres_js = gres_state->gres_data;
		ap_alloc_t *alloc;
		uint64_t count;

		if (!gres_js || !copy_in_list(accel_gres, gres_state->gres_name) ||
		    (j >= (int) gres_js->node_cnt) ||
		    !gres_js->gres_cnt_node_alloc)
			continue;
		count = gres_js->gres_cnt_node_alloc[j];
		if (!count)
			continue;
		alloc = &out[cnt++];
		alloc->node = arena_strdup(arena, node_ptr->name);
		alloc->gres_name = arena_strdup(arena, gres_state->gres_name);
		alloc->gres_type = arena_strdup(arena, gres_js->type_name);
		alloc->device_count = copy_u32(count);
		if (gres_js->gres_bit_alloc && gres_js->gres_bit_alloc[j]) {
			bitstr_t *bits = gres_js->gres_bit_alloc[j];
			bitoff_t size = bit_size(bits);
			uint32_t *idx = arena_alloc(arena, (size_t) (size ?
							size : 1) *
						    sizeof(uint32_t));

			for (bitoff_t b = 0; b < size; b++)
				if (bit_test(bits, b))
					idx[alloc->device_index_cnt++] =
						(uint32_t) b;
			alloc->device_indices = idx;
		}
	}
	list_iterator_destroy(iter);
	return cnt;
}

/* What the core needs to choose preemption victims among running jobs: only a
 * requeueable batch job may be one (a requeue that fails makes Slurm kill the
 * job), never during its PreemptExemptTime, never twice (draining). */
static void _preempt_fields(job_record_t *job_ptr, arena_t *arena,
			    ap_running_job_t *run)
{
	uint32_t exempt = slurm_conf.preempt_exempt_time;

	if (job_ptr->part_ptr)
		run->partition = arena_strdup(arena, job_ptr->part_ptr->name);
	if (job_ptr->qos_ptr) {
		run->qos = arena_strdup(arena, job_ptr->qos_ptr->name);
		if ((job_ptr->qos_ptr->preempt_exempt_time != INFINITE) &&
		    (job_ptr->qos_ptr->preempt_exempt_time != NO_VAL))
			exempt = job_ptr->qos_ptr->preempt_exempt_time;
	}
	/* Het jobs are requeued whole: never a victim of one component. */
	run->requeueable = job_ptr->batch_flag && job_ptr->details &&
		job_ptr->details->requeue && !job_ptr->het_job_id &&
		IS_JOB_RUNNING(job_ptr);
	run->draining = job_ptr->preempt_time != 0;
	if (exempt && (exempt != INFINITE) && (exempt != NO_VAL))
		run->preempt_exempt_until = (int64_t) job_ptr->start_time +
			exempt;
}

extern void snapshot_running(snapshot_t *snap, const char *accel_gres)
{
	list_itr_t *iter = list_iterator_create(job_list);
	job_record_t *job_ptr;
	uint32_t cap = 0;

	while ((job_ptr = list_next(iter)))
		if (IS_JOB_RUNNING(job_ptr) || IS_JOB_SUSPENDED(job_ptr))
			cap++;
	snap->running = arena_alloc(&snap->arena,
				    (cap ? cap : 1) * sizeof(ap_running_job_t));
	list_iterator_reset(iter);
	while ((job_ptr = list_next(iter)) && (snap->snap.running_cnt < cap)) {
		ap_running_job_t *run;
		job_resources_t *res = job_ptr->job_resrcs;
		uint32_t gres_cnt, nodes, per_node;
		ap_alloc_t *allocs;
		int j = 0;

		if (!(IS_JOB_RUNNING(job_ptr) || IS_JOB_SUSPENDED(job_ptr)) ||
		    !job_ptr->node_bitmap)
			continue;
		run = &snap->running[snap->snap.running_cnt++];
		run->job_id = job_ptr->job_id;
		run->start_time = job_ptr->start_time;
		if ((job_ptr->time_limit != NO_VAL) &&
		    (job_ptr->time_limit != INFINITE))
			run->time_limit_s = (int64_t) job_ptr->time_limit * 60;
		_preempt_fields(job_ptr, &snap->arena, run);
		run->user_id = job_ptr->user_id;
		run->exclusive_user = job_exclusive_user(job_ptr);
		/* A partial reservation's own jobs run in its part. With
		 * --reservation=a,b resv_name keeps the list and resv_ptr is
		 * the one it started in (job_queue_rec_resv_list()). */
		if (job_ptr->resv_ptr && job_ptr->resv_ptr->name)
			run->reservation = arena_strdup(&snap->arena,
							job_ptr->resv_ptr->name);
		else if (job_ptr->resv_name && job_ptr->resv_name[0])
			run->reservation = arena_strdup(&snap->arena,
							job_ptr->resv_name);
		nodes = (uint32_t) bit_set_count(job_ptr->node_bitmap);
		gres_cnt = job_ptr->gres_list_alloc ?
			(uint32_t) list_count(job_ptr->gres_list_alloc) : 0;
		per_node = gres_cnt ? gres_cnt : 1;
		allocs = arena_alloc(&snap->arena, (size_t) (nodes ? nodes : 1) *
				     per_node * sizeof(ap_alloc_t));
		for (int64_t i = 0; i < bit_size(job_ptr->node_bitmap); i++) {
			node_record_t *node_ptr;
			ap_alloc_t *first = &allocs[run->alloc_cnt];
			uint32_t got;

			if (!bit_test(job_ptr->node_bitmap, i))
				continue;
			if ((i >= node_record_count) ||
			    !(node_ptr = node_record_table_ptr[i]) ||
			    (run->alloc_cnt + per_node > nodes * per_node))
				break;
			got = _running_allocs(job_ptr, node_ptr, j, accel_gres,
					      &snap->arena, first, per_node);
			if (got < per_node)
				got += shards_running_alloc(job_ptr, node_ptr,
							    j, &snap->arena,
							    first + got);
			if (!got) {	/* CPUs only */
				first->node = arena_strdup(&snap->arena,
							   node_ptr->name);
				got = 1;
			}
			/* CPUs and memory once per node, on its first entry */
			if (res && res->cpus && (j < (int) res->nhosts))
				first->cpus = res->cpus[j];
			if (res && res->memory_allocated &&
			    (j < (int) res->nhosts))
				first->mem_mib = res->memory_allocated[j];
			run->alloc_cnt += got;
			j++;
		}
		run->allocs = allocs;
	}
	list_iterator_destroy(iter);
}
