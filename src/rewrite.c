/* Why the block is split here and not by GMime's parser: GMime gives up on a
 * header block that starts with whitespace, holds a NUL or a field with an
 * empty name, and stops early on others; those are exactly the hostile
 * blocks in which a forged X-Spam or X-SPOT header must still be found. So
 * the block is split by RFC 5322's own line rules (a field starts at a line
 * that does not begin with a space or a tab and runs through its
 * continuation lines), which gives each field's exact byte span. GMime
 * encodes the 8-bit values we add (RFC 2047); 7-bit ones are folded here,
 * at their own spaces only. */
#include "rewrite.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl + 1 : NULL;
}

static int
is_empty_line(const char *p, const char *end)
{
	return (end - p >= 1 && p[0] == '\n') ||
	    (end - p >= 2 && p[0] == '\r' && p[1] == '\n');
}

static char *
field_name(const char *p, size_t len)
{
	const char *colon = memchr(p, ':', len);
	const char *s = p, *e;

	if (colon == NULL)
		return xstrdup("");
	e = colon;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	return xstrndup(s, (size_t)(e - s));
}

void
hdr_block_parse(const char *head, size_t len, size_t start, int complete,
    struct hdr_block *hb)
{
	const char *end = head + len, *p = head + start, *next;
	size_t cap = 0;

	memset(hb, 0, sizeof(*hb));
	hb->head = head;
	hb->head_len = len;
	hb->complete = complete;
	hb->start = start;
	next = line_end(p, end);
	hb->crlf = next != NULL && next - p >= 2 && next[-2] == '\r';
	while (p < end && !is_empty_line(p, end)) {
		const char *field = p;
		const char *after;

		if ((next = line_end(p, end)) == NULL)
			next = end;
		/* continuation lines, but a field is never split by an empty line */
		while (next < end && (*next == ' ' || *next == '\t'))
			next = (after = line_end(next, end)) ? after : end;
		/* In a head cut short (a spooled message), a field that reaches
		 * the cut may go on past it: it is left to the body whole. */
		if (!complete && next == end)
			break;
		if (hb->n == cap) {
			cap = cap ? cap * 2 : 32;
			hb->v = xreallocarray(hb->v, cap, sizeof(*hb->v));
		}
		hb->v[hb->n].off = (uint64_t)(field - head);
		hb->v[hb->n].len = (size_t)(next - field);
		hb->v[hb->n].name = field_name(field, (size_t)(next - field));
		hb->n++;
		p = next;
	}
	hb->end = (uint64_t)(p - head);
	hb->end_crlf = is_empty_line(p, end) && *p == '\r';
	hb->cut = !complete && !is_empty_line(p, end);
}

void
hdr_block_free(struct hdr_block *hb)
{
	size_t i;

	for (i = 0; i < hb->n; i++)
		free(hb->v[i].name);
	free(hb->v);
	memset(hb, 0, sizeof(*hb));
}

int
valid_field_name(const char *name)
{
	size_t n;

	for (n = 0; name[n] != '\0'; n++)
		if ((unsigned char)name[n] <= 32 || (unsigned char)name[n] >= 127 ||
		    name[n] == ':' || n == HDR_NAME_MAX)
			return 0;
	return n > 0;
}

int
hdr_strip_match(const struct hdr_edit *ed, const char *name)
{
	size_t i, n;

	for (i = 0; i < ed->nstrip; i++) {
		const char *pat = ed->strip[i];

		n = strlen(pat);
		if (n > 0 && pat[n - 1] == '*') {
			if (strncasecmp(name, pat, n - 1) == 0)
				return 1;
		} else if (strcasecmp(name, pat) == 0) {
			return 1;
		}
	}
	return 0;
}

void
hdr_edit_set_strip(struct hdr_edit *ed, const char *patterns)
{
	const char *p = patterns, *e;
	size_t n;

	while ((e = list_next(&p, ", \t", &n)) != NULL) {
		ed->strip = xreallocarray(ed->strip, ed->nstrip + 1, sizeof(*ed->strip));
		ed->strip[ed->nstrip++] = xstrndup(e, n);
	}
}

void
hdr_edit_add(struct hdr_edit *ed, const char *name, const char *value)
{
	char clean[4096];

	sanitize_value(clean, sizeof(clean), value, sizeof(clean) - 1);
	ed->add = xreallocarray(ed->add, ed->nadd + 1, sizeof(*ed->add));
	ed->add[ed->nadd].name = xstrdup(name);
	ed->add[ed->nadd].value = xstrdup(clean);
	ed->nadd++;
}

