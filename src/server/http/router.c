/* SPDX-License-Identifier: Apache-2.0 */
/* http/router.c: route tables compiled into segments, and the match of a method and path against them
 * (the most specific path first, then the method: 404 and 405 stay apart). Each route has its counters
 * (route_stats, metrics.c), plus one set for unmatched requests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "util.h"
#include "banned.h"

struct compiled_route {
	const struct route *route;
	size_t n_segs;
	char *segs[ROUTE_MAX_SEGMENTS]; /* literal text, or NULL for a {param} */
	char *params[ROUTE_MAX_SEGMENTS];
	char *literal; /* a route without parameters: its segments joined ("/v1/system/ping"), else NULL */
	size_t literal_len;
};

struct router {
	struct compiled_route *routes;
	size_t n, alloc;
	struct route_stats *stats; /* n + 1 entries; the last counts unmatched requests */
};

int router_new(struct router **ret)
{
	struct router *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	*ret = rt;
	return 0;
}

void router_free(struct router *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		for (size_t k = 0; k < rt->routes[i].n_segs; k++) {
			free(rt->routes[i].segs[k]);
			free(rt->routes[i].params[k]);
		}
	for (size_t i = 0; i < rt->n; i++)
		free(rt->routes[i].literal);
	free(rt->routes);
	free(rt->stats);
	free(rt);
}

size_t router_size(const struct router *rt)
{
	return rt->n;
}

const struct route *router_route(const struct router *rt, size_t i)
{
	return i < rt->n ? rt->routes[i].route : NULL;
}

struct route_stats *router_stats(struct router *rt, size_t i)
{
	return &rt->stats[i <= rt->n ? i : rt->n];
}

static int split_path(char *p, char **segs, size_t max, size_t *ret_n)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n >= max)
			return -ENAMETOOLONG;
		segs[n++] = t;
	}
	*ret_n = n;
	return 0;
}

/* cr->literal of a route without parameters (the path that is that route and no other shape's). */
static int literal_of(struct compiled_route *cr)
{
	size_t len = cr->n_segs ? 0 : 1, at = 0;

	for (size_t k = 0; k < cr->n_segs; k++) {
		if (!cr->segs[k])
			return 0;
		len += 1 + strlen(cr->segs[k]);
	}
	cr->literal = malloc(len + 1);
	if (!cr->literal)
		return -ENOMEM;
	for (size_t k = 0; k < cr->n_segs; k++) {
		size_t l = strlen(cr->segs[k]);

		cr->literal[at++] = '/';
		memcpy(cr->literal + at, cr->segs[k], l);
		at += l;
	}
	if (cr->n_segs == 0)
		cr->literal[at++] = '/';
	cr->literal[at] = 0;
	cr->literal_len = at;
	return 0;
}

int router_add(struct router *rt, const struct route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct compiled_route cr = { .route = &routes[i] };
		char buf[512], *segs[ROUTE_MAX_SEGMENTS];
		size_t ns;
		int r;

		r = str_copy(buf, sizeof(buf), routes[i].pattern);
		if (r < 0)
			return r;
		r = split_path(buf, segs, ROUTE_MAX_SEGMENTS, &ns);
		if (r < 0)
			return r;
		cr.n_segs = ns;
		for (size_t k = 0; k < ns; k++) {
			size_t l = strlen(segs[k]);
			if (l >= 2 && segs[k][0] == '{' && segs[k][l - 1] == '}') {
				cr.params[k] = strndup(segs[k] + 1, l - 2);
				if (!cr.params[k])
					return -ENOMEM;
			} else {
				cr.segs[k] = strdup(segs[k]);
				if (!cr.segs[k])
					return -ENOMEM;
			}
		}
		r = literal_of(&cr);
		if (r < 0)
			return r;
		if (rt->n == rt->alloc) {
			size_t na = rt->alloc ? rt->alloc * 2 : 64;
			struct compiled_route *nr = realloc(rt->routes, na * sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			rt->routes = nr;
			rt->alloc = na;
		}
		rt->routes[rt->n++] = cr;
	}
	free(rt->stats);
	rt->stats = calloc(rt->n + 1, sizeof(*rt->stats));
	return rt->stats ? 0 : -ENOMEM;
}

static bool route_matches(const struct compiled_route *cr, char **segs, size_t n)
{
	if (cr->n_segs != n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (cr->segs[k] && !streq(cr->segs[k], segs[k]))
			return false;
	return true;
}

/* > 0 when a is more specific than b: a literal at the first position where they differ */
static int specificity_cmp(const struct compiled_route *a, const struct compiled_route *b)
{
	for (size_t k = 0; k < a->n_segs && k < b->n_segs; k++) {
		bool la = a->segs[k] != NULL, lb = b->segs[k] != NULL;
		if (la != lb)
			return la ? 1 : -1;
	}
	return 0;
}

static bool same_shape(const struct compiled_route *a, const struct compiled_route *b)
{
	if (a->n_segs != b->n_segs)
		return false;
	for (size_t k = 0; k < a->n_segs; k++) {
		if (!!a->segs[k] != !!b->segs[k])
			return false;
		if (a->segs[k] && !streq(a->segs[k], b->segs[k]))
			return false;
	}
	return true;
}

static bool method_fits(const struct route *route, const char *method)
{
	return strcasecmp(route->method, method) == 0 || (streq(method, "HEAD") && streq(route->method, "GET"));
}

int router_match(const struct router *rt, const char *method, const char *path, struct route_match *m)
{
	char *segs[ROUTE_MAX_SEGMENTS + 1];
	const struct compiled_route *best = NULL, *hit = NULL;
	size_t n, hit_index = 0;
	int r;

	memset(m, 0, offsetof(struct route_match, path_buf));
	/* a path that is a parameterless route's own (the ping's): no route is more specific, and the first of that
	 * path in table order whose method fits is the one the walk below would choose */
	for (size_t i = 0, l = strlen(path); i < rt->n; i++) {
		const struct compiled_route *cr = &rt->routes[i];

		if (cr->literal && cr->literal_len == l && memcmp(cr->literal, path, l) == 0 &&
		    method_fits(cr->route, method)) {
			m->route = cr->route;
			m->index = i;
			return 0;
		}
	}
	r = str_copy(m->path_buf, sizeof(m->path_buf), path);
	if (r < 0)
		return r;
	r = split_path(m->path_buf, segs, ROUTE_MAX_SEGMENTS, &n);
	if (r < 0)
		return -ENOENT;
	for (size_t i = 0; i < rt->n; i++) {
		const struct compiled_route *cr = &rt->routes[i];
		if (!route_matches(cr, segs, n))
			continue;
		if (!best || specificity_cmp(cr, best) > 0)
			best = cr;
	}
	if (!best)
		return -ENOENT;
	for (size_t i = 0; i < rt->n; i++) {
		const struct compiled_route *cr = &rt->routes[i];
		if (!same_shape(cr, best))
			continue;
		if (method_fits(cr->route, method)) {
			hit = cr;
			hit_index = i;
			break;
		}
	}
	if (!hit)
		return -EOPNOTSUPP;
	m->route = hit->route;
	m->index = hit_index;
	for (size_t k = 0; k < n; k++) {
		if (hit->segs[k] || m->n_params >= ROUTE_MAX_PARAMS)
			continue;
		(void)str_copy(m->name_buf[m->n_params], sizeof(m->name_buf[0]), hit->params[k]);
		m->names[m->n_params] = m->name_buf[m->n_params];
		m->values[m->n_params] = segs[k];
		m->n_params++;
	}
	return 0;
}
