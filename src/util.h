/* Small checked helpers shared by every module: allocation that never returns
 * NULL (an out-of-memory LDA proxy can only defer: cmd/ installs the hook
 * that says so), a growable byte buffer, and monotonic time. */
#ifndef SPOT_UTIL_H
#define SPOT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Called when memory runs out; the hook must not return (abort() if it
 * does, or if none is set). */
void set_out_of_memory(void (*hook)(void));
void out_of_memory(void) __attribute__((noreturn));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* NUL-terminates without counting the NUL in len. */
const char *buf_cstr(struct buf *b);
void buf_free(struct buf *b);

int64_t now_ms(void);
/* write(2) until all of it is written: 0, or -1 with errno set. */
int write_all(int fd, const void *p, size_t n);

/* Copies s into dst (size n), replacing every control character (CR, LF,
 * NUL, TAB...) by a space and cutting at max bytes, so that a value taken
 * from a server can never start a new header line. */
void sanitize_value(char *dst, size_t n, const char *s, size_t max);
/* Whether s has a control character: a value that goes into a header, the
 * log or a status line as it is must have none. */
int has_control_char(const char *s);

/* The index of s in names (n of them) by cmp (strcmp, strcasecmp), or n. */
size_t name_index(const char *s, const char *const names[], size_t n,
    int (*cmp)(const char *, const char *));

/* The next entry of a list separated by any of seps ("a, b c"): its start,
 * its length in *len, and *p moved past it; NULL when none is left. */
const char *list_next(const char **p, const char *seps, size_t *len);

/* "20s", "12m5s", "4h12m", "2d3h": the two largest units of a number of
 * seconds (negative counts as 0). */
void format_duration(char *dst, size_t n, int64_t seconds);

#endif
