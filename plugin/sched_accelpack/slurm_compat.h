/*****************************************************************************\
 *  slurm_compat.h - the differences between the Slurm releases sched/accelpack
 *  builds against, in one place, by SLURM_VERSION_NUMBER. The cycle code uses
 *  the newest release's names; older releases get them here.
 *  SPDX-License-Identifier: GPL-2.0-or-later
 *
 *  Built and run in CI: 22.05.8 (Debian 12), 24.11.5 (Debian 13), 25.05.8,
 *  25.11.7, 26.05.3. The 23.x boundaries below follow Slurm's release notes
 *  and are not compiled in CI.
\*****************************************************************************/
#ifndef _ACCELPACK_SLURM_COMPAT_H
#define _ACCELPACK_SLURM_COMPAT_H

#include "slurm/slurm.h"
#include "src/common/list.h"
#include "src/slurmctld/locks.h"
#include "src/slurmctld/slurmctld.h"
#include "src/slurmctld/node_scheduler.h"

#define COMPAT_SLURM_AT_LEAST(major, minor) \
	(SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(major, minor, 0))

/* 23.02 moved the plugin interfaces from src/common to src/interfaces. */
#if COMPAT_SLURM_AT_LEAST(23, 2)
#include "src/interfaces/gres.h"
#include "src/interfaces/preempt.h"
#include "src/interfaces/select.h"
#include "src/interfaces/topology.h"
#else
#include "src/common/gres.h"
#include "src/common/select.h"
#include "src/slurmctld/preempt.h"
#include "src/common/slurm_topology.h"
#endif

/* srun_allocate(): src/slurmctld/srun_comm.h until 23.11, then proc_req.h
 * (the rest of srun_comm.h went to src/stepmgr/). */
#if COMPAT_SLURM_AT_LEAST(24, 5)
#include "src/slurmctld/proc_req.h"
#else
#include "src/slurmctld/srun_comm.h"
#endif

/* 23.02 named the list types list_t/list_itr_t; 24.11 dropped List. */
#if !COMPAT_SLURM_AT_LEAST(23, 2)
typedef struct xlist list_t;
typedef struct listIterator list_itr_t;
#endif

/*
 * Whether an association/QOS limit may be what holds a job, as Slurm's main
 * scheduler asks before re-checking the limits (acct_policy.h must be included
 * first): newer releases test a flag of the job's reason instead of calling
 * acct_policy_job_runnable_state(). Detected by the header, not by a version
 * guess.
 */
#if __has_include("src/common/job_state_reason.h")
#include "src/common/job_state_reason.h"
#define COMPAT_LIMITS_MAY_HOLD(job_ptr) \
	job_state_reason_check((job_ptr)->state_reason, JSR_QOS_ASSOC)
#else
#define COMPAT_LIMITS_MAY_HOLD(job_ptr) \
	(!acct_policy_job_runnable_state(job_ptr))
#endif

/*
 * SelectTypeParameters bits for shared GRES (23.11 on): macros until 25.05, an enum
 * with a SELECT_ prefix from 25.11. Before 23.11 neither exists (0: never set).
 */
#if COMPAT_SLURM_AT_LEAST(25, 11)
#define COMPAT_LL_SHARED_GRES SELECT_LL_SHARED_GRES
#define COMPAT_MULTIPLE_SHARING_GRES_PJ SELECT_MULTIPLE_SHARING_GRES_PJ
#elif defined(LL_SHARED_GRES) && defined(MULTIPLE_SHARING_GRES_PJ)
#define COMPAT_LL_SHARED_GRES LL_SHARED_GRES
#define COMPAT_MULTIPLE_SHARING_GRES_PJ MULTIPLE_SHARING_GRES_PJ
#else
#define COMPAT_LL_SHARED_GRES 0
#define COMPAT_MULTIPLE_SHARING_GRES_PJ 0
#endif

/*
 * What Slurm's build_job_queue() does per job that changed between releases
 * (job_queue.c builds the same queue in chunks). 22.05 also counts a job
 * whose select plugin data says "cleaning" as still cleaning up, re-queues
 * with no reservation reason when held, and always resets an array's
 * pending-run count; 23.x boundaries follow the release notes, not compiled.
 * The per-partition limits reason: a flag of the reason from the release that
 * has job_state_reason.h, part_policy_job_runnable_state() before.
 */
