/* Per-host counters in state_dir/counters (see state.h), printed by
 * --stats in the Prometheus text format. Counting never fails or delays a
 * delivery by more than a lock try: when the file cannot be written, the
 * message is simply not counted. */
#ifndef SPOT_STATS_H
#define SPOT_STATS_H

#include <stdio.h>

#include "config.h"
#include "decide.h"
#include "upstream.h"

void stats_count(const struct config *cfg, const struct scan_result *sr,
    const struct decision *d, int skipped, int64_t elapsed_ms,
    const struct upstream_events *ev);
/* 0, or -1 when the counters cannot be read. */
int stats_print(const struct config *cfg, FILE *fp);

#endif
