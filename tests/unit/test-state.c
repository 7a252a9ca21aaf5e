/* src/state.c: the directory and file checks, the atomic words, the
 * generic table and the "first seen" table, and what one update costs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "tap.h"

static const char MAGIC[8] = "TESTSTAT";
#define NW 16

static char dir[256];

static void
path(char *dst, size_t n, const char *name)
{
	snprintf(dst, n, "%s/%s", dir, name);
}

static int
dirfd_of(void)
{
	char why[256];
	int fd;

	return state_dir_open(dir, &fd, why, sizeof(why)) == STATE_DIR_OK ? fd : -1;
}

static void
test_dir(void)
{
	char why[256], p[300];
	int fd;

	is_int(state_dir_open(dir, &fd, why, sizeof(why)), STATE_DIR_OK, "own dir, 0700: used");
	close(fd);
	chmod(dir, 0777);
	is_int(state_dir_open(dir, &fd, why, sizeof(why)), STATE_DIR_UNSAFE, "mode 0777: not used");
	ok(strstr(why, "0777") != NULL, "... and why says the mode: %s", why);
	chmod(dir, 0720);
	is_int(state_dir_open(dir, &fd, why, sizeof(why)), STATE_DIR_UNSAFE, "group-writable: not used");
	chmod(dir, 0700);
	path(p, sizeof(p), "absent");
	is_int(state_dir_open(p, &fd, why, sizeof(why)), STATE_DIR_NONE, "absent: off, nothing to say");
	is_str(why, "", "... no reason given");
	is_int(state_dir_open("", &fd, why, sizeof(why)), STATE_DIR_NONE, "empty: off");
	path(p, sizeof(p), "link");
	ok(symlink(dir, p) == 0, "a symbolic link to the directory");
	is_int(state_dir_open(p, &fd, why, sizeof(why)), STATE_DIR_ERROR, "a link to it: error");
	ok(strstr(why, "symbolic link") != NULL, "... that says so: %s", why);
	strcat(p, "/");
	is_int(state_dir_open(p, &fd, why, sizeof(why)), STATE_DIR_ERROR, "... with a trailing slash too");
	is_int(state_dir_open("/dev/null", &fd, why, sizeof(why)), STATE_DIR_ERROR, "a file: error");
	is_int(fd, -1, "... and no fd");
	if (geteuid() == 0) {
		path(p, sizeof(p), "theirs");
		mkdir(p, 0755);
		if (chown(p, 65534, 65534) != 0)
			diag("chown: %s", strerror(errno));
		is_int(state_dir_open(p, &fd, why, sizeof(why)), STATE_DIR_UNSAFE,
		    "owned by another user: not used");
		ok(strstr(why, "not by") != NULL, "... and why says the owner: %s", why);
	} else {
		ok(1, "owned by another user: needs root # SKIP");
		ok(1, "... # SKIP");
	}
}

static void
test_map(int d)
{
	struct state_map a, b;
	struct stat st;
	char why[256] = "", p[300];
	int fd;

	ok(state_map_open(&a, d, "m.db", MAGIC, NW, why, sizeof(why)) == 0, "created: %s", why);
	path(p, sizeof(p), "m.db");
	ok(stat(p, &st) == 0 && st.st_size == 32 + NW * 8, "exact size");
	ok(state_map_open(&b, d, "m.db", MAGIC, NW, why, sizeof(why)) == 0, "opened again");
	state_add(&a.w[3], 7);
	is_int((long long)state_get(&b.w[3]), 7, "one file: a change in one map is seen in the other");
	state_map_close(&b);
	ok(state_map_open(&b, d, "m.db", "OTHERMAG", NW, why, sizeof(why)) != 0, "another magic: not used");
	ok(state_map_open(&b, d, "m.db", MAGIC, NW + 1, why, sizeof(why)) != 0, "another size: not used");
	state_map_close(&a);

	/* a symbolic link, to a file or to nothing, is never followed */
	path(p, sizeof(p), "victim");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	ok(symlinkat(p, d, "l.db") == 0 && symlinkat("/nonexistent-target", d, "n.db") == 0,
	    "symbolic links planted");
	ok(state_map_open(&a, d, "l.db", MAGIC, NW, why, sizeof(why)) != 0, "symlink to a file: not used");
	ok(strstr(why, "symbolic link") != NULL, "... why: %s", why);
	ok(stat(p, &st) == 0 && st.st_size == 0, "... and the file it points to is untouched");
	ok(state_map_open(&a, d, "n.db", MAGIC, NW, why, sizeof(why)) != 0, "dangling symlink: not used");
	ok(access("/nonexistent-target", F_OK) != 0, "... and nothing created where it points");

	path(p, sizeof(p), "fifo.db");
	mkfifo(p, 0600);
	alarm(5);
	ok(state_map_open(&a, d, "fifo.db", MAGIC, NW, why, sizeof(why)) != 0, "a FIFO: not used, no wait");
	alarm(0);
	path(p, sizeof(p), "big.db");
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	ok(ftruncate(fd, (off_t)1 << 40) == 0, "a sparse 1 TB file");
	close(fd);
	ok(state_map_open(&a, d, "big.db", MAGIC, NW, why, sizeof(why)) != 0, "... not used: %s", why);
	ok(state_map_open(&a, d, "wide.db", MAGIC, NW, why, sizeof(why)) == 0, "wide.db made");
	state_map_close(&a);
	path(p, sizeof(p), "wide.db");
	chmod(p, 0666);
	ok(state_map_open(&a, d, "wide.db", MAGIC, NW, why, sizeof(why)) != 0,
	    "a file writable by others: not used: %s", why);
}

