/* decide.c: decide() over every combination of mode, on_timeout,
 * phishing_action, defer_max_age and age, Rspamd answer and API answer,
 * checked against the cells of the decision tables in
 * docs/how-it-decides.md; then specific rows, and decide_headers(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decide.h"
#include "tap.h"

enum rsp {
	R_OFF, R_SKIPPED, R_FAILED, R_NO_ACTION, R_GREYLIST, R_ADD_HEADER,
	R_REWRITE_SUBJECT, R_SOFT_REJECT, R_REJECT, R_REJECT_NO_MESSAGE,
	R_UNKNOWN_ACTION, R_COUNT, R_SOFT_REJECT_NO_MESSAGE = R_COUNT
};
static const char *const rsp_names[] = { "rspamd off", "rspamd skipped",
	"rspamd failed", "no action", "greylist", "add header", "rewrite subject",
	"soft reject", "reject", "reject without smtp_message", "unknown action",
	"soft reject without smtp_message" };

enum api {
	A_OFF, A_SKIPPED, A_PHISH_HIGH, A_PHISH_EDGE, A_PHISH_LOW, A_CLEAN,
	A_PENDING, A_FAILED, A_AUTH, A_REJECTED, A_TIMEOUT, A_COUNT
};
static const char *const api_names[] = { "api off", "api skipped",
	"phishing 0.91", "phishing 0.5 (= min)", "phishing 0.49 (< min)",
	"clean 0.97", "pending", "api failed", "api auth", "api rejected",
	"api timeout" };

#define MIN_CONFIDENCE "0.5"

static const char *const rspamd_json[] = {
	[R_NO_ACTION] = "{\"action\":\"no action\",\"score\":1.5,\"required_score\":15,"
	    "\"symbols\":{\"MIME_GOOD\":{\"name\":\"MIME_GOOD\",\"score\":-0.1}}}",
	[R_GREYLIST] = "{\"action\":\"greylist\",\"score\":4.5,\"required_score\":15,"
	    "\"messages\":{\"smtp_message\":\"Try again later\"}}",
	[R_ADD_HEADER] = "{\"action\":\"add header\",\"score\":5.2,\"required_score\":15,"
	    "\"symbols\":{\"BAYES_SPAM\":{\"name\":\"BAYES_SPAM\",\"score\":5.1,"
	    "\"options\":[\"99.99%\"]},\"MIME_GOOD\":{\"name\":\"MIME_GOOD\","
	    "\"score\":0.1}}}",
	[R_REWRITE_SUBJECT] = "{\"action\":\"rewrite subject\",\"score\":9.25,"
	    "\"required_score\":15,\"subject\":\"***SPAM*** Cheap watches\"}",
	[R_SOFT_REJECT] = "{\"action\":\"soft reject\",\"score\":0,\"required_score\":15,"
	    "\"messages\":{\"smtp_message\":\"Ratelimit reached\"}}",
	[R_REJECT] = "{\"action\":\"reject\",\"score\":0,\"required_score\":15,"
	    "\"symbols\":{\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0}},"
	    "\"messages\":{\"smtp_message\":\"Gtube pattern\"}}",
	[R_REJECT_NO_MESSAGE] = "{\"action\":\"reject\",\"score\":22.5,"
	    "\"required_score\":15}",
	[R_UNKNOWN_ACTION] = "{\"action\":\"quarantine\",\"score\":30,"
	    "\"required_score\":15}",
	[R_SOFT_REJECT_NO_MESSAGE] = "{\"action\":\"soft reject\",\"score\":0,"
	    "\"required_score\":15}",
};

static void
set_rspamd(struct scan_result *sr, enum rsp r)
{
	char err[256];

	switch (r) {
	case R_OFF:
		sr->rspamd_state = SCAN_OFF;
		return;
	case R_SKIPPED:
		sr->rspamd_state = SCAN_SKIPPED;
		snprintf(sr->skip_note, sizeof(sr->skip_note),
		    "message of 31457280 bytes is larger than scan_max_size");
		return;
	case R_FAILED:
		sr->rspamd_state = SCAN_FAILED;
		snprintf(sr->rspamd_error, sizeof(sr->rspamd_error), "connection refused");
		return;
	default:
		sr->rspamd_state = SCAN_DONE;
		if (rspamd_parse(rspamd_json[r], strlen(rspamd_json[r]), &sr->rspamd,
		    err, sizeof(err)) != 0) {
			printf("Bail out! fixture %s: %s\n", rsp_names[r], err);
			exit(1);
		}
		return;
	}
}

static void
analyzed(struct scan_result *sr, int phishing, double confidence)
{
	sr->api_state = SCAN_DONE;
	sr->spot.status = SPOT_ANALYZED;
	sr->spot.is_phishing = phishing;
	sr->spot.confidence = confidence;
	snprintf(sr->spot.threat_level, sizeof(sr->spot.threat_level), "%s",
	    phishing ? "high" : "none");
}

static void
set_api(struct scan_result *sr, enum api a)
{
	snprintf(sr->spot.job_id, sizeof(sr->spot.job_id), "job-5b1f0c9e");
	switch (a) {
	case A_OFF:
		sr->api_state = SCAN_OFF;
		sr->spot.job_id[0] = '\0';
		break;
	case A_SKIPPED:
		sr->api_state = SCAN_SKIPPED;
		sr->spot.job_id[0] = '\0';
		break;
	case A_PHISH_HIGH:
		analyzed(sr, 1, 0.91);
		break;
	case A_PHISH_EDGE:
		analyzed(sr, 1, 0.5);
		break;
	case A_PHISH_LOW:
		analyzed(sr, 1, 0.49);
		break;
	case A_CLEAN:
		analyzed(sr, 0, 0.97);
		break;
	case A_PENDING:
		sr->api_state = SCAN_PENDING;
		sr->spot.status = SPOT_ACCEPTED;
		break;
	case A_FAILED:
		sr->api_state = SCAN_FAILED;
		sr->spot.job_id[0] = '\0';
		snprintf(sr->api_error, sizeof(sr->api_error), "HTTP 503");
		break;
	case A_AUTH:
		sr->api_state = SCAN_AUTH;
		sr->spot.job_id[0] = '\0';
		snprintf(sr->api_error, sizeof(sr->api_error), "HTTP 401");
		break;
	case A_REJECTED:
		sr->api_state = SCAN_DONE;
		sr->spot.status = SPOT_REJECTED;
		break;
	case A_TIMEOUT:
		sr->api_state = SCAN_DONE;
		sr->spot.status = SPOT_TIMEOUT;
		break;
	default:
		break;
	}
}

static void
config_with(struct config *cfg, int mode, int on_timeout, int action)
{
	char err[CONFIG_ERR_SIZE];

	config_init(cfg);
	cfg->mode = mode;
	cfg->on_timeout = on_timeout;
	cfg->phishing_action = action;
	if (config_set(cfg, "phishing_min_confidence", MIN_CONFIDENCE, err,
	    sizeof(err)) != 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
}

/* The decision table is the fixture: the "full table" sections of
 * docs/how-it-decides.md, and the status texts of its rules, read from the
 * file a reader sees. Every combination of inputs above falls in one cell. */
