/*
 * accelpack_bridge.h: the C API between sched/accelpack (C, inside slurmctld) and the
 * placement core (gRPC, C++). SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The plugin fills an ap_snapshot_t under slurmctld's locks using its own allocator
 * (the bridge only reads it), releases the locks, and asks for a plan: from the core
 * (ap_client_schedule, with a deadline) or from the built-in policy
 * (ap_fallback_schedule, no core needed). A plan is allocated by the bridge and freed
 * with ap_plan_free.
 *
 * Every entry point is noexcept: nothing is thrown into C; failures come back as an
 * ap_status_t plus a one-line message. Thread safety: an ap_client_t may be used by one
 * thread at a time (the plugin's agent thread); ap_fallback_schedule is reentrant.
 * Only the symbols declared here are exported from libaccelpack_bridge.so.
 */
#ifndef ACCELPACK_BRIDGE_H
#define ACCELPACK_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACCELPACK_BRIDGE_BUILD)
#define AP_API __attribute__((visibility("default")))
#else
#define AP_API
#endif

#ifdef __cplusplus
#define AP_NOEXCEPT noexcept
#else
#define AP_NOEXCEPT
#endif

/* Mirrors accelpack.v1.NodeState. */
typedef enum {
	AP_NODE_UNSPECIFIED = 0,
	AP_NODE_IDLE = 1,
	AP_NODE_MIXED = 2,
	AP_NODE_ALLOCATED = 3,
	AP_NODE_DOWN = 4,
	AP_NODE_DRAINED = 5,
	AP_NODE_RESERVED = 6,
} ap_node_state_t;

/* Mirrors accelpack.v1.PendingReasonCode. */
typedef enum {
	AP_REASON_UNSPECIFIED = 0,
	AP_REASON_RESOURCES = 1,
	AP_REASON_PRIORITY = 2,
	AP_REASON_NEVER_FITS = 3,
	AP_REASON_TOPOLOGY = 4,
	AP_REASON_CYCLE_LIMIT = 5,
} ap_reason_code_t;

typedef enum {
	AP_OK = 0,
	AP_UNAVAILABLE = 1,	/* core not reachable (socket absent, refused) */
	AP_DEADLINE = 2,	/* core did not answer within the deadline */
	AP_GARBAGE = 3,		/* core answered a plan that is not valid */
	AP_REJECTED = 4,	/* core refused the snapshot (INVALID_ARGUMENT) */
	AP_INTERNAL = 5,	/* anything else (out of memory, bug) */
} ap_status_t;

/* Devices of one GRES (name, type) on a node. */
typedef struct {
	const char *gres_name;
	const char *gres_type;			/* "" for a typeless GRES */
	uint32_t count;
	uint32_t allocated;
	const uint32_t *device_used_milli;	/* NULL: count-only GRES */
	uint32_t device_cnt;			/* entries in device_used_milli */
	/* Slurm's shard GRES on these devices, per device (shard_dev_cnt
	 * entries; NULL: not shared). device_used_milli counts whole use. */
	const uint32_t *shards_total;
	const uint32_t *shards_used;
	uint32_t shard_dev_cnt;
	bool shards_one_sharing;		/* gres.conf Flags=one_sharing */
	bool holds_planned_devices;		/* device_pick.h can make a start
						 * of an exact_per_node request
						 * take the planned devices */
	bool holds_planned_shards;		/* ... or its shards from the
						 * planned device */
} ap_pool_t;

typedef struct {
	const char *name;
	ap_node_state_t state;
	const char *const *partitions;
	uint32_t partition_cnt;
	const char *const *features;
	uint32_t feature_cnt;
	uint32_t cpus_total;
	uint32_t cpus_alloc;
	uint64_t mem_total_mib;
	uint64_t mem_alloc_mib;
	const ap_pool_t *pools;
	uint32_t pool_cnt;
	const char *network_switch;	/* leaf switch (topology/tree); NULL: unknown */
	const char *superpod;		/* NULL: unlabelled */
} ap_node_t;