static void
test_read(int d)
{
	uint64_t w[NW];
	struct state_map m;
	char why[256], sub[300];

	path(sub, sizeof(sub), "absent");
	is_int(state_file_read(sub, "m.db", MAGIC, w, NW, why, sizeof(why)), 0, "read: absent dir is 0");
	is_int(state_file_read(dir, "x.db", MAGIC, w, NW, why, sizeof(why)), 0, "read: absent file is 0");
	is_int(state_file_read(dir, "m.db", MAGIC, w, NW, why, sizeof(why)), 1, "read: present");
	is_int((long long)w[3], 7, "read: the word");
	is_int(state_file_read(dir, "l.db", MAGIC, w, NW, why, sizeof(why)), -1, "read: a symlink is refused");
	ok(strstr(why, "symbolic link") != NULL, "... and says so: %s", why);
	is_int(state_file_read(dir, "big.db", MAGIC, w, NW, why, sizeof(why)), -1, "read: wrong size refused");
	is_int(state_file_read(dir, "m.db", "OTHERMAG", w, NW, why, sizeof(why)), -1, "read: wrong magic refused");
	ok(state_map_open(&m, d, "m.db", MAGIC, NW, why, sizeof(why)) == 0, "map for saturation");
	state_set(&m.w[0], UINT64_MAX - 2);
	state_add(&m.w[0], 1);
	is_int((long long)(UINT64_MAX - state_get(&m.w[0])), 1, "add below the top");
	state_add(&m.w[0], 9223372036854775807ull);
	ok(state_get(&m.w[0]) == UINT64_MAX, "add saturates at UINT64_MAX");
	state_add(&m.w[0], UINT64_MAX);
	ok(state_get(&m.w[0]) == UINT64_MAX, "... and stays there");
	state_map_close(&m);
}

