#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static int log_sink = LOG_SINK_STDERR;

void
log_open(int sink)
{
	log_sink = sink;
	if (sink == LOG_SINK_SYSLOG)
		openlog("spot-deliver", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void
vlog(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
vlog(int prio, const char *fmt, va_list ap)
{
	switch (log_sink) {
	case LOG_SINK_SYSLOG:
		vsyslog(prio, fmt, ap);
		break;
	case LOG_SINK_STDERR:
		fputs("spot-deliver: ", stderr);
		if (prio == LOG_WARNING)
			fputs("warning: ", stderr);
		else if (prio == LOG_ERR)
			fputs("error: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		break;
	}
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}
