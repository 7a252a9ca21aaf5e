#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void (*oom_hook)(void);

void
set_out_of_memory(void (*hook)(void))
{
	oom_hook = hook;
}

void
out_of_memory(void)
{
	if (oom_hook != NULL)
		oom_hook();
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size != 0 && n > SIZE_MAX / size)
		out_of_memory();
	q = realloc(p, n != 0 && size != 0 ? n * size : 1);
	if (q == NULL)
		out_of_memory();
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
buf_reserve(struct buf *b, size_t extra)
{
	size_t cap;

	if (extra < b->cap - b->len && b->data != NULL)
		return;
	if (extra > SIZE_MAX / 2 - b->len)
		out_of_memory();
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= extra)
		cap *= 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *
buf_cstr(struct buf *b)
{
	buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return b->data;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sanitize_value(char *dst, size_t n, const char *s, size_t max)
{
	size_t i;

	if (n == 0)
		return;
	if (max > n - 1)
		max = n - 1;
	for (i = 0; i < max && s[i] != '\0'; i++)
		dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
	dst[i] = '\0';
}

size_t
name_index(const char *s, const char *const names[], size_t n,
    int (*cmp)(const char *, const char *))
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cmp(s, names[i]) == 0)
			break;
	return i;
}

const char *
list_next(const char **p, const char *seps, size_t *len)
{
	const char *s = *p + strspn(*p, seps);

	*len = strcspn(s, seps);
	*p = s + *len;
	return *len != 0 ? s : NULL;
}

int
has_control_char(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void
format_duration(char *dst, size_t n, int64_t seconds)
{
	long long s = seconds > 0 ? (long long)seconds : 0;

	if (s >= 86400)
		snprintf(dst, n, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(dst, n, "%lldh%lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(dst, n, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(dst, n, "%llds", s);
}
