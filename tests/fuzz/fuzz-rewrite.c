/* libFuzzer target: the header rewrite on arbitrary bytes.
 *
 * Input: byte 0 holds flags (bit 0: the head is the whole message; bit 1:
 * a new Subject; bit 2: a milter removal of Received; bit 3: CRLF is asked
 * for nothing, the block decides), byte 1 a value length L, then L bytes of
 * value (used for every added field and the Subject, sanitized the way
 * hdr_edit_add and decide_headers do it), then the message head. The split
 * and the plan must keep the invariants of tests/fuzz/fuzz.h. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "rewrite.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_block hb;
	struct hdr_edit ed;
	struct rewrite rw;
	const char *head;
	char *value, clean[1024];
	size_t vlen, len, start;
	uint64_t msg_size;
	int complete;

	if (size < 2)
		return 0;
	complete = data[0] & 1;
	vlen = data[1];
	if (vlen > size - 2)
		vlen = size - 2;
	value = xstrndup((const char *)data + 2, vlen);
	head = (const char *)data + 2 + vlen;
	len = size - 2 - vlen;
	/* an incomplete head is followed by spooled bytes the plan only counts */
	msg_size = complete ? len : (uint64_t)len + 4096;

	start = fuzz_from_len(head, len);
	hdr_block_parse(head, len, start, complete, &hb);
	fuzz_check_block(head, len, start, complete, &hb);

	memset(&ed, 0, sizeof(ed));
	hdr_edit_set_strip(&ed, "X-Spam-*, X-Spam, X-SPOT-*");
	hdr_edit_add(&ed, "X-SPOT-Status", value);
	hdr_edit_add(&ed, "X-Spam-Symbols", value);
	hdr_edit_add(&ed, "X-Spam-Score", "1.00 / 15.00");
	if (data[0] & 2) {
		sanitize_value(clean, sizeof(clean), value, sizeof(clean) - 1);
		ed.subject = xstrdup(clean);
	}
	if (data[0] & 4)
		hdr_edit_remove(&ed, "Received", (long)(int8_t)data[0] / 8);
	rewrite_plan(msg_size, &hb, &ed, &rw);
	fuzz_check_plan(head, len, msg_size, &hb, &ed, &rw);

	rewrite_free(&rw);
	hdr_edit_free(&ed);
	hdr_block_free(&hb);
	free(value);
	return 0;
}
