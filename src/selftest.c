#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "age.h"
#include "deliver.h"
#include "http.h"
#include "msg.h"
#include "spot.h"
#include "state.h"
#include "stats.h"
#include "upstream.h"
#include "util.h"

static int
report(FILE *fp, int ok, const char *what, const char *url, const char *detail,
    int64_t ms)
{
	if (ms >= 0)
		fprintf(fp, "%s %s %s: %s (%lld ms)\n", ok ? "ok  " : "FAIL", what,
		    url, detail, (long long)ms);
	else
		fprintf(fp, "%s %s %s: %s\n", ok ? "ok  " : "FAIL", what, url, detail);
	return !ok;
}

/* Rspamd's normal worker answers GET /ping with "pong". */
static int
probe_rspamd(const struct config *cfg, const char *url, FILE *fp)
{
	struct http_req r;
	char err[256];
	int64_t t0 = now_ms();
	int ok;

	http_req_init(&r, url, "/ping", (long)cfg->connect_timeout_ms,
	    (long)cfg->timeout_ms, NULL);
	if (http_perform(&r, (long)cfg->timeout_ms) != 0)
		snprintf(err, sizeof(err), "no answer within %u ms", cfg->timeout_ms);
	else if (r.result == CURLE_OK && r.status == 200)
		snprintf(err, sizeof(err), "answers");
	else
		http_req_error(&r, err, sizeof(err));
	ok = r.result == CURLE_OK && r.status == 200;
	http_req_free(&r);
	return report(fp, ok, "rspamd", url, err, now_ms() - t0);
}

/* A poll for a job that does not exist: 404 means the server is there and
 * took our key (docs/spot-api.md), 401/403 that it refused the key. */
static int
probe_api(const struct config *cfg, const char *url, FILE *fp)
{
	struct http_req r;
	char err[256];
	int64_t t0 = now_ms();
	int ok = 0;

	spot_poll_request(&r, url, cfg, NULL, "spot-deliver-selftest",
	    (long)cfg->analysis_timeout_ms);
	if (http_perform(&r, (long)cfg->analysis_timeout_ms) != 0) {
		snprintf(err, sizeof(err), "no answer within %u ms",
		    cfg->analysis_timeout_ms);
	} else if (r.result != CURLE_OK) {
		http_req_error(&r, err, sizeof(err));
	} else if (r.status == 401 || r.status == 403) {
		snprintf(err, sizeof(err), "key refused (HTTP %ld)", r.status);
	} else if (r.status == 404 || r.status / 100 == 2) {
		snprintf(err, sizeof(err), "key accepted");
		ok = 1;
	} else {
		http_req_error(&r, err, sizeof(err));
	}
	http_req_free(&r);
	return report(fp, ok, "api", url, err, now_ms() - t0);
}

static int
found_executable(const char *file, void *arg)
{
	if (access(file, X_OK) != 0)
		return 0;
	snprintf(arg, 4096, "%s", file);
	return 1;
}

static int
probe_lda(char *const *lda, FILE *fp)
{
	char file[4096];

	if (lda == NULL)
		return report(fp, 1, "lda", "-", "none: filter mode, the message "
		    "goes to stdout", -1);
	if (lda_path_each(lda[0], found_executable, file))
		return report(fp, 1, "lda", file, "executable", -1);
	if (strchr(lda[0], '/') != NULL)
		return report(fp, 0, "lda", lda[0], strerror(errno), -1);
	return report(fp, 0, "lda", lda[0], "not found in PATH", -1);
}

static void
install_hint(const struct config *cfg, FILE *fp)
{
	struct passwd *pw = getpwuid(geteuid());

	fprintf(fp, "     not used: no dead-host memory, no counters; as root: "
	    "install -d -o %s -m 0755 %s (or run as its owner)\n",
	    pw != NULL ? pw->pw_name : "USER", cfg->state_dir);
}

void
selftest_state_dir_warning(const struct config *cfg, FILE *fp)
{
	char why[512];
	int fd;

	switch (state_dir_open(cfg->state_dir, &fd, why, sizeof(why))) {
	case STATE_DIR_OK:
		close(fd);
		return;
	case STATE_DIR_NONE:
		return;
	case STATE_DIR_UNSAFE:
		fprintf(fp, "spot-deliver: warning: state_dir %s: %s\n",
		    cfg->state_dir, why);
		install_hint(cfg, fp);
		return;
	case STATE_DIR_ERROR:
		fprintf(fp, "spot-deliver: warning: state_dir %s: %s: not used "
		    "(no dead-host memory, no counters)\n", cfg->state_dir, why);
		return;
	}
}

