/* The check of one URL of rspamd_url or api_url when the configuration is
 * loaded, so that a typo defers no mail later. libcurl's URL parser, the
 * one that will send the requests, decides what a URL is; this header
 * keeps <curl/curl.h> out of its callers. */
#ifndef SPOT_URL_H
#define SPOT_URL_H

#include <stddef.h>

enum url_kind {
	URL_RSPAMD,  /* a base URL: /checkv2 and /ping are appended; or unix:/path */
	URL_API,     /* the ingest endpoint itself, http or https */
};

/* 0, or -1 and why in err (the URL quoted, the key name left to the
 * caller). */
int url_check(const char *url, enum url_kind kind, char *err, size_t errlen);

#endif
