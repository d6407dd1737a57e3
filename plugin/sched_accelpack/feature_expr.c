/*****************************************************************************\
 *  feature_expr.c - a job's --constraint expression, read for the snapshot.
 *  SPDX-License-Identifier: GPL-2.0-or-later
\*****************************************************************************/
#include "feature_expr.h"

#include <string.h>

/*
 * What a node must satisfy, as alternatives (clauses) of features it needs all
 * of: "a&b|c" is {a, b} or {c}. One clause with no feature is "any node".
 * Bounded: an expression that would need more is not read (no constraint).
 */
#define FX_CLAUSES 16
#define FX_TERMS 16
#define FX_DEPTH 4

typedef struct {
	const char *name;
	size_t len;
} fx_term_t;

typedef struct {
	int cnt;
	fx_term_t term[FX_TERMS];
} fx_clause_t;

typedef struct {
	int cnt;
	fx_clause_t clause[FX_CLAUSES];
} fx_dnf_t;

static void _set_any_node(fx_dnf_t *d)
{
	d->cnt = 1;
	d->clause[0].cnt = 0;
}

static bool _any_node(const fx_dnf_t *d)
{
	for (int c = 0; c < d->cnt; c++)
		if (!d->clause[c].cnt)
			return true;
	return false;
}

/* Adds t to clause c unless it is there. RET false when c is full. */
static bool _add_term(fx_clause_t *c, const fx_term_t *t)
{
	for (int i = 0; i < c->cnt; i++)
		if ((c->term[i].len == t->len) &&
		    !memcmp(c->term[i].name, t->name, t->len))
			return true;
	if (c->cnt == FX_TERMS)
		return false;
	c->term[c->cnt++] = *t;
	return true;
}

/* Whether every term of a is in b. */
static bool _within(const fx_clause_t *a, const fx_clause_t *b)
{
	fx_clause_t copy = *b;

	for (int t = 0; t < a->cnt; t++) {
		int before = copy.cnt;

		if (!_add_term(&copy, &a->term[t]) || (copy.cnt != before))
			return false;
	}
	return true;
}

/* acc = acc OR d, a clause acc has already left out. RET false when too
 * large. */
static bool _or(fx_dnf_t *acc, const fx_dnf_t *d)
{
	if (_any_node(acc) || _any_node(d)) {
		_set_any_node(acc);
		return true;
	}
	for (int b = 0; b < d->cnt; b++) {
		bool known = false;

		for (int a = 0; (a < acc->cnt) && !known; a++)
			known = _within(&acc->clause[a], &d->clause[b]) &&
				_within(&d->clause[b], &acc->clause[a]);
		if (known)
			continue;
		if (acc->cnt == FX_CLAUSES)
			return false;
		acc->clause[acc->cnt++] = d->clause[b];
	}
	return true;
}

/* acc = acc AND d: every clause of acc with every clause of d. */
static bool _and(fx_dnf_t *acc, const fx_dnf_t *d, fx_dnf_t *scratch)
{
	if (acc->cnt * d->cnt > FX_CLAUSES)
		return false;
	scratch->cnt = 0;
	for (int a = 0; a < acc->cnt; a++) {
		for (int b = 0; b < d->cnt; b++) {
			fx_clause_t *c = &scratch->clause[scratch->cnt++];

			*c = acc->clause[a];
			for (int t = 0; t < d->clause[b].cnt; t++)
				if (!_add_term(c, &d->clause[b].term[t]))
					return false;
			for (int k = 0; k < scratch->cnt - 1; k++)
				if (_within(c, &scratch->clause[k]) &&
				    _within(&scratch->clause[k], c)) {
					scratch->cnt--;	/* had it */
					break;
				}
		}
	}
	*acc = *scratch;
	return true;
}

/* The ']' or ')' closing the group opened at *open, or NULL. */
static const char *_group_end(const char *open, const char *to)
{
	int depth = 0;

	for (const char *p = open; p < to; p++) {
		if ((*p == '(') || (*p == '['))
			depth++;
		else if (((*p == ')') || (*p == ']')) && !--depth)
			return p;
	}
	return NULL;
}

/*
 * Slurm reads an expression strictly left to right ("a|b&c" is "(a|b)&c"),
 * parentheses grouping. A counted feature or group ("a*2", "(a&b)*2": some of
 * the job's nodes) and a bracket group with counts ("[a*2&b*4]") constrain no
 * one node: read as "any node". Other brackets are read as parentheses, which
 * for a matching OR is weaker (any alternative per node).
 */
