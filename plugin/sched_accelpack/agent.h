/*****************************************************************************\
 *  agent.h - the sched/accelpack thread: one scheduling cycle after another.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_AGENT_H
#define _ACCELPACK_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "src/slurmctld/locks.h"

/* Thread body; arg unused. Runs until agent_stop(). */
extern void *agent_main(void *arg);

/* Ask the thread to stop; it finishes the phase it is in. */
extern void agent_stop(void);

/* Ask the thread to re-read accelpack.conf before its next cycle. */
extern void agent_reconfig(void);

/* slurmctld's scheduler locks, with the time they are held measured. */
typedef struct {
	struct timespec since;	/* when the current hold began */
	double held_ms;		/* total over this phase */
	double max_hold_ms;	/* longest single hold */
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

extern bool agent_stopping(void);

#endif
