/* spot.c: spot_parse on recorded API answers and spot_idempotency_key.
 * Run from the repository root. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spot.h"
#include "util.h"
#include "tap.h"

#define FIX "tests/fixtures/spot/"

static char err[512];

static int
parse_fixture(const char *name, struct spot_reply *r)
{
	char path[512];
	size_t len;
	char *json;
	int rc;

	snprintf(path, sizeof(path), FIX "%s", name);
	if ((json = tap_slurp(path, &len)) == NULL) {
		diag("cannot read %s", path);
		memset(r, 0, sizeof(*r));
		return -2;
	}
	err[0] = '\0';
	rc = spot_parse(json, len, r, err, sizeof(err));
	free(json);
	return rc;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
test_good(void)
{
	struct spot_reply r;

	if (!is_int(parse_fixture("analyzed-phishing.json", &r), 0, "phishing: parses"))
		diag("error: %s", err);
	is_int(r.status, SPOT_ANALYZED, "phishing: analyzed");
	is_str(r.job_id, "job-5b1f0c9e2d7a4e6f8a3b2c1d", "phishing: job_id");
	is_int(r.is_phishing, 1, "phishing: is_phishing");
	is_str(r.threat_level, "high", "phishing: threat_level");
	is_dbl(r.confidence, 0.91, 1e-12, "phishing: confidence");

	if (!is_int(parse_fixture("analyzed-clean.json", &r), 0, "clean: parses"))
		diag("error: %s", err);
	is_int(r.status, SPOT_ANALYZED, "clean: analyzed");
	is_int(r.is_phishing, 0, "clean: not phishing");
	is_str(r.threat_level, "none", "clean: threat_level");
	is_dbl(r.confidence, 0.97, 1e-12, "clean: confidence");

	if (!is_int(parse_fixture("analyzed-no-level.json", &r), 0, "no level: parses"))
		diag("error: %s", err);
	is_str(r.threat_level, "unknown", "no threat_level: \"unknown\"");
	is_dbl(r.confidence, 1.0, 0.0, "integer confidence 1");

	r.is_phishing = 7;
	if (!is_int(parse_fixture("accepted.json", &r), 0, "accepted: parses"))
		diag("error: %s", err);
	is_int(r.status, SPOT_ACCEPTED, "accepted: status");
	is_str(r.job_id, "job-7c6d5e4f3a2b1c0d9e8f7a6b", "accepted: job_id");
	is_int(r.is_phishing, 0, "accepted: no verdict (reply cleared)");

	if (!is_int(parse_fixture("timeout.json", &r), 0, "timeout: parses"))
		diag("error: %s", err);
	is_int(r.status, SPOT_TIMEOUT, "timeout: status");

	if (!is_int(parse_fixture("rejected.json", &r), 0, "rejected: parses"))
		diag("error: %s", err);
	is_int(r.status, SPOT_REJECTED, "rejected: status");
	is_str(r.job_id, "job-1234567890abcdef12345678", "rejected: job_id");

	if (!is_int(parse_fixture("hostile-strings.json", &r), 0, "hostile strings: parse"))
		diag("error: %s", err);
	ok(!has_ctl(r.job_id), "job_id has no CR/LF (\"%s\")", r.job_id);
	ok(!has_ctl(r.threat_level), "threat_level has no CR/LF (\"%s\")", r.threat_level);

	if (!is_int(parse_fixture("long-strings.json", &r), 0, "long strings: parse"))
		diag("error: %s", err);
	is_int(strlen(r.job_id), sizeof(r.job_id) - 1, "300-byte job_id cut to fit");
	is_int(strlen(r.threat_level), sizeof(r.threat_level) - 1,
	    "200-byte threat_level cut to fit");
	is_dbl(r.confidence, 0.0, 0.0, "confidence 0.0 accepted");

	is_str(spot_status_name(SPOT_ANALYZED), "analyzed", "status name analyzed");
	is_str(spot_status_name(SPOT_ACCEPTED), "accepted", "status name accepted");
	is_str(spot_status_name(SPOT_TIMEOUT), "timeout", "status name timeout");
	is_str(spot_status_name(SPOT_REJECTED), "rejected", "status name rejected");
}

static void
test_bad(void)
{
	static const char *const bad[] = { "missing-job-id.json",
		"confidence-above-one.json", "confidence-negative.json",
		"confidence-string.json", "confidence-infinite.json",
		"phishing-not-bool.json", "unknown-status.json", "status-not-string.json",
		"list.json", "truncated.json", "empty.json" };
	struct spot_reply r;
	size_t i;

	for (i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		is_int(parse_fixture(bad[i], &r), -1, "%s: refused", bad[i]);
		ok(err[0] != '\0', "%s: with a message (%s)", bad[i], err);
	}
	is_int(spot_parse("{\"job_id\":\"j\",\"status\":\"accepted\"}", 5, &r, err,
	    sizeof(err)), -1, "len is honoured");
	is_int(spot_parse("\xff\xfe\0{", 4, &r, err, sizeof(err)), -1, "binary refused");
}

static void
test_idempotency(void)
{
	unsigned char id[DELIVERY_ID_LEN];
	char k[SPOT_IDEM_KEY_SIZE], small[10], want[2 * DELIVERY_ID_LEN + 1];
	char longq[SPOT_QUEUE_ID_IN_KEY_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(id); i++) {
		id[i] = (unsigned char)(i * 37 + 1);
		snprintf(want + 2 * i, 3, "%02x", id[i]);
	}
	spot_idempotency_key(k, sizeof(k), "4FhT1z2Xbz9sV", id);
	ok(strncmp(k, "4FhT1z2Xbz9sV-", 14) == 0, "key starts with the queue id and "
	    "a dash (%s)", k);
	is_str(k + 14, want, "then the whole identity in hex");
	spot_idempotency_key(k, sizeof(k), NULL, id);
	is_str(k, want, "no queue id: the identity alone");
	spot_idempotency_key(k, sizeof(k), "", id);
	is_str(k, want, "empty queue id: the identity alone, no dash");
	spot_idempotency_key(k, sizeof(k), "4FhT 1\r\nX: y", id);
	is_str(k, want, "a queue id with spaces or CR LF stays out of the key");
	spot_idempotency_key(k, sizeof(k), "Q\xc3\xa9", id);
	is_str(k, want, "a non-ASCII queue id stays out of the key");
	memset(longq, 'A', sizeof(longq) - 1);
	longq[sizeof(longq) - 1] = '\0';
	spot_idempotency_key(k, sizeof(k), longq, id);
	is_str(k, want, "a queue id longer than %d stays out of the key",
	    SPOT_QUEUE_ID_IN_KEY_MAX);
	longq[SPOT_QUEUE_ID_IN_KEY_MAX] = '\0';
	spot_idempotency_key(k, sizeof(k), longq, id);
	is_int(strlen(k), SPOT_IDEM_KEY_SIZE - 1, "the longest key fits its buffer");
	ok(strlen(k) <= 200, "and the contract's 200 characters");
	spot_idempotency_key(small, sizeof(small), "4FhT1z2Xbz9sV", id);
	is_int(strlen(small), 9, "a small buffer is not overrun");
}

int
main(void)
{
	test_good();
	test_bad();
	test_idempotency();
	return done_testing();
}