#define DOC "docs/how-it-decides.md"
#define DOC_MAX (1024 * 1024)
#define MAX_CELL 160

static const char *const rsp_row[R_SOFT_REJECT_NO_MESSAGE + 1] = {
	[R_OFF] = "clean", [R_SKIPPED] = "clean", [R_FAILED] = "failed",
	[R_NO_ACTION] = "clean", [R_GREYLIST] = "clean", [R_ADD_HEADER] = "clean",
	[R_REWRITE_SUBJECT] = "clean", [R_SOFT_REJECT] = "soft reject",
	[R_REJECT] = "reject", [R_REJECT_NO_MESSAGE] = "reject",
	[R_UNKNOWN_ACTION] = "clean", [R_SOFT_REJECT_NO_MESSAGE] = "soft reject",
};
/* the fixtures' messages.smtp_message, which rules 2 and 3 carry */
static const char *const rsp_message[R_SOFT_REJECT_NO_MESSAGE + 1] = {
	[R_SOFT_REJECT] = "Ratelimit reached", [R_REJECT] = "Gtube pattern",
};
static const char *const api_column[A_COUNT] = {
	[A_OFF] = "clean", [A_SKIPPED] = "clean", [A_PHISH_HIGH] = "phish/",
	[A_PHISH_EDGE] = "phish/", [A_PHISH_LOW] = "clean", [A_CLEAN] = "clean",
	[A_PENDING] = "no verdict", [A_FAILED] = "no verdict",
	[A_AUTH] = "key refused", [A_REJECTED] = "clean", [A_TIMEOUT] = "no verdict",
};

/* spot-deliver(1): X-Spam: Yes when the action is neither "no action" nor
 * "greylist" */
static int
rsp_spam(enum rsp r)
{
	return r == R_ADD_HEADER || r == R_REWRITE_SUBJECT || r == R_SOFT_REJECT ||
	    r == R_REJECT || r == R_REJECT_NO_MESSAGE || r == R_UNKNOWN_ACTION ||
	    r == R_SOFT_REJECT_NO_MESSAGE;
}

enum { T_ALLOW, T_BLOCK, T_AGED, T_COUNT };
static const char *const table_heading[] = {
	[T_ALLOW] = "### `on_timeout = allow` (the default)",
	[T_BLOCK] = "### `on_timeout = block`",
	[T_AGED] = "### `on_timeout = block`, the delivery has waited `defer_max_age`",
};
#define NROWS 4
#define NCOLS 6

struct table {
	char row[NROWS][32];
	char col[NCOLS][32];
	char cell[NROWS][NCOLS][MAX_CELL];
};

/* the rules whose status line is one fixed text, and the fallbacks of 2, 3 */
enum { RULE_1, RULE_2, RULE_3, RULE_4, RULE_5, RULE_6A, RULE_6B, RULE_COUNT };
static const char *const rule_id[] = { "1", "2", "3", "4", "5", "6a", "6b" };

struct doc {
	char *text;
	struct table t[T_COUNT];
	char rule[RULE_COUNT][128];  /* "4.7.0 Spam scanner unavailable, ..." */
	int tag_only_delivers;
};

static char *
read_doc(void)
{
	FILE *fp = fopen(DOC, "rb");
	char *text;
	size_t n;

	if (fp == NULL) {
		printf("Bail out! cannot open %s (run from the repository root)\n", DOC);
		exit(1);
	}
	text = malloc(DOC_MAX + 1);
	if (text == NULL) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	n = fread(text, 1, DOC_MAX, fp);
	if (ferror(fp) || !feof(fp)) {
		printf("Bail out! cannot read %s whole\n", DOC);
		exit(1);
	}
	fclose(fp);
	text[n] = '\0';
	return text;
}

static const char *
next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

/* The line after the line that is exactly line, or NULL. */
static const char *
find_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p;

	for (p = text; p != NULL; p = next_line(p))
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
			return p + len + (p[len] == '\n');
	return NULL;
}

/* Splits the table line at p ("| a | b |") into trimmed cells; returns their
 * count, or -1 when p is not a table line or a cell is too long. */
static int
split_row(const char *p, char cells[][MAX_CELL], int max)
{
	const char *end = strchr(p, '\n'), *c, *bar;
	int n = 0;

	if (end == NULL)
		end = p + strlen(p);
	if (*p != '|')
		return -1;
	for (c = p + 1; c < end; c = bar + 1) {
		size_t len;

		bar = memchr(c, '|', (size_t)(end - c));
		if (bar == NULL)
			break;
		while (c < bar && *c == ' ')
			c++;
		len = (size_t)(bar - c);
		while (len > 0 && c[len - 1] == ' ')
			len--;
		if (n == max || len >= MAX_CELL)
			return -1;
		memcpy(cells[n], c, len);
		cells[n++][len] = '\0';
	}
	return n;
}

/* The first table under heading: a header row, a |---| row, NROWS rows. */
static int
parse_table(const char *text, const char *heading, struct table *t)
{
	char cells[NCOLS + 1][MAX_CELL];
	const char *p = find_line(text, heading);
	int i, j;

	while (p != NULL && *p != '|' && strncmp(p, "#", 1) != 0)
		p = next_line(p);
	if (p == NULL || split_row(p, cells, NCOLS + 1) != NCOLS + 1 ||
	    strcmp(cells[0], "Rspamd \\ API") != 0)
		return -1;
	for (j = 0; j < NCOLS; j++)
		snprintf(t->col[j], sizeof(t->col[j]), "%s", cells[j + 1]);
	p = next_line(p);
	if (p == NULL || strncmp(p, "|---|", 5) != 0)
		return -1;
	for (i = 0; i < NROWS; i++) {
		p = next_line(p);
		if (p == NULL || split_row(p, cells, NCOLS + 1) != NCOLS + 1)
			return -1;
		snprintf(t->row[i], sizeof(t->row[i]), "%s", cells[0]);
		for (j = 0; j < NCOLS; j++)
			snprintf(t->cell[i][j], MAX_CELL, "%s", cells[j + 1]);
	}
	p = next_line(p);
	return p != NULL && *p == '|' ? -1 : 0;  /* no fifth row */
}

