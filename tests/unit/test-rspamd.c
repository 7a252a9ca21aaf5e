/* rspamd.c: rspamd_parse on recorded /checkv2 answers (good and broken) and
 * rspamd_is_spam. Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rspamd.h"
#include "tap.h"

#define FIX "tests/fixtures/rspamd/"

static char err[512];

/* Parses a fixture into r; returns rspamd_parse's result (or -2: no file). */
static int
parse_fixture(const char *name, struct rspamd_reply *r)
{
	char path[512];
	size_t len;
	char *json;
	int rc;

	snprintf(path, sizeof(path), FIX "%s", name);
	if ((json = tap_slurp(path, &len)) == NULL) {
		diag("cannot read %s", path);
		memset(r, 0, sizeof(*r));
		return -2;
	}
	err[0] = '\0';
	rc = rspamd_parse(json, len, r, err, sizeof(err));
	free(json);
	return rc;
}

static int
parse_str(const char *json, struct rspamd_reply *r)
{
	err[0] = '\0';
	return rspamd_parse(json, strlen(json), r, err, sizeof(err));
}

static const struct rspamd_symbol *
symbol(const struct rspamd_reply *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nsymbols; i++)
		if (r->symbols[i].name != NULL && strcmp(r->symbols[i].name, name) == 0)
			return &r->symbols[i];
	return NULL;
}

