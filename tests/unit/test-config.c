/* config.c: defaults, config_set for every type, the file and environment
 * loaders, precedence, config_finish (API key) and config_dump. Run from the
 * repository root (fixtures at tests/fixtures/config/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "tap.h"

#define FIX "tests/fixtures/config/"

static char tmpdir[4096];

static void
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/test-config.XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", tmpdir, strerror(errno));
		exit(1);
	}
}

/* Writes a file in tmpdir with the given mode; its path goes to path. */
static const char *
write_file(char *path, size_t n, const char *name, const char *text, mode_t mode)
{
	FILE *fp;

	snprintf(path, n, "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	if (chmod(path, mode) != 0) {
		printf("Bail out! chmod %s\n", path);
		exit(1);
	}
	return path;
}

static void
remove_tmpdir(void)
{
	static const char *const names[] = { "key600", "key644", "keyspace",
		"keyempty", "rules.conf", "max-line.conf", "over-line.conf",
		"last-line.conf", "ca.pem", "key620", "key604", "fifo", NULL };
	char path[4200];
	int i;

	for (i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

static void
test_defaults(void)
{
	struct config c;

	config_init(&c);
	is_int(c.rspamd, 1, "default rspamd = yes");
	is_str(c.rspamd_url, "http://127.0.0.1:11333", "default rspamd_url");
	is_str(c.rspamd_password, "", "default rspamd_password is empty");
	is_int(c.timeout_ms, 5000, "default timeout_ms");
	is_int(c.connect_timeout_ms, 1000, "default connect_timeout_ms");
	is_int(c.mode, MODE_BLOCKING, "default mode = blocking");
	is_int(c.on_timeout, ON_TIMEOUT_ALLOW, "default on_timeout = allow");
	is_str(c.api_url, "", "default api_url is empty (API off)");
	is_str(c.api_key_file, "", "default api_key_file is empty");
	is_int(c.analysis_timeout_ms, 10000, "default analysis_timeout_ms");
	is_int(c.poll_interval_ms, 500, "default poll_interval_ms");
	is_int(c.phishing_action, PHISH_TAG, "default phishing_action = tag");
	is_dbl(c.phishing_min_confidence, 0.0, 0.0, "default phishing_min_confidence");
	is_str(c.api_ca_file, "", "default api_ca_file");
	is_int(c.api_tls_verify, 1, "default api_tls_verify = yes");
	is_int(c.handoff, 0, "default handoff = no");
	is_str(c.spam_lda_args, "", "default spam_lda_args");
	is_str(c.phishing_lda_args, "", "default phishing_lda_args");
	is_str(c.unscanned_lda_args, "", "default unscanned_lda_args");
	is_int(c.defer_max_age, 0, "default defer_max_age = 0 (unset)");
	is_int(c.scan_max_size, 20ULL << 20, "default scan_max_size = 20M");
	is_int(c.max_size, 512ULL << 20, "default max_size = 512M");
	is_int(c.spool_threshold, 1ULL << 20, "default spool_threshold = 1M");
	is_str(c.spool_dir, "", "default spool_dir");
	is_str(c.strip_headers, "X-Spam*, X-Rspamd-*, X-SPOT-*, X-Virus-Scanned, X-Virus-Status, X-Amavis-*, X-Bogosity, X-DSPAM-*, X-CRM114-*",
	    "default strip_headers");
	is_str(c.reject_message, "", "default reject_message");
	is_int(c.log, LOG_SINK_SYSLOG, "default log = syslog");
	ok(c.api_key == NULL, "no API key before config_finish");
	config_free(&c);
}

static void
test_bool(void)
{
	static const struct { const char *v; int want; } good[] = {
		{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
		{ "1", 1 }, { "0", 0 }, { "YES", 1 }, { "No", 0 },
		{ "on", 1 }, { "off", 0 }, { "TRUE", 1 }, { "Off", 0 },
	};
	static const char *const bad[] = { "maybe", "", "2", "yess", " yes", "y" };
	char err[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	config_init(&c);
	for (i = 0; i < ARRAY_LEN(good); i++) {
		c.api_tls_verify = !good[i].want;
		err[0] = '\0';
		is_int(config_set(&c, "api_tls_verify", good[i].v, err, sizeof(err)), 0,
		    "bool \"%s\" accepted", good[i].v);
		is_int(c.api_tls_verify, good[i].want, "bool \"%s\" is %d", good[i].v,
		    good[i].want);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		c.handoff = 0;
		err[0] = '\0';
		is_int(config_set(&c, "handoff", bad[i], err, sizeof(err)), -1,
		    "bool \"%s\" refused", bad[i]);
		like(err, "handoff", "bool error names the key (\"%s\")", bad[i]);
		is_int(c.handoff, 0, "refused bool \"%s\" leaves the value alone", bad[i]);
	}
	err[0] = '\0';
	config_set(&c, "rspamd", "maybe", err, sizeof(err));
	like(err, "\"maybe\"", "bool error quotes the value");
	config_free(&c);
}

static void
test_ms(void)
{
	static const struct { const char *v; unsigned want; } good[] = {
		{ "1", 1 }, { "250", 250 }, { "86400000", 86400000 }, { "007", 7 },
	};
	static const char *const bad[] = { "0", "86400001", "-5", "10s", "", "5K",
		" 5", "5 ", "1e3", "4294967296", "99999999999999999999999", "0x10" };
	char err[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	config_init(&c);
	for (i = 0; i < ARRAY_LEN(good); i++) {
		is_int(config_set(&c, "timeout_ms", good[i].v, err, sizeof(err)), 0,
		    "ms \"%s\" accepted", good[i].v);
		is_int(c.timeout_ms, good[i].want, "ms \"%s\" = %u", good[i].v, good[i].want);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		c.connect_timeout_ms = 1000;
		err[0] = '\0';
		is_int(config_set(&c, "connect_timeout_ms", bad[i], err, sizeof(err)), -1,
		    "ms \"%s\" refused", bad[i]);
		like(err, "connect_timeout_ms", "ms error names the key (\"%s\")", bad[i]);
		is_int(c.connect_timeout_ms, 1000, "refused ms \"%s\" leaves the value", bad[i]);
	}
	config_free(&c);
}

static void
test_duration(void)
{
	static const struct { const char *v; unsigned want; } good[] = {
		{ "0", 0 }, { "20", 20 }, { "20s", 20 }, { "30m", 1800 }, { "4h", 14400 },
		{ "2d", 172800 }, { "7d", 604800 }, { "604800", 604800 }, { "168h", 604800 },
	};
	static const char *const bad[] = { "", "-1", "4H", "4hours", "1h30m", "8d",
		"604801", "s", " 4h", "4h ", "1.5h", "4w", "99999999999999999999d" };
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	config_init(&c);
	for (i = 0; i < ARRAY_LEN(good); i++) {
		is_int(config_set(&c, "defer_max_age", good[i].v, err, sizeof(err)), 0,
		    "duration \"%s\" accepted", good[i].v);
		is_int(c.defer_max_age, good[i].want, "duration \"%s\" = %u s", good[i].v,
		    good[i].want);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		c.defer_max_age = 99;
		err[0] = '\0';
		is_int(config_set(&c, "defer_max_age", bad[i], err, sizeof(err)), -1,
		    "duration \"%s\" refused", bad[i]);
		like(err, "defer_max_age", "duration error names the key (\"%s\")", bad[i]);
		is_int(c.defer_max_age, 99, "refused duration \"%s\" leaves the value", bad[i]);
	}
	config_free(&c);

	config_init(&c);
	config_set(&c, "defer_max_age", "4h", err, sizeof(err));
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), 0, "defer_max_age alone finishes");
	like(warn, "no effect", "defer_max_age with on_timeout = allow: a warning");
	config_set(&c, "on_timeout", "block", err, sizeof(err));
	config_finish(&c, err, sizeof(err), warn, sizeof(warn));
	is_str(warn, "", "defer_max_age = 4h with on_timeout = block: no warning");
	config_set(&c, "defer_max_age", "1d", err, sizeof(err));
	config_finish(&c, err, sizeof(err), warn, sizeof(warn));
	like(warn, "maximal_queue_lifetime", "defer_max_age = 1d: warns about the queue lifetime");
	config_set(&c, "defer_max_age", "0", err, sizeof(err));
	config_set(&c, "on_timeout", "allow", err, sizeof(err));
	config_finish(&c, err, sizeof(err), warn, sizeof(warn));
	is_str(warn, "", "defer_max_age = 0: no warning");
	config_free(&c);
}

static void
test_size(void)
{
	static const struct { const char *v; unsigned long long want; } good[] = {
		{ "65536", 64ULL << 10 }, { "64K", 64ULL << 10 }, { "64k", 64ULL << 10 },
		{ "10M", 10ULL << 20 }, { "10m", 10ULL << 20 }, { "2G", 2ULL << 30 },
		{ "16G", 16ULL << 30 }, { "0000100K", 100ULL << 10 },
	};
	static const char *const bad[] = { "", "K", "10KB", "1T", "-1", "1.5M",
		"18446744073709551615", "18446744073709551616", "17179869184G",
		"18014398509481984K", " 10M", "10 M", "M10" };
	char err[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	config_init(&c);
	for (i = 0; i < ARRAY_LEN(good); i++) {
		is_int(config_set(&c, "max_size", good[i].v, err, sizeof(err)), 0,
		    "size \"%s\" accepted", good[i].v);
		ok(c.max_size == good[i].want, "size \"%s\" = %llu (got %llu)",
		    good[i].v, good[i].want, (unsigned long long)c.max_size);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		c.scan_max_size = 12345;
		err[0] = '\0';
		is_int(config_set(&c, "scan_max_size", bad[i], err, sizeof(err)), -1,
		    "size \"%s\" refused", bad[i]);
		like(err, "scan_max_size", "size error names the key (\"%s\")", bad[i]);
		is_int(c.scan_max_size, 12345, "refused size \"%s\" leaves the value", bad[i]);
	}
	config_free(&c);
}

/* Every numeric key, at both edges of its range and one step outside. */
static void
test_bounds(void)
{
	static const struct {
		const char *key, *lo, *below, *hi, *above, *range;
	} b[] = {
		{ "timeout_ms", "1", "0", "86400000", "86400001", "between 1 and 86400000" },
		{ "connect_timeout_ms", "1", "0", "86400000", "86400001", "between 1 and 86400000" },
		{ "analysis_timeout_ms", "1", "0", "86400000", "86400001", "between 1 and 86400000" },
		{ "poll_interval_ms", "10", "9", "86400000", "86400001", "between 10 and 86400000" },
		{ "scan_max_size", "1K", "1023", "4G", "4194305K", "between 1K and 4G" },
		{ "max_size", "64K", "65535", "64G", "65537M", "between 64K and 64G" },
		{ "spool_threshold", "64K", "65535", "1G", "1073741825", "between 64K and 1G" },
		{ "max_errors", "1", "0", "1000000", "1000001", "between 1 and 1000000" },
		{ "error_time", "1", "0", "86400", "86401", "between 1 and 86400" },
		{ "dead_time", "1", "0", "86400", "86401", "between 1 and 86400" },
		{ "phishing_min_confidence", "0", "-0.001", "1", "1.001", "between 0 and 1" },
	};
	char err[CONFIG_ERR_SIZE], dump[64];
	struct config c;
	size_t i;

	for (i = 0; i < ARRAY_LEN(b); i++) {
		config_init(&c);
		is_int(config_set(&c, b[i].key, b[i].lo, err, sizeof(err)), 0,
		    "%s = %s (the lowest) accepted", b[i].key, b[i].lo);
		is_int(config_set(&c, b[i].key, b[i].hi, err, sizeof(err)), 0,
		    "%s = %s (the highest) accepted", b[i].key, b[i].hi);
		err[0] = '\0';
		is_int(config_set(&c, b[i].key, b[i].below, err, sizeof(err)), -1,
		    "%s = %s (below) refused", b[i].key, b[i].below);
		like(err, b[i].range, "%s: the error gives the range", b[i].key);
		err[0] = '\0';
		is_int(config_set(&c, b[i].key, b[i].above, err, sizeof(err)), -1,
		    "%s = %s (above) refused", b[i].key, b[i].above);
		like(err, b[i].range, "%s: the error gives the range (above)", b[i].key);
		config_free(&c);
	}
	/* the highest value is stored whole */
	config_init(&c);
	config_set(&c, "max_size", "64G", err, sizeof(err));
	ok(c.max_size == 64ULL << 30, "max_size = 64G stored as %llu",
	    (unsigned long long)c.max_size);
	config_set(&c, "dead_time", "86400", err, sizeof(err));
	snprintf(dump, sizeof(dump), "%u", c.dead_time);
	is_str(dump, "86400", "dead_time = 86400 stored");
	config_free(&c);
}

/* connect_timeout_ms, when given, is no longer than the deadline it is
 * part of; the default one is simply cut short. */
static void
test_connect_timeout(void)
{
	static const struct {
		const char *timeout, *analysis, *connect, *api, *rspamd;
		int want;
		const char *why;
	} t[] = {
		{ "300", NULL, NULL, NULL, NULL, 0, "default connect, timeout 300" },
		{ "300", NULL, "300", NULL, NULL, 0, "connect = timeout" },
		{ "300", NULL, "301", NULL, NULL, -1, "connect > timeout" },
		{ "300", NULL, "301", NULL, "no", 0, "connect > timeout, rspamd off" },
		{ NULL, "500", "500", "https://spot.example.net/v1", "no", 0,
		    "connect = analysis_timeout" },
		{ NULL, "500", "501", "https://spot.example.net/v1", "no", -1,
		    "connect > analysis_timeout" },
		{ NULL, "500", "501", NULL, "no", 0, "connect > analysis_timeout, API off" },
	};
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE], e[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	setenv("SPOT_API_KEY", "abc", 1);
	for (i = 0; i < ARRAY_LEN(t); i++) {
		config_init(&c);
		if (t[i].timeout)
			config_set(&c, "timeout_ms", t[i].timeout, e, sizeof(e));
		if (t[i].analysis)
			config_set(&c, "analysis_timeout_ms", t[i].analysis, e, sizeof(e));
		if (t[i].connect)
			config_set(&c, "connect_timeout_ms", t[i].connect, e, sizeof(e));
		if (t[i].api)
			config_set(&c, "api_url", t[i].api, e, sizeof(e));
		if (t[i].rspamd)
			config_set(&c, "rspamd", t[i].rspamd, e, sizeof(e));
		err[0] = '\0';
		is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), t[i].want,
		    "%s: %s", t[i].why, t[i].want ? "refused" : "accepted");
		if (t[i].want)
			like(err, "connect_timeout_ms", "%s: the error names the key", t[i].why);
		config_free(&c);
	}
	unsetenv("SPOT_API_KEY");
}

static void
test_double(void)
{
	static const struct { const char *v; double want; } good[] = {
		{ "0", 0.0 }, { "1", 1.0 }, { "0.5", 0.5 }, { "0.000", 0.0 },
		{ "1.0", 1.0 }, { ".75", 0.75 },
	};
	static const char *const bad[] = { "1.0001", "-0.1", "abc", "", "nan",
		"NaN", "inf", "0.5x", "2", "1e309" };
	char err[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	config_init(&c);
	for (i = 0; i < ARRAY_LEN(good); i++) {
		is_int(config_set(&c, "phishing_min_confidence", good[i].v, err,
		    sizeof(err)), 0, "double \"%s\" accepted", good[i].v);
		is_dbl(c.phishing_min_confidence, good[i].want, 1e-12, "double \"%s\"",
		    good[i].v);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		c.phishing_min_confidence = 0.25;
		err[0] = '\0';
		is_int(config_set(&c, "phishing_min_confidence", bad[i], err, sizeof(err)),
		    -1, "double \"%s\" refused", bad[i]);
		like(err, "phishing_min_confidence", "double error names the key (\"%s\")",
		    bad[i]);
		is_dbl(c.phishing_min_confidence, 0.25, 0.0, "refused double \"%s\" "
		    "leaves the value", bad[i]);
	}
	config_free(&c);
}

static void
test_enums(void)
{
	static const struct { const char *key, *v; int want; } good[] = {
		{ "mode", "blocking", MODE_BLOCKING },
		{ "mode", "tag-only", MODE_TAG_ONLY },
		{ "on_timeout", "allow", ON_TIMEOUT_ALLOW },
		{ "on_timeout", "block", ON_TIMEOUT_BLOCK },
		{ "phishing_action", "tag", PHISH_TAG },
		{ "phishing_action", "defer", PHISH_DEFER },
		{ "phishing_action", "reject", PHISH_REJECT },
		{ "log", "syslog", LOG_SINK_SYSLOG },
		{ "log", "stderr", LOG_SINK_STDERR },
		{ "log", "none", LOG_SINK_NONE },
	};
	char err[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;
	int *field;

	config_init(&c);
	for (i = 0; i < ARRAY_LEN(good); i++) {
		field = strcmp(good[i].key, "mode") == 0 ? &c.mode :
		    strcmp(good[i].key, "on_timeout") == 0 ? &c.on_timeout :
		    strcmp(good[i].key, "phishing_action") == 0 ? &c.phishing_action : &c.log;
		*field = -1;
		is_int(config_set(&c, good[i].key, good[i].v, err, sizeof(err)), 0,
		    "%s = %s accepted", good[i].key, good[i].v);
		is_int(*field, good[i].want, "%s = %s stored as %d", good[i].key,
		    good[i].v, good[i].want);
	}
	c.mode = MODE_BLOCKING;
	err[0] = '\0';
	is_int(config_set(&c, "mode", "tagonly", err, sizeof(err)), -1, "mode tagonly refused");
	like(err, "mode", "enum error names the key");
	like(err, "\"tagonly\"", "enum error quotes the value");
	like(err, "blocking|tag-only", "enum error lists the choices");
	is_int(c.mode, MODE_BLOCKING, "refused enum leaves the value");
	err[0] = '\0';
	is_int(config_set(&c, "phishing_action", "quarantine", err, sizeof(err)), -1,
	    "phishing_action quarantine refused");
	like(err, "tag|defer|reject", "phishing_action error lists the choices");
	is_int(config_set(&c, "on_timeout", "", err, sizeof(err)), -1,
	    "empty on_timeout refused");
	is_int(config_set(&c, "log", "file", err, sizeof(err)), -1, "log = file refused");
	config_free(&c);
}

static void
test_strings(void)
{
	char err[CONFIG_ERR_SIZE];
	struct config c;

	config_init(&c);
	is_int(config_set(&c, "rspamd_url", "unix:/run/rspamd.sock", err, sizeof(err)), 0,
	    "string accepted");
	is_str(c.rspamd_url, "unix:/run/rspamd.sock", "string stored");
	is_int(config_set(&c, "rspamd_url", "http://[::1]:11333", err, sizeof(err)), 0,
	    "string replaced");
	is_str(c.rspamd_url, "http://[::1]:11333", "replaced string stored (old one freed)");
	is_int(config_set(&c, "reject_message", "", err, sizeof(err)), 0,
	    "empty string accepted");
	is_str(c.reject_message, "", "empty string stored");
	is_int(config_set(&c, "rspamd_password", "pw with spaces = ok", err, sizeof(err)),
	    0, "secret accepted");
	is_str(c.rspamd_password, "pw with spaces = ok", "secret stored as is");
	err[0] = '\0';
	is_int(config_set(&c, "no_such_key", "1", err, sizeof(err)), -1,
	    "unknown key refused");
	like(err, "no_such_key", "unknown key error names the key");
	err[0] = '\0';
	is_int(config_set(&c, "api_key", "secret", err, sizeof(err)), -1,
	    "api_key is not a key (argv and files must not carry it)");
	is_int(config_set(&c, "MODE", "tag-only", err, sizeof(err)), -1,
	    "keys are lower case");
	config_free(&c);
}

static void
test_file(void)
{
	char err[CONFIG_ERR_SIZE];
	struct config c;
	int rc;

	config_init(&c);
	err[0] = '\0';
	rc = config_load_file(&c, FIX "good.conf", 1, err, sizeof(err));
	if (!is_int(rc, 0, "good.conf loads"))
		diag("error: %s", err);
	is_int(c.rspamd, 0, "good.conf: rspamd = no");
	is_str(c.rspamd_url, "unix:/run/rspamd/normal.sock", "good.conf: rspamd_url");
	is_str(c.rspamd_password, "s3cret-Passw0rd", "good.conf: rspamd_password");
	is_int(c.timeout_ms, 2500, "good.conf: timeout_ms");
	is_int(c.connect_timeout_ms, 300, "good.conf: connect_timeout_ms");
	is_int(c.mode, MODE_TAG_ONLY, "good.conf: mode");
	is_int(c.on_timeout, ON_TIMEOUT_BLOCK, "good.conf: on_timeout");
	is_str(c.api_url, "https://spot.example.net/v1/messages", "good.conf: api_url");
	is_int(c.analysis_timeout_ms, 20000, "good.conf: analysis_timeout_ms");
	is_int(c.poll_interval_ms, 250, "good.conf: poll_interval_ms");
	is_int(c.phishing_action, PHISH_REJECT, "good.conf: phishing_action");
	is_dbl(c.phishing_min_confidence, 0.75, 1e-12, "good.conf: phishing_min_confidence");
	is_int(c.api_tls_verify, 0, "good.conf: api_tls_verify = false");
	is_int(c.scan_max_size, 10ULL << 20, "good.conf: scan_max_size = 10M");
	is_int(c.max_size, 1ULL << 30, "good.conf: max_size = 1G");
	is_int(c.spool_threshold, 256ULL << 10, "good.conf: spool_threshold = 256K");
	is_str(c.spool_dir, "/var/spool/spot-deliver", "good.conf: spool_dir");
	is_str(c.strip_headers, "X-Spam-*, X-SPOT-*, X-Virus-Scanned",
	    "good.conf: strip_headers");
	is_str(c.reject_message, "Message refused by policy (spam)",
	    "good.conf: value with spaces and parentheses");
	is_int(c.log, LOG_SINK_STDERR, "good.conf: log");
	is_str(c.spam_lda_args, "-m Junk", "good.conf: spam_lda_args");
	is_int(c.handoff, 0, "good.conf: a key not in the file keeps its default");
	config_free(&c);

	config_init(&c);
	rc = config_load_file(&c, FIX "comments.conf", 1, err, sizeof(err));
	if (!is_int(rc, 0, "comments.conf loads"))
		diag("error: %s", err);
	is_int(c.mode, MODE_TAG_ONLY, "comments.conf: surrounding blanks trimmed");
	is_int(c.timeout_ms, 1234, "comments.conf: key=value without blanks");
	is_int(c.phishing_action, PHISH_DEFER, "comments.conf: tabs around =");
	is_int(c.connect_timeout_ms, 1000, "comments.conf: other keys at defaults");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, FIX "unknown-key.conf", 1, err, sizeof(err)), -1,
	    "unknown-key.conf fails");
	like(err, FIX "unknown-key.conf:4:", "unknown key: error names file:line");
	like(err, "timeout_secs", "unknown key: error names the key");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, FIX "bad-value.conf", 1, err, sizeof(err)), -1,
	    "bad-value.conf fails");
	like(err, FIX "bad-value.conf:3:", "bad value: error names file:line");
	like(err, "on_timeout", "bad value: error names the key");
	like(err, "sometimes", "bad value: error names the value");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, FIX "missing-equals.conf", 1, err, sizeof(err)), -1,
	    "missing-equals.conf fails");
	like(err, FIX "missing-equals.conf:3:", "missing =: error names file:line");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, FIX "long-line.conf", 1, err, sizeof(err)), -1,
	    "long-line.conf (a 5000 byte line) fails instead of being cut");
	like(err, FIX "long-line.conf:2:", "long line: error names file:line");
	ok(c.timeout_ms != 42, "long line: nothing after it was read as a setting");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, FIX "does-not-exist.conf", 0, err, sizeof(err)), 0,
	    "a missing default file is fine");
	is_int(c.mode, MODE_BLOCKING, "missing default file: defaults stay");
	err[0] = '\0';
	is_int(config_load_file(&c, FIX "does-not-exist.conf", 1, err, sizeof(err)), -1,
	    "a missing explicit file is an error");
	like(err, FIX "does-not-exist.conf", "missing explicit file: error names it");
	err[0] = '\0';
	is_int(config_load_file(&c, "tests/fixtures/config", 0, err, sizeof(err)), -1,
	    "a directory is not a config file, even as the default");
	like(err, "tests/fixtures/config", "directory: error names it");
	config_free(&c);
}

