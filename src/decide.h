/* The decision: a pure function of the scanners' answers and the policy.
 * It touches no network, no file and never exits, so every rule of the
 * "how it decides" table is unit-tested with fixtures alone. */
#ifndef SPOT_DECIDE_H
#define SPOT_DECIDE_H

#include "config.h"
#include "reply.h"
#include "rewrite.h"

enum outcome { OUTCOME_DELIVER, OUTCOME_DEFER, OUTCOME_REJECT };

/* Scanner failures that defer_max_age let through on a delivery. */
#define UNSCANNED_RSPAMD 1
#define UNSCANNED_API 2

struct decision {
	enum outcome outcome;
	char code[8];          /* enhanced status code when not delivering */
	char reason[512];      /* for the sender: nothing internal */
	char detail[512];      /* for the log: what failed and why */
	int spam;
	int phishing;
	int unscanned;         /* UNSCANNED_*, only when delivering */
	int64_t age;           /* seconds the delivery has waited, as given */
};

/* age: the seconds this delivery has waited since it was first deferred
 * (or since it arrived); it only matters when decide_needs_age() says so. */
void decide(const struct config *cfg, const struct scan_result *sr,
    int64_t age, struct decision *d);
/* Whether a scanner failure would defer and defer_max_age bounds it. */
int decide_needs_age(const struct config *cfg, const struct scan_result *sr);
/* Fills ed with the headers to add and remove and a new Subject. */
void decide_headers(const struct config *cfg, const struct scan_result *sr,
    const struct decision *d, struct hdr_edit *ed);
const char *outcome_name(enum outcome o);
const char *api_status_header(const struct config *cfg, const struct scan_result *sr);
void scan_result_free(struct scan_result *sr);

#endif
