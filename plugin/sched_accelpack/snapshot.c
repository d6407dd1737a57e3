/*****************************************************************************\
 *  snapshot.c - copy nodes, pending and running jobs out of slurmctld while
 *  it is locked, into plain C structs the bridge turns into protobuf.
 *  SPDX-License-Identifier: GPL-2.0-or-later
 *
 *  Everything here runs with the scheduler's locks held, so it only copies:
 *  no sorting beyond Slurm's own queue sort, no I/O, one arena for memory.
\*****************************************************************************/

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/common/gres.h"
#include "src/common/job_resources.h"
#include "src/common/list.h"
#include "src/common/node_conf.h"
#include "src/common/select.h"
#include "src/common/slurm_topology.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"
#include "src/slurmctld/job_scheduler.h"
#include "src/slurmctld/slurmctld.h"

#include "snapshot.h"

/* ------------------------------------------------------------ arena */

#define ARENA_CHUNK (64 * 1024)

struct arena_chunk {
	arena_chunk_t *next;
	size_t used, size;
	/* data follows, max_align_t aligned */
	_Alignas(16) unsigned char data[];
};

extern void *arena_alloc(arena_t *arena, size_t size)
{
	arena_chunk_t *chunk = arena->head;
	void *ptr;

	size = (size + 15) & ~(size_t) 15;
	if (!chunk || (chunk->used + size > chunk->size)) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		chunk = xmalloc(sizeof(*chunk) + cap);
		chunk->size = cap;
		chunk->used = 0;
		chunk->next = arena->head;
		arena->head = chunk;
	}
	ptr = chunk->data + chunk->used;
	chunk->used += size;
	memset(ptr, 0, size);
	return ptr;
}

extern char *arena_strdup(arena_t *arena, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	char *out = arena_alloc(arena, len + 1);

	if (len)
		memcpy(out, s, len);
	return out;
}

extern void arena_free(arena_t *arena)
{
	while (arena->head) {
		arena_chunk_t *next = arena->head->next;

		xfree(arena->head);
		arena->head = next;
	}
}

/* ------------------------------------------------------------ helpers */

/* Split a list of names ("a,b", "a&b") into an arena array. RET count */
static uint32_t _split(arena_t *arena, const char *list, const char *seps,
		       const char *const **out)
{
	const char **items;
	char *copy, *tok, *save = NULL;
	uint32_t cnt = 0, cap = 1;

	*out = NULL;
	if (!list || !list[0])
		return 0;
	for (const char *p = list; *p; p++)
		if (strchr(seps, *p))
			cap++;
	items = arena_alloc(arena, cap * sizeof(char *));
	copy = xstrdup(list);
	for (tok = strtok_r(copy, seps, &save); tok && (cnt < cap);
	     tok = strtok_r(NULL, seps, &save))
		items[cnt++] = arena_strdup(arena, tok);
	xfree(copy);
	*out = items;
	return cnt;
}

/* Node names of the set bits of bitmap, in node table order. RET count */
static uint32_t _bitmap_names(arena_t *arena, bitstr_t *bitmap,
			      const char *const **out)
{
	const char **names;
	uint32_t cnt = 0, cap;
	bitoff_t i, size;

	*out = NULL;
	if (!bitmap || !(cap = (uint32_t) bit_set_count(bitmap)))
		return 0;
	names = arena_alloc(arena, cap * sizeof(char *));
	size = bit_size(bitmap);
	for (i = 0; (i < size) && (cnt < cap); i++) {
		if (!bit_test(bitmap, i) || (i >= node_record_count) ||
		    !node_record_table_ptr[i])
			continue;
		names[cnt++] = arena_strdup(arena,
					    node_record_table_ptr[i]->name);
	}
	*out = names;
	return cnt;
}

