/* spot-deliver: the command line. argv and the environment become a config
 * and an envelope, run() does the work, and the result becomes a sysexits
 * code here and nowhere else. Postfix's pipe(8) defers only on 75 (and 71)
 * and bounces on everything else, so every doubt, including a typo in
 * master.cf or in the config file, exits 75: the mail waits in the queue
 * while the administrator fixes it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "age.h"
#include "config.h"
#include "corelimit.h"
#include "envelope.h"
#include "log.h"
#include "run.h"
#include "selftest.h"
#include "stats.h"
#include "util.h"

extern char **environ;

enum {
	OPT_CLIENT_ADDRESS = 256, OPT_HELO, OPT_CLIENT_HOSTNAME, OPT_QUEUE_ID,
	OPT_USER, OPT_RSPAMD_URL, OPT_NO_RSPAMD, OPT_MODE, OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_ON_TIMEOUT, OPT_API_URL, OPT_API_KEY_FILE,
	OPT_API_KEY, OPT_ANALYSIS_TIMEOUT, OPT_HANDOFF, OPT_PHISHING_ACTION,
	OPT_LOG, OPT_CHECK, OPT_CHECK_CONFIG, OPT_STATS, OPT_SELFTEST,
	OPT_ARRIVAL_TIME,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "option", required_argument, NULL, 'o' },
	{ "sender", required_argument, NULL, 'f' },
	{ "recipient", required_argument, NULL, 'r' },
	{ "client-address", required_argument, NULL, OPT_CLIENT_ADDRESS },
	{ "helo", required_argument, NULL, OPT_HELO },
	{ "client-hostname", required_argument, NULL, OPT_CLIENT_HOSTNAME },
	{ "queue-id", required_argument, NULL, OPT_QUEUE_ID },
	{ "user", required_argument, NULL, OPT_USER },
	{ "arrival-time", required_argument, NULL, OPT_ARRIVAL_TIME },
	{ "rspamd-url", required_argument, NULL, OPT_RSPAMD_URL },
	{ "no-rspamd", no_argument, NULL, OPT_NO_RSPAMD },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "on-timeout", required_argument, NULL, OPT_ON_TIMEOUT },
	{ "api-url", required_argument, NULL, OPT_API_URL },
	{ "api-key-file", required_argument, NULL, OPT_API_KEY_FILE },
	{ "api-key", required_argument, NULL, OPT_API_KEY },
	{ "analysis-timeout-ms", required_argument, NULL, OPT_ANALYSIS_TIMEOUT },
	{ "handoff", no_argument, NULL, OPT_HANDOFF },
	{ "phishing-action", required_argument, NULL, OPT_PHISHING_ACTION },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "selftest", no_argument, NULL, OPT_SELFTEST },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Options that are config keys: applied after the file and the environment. */
static const struct {
	int opt;
	const char *key;
	const char *value;  /* fixed value for a flag, NULL: the argument */
} key_options[] = {
	{ OPT_RSPAMD_URL, "rspamd_url", NULL },
	{ OPT_NO_RSPAMD, "rspamd", "no" },
	{ OPT_MODE, "mode", NULL },
	{ OPT_TIMEOUT, "timeout_ms", NULL },
	{ OPT_CONNECT_TIMEOUT, "connect_timeout_ms", NULL },
	{ OPT_ON_TIMEOUT, "on_timeout", NULL },
	{ OPT_API_URL, "api_url", NULL },
	{ OPT_API_KEY_FILE, "api_key_file", NULL },
	{ OPT_ANALYSIS_TIMEOUT, "analysis_timeout_ms", NULL },
	{ OPT_HANDOFF, "handoff", "yes" },
	{ OPT_PHISHING_ACTION, "phishing_action", NULL },
	{ OPT_LOG, "log", NULL },
};

struct setting {
	char *key;
	char *value;
};

struct cli {
	const char *config_file;
	int config_explicit;
	struct setting *settings;
	size_t nsettings;
	struct envelope env;
	char *const *lda;
	int check;
	int check_config;
	int changed_only;   /* -n: with --check-config, only what differs */
	int stats;
	int selftest;
	int filter_mode;    /* stdout carries the message: status lines go to stderr */
	int stdout_closed;  /* at start: filter mode would deliver into /dev/null */
	int slip;           /* c->error is a slip in a delivery's argv: 75 */
	char error[CONFIG_ERR_SIZE];
};

