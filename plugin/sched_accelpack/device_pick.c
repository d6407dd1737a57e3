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
#include "snapshot_shards.h"

typedef struct {
	uint64_t *counter;
	uint64_t by;
} raised_t;

/* One node's pool: the devices held back and the counters raised for them. */
typedef struct {
	const char *node;
	gres_node_state_t *gres_ns;	/* whole devices: the pool's GRES */
	uint32_t *held;			/* bits of gres_bit_alloc set by us */
	uint32_t held_cnt;
	raised_t *raised;
	uint32_t raised_cnt;
	uint32_t raised_cap;
	uint32_t *kept;			/* the devices left free for the job */
	uint32_t kept_cnt;
	gres_node_state_t *shard_ns;	/* shards: the shard GRES, whose other
					 * GPUs' free shards are held */
	uint64_t kept_free;		/* shards: free on the kept GPUs */
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

/* The node's state of GRES `name`; *shared: whether the node also carries a
 * shared GRES with a count that the core does not model (mps; shards it counts
 * per GPU, so whole use keeps off the GPUs that carry them). */
static gres_node_state_t *_node_gres(list_t *node_gres, const char *name,
				     bool *shared_too)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	gres_node_state_t *found = NULL;
	bool shared = false;

	*shared_too = false;
	if (!node_gres)
		return NULL;
	iter = list_iterator_create(node_gres);
	while ((gres_state = list_next(iter))) {
		gres_node_state_t *gres_ns = gres_state->gres_data;

		if (!gres_ns)
			continue;
		if (!xstrcmp(gres_state->gres_name, name))
			found = gres_ns;
		else if (gres_id_shared(gres_state->config_flags) &&
			 gres_ns->gres_cnt_avail &&
			 xstrcmp(gres_state->gres_name, SHARD_GRES_NAME))
			shared = true;
	}
	list_iterator_destroy(iter);
	*shared_too = shared;
	return found;
}

/* The node's state of GRES `name` where its devices can be held back: per
 * device, consumed, and no MPS on the node, which cons_tres weighs against
 * whole use of the same devices and the core does not model. */
static gres_node_state_t *_holdable_gres(list_t *node_gres, const char *name)
{
	bool shared;
	gres_node_state_t *gres_ns = _node_gres(node_gres, name, &shared);

	if (!gres_ns || shared || gres_ns->no_consume ||
	    !device_pick_index_cap(gres_ns))
		return NULL;
	return gres_ns;
}

extern bool device_pick_holdable(list_t *node_gres, const char *name)
{
	return _holdable_gres(node_gres, name) != NULL;
}

/* Room for what holding `records` topology records raises: each record, its
 * type's count and the GRES total. */
static void _raise_room(held_node_t *h, uint32_t records)
{
	h->raised_cap = 3 * records;
	h->raised = xcalloc(h->raised_cap, sizeof(raised_t));
}

static void _raise(held_node_t *h, uint64_t *counter, uint64_t by)
{
	if (by && (h->raised_cnt < h->raised_cap)) {
		*counter += by;
		h->raised[h->raised_cnt].counter = counter;
		h->raised[h->raised_cnt++].by = by;
	}
}

/* Count `by` more of topology record t allocated, as gres_ctld_job_alloc
 * would: the record and its type (the GRES total is the caller's). */
static void _raise_record(held_node_t *h, gres_node_state_t *gres_ns, int t,
			  uint64_t by)
{
	const char *tname = gres_ns->topo_type_name ?
		gres_ns->topo_type_name[t] : NULL;

	if (gres_ns->topo_gres_cnt_alloc)
		_raise(h, &gres_ns->topo_gres_cnt_alloc[t], by);
	for (int y = 0; tname && (y < gres_ns->type_cnt); y++) {
		if (gres_ns->type_cnt_alloc && gres_ns->type_name &&
		    !xstrcmp(gres_ns->type_name[y], tname)) {
			_raise(h, &gres_ns->type_cnt_alloc[y], by);
			break;
		}
	}
}

/* Count device bit b allocated the way gres_ctld_job_alloc would. A GPU that
 * carries shards (bit set in `shards_on`) gets its bit only: cons_tres already
 * takes it off its topology record's count (alt_gres), and counting it again
 * would leave a record that covers several GPUs short for the planned ones. */
