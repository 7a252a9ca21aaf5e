/* libFuzzer target: the SPOT API reply parser, and what a reply becomes:
 * job id and threat level without control characters, the decision's
 * status line one line, and the headers added to a message (no value
 * injects a field or ends the block; tests/fuzz/fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "decide.h"
#include "fuzz.h"
#include "rewrite.h"
#include "spot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char message[] =
    "From sender@example.org Mon Jan  1 00:00:00 2024\n"
    "From: a@example.org\nX-SPOT-Status: forged\nSubject: hi\n\nbody\n";

static int
clean(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return i < n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int ready;
	struct scan_result sr;
	struct decision d;
	struct hdr_block hb;
	struct hdr_edit ed;
	struct rewrite rw;
	char err[256];
	size_t from;

	if (!ready) {
		config_init(&cfg);
		cfg.phishing_action = PHISH_REJECT;
		ready = 1;
	}
	memset(&sr, 0, sizeof(sr));
	if (spot_parse((const char *)data, size, &sr.spot, err, sizeof(err)) != 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "error text ends");
		return 0;
	}
	FUZZ_CHECK(clean(sr.spot.job_id, sizeof(sr.spot.job_id)), "job id clean");
	FUZZ_CHECK(clean(sr.spot.threat_level, sizeof(sr.spot.threat_level)),
	    "threat level clean");
	FUZZ_CHECK(sr.spot.status != SPOT_ANALYZED ||
	    (sr.spot.confidence >= 0.0 && sr.spot.confidence <= 1.0),
	    "confidence between 0 and 1");
	sr.rspamd_state = SCAN_OFF;
	sr.api_state = SCAN_DONE;
	decide(&cfg, &sr, 0, &d);
	FUZZ_CHECK(strpbrk(d.reason, "\r\n") == NULL, "the status line is one line");

	memset(&ed, 0, sizeof(ed));
	hdr_edit_set_strip(&ed, cfg.strip_headers);
	decide_headers(&cfg, &sr, &d, &ed);
	from = fuzz_from_len(message, sizeof(message) - 1);
	hdr_block_parse(message, sizeof(message) - 1, from, 1, &hb);
	rewrite_plan(sizeof(message) - 1, &hb, &ed, &rw);
	fuzz_check_plan(message, sizeof(message) - 1, sizeof(message) - 1, &hb,
	    &ed, &rw);

	rewrite_free(&rw);
	hdr_edit_free(&ed);
	hdr_block_free(&hb);
	scan_result_free(&sr);
	return 0;
}