static void
usage(FILE *fp)
{
	fputs("usage: spot-deliver [OPTIONS] [--] [LDA [ARG...]]\n"
	    "Scans the message on stdin with Rspamd and the SPOT API, adds X-Spam-*\n"
	    "and X-SPOT-* headers and execs LDA on it (or writes it to stdout).\n\n"
	    "  -c, --config FILE          config file (default " CONFIG_DEFAULT_FILE ")\n"
	    "  -o, --option KEY=VALUE     set any config key\n"
	    "  -f, --sender ADDR          envelope sender\n"
	    "  -r, --recipient ADDR       envelope recipient (repeatable)\n"
	    "      --client-address IP, --helo NAME, --client-hostname NAME,\n"
	    "      --queue-id ID, --user NAME\n"
	    "      --arrival-time T       when the MTA received it (epoch seconds\n"
	    "                             or an RFC 5322 date), for defer_max_age\n"
	    "      --rspamd-url URL       default http://127.0.0.1:11333, or unix:/path\n"
	    "      --no-rspamd            do not ask Rspamd\n"
	    "      --mode MODE            blocking (default) or tag-only\n"
	    "      --timeout-ms N         Rspamd deadline (default 5000)\n"
	    "      --connect-timeout-ms N connect deadline (default 1000)\n"
	    "      --on-timeout POLICY    allow (default) or block\n"
	    "      --api-url URL          SPOT API ingest URL (default: off)\n"
	    "      --api-key-file FILE    file holding the API key (or SPOT_API_KEY)\n"
	    "      --analysis-timeout-ms N  API deadline incl. polling (default 10000)\n"
	    "      --phishing-action A    tag (default), defer or reject\n"
	    "      --handoff              the API's 2xx answer is the delivery\n"
	    "      --log SINK             syslog (default), stderr or none\n"
	    "      --check                print the verdict as JSON, deliver nothing\n"
	    "      --check-config         print the effective settings and exit\n"
	    "  -n                         with --check-config: only the settings that\n"
	    "                             differ from the defaults, and where each is set\n"
	    "      --stats                print the counters (Prometheus text format)\n"
	    "      --selftest             probe every server and the LDA, deliver nothing\n"
	    "  -v, --verbose              each step with its time on stderr\n"
	    "  -V, --version              print the version\n"
	    "  -h, --help                 print this help\n"
	    "Exit: 0 delivered, 65 bad input, 75 try again later, 77 rejected;\n"
	    "78 bad config from --check-config, 69 a failed --selftest check,\n"
	    "74 --stats could not read the counters, or --check-config or --stats\n"
	    "could not write their output.\n"
	    "See spot-deliver(1) and spot-deliver.conf(5).\n", fp);
}

static void
add_setting(struct cli *c, const char *key, const char *value)
{
	c->settings = xreallocarray(c->settings, c->nsettings + 1,
	    sizeof(*c->settings));
	c->settings[c->nsettings].key = xstrdup(key);
	c->settings[c->nsettings].value = xstrdup(value);
	c->nsettings++;
}

static void
add_key_value(struct cli *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *key;

	if (eq == NULL || eq == kv) {
		snprintf(c->error, sizeof(c->error), "-o %s: expected KEY=VALUE", kv);
		return;
	}
	key = xstrndup(kv, (size_t)(eq - kv));
	if (config_is_secret(key))
		snprintf(c->error, sizeof(c->error), "-o %s is refused: a secret in "
		    "argv is visible to every user in ps(1); put it in the config "
		    "file or the environment", key);
	else
		add_setting(c, key, eq + 1);
	free(key);
}

static int
key_option(struct cli *c, int opt, const char *arg)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(key_options); i++) {
		if (key_options[i].opt == opt) {
			add_setting(c, key_options[i].key,
			    key_options[i].value ? key_options[i].value : arg);
			return 1;
		}
	}
	return 0;
}

static void
add_recipient(struct cli *c, const char *addr)
{
	c->env.rcpt = xreallocarray(c->env.rcpt, c->env.nrcpt + 1,
	    sizeof(*c->env.rcpt));
	c->env.rcpt[c->env.nrcpt++] = addr;
}

