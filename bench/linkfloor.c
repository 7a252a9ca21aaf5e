/* bench/linkfloor: does nothing, but is linked like spot-deliver. Built with
 * -DUSE_GMIME -DUSE_CURL -DUSE_CJSON and the same pkg-config libraries, it
 * keeps the same NEEDED entries (a reference into each library), so running it
 * measures what the dynamic loader and the libraries' constructors cost any
 * program of that link set, before main(). bench/bench.py also builds it with
 * one library at a time, to show which one costs what. */
#ifdef USE_CJSON
#include <cjson/cJSON.h>
#endif
#ifdef USE_CURL
#include <curl/curl.h>
#endif
#if defined(USE_GMIME)
#include <gmime/gmime.h>
#elif defined(USE_GLIB)
#include <glib.h>
#endif

int
main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1000) { /* never: only keeps the references */
#ifdef USE_GMIME
		g_mime_init();
		g_object_unref(NULL);
#endif
#if defined(USE_GMIME) || defined(USE_GLIB)
		g_free(NULL);
#endif
#ifdef USE_CURL
		curl_global_init(CURL_GLOBAL_NOTHING);
#endif
#ifdef USE_CJSON
		cJSON_Delete(NULL);
#endif
	}
	return 0;
}