/* The rules of spot-deliver.conf(5) about lines and values. */
static void
test_file_rules(void)
{
	char err[CONFIG_ERR_SIZE], path[4200], line[5000];
	struct config c;
	int rc;

	write_file(path, sizeof(path), "rules.conf",
	    "reject_message = a = b  # not a comment \"quoted\"\n"
	    "mode = tag-only\n"
	    "mode = blocking\n"
	    "  # indented comment\n"
	    "\t\n"
	    "rspamd_url=unix:/run/rspamd.sock\n", 0600);
	config_init(&c);
	rc = config_load_file(&c, path, 1, err, sizeof(err));
	if (!is_int(rc, 0, "rules.conf loads"))
		diag("error: %s", err);
	is_str(c.reject_message, "a = b  # not a comment \"quoted\"",
	    "value: after the first =, inner blanks, # and quotes kept");
	is_int(c.mode, MODE_BLOCKING, "a key given twice takes the later value");
	is_str(c.rspamd_url, "unix:/run/rspamd.sock", "no blanks around =");
	config_free(&c);

	/* "A line may be at most 4094 bytes long." */
	memset(line, 'x', sizeof(line));
	memcpy(line, "reject_message = ", 17);
	strcpy(line + 17 + 4077, "\n");
	is_int(strlen(line), 4095, "test line: 4094 bytes and a newline");
	write_file(path, sizeof(path), "max-line.conf", line, 0600);
	config_init(&c);
	rc = config_load_file(&c, path, 1, err, sizeof(err));
	if (!is_int(rc, 0, "a 4094-byte line is accepted"))
		diag("error: %s", err);
	is_int(c.reject_message ? strlen(c.reject_message) : 0, 4077,
	    "the 4094-byte line's value is whole");
	config_free(&c);
	line[4094] = '\0';
	write_file(path, sizeof(path), "last-line.conf", line, 0600);
	config_init(&c);
	rc = config_load_file(&c, path, 1, err, sizeof(err));
	if (!is_int(rc, 0, "a 4094-byte last line without a newline is accepted"))
		diag("error: %s", err);
	config_free(&c);
	memset(line, 'x', sizeof(line));
	memcpy(line, "reject_message = ", 17);
	strcpy(line + 17 + 4078, "\ntimeout_ms = 42\n");
	write_file(path, sizeof(path), "over-line.conf", line, 0600);
	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, path, 1, err, sizeof(err)), -1,
	    "a 4095-byte line is refused");
	like(err, ":1:", "the 4095-byte line: error names line 1");
	ok(c.timeout_ms != 42, "the 4095-byte line: its tail is not read as a line");
	config_free(&c);
}

