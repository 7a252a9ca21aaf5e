/* libFuzzer target: the Rspamd reply parser, and what a reply becomes: the
 * decision (its status line is one line) and the headers added to a
 * message (no value injects a field or ends the block; tests/fuzz/fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "decide.h"
#include "fuzz.h"
#include "rewrite.h"
#include "rspamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char message[] =
    "From: a@example.org\r\nReceived: one\r\nSubject: hello\r\n"
    "X-Spam: forged\r\nReceived: two\r\n\r\nbody\r\n";

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

	if (!ready) {
		config_init(&cfg);
		ready = 1;
	}
	memset(&sr, 0, sizeof(sr));
	if (rspamd_parse((const char *)data, size, &sr.rspamd, err, sizeof(err)) != 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "error text ends");
		rspamd_reply_free(&sr.rspamd);
		return 0;
	}
	sr.rspamd_state = SCAN_DONE;
	sr.api_state = SCAN_OFF;
	decide(&cfg, &sr, 0, &d);
	FUZZ_CHECK(strpbrk(d.reason, "\r\n") == NULL, "the status line is one line");

	memset(&ed, 0, sizeof(ed));
	hdr_edit_set_strip(&ed, cfg.strip_headers);
	decide_headers(&cfg, &sr, &d, &ed);
	hdr_block_parse(message, sizeof(message) - 1, 0, 1, &hb);
	rewrite_plan(sizeof(message) - 1, &hb, &ed, &rw);
	fuzz_check_plan(message, sizeof(message) - 1, sizeof(message) - 1, &hb,
	    &ed, &rw);

	rewrite_free(&rw);
	hdr_edit_free(&ed);
	hdr_block_free(&hb);
	scan_result_free(&sr);
	return 0;
}
