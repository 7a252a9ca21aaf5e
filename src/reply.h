/* The scanners' answers as data: what Rspamd and the SPOT API said, parsed
 * from their JSON, and the scan_result that decide() reads. Nothing here
 * knows of HTTP; rspamd.c and spot.c build the requests and parse these. */
#ifndef SPOT_REPLY_H
#define SPOT_REPLY_H

#include <stddef.h>

#include "rewrite.h"

enum rspamd_action {
	RSPAMD_NO_ACTION,
	RSPAMD_GREYLIST,
	RSPAMD_ADD_HEADER,
	RSPAMD_REWRITE_SUBJECT,
	RSPAMD_SOFT_REJECT,
	RSPAMD_REJECT,
	RSPAMD_UNKNOWN,
};

struct rspamd_symbol {
	char *name;
	double score;
	char *options;  /* comma separated, may be NULL */
};

struct rspamd_reply {
	enum rspamd_action action;
	char action_name[32];
	double score;
	double required;
	struct rspamd_symbol *symbols;
	size_t nsymbols;
	char *smtp_message;
	char *subject;
	struct hdr_edit milter;   /* add and remove, from "milter" */
};

/* 0, or -1 with a reason in err. Accepts any bytes. */
int rspamd_parse(const char *json, size_t len, struct rspamd_reply *out,
    char *err, size_t errlen);
void rspamd_reply_free(struct rspamd_reply *r);
int rspamd_is_spam(const struct rspamd_reply *r);

enum spot_status { SPOT_ANALYZED, SPOT_ACCEPTED, SPOT_TIMEOUT, SPOT_REJECTED };

struct spot_reply {
	enum spot_status status;
	char job_id[129];
	int is_phishing;
	char threat_level[65];
	double confidence;
};

int spot_parse(const char *json, size_t len, struct spot_reply *out,
    char *err, size_t errlen);
const char *spot_status_name(enum spot_status s);

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

#endif