#if COMPAT_SLURM_AT_LEAST(23, 2)
#define compat_job_select_cleaning(job_ptr) false
#else
static inline bool compat_job_select_cleaning(job_record_t *job_ptr)
{
	uint16_t cleaning = 0;

	select_g_select_jobinfo_get(job_ptr->select_jobinfo,
				    SELECT_JOBDATA_CLEANING, &cleaning);
	return cleaning != 0;
}
#endif
#if COMPAT_SLURM_AT_LEAST(23, 11)
#define COMPAT_HELD_REASON_KEPT(reason) \
	(((reason) == WAIT_RESV_INVALID) || ((reason) == WAIT_RESV_DELETED))
#define COMPAT_RESET_PEND_RUN_TASKS 0	/* only when backfill builds it */
#else
#define COMPAT_HELD_REASON_KEPT(reason) ((reason) == WAIT_RESV_DELETED)
#define COMPAT_RESET_PEND_RUN_TASKS 1
#endif
#if __has_include("src/common/job_state_reason.h")
#define COMPAT_PART_LIMITS_HELD(job_ptr) \
	job_state_reason_check((job_ptr)->state_reason, JSR_PART)
#else
#define COMPAT_PART_LIMITS_HELD(job_ptr) \
	(!part_policy_job_runnable_state(job_ptr))
#endif
/*
 * Per-partition (22.05) and per partition x QOS (24.11 on: jobs may ask for
 * several QOS) priorities, in the order build_job_queue() walks them.
 */
#if COMPAT_SLURM_AT_LEAST(25, 5)
#define COMPAT_PRIORITY_ARRAY(job_ptr) \
	((job_ptr)->prio_mult ? (job_ptr)->prio_mult->priority_array : NULL)
#elif COMPAT_SLURM_AT_LEAST(24, 11)
#define COMPAT_PRIORITY_ARRAY(job_ptr) \
	((job_ptr)->part_prio ? (job_ptr)->part_prio->priority_array : NULL)
#else
#define COMPAT_PRIORITY_ARRAY(job_ptr) ((job_ptr)->priority_array)
#endif
#define COMPAT_HAS_QOS_LIST COMPAT_SLURM_AT_LEAST(24, 11)
/* A job state reason's text: renamed (and moved) in 24.11. */
#if COMPAT_SLURM_AT_LEAST(24, 11)
#include "src/common/job_state_reason.h"
#define COMPAT_REASON_STRING(reason) job_state_reason_string(reason)
#else
#define COMPAT_REASON_STRING(reason) job_reason_string(reason)
#endif
/* 25.11 also keeps the job's qos_id in step with the QOS being tried, and
 * sorts jobs in an expedited requeue before all others. */
#define COMPAT_QOS_ID_FOLLOWS COMPAT_SLURM_AT_LEAST(25, 11)
#if COMPAT_SLURM_AT_LEAST(25, 11)
#define COMPAT_JOB_EXPEDITED(job_ptr) IS_JOB_EXPEDITING(job_ptr)
#else
#define COMPAT_JOB_EXPEDITED(job_ptr) false
#endif

/* From 24.11 a victim signalled for its GraceTime is flagged GRACE_PREEMPT, and
 * only its completing on the signal clears the flag: one requeued when its grace
 * ended keeps it, and its rerun, ending normally, is requeued again. */
#ifdef GRACE_PREEMPT
#define COMPAT_GRACE_PREEMPT GRACE_PREEMPT
#else
#define COMPAT_GRACE_PREEMPT 0
#endif

/* Reservations hold GRES (TRES=gres/gpu:N) from 23.11, in gres_list_alloc:
 * one job GRES state per requested name and type. */
#define COMPAT_RESV_HAS_GRES COMPAT_SLURM_AT_LEAST(23, 11)
#if COMPAT_RESV_HAS_GRES
#define COMPAT_RESV_HOLDS_GRES(resv) \
	((resv)->gres_list_alloc && list_count((resv)->gres_list_alloc))
#else
#define COMPAT_RESV_HOLDS_GRES(resv) false
#endif

/* 24.05 made the job details an anonymous struct, named job_details_t. */
#if !COMPAT_SLURM_AT_LEAST(24, 5)
typedef struct job_details job_details_t;
#endif

/*
 * The locks backfill and the main scheduler take for a cycle. 26.05 added a
 * lock for the select plugin's per-node counters (node_select_stats_array),
 * which a cycle reads and select_nodes() writes.
 */
