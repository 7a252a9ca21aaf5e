#include "run.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "age.h"
#include "decide.h"
#include "deliver.h"
#include "http.h"
#include "identity.h"
#include "log.h"
#include "msg.h"
#include "report.h"
#include "rewrite.h"
#include "scan.h"
#include "skip.h"
#include "spot.h"
#include "state.h"
#include "stats.h"
#include "upstream.h"

#define STATUS_LOCAL_FAILED "4.3.0 Local delivery failed, try again later"

static void
result(struct run_result *res, enum run_kind kind, const char *status)
{
	res->kind = kind;
	snprintf(res->status, sizeof(res->status), "%s", status);
}

static int
read_message(const struct run_opts *o, struct msg *m, struct run_result *res)
{
	const struct config *cfg = o->cfg;
	char err[512];

	/* room in front of a spooled message only for an LDA to read it */
	switch (msg_read(m, o->in_fd, cfg->spool_threshold, cfg->max_size,
	    o->lda != NULL && !cfg->handoff ? SPOOL_ROOM : 0, cfg->spool_dir, err,
	    sizeof(err))) {
	case MSG_OK:
		return 0;
	case MSG_EMPTY:
		result(res, RUN_DATAERR, "5.6.0 Empty message");
		log_error("5.6.0 empty message: nothing was read from standard input");
		break;
	case MSG_TOO_BIG:
		result(res, RUN_DATAERR, "5.3.4 Message size exceeds fixed limit");
		log_error("5.3.4 message larger than max_size (%llu bytes)",
		    (unsigned long long)cfg->max_size);
		break;
	case MSG_IO_ERROR:
		result(res, RUN_TEMPFAIL, STATUS_LOCAL_FAILED);
		log_error("4.3.0 %s", err);
		break;
	}
	return -1;
}

/* The delivery's identity, for the Idempotency-Key and for the age: the
 * digest of the whole message is taken once, and only when needed. */
struct identity {
	unsigned char id[DELIVERY_ID_LEN];
	int known;
};

static int
identity_of(const struct run_opts *o, const struct msg *m,
    const struct hdr_block *hb, struct identity *ident, char *err, size_t n)
{
	if (!ident->known &&
	    delivery_identity(&o->env, m, hb, ident->id, err, n) != 0)
		return -1;
	ident->known = 1;
	return 0;
}

/* Before the delivery: a message that cannot be read back defers. */
static int
identify(const struct run_opts *o, const struct msg *m,
    const struct hdr_block *hb, struct identity *ident, struct run_result *res)
{
	char err[256];

	if (identity_of(o, m, hb, ident, err, sizeof(err)) == 0)
		return 0;
	result(res, RUN_TEMPFAIL, STATUS_LOCAL_FAILED);
	log_error("4.3.0 %s", err);
	return -1;
}

/* What a delivery needs to know about the upstreams. */
struct upstreams {
	struct upstream_list rspamd;
	struct upstream_list api;
	int state_dir;             /* a directory fd, or -1: no memory, no counters */
	struct upstream_memory memory;
	struct upstream_events events;
	uint32_t seed;
};

/* A state_dir that cannot be used costs the memory and the counters, one
 * warning, and nothing else. */
static void
state_init(const struct config *cfg, struct upstreams *u)
{
	char why[512];

	if (state_dir_open(cfg->state_dir, &u->state_dir, why, sizeof(why)) !=
	    STATE_DIR_OK) {
		if (why[0] != '\0')
			log_warn("state_dir %s: %s: not used (no dead-host memory, "
			    "no counters)", cfg->state_dir, why);
		return;
	}
	if (upstream_memory_open(&u->memory, u->state_dir, why, sizeof(why)) != 0)
		log_warn("state_dir %s: %s: no dead-host memory", cfg->state_dir, why);
}

static void
upstreams_init(const struct config *cfg, struct upstreams *u)
{
	memset(u, 0, sizeof(*u));
	u->state_dir = -1;
	/* the lists were checked by config_finish() */
	upstream_list_parse(cfg->rspamd_url, &u->rspamd);
	upstream_list_parse(cfg->api_url, &u->api);
	state_init(cfg, u);
	/* spread deliveries over the members */
	if (getrandom(&u->seed, sizeof(u->seed), GRND_NONBLOCK) != sizeof(u->seed))
		u->seed = (uint32_t)getpid() * 2654435761u ^ (uint32_t)now_ms();
}

