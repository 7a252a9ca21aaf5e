#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "util.h"

static int log_sink = LOG_SINK_STDERR;
static char log_qid[64];
static int64_t verbose_start = -1;

void
log_open(int sink)
{
	log_sink = sink;
	if (sink == LOG_SINK_SYSLOG)
		openlog("spot-deliver", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* Postfix's queue ids are letters and digits: anything else from argv is
 * shown as '?', so a hostile --queue-id cannot forge a field or a line. */
void
log_set_queue_id(const char *qid)
{
	size_t i;
	unsigned char c;

	if (qid == NULL || *qid == '\0')
		qid = "NOQUEUE";
	for (i = 0; i < sizeof(log_qid) - 1 && qid[i] != '\0'; i++) {
		c = (unsigned char)qid[i];
		log_qid[i] = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-' ?
		    (char)c : '?';
	}
	log_qid[i] = '\0';
}

static void
vlog(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Postfix's shape, on both sinks: "warning: QUEUEID: text". */
static void
vlog(int prio, const char *fmt, va_list ap)
{
	char line[4096];
	const char *level = prio == LOG_WARNING ? "warning: " :
	    prio == LOG_ERR ? "error: " : "";
	int n;

	n = snprintf(line, sizeof(line), "%s%s%s", level, log_qid,
	    log_qid[0] != '\0' ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	/* a longer line is cut: its start names the message and the problem */
	if (vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap) < 0)
		return;
	switch (log_sink) {
	case LOG_SINK_SYSLOG:
		syslog(prio, "%s", line);
		break;
	case LOG_SINK_STDERR:
		fprintf(stderr, "spot-deliver: %s\n", line);
		break;
	}
}

void
log_at(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

void
log_set_verbose(void)
{
	verbose_start = now_ms();
}

void
log_verbose(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (verbose_start < 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) >= 0)
		fprintf(stderr, "spot-deliver: verbose: %lld ms: %s\n",
		    (long long)(now_ms() - verbose_start), line);
	va_end(ap);
}
