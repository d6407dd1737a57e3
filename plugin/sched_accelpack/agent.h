/*****************************************************************************\
 *  agent.h - the sched/accelpack thread: one scheduling cycle after another.
 *  Stop and reconfigure it through lifecycle.h.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_AGENT_H
#define _ACCELPACK_AGENT_H

/* Thread body; arg unused. Runs until agent_stop(). */
extern void *agent_main(void *arg);

#endif
