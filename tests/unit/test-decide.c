/* decide.c: decide() over every combination of mode, on_timeout,
 * phishing_action, defer_max_age and age, Rspamd answer and API answer,
 * checked against an oracle
 * written from the rules (docs/design.md, decide.h); then decide_headers(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decide.h"
#include "tap.h"

enum rsp {
	R_OFF, R_SKIPPED, R_FAILED, R_NO_ACTION, R_GREYLIST, R_ADD_HEADER,
	R_REWRITE_SUBJECT, R_SOFT_REJECT, R_REJECT, R_REJECT_NO_MESSAGE,
	R_UNKNOWN_ACTION, R_COUNT, R_SOFT_REJECT_NO_MESSAGE = R_COUNT
};
static const char *const rsp_names[] = { "rspamd off", "rspamd skipped",
	"rspamd failed", "no action", "greylist", "add header", "rewrite subject",
	"soft reject", "reject", "reject without smtp_message", "unknown action",
	"soft reject without smtp_message" };

enum api {
	A_OFF, A_SKIPPED, A_PHISH_HIGH, A_PHISH_EDGE, A_PHISH_LOW, A_CLEAN,
	A_PENDING, A_FAILED, A_AUTH, A_REJECTED, A_TIMEOUT, A_COUNT
};
static const char *const api_names[] = { "api off", "api skipped",
	"phishing 0.91", "phishing 0.5 (= min)", "phishing 0.49 (< min)",
	"clean 0.97", "pending", "api failed", "api auth", "api rejected",
	"api timeout" };

#define MIN_CONFIDENCE "0.5"

static const char *const rspamd_json[] = {
	[R_NO_ACTION] = "{\"action\":\"no action\",\"score\":1.5,\"required_score\":15,"
	    "\"symbols\":{\"MIME_GOOD\":{\"name\":\"MIME_GOOD\",\"score\":-0.1}}}",
	[R_GREYLIST] = "{\"action\":\"greylist\",\"score\":4.5,\"required_score\":15,"
	    "\"messages\":{\"smtp_message\":\"Try again later\"}}",
	[R_ADD_HEADER] = "{\"action\":\"add header\",\"score\":5.2,\"required_score\":15,"
	    "\"symbols\":{\"BAYES_SPAM\":{\"name\":\"BAYES_SPAM\",\"score\":5.1,"
	    "\"options\":[\"99.99%\"]},\"MIME_GOOD\":{\"name\":\"MIME_GOOD\","
	    "\"score\":0.1}}}",
	[R_REWRITE_SUBJECT] = "{\"action\":\"rewrite subject\",\"score\":9.25,"
	    "\"required_score\":15,\"subject\":\"***SPAM*** Cheap watches\"}",
	[R_SOFT_REJECT] = "{\"action\":\"soft reject\",\"score\":0,\"required_score\":15,"
	    "\"messages\":{\"smtp_message\":\"Ratelimit reached\"}}",
	[R_REJECT] = "{\"action\":\"reject\",\"score\":0,\"required_score\":15,"
	    "\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0}},"
	    "\"messages\":{\"smtp_message\":\"Gtube pattern\"}}",
	[R_REJECT_NO_MESSAGE] = "{\"action\":\"reject\",\"score\":22.5,"
	    "\"required_score\":15}",
	[R_UNKNOWN_ACTION] = "{\"action\":\"quarantine\",\"score\":30,"
	    "\"required_score\":15}",
	[R_SOFT_REJECT_NO_MESSAGE] = "{\"action\":\"soft reject\",\"score\":0,"
	    "\"required_score\":15}",
};

static void
set_rspamd(struct scan_result *sr, enum rsp r)
{
	char err[256];

	switch (r) {
	case R_OFF:
		sr->rspamd_state = SCAN_OFF;
		return;
	case R_SKIPPED:
		sr->rspamd_state = SCAN_SKIPPED;
		snprintf(sr->skip_note, sizeof(sr->skip_note),
		    "message of 31457280 bytes is larger than scan_max_size");
		return;
	case R_FAILED:
		sr->rspamd_state = SCAN_FAILED;
		snprintf(sr->rspamd_error, sizeof(sr->rspamd_error), "connection refused");
		return;
	default:
		sr->rspamd_state = SCAN_DONE;
		if (rspamd_parse(rspamd_json[r], strlen(rspamd_json[r]), &sr->rspamd,
		    err, sizeof(err)) != 0) {
			printf("Bail out! fixture %s: %s\n", rsp_names[r], err);
			exit(1);
		}
		return;
	}
}

static void
analyzed(struct scan_result *sr, int phishing, double confidence)
{
	sr->api_state = SCAN_DONE;
	sr->spot.status = SPOT_ANALYZED;
	sr->spot.is_phishing = phishing;
	sr->spot.confidence = confidence;
	snprintf(sr->spot.threat_level, sizeof(sr->spot.threat_level), "%s",
	    phishing ? "high" : "none");
}

static void
set_api(struct scan_result *sr, enum api a)
{
	snprintf(sr->spot.job_id, sizeof(sr->spot.job_id), "job-5b1f0c9e");
	switch (a) {
	case A_OFF:
		sr->api_state = SCAN_OFF;
		sr->spot.job_id[0] = '\0';
		break;
	case A_SKIPPED:
		sr->api_state = SCAN_SKIPPED;
		sr->spot.job_id[0] = '\0';
		break;
	case A_PHISH_HIGH:
		analyzed(sr, 1, 0.91);
		break;
	case A_PHISH_EDGE:
		analyzed(sr, 1, 0.5);
		break;
	case A_PHISH_LOW:
		analyzed(sr, 1, 0.49);
		break;
	case A_CLEAN:
		analyzed(sr, 0, 0.97);
		break;
	case A_PENDING:
		sr->api_state = SCAN_PENDING;
		sr->spot.status = SPOT_ACCEPTED;
		break;
	case A_FAILED:
		sr->api_state = SCAN_FAILED;
		sr->spot.job_id[0] = '\0';
		snprintf(sr->api_error, sizeof(sr->api_error), "HTTP 503");
		break;
	case A_AUTH:
		sr->api_state = SCAN_AUTH;
		sr->spot.job_id[0] = '\0';
		snprintf(sr->api_error, sizeof(sr->api_error), "HTTP 401");
		break;
	case A_REJECTED:
		sr->api_state = SCAN_DONE;
		sr->spot.status = SPOT_REJECTED;
		break;
	case A_TIMEOUT:
		sr->api_state = SCAN_DONE;
		sr->spot.status = SPOT_TIMEOUT;
		break;
	default:
		break;
	}
}

static void
config_with(struct config *cfg, int mode, int on_timeout, int action)
{
	char err[CONFIG_ERR_SIZE];

	config_init(cfg);
	cfg->mode = mode;
	cfg->on_timeout = on_timeout;
	cfg->phishing_action = action;
	if (config_set(cfg, "phishing_min_confidence", MIN_CONFIDENCE, err,
	    sizeof(err)) != 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
}

/* What the rules of docs/how-it-decides.md say: each rule may propose an
 * outcome, the strictest wins, and between proposals of the same strictness
 * the earlier rule keeps its status line. */
