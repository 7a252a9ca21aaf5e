/* Rspamd client: builds the /checkv2 request and parses its JSON answer. */
#ifndef SPOT_RSPAMD_H
#define SPOT_RSPAMD_H

#include <stddef.h>

#include "config.h"
#include "envelope.h"
#include "http.h"
#include "reply.h"

void rspamd_request(struct http_req *r, const char *url,
    const struct config *cfg, const struct envelope *env, const struct msg *m,
    long timeout_ms);

#endif
