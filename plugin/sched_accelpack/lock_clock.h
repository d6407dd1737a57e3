/*****************************************************************************\
 *  lock_clock.h - slurmctld's scheduler locks, as backfill and the main
 *  scheduler take them, with the time they are held measured, and yielded
 *  when held too long. Used by the agent thread only.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_LOCK_CLOCK_H
#define _ACCELPACK_LOCK_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct {
	struct timespec since;	/* when the current hold began */
	struct timespec since_cpu; /* this thread's CPU time then */
	double held_ms;		/* total over this phase */
	double max_hold_ms;	/* longest single hold */
	/* The longest hold in this thread's CPU time: what the hold cost,
	 * without the time the thread waited for a CPU while holding. */
	double max_hold_cpu_ms;
	uint32_t yields;
} lock_clock_t;

extern void lock_clock_acquire(lock_clock_t *lc);
extern void lock_clock_release(lock_clock_t *lc);
/* Milliseconds the locks have been held since the last acquire. */
extern double lock_clock_now_ms(const lock_clock_t *lc);

/*
 * If the locks have been held longer than max_ms: release them for yield_ms so
 * RPCs waiting on them run, then take them again.
 * RET true if the state changed in a way that makes the rest of a plan
 *     meaningless (partitions or configuration) or the agent is stopping.
 */
extern bool lock_clock_maybe_yield(lock_clock_t *lc, uint32_t max_ms,
				   uint32_t yield_ms);

/* Monotonic time helpers shared by the agent. */
extern void clock_now(struct timespec *ts);
extern double clock_ms_between(const struct timespec *a,
			       const struct timespec *b);
/* ts + ms */
extern void clock_add_ms(struct timespec *ts, uint32_t ms);

#endif