/* The status texts of "## The rules": the first `...` of rules 1, 4, 5, 6a,
 * 6b, the last (the fallback) of 2 and 3. */
static int
parse_rules(const char *text, struct doc *doc)
{
	char cells[4][MAX_CELL];
	const char *p = find_line(text, "## The rules");
	int k, found = 0;

	for (; p != NULL && strncmp(p, "## ", 3) != 0; p = next_line(p)) {
		const char *q, *e;

		if (split_row(p, cells, 4) != 4)
			continue;
		for (k = 0; k < RULE_COUNT; k++)
			if (strcmp(cells[0], rule_id[k]) == 0)
				break;
		if (k == RULE_COUNT)
			continue;
		if (k == RULE_2 || k == RULE_3) {
			e = strrchr(cells[3], '`');
			for (q = e; q != NULL && q > cells[3] && q[-1] != '`'; q--)
				;
			q = q != NULL && q > cells[3] ? q - 1 : NULL;
		} else {
			q = strchr(cells[3], '`');
			e = q ? strchr(q + 1, '`') : NULL;
		}
		if (q == NULL || e == NULL || e <= q)
			return -1;
		snprintf(doc->rule[k], sizeof(doc->rule[k]), "%.*s", (int)(e - q - 1), q + 1);
		found |= 1 << k;
	}
	return found == (1 << RULE_COUNT) - 1 ? 0 : -1;
}

static void
load_doc(struct doc *doc)
{
	int k;

	memset(doc, 0, sizeof(*doc));
	doc->text = read_doc();
	for (k = 0; k < T_COUNT; k++)
		if (!ok(parse_table(doc->text, table_heading[k], &doc->t[k]) == 0,
		    "%s: the table under \"%s\" has its header and %d rows of %d cells",
		    DOC, table_heading[k] + 4, NROWS, NCOLS)) {
			printf("Bail out! %s: no decision table under \"%s\"\n", DOC,
			    table_heading[k]);
			exit(1);
		}
	if (!ok(parse_rules(doc->text, doc) == 0, "%s: the status texts of rules "
	    "1 to 6b", DOC)) {
		printf("Bail out! %s: the rules table has changed shape\n", DOC);
		exit(1);
	}
	doc->tag_only_delivers = find_line(doc->text,
	    "`mode = tag-only`: every cell is **deliver** (exit 0, or the LDA's).") != NULL;
	ok(doc->tag_only_delivers, "%s: mode = tag-only delivers every cell", DOC);
}

/* What one cell says, e.g. "defer 75 4.7.1 (phishing)",
 * "deliver 0, unscanned (Rspamd and API)". */
struct expect {
	enum outcome outcome;
	int exit;
	char code[8];
	char label[32];     /* which rule's text: Rspamd, phishing, key, ... */
	int unscanned;
	int phishing_headers;
};

static int
parse_cell(const char *cell, struct expect *e)
{
	char word[16], rest[MAX_CELL];
	const char *p;
	int n = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(cell, "%15s %d%n", word, &e->exit, &n) != 2)
		return -1;
	p = cell + n;
	if (strcmp(word, "deliver") == 0) {
		e->outcome = OUTCOME_DELIVER;
	} else {
		e->outcome = strcmp(word, "defer") == 0 ? OUTCOME_DEFER : OUTCOME_REJECT;
		if ((strcmp(word, "defer") != 0 && strcmp(word, "reject") != 0) ||
		    sscanf(p, " %7[0-9.]%n", e->code, &n) != 1)
			return -1;
		p += n;
		if (sscanf(p, " (%31[^)])%n", e->label, &n) != 1)
			return -1;
		p += n;
	}
	snprintf(rest, sizeof(rest), "%s", p);
	p = rest;
	if (strncmp(p, ", unscanned (", 13) == 0) {
		char who[32];

		if (sscanf(p + 13, "%31[^)])%n", who, &n) != 1)
			return -1;
		p += 13 + n;
		if (strcmp(who, "Rspamd") == 0)
			e->unscanned = UNSCANNED_RSPAMD;
		else if (strcmp(who, "API") == 0)
			e->unscanned = UNSCANNED_API;
		else if (strcmp(who, "Rspamd and API") == 0)
			e->unscanned = UNSCANNED_RSPAMD | UNSCANNED_API;
		else
			return -1;
	}
	if (strcmp(p, ", with the phishing headers") == 0) {
		e->phishing_headers = 1;
		p += strlen(p);
	}
	return *p == '\0' ? 0 : -1;
}

/* The status line the cell's label names, as "code text". */
static const char *
label_text(const struct doc *doc, const struct expect *e, enum rsp r, char *buf,
    size_t size)
{
	int reject = e->outcome == OUTCOME_REJECT;

	if (strcmp(e->label, "Rspamd unavailable") == 0)
		return doc->rule[RULE_1];
	if (strcmp(e->label, "key") == 0)
		return doc->rule[RULE_4];
	if (strcmp(e->label, "API did not finish") == 0)
		return doc->rule[RULE_5];
	if (strcmp(e->label, "phishing") == 0)
		return doc->rule[reject ? RULE_6A : RULE_6B];
	if (strcmp(e->label, "Rspamd") == 0) {
		if (rsp_message[r] == NULL)
			return doc->rule[reject ? RULE_2 : RULE_3];
		snprintf(buf, size, "%s %s", reject ? "5.7.1" : "4.7.1", rsp_message[r]);
		return buf;
	}
	return NULL;
}

static int
exit_of(enum outcome o)
{
	return o == OUTCOME_REJECT ? 77 : o == OUTCOME_DEFER ? 75 : 0;
}

/* defer_max_age (0: unset) and the age decide() is given */
struct aging {
	unsigned max_age;
	int64_t age;
	const char *name;
};

