/* The effective settings of one run. Every key can come from the built-in
 * defaults, the config file, the environment (SPOT_DELIVER_<KEY>) or the
 * command line, in that order of precedence; config_set() is the one place a
 * value is parsed, whatever its origin. */
#ifndef SPOT_CONFIG_H
#define SPOT_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

enum mode { MODE_BLOCKING, MODE_TAG_ONLY };
enum on_timeout { ON_TIMEOUT_ALLOW, ON_TIMEOUT_BLOCK };
enum phishing_action { PHISH_TAG, PHISH_DEFER, PHISH_REJECT };
enum log_sink { LOG_SINK_SYSLOG, LOG_SINK_STDERR, LOG_SINK_NONE };

#define CONFIG_MAX_KEYS 64

struct config {
	int rspamd;
	char *rspamd_url;
	char *rspamd_password;
	unsigned timeout_ms;
	unsigned connect_timeout_ms;
	int mode;
	int on_timeout;
	unsigned defer_max_age;  /* seconds; 0: failures defer for ever */
	char *api_url;
	char *api_key_file;
	unsigned analysis_timeout_ms;
	unsigned poll_interval_ms;
	int phishing_action;
	double phishing_min_confidence;
	char *api_ca_file;
	int api_tls_verify;
	int handoff;
	char *spam_lda_args;
	char *phishing_lda_args;
	char *unscanned_lda_args;
	uint64_t scan_max_size;
	uint64_t max_size;
	uint64_t spool_threshold;
	char *spool_dir;
	char *strip_headers;
	char *reject_message;
	int log;
	char *state_dir;
	unsigned max_errors;
	unsigned error_time;   /* seconds */
	unsigned dead_time;    /* seconds */
	char *skip_networks;
	char *skip_senders;
	char *skip_recipients;
	char *scan_recipients;

	/* Not a key: read from api_key_file or SPOT_API_KEY. */
	char *api_key;
	/* Which keys were given (file, environment, command line): bit i is
	 * the i-th key of config.c's table, origin[i] where it was given
	 * ("FILE:LINE", "environment NAME", "command line"; NULL: unknown). */
	uint64_t set_keys;
	char *origin[CONFIG_MAX_KEYS];
	/* The config file read, NULL when there was none. */
	char *file;
};

#ifndef SYSCONFDIR
#error "SYSCONFDIR, the directory of spot-deliver.conf, comes from the Makefile"
#endif
#define CONFIG_DEFAULT_FILE SYSCONFDIR "/spot-deliver.conf"
#define CONFIG_ERR_SIZE 512
/* defer_max_age's upper bound, seconds: the first-deferral memory keeps
 * its entries longer than this. */
#define CONFIG_MAX_DURATION (7U * 86400)

/* The built-in defaults; -1 when one is refused (a programming error). */
int config_init(struct config *cfg);
void config_free(struct config *cfg);

/* Each returns 0, or -1 with a message in err that names where and what. */
int config_set(struct config *cfg, const char *key, const char *value,
    char *err, size_t errlen);
/* The same, remembering origin (see struct config) for the messages of
 * config_finish() and for config_dump_changed(). */
int config_set_from(struct config *cfg, const char *key, const char *value,
    const char *origin, char *err, size_t errlen);
/* A secret (rspamd_password) is refused on the command line: ps(1) shows argv. */
int config_is_secret(const char *name);
/* Whether a request can go over https: an https:// URL in api_url, or in
 * rspamd_url with rspamd on. */
int config_uses_https(const struct config *cfg);
int config_load_file(struct config *cfg, const char *path, int must_exist,
    char *err, size_t errlen);
int config_load_env(struct config *cfg, char *const *envp, char *err,
    size_t errlen);
/* Reads the API key (file, else SPOT_API_KEY) and checks everything that
 * can be checked without sending mail: each URL of rspamd_url and api_url,
 * that spool_dir is a writable directory and api_ca_file a readable file,
 * that the settings make sense together. A message starts with the origin
 * of the key at fault. warn receives a warning (key file open to others). */
int config_finish(struct config *cfg, char *err, size_t errlen,
    char *warn, size_t warnlen);

/* Removes every variable a secret can be read from (SPOT_API_KEY and
 * SPOT_DELIVER_RSPAMD_PASSWORD, in any letter case) from envp, environ for
 * the LDA, and wipes their values in place. */
void config_scrub_env(char **envp);
/* Once the last request is sent: the API key and rspamd_password are wiped
 * in place (they become empty strings), so that no copy of the process
 * memory made later (the copy for the LDA, a core) holds them. */
void config_wipe_secrets(const struct config *cfg);

/* Prints every key = value, secrets masked. */
void config_dump(const struct config *cfg, FILE *fp);
/* Prints only the keys whose value differs from the built-in default, each
 * after a comment line with its origin (like postconf -n). */
void config_dump_changed(const struct config *cfg, FILE *fp);

#endif
