/*****************************************************************************\
 *  snapshot_shards.h - Slurm's shard GRES in the snapshot: per-GPU shard
 *  counts of nodes, running jobs' shards, pending shard requests, and how
 *  cons_tres hands shards out. See docs/plugin.md "Shards and MIG".
 *  Locks: as snapshot_build (the scheduler locks).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_SNAPSHOT_SHARDS_H
#define _ACCELPACK_SNAPSHOT_SHARDS_H

#include "accelpack_bridge.h"
#include "src/slurmctld/slurmctld.h"

#include "arena.h"
#include "slurm_compat.h"

#define SHARD_GRES_NAME "shard"

/*
 * The node's shard GRES where its shards are counted per GPU (a topology
 * record per GPU, as the snapshot reads them); NULL otherwise.
 */
extern gres_state_t *shards_node_state(list_t *node_gres);

/* Shards of node-local GPU index gpu: the sum of the topology records that
 * cover it. */
extern void shards_on_gpu(gres_node_state_t *shard_ns, uint32_t gpu,
			  uint64_t *total, uint64_t *used);

/*
 * Per-device shard counts for a pool of the sharing GRES (gpu) whose device d
 * is the node's GPU gpu_idx[d]; leaves the pool unshared when the node has no
 * shards.
 */
extern void shards_fill_pool(list_t *node_gres, const char *gres_name,
			     const uint32_t *gpu_idx, uint32_t cnt,
			     ap_pool_t *pool, arena_t *arena);

/*
 * The shards a running job holds on the node with job-relative index j, as one
 * allocation of the sharing GRES (gpu). RET 1 when it holds shards there, else 0
 */
extern uint32_t shards_running_alloc(job_record_t *job_ptr,
				     node_record_t *node_ptr, int j,
				     arena_t *arena, ap_alloc_t *out);

/* --gres=shard:N of a pending job that asks for no other accelerator. */
extern void shards_request(job_record_t *job_ptr, uint32_t num_nodes,
			   arena_t *arena, ap_pending_job_t *out);

/* SelectTypeParameters and release: how cons_tres places shards. */
extern void shards_rules(ap_snapshot_t *snap);

#endif
