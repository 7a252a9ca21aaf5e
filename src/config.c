#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "skip.h"
#include "upstream.h"
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
};

static const char *const mode_names[] = { "blocking", "tag-only", NULL };
static const char *const on_timeout_names[] = { "allow", "block", NULL };
static const char *const phishing_names[] = { "tag", "defer", "reject", NULL };
static const char *const log_names[] = { "syslog", "stderr", "none", NULL };

#define K(name, type, def) { #name, type, offsetof(struct config, name), def, NULL }
#define E(name, def, choices) { #name, T_ENUM, offsetof(struct config, name), def, choices }

static const struct key keys[] = {
	K(rspamd, T_BOOL, "yes"),
	K(rspamd_url, T_STRING, "http://127.0.0.1:11333"),
	K(rspamd_password, T_SECRET, ""),
	K(timeout_ms, T_MS, "5000"),
	K(connect_timeout_ms, T_MS, "1000"),
	E(mode, "blocking", mode_names),
	E(on_timeout, "allow", on_timeout_names),
	K(defer_max_age, T_DURATION, "0"),
	K(api_url, T_STRING, ""),
	K(api_key_file, T_STRING, ""),
	K(analysis_timeout_ms, T_MS, "10000"),
	K(poll_interval_ms, T_MS, "500"),
	E(phishing_action, "tag", phishing_names),
	K(phishing_min_confidence, T_DOUBLE, "0.0"),
	K(api_ca_file, T_STRING, ""),
	K(api_tls_verify, T_BOOL, "yes"),
	K(handoff, T_BOOL, "no"),
	K(spam_lda_args, T_STRING, ""),
	K(phishing_lda_args, T_STRING, ""),
	K(unscanned_lda_args, T_STRING, ""),
	K(scan_max_size, T_SIZE, "20M"),
	K(max_size, T_SIZE, "512M"),
	K(spool_threshold, T_SIZE, "1M"),
	K(spool_dir, T_STRING, ""),
	K(strip_headers, T_STRING, "X-Spam*, X-Rspamd-*, X-SPOT-*, X-Virus-Scanned, "
	    "X-Virus-Status, X-Amavis-*, X-Bogosity, X-DSPAM-*, X-CRM114-*"),
	K(reject_message, T_STRING, ""),
	E(log, "syslog", log_names),
	K(state_dir, T_STRING, "/var/lib/spot-deliver"),
	K(max_errors, T_COUNT, "10"),
	K(error_time, T_COUNT, "10"),
	K(dead_time, T_COUNT, "300"),
	K(skip_networks, T_STRING, ""),
	K(skip_senders, T_STRING, ""),
	K(skip_recipients, T_STRING, ""),
	K(scan_recipients, T_STRING, ""),
};

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
parse_uint(const char *v, uint64_t max, uint64_t *out, int suffixes)
{
	unsigned long long n;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (suffixes && *end != '\0' && end[1] == '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1024; break;
		case 'M': mult = 1024 * 1024; break;
		case 'G': mult = 1024 * 1024 * 1024; break;
		default: return -1;
		}
		end++;
	}
	if (*end != '\0' || n > max / mult)
		return -1;
	*out = n * mult;
	return 0;
}

