/*****************************************************************************\
 *  refusals.c - starts Slurm refused lately, per job (see refusals.h).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <string.h>

#include "slurm/slurm.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"

#include "refusals.h"

#define REFUSAL_BUCKETS 1024
/* Nodes remembered per job: a gang's planned nodes, bounded. */
#define REFUSAL_MAX_NODES 64

typedef struct refusal {
	struct refusal *next;
	uint32_t job_id;
	uint32_t count;
	time_t last;
	uint32_t node_cnt;
	char *nodes[REFUSAL_MAX_NODES];
	char *why;
} refusal_t;

static refusal_t *buckets[REFUSAL_BUCKETS];

static refusal_t **_slot(uint32_t job_id)
{
	refusal_t **slot = &buckets[(job_id * 2654435761u) % REFUSAL_BUCKETS];

	while (*slot && ((*slot)->job_id != job_id))
		slot = &(*slot)->next;
	return slot;
}

static void _clear_nodes(refusal_t *r)
{
	for (uint32_t i = 0; i < r->node_cnt; i++)
		xfree(r->nodes[i]);
	r->node_cnt = 0;
}

static void _unlink(refusal_t **slot)
{
	refusal_t *r = *slot;

	*slot = r->next;
	_clear_nodes(r);
	xfree(r->why);
	xfree(r);
}

extern void refusal_record(const ap_start_t *start, const char *why, time_t now)
{
	refusal_t **slot = _slot(start->job_id), *r = *slot;

	if (!r) {
		r = xmalloc(sizeof(*r));
		r->job_id = start->job_id;
		*slot = r;
	}
	if ((now - r->last) > REFUSAL_MEMORY_S)
		r->count = 0;
	r->count++;
	r->last = now;
	xfree(r->why);
	r->why = xstrdup(why);
	/* The latest planned nodes: the core moves on to others each time. */
	_clear_nodes(r);
	for (uint32_t i = 0; (i < start->node_cnt) && (i < REFUSAL_MAX_NODES); i++)
		r->nodes[r->node_cnt++] = xstrdup(start->nodes[i]);
}

extern void refusal_forget(uint32_t job_id)
{
	refusal_t **slot = _slot(job_id);

	if (*slot)
		_unlink(slot);
}

extern void refusal_fill(ap_pending_job_t *job, arena_t *arena, time_t now)
{
	refusal_t **slot = _slot(job->job_id), *r = *slot;
	const char **nodes;

	if (!r || ((now - r->last) > REFUSAL_MEMORY_S) ||
	    (r->count < REFUSALS_REPORTED))
		return;
	nodes = arena_alloc(arena, (r->node_cnt ? r->node_cnt : 1) *
				   sizeof(char *));
	for (uint32_t i = 0; i < r->node_cnt; i++)
		nodes[i] = arena_strdup(arena, r->nodes[i]);
	job->refused_nodes = nodes;
	job->refused_node_cnt = r->node_cnt;
	job->refused_starts = r->count;
	job->refused_reason = arena_strdup(arena, r->why);
}

extern void refusal_expire(time_t now)
{
	for (int b = 0; b < REFUSAL_BUCKETS; b++) {
		refusal_t **slot = &buckets[b];

		while (*slot) {
			if ((now - (*slot)->last) > REFUSAL_MEMORY_S)
				_unlink(slot);
			else
				slot = &(*slot)->next;
		}
	}
}

extern void refusal_forget_all(void)
{
	for (int b = 0; b < REFUSAL_BUCKETS; b++)
		while (buckets[b])
			_unlink(&buckets[b]);
}
