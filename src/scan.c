#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "rspamd.h"
#include "spot.h"

/* The longest sleep between looks at the clock. */
#define SLICE_MS 100

void
scan_event(struct upstream_events *ev, const char *what,
    const struct upstream_target *t, const struct http_req *r, int ok,
    const char *why)
{
	char text[200], url[UPSTREAM_URL_MAX + 1];
	long ms = r != NULL ? r->elapsed_ms : (long)(now_ms() - t->attempt_start);

	if (r != NULL)
		http_req_why(r, text, sizeof(text));
	upstream_event_of(ev, what, t->url, ok, r != NULL ? text : why, ms);
	upstream_url_shown(t->url, url, sizeof(url));
	log_verbose("%s %s: %s (%ld ms)", what, url, r != NULL ? text : why, ms);
}

struct scan {
	const struct config *cfg;
	const struct envelope *env;
	const struct msg *m;
	const char *idem_key;
	struct scan_result *sr;
	struct upstream_events *events;
	struct http_engine eng;
};

enum api_phase { API_IDLE, API_POST, API_POLL, API_WAIT_POLL };

struct rspamd_job {
	struct http_req req;
	struct upstream_target t;
	int active;
};

struct api_job {
	struct http_req req;
	struct upstream_target t;
	enum api_phase phase;
	int64_t poll_at;
	int accepted;   /* a 202 came: PENDING, not FAILED, at the deadline */
	char *location;
};

static void
rspamd_start(struct scan *s, struct rspamd_job *job)
{
	long timeout = upstream_target_next(&job->t);

	http_req_free(&job->req);
	job->active = timeout > 0;
	if (!job->active) {
		s->sr->rspamd_state = SCAN_FAILED;
		if (s->sr->rspamd_error[0] == '\0')
			snprintf(s->sr->rspamd_error, sizeof(s->sr->rspamd_error),
			    "no Rspamd server to ask");
		return;
	}
	rspamd_request(&job->req, job->t.url, s->cfg, s->env, s->m, timeout);
	http_engine_add(&s->eng, &job->req);
}

static void
rspamd_done(struct scan *s, struct rspamd_job *job)
{
	struct http_req *r = &job->req;
	struct scan_result *sr = s->sr;
	char err[256];

	job->active = 0;
	if (http_req_host_failed(r)) {
		scan_event(s->events, "rspamd", &job->t, r, 0, NULL);
		http_req_error(r, sr->rspamd_error, sizeof(sr->rspamd_error));
		rspamd_start(s, job);
		return;
	}
	if (r->status / 100 != 2) {
		http_req_error(r, sr->rspamd_error, sizeof(sr->rspamd_error));
		sr->rspamd_state = SCAN_FAILED;
		return;
	}
	scan_event(s->events, "rspamd", &job->t, r, 1, NULL);
	if (rspamd_parse(r->resp.data ? r->resp.data : "", r->resp.len,
	    &sr->rspamd, err, sizeof(err)) != 0) {
		rspamd_reply_free(&sr->rspamd);
		snprintf(sr->rspamd_error, sizeof(sr->rspamd_error), "%s", err);
		sr->rspamd_state = SCAN_FAILED;
		return;
	}
	sr->rspamd_error[0] = '\0';
	sr->rspamd_state = SCAN_DONE;
}

static void
rspamd_check_time(struct scan *s, struct rspamd_job *job, int64_t now)
{
	if (!job->active || now < job->t.attempt_deadline)
		return;
	http_engine_remove(&s->eng, &job->req);
	snprintf(s->sr->rspamd_error, sizeof(s->sr->rspamd_error),
	    "no answer within %u ms", s->cfg->timeout_ms);
	scan_event(s->events, "rspamd", &job->t, NULL, 0, s->sr->rspamd_error);
	rspamd_start(s, job);
}

static void
api_start(struct scan *s, struct api_job *job)
{
	long timeout = upstream_target_next(&job->t);

	http_req_free(&job->req);
	if (timeout <= 0) {
		job->phase = API_IDLE;
		s->sr->api_state = SCAN_FAILED;
		return;
	}
	spot_request(&job->req, job->t.url, s->cfg, s->env, s->m, s->idem_key,
	    timeout);
	http_engine_add(&s->eng, &job->req);
	job->phase = API_POST;
}

static void
api_wait(const struct config *cfg, struct api_job *job)
{
	job->phase = API_WAIT_POLL;
	job->poll_at = now_ms() + cfg->poll_interval_ms;
}

static void
api_poll(struct scan *s, struct api_job *job)
{
	http_req_free(&job->req);
	spot_poll_request(&job->req, job->t.url, s->cfg, job->location,
	    s->sr->spot.job_id, (long)(job->t.deadline - now_ms()));
	http_engine_add(&s->eng, &job->req);
	job->phase = API_POLL;
}

/* A 2xx of the POST or of a poll: a job object. */
static void
api_answer(struct scan *s, struct api_job *job)
{
	struct http_req *r = &job->req;
	struct scan_result *sr = s->sr;
	struct spot_reply reply;
	char err[256];

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
		api_wait(s->cfg, job);
		return;
	}
	sr->api_error[0] = '\0';
	sr->api_state = SCAN_DONE;
}

