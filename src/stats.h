/* Per-host counters in state_dir/counters.db (see state.h), printed by
 * --stats in the Prometheus text format, with the error counters of each
 * upstream from state_dir/upstreams.db. Counting never fails or delays a
 * delivery: when the file cannot be used, the message is simply not
 * counted. */
#ifndef SPOT_STATS_H
#define SPOT_STATS_H

#include <stdio.h>

#include "config.h"
#include "decide.h"
#include "upstream.h"

/* dirfd: cfg->state_dir from state_dir_open(), or -1. */
void stats_count(const struct config *cfg, int dirfd, struct upstream_memory *um,
    const struct scan_result *sr, const struct decision *d, int skipped,
    int64_t elapsed_ms, const struct upstream_events *ev);
/* Opens counters.db in dirfd as a delivery would: 0, or -1 and why. */
int stats_probe(int dirfd, char *why, size_t n);
/* 0, or -1 and why when the counters cannot be read; 0 with why when
 * state_dir or one of its files is not there (its counters printed as 0). */
int stats_print(const struct config *cfg, FILE *fp, char *why, size_t n);

#endif