void
hdr_edit_remove(struct hdr_edit *ed, const char *name, long index)
{
	ed->remove = xreallocarray(ed->remove, ed->nremove + 1, sizeof(*ed->remove));
	ed->remove[ed->nremove].name = xstrdup(name);
	ed->remove[ed->nremove].index = index;
	ed->nremove++;
}

void
hdr_edit_free(struct hdr_edit *ed)
{
	size_t i;

	for (i = 0; i < ed->nstrip; i++)
		free(ed->strip[i]);
	for (i = 0; i < ed->nremove; i++)
		free(ed->remove[i].name);
	for (i = 0; i < ed->nadd; i++) {
		free(ed->add[i].name);
		free(ed->add[i].value);
	}
	free(ed->strip);
	free(ed->remove);
	free(ed->add);
	free(ed->subject);
	memset(ed, 0, sizeof(*ed));
}

static int
is_7bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Folds at the value's own spaces, never inside a word: a DKIM-Signature
 * from Rspamd's milter must keep its b= tag as it is. Only a word that
 * would break RFC 5322's 998-byte line limit is cut. */
#define FOLD_AT 78
#define WORD_MAX 900

static void
fold_7bit(struct buf *out, const struct hdr_field *f, const char *eol)
{
	size_t line = strlen(f->name) + 1, len;
	const char *p = f->value, *sp;

	buf_printf(out, "%s:", f->name);
	for (;;) {
		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		if (len > WORD_MAX) {
			sp = p + WORD_MAX - 1; /* cut: the next "word" starts after it */
			len = WORD_MAX;
		}
		/* never a line of only white space: no fold before an empty word */
		if (len > 0 && line + 1 + len > FOLD_AT && p != f->value) {
			buf_puts(out, eol);
			line = 0;
		}
		buf_puts(out, " ");
		buf_append(out, p, len);
		line += 1 + len;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	buf_puts(out, eol);
}

/* RFC 2047 encoded words for an 8-bit value, then folded like any other:
 * GMime's per-header formatters (From, To...) are not used, since a value
 * from a server that does not parse as what its name says would come out
 * mangled, or without its newline. */
static void
fold_8bit(struct buf *out, const struct hdr_field *f, const char *eol)
{
	struct hdr_field encoded = { f->name, NULL };
	char *valid;

	/* set up on the first such value, most messages never need it (once:
	 * g_mime_init() counts its calls) */
	g_mime_init();
	/* invalid UTF-8 would be passed on raw: U+FFFD instead */
	valid = g_utf8_make_valid(f->value, -1);
	encoded.value = g_mime_utils_header_encode_text(NULL, valid, "utf-8");
	fold_7bit(out, &encoded, eol);
	g_free(encoded.value);
	g_free(valid);
}

void
hdr_format(struct buf *out, const struct hdr_field *fields, size_t n, int crlf)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_7bit(fields[i].value))
			fold_7bit(out, &fields[i], crlf ? "\r\n" : "\n");
		else
			fold_8bit(out, &fields[i], crlf ? "\r\n" : "\n");
	}
}

static void
add_span(struct rewrite *rw, int literal, int nul_to_space, uint64_t off,
    uint64_t len)
{
	struct piece *last = rw->npieces ? &rw->pieces[rw->npieces - 1] : NULL;

	if (len == 0)
		return;
	/* 10,000 kept headers in a row are one write, not 10,000 */
	if (last != NULL && last->literal == literal &&
	    last->nul_to_space == nul_to_space && last->off + last->len == off) {
		last->len += len;
		return;
	}
	if (rw->npieces == rw->cap) {
		rw->cap = rw->cap ? rw->cap * 2 : 16;
		rw->pieces = xreallocarray(rw->pieces, rw->cap, sizeof(*rw->pieces));
	}
	rw->pieces[rw->npieces].literal = literal;
	rw->pieces[rw->npieces].nul_to_space = nul_to_space;
	rw->pieces[rw->npieces].off = off;
	rw->pieces[rw->npieces].len = len;
	rw->npieces++;
}

static void
add_piece(struct rewrite *rw, int literal, uint64_t off, uint64_t len)
{
	add_span(rw, literal, 0, off, len);
}

/* A kept line of the head (a field, the From_ line): procmail takes a NUL
 * in it for the end of its text and then reads the whole message as the
 * header, past the empty line, into whatever forged field the body holds.
 * A space in its place ends that. */
static void
add_head_bytes(struct rewrite *rw, const struct hdr_block *hb, uint64_t off,
    size_t len)
{
	add_span(rw, 0, memchr(hb->head + off, '\0', len) != NULL, off, len);
}

static void
add_text(struct rewrite *rw, const struct hdr_field *fields, size_t n, int crlf)
{
	size_t before = rw->text.len;

	hdr_format(&rw->text, fields, n, crlf);
	add_piece(rw, 1, before, rw->text.len - before);
}

