#include "http.h"

#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define RESP_MAX_DEFAULT (1024 * 1024)

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t len = size * n;

	if (r->resp.len + len > r->resp_max) {
		r->resp_overflow = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	buf_append(&r->resp, p, len);
	return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len > 9 && strncasecmp(p, "Location:", 9) == 0) {
		v = p + 9;
		vlen = len - 9;
		while (vlen > 0 && isspace((unsigned char)*v))
			v++, vlen--;
		while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
			vlen--;
		free(r->location);
		r->location = xstrndup(v, vlen);
	}
	return len;
}

static size_t
on_read(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t want = size * n;
	ssize_t got;

	if (want > r->body_end - r->body_pos)
		want = (size_t)(r->body_end - r->body_pos);
	if (want == 0)
		return 0;
	got = msg_pread(r->msg, p, want, r->body_pos);
	if (got <= 0)
		return CURL_READFUNC_ABORT;
	r->body_pos += (uint64_t)got;
	return (size_t)got;
}

/* libcurl copies our headers (the API key, the Rspamd password) into
 * buffers of its own and frees them as they are: its allocator wipes every
 * block it gives back, so that freed memory holds no secret. */
static void
wipe_free(void *p)
{
	if (p != NULL)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void *
wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return malloc(n);
	if ((q = malloc(n != 0 ? n : 1)) == NULL)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

void
http_global_init(int tls)
{
	/* libcurl initialises OpenSSL whatever the flags say (>= 7.57 ignores
	 * CURL_GLOBAL_SSL): reading openssl.cnf, loading the error strings and
	 * filling the cipher and digest tables is most of a small delivery's
	 * own CPU. Without https none of it is used (the identity's SHA-256
	 * needs none of it), and OpenSSL does each of these once, the first
	 * caller's choice holding: saying no first makes libcurl's own init
	 * skip them. With https the admin's openssl.cnf and readable TLS
	 * errors count more. */
	if (!tls)
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
		    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
		    OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
		    OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL);
	/* our allocator, for the wipe above */
	curl_global_init_mem(CURL_GLOBAL_DEFAULT,
	    malloc, wipe_free, wipe_realloc, strdup, calloc);
}

void
http_req_init(struct http_req *r, const char *base_url, const char *path,
    long connect_ms, long total_ms, const struct http_tls *tls)
{
	struct buf url = { 0 };
	const char *slash;

	memset(r, 0, sizeof(*r));
	r->resp_max = RESP_MAX_DEFAULT;
	if ((r->easy = curl_easy_init()) == NULL)
		out_of_memory();
	if (strncmp(base_url, "unix:", 5) == 0) {
		curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, base_url + 5);
		buf_puts(&url, "http://localhost");
	} else {
		buf_puts(&url, base_url);
		/* base URLs are given without a trailing slash, but accept one */
		if (url.len > 0 && url.data[url.len - 1] == '/' && path[0] == '/')
			url.len--;
	}
	buf_puts(&url, path);
	slash = buf_cstr(&url);
	curl_easy_setopt(r->easy, CURLOPT_URL, slash);
	buf_free(&url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	/* Without it, removing a request whose name lookup still runs joins
	 * the resolver thread, which waits as long as resolv.conf says (10 s
	 * by default), far past our deadline. With it the thread is detached
	 * and frees its own data once getaddrinfo() returns, or goes with the
	 * process. */
	curl_easy_setopt(r->easy, CURLOPT_QUICK_EXIT, 1L);
	/* A mail host's http_proxy is for its users, not for its scanners. */
	curl_easy_setopt(r->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, total_ms);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	if (tls != NULL) {
		if (tls->ca_file != NULL && *tls->ca_file != '\0')
			curl_easy_setopt(r->easy, CURLOPT_CAINFO, tls->ca_file);
		curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, tls->verify ? 1L : 0L);
		curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, tls->verify ? 2L : 0L);
	}
	/* No "Expect: 100-continue" wait before a large body. */
	http_req_header(r, "Expect", "");
}

void
http_req_header(struct http_req *r, const char *name, const char *value)
{
	struct curl_slist *l;
	struct buf h = { 0 };

	/* "Name;" is curl's way to send a header with an empty value,
	 * "Name:" with nothing after it removes one curl would add. */
	if (*value == '\0' && strcmp(name, "Expect") == 0)
		buf_printf(&h, "%s:", name);
	else
		buf_printf(&h, "%s: %s", name, value);
	if ((l = curl_slist_append(r->headers, buf_cstr(&h))) == NULL)
		out_of_memory();
	explicit_bzero(h.data, h.len);
	buf_free(&h);
	r->headers = l;
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
}

void
http_req_header_value(struct http_req *r, const char *name, const char *value)
{
	char clean[1024];

	if (value == NULL || *value == '\0')
		return;
	/* argv and servers are not trusted: a CR or LF must not split our request */
	sanitize_value(clean, sizeof(clean), value, sizeof(clean) - 1);
	http_req_header(r, name, clean);
}