static void _hold_bit(held_node_t *h, uint32_t b, bitstr_t *shards_on)
{
	gres_node_state_t *gres_ns = h->gres_ns;

	bit_set(gres_ns->gres_bit_alloc, b);
	h->held[h->held_cnt++] = b;
	if (shards_on && (b < bit_size(shards_on)) && bit_test(shards_on, b))
		return;
	_raise(h, &gres_ns->gres_cnt_alloc, 1);
	for (int t = 0; t < gres_ns->topo_cnt; t++) {
		bitstr_t *map = gres_ns->topo_gres_bitmap[t];

		if (map && (b < bit_size(map)) && bit_test(map, b))
			_raise_record(h, gres_ns, t, 1);
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

/* The planned pool indices as node-local device bits, into h->kept. RET 1,
 * 0 where they are not of the pool the plan saw, -1 where one is allocated. */
static int _keep_planned(held_node_t *h, bitstr_t *alloc, const uint32_t *idx,
			 uint32_t cnt, const uint32_t *planned,
			 uint32_t planned_cnt)
{
	h->kept = xcalloc(planned_cnt, sizeof(uint32_t));
	for (uint32_t i = 0; i < planned_cnt; i++) {
		if (planned[i] >= cnt)
			return 0;
		h->kept[h->kept_cnt++] = idx[planned[i]];
		if (bit_test(alloc, idx[planned[i]]))
			return -1;
	}
	return 1;
}

/* By the shard counts, not the shard bitmap _hold_bit reads: Slurm < 23.11.5
 * clears a GPU's bit when one of its shard jobs ends while others still hold
 * shards there, and a whole start must not join them. */
static bool _kept_carry_shards(held_node_t *h, list_t *node_gres)
{
	gres_state_t *shard_state = shards_node_state(node_gres);

	for (uint32_t i = 0; shard_state && (i < h->kept_cnt); i++) {
		uint64_t total, used;

		shards_on_gpu(shard_state->gres_data, h->kept[i], &total, &used);
		if (used)
			return true;
	}
	return false;
}

/* A node that holds nothing keeps no devices either. RET rc */
static int _settle(held_node_t *h, int rc)
{
	if (rc != 1) {
		xfree(h->kept);
		h->kept_cnt = 0;
	}
	return rc;
}

/* Hold back every free device the job could be given on this node but the
 * planned ones (pool indices of `type`; a typeless request may take any type).
 * RET 1 held, 0 left to cons_tres, -1 a planned device is taken now. */
static int _hold_node(held_node_t *h, node_record_t *node_ptr,
		      const char *gres_name, const char *type, bool typeless,
		      const uint32_t *planned, uint32_t planned_cnt)
{
	gres_node_state_t *gres_ns = _holdable_gres(node_ptr->gres_list,
						    gres_name);
	gres_state_t *shard_state;
	bitstr_t *shards_on = NULL;
	uint32_t cap, cnt, all_cnt, hold_cnt = 0;
	uint32_t *idx, *all;
	int rc = 0, kept;

	if (!gres_ns)
		return 0;
	cap = device_pick_index_cap(gres_ns);
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
	if ((kept = _keep_planned(h, gres_ns->gres_bit_alloc, idx, cnt,
				  planned, planned_cnt)) != 1) {
		rc = kept;
		goto done;
	}
	/* Shards taken on a planned GPU since the plan: before 23.11.5 Slurm
	 * would hand it out whole as well. */
	if (_kept_carry_shards(h, node_ptr->gres_list)) {
		rc = -1;
		goto done;
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
	_raise_room(h, hold_cnt * (uint32_t) gres_ns->topo_cnt);
	if ((shard_state = shards_node_state(node_ptr->gres_list)))
		shards_on = ((gres_node_state_t *) shard_state->gres_data)
				    ->gres_bit_alloc;
	/* The planned bits are set for a moment, so that "free" means "hold". */
	for (uint32_t i = 0; i < h->kept_cnt; i++)
		bit_set(gres_ns->gres_bit_alloc, h->kept[i]);
	for (uint32_t d = 0; d < all_cnt; d++)
		if (!bit_test(gres_ns->gres_bit_alloc, all[d]))
			_hold_bit(h, all[d], shards_on);
	for (uint32_t i = 0; i < h->kept_cnt; i++)
		bit_clear(gres_ns->gres_bit_alloc, h->kept[i]);
	rc = 1;
done:
	xfree(idx);
	xfree(all);
	return _settle(h, rc);
}

/* Free shards on the node-local GPUs `gpus`. */
static uint64_t _shards_free(gres_node_state_t *shard_ns, const uint32_t *gpus,
			     uint32_t gpu_cnt)
{
	uint64_t free = 0;

	for (uint32_t i = 0; i < gpu_cnt; i++) {
		uint64_t total, used;

		shards_on_gpu(shard_ns, gpus[i], &total, &used);
		if (total > used)
			free += total - used;
	}
	return free;
}

static bool _covers_any(bitstr_t *map, const uint32_t *bits, uint32_t cnt)
{
	for (uint32_t i = 0; map && (i < cnt); i++)
		if ((bits[i] < bit_size(map)) && bit_test(map, bits[i]))
			return true;
	return false;
}

/* Shards: count every other GPU's free shards allocated, so that cons_tres
 * can take the job's `shards` only from the planned GPUs (pool indices of
 * `type` of the sharing GRES `gpu_name`). Its choice among GPUs (first fit,
 * least loaded, the cores' socket first) then has one answer, the core's,
 * also where a job ended on the node since the plan and left room on a GPU
 * cons_tres would try first. RET as _hold_node. */
static int _hold_shards(held_node_t *h, node_record_t *node_ptr,
			const char *gpu_name, const char *type,
			const uint32_t *planned, uint32_t planned_cnt,
			uint32_t shards)
{
	bool mps;
	gres_node_state_t *gpu_ns = _node_gres(node_ptr->gres_list, gpu_name,
					       &mps);
	gres_state_t *shard_state = shards_node_state(node_ptr->gres_list);
	gres_node_state_t *shard_ns;
	uint32_t cap, cnt, *idx;
	int rc = 0;

	/* one_sharing: once shards are in use on a node, cons_tres takes only
	 * GPUs that carry some; held ones would, and turn a fresh planned GPU
	 * away. */
	if (!gpu_ns || !shard_state ||
	    (shard_state->config_flags & GRES_CONF_ONE_SHARING) ||
	    !(cap = device_pick_index_cap(gpu_ns)))
		return 0;
	shard_ns = shard_state->gres_data;
	idx = xcalloc(cap, sizeof(uint32_t));
	cnt = device_pick_type_indices(gpu_ns, type, idx);
	if (cnt != _pool_count(gpu_ns, type))
		goto done;	/* as the snapshot: no per-GPU counts then */
	/* A planned GPU allocated whole since: -1. */
	if ((rc = _keep_planned(h, gpu_ns->gres_bit_alloc, idx, cnt, planned,
				planned_cnt)) != 1)
		goto done;
	h->kept_free = _shards_free(shard_ns, h->kept, h->kept_cnt);
	if (h->kept_free < shards) {
		rc = -1;
		goto done;
	}
	h->node = node_ptr->name;
	h->shard_ns = shard_ns;
	_raise_room(h, (uint32_t) shard_ns->topo_cnt);
	for (int t = 0; t < shard_ns->topo_cnt; t++) {
		uint64_t avail = shard_ns->topo_gres_cnt_avail[t];
		uint64_t alloc = shard_ns->topo_gres_cnt_alloc[t];

		if ((avail <= alloc) ||
		    _covers_any(shard_ns->topo_gres_bitmap[t], h->kept,
				h->kept_cnt))
			continue;
		_raise_record(h, shard_ns, t, avail - alloc);
		_raise(h, &shard_ns->gres_cnt_alloc, avail - alloc);
	}
	rc = 1;
done:
	xfree(idx);
	return _settle(h, rc);
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
	    !job->exact_per_node || !start->node_cnt || !start->devices ||
	    !start->device_cnt)
		return SLURM_SUCCESS;
	pick = xmalloc(sizeof(*pick));
	pick->nodes = xcalloc(start->node_cnt, sizeof(held_node_t));
	for (uint32_t n = 0; n < start->node_cnt; n++) {
		node_record_t *node_ptr = find_node_record(start->nodes[n]);
		const char *type = (start->gres_types && start->gres_types[n] &&
				    start->gres_types[n][0]) ?
			start->gres_types[n] : NULL;
		int rc;

		if (!node_ptr || !start->device_cnt[n])
			continue;
		if (job->shards_per_node)
			rc = _hold_shards(&pick->nodes[pick->node_cnt],
					  node_ptr, job->gres_name, type,
					  start->devices[n],
					  start->device_cnt[n],
					  job->shards_per_node);
		else if (start->device_cnt[n] == job->gres_per_node)
			rc = _hold_node(&pick->nodes[pick->node_cnt], node_ptr,
					job->gres_name, type,
					!job->gres_type_cnt, start->devices[n],
					start->device_cnt[n]);
		else
			continue;
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
		for (uint32_t i = 0; i < h->raised_cnt; i++) {
			raised_t *r = &h->raised[i];

			/* Slurm recounts gres_cnt_alloc from the bitmap where
			 * a job's bitmap size is off ("gres bitmap size bad"),
			 * which drops what was raised: never below zero. */
			*r->counter -= (*r->counter < r->by) ? *r->counter :
							       r->by;
		}
		if (h->shard_ns) {
			xfree(h->shard_ns->gres_used);
			if (started &&
			    (_shards_free(h->shard_ns, h->kept, h->kept_cnt) >=
			     h->kept_free))
				error("accelpack: JobId=%u on %s: no shards taken from the GPU left for it (cons_tres picked another)",
				      job_id, h->node);
		} else {
			xfree(h->gres_ns->gres_used);	/* cached usage */
			for (uint32_t i = 0; started && (i < h->kept_cnt); i++)
				if (!bit_test(h->gres_ns->gres_bit_alloc,
					      h->kept[i]))
					missed++;
		}
		if (missed)
			error("accelpack: JobId=%u on %s: %u of the %u devices left for it were not taken (cons_tres picked others)",
			      job_id, h->node, missed, h->kept_cnt);
		xfree(h->held);
		xfree(h->kept);
		xfree(h->raised);
	}
	xfree(pick->nodes);
	xfree(pick);
}