struct expect {
	enum outcome outcome;
	char code[8];
	char reason[512];
	int spam, phishing;
	int unscanned;
};

/* defer_max_age (0: unset) and the age decide() is given */
struct aging {
	unsigned max_age;
	int64_t age;
	const char *name;
};

static const struct aging agings[] = {
	{ 0, 0, "defer_max_age unset, age 0" },
	{ 0, 1000000, "defer_max_age unset, age 1000000" },
	{ 3600, 0, "defer_max_age 1h, age 0" },
	{ 3600, 3599, "defer_max_age 1h, age 3599" },
	{ 3600, 3600, "defer_max_age 1h, age 3600" },
	{ 3600, 1000000, "defer_max_age 1h, age 1000000" },
};

static void
propose(struct expect *e, enum outcome o, const char *code, const char *reason)
{
	if (o <= e->outcome)
		return;
	e->outcome = o;
	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

static void
oracle(int mode, int on_timeout, int action, const struct aging *ag, enum rsp r,
    enum api a, struct expect *e)
{
	int block = on_timeout == ON_TIMEOUT_BLOCK;
	/* rows 1 and 5 only: a failure that waited defer_max_age delivers */
	int old = ag->max_age > 0 && ag->age >= (int64_t)ag->max_age;

	memset(e, 0, sizeof(*e));
	e->outcome = OUTCOME_DELIVER;
	/* spot-deliver(1): X-Spam: Yes when the action is neither "no action"
	 * nor "greylist" */
	e->spam = r == R_ADD_HEADER || r == R_REWRITE_SUBJECT || r == R_SOFT_REJECT ||
	    r == R_REJECT || r == R_REJECT_NO_MESSAGE || r == R_UNKNOWN_ACTION;
	e->phishing = a == A_PHISH_HIGH || a == A_PHISH_EDGE;
	if (mode == MODE_TAG_ONLY)
		return;
	if (r == R_FAILED && block && old)                            /* 1' */
		e->unscanned |= UNSCANNED_RSPAMD;
	else if (r == R_FAILED && block)                              /* 1 */
		propose(e, OUTCOME_DEFER, "4.7.0",
		    "Spam scanner unavailable, try again later");
	if (r == R_REJECT)                                            /* 2 */
		propose(e, OUTCOME_REJECT, "5.7.1", "Gtube pattern");
	if (r == R_REJECT_NO_MESSAGE)
		propose(e, OUTCOME_REJECT, "5.7.1", "Message rejected as spam");
	if (r == R_SOFT_REJECT)                                       /* 3 */
		propose(e, OUTCOME_DEFER, "4.7.1", "Ratelimit reached");
	if (a == A_AUTH)                                              /* 4 */
		propose(e, OUTCOME_DEFER, "4.7.0",
		    "Phishing analysis unavailable, try again later");
	if ((a == A_FAILED || a == A_PENDING || a == A_TIMEOUT) && block && old)
		e->unscanned |= UNSCANNED_API;                        /* 5' */
	else if (a == A_FAILED && block)                              /* 5 */
		propose(e, OUTCOME_DEFER, "4.7.1",
		    "Phishing analysis did not finish, try again later");
	else if ((a == A_PENDING || a == A_TIMEOUT) && block)
		propose(e, OUTCOME_DEFER, "4.7.1",
		    "Phishing analysis did not finish, try again later");
	if (e->phishing && action == PHISH_REJECT)                    /* 6a */
		propose(e, OUTCOME_REJECT, "5.7.1", "Message rejected as phishing");
	if (e->phishing && action == PHISH_DEFER)                     /* 6b */
		propose(e, OUTCOME_DEFER, "4.7.1",
		    "Message held as suspected phishing, try again later");
	if (e->outcome != OUTCOME_DELIVER)
		e->unscanned = 0;
}

static void
test_grid(void)
{
	static const int modes[] = { MODE_BLOCKING, MODE_TAG_ONLY };
	static const int timeouts[] = { ON_TIMEOUT_ALLOW, ON_TIMEOUT_BLOCK };
	static const int actions[] = { PHISH_TAG, PHISH_DEFER, PHISH_REJECT };
	static const char *const action_names[] = { "tag", "defer", "reject" };
	size_t mi, ti, ai, gi;
	int r, a, n = 0, bad = 0;

	for (gi = 0; gi < ARRAY_LEN(agings); gi++)
	for (mi = 0; mi < ARRAY_LEN(modes); mi++)
	for (ti = 0; ti < ARRAY_LEN(timeouts); ti++)
	for (ai = 0; ai < ARRAY_LEN(actions); ai++)
	for (r = 0; r < R_COUNT; r++)
	for (a = 0; a < A_COUNT; a++) {
		struct config cfg;
		struct scan_result sr;
		struct decision d;
		struct expect e;
		int pass;

		config_with(&cfg, modes[mi], timeouts[ti], actions[ai]);
		cfg.defer_max_age = agings[gi].max_age;
		memset(&sr, 0, sizeof(sr));
		set_rspamd(&sr, (enum rsp)r);
		set_api(&sr, (enum api)a);
		memset(&d, 0x5a, sizeof(d));
		decide(&cfg, &sr, agings[gi].age, &d);
		oracle(modes[mi], timeouts[ti], actions[ai], &agings[gi], (enum rsp)r,
		    (enum api)a, &e);
		pass = d.outcome == e.outcome && d.spam == e.spam &&
		    d.phishing == e.phishing && d.unscanned == e.unscanned &&
		    d.age == agings[gi].age &&
		    strncmp(d.code, e.code, sizeof(d.code)) == 0 &&
		    strncmp(d.reason, e.reason, sizeof(d.reason)) == 0;
		n++;
		if (!ok(pass, "%s, %s, on_timeout %s, phishing_action %s, %s, %s: %s%s",
		    agings[gi].name,
		    modes[mi] == MODE_BLOCKING ? "blocking" : "tag-only",
		    timeouts[ti] == ON_TIMEOUT_BLOCK ? "block" : "allow",
		    action_names[ai], rsp_names[r], api_names[a],
		    outcome_name(e.outcome), e.unscanned ? " unscanned" : "")) {
			bad++;
			diag("got %s code \"%.8s\" reason \"%.200s\" spam %d phishing %d "
			    "unscanned %d",
			    d.outcome <= OUTCOME_REJECT ? outcome_name(d.outcome) : "?",
			    d.code, d.reason, d.spam, d.phishing, d.unscanned);
			diag("expected %s code \"%s\" reason \"%s\" spam %d phishing %d "
			    "unscanned %d", outcome_name(e.outcome), e.code, e.reason,
			    e.spam, e.phishing, e.unscanned);
		}
		scan_result_free(&sr);
		config_free(&cfg);
	}
	diag("decision grid: %d combinations, %d wrong", n, bad);
}

/* One decide() call for the specific checks. */
static void
decide_aged(struct config *cfg, enum rsp r, enum api a, int64_t age,
    struct decision *d)
{
	struct scan_result sr;

	memset(&sr, 0, sizeof(sr));
	set_rspamd(&sr, r);
	set_api(&sr, a);
	decide(cfg, &sr, age, d);
	scan_result_free(&sr);
}

static void
decide_one(struct config *cfg, enum rsp r, enum api a, struct decision *d)
{
	decide_aged(cfg, r, a, 0, d);
}

static int
needs_age(struct config *cfg, enum rsp r, enum api a)
{
	struct scan_result sr;
	int rc;

	memset(&sr, 0, sizeof(sr));
	set_rspamd(&sr, r);
	set_api(&sr, a);
	rc = decide_needs_age(cfg, &sr);
	scan_result_free(&sr);
	return rc;
}

/* The rows of docs/how-it-decides.md that defer_max_age changes. */
static void
test_aging(void)
{
	struct config cfg;
	struct decision d;

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_DEFER);
	cfg.defer_max_age = 4 * 3600;
	decide_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 - 1, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed, 1 s short of defer_max_age: defer");
	is_str(d.reason, "Spam scanner unavailable, try again later",
	    "young: the reason of today");
	is_str(d.detail, "Rspamd unavailable: connection refused",
	    "young: the detail for the log");
	decide_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 + 720, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "rspamd failed, aged out: deliver");
	is_int(d.unscanned, UNSCANNED_RSPAMD, "rspamd failed, aged out: unscanned by Rspamd");
	is_str(d.code, "", "aged out: no status code");
	decide_aged(&cfg, R_FAILED, A_PHISH_HIGH, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed aged out + phish/defer: still deferred");
	like(d.reason, "suspected phishing", "rspamd failed aged out + phish/defer: phishing reason");
	is_int(d.unscanned, 0, "deferred: nothing unscanned delivered");
	decide_aged(&cfg, R_NO_ACTION, A_AUTH, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "API 401 never ages out");
	is_str(d.code, "4.7.0", "API 401 aged: 4.7.0");
	decide_aged(&cfg, R_FAILED, A_AUTH, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed aged + API 401: the 401 still defers");
	decide_aged(&cfg, R_REJECT, A_FAILED, 1000000, &d);
	is_int(d.outcome, OUTCOME_REJECT, "a reject Rspamd returned never ages");
	decide_aged(&cfg, R_SOFT_REJECT, A_FAILED, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "a soft reject Rspamd returned never ages");
	is_str(d.reason, "Ratelimit reached", "soft reject aged: Rspamd's text");
	decide_aged(&cfg, R_NO_ACTION, A_PENDING, 4 * 3600, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "API pending at exactly defer_max_age: deliver");
	is_int(d.unscanned, UNSCANNED_API, "API pending aged: unscanned by the API");
	decide_aged(&cfg, R_FAILED, A_FAILED, 4 * 3600, &d);
	is_int(d.unscanned, UNSCANNED_RSPAMD | UNSCANNED_API, "both failed, aged: both unscanned");
	ok(needs_age(&cfg, R_FAILED, A_CLEAN), "needs the age: rspamd failed + block");
	ok(needs_age(&cfg, R_NO_ACTION, A_TIMEOUT), "needs the age: API timeout + block");
	ok(!needs_age(&cfg, R_NO_ACTION, A_CLEAN), "no age needed: both answered");
	ok(!needs_age(&cfg, R_NO_ACTION, A_AUTH), "no age needed: API 401 does not age");
	ok(!needs_age(&cfg, R_SOFT_REJECT, A_OFF), "no age needed: a soft reject does not age");
	config_free(&cfg);

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_TAG);
	cfg.defer_max_age = 20;
	decide_aged(&cfg, R_FAILED, A_PHISH_HIGH, 25, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "rspamd failed aged + phish/tag: deliver");
	ok(d.phishing && d.unscanned == UNSCANNED_RSPAMD, "with the phishing and the unscanned marks");
	ok(needs_age(&cfg, R_FAILED, A_CLEAN), "needs the age with defer_max_age = 20s");
	cfg.defer_max_age = 0;
	ok(!needs_age(&cfg, R_FAILED, A_CLEAN), "no age needed: defer_max_age unset");
	decide_aged(&cfg, R_FAILED, A_CLEAN, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "defer_max_age unset: a failure defers at any age");
	cfg.defer_max_age = 20;
	cfg.on_timeout = ON_TIMEOUT_ALLOW;
	ok(!needs_age(&cfg, R_FAILED, A_FAILED), "no age needed: on_timeout = allow");
	cfg.on_timeout = ON_TIMEOUT_BLOCK;
	cfg.mode = MODE_TAG_ONLY;
	ok(!needs_age(&cfg, R_FAILED, A_FAILED), "no age needed: tag-only");
	config_free(&cfg);
}

