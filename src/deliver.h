/* The only module that puts the message anywhere, in one of three ways:
 * execs the final delivery agent with the rewritten message as its stdin,
 * writes it to stdout (filter mode), or hands it off to the SPOT API. */
#ifndef SPOT_DELIVER_H
#define SPOT_DELIVER_H

#include <stddef.h>

#include "config.h"
#include "envelope.h"
#include "msg.h"
#include "rewrite.h"
#include "upstream.h"

/* Writes the rewritten message to fd: 0, or -1 with errno set. */
int deliver_write(const struct rewrite *rw, const struct msg *m, int fd);
/* Makes stdin the rewritten message for the LDA, a regular, seekable file
 * read from offset 0: the spool file itself when the plan is in place,
 * else a copy. 0, or -1 with the reason in err. */
int deliver_stdin(const struct rewrite *rw, const struct msg *m,
    const char *spool_dir, char *err, size_t errlen);
/* Replaces this process with argv[0]. Returns only on failure, with the
 * reason in err. */
void deliver_exec(char *const argv[], char *err, size_t errlen);
/* Filter mode: the rewritten message on stdout, flushed to disk when stdout
 * is a file. 0, or -1 with the reason in err. */
int deliver_stdout(const struct rewrite *rw, const struct msg *m, char *err,
    size_t errlen);
/* Hand-off: the message as it came, POSTed to the members of api in turn;
 * the API's 2xx is the delivery. */
struct handoff {
	const struct config *cfg;
	const struct envelope *env;
	const struct msg *m;
	const char *idem_key;
	const struct upstream_list *api;
	const struct upstream_memory *memory; /* dead-upstream memory */
	uint32_t seed;                       /* where in the list to start */
	struct upstream_events *events;      /* what happened to each member */
};

enum handoff_result { HANDOFF_DONE, HANDOFF_AUTH, HANDOFF_FAILED };

/* HANDOFF_AUTH: the API refused our key; the error in err unless DONE. */
enum handoff_result deliver_handoff(const struct handoff *p, char *err,
    size_t errlen);
/* Calls try_file on name, or on each PATH candidate when name has no slash,
 * until it returns non-zero; returns that, or 0. */
int lda_path_each(const char *name, int (*try_file)(const char *, void *), void *arg);
/* A copy of the LDA's argv with the words of extra (spam_lda_args...) added. */
char **lda_argv_build(char *const *lda, const char *extra);
void lda_argv_free(char **argv);

#endif
