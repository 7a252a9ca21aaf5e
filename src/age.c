#include "age.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "log.h"
#include "state.h"
#include "util.h"

#define STORE_NAME "deferrals2.db"
/* Longer than the largest defer_max_age, so a bound is never forgotten
 * before it is reached. */
#define STORE_KEEP ((int64_t)CONFIG_MAX_DURATION + 86400)
#define RECEIVED_MAX 4096

/* The slots of deferrals2.db: a 128-bit key and the first deferral. A
 * slot is freed when its delivery is delivered, so the table holds the
 * deliveries waiting now: 65536 of them in 1.5 MiB (a delivery maps it, it
 * touches only the pages it probes). The 4096-slot deferrals.db of
 * earlier versions is not read: its slots were never freed. */
static const char MAGIC[8] = "SPOTDEFR";
#define STORE_SLOTS 65536
#define STORE_PROBE 32
#define STORE_WORDS (STORE_SLOTS * STATE_FIRST_SEEN_WORDS)

static void
key_of(const unsigned char id[DELIVERY_ID_LEN], uint64_t key[STATE_KEY_WORDS])
{
	memcpy(key, id, STATE_KEY_WORDS * sizeof(*key));
}

static int64_t
believed(uint64_t first, int64_t now)
{
	return first == 0 || (int64_t)first > now ||
	    (int64_t)first < now - STORE_KEEP ? now : (int64_t)first;
}

struct lookup {
	const struct state_table *t;
	const uint64_t *key;
	int64_t now;
	int64_t first;
};

static void
first_seen(void *arg)
{
	struct lookup *l = arg;

	l->first = state_first_seen(l->t, l->key, l->now, STORE_KEEP);
}

static int64_t
first_recorded(int dirfd, const uint64_t key[STATE_KEY_WORDS], int64_t now)
{
	struct state_table t;
	struct state_map m;
	struct lookup l = { &t, key, now, 0 };
	char why[256];
	int64_t first;
	int shortened;

	if (state_map_open(&m, dirfd, STORE_NAME, MAGIC, STORE_WORDS, why,
	    sizeof(why)) != 0)
		return now;
	state_table_init(&t, m.w, STORE_SLOTS, STATE_FIRST_SEEN_WORDS, STORE_PROBE);
	/* shortened under the map: no memory, as for a file never made */
	shortened = state_guard(first_seen, &l) != 0;
	first = l.first;
	state_map_close(&m);
	if (shortened)
		return now;
	if (first == 0)
		log_warn("state_dir: %s is full (%d deliveries waiting): this "
		    "delivery's first deferral is not remembered, its "
		    "defer_max_age counts only from Postfix's arrival time",
		    STORE_NAME, STORE_SLOTS);
	return believed((uint64_t)first, now);
}

static int64_t
first_looked_up(const char *dir, const uint64_t key[STATE_KEY_WORDS], int64_t now)
{
	uint64_t v[STATE_FIRST_SEEN_WORDS - STATE_KEY_WORDS];
	struct state_table t;
	char why[256];

	state_table_init(&t, NULL, STORE_SLOTS, STATE_FIRST_SEEN_WORDS, STORE_PROBE);
	if (state_file_find(dir, STORE_NAME, MAGIC, &t, key, v, why, sizeof(why)) != 1)
		return now;
	return believed(v[0], now);
}

int64_t
age_first_deferral(const struct config *cfg, const unsigned char id[DELIVERY_ID_LEN],
    int64_t now, int record)
{
	uint64_t key[STATE_KEY_WORDS];
	char why[256];
	int64_t first;
	int dirfd;

	key_of(id, key);
	if (!record)
		return first_looked_up(cfg->state_dir, key, now);
	if (state_dir_open(cfg->state_dir, &dirfd, why, sizeof(why)) != STATE_DIR_OK)
		return now;
	first = first_recorded(dirfd, key, now);
	close(dirfd);
	return first;
}