/* 8 processes, 100,000 additions each, on one file: none lost. */
static void
test_concurrent(int d)
{
	struct state_map m;
	char why[256];
	pid_t pid[8];
	int i, j, status, failed = 0;

	for (i = 0; i < 8; i++) {
		if ((pid[i] = fork()) == 0) {
			if (state_map_open(&m, d, "c.db", MAGIC, NW, why, sizeof(why)) != 0)
				_exit(1);
			for (j = 0; j < 100000; j++)
				state_add(&m.w[1], 1);
			_exit(0);
		}
	}
	for (i = 0; i < 8; i++)
		if (waitpid(pid[i], &status, 0) != pid[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	is_int(failed, 0, "8 processes created or opened the file");
	ok(state_map_open(&m, d, "c.db", MAGIC, NW, why, sizeof(why)) == 0, "reopened");
	is_int((long long)state_get(&m.w[1]), 800000, "8 x 100,000 additions, none lost");
	state_map_close(&m);
}

static void
key_n(uint64_t key[2], unsigned n)
{
	char s[32];

	snprintf(s, sizeof(s), "key-%u", n);
	state_digest(s, strlen(s), key);
}

static void
test_table(void)
{
	uint64_t w[8 * 3] = { 0 }, key[2], *v, *v2;
	struct state_table t;
	unsigned i, claimed = 0;

	state_table_init(&t, w, 8, 3, 8);
	key_n(key, 1);
	ok(state_table_find(&t, key) == NULL, "table: absent");
	v = state_table_claim(&t, key, NULL, NULL, NULL);
	ok(v != NULL, "table: claimed");
	ok(state_table_find(&t, key) == v, "table: found where claimed");
	ok(state_table_claim(&t, key, NULL, NULL, NULL) == v, "table: claimed again is the same slot");
	key_n(key, 2);
	v2 = state_table_claim(&t, key, NULL, NULL, NULL);
	ok(v2 != NULL && v2 != v, "table: another key, another slot");
	for (i = 3; i < 20; i++) {
		key_n(key, i);
		claimed += state_table_claim(&t, key, NULL, NULL, NULL) != NULL;
	}
	is_int(claimed, 6, "table: 8 slots hold 8 keys, then it is full");
	key_n(key, 2);
	ok(state_table_find(&t, key) == v2, "table: full, still found");
}

static void
test_first_seen(void)
{
	uint64_t w[4 * STATE_FIRST_SEEN_WORDS] = { 0 }, key[2];
	struct state_table t;
	int64_t day = 86400, now = 1800000000;
	unsigned i;
	int full = 0;

	state_table_init(&t, w, 4, STATE_FIRST_SEEN_WORDS, 4);
	key_n(key, 1);
	is_int(state_first_seen(&t, key, now, 3 * day), now, "first seen: new is now");
	is_int(state_first_seen(&t, key, now + 100, 3 * day), now, "first seen: later, still the first time");
	is_int(state_first_seen(&t, key, now + 4 * day, 3 * day), now + 4 * day,
	    "first seen: after the ttl it starts again");
	key_n(key, 2);
	is_int(state_first_seen(&t, key, now + 4 * day, 3 * day), now + 4 * day, "first seen: another key");
	for (i = 3; i < 10; i++) {
		key_n(key, i);
		full += state_first_seen(&t, key, now + 4 * day, 3 * day) == 0;
	}
	is_int(full, 5, "first seen: 4 slots, then 0 (full: no answer)");
	key_n(key, 50);
	is_int(state_first_seen(&t, key, now + 8 * day, 3 * day), now + 8 * day,
	    "first seen: a full table reuses an expired slot");
	memset(w, 0, sizeof(w));
	key_n(key, 1);
	state_first_seen(&t, key, now, 3 * day);
	state_table_find(&t, key)[0] = UINT64_MAX; /* garbage: a time in the future */
	is_int(state_first_seen(&t, key, now + 10, 3 * day), now + 10,
	    "first seen: a time in the future is taken for none");
	is_int(state_first_seen(&t, key, now, -1), 0, "first seen: a negative ttl is no answer");
}

/* Keys that all start at slot 0 of a 4-slot table: a probe sequence. */
static void
key_home0(uint64_t key[2], unsigned n)
{
	key[0] = 4 * (uint64_t)n + 8;
	key[1] = n;
}

static void
test_forget(void)
{
	uint64_t w[4 * 3] = { 0 }, a[2], b[2], c[2], d[2], e[2], *vc;
	const uint64_t *values;
	struct state_table t;
	size_t i, used = 0;

	state_table_init(&t, w, 4, 3, 4);
	key_home0(a, 1);
	key_home0(b, 2);
	key_home0(c, 3);
	key_home0(d, 4);
	key_home0(e, 5);
	state_table_claim(&t, a, NULL, NULL, NULL);
	state_table_claim(&t, b, NULL, NULL, NULL);
	vc = state_table_claim(&t, c, NULL, NULL, NULL);
	state_table_claim(&t, d, NULL, NULL, NULL);
	ok(state_table_claim(&t, e, NULL, NULL, NULL) == NULL, "forget: a full table claims nothing");
	is_int((long long)state_table_forget(&t, b), 1, "forget: one slot freed");
	ok(state_table_find(&t, b) == NULL, "forget: the key is gone");
	ok(state_table_find(&t, c) == vc, "forget: a key after it in the probe sequence is still found");
	ok(state_table_find(&t, d) != NULL, "forget: ... and the last one");
	for (i = 0; i < 4; i++)
		used += state_table_slot(&t, i, &values) != NULL;
	is_int((long long)used, 3, "forget: the freed slot is not listed");
	is_int((long long)state_table_forget(&t, b), 0, "forget: twice frees nothing more");
	is_int((long long)state_table_forget(&t, e), 0, "forget: an absent key frees nothing");
	ok(state_table_claim(&t, e, NULL, NULL, NULL) != NULL, "forget: the freed slot takes a new key");
	ok(state_table_find(&t, e) != NULL && state_table_find(&t, c) == vc,
	    "forget: the new key and the old ones are found");
	ok(state_table_claim(&t, b, NULL, NULL, NULL) == NULL, "forget: full again");

	/* two claims of one key at the same moment may give it two slots */
	memset(w, 0, sizeof(w));
	state_table_claim(&t, a, NULL, NULL, NULL);
	memcpy(&w[3], &w[0], 3 * sizeof(*w));
	is_int((long long)state_table_forget(&t, a), 2, "forget: every slot of a key");
	ok(state_table_find(&t, a) == NULL, "forget: ... none is left");
}

/* A full first-seen table gives no answer; a forgotten delivery makes room. */
static void
test_first_seen_forget(void)
{
	uint64_t w[4 * STATE_FIRST_SEEN_WORDS] = { 0 }, key[2];
	struct state_table t;
	int64_t now = 1800000000;
	unsigned i;

	state_table_init(&t, w, 4, STATE_FIRST_SEEN_WORDS, 4);
	for (i = 1; i <= 4; i++) {
		key_n(key, i);
		state_first_seen(&t, key, now, 86400);
	}
	key_n(key, 9);
	is_int(state_first_seen(&t, key, now + 10, 86400), 0, "first seen: full");
	key_n(key, 2);
	state_table_forget(&t, key);
	key_n(key, 9);
	is_int(state_first_seen(&t, key, now + 10, 86400), now + 10,
	    "first seen: a delivered key forgotten, a new one fits");
	key_n(key, 2);
	is_int(state_first_seen(&t, key, now + 20, 86400), 0,
	    "first seen: the forgotten one starts again only when there is room");
	key_n(key, 3);
	is_int(state_first_seen(&t, key, now + 30, 86400), now, "first seen: the others kept theirs");
}

/* --check's lookup reads the probed slots of the file, nothing else. */
static void
test_file_find(int d)
{
	struct state_table t, ft;
	struct state_map m;
	uint64_t a[2], b[2], c[2], v[1], *va;
	char why[256];

	ok(state_map_open(&m, d, "find.db", MAGIC, 4 * 3, why, sizeof(why)) == 0, "find: a table file");
	state_table_init(&t, m.w, 4, 3, 4);
	state_table_init(&ft, NULL, 4, 3, 4);
	key_home0(a, 1);
	key_home0(b, 2);
	key_home0(c, 3);
	va = state_table_claim(&t, a, NULL, NULL, NULL);
	state_set(va, 1234);
	state_set(state_table_claim(&t, b, NULL, NULL, NULL), 5678);
	state_table_forget(&t, a);
	state_map_close(&m);
	is_int(state_file_find(dir, "find.db", MAGIC, &ft, b, v, why, sizeof(why)), 1,
	    "find: a key behind a forgotten one");
	is_int((long long)v[0], 5678, "find: ... its value");
	is_int(state_file_find(dir, "find.db", MAGIC, &ft, a, v, why, sizeof(why)), 0, "find: forgotten: absent");
	is_int(state_file_find(dir, "find.db", MAGIC, &ft, c, v, why, sizeof(why)), 0, "find: never there: absent");
	is_int(state_file_find(dir, "none.db", MAGIC, &ft, b, v, why, sizeof(why)), 0, "find: no file: absent");
	is_int(state_file_find(dir, "find.db", "OTHERMAG", &ft, b, v, why, sizeof(why)), -1,
	    "find: another magic: refused");
	state_table_init(&ft, NULL, 8, 3, 4);
	is_int(state_file_find(dir, "find.db", MAGIC, &ft, b, v, why, sizeof(why)), -1,
	    "find: another size: refused");
}

static const uint64_t *guard_word;
static uint64_t guard_seen;

static void
read_word(void *arg)
{
	(void)arg;
	guard_seen = state_get(guard_word);
}

/* A map whose file another process shortened: SIGBUS inside the guard
 * ends the guarded work, not the process. */
static void
test_guard(int d)
{
	struct sigaction before, after;
	struct state_map m;
	char why[256], p[300];

	ok(state_map_open(&m, d, "g.db", MAGIC, 1024, why, sizeof(why)) == 0, "guard: mapped");
	state_set(&m.w[1000], 42);
	guard_word = &m.w[1000];
	sigaction(SIGBUS, NULL, &before);
	is_int(state_guard(read_word, NULL), 0, "guard: an intact map");
	is_int((long long)guard_seen, 42, "guard: ... its word read");
	path(p, sizeof(p), "g.db");
	ok(truncate(p, 0) == 0, "guard: the file shortened under the map");
	guard_seen = 0;
	is_int(state_guard(read_word, NULL), -1, "guard: the SIGBUS is caught: -1");
	is_int(state_guard(read_word, NULL), -1, "guard: ... a second time too");
	sigaction(SIGBUS, NULL, &after);
	ok(after.sa_handler == before.sa_handler, "guard: SIGBUS's handler restored");
	state_map_close(&m);
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* No bound is asserted on a shared machine; the numbers go to the log. */
static void
test_cost(int d)
{
	struct state_map m;
	char why[256];
	double t0, t1, t2;
	int i, n = 2000, fails = 0;

	t0 = seconds();
	for (i = 0; i < n; i++) {
		if (state_map_open(&m, d, "cost.db", MAGIC, 64, why, sizeof(why)) != 0) {
			fails++;
			continue;
		}
		state_add(&m.w[0], 1);
		state_map_close(&m);
	}
	t1 = seconds();
	state_map_open(&m, d, "cost.db", MAGIC, 64, why, sizeof(why));
	for (i = 0; i < 1000000; i++)
		state_add(&m.w[1], 1);
	t2 = seconds();
	is_int(fails, 0, "cost: every open worked");
	is_int((long long)state_get(&m.w[0]), n, "cost: every update counted");
	diag("one update with open, map and unmap: %.1f us; one atomic addition: %.1f ns",
	    (t1 - t0) / n * 1e6, (t2 - t1) / 1e6 * 1e9);
	state_map_close(&m);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	int d;

	snprintf(dir, sizeof(dir), "%s/state.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_dir();
	d = dirfd_of();
	ok(d >= 0, "the test directory is usable");
	test_map(d);
	test_read(d);
	test_concurrent(d);
	test_table();
	test_first_seen();
	test_forget();
	test_first_seen_forget();
	test_guard(d);
	test_file_find(d);
	test_cost(d);
	close(d);
	return done_testing();
}