static bool _parse(const char *from, const char *to, int depth, fx_dnf_t *out)
{
	fx_dnf_t operand, scratch;
	char op = '&';

	if ((depth > FX_DEPTH) || (from >= to))
		return false;
	_set_any_node(out);
	while (from < to) {
		const char *end;

		if ((*from == '(') || (*from == '[')) {
			if (!(end = _group_end(from, to)))
				return false;
			if ((*from == '[') && memchr(from, '*', (size_t) (end - from)))
				_set_any_node(&operand);
			else if (!_parse(from + 1, end, depth + 1, &operand))
				return false;
			end++;
		} else {
			end = from;
			while ((end < to) && !strchr("&,|()[]*", *end))
				end++;
			if (end == from)
				return false;
			operand.cnt = 1;
			operand.clause[0].cnt = 1;
			operand.clause[0].term[0] = (fx_term_t) { from,
				(size_t) (end - from) };
		}
		if ((end < to) && (*end == '*')) {
			_set_any_node(&operand);
			while ((++end < to) && (*end >= '0') && (*end <= '9'))
				;
		}
		if (!((op == '|') ? _or(out, &operand) :
		      _and(out, &operand, &scratch)))
			return false;
		if (end == to)
			return true;
		if (!strchr("&,|", *end))
			return false;
		op = (*end == '|') ? '|' : '&';
		from = end + 1;
	}
	return false;	/* ends in an operator */
}

/* Writes the clauses as "a&b|c" at *w. RET false when it does not fit. */
static bool _write_dnf(const fx_dnf_t *d, char **w, const char *stop)
{
	for (int c = 0; c < d->cnt; c++) {
		for (int t = 0; t < d->clause[c].cnt; t++) {
			const fx_term_t *term = &d->clause[c].term[t];

			if (*w + term->len + 2 > stop)
				return false;
			if (t || c)
				*(*w)++ = t ? '&' : '|';
			memcpy(*w, term->name, term->len);
			*w += term->len;
		}
	}
	if (*w >= stop)
		return false;
	*(*w)++ = '\0';
	return true;
}

/* The inside of "[a|b|c]" with plain features only: Slurm's matching OR. */
static bool _plain_alternatives(const char *from, const char *to)
{
	bool bar = false;

	for (const char *p = from; p < to; p++) {
		if (strchr("&,*[]()", *p))
			return false;
		if (*p == '|')
			bar = true;
	}
	return bar;
}

extern bool feature_expr_parse(const char *expr, char *buf, size_t buflen,
			       feature_expr_t *out)
{
	const char *open, *close, *stop = buf + buflen;
	size_t len;
	char *w = buf;
	fx_dnf_t every, alternatives;

	out->all = out->any = "";
	out->matching = false;
	if (!expr || !expr[0])
		return true;
	len = strlen(expr);
	open = strchr(expr, '[');
	close = open ? strchr(open, ']') : NULL;
	if (open && close && _plain_alternatives(open + 1, close) &&
	    !strchr(close + 1, '[') && !memchr(expr, '|', (size_t) (open - expr)) &&
	    !strchr(close + 1, '|') && !strchr(expr, '(')) {
		/* "c&[a|b]&d": c and d on every node, one of a, b for all. */
		fx_dnf_t rest, scratch;
		bool ok = true;

		_set_any_node(&every);
		if (open > expr)	/* "c&" before the bracket */
			ok = strchr("&,", open[-1]) &&
			     _parse(expr, open - 1, 0, &rest) &&
			     _and(&every, &rest, &scratch);
		if (ok && close[1])	/* "&d" after it */
			ok = strchr("&,", close[1]) &&
			     _parse(close + 2, expr + len, 0, &rest) &&
			     _and(&every, &rest, &scratch);
		if (!ok || (every.cnt != 1) ||
		    !_parse(open + 1, close, 0, &alternatives))
			return false;
		out->matching = true;
	} else {
		fx_dnf_t parsed;

		if (!_parse(expr, expr + len, 0, &parsed))
			return false;
		/* One clause: every node needs it all. */
		_set_any_node(&every);
		alternatives.cnt = 0;
		if (parsed.cnt == 1)
			every = parsed;
		else
			alternatives = parsed;
	}
	out->all = w;
	if (!_write_dnf(&every, &w, stop))
		goto too_small;
	out->any = w;
	if (!_write_dnf(&alternatives, &w, stop))
		goto too_small;
	return true;
too_small:
	out->all = out->any = "";
	out->matching = false;
	return false;
}