/* RET true if name is in the comma list (the accelerator GRES names) */
static bool _in_list(const char *list, const char *name)
{
	size_t len;
	const char *p = list;

	if (!list || !name)
		return false;
	len = strlen(name);
	while (p && *p) {
		if (!strncmp(p, name, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

static uint32_t _u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
}

/* ------------------------------------------------------------ nodes */

/*
 * Node-local device indices of one GRES type, from the per-file topology
 * records (present when gres.conf has File=). RET count, 0 when unknown
 */
static uint32_t _type_indices(gres_node_state_t *gres_ns, const char *type,
			      arena_t *arena, uint32_t **out)
{
	uint32_t cnt = 0, cap;
	bitoff_t size;

	*out = NULL;
	if (!gres_ns->gres_bit_alloc || !gres_ns->topo_cnt ||
	    !gres_ns->topo_gres_bitmap)
		return 0;
	size = bit_size(gres_ns->gres_bit_alloc);
	cap = (uint32_t) size;
	*out = arena_alloc(arena, (cap ? cap : 1) * sizeof(uint32_t));
	for (bitoff_t i = 0; i < size; i++) {
		for (int t = 0; t < gres_ns->topo_cnt; t++) {
			bitstr_t *map = gres_ns->topo_gres_bitmap[t];
			const char *tname = gres_ns->topo_type_name ?
				gres_ns->topo_type_name[t] : NULL;

			if (!map || (i >= bit_size(map)) || !bit_test(map, i))
				continue;
			if (type && xstrcmp(type, tname))
				continue;
			(*out)[cnt++] = (uint32_t) i;
			break;
		}
	}
	return cnt;
}

/* One pool for a GRES (name, type): count, allocated, per-device use. */
static void _fill_pool(ap_pool_t *pool, const char *name, const char *type,
		       uint64_t avail, uint64_t alloc,
		       gres_node_state_t *gres_ns, arena_t *arena)
{
	uint32_t *idx = NULL, cnt;

	pool->gres_name = arena_strdup(arena, name);
	pool->gres_type = arena_strdup(arena, type);
	pool->count = _u32(avail);
	pool->allocated = _u32(alloc);
	cnt = _type_indices(gres_ns, type, arena, &idx);
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
	}
}

static void _fill_pools(node_record_t *node_ptr, ap_node_t *node,
			const char *accel_gres, arena_t *arena)
{
	ListIterator iter;
	gres_state_t *gres_state;
	uint32_t cnt = 0, cap = 0;
	ap_pool_t *pools;

	if (!node_ptr->gres_list)
		return;
	iter = list_iterator_create(node_ptr->gres_list);
	while ((gres_state = list_next(iter))) {
		gres_node_state_t *gres_ns = gres_state->gres_data;

		if (gres_ns && _in_list(accel_gres, gres_state->gres_name))
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
		    !_in_list(accel_gres, gres_state->gres_name))
			continue;
		if (!gres_ns->type_cnt) {
			_fill_pool(&pools[cnt++], gres_state->gres_name, NULL,
				   gres_ns->gres_cnt_avail,
				   gres_ns->gres_cnt_alloc, gres_ns, arena);
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
				   arena);
		}
	}
	list_iterator_destroy(iter);
	node->pools = pools;
	node->pool_cnt = cnt;
}

static ap_node_state_t _node_state(node_record_t *node_ptr,
				   bitstr_t *reserved, uint32_t cpus_alloc,
				   uint32_t cpus_total)
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
	if (reserved && bit_test(reserved, node_ptr->index))
		return AP_NODE_RESERVED;
	if (cpus_total && (cpus_alloc >= cpus_total))
		return AP_NODE_ALLOCATED;
	if (cpus_alloc || (state & NODE_STATE_BASE) == NODE_STATE_ALLOCATED ||
	    (state & NODE_STATE_BASE) == NODE_STATE_MIXED)
		return AP_NODE_MIXED;
	return AP_NODE_IDLE;
}

/* Nodes in an advanced reservation active now (the core does not model
 * reservations, so it must not place there). RET bitmap or NULL */
static bitstr_t *_reserved_nodes(time_t now)
{
	bitstr_t *reserved = NULL;
	ListIterator iter;
	slurmctld_resv_t *resv;

	if (!resv_list)
		return NULL;
	iter = list_iterator_create(resv_list);
	while ((resv = list_next(iter))) {
		if (!resv->node_bitmap || (resv->start_time > now) ||
		    (resv->end_time <= now))
			continue;
		if (!reserved)
			reserved = bit_alloc(node_record_count);
		bit_or(reserved, resv->node_bitmap);
	}
	list_iterator_destroy(iter);
	return reserved;
}

