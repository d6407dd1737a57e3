/*****************************************************************************\
 *  feature_expr.c - a job's --constraint expression, read for the snapshot.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#include "feature_expr.h"

#include <string.h>

/*
 * Writes the features of expr[from, to) at *w as one list: features joined by
 * '&' ("," and "&" in Slurm's syntax) or '|', brackets dropped. A counted
 * feature ("a*2": some of the job's nodes have it) is no constraint on any one
 * node: dropped from an AND list, and its count dropped in an OR list, where
 * dropping the feature would make the alternatives narrower.
 */
static void _write_flat(const char *from, const char *to, bool keep_counted,
			char **w)
{
	bool first = true, bar = false;

	while (from < to) {
		const char *end = from, *count = NULL;

		while (end < to && !strchr("&,|[]", *end)) {
			if (*end == '*' && !count)
				count = end;
			end++;
		}
		if (end > from && (!count || keep_counted)) {
			const char *stop = count ? count : end;

			if (!first)
				*(*w)++ = bar ? '|' : '&';
			memcpy(*w, from, (size_t)(stop - from));
			*w += stop - from;
			first = false;
			bar = false;
		}
		if (end < to && *end == '|')
			bar = true;
		from = end + 1;
	}
	*(*w)++ = '\0';
}

/* The inside of "[a|b|c]" with plain features only: Slurm's matching OR. */
static bool _plain_alternatives(const char *from, const char *to)
{
	bool bar = false;

	for (const char *p = from; p < to; p++) {
		if (strchr("&,*[]", *p))
			return false;
		if (*p == '|')
			bar = true;
	}
	return bar;
}

extern bool feature_expr_parse(const char *expr, char *buf, size_t buflen,
			       feature_expr_t *out)
{
	const char *open, *close;
	size_t len;
	char *w = buf;

	out->all = out->any = "";
	out->matching = false;
	if (!expr || !expr[0])
		return true;
	len = strlen(expr);
	if (strchr(expr, '(') || buflen < 3 * len + 3)
		return false;
	open = strchr(expr, '[');
	close = open ? strchr(open, ']') : NULL;
	if (open && close && _plain_alternatives(open + 1, close) &&
	    !strchr(close + 1, '[') && !memchr(expr, '|', (size_t)(open - expr)) &&
	    !strchr(close + 1, '|')) {
		/* "c&[a|b]&d": c and d on every node, one of a, b for all. */
		char *rest = w;
		size_t before = (size_t)(open - expr);

		memcpy(rest, expr, before);
		rest[before] = '&';
		strcpy(rest + before + 1, close + 1);
		w += strlen(rest) + 1;
		out->all = w;
		_write_flat(rest, rest + strlen(rest), false, &w);
		out->any = w;
		_write_flat(open + 1, close, true, &w);
		out->matching = true;
		return true;
	}
	if (!strchr(expr, '|')) {
		out->all = w;
		_write_flat(expr, expr + len, false, &w);
		return true;
	}
	out->any = w;
	_write_flat(expr, expr + len, true, &w);
	return true;
}
