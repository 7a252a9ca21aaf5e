/* The decision: a pure function of the scanners' answers and the policy.
 * It touches no network, no file and never exits, so every rule of the
 * "how it decides" table is unit-tested with fixtures alone. */
#ifndef SPOT_DECIDE_H
#define SPOT_DECIDE_H

#include "config.h"
#include "rewrite.h"
#include "rspamd.h"
#include "spot.h"

enum scan_state {
	SCAN_OFF,      /* not configured */
	SCAN_SKIPPED,  /* configured, but the message is above scan_max_size */
	SCAN_DONE,     /* an answer (for the API: a terminal status) */
	SCAN_PENDING,  /* API only: accepted (202), no verdict by the deadline */
	SCAN_FAILED,   /* unreachable, timeout, non-2xx, unparseable */
	SCAN_AUTH,     /* API only: 401/403, our key is wrong */
};

struct scan_result {
	enum scan_state rspamd_state;
	struct rspamd_reply rspamd;
	char rspamd_error[256];
	enum scan_state api_state;
	struct spot_reply spot;   /* job_id may be set in any state */
	char api_error[256];
	char skip_note[128];      /* why nothing was asked (SCAN_SKIPPED) */
};

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