typedef struct {
	uint32_t job_id;
	const char *user;
	const char *account;
	const char *qos;
	const char *const *partitions;	/* in the job's preference order */
	uint32_t partition_cnt;
	int64_t priority;
	int64_t submit_time;
	int64_t time_limit_s;		/* 0: none */
	uint32_t num_nodes;
	const char *gres_name;		/* NULL or "": no accelerators */
	const char *const *gres_types;	/* allowed types; none: any */
	uint32_t gres_type_cnt;
	uint32_t gres_per_node;
	bool exact_per_node;		/* gres_per_node (shards_per_node) on
					 * each node: not per task or socket,
					 * not a whole node */
	uint32_t cpus_per_node;
	uint64_t mem_per_node_mib;
	const char *const *features;	/* all required */
	uint32_t feature_cnt;
	const char *const *req_nodes;	/* -w */
	uint32_t req_node_cnt;
	const char *const *exc_nodes;	/* -x */
	uint32_t exc_node_cnt;
	bool exclusive;			/* needs nodes nothing else runs on */
	const char *const *refused_nodes; /* Slurm refused a start there lately */
	uint32_t refused_node_cnt;
	uint32_t refused_starts;	/* refusals in a row */
	const char *refused_reason;	/* Slurm's last word; NULL: none */
	const char *const *reservations; /* advanced reservations it may use */
	uint32_t reservation_cnt;
	bool reservation_only;		/* only inside one of them */
	const char *const *feature_any;	/* alternatives, each "a&b": a node */
	uint32_t feature_any_cnt;	/* needs every feature of one of them */
	uint32_t shards_per_node;	/* --gres=shard:N (gres_name "gpu",
					 * gres_per_node 1); 0: none */
	bool feature_any_matching;	/* "[a|b]": all nodes take the same
					 * alternative */
	bool exclusive_user;		/* --exclusive=user, ExclusiveUser=YES:
					 * shares nodes with its user's jobs only */
	uint32_t user_id;		/* the job's uid */
} ap_pending_job_t;

/* One of Slurm's advanced reservations (active or future). */
typedef struct {
	const char *name;
	int64_t start_time;
	int64_t end_time;
	const char *const *nodes;
	uint32_t node_cnt;
	bool partial;			/* CoreCnt/TRES: part of each node */
	/* With partial: per entry of nodes, what the reservation holds there:
	 * CPUs (reserved cores x threads per core) and accelerators (GRES of an
	 * AccelpackGres name). NULL: not known, counted as whole nodes. */
	const uint32_t *reserved_cpus;
	const uint32_t *reserved_devices;
} ap_adv_resv_t;

/* What a running job holds on one node (one entry per node and GRES type). */
typedef struct {
	const char *node;
	const char *gres_name;		/* NULL or "": no accelerators here */
	const char *gres_type;
	uint32_t device_count;
	const uint32_t *device_indices;	/* NULL when unknown */
	uint32_t device_index_cnt;
	uint32_t cpus;
	uint64_t mem_mib;
	const uint32_t *device_shards;	/* shards per device_indices entry;
					 * NULL: whole devices */
} ap_alloc_t;

typedef struct {
	uint32_t job_id;
	const ap_alloc_t *allocs;
	uint32_t alloc_cnt;
	int64_t start_time;
	int64_t time_limit_s;		/* 0: unlimited */
	/* For choosing preemption victims (docs/preemption.md). */
	const char *partition;		/* NULL: unknown */
	const char *qos;		/* NULL: none */
	bool requeueable;		/* batch job whose requeue Slurm allows */
	bool draining;			/* being preempted (grace period) */
	int64_t preempt_exempt_until;	/* unix seconds; 0: none */
	uint32_t user_id;		/* the job's uid */
	bool exclusive_user;		/* --exclusive=user, ExclusiveUser=YES */
	const char *reservation;	/* advanced reservation it runs in;
					 * NULL: none */
} ap_running_job_t;

typedef struct {
	int64_t now;
	const ap_node_t *nodes;
	uint32_t node_cnt;
	const ap_pending_job_t *pending;
	uint32_t pending_cnt;
	const ap_running_job_t *running;
	uint32_t running_cnt;
	const ap_adv_resv_t *adv_resv;
	uint32_t adv_resv_cnt;
	/* What only the controller knows, about the previous cycle (sent to the
	 * core for its metrics; has_stats false: none yet). */
	bool has_stats;
	uint64_t lock_hold_us;		/* longest single hold of the locks */
	uint64_t snapshot_us;		/* time the copy held the locks */
	uint64_t fallback_cycles_total;	/* cycles planned by the built-in policy */
	uint64_t dropped_decisions_total; /* planned starts not carried out */
	/* How cons_tres hands out shards (SelectTypeParameters, release). */
	bool shards_least_loaded;	/* LL_SHARED_GRES */
	bool shards_multiple_per_job;	/* MULTIPLE_SHARING_GRES_PJ */
	bool shards_unguarded;		/* before 23.11.5: GPU whole + shards */
} ap_snapshot_t;

/* One job to start now, on exactly these nodes (num_nodes of them). */
typedef struct {
	uint32_t job_id;
	char **nodes;
	char **gres_types;	/* per node, the chosen type ("" when none) */
	/* Per node, the whole devices the plan was made with, or the GPUs a
	 * shard start's shards come from: indices into the node's pool of
	 * gres_types[n] (NULL, 0: none, or another kind of share). */
	uint32_t **devices;
	uint32_t *device_cnt;
	uint32_t node_cnt;
} ap_start_t;

typedef struct {
	uint32_t job_id;
	ap_reason_code_t code;
	char *message;
} ap_reason_t;

/* A blocked job's planned start: shown by squeue --start (start_time and
 * sched_nodes of the job record). */
