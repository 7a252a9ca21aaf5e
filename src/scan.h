/* Asks Rspamd and the SPOT API at the same time and waits for both, each
 * within its own deadline; the answers become a scan_result for decide(). */
#ifndef SPOT_SCAN_H
#define SPOT_SCAN_H

#include "config.h"
#include "decide.h"
#include "envelope.h"
#include "msg.h"

/* Fills the rspamd_* and api_* parts of sr for the scanners asked. */
void scan_run(const struct config *cfg, const struct envelope *env,
    const struct msg *m, const char *idem_key, int ask_rspamd, int ask_api,
    struct scan_result *sr);
/* Hand-off: POSTs the message to the API, whose 2xx is the delivery.
 * Returns SCAN_DONE, SCAN_AUTH or SCAN_FAILED (error in err). */
enum scan_state scan_handoff(const struct config *cfg, const struct envelope *env,
    const struct msg *m, const char *idem_key, char *err, size_t errlen);

#endif
