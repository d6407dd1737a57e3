/*****************************************************************************\
 *  copy_util.c - small helpers shared by the snapshot copiers.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <string.h>

#include "slurm/slurm.h"
#include "src/common/node_conf.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"

#include "copy_util.h"

extern uint32_t copy_split(arena_t *arena, const char *list, const char *seps,
		       const char *const **out)
{
	const char **items;
	char *copy, *tok, *save = NULL;
	uint32_t cnt = 0, cap = 1;

	*out = NULL;
	if (!list || !list[0])
		return 0;
	for (const char *p = list; *p; p++)
		if (strchr(seps, *p))
			cap++;
	items = arena_alloc(arena, cap * sizeof(char *));
	copy = xstrdup(list);
	for (tok = strtok_r(copy, seps, &save); tok && (cnt < cap);
	     tok = strtok_r(NULL, seps, &save))
		items[cnt++] = arena_strdup(arena, tok);
	xfree(copy);
	*out = items;
	return cnt;
}

extern uint32_t copy_node_names(arena_t *arena, bitstr_t *bitmap,
			      const char *const **out)
{
	const char **names;
	uint32_t cnt = 0, cap;
	bitoff_t i, size;

	*out = NULL;
	if (!bitmap || !(cap = (uint32_t) bit_set_count(bitmap)))
		return 0;
	names = arena_alloc(arena, cap * sizeof(char *));
	size = bit_size(bitmap);
	for (i = 0; (i < size) && (cnt < cap); i++) {
		if (!bit_test(bitmap, i) || (i >= node_record_count) ||
		    !node_record_table_ptr[i])
			continue;
		names[cnt++] = arena_strdup(arena,
					    node_record_table_ptr[i]->name);
	}
	*out = names;
	return cnt;
}

extern bool copy_in_list(const char *list, const char *name)
{
	size_t len;
	const char *p = list;

	if (!list || !name)
		return false;
	len = strlen(name);
	while (p && *p) {
		if (!strncmp(p, name, len) && (p[len] == ',' || p[len] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

extern uint32_t copy_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
}
