/*****************************************************************************\
 *  victim_memo.c - the submit times of the plugin's victims (see victim_memo.h).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdlib.h>

#include "victim_memo.h"

/* Few jobs are victims at once (at most max_reclaims_per_cycle x
 * max_victims_per_job per cycle, forgotten when they end): a linear search. */
static victim_memo_entry_t *_find(const victim_memo_t *memo, uint32_t job_id)
{
	for (uint32_t i = 0; i < memo->cnt; i++) {
		if (memo->entries[i].job_id == job_id)
			return &memo->entries[i];
	}
	return NULL;
}

extern bool victim_memo_remember(victim_memo_t *memo, uint32_t job_id,
				 uint32_t restart_cnt, time_t submit_time)
{
	victim_memo_entry_t *entry;

	if (_find(memo, job_id))
		return true;
	if (memo->cnt == memo->cap) {
		uint32_t cap = memo->cap ? 2 * memo->cap : 16;
		victim_memo_entry_t *grown =
			realloc(memo->entries, cap * sizeof(*grown));

		if (!grown)
			return false;
		memo->entries = grown;
		memo->cap = cap;
	}
	entry = &memo->entries[memo->cnt++];
	entry->job_id = job_id;
	entry->restart_cnt = restart_cnt;
	entry->submit_time = submit_time;
	return true;
}

extern time_t victim_memo_submit_time(const victim_memo_t *memo,
				      uint32_t job_id, uint32_t restart_cnt,
				      time_t submit_time)
{
	const victim_memo_entry_t *entry;

	/* Called for every pending job under slurmctld's job lock: a job never
	 * requeued (nearly all of them) cannot be a victim's rerun, so skip the
	 * search. */
	if (!restart_cnt)
		return submit_time;
	entry = _find(memo, job_id);
	if (!entry || (restart_cnt <= entry->restart_cnt) ||
	    (entry->submit_time >= submit_time))
		return submit_time;
	return entry->submit_time;
}

extern void victim_memo_prune(victim_memo_t *memo,
			      bool (*keep)(uint32_t job_id, void *arg),
			      void *arg)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < memo->cnt; i++) {
		if (keep(memo->entries[i].job_id, arg))
			memo->entries[kept++] = memo->entries[i];
	}
	memo->cnt = kept;
}

extern void victim_memo_free(victim_memo_t *memo)
{
	free(memo->entries);
	memo->entries = NULL;
	memo->cnt = memo->cap = 0;
}
