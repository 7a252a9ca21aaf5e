/* The only module that puts the message anywhere: execs the final delivery
 * agent with the rewritten message as its stdin, or writes it to stdout. */
#ifndef SPOT_DELIVER_H
#define SPOT_DELIVER_H

#include <stddef.h>

#include "msg.h"
#include "rewrite.h"

/* Writes the rewritten message to fd: 0, or -1 with errno set. */
int deliver_write(const struct rewrite *rw, const struct msg *m, int fd);
/* Replaces this process with argv[0] reading the rewritten message from a
 * seekable unlinked file. Returns only on failure, with the reason in err. */
void deliver_exec(const struct rewrite *rw, const struct msg *m,
    char *const argv[], const char *spool_dir, char *err, size_t errlen);
/* Filter mode: the rewritten message on stdout, flushed to disk when stdout
 * is a file. 0, or -1 with the reason in err. */
int deliver_stdout(const struct rewrite *rw, const struct msg *m, char *err,
    size_t errlen);
/* Calls try_file on name, or on each PATH candidate when name has no slash,
 * until it returns non-zero; returns that, or 0. */
int lda_path_each(const char *name, int (*try_file)(const char *, void *), void *arg);
/* A copy of the LDA's argv with the words of extra (spam_lda_args...) added. */
char **lda_argv_build(char *const *lda, const char *extra);
void lda_argv_free(char **argv);

#endif
