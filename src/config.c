#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "skip.h"
#include "upstream.h"
#include "url.h"
#include "util.h"

enum key_type {
	T_BOOL, T_MS, T_COUNT, T_SIZE, T_DURATION, T_STRING, T_SECRET, T_DOUBLE, T_ENUM
};

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *def;
	const char *const *choices; /* T_ENUM: the index is the stored value */
	uint64_t min, max;          /* T_MS, T_COUNT, T_SIZE: the range allowed */
};

static const char *const mode_names[] = { "blocking", "tag-only", NULL };
static const char *const on_timeout_names[] = { "allow", "block", NULL };
static const char *const phishing_names[] = { "tag", "defer", "reject", NULL };
static const char *const log_names[] = { "syslog", "stderr", "none", NULL };

#define K(name, type, def) { #name, type, offsetof(struct config, name), def, NULL, 0, 0 }
#define E(name, def, choices) { #name, T_ENUM, offsetof(struct config, name), def, choices, 0, 0 }
/* A number outside its range would make every delivery fail or hang (a
 * max_size of 0 bounces all mail): a configuration error, not a value. */
#define N(name, type, def, min, max) \
	{ #name, type, offsetof(struct config, name), def, NULL, min, max }
#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)
#define DAY_MS (24ULL * 3600 * 1000)

static const struct key keys[] = {
	K(rspamd, T_BOOL, "yes"),
	K(rspamd_url, T_STRING, "http://127.0.0.1:11333"),
	K(rspamd_password, T_SECRET, ""),
	N(timeout_ms, T_MS, "5000", 1, DAY_MS),
	N(connect_timeout_ms, T_MS, "1000", 1, DAY_MS),
	E(mode, "blocking", mode_names),
	E(on_timeout, "allow", on_timeout_names),
	K(defer_max_age, T_DURATION, "0"),
	K(api_url, T_STRING, ""),
	K(api_key_file, T_STRING, ""),
	N(analysis_timeout_ms, T_MS, "10000", 1, DAY_MS),
	N(poll_interval_ms, T_MS, "500", 10, DAY_MS),
	E(phishing_action, "tag", phishing_names),
	K(phishing_min_confidence, T_DOUBLE, "0.0"),
	K(api_ca_file, T_STRING, ""),
	K(api_tls_verify, T_BOOL, "yes"),
	K(handoff, T_BOOL, "no"),
	K(spam_lda_args, T_STRING, ""),
	K(phishing_lda_args, T_STRING, ""),
	K(unscanned_lda_args, T_STRING, ""),
	N(scan_max_size, T_SIZE, "20M", KB, 4 * GB),
	N(max_size, T_SIZE, "512M", 64 * KB, 64 * GB),
	N(spool_threshold, T_SIZE, "1M", 64 * KB, GB),
	K(spool_dir, T_STRING, ""),
	K(strip_headers, T_STRING, "X-Spam*, X-Rspamd-*, X-SPOT-*, X-Virus-Scanned, "
	    "X-Virus-Status, X-Amavis-*, X-Bogosity, X-DSPAM-*, X-CRM114-*"),
	K(reject_message, T_STRING, ""),
	E(log, "syslog", log_names),
	K(state_dir, T_STRING, "/var/lib/spot-deliver"),
	N(max_errors, T_COUNT, "10", 1, 1000000),
	N(error_time, T_COUNT, "10", 1, 86400),
	N(dead_time, T_COUNT, "300", 1, 86400),
	K(skip_networks, T_STRING, ""),
	K(skip_senders, T_STRING, ""),
	K(skip_recipients, T_STRING, ""),
	K(scan_recipients, T_STRING, ""),
};

_Static_assert(ARRAY_LEN(keys) <= CONFIG_MAX_KEYS && CONFIG_MAX_KEYS <= 64,
    "struct config's set_keys has 64 bits, one per key");

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static void
wipe(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	if (name_index(v, yes, ARRAY_LEN(yes), strcasecmp) < ARRAY_LEN(yes))
		*out = 1;
	else if (name_index(v, no, ARRAY_LEN(no), strcasecmp) < ARRAY_LEN(no))
		*out = 0;
	else
		return -1;
	return 0;
}

static const uint64_t size_factors[] = {
	1024, 1024 * 1024, 1024 * 1024 * 1024, 1024, 1024 * 1024, 1024 * 1024 * 1024,
};
#define SIZE_UNITS "KMGkmg"
static const uint64_t duration_factors[] = { 1, 60, 3600, 86400 };
#define DURATION_UNITS "smhd"

/* A number, with at most one unit letter after it: the letter's factor in
 * factors, at its place in units ("" for a plain number). */
static int
parse_scaled(const char *v, uint64_t max, const char *units,
    const uint64_t *factors, uint64_t *out)
{
	unsigned long long n;
	uint64_t mult = 1;
	const char *u;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0' && end[1] == '\0') {
		if ((u = strchr(units, *end)) == NULL)
			return -1;
		mult = factors[u - units];
		end++;
	}
	if (*end != '\0' || n > max / mult)
		return -1;
	*out = n * mult;
	return 0;
}

