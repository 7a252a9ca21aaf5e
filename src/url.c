#include "url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "util.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* RFC 1035's limit, plus the brackets of an IPv6 address */
#define HOST_MAX 255

static int
check_unix(const char *url, enum url_kind kind, char *err, size_t errlen)
{
	const char *path = url + 5;

	if (kind != URL_RSPAMD)
		snprintf(err, errlen, "\"%s\": a Unix socket (unix:) is for "
		    "rspamd_url only; use http:// or https://", url);
	else if (*path != '/')
		snprintf(err, errlen, "\"%s\": the socket path after unix: must "
		    "be absolute, as in unix:/run/rspamd/normal.sock", url);
	else if (strlen(path) > SUN_PATH_MAX)
		snprintf(err, errlen, "\"%s\": a socket path is at most %zu "
		    "bytes", url, SUN_PATH_MAX);
	else
		return 0;
	return -1;
}

/* Whether part is in the URL: a query or a fragment would end up in the
 * middle of the requests' URLs, a user name or password in the logs. */
static int
has_part(CURLU *h, CURLUPart part)
{
	char *v = NULL;
	CURLUcode uc = curl_url_get(h, part, &v, 0);

	curl_free(v);
	return uc == CURLUE_OK;
}

/* rspamd_url is a base: a path that already ends in the endpoint would
 * ask for /checkv2/checkv2. */
static int
ends_in_checkv2(CURLU *h)
{
	static const char end[] = "/checkv2";
	char *path = NULL;
	size_t n;
	int r = 0;

	if (curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		return 0;
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= sizeof(end) - 1 &&
	    strncasecmp(path + n - (sizeof(end) - 1), end, sizeof(end) - 1) == 0)
		r = 1;
	curl_free(path);
	return r;
}

static int
check_parts(CURLU *h, const char *url, enum url_kind kind, char *err,
    size_t errlen)
{
	char *v = NULL;
	int bad;

	curl_url_get(h, CURLUPART_SCHEME, &v, 0);
	bad = v == NULL || (strcmp(v, "http") != 0 && strcmp(v, "https") != 0);
	if (bad)
		snprintf(err, errlen, "\"%s\": the scheme %s is not http, https%s",
		    url, v ? v : "(none)", kind == URL_RSPAMD ? " or unix:" : "");
	curl_free(v);
	if (bad)
		return -1;
	v = NULL;
	if (curl_url_get(h, CURLUPART_PORT, &v, 0) == CURLUE_OK &&
	    strcmp(v, "0") == 0) {
		curl_free(v);
		snprintf(err, errlen, "\"%s\": port 0", url);
		return -1;
	}
	curl_free(v);
	v = NULL;
	if (curl_url_get(h, CURLUPART_HOST, &v, 0) == CURLUE_OK &&
	    strlen(v) > HOST_MAX) {
		curl_free(v);
		snprintf(err, errlen, "\"%.64s...\": a host name is at most %d "
		    "bytes", url, HOST_MAX);
		return -1;
	}
	curl_free(v);
	if (has_part(h, CURLUPART_USER) || has_part(h, CURLUPART_PASSWORD))
		snprintf(err, errlen, "\"%s\" holds a user name or password: "
		    "put the secret in %s", url, kind == URL_RSPAMD ?
		    "rspamd_password" : "api_key_file");
	else if (has_part(h, CURLUPART_QUERY) || has_part(h, CURLUPART_FRAGMENT))
		snprintf(err, errlen, "\"%s\" has a query (?) or a fragment (#)",
		    url);
	else if (kind == URL_RSPAMD && ends_in_checkv2(h))
		snprintf(err, errlen, "\"%s\" ends in /checkv2, which is appended "
		    "to it: drop /checkv2", url);
	else
		return 0;
	return -1;
}

int
url_check(const char *url, enum url_kind kind, char *err, size_t errlen)
{
	CURLUcode uc;
	CURLU *h;
	int rc = -1;

	/* it goes into the message, the log and the MTA's status line */
	if (has_control_char(url)) {
		snprintf(err, errlen, "a URL contains a control character");
		return -1;
	}
	if (*url == '#') {
		snprintf(err, errlen, "\"%s\" is not a URL: a # after a value is "
		    "part of the value, not a comment", url);
		return -1;
	}
	if (strncmp(url, "unix:", 5) == 0)
		return check_unix(url, kind, err, errlen);
	if (*url == '"' || *url == '\'') {
		snprintf(err, errlen, "%s: quotes are part of the value, remove "
		    "them", url);
		return -1;
	}
	if ((h = curl_url()) == NULL) {
		snprintf(err, errlen, "\"%s\": out of memory", url);
		return -1;
	}
	if ((uc = curl_url_set(h, CURLUPART_URL, url, 0)) != CURLUE_OK)
		snprintf(err, errlen, "\"%s\" is not a URL: %s%s", url,
		    curl_url_strerror(uc), strstr(url, "://") == NULL ?
		    " (no scheme://; a space inside a URL splits it in two)" : "");
	else
		rc = check_parts(h, url, kind, err, errlen);
	curl_url_cleanup(h);
	return rc;
}