static void
verbose_poll(const struct api_job *job, const struct http_req *r)
{
	char url[UPSTREAM_URL_MAX + 1], text[200];

	upstream_url_shown(job->t.url, url, sizeof(url));
	http_req_why(r, text, sizeof(text));
	log_verbose("SPOT API %s: poll: %s (%ld ms)", url, text, r->elapsed_ms);
}

static void
api_done(struct scan *s, struct api_job *job)
{
	struct http_req *r = &job->req;
	struct scan_result *sr = s->sr;
	struct spot_reply reply;
	char err[256];
	int is_poll = job->phase == API_POLL;

	job->phase = API_IDLE;
	if (is_poll)
		verbose_poll(job, r);
	if (http_req_host_failed(r) || r->status == 429) {
		http_req_error(r, sr->api_error, sizeof(sr->api_error));
		if (is_poll) { /* the job exists there: ask again until the deadline */
			api_wait(s->cfg, job);
		} else if (r->status == 429) {
			sr->api_state = SCAN_FAILED;
		} else {
			scan_event(s->events, "SPOT API", &job->t, r, 0, NULL);
			api_start(s, job);
		}
		return;
	}
	if (!is_poll)
		scan_event(s->events, "SPOT API", &job->t, r, 1, NULL);
	if (r->status == 401 || r->status == 403) {
		http_req_error(r, sr->api_error, sizeof(sr->api_error));
		sr->api_state = SCAN_AUTH;
	} else if (!is_poll && (r->status == 413 || r->status == 422)) {
		if (spot_parse(r->resp.data ? r->resp.data : "", r->resp.len,
		    &reply, err, sizeof(err)) == 0)
			memcpy(sr->spot.job_id, reply.job_id, sizeof(reply.job_id));
		sr->spot.status = SPOT_REJECTED;
		sr->api_state = SCAN_DONE;
	} else if (r->status == 200 || r->status == 202) {
		api_answer(s, job);
	} else {
		http_req_error(r, sr->api_error, sizeof(sr->api_error));
		sr->api_state = SCAN_FAILED;
	}
}

static void
api_check_time(struct scan *s, struct api_job *job, int64_t now)
{
	if (job->phase == API_IDLE)
		return;
	if (now >= job->t.deadline) {
		if (job->phase == API_POST || job->phase == API_POLL)
			http_engine_remove(&s->eng, &job->req);
		snprintf(s->sr->api_error, sizeof(s->sr->api_error),
		    "no verdict within %u ms", s->cfg->analysis_timeout_ms);
		if (job->phase == API_POST)
			scan_event(s->events, "SPOT API", &job->t, NULL, 0,
			    s->sr->api_error);
		job->phase = API_IDLE;
		s->sr->api_state = job->accepted ? SCAN_PENDING : SCAN_FAILED;
	} else if (job->phase == API_POST && now >= job->t.attempt_deadline) {
		http_engine_remove(&s->eng, &job->req);
		snprintf(s->sr->api_error, sizeof(s->sr->api_error), "timeout");
		scan_event(s->events, "SPOT API", &job->t, NULL, 0, "timeout");
		api_start(s, job);
	} else if (job->phase == API_WAIT_POLL && now >= job->poll_at) {
		api_poll(s, job);
	}
}

static long
until(int64_t t, int64_t now, long wait)
{
	return t - now < wait ? (t > now ? (long)(t - now) : 0) : wait;
}

void
scan_run(const struct scan_params *p, struct scan_result *sr)
{
	struct scan s = { p->cfg, p->env, p->m, p->idem_key, sr, p->events, { 0 } };
	struct rspamd_job rj;
	struct api_job aj;
	struct http_req *done;
	int64_t start = now_ms(), now;
	long wait;

	memset(&rj, 0, sizeof(rj));
	memset(&aj, 0, sizeof(aj));
	http_engine_init(&s.eng);
	if (p->rspamd != NULL) {
		upstream_target_init(&rj.t, p->rspamd, p->memory, p->seed,
		    start + p->cfg->timeout_ms);
		rspamd_start(&s, &rj);
	}
	if (p->api != NULL) {
		upstream_target_init(&aj.t, p->api, p->memory, p->seed,
		    start + p->cfg->analysis_timeout_ms);
		api_start(&s, &aj);
	}
	while (rj.active || aj.phase != API_IDLE) {
		now = now_ms();
		rspamd_check_time(&s, &rj, now);
		api_check_time(&s, &aj, now);
		wait = SLICE_MS;
		if (rj.active)
			wait = until(rj.t.attempt_deadline, now, wait);
		if (aj.phase != API_IDLE)
			wait = until(aj.phase == API_WAIT_POLL ? aj.poll_at :
			    aj.phase == API_POST ? aj.t.attempt_deadline :
			    aj.t.deadline, now, wait);
		while ((done = http_engine_step(&s.eng, wait)) != NULL) {
			wait = 0;
			if (done == &rj.req)
				rspamd_done(&s, &rj);
			else if (done == &aj.req)
				api_done(&s, &aj);
		}
	}
	http_req_free(&rj.req);
	http_req_free(&aj.req);
	free(aj.location);
	http_engine_free(&s.eng);
}
