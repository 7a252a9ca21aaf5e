/* SPOT API client: the ingest POST, the poll GET after a 202, and the
 * parser of their JSON answers (docs/spot-api.md is the contract). */
#ifndef SPOT_SPOT_H
#define SPOT_SPOT_H

#include <stddef.h>

#include "config.h"
#include "envelope.h"
#include "http.h"
#include "identity.h"
#include "reply.h"

void spot_request(struct http_req *r, const char *url, const struct config *cfg,
    const struct envelope *env, const struct msg *m, const char *idem_key,
    long timeout_ms);
/* The poll URL: the Location of the 202 resolved against url (the member
 * of api_url that took the job), else url/<job id>. */
void spot_poll_request(struct http_req *r, const char *url,
    const struct config *cfg, const char *location, const char *job_id,
    long timeout_ms);
/* "<queue id>-<the delivery identity in hex>", or the hex alone when the
 * queue id is missing or not a short alphanumeric token: one key per
 * delivery, the same for every retry of it (docs/spot-api.md). */
#define SPOT_QUEUE_ID_IN_KEY_MAX 64
#define SPOT_IDEM_KEY_SIZE (SPOT_QUEUE_ID_IN_KEY_MAX + 1 + 2 * DELIVERY_ID_LEN + 1)
void spot_idempotency_key(char *dst, size_t n, const char *queue_id,
    const unsigned char id[DELIVERY_ID_LEN]);

#endif
