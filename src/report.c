#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "util.h"

static const char *const state_names[] = {
	[SCAN_OFF] = "off",
	[SCAN_SKIPPED] = "skipped",
	[SCAN_DONE] = "done",
	[SCAN_PENDING] = "pending",
	[SCAN_FAILED] = "failed",
	[SCAN_AUTH] = "key refused",
};

const char *
scan_state_name(enum scan_state s)
{
	return state_names[s];
}

/* A delivery that defer_max_age let through is the administrator's
 * business: one warning line, with what was not scanned and why. */
static void
log_unscanned(const struct report *r)
{
	const struct scan_result *sr = r->sr;
	char age[32], limit[32];

	format_duration(age, sizeof(age), r->d->age);
	format_duration(limit, sizeof(limit), r->cfg->defer_max_age);
	log_warn("delivered not scanned by %s%s%s after %s "
	    "(defer_max_age = %s): %.60s%s%.60s",
	    r->d->unscanned & UNSCANNED_RSPAMD ? "Rspamd" : "",
	    r->d->unscanned == (UNSCANNED_RSPAMD | UNSCANNED_API) ? " and " : "",
	    r->d->unscanned & UNSCANNED_API ? "the API" : "", age, limit,
	    r->d->unscanned & UNSCANNED_RSPAMD ? sr->rspamd_error : "",
	    r->d->unscanned == (UNSCANNED_RSPAMD | UNSCANNED_API) ? "; " : "",
	    r->d->unscanned & UNSCANNED_API ?
	    (sr->api_error[0] ? sr->api_error : "timeout") : "");
}

/* A byte that would end a value or the line: such a value is quoted. */
static int
is_special(unsigned char c)
{
	return c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == ',';
}

/* ", name=value": bare when it has no space, quote, backslash or comma
 * (and, between <>, no < or >), else in double quotes with \" and \\, and
 * control bytes as \xHH; an empty one is "". Cut at about max bytes. */
static void
field(struct buf *b, const char *name, const char *value, int angle, size_t max)
{
	const unsigned char *v = (const unsigned char *)value;
	size_t i, start, n = strnlen(value, max);
	int quote = n == 0 && !angle;

	for (i = 0; i < n; i++)
		quote |= is_special(v[i]) || (angle && (v[i] == '<' || v[i] == '>'));
	buf_printf(b, "%s%s=%s%s", b->len ? ", " : "", name, quote ? "\"" : "",
	    angle ? "<" : "");
	for (i = 0, start = b->len; i < n && b->len - start < max; i++) {
		if (v[i] < ' ' || v[i] == 0x7f)
			buf_printf(b, "\\x%02x", v[i]);
		else if (quote && (v[i] == '"' || v[i] == '\\'))
			buf_printf(b, "\\%c", v[i]);
		else
			buf_append(b, &v[i], 1);
	}
	buf_printf(b, "%s%s", angle ? ">" : "", quote ? "\"" : "");
}

/* "no action" -> "no_action": a state is one word in the log. */
static void
word_field(struct buf *b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
word_field(struct buf *b, const char *name, const char *fmt, ...)
{
	char w[160], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w, sizeof(w), fmt, ap);
	va_end(ap);
	for (p = w; *p != '\0'; p++)
		if (*p == ' ')
			*p = '_';
	field(b, name, w, 0, sizeof(w));
}

/* The Message-ID field's value, unfolded and trimmed; "" when none. */
static void
message_id(const struct hdr_block *hb, char *dst, size_t n)
{
	const char *v, *end;
	size_t i, len = 0;

	dst[0] = '\0';
	for (i = 0; hb != NULL && i < hb->n; i++)
		if (strcasecmp(hb->v[i].name, "Message-ID") == 0)
			break;
	if (hb == NULL || i == hb->n)
		return;
	v = memchr(hb->head + hb->v[i].off, ':', hb->v[i].len);
	if (v == NULL)
		return;
	end = hb->head + hb->v[i].off + hb->v[i].len;
	/* unfolded: each run of white space one blank */
	for (v++; v < end && len + 1 < n; v++) {
		if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
			dst[len++] = *v;
		else if (len > 0 && dst[len - 1] != ' ')
			dst[len++] = ' ';
	}
	while (len > 0 && dst[len - 1] == ' ')
		len--;
	dst[len] = '\0';
}

