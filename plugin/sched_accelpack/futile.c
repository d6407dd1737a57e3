/*****************************************************************************\
 *  futile.c - when the core's plans start nothing (see futile.h).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include "futile.h"

extern bool futile_count_cycle(futile_count_t *count,
			       const futile_cycle_t *cycle)
{
	if (!cycle->from_core)
		return false;
	if (cycle->started || (!cycle->aborted && !cycle->dropped)) {
		count->in_a_row = 0;
		return false;
	}
	if (cycle->aborted)	/* its other starts were never tried */
		return false;
	if (++count->in_a_row < FUTILE_CORE_CYCLES)
		return false;
	count->in_a_row = 0;
	return true;
}