static int
parse_enum(const char *v, const char *const *choices, int *out)
{
	size_t n = 0, i;

	while (choices[n] != NULL)
		n++;
	if ((i = name_index(v, choices, n, strcmp)) == n)
		return -1;
	*out = (int)i;
	return 0;
}

static void
describe_choices(char *dst, size_t n, const char *const *choices)
{
	size_t used = 0;
	int i, r;

	dst[0] = '\0';
	for (i = 0; choices[i] != NULL; i++) {
		r = snprintf(dst + used, n - used, "%s%s", i ? "|" : "", choices[i]);
		if (r < 0 || (size_t)r >= n - used)
			return;
		used += (size_t)r;
	}
}

/* A size as the admin would write it: 64K, 1G, or bytes. */
static void
size_text(char *dst, size_t n, uint64_t v)
{
	if (v != 0 && v % GB == 0)
		snprintf(dst, n, "%lluG", (unsigned long long)(v / GB));
	else if (v != 0 && v % MB == 0)
		snprintf(dst, n, "%lluM", (unsigned long long)(v / MB));
	else if (v != 0 && v % KB == 0)
		snprintf(dst, n, "%lluK", (unsigned long long)(v / KB));
	else
		snprintf(dst, n, "%llu", (unsigned long long)v);
}