static void
scanner_fields(struct buf *b, const struct scan_result *sr)
{
	if (sr->rspamd_state == SCAN_DONE)
		word_field(b, "rspamd", "%s/%.2f", sr->rspamd.action_name,
		    sr->rspamd.score);
	else
		word_field(b, "rspamd", "%s", scan_state_name(sr->rspamd_state));
	if (sr->rspamd_state == SCAN_FAILED)
		field(b, "rspamd_error", sr->rspamd_error, 0, 120);
	if (sr->api_state == SCAN_DONE && sr->spot.status == SPOT_ANALYZED)
		word_field(b, "spot", "%s/%.3f", sr->spot.is_phishing ? "phishing" :
		    "clean", sr->spot.confidence);
	else if (sr->api_state == SCAN_DONE)
		word_field(b, "spot", "%s", spot_status_name(sr->spot.status));
	else
		word_field(b, "spot", "%s", scan_state_name(sr->api_state));
	if (sr->spot.job_id[0] != '\0')
		field(b, "job", sr->spot.job_id, 0, 128);
	if (sr->api_error[0] != '\0' && sr->api_state != SCAN_DONE)
		field(b, "spot_error", sr->api_error, 0, 120);
}

/* "sent (delivered via dovecot-lda)", "deferred (4.7.0 why)"... */
static void
status_field(struct buf *b, const struct report *r)
{
	const struct decision *d = r->d;
	const char *word = "sent";
	char text[700];

	if (r->check)
		word = "checked";
	else if (r->failure != NULL || d->outcome == OUTCOME_DEFER)
		word = "deferred";
	else if (d->outcome == OUTCOME_REJECT)
		word = "bounced";
	if (r->failure != NULL)
		snprintf(text, sizeof(text), "%s", r->failure);
	else if (d->outcome != OUTCOME_DELIVER)
		snprintf(text, sizeof(text), "%s %s", d->code, d->detail);
	else
		snprintf(text, sizeof(text), "%s", r->via);
	sanitize_value(text, sizeof(text), text, sizeof(text) - 1);
	buf_printf(b, ", status=%s (%s)", word, text);
}

void
report_log(const struct report *r)
{
	struct buf b = { 0 };
	char msgid[256], age[32];
	size_t i;

	/* one line for every recipient, each its own to=, as long as the
	 * line stays short enough for syslog; nrcpt= has the count */
	for (i = 0; i < r->env->nrcpt && b.len < 1024; i++)
		field(&b, "to", r->env->rcpt[i], 1, 256);
	field(&b, "from", r->env->sender ? r->env->sender : "", 1, 256);
	message_id(r->hb, msgid, sizeof(msgid));
	field(&b, "msgid", msgid, 0, sizeof(msgid));
	buf_printf(&b, ", size=%llu, nrcpt=%zu", (unsigned long long)r->size,
	    r->env->nrcpt);
	scanner_fields(&b, r->sr);
	buf_printf(&b, ", decision=%s, stripped=%llu, delay=%lld.%03lld",
	    outcome_name(r->d->outcome), (unsigned long long)r->removed,
	    (long long)(r->elapsed_ms / 1000), (long long)(r->elapsed_ms % 1000));
	if (r->age != NULL) {
		format_duration(age, sizeof(age), r->age->seconds);
		buf_printf(&b, ", age=%s", age);
	}
	status_field(&b, r);
	log_info("%s", buf_cstr(&b));
	buf_free(&b);
	if (r->d->unscanned && !r->check)
		log_unscanned(r);
	if (r->sr->api_state == SCAN_AUTH)
		log_error("the SPOT API refused our key (%s): until api_key_file is "
		    "fixed, every message is %s", r->sr->api_error,
		    r->cfg->mode == MODE_TAG_ONLY ? "delivered without analysis" :
		    "deferred");
}

static cJSON *
rspamd_json(const struct scan_result *sr)
{
	cJSON *o = cJSON_CreateObject(), *syms, *s;
	size_t i;

	cJSON_AddStringToObject(o, "state", scan_state_name(sr->rspamd_state));
	if (sr->rspamd_state == SCAN_FAILED)
		cJSON_AddStringToObject(o, "error", sr->rspamd_error);
	if (sr->rspamd_state != SCAN_DONE)
		return o;
	cJSON_AddStringToObject(o, "action", sr->rspamd.action_name);
	cJSON_AddNumberToObject(o, "score", sr->rspamd.score);
	cJSON_AddNumberToObject(o, "required_score", sr->rspamd.required);
	syms = cJSON_AddArrayToObject(o, "symbols");
	for (i = 0; i < sr->rspamd.nsymbols; i++) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "name", sr->rspamd.symbols[i].name);
		cJSON_AddNumberToObject(s, "score", sr->rspamd.symbols[i].score);
		if (sr->rspamd.symbols[i].options != NULL)
			cJSON_AddStringToObject(s, "options", sr->rspamd.symbols[i].options);
		cJSON_AddItemToArray(syms, s);
	}
	if (sr->rspamd.smtp_message != NULL)
		cJSON_AddStringToObject(o, "smtp_message", sr->rspamd.smtp_message);
	return o;
}

