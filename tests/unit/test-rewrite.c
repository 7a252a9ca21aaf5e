/* rewrite.c: hdr_block_parse + rewrite_plan on in-memory messages. The plan
 * is written out by render() below (literal pieces from rw.text, the others
 * from the message) and compared byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <strings.h>

#include "rewrite.h"
#include "tap.h"

#define STRIP "X-Spam-*, X-Spam, X-SPOT-*"

/* The concatenation of the plan's pieces, or NULL (with a failed test) when
 * a piece points outside the message or the plan's text. */
static char *
render(const char *msg, size_t msg_len, const struct rewrite *rw, size_t *out_len)
{
	struct buf b = { 0 };
	size_t i, j;

	buf_append(&b, "", 0);
	for (i = 0; i < rw->npieces; i++) {
		const struct piece *p = &rw->pieces[i];
		uint64_t limit = p->literal ? rw->text.len : msg_len;

		if (p->off > limit || p->len > limit - p->off) {
			ok(0, "piece %zu (%s, off %llu, len %llu) is inside its source "
			    "(%llu bytes)", i, p->literal ? "literal" : "message",
			    (unsigned long long)p->off, (unsigned long long)p->len,
			    (unsigned long long)limit);
			buf_free(&b);
			return NULL;
		}
		buf_append(&b, p->literal ? rw->text.data + p->off : msg + p->off,
		    (size_t)p->len);
		if (p->nul_to_space)
			for (j = b.len - (size_t)p->len; j < b.len; j++)
				if (b.data[j] == '\0')
					b.data[j] = ' ';
	}
	*out_len = b.len;
	return b.data;
}

struct edit_spec {
	const char *strip;               /* NULL: none */
	const char *const *add;          /* name, value, name, value..., NULL */
	const char *subject;
};

static const char *const std_add[] = {
	"X-SPOT-Status", "analyzed",
	"X-Spam-Scanner", "rspamd",
	NULL,
};

static void
edit_build(struct hdr_edit *ed, const struct edit_spec *spec)
{
	size_t i;

	memset(ed, 0, sizeof(*ed));
	if (spec->strip != NULL)
		hdr_edit_set_strip(ed, spec->strip);
	for (i = 0; spec->add != NULL && spec->add[i] != NULL; i += 2)
		hdr_edit_add(ed, spec->add[i], spec->add[i + 1]);
	if (spec->subject != NULL)
		ed->subject = xstrdup(spec->subject);
}

/* Parses msg[0, head_len) (from_len: the "From " line), plans with ed, and
 * compares the rendering of the msg_len-byte message with want. */
static void
check_rewrite(const char *label, const char *msg, size_t msg_len, size_t head_len,
    size_t from_len, int complete, const struct hdr_edit *ed, const char *want,
    size_t want_len, long want_removed)
{
	struct hdr_block hb;
	struct rewrite rw;
	size_t out_len = 0;
	char *out;

	hdr_block_parse(msg, head_len, from_len, complete, &hb);
	rewrite_plan(msg_len, &hb, ed, &rw);
	out = render(msg, msg_len, &rw, &out_len);
	is_mem(out, out_len, want, want_len, "%s: output bytes", label);
	is_int(rewrite_size(&rw), want_len, "%s: rewrite_size", label);
	if (want_removed >= 0)
		is_int(rw.removed, want_removed, "%s: removed count", label);
	free(out);
	rewrite_free(&rw);
	hdr_block_free(&hb);
}

#define S(lit) (lit), (sizeof(lit) - 1)

static void
test_lf(void)
{
	static const char msg[] =
	    "Return-Path: <alice@example.org>\n"
	    "Received: from mx.example.org (mx.example.org [192.0.2.1])\n"
	    "\tby mail.example.net; Mon, 1 Jan 2024 12:00:00 +0000\n"
	    "X-Spam: Yes\n"
	    "From: Alice <alice@example.org>\n"
	    "X-Spam-Score: 99.0\n"
	    "x-spot-status: analyzed;\n"
	    "\tverdict=clean\n"
	    "To: Bob <bob@example.net>\n"
	    "X-SPOT-STATUS: clean\n"
	    "X-Spam : yes\n"
	    "Subject: Hello\n"
	    "X-Spammer: kept, not X-Spam-*\n"
	    "X-SPOTTED: kept, not X-SPOT-*\n"
	    "\n"
	    "Body line\n"
	    "X-Spam: Yes in the body stays\n";
	static const char want[] =
	    "X-SPOT-Status: analyzed\n"
	    "X-Spam-Scanner: rspamd\n"
	    "Return-Path: <alice@example.org>\n"
	    "Received: from mx.example.org (mx.example.org [192.0.2.1])\n"
	    "\tby mail.example.net; Mon, 1 Jan 2024 12:00:00 +0000\n"
	    "From: Alice <alice@example.org>\n"
	    "To: Bob <bob@example.net>\n"
	    "Subject: Hello\n"
	    "X-Spammer: kept, not X-Spam-*\n"
	    "X-SPOTTED: kept, not X-SPOT-*\n"
	    "\n"
	    "Body line\n"
	    "X-Spam: Yes in the body stays\n";
	static const char *const names[] = { "Return-Path", "Received", "X-Spam",
		"From", "X-Spam-Score", "x-spot-status", "To", "X-SPOT-STATUS",
		"X-Spam", "Subject", "X-Spammer", "X-SPOTTED" };
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;
	size_t i;

	hdr_block_parse(msg, sizeof(msg) - 1, 0, 1, &hb);
	is_int(hb.n, ARRAY_LEN(names), "LF: %zu fields", ARRAY_LEN(names));
	for (i = 0; i < hb.n && i < ARRAY_LEN(names); i++)
		is_str(hb.v[i].name, names[i], "LF: field %zu name", i);
	is_int(hb.start, 0, "LF: block starts at 0");
	is_int(hb.end, strstr(msg, "\n\nBody") + 1 - msg, "LF: block ends at the "
	    "empty line");
	is_int(hb.crlf, 0, "LF: not CRLF");
	ok(hb.n > 1 && hb.v[1].len == strlen("Received: from mx.example.org "
	    "(mx.example.org [192.0.2.1])\n\tby mail.example.net; Mon, 1 Jan 2024 "
	    "12:00:00 +0000\n"), "LF: folded field spans its continuation line");
	ok(hb.n > 5 && hb.v[5].off == (uint64_t)(strstr(msg, "x-spot-status") - msg),
	    "LF: field offset");
	hdr_block_free(&hb);

	edit_build(&ed, &spec);
	check_rewrite("LF", S(msg), sizeof(msg) - 1, 0, 1, &ed, S(want), 5);
	hdr_edit_free(&ed);

	/* no edits at all: the message goes out as it came in, in one piece */
	memset(&ed, 0, sizeof(ed));
	{
		struct rewrite rw;

		hdr_block_parse(msg, sizeof(msg) - 1, 0, 1, &hb);
		rewrite_plan(sizeof(msg) - 1, &hb, &ed, &rw);
		is_int(rw.npieces, 1, "no edits: one piece");
		ok(rw.npieces == 1 && !rw.pieces[0].literal && rw.pieces[0].off == 0 &&
		    rw.pieces[0].len == sizeof(msg) - 1, "no edits: the whole message");
		is_int(rw.removed, 0, "no edits: nothing removed");
		rewrite_free(&rw);
		hdr_block_free(&hb);
	}
}

static void
test_crlf(void)
{
	static const char msg[] =
	    "Received: from mx.example.org\r\n"
	    "\tby mail.example.net\r\n"
	    "X-Spam-Flag: YES\r\n"
	    "From: Alice <alice@example.org>\r\n"
	    "X-SPOT-Job-Id: forged\r\n"
	    "Subject: Hello\r\n"
	    "\r\n"
	    "Body line\r\n"
	    "bare LF line\n"
	    "X-Spam: Yes\r\n";
	static const char want[] =
	    "X-SPOT-Status: analyzed\r\n"
	    "X-Spam-Scanner: rspamd\r\n"
	    "Received: from mx.example.org\r\n"
	    "\tby mail.example.net\r\n"
	    "From: Alice <alice@example.org>\r\n"
	    "Subject: Hello\r\n"
	    "\n"
	    "Body line\r\n"
	    "bare LF line\n"
	    "X-Spam: Yes\r\n";
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;

	hdr_block_parse(msg, sizeof(msg) - 1, 0, 1, &hb);
	is_int(hb.crlf, 1, "CRLF: detected");
	is_int(hb.n, 5, "CRLF: 5 fields");
	is_int(hb.end, strstr(msg, "\r\n\r\n") + 2 - msg, "CRLF: block ends at the "
	    "empty line");
	is_str(hb.n > 4 ? hb.v[4].name : NULL, "Subject", "CRLF: name without CR");
	hdr_block_free(&hb);
	edit_build(&ed, &spec);
	check_rewrite("CRLF", S(msg), sizeof(msg) - 1, 0, 1, &ed, S(want), 2);
	hdr_edit_free(&ed);
}