static const struct aging agings[] = {
	{ 0, 0, "defer_max_age unset, age 0" },
	{ 0, 1000000, "defer_max_age unset, age 1000000" },
	{ 3600, 0, "defer_max_age 1h, age 0" },
	{ 3600, 3599, "defer_max_age 1h, age 3599" },
	{ 3600, 3600, "defer_max_age 1h, age 3600" },
	{ 3600, 1000000, "defer_max_age 1h, age 1000000" },
};

static const char *const action_names[] = { "tag", "defer", "reject" };

/* The cell of doc for these inputs, or NULL when the table has no such row
 * or column. */
static const char *
cell_of(const struct doc *doc, int on_timeout, const struct aging *ag, int action,
    enum rsp r, enum api a, const char **table)
{
	int k = on_timeout == ON_TIMEOUT_ALLOW ? T_ALLOW :
	    ag->max_age > 0 && ag->age >= (int64_t)ag->max_age ? T_AGED : T_BLOCK;
	const struct table *t = &doc->t[k];
	char col[32];
	int i, j;

	*table = table_heading[k] + 4;
	snprintf(col, sizeof(col), "%s%s", api_column[a],
	    strcmp(api_column[a], "phish/") == 0 ? action_names[action] : "");
	for (i = 0; i < NROWS && strcmp(t->row[i], rsp_row[r]) != 0; i++)
		;
	for (j = 0; j < NCOLS && strcmp(t->col[j], col) != 0; j++)
		;
	return i < NROWS && j < NCOLS ? t->cell[i][j] : NULL;
}

static void
test_grid(void)
{
	static const int modes[] = { MODE_BLOCKING, MODE_TAG_ONLY };
	static const int timeouts[] = { ON_TIMEOUT_ALLOW, ON_TIMEOUT_BLOCK };
	static const int actions[] = { PHISH_TAG, PHISH_DEFER, PHISH_REJECT };
	struct doc doc;
	size_t mi, ti, ai, gi;
	int r, a, n = 0, bad = 0;

	load_doc(&doc);
	for (gi = 0; gi < ARRAY_LEN(agings); gi++)
	for (mi = 0; mi < ARRAY_LEN(modes); mi++)
	for (ti = 0; ti < ARRAY_LEN(timeouts); ti++)
	for (ai = 0; ai < ARRAY_LEN(actions); ai++)
	for (r = 0; r <= R_SOFT_REJECT_NO_MESSAGE; r++)
	for (a = 0; a < A_COUNT; a++) {
		struct config cfg;
		struct scan_result sr;
		struct decision d;
		struct expect e;
		const char *cell = "deliver 0", *table = "mode = tag-only", *want;
		char buf[160], got[160];
		int phishing = a == A_PHISH_HIGH || a == A_PHISH_EDGE, pass;

		if (modes[mi] == MODE_BLOCKING)
			cell = cell_of(&doc, timeouts[ti], &agings[gi], (int)ai,
			    (enum rsp)r, (enum api)a, &table);
		if (cell == NULL || parse_cell(cell, &e) != 0) {
			ok(0, "%s: a cell for %s, %s in \"%s\" (got \"%s\")", DOC,
			    rsp_names[r], api_names[a], table, cell ? cell : "none");
			bad++;
			continue;
		}
		want = "";
		if (e.outcome != OUTCOME_DELIVER)
			want = label_text(&doc, &e, (enum rsp)r, buf, sizeof(buf));

		config_with(&cfg, modes[mi], timeouts[ti], actions[ai]);
		cfg.defer_max_age = agings[gi].max_age;
		memset(&sr, 0, sizeof(sr));
		set_rspamd(&sr, (enum rsp)r);
		set_api(&sr, (enum api)a);
		memset(&d, 0x5a, sizeof(d));
		decide(&cfg, &sr, agings[gi].age, &d);
		if (d.outcome > OUTCOME_REJECT)
			snprintf(got, sizeof(got), "outcome %d", (int)d.outcome);
		else if (d.code[0] == '\0')
			snprintf(got, sizeof(got), "%s", d.reason);
		else
			snprintf(got, sizeof(got), "%.7s %.150s", d.code, d.reason);
		pass = want != NULL && d.outcome == e.outcome &&
		    exit_of(d.outcome) == e.exit &&
		    strncmp(d.code, e.code, sizeof(d.code)) == 0 &&
		    strcmp(got, want) == 0 && d.unscanned == e.unscanned &&
		    d.spam == rsp_spam((enum rsp)r) && d.phishing == phishing &&
		    (!e.phishing_headers || d.phishing) && d.age == agings[gi].age;
		n++;
		if (!ok(pass, "%s, %s, on_timeout %s, phishing_action %s, %s, %s: \"%s\" of %s",
		    agings[gi].name,
		    modes[mi] == MODE_BLOCKING ? "blocking" : "tag-only",
		    timeouts[ti] == ON_TIMEOUT_BLOCK ? "block" : "allow",
		    action_names[ai], rsp_names[r], api_names[a], cell, table)) {
			bad++;
			diag("got %s (exit %d) \"%s\" spam %d phishing %d unscanned %d",
			    d.outcome <= OUTCOME_REJECT ? outcome_name(d.outcome) : "?",
			    exit_of(d.outcome), got, d.spam, d.phishing, d.unscanned);
			diag("the table: %s (exit %d) \"%s\" spam %d phishing %d unscanned %d",
			    outcome_name(e.outcome), e.exit, want ? want : "(unknown label)",
			    rsp_spam((enum rsp)r), phishing, e.unscanned);
		}
		scan_result_free(&sr);
		config_free(&cfg);
	}
	diag("decision grid: %d combinations against the tables of %s, %d wrong", n,
	    DOC, bad);
	free(doc.text);
}

/* One decide() call for the specific checks. */
static void
decide_aged(struct config *cfg, enum rsp r, enum api a, int64_t age,
    struct decision *d)
{
	struct scan_result sr;

	memset(&sr, 0, sizeof(sr));
	set_rspamd(&sr, r);
	set_api(&sr, a);
	decide(cfg, &sr, age, d);
	scan_result_free(&sr);
}

static void
decide_one(struct config *cfg, enum rsp r, enum api a, struct decision *d)
{
	decide_aged(cfg, r, a, 0, d);
}

