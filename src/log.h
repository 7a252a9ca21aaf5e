/* Where diagnostics go. Under an MTA the output of a failing delivery agent
 * becomes the bounce or defer text, and Postfix reads an enhanced status code
 * only at its very start: so diagnostics go to syslog (LOG_MAIL) in
 * production, and to stderr only when asked (--log stderr, the tests). */
#ifndef SPOT_LOG_H
#define SPOT_LOG_H

#include <syslog.h>

#include "config.h"

void log_open(int sink);
/* Every later line names this message: its queue id, or "NOQUEUE" for
 * NULL or "" (as Postfix writes). Never called for the tools, whose lines
 * concern no message. */
void log_set_queue_id(const char *qid);
/* One line at a syslog(3) priority. */
void log_at(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERR, __VA_ARGS__)
/* -v: each step, with the ms since log_set_verbose(), on stderr whatever
 * the sink (never stdout, where filter mode writes the message); callers
 * pass no secret. */
void log_set_verbose(void);
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
