#include "rspamd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

static const char *const action_names[] = {
	[RSPAMD_NO_ACTION] = "no action",
	[RSPAMD_GREYLIST] = "greylist",
	[RSPAMD_ADD_HEADER] = "add header",
	[RSPAMD_REWRITE_SUBJECT] = "rewrite subject",
	[RSPAMD_SOFT_REJECT] = "soft reject",
	[RSPAMD_REJECT] = "reject",
};

void
rspamd_request(struct http_req *r, const char *url, const struct config *cfg,
    const struct envelope *env, const struct msg *m, long timeout_ms)
{
	size_t i;

	http_req_init(r, url, "/checkv2", (long)cfg->connect_timeout_ms,
	    timeout_ms, NULL);
	http_req_header_value(r, "From", env->sender);
	for (i = 0; i < env->nrcpt; i++)
		http_req_header_value(r, "Rcpt", env->rcpt[i]);
	http_req_header_value(r, "IP", env->client_address);
	http_req_header_value(r, "Helo", env->helo);
	http_req_header_value(r, "Hostname", env->client_hostname);
	http_req_header_value(r, "Queue-Id", env->queue_id);
	http_req_header_value(r, "User", env->user);
	if (*cfg->rspamd_password != '\0')
		http_req_header(r, "Password", cfg->rspamd_password);
	http_req_post(r, m, m->from_len);
}

static enum rspamd_action
action_from_name(const char *s)
{
	size_t i = name_index(s, action_names, ARRAY_LEN(action_names), strcmp);

	return i < ARRAY_LEN(action_names) ? (enum rspamd_action)i : RSPAMD_UNKNOWN;
}

static double
number(const cJSON *obj, const char *name)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNumber(n) && isfinite(n->valuedouble) ? n->valuedouble : 0.0;
}

static char *
string_dup(const cJSON *obj, const char *name)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(s) ? xstrdup(s->valuestring) : NULL;
}

static char *
join_options(const cJSON *opts)
{
	struct buf b = { 0 };
	const cJSON *o;

	if (!cJSON_IsArray(opts))
		return NULL;
	cJSON_ArrayForEach(o, opts) {
		if (!cJSON_IsString(o))
			continue;
		if (b.len > 0)
			buf_puts(&b, ",");
		buf_puts(&b, o->valuestring);
		if (b.len > 1024)
			break;
	}
	return b.data;
}

static void
parse_symbols(const cJSON *syms, struct rspamd_reply *out)
{
	const cJSON *s;
	size_t n = 0;

	if (!cJSON_IsObject(syms))
		return;
	cJSON_ArrayForEach(s, syms)
		n++;
	out->symbols = xcalloc(n, sizeof(*out->symbols));
	cJSON_ArrayForEach(s, syms) {
		struct rspamd_symbol *sym = &out->symbols[out->nsymbols];

		if (s->string == NULL || !cJSON_IsObject(s))
			continue;
		sym->name = xstrdup(s->string);
		sym->score = number(s, "score");
		sym->options = join_options(cJSON_GetObjectItemCaseSensitive(s, "options"));
		out->nsymbols++;
	}
}

/* add_headers values are a string, {"value": ..., "order": n}, or a list of those. */
static void
add_milter_value(struct hdr_edit *ed, const char *name, const cJSON *v)
{
	const cJSON *item;

	if (cJSON_IsString(v)) {
		hdr_edit_add(ed, name, v->valuestring);
	} else if (cJSON_IsObject(v)) {
		item = cJSON_GetObjectItemCaseSensitive(v, "value");
		if (cJSON_IsString(item))
			hdr_edit_add(ed, name, item->valuestring);
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(item, v)
			if (!cJSON_IsArray(item))
				add_milter_value(ed, name, item);
	}
}

static void
parse_milter(const cJSON *milter, struct rspamd_reply *out)
{
	const cJSON *h;

	if (!cJSON_IsObject(milter))
		return;
	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(milter, "add_headers"))
		if (h->string != NULL && valid_field_name(h->string))
			add_milter_value(&out->milter, h->string, h);
	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(milter, "remove_headers"))
		if (h->string != NULL && valid_field_name(h->string))
			hdr_edit_remove(&out->milter, h->string,
			    cJSON_IsNumber(h) ? h->valueint : 0); /* valueint is clamped */
}

int
rspamd_parse(const char *json, size_t len, struct rspamd_reply *out, char *err,
    size_t errlen)
{
	const cJSON *action, *messages;
	cJSON *root;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "rspamd answer is not a JSON object");
		cJSON_Delete(root);
		return -1;
	}
	action = cJSON_GetObjectItemCaseSensitive(root, "action");
	if (!cJSON_IsString(action)) {
		snprintf(err, errlen, "rspamd answer has no action");
		cJSON_Delete(root);
		return -1;
	}
	out->action = action_from_name(action->valuestring);
	sanitize_value(out->action_name, sizeof(out->action_name),
	    action->valuestring, sizeof(out->action_name) - 1);
	out->score = number(root, "score");
	out->required = number(root, "required_score");
	parse_symbols(cJSON_GetObjectItemCaseSensitive(root, "symbols"), out);
	messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
	if (cJSON_IsObject(messages) && (out->smtp_message =
	    string_dup(messages, "smtp_message")) != NULL)
		/* it becomes our status line: one line only */
		sanitize_value(out->smtp_message, strlen(out->smtp_message) + 1,
		    out->smtp_message, 512);
	out->subject = string_dup(root, "subject");
	parse_milter(cJSON_GetObjectItemCaseSensitive(root, "milter"), out);
	cJSON_Delete(root);
	return 0;
}

void
rspamd_reply_free(struct rspamd_reply *r)
{
	size_t i;

	for (i = 0; i < r->nsymbols; i++) {
		free(r->symbols[i].name);
		free(r->symbols[i].options);
	}
	free(r->symbols);
	free(r->smtp_message);
	free(r->subject);
	hdr_edit_free(&r->milter);
	memset(r, 0, sizeof(*r));
}

int
rspamd_is_spam(const struct rspamd_reply *r)
{
	return r->action != RSPAMD_NO_ACTION && r->action != RSPAMD_GREYLIST;
}
