/*****************************************************************************\
 *  lifecycle.c - stop and reconfigure requests for the agent thread.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <pthread.h>
#include <time.h>

#include "slurm/slurm.h"
#include "src/common/macros.h"
#include "src/slurmctld/slurmctld.h"

#include "lifecycle.h"
#include "lock_clock.h"

static pthread_mutex_t term_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t term_cond;
static pthread_once_t term_cond_once = PTHREAD_ONCE_INIT;
static bool stop_agent = false;
static bool reconfig_flag = true;	/* read the file on the first cycle */

/*
 * The agent's sleeps run on CLOCK_MONOTONIC: a wall clock stepped back (an NTP
 * step, a resumed VM) would otherwise stretch a 100 ms pause by the step.
 */
static void _init_term_cond(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&term_cond, &attr);
	pthread_condattr_destroy(&attr);
}

extern void agent_arm(void)
{
	pthread_once(&term_cond_once, _init_term_cond);
	slurm_mutex_lock(&term_lock);
	stop_agent = false;
	reconfig_flag = true;
	slurm_mutex_unlock(&term_lock);
}

extern void agent_stop(void)
{
	pthread_once(&term_cond_once, _init_term_cond);
	slurm_mutex_lock(&term_lock);
	stop_agent = true;
	slurm_cond_broadcast(&term_cond);
	slurm_mutex_unlock(&term_lock);
}

extern bool agent_stopping(void)
{
	bool stop;

	slurm_mutex_lock(&term_lock);
	stop = stop_agent;
	slurm_mutex_unlock(&term_lock);
	return stop;
}

extern bool controller_stopping(void)
{
	return slurmctld_config.shutdown_time != 0;
}

extern void agent_reconfig(void)
{
	slurm_mutex_lock(&term_lock);
	reconfig_flag = true;
	slurm_mutex_unlock(&term_lock);
}

extern bool agent_take_reconfig(void)
{
	bool load;

	slurm_mutex_lock(&term_lock);
	load = reconfig_flag;
	reconfig_flag = false;
	slurm_mutex_unlock(&term_lock);
	return load;
}

extern void agent_sleep_ms(uint32_t ms)
{
	struct timespec ts;

	pthread_once(&term_cond_once, _init_term_cond);
	clock_gettime(CLOCK_MONOTONIC, &ts);	/* term_cond's clock */
	clock_add_ms(&ts, ms);
	slurm_mutex_lock(&term_lock);
	if (!stop_agent)
		slurm_cond_timedwait(&term_cond, &term_lock, &ts);
	slurm_mutex_unlock(&term_lock);
}
