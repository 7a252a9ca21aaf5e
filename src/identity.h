/* The identity of one delivery: which message (its bytes, as the scanners
 * see them), from whom, to whom, out of which queue file. Two deliveries of
 * one queue file to different recipients differ; the MTA's retry of the same
 * delivery is the same. The SPOT Idempotency-Key is derived from it. */
#ifndef SPOT_IDENTITY_H
#define SPOT_IDENTITY_H

#include <stddef.h>

#include "envelope.h"
#include "msg.h"
#include "rewrite.h"

#define DELIVERY_ID_LEN 32

/* SHA-256 over the queue id, the client's address and HELO name, the
 * envelope sender, the recipients in sorted order and the SHA-256 of the
 * message after its "From " line, without the first field of its header
 * block (hb, parsed from m->head) when that is a Received field: a fetcher
 * such as fetchmail adds one there with the time of each poll, and its
 * retry must stay the same delivery. 0, or -1 when the message cannot be
 * read (err says why). */
int delivery_identity(const struct envelope *env, const struct msg *m,
    const struct hdr_block *hb, unsigned char id[DELIVERY_ID_LEN], char *err,
    size_t errlen);

#endif