static void
test_reasons(void)
{
	char err[CONFIG_ERR_SIZE];
	struct config cfg;
	struct decision d;

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_ALLOW, PHISH_REJECT);
	decide_one(&cfg, R_REJECT, A_OFF, &d);
	is_str(d.code, "5.7.1", "spam reject: 5.7.1");
	is_str(d.reason, "Gtube pattern", "spam reject: Rspamd's smtp_message");
	decide_one(&cfg, R_REJECT_NO_MESSAGE, A_OFF, &d);
	is_str(d.reason, "Message rejected as spam", "spam reject without smtp_message");
	decide_one(&cfg, R_SOFT_REJECT_NO_MESSAGE, A_OFF, &d);
	is_str(d.reason, "Try again later", "soft reject without smtp_message");
	is_str(d.code, "4.7.1", "soft reject without smtp_message: 4.7.1");
	decide_one(&cfg, R_SOFT_REJECT, A_OFF, &d);
	is_str(d.reason, "Ratelimit reached", "soft reject: Rspamd's smtp_message");
	is_str(d.code, "4.7.1", "soft reject: 4.7.1");
	config_set(&cfg, "reject_message", "Refused by local policy", err, sizeof(err));
	decide_one(&cfg, R_REJECT, A_OFF, &d);
	is_str(d.reason, "Refused by local policy", "reject_message overrides smtp_message");
	decide_one(&cfg, R_REJECT_NO_MESSAGE, A_OFF, &d);
	is_str(d.reason, "Refused by local policy", "reject_message without smtp_message");
	decide_one(&cfg, R_SOFT_REJECT, A_OFF, &d);
	is_str(d.reason, "Ratelimit reached", "reject_message does not touch soft reject");
	decide_one(&cfg, R_NO_ACTION, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_REJECT, "phishing reject");
	is_str(d.reason, "Message rejected as phishing", "phishing reject: no job id for the sender");
	like(d.detail, "job-5b1f0c9e", "phishing reject: the log names the SPOT job");
	decide_one(&cfg, R_REJECT, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_REJECT, "spam and phishing: reject");
	is_str(d.code, "5.7.1", "spam and phishing: 5.7.1");
	decide_one(&cfg, R_SOFT_REJECT, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_REJECT, "soft reject + phishing reject: the reject wins");
	like(d.reason, "phishing", "soft reject + phishing reject: phishing reason");
	config_free(&cfg);

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_DEFER);
	decide_one(&cfg, R_FAILED, A_OFF, &d);
	is_str(d.code, "4.7.0", "rspamd failed + block: 4.7.0");
	like(d.detail, "connection refused", "rspamd failed: the detail has the error");
	ok(strstr(d.reason, "refused") == NULL, "rspamd failed: the reason has not");
	decide_one(&cfg, R_NO_ACTION, A_FAILED, &d);
	is_str(d.code, "4.7.1", "api failed + block: 4.7.1");
	like(d.detail, "HTTP 503", "api failed: the detail has the error");
	ok(strstr(d.reason, "HTTP") == NULL, "api failed: the reason has not");
	decide_one(&cfg, R_NO_ACTION, A_PENDING, &d);
	is_int(d.outcome, OUTCOME_DEFER, "api pending + block: defer");
	decide_one(&cfg, R_NO_ACTION, A_AUTH, &d);
	is_str(d.code, "4.7.0", "api auth: 4.7.0");
	like(d.detail, "HTTP 401", "api auth: the detail has the error");
	ok(strstr(d.reason, "HTTP") == NULL && strstr(d.reason, "api_key") == NULL,
	    "api auth: the reason has neither the error nor the key file");
	decide_one(&cfg, R_REJECT, A_FAILED, &d);
	is_int(d.outcome, OUTCOME_REJECT, "reject beats a defer proposed after it");
	is_str(d.code, "5.7.1", "reject beats defer: 5.7.1");
	decide_one(&cfg, R_FAILED, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed + phishing defer: defer");
	config_free(&cfg);

	config_with(&cfg, MODE_TAG_ONLY, ON_TIMEOUT_BLOCK, PHISH_REJECT);
	decide_one(&cfg, R_REJECT, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "tag-only: spam + phishing still delivered");
	is_int(d.spam, 1, "tag-only: spam flag still set");
	is_int(d.phishing, 1, "tag-only: phishing flag still set");
	is_str(d.code, "", "tag-only: no code");
	decide_one(&cfg, R_FAILED, A_AUTH, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "tag-only: scanners down still delivered");
	config_free(&cfg);

	is_str(outcome_name(OUTCOME_DELIVER), "deliver", "outcome_name deliver");
	is_str(outcome_name(OUTCOME_DEFER), "defer", "outcome_name defer");
	is_str(outcome_name(OUTCOME_REJECT), "reject", "outcome_name reject");
}

