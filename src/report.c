#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
log_unscanned(const struct report *r, const char *qid)
{
	const struct scan_result *sr = r->sr;
	char age[32], limit[32];

	format_duration(age, sizeof(age), r->d->age);
	format_duration(limit, sizeof(limit), r->cfg->defer_max_age);
	log_warn("queue_id=%s delivered not scanned by %s%s%s after %s "
	    "(defer_max_age = %s): %.60s%s%.60s", qid,
	    r->d->unscanned & UNSCANNED_RSPAMD ? "Rspamd" : "",
	    r->d->unscanned == (UNSCANNED_RSPAMD | UNSCANNED_API) ? " and " : "",
	    r->d->unscanned & UNSCANNED_API ? "the API" : "", age, limit,
	    r->d->unscanned & UNSCANNED_RSPAMD ? sr->rspamd_error : "",
	    r->d->unscanned == (UNSCANNED_RSPAMD | UNSCANNED_API) ? "; " : "",
	    r->d->unscanned & UNSCANNED_API ?
	    (sr->api_error[0] ? sr->api_error : "timeout") : "");
}

void
report_log(const struct report *r)
{
	const struct scan_result *sr = r->sr;
	char qid[64], from[256], rspamd[96], api[192], reason[600], age[48] = "";

	sanitize_value(qid, sizeof(qid), r->env->queue_id ? r->env->queue_id : "-",
	    sizeof(qid) - 1);
	sanitize_value(from, sizeof(from), r->env->sender ? r->env->sender : "",
	    sizeof(from) - 1);
	if (sr->rspamd_state == SCAN_DONE)
		snprintf(rspamd, sizeof(rspamd), "%s/%.2f", sr->rspamd.action_name,
		    sr->rspamd.score);
	else if (sr->rspamd_state == SCAN_FAILED)
		snprintf(rspamd, sizeof(rspamd), "failed (%.60s)", sr->rspamd_error);
	else
		snprintf(rspamd, sizeof(rspamd), "%s", scan_state_name(sr->rspamd_state));
	if (sr->api_state == SCAN_DONE && sr->spot.status == SPOT_ANALYZED)
		snprintf(api, sizeof(api), "analyzed/%s/%.3f job=%s",
		    sr->spot.is_phishing ? "phishing" : "clean", sr->spot.confidence,
		    sr->spot.job_id);
	else if (sr->api_state == SCAN_OFF)
		snprintf(api, sizeof(api), "off");
	else
		snprintf(api, sizeof(api), "%s%s%.60s%s job=%s",
		    scan_state_name(sr->api_state), sr->api_error[0] ? " (" : "",
		    sr->api_error, sr->api_error[0] ? ")" : "",
		    sr->spot.job_id[0] ? sr->spot.job_id : "none");
	reason[0] = '\0';
	if (r->d->outcome != OUTCOME_DELIVER)
		snprintf(reason, sizeof(reason), " (%s %s)", r->d->code, r->d->reason);
	if (r->age != NULL) {
		memcpy(age, " age=", 6);
		format_duration(age + 5, sizeof(age) - 5, r->age->seconds);
	}
	log_info("queue_id=%s from=<%s> nrcpt=%zu size=%llu rspamd=%s api=%s "
	    "decision=%s%s delivery=%s stripped=%llu delay=%lldms%s", qid, from,
	    r->env->nrcpt, (unsigned long long)r->size, rspamd, api,
	    outcome_name(r->d->outcome), reason, r->delivery,
	    (unsigned long long)r->removed, (long long)r->elapsed_ms, age);
	if (r->d->unscanned && strcmp(r->delivery, "check") != 0)
		log_unscanned(r, qid);
	if (sr->api_state == SCAN_AUTH)
		log_error("the SPOT API refused our key (%s): until api_key_file is "
		    "fixed, every message is %s", sr->api_error,
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