static int
set_number(const struct key *k, char *field, const char *value, char *err,
    size_t errlen)
{
	char lo[32], hi[32];
	uint64_t u;

	if (parse_scaled(value, k->max, k->type == T_SIZE ? SIZE_UNITS : "",
	    size_factors, &u) == 0 && u >= k->min) {
		if (k->type == T_SIZE)
			*(uint64_t *)field = u;
		else
			*(unsigned *)field = (unsigned)u;
		return 0;
	}
	switch (k->type) {
	case T_MS:
		snprintf(err, errlen, "%s: \"%s\" is not a number of milliseconds "
		    "between %llu and %llu", k->name, value,
		    (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case T_SIZE:
		size_text(lo, sizeof(lo), k->min);
		size_text(hi, sizeof(hi), k->max);
		snprintf(err, errlen, "%s: \"%s\" is not a size between %s and %s "
		    "(bytes, or with K, M or G)", k->name, value, lo, hi);
		break;
	default:
		snprintf(err, errlen, "%s: \"%s\" is not a whole number between "
		    "%llu and %llu", k->name, value, (unsigned long long)k->min,
		    (unsigned long long)k->max);
		break;
	}
	return -1;
}

static int
set_value(const struct key *k, char *field, const char *value, char *err,
    size_t errlen)
{
	const char *name = k->name;
	uint64_t u;
	double d;
	char *end, choices[128];

	switch (k->type) {
	case T_BOOL:
		if (parse_bool(value, (int *)field) == 0)
			return 0;
		snprintf(err, errlen, "%s: \"%s\" is not yes or no", name, value);
		return -1;
	case T_MS:
	case T_COUNT:
	case T_SIZE:
		return set_number(k, field, value, err, errlen);
	case T_DURATION:
		if (parse_scaled(value, CONFIG_MAX_DURATION,
		    DURATION_UNITS, duration_factors, &u) == 0) {
			*(unsigned *)field = (unsigned)u;
			return 0;
		}
		snprintf(err, errlen, "%s: \"%s\" is not a duration from 0 to 7d "
		    "(seconds, or with s, m, h or d)", name, value);
		return -1;
	case T_DOUBLE:
		errno = 0;
		d = strtod(value, &end);
		if (errno == 0 && end != value && *end == '\0' && d >= 0.0 &&
		    d <= 1.0) {
			*(double *)field = d;
			return 0;
		}
		snprintf(err, errlen, "%s: \"%s\" is not a number between 0 and 1",
		    name, value);
		return -1;
	case T_ENUM:
		if (parse_enum(value, k->choices, (int *)field) == 0)
			return 0;
		describe_choices(choices, sizeof(choices), k->choices);
		snprintf(err, errlen, "%s: \"%s\" is not one of %s", name, value,
		    choices);
		return -1;
	case T_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case T_SECRET:
		/* it goes into a request header as it is: a control character
		 * would split the header or cut it short */
		if (has_control_char(value)) {
			/* the value itself is never echoed */
			snprintf(err, errlen, "%s contains a control character (CR, "
			    "LF, TAB...)", name);
			return -1;
		}
		wipe(*(char **)field);
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	}
	return -1;
}

int
config_set_from(struct config *cfg, const char *name, const char *value,
    const char *origin, char *err, size_t errlen)
{
	const struct key *k = key_find(name);
	size_t i;

	if (k == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", name);
		return -1;
	}
	if (set_value(k, (char *)cfg + k->offset, value, err, errlen) != 0)
		return -1;
	i = (size_t)(k - keys);
	cfg->set_keys |= 1ULL << i;
	free(cfg->origin[i]);
	cfg->origin[i] = origin != NULL ? xstrdup(origin) : NULL;
	return 0;
}

int
config_set(struct config *cfg, const char *name, const char *value, char *err,
    size_t errlen)
{
	return config_set_from(cfg, name, value, NULL, err, errlen);
}

int
config_is_secret(const char *name)
{
	const struct key *k = key_find(name);

	return k != NULL && k->type == T_SECRET;
}

static int
list_has_https(const char *list)
{
	const char *p = list, *e;
	size_t n;

	while ((e = list_next(&p, ", \t", &n)) != NULL)
		if (n >= 6 && strncasecmp(e, "https:", 6) == 0)
			return 1;
	return 0;
}

int
config_uses_https(const struct config *cfg)
{
	return list_has_https(cfg->api_url) ||
	    (cfg->rspamd && list_has_https(cfg->rspamd_url));
}

int
config_init(struct config *cfg)
{
	char err[CONFIG_ERR_SIZE];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < ARRAY_LEN(keys); i++)
		if (config_set(cfg, keys[i].name, keys[i].def, err, sizeof(err)) != 0)
			return -1; /* a bad built-in default: a programming error */
	cfg->set_keys = 0;
	return 0;
}

void
config_free(struct config *cfg)
{
	size_t i;

	wipe(cfg->api_key);
	free(cfg->api_key);
	free(cfg->file);
	cfg->file = NULL;
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		free(cfg->origin[i]);
		cfg->origin[i] = NULL;
		if (keys[i].type == T_STRING || keys[i].type == T_SECRET) {
			char **p = (char **)((char *)cfg + keys[i].offset);

			if (keys[i].type == T_SECRET)
				wipe(*p);
			free(*p);
			*p = NULL;
		}
	}
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Reads one line without its newline into line (size bytes, NUL added):
 * 1, 0 at the end of the file, -1 for a line of size - 1 bytes or more. A
 * NUL byte is kept, so that the caller can refuse it. */
static int
read_line(FILE *fp, char *line, size_t size, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (n + 2 >= size)
			return -1;
		line[n++] = (char)c;
	}
	line[n] = '\0';
	*len = n;
	return c == EOF && n == 0 ? 0 : 1;
}

