/*****************************************************************************\
 *  feature_expr.h - a job's --constraint expression as the snapshot carries it:
 *  features every node needs, alternatives a node needs one of, and whether the
 *  job's nodes must all take the same alternative (Slurm's matching OR).
 *  Pure: no Slurm headers, no allocation (unit tested in plugin_tests).
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#ifndef _ACCELPACK_FEATURE_EXPR_H
#define _ACCELPACK_FEATURE_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	const char *all;	/* "a&b": every node needs each; "" none */
	const char *any;	/* "a&b|c": a node needs every feature of one
				 * "|" clause; "" none */
	bool matching;		/* "[a|b]": all the job's nodes, one clause */
} feature_expr_t;

/*
 * Reads `expr` into `out`, its strings written into buf. As Slurm evaluates
 * it: strictly left to right ("a|b&c" is "(a|b)&c"), parentheses grouping,
 * so `any` holds the expression's alternatives as clauses ("a&c|b&c").
 * What cannot be modelled makes the constraint weaker, never stronger, so the
 * core plans a superset of the nodes Slurm would take and select_nodes has
 * the last word: a feature or group with a count ("a*2", "[a*2&b*4]": some of
 * the job's nodes) constrains no node; brackets that are not a plain matching
 * OR read as parentheses. RET false for an expression not read at all
 * (malformed, nested deeper than 4, more than 16 alternatives or 8 features
 * in one, or a buffer too small): then no feature constraint.
 */
extern bool feature_expr_parse(const char *expr, char *buf, size_t buflen,
			       feature_expr_t *out);

#ifdef __cplusplus
}
#endif

#endif
