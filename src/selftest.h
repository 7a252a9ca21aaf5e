/* --selftest: probes every Rspamd and API server of the configuration and
 * the LDA, delivers nothing, prints one line per check. */
#ifndef SPOT_SELFTEST_H
#define SPOT_SELFTEST_H

#include <stdio.h>

#include "config.h"

/* Returns the number of failed checks. */
int selftest_run(const struct config *cfg, char *const *lda, FILE *fp);

#endif
