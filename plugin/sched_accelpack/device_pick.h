/*****************************************************************************\
 *  device_pick.h - make cons_tres give a started job the devices the core
 *  planned with, not the ones its socket affinity would prefer.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_DEVICE_PICK_H
#define _ACCELPACK_DEVICE_PICK_H

#include <stdint.h>

#include "accelpack_bridge.h"
#include "src/slurmctld/slurmctld.h"

#include "slurm_compat.h"

/*
 * cons_tres, not the core, picks which devices of a node a started job gets:
 * the lowest free ones, or, where gres.conf gives Cores=, one device per socket
 * the job's cores are on first (a 2-die job whose cores span both sockets gets
 * one die of each, half of two modules). Slurm has no interface for asking it
 * for given devices. So for the length of one select_nodes() call the other
 * free devices the job could be given are counted allocated, and the planned
 * ones are all cons_tres may take (its core choice then sees where they are).
 * The planned devices, not the lowest free now: a job that ended since, or a
 * start of this cycle that failed, moves the lowest free. A planned device
 * that is busy now drops the start instead.
 *
 * Applies to a job asking an exact count of whole devices on each node (the
 * snapshot's exact_per_node: --gres=npu:N, or --gpus=N on one node; not per
 * task or per socket, whose count follows the cores cons_tres picks; not a
 * whole-node job, which gets every device and which cons_tres refuses a node
 * with any device counted allocated), on a pool with device files, not on
 * nodes that also carry MPS (shards are held with the devices that carry
 * them, which the plan never names): device_pick_holdable().
 * There the core plans any legal set of devices (a 910C module next to a busy
 * die); elsewhere only where cons_tres' own pick keeps the kind's rule.
 *
 * Shards (--gres=shard:N, an exact count per node): the plan names the GPU
 * the shards come from, the one the core expects cons_tres to pick; every
 * other GPU's free shards are counted allocated, so that cons_tres' pick has
 * that one answer also where a job ended on the node since the plan (room on
 * a GPU it would try first) or where gres.conf's Cores= has it try the GPUs
 * of the job's sockets first. A planned GPU that has too few shards free now,
 * or is allocated whole, drops the start. Not under gres.conf's one_sharing
 * (held shards would count as "in use" there).
 * Locks: node WRITE, held from device_pick_hold to device_pick_release.
 */
typedef struct device_pick device_pick_t;

/* IN job_ptr - the job; job - its request as the snapshot has it
 * IN start - the plan's start (nodes, pool types, devices)
 * OUT pick - what was held back (NULL: nothing); give it to device_pick_release
 * RET SLURM_SUCCESS, or SLURM_ERROR with *why (xmalloc'd) when a planned
 *	device is taken: nothing is held then */
extern int device_pick_hold(job_record_t *job_ptr, const ap_pending_job_t *job,
			    const ap_start_t *start, device_pick_t **pick,
			    char **why);

/*
 * Undo exactly what device_pick_hold did. With started, checks that the job
 * now holds the devices that were left free for it and logs where not.
 * IN job_id - for the log
 */
extern void device_pick_release(device_pick_t *pick, uint32_t job_id,
				bool started);

/*
 * Whether device_pick_hold can hold the node's other devices of GRES `name`
 * back for a start (per-device state; no MPS on the node). The
 * snapshot tells the core so (holds_planned_devices): there it plans any legal
 * set for an exact_per_node request, not only cons_tres' own pick.
 */
extern bool device_pick_holdable(list_t *node_gres, const char *name);

/*
 * Node-local device indices (bits of gres_bit_alloc) of one GRES type, in the
 * order the snapshot numbers a pool's devices; type NULL: every type.
 * OUT out - room for device_pick_index_cap(gres_ns) entries
 * RET count (0 when unknown: no per-file topology)
 */
extern uint32_t device_pick_index_cap(gres_node_state_t *gres_ns);
extern uint32_t device_pick_type_indices(gres_node_state_t *gres_ns,
					 const char *type, uint32_t *out);

#endif