#if COMPAT_SLURM_AT_LEAST(26, 5)
#define COMPAT_SCHED_LOCKS                                          \
	{ .conf = READ_LOCK, .job = WRITE_LOCK, .node = WRITE_LOCK, \
	  .part = READ_LOCK, .fed = READ_LOCK,                      \
	  .select_node = WRITE_LOCK }
#else
#define COMPAT_SCHED_LOCKS                                          \
	{ .conf = READ_LOCK, .job = WRITE_LOCK, .node = WRITE_LOCK, \
	  .part = READ_LOCK, .fed = READ_LOCK }
#endif

/* 26.05 runs plugin threads from slurmctld's thread pool: created with a
 * name, and joined through the pool (threadpool_join(), which keeps the
 * pool's books), not with pthread_join(). */
#if COMPAT_SLURM_AT_LEAST(26, 5)
#include "src/common/threadpool.h"
#define compat_thread_create(name, id, func, arg) \
	slurm_thread_create(name, id, func, arg)
#define compat_thread_join(id) slurm_thread_join(id)
#else
#define compat_thread_create(name, id, func, arg) \
	slurm_thread_create(id, func, arg)
#define compat_thread_join(id) pthread_join(id, NULL)
#endif

/*
 * CPUs and memory the select plugin has allocated on a node (what scontrol
 * shows as CPUAlloc/AllocMem); refreshed by select_g_select_nodeinfo_set_all().
 * Until 24.11 behind select_g_select_nodeinfo_get(); 25.05 put the counters
 * into the node record; 26.05 moved them to node_select_stats_array.
 */
static inline void compat_node_alloc(node_record_t *node_ptr,
				     uint16_t *cpus, uint64_t *mem)
{
#if COMPAT_SLURM_AT_LEAST(26, 5)
	node_select_stats_t *stats = node_select_stats_array ?
		node_select_stats_array[node_ptr->index] : NULL;

	*cpus = stats ? stats->alloc_cpus : 0;
	*mem = stats ? stats->alloc_memory : 0;
#elif COMPAT_SLURM_AT_LEAST(25, 5)
	*cpus = node_ptr->alloc_cpus;
	*mem = node_ptr->alloc_memory;
#else
	*cpus = 0;
	*mem = 0;
	select_g_select_nodeinfo_get(node_ptr->select_nodeinfo,
				     SELECT_NODEDATA_SUBCNT,
				     NODE_STATE_ALLOCATED, cpus);
	select_g_select_nodeinfo_get(node_ptr->select_nodeinfo,
				     SELECT_NODEDATA_MEM_ALLOC,
				     NODE_STATE_ALLOCATED, mem);
#endif
}

/*
 * Allocate the job on the nodes its exclusions leave, as backfill does
 * (scheduler_type: SLURMDB_JOB_FLAG_*). 23.11 passes a job_node_select_t.
 */
static inline int compat_select_nodes(job_record_t *job_ptr,
				      uint32_t scheduler_type)
{
#if COMPAT_SLURM_AT_LEAST(23, 11)
	job_node_select_t job_node_select = { .job_ptr = job_ptr };

	return select_nodes(&job_node_select, false, false, scheduler_type);
#else
	return select_nodes(job_ptr, false, NULL, NULL, false,
			    scheduler_type);
#endif
}

/*
 * Requeue a running batch job as preemption does (its requeue hold and
 * accounting). Locks: job WRITE, node WRITE, fed READ. 25.11 takes the record.
 */
static inline int compat_job_requeue(job_record_t *job_ptr)
{
#if COMPAT_SLURM_AT_LEAST(25, 11)
	return job_requeue_internal(0, job_ptr, true, 0);
#else
	return job_requeue(0, job_ptr->job_id, NULL, true, 0);
#endif
}

/*
 * list_find_first() matcher: the element is key itself (Slurm's own,
 * slurm_find_ptr_in_list(), is 23.02 and later).
 */
static inline int compat_same_ptr(void *x, void *key)
{
	return x == key;
}

/*
 * Topology labels by node index, from the topology plugin slurmctld runs:
 * leaf switch (topology/tree) and block (topology/block, e.g. an NVL72
 * rack or SuperPoD). Either array is NULL when that kind is not configured;
 * an entry is NULL for a node outside every switch/block. Owned here, valid
 * until the next call; call with the scheduler's locks held.
 */
extern void compat_topology_labels(const char *const **leaf_switch,
				   const char *const **block);
/* Frees what compat_topology_labels() keeps (plugin unload). */
extern void compat_topology_free(void);

#endif