/* Dead-host memory whose file was shortened is dropped before it is
 * read again: the requests go on without it. */
static void
memory_check(const struct config *cfg, struct upstreams *u)
{
	if (state_map_intact(&u->memory.map) == 0)
		return;
	log_warn("state_dir %s: upstreams.db was shortened during this "
	    "delivery: no dead-host memory", cfg->state_dir);
	upstream_memory_close(&u->memory);
}

/* What a delivery leaves in state_dir once decided. */
struct record {
	const struct config *cfg;
	struct upstreams *u;
	const struct scan_result *sr;     /* NULL: nothing to count */
	const struct decision *d;
	int64_t elapsed_ms;
	const unsigned char *delivered;   /* its first deferral is forgotten */
};

static void
record_state(void *arg)
{
	const struct record *r = arg;

	if (r->sr != NULL)
		stats_count(r->cfg, r->u->state_dir, &r->u->memory, r->sr, r->d,
		    r->sr->skip_note[0] != '\0', r->elapsed_ms, &r->u->events);
	upstream_record(r->cfg, &r->u->memory, &r->u->events, upstream_now());
	if (r->delivered != NULL)
		age_forget(r->cfg, r->delivered);
}

/* A state file shortened under the delivery costs what was to be written
 * there, never the delivery: in hand-off mode the API has the message
 * already. */
static void
record(const struct record *r)
{
	if (state_guard(record_state, (void *)r) != 0)
		log_warn("state_dir %s: a state file was shortened during this "
		    "delivery: not all of it is recorded", r->cfg->state_dir);
}

static void
upstreams_free(struct upstreams *u)
{
	upstream_memory_close(&u->memory);
	if (u->state_dir >= 0)
		close(u->state_dir);
	upstream_list_free(&u->rspamd);
	upstream_list_free(&u->api);
}

static struct scan_params
scan_params_of(const struct run_opts *o, const struct msg *m, const char *idem,
    struct upstreams *u, int ask_rspamd, int ask_api)
{
	return (struct scan_params){ o->cfg, &o->env, m, idem,
	    ask_rspamd ? &u->rspamd : NULL, ask_api ? &u->api : NULL, &u->memory,
	    u->seed, &u->events };
}

/* The API gets the message to deliver it, or to analyse it unless the
 * message is skipped: only then is its Idempotency-Key worth the digest of
 * the whole message. */
static int
api_gets_message(const struct config *cfg, const struct envelope *env,
    const struct msg *m)
{
	if (*cfg->api_url == '\0')
		return 0;
	return cfg->handoff || (skip_reason(cfg, env) == NULL &&
	    m->size - m->from_len <= cfg->scan_max_size);
}

/* Who is asked: nobody for skipped mail, the API only to analyse. */
static void
scan_message(const struct run_opts *o, const struct msg *m, const char *idem,
    struct upstreams *u, struct scan_result *sr)
{
	const struct config *cfg = o->cfg;
	int api_on = *cfg->api_url != '\0' && !cfg->handoff;
	const char *why = skip_reason(cfg, &o->env);
	uint64_t size = m->size - m->from_len;
	struct scan_params p;

	if (why == NULL && size > cfg->scan_max_size)
		snprintf(sr->skip_note, sizeof(sr->skip_note), "message of %llu "
		    "bytes is larger than scan_max_size", (unsigned long long)size);
	else if (why != NULL)
		snprintf(sr->skip_note, sizeof(sr->skip_note), "%s", why);
	if (sr->skip_note[0] != '\0') {
		sr->rspamd_state = cfg->rspamd ? SCAN_SKIPPED : SCAN_OFF;
		sr->api_state = api_on ? SCAN_SKIPPED : SCAN_OFF;
		return;
	}
	/* In hand-off mode the API gets the message only to deliver it, never
	 * to analyse it, and not at all from --check. */
	p = scan_params_of(o, m, idem, u, cfg->rspamd, api_on);
	scan_run(&p, sr);
}

