/* Header rewrite: a pure function from (message head, edits) to a list of
 * pieces whose concatenation is the message to deliver. Only the top-level
 * header block is looked at; kept headers and every byte after the empty line
 * that ends the block are referenced, not copied, so they go out exactly as
 * they came in (but for a NUL, which goes out as a space, a CR LF empty line,
 * which may go out as a bare LF, and the empty line added where a spooled
 * block is cut; see rewrite.c). */
#ifndef SPOT_REWRITE_H
#define SPOT_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct hdr {
	uint64_t off;   /* first byte of the field, from the start of the message */
	size_t len;     /* through the newline of its last continuation line */
	char *name;     /* without surrounding whitespace; "" for a line with no colon */
};

struct hdr_block {
	struct hdr *v;
	size_t n;
	uint64_t start;  /* after a leading "From " line */
	uint64_t end;    /* the empty line that ends the block, or its last byte + 1 */
	int crlf;        /* the message's own line ending */
	int end_crlf;    /* that empty line is CR LF, not a bare LF */
	int cut;         /* the head was cut short (spooled) inside the block */
	const char *head; /* the bytes parsed (borrowed), their length, and */
	size_t head_len;  /* whether they are the whole message */
	int complete;
};

struct hdr_field {
	char *name;
	char *value;
};

struct hdr_removal {
	char *name;
	long index;      /* Rspamd's milter convention: 0 = all, n = n-th, -n = n-th from the end */
};

struct hdr_edit {
	char **strip;              /* "X-Spam*" is a prefix, "X-Spam" a name */
	size_t nstrip;
	struct hdr_removal *remove;
	size_t nremove;
	struct hdr_field *add;     /* in order, at the top of the block */
	size_t nadd;
	char *subject;             /* replaces the first Subject:, drops the others */
};

struct piece {
	int literal;      /* 1: text[off, off+len) of the plan; 0: message bytes */
	int nul_to_space; /* message bytes, all in the head, each NUL as a space */
	uint64_t off;
	uint64_t len;
};

struct rewrite {
	struct buf text;
	struct piece *pieces;
	size_t npieces;
	size_t cap;
	uint64_t removed;  /* number of incoming header fields dropped */
	int in_place;      /* see rewrite_plan_in_place() */
};

/* Splits the header block found in head[start, len). complete says whether
 * head holds the whole message: if not, a block that does not end inside
 * head ends at head's last complete line and the rest counts as body. */
void hdr_block_parse(const char *head, size_t len, size_t start, int complete,
    struct hdr_block *hb);
void hdr_block_free(struct hdr_block *hb);

int hdr_strip_match(const struct hdr_edit *ed, const char *name);
void hdr_edit_set_strip(struct hdr_edit *ed, const char *patterns);
void hdr_edit_add(struct hdr_edit *ed, const char *name, const char *value);
void hdr_edit_remove(struct hdr_edit *ed, const char *name, long index);
void hdr_edit_free(struct hdr_edit *ed);

/* Builds the output plan for a message of msg_size bytes, while the head
 * that hb was parsed from is still there. Never fails: malformed blocks are
 * kept byte for byte. */
void rewrite_plan(uint64_t msg_size, const struct hdr_block *hb,
    const struct hdr_edit *ed, struct rewrite *rw);
/* The same plan, for a message stored room bytes into its spool file
 * (msg.h): when everything in front of the plan's last piece, the unchanged
 * rest of the message, can fill exactly those room bytes and the old head
 * (the room and the last piece's offset in all), with an X-SPOT-Pad field of filler of at most
 * twice room bytes after the added fields if need be, in_place is set and the
 * LDA can be given the spool file itself once that front is written. */
void rewrite_plan_in_place(uint64_t msg_size, const struct hdr_block *hb,
    const struct hdr_edit *ed, uint64_t room, struct rewrite *rw);
void rewrite_free(struct rewrite *rw);
uint64_t rewrite_size(const struct rewrite *rw);

/* Formats fields as header lines in the given line ending, folded at 78
 * columns where the value has spaces; 8-bit values RFC 2047 encoded by GMime
 * (set up on the first of them). */
void hdr_format(struct buf *out, const struct hdr_field *fields, size_t n, int crlf);

/* A field name of printable ASCII without a colon, at most HDR_NAME_MAX
 * bytes: name and ": " fit in a 78-column line. */
#define HDR_NAME_MAX 76
int valid_field_name(const char *name);

#endif
