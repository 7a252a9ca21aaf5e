/* How long a delivery has waited: the bound of defer_max_age. The age is
 * the time since the delivery was first deferred, remembered in state_dir
 * under the delivery's identity, or since the MTA received the message when
 * it says so (--arrival-time, or Postfix's own Received: field), whichever
 * is earlier. Anything unknown, unusable or implausible counts as "now":
 * age 0 defers as if there were no bound, it never delivers early. */
#ifndef SPOT_AGE_H
#define SPOT_AGE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "envelope.h"
#include "identity.h"
#include "rewrite.h"

/* An arrival time further back than this is not believed. */
#define AGE_MAX_PAST (30 * 86400)

struct age {
	int64_t seconds;       /* what decide() gets */
	int64_t now;
	int64_t first_seen;    /* first deferral, epoch seconds (now if unknown) */
	int64_t arrival;       /* epoch seconds, 0 if unknown or not believed */
};

/* When id was first deferred (epoch seconds); now when it was not known, or
 * the store is unusable. With record, an unknown id is remembered as now. */
int64_t age_first_deferral(const struct config *cfg,
    const unsigned char id[DELIVERY_ID_LEN], int64_t now, int record);

/* Forgets id's first deferral, once it is delivered: the number of slots
 * freed. Creates nothing. */
int age_forget(const struct config *cfg, const unsigned char id[DELIVERY_ID_LEN]);
/* Whether state_dir holds deferrals2.db (some delivery may be waiting). */
int age_store_exists(const struct config *cfg);

/* Opens deferrals2.db in dirfd (from state_dir_open()) as a delivery
 * would, for --selftest: 0, or -1 and why. */
int age_probe(int dirfd, char *why, size_t n);

/* Epoch seconds, or an RFC 5322 date: 0, or -1. */
int age_parse_time(const char *s, int64_t *out);
/* The date of the topmost Received: field when it is the one Postfix added
 * at queue entry with this queue id: "(Postfix) with PROTO id QUEUE_ID" or
 * "(Postfix, from userid N) id QUEUE_ID", that id once, then ";" or " for ";
 * the date after the last ';'. 0 when there is none. */
int64_t age_received_time(const char *head, const struct hdr_block *hb,
    const char *queue_id);

/* The age of the delivery id of the message head (hb parsed from it).
 * record: remember a first deferral (not for --check). */
void age_of(const struct config *cfg, const struct envelope *env,
    const unsigned char id[DELIVERY_ID_LEN], const char *head,
    const struct hdr_block *hb, int record, int64_t now, struct age *a);

#endif
