/* Shared by the libFuzzer targets in tests/fuzz: the invariants of a header
 * rewrite, checked on every plan the targets build. A broken invariant
 * aborts, and libFuzzer saves the input that did it. */
#ifndef SPOT_FUZZ_H
#define SPOT_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "rewrite.h"
#include "util.h"

/* GMime is set up before the first input (hdr_format() would on the first
 * 8-bit value), so that its one-time work is not charged to one input;
 * libFuzzer calls this before the first input. Each target includes this
 * header once. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_mime_init();
	return 0;
}

#define FUZZ_CHECK(cond, what) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", (what), \
		    __FILE__, __LINE__); \
		abort(); \
	} \
} while (0)

/* The length of a leading From_ line, as src/msg.c counts it: only with
 * its newline. */
static inline size_t
fuzz_from_len(const char *p, size_t n)
{
	const char *nl;

	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return 0;
	nl = memchr(p, '\n', n);
	return nl ? (size_t)(nl - p) + 1 : 0;
}

/* The split block covers [start, end) with its fields, in order, without
 * gaps; the block ends at an empty line, at the end of a complete head, or
 * (incomplete) before a field that reaches the cut. */
static inline void
fuzz_check_block(const char *head, size_t len, size_t start, int complete,
    const struct hdr_block *hb)
{
	uint64_t pos = start;
	size_t i;

	FUZZ_CHECK(hb->start == start, "block start");
	FUZZ_CHECK(hb->end >= start && hb->end <= len, "block end within the head");
	for (i = 0; i < hb->n; i++) {
		FUZZ_CHECK(hb->v[i].off == pos, "fields without gaps");
		FUZZ_CHECK(hb->v[i].len > 0, "no empty field");
		FUZZ_CHECK(hb->v[i].name != NULL, "every field has a name");
		pos += hb->v[i].len;
	}
	FUZZ_CHECK(pos == hb->end, "the fields end where the block ends");
	if (complete && hb->end < len)
		FUZZ_CHECK(head[hb->end] == '\n' ||
		    (hb->end + 1 < len && head[hb->end] == '\r' &&
		    head[hb->end + 1] == '\n'), "a complete block ends at an empty line");
	for (i = 0; i < hb->n; i++) {
		/* a field is one line and its continuation lines: every line
		 * after its first starts with a space or a tab */
		const char *f = head + hb->v[i].off;
		size_t j;

		for (j = 0; j + 1 < hb->v[i].len; j++)
			FUZZ_CHECK(f[j] != '\n' || f[j + 1] == ' ' || f[j + 1] == '\t',
			    "a field's lines after the first are continuation lines");
	}
}

/* Checks a plan for a message whose first len bytes are head (the rest, up
 * to msg_size, is not looked at), edited with ed:
 * - message pieces are in order, do not overlap, stay within the message;
 * - the bytes before the block (a From_ line) come first, unchanged;
 * - everything from the block's end to msg_size is the last piece, whole;
 * - every message piece inside the block is a run of whole kept fields;
 * - no NUL goes out before the block's end: pieces with one are written
 *   with NUL as a space, and lie within the head;
 * - a block cut short by the head ends at an added bare LF empty line;
 * - the literal text, split again as a header block, is exactly the fields
 *   ed adds (and the Subject), one field each: no value can inject a field
 *   or end the block. */