int
config_load_file(struct config *cfg, const char *path, int must_exist,
    char *err, size_t errlen)
{
	/* the file may hold rspamd_password: stdio buffers it here, not on
	 * the heap, and both buffers are wiped */
	char iobuf[4096], line[4096], sub[CONFIG_ERR_SIZE], where[4200];
	char *key, *value, *eq;
	unsigned lineno = 0;
	size_t len;
	FILE *fp;
	int rc = 0, r;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
	free(cfg->file);
	cfg->file = xstrdup(path);
	while ((r = read_line(fp, line, sizeof(line), &len)) != 0) {
		lineno++;
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			rc = -1;
			break;
		}
		if (memchr(line, '\0', len) != NULL) {
			snprintf(err, errlen, "%s:%u: NUL byte", path, lineno);
			rc = -1;
			break;
		}
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "%s:%u: expected \"key = value\"",
			    path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (config_set_from(cfg, key, value, where, sub, sizeof(sub)) != 0) {
			snprintf(err, errlen, "%s: %s", where, sub);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	fclose(fp);
	explicit_bzero(line, sizeof(line));
	explicit_bzero(iobuf, sizeof(iobuf));
	return rc;
}

int
config_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
	static const char prefix[] = "SPOT_DELIVER_";
	char name[64], sub[CONFIG_ERR_SIZE], where[sizeof("environment ") + 64 + 16];
	const char *eq;
	size_t i, n;

	for (; *envp != NULL; envp++) {
		if (strncmp(*envp, prefix, sizeof(prefix) - 1) != 0)
			continue;
		if ((eq = strchr(*envp, '=')) == NULL)
			continue;
		n = (size_t)(eq - *envp) - (sizeof(prefix) - 1);
		if (n == 0 || n >= sizeof(name))
			continue;
		for (i = 0; i < n; i++)
			name[i] = (char)tolower((unsigned char)(*envp)[sizeof(prefix) - 1 + i]);
		name[n] = '\0';
		snprintf(where, sizeof(where), "environment %.*s",
		    (int)(eq - *envp), *envp);
		if (config_set_from(cfg, name, eq + 1, where, sub, sizeof(sub)) != 0) {
			snprintf(err, errlen, "%s: %s", where, sub);
			return -1;
		}
	}
	return 0;
}

/* "readable and writable" for the rwx bits of one class, "" for none. */
static void
access_words(char *dst, size_t n, mode_t bits, mode_t r, mode_t w, mode_t x)
{
	const char *word[3];
	size_t k = 0;

	if (bits & r)
		word[k++] = "readable";
	if (bits & w)
		word[k++] = "writable";
	if (bits & x)
		word[k++] = "executable";
	snprintf(dst, n, "%s%s%s%s%s", k > 0 ? word[0] : "",
	    k > 2 ? ", " : k > 1 ? " and " : "", k > 1 ? word[1] : "",
	    k > 2 ? " and " : "", k > 2 ? word[2] : "");
}

static void
add_warning(char *warn, size_t warnlen, const char *text)
{
	size_t used = strlen(warn);

	snprintf(warn + used, warnlen - used, "%s%s", used ? "; " : "", text);
}

/* Says who may do what, and the mode: a group-writable key is another
 * mistake than a world-readable one. what names the file ("api_key_file
 * PATH"). */
static void
warn_secret_mode(const char *what, mode_t mode, char *warn, size_t warnlen)
{
	char group[48], others[48], text[CONFIG_ERR_SIZE];

	access_words(group, sizeof(group), mode, S_IRGRP, S_IWGRP, S_IXGRP);
	access_words(others, sizeof(others), mode, S_IROTH, S_IWOTH, S_IXOTH);
	if (strcmp(group, others) == 0)
		snprintf(text, sizeof(text), "%s has mode %04o: %s by its group "
		    "and by others (chmod 600 it)", what, (unsigned)(mode & 07777),
		    group);
	else
		snprintf(text, sizeof(text), "%s has mode %04o: %s%s%s%s%s (chmod "
		    "600 it)", what, (unsigned)(mode & 07777), group,
		    *group ? " by its group" : "", *group && *others ? ", " : "",
		    others, *others ? " by others" : "");
	add_warning(warn, warnlen, text);
}

static void
warn_key_mode(const char *file, mode_t mode, char *warn, size_t warnlen)
{
	char what[CONFIG_ERR_SIZE];

	snprintf(what, sizeof(what), "api_key_file %s", file);
	warn_secret_mode(what, mode, warn, warnlen);
}

