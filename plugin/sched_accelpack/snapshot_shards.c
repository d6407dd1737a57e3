/*****************************************************************************\
 *  snapshot_shards.c - Slurm's shard GRES in the snapshot.
 *
 *  On a node, gres/shard keeps one topology record per GPU (File=), whose
 *  topo_gres_bitmap names the GPU index and whose topo_gres_cnt_avail/alloc
 *  count that GPU's shards (scontrol show node -d prints the same as
 *  GresUsed=shard:...(x/y,...)). The GPU's own gres_bit_alloc counts only whole
 *  allocations. A running job's shards sit in its gres/shard entry: the GPU
 *  bits in gres_bit_alloc, the count per GPU in gres_per_bit_alloc (23.11 and
 *  newer; before, one job's shards come from one GPU and gres_cnt_node_alloc
 *  is the count).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/common/xstring.h"

#include "copy_util.h"
#include "job_request.h"
#include "snapshot_shards.h"

/* The GRES shards are carved from: Slurm shares GPUs only. */
static const char sharing_gres[] = "gpu";
static const char shard_gres[] = SHARD_GRES_NAME;

static gres_state_t *_find_gres(list_t *gres_list, const char *name)
{
	list_itr_t *iter;
	gres_state_t *gres_state, *found = NULL;

	if (!gres_list)
		return NULL;
	iter = list_iterator_create(gres_list);
	while ((gres_state = list_next(iter))) {
		if (!xstrcmp(gres_state->gres_name, name)) {
			found = gres_state;
			break;
		}
	}
	list_iterator_destroy(iter);
	return found;
}

extern void shards_on_gpu(gres_node_state_t *shard_ns, uint32_t gpu,
			  uint64_t *total, uint64_t *used)
{
	*total = 0;
	*used = 0;
	for (int t = 0; t < shard_ns->topo_cnt; t++) {
		bitstr_t *map = shard_ns->topo_gres_bitmap[t];

		if (!map || (gpu >= (uint32_t) bit_size(map)) ||
		    !bit_test(map, gpu))
			continue;
		*total += shard_ns->topo_gres_cnt_avail[t];
		*used += shard_ns->topo_gres_cnt_alloc[t];
	}
}

extern void shards_fill_pool(list_t *node_gres, const char *gres_name,
			     const uint32_t *gpu_idx, uint32_t cnt,
			     ap_pool_t *pool, arena_t *arena)
{
	gres_state_t *shard_state;
	gres_node_state_t *shard_ns;
	uint32_t *total, *used;
	uint64_t sum = 0;

	if (!cnt || !gpu_idx || xstrcmp(gres_name, sharing_gres))
		return;
	if (!(shard_state = shards_node_state(node_gres)))
		return;
	shard_ns = shard_state->gres_data;
	total = arena_alloc(arena, cnt * sizeof(uint32_t));
	used = arena_alloc(arena, cnt * sizeof(uint32_t));
	for (uint32_t d = 0; d < cnt; d++) {
		uint64_t t64, u64;

		shards_on_gpu(shard_ns, gpu_idx[d], &t64, &u64);
		total[d] = copy_u32(t64);
		used[d] = copy_u32(u64 > t64 ? t64 : u64);
		sum += t64;
	}
	if (!sum)
		return;	/* shards on other GPUs of the node only */
	pool->shards_total = total;
	pool->shards_used = used;
	pool->shard_dev_cnt = cnt;
	pool->shards_one_sharing =
		(shard_state->config_flags & GRES_CONF_ONE_SHARING) != 0;
	/* device_pick.c's shard hold: not under one_sharing. */
	pool->holds_planned_shards = !pool->shards_one_sharing;
}

extern gres_state_t *shards_node_state(list_t *node_gres)
{
	gres_state_t *shard_state = _find_gres(node_gres, shard_gres);
	gres_node_state_t *shard_ns = shard_state ? shard_state->gres_data :
						    NULL;

	if (!shard_ns || !shard_ns->gres_cnt_avail || !shard_ns->topo_cnt ||
	    !shard_ns->topo_gres_bitmap || !shard_ns->topo_gres_cnt_avail ||
	    !shard_ns->topo_gres_cnt_alloc)
		return NULL;
	return shard_state;
}

