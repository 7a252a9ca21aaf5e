/* The envelope facts the MTA passes in argv (Postfix pipe(8) macros). */
#ifndef SPOT_ENVELOPE_H
#define SPOT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct envelope {
	const char *sender;
	const char **rcpt;
	size_t nrcpt;
	const char *client_address;
	const char *helo;
	const char *client_hostname;
	const char *queue_id;
	const char *user;
	int64_t arrival_time;  /* --arrival-time, epoch seconds; 0: not given */
};

#endif