static inline void
fuzz_check_plan(const char *head, size_t len, uint64_t msg_size,
    const struct hdr_block *hb, const struct hdr_edit *ed,
    const struct rewrite *rw)
{
	struct hdr_block again;
	uint64_t total = 0, last_end = 0;
	const struct piece *last, *prev;
	size_t i, j, want, sep;
	int seen_tail = 0, lf_ends;

	for (i = 0; i < rw->npieces; i++) {
		const struct piece *p = &rw->pieces[i];

		total += p->len;
		FUZZ_CHECK(p->len > 0, "no empty piece");
		if (p->literal) {
			FUZZ_CHECK(p->off + p->len <= rw->text.len, "literal within the text");
			FUZZ_CHECK(!seen_tail, "nothing added after the body");
			continue;
		}
		FUZZ_CHECK(p->off >= last_end, "message pieces in order, no overlap");
		if (p->nul_to_space)
			FUZZ_CHECK(p->off + p->len <= hb->end && hb->end <= len,
			    "NUL to space only in the head, before the block's end");
		else if (p->off < hb->end)
			FUZZ_CHECK(memchr(head + p->off, '\0', (size_t)((p->off + p->len <
			    hb->end ? p->off + p->len : hb->end) - p->off)) == NULL,
			    "no NUL before the block's end");
		FUZZ_CHECK(p->off + p->len <= msg_size, "message piece within the message");
		last_end = p->off + p->len;
		if (p->off + p->len == msg_size && p->off <= hb->end && msg_size > hb->end)
			seen_tail = 1;
		if (p->off >= hb->start && p->off < hb->end) {
			/* starts at a field and ends at a field boundary */
			uint64_t end = p->off + p->len;
			int start_ok = 0, end_ok = end >= hb->end;

			for (j = 0; j < hb->n; j++) {
				if (hb->v[j].off == p->off)
					start_ok = 1;
				if (hb->v[j].off + hb->v[j].len == end)
					end_ok = 1;
			}
			FUZZ_CHECK(start_ok && end_ok, "kept fields are whole");
		}
	}
	FUZZ_CHECK(total == rewrite_size(rw), "rewrite_size");
	/* the bytes after the block come last, whole; only a CR LF empty line
	 * that ends the block may go out as a bare LF (the last literal byte) */
	last = rw->npieces > 0 ? &rw->pieces[rw->npieces - 1] : NULL;
	prev = rw->npieces > 1 ? &rw->pieces[rw->npieces - 2] : NULL;
	lf_ends = rw->text.len > 0 && rw->text.data[rw->text.len - 1] == '\n';
	if (hb->cut) {
		FUZZ_CHECK(!hb->complete && last != NULL && !last->literal &&
		    last->off == hb->end && last->off + last->len == msg_size &&
		    prev != NULL && prev->literal &&
		    prev->off + prev->len == rw->text.len && lf_ends,
		    "a cut block: a bare LF empty line, then the rest whole");
		sep = 1;
	} else if (last != NULL && !last->literal && last->off + last->len == msg_size &&
	    last->off > hb->end) {
		FUZZ_CHECK(hb->end_crlf && last->off == hb->end + 2 && prev != NULL &&
		    prev->literal && prev->off + prev->len == rw->text.len && lf_ends,
		    "the CR LF end line replaced by the bare LF right before the tail");
		sep = 2;
	} else if (msg_size > hb->end) {
		if (last != NULL && last->literal) {
			FUZZ_CHECK(hb->end_crlf && msg_size == hb->end + 2 && lf_ends,
			    "only a CR LF end line with nothing after it is replaced");
			sep = 2;
		} else {
			FUZZ_CHECK(last != NULL && last->off + last->len == msg_size &&
			    last->off <= hb->end,
			    "the tail after the block is the last piece, whole");
			sep = 0;
		}
	} else {
		sep = 0;
	}
	if (hb->end_crlf)
		FUZZ_CHECK(head[hb->end] == '\r' && head[hb->end + 1] == '\n',
		    "end_crlf: the block ends at a CR LF line");
	if (hb->start > 0) {
		FUZZ_CHECK(rw->npieces > 0 && !rw->pieces[0].literal &&
		    rw->pieces[0].off == 0 && rw->pieces[0].len >= hb->start,
		    "the From_ line comes first");
	}

	/* the added text is exactly the added fields */
	want = ed->nadd + (ed->subject != NULL);
	hdr_block_parse(rw->text.data ? rw->text.data : "", rw->text.len - (sep > 0),
	    0, 1, &again);
	FUZZ_CHECK(again.end == rw->text.len - (sep > 0), "no empty line in the added text");
	FUZZ_CHECK(again.n == want, "one field per added header");
	for (i = 0; i < ed->nadd && i < again.n; i++)
		FUZZ_CHECK(strcmp(again.v[i].name, ed->add[i].name) == 0,
		    "added fields keep their names, in order");
	hdr_block_free(&again);
}

#endif