/* Seconds, or a number with s, m, h or d. */
static int
parse_duration(const char *v, uint64_t max, uint64_t *out)
{
	unsigned long long n;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -1;
		}
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
	int i;

	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(v, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
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

int
config_set(struct config *cfg, const char *name, const char *value, char *err,
    size_t errlen)
{
	const struct key *k = key_find(name);
	char *field;
	uint64_t u;
	double d;
	char *end, choices[128];

	if (k == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", name);
		return -1;
	}
	field = (char *)cfg + k->offset;
	switch (k->type) {
	case T_BOOL:
		if (parse_bool(value, (int *)field) == 0)
			return 0;
		snprintf(err, errlen, "%s: \"%s\" is not yes or no", name, value);
		return -1;
	case T_MS:
		if (parse_uint(value, 24U * 3600 * 1000, &u, 0) == 0 && u > 0) {
			*(unsigned *)field = (unsigned)u;
			return 0;
		}
		snprintf(err, errlen, "%s: \"%s\" is not a number of milliseconds "
		    "between 1 and 86400000", name, value);
		return -1;
	case T_COUNT:
		if (parse_uint(value, 1000000000, &u, 0) == 0 && u > 0) {
			*(unsigned *)field = (unsigned)u;
			return 0;
		}
		snprintf(err, errlen, "%s: \"%s\" is not a whole number between 1 "
		    "and 1000000000", name, value);
		return -1;
	case T_SIZE:
		if (parse_uint(value, UINT64_MAX, &u, 1) == 0) {
			*(uint64_t *)field = u;
			return 0;
		}
		snprintf(err, errlen, "%s: \"%s\" is not a size (bytes, or with "
		    "K, M or G)", name, value);
		return -1;
	case T_DURATION:
		if (parse_duration(value, CONFIG_MAX_DURATION, &u) == 0) {
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
	case T_SECRET:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	}
	return -1;
}

int
config_is_secret(const char *name)
{
	const struct key *k = key_find(name);

	return k != NULL && k->type == T_SECRET;
}

void
config_init(struct config *cfg)
{
	char err[CONFIG_ERR_SIZE];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < ARRAY_LEN(keys); i++)
		if (config_set(cfg, keys[i].name, keys[i].def, err, sizeof(err)) != 0)
			abort(); /* a bad built-in default is a programming error */
}

static void
wipe(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

void
config_free(struct config *cfg)
{
	size_t i;

	wipe(cfg->api_key);
	free(cfg->api_key);
	for (i = 0; i < ARRAY_LEN(keys); i++) {
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

int
config_load_file(struct config *cfg, const char *path, int must_exist,
    char *err, size_t errlen)
{
	char line[4096], sub[CONFIG_ERR_SIZE];
	char *key, *value, *eq;
	unsigned lineno = 0;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
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
		if (config_set(cfg, key, value, sub, sizeof(sub)) != 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, sub);
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
	return rc;
}

int
config_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
	static const char prefix[] = "SPOT_DELIVER_";
	char name[64], sub[CONFIG_ERR_SIZE];
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
		if (config_set(cfg, name, eq + 1, sub, sizeof(sub)) != 0) {
			snprintf(err, errlen, "environment %.*s: %s",
			    (int)(eq - *envp), *envp, sub);
			return -1;
		}
	}
	return 0;
}

static int
read_key_file(struct config *cfg, char *err, size_t errlen, char *warn,
    size_t warnlen)
{
	char key[4096];
	struct stat st;
	size_t n;
	FILE *fp;

	if ((fp = fopen(cfg->api_key_file, "r")) == NULL) {
		snprintf(err, errlen, "api_key_file %s: %s", cfg->api_key_file,
		    strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		snprintf(warn, warnlen, "api_key_file %s is readable by group or "
		    "others (chmod 600 it)", cfg->api_key_file);
	n = fread(key, 1, sizeof(key) - 1, fp);
	fclose(fp);
	key[n] = '\0';
	cfg->api_key = xstrdup(trim(key));
	explicit_bzero(key, sizeof(key));
	if (*cfg->api_key == '\0') {
		snprintf(err, errlen, "api_key_file %s is empty", cfg->api_key_file);
		return -1;
	}
	return 0;
}

static int
valid_key_chars(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
check_upstreams(const char *key, const char *list, int required, char *err,
    size_t errlen)
{
	struct upstream_list l;
	int rc = upstream_list_parse(list, &l);

	if (rc != 0) {
		snprintf(err, errlen, "%s: more than %d servers", key, UPSTREAM_MAX);
	} else if (required && l.n == 0) {
		snprintf(err, errlen, "%s is empty", key);
		rc = -1;
	}
	upstream_list_free(&l);
	return rc;
}

static void
add_warning(char *warn, size_t warnlen, const char *text)
{
	size_t used = strlen(warn);

	snprintf(warn + used, warnlen - used, "%s%s", used ? "; " : "", text);
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

int
config_finish(struct config *cfg, char *err, size_t errlen, char *warn,
    size_t warnlen)
{
	const char *env;

	warn[0] = '\0';
	if (*cfg->api_key_file != '\0') {
		if (read_key_file(cfg, err, errlen, warn, warnlen) != 0)
			return -1;
	} else if ((env = getenv("SPOT_API_KEY")) != NULL && *env != '\0') {
		cfg->api_key = xstrdup(env);
	}
	if (cfg->api_key != NULL && !valid_key_chars(cfg->api_key)) {
		snprintf(err, errlen, "the API key contains spaces or control "
		    "characters");
		return -1;
	}
	if (*cfg->api_url != '\0' && cfg->api_key == NULL) {
		snprintf(err, errlen, "api_url is set but there is no API key "
		    "(api_key_file or SPOT_API_KEY)");
		return -1;
	}
	if (cfg->handoff && *cfg->api_url == '\0') {
		snprintf(err, errlen, "handoff needs api_url");
		return -1;
	}
	if (skip_check_networks(cfg->skip_networks, err, errlen) != 0 ||
	    check_upstreams("rspamd_url", cfg->rspamd_url, cfg->rspamd, err, errlen) != 0 ||
	    check_upstreams("api_url", cfg->api_url, 0, err, errlen) != 0)
		return -1;
	if (cfg->spool_threshold < 64 * 1024) {
		snprintf(err, errlen, "spool_threshold must be at least 64K");
		return -1;
	}
	warn_defer_max_age(cfg, warn, warnlen);
	return 0;
}

void
config_dump(const struct config *cfg, FILE *fp)
{
	const char *p;
	size_t i;

	for (i = 0; i < ARRAY_LEN(keys); i++) {
		const struct key *k = &keys[i];
		const char *field = (const char *)cfg + k->offset;

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
	fprintf(fp, "# api key: %s\n", cfg->api_key ? "set (masked)" : "none");
}

void
config_scrub_env(void)
{
	char name[64];
	size_t i, j;

	unsetenv("SPOT_API_KEY");
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		if (keys[i].type != T_SECRET)
			continue;
		snprintf(name, sizeof(name), "SPOT_DELIVER_%s", keys[i].name);
		for (j = sizeof("SPOT_DELIVER_") - 1; name[j] != '\0'; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		unsetenv(name);
	}
}

static struct rlimit saved_core;
static int core_limited;

void
config_protect_secrets(const struct config *cfg)
{
	struct rlimit none = { 0, 0 };

	if (cfg->api_key == NULL && *cfg->rspamd_password == '\0')
		return;
	if (getrlimit(RLIMIT_CORE, &saved_core) != 0)
		return;
	none.rlim_max = saved_core.rlim_max;
	core_limited = setrlimit(RLIMIT_CORE, &none) == 0;
}

void
config_restore_core_limit(void)
{
	if (core_limited)
		setrlimit(RLIMIT_CORE, &saved_core);
	core_limited = 0;
}
