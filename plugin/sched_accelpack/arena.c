/*****************************************************************************\
 *  arena.c - bump allocator for snapshots.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <string.h>

#include "slurm/slurm.h"
#include "src/common/xmalloc.h"

#include "arena.h"

#define ARENA_CHUNK (64 * 1024)

struct arena_chunk {
	arena_chunk_t *next;
	size_t used, size;
	/* data follows, max_align_t aligned */
	_Alignas(16) unsigned char data[];
};

extern void *arena_alloc(arena_t *arena, size_t size)
{
	arena_chunk_t *chunk = arena->head;
	void *ptr;

	size = (size + 15) & ~(size_t) 15;
	if (!chunk || (chunk->used + size > chunk->size)) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		chunk = xmalloc(sizeof(*chunk) + cap);
		chunk->size = cap;
		chunk->used = 0;
		chunk->next = arena->head;
		arena->head = chunk;
	}
	ptr = chunk->data + chunk->used;
	chunk->used += size;
	memset(ptr, 0, size);
	return ptr;
}

extern char *arena_strdup(arena_t *arena, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	char *out = arena_alloc(arena, len + 1);

	if (len)
		memcpy(out, s, len);
	return out;
}

extern void arena_free(arena_t *arena)
{
	while (arena->head) {
		arena_chunk_t *next = arena->head->next;

		xfree(arena->head);
		arena->head = next;
	}
}