static int
needs_age(struct config *cfg, enum rsp r, enum api a)
{
	struct scan_result sr;
	int rc;

	memset(&sr, 0, sizeof(sr));
	set_rspamd(&sr, r);
	set_api(&sr, a);
	rc = decide_needs_age(cfg, &sr);
	scan_result_free(&sr);
	return rc;
}

/* The rows of docs/how-it-decides.md that defer_max_age changes. */
static void
test_aging(void)
{
	struct config cfg;
	struct decision d;

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_DEFER);
	cfg.defer_max_age = 4 * 3600;
	decide_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 - 1, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed, 1 s short of defer_max_age: defer");
	is_str(d.reason, "Spam scanner unavailable, try again later",
	    "young: the reason of today");
	is_str(d.detail, "Rspamd unavailable: connection refused",
	    "young: the detail for the log");
	decide_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 + 720, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "rspamd failed, aged out: deliver");
	is_int(d.unscanned, UNSCANNED_RSPAMD, "rspamd failed, aged out: unscanned by Rspamd");
	is_str(d.code, "", "aged out: no status code");
	decide_aged(&cfg, R_FAILED, A_PHISH_HIGH, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed aged out + phish/defer: still deferred");
	like(d.reason, "suspected phishing", "rspamd failed aged out + phish/defer: phishing reason");
	is_int(d.unscanned, 0, "deferred: nothing unscanned delivered");
	decide_aged(&cfg, R_NO_ACTION, A_AUTH, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "API 401 never ages out");
	is_str(d.code, "4.7.0", "API 401 aged: 4.7.0");
	decide_aged(&cfg, R_FAILED, A_AUTH, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed aged + API 401: the 401 still defers");
	decide_aged(&cfg, R_REJECT, A_FAILED, 1000000, &d);
	is_int(d.outcome, OUTCOME_REJECT, "a reject Rspamd returned never ages");
	decide_aged(&cfg, R_SOFT_REJECT, A_FAILED, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "a soft reject Rspamd returned never ages");
	is_str(d.reason, "Ratelimit reached", "soft reject aged: Rspamd's text");
	decide_aged(&cfg, R_NO_ACTION, A_PENDING, 4 * 3600, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "API pending at exactly defer_max_age: deliver");
	is_int(d.unscanned, UNSCANNED_API, "API pending aged: unscanned by the API");
	decide_aged(&cfg, R_FAILED, A_FAILED, 4 * 3600, &d);
	is_int(d.unscanned, UNSCANNED_RSPAMD | UNSCANNED_API, "both failed, aged: both unscanned");
	ok(needs_age(&cfg, R_FAILED, A_CLEAN), "needs the age: rspamd failed + block");
	ok(needs_age(&cfg, R_NO_ACTION, A_TIMEOUT), "needs the age: API timeout + block");
	ok(!needs_age(&cfg, R_NO_ACTION, A_CLEAN), "no age needed: both answered");
	ok(!needs_age(&cfg, R_NO_ACTION, A_AUTH), "no age needed: API 401 does not age");
	ok(!needs_age(&cfg, R_SOFT_REJECT, A_OFF), "no age needed: a soft reject does not age");
	config_free(&cfg);

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_TAG);
	cfg.defer_max_age = 20;
	decide_aged(&cfg, R_FAILED, A_PHISH_HIGH, 25, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "rspamd failed aged + phish/tag: deliver");
	ok(d.phishing && d.unscanned == UNSCANNED_RSPAMD, "with the phishing and the unscanned marks");
	ok(needs_age(&cfg, R_FAILED, A_CLEAN), "needs the age with defer_max_age = 20s");
	cfg.defer_max_age = 0;
	ok(!needs_age(&cfg, R_FAILED, A_CLEAN), "no age needed: defer_max_age unset");
	decide_aged(&cfg, R_FAILED, A_CLEAN, 1000000, &d);
	is_int(d.outcome, OUTCOME_DEFER, "defer_max_age unset: a failure defers at any age");
	cfg.defer_max_age = 20;
	cfg.on_timeout = ON_TIMEOUT_ALLOW;
	ok(!needs_age(&cfg, R_FAILED, A_FAILED), "no age needed: on_timeout = allow");
	cfg.on_timeout = ON_TIMEOUT_BLOCK;
	cfg.mode = MODE_TAG_ONLY;
	ok(!needs_age(&cfg, R_FAILED, A_FAILED), "no age needed: tag-only");
	config_free(&cfg);
}

