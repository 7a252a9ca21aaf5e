/* bench/linkfloor: does nothing, but is linked like spot-deliver (the same
 * pkg-config libraries, and a reference into each so that the same NEEDED
 * entries stay): running it measures what the dynamic loader and the
 * libraries' constructors cost any program of that link set, before main(). */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <gmime/gmime.h>

int
main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1000) { /* never: only keeps the references */
		g_mime_init();
		g_object_unref(NULL);
		g_free(NULL);
		curl_global_init(CURL_GLOBAL_NOTHING);
		cJSON_Delete(NULL);
	}
	return 0;
}