void
http_req_post(struct http_req *r, const struct msg *m, uint64_t from)
{
	r->msg = m;
	r->body_pos = from;
	r->body_end = m->size;
	r->body_len = m->size - from;
	curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(r->easy, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(r->easy, CURLOPT_READDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(m->size - from));
}

void
http_req_free(struct http_req *r)
{
	struct curl_slist *l;

	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	/* the slist may hold the Bearer key */
	for (l = r->headers; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(r->headers);
	buf_free(&r->resp);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

void
http_req_error(const struct http_req *r, char *dst, size_t n)
{
	switch (r->result) {
	case CURLE_OK:
		snprintf(dst, n, "HTTP %ld", r->status);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(dst, n, "timeout");
		return;
	case CURLE_SEND_ERROR:
		if (r->answered_early) {
			snprintf(dst, n, "HTTP %ld after %llu of %llu bytes of the "
			    "message", r->status, (unsigned long long)r->body_sent,
			    (unsigned long long)r->body_len);
			return;
		}
		break;
	case CURLE_WRITE_ERROR:
		if (r->resp_overflow) {
			snprintf(dst, n, "answer larger than %zu bytes", r->resp_max);
			return;
		}
		break;
	default:
		break;
	}
	snprintf(dst, n, "%s", curl_easy_strerror(r->result));
}

int
http_req_host_failed(const struct http_req *r)
{
	return r->result != CURLE_OK || r->status >= 500;
}

void
http_req_why(const struct http_req *r, char *dst, size_t n)
{
	const char *step = r->result == CURLE_COULDNT_CONNECT ? "connect" :
	    r->result == CURLE_COULDNT_RESOLVE_HOST ? "resolve" : NULL;

	if (r->os_errno != 0 && step != NULL)
		snprintf(dst, n, "%s: %s", step, strerror((int)r->os_errno));
	else if (r->os_errno != 0)
		snprintf(dst, n, "%s: %s", curl_easy_strerror(r->result),
		    strerror((int)r->os_errno));
	else if (step != NULL)
		snprintf(dst, n, "%s: %s", step, curl_easy_strerror(r->result));
	else
		http_req_error(r, dst, n);
}

void
http_engine_init(struct http_engine *e)
{
	if ((e->multi = curl_multi_init()) == NULL)
		out_of_memory();
}

void
http_engine_free(struct http_engine *e)
{
	curl_multi_cleanup(e->multi);
	e->multi = NULL;
}

void
http_engine_add(struct http_engine *e, struct http_req *r)
{
	curl_multi_add_handle(e->multi, r->easy);
}

void
http_engine_remove(struct http_engine *e, struct http_req *r)
{
	curl_multi_remove_handle(e->multi, r->easy);
}

/* A server may answer before it has read the request, and curl then stops
 * sending when the answer says the connection closes: the answer is about
 * a message the server never saw whole (a proxy's or a login page's 200, a
 * broken API). Final refusals (401, 413...) may come early and stay. */
static void
check_upload(struct http_req *r)
{
	curl_off_t sent = 0;

	if (r->msg == NULL || r->result != CURLE_OK || r->status / 100 != 2)
		return;
	if (curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &sent) != CURLE_OK ||
	    sent < 0)
		sent = 0;
	r->body_sent = (uint64_t)sent;
	if (r->body_sent != r->body_len) {
		r->answered_early = 1;
		r->result = CURLE_SEND_ERROR;
	}
}

static void
elapsed_of(struct http_req *r)
{
	curl_off_t us = 0;

	if (curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK ||
	    us < 0)
		us = 0;
	r->elapsed_ms = (long)(us / 1000);
}

static struct http_req *
engine_done(struct http_engine *e)
{
	struct http_req *r;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		r->result = m->data.result;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
		if (curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &r->os_errno) !=
		    CURLE_OK)
			r->os_errno = 0;
		elapsed_of(r);
		check_upload(r);
		curl_multi_remove_handle(e->multi, r->easy);
		return r;
	}
	return NULL;
}

struct http_req *
http_engine_step(struct http_engine *e, long timeout_ms)
{
	struct http_req *r;
	int running;

	if ((r = engine_done(e)) != NULL)
		return r;
	curl_multi_perform(e->multi, &running);
	if ((r = engine_done(e)) != NULL)
		return r;
	if (timeout_ms > 0)
		curl_multi_poll(e->multi, NULL, 0, (int)timeout_ms, NULL);
	curl_multi_perform(e->multi, &running);
	return engine_done(e);
}

int
http_perform(struct http_req *r, long timeout_ms)
{
	struct http_engine e;
	struct http_req *done = NULL;
	int64_t deadline = now_ms() + timeout_ms, now;

	http_engine_init(&e);
	http_engine_add(&e, r);
	while (done == NULL && (now = now_ms()) < deadline)
		done = http_engine_step(&e, deadline - now < 100 ? (long)(deadline - now) : 100);
	if (done == NULL)
		http_engine_remove(&e, r);
	http_engine_free(&e);
	return done != NULL ? 0 : -1;
}