/* The GPU type of node-local GPU index gpu ("" when untyped or unknown). */
static const char *_gpu_type(node_record_t *node_ptr, uint32_t gpu)
{
	gres_state_t *gpu_state = _find_gres(node_ptr->gres_list,
					     sharing_gres);
	gres_node_state_t *gpu_ns = gpu_state ? gpu_state->gres_data : NULL;

	if (!gpu_ns || !gpu_ns->topo_gres_bitmap || !gpu_ns->topo_type_name)
		return "";
	for (int t = 0; t < gpu_ns->topo_cnt; t++) {
		bitstr_t *map = gpu_ns->topo_gres_bitmap[t];

		if (map && (gpu < (uint32_t) bit_size(map)) &&
		    bit_test(map, gpu))
			return gpu_ns->topo_type_name[t] ?
				gpu_ns->topo_type_name[t] : "";
	}
	return "";
}

extern uint32_t shards_running_alloc(job_record_t *job_ptr,
				     node_record_t *node_ptr, int j,
				     arena_t *arena, ap_alloc_t *out)
{
	gres_state_t *state = _find_gres(job_ptr->gres_list_alloc,
					 shard_gres);
	gres_job_state_t *gres_js = state ? state->gres_data : NULL;
	bitstr_t *bits;
	bitoff_t size;
	uint32_t *idx, *shards, cnt = 0;

	if (!gres_js || (j >= (int) gres_js->node_cnt) ||
	    !gres_js->gres_cnt_node_alloc || !gres_js->gres_cnt_node_alloc[j] ||
	    !gres_js->gres_bit_alloc || !(bits = gres_js->gres_bit_alloc[j]))
		return 0;
	size = bit_size(bits);
	idx = arena_alloc(arena, (size ? size : 1) * sizeof(uint32_t));
	shards = arena_alloc(arena, (size ? size : 1) * sizeof(uint32_t));
	for (bitoff_t b = 0; b < size; b++) {
		if (!bit_test(bits, b))
			continue;
#if COMPAT_SLURM_AT_LEAST(23, 11)
		shards[cnt] = (gres_js->gres_per_bit_alloc &&
			       gres_js->gres_per_bit_alloc[j]) ?
			copy_u32(gres_js->gres_per_bit_alloc[j][b]) :
			copy_u32(gres_js->gres_cnt_node_alloc[j]);
#else
		/* One GPU per job and node before 23.11. */
		shards[cnt] = copy_u32(gres_js->gres_cnt_node_alloc[j]);
#endif
		idx[cnt++] = (uint32_t) b;
	}
	if (!cnt)
		return 0;
	memset(out, 0, sizeof(*out));
	out->node = arena_strdup(arena, node_ptr->name);
	out->gres_name = arena_strdup(arena, sharing_gres);
	out->gres_type = arena_strdup(arena, _gpu_type(node_ptr, idx[0]));
	out->device_count = cnt;
	out->device_indices = idx;
	out->device_index_cnt = cnt;
	out->device_shards = shards;
	return 1;
}

extern void shards_request(job_record_t *job_ptr, uint32_t num_nodes,
			   arena_t *arena, ap_pending_job_t *out)
{
	gres_state_t *state;
	uint64_t per_node;

	if (out->gres_name && out->gres_name[0])
		return;	/* a GPU request too: Slurm's rules, not modelled */
	state = _find_gres(job_ptr->gres_list_req, shard_gres);
	if (!state || !state->gres_data)
		return;
	per_node = job_gres_per_node(job_ptr, state->gres_data, num_nodes);
	if (!per_node)
		return;
	out->gres_name = arena_strdup(arena, sharing_gres);
	out->gres_per_node = 1;
	out->shards_per_node = copy_u32(per_node);
}

extern void shards_rules(ap_snapshot_t *snap)
{
	snap->shards_least_loaded =
		(slurm_conf.select_type_param & COMPAT_LL_SHARED_GRES) != 0;
	snap->shards_multiple_per_job =
		(slurm_conf.select_type_param &
		 COMPAT_MULTIPLE_SHARING_GRES_PJ) != 0;
	/* Fixed in 23.11.5 ("a gpu allocated as well as a shard on that gpu"). */
	snap->shards_unguarded =
		SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(23, 11, 5);
}