static void
test_reasons(void)
{
	char err[CONFIG_ERR_SIZE];
	struct config cfg;
	struct decision d;

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_ALLOW, PHISH_REJECT);
	decide_one(&cfg, R_REJECT, A_OFF, &d);
	is_str(d.code, "5.7.1", "spam reject: 5.7.1");
	is_str(d.reason, "Gtube pattern", "spam reject: Rspamd's smtp_message");
	decide_one(&cfg, R_REJECT_NO_MESSAGE, A_OFF, &d);
	is_str(d.reason, "Message rejected as spam", "spam reject without smtp_message");
	decide_one(&cfg, R_SOFT_REJECT_NO_MESSAGE, A_OFF, &d);
	is_str(d.reason, "Try again later", "soft reject without smtp_message");
	is_str(d.code, "4.7.1", "soft reject without smtp_message: 4.7.1");
	decide_one(&cfg, R_SOFT_REJECT, A_OFF, &d);
	is_str(d.reason, "Ratelimit reached", "soft reject: Rspamd's smtp_message");
	is_str(d.code, "4.7.1", "soft reject: 4.7.1");
	config_set(&cfg, "reject_message", "Refused by local policy", err, sizeof(err));
	decide_one(&cfg, R_REJECT, A_OFF, &d);
	is_str(d.reason, "Refused by local policy", "reject_message overrides smtp_message");
	decide_one(&cfg, R_REJECT_NO_MESSAGE, A_OFF, &d);
	is_str(d.reason, "Refused by local policy", "reject_message without smtp_message");
	decide_one(&cfg, R_SOFT_REJECT, A_OFF, &d);
	is_str(d.reason, "Ratelimit reached", "reject_message does not touch soft reject");
	decide_one(&cfg, R_NO_ACTION, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_REJECT, "phishing reject");
	is_str(d.reason, "Message rejected as phishing", "phishing reject: no job id for the sender");
	like(d.detail, "job-5b1f0c9e", "phishing reject: the log names the SPOT job");
	decide_one(&cfg, R_REJECT, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_REJECT, "spam and phishing: reject");
	is_str(d.code, "5.7.1", "spam and phishing: 5.7.1");
	decide_one(&cfg, R_SOFT_REJECT, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_REJECT, "soft reject + phishing reject: the reject wins");
	like(d.reason, "phishing", "soft reject + phishing reject: phishing reason");
	config_free(&cfg);

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_DEFER);
	decide_one(&cfg, R_FAILED, A_OFF, &d);
	is_str(d.code, "4.7.0", "rspamd failed + block: 4.7.0");
	like(d.detail, "connection refused", "rspamd failed: the detail has the error");
	ok(strstr(d.reason, "refused") == NULL, "rspamd failed: the reason has not");
	decide_one(&cfg, R_NO_ACTION, A_FAILED, &d);
	is_str(d.code, "4.7.1", "api failed + block: 4.7.1");
	like(d.detail, "HTTP 503", "api failed: the detail has the error");
	ok(strstr(d.reason, "HTTP") == NULL, "api failed: the reason has not");
	decide_one(&cfg, R_NO_ACTION, A_PENDING, &d);
	is_int(d.outcome, OUTCOME_DEFER, "api pending + block: defer");
	decide_one(&cfg, R_NO_ACTION, A_AUTH, &d);
	is_str(d.code, "4.7.0", "api auth: 4.7.0");
	like(d.detail, "HTTP 401", "api auth: the detail has the error");
	ok(strstr(d.reason, "HTTP") == NULL && strstr(d.reason, "api_key") == NULL,
	    "api auth: the reason has neither the error nor the key file");
	decide_one(&cfg, R_REJECT, A_FAILED, &d);
	is_int(d.outcome, OUTCOME_REJECT, "reject beats a defer proposed after it");
	is_str(d.code, "5.7.1", "reject beats defer: 5.7.1");
	decide_one(&cfg, R_FAILED, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_DEFER, "rspamd failed + phishing defer: defer");
	config_free(&cfg);

	config_with(&cfg, MODE_TAG_ONLY, ON_TIMEOUT_BLOCK, PHISH_REJECT);
	decide_one(&cfg, R_REJECT, A_PHISH_HIGH, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "tag-only: spam + phishing still delivered");
	is_int(d.spam, 1, "tag-only: spam flag still set");
	is_int(d.phishing, 1, "tag-only: phishing flag still set");
	is_str(d.code, "", "tag-only: no code");
	decide_one(&cfg, R_FAILED, A_AUTH, &d);
	is_int(d.outcome, OUTCOME_DELIVER, "tag-only: scanners down still delivered");
	config_free(&cfg);

	is_str(outcome_name(OUTCOME_DELIVER), "deliver", "outcome_name deliver");
	is_str(outcome_name(OUTCOME_DEFER), "defer", "outcome_name defer");
	is_str(outcome_name(OUTCOME_REJECT), "reject", "outcome_name reject");
}

/* The headers decide_headers adds, as "Name: value\n" lines. */
static void
headers_aged(struct config *cfg, enum rsp r, enum api a, int64_t age,
    struct buf *out, struct hdr_edit *ed, void (*tweak)(struct scan_result *))
{
	struct scan_result sr;
	struct decision d;
	size_t i;

	memset(&sr, 0, sizeof(sr));
	memset(ed, 0, sizeof(*ed));
	set_rspamd(&sr, r);
	set_api(&sr, a);
	if (tweak != NULL)
		tweak(&sr);
	decide(cfg, &sr, age, &d);
	decide_headers(cfg, &sr, &d, ed);
	out->len = 0;
	buf_append(out, "", 0);
	for (i = 0; i < ed->nadd; i++)
		buf_printf(out, "%s: %s\n", ed->add[i].name, ed->add[i].value);
	scan_result_free(&sr);
}

static void
headers_of(struct config *cfg, enum rsp r, enum api a, struct buf *out,
    struct hdr_edit *ed, void (*tweak)(struct scan_result *))
{
	headers_aged(cfg, r, a, 0, out, ed, tweak);
}

static void
add_milter(struct scan_result *sr)
{
	char err[256];
	static const char json[] = "{\"action\":\"add header\",\"score\":6.5,"
	    "\"required_score\":15,\"milter\":{\"add_headers\":{"
	    "\"X-Spam\":\"Yes\",\"X-Spam-Score\":\"6.5\","
	    "\"X-Rspamd-Server\":\"mx1.example.net\","
	    "\"X-Spamd-Bar\":[{\"value\":\"++++++\",\"order\":0},"
	    "{\"value\":\"+\",\"order\":1}]},"
	    "\"remove_headers\":{\"X-Spamd-Result\":0,\"X-Old\":-1}}}";

	rspamd_reply_free(&sr->rspamd);
	sr->rspamd_state = SCAN_DONE;
	if (rspamd_parse(json, strlen(json), &sr->rspamd, err, sizeof(err)) != 0) {
		printf("Bail out! milter fixture: %s\n", err);
		exit(1);
	}
}

/* A milter block that writes our namespace: X-SPOT-* fields, and the X-Spam
 * fields spot-deliver writes itself, on a reply that is not spam and gives
 * spot-deliver no reason to write X-Spam or X-Spam-Error. */
static void
forging_milter(struct scan_result *sr)
{
	char err[256];
	static const char json[] = "{\"action\":\"no action\",\"score\":1,"
	    "\"required_score\":15,\"milter\":{\"add_headers\":{"
	    "\"X-SPOT-Is-Phishing\":\"no\",\"x-spot-status\":\"analyzed\","
	    "\"X-SPOT-Threat-Level\":[\"none\",\"low\"],"
	    "\"X-Spam\":\"Yes\",\"x-spam-error\":\"forged\",\"X-Spam-Symbols\":\"forged\","
	    "\"X-Spam-Action\":\"reject\",\"X-Spam-Scanner\":\"forged\","
	    "\"X-Spamd-Result\":\"default: False [1.00 / 15.00]\","
	    "\"X-Spam-Level\":\"*\",\"X-Rspamd-Queue-Id\":\"Q1\"}}}";

	rspamd_reply_free(&sr->rspamd);
	sr->rspamd_state = SCAN_DONE;
	if (rspamd_parse(json, strlen(json), &sr->rspamd, err, sizeof(err)) != 0) {
		printf("Bail out! forging milter fixture: %s\n", err);
		exit(1);
	}
}

