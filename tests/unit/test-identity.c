/* identity.c: one identity per delivery, the same for a retry of it, from
 * the heap or from the spool alike. Run from the repository root. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"
#include "util.h"
#include "tap.h"

static const char MSG[] = "Received: from mx (mx [192.0.2.1])\n\tby example.net with ESMTP id 4FhT1z\n"
    "Message-ID: <1@example.org>\nFrom: a@example.org\nSubject: hi\n\nbody\n";

struct fixture {
	struct msg m;
	char *bytes;
};

/* The message as msg_read() leaves it: on the heap, or spooled when
 * threshold is smaller than it. */
static int
load(struct msg *m, const char *bytes, size_t len, uint64_t threshold)
{
	char path[] = "/tmp/test-identity-XXXXXX", err[256];
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (write_all(fd, bytes, len) != 0 || lseek(fd, 0, SEEK_SET) != 0 ||
	    msg_read(m, fd, threshold, 1 << 20, SPOOL_ROOM, NULL, err, sizeof(err)) != MSG_OK) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void
identity_of(const struct envelope *env, const char *bytes, size_t len,
    uint64_t threshold, unsigned char id[DELIVERY_ID_LEN])
{
	struct hdr_block hb;
	struct msg m;
	char err[256] = "";

	memset(id, 0, DELIVERY_ID_LEN);
	if (load(&m, bytes, len, threshold) != 0) {
		diag("cannot load the message");
		return;
	}
	hdr_block_parse(m.head, m.head_len, m.from_len, m.spool_fd < 0, &hb);
	if (delivery_identity(env, &m, &hb, id, err, sizeof(err)) != 0)
		diag("delivery_identity: %s", err);
	hdr_block_free(&hb);
	msg_free(&m);
}

static int
same(const unsigned char *a, const unsigned char *b)
{
	return memcmp(a, b, DELIVERY_ID_LEN) == 0;
}

int
main(void)
{
	const char *bob[] = { "bob@example.net" };
	const char *alice[] = { "alice@example.net" };
	const char *both[] = { "bob@example.net", "alice@example.net" };
	const char *both_sorted[] = { "alice@example.net", "bob@example.net" };
	const char *split[] = { "bob@example.netalice@example.net" };
	struct envelope e = { "sender@example.org", bob, 1, "192.0.2.1", "mx",
		NULL, "4FhT1z", NULL, 0 };
	struct envelope e2;
	unsigned char a[DELIVERY_ID_LEN], b[DELIVERY_ID_LEN], zero[DELIVERY_ID_LEN] = { 0 };
	char other[sizeof(MSG)], from[sizeof(MSG) + 256];
	size_t len = sizeof(MSG) - 1, big_len = len + 100000;
	char *big = xmalloc(big_len);
	int n;

	memcpy(big, MSG, len);
	memset(big + len, 'x', big_len - len - 1);
	big[big_len - 1] = '\n';
	plan(25);
	identity_of(&e, MSG, len, 1 << 20, a);
	ok(!same(a, zero), "an identity");
	identity_of(&e, MSG, len, 1 << 20, b);
	ok(same(a, b), "the same delivery again (the MTA's retry): the same identity");
	identity_of(&e, big, big_len, 1 << 20, a);
	identity_of(&e, big, big_len, 64 * 1024, b);
	ok(same(a, b), "spooled or on the heap: the same identity");
	identity_of(&e, MSG, len, 1 << 20, a);

	e2 = e;
	e2.rcpt = alice;
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "the same queue file to another recipient: another identity");
	e2.rcpt = both;
	e2.nrcpt = 2;
	identity_of(&e2, MSG, len, 1 << 20, a);
	e2.rcpt = both_sorted;
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(same(a, b), "the recipients' order does not matter");
	e2.rcpt = split;
	e2.nrcpt = 1;
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "two recipients differ from their concatenation");
	e2.nrcpt = 0;
	identity_of(&e2, MSG, len, 1 << 20, b);
	e2.rcpt = NULL;
	identity_of(&e2, MSG, len, 1 << 20, a);
	ok(same(a, b), "no -r at all: the identity of an empty list");
	identity_of(&e, MSG, len, 1 << 20, a);
	ok(!same(a, b), "no recipient differs from one");

	e2 = e;
	e2.sender = "other@example.org";
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "another envelope sender: another identity");
	e2.sender = "";
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "the null sender: another identity");
	e2.sender = NULL;
	identity_of(&e2, MSG, len, 1 << 20, a);
	ok(!same(a, b), "no sender given differs from the null sender");

	identity_of(&e, MSG, len, 1 << 20, a);
	e2 = e;
	e2.queue_id = "4FhT2A";
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "another queue id: another identity");
	e2.client_address = "198.51.100.9";
	e2.queue_id = e.queue_id;
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "another client address: another identity");
	e2.client_address = e.client_address;
	e2.helo = "other";
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "another HELO name: another identity");
	e2.helo = NULL;
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "no HELO name given: another identity");
	e2.helo = e.helo;
	e2.client_address = NULL;
	e2.queue_id = NULL;
	identity_of(&e2, MSG, len, 1 << 20, a);
	e2.client_address = "";
	identity_of(&e2, MSG, len, 1 << 20, b);
	ok(!same(a, b), "no client address differs from an empty one");
	identity_of(&e, MSG, len, 1 << 20, a);

	memcpy(other, MSG, sizeof(MSG));
	other[len - 2] ^= 1; /* one bit of the body, past any header */
	identity_of(&e, other, len, 1 << 20, b);
	ok(!same(a, b), "one bit of the body: another identity");
	identity_of(&e, big, big_len, 64 * 1024, a);
	big[big_len - 2] ^= 1;
	identity_of(&e, big, big_len, 64 * 1024, b);
	big[big_len - 2] ^= 1;
	ok(!same(a, b), "the same from the spool");
	identity_of(&e, MSG, len, 1 << 20, a);
	identity_of(&e, MSG, len - 1, 1 << 20, b);
	ok(!same(a, b), "one byte less: another identity");

	/* pipe(8)'s F flag writes the delivery time into the From_ line */
	n = snprintf(from, sizeof(from), "From sender@example.org  Mon Feb  2 10:00:01 2026\n%s", MSG);
	identity_of(&e, from, (size_t)n, 1 << 20, b);
	ok(same(a, b), "a leading From_ line is not part of it");

	/* fetchmail writes a Received field with the time of each poll on top */
	n = snprintf(from, sizeof(from), "Received: from imap.example.net by "
	    "localhost with IMAP (fetchmail-6.4.37) for <bob>; Tue, 01 Dec 2026 "
	    "21:00:01 +0000\n%s", MSG);
	identity_of(&e, from, (size_t)n, 1 << 20, a);
	from[strstr(from, "21:00:01") - from + 3] = '5';
	identity_of(&e, from, (size_t)n, 1 << 20, b);
	ok(same(a, b), "a fetcher's Received on top, another poll: the same delivery");
	identity_of(&e, MSG, len, 1 << 20, a);
	n = snprintf(from, sizeof(from), "Subject: other\n%s",
	    MSG);
	identity_of(&e, from, (size_t)n, 1 << 20, b);
	ok(!same(a, b), "another header field: another identity");

	/* a Received below the first other field came with the message */
	n = snprintf(from, sizeof(from), "%sReceived: from x by y; Mon, 30 Nov 2026 "
	    "10:00:00 +0000\n%s", "Received: by mx; Tue, 01 Dec 2026 21:00:00 +0000\n"
	    "Message-ID: <2@example.org>\n", "From: a@example.org\n\nbody\n");
	identity_of(&e, from, (size_t)n, 1 << 20, a);
	from[strstr(from, "10:00:00") - from + 1] = '1';
	identity_of(&e, from, (size_t)n, 1 << 20, b);
	ok(!same(a, b), "messages that differ in a lower Received: another identity");
	memcpy(from, "Received: by mx; Tue, 01 Dec 2026 21:09:09", 42);
	identity_of(&e, from, (size_t)n, 1 << 20, a);
	ok(same(a, b), "while the one on top may differ");
	/* most mail: every Received on top, one after the other */
	n = snprintf(from, sizeof(from), "Received: by mx; Tue, 01 Dec 2026 21:00:00 +0000\n"
	    "Received: from x by y; Mon, 30 Nov 2026 10:00:00 +0000\n%s", MSG);
	identity_of(&e, from, (size_t)n, 1 << 20, a);
	from[strstr(from, "10:00:00") - from + 1] = '1';
	identity_of(&e, from, (size_t)n, 1 << 20, b);
	ok(!same(a, b), "messages that differ in the second of the Received fields on top: "
	    "another identity");
	free(big);
	return done_testing();
}
