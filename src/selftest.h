/* --selftest: probes every Rspamd and API server of the configuration and
 * the LDA, opens the files a delivery opens, delivers nothing, prints one line per check. */
#ifndef SPOT_SELFTEST_H
#define SPOT_SELFTEST_H

#include <stdio.h>

#include "config.h"

/* --check-config: a state_dir that deliveries will not use, why, and the
 * command that fixes it; nothing when it is fine or not configured. */
void selftest_state_dir_warning(const struct config *cfg, FILE *fp);
/* Returns the number of failed checks. */
int selftest_run(const struct config *cfg, char *const *lda, FILE *fp);

#endif