static void
test_env(void)
{
	char *env1[] = { "PATH=/usr/bin:/bin", "SPOT_DELIVER_MODE=tag-only",
		"HOME=/root", NULL };
	char *env2[] = { "SPOT_DELIVER_TIMEOUT_MS=abc", NULL };
	char *env3[] = { "SPOT_DELIVER_=x", "SPOT_DELIVERMODE=tag-only",
		"spot_deliver_mode=tag-only", "XSPOT_DELIVER_MODE=tag-only",
		"SPOT_DELIVER_MODE", NULL };
	char *env4[] = { "SPOT_DELIVER_SCAN_MAX_SIZE=5M",
		"SPOT_DELIVER_STRIP_HEADERS=X-Foo, X-Bar",
		"SPOT_DELIVER_RSPAMD=no", NULL };
	char *env5[] = { NULL };
	char *env6[] = { "SPOT_DELIVER_Timeout_Ms=2500", "SPOT_DELIVER_log=none", NULL };
	char err[CONFIG_ERR_SIZE];
	struct config c;

	config_init(&c);
	is_int(config_load_env(&c, env1, err, sizeof(err)), 0, "env with MODE loads");
	is_int(c.mode, MODE_TAG_ONLY, "SPOT_DELIVER_MODE=tag-only sets mode");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	is_int(config_load_env(&c, env2, err, sizeof(err)), -1, "bad env value fails");
	like(err, "SPOT_DELIVER_TIMEOUT_MS", "env error names the variable");
	like(err, "timeout_ms", "env error names the key");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	if (!is_int(config_load_env(&c, env3, err, sizeof(err)), 0,
	    "look-alike variables are ignored"))
		diag("error: %s", err);
	is_int(c.mode, MODE_BLOCKING, "look-alikes do not set mode");
	config_free(&c);

	config_init(&c);
	is_int(config_load_env(&c, env4, err, sizeof(err)), 0, "env of several types");
	is_int(c.scan_max_size, 5ULL << 20, "env size with suffix");
	is_str(c.strip_headers, "X-Foo, X-Bar", "env string with spaces");
	is_int(c.rspamd, 0, "env bool");
	is_int(config_load_env(&c, env5, err, sizeof(err)), 0, "empty environment");
	config_free(&c);

	config_init(&c);
	err[0] = '\0';
	if (!is_int(config_load_env(&c, env6, err, sizeof(err)), 0,
	    "key part of the variable in any letter case"))
		diag("error: %s", err);
	is_int(c.timeout_ms, 2500, "SPOT_DELIVER_Timeout_Ms sets timeout_ms");
	is_int(c.log, LOG_SINK_NONE, "SPOT_DELIVER_log sets log");
	config_free(&c);
}

