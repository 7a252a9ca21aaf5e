/* libFuzzer target: the config parser. Byte 0 chooses: even, the rest is a
 * config file (read by config_load_file from a memfd); odd, the rest is a
 * list of "key<NUL>value<NUL>" pairs for config_set. Then config_finish (with
 * api_key_file emptied: the fuzzer names no file to read), config_dump and
 * config_free. Errors are fine; crashes, leaks and unterminated error
 * texts are not. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static FILE *null;
	static char path[64];
	struct config cfg;
	char err[CONFIG_ERR_SIZE], warn[CONFIG_ERR_SIZE];
	const char *p, *end, *key, *value;

	if (fd < 0) {
		fd = memfd_create("fuzz-config", 0);
		null = fopen("/dev/null", "w");
		if (fd < 0 || null == NULL)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		unsetenv("SPOT_API_KEY");
	}
	if (size < 1)
		return 0;
	config_init(&cfg);
	err[0] = '\0';
	if ((data[0] & 1) == 0) {
		if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) !=
		    (ssize_t)(size - 1))
			abort();
		if (config_load_file(&cfg, path, 1, err, sizeof(err)) != 0)
			FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0] != '\0',
			    "a file error says something");
	} else {
		p = (const char *)data + 1;
		end = (const char *)data + size;
		while (p < end) {
			key = p;
			p = memchr(p, '\0', (size_t)(end - p));
			if (p == NULL)
				break;
			value = ++p;
			p = memchr(p, '\0', (size_t)(end - p));
			if (p == NULL)
				break;
			p++;
			if (config_set(&cfg, key, value, err, sizeof(err)) != 0)
				FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0] != '\0',
				    "a config_set error says something");
		}
	}
	if (config_set(&cfg, "api_key_file", "", err, sizeof(err)) != 0)
		abort();
	config_finish(&cfg, err, sizeof(err), warn, sizeof(warn));
	config_dump(&cfg, null);
	config_free(&cfg);
	return 0;
}
