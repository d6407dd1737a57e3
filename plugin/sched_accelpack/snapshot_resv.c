/*****************************************************************************\
 *  snapshot_resv.c - copy Slurm's advanced reservations that are active or
 *  still to come: node/time windows the core plans around (a maintenance
 *  window) and starts member jobs inside; for a partial one (CoreCnt, TRES=)
 *  also the CPUs and accelerators it holds on each of its nodes.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/common/node_conf.h"
#include "src/common/xstring.h"
#include "src/slurmctld/reservation.h"
#include "src/slurmctld/slurmctld.h"

#include "copy_util.h"
#include "slurm_compat.h"
#include "snapshot.h"

/*
 * CPUs the reservation holds on node i: its cores there in the cluster-wide
 * core_bitmap (laid out by cr_get_coremap_offset(), as reservation.c reads
 * it), times the threads per core cons_tres counts (tpc). A reservation with
 * no cores (only GRES) holds none. RET false if not known.
 */
static bool _node_cpus(slurmctld_resv_t *resv, node_record_t *node_ptr,
		       uint32_t i, uint32_t *cpus)
{
	uint32_t first, end, tpc;

	if (!resv->core_bitmap) {
		*cpus = 0;
		return !resv->core_cnt && !resv->core_resrcs;
	}
	first = cr_get_coremap_offset(i);
	end = cr_get_coremap_offset(i + 1);
	/* A bitmap of another node table (reconfigured since): unknown. */
	if ((end < first) || (end > (uint32_t) bit_size(resv->core_bitmap)))
		return false;
	tpc = node_ptr->tpc ? node_ptr->tpc :
		(node_ptr->threads ? node_ptr->threads : 1);
	*cpus = (uint32_t) bit_set_count_range(resv->core_bitmap, first, end) *
		tpc;
	return true;
}

#if COMPAT_RESV_HAS_GRES
/*
 * The reservation's accelerator GRES entries. They are chosen like a job's
 * but never made job-relative: indexed by the node table (cons_tres'
 * gres_cnt_node_select, kept as gres_cnt_node_alloc), so another size is an
 * older table. RET false if some cannot be attributed per node.
 */
static bool _accel_gres(list_t *gres_list, const char *accel_gres,
			arena_t *arena, gres_state_t ***out, uint32_t *cnt)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	bool ok = true;

	*out = NULL;
	*cnt = 0;
	if (!gres_list || !list_count(gres_list))
		return true;
	*out = arena_alloc(arena, list_count(gres_list) * sizeof(**out));
	iter = list_iterator_create(gres_list);
	while (ok && (gres_state = list_next(iter))) {
		gres_job_state_t *gres_js = gres_state->gres_data;

		if (!copy_in_list(accel_gres, gres_state->gres_name))
			continue;
		if (!gres_js || !gres_js->gres_cnt_node_alloc ||
		    (gres_js->node_cnt != (uint32_t) node_record_count))
			ok = false;
		else
			(*out)[(*cnt)++] = gres_state;
	}
	list_iterator_destroy(iter);
	return ok;
}

/* Whether entry h shares entry g's GRES name and holds some on node i. */
static bool _same_held(gres_state_t **gres, uint32_t g, uint32_t h,
		       uint32_t i)
{
	gres_job_state_t *gres_js = gres[h]->gres_data;

	return !xstrcmp(gres[h]->gres_name, gres[g]->gres_name) &&
		gres_js->gres_cnt_node_alloc[i];
}

/* Devices of entry g's name on node i: the union of the device bits of the
 * entries from g on. RET false if one of them has no bits. */
static bool _union_cnt(gres_state_t **gres, uint32_t g, uint32_t gres_cnt,
		       uint32_t i, uint64_t *cnt)
{
	bitoff_t size = 0;

	for (uint32_t h = g; h < gres_cnt; h++) {
		gres_job_state_t *gres_js = gres[h]->gres_data;

		if (!_same_held(gres, g, h, i))
			continue;
		if (!gres_js->gres_bit_alloc || !gres_js->gres_bit_alloc[i])
			return false;
		size = MAX(size, bit_size(gres_js->gres_bit_alloc[i]));
	}
	*cnt = 0;
	for (bitoff_t b = 0; b < size; b++) {
		for (uint32_t h = g; h < gres_cnt; h++) {
			gres_job_state_t *gres_js = gres[h]->gres_data;
			bitstr_t *bits;

			if (!_same_held(gres, g, h, i))
				continue;
			bits = gres_js->gres_bit_alloc[i];
			if ((b < bit_size(bits)) && bit_test(bits, b)) {
				(*cnt)++;
				break;
			}
		}
	}
	return true;
}