/* rspamd_password read from the config file: the file is a key file too. */
static void
warn_password_file(const struct config *cfg, char *warn, size_t warnlen)
{
	const char *o = cfg->origin[key_find("rspamd_password") - keys];
	char what[CONFIG_ERR_SIZE];
	size_t n;
	struct stat st;

	if (*cfg->rspamd_password == '\0' || cfg->file == NULL || o == NULL)
		return;
	n = strlen(cfg->file);
	if (strncmp(o, cfg->file, n) != 0 || o[n] != ':')
		return;
	if (stat(cfg->file, &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
		return;
	snprintf(what, sizeof(what), "the config file %s holds rspamd_password "
	    "and", cfg->file);
	warn_secret_mode(what, st.st_mode, warn, warnlen);
}

/* read(2), not stdio: a FILE buffer would leave a copy of the key on the
 * heap. */
static int
read_key_file(struct config *cfg, char *err, size_t errlen, char *warn,
    size_t warnlen)
{
	char key[4096], c;
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int fd, rc = -1;

	/* O_NONBLOCK: a FIFO put there must not hang the delivery */
	if ((fd = open(cfg->api_key_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		snprintf(err, errlen, "api_key_file %s: %s", cfg->api_key_file,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "api_key_file %s: not a regular file",
		    cfg->api_key_file);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		warn_key_mode(cfg->api_key_file, st.st_mode, warn, warnlen);
	while (n < sizeof(key) - 1 &&
	    (r = read(fd, key + n, sizeof(key) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "api_key_file %s: %s", cfg->api_key_file,
			    strerror(errno));
			goto out;
		}
		n += (size_t)r;
	}
	key[n] = '\0';
	if (n == sizeof(key) - 1 && read(fd, &c, 1) == 1) {
		snprintf(err, errlen, "api_key_file %s is longer than %zu bytes",
		    cfg->api_key_file, sizeof(key) - 1);
		goto out;
	}
	if (memchr(key, '\0', n) != NULL) {
		snprintf(err, errlen, "api_key_file %s holds a NUL byte",
		    cfg->api_key_file);
		goto out;
	}
	cfg->api_key = xstrdup(trim(key));
	if (*cfg->api_key == '\0') {
		snprintf(err, errlen, "api_key_file %s is empty", cfg->api_key_file);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	explicit_bzero(key, sizeof(key));
	return rc;
}

static int
valid_key_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Puts the origin of key name, when known, in front of the message in err;
 * returns -1. */
static int
fail_at(const struct config *cfg, const char *name, char *err, size_t errlen)
{
	const char *o = cfg->origin[key_find(name) - keys];
	char msg[CONFIG_ERR_SIZE];

	if (o != NULL) {
		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s: %s", o, msg);
	}
	return -1;
}

static int
check_upstreams(const struct config *cfg, const char *key, const char *list,
    int required, enum url_kind kind, char *err, size_t errlen)
{
	char why[CONFIG_ERR_SIZE];
	struct upstream_list l;
	int rc = upstream_list_parse(list, &l);
	size_t i;

	if (rc != 0) {
		snprintf(err, errlen, "%s: more than %d servers", key, UPSTREAM_MAX);
	} else if (required && l.n == 0) {
		snprintf(err, errlen, "%s is empty", key);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < l.n; i++)
		if ((rc = url_check(l.url[i], kind, why, sizeof(why))) != 0)
			snprintf(err, errlen, "%s: %s", key, why);
	upstream_list_free(&l);
	return rc != 0 ? fail_at(cfg, key, err, errlen) : 0;
}

/* Where a delivery creates its spool files (msg.c's spool_open()), checked
 * as the effective user. */
static int
check_spool_dir(const struct config *cfg, char *err, size_t errlen)
{
	const char *dir = cfg->spool_dir;
	char label[4200];
	struct stat st;

	if (*dir != '\0')
		snprintf(label, sizeof(label), "spool_dir %s", dir);
	else if ((dir = getenv("TMPDIR")) != NULL && *dir != '\0')
		snprintf(label, sizeof(label), "TMPDIR %s (spool_dir is empty)", dir);
	else
		snprintf(label, sizeof(label), "spool_dir (empty: %s)", dir = "/tmp");
	if (stat(dir, &st) != 0)
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		snprintf(err, errlen, "%s: not a directory", label);
	else if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0)
		snprintf(err, errlen, "%s: not writable by uid %u: %s", label,
		    (unsigned)geteuid(), strerror(errno));
	else
		return 0;
	return fail_at(cfg, "spool_dir", err, errlen);
}

/* O_NONBLOCK: a FIFO put there must not hang the delivery. */
static int
check_ca_file(const struct config *cfg, char *err, size_t errlen)
{
	const char *file = cfg->api_ca_file;
	struct stat st;
	int fd;

	if (*file == '\0')
		return 0;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		snprintf(err, errlen, "api_ca_file %s: %s", file, strerror(errno));
		return fail_at(cfg, "api_ca_file", err, errlen);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "api_ca_file %s: not a regular file", file);
		close(fd);
		return fail_at(cfg, "api_ca_file", err, errlen);
	}
	close(fd);
	return 0;
}

/* Postfix bounces what waited maximal_queue_lifetime (5d by default):
 * the bound must stay well below it. */
static void
warn_defer_max_age(const struct config *cfg, char *warn, size_t warnlen)
{
	if (cfg->defer_max_age == 0)
		return;
	if (cfg->on_timeout != ON_TIMEOUT_BLOCK || cfg->mode != MODE_BLOCKING)
		add_warning(warn, warnlen, "defer_max_age is set but has no "
		    "effect without mode = blocking and on_timeout = block");
	else if (cfg->defer_max_age >= 86400)
		add_warning(warn, warnlen, "defer_max_age is 1d or more: keep it "
		    "well below the MTA's queue lifetime (Postfix "
		    "maximal_queue_lifetime, 5d by default) or the mail bounces "
		    "before it is delivered unscanned");
}

static int
was_set(const struct config *cfg, const char *name)
{
	return (cfg->set_keys >> (key_find(name) - keys)) & 1;
}

/* A connect deadline longer than the whole request's is a typo; the
 * default one is simply cut short by a smaller timeout. */
static int
check_connect_timeout(const struct config *cfg, char *err, size_t errlen)
{
	unsigned c = cfg->connect_timeout_ms;

	if (!was_set(cfg, "connect_timeout_ms"))
		return 0;
	if (cfg->rspamd && c > cfg->timeout_ms) {
		snprintf(err, errlen, "connect_timeout_ms (%u) is longer than "
		    "timeout_ms (%u)", c, cfg->timeout_ms);
		return -1;
	}
	if (*cfg->api_url != '\0' && c > cfg->analysis_timeout_ms) {
		snprintf(err, errlen, "connect_timeout_ms (%u) is longer than "
		    "analysis_timeout_ms (%u)", c, cfg->analysis_timeout_ms);
		return -1;
	}
	return 0;
}

int
config_finish(struct config *cfg, char *err, size_t errlen, char *warn,
    size_t warnlen)
{
	const char *env;

	warn[0] = '\0';
	if (*cfg->api_key_file != '\0') {
		if (read_key_file(cfg, err, errlen, warn, warnlen) != 0)
			return fail_at(cfg, "api_key_file", err, errlen);
	} else if ((env = getenv("SPOT_API_KEY")) != NULL && *env != '\0') {
		cfg->api_key = xstrdup(env);
	}
	if (cfg->api_key != NULL && !valid_key_chars(cfg->api_key)) {
		snprintf(err, errlen, "the API key contains spaces or control "
		    "characters");
		return fail_at(cfg, "api_key_file", err, errlen);
	}
	if (*cfg->api_url != '\0' && cfg->api_key == NULL) {
		snprintf(err, errlen, "api_url is set but there is no API key "
		    "(api_key_file or SPOT_API_KEY)");
		return fail_at(cfg, "api_url", err, errlen);
	}
	if (cfg->handoff && *cfg->api_url == '\0') {
		snprintf(err, errlen, "handoff needs api_url");
		return fail_at(cfg, "handoff", err, errlen);
	}
	if (skip_check_networks(cfg->skip_networks, err, errlen) != 0)
		return fail_at(cfg, "skip_networks", err, errlen);
	if (check_upstreams(cfg, "rspamd_url", cfg->rspamd_url, cfg->rspamd,
	    URL_RSPAMD, err, errlen) != 0 ||
	    check_upstreams(cfg, "api_url", cfg->api_url, 0, URL_API, err,
	    errlen) != 0 ||
	    check_spool_dir(cfg, err, errlen) != 0 ||
	    check_ca_file(cfg, err, errlen) != 0)
		return -1;
	warn_defer_max_age(cfg, warn, warnlen);
	warn_password_file(cfg, warn, warnlen);
	if (check_connect_timeout(cfg, err, errlen) != 0)
		return fail_at(cfg, "connect_timeout_ms", err, errlen);
	return 0;
}

static void
dump_key(const struct key *k, const struct config *cfg, FILE *fp)
{
	const char *field = (const char *)cfg + k->offset;
	const char *p;

	fprintf(fp, "%s = ", k->name);
	switch (k->type) {
	case T_BOOL:
		fputs(*(const int *)field ? "yes" : "no", fp);
		break;
	case T_MS:
	case T_COUNT:
		fprintf(fp, "%u", *(const unsigned *)field);
		break;
	case T_SIZE:
		fprintf(fp, "%llu", (unsigned long long)*(const uint64_t *)field);
		break;
	case T_DURATION:
		fprintf(fp, "%us", *(const unsigned *)field);
		break;
	case T_DOUBLE:
		fprintf(fp, "%g", *(const double *)field);
		break;
	case T_ENUM:
		fputs(k->choices[*(const int *)field], fp);
		break;
	case T_STRING:
		fputs(*(char *const *)field, fp);
		break;
	case T_SECRET:
		p = *(char *const *)field;
		fputs(*p ? "********" : "", fp);
		break;
	}
	fputc('\n', fp);
}

void
config_dump(const struct config *cfg, FILE *fp)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(keys); i++)
		dump_key(&keys[i], cfg, fp);
	fprintf(fp, "# api key: %s\n", cfg->api_key ? "set (masked)" : "none");
}

static int
same_value(const struct key *k, const struct config *a, const struct config *b)
{
	const char *x = (const char *)a + k->offset, *y = (const char *)b + k->offset;

	switch (k->type) {
	case T_BOOL:
	case T_ENUM:
		return *(const int *)x == *(const int *)y;
	case T_MS:
	case T_COUNT:
	case T_DURATION:
		return *(const unsigned *)x == *(const unsigned *)y;
	case T_SIZE:
		return *(const uint64_t *)x == *(const uint64_t *)y;
	case T_DOUBLE:
		return *(const double *)x == *(const double *)y;
	case T_STRING:
	case T_SECRET:
		break;
	}
	return strcmp(*(char *const *)x, *(char *const *)y) == 0;
}

void
config_dump_changed(const struct config *cfg, FILE *fp)
{
	struct config def;
	size_t i;

	config_init(&def);
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		if (same_value(&keys[i], cfg, &def))
			continue;
		if (cfg->origin[i] != NULL)
			fprintf(fp, "# %s\n", cfg->origin[i]);
		dump_key(&keys[i], cfg, fp);
	}
	config_free(&def);
}