static void
arrival_time(struct cli *c, const char *arg)
{
	if (age_parse_time(arg, &c->env.arrival_time) != 0 && c->error[0] == '\0')
		snprintf(c->error, sizeof(c->error), "--arrival-time %s: neither "
		    "seconds since the epoch nor an RFC 5322 date", arg);
}

/* A careless master.cf must not exit 0 without a delivery: these slips
 * defer (75) whatever else is on the line. */
static void
slip(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
slip(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	if (c->slip)
		return;
	c->slip = 1;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

/* "--" that getopt took as the end of the options, not an option's
 * argument ("-f --"). */
static int
ends_options(char **argv, int ind, const char *last_arg)
{
	return ind > 1 && strcmp(argv[ind - 1], "--") == 0 &&
	    argv[ind - 1] != last_arg;
}

static void
check_slips(struct cli *c, int argc, char **argv, int info, int info_opt,
    const char *last_arg)
{
	int envelope = c->env.sender != NULL || c->env.nrcpt > 0 ||
	    c->env.queue_id != NULL || c->env.client_address != NULL ||
	    c->env.helo != NULL || c->env.client_hostname != NULL ||
	    c->env.user != NULL || c->env.arrival_time != 0;

	if (info && argc > 2)
		slip(c, "%s goes alone: with other arguments it is a slip%s",
		    argv[info], info_opt == 'h' ? " (the HELO name is --helo NAME)" : "");
	else if (optind == argc && ends_options(argv, optind, last_arg))
		slip(c, "\"--\" but no delivery agent after it");
	else if (c->check && c->lda != NULL)
		slip(c, "--check delivers nothing, but the delivery agent \"%s\" "
		    "was given", c->lda[0]);
	else if ((c->check_config || c->stats || c->selftest) && envelope)
		slip(c, "--check-config, --stats and --selftest deliver nothing "
		    "and take no envelope (-f, -r, --queue-id, ...)");
}

/* Returns -1 to exit 0 at once (--help, --version alone); errors go to
 * c->error, so that --check-config anywhere on the line still decides the
 * exit code, unless they are slips. */
static int
parse_args(struct cli *c, int argc, char **argv)
{
	const char *last_arg = NULL;
	int opt, info = 0, info_opt = 0;

	c->config_file = CONFIG_DEFAULT_FILE;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:o:f:r:nvVh", long_options,
	    NULL)) != -1) {
		last_arg = optarg;
		if (key_option(c, opt, optarg))
			continue;
		switch (opt) {
		case 'c': c->config_file = optarg; c->config_explicit = 1; break;
		case 'o': add_key_value(c, optarg); break;
		case 'f': c->env.sender = optarg; break;
		case 'r': add_recipient(c, optarg); break;
		case OPT_CLIENT_ADDRESS: c->env.client_address = optarg; break;
		case OPT_HELO: c->env.helo = optarg; break;
		case OPT_CLIENT_HOSTNAME: c->env.client_hostname = optarg; break;
		case OPT_QUEUE_ID: c->env.queue_id = optarg; break;
		case OPT_USER: c->env.user = optarg; break;
		case OPT_ARRIVAL_TIME: arrival_time(c, optarg); break;
		case OPT_CHECK: c->check = 1; break;
		case OPT_CHECK_CONFIG: c->check_config = 1; break;
		case 'n': c->changed_only = 1; break;
		case OPT_STATS: c->stats = 1; break;
		case OPT_SELFTEST: c->selftest = 1; break;
		case 'v': log_set_verbose(); break;
		case OPT_API_KEY:
			snprintf(c->error, sizeof(c->error), "--api-key is refused: "
			    "a key in argv is visible to every user in ps(1); put it "
			    "in api_key_file (mode 600) or SPOT_API_KEY");
			break;
		case 'V':
		case 'h':
			if (info == 0) {
				info = optind - 1;
				info_opt = opt;
			}
			break;
		default:
			if (c->error[0] == '\0')
				snprintf(c->error, sizeof(c->error), "%s %s; see "
				    "spot-deliver --help", optopt ? "bad option or "
				    "missing argument at" : "unknown option",
				    argv[optind - 1]);
			break;
		}
	}
	if (optind < argc)
		c->lda = argv + optind;
	check_slips(c, argc, argv, info, info_opt, last_arg);
	if (!c->slip && info != 0) {
		if (info_opt == 'h')
			usage(stdout);
		else
			printf("spot-deliver %s\n", VERSION);
		return -1;
	}
	if (c->changed_only && !c->check_config && c->error[0] == '\0')
		snprintf(c->error, sizeof(c->error), "-n goes only with "
		    "--check-config (an option of the LDA goes after its name, "
		    "or after \"--\")");
	return 0;
}

