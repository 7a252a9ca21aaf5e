/* Several Rspamd or API servers: rspamd_url and api_url take a list. Each
 * delivery starts at a different member (spreading the load) and fails over
 * to the next one; errors are remembered across processes in
 * state_dir/upstreams.db (see state.h), and a member with max_errors errors
 * within error_time seconds is skipped for dead_time seconds, as rmilter
 * does. The same file counts each member's errors for --stats. */
#ifndef SPOT_UPSTREAM_H
#define SPOT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* The dead-host memory and the error counters of every member this host
 * asked (a URL is remembered by its first UPSTREAM_URL_MAX bytes). */
#define UPSTREAM_URL_MAX 247

struct upstream_memory {
	struct state_map map;     /* map.w NULL: no memory */
	struct state_table table;
};

/* Opens state_dir/upstreams.db: 0, or -1 and why (then no memory). */
int upstream_memory_open(struct upstream_memory *m, int dirfd, char *why, size_t n);
void upstream_memory_close(struct upstream_memory *m);

/* The order in which to try the members: a rotation starting at seed %
 * n, members that are dead now left out, unless all of them are. */
size_t upstream_order(const struct upstream_list *l,
    const struct upstream_memory *m, int64_t now, uint32_t seed,
    size_t order[UPSTREAM_MAX]);
int upstream_is_dead(const struct upstream_memory *m, const char *url,
    int64_t now);

/* The members of one upstream list still to try, within one deadline. */
struct upstream_target {
	const struct upstream_list *list;
	size_t order[UPSTREAM_MAX];
	size_t norder;
	size_t next;
	const char *url;          /* the member asked now */
	int64_t deadline;         /* for all members together */
	int64_t attempt_start;
	int64_t attempt_deadline; /* for this member */
};

void upstream_target_init(struct upstream_target *t,
    const struct upstream_list *list, const struct upstream_memory *memory,
    uint32_t seed, int64_t deadline);
/* Picks the next member; its share of the time left is an equal part for
 * each member still to try, so that a hanging one leaves time for the
 * others. Returns the attempt's timeout in ms, or 0 when none is left. */
long upstream_target_next(struct upstream_target *t);

struct upstream_events {
	struct {
		const char *url;
		int ok;
		const char *what;  /* "rspamd", "SPOT API" */
		char why[200];     /* of a failure */
		long ms;
	} v[2 * UPSTREAM_MAX + 2];
	size_t n;
};

/* An answer or a failure of url, with what the log says of it. */
void upstream_event_of(struct upstream_events *ev, const char *what,
    const char *url, int ok, const char *why, long ms);
/* The events into the dead-host memory. A server's first failure after it
 * was healthy, the moment it is marked dead and its first answer after
 * that are logged by exactly one process (a compare-and-swap on its
 * health word); without the memory, each failure is logged. */
void upstream_record(const struct config *cfg, struct upstream_memory *m,
    const struct upstream_events *ev, int64_t now);
/* The failed events into the error counters. */
void upstream_count_errors(struct upstream_memory *m,
    const struct upstream_events *ev);
/* --stats: a read-only copy of state_dir/upstreams.db (free it), or NULL
 * and why; then the error counter and the dead-host state of each member
 * in it, in the Prometheus text format. */
uint64_t *upstream_stats_read(const char *dir, char *why, size_t n);
void upstream_stats_print(uint64_t *w, int64_t now, FILE *fp);
/* The URL as the log shows it: without user:password@. */
void upstream_url_shown(const char *url, char *dst, size_t n);
/* Wall-clock seconds: the state is shared between processes. */
int64_t upstream_now(void);

#endif