static cJSON *
api_json(const struct config *cfg, const struct scan_result *sr)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "state", scan_state_name(sr->api_state));
	if (sr->api_state == SCAN_OFF)
		return o;
	cJSON_AddStringToObject(o, "status", api_status_header(cfg, sr));
	if (sr->spot.job_id[0] != '\0')
		cJSON_AddStringToObject(o, "job_id", sr->spot.job_id);
	if (sr->api_error[0] != '\0')
		cJSON_AddStringToObject(o, "error", sr->api_error);
	if (sr->api_state == SCAN_DONE && sr->spot.status == SPOT_ANALYZED) {
		cJSON_AddBoolToObject(o, "is_phishing", sr->spot.is_phishing);
		cJSON_AddStringToObject(o, "threat_level", sr->spot.threat_level);
		cJSON_AddNumberToObject(o, "confidence", sr->spot.confidence);
	}
	return o;
}

/* The age, and what defer_max_age will make of a deferral. */
static cJSON *
age_json(const struct report *r)
{
	cJSON *o = cJSON_CreateObject(), *u;
	struct decision later;

	cJSON_AddNumberToObject(o, "seconds", (double)r->age->seconds);
	cJSON_AddNumberToObject(o, "defer_max_age", r->cfg->defer_max_age);
	if (r->age->first_seen < r->age->now)
		cJSON_AddNumberToObject(o, "first_deferral", (double)r->age->first_seen);
	if (r->age->arrival != 0)
		cJSON_AddNumberToObject(o, "arrival", (double)r->age->arrival);
	u = cJSON_AddArrayToObject(o, "unscanned");
	if (r->d->unscanned & UNSCANNED_RSPAMD)
		cJSON_AddItemToArray(u, cJSON_CreateString("rspamd"));
	if (r->d->unscanned & UNSCANNED_API)
		cJSON_AddItemToArray(u, cJSON_CreateString("api"));
	if (r->d->outcome != OUTCOME_DEFER)
		return o;
	decide(r->cfg, r->sr, (int64_t)r->cfg->defer_max_age, &later);
	cJSON_AddStringToObject(o, "after_defer_max_age", outcome_name(later.outcome));
	if (later.outcome == OUTCOME_DELIVER)
		cJSON_AddNumberToObject(o, "unscanned_in",
		    (double)(r->cfg->defer_max_age - r->age->seconds));
	return o;
}

int
report_json(const struct report *r, int exit_code, const char *status, FILE *fp)
{
	cJSON *root = cJSON_CreateObject(), *hdrs, *h;
	char *text;
	size_t i;
	int rc;

	cJSON_AddStringToObject(root, "decision", outcome_name(r->d->outcome));
	cJSON_AddNumberToObject(root, "exit_code", exit_code);
	if (status != NULL && *status != '\0')
		cJSON_AddStringToObject(root, "status", status);
	cJSON_AddBoolToObject(root, "spam", r->d->spam);
	cJSON_AddBoolToObject(root, "phishing", r->d->phishing);
	cJSON_AddNumberToObject(root, "size", (double)r->size);
	cJSON_AddItemToObject(root, "rspamd", rspamd_json(r->sr));
	cJSON_AddItemToObject(root, "api", api_json(r->cfg, r->sr));
	if (r->age != NULL)
		cJSON_AddItemToObject(root, "age", age_json(r));
	hdrs = cJSON_AddArrayToObject(root, "add_headers");
	for (i = 0; i < r->ed->nadd; i++) {
		h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "name", r->ed->add[i].name);
		cJSON_AddStringToObject(h, "value", r->ed->add[i].value);
		cJSON_AddItemToArray(hdrs, h);
	}
	if (r->ed->subject != NULL)
		cJSON_AddStringToObject(root, "subject", r->ed->subject);
	cJSON_AddNumberToObject(root, "removed_headers", (double)r->removed);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL)
		return -1;
	rc = fprintf(fp, "%s\n", text) < 0 || fflush(fp) != 0 ? -1 : 0;
	free(text);
	return rc;
}
