/* Several Rspamd or API servers: rspamd_url and api_url take a list. Each
 * delivery starts at a different member (spreading the load) and fails over
 * to the next one; errors are remembered across processes in
 * state_dir/upstreams (see state.h), and a member with max_errors errors
 * within error_time seconds is skipped for dead_time seconds, as rmilter
 * does. */
#ifndef SPOT_UPSTREAM_H
#define SPOT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "state.h"

#define UPSTREAM_MAX 16

struct upstream_list {
	char *url[UPSTREAM_MAX];
	size_t n;
};

/* Splits a comma or space separated list; 0, or -1 if it has more than
 * UPSTREAM_MAX members. */
int upstream_list_parse(const char *list, struct upstream_list *l);
void upstream_list_free(struct upstream_list *l);

/* The order in which to try the members: a rotation starting at seed %
 * n, members that are dead now left out, unless all of them are. */
size_t upstream_order(const struct upstream_list *l, const struct kvs *state,
    int64_t now, uint32_t seed, size_t order[UPSTREAM_MAX]);
int upstream_is_dead(const struct kvs *state, const char *url, int64_t now);

struct upstream_events {
	struct {
		const char *url;
		int ok;
	} v[2 * UPSTREAM_MAX + 2];
	size_t n;
};

void upstream_event(struct upstream_events *ev, const char *url, int ok);
/* Writes the events to state_dir/upstreams when they change anything. */
void upstream_record(const struct config *cfg, const struct kvs *state,
    const struct upstream_events *ev, int64_t now);
/* Wall-clock seconds: the state is shared between processes. */
int64_t upstream_now(void);

#endif
