/* Rspamd client: builds the /checkv2 request and parses its JSON answer. */
#ifndef SPOT_RSPAMD_H
#define SPOT_RSPAMD_H

#include <stddef.h>

#include "config.h"
#include "envelope.h"
#include "http.h"
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

void rspamd_request(struct http_req *r, const char *url,
    const struct config *cfg, const struct envelope *env, const struct msg *m,
    long timeout_ms);
/* 0, or -1 with a reason in err. Accepts any bytes. */
int rspamd_parse(const char *json, size_t len, struct rspamd_reply *out,
    char *err, size_t errlen);
void rspamd_reply_free(struct rspamd_reply *r);
int rspamd_is_spam(const struct rspamd_reply *r);

#endif