static void
test_precedence(void)
{
	char *env[] = { "SPOT_DELIVER_TIMEOUT_MS=3333",
		"SPOT_DELIVER_PHISHING_ACTION=reject", NULL };
	char err[CONFIG_ERR_SIZE];
	struct config c;

	config_init(&c);
	is_int(config_load_file(&c, FIX "precedence.conf", 1, err, sizeof(err)), 0,
	    "precedence: file");
	is_int(config_load_env(&c, env, err, sizeof(err)), 0, "precedence: env");
	is_int(config_set(&c, "phishing_action", "tag", err, sizeof(err)), 0,
	    "precedence: command line");
	is_int(c.mode, MODE_TAG_ONLY, "file beats default");
	is_int(c.connect_timeout_ms, 2222, "file value kept when env does not set it");
	is_int(c.timeout_ms, 3333, "env beats file");
	is_int(c.phishing_action, PHISH_TAG, "command line beats env and file");
	is_int(c.analysis_timeout_ms, 10000, "default kept when nobody sets it");
	config_free(&c);
}

/* config_finish with a fresh config plus the given settings. */
static int
finish_with(struct config *c, const char *key, const char *value, char *err,
    char *warn)
{
	char e[CONFIG_ERR_SIZE];

	config_init(c);
	if (key != NULL && config_set(c, key, value, e, sizeof(e)) != 0) {
		diag("config_set %s: %s", key, e);
		return -2;
	}
	err[0] = '\0';
	return config_finish(c, err, CONFIG_ERR_SIZE, warn, CONFIG_ERR_SIZE);
}

