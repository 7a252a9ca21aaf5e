/* age.c: the arrival time from --arrival-time and Postfix's Received:
 * field (only the topmost, only with our queue id), the delivery identity,
 * and the first-deferral memory in state_dir (missing, corrupt, expired). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "age.h"
#include "log.h"
#include "state.h"
#include "tap.h"

#define NOW 1796158800LL  /* Tue, 1 Dec 2026 21:00:00 +0000 */

static const char postfix_received[] =
    "Return-Path: <alice@sender.example>\n"
    "Delivered-To: bob@example.net\n"
    "Received: from client.sender.example (localhost [127.0.0.1])\n"
    "\tby mx.test.example (Postfix) with ESMTP id 4Q1xYz2AbCd\n"
    "\tfor <bob@example.net>; Tue,  1 Dec 2026 16:48:00 +0000 (UTC)\n"
    "Received: by evil.example (Postfix) id 4Q1xYz2AbCd; Mon, 1 Jan 2001 00:00:00 +0000\n"
    "Subject: hi\n"
    "\n"
    "body\n";

static int64_t
received(const char *text, const char *qid)
{
	struct hdr_block hb;
	int64_t t;

	hdr_block_parse(text, strlen(text), 0, 1, &hb);
	t = age_received_time(text, &hb, qid);
	hdr_block_free(&hb);
	return t;
}

static void
test_parse_time(void)
{
	int64_t t = 0;

	ok(age_parse_time("1796158800", &t) == 0 && t == NOW, "epoch seconds");
	ok(age_parse_time("Tue, 1 Dec 2026 21:00:00 +0000", &t) == 0 && t == NOW,
	    "an RFC 5322 date");
	ok(age_parse_time("Tue, 1 Dec 2026 22:00:00 +0100", &t) == 0 && t == NOW,
	    "an RFC 5322 date with a zone");
	ok(age_parse_time("", &t) != 0, "empty: refused");
	ok(age_parse_time("0", &t) != 0, "0: refused");
	ok(age_parse_time("yesterday", &t) != 0, "garbage: refused");
	ok(age_parse_time("-5", &t) != 0, "negative: refused");
	ok(age_parse_time("99999999999999999999999", &t) != 0, "overflow: refused");
	ok(age_parse_time("Tue, 31 Feb 2026 21:00:00 +0000", &t) != 0, "31 February: refused");
}

