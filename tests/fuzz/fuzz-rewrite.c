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

/* The plan for a message 2 KB into its spool file: the plain plan, or one
 * exactly 2 KB longer whose front (all but the unchanged rest of the
 * message) fills the room and the old head, from the head and its text
 * only, with the same added fields and one X-SPOT-Pad after them. */
static void
check_in_place(const char *head, size_t len, uint64_t msg_size,
    const struct hdr_block *hb, const struct hdr_edit *ed, const struct rewrite *plain)
{
	struct rewrite in;
	struct hdr_block again;
	const struct piece *last;
	uint64_t front = 0;
	size_t i;

	(void)head;
	rewrite_plan_in_place(msg_size, hb, ed, 2048, &in);
	if (!in.in_place) {
		FUZZ_CHECK(in.npieces == plain->npieces && in.text.len == plain->text.len &&
		    memcmp(in.pieces, plain->pieces, in.npieces * sizeof(*in.pieces)) == 0 &&
		    (in.text.len == 0 || memcmp(in.text.data, plain->text.data, in.text.len) == 0),
		    "not in place: the plain plan");
		rewrite_free(&in);
		return;
	}
	last = &in.pieces[in.npieces - 1];
	for (i = 0; i + 1 < in.npieces; i++) {
		front += in.pieces[i].len;
		FUZZ_CHECK(in.pieces[i].literal || in.pieces[i].off + in.pieces[i].len <= len,
		    "in place: the front comes from the head or the text");
	}
	FUZZ_CHECK(!last->literal && last->off + last->len == msg_size && last->off <= len,
	    "in place: the rest of the message last, from the head on");
	FUZZ_CHECK(front == 2048 + last->off,
	    "in place: the front fills the room and the old head");
	FUZZ_CHECK(rewrite_size(&in) == msg_size + 2048, "in place: 2 KB longer");
	if (in.text.len > plain->text.len) {
		hdr_block_parse(in.text.data, in.text.len, 0, 1, &again);
		FUZZ_CHECK(again.n > ed->nadd &&
		    strcmp(again.v[ed->nadd].name, "X-SPOT-Pad") == 0,
		    "in place: X-SPOT-Pad right after the added fields");
		hdr_block_free(&again);
	} else {
		FUZZ_CHECK(in.text.len == plain->text.len, "in place: no pad, the plain text");
	}
	rewrite_free(&in);
}

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
	check_in_place(head, len, msg_size, &hb, &ed, &rw);

	rewrite_free(&rw);
	hdr_edit_free(&ed);
	hdr_block_free(&hb);
	free(value);
	return 0;
}