/* Leaf switch of each node (by node index) from topology/tree's table; NULL
 * where topology.conf names none, or no table at all (no topology/tree). The
 * names stay slurmctld's: copy them. */
static const char **_leaf_switches(arena_t *arena)
{
	const char **by_node;

	if (!switch_record_table || (switch_record_cnt <= 0) ||
	    (node_record_count <= 0))
		return NULL;
	by_node = arena_alloc(arena, (size_t) node_record_count *
					     sizeof(char *));
	for (int s = 0; s < switch_record_cnt; s++) {
		switch_record_t *sw = &switch_record_table[s];
		int first, last;

		if ((sw->level != 0) || !sw->node_bitmap)
			continue;
		first = bit_ffs(sw->node_bitmap);
		last = bit_fls(sw->node_bitmap);
		for (int n = first; (n >= 0) && (n <= last) &&
		     (n < node_record_count); n++) {
			if (!by_node[n] && bit_test(sw->node_bitmap, n))
				by_node[n] = sw->name;
		}
	}
	return by_node;
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

static void _snapshot_nodes(snapshot_t *snap, const char *accel_gres,
			    time_t now)
{
	node_record_t *node_ptr;
	bitstr_t *reserved = _reserved_nodes(now);
	const char **leaf_switch = _leaf_switches(&snap->arena);
	int i;

	/* cons_tres keeps allocated CPUs/memory per node in its select
	 * nodeinfo; set_all refreshes them only when nodes changed. This is
	 * the same source scontrol show node reads (CPUAlloc, AllocMem). */
	(void) select_g_select_nodeinfo_set_all();
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
		select_g_select_nodeinfo_get(node_ptr->select_nodeinfo,
					     SELECT_NODEDATA_SUBCNT,
					     NODE_STATE_ALLOCATED,
					     &alloc_cpus);
		select_g_select_nodeinfo_get(node_ptr->select_nodeinfo,
					     SELECT_NODEDATA_MEM_ALLOC,
					     NODE_STATE_ALLOCATED,
					     &alloc_mem);
		node->cpus_alloc = alloc_cpus;
		node->mem_total_mib = node_ptr->real_memory >
			node_ptr->mem_spec_limit ?
			node_ptr->real_memory - node_ptr->mem_spec_limit : 0;
		node->mem_alloc_mib = alloc_mem;
		node->state = _node_state(node_ptr, reserved, node->cpus_alloc,
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
		node->feature_cnt = _split(&snap->arena,
					   node_ptr->features_act ?
					   node_ptr->features_act :
					   node_ptr->features,
					   ",", &node->features);
		node->superpod = _superpod(&snap->arena, node->features,
					   node->feature_cnt);
		if (leaf_switch && leaf_switch[node_ptr->index])
			node->network_switch =
				arena_strdup(&snap->arena,
					     leaf_switch[node_ptr->index]);
		_fill_pools(node_ptr, node, accel_gres, &snap->arena);
	}
	FREE_NULL_BITMAP(reserved);
}

/* ------------------------------------------------------------ jobs */

/* Accelerators a job asks for on each node (first accelerator GRES). */
static void _job_gres(job_record_t *job_ptr, uint32_t num_nodes,
		      const char *accel_gres, arena_t *arena,
		      ap_pending_job_t *out)
{
	ListIterator iter;
	gres_state_t *gres_state;
	const char **types;
	uint32_t cap = 0;

	if (!job_ptr->gres_list_req)
		return;
	cap = (uint32_t) list_count(job_ptr->gres_list_req);
	if (!cap)
		return;
	types = arena_alloc(arena, cap * sizeof(char *));
	iter = list_iterator_create(job_ptr->gres_list_req);
	while ((gres_state = list_next(iter))) {
		gres_job_state_t *gres_js = gres_state->gres_data;
		uint64_t per_node = 0;

		if (!gres_js || !_in_list(accel_gres, gres_state->gres_name))
			continue;
		if (out->gres_name &&
		    xstrcmp(out->gres_name, gres_state->gres_name))
			continue;	/* one accelerator GRES per job */
		if (gres_js->gres_per_node && gres_js->gres_per_node != NO_VAL64)
			per_node = gres_js->gres_per_node;
		else if (gres_js->gres_per_job &&
			 gres_js->gres_per_job != NO_VAL64)
			/* --gpus=N: spread over the job's nodes, rounding
			 * up (select_nodes distributes the exact total) */
			per_node = (gres_js->gres_per_job + num_nodes - 1) /
				   num_nodes;
		else if (gres_js->gres_per_task &&
			 gres_js->gres_per_task != NO_VAL64 && job_ptr->details) {
			uint64_t tasks = job_ptr->details->ntasks_per_node;

			if (!tasks || tasks == NO_VAL16)
				tasks = (job_ptr->details->num_tasks +
					 num_nodes - 1) / num_nodes;
			per_node = gres_js->gres_per_task * (tasks ? tasks : 1);
		} else if (gres_js->gres_per_socket &&
			   gres_js->gres_per_socket != NO_VAL64)
			per_node = gres_js->gres_per_socket; /* >= one socket */
		if (!out->gres_name) {
			out->gres_name = arena_strdup(arena,
						      gres_state->gres_name);
			out->gres_per_node = _u32(per_node);
		} else if (per_node > out->gres_per_node) {
			out->gres_per_node = _u32(per_node);
		}
		if (gres_js->type_name && gres_js->type_name[0])
			types[out->gres_type_cnt++] =
				arena_strdup(arena, gres_js->type_name);
	}
	list_iterator_destroy(iter);
	out->gres_types = types;
}

extern bool job_request(job_record_t *job_ptr, arena_t *arena,
			const char *accel_gres, ap_pending_job_t *out)
{
	struct job_details *details = job_ptr->details;
	uint32_t num_nodes, cpus;
	uint64_t mem;

	if (!details || job_ptr->het_job_id)
		return false;
	memset(out, 0, sizeof(*out));
	out->job_id = job_ptr->job_id;
	out->user = arena_strdup(arena, job_ptr->user_name);
	out->account = arena_strdup(arena, job_ptr->account);
	out->qos = arena_strdup(arena, job_ptr->qos_ptr ?
				job_ptr->qos_ptr->name : NULL);
	out->priority = job_ptr->priority;
	out->submit_time = details->submit_time;
	if ((job_ptr->time_limit != NO_VAL) &&
	    (job_ptr->time_limit != INFINITE))
		out->time_limit_s = (int64_t) job_ptr->time_limit * 60;
	num_nodes = (details->min_nodes && details->min_nodes != NO_VAL) ?
		details->min_nodes : 1;
	out->num_nodes = num_nodes;

	cpus = details->pn_min_cpus;
	if (details->min_cpus && (details->min_cpus != NO_VAL) &&
	    ((details->min_cpus + num_nodes - 1) / num_nodes > cpus))
		cpus = (details->min_cpus + num_nodes - 1) / num_nodes;
	if (details->ntasks_per_node && details->ntasks_per_node != NO_VAL16) {
		uint32_t per = details->ntasks_per_node *
			((details->cpus_per_task &&
			  details->cpus_per_task != NO_VAL16) ?
			 details->cpus_per_task : 1);
		if (per > cpus)
			cpus = per;
	}
	out->cpus_per_node = cpus ? cpus : 1;

	mem = details->pn_min_memory;
	if (mem == NO_VAL64)
		mem = 0;
	if (mem & MEM_PER_CPU)
		mem = (mem & ~MEM_PER_CPU) * out->cpus_per_node;
	out->mem_per_node_mib = mem;

	/* "a&b" and "a,b" are lists of required features; anything richer
	 * (|, [], *count) is passed as its plain names and left for
	 * select_nodes to enforce. */
	out->feature_cnt = _split(arena, details->features_use ?
				  details->features_use : details->features,
				  "&,|[]()", &out->features);
	out->req_node_cnt = _bitmap_names(arena, details->req_node_bitmap,
					  &out->req_nodes);
	out->exc_node_cnt = _bitmap_names(arena, details->exc_node_bitmap,
					  &out->exc_nodes);
	_job_gres(job_ptr, num_nodes, accel_gres, arena, out);
	return true;
}

static uint64_t _fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t _fnv_str(uint64_t h, const char *s)
{
	h = _fnv(h, s ? s : "", s ? strlen(s) : 0);
	return _fnv(h, "", 1);	/* separator: "ab","c" != "a","bc" */
}

static uint64_t _fnv_strs(uint64_t h, const char *const *items, uint32_t cnt)
{
	h = _fnv(h, &cnt, sizeof(cnt));
	for (uint32_t i = 0; i < cnt; i++)
		h = _fnv_str(h, items[i]);
	return h;
}

extern uint64_t job_fingerprint(const ap_pending_job_t *job)
{
	uint64_t h = 14695981039346656037ULL;

	h = _fnv(h, &job->job_id, sizeof(job->job_id));
	h = _fnv(h, &job->num_nodes, sizeof(job->num_nodes));
	h = _fnv(h, &job->cpus_per_node, sizeof(job->cpus_per_node));
	h = _fnv(h, &job->mem_per_node_mib, sizeof(job->mem_per_node_mib));
	h = _fnv(h, &job->gres_per_node, sizeof(job->gres_per_node));
	h = _fnv_str(h, job->gres_name);
	h = _fnv_strs(h, job->gres_types, job->gres_type_cnt);
	h = _fnv_strs(h, job->features, job->feature_cnt);
	h = _fnv_strs(h, job->req_nodes, job->req_node_cnt);
	h = _fnv_strs(h, job->exc_nodes, job->exc_node_cnt);
	return h;
}

/* Leave a pending job with a reason that says why accelpack skips it. */
static void _say_skipped(job_record_t *job_ptr, const char *why)
{
	if (!xstrcmp(job_ptr->state_desc, why))
		return;
	xfree(job_ptr->state_desc);
	job_ptr->state_desc = xstrdup(why);
	job_ptr->state_reason = WAIT_NO_REASON;
	last_job_update = time(NULL);
}

/* Open-addressing set of job records already in the snapshot: a job that
 * may run in several partitions comes once per partition from the queue. */
typedef struct {
	job_record_t **slots;
	uint32_t *index;	/* pending[] index of the job */
	uint32_t mask;
} job_set_t;

static int64_t _job_set_find(job_set_t *set, job_record_t *job_ptr,
			     uint32_t *slot)
{
	uint32_t s = (job_ptr->job_id * 2654435761u) & set->mask;

	while (set->slots[s]) {
		if (set->slots[s] == job_ptr) {
			*slot = s;
			return set->index[s];
		}
		s = (s + 1) & set->mask;
	}
	*slot = s;
	return -1;
}

static void _snapshot_pending(snapshot_t *snap, const char *accel_gres,
			      uint32_t max_pending)
{
	List job_queue = build_job_queue(true, false);
	job_queue_rec_t *rec;
	job_set_t set = { 0 };
	uint32_t cap = (uint32_t) list_count(job_queue), size = 16;
	const char ***parts;
	uint32_t *part_cap;

	sort_job_queue(job_queue);
	if (cap > max_pending)
		cap = max_pending;
	while (size < 2 * (cap + 1))
		size *= 2;
	set.slots = arena_alloc(&snap->arena, size * sizeof(job_record_t *));
	set.index = arena_alloc(&snap->arena, size * sizeof(uint32_t));
	set.mask = size - 1;
	snap->pending = arena_alloc(&snap->arena,
				    (cap ? cap : 1) * sizeof(ap_pending_job_t));
	snap->fingerprints = arena_alloc(&snap->arena,
					 (cap ? cap : 1) * sizeof(uint64_t));
	parts = arena_alloc(&snap->arena, (cap ? cap : 1) * sizeof(char **));
	part_cap = arena_alloc(&snap->arena, (cap ? cap : 1) * sizeof(uint32_t));

	while ((rec = list_pop(job_queue))) {
		job_record_t *job_ptr = rec->job_ptr;
		part_record_t *part_ptr = rec->part_ptr;
		uint32_t prio = rec->priority, slot;
		int64_t found;
		ap_pending_job_t *job;

		xfree(rec);
		if (!job_ptr || !IS_JOB_PENDING(job_ptr) || !part_ptr)
			continue;
		if ((found = _job_set_find(&set, job_ptr, &slot)) >= 0) {
			/* Same job, another partition: lower or equal
			 * priority in queue order, keep the first. */
			job = &snap->pending[found];
			if (job->partition_cnt < part_cap[found])
				parts[found][job->partition_cnt++] =
					arena_strdup(&snap->arena,
						     part_ptr->name);
			continue;
		}
		if (job_ptr->het_job_id) {
			snap->skipped_het++;
			_say_skipped(job_ptr, "accelpack: heterogeneous jobs are not supported");
			continue;
		}
		if (job_ptr->resv_name || job_ptr->resv_list) {
			snap->skipped_resv++;
			_say_skipped(job_ptr, "accelpack: jobs in reservations are not supported");
			continue;
		}
		if (job_ptr->preempt_in_progress)
			continue;
		if (((job_ptr->array_task_id != NO_VAL) ||
		     job_ptr->array_recs) && !job_array_start_test(job_ptr)) {
			snap->skipped_throttle++;	/* %N throttle */
			continue;
		}
		if (snap->snap.pending_cnt >= cap) {
			snap->skipped_cap++;
			continue;
		}
		/* what _schedule() does per record: features to use now */
		job_ptr->details->features_use = job_ptr->details->features;
		job_ptr->details->feature_list_use =
			job_ptr->details->feature_list;
		job = &snap->pending[snap->snap.pending_cnt];
		if (!job_request(job_ptr, &snap->arena, accel_gres, job))
			continue;
		job->priority = prio;
		snap->fingerprints[snap->snap.pending_cnt] =
			job_fingerprint(job);
		part_cap[snap->snap.pending_cnt] = job_ptr->part_ptr_list ?
			(uint32_t) list_count(job_ptr->part_ptr_list) : 1;
		if (!part_cap[snap->snap.pending_cnt])
			part_cap[snap->snap.pending_cnt] = 1;
		parts[snap->snap.pending_cnt] =
			arena_alloc(&snap->arena,
				    part_cap[snap->snap.pending_cnt] *
				    sizeof(char *));
		parts[snap->snap.pending_cnt][0] =
			arena_strdup(&snap->arena, part_ptr->name);
		job->partition_cnt = 1;
		job->partitions = parts[snap->snap.pending_cnt];
		set.slots[slot] = job_ptr;
		set.index[slot] = snap->snap.pending_cnt;
		snap->snap.pending_cnt++;
	}
	FREE_NULL_LIST(job_queue);
}

/* Allocations of one running job on the node with job-relative index j. */
static uint32_t _running_allocs(job_record_t *job_ptr, node_record_t *node_ptr,
				int j, const char *accel_gres, arena_t *arena,
				ap_alloc_t *out, uint32_t cap)
{
	ListIterator iter;
	gres_state_t *gres_state;
	uint32_t cnt = 0;

	if (!job_ptr->gres_list_alloc)
		return 0;
	iter = list_iterator_create(job_ptr->gres_list_alloc);
	while ((gres_state = list_next(iter)) && (cnt < cap)) {
		gres_job_state_t *gres_js = gres_state->gres_data;
		ap_alloc_t *alloc;
		uint64_t count;

		if (!gres_js || !_in_list(accel_gres, gres_state->gres_name) ||
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
		alloc->device_count = _u32(count);
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

static void _snapshot_running(snapshot_t *snap, const char *accel_gres)
{
	ListIterator iter = list_iterator_create(job_list);
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

extern void snapshot_build(snapshot_t *snap, const char *accel_gres,
			   uint32_t max_pending)
{
	time_t now = time(NULL);

	memset(snap, 0, sizeof(*snap));
	snap->snap.now = now;
	_snapshot_nodes(snap, accel_gres, now);
	_snapshot_pending(snap, accel_gres, max_pending);
	_snapshot_running(snap, accel_gres);
	snap->snap.nodes = snap->nodes;
	snap->snap.pending = snap->pending;
	snap->snap.running = snap->running;
}

extern void snapshot_free(snapshot_t *snap)
{
	arena_free(&snap->arena);
	memset(snap, 0, sizeof(*snap));
}
