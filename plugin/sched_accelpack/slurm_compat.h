/*****************************************************************************\
 *  slurm_compat.h - the differences between the Slurm releases sched/accelpack
 *  builds against, in one place, by SLURM_VERSION_NUMBER. The cycle code uses
 *  the newest release's names; older releases get them here.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_SLURM_COMPAT_H
#define _ACCELPACK_SLURM_COMPAT_H

#include "slurm/slurm.h"
#include "src/common/list.h"

/* 23.02 named the list types list_t/list_itr_t; 24.11 dropped List. */
#if SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(23, 2, 0)
typedef struct xlist list_t;
typedef struct listIterator list_itr_t;
#endif

#endif
