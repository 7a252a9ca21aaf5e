#include "age.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "state.h"
#include "util.h"

#define STORE_NAME "deferrals.db"
/* Longer than the largest defer_max_age, so a bound is never forgotten
 * before it is reached. */
#define STORE_KEEP ((int64_t)CONFIG_MAX_DURATION + 86400)
#define RECEIVED_MAX 4096

/* The slots of deferrals.db: a 128-bit key and the first deferral. */
static const char MAGIC[8] = "SPOTDEFR";
#define STORE_SLOTS 4096
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

static int64_t
first_recorded(int dirfd, const uint64_t key[STATE_KEY_WORDS], int64_t now)
{
	struct state_table t;
	struct state_map m;
	char why[256];
	int64_t first;

	if (state_map_open(&m, dirfd, STORE_NAME, MAGIC, STORE_WORDS, why,
	    sizeof(why)) != 0)
		return now;
	state_table_init(&t, m.w, STORE_SLOTS, STATE_FIRST_SEEN_WORDS, STORE_PROBE);
	first = state_first_seen(&t, key, now, STORE_KEEP);
	state_map_close(&m);
	return believed((uint64_t)first, now);
}

static int64_t
first_looked_up(const char *dir, const uint64_t key[STATE_KEY_WORDS], int64_t now)
{
	struct state_table t;
	const uint64_t *v;
	uint64_t *w = xcalloc(STORE_WORDS, sizeof(*w));
	char why[256];
	int64_t first = now;

	if (state_file_read(dir, STORE_NAME, MAGIC, w, STORE_WORDS, why,
	    sizeof(why)) == 1) {
		state_table_init(&t, w, STORE_SLOTS, STATE_FIRST_SEEN_WORDS,
		    STORE_PROBE);
		if ((v = state_table_find(&t, key)) != NULL)
			first = believed(v[0], now);
	}
	free(w);
	return first;
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