/* The headers decide_headers adds, as "Name: value\n" lines. */
static void
headers_aged(struct config *cfg, enum rsp r, enum api a, int64_t age,
    struct buf *out, struct hdr_edit *ed, void (*tweak)(struct scan_result *))
{
	struct scan_result sr;
	struct decision d;
	size_t i;

	memset(&sr, 0, sizeof(sr));
	memset(ed, 0, sizeof(*ed));
	set_rspamd(&sr, r);
	set_api(&sr, a);
	if (tweak != NULL)
		tweak(&sr);
	decide(cfg, &sr, age, &d);
	decide_headers(cfg, &sr, &d, ed);
	out->len = 0;
	buf_append(out, "", 0);
	for (i = 0; i < ed->nadd; i++)
		buf_printf(out, "%s: %s\n", ed->add[i].name, ed->add[i].value);
	scan_result_free(&sr);
}

static void
headers_of(struct config *cfg, enum rsp r, enum api a, struct buf *out,
    struct hdr_edit *ed, void (*tweak)(struct scan_result *))
{
	headers_aged(cfg, r, a, 0, out, ed, tweak);
}

static void
add_milter(struct scan_result *sr)
{
	char err[256];
	static const char json[] = "{\"action\":\"add header\",\"score\":6.5,"
	    "\"required_score\":15,\"milter\":{\"add_headers\":{"
	    "\"X-Spam\":\"Yes\",\"X-Spam-Score\":\"6.5\","
	    "\"X-Rspamd-Server\":\"mx1.example.net\","
	    "\"X-Spamd-Bar\":[{\"value\":\"++++++\",\"order\":0},"
	    "{\"value\":\"+\",\"order\":1}]},"
	    "\"remove_headers\":{\"X-Spamd-Result\":0,\"X-Old\":-1}}}";

	rspamd_reply_free(&sr->rspamd);
	sr->rspamd_state = SCAN_DONE;
	if (rspamd_parse(json, strlen(json), &sr->rspamd, err, sizeof(err)) != 0) {
		printf("Bail out! milter fixture: %s\n", err);
		exit(1);
	}
}