static void
test_finish(void)
{
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE], e[CONFIG_ERR_SIZE];
	char p600[4200], p644[4200], pspace[4200], pempty[4200];
	struct config c;

	unsetenv("SPOT_API_KEY");
	write_file(p600, sizeof(p600), "key600", "k3y-from-file_0123456789\n", 0600);
	write_file(p644, sizeof(p644), "key644", "k3y-readable\n", 0644);
	write_file(pspace, sizeof(pspace), "keyspace", "two words\n", 0600);
	write_file(pempty, sizeof(pempty), "keyempty", "\n\n", 0600);

	strcpy(warn, "stale");
	is_int(finish_with(&c, NULL, NULL, err, warn), 0, "defaults finish");
	is_str(warn, "", "defaults: no warning (warn cleared)");
	ok(c.api_key == NULL, "defaults: no key without api_url, file or env");
	config_free(&c);

	is_int(finish_with(&c, "api_url", "https://spot.example.net/v1", err, warn), -1,
	    "api_url without a key is an error");
	like(err, "api_url", "no key: error names api_url");
	like(err, "SPOT_API_KEY", "no key: error says where a key comes from");
	config_free(&c);

	setenv("SPOT_API_KEY", "env-Key_42", 1);
	is_int(finish_with(&c, "api_url", "https://spot.example.net/v1", err, warn), 0,
	    "api_url with SPOT_API_KEY finishes");
	is_str(c.api_key, "env-Key_42", "key taken from SPOT_API_KEY");
	config_free(&c);

	is_int(finish_with(&c, "api_key_file", p600, err, warn), 0,
	    "api_key_file (mode 600) finishes");
	is_str(c.api_key, "k3y-from-file_0123456789",
	    "key file beats SPOT_API_KEY, trailing newline trimmed");
	is_str(warn, "", "mode 600 key file: no warning");
	config_free(&c);

	setenv("SPOT_API_KEY", "two words", 1);
	is_int(finish_with(&c, "api_url", "https://spot.example.net/v1", err, warn), -1,
	    "SPOT_API_KEY with a space is refused");
	like(err, "API key", "key with a space: error says so");
	unlike(err, "two words", "key with a space: error does not print the key");
	config_free(&c);
	unsetenv("SPOT_API_KEY");

	is_int(finish_with(&c, "api_key_file", p644, err, warn), 0,
	    "api_key_file mode 644 still finishes");
	is_str(c.api_key, "k3y-readable", "mode 644 key read");
	like(warn, p644, "mode 644: warning names the file");
	like(warn, "readable", "mode 644: warning says it is readable");
	unlike(warn, "k3y-readable", "mode 644: warning does not print the key");
	config_free(&c);

	is_int(finish_with(&c, "api_key_file", pspace, err, warn), -1,
	    "key file holding a space is refused");
	unlike(err, "two words", "key file with a space: key not in the error");
	config_free(&c);

	is_int(finish_with(&c, "api_key_file", pempty, err, warn), -1,
	    "empty key file is refused");
	like(err, pempty, "empty key file: error names it");
	config_free(&c);

	is_int(finish_with(&c, "api_key_file", "/nonexistent/spot.key", err, warn), -1,
	    "missing key file is an error");
	like(err, "/nonexistent/spot.key", "missing key file: error names it");
	config_free(&c);

	is_int(finish_with(&c, "handoff", "yes", err, warn), -1,
	    "handoff without api_url is an error");
	like(err, "handoff", "handoff error names the key");
	config_free(&c);

	/* handoff with api_url and a key is fine */
	setenv("SPOT_API_KEY", "abc", 1);
	config_init(&c);
	config_set(&c, "api_url", "https://spot.example.net/v1", e, sizeof(e));
	config_set(&c, "handoff", "yes", e, sizeof(e));
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), 0,
	    "handoff with api_url and a key finishes");
	config_free(&c);
	unsetenv("SPOT_API_KEY");
}