static const char *
extra_lda_args(const struct config *cfg, const struct decision *d)
{
	if (d->phishing && *cfg->phishing_lda_args != '\0')
		return cfg->phishing_lda_args;
	if (d->unscanned && *cfg->unscanned_lda_args != '\0')
		return cfg->unscanned_lda_args;
	if (d->spam && *cfg->spam_lda_args != '\0')
		return cfg->spam_lda_args;
	return NULL;
}

/* What the log line says of a delivery: "delivered via dovecot-lda". */
static void
delivered_via(const struct run_opts *o, char *dst, size_t n)
{
	const char *name, *slash;

	if (o->check || o->cfg->handoff || o->lda == NULL) {
		snprintf(dst, n, "%s", o->check ? "nothing delivered" :
		    o->cfg->handoff ? "handed off to the API" :
		    "written to standard output");
		return;
	}
	name = o->lda[0];
	slash = strrchr(name, '/');
	snprintf(dst, n, "delivered via %s", slash != NULL && slash[1] != '\0' ?
	    slash + 1 : name);
}

/* -v: a list of names, cut when long; a byte of the message that is not
 * printable ASCII is shown as '?', so no terminal is sent an escape. */
static void
names_add(char *dst, size_t n, const char *name)
{
	size_t len = strnlen(dst, n);

	if (len > 0 && len + 2 < n) {
		memcpy(dst + len, ", ", 3);
		len += 2;
	}
	for (; *name != '\0' && len + 1 < n; name++, len++)
		dst[len] = *name > 0x20 && *name < 0x7f ? *name : '?';
	dst[len] = '\0';
}

/* -v: the decision and the header edits, by name only (no value). */
static void
verbose_decision(const struct decision *d, const struct hdr_block *hb,
    const struct hdr_edit *ed)
{
	char added[600] = "", stripped[600] = "";
	size_t i;

	for (i = 0; i < ed->nadd; i++)
		names_add(added, sizeof(added), ed->add[i].name);
	for (i = 0; i < hb->n; i++)
		if (hb->v[i].name[0] != '\0' && hdr_strip_match(ed, hb->v[i].name))
			names_add(stripped, sizeof(stripped), hb->v[i].name);
	for (i = 0; i < ed->nremove; i++)
		names_add(stripped, sizeof(stripped), ed->remove[i].name);
	log_verbose("decision: %s%s%s; added: %s; stripped: %s%s",
	    outcome_name(d->outcome), d->detail[0] != '\0' ? ", " : "", d->detail,
	    added[0] != '\0' ? added : "none", stripped[0] != '\0' ? stripped :
	    "none", ed->subject != NULL ? "; Subject: rewritten" : "");
}

static void
verbose_argv(char **argv)
{
	char line[1024] = "";
	size_t i, len;

	for (i = 0; argv[i] != NULL; i++) {
		len = strlen(line);
		if (len + 1 < sizeof(line))
			snprintf(line + len, sizeof(line) - len, "%s'%s'",
			    i > 0 ? " " : "", argv[i]);
	}
	log_verbose("lda: exec %s", line);
}

static enum run_kind
kind_of(const struct decision *d)
{
	return d->outcome == OUTCOME_REJECT ? RUN_REJECTED :
	    d->outcome == OUTCOME_DEFER ? RUN_TEMPFAIL : RUN_DELIVERED;
}

/* A delivery that may have been deferred before (it was scanned, with
 * defer_max_age on) frees its slot in the first-deferral memory: the
 * digest of the message is taken for that only when the memory exists. A
 * failure costs the slot, not the delivery. */
static const unsigned char *
delivered_id(const struct run_opts *o, const struct msg *m,
    const struct hdr_block *hb, const struct scan_result *sr,
    const struct decision *d, const struct run_result *res,
    struct identity *ident)
{
	char err[256];

	if (o->check || d->outcome != OUTCOME_DELIVER ||
	    (o->cfg->handoff && res->kind != RUN_DELIVERED) ||
	    o->cfg->defer_max_age == 0 || sr->skip_note[0] != '\0')
		return NULL;
	if (!ident->known && !age_store_exists(o->cfg))
		return NULL;
	return identity_of(o, m, hb, ident, err, sizeof(err)) == 0 ? ident->id : NULL;
}

