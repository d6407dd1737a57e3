/*****************************************************************************\
 *  arena.h - bump allocator for one snapshot: built and dropped whole,
 *  so one free per chunk keeps both the copy under the locks and the release cheap.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_ARENA_H
#define _ACCELPACK_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;
typedef struct {
	arena_chunk_t *head;
} arena_t;

extern void *arena_alloc(arena_t *arena, size_t size);	/* zeroed */
extern char *arena_strdup(arena_t *arena, const char *s);	/* NULL -> "" */
extern void arena_free(arena_t *arena);

#endif