/*
 * Accelerators held on node i. A typed request (gpu:h100=4) may also carry a
 * typeless twin (gpu=4: from 25.05 reservation.c adds it to the TRES string
 * the request is parsed from), each an entry Slurm keeps other jobs off by
 * its own type: entries of one name count the union of their device bits, or
 * the count when only one holds some here.
 * RET false if not known.
 */
static bool _node_devices(gres_state_t **gres, uint32_t gres_cnt, uint32_t i,
			  uint32_t *devices)
{
	uint64_t total = 0;

	for (uint32_t g = 0; g < gres_cnt; g++) {
		uint64_t cnt = 0;
		uint32_t held = 0;
		bool counted = false;

		for (uint32_t h = 0; h < g; h++)
			if (!xstrcmp(gres[h]->gres_name, gres[g]->gres_name))
				counted = true;	/* with entry h */
		if (counted)
			continue;
		for (uint32_t h = g; h < gres_cnt; h++) {
			gres_job_state_t *gres_js = gres[h]->gres_data;

			if (!_same_held(gres, g, h, i))
				continue;
			held++;
			cnt = gres_js->gres_cnt_node_alloc[i];
		}
		if ((held > 1) && !_union_cnt(gres, g, gres_cnt, i, &cnt))
			return false;
		total += cnt;
	}
	*devices = copy_u32(total);
	return true;
}
#endif

/* Per-node CPUs and accelerators of a partial reservation, in the order of
 * copy_node_names(); both left NULL when any is not known. */
static void _partial_counts(slurmctld_resv_t *resv, ap_adv_resv_t *r,
			    const char *accel_gres, arena_t *arena)
{
	uint32_t *cpus = arena_alloc(arena, r->node_cnt * sizeof(uint32_t));
	uint32_t *devices = arena_alloc(arena, r->node_cnt * sizeof(uint32_t));
	bitoff_t size = bit_size(resv->node_bitmap);
	uint32_t n = 0;
#if COMPAT_RESV_HAS_GRES
	gres_state_t **gres;
	uint32_t gres_cnt;

	if (!_accel_gres(resv->gres_list_alloc, accel_gres, arena, &gres,
			 &gres_cnt))
		return;
#else
	(void) accel_gres;	/* no GRES in reservations: devices 0 */
#endif

	for (bitoff_t i = 0; (i < size) && (n < r->node_cnt); i++) {
		node_record_t *node_ptr;

		if (!bit_test(resv->node_bitmap, i) ||
		    (i >= node_record_count) ||
		    !(node_ptr = node_record_table_ptr[i]))
			continue;
		if (!_node_cpus(resv, node_ptr, (uint32_t) i, &cpus[n]))
			return;
#if COMPAT_RESV_HAS_GRES
		if (!_node_devices(gres, gres_cnt, (uint32_t) i, &devices[n]))
			return;
#endif
		n++;
	}
	if (n != r->node_cnt)
		return;
	r->reserved_cpus = cpus;
	r->reserved_devices = devices;
}

extern void snapshot_reservations(snapshot_t *snap, const char *accel_gres,
				  time_t now)
{
	list_itr_t *iter;
	slurmctld_resv_t *resv;
	ap_adv_resv_t *out;
	uint32_t cap;

	if (!resv_list || !(cap = (uint32_t) list_count(resv_list)))
		return;
	out = arena_alloc(&snap->arena, cap * sizeof(*out));
	iter = list_iterator_create(resv_list);
	while ((resv = list_next(iter)) && (snap->snap.adv_resv_cnt < cap)) {
		ap_adv_resv_t *r;

		if (!resv->node_bitmap || (resv->end_time <= now) ||
		    (resv->end_time <= resv->start_time))
			continue;
		r = &out[snap->snap.adv_resv_cnt];
		r->node_cnt = copy_node_names(&snap->arena, resv->node_bitmap,
					      &r->nodes);
		if (!r->node_cnt)
			continue;
		r->name = arena_strdup(&snap->arena, resv->name);
		r->start_time = resv->start_time;
		r->end_time = resv->end_time;
		/*
		 * CoreCnt or TRES: only part of each node is held. Not by
		 * core_cnt alone: _set_tres_cnt() sets it to all the cores of a
		 * whole-node (RESV_CTLD_FULL_NODE) reservation too.
		 */
		r->partial = !(resv->ctld_flags & RESV_CTLD_FULL_NODE) &&
			     (resv->core_bitmap || resv->core_resrcs ||
			      (resv->core_cnt > 0) ||
			      COMPAT_RESV_HOLDS_GRES(resv));
		if (r->partial)
			_partial_counts(resv, r, accel_gres, &snap->arena);
		snap->snap.adv_resv_cnt++;
	}
	list_iterator_destroy(iter);
	snap->snap.adv_resv = out;
}
