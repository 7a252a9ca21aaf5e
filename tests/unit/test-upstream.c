/* src/upstream.c: the URL the log shows, and the health word's
 * transitions, each logged once. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"
#include "upstream.h"

static void
test_url_shown(void)
{
	static const char *const cases[][2] = {
		{ "http://user:pw@10.0.0.5:11333", "http://10.0.0.5:11333" },
		{ "https://a@b/x@y", "https://b/x@y" },
		{ "http://h/p@q", "http://h/p@q" },
		{ "http://h?x@y", "http://h?x@y" },
		{ "unix:/run/rspamd.sock", "unix:/run/rspamd.sock" },
	};
	char got[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		upstream_url_shown(cases[i][0], got, sizeof(got));
		is_str(got, cases[i][1], "shown: %s", cases[i][0]);
	}
}

/* What one upstream_record() of one event logs, read back from stderr. */
static void
record_one(const struct config *cfg, struct upstream_memory *m, int ok,
    int64_t now, int log_fd, char *out, size_t n)
{
	struct upstream_events ev = { .n = 0 };
	ssize_t got;

	upstream_event_of(&ev, "rspamd", "http://127.0.0.1:9/", ok,
	    ok ? "" : "connect: Connection refused", 0);
	if (ftruncate(log_fd, 0) != 0 || lseek(log_fd, 0, SEEK_SET) != 0)
		abort();
	upstream_record(cfg, m, &ev, now);
	fflush(stderr);
	got = pread(log_fd, out, n - 1, 0);
	out[got > 0 ? got : 0] = '\0';
}

static void
test_health(const char *dir)
{
	struct upstream_memory m;
	struct config cfg;
	char why[256] = "", out[1024], path[300];
	int d, log_fd, saved, i, first = 0, dead = 0;

	config_init(&cfg);
	cfg.max_errors = 3;
	cfg.error_time = 60;
	cfg.dead_time = 10;
	d = open(dir, O_RDONLY | O_DIRECTORY);
	ok(upstream_memory_open(&m, d, why, sizeof(why)) == 0, "memory: %s", why);
	snprintf(path, sizeof(path), "%s/log", dir);
	log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	fflush(stderr);
	dup2(log_fd, 2);
	for (i = 0; i < 5; i++) {
		record_one(&cfg, &m, 0, 1000 + i, log_fd, out, sizeof(out));
		first += strstr(out, ": first failure") != NULL;
		dead += strstr(out, ": marked dead for 10 s after 3 errors") != NULL;
	}
	record_one(&cfg, &m, 0, 1020, log_fd, out, sizeof(out));
	dead += strstr(out, "marked dead") != NULL;
	record_one(&cfg, &m, 0, 1021, log_fd, out, sizeof(out));
	record_one(&cfg, &m, 0, 1022, log_fd, out, sizeof(out));
	dead += strstr(out, "marked dead") != NULL;
	record_one(&cfg, &m, 1, 1030, log_fd, out, sizeof(out));
	dup2(saved, 2);
	is_str(out, "spot-deliver: rspamd http://127.0.0.1:9/: alive again\n",
	    "an answer after dead: alive again");
	dup2(log_fd, 2);
	record_one(&cfg, &m, 1, 1031, log_fd, out, sizeof(out));
	dup2(saved, 2);
	is_str(out, "", "the next answer: nothing");
	is_int(first, 1, "five failures: one first-failure line");
	is_int(dead, 1, "dead again after dead_time without an answer: no new line");
	dup2(log_fd, 2);
	record_one(&cfg, &m, 0, 1040, log_fd, out, sizeof(out));
	dup2(saved, 2);
	ok(strstr(out, ": first failure\n") != NULL,
	    "a failure after it was alive: first failure again");
	close(saved);
	close(log_fd);
	unlink(path);
	upstream_memory_close(&m);
	unlinkat(d, "upstreams.db", 0);
	config_free(&cfg);
	close(d);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/upstream.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_url_shown();
	test_health(dir);
	rmdir(dir);
	return done_testing();
}
