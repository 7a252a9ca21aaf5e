#include "spot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

static const char *const status_names[] = {
	[SPOT_ANALYZED] = "analyzed",
	[SPOT_ACCEPTED] = "accepted",
	[SPOT_TIMEOUT] = "timeout",
	[SPOT_REJECTED] = "rejected",
};

const char *
spot_status_name(enum spot_status s)
{
	return status_names[s];
}

static void
auth_and_envelope(struct http_req *r, const struct config *cfg)
{
	struct buf auth = { 0 };

	buf_printf(&auth, "Bearer %s", cfg->api_key);
	http_req_header(r, "Authorization", auth.data);
	explicit_bzero(auth.data, auth.len);
	buf_free(&auth);
}

static const struct http_tls *
tls_of(const struct config *cfg, struct http_tls *tls)
{
	tls->ca_file = cfg->api_ca_file;
	tls->verify = cfg->api_tls_verify;
	return tls;
}

void
spot_request(struct http_req *r, const char *url, const struct config *cfg,
    const struct envelope *env, const struct msg *m, const char *idem_key,
    long timeout_ms)
{
	struct http_tls tls;
	size_t i;

	http_req_init(r, url, "", (long)cfg->connect_timeout_ms,
	    timeout_ms, tls_of(cfg, &tls));
	auth_and_envelope(r, cfg);
	http_req_header(r, "Content-Type", "message/rfc822");
	/* Postfix passes the null sender as an empty ${sender} */
	http_req_header_value(r, "X-Envelope-From", env->sender && *env->sender == '\0' ?
	    "<>" : env->sender);
	for (i = 0; i < env->nrcpt; i++)
		http_req_header_value(r, "X-Envelope-To", env->rcpt[i]);
	http_req_header_value(r, "X-Client-Address", env->client_address);
	http_req_header_value(r, "X-Client-Helo", env->helo);
	http_req_header_value(r, "X-Queue-Id", env->queue_id);
	http_req_header_value(r, "Idempotency-Key", idem_key);
	http_req_post(r, m, m->from_len);
}

static char *
origin_of(CURLU *u)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *origin = NULL;
	struct buf b = { 0 };

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		buf_printf(&b, "%s://%s:%s", scheme, host, port);
		origin = b.data;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return origin;
}

/* The Location of a 202, resolved against api_url; NULL unless it stays on
 * the API's own scheme, host and port: the Bearer key goes with the poll. */
static char *
resolve_location(const char *api_url, const char *location)
{
	char *base_origin = NULL, *origin = NULL, *resolved = NULL;
	CURLU *u;

	if (location == NULL || *location == '\0' || (u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, api_url, 0) == CURLUE_OK &&
	    (base_origin = origin_of(u)) != NULL &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    (origin = origin_of(u)) != NULL && strcmp(origin, base_origin) == 0)
		curl_url_get(u, CURLUPART_URL, &resolved, 0);
	free(base_origin);
	free(origin);
	curl_url_cleanup(u);
	return resolved;
}

void
spot_poll_request(struct http_req *r, const char *base, const struct config *cfg,
    const char *location, const char *job_id, long timeout_ms)
{
	struct http_tls tls;
	struct buf url = { 0 };
	char *resolved = resolve_location(base, location), *esc;

	if (resolved != NULL) {
		buf_puts(&url, resolved);
		curl_free(resolved);
	} else {
		esc = curl_easy_escape(NULL, job_id, 0);
		buf_printf(&url, "%s%s%s", base,
		    base[0] && base[strlen(base) - 1] == '/' ? "" : "/",
		    esc ? esc : "");
		curl_free(esc);
	}
	http_req_init(r, buf_cstr(&url), "", (long)cfg->connect_timeout_ms,
	    timeout_ms, tls_of(cfg, &tls));
	buf_free(&url);
	auth_and_envelope(r, cfg);
}

int
spot_parse(const char *json, size_t len, struct spot_reply *out, char *err,
    size_t errlen)
{
	const cJSON *job, *status, *phish, *level, *conf;
	cJSON *root;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "API answer is not a JSON object");
		goto done;
	}
	job = cJSON_GetObjectItemCaseSensitive(root, "job_id");
	status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(job) || !cJSON_IsString(status)) {
		snprintf(err, errlen, "API answer lacks job_id or status");
		goto done;
	}
	sanitize_value(out->job_id, sizeof(out->job_id), job->valuestring,
	    sizeof(out->job_id) - 1);
	i = name_index(status->valuestring, status_names, ARRAY_LEN(status_names),
	    strcmp);
	if (i == ARRAY_LEN(status_names)) {
		snprintf(err, errlen, "API answer has an unknown status");
		goto done;
	}
	out->status = (enum spot_status)i;
	if (out->status == SPOT_ANALYZED) {
		phish = cJSON_GetObjectItemCaseSensitive(root, "is_phishing");
		level = cJSON_GetObjectItemCaseSensitive(root, "threat_level");
		conf = cJSON_GetObjectItemCaseSensitive(root, "confidence");
		if (!cJSON_IsBool(phish) || !cJSON_IsNumber(conf) ||
		    !isfinite(conf->valuedouble) || conf->valuedouble < 0.0 ||
		    conf->valuedouble > 1.0) {
			snprintf(err, errlen, "API verdict lacks is_phishing or a "
			    "confidence between 0 and 1");
			goto done;
		}
		out->is_phishing = cJSON_IsTrue(phish);
		out->confidence = conf->valuedouble;
		sanitize_value(out->threat_level, sizeof(out->threat_level),
		    cJSON_IsString(level) ? level->valuestring : "unknown",
		    sizeof(out->threat_level) - 1);
	}
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

static int
plain_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

/* A queue id goes into the key as a reading aid only when it is a plain
 * token: the key must stay short ASCII whatever argv says. */
static int
plain_queue_id(const char *q)
{
	size_t n;

	if (q == NULL || *q == '\0')
		return 0;
	for (n = 0; q[n] != '\0'; n++)
		if (n >= SPOT_QUEUE_ID_IN_KEY_MAX || !plain_char(q[n]))
			return 0;
	return 1;
}

void
spot_idempotency_key(char *dst, size_t n, const char *queue_id,
    const unsigned char id[DELIVERY_ID_LEN])
{
	char hex[2 * DELIVERY_ID_LEN + 1];
	size_t i;

	for (i = 0; i < DELIVERY_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	if (plain_queue_id(queue_id))
		snprintf(dst, n, "%s-%s", queue_id, hex);
	else
		snprintf(dst, n, "%s", hex);
}
