#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

int
upstream_list_parse(const char *list, struct upstream_list *l)
{
	const char *p = list;
	size_t n;

	memset(l, 0, sizeof(*l));
	for (;;) {
		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			return 0;
		if (l->n == UPSTREAM_MAX)
			return -1;
		l->url[l->n++] = xstrndup(p, n);
		p += n;
	}
}

void
upstream_list_free(struct upstream_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->url[i]);
	memset(l, 0, sizeof(*l));
}

int64_t
upstream_now(void)
{
	return (int64_t)time(NULL);
}

static void
key_of(char *dst, size_t n, const char *what, const char *url)
{
	snprintf(dst, n, "%s %s", what, url);
}

int
upstream_is_dead(const struct kvs *state, const char *url, int64_t now)
{
	char key[1100];

	key_of(key, sizeof(key), "dead_until", url);
	return kvs_get(state, key) > now;
}

size_t
upstream_order(const struct upstream_list *l, const struct kvs *state,
    int64_t now, uint32_t seed, size_t order[UPSTREAM_MAX])
{
	size_t i, k, n = 0;

	if (l->n == 0)
		return 0;
	for (i = 0; i < l->n; i++) {
		k = (seed + i) % l->n;
		if (!upstream_is_dead(state, l->url[k], now))
			order[n++] = k;
	}
	if (n > 0)
		return n;
	/* all dead: better to try them than to give up without asking */
	for (i = 0; i < l->n; i++)
		order[i] = (seed + i) % l->n;
	return l->n;
}

void
upstream_event(struct upstream_events *ev, const char *url, int ok)
{
	if (ev->n == sizeof(ev->v) / sizeof(ev->v[0]))
		return;
	ev->v[ev->n].url = url;
	ev->v[ev->n].ok = ok;
	ev->n++;
}

struct apply {
	const struct config *cfg;
	const struct upstream_events *ev;
	int64_t now;
};

static void
apply_events(struct kvs *s, void *arg)
{
	const struct apply *a = arg;
	char errors[1100], first[1100], dead[1100];
	size_t i;

	for (i = 0; i < a->ev->n; i++) {
		const char *url = a->ev->v[i].url;

		key_of(errors, sizeof(errors), "errors", url);
		key_of(first, sizeof(first), "first_error", url);
		key_of(dead, sizeof(dead), "dead_until", url);
		if (a->ev->v[i].ok) {
			kvs_del(s, errors);
			kvs_del(s, first);
			kvs_del(s, dead);
			continue;
		}
		if (a->now - kvs_get(s, first) > (int64_t)a->cfg->error_time) {
			kvs_set(s, first, a->now);
			kvs_set(s, errors, 0);
		}
		kvs_add(s, errors, 1);
		if (kvs_get(s, errors) >= (int64_t)a->cfg->max_errors) {
			kvs_set(s, dead, a->now + a->cfg->dead_time);
			kvs_del(s, errors);
			kvs_del(s, first);
		}
	}
}

void
upstream_record(const struct config *cfg, const struct kvs *state,
    const struct upstream_events *ev, int64_t now)
{
	struct apply a = { cfg, ev, now };
	char key[1100];
	size_t i;
	int changes = 0;

	/* A success changes nothing unless errors were remembered for it. */
	for (i = 0; i < ev->n && !changes; i++) {
		key_of(key, sizeof(key), "errors", ev->v[i].url);
		changes = !ev->v[i].ok || kvs_get(state, key) != 0 ||
		    upstream_is_dead(state, ev->v[i].url, now);
	}
	if (changes)
		state_update(cfg->state_dir, "upstreams", apply_events, &a);
}
