/*****************************************************************************\
 *  snapshot_nodes.c - copy the node table: state, partitions, features, topology
 *  labels, CPUs/memory in use, and one pool per accelerator GRES type.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/common/node_conf.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/slurmctld.h"

#include "copy_util.h"
#include "device_pick.h"
#include "slurm_compat.h"
#include "snapshot.h"
#include "snapshot_shards.h"

/* One pool for a GRES (name, type): count, allocated, per-device use. */
static void _fill_pool(ap_pool_t *pool, const char *name, const char *type,
		       uint64_t avail, uint64_t alloc,
		       gres_node_state_t *gres_ns, list_t *node_gres,
		       arena_t *arena)
{
	uint32_t *idx = NULL, cnt;

	pool->gres_name = arena_strdup(arena, name);
	pool->gres_type = arena_strdup(arena, type);
	pool->count = copy_u32(avail);
	pool->allocated = copy_u32(alloc);
	idx = arena_alloc(arena, (device_pick_index_cap(gres_ns) + 1) *
					 sizeof(uint32_t));
	cnt = device_pick_type_indices(gres_ns, type, idx);
	if (cnt && (cnt == pool->count)) {
		/* Per-device truth from the allocation bitmap; it also
		 * covers typeless requests, which type_cnt_alloc misses. */
		uint32_t *used = arena_alloc(arena, cnt * sizeof(uint32_t));
		uint32_t busy = 0;

		for (uint32_t d = 0; d < cnt; d++) {
			if (bit_test(gres_ns->gres_bit_alloc, idx[d])) {
				used[d] = 1000;
				busy++;
			}
		}
		pool->device_used_milli = used;
		pool->device_cnt = cnt;
		pool->allocated = busy;
		pool->holds_planned_devices =
			device_pick_holdable(node_gres, name);
		shards_fill_pool(node_gres, name, idx, cnt, pool, arena);
	}
}

static void _fill_pools(node_record_t *node_ptr, ap_node_t *node,
			const char *accel_gres, arena_t *arena)
{
	list_itr_t *iter;
	gres_state_t *gres_state;
	uint32_t cnt = 0, cap = 0;
	ap_pool_t *pools;

	if (!node_ptr->gres_list)
		return;
	iter = list_iterator_create(node_ptr->gres_list);
	while ((gres_state = list_next(iter))) {
		gres_node_state_t *gres_ns = gres_state->gres_data;

		if (gres_ns && copy_in_list(accel_gres, gres_state->gres_name))
			cap += gres_ns->type_cnt ? gres_ns->type_cnt : 1;
	}
	if (!cap) {
		list_iterator_destroy(iter);
		return;
	}
	pools = arena_alloc(arena, cap * sizeof(ap_pool_t));
	list_iterator_reset(iter);
	while ((gres_state = list_next(iter)) && (cnt < cap)) {
		gres_node_state_t *gres_ns = gres_state->gres_data;

		/* Every node carries an entry for each of GresTypes, with a
		 * zero count where it has none: not a pool. */
		if (!gres_ns || gres_ns->no_consume ||
		    !gres_ns->gres_cnt_avail ||
		    !copy_in_list(accel_gres, gres_state->gres_name))
			continue;
		if (!gres_ns->type_cnt) {
			_fill_pool(&pools[cnt++], gres_state->gres_name, NULL,
				   gres_ns->gres_cnt_avail,
				   gres_ns->gres_cnt_alloc, gres_ns,
				   node_ptr->gres_list, arena);
			continue;
		}
		for (int t = 0; (t < gres_ns->type_cnt) && (cnt < cap); t++) {
			uint64_t alloc = gres_ns->type_cnt_alloc[t];

			if (!gres_ns->type_cnt_avail[t])
				continue;

			/* Count-only GRES of a single type: the total is
			 * right even for typeless requests. */
			if (gres_ns->type_cnt == 1)
				alloc = gres_ns->gres_cnt_alloc;
			_fill_pool(&pools[cnt++], gres_state->gres_name,
				   gres_ns->type_name[t],
				   gres_ns->type_cnt_avail[t], alloc, gres_ns,
				   node_ptr->gres_list, arena);
		}
	}
	list_iterator_destroy(iter);
	node->pools = pools;
	node->pool_cnt = cnt;
}