/* A secret goes into a request header: no control character may split it. */
static void
test_secret_chars(void)
{
	static const char *const bad[] = { "pw\r\nX-Injected: 1", "pw\n", "\rpw",
		"p\tw", "p\x01w", "p\x7fw", "p\x1bw" };
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE], path[4200];
	struct config c;
	size_t i;

	for (i = 0; i < ARRAY_LEN(bad); i++) {
		config_init(&c);
		err[0] = '\0';
		is_int(config_set(&c, "rspamd_password", bad[i], err, sizeof(err)), -1,
		    "rspamd_password with control character %zu refused", i);
		like(err, "rspamd_password", "control character %zu: error names the key", i);
		unlike(err, "pw", "control character %zu: the password is not echoed", i);
		is_str(c.rspamd_password, "", "control character %zu: nothing stored", i);
		config_free(&c);

		setenv("SPOT_API_KEY", bad[i], 1);
		is_int(finish_with(&c, "api_url", "https://spot.example.net/v1", err,
		    warn), -1, "SPOT_API_KEY with control character %zu refused", i);
		config_free(&c);
	}
	unsetenv("SPOT_API_KEY");

	config_init(&c);
	is_int(config_set(&c, "rspamd_password", "p w!\"#~\x80\xff", err, sizeof(err)),
	    0, "rspamd_password with spaces, punctuation and 8-bit bytes accepted");
	config_free(&c);

	/* a NUL would cut the key short without a word */
	snprintf(path, sizeof(path), "%s/keynul", tmpdir);
	{
		FILE *fp = fopen(path, "w");

		if (fp == NULL || fwrite("abc\0def\n", 1, 8, fp) != 8 || fclose(fp) != 0) {
			printf("Bail out! cannot write %s\n", path);
			exit(1);
		}
	}
	is_int(finish_with(&c, "api_key_file", path, err, warn), -1,
	    "a key file with a NUL byte is refused");
	like(err, "NUL", "key file with a NUL: the error says so");
	unlike(err, "abc", "key file with a NUL: the key is not echoed");
	config_free(&c);
	unlink(path);

	/* a longer key would be cut short as well */
	{
		static char big[4097];

		memset(big, 'k', sizeof(big) - 1);
		write_file(path, sizeof(path), "keybig", big, 0600);
		is_int(finish_with(&c, "api_key_file", path, err, warn), -1,
		    "a key file of 4096 bytes is refused");
		like(err, "longer than 4095 bytes", "key file too long: the error says so");
		config_free(&c);
		big[4095] = '\0';
		write_file(path, sizeof(path), "keybig", big, 0600);
		is_int(finish_with(&c, "api_key_file", path, err, warn), 0,
		    "a key of 4095 bytes is read");
		is_int(c.api_key ? strlen(c.api_key) : 0, 4095, "the 4095-byte key is whole");
		config_free(&c);
		unlink(path);
	}

	snprintf(path, sizeof(path), "%s/nul.conf", tmpdir);
	{
		FILE *fp = fopen(path, "w");

		if (fp == NULL || fwrite("rspamd_password = abc\0def\n", 1, 26, fp) != 26 ||
		    fclose(fp) != 0) {
			printf("Bail out! cannot write %s\n", path);
			exit(1);
		}
	}
	config_init(&c);
	err[0] = '\0';
	is_int(config_load_file(&c, path, 1, err, sizeof(err)), -1,
	    "a config line with a NUL byte is refused, not cut");
	like(err, ":1: NUL byte", "NUL byte: the error names the line");
	is_str(c.rspamd_password, "", "NUL byte: no truncated password stored");
	config_free(&c);
	unlink(path);
}

/* config_scrub_env removes every spelling a secret is read from, wipes its
 * value, and keeps everything else in order. */
static void
test_scrub_env(void)
{
	static const char *const in[] = {
		"PATH=/usr/bin", "SPOT_API_KEY=k1", "SPOT_DELIVER_RSPAMD_PASSWORD=p1",
		"SPOT_DELIVER_Rspamd_Password=p2", "SPOT_DELIVER_rspamd_password=p3",
		"spot_deliver_RSPAMD_PASSWORD=p4", "Spot_Api_Key=k2", "spot_api_key=k3",
		"HOME=/root", "SPOT_DELIVER_MODE=tag-only", "SPOT_API_KEYS=x",
		"SPOT_DELIVER_RSPAMD_PASSWORDX=y", "SPOT_DELIVER_RSPAMD_PASSWOR=z",
		"XSPOT_API_KEY=w", "SPOT_API_KEY", "SPOT_DELIVER_RSPAMD_PASSWORD=",
		NULL };
	static const char *const want[] = {
		"PATH=/usr/bin", "HOME=/root", "SPOT_DELIVER_MODE=tag-only",
		"SPOT_API_KEYS=x", "SPOT_DELIVER_RSPAMD_PASSWORDX=y",
		"SPOT_DELIVER_RSPAMD_PASSWOR=z", "XSPOT_API_KEY=w", NULL };
	char *copies[ARRAY_LEN(in)], *envp[ARRAY_LEN(in)];
	size_t i, n;
	int wiped = 1;

	for (i = 0; i < ARRAY_LEN(in); i++)
		envp[i] = copies[i] = in[i] ? xstrdup(in[i]) : NULL;
	config_scrub_env(envp);
	for (n = 0; envp[n] != NULL; n++)
		;
	is_int(n, ARRAY_LEN(want) - 1, "scrub: %zu variables left", ARRAY_LEN(want) - 1);
	for (i = 0; i < ARRAY_LEN(want) - 1 && i < n; i++)
		is_str(envp[i], want[i], "scrub: variable %zu kept in order", i);
	for (i = 0; in[i] != NULL; i++) {
		size_t j, eq = strcspn(in[i], "=");
		int removed = i >= 1 && i <= 7;

		for (j = eq; removed && j < strlen(in[i]); j++)
			if (copies[i][j] != '\0')
				wiped = 0;
		free(copies[i]);
	}
	ok(wiped, "scrub: every removed value was wiped in place");
}

static void
test_wipe(void)
{
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE];
	char *key, *pw;
	struct config c;

	setenv("SPOT_API_KEY", "Key-To-Wipe-77", 1);
	config_init(&c);
	config_set(&c, "rspamd_password", "Pw-To-Wipe-88", err, sizeof(err));
	config_set(&c, "api_url", "https://spot.example.net/v1", err, sizeof(err));
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), 0,
	    "wipe: config finishes");
	unsetenv("SPOT_API_KEY");
	key = c.api_key;
	pw = c.rspamd_password;
	config_wipe_secrets(&c);
	ok(c.api_key == key && c.rspamd_password == pw, "wipe: the pointers stay");
	ok(memchr(key, 'K', 14) == NULL && memchr(key, '7', 14) == NULL,
	    "wipe: the API key's bytes are gone");
	ok(memchr(pw, 'P', 13) == NULL && memchr(pw, '8', 13) == NULL,
	    "wipe: the password's bytes are gone");
	is_str(c.rspamd_password, "", "wipe: the password is empty");
	config_free(&c);
}

static void
test_dump(void)
{
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE];
	struct config c;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	setenv("SPOT_API_KEY", "Very-Secret-Api-Key-123", 1);
	config_init(&c);
	config_set(&c, "rspamd_password", "Rspamd-Pw-456", err, sizeof(err));
	config_set(&c, "api_url", "https://spot.example.net/v1", err, sizeof(err));
	config_set(&c, "mode", "tag-only", err, sizeof(err));
	config_set(&c, "spool_threshold", "256K", err, sizeof(err));
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), 0,
	    "dump: config finishes");
	unsetenv("SPOT_API_KEY");
	fp = open_memstream(&text, &len);
	config_dump(&c, fp);
	fclose(fp);
	unlike(text, "Rspamd-Pw-456", "dump: rspamd_password not printed");
	like(text, "rspamd_password = ********\n", "dump: rspamd_password masked");
	unlike(text, "Very-Secret-Api-Key-123", "dump: API key never printed");
	like(text, "mode = tag-only\n", "dump: enum by name");
	like(text, "spool_threshold = 262144\n", "dump: size in bytes");
	like(text, "defer_max_age = 0s\n", "dump: duration in seconds, reparseable");
	like(text, "api_url = https://spot.example.net/v1\n", "dump: string");
	like(text, "api_tls_verify = yes\n", "dump: bool");
	like(text, "timeout_ms = 5000\n", "dump: ms");
	like(text, "phishing_min_confidence = 0\n", "dump: double");
	like(text, "rspamd = yes\n", "dump: first key");
	like(text, "log = syslog\n", "dump: last key");
	free(text);
	config_free(&c);

	/* no password: nothing to mask, and no key */
	text = NULL;
	config_init(&c);
	fp = open_memstream(&text, &len);
	config_dump(&c, fp);
	fclose(fp);
	like(text, "rspamd_password = \n", "dump: empty password printed empty");
	like(text, "api key: none", "dump: says there is no key");
	free(text);
	config_free(&c);
}

