/* bench/linkfloor: does nothing. bench/bench.py links it against the same
 * shared libraries as spot-deliver (gmime-3.0, libcurl, libcjson, with
 * --no-as-needed), so running it measures what the dynamic loader and the
 * libraries' constructors cost any program of that link set. */
int
main(void)
{
	return 0;
}