int
age_forget(const struct config *cfg, const unsigned char id[DELIVERY_ID_LEN])
{
	uint64_t key[STATE_KEY_WORDS];
	struct state_table t;
	struct state_map m;
	char why[256];
	int dirfd, n = 0;

	if (state_dir_open(cfg->state_dir, &dirfd, why, sizeof(why)) != STATE_DIR_OK)
		return 0;
	/* no file: nothing to forget, and nothing to create */
	if (faccessat(dirfd, STORE_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    state_map_open(&m, dirfd, STORE_NAME, MAGIC, STORE_WORDS, why,
	    sizeof(why)) == 0) {
		key_of(id, key);
		state_table_init(&t, m.w, STORE_SLOTS, STATE_FIRST_SEEN_WORDS,
		    STORE_PROBE);
		n = (int)state_table_forget(&t, key);
		state_map_close(&m);
	}
	close(dirfd);
	return n;
}

int
age_store_exists(const struct config *cfg)
{
	char why[256];
	int dirfd, rc;

	if (state_dir_open(cfg->state_dir, &dirfd, why, sizeof(why)) != STATE_DIR_OK)
		return 0;
	rc = faccessat(dirfd, STORE_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	close(dirfd);
	return rc;
}

int
age_probe(int dirfd, char *why, size_t n)
{
	return state_probe(dirfd, STORE_NAME, MAGIC, STORE_WORDS, why, n);
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
	g_mime_init();  /* on first use, as in rewrite.c */
	if ((dt = g_mime_utils_header_decode_date(s)) == NULL)
		return -1;
	*out = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return *out > 0 ? 0 : -1;
}

/* What Postfix writes just before its queue id: "(Postfix) with PROTO"
 * (smtpd, qmqpd) or "(Postfix, from userid N)" (pickup). seg is the text
 * from the last '(' before " id " up to it. */
static int
postfix_words(const char *seg, size_t len)
{
	static const char with[] = "(Postfix) with ", pickup[] = "(Postfix, from userid ";
	size_t i;

	if (len > sizeof(with) - 1 && strncmp(seg, with, sizeof(with) - 1) == 0) {
		for (i = sizeof(with) - 1; i < len; i++)
			if (!isalnum((unsigned char)seg[i]))
				return 0;
		return 1;
	}
	if (len > sizeof(pickup) && strncmp(seg, pickup, sizeof(pickup) - 1) == 0 &&
	    seg[len - 1] == ')') {
		for (i = sizeof(pickup) - 1; i < len - 1; i++)
			if (!isdigit((unsigned char)seg[i]))
				return 0;
		return 1;
	}
	return 0;
}

/* Postfix's " id QUEUE_ID" (whitespace collapsed): once, right after
 * Postfix's own words, before ";" or " for ". A second one is somebody
 * else's text (a HELO name may hold spaces): no answer then. */
static int
has_queue_id(const char *text, const char *qid)
{
	size_t n = strlen(qid);
	const char *p, *at = NULL, *open;
	int count = 0;

	for (p = text; (p = strstr(p, " id ")) != NULL; p += 4)
		if (strncmp(p + 4, qid, n) == 0 &&
		    (p[4 + n] == ' ' || p[4 + n] == ';' || p[4 + n] == '\0')) {
			at = p;
			count++;
		}
	if (count != 1 || (at[4 + n] != ';' && strncmp(at + 4 + n, " for ", 5) != 0))
		return 0;
	for (open = at; open > text && open[-1] != '('; open--)
		;
	return open > text && postfix_words(open - 1, (size_t)(at - open + 1));
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

/* One space for every run of folding white space; a NUL ends it. */
static void
unfold(char *dst, const char *src, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < len; i++) {
		if (src[i] == '\r' || src[i] == '\n' || src[i] == '\t' || src[i] == ' ') {
			if (k == 0 || dst[k - 1] != ' ')
				dst[k++] = ' ';
		} else {
			dst[k++] = src[i];
		}
	}
	dst[k] = '\0';
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
	unfold(text, head + h->off, h->len);
	if (!has_queue_id(text, queue_id) || (semi = strrchr(text, ';')) == NULL)
		return 0;
	return age_parse_time(semi + 1, &t) == 0 ? t : 0;
}

static int64_t
believable(int64_t t, int64_t now)
{
	return t > 0 && t <= now && t >= now - AGE_MAX_PAST ? t : 0;
}

void
age_of(const struct config *cfg, const struct envelope *env,
    const unsigned char id[DELIVERY_ID_LEN], const char *head,
    const struct hdr_block *hb, int record, int64_t now, struct age *a)
{
	int64_t received, given;

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
