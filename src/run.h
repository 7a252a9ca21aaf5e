/* One delivery, start to end: read, scan, decide, rewrite, deliver. It
 * returns a result for cmd/ to turn into an exit code; on a successful
 * delivery through an LDA it does not return at all (the LDA replaces us). */
#ifndef SPOT_RUN_H
#define SPOT_RUN_H

#include "config.h"
#include "envelope.h"

enum run_kind {
	RUN_DELIVERED,
	RUN_CHECKED,    /* --check printed its report */
	RUN_DATAERR,    /* the input is no message: a bounce */
	RUN_TEMPFAIL,   /* try again later */
	RUN_REJECTED,   /* the policy refuses it: a bounce */
};

struct run_result {
	enum run_kind kind;
	/* "4.7.1 reason": the line the MTA puts into a DSN for the sender, so
	 * nothing internal (paths, URLs, library errors): those are logged */
	char status[600];
};

struct run_opts {
	const struct config *cfg;
	struct envelope env;
	char *const *lda;  /* NULL: filter mode, the message goes to stdout */
	int check;
	int in_fd;
	/* cmd/'s mapping of a result to an exit code, for --check's report */
	int (*exit_code)(enum run_kind kind);
};

void run(const struct run_opts *o, struct run_result *res);

#endif