/* Marks the fields that Rspamd's milter remove_headers names. */
static void
mark_removals(const struct hdr_block *hb, const struct hdr_edit *ed, char *drop)
{
	size_t i, r;
	long count, seen;

	for (r = 0; r < ed->nremove; r++) {
		const struct hdr_removal *rm = &ed->remove[r];

		for (count = 0, i = 0; i < hb->n; i++)
			count += strcasecmp(hb->v[i].name, rm->name) == 0;
		for (seen = 0, i = 0; i < hb->n; i++) {
			if (strcasecmp(hb->v[i].name, rm->name) != 0)
				continue;
			seen++;
			if (rm->index == 0 || rm->index == seen ||
			    (rm->index < 0 && count + rm->index + 1 == seen))
				drop[i] = 1;
		}
	}
}

/* procmail ends the block only at a bare LF empty line (Dovecot, maildrop
 * and GMime at a CR LF one too): after a CR LF one it reads on, as header,
 * up to the next bare LF empty line (in a CRLF message: to the end), and
 * with a NUL there to the end of the message. When a field there would be
 * stripped in the block, or a NUL is there, that CR LF line goes out as a
 * bare LF, the one empty line every reader takes for the end; ordinary
 * messages stay as they are.
 * Past a head cut short, nothing is known: the LF it is. */
static int
reads_on_into_forged(const struct hdr_block *hb, const struct hdr_edit *ed)
{
	const char *end = hb->head + hb->head_len, *p, *next;
	int forged = 0;
	char *name;

	if (!hb->end_crlf)
		return 0;
	for (p = hb->head + hb->end + 2; p < end && *p != '\n'; p = next) {
		if ((next = line_end(p, end)) == NULL)
			next = end;
		if (memchr(p, '\0', (size_t)(next - p)) != NULL)
			return 1;
		if (memchr(p, ':', (size_t)(next - p)) == NULL)
			continue;
		name = field_name(p, (size_t)(next - p));
		forged = hdr_strip_match(ed, name);
		free(name);
		if (forged)
			return 1;
	}
	return p == end && !hb->complete;
}

/* A field whose first byte is white space, or a NUL, which goes out as a
 * space: a continuation line to every reader of what goes out. */
static int
starts_blank(const struct hdr_block *hb, const struct hdr *h)
{
	char c = hb->head[h->off];

	return c == ' ' || c == '\t' || c == '\0';
}

static int
ends_in_ours(const struct rewrite *rw)
{
	return rw->npieces > 0 && rw->pieces[rw->npieces - 1].literal;
}

/* An X-SPOT-Pad field of exactly len bytes (at least PAD_MIN), folded like
 * the others: filler that lets the new head fill the room in front of the
 * body in the spool file. */
#define PAD_NAME "X-SPOT-Pad:"
#define PAD_MIN(eol_len) (sizeof(PAD_NAME) - 1 + 2 + (eol_len))

static void
pad_field(struct buf *out, size_t len, const char *eol)
{
	size_t eol_len = strlen(eol), left = len - (sizeof(PAD_NAME) - 1);
	size_t width = FOLD_AT - sizeof(PAD_NAME), line, dots;

	buf_puts(out, PAD_NAME);
	while (left > 0) {
		/* " ...." and a newline; what is left must make such a line too */
		line = left < 1 + width + eol_len ? left : 1 + width + eol_len;
		if (left - line > 0 && left - line < 2 + eol_len)
			line = left - (2 + eol_len);
		buf_puts(out, " ");
		for (dots = line - 1 - eol_len; dots > 0; dots--)
			buf_puts(out, ".");
		buf_puts(out, eol);
		left -= line;
		width = FOLD_AT - 1;
	}
}

