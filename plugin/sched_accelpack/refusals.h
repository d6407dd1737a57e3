/*****************************************************************************\
 *  refusals.h - starts Slurm refused lately, per job. The core keeps no job
 *  state, so without this it would plan the same impossible start every cycle
 *  (a limit, an exclusivity or a reservation the snapshot cannot show). The
 *  plugin remembers each refusal for a short while and says so in the next
 *  snapshots; the core plans elsewhere and the job's reason says why.
 *  Agent thread only (snapshot and apply run there, under the locks).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_REFUSALS_H
#define _ACCELPACK_REFUSALS_H

#include <stdint.h>
#include <time.h>

#include "accelpack_bridge.h"
#include "arena.h"

/* How long a refusal is remembered after the last one. */
#define REFUSAL_MEMORY_S 30
/* Refusals in a row before the core is told: one is routine (the state moved
 * between snapshot and apply). */
#define REFUSALS_REPORTED 2

/* Slurm refused start (for its job) at now, saying why. */
extern void refusal_record(const ap_start_t *start, const char *why, time_t now);
/* The job started or left the queue: forget it. */
extern void refusal_forget(uint32_t job_id);
/* Fill job's refused_* fields (strings in arena) when it has refusals to
 * report. */
extern void refusal_fill(ap_pending_job_t *job, arena_t *arena, time_t now);
/* Forget refusals older than REFUSAL_MEMORY_S (jobs gone meanwhile too). */
extern void refusal_expire(time_t now);
/* Forget everything (plugin shutdown). */
extern void refusal_forget_all(void);

#endif
