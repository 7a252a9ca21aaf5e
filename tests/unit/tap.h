/* A tiny header-only TAP producer for the unit tests.
 *
 *	plan(n);                    or no plan and done_testing() at the end
 *	ok(cond, "what %d", i);
 *	is_int(got, want, "what");
 *	is_str(got, want, "what");  NULL is a value: is_str(NULL, NULL) passes
 *	is_mem(got, glen, want, wlen, "what");
 *	is_dbl(got, want, eps, "what");
 *	diag("text %s", s);         a "# " line on stdout
 *	return done_testing();      0, or 1 when a test failed or the count is off
 *
 * Every check returns its verdict so a caller can stop early. Static
 * functions only; all of them are marked unused so that a test file that
 * needs only some of them still builds with -Wall -Wextra -Werror. */
#ifndef SPOT_TAP_H
#define SPOT_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

static int tap_planned = -1;
static int tap_count;
static int tap_failed;

static TAP_UNUSED void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static TAP_UNUSED TAP_PRINTF(1, 0) void
tap_vdiag(const char *fmt, va_list ap)
{
	char text[4096];
	const char *p, *nl;

	vsnprintf(text, sizeof(text), fmt, ap);
	/* every line of a multi-line diagnostic is a comment */
	for (p = text;; p = nl + 1) {
		nl = strchr(p, '\n');
		printf("# %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
		if (nl == NULL || nl[1] == '\0')
			break;
	}
}

static TAP_UNUSED TAP_PRINTF(1, 2) void
diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static TAP_UNUSED TAP_PRINTF(4, 0) int
tap_vok(int pass, const char *file, int line, const char *fmt, va_list ap)
{
	char name[1024];
	char *p;

	vsnprintf(name, sizeof(name), fmt, ap);
	/* a newline or a '#' in a name would break the TAP line */
	for (p = name; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '#')
			*p = ' ';
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - %s\n", pass ? "" : "not ", tap_count, name);
	if (!pass)
		printf("#   Failed test '%s'\n#   at %s line %d.\n", name, file, line);
	fflush(stdout);
	return pass;
}

static TAP_UNUSED TAP_PRINTF(4, 5) int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	return r;
}

/* Shows bytes as a C-like string: printable ASCII as is, the rest escaped. */
static TAP_UNUSED void
tap_show(const char *label, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i, max = n > 600 ? 600 : n;

	printf("#     %s (%zu bytes): \"", label, n);
	for (i = 0; i < max; i++) {
		if (s[i] == '\n')
			fputs("\\n", stdout);
		else if (s[i] == '\r')
			fputs("\\r", stdout);
		else if (s[i] == '\t')
			fputs("\\t", stdout);
		else if (s[i] == '"' || s[i] == '\\')
			printf("\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f)
			printf("\\x%02x", s[i]);
		else
			putchar(s[i]);
	}
	printf("\"%s\n", max < n ? "..." : "");
}

static TAP_UNUSED TAP_PRINTF(7, 8) int
tap_is_mem(const char *file, int line, const void *got, size_t glen,
    const void *want, size_t wlen, const char *fmt, ...)
{
	const unsigned char *g = got, *w = want;
	va_list ap;
	size_t i, from;
	int pass;

	pass = got != NULL && glen == wlen && memcmp(got, want, wlen) == 0;
	va_start(ap, fmt);
	tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (pass)
		return 1;
	if (got == NULL) {
		printf("#     got NULL\n");
		tap_show("expected", want, wlen);
		return 0;
	}
	for (i = 0; i < glen && i < wlen && g[i] == w[i]; i++)
		;
	printf("#     first difference at byte %zu (got %zu bytes, expected %zu)\n",
	    i, glen, wlen);
	from = i > 40 ? i - 40 : 0;
	printf("#     from byte %zu:\n", from);
	tap_show("got     ", g + from, glen - from);
	tap_show("expected", w + from, wlen - from);
	fflush(stdout);
	return 0;
}

static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_is_str(const char *file, int line, const char *got, const char *want,
    const char *fmt, ...)
{
	va_list ap;
	int pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	va_start(ap, fmt);
	tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		if (got)
			tap_show("got     ", got, strlen(got));
		else
			printf("#     got      NULL\n");
		if (want)
			tap_show("expected", want, strlen(want));
		else
			printf("#     expected NULL\n");
		fflush(stdout);
	}
	return pass;
}

