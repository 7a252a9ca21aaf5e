#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "rspamd.h"
#include "spot.h"

/* The longest sleep between looks at the clock. */
#define SLICE_MS 100

enum api_phase { API_IDLE, API_REQUEST, API_WAIT_POLL };

struct api_job {
	struct http_req req;
	enum api_phase phase;
	int64_t deadline;
	int64_t poll_at;
	int accepted;   /* a 202 or "accepted" came: PENDING, not FAILED, at the deadline */
	char *location;
};

static void
rspamd_finish(struct http_req *r, struct scan_result *sr)
{
	char err[256];

	if (r->result != CURLE_OK || r->status / 100 != 2) {
		http_req_error(r, sr->rspamd_error, sizeof(sr->rspamd_error));
		sr->rspamd_state = SCAN_FAILED;
		return;
	}
	if (rspamd_parse(r->resp.data ? r->resp.data : "", r->resp.len,
	    &sr->rspamd, err, sizeof(err)) != 0) {
		rspamd_reply_free(&sr->rspamd);
		snprintf(sr->rspamd_error, sizeof(sr->rspamd_error), "%s", err);
		sr->rspamd_state = SCAN_FAILED;
		return;
	}
	sr->rspamd_state = SCAN_DONE;
}

static void
api_wait(const struct config *cfg, struct api_job *job)
{
	job->phase = API_WAIT_POLL;
	job->poll_at = now_ms() + cfg->poll_interval_ms;
}

/* One answer of the ingest POST or of a poll. */
static void
api_finish(const struct config *cfg, struct api_job *job, struct scan_result *sr,
    int is_poll)
{
	struct http_req *r = &job->req;
	struct spot_reply reply;
	char err[256];

	job->phase = API_IDLE;
	if (r->result != CURLE_OK) {
		http_req_error(r, sr->api_error, sizeof(sr->api_error));
		if (is_poll) /* the job exists: keep asking until the deadline */
			api_wait(cfg, job);
		else
			sr->api_state = SCAN_FAILED;
		return;
	}
	if (r->status == 401 || r->status == 403) {
		http_req_error(r, sr->api_error, sizeof(sr->api_error));
		sr->api_state = SCAN_AUTH;
		return;
	}
	if (!is_poll && (r->status == 413 || r->status == 422)) {
		if (spot_parse(r->resp.data ? r->resp.data : "", r->resp.len,
		    &reply, err, sizeof(err)) == 0)
			memcpy(sr->spot.job_id, reply.job_id, sizeof(reply.job_id));
		sr->spot.status = SPOT_REJECTED;
		sr->api_state = SCAN_DONE;
		return;
	}
	if (r->status != 200 && r->status != 202) {
		http_req_error(r, sr->api_error, sizeof(sr->api_error));
		if (is_poll && (r->status == 429 || r->status / 100 == 5))
			api_wait(cfg, job);
		else
			sr->api_state = SCAN_FAILED;
		return;
	}
	if (spot_parse(r->resp.data ? r->resp.data : "", r->resp.len, &reply,
	    err, sizeof(err)) != 0) {
		snprintf(sr->api_error, sizeof(sr->api_error), "%s", err);
		sr->api_state = SCAN_FAILED;
		return;
	}
	if (reply.job_id[0] == '\0') /* a poll answer may omit it */
		memcpy(reply.job_id, sr->spot.job_id, sizeof(reply.job_id));
	sr->spot = reply;
	if (r->status == 202 || reply.status == SPOT_ACCEPTED) {
		job->accepted = 1;
		if (r->location != NULL) {
			free(job->location);
			job->location = xstrdup(r->location);
		}
		api_wait(cfg, job);
		return;
	}
	sr->api_state = SCAN_DONE;
}

static void
api_poll(const struct config *cfg, struct http_engine *eng, struct api_job *job,
    const struct scan_result *sr)
{
	http_req_free(&job->req);
	spot_poll_request(&job->req, cfg, job->location, sr->spot.job_id,
	    (long)(job->deadline - now_ms()));
	http_engine_add(eng, &job->req);
	job->phase = API_REQUEST;
}

