#include "age.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "state.h"
#include "util.h"

#define STORE_NAME "deferrals"
/* Longer than the largest defer_max_age, so a bound is never forgotten
 * before it is reached. */
#define STORE_KEEP ((int64_t)CONFIG_MAX_DURATION + 86400)
#define STORE_MAX_ENTRIES 1024
#define RECEIVED_MAX 4096

static void
hash_part(GChecksum *sum, const void *p, size_t n)
{
	char len[32];

	/* length-prefixed, so that no two envelopes hash alike */
	snprintf(len, sizeof(len), "%zu:", n);
	g_checksum_update(sum, (const guchar *)len, (gssize)strlen(len));
	g_checksum_update(sum, (const guchar *)p, (gssize)n);
}

static void
hash_str(GChecksum *sum, const char *s)
{
	hash_part(sum, s ? s : "", s ? strlen(s) : 0);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void
delivery_digest(unsigned char id[AGE_ID_LEN], const struct envelope *env,
    const char *head, const struct hdr_block *hb, uint64_t msg_size)
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	const char **rcpt = xreallocarray(NULL, env->nrcpt, sizeof(*rcpt));
	char sizestr[32];
	gsize len = AGE_ID_LEN;
	size_t i;

	hash_str(sum, env->queue_id);
	hash_str(sum, env->sender);
	if (env->nrcpt > 0)
		memcpy(rcpt, env->rcpt, env->nrcpt * sizeof(*rcpt));
	qsort(rcpt, env->nrcpt, sizeof(*rcpt), cmp_str);
	for (i = 0; i < env->nrcpt; i++)
		hash_str(sum, rcpt[i]);
	for (i = 0; i < hb->n; i++)
		if (strcasecmp(hb->v[i].name, "Received") != 0)
			hash_part(sum, head + hb->v[i].off, hb->v[i].len);
	snprintf(sizestr, sizeof(sizestr), "%llu",
	    (unsigned long long)(msg_size - hb->end));
	hash_str(sum, sizestr);
	g_checksum_get_digest(sum, id, &len);
	g_checksum_free(sum);
	free(rcpt);
}

struct lookup {
	const char *key;
	int64_t now;
	int64_t first;
};

static int
valid_entry(const struct kv *kv, int64_t now)
{
	size_t i;

	if (strlen(kv->key) != 2 * AGE_ID_LEN || kv->value > now ||
	    kv->value < now - STORE_KEEP)
		return 0;
	for (i = 0; kv->key[i] != '\0'; i++)
		if (!isxdigit((unsigned char)kv->key[i]))
			return 0;
	return 1;
}

static void
drop_oldest(struct kvs *s)
{
	size_t i, old = 0;

	for (i = 1; i < s->n; i++)
		if (s->v[i].value < s->v[old].value)
			old = i;
	kvs_del(s, s->v[old].key);
}

/* Expired, future and malformed entries go; ours is added when new. */
static void
remember(struct kvs *s, void *arg)
{
	struct lookup *l = arg;
	size_t i;

	for (i = s->n; i-- > 0;)
		if (!valid_entry(&s->v[i], l->now))
			kvs_del(s, s->v[i].key);
	if ((l->first = kvs_get(s, l->key)) == 0) {
		while (s->n >= STORE_MAX_ENTRIES)
			drop_oldest(s);
		kvs_set(s, l->key, l->now);
		l->first = l->now;
	}
}

int64_t
age_first_deferral(const struct config *cfg, const unsigned char id[AGE_ID_LEN],
    int64_t now, int record)
{
	char key[2 * AGE_ID_LEN + 1];
	struct lookup l = { key, now, now };
	struct kvs s;
	struct kv kv;
	size_t i;

	for (i = 0; i < AGE_ID_LEN; i++)
		snprintf(key + 2 * i, 3, "%02x", id[i]);
	if (record)
		return state_update(cfg->state_dir, STORE_NAME, remember, &l) == 0 ?
		    l.first : now;
	if (state_read(cfg->state_dir, STORE_NAME, &s) != 0)
		return now;
	kv = (struct kv){ key, kvs_get(&s, key) };
	kvs_free(&s);
	return valid_entry(&kv, now) ? kv.value : now;
}

int
age_parse_time(const char *s, int64_t *out)
{
	GDateTime *dt;
	char *end;
	long long n;

	if (*s != '\0' && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || n <= 0)
			return -1;
		*out = n;
		return 0;
	}
	if ((dt = g_mime_utils_header_decode_date(s)) == NULL)
		return -1;
	*out = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return *out > 0 ? 0 : -1;
}

/* "id QUEUE_ID" as a word of its own. */
static int
has_queue_id(const char *text, const char *qid)
{
	size_t n = strlen(qid);
	const char *p;

	for (p = text; (p = strstr(p, " id ")) != NULL; p += 4)
		if (strncmp(p + 4, qid, n) == 0 &&
		    (p[4 + n] == ' ' || p[4 + n] == ';' || p[4 + n] == '\0'))
			return 1;
	return 0;
}

static int
plain_queue_id(const char *qid)
{
	size_t i, n = strlen(qid);

	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)qid[i]))
			return 0;
	return 1;
}

int64_t
age_received_time(const char *head, const struct hdr_block *hb,
    const char *queue_id)
{
	char text[RECEIVED_MAX + 1], *semi;
	const struct hdr *h = NULL;
	int64_t t;
	size_t i;

	if (queue_id == NULL || !plain_queue_id(queue_id))
		return 0;
	for (i = 0; i < hb->n && h == NULL; i++)
		if (strcasecmp(hb->v[i].name, "Received") == 0)
			h = &hb->v[i];
	if (h == NULL || h->len > RECEIVED_MAX)
		return 0;
	memcpy(text, head + h->off, h->len);
	text[h->len] = '\0';
	/* unfolded; a NUL ends it */
	for (i = 0; i < h->len; i++)
		if (text[i] == '\r' || text[i] == '\n' || text[i] == '\t')
			text[i] = ' ';
	if ((strstr(text, "(Postfix)") == NULL && strstr(text, "(Postfix, ") == NULL) ||
	    !has_queue_id(text, queue_id) || (semi = strrchr(text, ';')) == NULL)
		return 0;
	return age_parse_time(semi + 1, &t) == 0 ? t : 0;
}

static int64_t
believable(int64_t t, int64_t now)
{
	return t > 0 && t <= now && t >= now - AGE_MAX_PAST ? t : 0;
}

void
age_of(const struct config *cfg, const struct envelope *env, const char *head,
    const struct hdr_block *hb, uint64_t size, int record, int64_t now,
    struct age *a)
{
	unsigned char id[AGE_ID_LEN];
	int64_t received, given;

	delivery_digest(id, env, head, hb, size);
	a->now = now;
	a->first_seen = age_first_deferral(cfg, id, now, record);
	received = believable(age_received_time(head, hb, env->queue_id), now);
	given = believable(env->arrival_time, now);
	a->arrival = received != 0 && (given == 0 || received < given) ? received : given;
	a->seconds = now - (a->arrival != 0 && a->arrival < a->first_seen ?
	    a->arrival : a->first_seen);
	if (a->seconds < 0)
		a->seconds = 0;
}