static void
test_received(void)
{
	is_int(received(postfix_received, "4Q1xYz2AbCd"), NOW - 4 * 3600 - 12 * 60,
	    "Postfix's own Received: its date");
	is_int(received(postfix_received, "4Q1xYz2AbC"), 0, "a prefix of the queue id does not match");
	is_int(received(postfix_received, "OTHER123"), 0, "another queue id: no time");
	is_int(received(postfix_received, NULL), 0, "no --queue-id: no time");
	is_int(received(postfix_received, ""), 0, "empty --queue-id: no time");
	is_int(received(postfix_received, "4Q1x Yz"), 0, "a queue id with a space: no time");
	is_int(received("Received: by a (Postfix, from userid 0)\n\tid ABC123; "
	    "Tue, 1 Dec 2026 21:00:00 +0000\n\nx\n", "ABC123"), NOW,
	    "local submission (Postfix, from userid 0): its date");
	/* a hostile sender's line under the top one never counts */
	is_int(received("Received: from x by y (Postfix) with ESMTP id AAA111; "
	    "Tue, 1 Dec 2026 21:00:00 +0000\nReceived: by evil (Postfix) id BBB222; "
	    "Mon, 1 Jan 2001 00:00:00 +0000\n\nx\n", "BBB222"), 0,
	    "a second Received with our queue id: ignored");
	is_int(received("Received: from x by y (Exim) id AAA111; Tue, 1 Dec 2026 "
	    "21:00:00 +0000\n\nx\n", "AAA111"), 0, "not Postfix: ignored");
	is_int(received("Received: from x by y (Postfix) id AAA111 no date\n\nx\n",
	    "AAA111"), 0, "no ';': ignored");
	is_int(received("Received: from x by y (Postfix) id AAA111; not a date\n\nx\n",
	    "AAA111"), 0, "a bad date: ignored");
	is_int(received("Subject: x\n\nReceived: by y (Postfix) id AAA111; Tue, 1 Dec "
	    "2026 21:00:00 +0000\n", "AAA111"), 0, "a Received in the body: ignored");

	/* Postfix's own forms, and only those */
	is_int(received("Received: from c (c [192.0.2.1])\r\n\tby mx (Postfix) with ESMTPS id "
	    "AAA111;\r\n\tTue, 1 Dec 2026 21:00:00 +0000\r\n\r\nx\r\n", "AAA111"), NOW,
	    "several recipients (\"id Q;\" then the date), CRLF: its date");
	is_int(received("Received: from c (c [192.0.2.1])\n\tby mx (Postfix) with ESMTP\n"
	    "\tid AAA111; Tue, 1 Dec 2026 21:00:00 +0000\n\nx\n", "AAA111"), NOW,
	    "Postfix 2's \"with ESMTP\" then \"id Q;\" on the next line: its date");
	is_int(received("Received: from c (c [192.0.2.1]) by mx (Postfix) with ESMTP "
	    "id AAA111 for <a@b>; Tue, 1 Dec 2026 21:00:00 +0000\n\nx\n", "AAA111"), NOW,
	    "on one line: its date");
	is_int(received("Received: from x id AAA111 by y (Postfix) with ESMTP for <a@b>; "
	    "Tue, 1 Dec 2026 21:00:00 +0000\n\nx\n", "AAA111"), 0,
	    "\"id Q\" elsewhere than after Postfix's words: ignored");
	is_int(received("Received: from helo (Postfix) with ESMTP id AAA111; x (h [192.0.2.1]) "
	    "by mx (Postfix) with ESMTP id AAA111 for <a@b>; Tue, 1 Dec 2026 21:00:00 +0000\n"
	    "\nx\n", "AAA111"), 0, "a HELO name that copies Postfix's words: \"id Q\" twice, ignored");
	is_int(received("Received: by y (Postfix) id AAA111; Tue, 1 Dec 2026 21:00:00 +0000\n"
	    "\nx\n", "AAA111"), 0, "\"(Postfix) id Q\" without \"with PROTO\": not Postfix's form");
	is_int(received("Received: by y (Postfix) with ESMTP id AAA111 via z; Tue, 1 Dec 2026 "
	    "21:00:00 +0000\n\nx\n", "AAA111"), 0, "\"id Q\" then neither \";\" nor \" for \": ignored");
	is_int(received("Received: by y (Postfix, from userid x) id AAA111; Tue, 1 Dec 2026 "
	    "21:00:00 +0000\n\nx\n", "AAA111"), 0, "userid not a number: ignored");
	is_int(received("Received: by y (Postfix) with (ESMTP) id AAA111; Tue, 1 Dec 2026 "
	    "21:00:00 +0000\n\nx\n", "AAA111"), 0, "a protocol that is not one word: ignored");
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

static void
test_store(void)
{
	char dir[] = "/tmp/spot-age.XXXXXX", path[256];
	unsigned char id[DELIVERY_ID_LEN], other[DELIVERY_ID_LEN];
	struct config cfg;
	struct stat st;
	size_t i;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	config_init(&cfg);
	free(cfg.state_dir);
	cfg.state_dir = xstrdup(dir);
	memset(id, 0xab, sizeof(id));
	memset(other, 0x01, sizeof(other));
	snprintf(path, sizeof(path), "%s/deferrals2.db", dir);

	is_int(age_first_deferral(&cfg, id, NOW, 0), NOW, "--check, nothing known: now");
	ok(access(path, F_OK) != 0, "--check writes nothing");
	is_int(age_first_deferral(&cfg, id, NOW, 1), NOW, "first deferral: now");
	is_int(age_first_deferral(&cfg, id, NOW + 100, 1), NOW, "second deferral: the first one's time");
	is_int(age_first_deferral(&cfg, id, NOW + 200, 0), NOW, "--check sees it too");
	is_int(age_first_deferral(&cfg, other, NOW + 300, 1), NOW + 300, "another delivery: its own time");
	is_int(age_first_deferral(&cfg, id, NOW + 300 + 8 * 86400 + 1, 1), NOW + 300 + 8 * 86400 + 1,
	    "after 8 days the entry is gone: the clock starts again");
	is_int(age_first_deferral(&cfg, other, NOW + 300 + 8 * 86400 + 2, 0),
	    NOW + 300 + 8 * 86400 + 2, "an expired entry is not believed by --check either");

	for (i = 0; i < 5000; i++) {
		memcpy(other, &i, sizeof(i));
		age_first_deferral(&cfg, other, NOW, 1);
	}
	if (stat(path, &st) != 0)
		st.st_size = -1;
	ok(st.st_size >= 0 && st.st_size < 2 * 1024 * 1024,
	    "5000 deliveries: the store keeps its fixed size (%lld bytes)",
	    (long long)st.st_size);
	is_int(age_first_deferral(&cfg, id, NOW + 300 + 8 * 86400 + 5, 1),
	    NOW + 300 + 8 * 86400 + 1, "and the first entry is still there");

	/* delivered: its slot is freed, and a later deferral starts anew */
	is_int(age_forget(&cfg, id), 1, "delivered: its slot is freed");
	is_int(age_first_deferral(&cfg, id, NOW + 400, 0), NOW + 400, "--check no longer sees it");
	is_int(age_first_deferral(&cfg, id, NOW + 500, 1), NOW + 500, "deferred again: a new clock");
	is_int(age_forget(&cfg, id), 1, "... freed again");
	is_int(age_forget(&cfg, id), 0, "... nothing left to free");

	unlink(path);
	is_int(age_forget(&cfg, id), 0, "no store: nothing to free");
	ok(access(path, F_OK) != 0, "... and no store created");

	memset(other, 0x02, sizeof(other));
	is_int(age_first_deferral(&cfg, other, NOW + 999999, 1), NOW + 999999, "recorded by a clock far ahead");
	is_int(age_first_deferral(&cfg, other, NOW, 1), NOW, "an entry from the future: not believed");
	is_int(age_first_deferral(&cfg, other, NOW, 0), NOW, "not by --check either");

	unlink(path);
	write_file(path, "\x01\x02garbage without newline");
	is_int(age_first_deferral(&cfg, id, NOW + 5, 1), NOW + 5, "a corrupt store: age 0");
	is_int(age_first_deferral(&cfg, id, NOW + 9, 1), NOW + 9, "and it stays unused");
	unlink(path);

	chmod(dir, 0777);
	is_int(age_first_deferral(&cfg, id, NOW, 1), NOW, "a state_dir others may write: age 0");
	ok(access(path, F_OK) != 0, "and nothing is written there");
	chmod(dir, 0700);

	free(cfg.state_dir);
	cfg.state_dir = xstrdup("/nonexistent/spot-age");
	is_int(age_first_deferral(&cfg, id, NOW, 1), NOW, "state_dir unusable: age 0");
	config_free(&cfg);
	rmdir(dir);
}

/* Every slot taken (by deliveries deferred within the last days): the
 * delivery goes on at age 0, and says so once in the log. */
static void
test_store_full(void)
{
	char dir[] = "/tmp/spot-age.XXXXXX", why[256], log[300], text[4096] = "";
	unsigned char id[DELIVERY_ID_LEN];
	struct state_map m;
	struct config cfg;
	size_t i, nwords = 65536 * 3, n;
	FILE *fp;
	int d, saved;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	config_init(&cfg);
	free(cfg.state_dir);
	cfg.state_dir = xstrdup(dir);
	memset(id, 0xcd, sizeof(id));
	why[0] = '\0';
	age_first_deferral(&cfg, id, NOW, 1);
	age_forget(&cfg, id);
	d = open(dir, O_RDONLY | O_DIRECTORY);
	ok(state_map_open(&m, d, "deferrals2.db", "SPOTDEFR", nwords, why, sizeof(why)) == 0,
	    "the store holds 65536 slots: %s", why);
	for (i = 0; i < nwords; i += 3) {
		m.w[i] = 1000 + i;
		m.w[i + 1] = i;
		m.w[i + 2] = NOW - 3600;
	}
	state_map_close(&m);
	close(d);

	snprintf(log, sizeof(log), "%s/log", dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	d = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(d, STDERR_FILENO);
	close(d);
	log_open(LOG_SINK_STDERR);
	is_int(age_first_deferral(&cfg, id, NOW, 1), NOW, "a full store: age 0, no failure");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	log_open(LOG_SINK_NONE);
	fp = fopen(log, "r");
	n = fp != NULL ? fread(text, 1, sizeof(text) - 1, fp) : 0;
	text[n] = '\0';
	if (fp != NULL)
		fclose(fp);
	like(text, "warning:", "... and a warning");
	like(text, "full", "... that says the store is full");
	unlink(log);
	snprintf(log, sizeof(log), "%s/deferrals2.db", dir);
	unlink(log);
	config_free(&cfg);
	rmdir(dir);
}

static void
test_age_of(void)
{
	const char *rcpt[] = { "bob@example.net" };
	char dir[] = "/tmp/spot-age.XXXXXX";
	struct envelope env = { 0 };
	struct hdr_block hb;
	struct config cfg;
	unsigned char id[DELIVERY_ID_LEN];
	struct age a;
	char path[256];

	memset(id, 7, sizeof(id));
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	config_init(&cfg);
	free(cfg.state_dir);
	cfg.state_dir = xstrdup(dir);
	env.rcpt = rcpt;
	env.nrcpt = 1;
	hdr_block_parse(postfix_received, strlen(postfix_received), 0, 1, &hb);

	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW, &a);
	is_int(a.seconds, 0, "no queue id, first deferral: age 0");
	env.queue_id = "4Q1xYz2AbCd";
	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW, &a);
	is_int(a.seconds, 4 * 3600 + 12 * 60, "with the queue id: the age from Received");
	is_int(a.arrival, NOW - 4 * 3600 - 12 * 60, "and the arrival time");
	env.arrival_time = NOW - 5 * 3600;
	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW, &a);
	is_int(a.seconds, 5 * 3600, "--arrival-time earlier than Received: it wins");
	env.arrival_time = NOW - 60;
	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW, &a);
	is_int(a.seconds, 4 * 3600 + 12 * 60, "--arrival-time later than Received: Received wins");
	env.queue_id = NULL;
	env.arrival_time = NOW + 3600;
	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW + 10, &a);
	is_int(a.seconds, 10, "an arrival time in the future: ignored, the first deferral counts");
	env.arrival_time = NOW - AGE_MAX_PAST - 1;
	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW + 20, &a);
	is_int(a.seconds, 20, "an arrival time more than 30 days back: ignored");
	env.arrival_time = NOW - AGE_MAX_PAST;
	age_of(&cfg, &env, id, postfix_received, &hb, 1, NOW, &a);
	is_int(a.seconds, AGE_MAX_PAST, "exactly 30 days back: believed");

	hdr_block_free(&hb);
	config_free(&cfg);
	snprintf(path, sizeof(path), "%s/deferrals2.db", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_parse_time();
	test_received();
	test_store();
	test_store_full();
	test_age_of();
	return done_testing();
}
