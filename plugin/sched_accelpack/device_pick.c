/*****************************************************************************\
 *  device_pick.c - make cons_tres give a started job the devices the core
 *  planned with (see device_pick.h).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/common/list.h"
#include "src/common/log.h"
#include "src/common/node_conf.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/slurmctld.h"

#include "device_pick.h"

/* One node's pool: the devices held back and the counters raised for them. */
typedef struct {
	const char *node;
	gres_node_state_t *gres_ns;
	uint32_t *held;			/* bits of gres_bit_alloc set by us */
	uint32_t held_cnt;
	uint64_t **counters;		/* each raised by one per entry */
	uint32_t counter_cnt;
	uint32_t *kept;			/* the bits left free for the job */
	uint32_t kept_cnt;
} held_node_t;

struct device_pick {
	held_node_t *nodes;
	uint32_t node_cnt;
};

extern uint32_t device_pick_index_cap(gres_node_state_t *gres_ns)
{
	if (!gres_ns->gres_bit_alloc || !gres_ns->topo_cnt ||
	    !gres_ns->topo_gres_bitmap)
		return 0;
	return (uint32_t) bit_size(gres_ns->gres_bit_alloc);
}

extern uint32_t device_pick_type_indices(gres_node_state_t *gres_ns,
					 const char *type, uint32_t *out)
{
	uint32_t cnt = 0, size = device_pick_index_cap(gres_ns);

	for (uint32_t i = 0; i < size; i++) {
		for (int t = 0; t < gres_ns->topo_cnt; t++) {
			bitstr_t *map = gres_ns->topo_gres_bitmap[t];
			const char *tname = gres_ns->topo_type_name ?
				gres_ns->topo_type_name[t] : NULL;

			if (!map || (i >= bit_size(map)) || !bit_test(map, i))
				continue;
			if (type && xstrcmp(type, tname))
				continue;
			out[cnt++] = i;
			break;
		}
	}
	return cnt;
}

/* The node's state of GRES `name`; NULL as well where the node also carries a
 * shared GRES (shard, mps) with a count: cons_tres weighs those against whole
 * use of the same devices, which the core models apart. */
static gres_node_state_t *_node_gres(node_record_t *node_ptr, const char *name)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	gres_node_state_t *found = NULL;
	bool shared = false;

	if (!node_ptr->gres_list)
		return NULL;
	iter = list_iterator_create(node_ptr->gres_list);
	while ((gres_state = list_next(iter))) {
		gres_node_state_t *gres_ns = gres_state->gres_data;

		if (!gres_ns)
			continue;
		if (!xstrcmp(gres_state->gres_name, name))
			found = gres_ns;
		else if (gres_id_shared(gres_state->config_flags) &&
			 gres_ns->gres_cnt_avail)
			shared = true;
	}
	list_iterator_destroy(iter);
	return shared ? NULL : found;
}

static void _raise(held_node_t *h, uint64_t *counter, uint32_t cap)
{
	if (h->counter_cnt < cap) {
		(*counter)++;
		h->counters[h->counter_cnt++] = counter;
	}
}

/* Count device bit b allocated the way gres_ctld_job_alloc would. */
static void _hold_bit(held_node_t *h, uint32_t b, uint32_t counter_cap)
{
	gres_node_state_t *gres_ns = h->gres_ns;

	bit_set(gres_ns->gres_bit_alloc, b);
	h->held[h->held_cnt++] = b;
	_raise(h, &gres_ns->gres_cnt_alloc, counter_cap);
	for (int t = 0; t < gres_ns->topo_cnt; t++) {
		bitstr_t *map = gres_ns->topo_gres_bitmap[t];
		const char *tname;

		if (!map || (b >= bit_size(map)) || !bit_test(map, b))
			continue;
		if (gres_ns->topo_gres_cnt_alloc)
			_raise(h, &gres_ns->topo_gres_cnt_alloc[t],
			       counter_cap);
		tname = gres_ns->topo_type_name ?
			gres_ns->topo_type_name[t] : NULL;
		for (int y = 0; tname && (y < gres_ns->type_cnt); y++) {
			if (gres_ns->type_cnt_alloc && gres_ns->type_name &&
			    !xstrcmp(gres_ns->type_name[y], tname)) {
				_raise(h, &gres_ns->type_cnt_alloc[y],
				       counter_cap);
				break;
			}
		}
	}
}