static int
has_ctl(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
test_ham(void)
{
	struct rspamd_reply r;
	const struct rspamd_symbol *s;

	if (!is_int(parse_fixture("ham.json", &r), 0, "ham: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_NO_ACTION, "ham: action enum");
	is_str(r.action_name, "no action", "ham: action name");
	is_dbl(r.score, -0.31, 1e-9, "ham: score");
	is_dbl(r.required, 15.0, 1e-9, "ham: required_score");
	is_int(r.nsymbols, 3, "ham: three symbols");
	s = symbol(&r, "R_SPF_ALLOW");
	ok(s != NULL, "ham: R_SPF_ALLOW present");
	is_dbl(s ? s->score : 99, -0.21, 1e-9, "ham: symbol score is \"score\", "
	    "not metric_score");
	is_str(s ? s->options : "", "+ip4:192.0.2.0/24", "ham: one option");
	s = symbol(&r, "ARC_NA");
	is_str(s ? s->options : "", NULL, "ham: symbol without options has NULL");
	is_str(r.nsymbols ? r.symbols[0].name : NULL, "ARC_NA", "ham: symbols in answer order");
	is_str(r.smtp_message, NULL, "ham: no smtp_message (messages is empty)");
	is_str(r.subject, NULL, "ham: no subject");
	is_int(r.milter.nadd, 0, "ham: no milter adds");
	is_int(r.milter.nremove, 1, "ham: one milter removal");
	is_str(r.milter.nremove ? r.milter.remove[0].name : NULL, "X-Spam",
	    "ham: removal name");
	is_int(r.milter.nremove ? r.milter.remove[0].index : 99, 0,
	    "ham: removal index 0 (all)");
	is_int(rspamd_is_spam(&r), 0, "ham: not spam");
	rspamd_reply_free(&r);
	is_int(r.nsymbols, 0, "rspamd_reply_free clears the reply");
}

static void
test_gtube(void)
{
	struct rspamd_reply r;

	if (!is_int(parse_fixture("gtube.json", &r), 0, "gtube: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_REJECT, "gtube: action reject");
	is_str(r.action_name, "reject", "gtube: action name");
	is_str(r.smtp_message, "Gtube pattern", "gtube: smtp_message");
	is_dbl(r.score, 0.0, 1e-9, "gtube: score 0");
	is_int(r.nsymbols, 1, "gtube: one symbol");
	ok(symbol(&r, "GTUBE") != NULL, "gtube: GTUBE symbol");
	is_int(rspamd_is_spam(&r), 1, "gtube: spam");
	rspamd_reply_free(&r);
}

static void
test_add_header(void)
{
	struct rspamd_reply r;
	const struct rspamd_symbol *s;

	if (!is_int(parse_fixture("add-header.json", &r), 0, "add header: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_ADD_HEADER, "add header: action enum");
	is_str(r.action_name, "add header", "add header: action name");
	is_dbl(r.score, 7.5, 1e-9, "add header: score");
	is_dbl(r.required, 15.0, 1e-9, "add header: required");
	is_int(r.nsymbols, 3, "add header: three symbols");
	s = symbol(&r, "RBL_SPAMHAUS_ZEN");
	is_str(s ? s->options : NULL, "192.0.2.15:from,192.0.2.15:received,127.0.0.4",
	    "add header: options joined by commas");
	is_dbl(s ? s->score : 0, 2.5, 1e-9, "add header: RBL score");
	s = symbol(&r, "BAYES_SPAM");
	is_str(s ? s->options : NULL, "99.99%", "add header: single option");
	s = symbol(&r, "MIME_GOOD");
	ok(s != NULL && (s->options == NULL || *s->options == '\0'),
	    "add header: empty options list gives no options");
	is_dbl(s ? s->score : 0, -0.1, 1e-9, "add header: negative score");
	is_int(r.milter.nadd, 1, "add header: one milter add");
	is_str(r.milter.nadd ? r.milter.add[0].name : NULL, "X-Rspamd-Server",
	    "add header: milter add name");
	is_str(r.milter.nadd ? r.milter.add[0].value : NULL, "mx1.example.net",
	    "add header: milter add value");
	is_int(rspamd_is_spam(&r), 1, "add header: spam");
	rspamd_reply_free(&r);
}

static void
test_rewrite_subject(void)
{
	struct rspamd_reply r;

	if (!is_int(parse_fixture("rewrite-subject.json", &r), 0, "rewrite subject: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_REWRITE_SUBJECT, "rewrite subject: action enum");
	is_str(r.action_name, "rewrite subject", "rewrite subject: action name");
	is_str(r.subject, "***SPAM*** Cheap watches", "rewrite subject: subject field");
	is_dbl(r.score, 9.25, 1e-9, "rewrite subject: score");
	is_str(r.nsymbols > 1 ? r.symbols[1].name : NULL, "SUBJ_ALL_CAPS",
	    "rewrite subject: second symbol");
	is_int(rspamd_is_spam(&r), 1, "rewrite subject: spam");
	rspamd_reply_free(&r);
}

static void
test_soft_reject_and_others(void)
{
	struct rspamd_reply r;

	if (!is_int(parse_fixture("soft-reject.json", &r), 0, "soft reject: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_SOFT_REJECT, "soft reject: action enum");
	is_str(r.action_name, "soft reject", "soft reject: action name");
	is_str(r.smtp_message, "Ratelimit reached, try again later",
	    "soft reject: smtp_message");
	is_str(r.nsymbols ? r.symbols[0].options : NULL, "rcpt(alice@example.org)",
	    "soft reject: symbol option");
	rspamd_reply_free(&r);

	if (!is_int(parse_fixture("greylist.json", &r), 0, "greylist: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_GREYLIST, "greylist: action enum");
	is_str(r.action_name, "greylist", "greylist: action name");
	is_int(rspamd_is_spam(&r), 0, "greylist: not spam");
	is_int(r.nsymbols, 0, "greylist: empty symbols object");
	rspamd_reply_free(&r);

	if (!is_int(parse_fixture("unknown-action.json", &r), 0, "unknown action: parses"))
		diag("error: %s", err);
	is_int(r.action, RSPAMD_UNKNOWN, "unknown action: RSPAMD_UNKNOWN");
	is_str(r.action_name, "discard", "unknown action: its name is kept");
	rspamd_reply_free(&r);

	if (!is_int(parse_fixture("skipped.json", &r), 0, "is_skipped: parses"))
		diag("error: %s", err);
	rspamd_reply_free(&r);
}

static void
test_milter(void)
{
	static const struct { const char *name, *value; } adds[] = {
		{ "X-Rspamd-Server", "mx1.example.net" },
		{ "X-Rspamd-Queue-Id", "4FhT1z2Xbz9sV" },
		{ "X-Spamd-Bar", "++++++" },
		{ "X-Spamd-Bar", "+" },
		{ "X-Spamd-Bar", "second  Bcc: evil@example.com" },
		{ "X-Injected", "line one  X-Evil: yes X-Evil2: yes" },
	};
	static const struct { const char *name; long index; } removes[] = {
		{ "X-Spam", 0 }, { "X-Spam-Flag", 1 }, { "X-Old-Scan", -1 },
	};
	struct rspamd_reply r;
	size_t i;

	if (!is_int(parse_fixture("milter.json", &r), 0, "milter: parses"))
		diag("error: %s", err);
	is_int(r.milter.nadd, ARRAY_LEN(adds), "milter: %zu adds (bad names, non-strings, "
	    "nested lists dropped)", ARRAY_LEN(adds));
	for (i = 0; i < r.milter.nadd; i++) {
		ok(valid_field_name(r.milter.add[i].name), "milter add %zu: name \"%s\" "
		    "is a valid field name", i, r.milter.add[i].name);
		ok(!has_ctl(r.milter.add[i].value), "milter add %zu (%s): no CR, LF or "
		    "control byte in the value", i, r.milter.add[i].name);
		ok(strchr(r.milter.add[i].value, '\n') == NULL &&
		    strchr(r.milter.add[i].value, '\r') == NULL,
		    "milter add %zu: no CR/LF", i);
	}
	for (i = 0; i < ARRAY_LEN(adds) && i < r.milter.nadd; i++) {
		is_str(r.milter.add[i].name, adds[i].name, "milter add %zu name", i);
		is_str(r.milter.add[i].value, adds[i].value, "milter add %zu value", i);
	}
	is_int(r.milter.nremove, ARRAY_LEN(removes), "milter: %zu removals (bad names "
	    "dropped)", ARRAY_LEN(removes));
	for (i = 0; i < ARRAY_LEN(removes) && i < r.milter.nremove; i++) {
		is_str(r.milter.remove[i].name, removes[i].name, "milter removal %zu name", i);
		is_int(r.milter.remove[i].index, removes[i].index, "milter removal %zu index",
		    i);
	}
	for (i = 0; i < r.milter.nadd; i++)
		ok(strcmp(r.milter.add[i].name, "Bad Name") != 0 &&
		    strcmp(r.milter.add[i].name, "Bad:Name") != 0 &&
		    *r.milter.add[i].name != '\0', "milter add %zu is not a bad name", i);
	rspamd_reply_free(&r);
}

static void
test_broken(void)
{
	static const char *const bad[] = { "empty.json", "truncated.json", "list.json",
		"action-missing.json", "action-number.json", "nan-bare.json" };
	struct rspamd_reply r;
	size_t i;

	for (i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		is_int(parse_fixture(bad[i], &r), -1, "%s: refused", bad[i]);
		ok(err[0] != '\0', "%s: with a message (%s)", bad[i], err);
		is_int(r.nsymbols, 0, "%s: no symbols left behind", bad[i]);
		rspamd_reply_free(&r);
	}

	/* literal strings too: no NUL terminator expected, any bytes accepted */
	is_int(rspamd_parse("{\"action\":\"reject\"}", 10, &r, err, sizeof(err)), -1,
	    "len is honoured (the first 10 bytes are not an object)");
	rspamd_reply_free(&r);
	is_int(rspamd_parse("\0\xff\xfe{}", 5, &r, err, sizeof(err)), -1,
	    "binary garbage refused");
	rspamd_reply_free(&r);
	is_int(parse_str("\"reject\"", &r), -1, "a JSON string is not an answer");
	rspamd_reply_free(&r);
	is_int(parse_str("null", &r), -1, "null refused");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":null}", &r), -1, "action null refused");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":[\"reject\"]}", &r), -1, "action list refused");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":\"no action\"}", &r), 0, "a minimal answer parses");
	is_int(r.action, RSPAMD_NO_ACTION, "minimal answer: action");
	is_dbl(r.score, 0.0, 0.0, "minimal answer: score 0");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":\"add header\",\"symbols\":[1,2],"
	    "\"messages\":\"x\",\"milter\":[],\"subject\":5}", &r), 0,
	    "wrong shapes of optional fields are ignored");
	is_int(r.nsymbols, 0, "wrong shapes: no symbols");
	is_str(r.smtp_message, NULL, "wrong shapes: no smtp_message");
	is_str(r.subject, NULL, "wrong shapes: no subject");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":\"add header\",\"milter\":{\"add_headers\":"
	    "\"X-Foo\",\"remove_headers\":[\"X-Spam\"]}}", &r), 0,
	    "milter with wrong shapes parses");
	is_int(r.milter.nadd + r.milter.nremove, 0, "milter wrong shapes: nothing taken");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":\"reject\\r\\nX-Evil: 1\"}", &r), 0,
	    "action with CR/LF parses");
	is_int(r.action, RSPAMD_UNKNOWN, "action with CR/LF is unknown");
	ok(!has_ctl(r.action_name), "action name has no CR/LF (\"%s\")", r.action_name);
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":\"this action name is much longer than "
	    "thirty-one bytes\"}", &r), 0, "long action name parses");
	is_int(strlen(r.action_name), sizeof(r.action_name) - 1, "long action name cut");
	rspamd_reply_free(&r);
	is_int(parse_str("{\"action\":\"no action\",\"symbols\":{\"A\":1,"
	    "\"B\":{\"score\":2},\"C\":\"x\"}}", &r), 0, "symbols of odd shapes parse");
	is_int(r.nsymbols, 1, "only object symbols are kept");
	is_str(r.nsymbols ? r.symbols[0].name : NULL, "B", "the object symbol's key is its name");
	rspamd_reply_free(&r);
}

