/* Mail that is not scanned at all: from trusted networks or senders, to
 * recipients that opted out (skip_recipients) or, when scan_recipients is
 * set, to none of the recipients that opted in. */
#ifndef SPOT_SKIP_H
#define SPOT_SKIP_H

#include <stddef.h>

#include "config.h"
#include "envelope.h"

/* NULL to scan, else the name of the key that says not to. */
const char *skip_reason(const struct config *cfg, const struct envelope *env);
/* Checks skip_networks: 0, or -1 with the bad entry in err. */
int skip_check_networks(const char *list, char *err, size_t errlen);

#endif
