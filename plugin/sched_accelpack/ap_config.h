/*****************************************************************************\
 *  ap_config.h - sched/accelpack settings, read from accelpack.conf beside
 *  slurm.conf. SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_AP_CONFIG_H
#define _ACCELPACK_AP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	char *core_address;	/* gRPC target of the core */
	uint32_t interval_ms;	/* pause between cycles */
	uint32_t deadline_ms;	/* longest wait for one core answer */
	uint32_t retry_ms;	/* during an outage: how often to try the core */
	uint32_t max_lock_ms;	/* apply phase: yield the locks after this */
	uint32_t yield_ms;	/* how long the locks are yielded */
	uint32_t max_pending;	/* pending jobs per snapshot (queue order) */
	uint32_t stats_cycles;	/* an info line every this many cycles */
	uint32_t idle_replan_ms; /* nothing changed: longest pause between plans */
	char *accel_gres;	/* comma list of GRES names that are accelerators */
	bool use_core;		/* false: built-in policy only */
	bool queue_check;	/* tests: compare the queue with Slurm's */
} accelpack_conf_t;

/* Fill conf with the defaults (no file read). */
extern void accelpack_conf_defaults(accelpack_conf_t *conf);

/*
 * Read path into conf. A missing file means all defaults.
 * IN path - file to read
 * OUT conf - settings; untouched when RET is not SLURM_SUCCESS
 * OUT errmsg - xmalloc'd description of the first problem (caller xfree's)
 * RET SLURM_SUCCESS or SLURM_ERROR
 */
extern int accelpack_conf_read(const char *path, accelpack_conf_t *conf,
			       char **errmsg);

extern void accelpack_conf_free(accelpack_conf_t *conf);

/* Path of accelpack.conf: $ACCELPACK_CONF, else beside slurm_conf_path. */
extern char *accelpack_conf_path(const char *slurm_conf_path);

#endif
