/*****************************************************************************\
 *  slurm_compat.c - release differences that need more than a macro: the
 *  topology labels of each node.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/

#include <string.h>

#include "slurm/slurm.h"
#include "src/common/log.h"
#include "src/common/node_conf.h"
#include "src/common/read_config.h"
#include "src/common/xmalloc.h"
#include "src/common/xstring.h"

#include "slurm_compat.h"

/*
 * The switch table of topology/tree was a slurmctld global until 23.02; since
 * then every topology plugin keeps its tables private, and topology/block
 * (23.11) has none global at all. What every release has is the node address
 * the topology plugin builds for message routing: "s0.s4.leaf.node" with
 * pattern "switch.switch.switch.node" (tree), "b7.node" with "block.node"
 * (block), the node name with "node" (none/flat). From 25.05 several
 * topologies may be configured (topology.yaml); the address comes from the
 * cluster default one.
 */
#if COMPAT_SLURM_AT_LEAST(23, 2)
#define compat_node_addr(name, addr, pattern) \
	topology_g_get_node_addr(name, addr, pattern)
#else
#define compat_node_addr(name, addr, pattern) \
	slurm_topo_get_node_addr(name, addr, pattern)
#endif

/* Building addresses walks the topology per node: do it once per
 * configuration (a reconfigure or a node added or removed). */
static struct {
	time_t conf_update;
	int node_cnt;
	char **leaf_switch;
	char **block;
	bool valid;
} topo_cache;

static void _cache_clear(void)
{
	for (int n = 0; n < topo_cache.node_cnt; n++) {
		if (topo_cache.leaf_switch)
			xfree(topo_cache.leaf_switch[n]);
		if (topo_cache.block)
			xfree(topo_cache.block[n]);
	}
	xfree(topo_cache.leaf_switch);
	xfree(topo_cache.block);
	memset(&topo_cache, 0, sizeof(topo_cache));
}

/* The dot-separated field before the last ("node"). RET xmalloc'd or NULL */
static char *_field_before_node(const char *addr)
{
	const char *last = strrchr(addr, '.'), *start;

	if (!last || (last == addr))
		return NULL;
	for (start = last; (start > addr) && (start[-1] != '.'); start--)
		;
	return xstrndup(start, (size_t) (last - start));
}

static void _label_node(node_record_t *node_ptr, int index)
{
	char *addr = NULL, *pattern = NULL;
	const char *kind;

	if ((compat_node_addr(node_ptr->name, &addr, &pattern) !=
	     SLURM_SUCCESS) || !addr || !pattern)
		goto done;
	/* The level next to the node names the label: "...switch.node" or
	 * "block.node". */
	kind = strrchr(pattern, '.');
	if (!kind)
		goto done;
	while ((kind > pattern) && (kind[-1] != '.'))
		kind--;
	if (!strncmp(kind, "switch.", 7)) {
		if (!topo_cache.leaf_switch)
			topo_cache.leaf_switch = xcalloc(topo_cache.node_cnt,
							 sizeof(char *));
		topo_cache.leaf_switch[index] = _field_before_node(addr);
	} else if (!strncmp(kind, "block.", 6)) {
		if (!topo_cache.block)
			topo_cache.block = xcalloc(topo_cache.node_cnt,
						   sizeof(char *));
		topo_cache.block[index] = _field_before_node(addr);
	}
done:
	xfree(addr);
	xfree(pattern);
}

extern void compat_topology_labels(const char *const **leaf_switch,
				   const char *const **block)
{
	node_record_t *node_ptr;

	if (!topo_cache.valid ||
	    (topo_cache.conf_update != slurm_conf.last_update) ||
	    (topo_cache.node_cnt != node_record_count)) {
		_cache_clear();
		topo_cache.conf_update = slurm_conf.last_update;
		topo_cache.node_cnt = node_record_count;
		for (int i = 0; (node_ptr = next_node(&i)); i++)
			if ((int) node_ptr->index < topo_cache.node_cnt)
				_label_node(node_ptr, (int) node_ptr->index);
		topo_cache.valid = true;
	}
	*leaf_switch = (const char *const *) topo_cache.leaf_switch;
	*block = (const char *const *) topo_cache.block;
}

extern void compat_topology_free(void)
{
	_cache_clear();
}
