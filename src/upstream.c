#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

int
upstream_list_parse(const char *list, struct upstream_list *l)
{
	const char *p = list, *e;
	size_t n;

	memset(l, 0, sizeof(*l));
	while ((e = list_next(&p, ", \t", &n)) != NULL) {
		if (l->n == UPSTREAM_MAX)
			return -1;
		l->url[l->n++] = xstrndup(e, n);
	}
	return 0;
}

void
upstream_list_free(struct upstream_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->url[i]);
	memset(l, 0, sizeof(*l));
}

void
upstream_target_init(struct upstream_target *t,
    const struct upstream_list *list, const struct upstream_memory *memory,
    uint32_t seed, int64_t deadline)
{
	memset(t, 0, sizeof(*t));
	t->list = list;
	t->norder = upstream_order(list, memory, upstream_now(), seed, t->order);
	t->deadline = deadline;
}

long
upstream_target_next(struct upstream_target *t)
{
	int64_t now = now_ms(), left = t->deadline - now;
	long share;

	if (t->next >= t->norder || left <= 0)
		return 0;
	t->url = t->list->url[t->order[t->next]];
	share = (long)(left / (int64_t)(t->norder - t->next));
	t->next++;
	if (share < 1)
		share = 1;
	t->attempt_start = now;
	t->attempt_deadline = now + share;
	return share;
}

int64_t
upstream_now(void)
{
	return (int64_t)time(NULL);
}

/* upstreams.db: the errors of members that found no free slot, then a
 * table of slots keyed by the digest of the URL. */
static const char MAGIC[8] = "SPOTUPST";
#define FILE_NAME "upstreams.db"
#define SLOTS 256
enum { V_ERRORS, V_FIRST_ERROR, V_DEAD_UNTIL, V_ERRORS_TOTAL, V_URL };
/* The URL's room, and after it the health word (zero in files from
 * before it, whose URLs were at most 255 bytes). */
#define URL_WORDS ((UPSTREAM_URL_MAX + 1) / 8)
#define V_HEALTH (V_URL + URL_WORDS)
#define SLOT_WORDS (STATE_KEY_WORDS + V_HEALTH + 1)
enum { HEALTHY, FAILING, DEAD };
#define W_OTHER 0
#define W_TABLE 8
#define NWORDS (W_TABLE + SLOTS * SLOT_WORDS)

static void
table_of(struct state_table *t, uint64_t *w)
{
	state_table_init(t, w + W_TABLE, SLOTS, SLOT_WORDS, SLOTS);
}

int
upstream_memory_open(struct upstream_memory *m, int dirfd, char *why, size_t n)
{
	memset(m, 0, sizeof(*m));
	if (state_map_open(&m->map, dirfd, FILE_NAME, MAGIC, NWORDS, why, n) != 0)
		return -1;
	table_of(&m->table, m->map.w);
	return 0;
}

void
upstream_memory_close(struct upstream_memory *m)
{
	state_map_close(&m->map);
}

static size_t
url_len(const char *url)
{
	return strnlen(url, UPSTREAM_URL_MAX);
}

static void
key_of(const char *url, uint64_t key[2])
{
	state_digest(url, url_len(url), key);
}

static void
init_url(uint64_t *v, void *arg)
{
	const char *url = arg;

	memcpy(v + V_URL, url, url_len(url));
}

static uint64_t *
slot_of(const struct upstream_memory *m, const char *url, int claim)
{
	uint64_t key[2];

	if (m == NULL || m->map.w == NULL)
		return NULL;
	key_of(url, key);
	if (!claim)
		return state_table_find(&m->table, key);
	return state_table_claim(&m->table, key, NULL, init_url, (void *)url);
}

int
upstream_is_dead(const struct upstream_memory *m, const char *url, int64_t now)
{
	uint64_t *v = slot_of(m, url, 0);

	return v != NULL && state_get(&v[V_DEAD_UNTIL]) > (uint64_t)now;
}

size_t
upstream_order(const struct upstream_list *l, const struct upstream_memory *m,
    int64_t now, uint32_t seed, size_t order[UPSTREAM_MAX])
{
	size_t i, k, n = 0;

	if (l->n == 0)
		return 0;
	for (i = 0; i < l->n; i++) {
		k = (seed + i) % l->n;
		if (!upstream_is_dead(m, l->url[k], now))
			order[n++] = k;
	}
	if (n > 0)
		return n;
	/* all dead: better to try them than to give up without asking */
	for (i = 0; i < l->n; i++)
		order[i] = (seed + i) % l->n;
	return l->n;
}

