#include "skip.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* An address as 16 bytes; IPv4 mapped to ::ffff:a.b.c.d. */
static int
parse_ip(const char *s, unsigned char ip[16], int *is_v4)
{
	struct in_addr v4;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &v4, 4);
		*is_v4 = 1;
		return 0;
	}
	*is_v4 = 0;
	return inet_pton(AF_INET6, s, ip) == 1 ? 0 : -1;
}

static int
parse_cidr(const char *entry, size_t len, unsigned char net[16], int *bits)
{
	char buf[64], *slash, *end;
	int v4;
	long b;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, entry, len);
	buf[len] = '\0';
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (parse_ip(buf, net, &v4) != 0)
		return -1;
	*bits = 128;
	if (slash != NULL) {
		b = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1 || b < 0 || b > (v4 ? 32 : 128))
			return -1;
		*bits = (int)b + (v4 ? 96 : 0);
	}
	return 0;
}

static int
in_network(const unsigned char ip[16], const unsigned char net[16], int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(ip, net, (size_t)full) != 0)
		return 0;
	return rest == 0 ||
	    ((ip[full] ^ net[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

/* Calls fn on each entry of a comma or space separated list until it
 * returns non-zero; returns that. */
static int
each_entry(const char *list, int (*fn)(const char *, size_t, const void *),
    const void *arg)
{
	const char *p = list, *e;
	size_t n;
	int r;

	while ((e = list_next(&p, ", \t", &n)) != NULL)
		if ((r = fn(e, n, arg)) != 0)
			return r;
	return 0;
}

static int
network_matches(const char *entry, size_t len, const void *arg)
{
	unsigned char net[16];
	int bits;

	return parse_cidr(entry, len, net, &bits) == 0 && in_network(arg, net, bits);
}

struct bad_entry {
	char *err;
	size_t errlen;
};

static int
network_invalid(const char *entry, size_t len, const void *arg)
{
	const struct bad_entry *b = arg;
	unsigned char net[16];
	int bits;

	if (parse_cidr(entry, len, net, &bits) == 0)
		return 0;
	snprintf(b->err, b->errlen, "skip_networks: \"%.*s\" is not an address "
	    "or a network (192.0.2.0/24, 2001:db8::/32)", (int)len, entry);
	return 1;
}

int
skip_check_networks(const char *list, char *err, size_t errlen)
{
	struct bad_entry b = { err, errlen };

	return each_entry(list, network_invalid, &b) ? -1 : 0;
}

/* "user@example.org" matches itself, "@example.org" the whole domain. */
static int
address_matches(const char *entry, size_t len, const void *arg)
{
	const char *addr = arg, *at;
	size_t alen = strlen(addr);

	if (entry[0] == '@') {
		at = strrchr(addr, '@');
		return at != NULL && strlen(at) == len && strncasecmp(at, entry, len) == 0;
	}
	return alen == len && strncasecmp(addr, entry, len) == 0;
}

static int
listed(const char *list, const char *addr)
{
	return addr != NULL && each_entry(list, address_matches, addr);
}

const char *
skip_reason(const struct config *cfg, const struct envelope *env)
{
	unsigned char ip[16];
	size_t i, hits;
	int v4;

	if (*cfg->skip_networks != '\0' && env->client_address != NULL &&
	    parse_ip(env->client_address, ip, &v4) == 0 &&
	    each_entry(cfg->skip_networks, network_matches, ip))
		return "skip_networks";
	if (*cfg->skip_senders != '\0' && listed(cfg->skip_senders, env->sender))
		return "skip_senders";
	if (env->nrcpt == 0)
		return NULL;
	if (*cfg->skip_recipients != '\0') {
		for (hits = 0, i = 0; i < env->nrcpt; i++)
			hits += listed(cfg->skip_recipients, env->rcpt[i]) != 0;
		if (hits == env->nrcpt)
			return "skip_recipients";
	}
	if (*cfg->scan_recipients != '\0') {
		for (hits = 0, i = 0; i < env->nrcpt; i++)
			hits += listed(cfg->scan_recipients, env->rcpt[i]) != 0;
		if (hits == 0)
			return "scan_recipients";
	}
	return NULL;
}
