#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct state_header {
	char magic[8];
	uint32_t version;
	uint32_t nwords;
	uint64_t reserved[2];
};

/* A slot being filled by its claimer. */
#define BUSY UINT64_MAX
/* A slot whose key was forgotten: free for the next claim, but not the end
 * of a probe sequence (the keys after it must still be found). */
#define TOMB (UINT64_MAX - 1)
/* How often a reader looks again at a slot being filled before it goes on. */
#define BUSY_TRIES 1000

static void
user_name(uid_t uid, char *dst, size_t n)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(dst, n, "%s", pw->pw_name);
	else
		snprintf(dst, n, "uid %lu", (unsigned long)uid);
}

/* The directory itself, not a link to one (a trailing slash would
 * follow it). */
static int
open_dir(const char *dir)
{
	char path[4096];
	struct stat st;
	size_t len = strlen(dir);

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len);
	path[len] = '\0';
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	return open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void
dir_error(char *why, size_t n, int e)
{
	if (e == ELOOP)
		snprintf(why, n, "a symbolic link: give the directory's own path");
	else
		snprintf(why, n, "%s", strerror(e));
}

enum state_dir_status
state_dir_open(const char *dir, int *fd, char *why, size_t n)
{
	char owner[64], me[64];
	struct stat st;
	int d;

	*fd = -1;
	why[0] = '\0';
	if (dir == NULL || *dir == '\0')
		return STATE_DIR_NONE;
	/* The files are reached through this very directory, the one whose
	 * owner and mode were checked; not through a link that whoever owns
	 * the parent could turn to another directory of ours. */
	if ((d = open_dir(dir)) < 0) {
		if (errno == ENOENT)
			return STATE_DIR_NONE;
		dir_error(why, n, errno);
		return STATE_DIR_ERROR;
	}
	if (fstat(d, &st) != 0) {
		snprintf(why, n, "%s", strerror(errno));
		close(d);
		return STATE_DIR_ERROR;
	}
	if (st.st_uid != geteuid()) {
		user_name(st.st_uid, owner, sizeof(owner));
		user_name(geteuid(), me, sizeof(me));
		snprintf(why, n, "owned by %s, not by %s (the user running "
		    "spot-deliver)", owner, me);
		close(d);
		return STATE_DIR_UNSAFE;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, n, "mode %04o: writable by group or others",
		    (unsigned)(st.st_mode & 07777));
		close(d);
		return STATE_DIR_UNSAFE;
	}
	*fd = d;
	return STATE_DIR_OK;
}

static size_t
size_of(size_t nwords)
{
	return sizeof(struct state_header) + nwords * sizeof(uint64_t);
}

/* The complete new file, under no name yet: O_TMPFILE, linked in through
 * /proc/self/fd. -1 with errno, or 1 when the system cannot do it. */
static int
create_unnamed(int dirfd, const char *name, const void *img, size_t size)
{
	char proc[64];
	int fd;

	if ((fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644)) < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? 1 : -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (write_all(fd, img, size) != 0) {
		close(fd);
		return -1;
	}
	if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return e == ENOENT ? 1 : -1; /* no /proc */
	}
	close(fd);
	return 0;
}

/* The same under a random name of our own (O_EXCL refuses what exists,
 * symbolic links included), then linked to name. */