void
upstream_event_of(struct upstream_events *ev, const char *what,
    const char *url, int ok, const char *why, long ms)
{
	if (ev->n == ARRAY_LEN(ev->v))
		return;
	ev->v[ev->n].url = url;
	ev->v[ev->n].ok = ok;
	ev->v[ev->n].what = what;
	snprintf(ev->v[ev->n].why, sizeof(ev->v[ev->n].why), "%s", why);
	ev->v[ev->n].ms = ms;
	ev->n++;
}

void
upstream_url_shown(const char *url, char *dst, size_t n)
{
	const char *host = strstr(url, "://"), *at, *end;

	if (host != NULL) {
		host += 3;
		end = host + strcspn(host, "/?#");
		if ((at = memchr(host, '@', (size_t)(end - host))) != NULL) {
			snprintf(dst, n, "%.*s%s", (int)(host - url), url, at + 1);
			return;
		}
	}
	snprintf(dst, n, "%s", url);
}

/* The server and what happened to it, for the admin. */
static void
log_event(const struct upstream_events *ev, size_t i, const char *what)
{
	char url[UPSTREAM_URL_MAX + 1];

	upstream_url_shown(ev->v[i].url, url, sizeof(url));
	if (ev->v[i].ok)
		log_info("%s %s: %s", ev->v[i].what, url, what);
	else
		log_warn("%s %s: %s (%ld ms)%s", ev->v[i].what, url, ev->v[i].why,
		    ev->v[i].ms, what);
}

/* Moves the health word from anything but to: 1 for the one process that
 * did it, with the word it found. */
static int
turn(uint64_t *v, uint64_t to, uint64_t *was)
{
	uint64_t h;

	while ((h = state_get(&v[V_HEALTH])) != to)
		if (state_cas(&v[V_HEALTH], h, to)) {
			*was = h;
			return 1;
		}
	return 0;
}

static void
forgive(uint64_t *v)
{
	if (state_get(&v[V_ERRORS]) != 0 || state_get(&v[V_DEAD_UNTIL]) != 0) {
		state_set(&v[V_ERRORS], 0);
		state_set(&v[V_FIRST_ERROR], 0);
		state_set(&v[V_DEAD_UNTIL], 0);
	}
}

/* Races between processes may lose an error or start a window twice:
 * the memory is approximate, the counters are not kept here. */
static int
blame(const struct config *cfg, uint64_t *v, int64_t now)
{
	uint64_t first = state_get(&v[V_FIRST_ERROR]), t = (uint64_t)now;
	int dead = 0;

	if (first == 0 || first > t || t - first > cfg->error_time) {
		if (state_cas(&v[V_FIRST_ERROR], first, t))
			state_set(&v[V_ERRORS], 0);
	}
	state_add(&v[V_ERRORS], 1);
	if (state_get(&v[V_ERRORS]) >= cfg->max_errors) {
		state_set(&v[V_DEAD_UNTIL], t + cfg->dead_time);
		state_set(&v[V_ERRORS], 0);
		state_set(&v[V_FIRST_ERROR], 0);
		dead = 1;
	}
	return dead;
}

void
upstream_record(const struct config *cfg, struct upstream_memory *m,
    const struct upstream_events *ev, int64_t now)
{
	char what[80];
	uint64_t *v, was;
	size_t i;

	for (i = 0; i < ev->n; i++) {
		if ((v = slot_of(m, ev->v[i].url, !ev->v[i].ok)) == NULL) {
			if (!ev->v[i].ok && (m == NULL || m->map.w == NULL))
				log_event(ev, i, "");
			continue;
		}
		if (ev->v[i].ok) {
			forgive(v);
			if (turn(v, HEALTHY, &was) && was == DEAD)
				log_event(ev, i, "alive again");
			continue;
		}
		was = state_get(&v[V_HEALTH]);
		if (was == HEALTHY && state_cas(&v[V_HEALTH], HEALTHY, FAILING))
			log_event(ev, i, ": first failure");
		/* dead again after dead_time without an answer: no new line */
		if (blame(cfg, v, now) && turn(v, DEAD, &was)) {
			snprintf(what, sizeof(what), ": marked dead for %u s after "
			    "%u errors", cfg->dead_time, cfg->max_errors);
			log_event(ev, i, what);
		}
	}
}

