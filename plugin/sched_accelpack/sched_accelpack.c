/*****************************************************************************\
 *  sched_accelpack.c - sched/accelpack: hands each scheduling cycle of
 *  slurmctld to the accelpack placement core. The plugin is the thread's
 *  lifecycle only (as backfill_wrapper.c); the cycle lives in agent.c.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <pthread.h>

#include "slurm/slurm.h"
#include "slurm/slurm_errno.h"
#include "src/common/log.h"
#include "src/common/macros.h"
#include "src/common/plugin.h"
#include "src/slurmctld/slurmctld.h"

#include "accelpack_slurm_build.h"
#include "agent.h"
#include "lifecycle.h"
#include "slurm_compat.h"

const char plugin_name[] = "accelpack placement scheduler plugin";
const char plugin_type[] = "sched/accelpack";
/* Slurm refuses to load a plugin whose version differs from its own. */
const uint32_t plugin_version = SLURM_VERSION_NUMBER;

/* The sched plugin API of Slurm 22.05 (sched_plugin.c); no header has it. */
extern int init(void);
extern void fini(void);
extern int sched_p_reconfig(void);

static pthread_t agent_thread = 0;
static pthread_mutex_t thread_flag_mutex = PTHREAD_MUTEX_INITIALIZER;

extern int init(void)
{
	if (slurmctld_config.scheduling_disabled)
		return SLURM_SUCCESS;

	slurm_mutex_lock(&thread_flag_mutex);
	if (agent_thread) {
		debug2("accelpack: agent thread already running");
		slurm_mutex_unlock(&thread_flag_mutex);
		return SLURM_ERROR;
	}
	info("accelpack: sched/accelpack loaded (built against Slurm %s, package %s)",
	     ACCELPACK_SLURM_VERSION, ACCELPACK_SLURM_PACKAGE_VERSION);
	agent_arm();
	/* joined in fini(), so not detached */
	compat_thread_create("accelpack", &agent_thread, agent_main, NULL);
	slurm_mutex_unlock(&thread_flag_mutex);
	return SLURM_SUCCESS;
}

extern void fini(void)
{
	slurm_mutex_lock(&thread_flag_mutex);
	if (agent_thread) {
		verbose("accelpack: sched/accelpack shutting down");
		agent_stop();
		compat_thread_join(agent_thread);
		agent_thread = 0;
	}
	compat_topology_free();
	slurm_mutex_unlock(&thread_flag_mutex);
}

/* scontrol reconfigure: accelpack.conf is read again before the next cycle. */
extern int sched_p_reconfig(void)
{
	agent_reconfig();
	return SLURM_SUCCESS;
}
