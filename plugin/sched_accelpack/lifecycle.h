/*****************************************************************************\
 *  lifecycle.h - how slurmctld's threads talk to the sched/accelpack agent:
 *  stop, re-read the configuration, and a sleep that a stop interrupts.
 *  Thread-safe: any thread may call any of these.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_LIFECYCLE_H
#define _ACCELPACK_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Before each start of the agent thread: clears a stop left by an earlier
 * fini() (Slurm may keep the plugin loaded across fini/init) and asks for the
 * configuration to be read on the first cycle.
 */
extern void agent_arm(void);
/* Ask the agent to stop; it finishes the phase it is in. */
extern void agent_stop(void);
extern bool agent_stopping(void);

/*
 * slurmctld is shutting down or, since 23.11, about to exec itself for a
 * reconfigure: it stops its agent before the new process starts, so a job
 * started now may never be launched on its node (it would sit RUNNING with
 * nothing there). Backfill and the main scheduler start nothing then either.
 */
extern bool controller_stopping(void);

/* Ask the agent to re-read accelpack.conf before its next cycle. */
extern void agent_reconfig(void);
/* RET true once after each agent_reconfig() (and on the first call). */
extern bool agent_take_reconfig(void);

/* Sleep up to ms, waking early when asked to stop. */
extern void agent_sleep_ms(uint32_t ms);

#endif
