#include "corelimit.h"

#include <sys/resource.h>

static struct rlimit saved;
static int have_saved;

void
core_limit_drop(void)
{
	struct rlimit none;

	if (!have_saved) {
		if (getrlimit(RLIMIT_CORE, &saved) != 0)
			return;
		have_saved = 1;
	}
	none.rlim_cur = 0;
	none.rlim_max = saved.rlim_max;
	setrlimit(RLIMIT_CORE, &none);
}

void
core_limit_restore(void)
{
	if (have_saved)
		setrlimit(RLIMIT_CORE, &saved);
}