static void
test_from_line(void)
{
	static const char msg[] =
	    "From alice@example.org Mon Jan  1 12:00:00 2024\n"
	    "X-Spam: Yes\n"
	    "From: Alice <alice@example.org>\n"
	    "Subject: Hi\n"
	    "\n"
	    "body\n";
	static const char want[] =
	    "From alice@example.org Mon Jan  1 12:00:00 2024\n"
	    "X-SPOT-Status: analyzed\n"
	    "X-Spam-Scanner: rspamd\n"
	    "From: Alice <alice@example.org>\n"
	    "Subject: Hi\n"
	    "\n"
	    "body\n";
	static const char msg2[] = "From MAILER-DAEMON Mon Jan  1 12:00:00 2024\n\nbody\n";
	static const char want2[] =
	    "From MAILER-DAEMON Mon Jan  1 12:00:00 2024\n"
	    "X-SPOT-Status: analyzed\n"
	    "X-Spam-Scanner: rspamd\n"
	    "\nbody\n";
	struct edit_spec spec = { STRIP, std_add, NULL };
	size_t from_len = strchr(msg, '\n') + 1 - msg;
	struct hdr_block hb;
	struct hdr_edit ed;
	struct rewrite rw;

	hdr_block_parse(msg, sizeof(msg) - 1, from_len, 1, &hb);
	is_int(hb.start, from_len, "From line: block starts after it");
	is_int(hb.n, 3, "From line: not a field itself");
	is_str(hb.n ? hb.v[0].name : NULL, "X-Spam", "From line: first field after it");
	edit_build(&ed, &spec);
	rewrite_plan(sizeof(msg) - 1, &hb, &ed, &rw);
	ok(rw.npieces > 0 && !rw.pieces[0].literal && rw.pieces[0].off == 0 &&
	    rw.pieces[0].len == from_len, "From line: first piece is the From line");
	rewrite_free(&rw);
	hdr_block_free(&hb);
	check_rewrite("From line", S(msg), sizeof(msg) - 1, from_len, 1, &ed, S(want), 1);
	from_len = strchr(msg2, '\n') + 1 - msg2;
	check_rewrite("From line, no headers", S(msg2), sizeof(msg2) - 1, from_len, 1,
	    &ed, S(want2), 0);
	hdr_edit_free(&ed);
}