/* A milter block that writes our namespace: X-SPOT-* fields, and the X-Spam
 * fields spot-deliver writes itself, on a reply that is not spam and gives
 * spot-deliver no reason to write X-Spam or X-Spam-Error. */
static void
forging_milter(struct scan_result *sr)
{
	char err[256];
	static const char json[] = "{\"action\":\"no action\",\"score\":1,"
	    "\"required_score\":15,\"milter\":{\"add_headers\":{"
	    "\"X-SPOT-Is-Phishing\":\"no\",\"x-spot-status\":\"analyzed\","
	    "\"X-SPOT-Threat-Level\":[\"none\",\"low\"],"
	    "\"X-Spam\":\"Yes\",\"x-spam-error\":\"forged\",\"X-Spam-Symbols\":\"forged\","
	    "\"X-Spam-Action\":\"reject\",\"X-Spam-Scanner\":\"forged\","
	    "\"X-Spamd-Result\":\"default: False [1.00 / 15.00]\","
	    "\"X-Spam-Level\":\"*\",\"X-Rspamd-Queue-Id\":\"Q1\"}}}";

	rspamd_reply_free(&sr->rspamd);
	sr->rspamd_state = SCAN_DONE;
	if (rspamd_parse(json, strlen(json), &sr->rspamd, err, sizeof(err)) != 0) {
		printf("Bail out! forging milter fixture: %s\n", err);
		exit(1);
	}
}