static void
hostile_values(struct scan_result *sr)
{
	char err[256];
	static const char json[] = "{\"action\":\"rewrite subject\",\"score\":9,"
	    "\"required_score\":15,\"subject\":\"***SPAM***\\r\\nBcc: evil@example.com\","
	    "\"symbols\":{\"EVIL\\r\\nX-Injected: 1\":{\"score\":1}}}";

	rspamd_reply_free(&sr->rspamd);
	sr->rspamd_state = SCAN_DONE;
	if (rspamd_parse(json, strlen(json), &sr->rspamd, err, sizeof(err)) != 0) {
		printf("Bail out! hostile fixture: %s\n", err);
		exit(1);
	}
	snprintf(sr->spot.job_id, sizeof(sr->spot.job_id), "job-1\r\nX-Evil: yes");
}

static void
conf_round(struct scan_result *sr)
{
	sr->spot.confidence = 0.9996;
}

static void
test_headers(void)
{
	struct config cfg;
	struct hdr_edit ed;
	struct buf h = { 0 };
	size_t i;
	int has_x_spam, dup, spot;

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_ALLOW, PHISH_TAG);

	headers_of(&cfg, R_ADD_HEADER, A_PHISH_HIGH, &h, &ed, NULL);
	is_str(buf_cstr(&h),
	    "X-SPOT-Job-Id: job-5b1f0c9e\n"
	    "X-SPOT-Status: analyzed\n"
	    "X-SPOT-Is-Phishing: yes\n"
	    "X-SPOT-Threat-Level: high\n"
	    "X-SPOT-Confidence: 0.910\n"
	    "X-Spam-Scanner: rspamd\n"
	    "X-Spam: Yes\n"
	    "X-Spam-Action: add header\n"
	    "X-Spam-Score: 5.20 / 15.00\n"
	    "X-Spam-Symbols: BAYES_SPAM(5.10), MIME_GOOD(0.10)\n",
	    "spam + phishing verdict: all headers, in order");
	ok(ed.subject == NULL, "add header: no new Subject");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_NO_ACTION, A_CLEAN, &h, &ed, NULL);
	is_str(buf_cstr(&h),
	    "X-SPOT-Job-Id: job-5b1f0c9e\n"
	    "X-SPOT-Status: analyzed\n"
	    "X-SPOT-Is-Phishing: no\n"
	    "X-SPOT-Threat-Level: none\n"
	    "X-SPOT-Confidence: 0.970\n"
	    "X-Spam-Scanner: rspamd\n"
	    "X-Spam-Action: no action\n"
	    "X-Spam-Score: 1.50 / 15.00\n"
	    "X-Spam-Symbols: MIME_GOOD(-0.10)\n",
	    "ham + clean: no X-Spam, verdict headers");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_NO_ACTION, A_PHISH_HIGH, &h, &ed, conf_round);
	like(buf_cstr(&h), "X-SPOT-Confidence: 1.000\n", "confidence rounded to three decimals");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_GREYLIST, A_OFF, &h, &ed, NULL);
	unlike(buf_cstr(&h), "X-Spam: Yes", "greylist: no X-Spam");
	unlike(buf_cstr(&h), "X-SPOT", "API off: no X-SPOT-* header");
	like(buf_cstr(&h), "X-Spam-Action: greylist\n", "greylist: action header");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_REJECT, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "reject: X-Spam: Yes");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_UNKNOWN_ACTION, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "unknown action: X-Spam: Yes");
	like(buf_cstr(&h), "X-Spam-Action: quarantine\n", "unknown action: its name");
	hdr_edit_free(&ed);

	cfg.mode = MODE_TAG_ONLY;
	headers_of(&cfg, R_SOFT_REJECT, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "tag-only soft reject: X-Spam: Yes");
	hdr_edit_free(&ed);
	cfg.mode = MODE_BLOCKING;

	headers_of(&cfg, R_ADD_HEADER, A_OFF, &h, &ed, NULL);
	ok(ed.subject == NULL, "add header: Subject not rewritten");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_REWRITE_SUBJECT, A_OFF, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam: Yes\n", "rewrite subject: X-Spam: Yes");
	is_str(ed.subject, "***SPAM*** Cheap watches", "rewrite subject: new Subject");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_OFF, A_PENDING, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: timeout\n",
	    "blocking, pending: status timeout, no verdict, no X-Spam-*");
	hdr_edit_free(&ed);
	cfg.mode = MODE_TAG_ONLY;
	headers_of(&cfg, R_OFF, A_PENDING, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: accepted\n",
	    "tag-only, pending: status accepted");
	hdr_edit_free(&ed);
	cfg.mode = MODE_BLOCKING;

	headers_of(&cfg, R_OFF, A_FAILED, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: none\nX-SPOT-Status: timeout\n",
	    "api failed: job none, status timeout");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_TIMEOUT, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: timeout\n",
	    "api done timeout: status timeout");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_REJECTED, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-SPOT-Job-Id: job-5b1f0c9e\nX-SPOT-Status: rejected\n",
	    "api rejected: status rejected, no verdict");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_SKIPPED, &h, &ed, NULL);
	like(buf_cstr(&h), "X-SPOT-Status: skipped\n", "api skipped: status skipped");
	hdr_edit_free(&ed);

	headers_of(&cfg, R_FAILED, A_OFF, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-Spam-Scanner: rspamd\nX-Spam-Error: connection refused\n",
	    "rspamd failed: scanner and error only");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_SKIPPED, A_OFF, &h, &ed, NULL);
	is_str(buf_cstr(&h), "X-Spam-Scanner: rspamd; skipped, message of 31457280 bytes "
	    "is larger than scan_max_size\n", "rspamd skipped: a note with the size");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_OFF, A_OFF, &h, &ed, NULL);
	is_int(ed.nadd, 0, "both off: no headers");
	hdr_edit_free(&ed);

	/* milter headers: ours are not duplicated, theirs are all kept */
	headers_of(&cfg, R_ADD_HEADER, A_OFF, &h, &ed, add_milter);
	for (has_x_spam = 0, dup = 0, i = 0; i < ed.nadd; i++) {
		if (strcmp(ed.add[i].name, "X-Spam") == 0)
			has_x_spam++;
		if (strcmp(ed.add[i].name, "X-Spam-Score") == 0)
			dup++;
	}
	is_int(has_x_spam, 1, "milter X-Spam not added twice");
	is_int(dup, 1, "milter X-Spam-Score not added twice");
	like(buf_cstr(&h), "X-Spam-Score: 6.50 / 15.00\n", "our X-Spam-Score kept");
	like(buf_cstr(&h), "X-Rspamd-Server: mx1.example.net\n", "milter header added");
	like(buf_cstr(&h), "X-Spamd-Bar: ++++++\n", "milter list: first value added");
	like(buf_cstr(&h), "X-Spamd-Bar: +\n", "milter list: second value added too "
	    "(a list is several fields of one name)");
	ok(strstr(buf_cstr(&h), "X-Rspamd-Server") > strstr(buf_cstr(&h), "X-Spam-Score"),
	    "milter headers come after ours");
	is_int(ed.nremove, 2, "milter removals forwarded");
	is_str(ed.nremove ? ed.remove[0].name : NULL, "X-Spamd-Result", "milter removal name");
	is_int(ed.nremove > 1 ? ed.remove[1].index : 0, -1, "milter removal index");
	hdr_edit_free(&ed);

	/* the milter cannot write our verdict: with the API off and with it on */
	headers_of(&cfg, R_ADD_HEADER, A_OFF, &h, &ed, forging_milter);
	for (spot = 0, i = 0; i < ed.nadd; i++)
		spot += strncasecmp(ed.add[i].name, "X-SPOT-", 7) == 0;
	is_int(spot, 0, "forging milter, API off: no X-SPOT-* field at all");
	ok(strstr(buf_cstr(&h), "X-Spam: ") == NULL, "forging milter: no X-Spam "
	    "on a reply that is not spam");
	ok(strstr(buf_cstr(&h), "forged") == NULL, "forging milter: no X-Spam-Error, "
	    "X-Spam-Symbols or X-Spam-Scanner of its own");
	like(buf_cstr(&h), "X-Spam-Action: no action\n", "forging milter: our action only");
	ok(strstr(buf_cstr(&h), "X-Spam-Action: reject") == NULL,
	    "forging milter: its X-Spam-Action dropped");
	like(buf_cstr(&h), "X-Spamd-Result: default: False [1.00 / 15.00]\n",
	    "forging milter: Rspamd's X-Spamd-Result kept");
	like(buf_cstr(&h), "X-Spam-Level: *\n", "forging milter: Rspamd's X-Spam-Level kept");
	like(buf_cstr(&h), "X-Rspamd-Queue-Id: Q1\n", "forging milter: X-Rspamd-* kept");
	hdr_edit_free(&ed);
	headers_of(&cfg, R_ADD_HEADER, A_PHISH_HIGH, &h, &ed, forging_milter);
	for (spot = 0, i = 0; i < ed.nadd; i++)
		spot += strcasecmp(ed.add[i].name, "X-SPOT-Is-Phishing") == 0;
	is_int(spot, 1, "forging milter, API says phishing: one X-SPOT-Is-Phishing");
	like(buf_cstr(&h), "X-SPOT-Is-Phishing: yes\n", "forging milter: it is the API's yes");
	hdr_edit_free(&ed);

	/* values from the servers cannot split a header */
	headers_of(&cfg, R_REWRITE_SUBJECT, A_PHISH_HIGH, &h, &ed, hostile_values);
	ok(ed.subject != NULL && strpbrk(ed.subject, "\r\n") == NULL,
	    "new Subject has no CR/LF");
	for (i = 0; i < ed.nadd; i++)
		ok(strpbrk(ed.add[i].value, "\r\n") == NULL, "header %s has no CR/LF",
		    ed.add[i].name);
	hdr_edit_free(&ed);

	config_free(&cfg);

	config_with(&cfg, MODE_BLOCKING, ON_TIMEOUT_BLOCK, PHISH_TAG);
	cfg.defer_max_age = 4 * 3600;
	headers_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 + 12 * 60 + 7, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam-Scanner: rspamd\nX-Spam-Error: not scanned: Rspamd "
	    "unavailable for 4h12m\n", "rspamd aged out: X-Spam-Error says not scanned and how long");
	unlike(buf_cstr(&h), "X-SPOT-Error", "rspamd aged out, API answered: no X-SPOT-Error");
	like(buf_cstr(&h), "X-SPOT-Status: analyzed\n", "the API's verdict is there");
	hdr_edit_free(&ed);
	headers_aged(&cfg, R_FAILED, A_CLEAN, 4 * 3600 - 1, &h, &ed, NULL);
	like(buf_cstr(&h), "X-Spam-Error: connection refused\n", "rspamd failed, young: the error of today");
	hdr_edit_free(&ed);
	headers_aged(&cfg, R_NO_ACTION, A_FAILED, 2 * 86400 + 3 * 3600, &h, &ed, NULL);
	like(buf_cstr(&h), "X-SPOT-Job-Id: none\nX-SPOT-Status: timeout\nX-SPOT-Error: not "
	    "scanned: API unavailable for 2d3h\n", "API aged out: status timeout and X-SPOT-Error");
	like(buf_cstr(&h), "X-Spam-Action: no action\n", "API aged out: Rspamd's headers are there");
	hdr_edit_free(&ed);
	headers_aged(&cfg, R_FAILED, A_PHISH_HIGH, 4 * 3600, &h, &ed, NULL);
	like(buf_cstr(&h), "X-SPOT-Is-Phishing: yes\n", "rspamd aged + phish/tag: the phishing mark");
	like(buf_cstr(&h), "X-Spam-Error: not scanned: Rspamd unavailable for 4h0m\n",
	    "rspamd aged + phish/tag: and the unscanned mark");
	hdr_edit_free(&ed);
	config_free(&cfg);
	buf_free(&h);
}

static void
test_duration(void)
{
	static const struct { int64_t s; const char *text; } v[] = {
		{ -5, "0s" }, { 0, "0s" }, { 20, "20s" }, { 59, "59s" }, { 60, "1m0s" },
		{ 725, "12m5s" }, { 3600, "1h0m" }, { 15120, "4h12m" },
		{ 86399, "23h59m" }, { 86400, "1d0h" }, { 183600, "2d3h" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < ARRAY_LEN(v); i++) {
		format_duration(buf, sizeof(buf), v[i].s);
		is_str(buf, v[i].text, "format_duration(%lld)", (long long)v[i].s);
	}
}

int
main(void)
{
	test_grid();
	test_reasons();
	test_aging();
	test_headers();
	test_duration();
	return done_testing();
}
