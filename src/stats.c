#include "stats.h"

#include <stdio.h>
#include <string.h>

#include "state.h"

static const long buckets_ms[] = { 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 };

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

struct count {
	const struct scan_result *sr;
	const struct decision *d;
	int skipped;
	int64_t elapsed_ms;
	const struct upstream_events *ev;
};

static void
label_key(char *dst, size_t n, const char *name, const char *label,
    const char *value)
{
	size_t used;
	int r;

	r = snprintf(dst, n, "%s{%s=\"", name, label);
	if (r < 0 || (size_t)r >= n)
		return;
	used = (size_t)r;
	for (; *value != '\0' && used + 4 < n; value++) {
		if (*value == '"' || *value == '\\')
			dst[used++] = '\\';
		dst[used++] = *value;
	}
	snprintf(dst + used, n - used, "\"}");
}

static void
add_counts(struct kvs *s, void *arg)
{
	const struct count *c = arg;
	char key[1200], le[32];
	size_t i;

	kvs_add(s, "messages_total", 1);
	if (c->sr->rspamd_state == SCAN_DONE || c->sr->api_state == SCAN_DONE)
		kvs_add(s, "analyzed_total", 1);
	kvs_add(s, "spam_total", c->d->spam);
	kvs_add(s, "phishing_total", c->d->phishing);
	kvs_add(s, "rejected_total", c->d->outcome == OUTCOME_REJECT);
	kvs_add(s, "deferred_total", c->d->outcome == OUTCOME_DEFER);
	kvs_add(s, "skipped_total", c->skipped);
	kvs_add(s, "degraded_total", c->d->unscanned != 0);
	for (i = 0; i < c->ev->n; i++) {
		if (c->ev->v[i].ok)
			continue;
		label_key(key, sizeof(key), "upstream_errors_total", "upstream",
		    c->ev->v[i].url);
		kvs_add(s, key, 1);
	}
	for (i = 0; i < sizeof(buckets_ms) / sizeof(buckets_ms[0]); i++) {
		snprintf(le, sizeof(le), "%g", buckets_ms[i] / 1000.0);
		label_key(key, sizeof(key), "processing_seconds_bucket", "le", le);
		kvs_add(s, key, c->elapsed_ms <= buckets_ms[i]);
	}
	kvs_add(s, "processing_seconds_bucket{le=\"+Inf\"}", 1);
	kvs_add(s, "processing_milliseconds_sum", c->elapsed_ms);
	kvs_add(s, "processing_seconds_count", 1);
}

void
stats_count(const struct config *cfg, const struct scan_result *sr,
    const struct decision *d, int skipped, int64_t elapsed_ms,
    const struct upstream_events *ev)
{
	struct count c = { sr, d, skipped, elapsed_ms, ev };

	state_update(cfg->state_dir, "counters", add_counts, &c);
}

int
stats_print(const struct config *cfg, FILE *fp)
{
	struct kvs s;
	char key[1200], le[32];
	size_t i;

	if (state_read(cfg->state_dir, "counters", &s) != 0)
		return -1;
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		fprintf(fp, "# HELP spot_deliver_%s %s\n# TYPE spot_deliver_%s counter\n"
		    "spot_deliver_%s %lld\n", counters[i].name, counters[i].help,
		    counters[i].name, counters[i].name,
		    (long long)kvs_get(&s, counters[i].name));
	fputs("# HELP spot_deliver_upstream_errors_total Connection errors, 5xx "
	    "and timeouts per upstream.\n# TYPE spot_deliver_upstream_errors_total "
	    "counter\n", fp);
	for (i = 0; i < s.n; i++)
		if (strncmp(s.v[i].key, "upstream_errors_total{", 22) == 0)
			fprintf(fp, "spot_deliver_%s %lld\n", s.v[i].key,
			    (long long)s.v[i].value);
	fputs("# HELP spot_deliver_processing_seconds Time from start to the "
	    "decision (scans included, the LDA not).\n# TYPE spot_deliver_processing_seconds histogram\n", fp);
	for (i = 0; i < sizeof(buckets_ms) / sizeof(buckets_ms[0]); i++) {
		snprintf(le, sizeof(le), "%g", buckets_ms[i] / 1000.0);
		label_key(key, sizeof(key), "processing_seconds_bucket", "le", le);
		fprintf(fp, "spot_deliver_%s %lld\n", key, (long long)kvs_get(&s, key));
	}
	fprintf(fp, "spot_deliver_processing_seconds_bucket{le=\"+Inf\"} %lld\n"
	    "spot_deliver_processing_seconds_sum %.3f\n"
	    "spot_deliver_processing_seconds_count %lld\n",
	    (long long)kvs_get(&s, "processing_seconds_bucket{le=\"+Inf\"}"),
	    kvs_get(&s, "processing_milliseconds_sum") / 1000.0,
	    (long long)kvs_get(&s, "processing_seconds_count"));
	kvs_free(&s);
	return ferror(fp) ? -1 : 0;
}
