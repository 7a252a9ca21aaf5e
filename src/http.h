/* One HTTP engine for both scanners: libcurl's multi interface runs the
 * Rspamd and SPOT requests at the same time in this single thread. A request
 * reads the message body with pread() (no copy of the message), keeps at
 * most resp_max bytes of answer, and never follows a redirect or a proxy
 * from the environment. A 2xx that comes before the whole body was sent is
 * a failed request, never an answer about the part the server saw. No
 * request outlives its deadline, not even in a hanging name lookup. */
#ifndef SPOT_HTTP_H
#define SPOT_HTTP_H

#include <curl/curl.h>

#include "config.h"
#include "msg.h"
#include "util.h"

struct http_req {
	CURL *easy;
	struct curl_slist *headers;
	const struct msg *msg;
	uint64_t body_pos;
	uint64_t body_end;
	uint64_t body_len;   /* the size announced in Content-Length */
	uint64_t body_sent;  /* what curl had sent when the answer was complete */
	int answered_early;  /* a 2xx before all of it: result is CURLE_SEND_ERROR */
	struct buf resp;
	size_t resp_max;
	int resp_overflow;
	long status;
	CURLcode result;
	long os_errno;       /* the system's error behind a failed connect */
	long elapsed_ms;
	char *location;
};

struct http_tls {
	const char *ca_file;
	int verify;
};

/* url may be "unix:/path/sock" + path (then the request goes over that socket). */
void http_req_init(struct http_req *r, const char *base_url, const char *path,
    long connect_ms, long total_ms, const struct http_tls *tls);
void http_req_header(struct http_req *r, const char *name, const char *value);
/* The same for a value from outside: skipped when empty, control characters
 * made spaces, cut at 1023 bytes. */
void http_req_header_value(struct http_req *r, const char *name, const char *value);
void http_req_post(struct http_req *r, const struct msg *m, uint64_t from);
void http_req_free(struct http_req *r);
/* A short text for logs and headers: "HTTP 503", "timeout", "connection refused",
 * "HTTP 200 after 3889 of 200024 bytes of the message". */
void http_req_error(const struct http_req *r, char *dst, size_t n);
/* Worth asking the next member: the host, not the message, is the trouble. */
int http_req_host_failed(const struct http_req *r);
/* The same for the admin's log, with the system's error when there is one:
 * "connect: Connection refused", "resolve: Couldn't resolve host name". */
void http_req_why(const struct http_req *r, char *dst, size_t n);

struct http_engine {
	CURLM *multi;
};

/* tls: whether a request can go over https (config_uses_https()). */
void http_global_init(int tls);
void http_engine_init(struct http_engine *e);
void http_engine_free(struct http_engine *e);
void http_engine_add(struct http_engine *e, struct http_req *r);
void http_engine_remove(struct http_engine *e, struct http_req *r);
/* Waits at most timeout_ms for activity and drives the transfers. Returns the
 * next finished request (its result and status set) or NULL. */
struct http_req *http_engine_step(struct http_engine *e, long timeout_ms);
/* One request on its own, at most timeout_ms: 0 when it finished (result
 * and status set), -1 when the time ran out. */
int http_perform(struct http_req *r, long timeout_ms);

#endif