void
upstream_count_errors(struct upstream_memory *m, const struct upstream_events *ev)
{
	uint64_t *v;
	size_t i;

	if (m->map.w == NULL)
		return;
	for (i = 0; i < ev->n; i++) {
		if (ev->v[i].ok)
			continue;
		if ((v = slot_of(m, ev->v[i].url, 1)) != NULL)
			state_add(&v[V_ERRORS_TOTAL], 1);
		else
			state_add(&m->map.w[W_OTHER], 1);
	}
}

/* The URL of a slot, when it is one: NUL-terminated, and its digest is the
 * slot's key. */
static const char *
url_of(const uint64_t *key, const uint64_t *v)
{
	const char *url = (const char *)(v + V_URL);
	uint64_t k[2];

	if (memchr(url, '\0', URL_WORDS * 8) == NULL)
		return NULL;
	key_of(url, k);
	return k[0] == key[0] && k[1] == key[1] ? url : NULL;
}

static void
print_label(FILE *fp, const char *metric, const char *url, uint64_t value)
{
	fprintf(fp, "spot_deliver_%s{upstream=\"", metric);
	for (; *url != '\0'; url++) {
		if (*url == '"' || *url == '\\')
			fputc('\\', fp);
		fputc(*url >= 0x20 && *url < 0x7f ? *url : '?', fp);
	}
	fprintf(fp, "\"} %llu\n", (unsigned long long)value);
}

/* The counts of a key's slots, added up (see state_table_claim). */
static uint64_t
sum_of(const struct state_table *t, size_t from, const uint64_t *key)
{
	const uint64_t *k, *v;
	uint64_t sum = 0, c;
	size_t i;

	for (i = from; i < SLOTS; i++) {
		if ((k = state_table_slot(t, i, &v)) == NULL || k[0] != key[0] ||
		    k[1] != key[1])
			continue;
		c = v[V_ERRORS_TOTAL];
		sum = sum > UINT64_MAX - c ? UINT64_MAX : sum + c;
	}
	return sum;
}

static int
seen_before(const struct state_table *t, size_t i, const uint64_t *key)
{
	const uint64_t *k, *v;
	size_t j;

	for (j = 0; j < i; j++)
		if ((k = state_table_slot(t, j, &v)) != NULL && k[0] == key[0] &&
		    k[1] == key[1] && url_of(k, v) != NULL)
			return 1;
	return 0;
}

/* The first slot of each key whose URL is sound. */
static const char *
url_at(const struct state_table *t, size_t i, const uint64_t **key,
    const uint64_t **v)
{
	const char *url;

	if ((*key = state_table_slot(t, i, v)) == NULL ||
	    (url = url_of(*key, *v)) == NULL || seen_before(t, i, *key))
		return NULL;
	return url;
}

uint64_t *
upstream_stats_read(const char *dir, char *why, size_t n)
{
	uint64_t *w = xcalloc(NWORDS, sizeof(*w));

	if (state_file_read(dir, FILE_NAME, MAGIC, w, NWORDS, why, n) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void
upstream_stats_print(uint64_t *w, int64_t now, FILE *fp)
{
	const uint64_t *k, *v;
	struct state_table t;
	const char *url;
	size_t i;

	table_of(&t, w);
	fputs("# HELP spot_deliver_upstream_errors_total Connection errors, 5xx "
	    "and timeouts per upstream.\n# TYPE spot_deliver_upstream_errors_total "
	    "counter\n", fp);
	for (i = 0; i < SLOTS; i++)
		if ((url = url_at(&t, i, &k, &v)) != NULL)
			print_label(fp, "upstream_errors_total", url, sum_of(&t, i, k));
	if (w[W_OTHER] != 0)
		print_label(fp, "upstream_errors_total", "(other)", w[W_OTHER]);
	fputs("# HELP spot_deliver_upstream_dead 1 while the dead-host memory leaves "
	    "the upstream out.\n# TYPE spot_deliver_upstream_dead gauge\n", fp);
	for (i = 0; i < SLOTS; i++)
		if ((url = url_at(&t, i, &k, &v)) != NULL)
			print_label(fp, "upstream_dead", url, v[V_DEAD_UNTIL] > (uint64_t)now);
}