#define LONG_HOST64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_HOST LONG_HOST64 LONG_HOST64 LONG_HOST64 LONG_HOST64

/* Every member of rspamd_url and api_url goes through libcurl's URL parser
 * when the configuration is loaded. */
static void
test_urls(void)
{
	static const struct {
		const char *key, *value;
		int want;
		const char *needle;  /* in the error */
		const char *unwanted;  /* not in the error */
	} t[] = {
		{ "rspamd_url", "http://127.0.0.1:11333", 0, NULL, NULL },
		{ "rspamd_url", "https://rspamd.example.net", 0, NULL, NULL },
		{ "rspamd_url", "HTTP://127.0.0.1:11333/", 0, NULL, NULL },
		{ "rspamd_url", "http://[::1]:11333", 0, NULL, NULL },
		{ "rspamd_url", "http://127.0.0.1:11333/rspamd/", 0, NULL, NULL },
		{ "rspamd_url", "unix:/run/rspamd/normal.sock", 0, NULL, NULL },
		{ "rspamd_url", "http://10.0.0.1:11333, unix:/run/r.sock http://h", 0, NULL, NULL },
		{ "rspamd_url", "\"http://127.0.0.1:11333\"", -1, "quotes", NULL },
		{ "rspamd_url", "'http://127.0.0.1:11333'", -1, "quotes", NULL },
		{ "rspamd_url", "http://[::1", -1, "IPv6", NULL },
		{ "rspamd_url", "http://127.0.0.1:99999", -1, "65535", NULL },
		{ "rspamd_url", "http://127.0.0.1:0", -1, "port 0", NULL },
		{ "rspamd_url", "ftp://127.0.0.1", -1, "scheme ftp is not http", NULL },
		{ "rspamd_url", "gopher://127.0.0.1", -1, "scheme gopher", NULL },
		{ "rspamd_url", "http://rspamd host:11333", -1, "\"host:11333\"", NULL },
		{ "rspamd_url", "http://rsp%20amd/", -1, "Bad hostname", NULL },
		{ "rspamd_url", "127.0.0.1:11333", -1, "no scheme", NULL },
		{ "rspamd_url", "http://", -1, "host", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333/checkv2", -1, "drop /checkv2", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333/rspamd/checkv2/", -1, "drop /checkv2", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333/?x=1", -1, "query", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333/#top", -1, "fragment", NULL },
		{ "rspamd_url", "http://u:pw@127.0.0.1:11333", -1, "rspamd_password", NULL },
		{ "rspamd_url", "unix:run/rspamd.sock", -1, "absolute", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333, ftp://h, http://h", -1, "\"ftp://h\"", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333 # local", -1, "not a comment", NULL },
		{ "rspamd_url", "http://127.0.0.1:11333/\x1b[2J", -1, "control character", "\x1b" },
		{ "rspamd_url", "http://" LONG_HOST ".example/", -1, "at most 255", LONG_HOST },
		{ "api_url", "https://spot.example.net/v1/messages", 0, NULL, NULL },
		{ "api_url", "http://127.0.0.1:8080", 0, NULL, NULL },
		{ "api_url", "https://a.example/v1/checkv2", 0, NULL, NULL },
		{ "api_url", "https://a.example/v1, http://b.example:8080/v1", 0, NULL, NULL },
		{ "api_url", "\"https://spot.example.net/v1\"", -1, "quotes", NULL },
		{ "api_url", "https://[::1/v1", -1, "IPv6", NULL },
		{ "api_url", "https://spot.example.net:99999/v1", -1, "65535", NULL },
		{ "api_url", "ftp://spot.example.net/v1", -1, "scheme ftp is not http, https", "unix:" },
		{ "api_url", "unix:/run/spot.sock", -1, "rspamd_url only", NULL },
		{ "api_url", "https://spot.example.net/v1?key=1", -1, "query", NULL },
		{ "api_url", "https://k:s@spot.example.net/v1", -1, "api_key_file", NULL },
		{ "api_url", "https://a.example/v1, https://b example/v1", -1, "\"example/v1\"", NULL },
	};
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	setenv("SPOT_API_KEY", "k", 1);
	for (i = 0; i < ARRAY_LEN(t); i++) {
		is_int(finish_with(&c, t[i].key, t[i].value, err, warn), t[i].want,
		    "%s = %s: %s", t[i].key, t[i].value, t[i].want ? "refused" :
		    "accepted");
		if (t[i].needle != NULL) {
			like(err, t[i].key, "%s = %s: the error names the key",
			    t[i].key, t[i].value);
			like(err, t[i].needle, "%s = %s: the error says %s",
			    t[i].key, t[i].value, t[i].needle);
		}
		if (t[i].unwanted != NULL)
			unlike(err, t[i].unwanted, "%s = %s: the error does not say %s",
			    t[i].key, t[i].value, t[i].unwanted);
		config_free(&c);
	}
	unsetenv("SPOT_API_KEY");
}

/* Whether OpenSSL is set up in full: any https member, with rspamd off
 * only api_url's. */
static void
test_uses_https(void)
{
	static const struct {
		const char *rspamd, *rspamd_url, *api_url;
		int want;
	} t[] = {
		{ "yes", "http://127.0.0.1:11333", "", 0 },
		{ "yes", "unix:/run/rspamd/normal.sock", "http://127.0.0.1:8080/v1", 0 },
		{ "yes", "https://rspamd.example.net", "", 1 },
		{ "yes", "http://a:11333, HTTPS://b:11333", "", 1 },
		{ "yes", "http://127.0.0.1:11333", "https://spot.example.net/v1", 1 },
		{ "yes", "http://127.0.0.1:11333", "http://a/v1\thttps://b/v1", 1 },
		{ "no", "https://rspamd.example.net", "", 0 },
		{ "no", "https://rspamd.example.net", "https://spot.example.net/v1", 1 },
	};
	char err[CONFIG_ERR_SIZE];
	struct config c;
	size_t i;

	for (i = 0; i < ARRAY_LEN(t); i++) {
		config_init(&c);
		config_set(&c, "rspamd", t[i].rspamd, err, sizeof(err));
		config_set(&c, "rspamd_url", t[i].rspamd_url, err, sizeof(err));
		config_set(&c, "api_url", t[i].api_url, err, sizeof(err));
		is_int(config_uses_https(&c), t[i].want, "rspamd = %s, rspamd_url = %s, "
		    "api_url = %s: %s", t[i].rspamd, t[i].rspamd_url, t[i].api_url,
		    t[i].want ? "https" : "no https");
		config_free(&c);
	}
}

/* A message of config_finish() starts where the key at fault was set. */
static void
test_origin(void)
{
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE];
	struct config c;

	config_init(&c);
	is_int(config_set_from(&c, "rspamd_url", "http://h/checkv2", "f.conf:7",
	    err, sizeof(err)), 0, "origin: a bad URL is stored");
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), -1,
	    "origin: ... and refused by config_finish");
	like(err, "f.conf:7: rspamd_url: ", "origin: the error starts with file:line");
	config_free(&c);

	config_init(&c);
	config_set_from(&c, "rspamd_url", "http://h/checkv2", "f.conf:7", err,
	    sizeof(err));
	config_set_from(&c, "rspamd_url", "http://h/", "command line", err,
	    sizeof(err));
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), 0,
	    "origin: the command line's URL replaces the file's");
	is_str(c.origin[1], "command line", "origin: the last one is kept");
	config_free(&c);

	config_init(&c);
	config_set_from(&c, "spool_dir", "/nonexistent/spool", "environment "
	    "SPOT_DELIVER_SPOOL_DIR", err, sizeof(err));
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), -1,
	    "origin: a missing spool_dir is refused");
	like(err, "environment SPOT_DELIVER_SPOOL_DIR: spool_dir /nonexistent/spool: ",
	    "origin: the error names the variable");
	config_free(&c);
}