/* The devices of the pool (gres name, type) Slurm counts, as the snapshot's
 * pool count: the type's, or the GRES's for a typeless one. */
static uint64_t _pool_count(gres_node_state_t *gres_ns, const char *type)
{
	if (!type || !gres_ns->type_cnt)
		return gres_ns->gres_cnt_avail;
	for (int y = 0; y < gres_ns->type_cnt; y++)
		if (gres_ns->type_name && !xstrcmp(gres_ns->type_name[y], type))
			return gres_ns->type_cnt_avail ?
				gres_ns->type_cnt_avail[y] : 0;
	return 0;
}

/* Hold back every free device the job could be given on this node but the
 * planned ones (pool indices of `type`; a typeless request may take any type).
 * RET 1 held, 0 left to cons_tres, -1 a planned device is taken now. */
static int _hold_node(held_node_t *h, node_record_t *node_ptr,
		      const char *gres_name, const char *type, bool typeless,
		      const uint32_t *planned, uint32_t planned_cnt)
{
	gres_node_state_t *gres_ns = _node_gres(node_ptr, gres_name);
	uint32_t cap, cnt, all_cnt, hold_cnt = 0, counter_cap;
	uint32_t *idx, *all;
	int rc = 0;

	if (!gres_ns || gres_ns->no_consume ||
	    !(cap = device_pick_index_cap(gres_ns)))
		return 0;
	idx = xcalloc(cap, sizeof(uint32_t));
	all = xcalloc(cap, sizeof(uint32_t));
	cnt = device_pick_type_indices(gres_ns, type, idx);
	/* As the snapshot: per-device state only where the files cover the
	 * pool's count; otherwise the plan's indices are a model of counts. */
	if (cnt != _pool_count(gres_ns, type)) {
		xfree(idx);
		xfree(all);
		return 0;
	}
	all_cnt = device_pick_type_indices(gres_ns, typeless ? NULL : type,
					   all);
	h->kept = xcalloc(planned_cnt, sizeof(uint32_t));
	for (uint32_t i = 0; i < planned_cnt; i++) {
		if (planned[i] >= cnt)
			goto done;	/* not the pool the plan saw */
		h->kept[h->kept_cnt++] = idx[planned[i]];
		if (bit_test(gres_ns->gres_bit_alloc, idx[planned[i]])) {
			rc = -1;
			goto done;
		}
	}
	/* The planned devices are free and among `all` (idx is a part of it). */
	for (uint32_t d = 0; d < all_cnt; d++)
		if (!bit_test(gres_ns->gres_bit_alloc, all[d]))
			hold_cnt++;
	hold_cnt -= h->kept_cnt;
	if (!hold_cnt)
		goto done;	/* the planned devices are all that is free */
	h->node = node_ptr->name;
	h->gres_ns = gres_ns;
	h->held = xcalloc(hold_cnt, sizeof(uint32_t));
	/* per device: the total, its topology records and their types */
	counter_cap = hold_cnt * (1 + 2 * (uint32_t) gres_ns->topo_cnt);
	h->counters = xcalloc(counter_cap, sizeof(uint64_t *));
	/* The planned bits are set for a moment, so that "free" means "hold". */
	for (uint32_t i = 0; i < h->kept_cnt; i++)
		bit_set(gres_ns->gres_bit_alloc, h->kept[i]);
	for (uint32_t d = 0; d < all_cnt; d++)
		if (!bit_test(gres_ns->gres_bit_alloc, all[d]))
			_hold_bit(h, all[d], counter_cap);
	for (uint32_t i = 0; i < h->kept_cnt; i++)
		bit_clear(gres_ns->gres_bit_alloc, h->kept[i]);
	rc = 1;
done:
	if (rc != 1) {
		xfree(h->kept);
		h->kept_cnt = 0;
	}
	xfree(idx);
	xfree(all);
	return rc;
}

