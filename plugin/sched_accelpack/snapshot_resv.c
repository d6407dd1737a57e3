/*****************************************************************************\
 *  snapshot_resv.c - copy Slurm's advanced reservations that are active or
 *  still to come: node/time windows the core plans around (a maintenance
 *  window) and starts member jobs inside.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <stdint.h>
#include <string.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"
#include "src/slurmctld/reservation.h"
#include "src/slurmctld/slurmctld.h"

#include "copy_util.h"
#include "slurm_compat.h"
#include "snapshot.h"

extern void snapshot_reservations(snapshot_t *snap, time_t now)
{
	list_itr_t *iter;
	slurmctld_resv_t *resv;
	ap_adv_resv_t *out;
	uint32_t cap;

	if (!resv_list || !(cap = (uint32_t) list_count(resv_list)))
		return;
	out = arena_alloc(&snap->arena, cap * sizeof(*out));
	iter = list_iterator_create(resv_list);
	while ((resv = list_next(iter)) && (snap->snap.adv_resv_cnt < cap)) {
		ap_adv_resv_t *r;

		if (!resv->node_bitmap || (resv->end_time <= now) ||
		    (resv->end_time <= resv->start_time))
			continue;
		r = &out[snap->snap.adv_resv_cnt];
		r->node_cnt = copy_node_names(&snap->arena, resv->node_bitmap,
					      &r->nodes);
		if (!r->node_cnt)
			continue;
		r->name = arena_strdup(&snap->arena, resv->name);
		r->start_time = resv->start_time;
		r->end_time = resv->end_time;
		/* CoreCnt or TRES: only part of each node is held; the
		 * core counts whole nodes (when in doubt, keep off). */
		r->partial = (resv->core_cnt > 0) || (resv->core_resrcs != NULL);
		snap->snap.adv_resv_cnt++;
	}
	list_iterator_destroy(iter);
	snap->snap.adv_resv = out;
}