/* A broken config file or command line still honours --log (and -o log=):
 * the detail of the error must reach the log the administrator asked for. */
static void
log_setting(const struct cli *c, struct config *cfg)
{
	char err[CONFIG_ERR_SIZE];
	size_t i;

	for (i = 0; i < c->nsettings; i++)
		if (strcmp(c->settings[i].key, "log") == 0)
			(void)config_set(cfg, "log", c->settings[i].value, err,
			    sizeof(err));
}

static int
load_config(struct cli *c, struct config *cfg, char *warn, size_t warnlen)
{
	char err[CONFIG_ERR_SIZE];
	size_t i;

	if (config_load_file(cfg, c->config_file, c->config_explicit, err,
	    sizeof(err)) != 0 || config_load_env(cfg, environ, err, sizeof(err)) != 0)
		goto fail;
	for (i = 0; i < c->nsettings; i++) {
		if (config_set_from(cfg, c->settings[i].key, c->settings[i].value,
		    "command line", err, sizeof(err)) != 0) {
			snprintf(c->error, sizeof(c->error), "command line: %s", err);
			return -1;
		}
	}
	if (config_finish(cfg, err, sizeof(err), warn, warnlen) != 0)
		goto fail;
	log_verbose("config %s read", c->config_file);
	return 0;
fail:
	snprintf(c->error, sizeof(c->error), "%s", err);
	return -1;
}

/* A closed 0, 1 or 2 would be reused by the spool file or a socket: they
 * get /dev/null. Returns whether stdout was closed. */
static int
open_std_fds(void)
{
	int fd, stdout_closed = fcntl(STDOUT_FILENO, F_GETFD) < 0;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	return stdout_closed;
}

static void
on_signal(int sig)
{
	static const char msg[] = "4.3.0 spot-deliver: interrupted by a signal\n";

	(void)sig;
	/* Nothing to clean: spool files are unlinked from the start, and a
	 * delivery agent that was started has replaced this process. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(EX_TEMPFAIL);
	_exit(EX_TEMPFAIL);
}

static void
on_out_of_memory(void)
{
	static const char msg[] = "4.3.0 spot-deliver: out of memory\n";

	/* write(2) only: stdio may itself need memory. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(EX_TEMPFAIL);
	_exit(EX_TEMPFAIL);
}

static void
set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* a write beyond RLIMIT_FSIZE fails with EFBIG (and defers) instead
	 * of killing us */
	sigaction(SIGXFSZ, &sa, NULL);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* a state file shortened under its map, outside the guarded writes */
	sigaction(SIGBUS, &sa, NULL);
}

/* The line the MTA reads: stdout for Postfix's pipe(8) (LDA and hand-off
 * modes), but stderr in filter mode where stdout is the message. */
static void
status_line(const struct cli *c, const char *line)
{
	FILE *fp = c->filter_mode ? stderr : stdout;

	fprintf(fp, "%s\n", line);
	fflush(fp);
}

static int
exit_code(enum run_kind kind)
{
	switch (kind) {
	case RUN_DELIVERED:
	case RUN_CHECKED:
		return EX_OK;
	case RUN_DATAERR:
		return EX_DATAERR;
	case RUN_REJECTED:
		return EX_NOPERM;
	case RUN_TEMPFAIL:
		break;
	}
	return EX_TEMPFAIL;
}

static void
cli_free(struct cli *c)
{
	size_t i;

	for (i = 0; i < c->nsettings; i++) {
		free(c->settings[i].key);
		free(c->settings[i].value);
	}
	free(c->settings);
	free(c->env.rcpt);
}