static int
create_named(int dirfd, const char *name, const void *img, size_t size)
{
	char tmp[300];
	uint64_t r;
	int fd, rc, e, i;

	for (i = 0; i < 8; i++) {
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint64_t)getpid() << 32 ^ (uint64_t)now_ms() ^ (uint64_t)i;
		rc = snprintf(tmp, sizeof(tmp), ".%s.%016llx", name, (unsigned long long)r);
		if (rc < 0 || (size_t)rc >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -1;
	rc = write_all(fd, img, size) == 0 ? linkat(dirfd, tmp, dirfd, name, 0) : -1;
	e = errno;
	unlinkat(dirfd, tmp, 0);
	close(fd);
	errno = e;
	return rc;
}

/* Opens dirfd/name, creating it complete when absent; when another
 * process created it first, opens theirs. */
static int
open_or_create(int dirfd, const char *name, const char magic[8], size_t nwords)
{
	const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	struct state_header *h;
	size_t size = size_of(nwords);
	int fd, rc;

	if ((fd = openat(dirfd, name, flags)) >= 0 || errno != ENOENT)
		return fd;
	h = xcalloc(1, size);
	memcpy(h->magic, magic, sizeof(h->magic));
	h->version = STATE_VERSION;
	h->nwords = (uint32_t)nwords;
	if ((rc = create_unnamed(dirfd, name, h, size)) == 1)
		rc = create_named(dirfd, name, h, size);
	free(h);
	if (rc != 0 && errno != EEXIST)
		return -1;
	return openat(dirfd, name, flags);
}

/* A regular file of exactly the expected size; for a file we write to,
 * ours and writable by nobody else (nobody else can truncate it under the
 * map either). */
static int
check_file(int fd, size_t size, int ours, char *why, size_t n)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		snprintf(why, n, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, n, "not a regular file");
	else if (ours && st.st_uid != geteuid())
		snprintf(why, n, "owned by another user");
	else if (ours && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		snprintf(why, n, "writable by group or others");
	else if ((uint64_t)st.st_size != (uint64_t)size)
		snprintf(why, n, "%lld bytes, not %zu: not a state file of this "
		    "version", (long long)st.st_size, size);
	else
		return 0;
	return -1;
}

static int
check_header(const void *base, const char magic[8], size_t nwords)
{
	const struct state_header *h = base;

	return memcmp(h->magic, magic, sizeof(h->magic)) == 0 &&
	    h->version == STATE_VERSION && h->nwords == nwords ? 0 : -1;
}

static void
open_error(char *why, size_t n, const char *name, int e)
{
	if (e == ELOOP)
		snprintf(why, n, "%s: a symbolic link, not used", name);
	else
		snprintf(why, n, "%s: %s", name, strerror(e));
}

int
state_map_open(struct state_map *m, int dirfd, const char *name,
    const char magic[8], size_t nwords, char *why, size_t n)
{
	size_t size = size_of(nwords);
	char what[200];
	void *base;
	int fd;

	memset(m, 0, sizeof(*m));
	if ((fd = open_or_create(dirfd, name, magic, nwords)) < 0) {
		open_error(why, n, name, errno);
		return -1;
	}
	if (check_file(fd, size, 1, what, sizeof(what)) != 0) {
		snprintf(why, n, "%s: %s", name, what);
		close(fd);
		return -1;
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		open_error(why, n, name, errno);
		return -1;
	}
	if (check_header(base, magic, nwords) != 0) {
		snprintf(why, n, "%s: not a state file of this version", name);
		munmap(base, size);
		return -1;
	}
	m->base = base;
	m->size = size;
	m->w = (uint64_t *)((char *)base + sizeof(struct state_header));
	m->nwords = nwords;
	return 0;
}

void
state_map_close(struct state_map *m)
{
	if (m->base != NULL)
		munmap(m->base, m->size);
	memset(m, 0, sizeof(*m));
}

int
state_probe(int dirfd, const char *name, const char magic[8], size_t nwords,
    char *why, size_t n)
{
	struct state_map m;

	if (state_map_open(&m, dirfd, name, magic, nwords, why, n) != 0)
		return -1;
	state_map_close(&m);
	return 0;
}

/* Opens dir/name for reading, a regular file of size bytes, without
 * trusting its owner: 1 with *fd, 0 when the directory or the file does
 * not exist, or -1 and why. */
static int
open_read(const char *dir, const char *name, size_t size, int *fd, char *why,
    size_t n)
{
	char what[200];
	int d, rc;

	*fd = -1;
	if (dir == NULL || *dir == '\0') {
		snprintf(why, n, "state_dir is empty");
		return -1;
	}
	if ((d = open_dir(dir)) < 0) {
		rc = errno == ENOENT ? 0 : -1;
		dir_error(what, sizeof(what), errno);
		snprintf(why, n, "%s: %s", dir, what);
		return rc;
	}
	if ((*fd = openat(d, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? 0 : -1;
		open_error(what, sizeof(what), name, errno);
		snprintf(why, n, "%s/%s", dir, what);
		close(d);
		return rc;
	}
	close(d);
	if (check_file(*fd, size, 0, what, sizeof(what)) != 0) {
		snprintf(why, n, "%s/%s: %s", dir, name, what);
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 1;
}

static int
read_at(int fd, void *p, size_t n, off_t off)
{
	ssize_t r;
	size_t got = 0;

	while (got < n) {
		if ((r = pread(fd, (char *)p + got, n - got, off + (off_t)got)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO; /* shortened under us */
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
state_file_read(const char *dir, const char *name, const char magic[8],
    uint64_t *w, size_t nwords, char *why, size_t n)
{
	size_t size = size_of(nwords);
	void *img = NULL;
	int fd, rc;

	memset(w, 0, nwords * sizeof(*w));
	if ((rc = open_read(dir, name, size, &fd, why, n)) != 1)
		return rc;
	rc = -1;
	img = xmalloc(size);
	if (read_at(fd, img, size, 0) != 0)
		snprintf(why, n, "%s/%s: %s", dir, name, strerror(errno));
	else if (check_header(img, magic, nwords) != 0)
		snprintf(why, n, "%s/%s: not a state file of this version", dir, name);
	else {
		memcpy(w, (char *)img + sizeof(struct state_header), nwords * sizeof(*w));
		rc = 1;
	}
	free(img);
	close(fd);
	return rc;
}

/* A map is shared with every process of the user, and one of them may
 * shorten its file: a word past the new end is then a SIGBUS, which here
 * ends the guarded work instead of the process. */
static sigjmp_buf *volatile guard_jmp;

static void
on_bus(int sig)
{
	(void)sig;
	siglongjmp(*guard_jmp, 1);
}

int
state_guard(void (*fn)(void *), void *arg)
{
	struct sigaction sa, old;
	sigjmp_buf jb;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_bus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(jb, 1) == 0) {
		guard_jmp = &jb;
		fn(arg);
	} else {
		rc = -1;
	}
	sigaction(SIGBUS, &old, NULL);
	guard_jmp = NULL;
	return rc;
}

static void
touch_end(void *arg)
{
	const struct state_map *m = arg;

	(void)state_get(&m->w[m->nwords - 1]);
}

int
state_map_intact(const struct state_map *m)
{
	return m->w == NULL || m->nwords == 0 ? 0 :
	    state_guard(touch_end, (void *)m);
}

uint64_t
state_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

void
state_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void
state_add(uint64_t *p, uint64_t delta)
{
	uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), v;

	do {
		v = old > UINT64_MAX - delta ? UINT64_MAX : old + delta;
		if (v == old)
			return;
	} while (!__atomic_compare_exchange_n(p, &old, v, 1, __ATOMIC_RELAXED,
	    __ATOMIC_RELAXED));
}

int
state_cas(uint64_t *p, uint64_t old, uint64_t v)
{
	return __atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_ACQ_REL,
	    __ATOMIC_ACQUIRE);
}

void
state_table_init(struct state_table *t, uint64_t *w, size_t nslots,
    size_t words, size_t probe)
{
	t->slot = w;
	t->nslots = nslots;
	t->words = words;
	t->probe = probe < nslots ? probe : nslots;
}

/* The first key word as stored: 0 means empty, BUSY being filled and
 * TOMB forgotten. */
static uint64_t
key0(const uint64_t key[2])
{
	return key[0] == 0 || key[0] == BUSY || key[0] == TOMB ? 1 : key[0];
}

static uint64_t *
slot_at(const struct state_table *t, const uint64_t key[2], size_t i)
{
	return t->slot + ((key0(key) + i) % t->nslots) * t->words;
}

static uint64_t
ready_key(uint64_t *s)
{
	uint64_t k = state_get(s);
	int i;

	for (i = 0; k == BUSY && i < BUSY_TRIES; i++)
		k = state_get(s);
	return k;
}

uint64_t *
state_table_find(const struct state_table *t, const uint64_t key[2])
{
	uint64_t *s, k;
	size_t i;

	for (i = 0; i < t->probe; i++) {
		s = slot_at(t, key, i);
		if ((k = ready_key(s)) == 0)
			return NULL;
		if (k == key0(key) && state_get(&s[1]) == key[1])
			return s + STATE_KEY_WORDS;
	}
	return NULL;
}

static uint64_t *
publish(const struct state_table *t, uint64_t *s, const uint64_t key[2],
    void (*init)(uint64_t *, void *), void *arg)
{
	size_t i;

	for (i = STATE_KEY_WORDS; i < t->words; i++)
		state_set(&s[i], 0);
	state_set(&s[1], key[1]);
	if (init != NULL)
		init(s + STATE_KEY_WORDS, arg);
	state_set(&s[0], key0(key));
	return s + STATE_KEY_WORDS;
}

uint64_t *
state_table_claim(const struct state_table *t, const uint64_t key[2],
    int (*expired)(const uint64_t *, void *),
    void (*init)(uint64_t *, void *), void *arg)
{
	uint64_t *s, *reuse = NULL, k, reuse_k = 0;
	size_t i = 0;

	while (i < t->probe) {
		s = slot_at(t, key, i);
		k = ready_key(s);
		if (k == key0(key) && state_get(&s[1]) == key[1])
			return s + STATE_KEY_WORDS;
		if (k == 0) {
			if (state_cas(&s[0], 0, BUSY))
				return publish(t, s, key, init, arg);
			continue; /* taken just now: look at it again */
		}
		if (k != BUSY && reuse == NULL && (k == TOMB || (expired != NULL &&
		    expired(s + STATE_KEY_WORDS, arg)))) {
			reuse = s;
			reuse_k = k;
		}
		i++;
	}
	if (reuse != NULL && state_cas(&reuse[0], reuse_k, BUSY))
		return publish(t, reuse, key, init, arg);
	return NULL;
}

size_t
state_table_forget(const struct state_table *t, const uint64_t key[2])
{
	uint64_t *s, k;
	size_t i, n = 0;

	for (i = 0; i < t->probe; i++) {
		s = slot_at(t, key, i);
		if ((k = ready_key(s)) == 0)
			break;
		/* every slot of the key: two claims may have given it two */
		if (k == key0(key) && state_get(&s[1]) == key[1] &&
		    state_cas(&s[0], k, TOMB))
			n++;
	}
	return n;
}

const uint64_t *
state_table_slot(const struct state_table *t, size_t i, const uint64_t **values)
{
	uint64_t *s = t->slot + i * t->words;
	uint64_t k = state_get(s);

	*values = s + STATE_KEY_WORDS;
	return k == 0 || k == BUSY || k == TOMB ? NULL : s;
}

int
state_file_find(const char *dir, const char *name, const char magic[8],
    const struct state_table *t, const uint64_t key[2], uint64_t *values,
    char *why, size_t n)
{
	size_t nwords = t->nslots * t->words, i, idx;
	struct state_header h;
	uint64_t s[64];
	int fd, rc;

	if (t->words > ARRAY_LEN(s) || t->words <= STATE_KEY_WORDS) {
		snprintf(why, n, "slots of %zu words", t->words);
		return -1;
	}
	if ((rc = open_read(dir, name, size_of(nwords), &fd, why, n)) != 1)
		return rc;
	rc = -1;
	if (read_at(fd, &h, sizeof(h), 0) != 0) {
		snprintf(why, n, "%s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	if (check_header(&h, magic, nwords) != 0) {
		snprintf(why, n, "%s/%s: not a state file of this version", dir, name);
		goto out;
	}
	for (i = 0, rc = 0; i < t->probe && rc == 0; i++) {
		idx = (key0(key) + i) % t->nslots;
		if (read_at(fd, s, t->words * sizeof(*s), (off_t)(sizeof(h) +
		    idx * t->words * sizeof(*s))) != 0) {
			snprintf(why, n, "%s/%s: %s", dir, name, strerror(errno));
			rc = -1;
		} else if (s[0] == 0) {
			break;
		} else if (s[0] == key0(key) && s[1] == key[1]) {
			memcpy(values, s + STATE_KEY_WORDS, (t->words - STATE_KEY_WORDS) *
			    sizeof(*s));
			rc = 1;
		}
	}
out:
	close(fd);
	return rc;
}

static uint64_t
fnv1a(const unsigned char *p, size_t n, uint64_t h)
{
	while (n-- > 0) {
		h ^= *p++;
		h *= 1099511628211ull;
	}
	return h;
}

void
state_digest(const void *p, size_t n, uint64_t key[2])
{
	key[0] = fnv1a(p, n, 14695981039346656037ull);
	key[1] = fnv1a(p, n, key[0] ^ 0x9e3779b97f4a7c15ull);
}

struct first_seen {
	int64_t now;
	int64_t ttl;
};

static int
too_old(uint64_t seen, const struct first_seen *f)
{
	/* a time in the future is as good as none */
	return seen == 0 || seen > (uint64_t)f->now ||
	    (uint64_t)f->now - seen > (uint64_t)f->ttl;
}

static int
first_seen_expired(const uint64_t *v, void *arg)
{
	return too_old(state_get(&v[0]), arg);
}

static void
first_seen_init(uint64_t *v, void *arg)
{
	const struct first_seen *f = arg;

	state_set(&v[0], (uint64_t)f->now);
}

int64_t
state_first_seen(const struct state_table *t, const uint64_t key[2],
    int64_t now, int64_t ttl)
{
	struct first_seen f = { now, ttl };
	uint64_t *v, seen;

	if (now <= 0 || ttl < 0 || t->words < STATE_FIRST_SEEN_WORDS)
		return 0;
	if ((v = state_table_claim(t, key, first_seen_expired, first_seen_init,
	    &f)) == NULL)
		return 0;
	seen = state_get(&v[0]);
	if (!too_old(seen, &f))
		return (int64_t)seen;
	if (state_cas(&v[0], seen, (uint64_t)now))
		return now;
	seen = state_get(&v[0]); /* another process renewed it */
	return too_old(seen, &f) ? now : (int64_t)seen;
}
