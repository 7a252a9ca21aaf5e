/* What a run tells the outside: the one log line per message, in the shape
 * of Postfix's (docs/how-it-decides.md lists its fields), and the JSON
 * object of --check. */
#ifndef SPOT_REPORT_H
#define SPOT_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "age.h"
#include "decide.h"
#include "envelope.h"

struct report {
	const struct config *cfg;
	const struct envelope *env;
	const struct hdr_block *hb;  /* the Message-ID */
	uint64_t size;
	const struct scan_result *sr;
	const struct decision *d;
	const struct hdr_edit *ed;
	uint64_t removed;
	int check;
	const char *via;       /* "delivered via dovecot-lda", "written to standard output" */
	const char *failure;   /* "4.3.0 why": the delivery step failed; or NULL */
	int64_t elapsed_ms;
	const struct age *age;  /* NULL: defer_max_age did not matter */
};

void report_log(const struct report *r);
/* 0, or -1 when stdout could not be written. */
int report_json(const struct report *r, int exit_code, const char *status, FILE *fp);
const char *scan_state_name(enum scan_state s);

#endif