static void
plan(uint64_t msg_size, const struct hdr_block *hb, const struct hdr_edit *ed,
    size_t pad, struct rewrite *rw)
{
	struct hdr_field subject = { "Subject", ed->subject };
	int subject_done;
	char *drop;
	size_t i;

	memset(rw, 0, sizeof(*rw));
	drop = xcalloc(hb->n + 1, 1);
	mark_removals(hb, ed, drop);
	for (i = 0; i < hb->n; i++)
		if (drop[i] || hdr_strip_match(ed, hb->v[i].name))
			drop[i] = 1;
	add_head_bytes(rw, hb, 0, hb->start);
	add_text(rw, ed->add, ed->nadd, hb->crlf);
	if (pad > 0) {
		size_t before = rw->text.len;

		pad_field(&rw->text, pad, hb->crlf ? "\r\n" : "\n");
		add_piece(rw, 1, before, rw->text.len - before);
	}
	/* A new Subject takes the place of the old one; with none, it goes
	 * on top (the block's last line may lack its newline). */
	for (subject_done = 1, i = 0; ed->subject != NULL && i < hb->n; i++)
		if (!drop[i] && !starts_blank(hb, &hb->v[i]) &&
		    strcasecmp(hb->v[i].name, "Subject") == 0)
			subject_done = 0;
	if (ed->subject != NULL && subject_done)
		add_text(rw, &subject, 1, hb->crlf);
	for (i = 0; i < hb->n; i++) {
		const struct hdr *h = &hb->v[i];
		int blank = starts_blank(hb, h);

		/* Out with white space first (a NUL goes out as a space) right
		 * after text of ours, a field would continue that text with the
		 * sender's words (" BAYES_HAM(-9.00)" into X-Spam-Symbols): it
		 * goes. Only a block's first line, or one after a NUL, can. */
		if (drop[i] || (blank && ends_in_ours(rw))) {
			rw->removed++;
			continue;
		}
		if (ed->subject != NULL && !blank && strcasecmp(h->name, "Subject") == 0) {
			if (!subject_done)
				add_text(rw, &subject, 1, hb->crlf);
			subject_done = 1;
			continue;
		}
		add_head_bytes(rw, hb, h->off, h->len);
	}
	if (hb->cut) {
		/* The fields past the cut are not looked at: an empty line
		 * makes them body for every reader, procmail included. */
		buf_puts(&rw->text, "\n");
		add_piece(rw, 1, rw->text.len - 1, 1);
		add_piece(rw, 0, hb->end, msg_size - hb->end);
	} else if (reads_on_into_forged(hb, ed)) {
		buf_puts(&rw->text, "\n");
		add_piece(rw, 1, rw->text.len - 1, 1);
		add_piece(rw, 0, hb->end + 2, msg_size - hb->end - 2);
	} else {
		add_piece(rw, 0, hb->end, msg_size - hb->end);
	}
	free(drop);
}

void
rewrite_plan(uint64_t msg_size, const struct hdr_block *hb,
    const struct hdr_edit *ed, struct rewrite *rw)
{
	plan(msg_size, hb, ed, 0, rw);
}

/* Where the plan's last piece, the message's own bytes from it to the
 * end, starts; every piece in front of it must come from the head or the
 * plan's text, since the old head is overwritten. 0 when there is none. */
static int
unchanged_tail(const struct rewrite *rw, const struct hdr_block *hb,
    uint64_t msg_size, uint64_t *tail)
{
	const struct piece *last;
	size_t i;

	if (rw->npieces == 0)
		return 0;
	last = &rw->pieces[rw->npieces - 1];
	if (last->literal || last->nul_to_space || last->off > hb->head_len ||
	    last->off + last->len != msg_size)
		return 0;
	for (i = 0; i + 1 < rw->npieces; i++)
		if (!rw->pieces[i].literal &&
		    rw->pieces[i].off + rw->pieces[i].len > hb->head_len)
			return 0;
	*tail = last->off;
	return 1;
}

void
rewrite_plan_in_place(uint64_t msg_size, const struct hdr_block *hb,
    const struct hdr_edit *ed, uint64_t room, struct rewrite *rw)
{
	uint64_t tail, front, pad, padded_tail;

	plan(msg_size, hb, ed, 0, rw);
	/* Nothing changes: a copy, not a message padded for nothing. (The
	 * pad would also split that one piece, and the rest start after a
	 * From_ line.) */
	if (rw->npieces == 1 || !unchanged_tail(rw, hb, msg_size, &tail))
		return;
	front = rewrite_size(rw) - (msg_size - tail);
	if (front > room + tail || room + tail - front > 2 * room)
		return;
	pad = room + tail - front;
	if (pad > 0 && pad < PAD_MIN(hb->crlf ? 2 : 1))
		return;
	if (pad > 0) {
		rewrite_free(rw);
		plan(msg_size, hb, ed, (size_t)pad, rw);
		/* The pad goes between two pieces and the rest stays where it
		 * was; but a first field that would continue it goes, as it
		 * would after added fields. */
		if (!unchanged_tail(rw, hb, msg_size, &padded_tail) ||
		    padded_tail != tail ||
		    rewrite_size(rw) - (msg_size - tail) != room + tail) {
			rewrite_free(rw);
			plan(msg_size, hb, ed, 0, rw);
			return;
		}
	}
	rw->in_place = 1;
}

void
rewrite_free(struct rewrite *rw)
{
	buf_free(&rw->text);
	free(rw->pieces);
	memset(rw, 0, sizeof(*rw));
}

uint64_t
rewrite_size(const struct rewrite *rw)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < rw->npieces; i++)
		n += rw->pieces[i].len;
	return n;
}