static void
api_deadline(const struct config *cfg, struct http_engine *eng,
    struct api_job *job, struct scan_result *sr)
{
	if (job->phase == API_REQUEST)
		http_engine_remove(eng, &job->req);
	job->phase = API_IDLE;
	sr->api_state = job->accepted ? SCAN_PENDING : SCAN_FAILED;
	snprintf(sr->api_error, sizeof(sr->api_error), "no verdict within %u ms",
	    cfg->analysis_timeout_ms);
}

static long
until(int64_t t, int64_t now)
{
	return t > now ? (long)(t - now) : 0;
}

void
scan_run(const struct config *cfg, const struct envelope *env,
    const struct msg *m, const char *idem_key, int ask_rspamd, int ask_api,
    struct scan_result *sr)
{
	struct http_engine eng;
	struct http_req rq;
	struct api_job job;
	struct http_req *done;
	int64_t start = now_ms(), now, r_deadline;
	int r_active = 0;
	long wait;

	memset(&rq, 0, sizeof(rq));
	memset(&job, 0, sizeof(job));
	http_engine_init(&eng);
	r_deadline = start + cfg->timeout_ms;
	if (ask_rspamd) {
		rspamd_request(&rq, cfg, env, m, (long)cfg->timeout_ms);
		http_engine_add(&eng, &rq);
		r_active = 1;
	}
	job.deadline = start + cfg->analysis_timeout_ms;
	if (ask_api) {
		spot_request(&job.req, cfg, env, m, idem_key,
		    (long)cfg->analysis_timeout_ms);
		http_engine_add(&eng, &job.req);
		job.phase = API_REQUEST;
	}
	while (r_active || job.phase != API_IDLE) {
		now = now_ms();
		if (r_active && now >= r_deadline) {
			http_engine_remove(&eng, &rq);
			r_active = 0;
			sr->rspamd_state = SCAN_FAILED;
			snprintf(sr->rspamd_error, sizeof(sr->rspamd_error),
			    "no answer within %u ms", cfg->timeout_ms);
			continue;
		}
		if (job.phase != API_IDLE && now >= job.deadline) {
			api_deadline(cfg, &eng, &job, sr);
			continue;
		}
		if (job.phase == API_WAIT_POLL && now >= job.poll_at)
			api_poll(cfg, &eng, &job, sr);
		wait = SLICE_MS;
		if (r_active && until(r_deadline, now) < wait)
			wait = until(r_deadline, now);
		if (job.phase != API_IDLE && until(job.deadline, now) < wait)
			wait = until(job.deadline, now);
		if (job.phase == API_WAIT_POLL && until(job.poll_at, now) < wait)
			wait = until(job.poll_at, now);
		while ((done = http_engine_step(&eng, wait)) != NULL) {
			wait = 0;
			if (done == &rq) {
				r_active = 0;
				rspamd_finish(&rq, sr);
			} else if (done == &job.req) {
				api_finish(cfg, &job, sr, job.accepted);
			}
		}
	}
	http_req_free(&rq);
	http_req_free(&job.req);
	free(job.location);
	http_engine_free(&eng);
}

enum scan_state
scan_handoff(const struct config *cfg, const struct envelope *env,
    const struct msg *m, const char *idem_key, char *err, size_t errlen)
{
	struct http_engine eng;
	struct http_req req;
	int64_t deadline = now_ms() + cfg->analysis_timeout_ms;
	enum scan_state st = SCAN_FAILED;
	struct http_req *done = NULL;

	http_engine_init(&eng);
	spot_request(&req, cfg, env, m, idem_key, (long)cfg->analysis_timeout_ms);
	http_engine_add(&eng, &req);
	while (done == NULL && now_ms() < deadline)
		done = http_engine_step(&eng, SLICE_MS);
	if (done == NULL) {
		http_engine_remove(&eng, &req);
		snprintf(err, errlen, "no answer within %u ms", cfg->analysis_timeout_ms);
	} else if (req.result != CURLE_OK || req.status / 100 != 2) {
		http_req_error(&req, err, errlen);
		if (req.result == CURLE_OK && (req.status == 401 || req.status == 403))
			st = SCAN_AUTH;
	} else {
		st = SCAN_DONE;
	}
	http_req_free(&req);
	http_engine_free(&eng);
	return st;
}