/* The three files of state_dir opened, or created, as this user, through
 * the functions a delivery uses. */
static int
probe_state_files(int fd, char *why, size_t n)
{
	struct upstream_memory um;

	if (stats_probe(fd, why, n) != 0 || age_probe(fd, why, n) != 0 ||
	    upstream_memory_open(&um, fd, why, n) != 0)
		return -1;
	upstream_memory_close(&um);
	return 0;
}

/* state_dir the way a delivery sees it: the directory's owner and mode,
 * then its files. */
static int
probe_state_dir(const struct config *cfg, FILE *fp)
{
	char why[512];
	int fd, rc;

	switch (state_dir_open(cfg->state_dir, &fd, why, sizeof(why))) {
	case STATE_DIR_NONE:
		fprintf(fp, "note state_dir %s: absent or empty (no shared dead-host "
		    "memory, no counters; delivery is not affected)\n",
		    *cfg->state_dir != '\0' ? cfg->state_dir : "-");
		return 0;
	case STATE_DIR_UNSAFE:
		report(fp, 0, "state_dir", cfg->state_dir, why, -1);
		install_hint(cfg, fp);
		return 1;
	case STATE_DIR_ERROR:
		return report(fp, 0, "state_dir", cfg->state_dir, why, -1);
	case STATE_DIR_OK:
		break;
	}
	rc = probe_state_files(fd, why, sizeof(why));
	close(fd);
	if (rc != 0)
		return report(fp, 0, "state_dir", cfg->state_dir, why, -1);
	return report(fp, 1, "state_dir", cfg->state_dir, "owner and mode right, "
	    "counters.db, deferrals2.db and upstreams.db usable", -1);
}

/* A spool file made where a large message's would be (and unlinked from
 * the start, as a delivery's). */
static int
probe_spool(const struct config *cfg, FILE *fp)
{
	const char *dir = cfg->spool_dir;
	int fd;

	if (*dir == '\0' && ((dir = getenv("TMPDIR")) == NULL || *dir == '\0'))
		dir = "/tmp";
	if ((fd = spool_open(cfg->spool_dir)) < 0)
		return report(fp, 0, "spool_dir", dir, strerror(errno), -1);
	close(fd);
	return report(fp, 1, "spool_dir", dir, "a spool file can be created", -1);
}

static int
probe_readable(const char *what, const char *file, FILE *fp)
{
	char c;
	int fd, ok;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return report(fp, 0, what, file, strerror(errno), -1);
	ok = read(fd, &c, 1) >= 0;
	explicit_bzero(&c, sizeof(c));
	close(fd);
	return report(fp, ok, what, file, ok ? "readable" : strerror(errno), -1);
}

int
selftest_run(const struct config *cfg, char *const *lda, FILE *fp)
{
	struct upstream_list l;
	size_t i;
	int failed = 0;

	http_global_init(config_uses_https(cfg));
	fprintf(fp, "ok   config: mode %s, on_timeout %s\n",
	    cfg->mode == MODE_BLOCKING ? "blocking" : "tag-only",
	    cfg->on_timeout == ON_TIMEOUT_ALLOW ? "allow" : "block");
	if (cfg->rspamd) {
		upstream_list_parse(cfg->rspamd_url, &l);
		for (i = 0; i < l.n; i++)
			failed += probe_rspamd(cfg, l.url[i], fp);
		upstream_list_free(&l);
	}
	upstream_list_parse(cfg->api_url, &l);
	for (i = 0; i < l.n; i++)
		failed += probe_api(cfg, l.url[i], fp);
	upstream_list_free(&l);
	if (!cfg->handoff)
		failed += probe_lda(lda, fp);
	failed += probe_state_dir(cfg, fp);
	failed += probe_spool(cfg, fp);
	if (*cfg->api_key_file != '\0')
		failed += probe_readable("api_key_file", cfg->api_key_file, fp);
	if (*cfg->api_ca_file != '\0')
		failed += probe_readable("api_ca_file", cfg->api_ca_file, fp);
	fprintf(fp, "%s\n", failed ? "selftest FAILED" : "selftest passed");
	return failed;
}
