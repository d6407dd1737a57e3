/*****************************************************************************\
 *  lock_clock.c - slurmctld's scheduler locks, timed and yielded.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <sched.h>
#include <time.h>

#include "slurm/slurm.h"
#include "src/common/macros.h"
#include "src/common/read_config.h"
#include "src/slurmctld/locks.h"
#include "src/slurmctld/slurmctld.h"

#include "lifecycle.h"
#include "lock_clock.h"
#include "slurm_compat.h"

/* The scheduler's locks, as backfill and the main scheduler take them. */
static const slurmctld_lock_t sched_locks = COMPAT_SCHED_LOCKS;

extern void clock_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

extern double clock_ms_between(const struct timespec *a,
			       const struct timespec *b)
{
	return (double) (b->tv_sec - a->tv_sec) * 1e3 +
	       (double) (b->tv_nsec - a->tv_nsec) / 1e6;
}

extern void clock_add_ms(struct timespec *ts, uint32_t ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

extern void lock_clock_acquire(lock_clock_t *lc)
{
	lock_slurmctld(sched_locks);
	clock_now(&lc->since);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &lc->since_cpu);
}

extern void lock_clock_release(lock_clock_t *lc)
{
	double held = lock_clock_now_ms(lc), cpu;
	struct timespec now_cpu;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now_cpu);
	unlock_slurmctld(sched_locks);
	lc->held_ms += held;
	if (held > lc->max_hold_ms)
		lc->max_hold_ms = held;
	cpu = clock_ms_between(&lc->since_cpu, &now_cpu);
	if (cpu > lc->max_hold_cpu_ms)
		lc->max_hold_cpu_ms = cpu;
}

extern double lock_clock_now_ms(const lock_clock_t *lc)
{
	struct timespec now;

	clock_now(&now);
	return clock_ms_between(&lc->since, &now);
}

extern bool lock_clock_maybe_yield(lock_clock_t *lc, uint32_t max_ms,
				   uint32_t yield_ms)
{
	time_t part_update, conf_update;

	if (lock_clock_now_ms(lc) < (double) max_ms)
		return false;
	part_update = last_part_update;
	conf_update = slurm_conf.last_update;
	lock_clock_release(lc);
	lc->yields++;
	/* As backfill: keep the locks released while RPCs are still being
	 * served, but at most as long as we held them (so both sides get
	 * at least half of the time). */
	for (uint32_t waited = 0;;) {
		int rpcs;

		if (yield_ms)
			agent_sleep_ms(yield_ms);
		else
			sched_yield();
		waited += yield_ms ? yield_ms : 1;
		slurm_mutex_lock(&slurmctld_config.thread_count_lock);
		rpcs = slurmctld_config.server_thread_count;
		slurm_mutex_unlock(&slurmctld_config.thread_count_lock);
		if (!rpcs || (waited >= max_ms) || agent_stopping())
			break;
	}
	lock_clock_acquire(lc);
	/* Jobs and nodes may change meanwhile: every decision is checked
	 * again against the live state, so go on. Partitions or the
	 * configuration changing makes the whole plan suspect: stop. */
	return (last_part_update != part_update) ||
	       (slurm_conf.last_update != conf_update) || agent_stopping() ||
	       controller_stopping();
}