static ap_node_state_t _node_state(node_record_t *node_ptr,
				   uint32_t cpus_alloc, uint32_t cpus_total)
{
	uint32_t state = node_ptr->node_state;

	if (IS_NODE_DOWN(node_ptr) || IS_NODE_NO_RESPOND(node_ptr) ||
	    IS_NODE_FAIL(node_ptr) || IS_NODE_FUTURE(node_ptr) ||
	    IS_NODE_POWERED_DOWN(node_ptr) || IS_NODE_POWERING_UP(node_ptr) ||
	    IS_NODE_INVALID_REG(node_ptr) || IS_NODE_REBOOT_ISSUED(node_ptr))
		return AP_NODE_DOWN;
	if (IS_NODE_DRAIN(node_ptr))
		return AP_NODE_DRAINED;
	/* Not up for new work for a reason not covered above. */
	if (!avail_node_bitmap || !bit_test(avail_node_bitmap, node_ptr->index))
		return AP_NODE_DOWN;
	if (cpus_total && (cpus_alloc >= cpus_total))
		return AP_NODE_ALLOCATED;
	if (cpus_alloc || (state & NODE_STATE_BASE) == NODE_STATE_ALLOCATED ||
	    (state & NODE_STATE_BASE) == NODE_STATE_MIXED)
		return AP_NODE_MIXED;
	return AP_NODE_IDLE;
}

/* Slurm has no notion of a SuperPoD: sites label a node with the feature
 * "superpod_NAME". RET NAME copied into the arena, or NULL */
static const char *_superpod(arena_t *arena, const char *const *features,
			     uint32_t feature_cnt)
{
	static const char prefix[] = "superpod_";

	for (uint32_t f = 0; f < feature_cnt; f++) {
		if (!strncmp(features[f], prefix, sizeof(prefix) - 1) &&
		    features[f][sizeof(prefix) - 1])
			return arena_strdup(arena,
					    features[f] + sizeof(prefix) - 1);
	}
	return NULL;
}

extern void snapshot_nodes(snapshot_t *snap, const char *accel_gres,
			   time_t now)
{
	node_record_t *node_ptr;
	const char *const *leaf_switch, *const *block;
	int i;

	/* cons_tres keeps allocated CPUs/memory per node in its select
	 * nodeinfo; set_all refreshes them only when nodes changed. This is
	 * the same source scontrol show node reads (CPUAlloc, AllocMem). */
	(void) select_g_select_nodeinfo_set_all();
	compat_topology_labels(&leaf_switch, &block);
	shards_rules(&snap->snap);
	snap->nodes = arena_alloc(&snap->arena,
				  (size_t) (node_record_count ?
					    node_record_count : 1) *
				  sizeof(ap_node_t));
	snap->snap.node_cnt = 0;
	for (i = 0; (node_ptr = next_node(&i)); i++) {
		ap_node_t *node = &snap->nodes[snap->snap.node_cnt++];
		uint16_t alloc_cpus = 0;
		uint64_t alloc_mem = 0;
		const char **parts;

		node->name = arena_strdup(&snap->arena, node_ptr->name);
		node->cpus_total = node_ptr->cpus_efctv ? node_ptr->cpus_efctv :
			node_ptr->cpus;
		compat_node_alloc(node_ptr, &alloc_cpus, &alloc_mem);
		node->cpus_alloc = alloc_cpus;
		node->mem_total_mib = node_ptr->real_memory >
			node_ptr->mem_spec_limit ?
			node_ptr->real_memory - node_ptr->mem_spec_limit : 0;
		node->mem_alloc_mib = alloc_mem;
		node->state = _node_state(node_ptr, node->cpus_alloc,
					  node->cpus_total);
		parts = arena_alloc(&snap->arena,
				    (node_ptr->part_cnt ? node_ptr->part_cnt :
				     1) * sizeof(char *));
		for (int p = 0; p < node_ptr->part_cnt; p++) {
			part_record_t *part_ptr = node_ptr->part_pptr[p];

			if (part_ptr)
				parts[node->partition_cnt++] =
					arena_strdup(&snap->arena,
						     part_ptr->name);
		}
		node->partitions = parts;
		node->feature_cnt = copy_split(&snap->arena,
					   node_ptr->features_act ?
					   node_ptr->features_act :
					   node_ptr->features,
					   ",", &node->features);
		/* topology/block's block is the NVLink domain slurmctld
		 * itself places by; the feature labels the rest. */
		if (block && block[node_ptr->index])
			node->superpod = arena_strdup(&snap->arena,
						      block[node_ptr->index]);
		else
			node->superpod = _superpod(&snap->arena, node->features,
						   node->feature_cnt);
		if (leaf_switch && leaf_switch[node_ptr->index])
			node->network_switch =
				arena_strdup(&snap->arena,
					     leaf_switch[node_ptr->index]);
		_fill_pools(node_ptr, node, accel_gres, &snap->arena);
	}
}