typedef struct {
	uint32_t job_id;
	int64_t start_time;	/* unix seconds */
	char *nodes;		/* comma list of the nodes it reserves */
} ap_reservation_t;

/* Requeue `victims` now so that job_id can start on `nodes` in a later cycle;
 * `awaiting` are victims of earlier cycles still draining there. Every id is a
 * running job of the snapshot. */
typedef struct {
	uint32_t job_id;
	uint32_t *victims;
	uint32_t victim_cnt;
	uint32_t *awaiting;
	uint32_t awaiting_cnt;
	char **nodes;
	uint32_t node_cnt;
} ap_preemption_t;

typedef struct {
	ap_start_t *starts;
	uint32_t start_cnt;
	ap_reason_t *reasons;
	uint32_t reason_cnt;
	char *reason_text;	/* every reasons[].message, one block */
	ap_reservation_t *reservations;
	uint32_t reservation_cnt;
	ap_preemption_t *preemptions;	/* the core's only; the built-in
					 * policy never preempts */
	uint32_t preemption_cnt;
	uint64_t engine_latency_us;	/* 0 for the built-in policy */
	char *policy_name;
	/* ap_client_schedule only: */
	bool unchanged;		/* no record changed and nothing became due since
				 * the last plan: the core was not asked, the plan
				 * is empty and there is nothing to apply */
	bool sent_whole;	/* the core got the whole snapshot (else a delta) */
	uint32_t sent_records;	/* records sent: all, or the changed ones */
	char *resync_reason;	/* the core asked for the whole snapshot this
				 * cycle (and got it): why; NULL otherwise */
} ap_plan_t;

typedef struct ap_client ap_client_t;

/*
 * Create a client for the core at `address` (gRPC target, e.g.
 * "unix:/run/accelpack/accelpack.sock" or "dns:host:port"). Connects lazily: a core
 * that is down now is not an error. RET NULL on failure, with a message in err.
 */
AP_API ap_client_t *ap_client_create(const char *address, const char *caller,
				     char *err, size_t errlen) AP_NOEXCEPT;
AP_API void ap_client_destroy(ap_client_t *client) AP_NOEXCEPT;

/*
 * When no record changed since the core's last plan, that plan had no starts and
 * none of its reservations became due, ap_client_schedule answers "unchanged"
 * without calling the core, for at most idle_replan_ms after the last call.
 * 0 (the default): always call.
 */
AP_API void ap_client_set_idle_replan(ap_client_t *client,
				      uint32_t idle_replan_ms) AP_NOEXCEPT;

/* The next ap_client_schedule sends the whole snapshot (e.g. after a reconfigure). */
AP_API void ap_client_resync(ap_client_t *client) AP_NOEXCEPT;

/*
 * One scheduling cycle through the core, at most deadline_ms long in all. On AP_OK
 * *plan holds a plan whose starts were checked for shape (known pending job,
 * num_nodes distinct known nodes, no job twice), or is marked unchanged; otherwise
 * *plan is empty and err says why.
 *
 * Delta snapshots: once the core has acknowledged a snapshot, the next call sends
 * only the records that changed since (fingerprints of every record, computed here,
 * outside slurmctld's locks). When the core does not hold that base (it restarted)
 * it asks for the whole snapshot and gets it in the same call. Any failure makes
 * the next call send the whole snapshot. The client's identity is `caller` plus an
 * epoch drawn at ap_client_create: a new client (a new slurmctld process) never
 * extends an older one's base.
 */
AP_API ap_status_t ap_client_schedule(ap_client_t *client, const ap_snapshot_t *snap,
				      uint32_t deadline_ms, ap_plan_t *plan,
				      char *err, size_t errlen) AP_NOEXCEPT;

/*
 * Bounds on one built-in cycle. It runs inside slurmctld, on the plugin's agent
 * thread, which slurmctld joins when it stops: past a bound the engine stops
 * early, with what it planned so far, and the jobs it did not reach wait ("not
 * evaluated") for a later cycle.
 */
typedef struct {
	uint32_t max_ms;	/* wall time from the call; 0: none */
	bool (*stop)(void);	/* true: stop now (the agent is asked to stop); NULL: never */
} ap_fallback_bounds_t;

/*
 * The built-in policy: the core's engine with its built-in default policy, run
 * in-process (every topology rule, gangs, reservations). Within its bounds
 * (NULL: none), a pure function of the snapshot. RET AP_OK, or AP_INTERNAL (a
 * snapshot the engine refuses, out of memory).
 */
AP_API ap_status_t ap_fallback_schedule(const ap_snapshot_t *snap,
					const ap_fallback_bounds_t *bounds, ap_plan_t *plan,
					char *err, size_t errlen) AP_NOEXCEPT;

/* Frees what a plan holds and zeroes it; safe on a zeroed plan. */
AP_API void ap_plan_free(ap_plan_t *plan) AP_NOEXCEPT;

AP_API const char *ap_status_str(ap_status_t status) AP_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* ACCELPACK_BRIDGE_H */