static void
test_numbers(void)
{
	struct rspamd_reply r;
	const struct rspamd_symbol *s;
	size_t i;

	if (!is_int(parse_fixture("huge-numbers.json", &r), 0, "huge numbers: parses"))
		diag("error: %s", err);
	is_dbl(r.score, 0.0, 0.0, "1e999 (infinite) score becomes 0");
	is_dbl(r.required, 0.0, 0.0, "-1e999 required becomes 0");
	s = symbol(&r, "BIG");
	is_dbl(s ? s->score : 0, 1.5e308, 1e295, "finite huge symbol score kept");
	s = symbol(&r, "OVERFLOW");
	is_dbl(s ? s->score : 1, 0.0, 0.0, "infinite symbol score becomes 0");
	is_int(r.milter.nremove, 3, "huge removal indexes: three removals");
	for (i = 0; i < r.milter.nremove; i++)
		ok(r.milter.remove[i].index != 0, "huge removal index %zu (%s) does not "
		    "turn into 0 = remove all (got %ld)", i, r.milter.remove[i].name,
		    r.milter.remove[i].index);
	/* 1e300 means "the 1e300-th": no header; it must not wrap to a
	 * negative index ("n-th from the end") */
	ok(r.milter.nremove > 0 && r.milter.remove[0].index > 0,
	    "huge positive removal index stays positive (got %ld)",
	    r.milter.nremove ? r.milter.remove[0].index : 0L);
	ok(r.milter.nremove > 1 && r.milter.remove[1].index < 0,
	    "huge negative removal index stays negative (got %ld)",
	    r.milter.nremove > 1 ? r.milter.remove[1].index : 0L);
	ok(r.milter.nremove > 2 && r.milter.remove[2].index > 0,
	    "1e23 removal index stays positive (got %ld)",
	    r.milter.nremove > 2 ? r.milter.remove[2].index : 0L);
	rspamd_reply_free(&r);

	if (!is_int(parse_fixture("nan-strings.json", &r), 0, "NaN-ish strings: parse"))
		diag("error: %s", err);
	is_dbl(r.score, 0.0, 0.0, "\"NaN\" score becomes 0");
	is_dbl(r.required, 0.0, 0.0, "\"Infinity\" required becomes 0");
	is_dbl(r.nsymbols ? r.symbols[0].score : 1, 0.0, 0.0, "\"NaN\" symbol score 0");
	rspamd_reply_free(&r);
}