static void
hostile_values(struct scan_result *sr)
{
	char err[256];
	static const char json[] = "{\"action\":\"rewrite subject\",\"score\":9,"
	    "\"required_score\":15,\"subject\":\"***SPAM***\\r\\nBcc: evil@example.com\","
	    "\"symbols\":{\"EVIL\\r\\nX-Injected: 1\":{\"score\":1}}}";

	rspamd_reply_free(&sr->rspamd);
	sr->rspamd_state = SCAN_DONE;
	if (rspamd_parse(json, strlen(json), &sr->rspamd, err, sizeof(err)) != 0) {
		printf("Bail out! hostile fixture: %s\n", err);
		exit(1);
	}
	snprintf(sr->spot.job_id, sizeof(sr->spot.job_id), "job-1\r\nX-Evil: yes");
}

static void
conf_round(struct scan_result *sr)
{
	sr->spot.confidence = 0.9996;
}

static void
test_headers(void)
{
	struct config cfg;
	struct hdr_edit ed;
	struct buf h = { 0 };
	size_t i;
	int has_x_spam, dup, spot;

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_ALLOW, PHISH_TAG);

	headers_of(&cfg, R_ADD_HEADER, A_PHISH_HIGH, &h, &ed, NULL);
	is_str(buf_cstr(&h),
	    "X-SPOT-Job-Id: job-5b1f0c9e\n"
	    "X-SPOT-Status: analyzed\n"
	    "X-SPOT-Is-Phishing: yes\n"
	    "X-SPOT-Threat-Level: high\n"
	    "X-SPOT-Confidence: 0.910\n"
	    "X-Spam-Scanner: rspamd\n"
	    "X-Spam: Yes\n"
	    "X-Spam-Action: add header\n"
	    "X-Spam-Score: 5.20 / 15.00\n"
	    "X-Spam-Symbols: BAYES_SPAM(5.10), MIME_GOOD(0.10)\n",
	    "spam + phishing verdict: all headers, in order");
	ok(ed.subject == NULL, "add header: no new Subject");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_NO_ACTION, A_CLEAN, &h, &ed, NULL);
	is_str(buf_cstr(&h),
	    "X-SPOT-Job-Id: job-5b1f0c9e\n"
	    "X-SPOT-Status: analyzed\n"
	    "X-SPOT-Is-Phishing: no\n"
	    "X-SPOT-Threat-Level: none\n"
	    "X-SPOT-Confidence: 0.970\n"
	    "X-Spam-Scanner: rspamd\n"
	    "X-Spam-Action: no action\n"
	    "X-Spam-Score: 1.50 / 15.00\n"
	    "X-Spam-Symbols: MIME_GOOD(-0.10)\n",
	    "ham + clean: no X-Spam, verdict headers");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_NO_ACTION, A_PHISH_HIGH, &h, &ed, conf_round);
	like(buf_cstr(&h), "X-SPOT-Confidence: 1.000\n", "confidence rounded to three decimals");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_GREYLIST, A_OFF, &h, &ed, NULL);
	unlike(buf_cstr(&h), "X-Spam: Yes", "greylist: no X-Spam");
	unlike(buf_cstr(&h), "X-SPOT", "API off: no X-SPOT-* header");
	like(buf_cstr(&h), "X-Spam-Action: greylist\n", "greylist: action header");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_REJECT, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "reject: X-Spam: Yes");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_UNKNOWN_ACTION, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "unknown action: X-Spam: Yes");
	like(buf_cstr(&h), "X-Spam-Action: quarantine\n", "unknown action: its name");
	hdr_edit_free(&ed);

	cfg.mode = MODE_TAG_ONLY;
	headers_of(&cfg, R_SOFT_REJECT, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "tag-only soft reject: X-Spam: Yes");
	hdr_edit_free(&ed);
	cfg.mode = MODE_BLOCKING;

	headers_of(&cfg, R_ADD_HEADER, A_OFF, &h, &ed, NULL);
	ok(ed.subject == NULL, "add header: Subject not rewritten");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_REWRITE_SUBJECT, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "rewrite subject: X-Spam: Yes");
	is_str(ed.subject, "***SPAM*** Cheap watches", "rewrite subject: new Subject");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_OFF, A_PENDING, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: timeout\n",
	    "blocking, pending: status timeout, no verdict, no X-Spam-*");
	hdr_edit_free(&ed);
	cfg.mode = MODE_TAG_ONLY;
	headers_of(&cfg, R_OFF, A_PENDING, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: accepted\n",
	    "tag-only, pending: status accepted");
	hdr_edit_free(&ed);
	cfg.mode = MODE_BLOCKING;

	headers_of(&cfg, R_OFF, A_FAILED, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: none\nX-SPOT-Status: timeout\n",
	    "api failed: job none, status timeout");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_TIMEOUT, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: timeout\n",
	    "api done timeout: status timeout");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_REJECTED, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: rejected\n",
	    "api rejected: status rejected, no verdict");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_SKIPPED, &h, &ed, NULL);
	like(buf_cstr(&h), "X-SPOT-Status: skipped\n", "api skipped: status skipped");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_FAILED, A_OFF, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-Spam-Scanner: rspamd\nX-Spam-Error: connection refused\n",
	    "rspamd failed: scanner and error only");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_SKIPPED, A_OFF, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-Spam-Scanner: rspamd; skipped, message of 31457280 bytes "
	    "is larger than scan_max_size\n", "rspamd skipped: a note with the size");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_OFF, &h, &ed, NULL);
	is_int(ed.nadd, 0, "both off: no headers");
	hdr_edit_free(&ed);

	/* milter headers: ours are not duplicated, theirs are all kept */
	headers_of(&cfg, R_ADD_HEADER, A_OFF, &h, &ed, add_milter);
	for (has_x_spam = 0, dup = 0, i = 0; i < ed.nadd; i++) {
		if (strcmp(ed.add[i].name, "X-Spam") == 0)
			has_x_spam++;
		if (strcmp(ed.add[i].name, "X-Spam-Score") == 0)
			dup++;
	}
	is_int(has_x_spam, 1, "milter X-Spam not added twice");
	is_int(dup, 1, "milter X-Spam-Score not added twice");
	like(buf_cstr(&h), "X-Spam-Score: 6.50 / 15.00\n", "our X-Spam-Score kept");
	like(buf_cstr(&h), "X-Rspamd-Server: mx1.example.net\n", "milter header added");
	like(buf_cstr(&h), "X-Spamd-Bar: ++++++\n", "milter list: first value added");
	like(buf_cstr(&h), "X-Spamd-Bar: +\n", "milter list: second value added too "
	    "(a list is several fields of one name)");
	ok(strstr(buf_cstr(&h), "X-Rspamd-Server") > strstr(buf_cstr(&h), "X-Spam-Score"),
	    "milter headers come after ours");
	is_int(ed.nremove, 2, "milter removals forwarded");
	is_str(ed.nremove ? ed.remove[0].name : NULL, "X-Spamd-Result", "milter removal name");
	is_int(ed.nremove > 1 ? ed.remove[1].index : 0, -1, "milter removal index");
	hdr_edit_free(&ed);

	/* the milter cannot write our verdict: with the API off and with it on */
	headers_of(&cfg, R_ADD_HEADER, A_OFF, &h, &ed, forging_milter);
	for (spot = 0, i = 0; i < ed.nadd; i++)
		spot += strncasecmp(ed.add[i].name, "X-SPOT-", 7) == 0;
	is_int(spot, 0, "forging milter, API off: no X-SPOT-* field at all");
	ok(strstr(buf_cstr(&h), "X-Spam: ") == NULL, "forging milter: no X-Spam "
	    "on a reply that is not spam");
	ok(strstr(buf_cstr(&h), "forged") == NULL, "forging milter: no X-Spam-Error, "
	    "X-Spam-Symbols or X-Spam-Scanner of its own");
	like(buf_cstr(&h), "X-Spam-Action: no action\n", "forging milter: our action only");
	ok(strstr(buf_cstr(&h), "X-Spam-Action: reject") == NULL,
	    "forging milter: its X-Spam-Action dropped");
	like(buf_cstr(&h), "X-Spamd-Result: default: False [1.00 / 15.00]\n",
	    "forging milter: Rspamd's X-Spamd-Result kept");
	like(buf_cstr(&h), "X-Spam-Level: *\n", "forging milter: Rspamd's X-Spam-Level kept");
	like(buf_cstr(&h), "X-Rspamd-Queue-Id: Q1\n", "forging milter: X-Rspamd-* kept");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_ADD_HEADER, A_PHISH_HIGH, &h, &ed, forging_milter);
	for (spot = 0, i = 0; i < ed.nadd; i++)
		spot += strcasecmp(ed.add[i].name, "X-SPOT-Is-Phishing") == 0;
	is_int(spot, 1, "forging milter, API says phishing: one X-SPOT-Is-Phishing");
	like(buf_cstr(&h), "X-SPOT-Is-Phishing: yes\n", "forging milter: it is the API's yes");
	hdr_edit_free(&ed);

	/* values from the servers cannot split a header */
	headers_of(&cfg, R_REWRITE_SUBJECT, A_PHISH_HIGH, &h, &ed, hostile_values);
	ok(ed.subject != NULL && strpbrk(ed.subject, "\r\n") == NULL,
	    "new Subject has no CR/LF");
	for (i = 0; i < ed.nadd; i++)
		ok(strpbrk(ed.add[i].value, "\r\n") == NULL, "header %s has no CR/LF",
		    ed.add[i].name);
	hdr_edit_free(&ed);

	config_free(&cfg);

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_TAG);
	cfg.defer_max_age = 4 * 3600;
	headers_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 + 12 * 60 + 7, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam-Scanner: rspamd\nX-Spam-Error: not scanned: Rspamd "
	    "unavailable for 4h12m\n", "rspamd aged out: X-Spam-Error says not scanned and how long");
	unlike(buf_cstr(&h), "X-SPOT-Error", "rspamd aged out, API answered: no X-SPOT-Error");
	like(buf_cstr(&h), "X-SPOT-Status: analyzed\n", "the API's verdict is there");
	hdr_edit_free(&ed);
	headers_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 - 1, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam-Error: connection refused\n", "rspamd failed, young: the error of today");
	hdr_edit_free(&ed);
	headers_aged(&cfg, R_NO_ACTION, A_FAILED, 2 * 86400 + 3 * 3600, &h, &ed, NULL);
	like(buf_cstr(&h), "X-SPOT-Job-Id: none\nX-SPOT-Status: timeout\nX-SPOT-Error: not "
	    "scanned: API unavailable for 2d3h\n", "API aged out: status timeout and X-SPOT-Error");
	like(buf_cstr(&h), "X-Spam-Action: no action\n", "API aged out: Rspamd's headers are there");
	hdr_edit_free(&ed);
	headers_aged(&cfg, R_FAILED, A_PHISH_HIGH, 4 * 3600, &h, &ed, NULL);
	like(buf_cstr(&h), "X-SPOT-Is-Phishing: yes\n", "rspamd aged + phish/tag: the phishing mark");
	like(buf_cstr(&h), "X-Spam-Error: not scanned: Rspamd unavailable for 4h0m\n",
	    "rspamd aged + phish/tag: and the unscanned mark");
	hdr_edit_free(&ed);
	config_free(&cfg);
	buf_free(&h);
}

static void
test_duration(void)
{
	static const struct { int64_t s; const char *text; } v[] = {
		{ -5, "0s" }, { 0, "0s" }, { 20, "20s" }, { 59, "59s" }, { 60, "1m0s" },
		{ 725, "12m5s" }, { 3600, "1h0m" }, { 15120, "4h12m" },
		{ 86399, "23h59m" }, { 86400, "1d0h" }, { 183600, "2d3h" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < ARRAY_LEN(v); i++) {
		format_duration(buf, sizeof(buf), v[i].s);
		is_str(buf, v[i].text, "format_duration(%lld)", (long long)v[i].s);
	}
}

int
main(void)
{
	test_grid();
	test_reasons();
	test_aging();
	test_headers();
	test_duration();
	return done_testing();
}
