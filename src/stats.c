#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"

static const char MAGIC[8] = "SPOTCNTR";
#define FILE_NAME "counters.db"

static const long buckets_ms[] = { 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };
#define NBUCKETS ARRAY_LEN(buckets_ms)

/* Fixed places in counters.db; the file has room for more. */
enum {
	C_MESSAGES, C_ANALYZED, C_SPAM, C_PHISHING, C_REJECTED, C_DEFERRED,
	C_SKIPPED, C_DEGRADED, C_BUCKET, C_BUCKET_INF = C_BUCKET + NBUCKETS, C_MS_SUM,
	C_COUNT, C_END
};
#define NWORDS 64
_Static_assert(C_END <= NWORDS, "counters.db holds every counter");

static const struct {
	const char *name;
	const char *help;
} counters[] = {
	{ "messages_total", "Messages handled." },
	{ "analyzed_total", "Messages that Rspamd or the API answered for." },
	{ "spam_total", "Messages Rspamd called spam." },
	{ "phishing_total", "Messages the API called phishing." },
	{ "rejected_total", "Messages rejected (exit 77)." },
	{ "deferred_total", "Messages deferred (exit 75) by the decision." },
	{ "skipped_total", "Messages delivered without scanning." },
	{ "degraded_total", "Messages delivered unscanned after defer_max_age." },
};

static void
add_counts(uint64_t *w, const struct scan_result *sr, const struct decision *d,
    int skipped, int64_t elapsed_ms)
{
	size_t i;

	if (elapsed_ms < 0)
		elapsed_ms = 0;
	state_add(&w[C_MESSAGES], 1);
	state_add(&w[C_ANALYZED], sr->rspamd_state == SCAN_DONE ||
	    sr->api_state == SCAN_DONE);
	state_add(&w[C_SPAM], d->spam != 0);
	state_add(&w[C_PHISHING], d->phishing != 0);
	state_add(&w[C_REJECTED], d->outcome == OUTCOME_REJECT);
	state_add(&w[C_DEFERRED], d->outcome == OUTCOME_DEFER);
	state_add(&w[C_SKIPPED], skipped != 0);
	state_add(&w[C_DEGRADED], d->unscanned != 0);
	for (i = 0; i < NBUCKETS; i++)
		state_add(&w[C_BUCKET + i], elapsed_ms <= buckets_ms[i]);
	state_add(&w[C_BUCKET_INF], 1);
	state_add(&w[C_MS_SUM], (uint64_t)elapsed_ms);
	state_add(&w[C_COUNT], 1);
}

void
stats_count(const struct config *cfg, int dirfd, struct upstream_memory *um, const struct scan_result *sr,
    const struct decision *d, int skipped, int64_t elapsed_ms,
    const struct upstream_events *ev)
{
	struct state_map m;
	char why[512];

	if (dirfd < 0)
		return;
	if (state_map_open(&m, dirfd, FILE_NAME, MAGIC, NWORDS, why,
	    sizeof(why)) != 0) {
		log_warn("state_dir %s: %s: the message is not counted",
		    cfg->state_dir, why);
	} else {
		add_counts(m.w, sr, d, skipped, elapsed_ms);
		state_map_close(&m);
	}
	upstream_count_errors(um, ev);
}

int
stats_probe(int dirfd, char *why, size_t n)
{
	return state_probe(dirfd, FILE_NAME, MAGIC, NWORDS, why, n);
}

int
stats_print(const struct config *cfg, FILE *fp, char *why, size_t n)
{
	uint64_t w[NWORDS], *up;
	size_t i;

	/* both files read before anything is printed */
	if (state_file_read(cfg->state_dir, FILE_NAME, MAGIC, w, NWORDS, why, n) < 0 ||
	    (up = upstream_stats_read(cfg->state_dir, why, n)) == NULL)
		return -1;
	for (i = 0; i < ARRAY_LEN(counters); i++)
		fprintf(fp, "# HELP spot_deliver_%s %s\n# TYPE spot_deliver_%s counter\n"
		    "spot_deliver_%s %llu\n", counters[i].name, counters[i].help,
		    counters[i].name, counters[i].name, (unsigned long long)w[C_MESSAGES + i]);
	upstream_stats_print(up, upstream_now(), fp);
	free(up);
	fputs("# HELP spot_deliver_processing_seconds Time from start to the "
	    "decision (scans included, the LDA not).\n# TYPE spot_deliver_processing_seconds histogram\n", fp);
	for (i = 0; i < NBUCKETS; i++)
		fprintf(fp, "spot_deliver_processing_seconds_bucket{le=\"%g\"} %llu\n",
		    buckets_ms[i] / 1000.0, (unsigned long long)w[C_BUCKET + i]);
	fprintf(fp, "spot_deliver_processing_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "spot_deliver_processing_seconds_sum %.3f\n"
	    "spot_deliver_processing_seconds_count %llu\n",
	    (unsigned long long)w[C_BUCKET_INF], (double)w[C_MS_SUM] / 1000.0,
	    (unsigned long long)w[C_COUNT]);
	if (ferror(fp)) {
		snprintf(why, n, "cannot write to standard output");
		return -1;
	}
	return 0;
}