/* One delivery from its decision on. */
struct delivery {
	const struct run_opts *o;
	const struct msg *m;
	const struct hdr_block *hb;
	const struct scan_result *sr;
	const struct decision *d;
	const struct age *age;
	struct upstreams *u;
	const char *idem;
	struct identity *ident;
	int64_t start;
	struct run_result *res;
	struct hdr_edit ed;
	struct rewrite rw;
	struct report rep;
	char via[300];
	char failure[620];
};

/* Everything but the delivery itself: the rewrite, the log line (unless
 * it waits for the message to be out), --check's report, the counters
 * and the dead-host memory. */
static void
settle(struct delivery *dv)
{
	const struct run_opts *o = dv->o;
	const struct config *cfg = o->cfg;
	const struct decision *d = dv->d;
	struct run_result *res = dv->res;

	/* The last request is done: nothing from here on needs a secret, and
	 * the copy for the LDA or a core must not find one. */
	config_wipe_secrets(cfg);
	hdr_edit_set_strip(&dv->ed, cfg->strip_headers);
	decide_headers(cfg, dv->sr, d, &dv->ed);
	if (dv->m->spool_fd >= 0 && dv->m->room > 0)
		rewrite_plan_in_place(dv->m->size, dv->hb, &dv->ed, dv->m->room,
		    &dv->rw);
	else
		rewrite_plan(dv->m->size, dv->hb, &dv->ed, &dv->rw);
	verbose_decision(d, dv->hb, &dv->ed);

	/* hand-off sends the message as it came: nothing is stripped */
	delivered_via(o, dv->via, sizeof(dv->via));
	dv->rep = (struct report){ cfg, &o->env, dv->hb, dv->m->size, dv->sr, d,
	    &dv->ed, cfg->handoff ? 0 : dv->rw.removed, o->check, dv->via,
	    dv->failure[0] != '\0' ? dv->failure : NULL, now_ms() - dv->start,
	    decide_needs_age(cfg, dv->sr) ? dv->age : NULL };
	if (d->outcome != OUTCOME_DELIVER) {
		snprintf(res->status, sizeof(res->status), "%s %s", d->code, d->reason);
		res->kind = kind_of(d);
	}
	/* an LDA or standard output: logged once the message is out */
	if (o->check || d->outcome != OUTCOME_DELIVER || cfg->handoff)
		report_log(&dv->rep);
	if (o->check) {
		if (report_json(&dv->rep, o->exit_code(kind_of(d)), res->status,
		    stdout) != 0) {
			result(res, RUN_TEMPFAIL, STATUS_LOCAL_FAILED);
			log_error("4.3.0 --check: cannot write to standard output");
		} else
			res->kind = RUN_CHECKED;
	}
	/* before an exec: nothing is written after it */
	record(&(struct record){ cfg, dv->u, o->check ? NULL : dv->sr, d,
	    dv->rep.elapsed_ms, delivered_id(o, dv->m, dv->hb, dv->sr, d, res,
	    dv->ident) });
	upstreams_free(dv->u);
}

/* Hand-off: the API's 2xx is the delivery (Rspamd was asked before: what
 * it rejected or deferred does not get here). The failure goes into the
 * log line. */
static void
hand_off(struct delivery *dv)
{
	const struct run_opts *o = dv->o;
	struct handoff h = { o->cfg, &o->env, dv->m, dv->idem, &dv->u->api,
	    &dv->u->memory, dv->u->seed, &dv->u->events };
	struct run_result *res = dv->res;
	char err[256];

	memory_check(o->cfg, dv->u);
	switch (deliver_handoff(&h, err, sizeof(err))) {
	case HANDOFF_DONE:
		result(res, RUN_DELIVERED, "2.0.0 Handed off to the API");
		return;
	case HANDOFF_AUTH:
		result(res, RUN_TEMPFAIL, "4.7.0 Delivery failed, try again later");
		snprintf(dv->failure, sizeof(dv->failure), "4.7.0 the SPOT API "
		    "refused our key (%s); check api_key_file", err);
		break;
	case HANDOFF_FAILED:
		result(res, RUN_TEMPFAIL, "4.4.1 Delivery failed, try again later");
		snprintf(dv->failure, sizeof(dv->failure), "4.4.1 hand-off to the "
		    "API failed: %s", err);
		break;
	}
}