static void
test_files(void)
{
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE], file[4200], key[4200];
	struct config c;

	write_file(file, sizeof(file), "ca.pem", "not checked as PEM\n", 0644);
	is_int(finish_with(&c, "spool_dir", tmpdir, err, warn), 0,
	    "spool_dir: a writable directory");
	config_free(&c);
	is_int(finish_with(&c, "spool_dir", "/nonexistent/spool", err, warn), -1,
	    "spool_dir: a missing directory is refused");
	like(err, "spool_dir /nonexistent/spool: No such file", "spool_dir: missing: says so");
	config_free(&c);
	is_int(finish_with(&c, "spool_dir", file, err, warn), -1,
	    "spool_dir: a file is refused");
	like(err, "not a directory", "spool_dir: a file: says so");
	config_free(&c);
	setenv("TMPDIR", "/nonexistent/tmp", 1);
	is_int(finish_with(&c, NULL, NULL, err, warn), -1,
	    "empty spool_dir: a missing $TMPDIR is refused");
	like(err, "TMPDIR /nonexistent/tmp (spool_dir is empty)", "empty spool_dir: names TMPDIR");
	config_free(&c);
	unsetenv("TMPDIR");

	is_int(finish_with(&c, "api_ca_file", file, err, warn), 0,
	    "api_ca_file: a readable file");
	config_free(&c);
	is_int(finish_with(&c, "api_ca_file", "/nonexistent/ca.pem", err, warn), -1,
	    "api_ca_file: a missing file is refused");
	like(err, "api_ca_file /nonexistent/ca.pem: No such file", "api_ca_file: missing: says so");
	config_free(&c);
	is_int(finish_with(&c, "api_ca_file", tmpdir, err, warn), -1,
	    "api_ca_file: a directory is refused");
	like(err, "not a regular file", "api_ca_file: a directory: says so");
	config_free(&c);

	write_file(key, sizeof(key), "key620", "k3y\n", 0620);
	is_int(finish_with(&c, "api_key_file", key, err, warn), 0,
	    "api_key_file mode 620 finishes");
	like(warn, "mode 0620: writable by its group (chmod 600 it)",
	    "mode 620: the warning says group-writable");
	unlike(warn, "readable", "mode 620: the warning does not say readable");
	config_free(&c);
	snprintf(key, sizeof(key), "%s/fifo", tmpdir);
	if (mkfifo(key, 0600) != 0)
		printf("Bail out! mkfifo %s\n", key);
	is_int(finish_with(&c, "api_key_file", key, err, warn), -1,
	    "api_key_file: a FIFO is refused, without waiting for a writer");
	like(err, "not a regular file", "api_key_file: a FIFO: says so");
	config_free(&c);
	is_int(finish_with(&c, "api_ca_file", key, err, warn), -1,
	    "api_ca_file: a FIFO is refused, without waiting for a writer");
	config_free(&c);
	write_file(key, sizeof(key), "key604", "k3y\n", 0664);
	finish_with(&c, "api_key_file", key, err, warn);
	like(warn, "mode 0664: readable and writable by its group, readable by others",
	    "mode 664: the warning says who may do what");
	config_free(&c);
}

/* --check-config -n: what differs from the defaults, after its origin. */
static void
test_dump_changed(void)
{
	char err[CONFIG_ERR_SIZE];
	struct config c;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	config_init(&c);
	config_set_from(&c, "mode", "tag-only", "a.conf:3", err, sizeof(err));
	config_set_from(&c, "timeout_ms", "5000", "a.conf:4", err, sizeof(err));
	config_set_from(&c, "rspamd_password", "Pw-789", "environment "
	    "SPOT_DELIVER_RSPAMD_PASSWORD", err, sizeof(err));
	config_set_from(&c, "spool_threshold", "256K", "command line", err,
	    sizeof(err));
	fp = open_memstream(&text, &len);
	config_dump_changed(&c, fp);
	fclose(fp);
	is_str(text, "# environment SPOT_DELIVER_RSPAMD_PASSWORD\n"
	    "rspamd_password = ********\n"
	    "# a.conf:3\nmode = tag-only\n"
	    "# command line\nspool_threshold = 262144\n",
	    "-n: only the changed keys, each after its origin, secrets masked; "
	    "a key set to its default is left out");
	free(text);
	config_free(&c);
}

/* rspamd_password in a config file that others may read: a warning, as
 * for api_key_file; from the environment, or in a 600 file: none. */
static void
test_password_file(void)
{
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE], p[4200];
	struct config c;

	write_file(p, sizeof(p), "pw644.conf", "rspamd_password = s3cret-pw\n", 0644);
	config_init(&c);
	is_int(config_load_file(&c, p, 1, err, sizeof(err)), 0, "a 644 file with rspamd_password loads");
	is_int(config_finish(&c, err, sizeof(err), warn, sizeof(warn)), 0, "... and finishes");
	like(warn, "rspamd_password", "... with a warning that names the key");
	like(warn, p, "... and the file");
	like(warn, "0644: readable by its group and by others", "... and who may read it");
	unlike(warn, "s3cret-pw", "... and not the password");
	config_free(&c);

	chmod(p, 0640);
	config_init(&c);
	config_load_file(&c, p, 1, err, sizeof(err));
	config_finish(&c, err, sizeof(err), warn, sizeof(warn));
	like(warn, "0640: readable by its group (chmod", "mode 640: the group may read it");
	config_free(&c);

	chmod(p, 0600);
	config_init(&c);
	config_load_file(&c, p, 1, err, sizeof(err));
	config_finish(&c, err, sizeof(err), warn, sizeof(warn));
	is_str(warn, "", "mode 600: no warning");
	config_free(&c);

	write_file(p, sizeof(p), "nopw.conf", "timeout_ms = 100\n", 0644);
	config_init(&c);
	config_load_file(&c, p, 1, err, sizeof(err));
	config_set(&c, "rspamd_password", "from-elsewhere", err, sizeof(err));
	config_finish(&c, err, sizeof(err), warn, sizeof(warn));
	is_str(warn, "", "a 644 file without the password (it came from elsewhere): no warning");
	config_free(&c);
}

int
main(void)
{
	unsetenv("SPOT_API_KEY");
	make_tmpdir();
	test_defaults();
	test_bool();
	test_ms();
	test_duration();
	test_size();
	test_bounds();
	test_connect_timeout();
	test_double();
	test_enums();
	test_strings();
	test_file();
	test_file_rules();
	test_env();
	test_precedence();
	test_finish();
	test_password_file();
	test_secret_chars();
	test_scrub_env();
	test_wipe();
	test_dump();
	test_urls();
	test_uses_https();
	test_origin();
	test_files();
	test_dump_changed();
	remove_tmpdir();
	return done_testing();
}