static int
print_stats(const struct config *cfg)
{
	char why[600] = "";

	/* a state_dir or a file not there yet: no delivery counted, all 0 */
	if (stats_print(cfg, stdout, why, sizeof(why)) == 0 && fflush(stdout) == 0) {
		if (why[0] != '\0')
			fprintf(stderr, "spot-deliver: --stats: %s: counted as 0\n", why);
		return EX_OK;
	}
	if (ferror(stdout))
		snprintf(why, sizeof(why), "cannot write to standard output");
	fprintf(stderr, "spot-deliver: --stats: %s\n", why);
	return EX_IOERR;
}

/* The settings, after the file they came from; a state_dir that
 * deliveries cannot use is a warning, not an error: they work without. */
static int
check_config(const struct cli *c, const struct config *cfg)
{
	if (cfg->file != NULL)
		printf("# read %s\n", cfg->file);
	else
		printf("# no config file: %s does not exist, built-in defaults\n",
		    c->config_file);
	if (c->changed_only)
		config_dump_changed(cfg, stdout);
	else
		config_dump(cfg, stdout);
	selftest_state_dir_warning(cfg, stderr);
	return fflush(stdout) == 0 && !ferror(stdout) ? EX_OK : EX_IOERR;
}

/* --check-config, --stats, --selftest: tools for people and scripts, not
 * deliveries, so their errors are not turned into 75. */
static int
run_tool(const struct cli *c, const struct config *cfg)
{
	if (c->error[0] != '\0') {
		fprintf(stderr, "spot-deliver: %s\n", c->error);
		return EX_CONFIG;
	}
	if (c->stats)
		return print_stats(cfg);
	if (c->selftest)
		return selftest_run(cfg, c->lda, stdout) == 0 ? EX_OK : EX_UNAVAILABLE;
	return check_config(c, cfg);
}

/* The status line goes into bounces to outside senders: the detail
 * (file, line, path) only to the log. */
static int
run_delivery(const struct cli *c, const struct config *cfg)
{
	struct run_result res;
	struct run_opts ro;
	int rc;

	if (c->error[0] != '\0') {
		log_error("4.3.5 %s", c->error);
		status_line(c, "4.3.5 Mail system configuration error");
		return EX_TEMPFAIL;
	}
	if (c->filter_mode && !c->check && c->stdout_closed) {
		log_error("4.3.0 standard output is closed: nowhere to write the "
		    "message");
		status_line(c, "4.3.0 Local delivery failed, try again later");
		return EX_TEMPFAIL;
	}
	ro = (struct run_opts){ cfg, c->env, c->lda, c->check, STDIN_FILENO,
	    exit_code };
	run(&ro, &res);
	if ((rc = exit_code(res.kind)) != EX_OK)
		status_line(c, res.status);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli c = { 0 };
	struct config cfg;
	char warn[CONFIG_ERR_SIZE] = "";
	int rc = EX_OK, tool;

	set_out_of_memory(on_out_of_memory);
	core_limit_drop();
	c.stdout_closed = open_std_fds();
	set_signals();
	if (config_init(&cfg) != 0) {
		fputs("4.3.0 spot-deliver: a built-in default is refused\n", stderr);
		return EX_TEMPFAIL;
	}
	if (parse_args(&c, argc, argv) == 0) {
		if (c.error[0] == '\0' && load_config(&c, &cfg, warn, sizeof(warn)) == 0 &&
		    cfg.handoff && c.lda != NULL)
			/* Postfix repeats "-r ${recipient}"'s second word per recipient */
			snprintf(c.error, sizeof(c.error), "--handoff takes no delivery "
			    "agent, but \"%s\" was given (several recipients? use "
			    "--recipient=${recipient} or a recipient limit of 1)", c.lda[0]);
		else if (c.error[0] != '\0')
			log_setting(&c, &cfg);
		config_scrub_env(environ);
		c.filter_mode = c.lda == NULL && !cfg.handoff;
		tool = (c.check_config || c.stats || c.selftest) && !c.slip;
		log_open(tool ? LOG_SINK_STDERR : cfg.log);
		if (!tool)
			log_set_queue_id(c.env.queue_id);
		if (warn[0] != '\0')
			log_warn("%s", warn);
		rc = tool ? run_tool(&c, &cfg) : run_delivery(&c, &cfg);
	}
	config_free(&cfg);
	cli_free(&c);
	return rc;
}
