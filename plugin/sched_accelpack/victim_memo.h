/*****************************************************************************\
 *  victim_memo.h - the submit times of the plugin's victims before requeue.
 *  Slurm's requeue resets a job's submit time (and accrue time): a victim
 *  would lose its age and its place among jobs of equal priority, through no
 *  doing of its own. The plugin remembers the submit time each victim had
 *  when it was planned, and reports that one while the job waits again.
 *  Kept in slurmctld's memory only: a restart forgets it (the victims are
 *  then queued by their new submit times, as Slurm itself queues them).
 *  Pure: no Slurm headers, no locks, no clock (unit tested in plugin_tests).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_VICTIM_MEMO_H
#define _ACCELPACK_VICTIM_MEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint32_t job_id;
	uint32_t restart_cnt;	/* the job's Restarts when planned */
	time_t submit_time;	/* its submit time then */
} victim_memo_entry_t;

typedef struct {
	victim_memo_entry_t *entries;
	uint32_t cnt;
	uint32_t cap;
} victim_memo_t;

/*
 * Remember a victim as planned. A job already remembered (a victim again
 * after its rerun) keeps its first submit time: that is the one it queued by.
 * RET false when out of memory (nothing remembered)
 */
extern bool victim_memo_remember(victim_memo_t *memo, uint32_t job_id,
				 uint32_t restart_cnt, time_t submit_time);

/*
 * The submit time to report for a job: the remembered one if the job was
 * requeued since it was planned (restart_cnt grew), else its own.
 */
extern time_t victim_memo_submit_time(const victim_memo_t *memo,
				      uint32_t job_id, uint32_t restart_cnt,
				      time_t submit_time);

/* Forget every job for which keep(job_id, arg) is false (gone, finished). */
extern void victim_memo_prune(victim_memo_t *memo,
			      bool (*keep)(uint32_t job_id, void *arg),
			      void *arg);

extern void victim_memo_free(victim_memo_t *memo);

#ifdef __cplusplus
}
#endif

#endif