static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_is_int(const char *file, int line, long long got, long long want,
    const char *fmt, ...)
{
	va_list ap;
	int pass = got == want;

	va_start(ap, fmt);
	tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#     got:      %lld\n#     expected: %lld\n", got, want);
		fflush(stdout);
	}
	return pass;
}

static TAP_UNUSED TAP_PRINTF(6, 7) int
tap_is_dbl(const char *file, int line, double got, double want, double eps,
    const char *fmt, ...)
{
	va_list ap;
	double d = got - want;
	int pass = d <= eps && -d <= eps;  /* false for NaN */

	va_start(ap, fmt);
	tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		printf("#     got:      %.17g\n#     expected: %.17g (+- %g)\n",
		    got, want, eps);
		fflush(stdout);
	}
	return pass;
}

/* Fails unless hay (NUL-terminated) contains needle. */
static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_like(const char *file, int line, const char *hay, const char *needle,
    const char *fmt, ...)
{
	va_list ap;
	int pass = hay != NULL && strstr(hay, needle) != NULL;

	va_start(ap, fmt);
	tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		if (hay)
			tap_show("got        ", hay, strlen(hay));
		else
			printf("#     got NULL\n");
		tap_show("to contain ", needle, strlen(needle));
		fflush(stdout);
	}
	return pass;
}

/* Fails if hay contains needle. */
static TAP_UNUSED TAP_PRINTF(5, 6) int
tap_unlike(const char *file, int line, const char *hay, const char *needle,
    const char *fmt, ...)
{
	va_list ap;
	int pass = hay != NULL && strstr(hay, needle) == NULL;

	va_start(ap, fmt);
	tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	if (!pass) {
		if (hay)
			tap_show("got            ", hay, strlen(hay));
		else
			printf("#     got NULL\n");
		tap_show("not to contain ", needle, strlen(needle));
		fflush(stdout);
	}
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int(__FILE__, __LINE__, (long long)(got), (long long)(want), __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str(__FILE__, __LINE__, (got), (want), __VA_ARGS__)
#define is_mem(got, glen, want, wlen, ...) \
	tap_is_mem(__FILE__, __LINE__, (got), (glen), (want), (wlen), __VA_ARGS__)
#define is_dbl(got, want, eps, ...) \
	tap_is_dbl(__FILE__, __LINE__, (got), (want), (eps), __VA_ARGS__)
#define like(hay, needle, ...) tap_like(__FILE__, __LINE__, (hay), (needle), __VA_ARGS__)
#define unlike(hay, needle, ...) tap_unlike(__FILE__, __LINE__, (hay), (needle), __VA_ARGS__)

/* Prints the plan when there was none, and returns the exit status. */
static TAP_UNUSED int
done_testing(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_count);
	} else if (tap_count != tap_planned) {
		printf("# planned %d tests but ran %d\n", tap_planned, tap_count);
		fflush(stdout);
		return 1;
	}
	if (tap_failed)
		printf("# failed %d of %d tests\n", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed ? 1 : tap_count == 0;
}

/* Reads a whole file into a NUL-terminated heap buffer; NULL on error. */
static TAP_UNUSED char *
tap_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n = 0, r;

	if (fp == NULL)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			char *p;

			cap = cap ? cap * 2 : 8192;
			if ((p = realloc(data, cap)) == NULL) {
				free(data);
				fclose(fp);
				return NULL;
			}
			data = p;
		}
		r = fread(data + n, 1, cap - n - 1, fp);
		n += r;
		if (r == 0)
			break;
	}
	fclose(fp);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

#endif
