#include "decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const outcome_names[] = {
	[OUTCOME_DELIVER] = "deliver",
	[OUTCOME_DEFER] = "defer",
	[OUTCOME_REJECT] = "reject",
};

const char *
outcome_name(enum outcome o)
{
	return outcome_names[o];
}

/* The stricter outcome wins: reject over defer over deliver. The reason
 * goes into a DSN for outside senders, the detail into the log. */
static void
propose(struct decision *d, enum outcome o, const char *code,
    const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
propose(struct decision *d, enum outcome o, const char *code,
    const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (o <= d->outcome)
		return;
	d->outcome = o;
	snprintf(d->code, sizeof(d->code), "%s", code);
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
	va_end(ap);
}

static int
is_phishing(const struct config *cfg, const struct scan_result *sr)
{
	return sr->api_state == SCAN_DONE && sr->spot.status == SPOT_ANALYZED &&
	    sr->spot.is_phishing &&
	    sr->spot.confidence >= cfg->phishing_min_confidence;
}

static int
rspamd_failed(const struct config *cfg, const struct scan_result *sr)
{
	return sr->rspamd_state == SCAN_FAILED && cfg->on_timeout == ON_TIMEOUT_BLOCK;
}

/* Pending past the deadline, failed, or the API's own timeout. */
static int
api_no_verdict(const struct config *cfg, const struct scan_result *sr)
{
	return cfg->on_timeout == ON_TIMEOUT_BLOCK &&
	    (sr->api_state == SCAN_PENDING || sr->api_state == SCAN_FAILED ||
	    (sr->api_state == SCAN_DONE && sr->spot.status == SPOT_TIMEOUT));
}

/* Only a failure ages out, never a verdict. */
static int
aged_out(const struct config *cfg, const struct decision *d)
{
	return cfg->defer_max_age > 0 && d->age >= (int64_t)cfg->defer_max_age;
}

int
decide_needs_age(const struct config *cfg, const struct scan_result *sr)
{
	return cfg->defer_max_age > 0 && cfg->mode != MODE_TAG_ONLY &&
	    (rspamd_failed(cfg, sr) || api_no_verdict(cfg, sr));
}

static void
decide_rspamd(const struct config *cfg, const struct scan_result *sr,
    struct decision *d)
{
	const struct rspamd_reply *r = &sr->rspamd;
	const char *msg;

	if (rspamd_failed(cfg, sr) && aged_out(cfg, d))
		d->unscanned |= UNSCANNED_RSPAMD;
	else if (rspamd_failed(cfg, sr))
		propose(d, OUTCOME_DEFER, "4.7.0",
		    "Spam scanner unavailable, try again later",
		    "Rspamd unavailable: %s", sr->rspamd_error);
	if (sr->rspamd_state != SCAN_DONE)
		return;
	msg = r->smtp_message;
	if (r->action == RSPAMD_REJECT) {
		if (*cfg->reject_message != '\0')
			msg = cfg->reject_message;
		msg = msg ? msg : "Message rejected as spam";
		propose(d, OUTCOME_REJECT, "5.7.1", msg, "%s", msg);
	} else if (r->action == RSPAMD_SOFT_REJECT) {
		msg = msg ? msg : "Try again later";
		propose(d, OUTCOME_DEFER, "4.7.1", msg, "%s", msg);
	}
}

static void
decide_api(const struct config *cfg, const struct scan_result *sr,
    struct decision *d)
{
	const char *job = sr->spot.job_id[0] ? sr->spot.job_id : "none";

	if (sr->api_state == SCAN_AUTH) {
		propose(d, OUTCOME_DEFER, "4.7.0",
		    "Phishing analysis unavailable, try again later",
		    "the SPOT API refused our key (%s); check api_key_file",
		    sr->api_error);
		return;
	}
	if (api_no_verdict(cfg, sr) && aged_out(cfg, d))
		d->unscanned |= UNSCANNED_API;
	else if (api_no_verdict(cfg, sr))
		propose(d, OUTCOME_DEFER, "4.7.1",
		    "Phishing analysis did not finish, try again later",
		    "SPOT API: no verdict: %s",
		    sr->api_error[0] ? sr->api_error : "timeout");
	if (!d->phishing)
		return;
	if (cfg->phishing_action == PHISH_REJECT)
		propose(d, OUTCOME_REJECT, "5.7.1", "Message rejected as phishing",
		    "phishing (confidence %.3f, SPOT job %s)", sr->spot.confidence,
		    job);
	else if (cfg->phishing_action == PHISH_DEFER)
		propose(d, OUTCOME_DEFER, "4.7.1",
		    "Message held as suspected phishing, try again later",
		    "phishing (confidence %.3f, SPOT job %s)", sr->spot.confidence,
		    job);
}

void
decide(const struct config *cfg, const struct scan_result *sr, int64_t age,
    struct decision *d)
{
	memset(d, 0, sizeof(*d));
	d->outcome = OUTCOME_DELIVER;
	d->age = age;
	d->spam = sr->rspamd_state == SCAN_DONE && rspamd_is_spam(&sr->rspamd);
	d->phishing = is_phishing(cfg, sr);
	/* tag-only never holds mail back: it only adds headers */
	if (cfg->mode == MODE_TAG_ONLY)
		return;
	decide_rspamd(cfg, sr, d);
	decide_api(cfg, sr, d);
	/* a verdict still holds it back: nothing is delivered unscanned */
	if (d->outcome != OUTCOME_DELIVER)
		d->unscanned = 0;
}

const char *
api_status_header(const struct config *cfg, const struct scan_result *sr)
{
	switch (sr->api_state) {
	case SCAN_DONE:
		return spot_status_name(sr->spot.status);
	case SCAN_SKIPPED:
		return "skipped";
	case SCAN_PENDING:
		return cfg->mode == MODE_TAG_ONLY ? "accepted" : "timeout";
	default:
		return "timeout";
	}
}

static void
add_unscanned(struct hdr_edit *ed, const char *name, const char *scanner,
    const struct decision *d)
{
	char age[32], text[96];

	format_duration(age, sizeof(age), d->age);
	snprintf(text, sizeof(text), "not scanned: %s unavailable for %s", scanner,
	    age);
	hdr_edit_add(ed, name, text);
}

static void
add_api_headers(const struct config *cfg, const struct scan_result *sr,
    const struct decision *d, struct hdr_edit *ed)
{
	char conf[16];

	hdr_edit_add(ed, "X-SPOT-Job-Id", sr->spot.job_id[0] ? sr->spot.job_id : "none");
	hdr_edit_add(ed, "X-SPOT-Status", api_status_header(cfg, sr));
	if (d->unscanned & UNSCANNED_API)
		add_unscanned(ed, "X-SPOT-Error", "API", d);
	if (sr->api_state != SCAN_DONE || sr->spot.status != SPOT_ANALYZED)
		return;
	hdr_edit_add(ed, "X-SPOT-Is-Phishing", sr->spot.is_phishing ? "yes" : "no");
	hdr_edit_add(ed, "X-SPOT-Threat-Level", sr->spot.threat_level);
	snprintf(conf, sizeof(conf), "%.3f", sr->spot.confidence);
	hdr_edit_add(ed, "X-SPOT-Confidence", conf);
}

/* The verdict fields spot-deliver writes itself: only it may write them,
 * whichever of them it wrote this time. */
static const char *const own_fields[] = {
	"X-Spam", "X-Spam-Scanner", "X-Spam-Error", "X-Spam-Action",
	"X-Spam-Score", "X-Spam-Symbols",
};

static int
is_own_field(const char *name)
{
	return strncasecmp(name, "X-SPOT-", 7) == 0 ||
	    name_index(name, own_fields, ARRAY_LEN(own_fields), strcasecmp) <
	    ARRAY_LEN(own_fields);
}

static void
add_rspamd_headers(const struct scan_result *sr, const struct decision *d,
    struct hdr_edit *ed)
{
	const struct rspamd_reply *r = &sr->rspamd;
	struct buf b = { 0 };
	size_t i;

	if (sr->rspamd_state == SCAN_SKIPPED) {
		buf_printf(&b, "rspamd; skipped, %s", sr->skip_note);
		hdr_edit_add(ed, "X-Spam-Scanner", b.data);
		buf_free(&b);
		return;
	}
	hdr_edit_add(ed, "X-Spam-Scanner", "rspamd");
	if (sr->rspamd_state == SCAN_FAILED && (d->unscanned & UNSCANNED_RSPAMD)) {
		add_unscanned(ed, "X-Spam-Error", "Rspamd", d);
		return;
	}
	if (sr->rspamd_state == SCAN_FAILED) {
		hdr_edit_add(ed, "X-Spam-Error", sr->rspamd_error);
		return;
	}
	if (d->spam)
		hdr_edit_add(ed, "X-Spam", "Yes");
	hdr_edit_add(ed, "X-Spam-Action", r->action_name);
	buf_printf(&b, "%.2f / %.2f", r->score, r->required);
	hdr_edit_add(ed, "X-Spam-Score", b.data);
	b.len = 0;
	for (i = 0; i < r->nsymbols && b.len < 3000; i++)
		buf_printf(&b, "%s%s(%.2f)", i ? ", " : "", r->symbols[i].name,
		    r->symbols[i].score);
	if (b.len > 0)
		hdr_edit_add(ed, "X-Spam-Symbols", b.data);
	buf_free(&b);
	/* Rspamd's own headers (X-Spamd-Result, X-Rspamd-*...), never ours;
	 * a name it lists twice is two fields */
	for (i = 0; i < r->milter.nadd; i++)
		if (!is_own_field(r->milter.add[i].name))
			hdr_edit_add(ed, r->milter.add[i].name, r->milter.add[i].value);
	for (i = 0; i < r->milter.nremove; i++)
		hdr_edit_remove(ed, r->milter.remove[i].name, r->milter.remove[i].index);
	if (r->action == RSPAMD_REWRITE_SUBJECT && r->subject != NULL) {
		char clean[1024];

		sanitize_value(clean, sizeof(clean), r->subject, sizeof(clean) - 1);
		ed->subject = xstrdup(clean);
	}
}

void
decide_headers(const struct config *cfg, const struct scan_result *sr,
    const struct decision *d, struct hdr_edit *ed)
{
	if (sr->api_state != SCAN_OFF)
		add_api_headers(cfg, sr, d, ed);
	if (sr->rspamd_state != SCAN_OFF)
		add_rspamd_headers(sr, d, ed);
}

void
scan_result_free(struct scan_result *sr)
{
	rspamd_reply_free(&sr->rspamd);
	memset(sr, 0, sizeof(*sr));
}
