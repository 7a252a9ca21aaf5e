/* Asks Rspamd and the SPOT API at the same time and waits for both, each
 * within its own deadline, failing over between the members of each
 * upstream list; the answers become a scan_result for decide(). */
#ifndef SPOT_SCAN_H
#define SPOT_SCAN_H

#include "config.h"
#include "envelope.h"
#include "msg.h"
#include "reply.h"
#include "upstream.h"

struct scan_params {
	const struct config *cfg;
	const struct envelope *env;
	const struct msg *m;
	const char *idem_key;
	const struct upstream_list *rspamd;  /* NULL: do not ask Rspamd */
	const struct upstream_list *api;     /* NULL: do not ask the API */
	const struct upstream_memory *memory; /* dead-upstream memory */
	uint32_t seed;                       /* where in the lists to start */
	struct upstream_events *events;      /* what happened to each member */
};

/* Fills the rspamd_* and api_* parts of sr for the scanners asked. */
void scan_run(const struct scan_params *p, struct scan_result *sr);

struct http_req;
/* Records what a member did in ev (the outage lines, the dead-host memory)
 * and prints it with -v: r's answer or failure, else why (a deadline of
 * ours). what names the scanner: "rspamd", "SPOT API". */
void scan_event(struct upstream_events *ev, const char *what,
    const struct upstream_target *t, const struct http_req *r, int ok,
    const char *why);

#endif