static void
test_no_body(void)
{
	static const char msg1[] = "From: a@example.org\nX-Spam: Yes\nSubject: s\n";
	static const char want1[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\nSubject: s\n";
	static const char msg2[] = "From: a@example.org\nX-Spam: Yes\nSubject: s";
	static const char want2[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\nSubject: s";
	static const char msg3[] = "From: a@example.org\nX-Spam: Yes";
	static const char want3[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n";
	static const char msg4[] = "From: a@example.org\r\nX-Spam: Yes\r\nSubject: s\r\n\r\n";
	static const char want4[] = "X-SPOT-Status: analyzed\r\nX-Spam-Scanner: rspamd\r\n"
	    "From: a@example.org\r\nSubject: s\r\n\r\n";
	static const char msg5[] = "Subject: folded\n continued";
	static const char want5[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "Subject: folded\n continued";
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;

	hdr_block_parse(msg2, sizeof(msg2) - 1, 0, 1, &hb);
	is_int(hb.n, 3, "no final newline: 3 fields");
	is_int(hb.end, sizeof(msg2) - 1, "no final newline: block ends at the end");
	ok(hb.n == 3 && hb.v[2].off + hb.v[2].len == sizeof(msg2) - 1,
	    "no final newline: last field runs to the end");
	hdr_block_free(&hb);

	edit_build(&ed, &spec);
	check_rewrite("headers only", S(msg1), sizeof(msg1) - 1, 0, 1, &ed, S(want1), 1);
	check_rewrite("headers only, no final newline", S(msg2), sizeof(msg2) - 1, 0, 1,
	    &ed, S(want2), 1);
	check_rewrite("headers only, stripped last line without newline", S(msg3),
	    sizeof(msg3) - 1, 0, 1, &ed, S(want3), 1);
	check_rewrite("headers and empty line, CRLF", S(msg4), sizeof(msg4) - 1, 0, 1,
	    &ed, S(want4), 1);
	check_rewrite("folded last field without newline", S(msg5), sizeof(msg5) - 1, 0,
	    1, &ed, S(want5), 0);
	hdr_edit_free(&ed);
}

static void
test_no_headers(void)
{
	static const char msg1[] = "\nX-Spam: Yes\nbody\n";
	static const char want1[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "\nX-Spam: Yes\nbody\n";
	static const char msg2[] = "\r\nX-Spam: Yes\r\nbody\r\n";
	static const char want2[] = "X-SPOT-Status: analyzed\r\nX-Spam-Scanner: rspamd\r\n"
	    "\nX-Spam: Yes\r\nbody\r\n";
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;

	hdr_block_parse(msg1, sizeof(msg1) - 1, 0, 1, &hb);
	is_int(hb.n, 0, "leading empty line: no fields");
	is_int(hb.end, 0, "leading empty line: block ends at 0");
	hdr_block_free(&hb);
	hdr_block_parse(msg2, sizeof(msg2) - 1, 0, 1, &hb);
	is_int(hb.n, 0, "leading CRLF line: no fields");
	is_int(hb.crlf, 1, "leading CRLF line: CRLF detected");
	hdr_block_free(&hb);
	edit_build(&ed, &spec);
	check_rewrite("leading empty line", S(msg1), sizeof(msg1) - 1, 0, 1, &ed, S(want1), 0);
	check_rewrite("leading CRLF line", S(msg2), sizeof(msg2) - 1, 0, 1, &ed, S(want2), 0);
	hdr_edit_free(&ed);
}

static void
test_hostile(void)
{
	static const char msg1[] = " X-Spam: forged\nFrom: a@example.org\n\nbody\n";
	static const char want1[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n\nbody\n";
	static const char msg2[] = "\tX-Spam: forged\n folded\nSubject: s\n\nbody\n";
	static const char want2[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "Subject: s\n\nbody\n";
	/* sizeof - 1 below: the NUL in the middle is part of the message */
	static const char msg3[] =
	    "From: a@example.org\n"
	    "This line has no colon\n"
	    "X-Spam: forged after a bad line\n"
	    "X-Nul: a\0b\n"
	    "X-8bit: caf\xe9 \xff\xfe\n"
	    "X-SPAM-FLAG:YES\n"
	    "X-Spam\t: tab before the colon\n"
	    ": empty name\n"
	    "Subject: s\n"
	    "\n"
	    "body\0with NUL\n";
	static const char want3[] =
	    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n"
	    "This line has no colon\n"
	    "X-Nul: a b\n"
	    "X-8bit: caf\xe9 \xff\xfe\n"
	    ": empty name\n"
	    "Subject: s\n"
	    "\n"
	    "body\0with NUL\n";
	/* white space first, or a NUL (out as a space), right after the added
	 * fields: it would continue the last of them */
	static const char msg4[] = " BAYES_HAM(-9.00)\nFrom: a@example.org\n\nbody\n";
	static const char want4[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n\nbody\n";
	static const char msg5[] = "From a@b Mon Jan  1 00:00:00 2024\r\n\tyes\r\n"
	    "From: a@example.org\r\n\r\nbody\r\n";
	static const char want5[] = "From a@b Mon Jan  1 00:00:00 2024\r\n"
	    "X-SPOT-Status: analyzed\r\nX-Spam-Scanner: rspamd\r\n"
	    "From: a@example.org\r\n\r\nbody\r\n";
	static const char want6[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "Subject: [SPAM] s\nFrom: a@example.org\n\nbody\n";
	static const char msg7[] = " Subject: s\nFrom: a@example.org\n\nbody\n";
	static const char msg8[] = "\0 BAYES_HAM(-9.00)\nFrom: a@example.org\n\nbody\n";
	static const char msg9[] = "X-Spam: No\n\0 BAYES_HAM(-9.00)\nFrom: a@example.org\n\nbody\n";
	static const char msg10[] = "Subject: s\n\0 [ham]\nFrom: a@example.org\n\nbody\n";
	/* after the sender's own field it continues that one, as it came */
	static const char msg11[] = "From: a@example.org\n\0 x\nSubject: s\n\nbody\n";
	static const char want11[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n  x\nSubject: s\n\nbody\n";
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;

	hdr_block_parse(msg1, sizeof(msg1) - 1, 0, 1, &hb);
	is_int(hb.n, 2, "leading whitespace: the first line is a field");
	is_str(hb.n ? hb.v[0].name : NULL, "X-Spam", "leading whitespace: name trimmed");
	hdr_block_free(&hb);
	hdr_block_parse(msg3, sizeof(msg3) - 1, 0, 1, &hb);
	is_int(hb.n, 9, "hostile block: every line is a field");
	is_str(hb.n > 1 ? hb.v[1].name : NULL, "", "no colon: empty name");
	is_str(hb.n > 7 ? hb.v[7].name : NULL, "", "empty name before the colon");
	is_int(hb.end, (const char *)memmem(msg3, sizeof(msg3) - 1, "Subject: s\n\n", 12) +
	    11 - msg3,
	    "hostile block: ends at the empty line, not at the NUL");
	hdr_block_free(&hb);

	edit_build(&ed, &spec);
	check_rewrite("leading-whitespace first line", S(msg1), sizeof(msg1) - 1, 0, 1,
	    &ed, S(want1), 1);
	check_rewrite("leading-tab folded first field", S(msg2), sizeof(msg2) - 1, 0, 1,
	    &ed, S(want2), 1);
	check_rewrite("no colon, NUL, 8-bit, odd names", S(msg3), sizeof(msg3) - 1, 0,
	    1, &ed, S(want3), 3);
	check_rewrite("white space first: dropped, not appended to the last added field",
	    S(msg4), sizeof(msg4) - 1, 0, 1, &ed, S(want4), 1);
	check_rewrite("the same after a From_ line, CRLF", S(msg5), sizeof(msg5) - 1,
	    strlen("From a@b Mon Jan  1 00:00:00 2024\r\n"), 1, &ed, S(want5), 1);
	check_rewrite("a NUL first: dropped (it would go out as a space)", msg8,
	    sizeof(msg8) - 1, sizeof(msg8) - 1, 0, 1, &ed, S(want4), 1);
	check_rewrite("a NUL line after a stripped first field: dropped", msg9,
	    sizeof(msg9) - 1, sizeof(msg9) - 1, 0, 1, &ed, S(want4), 2);
	check_rewrite("a NUL line after the sender's own field: kept, a space", msg11,
	    sizeof(msg11) - 1, sizeof(msg11) - 1, 0, 1, &ed, S(want11), 0);
	hdr_edit_free(&ed);
	/* no Subject: the new one is the last added field */
	spec.subject = "[SPAM] s";
	edit_build(&ed, &spec);
	check_rewrite("white space first, Subject added: dropped, not appended to it",
	    S(msg4), sizeof(msg4) - 1, 0, 1, &ed, S(want6), 1);
	check_rewrite("white space first, named Subject: dropped, the new one on top",
	    S(msg7), sizeof(msg7) - 1, 0, 1, &ed, S(want6), 1);
	check_rewrite("a NUL line after the replaced Subject: dropped", msg10,
	    sizeof(msg10) - 1, sizeof(msg10) - 1, 0, 1, &ed, S(want6), 1);
	hdr_edit_free(&ed);
	/* nothing added: nothing of ours for it to continue */
	memset(&ed, 0, sizeof(ed));
	check_rewrite("white space first, nothing added: kept", S(msg4), sizeof(msg4) - 1,
	    0, 1, &ed, S(msg4), 0);
	hdr_edit_free(&ed);
}

/* The cases listed in VIOLATIONS.md. */
static void
test_violations(void)
{
	static const char msg1[] =
	    "Subject: hi\rX-Spam: yes\n"
	    "X-Spam: a\rSubject: hi\n"
	    "X-Spam\0junk: 1\n"
	    "X-Sp\0am: 1\n"
	    "junk\n"
	    " X-Spam: yes\n"
	    "X-A: 1\n"
	    "   \n"
	    "\t\n"
	    "X-Spam: after a blank-looking line\n"
	    "\n"
	    "body\n";
	static const char want1[] =
	    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "Subject: hi\rX-Spam: yes\n"
	    "X-Sp am: 1\n"
	    "junk\n"
	    " X-Spam: yes\n"
	    "X-A: 1\n"
	    "   \n"
	    "\t\n"
	    "\n"
	    "body\n";
	static const char msg2[] =
	    "X-A: 1\r\n"
	    "X-Spam: 2\n"
	    "X-B: 3\r\n"
	    "\r\n"
	    "X-Spam: body\n";
	static const char want2[] =
	    "X-SPOT-Status: analyzed\r\nX-Spam-Scanner: rspamd\r\n"
	    "X-A: 1\r\n"
	    "X-B: 3\r\n"
	    "\n"
	    "X-Spam: body\n";
	static const char msg3[] = "no colon at all\nanother line\n";
	static const char want3[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "no colon at all\nanother line\n";
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;

	hdr_block_parse(msg1, sizeof(msg1) - 1, 0, 1, &hb);
	is_int(hb.n, 7, "bare CR, NUL, colon-less: 7 fields");
	is_str(hb.n > 4 ? hb.v[4].name : NULL, "junk\n X-Spam", "a colon-less line takes "
	    "the colon of its continuation");
	is_str(hb.n > 2 ? hb.v[2].name : NULL, "X-Spam", "name stops at a NUL");
	hdr_block_free(&hb);
	edit_build(&ed, &spec);
	check_rewrite("bare CR, NUL in names, blank-looking lines", S(msg1),
	    sizeof(msg1) - 1, 0, 1, &ed, S(want1), 3);
	check_rewrite("mixed line endings", S(msg2), sizeof(msg2) - 1, 0, 1, &ed, S(want2), 1);
	check_rewrite("no empty line and no colon", S(msg3), sizeof(msg3) - 1, 0, 1, &ed,
	    S(want3), 0);
	hdr_edit_free(&ed);
}

static void
test_rfc822_attachment(void)
{
	static const char head[] =
	    "From: a@example.org\n"
	    "Subject: Fwd: spam\n"
	    "MIME-Version: 1.0\n"
	    "X-Spam-Level: ****\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	    "\n";
	static const char body[] =
	    "--b1\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "see attached\n"
	    "--b1\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "X-Spam: Yes\n"
	    "X-Spam-Score: 20.0\n"
	    "X-SPOT-Status: analyzed\n"
	    "From: c@example.com\n"
	    "Subject: inner\n"
	    "\n"
	    "inner body\n"
	    "--b1--\n";
	static const char want_head[] =
	    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n"
	    "Subject: Fwd: spam\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
	    "\n";
	struct edit_spec spec = { STRIP, std_add, "[SPAM] Fwd: spam" };
	struct edit_spec spec2 = { STRIP, std_add, NULL };
	char msg[1024], want[1024];
	struct hdr_edit ed;
	size_t mlen, wlen;

	mlen = (size_t)snprintf(msg, sizeof(msg), "%s%s", head, body);
	wlen = (size_t)snprintf(want, sizeof(want), "%s%s", want_head, body);
	edit_build(&ed, &spec2);
	check_rewrite("message/rfc822 attachment untouched", msg, mlen, mlen, 0, 1, &ed,
	    want, wlen, -1);
	hdr_edit_free(&ed);
	/* with the removals the top Subject and From go, the inner ones stay */
	{
		static const char want2_head[] =
		    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
		    "Subject: [SPAM] Fwd: spam\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n";

		edit_build(&ed, &spec);
		hdr_edit_remove(&ed, "From", 0);
		wlen = (size_t)snprintf(want, sizeof(want), "%s%s", want2_head, body);
		check_rewrite("attachment: removals and Subject only at the top", msg,
		    mlen, mlen, 0, 1, &ed, want, wlen, 2);
		hdr_edit_free(&ed);
	}
}

static void
check_remove(const char *label, long index, const char *want)
{
	static const char msg[] =
	    "X-Foo: 1\n"
	    "X-Bar: a\n"
	    "X-Foo: 2\n"
	    " folded\n"
	    "x-foo: 3\n"
	    "\n"
	    "X-Foo: body\n";
	struct hdr_edit ed;

	memset(&ed, 0, sizeof(ed));
	hdr_edit_remove(&ed, "X-FOO", index);
	check_rewrite(label, S(msg), sizeof(msg) - 1, 0, 1, &ed, want, strlen(want), -1);
	hdr_edit_free(&ed);
}

static void
test_remove_index(void)
{
	struct hdr_edit ed;

	check_remove("remove index 0 (all)", 0, "X-Bar: a\n\nX-Foo: body\n");
	check_remove("remove index 1 (first)", 1,
	    "X-Bar: a\nX-Foo: 2\n folded\nx-foo: 3\n\nX-Foo: body\n");
	check_remove("remove index 2 (second, folded)", 2,
	    "X-Foo: 1\nX-Bar: a\nx-foo: 3\n\nX-Foo: body\n");
	check_remove("remove index -1 (last)", -1,
	    "X-Foo: 1\nX-Bar: a\nX-Foo: 2\n folded\n\nX-Foo: body\n");
	check_remove("remove index -3 (first from the end)", -3,
	    "X-Bar: a\nX-Foo: 2\n folded\nx-foo: 3\n\nX-Foo: body\n");
	check_remove("remove index 4 (none: only 3)", 4,
	    "X-Foo: 1\nX-Bar: a\nX-Foo: 2\n folded\nx-foo: 3\n\nX-Foo: body\n");
	check_remove("remove index -4 (none)", -4,
	    "X-Foo: 1\nX-Bar: a\nX-Foo: 2\n folded\nx-foo: 3\n\nX-Foo: body\n");

	memset(&ed, 0, sizeof(ed));
	hdr_edit_remove(&ed, "X-Foo", 1);
	hdr_edit_remove(&ed, "X-Foo", -1);
	check_rewrite("remove first and last", S("X-Foo: 1\nX-Foo: 2\nX-Foo: 3\n\nb"),
	    sizeof("X-Foo: 1\nX-Foo: 2\nX-Foo: 3\n\nb") - 1, 0, 1, &ed,
	    S("X-Foo: 2\n\nb"), 2);
	is_int(ed.nremove, 2, "hdr_edit_remove appends");
	is_str(ed.remove[1].name, "X-Foo", "hdr_edit_remove copies the name");
	is_int(ed.remove[1].index, -1, "hdr_edit_remove keeps the index");
	hdr_edit_free(&ed);
}

static void
test_subject(void)
{
	static const char msg1[] =
	    "From: a@example.org\n"
	    "Subject: old\n"
	    " subject continued\n"
	    "To: b@example.net\n"
	    "subject: second\n"
	    "SUBJECT: third\n"
	    "\n"
	    "Subject: in the body\n";
	static const char want1[] =
	    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n"
	    "Subject: ***SPAM*** old\n"
	    "To: b@example.net\n"
	    "\n"
	    "Subject: in the body\n";
	static const char msg2[] = "From: a@example.org\nTo: b@example.net\n\nbody\n";
	static const char want2[] =
	    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "Subject: ***SPAM*** old\n"
	    "From: a@example.org\nTo: b@example.net\n\nbody\n";
	static const char msg3[] = "From: a@example.org\r\nSubject: old\r\n\r\nbody\r\n";
	static const char want3[] = "From: a@example.org\r\n"
	    "Subject: ***SPAM*** old\r\n\r\nbody\r\n";
	static const char msg4[] = "From: a@example.org\nSubject: old";
	static const char want4[] = "From: a@example.org\nSubject: ***SPAM*** old\n";
	struct edit_spec spec = { STRIP, std_add, "***SPAM*** old" };
	struct edit_spec bare = { NULL, NULL, "***SPAM*** old" };
	struct hdr_edit ed;

	edit_build(&ed, &spec);
	check_rewrite("Subject replaced in place, others dropped", S(msg1),
	    sizeof(msg1) - 1, 0, 1, &ed, S(want1), -1);
	check_rewrite("Subject added on top when there is none", S(msg2),
	    sizeof(msg2) - 1, 0, 1, &ed, S(want2), 0);
	hdr_edit_free(&ed);

	edit_build(&ed, &bare);
	check_rewrite("Subject replaced, CRLF", S(msg3), sizeof(msg3) - 1, 0, 1, &ed,
	    S(want3), 0);
	check_rewrite("Subject replaced, last line without newline", S(msg4),
	    sizeof(msg4) - 1, 0, 1, &ed, S(want4), 0);
	/* a Subject that a removal drops is not the one replaced */
	hdr_edit_remove(&ed, "Subject", 1);
	check_rewrite("Subject removed by index, new one on top",
	    S("From: a\nSubject: one\n\nb"), sizeof("From: a\nSubject: one\n\nb") - 1,
	    0, 1, &ed, S("Subject: ***SPAM*** old\nFrom: a\n\nb"), 1);
	hdr_edit_free(&ed);
}

/* Lines of text that do not start with a space or a tab. */
static int
count_field_starts(const char *text, size_t len)
{
	size_t i;
	int n = 0;

	for (i = 0; i < len; i++)
		if ((i == 0 || text[i - 1] == '\n') && text[i] != ' ' && text[i] != '\t')
			n++;
	return n;
}

static void
test_injection(void)
{
	static const char msg[] = "From: a@example.org\n\nbody\n";
	static const char *const values[] = {
		"a\r\nX-Spam: Yes",
		"a\nBcc: evil@example.com",
		"a\rX-Spam: Yes",
		"\r\n\r\nbody injected",
		"a\x01\x7f\x1b[0m\tb\x0b\x0c",
		"\n",
	};
	struct hdr_edit ed;
	struct hdr_block hb;
	struct rewrite rw;
	size_t i, j, out_len;
	char *out;

	for (i = 0; i < ARRAY_LEN(values); i++) {
		memset(&ed, 0, sizeof(ed));
		hdr_edit_add(&ed, "X-Test", values[i]);
		for (j = 0; ed.add[0].value[j] != '\0'; j++)
			if ((unsigned char)ed.add[0].value[j] < 0x20 ||
			    ed.add[0].value[j] == 0x7f)
				break;
		ok(ed.add[0].value[j] == '\0', "value %zu: no control byte kept", i);
		hdr_block_parse(msg, sizeof(msg) - 1, 0, 1, &hb);
		rewrite_plan(sizeof(msg) - 1, &hb, &ed, &rw);
		out = render(msg, sizeof(msg) - 1, &rw, &out_len);
		ok(out != NULL && out_len > rw.text.len && count_field_starts(out,
		    rw.text.len) == 1, "value %zu: the added text is one field", i);
		ok(out != NULL && out_len >= sizeof(msg) - 1 &&
		    memcmp(out + out_len - (sizeof(msg) - 1), msg, sizeof(msg) - 1) == 0,
		    "value %zu: the message follows unchanged", i);
		ok(out != NULL && strstr(out, "\nX-Spam:") == NULL &&
		    strstr(out, "\nBcc:") == NULL && strstr(out, "\n\nbody injected") == NULL,
		    "value %zu: no injected line", i);
		ok(out != NULL && strncmp(out, "X-Test:", 7) == 0, "value %zu: the field "
		    "is X-Test", i);
		free(out);
		rewrite_free(&rw);
		hdr_block_free(&hb);
		hdr_edit_free(&ed);
	}
	/* a NUL ends the C string: what follows it is not added */
	memset(&ed, 0, sizeof(ed));
	hdr_edit_add(&ed, "X-Test", "before\0X-Spam: Yes");
	is_str(ed.add[0].value, "before", "NUL: the value stops at it");
	hdr_edit_free(&ed);
}

static void
check_folding(const char *label, const char *name, const char *value, int crlf,
    int check_len)
{
	const char *msg = crlf ? "From: a\r\n\r\nbody\r\n" : "From: a\n\nbody\n";
	const char *nl = crlf ? "\r\n" : "\n";
	size_t msg_len = strlen(msg), i, start, out_len, flen, lines = 0, maxlen = 0;
	struct buf unfolded = { 0 };
	struct hdr_edit ed;
	struct hdr_block hb;
	struct rewrite rw;
	char *out;
	int bad_start = 0, bad_eol = 0;

	memset(&ed, 0, sizeof(ed));
	hdr_edit_add(&ed, name, value);
	hdr_block_parse(msg, msg_len, 0, 1, &hb);
	rewrite_plan(msg_len, &hb, &ed, &rw);
	out = render(msg, msg_len, &rw, &out_len);
	/* the added field is the first piece, the text before "From: a" */
	flen = rw.npieces > 0 && rw.pieces[0].literal ? (size_t)rw.pieces[0].len : 0;
	for (start = 0, i = 0; out != NULL && i < flen; i++) {
		if (out[i] != '\n')
			continue;
		lines++;
		if (i + 1 - start > maxlen)
			maxlen = i + 1 - start;
		if (crlf && (i == 0 || out[i - 1] != '\r'))
			bad_eol = 1;
		if (!crlf && i > 0 && out[i - 1] == '\r')
			bad_eol = 1;
		if (lines > 1 && out[start] != ' ' && out[start] != '\t')
			bad_start = 1;
		buf_append(&unfolded, out + start, i + 1 - start - strlen(nl));
		start = i + 1;
	}
	if (check_len) {
		ok(lines > 1, "%s: folded over several lines (%zu)", label, lines);
		ok(maxlen <= 78 + 2, "%s: no line longer than 78 + 2 bytes (longest %zu)",
		    label, maxlen);
	}
	ok(!bad_start, "%s: continuation lines start with a space or a tab", label);
	ok(!bad_eol, "%s: every line ends in %s", label, crlf ? "CRLF" : "LF");
	ok(out != NULL && start == flen && out_len - start == msg_len &&
	    memcmp(out + start, msg, msg_len) == 0,
	    "%s: the message follows the field", label);
	{
		struct buf w = { 0 };

		buf_printf(&w, "%s: %s", name, value);
		is_mem(unfolded.data, unfolded.len, w.data, w.len,
		    "%s: unfolding gives the value back (no RFC 2047 for ASCII)", label);
		buf_free(&w);
	}
	buf_free(&unfolded);
	free(out);
	rewrite_free(&rw);
	hdr_block_free(&hb);
	hdr_edit_free(&ed);
}

static void
test_folding(void)
{
	struct buf v = { 0 };
	char token[301];
	int i;

	for (i = 0; i < 60; i++)
		buf_printf(&v, "%sSYMBOL_NAME_%02d(%d.%02d)", i ? ", " : "", i, i % 7, i);
	check_folding("X-Spam-Symbols, LF", "X-Spam-Symbols", v.data, 0, 1);
	check_folding("X-Spam-Symbols, CRLF", "X-Spam-Symbols", v.data, 1, 1);
	buf_free(&v);
	/* A token longer than a line cannot be folded: it must go out as it
	 * is (RFC 5322 allows 998 bytes), not as RFC 2047 encoded-words,
	 * which would change a structured value such as a signature. */
	memset(token, 'A', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	check_folding("one 300 byte token", "X-Spam-Symbols", token, 0, 0);
	check_folding("DKIM-Signature from the milter", "DKIM-Signature",
	    "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=dkim; "
	    "t=1700000000; h=from:to:subject:date; "
	    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; "
	    "b=dGhpcyBpcyBhIHZlcnkgbG9uZyBzaWduYXR1cmUgdGhhdCBkb2VzIG5vdCBmaXQgb24g"
	    "b25lIGxpbmUgYXQgYWxsIGFuZCBnb2VzIG9uIGFuZCBvbiBhbmQgb24gYW5kIG9u", 0, 0);
}

static void
test_incomplete(void)
{
	/* the head is the first part of the message; the rest is in the spool */
	static const char msg1[] =
	    "From: a@example.org\n"
	    "X-Spam: Yes\n"
	    "Subject: s\n"
	    "X-Partial: abc"  /* <- the head ends here */
	    "def\n"
	    "X-Spam: beyond the head\n"
	    "\n"
	    "body\n";
	static const char want1[] =
	    "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
	    "From: a@example.org\n"
	    "Subject: s\n"
	    "\n"  /* <- the cut: what follows is body for every reader */
	    "X-Partial: abcdef\n"
	    "X-Spam: beyond the head\n"
	    "\n"
	    "body\n";
	static const char msg2[] =
	    "From: a@example.org\n"
	    "X-Spam: Yes\n"
	    " fol"  /* <- the head ends here */
	    "ded\n"
	    "Subject: s\n"
	    "\n"
	    "body\n";
	static const char msg3[] =
	    "From: a@example.org\n"
	    "X-Spam: Yes\n"  /* <- the head ends here */
	    " folded\n"
	    "Subject: s\n"
	    "\n"
	    "body\n";
	struct edit_spec spec = { STRIP, std_add, NULL };
	size_t head1 = strstr(msg1, "def\n") - msg1;
	size_t head2 = strstr(msg2, "ded\n") - msg2;
	size_t head3 = strstr(msg3, " folded") - msg3;
	struct hdr_block hb;
	struct hdr_edit ed;
	struct rewrite rw;
	size_t out_len;
	char *out;

	hdr_block_parse(msg1, head1, 0, 0, &hb);
	is_int(hb.n, 3, "incomplete head: 3 complete fields");
	is_int(hb.end, strstr(msg1, "X-Partial") - msg1,
	    "incomplete head: block ends at the last complete line");
	hdr_block_free(&hb);
	hdr_block_parse(msg1, head1, 0, 1, &hb);
	is_int(hb.n, 4, "same bytes, complete: the cut line is a field");
	is_int(hb.end, head1, "same bytes, complete: block ends at the end");
	hdr_block_free(&hb);

	edit_build(&ed, &spec);
	check_rewrite("incomplete head", S(msg1), head1, 0, 0, &ed, S(want1), 1);

	/* A field whose continuation lines go past the head: dropping its
	 * first line alone would glue the rest onto the field before it. */
	hdr_block_parse(msg2, head2, 0, 0, &hb);
	rewrite_plan(sizeof(msg2) - 1, &hb, &ed, &rw);
	out = render(msg2, sizeof(msg2) - 1, &rw, &out_len);
	unlike(out, "From: a@example.org\nded\n", "incomplete head cut inside a "
	    "continuation: no bytes of a dropped field are left behind");
	unlike(out, "From: a@example.org\n fol", "incomplete head cut inside a "
	    "continuation: no continuation glued onto From:");
	free(out);
	rewrite_free(&rw);
	hdr_block_free(&hb);

	hdr_block_parse(msg3, head3, 0, 0, &hb);
	rewrite_plan(sizeof(msg3) - 1, &hb, &ed, &rw);
	out = render(msg3, sizeof(msg3) - 1, &rw, &out_len);
	unlike(out, "From: a@example.org\n folded\n", "incomplete head ending at a "
	    "field's line end: its continuation (past the head) is not glued onto "
	    "From:");
	free(out);
	rewrite_free(&rw);
	hdr_block_free(&hb);
	hdr_edit_free(&ed);
}

static void
test_many_headers(void)
{
	struct buf msg = { 0 }, want = { 0 };
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_block hb;
	struct hdr_edit ed;
	struct rewrite rw;
	size_t out_len;
	char *out;
	int i;

	buf_puts(&want, "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n");
	for (i = 0; i < 10000; i++) {
		if (i == 5000)
			buf_puts(&msg, "X-Spam: forged in the middle\n");
		buf_printf(&msg, "X-Header-%05d: value %d\n", i, i);
		buf_printf(&want, "X-Header-%05d: value %d\n", i, i);
	}
	buf_puts(&msg, "\nbody\n");
	buf_puts(&want, "\nbody\n");
	hdr_block_parse(msg.data, msg.len, 0, 1, &hb);
	is_int(hb.n, 10001, "10,000 headers: all parsed");
	is_str(hb.n == 10001 ? hb.v[10000].name : NULL, "X-Header-09999",
	    "10,000 headers: last name");
	edit_build(&ed, &spec);
	rewrite_plan(msg.len, &hb, &ed, &rw);
	ok(rw.npieces <= 4, "10,000 headers: contiguous kept pieces merged (%zu pieces)",
	    rw.npieces);
	is_int(rw.removed, 1, "10,000 headers: one removed");
	out = render(msg.data, msg.len, &rw, &out_len);
	is_mem(out, out_len, want.data, want.len, "10,000 headers: output bytes");
	free(out);
	rewrite_free(&rw);
	hdr_block_free(&hb);
	hdr_edit_free(&ed);
	buf_free(&msg);
	buf_free(&want);
}

static void
test_helpers(void)
{
	struct hdr_edit ed;

	memset(&ed, 0, sizeof(ed));
	hdr_edit_set_strip(&ed, "X-Spam-*, X-Spam,X-SPOT-*\t X-Virus ,, ");
	is_int(ed.nstrip, 4, "strip list: 4 patterns");
	is_str(ed.nstrip > 3 ? ed.strip[3] : NULL, "X-Virus", "strip list: trimmed");
	ok(hdr_strip_match(&ed, "X-Spam"), "strip: X-Spam");
	ok(hdr_strip_match(&ed, "x-spam"), "strip: x-spam (any case)");
	ok(hdr_strip_match(&ed, "X-Spam-Score"), "strip: X-Spam-Score by prefix");
	ok(hdr_strip_match(&ed, "X-SPAM-"), "strip: X-SPAM- by prefix");
	ok(!hdr_strip_match(&ed, "X-Spammer"), "strip: X-Spammer kept");
	ok(!hdr_strip_match(&ed, "X-Spa"), "strip: X-Spa kept");
	ok(hdr_strip_match(&ed, "x-spot-job-id"), "strip: x-spot-job-id");
	ok(!hdr_strip_match(&ed, "X-SPOTTED"), "strip: X-SPOTTED kept");
	ok(!hdr_strip_match(&ed, "X-SPOT"), "strip: X-SPOT kept (pattern is X-SPOT-*)");
	ok(hdr_strip_match(&ed, "x-virus"), "strip: exact name");
	ok(!hdr_strip_match(&ed, "X-Virus-Scanned"), "strip: exact name is not a prefix");
	ok(!hdr_strip_match(&ed, ""), "strip: empty name kept");
	hdr_edit_free(&ed);
	memset(&ed, 0, sizeof(ed));
	hdr_edit_set_strip(&ed, "*");
	ok(hdr_strip_match(&ed, ""), "a lone * matches a colon-less line");
	ok(hdr_strip_match(&ed, "Received"), "a lone * matches everything");
	hdr_edit_free(&ed);
	memset(&ed, 0, sizeof(ed));
	hdr_edit_set_strip(&ed, "");
	is_int(ed.nstrip, 0, "strip list: empty");
	ok(!hdr_strip_match(&ed, "X-Spam"), "strip list empty: nothing matches");
	hdr_edit_free(&ed);

	ok(valid_field_name("X-Spam"), "valid name X-Spam");
	ok(valid_field_name("X_Odd.Name~1"), "valid name with punctuation");
	ok(!valid_field_name(""), "empty name invalid");
	ok(!valid_field_name("X Spam"), "name with a space invalid");
	ok(!valid_field_name("X-Spam:"), "name with a colon invalid");
	ok(!valid_field_name("X-Sp\xc3\xa4m"), "8-bit name invalid");
	ok(!valid_field_name("X-Spam\r\nBcc"), "name with CRLF invalid");
	ok(!valid_field_name("X-\x7f"), "name with DEL invalid");
}

/* How the documented readers end the top header block, and whether a field
 * that is not one of ours (std_add) is left in it after the rewrite. */
static int
is_verdict_line(const char *p, size_t len)
{
	static const char *const ours[] = { "X-SPOT-Status: analyzed",
		"X-Spam-Scanner: rspamd" };
	size_t i;

	for (i = 0; i < ARRAY_LEN(ours); i++)
		if (len >= strlen(ours[i]) && memcmp(p, ours[i], strlen(ours[i])) == 0 &&
		    (len == strlen(ours[i]) || p[strlen(ours[i])] == '\r' ||
		    p[strlen(ours[i])] == '\n'))
			return 0;
	return (len >= 6 && strncasecmp(p, "X-Spam", 6) == 0) ||
	    (len >= 7 && strncasecmp(p, "X-SPOT-", 7) == 0);
}

/* procmail: leading empty lines skipped, the block runs to the
 * first "\n\n", or to the end of the message when a NUL comes before that
 * (its search for "\n\n" stops at the NUL); every line in it is searched
 * by "^X-Spam" (the H flag).
 * either = 1: Dovecot and GMime, which end it at "\n" or "\r\n". */
static int
forged_in_view(const char *out, size_t len, size_t from_len, int either)
{
	const char *p = out + from_len, *end = out + len, *nl;
	const char *lflf = memmem(out, len, "\n\n", 2);
	int to_the_end = !either &&
	    memchr(out, '\0', lflf ? (size_t)(lflf - out) : len) != NULL;

	while (!either && p < end && *p == '\n')
		p++;
	for (; p < end; p = nl + 1) {
		if (!to_the_end && (*p == '\n' ||
		    (either && *p == '\r' && end - p > 1 && p[1] == '\n')))
			return 0;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (is_verdict_line(p, (size_t)(nl - p)))
			return 1;
	}
	return 0;
}

/* The real GMime parser: a field it takes for a top-level header. */
static int
forged_in_gmime(const char *out, size_t len, size_t from_len)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(out + from_len,
	    len - from_len);
	GMimeParser *parser = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
	GMimeHeaderList *hl;
	int i, n, forged = 0;

	if (m != NULL) {
		hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
		n = g_mime_header_list_get_count(hl);
		for (i = 0; i < n; i++) {
			GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
			struct buf line = { 0 };

			buf_printf(&line, "%s: %s", g_mime_header_get_name(h),
			    g_mime_header_get_value(h) ? g_mime_header_get_value(h) : "");
			forged |= is_verdict_line(line.data, line.len);
			buf_free(&line);
		}
		g_object_unref(m);
	}
	g_object_unref(parser);
	g_object_unref(st);
	return forged;
}

/* A message "own" LF or CRLF, an empty line in the other ending ("odd"),
 * forged fields before and after it, a From_ line or not, a body or not. */
static void
test_consumer_views(void)
{
	static const char *const eols[][3] = {
		/* label, first line's ending, the others' */
		{ "LF", "\n", "\n" },
		{ "CRLF", "\r\n", "\r\n" },
		{ "CRLF first line, then LF", "\r\n", "\n" },
		{ "LF first line, then CRLF", "\n", "\r\n" },
	};
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_edit ed;
	int e, from, where, with_body, odd_at;

	g_mime_init();
	edit_build(&ed, &spec);
	for (e = 0; e < (int)ARRAY_LEN(eols); e++)
	for (from = 0; from < 2; from++)
	for (where = 0; where < 3; where++)  /* forged: before, after, both */
	for (with_body = 0; with_body < 2; with_body++)
	for (odd_at = 0; odd_at < 3; odd_at++) {  /* after Subject, first, none */
		const char *eol1 = eols[e][1], *eol = eols[e][2];
		const char *odd;
		struct buf m = { 0 }, label = { 0 }, body = { 0 };
		struct hdr_block hb;
		struct rewrite rw;
		size_t from_len = 0, out_len = 0;
		char *out;

		odd = odd_at == 2 ? "" : strcmp(eol, "\n") == 0 ? "\r\n" : "\n";
		buf_printf(&body, "body line%sX-Spam: Yes in the body%s", eol, eol);
		buf_printf(&label, "%s%s, forged %s the odd empty line%s, %s",
		    eols[e][0], from ? ", From_ line" : "",
		    where == 0 ? "before" : where == 1 ? "after" : "around",
		    with_body ? ", body" : ", no body",
		    odd_at == 0 ? "odd line after Subject" : odd_at == 1 ?
		    "odd line first" : "no odd line");
		if (from) {
			buf_puts(&m, "From alice@example.org Mon Jan  1 12:00:00 2024\n");
			from_len = m.len;
		}
		if (odd_at == 1)
			buf_puts(&m, odd);
		buf_printf(&m, "From: a@example.org%s", odd_at == 1 ? eol : eol1);
		if (where != 1)
			buf_printf(&m, "X-Spam: Yes%sX-SPOT-Is-Phishing: yes%s", eol, eol);
		buf_printf(&m, "Subject: s%s%s", eol, odd_at == 0 ? odd : "");
		if (where != 0)
			buf_printf(&m, "X-SPOT-Is-Phishing: yes%sx-spam-score: 99%s"
			    "X-Spam: Yes%s", eol, eol, eol);
		if (with_body)
			buf_printf(&m, "%s%s", eol, body.data);
		hdr_block_parse(m.data, m.len, from_len, 1, &hb);
		rewrite_plan(m.len, &hb, &ed, &rw);
		out = render(m.data, m.len, &rw, &out_len);
		ok(out != NULL && !forged_in_view(out, out_len, from_len, 0),
		    "%s: procmail sees no forged field", label.data);
		ok(out != NULL && !forged_in_view(out, out_len, from_len, 1),
		    "%s: Dovecot sees no forged field", label.data);
		ok(out != NULL && !forged_in_gmime(out, out_len, from_len),
		    "%s: GMime's parser sees no forged field", label.data);
		if (with_body)
			ok(out != NULL && out_len >= body.len &&
			    memcmp(out + out_len - body.len, body.data, body.len) == 0,
			    "%s: the body is kept byte for byte", label.data);
		free(out);
		rewrite_free(&rw);
		hdr_block_free(&hb);
		buf_free(&m);
		buf_free(&label);
		buf_free(&body);
	}
	{
		/* a head cut short inside a field that starts with a CR: no
		 * empty line ends that block there, so one is added at the cut */
		static const char msg[] = "From: a@example.org\n\rX-B: cut here";
		static const char want[] = "X-SPOT-Status: analyzed\nX-Spam-Scanner: rspamd\n"
		    "From: a@example.org\n\n\rX-B: cut here";

		/* CRLF, spooled: what procmail would read past the empty line is
		 * not all there, so that line goes out as a bare LF */
		static const char msg2[] = "From: a@example.org\r\n\r\nbody\r\nmore";
		static const char want2[] = "X-SPOT-Status: analyzed\r\n"
		    "X-Spam-Scanner: rspamd\r\nFrom: a@example.org\r\n\nbody\r\nmore";
		/* CRLF, ordinary: nothing to strip past the empty line, kept as it is */
		static const char msg3[] = "From: a@example.org\r\n\r\nbody: text\r\n"
		    "X-Spammer-ish line\r\n";
		static const char want3[] = "X-SPOT-Status: analyzed\r\n"
		    "X-Spam-Scanner: rspamd\r\nFrom: a@example.org\r\n\r\nbody: text\r\n"
		    "X-Spammer-ish line\r\n";

		check_rewrite("cut head, field starting with CR", S(msg), sizeof(msg) - 1,
		    0, 0, &ed, S(want), 0);
		check_rewrite("CRLF, head cut in the body", S(msg2), sizeof(msg2) - 1, 0, 0,
		    &ed, S(want2), 0);
		check_rewrite("CRLF, nothing forged in the body", S(msg3), sizeof(msg3) - 1,
		    0, 1, &ed, S(want3), 0);
	}
	hdr_edit_free(&ed);
}

/* The longest name a milter field may have, with values that cannot be
 * folded at a space: 100 KB of one word, 7-bit and 8-bit. No line may pass
 * RFC 5322's 998 bytes. */
/* A NUL in a kept field, in the From_ line or past a CR LF end line, and a
 * head cut short inside the block: forged fields in the body or past the
 * cut reach none of the readers, and nothing but the NULs (as spaces) and
 * the empty line at the cut changes. */
static void
test_nul_and_cut(void)
{
	struct edit_spec spec = { STRIP, std_add, NULL };
	struct hdr_edit ed;
	int crlf, from, nul_at, cut;

	edit_build(&ed, &spec);
	for (crlf = 0; crlf < 2; crlf++)
	for (from = 0; from < 2; from++)
	for (cut = 0; cut < 2; cut++)
	for (nul_at = 0; nul_at < 4; nul_at++) {  /* none, field, From_, body */
		const char *eol = crlf ? "\r\n" : "\n";
		struct buf m = { 0 }, want = { 0 }, label = { 0 };
		struct hdr_block hb;
		struct rewrite rw;
		size_t from_len = 0, head_len, out_len = 0, i, fill_at;
		char *out;

		if (nul_at == 2 && !from)
			continue;
		buf_printf(&label, "%s%s%s, NUL %s", crlf ? "CRLF" : "LF",
		    from ? ", From_ line" : "", cut ? ", cut in the block" : "",
		    (const char *[]){ "nowhere", "in a field", "in the From_ line",
		    "in the body" }[nul_at]);
		if (from) {
			buf_printf(&m, "From alice%s@example.org Mon Jan  1 12:00:00 2024\n",
			    nul_at == 2 ? "\0" : "");
			from_len = m.len;
		}
		buf_printf(&m, "From: a@example.org%sSubject: x", eol);
		if (nul_at == 1)
			buf_append(&m, "\0", 1);
		buf_printf(&m, "y%s", eol);
		fill_at = m.len;
		for (i = 0; i < 20; i++)
			buf_printf(&m, "X-Filler-%zu: aaaa%s", i, eol);
		head_len = cut ? m.len - 3 : 0;  /* inside the last filler */
		buf_printf(&m, "X-Spam: Yes%sX-SPOT-Is-Phishing: yes%s%s", eol, eol, eol);
		buf_printf(&m, "body line%sX-Spam: Yes in the body", eol);
		if (nul_at == 3)
			buf_append(&m, "\0", 1);
		buf_printf(&m, "%s", eol);
		if (!cut)
			head_len = m.len;

		hdr_block_parse(m.data, head_len, from_len, !cut, &hb);
		rewrite_plan(m.len, &hb, &ed, &rw);
		out = render(m.data, m.len, &rw, &out_len);
		ok(out != NULL && !forged_in_view(out, out_len, from_len, 0),
		    "%s: procmail sees no forged field", label.data);
		ok(out != NULL && !forged_in_view(out, out_len, from_len, 1),
		    "%s: Dovecot sees no forged field", label.data);
		ok(out != NULL && !forged_in_gmime(out, out_len, from_len),
		    "%s: GMime's parser sees no forged field", label.data);
		ok(out != NULL && memchr(out, '\0', out_len - (nul_at == 3 ? 2 +
		    strlen(eol) : 0)) == NULL, "%s: no NUL before the body", label.data);

		/* what is expected, byte for byte */
		buf_append(&want, m.data, from_len);
		buf_printf(&want, "X-SPOT-Status: analyzed%sX-Spam-Scanner: rspamd%s",
		    eol, eol);
		if (cut) {
			size_t last = (size_t)(strstr(m.data + head_len - 20, "X-Filler-19") -
			    m.data);

			buf_append(&want, m.data + from_len, last - from_len);
			buf_puts(&want, "\n");
			buf_append(&want, m.data + last, m.len - last);
		} else {
			buf_append(&want, m.data + from_len, fill_at - from_len);
			buf_append(&want, m.data + fill_at, (size_t)(strstr(m.data + fill_at,
			    "X-Spam: Yes") - m.data) - fill_at);
			/* a CR LF end line goes out as LF: an X-Spam line follows */
			buf_puts(&want, "\n");
			i = (size_t)(strstr(m.data + fill_at, "body line") - m.data);
			buf_append(&want, m.data + i, m.len - i);
		}
		for (i = 0; i < want.len - (nul_at == 3 ? 2 + strlen(eol) : 0); i++)
			if (want.data[i] == '\0')
				want.data[i] = ' ';
		is_mem(out, out_len, want.data, want.len, "%s: output bytes", label.data);
		free(out);
		rewrite_free(&rw);
		hdr_block_free(&hb);
		buf_free(&m);
		buf_free(&want);
		buf_free(&label);
	}
	hdr_edit_free(&ed);
}

static void
test_long_lines(void)
{
	static const char *const kinds[] = { "7-bit", "8-bit" };
	char name[77];
	struct hdr_edit ed;
	struct buf out = { 0 }, v = { 0 };
	size_t i, k, line, longest;

	memset(name, 'N', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (k = 0; k < ARRAY_LEN(kinds); k++) {
		memset(&ed, 0, sizeof(ed));
		v.len = 0;
		for (i = 0; i < 100000; i++)
			buf_puts(&v, k ? "\xc3\xa4" : "A");
		hdr_edit_add(&ed, name, v.data);
		out.len = 0;
		hdr_format(&out, ed.add, ed.nadd, 1);
		for (longest = 0, line = 0, i = 0; i < out.len; i++) {
			if (out.data[i] == '\n') {
				if (line > longest)
					longest = line;
				line = 0;
			} else if (out.data[i] != '\r') {
				line++;
			}
		}
		ok(out.len > 0 && longest <= 998, "a %zu byte name, 100 KB of one %s word: "
		    "no line over 998 bytes (longest %zu)", strlen(name), kinds[k], longest);
		ok(out.len > 1 && out.data[out.len - 1] == '\n', "a %s word: the field ends "
		    "with its newline", kinds[k]);
		hdr_edit_free(&ed);
	}
	buf_free(&out);
	buf_free(&v);
}

/* out with the X-SPOT-Pad field (and its continuation lines) taken out;
 * *pad_ok says whether it was there once, folded to at most 78 columns. */
static char *
without_pad(const char *out, size_t len, const char *eol, size_t *got_len, int *pad_ok)
{
	struct buf b = { 0 };
	const char *p = out, *end = out + len, *nl;
	int in_pad = 0, pads = 0, lines_ok = 1;

	buf_append(&b, "", 0);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end - 1;
		if (strncmp(p, "X-SPOT-Pad:", 11) == 0)
			in_pad = 1, pads++;
		else if (*p != ' ')
			in_pad = 0;
		if (!in_pad) {
			buf_append(&b, p, (size_t)(nl - p) + 1);
			continue;
		}
		lines_ok &= (size_t)(nl - p) + 1 - strlen(eol) <= 78 &&
		    memcmp(nl + 1 - strlen(eol), eol, strlen(eol)) == 0 &&
		    strspn(p + (*p == ' '), "X-SPOT-Pad:. ") > 0;
		if (p > out && *p == ' ')
			lines_ok &= strspn(p, " ") == 1 && p[1] == '.';
	}
	*got_len = b.len;
	*pad_ok = pads == 1 && lines_ok;
	return b.data;
}

/* One message planned both ways. An in-place plan must render as the plain
 * one plus at most one X-SPOT-Pad field, exactly room bytes longer, with a
 * front (all but its last piece, which ends the message) of exactly the
 * room and the message bytes that it covers, taken from the head or the
 * plan's text; a plan that is not in place must be the plain one. Returns
 * -1 when broken, else whether it was in place. */
static int
in_place_one(const struct buf *msg, size_t from_len, const struct hdr_edit *ed,
    uint64_t room, const char *eol)
{
	struct hdr_block hb;
	struct rewrite rw, in;
	size_t want_len = 0, got_len = 0, cut_len = 0, i;
	uint64_t front = 0, tail;
	char *want, *got, *cut;
	int pad_ok = 0, r;

	hdr_block_parse(msg->data, msg->len, from_len, 1, &hb);
	rewrite_plan(msg->len, &hb, ed, &rw);
	rewrite_plan_in_place(msg->len, &hb, ed, room, &in);
	want = render(msg->data, msg->len, &rw, &want_len);
	got = render(msg->data, msg->len, &in, &got_len);
	r = in.in_place;
	if (in.in_place) {
		const struct piece *last = &in.pieces[in.npieces - 1];

		tail = last->off;
		for (i = 0; i + 1 < in.npieces; i++) {
			front += in.pieces[i].len;
			if (!in.pieces[i].literal &&
			    in.pieces[i].off + in.pieces[i].len > msg->len)
				r = -1;
		}
		cut = without_pad(got, got_len, eol, &cut_len, &pad_ok);
		if (got_len == want_len) /* no room to fill: no pad */
			pad_ok = memcmp(got, want, want_len) == 0;
		else
			pad_ok = pad_ok && cut_len == want_len &&
			    memcmp(cut, want, want_len) == 0;
		if (!pad_ok || last->literal || last->off + last->len != msg->len ||
		    got_len != msg->len + room || front != room + tail)
			r = -1;
		free(cut);
	} else if (got_len != want_len || memcmp(got, want, want_len) != 0) {
		r = -1;
	}
	free(want);
	free(got);
	rewrite_free(&rw);
	rewrite_free(&in);
	hdr_block_free(&hb);
	return r;
}

/* rewrite_plan_in_place() against rewrite_plan() for added fields of every
 * length up to three times the room, with and without a From_ line, LF and
 * CRLF (the pad goes after the From_ line, in front of the added fields;
 * without one, whether it fits is also checked against the plain plan's
 * own lengths). With nothing to add and nothing to strip the plan is not
 * in place: the message would only gain a pad. */
static void
test_in_place(void)
{
	static const char *const eols[] = { "\n", "\r\n" };
	const char *from_line = "From a@example.org Mon Jan  1 00:00:00 2024";
	const uint64_t room = 2048;
	size_t e, f, v, placed, plain, bad, wrong;

	for (e = 0; e < 2; e++) {
		for (f = 0; f < 2; f++) {
			const char *eol = eols[e];
			size_t from_len = f ? strlen(from_line) + strlen(eol) : 0;
			struct buf msg = { 0 }, sym = { 0 };
			struct hdr_edit ed;

			buf_printf(&msg, "%s%sFrom: a@example.org%sX-Spam-Flag: YES (forged)%s"
			    "Subject: s%s%sbody 1%sbody 2%s", f ? from_line : "", f ? eol : "",
			    eol, eol, eol, eol, eol, eol);
			placed = plain = bad = wrong = 0;
			for (v = 0; v <= 3 * room; v++) {
				struct hdr_block hb;
				struct rewrite rw;
				uint64_t tail, front;
				int r, fits = 0;

				buf_free(&sym);
				buf_append(&sym, "", 0);
				while (sym.len < v)
					buf_puts(&sym, sym.len + 1 == v ? "Y" : "SYM(0.00), ");
				sym.data[v] = '\0';
				edit_build(&ed, &(struct edit_spec){ STRIP, NULL, NULL });
				hdr_edit_add(&ed, "X-Spam-Symbols", sym.data);
				r = in_place_one(&msg, from_len, &ed, room, eol);
				bad += r < 0;
				placed += r == 1;
				plain += r == 0;
				if (!f) {
					hdr_block_parse(msg.data, msg.len, 0, 1, &hb);
					rewrite_plan(msg.len, &hb, &ed, &rw);
					tail = rw.pieces[rw.npieces - 1].off;
					front = rewrite_size(&rw) - (msg.len - tail);
					fits = front <= room + tail && (front == room + tail ||
					    (room + tail - front >= strlen("X-SPOT-Pad: .") + strlen(eol) &&
					    room + tail - front <= 2 * room));
					wrong += r >= 0 && r != fits;
					rewrite_free(&rw);
					hdr_block_free(&hb);
				}
				hdr_edit_free(&ed);
			}
			is_int(bad, 0, "in place, %s%s: %zu added lengths in place, %zu not: the "
			    "plain output and one X-SPOT-Pad field of lines of at most 78 columns, "
			    "room bytes longer, its front exactly the room and the old head",
			    e ? "CRLF" : "LF", f ? ", From_ line" : "", placed, plain);
			if (!f)
				is_int(wrong, 0, "in place, %s: exactly when the pad has a length "
				    "between its least and twice the room, or none is needed",
				    e ? "CRLF" : "LF");
			ok(placed > room / 2 && plain > room / 2, "in place, %s%s: both ways "
			    "taken (%zu, %zu)", e ? "CRLF" : "LF", f ? ", From_ line" : "", placed,
			    plain);
			/* nothing added: with the forged field stripped, in place */
			edit_build(&ed, &(struct edit_spec){ STRIP, NULL, NULL });
			is_int(in_place_one(&msg, from_len, &ed, room, eol), 1, "in place, %s%s, "
			    "nothing added, a field stripped: in place", e ? "CRLF" : "LF",
			    f ? ", From_ line" : "");
			hdr_edit_free(&ed);
			/* nothing added, nothing stripped: the plain copy */
			memset(&ed, 0, sizeof(ed));
			is_int(in_place_one(&msg, from_len, &ed, room, eol), 0, "in place, %s%s, "
			    "nothing to change: a copy, no pad", e ? "CRLF" : "LF",
			    f ? ", From_ line" : "");
			buf_free(&msg);
			buf_free(&sym);
		}
	}
}

int
main(void)
{
	test_helpers();
	test_lf();
	test_crlf();
	test_from_line();
	test_no_body();
	test_no_headers();
	test_hostile();
	test_violations();
	test_rfc822_attachment();
	test_remove_index();
	test_subject();
	test_injection();
	test_folding();
	test_incomplete();
	test_many_headers();
	test_consumer_views();
	test_long_lines();
	test_nul_and_cut();
	test_in_place();
	return done_testing();
}