/* Whether the variable NAME=... is one the loaders read a secret from, in
 * any spelling: config_load_env() accepts any case after the prefix. */
static int
secret_variable(const char *var)
{
	static const char prefix[] = "SPOT_DELIVER_";
	size_t i, n = strcspn(var, "=");

	if (n == sizeof("SPOT_API_KEY") - 1 &&
	    strncasecmp(var, "SPOT_API_KEY", n) == 0)
		return 1;
	if (n <= sizeof(prefix) - 1 ||
	    strncasecmp(var, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	var += sizeof(prefix) - 1;
	n -= sizeof(prefix) - 1;
	for (i = 0; i < ARRAY_LEN(keys); i++)
		if (keys[i].type == T_SECRET && strlen(keys[i].name) == n &&
		    strncasecmp(var, keys[i].name, n) == 0)
			return 1;
	return 0;
}

void
config_scrub_env(char **envp)
{
	char **src, **dst = envp;

	for (src = envp; *src != NULL; src++) {
		if (secret_variable(*src)) {
			/* /proc/PID/environ and a core show these bytes */
			wipe(*src + strcspn(*src, "="));
			continue;
		}
		*dst++ = *src;
	}
	*dst = NULL;
}

void
config_wipe_secrets(const struct config *cfg)
{
	/* the pointers stay: both are empty strings from here on */
	wipe(cfg->api_key);
	wipe(cfg->rspamd_password);
}
