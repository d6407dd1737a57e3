/*****************************************************************************\
 *  futile.h - when the core's plans start nothing, cycle after cycle. A core
 *  whose every planned start fails the plugin's checks against the live state
 *  is as good as down: jobs wait while it keeps answering. Counted here, the
 *  agent falls back to the built-in policy when told to.
 *  Pure: no Slurm headers, no locks, no clock (unit tested in plugin_tests).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_FUTILE_H
#define _ACCELPACK_FUTILE_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Futile core cycles in a row before the core is treated as down. One dropped
 * start is routine (the state moved between snapshot and apply); this many in
 * a row with none started is not. */
#define FUTILE_CORE_CYCLES 10

/* What one applied plan did. */
typedef struct {
	bool from_core;		/* planned by the core, not the built-in policy */
	bool aborted;		/* apply stopped early (partitions changed) */
	uint32_t started;	/* starts that went through */
	uint32_t dropped;	/* starts that failed the checks */
} futile_cycle_t;

typedef struct {
	uint32_t in_a_row;	/* futile core cycles since the last useful one */
} futile_count_t;

/*
 * Count one applied plan. Futile: the core's plan had starts and every one of
 * them failed. An empty plan (nothing fits) is never futile: falling back then
 * would start jobs the core held back for reservations. A core plan that
 * started a job, or an empty one, resets the count; a plan of the built-in
 * policy, or an aborted apply that started nothing, says nothing about the
 * core and leaves the count as it is.
 * RET true when this cycle makes FUTILE_CORE_CYCLES in a row: fall back (the
 *     count starts again from zero)
 */
extern bool futile_count_cycle(futile_count_t *count,
			       const futile_cycle_t *cycle);

#ifdef __cplusplus
}
#endif

#endif