/* Slurm leaves a count the user did not give as 0 or NO_VAL64. */
static bool _given(uint64_t count)
{
	return count && (count != NO_VAL64);
}

/* Whether the job asks exactly gres_per_node devices of each node: per node,
 * or per job on one node. Per task or per socket, the count on a node follows
 * the cores cons_tres picks, which the core does not know: left to cons_tres. */
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

extern int device_pick_hold(job_record_t *job_ptr, const ap_pending_job_t *job,
			    const ap_start_t *start, device_pick_t **out,
			    char **why)
{
	device_pick_t *pick;

	*out = NULL;
	/* A whole node's job gets every device there whatever is held, and
	 * cons_tres refuses it a node with any device counted allocated. */
	if (!job->gres_name || !job->gres_name[0] || !job->gres_per_node ||
	    job->shards_per_node || job->exclusive || !start->node_cnt ||
	    !start->devices || !start->device_cnt ||
	    !_exact_per_node(job_ptr, job->gres_name, start->node_cnt))
		return SLURM_SUCCESS;
	pick = xmalloc(sizeof(*pick));
	pick->nodes = xcalloc(start->node_cnt, sizeof(held_node_t));
	for (uint32_t n = 0; n < start->node_cnt; n++) {
		node_record_t *node_ptr = find_node_record(start->nodes[n]);
		const char *type = (start->gres_types && start->gres_types[n] &&
				    start->gres_types[n][0]) ?
			start->gres_types[n] : NULL;
		int rc;

		if (!node_ptr || (start->device_cnt[n] != job->gres_per_node))
			continue;
		rc = _hold_node(&pick->nodes[pick->node_cnt], node_ptr,
				job->gres_name, type, !job->gres_type_cnt,
				start->devices[n], start->device_cnt[n]);
		if (rc > 0) {
			pick->node_cnt++;
		} else if (rc < 0) {
			*why = xstrdup_printf("a device planned on %s is taken since the plan",
					      start->nodes[n]);
			device_pick_release(pick, job_ptr->job_id, false);
			return SLURM_ERROR;
		}
	}
	if (!pick->node_cnt) {
		xfree(pick->nodes);
		xfree(pick);
	}
	*out = pick;
	return SLURM_SUCCESS;
}

extern void device_pick_release(device_pick_t *pick, uint32_t job_id,
				bool started)
{
	if (!pick)
		return;
	for (uint32_t n = 0; n < pick->node_cnt; n++) {
		held_node_t *h = &pick->nodes[n];
		uint32_t missed = 0;

		for (uint32_t i = 0; i < h->held_cnt; i++)
			bit_clear(h->gres_ns->gres_bit_alloc, h->held[i]);
		for (uint32_t i = 0; i < h->counter_cnt; i++)
			(*h->counters[i])--;
		xfree(h->gres_ns->gres_used);	/* a cached usage string */
		for (uint32_t i = 0; started && (i < h->kept_cnt); i++)
			if (!bit_test(h->gres_ns->gres_bit_alloc, h->kept[i]))
				missed++;
		if (missed)
			error("accelpack: JobId=%u on %s: %u of the %u devices left for it were not taken (cons_tres picked others)",
			      job_id, h->node, missed, h->kept_cnt);
		xfree(h->held);
		xfree(h->kept);
		xfree(h->counters);
	}
	xfree(pick->nodes);
	xfree(pick);
}
