#include "identity.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "util.h"

#define READ_CHUNK (64 * 1024)

/* OpenSSL's SHA-256 (libcurl loads libcrypto anyway): several times faster
 * per byte than GLib's, and the whole message goes through it. */
static EVP_MD_CTX *
sha256_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

static int
sha256_done(EVP_MD_CTX *ctx, unsigned char out[DELIVERY_ID_LEN])
{
	unsigned int len = DELIVERY_ID_LEN;
	int ok = EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == DELIVERY_ID_LEN;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Each field is framed by its length, and an absent one by a length no
 * string has, so that no two envelopes hash the same bytes: ("ab", "c")
 * differs from ("a", "bc"), a missing -f from the null sender "". */
static void
field(EVP_MD_CTX *sum, const char *s)
{
	unsigned char len[8];
	uint64_t n = s != NULL ? strlen(s) : UINT64_MAX;
	int i;

	for (i = 7; i >= 0; i--, n >>= 8)
		len[i] = (unsigned char)(n & 0xff);
	EVP_DigestUpdate(sum, len, sizeof(len));
	if (s != NULL)
		EVP_DigestUpdate(sum, s, strlen(s));
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
	EVP_MD_CTX *sum;
	char *chunk;
	uint64_t off = hb->end;
	ssize_t got = 0;
	size_t i;
	int rc = 0;

	if ((sum = sha256_new()) == NULL) {
		snprintf(err, errlen, "SHA-256 is not available");
		return -1;
	}
	chunk = xmalloc(READ_CHUNK);

	/* Only a Received field on top, the one a fetcher adds with the
	 * time of each poll (a local MTA's is the same on each retry of a
	 * queue file): the ones below came with the message, and Received
	 * fields are all on top in most mail. */
	i = hb->n > 0 && strcasecmp(hb->v[0].name, "Received") == 0;
	for (; i < hb->n; i++)
		EVP_DigestUpdate(sum, m->head + hb->v[i].off, hb->v[i].len);
	while (off < m->size) {
		got = msg_pread(m, chunk, READ_CHUNK, off);
		if (got <= 0) {
			snprintf(err, errlen, "cannot read the message back: %s",
			    got < 0 ? strerror(errno) : "the spool ended early");
			rc = -1;
			break;
		}
		EVP_DigestUpdate(sum, chunk, (size_t)got);
		off += (uint64_t)got;
	}
	if (sha256_done(sum, out) != 0 && rc == 0) {
		snprintf(err, errlen, "SHA-256 failed");
		rc = -1;
	}
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
	EVP_MD_CTX *sum;
	size_t i;

	if (content_digest(m, hb, content, err, errlen) != 0)
		return -1;
	if ((sum = sha256_new()) == NULL) {
		snprintf(err, errlen, "SHA-256 is not available");
		return -1;
	}
	rcpt = xreallocarray(NULL, env->nrcpt ? env->nrcpt : 1, sizeof(*rcpt));
	if (env->nrcpt > 0) {
		memcpy(rcpt, env->rcpt, env->nrcpt * sizeof(*rcpt));
		qsort(rcpt, env->nrcpt, sizeof(*rcpt), by_bytes);
	}
	field(sum, "spot-deliver delivery 2");
	field(sum, env->queue_id);
	field(sum, env->client_address);
	field(sum, env->helo);
	field(sum, env->sender);
	for (i = 0; i < env->nrcpt; i++)
		field(sum, rcpt[i]);
	field(sum, NULL); /* the end of the list: no recipient has that length */
	EVP_DigestUpdate(sum, content, sizeof(content));
	free(rcpt);
	if (sha256_done(sum, id) != 0) {
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	return 0;
}
