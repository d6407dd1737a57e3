/*****************************************************************************\
 *  copy_util.h - small helpers shared by the snapshot copiers.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_COPY_UTIL_H
#define _ACCELPACK_COPY_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "slurm/slurm.h"
#include "src/common/bitstring.h"

#include "arena.h"

/* Split a list of names ("a,b", "a&b") at any of seps into an arena array.
 * RET count */
extern uint32_t copy_split(arena_t *arena, const char *list, const char *seps,
			   const char *const **out);

/* Node names of the set bits of bitmap, in node table order. RET count */
extern uint32_t copy_node_names(arena_t *arena, bitstr_t *bitmap,
				const char *const **out);

/* RET true if name is in the comma list (e.g. the accelerator GRES names) */
extern bool copy_in_list(const char *list, const char *name);

/* v clamped to uint32_t */
extern uint32_t copy_u32(uint64_t v);

#endif