static void
test_many_symbols(void)
{
	struct rspamd_reply r;
	struct buf b = { 0 };
	size_t i;

	buf_puts(&b, "{\"action\":\"add header\",\"symbols\":{");
	for (i = 0; i < 2000; i++)
		buf_printf(&b, "%s\"SYM_%zu\":{\"name\":\"SYM_%zu\",\"score\":%zu.5,"
		    "\"options\":[\"a\",\"b\",3,\"c\"]}", i ? "," : "", i, i, i);
	buf_puts(&b, "}}");
	is_int(rspamd_parse(b.data, b.len, &r, err, sizeof(err)), 0, "2000 symbols parse");
	is_int(r.nsymbols, 2000, "2000 symbols kept");
	is_str(r.nsymbols ? r.symbols[1999].name : NULL, "SYM_1999", "last symbol name");
	is_dbl(r.nsymbols ? r.symbols[1999].score : 0, 1999.5, 1e-9, "last symbol score");
	is_str(r.nsymbols ? r.symbols[0].options : NULL, "a,b,c",
	    "non-string options skipped");
	rspamd_reply_free(&r);
	buf_free(&b);
}

/* Milter names of any length: only those that fit a line with ": " come
 * through, for additions and removals alike. */
static void
test_milter_long_names(void)
{
	struct rspamd_reply r;
	struct buf j = { 0 };
	char name76[HDR_NAME_MAX + 1], name77[HDR_NAME_MAX + 2], name5000[5001];
	char e[256];

	memset(name76, 'A', sizeof(name76) - 1);
	name76[sizeof(name76) - 1] = '\0';
	memset(name77, 'B', sizeof(name77) - 1);
	name77[sizeof(name77) - 1] = '\0';
	memset(name5000, 'C', sizeof(name5000) - 1);
	name5000[sizeof(name5000) - 1] = '\0';
	buf_printf(&j, "{\"action\":\"add header\",\"milter\":{\"add_headers\":"
	    "{\"X-%s\":\"v\",\"%s\":\"v76\",\"%s\":\"v77\"},\"remove_headers\":"
	    "{\"%s\":0,\"%s\":0,\"X-%s\":0}}}", name5000, name76, name77, name76,
	    name77, name5000);
	if (!is_int(rspamd_parse(j.data, j.len, &r, e, sizeof(e)), 0,
	    "long milter names: parses"))
		diag("error: %s", e);
	is_int(r.milter.nadd, 1, "long milter names: one add (%d bytes), the %d and "
	    "5002 byte names dropped", HDR_NAME_MAX, HDR_NAME_MAX + 1);
	is_str(r.milter.nadd ? r.milter.add[0].value : NULL, "v76",
	    "long milter names: the %d byte name kept", HDR_NAME_MAX);
	is_int(r.milter.nremove, 1, "long milter names: one removal");
	is_str(r.milter.nremove ? r.milter.remove[0].name : NULL, name76,
	    "long milter names: the %d byte removal kept", HDR_NAME_MAX);
	rspamd_reply_free(&r);
	buf_free(&j);
}

int
main(void)
{
	test_ham();
	test_gtube();
	test_add_header();
	test_rewrite_subject();
	test_soft_reject_and_others();
	test_milter();
	test_milter_long_names();
	test_broken();
	test_numbers();
	test_many_symbols();
	return done_testing();
}