/* The one place the message leaves, by one of deliver.h's three ways. The
 * hand-off's answers are recorded after it; an LDA replaces us, so all is
 * written before the exec, the log line too once the LDA's stdin is ready
 * (a failed copy is logged as deferred only), and again if the exec
 * failed; filter mode writes first and logs what happened. */
static void
deliver(struct delivery *dv)
{
	const struct run_opts *o = dv->o;
	char err[600];
	char **argv;

	if (o->cfg->handoff) {
		hand_off(dv);
		settle(dv);
		return;
	}
	settle(dv);
	if (o->lda == NULL) {
		if (deliver_stdout(&dv->rw, dv->m, err, sizeof(err)) == 0) {
			result(dv->res, RUN_DELIVERED, "2.0.0 Written to standard output");
			report_log(&dv->rep);
			return;
		}
	} else {
		argv = lda_argv_build(o->lda, extra_lda_args(o->cfg, dv->d));
		verbose_argv(argv);
		if (deliver_stdin(&dv->rw, dv->m, o->cfg->spool_dir, err,
		    sizeof(err)) == 0) {
			report_log(&dv->rep);
			deliver_exec(argv, err, sizeof(err));
		}
		lda_argv_free(argv);
	}
	result(dv->res, RUN_TEMPFAIL, STATUS_LOCAL_FAILED);
	snprintf(dv->failure, sizeof(dv->failure), "4.3.0 %s", err);
	dv->rep.failure = dv->failure;
	report_log(&dv->rep);
}

void
run(const struct run_opts *o, struct run_result *res)
{
	const struct config *cfg = o->cfg;
	struct upstreams u;
	struct scan_result sr;
	struct hdr_block hb;
	struct delivery dv;
	struct decision d;
	struct msg m;
	char idem[SPOT_IDEM_KEY_SIZE] = "";
	struct age age = { 0 };
	struct identity ident = { { 0 }, 0 };
	int64_t start = now_ms();

	memset(res, 0, sizeof(*res));
	memset(&sr, 0, sizeof(sr));
	if (!cfg->api_tls_verify && *cfg->api_url != '\0')
		log_warn("api_tls_verify = no: the API's certificate is not checked");
	http_global_init(config_uses_https(cfg));
	if (read_message(o, &m, res) != 0)
		goto out;
	hdr_block_parse(m.head, m.head_len, m.from_len, m.spool_fd < 0, &hb);
	if (api_gets_message(cfg, &o->env, &m)) {
		if (identify(o, &m, &hb, &ident, res) != 0)
			goto out_hb;
		spot_idempotency_key(idem, sizeof(idem), o->env.queue_id, ident.id);
	}
	upstreams_init(cfg, &u);
	memory_check(cfg, &u);
	scan_message(o, &m, idem, &u, &sr);
	/* --check looks the age up but does not start the clock */
	if (decide_needs_age(cfg, &sr)) {
		if (identify(o, &m, &hb, &ident, res) != 0)
			goto out_scan;
		age_of(cfg, &o->env, ident.id, m.head, &hb, !o->check,
		    (int64_t)time(NULL), &age);
	}
	decide(cfg, &sr, age.seconds, &d);
	dv = (struct delivery){ .o = o, .m = &m, .hb = &hb, .sr = &sr, .d = &d,
	    .age = &age, .u = &u, .idem = idem, .ident = &ident, .start = start,
	    .res = res };
	if (!o->check && d.outcome == OUTCOME_DELIVER)
		deliver(&dv);
	else
		settle(&dv);
	rewrite_free(&dv.rw);
	hdr_edit_free(&dv.ed);
	scan_result_free(&sr);
	hdr_block_free(&hb);
	msg_free(&m);
	return;
out_scan:
	record(&(struct record){ cfg, &u, NULL, NULL, 0, NULL });
	upstreams_free(&u);
	scan_result_free(&sr);
out_hb:
	hdr_block_free(&hb);
out:
	msg_free(&m);
}
