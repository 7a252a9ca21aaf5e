#include "identity.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "util.h"

#define READ_CHUNK (64 * 1024)

/* Each field is framed by its length, and an absent one by a length no
 * string has, so that no two envelopes hash the same bytes: ("ab", "c")
 * differs from ("a", "bc"), a missing -f from the null sender "". */
static void
field(GChecksum *sum, const char *s)
{
	unsigned char len[8];
	uint64_t n = s != NULL ? strlen(s) : UINT64_MAX;
	int i;

	for (i = 7; i >= 0; i--, n >>= 8)
		len[i] = (unsigned char)(n & 0xff);
	g_checksum_update(sum, len, sizeof(len));
	if (s != NULL)
		g_checksum_update(sum, (const guchar *)s, (gssize)strlen(s));
}

static int
by_bytes(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The whole message, not a sample of it: the key promises that a different
 * message never gets the answer meant for another one. */
static int
content_digest(const struct msg *m, const struct hdr_block *hb,
    unsigned char out[DELIVERY_ID_LEN], char *err, size_t errlen)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	char *chunk = xmalloc(READ_CHUNK);
	uint64_t off = hb->end;
	gsize len = DELIVERY_ID_LEN;
	ssize_t got = 0;
	size_t i;
	int rc = 0;

	/* Only a Received field on top, the one a fetcher adds with the
	 * time of each poll (a local MTA's is the same on each retry of a
	 * queue file): the ones below came with the message, and Received
	 * fields are all on top in most mail. */
	i = hb->n > 0 && strcasecmp(hb->v[0].name, "Received") == 0;
	for (; i < hb->n; i++)
		g_checksum_update(sum, (const guchar *)m->head + hb->v[i].off,
		    (gssize)hb->v[i].len);
	while (off < m->size) {
		got = msg_pread(m, chunk, READ_CHUNK, off);
		if (got <= 0) {
			snprintf(err, errlen, "cannot read the message back: %s",
			    got < 0 ? strerror(errno) : "the spool ended early");
			rc = -1;
			break;
		}
		g_checksum_update(sum, (const guchar *)chunk, got);
		off += (uint64_t)got;
	}
	g_checksum_get_digest(sum, out, &len);
	g_checksum_free(sum);
	free(chunk);
	return rc;
}

int
delivery_identity(const struct envelope *env, const struct msg *m,
    const struct hdr_block *hb, unsigned char id[DELIVERY_ID_LEN], char *err,
    size_t errlen)
{
	unsigned char content[DELIVERY_ID_LEN];
	const char **rcpt;
	GChecksum *sum;
	gsize len = DELIVERY_ID_LEN;
	size_t i;

	if (content_digest(m, hb, content, err, errlen) != 0)
		return -1;
	rcpt = xreallocarray(NULL, env->nrcpt ? env->nrcpt : 1, sizeof(*rcpt));
	if (env->nrcpt > 0) {
		memcpy(rcpt, env->rcpt, env->nrcpt * sizeof(*rcpt));
		qsort(rcpt, env->nrcpt, sizeof(*rcpt), by_bytes);
	}
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	field(sum, "spot-deliver delivery 2");
	field(sum, env->queue_id);
	field(sum, env->client_address);
	field(sum, env->helo);
	field(sum, env->sender);
	for (i = 0; i < env->nrcpt; i++)
		field(sum, rcpt[i]);
	field(sum, NULL); /* the end of the list: no recipient has that length */
	g_checksum_update(sum, content, sizeof(content));
	g_checksum_get_digest(sum, id, &len);
	g_checksum_free(sum);
	free(rcpt);
	return 0;
}
