/* No core file may hold a secret. The soft RLIMIT_CORE is 0 from the first
 * line of main(), before the config or the key is read, and becomes the
 * caller's again only for the LDA, right before execve(2) replaces this
 * process and its memory. */
#ifndef SPOT_CORELIMIT_H
#define SPOT_CORELIMIT_H

/* Remembers the caller's limit (the first time) and sets the soft one to 0. */
void core_limit_drop(void);
/* The caller's limit again: only right before execve(2). */
void core_limit_restore(void);

#endif
