#include "msg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CHUNK (64 * 1024)

static ssize_t
read_some(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int
spool_open(const char *dir)
{
	char path[4096];
	int fd, r;

	if (dir == NULL || *dir == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	/* A file system without O_TMPFILE: unlink right after creation. */
	r = snprintf(path, sizeof(path), "%s/spot-deliver.XXXXXX", dir);
	if (r < 0 || (size_t)r >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
		unlink(path);
	return fd;
}

static size_t
from_line_length(const char *p, size_t n)
{
	const char *nl;

	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return 0;
	/* without its newline it separates nothing: leave it to the header block */
	nl = memchr(p, '\n', n);
	return nl ? (size_t)(nl - p) + 1 : 0;
}

/* The kernel moves the rest of stdin into the spool: splice(2) from a
 * pipe (Postfix's pipe(8), fetchmail), sendfile(2) from a file. The bytes
 * moved, 0 at the end of stdin, or -1 with errno set (EINVAL or ENOSYS:
 * not on these descriptors, read(2) and write(2) then). At most want bytes
 * a call, so that max_size is seen when it is passed. */
static ssize_t
move_by_kernel(int in, int out, int in_is_pipe, size_t want)
{
	ssize_t r;

	do
		r = in_is_pipe ? splice(in, NULL, out, NULL, want, 0) :
		    sendfile(out, in, NULL, want);
	while (r < 0 && errno == EINTR);
	return r;
}

static enum msg_status
spool_rest(struct msg *m, int fd, uint64_t max_size, const char *spool_dir,
    char *err, size_t errlen)
{
	struct stat st;
	char *chunk = NULL;
	ssize_t r;
	size_t want;
	int by_kernel, in_is_pipe;

	if ((m->spool_fd = spool_open(spool_dir)) < 0) {
		snprintf(err, errlen, "cannot create a spool file in %s: %s",
		    *spool_dir ? spool_dir : "$TMPDIR", strerror(errno));
		return MSG_IO_ERROR;
	}
	if (lseek(m->spool_fd, (off_t)m->room, SEEK_SET) != (off_t)m->room ||
	    write_all(m->spool_fd, m->head, m->head_len) != 0) {
		snprintf(err, errlen, "spool write: %s", strerror(errno));
		return MSG_IO_ERROR;
	}
	by_kernel = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode));
	in_is_pipe = by_kernel && S_ISFIFO(st.st_mode);
	if (in_is_pipe)
		fcntl(fd, F_SETPIPE_SZ, 1 << 20);
	for (;;) {
		/* one byte past max_size is enough to know it is too big */
		want = max_size - m->size < CHUNK * 16 ? (size_t)(max_size - m->size) + 1 :
		    CHUNK * 16;
		if (by_kernel) {
			r = move_by_kernel(fd, m->spool_fd, in_is_pipe, want);
			if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
				by_kernel = 0;
				continue;
			}
			if (r < 0) {
				snprintf(err, errlen, "copy of stdin to the spool: %s",
				    strerror(errno));
				break;
			}
		} else {
			if (chunk == NULL)
				chunk = xmalloc(CHUNK);
			if ((r = read_some(fd, chunk, want < CHUNK ? want : CHUNK)) < 0) {
				snprintf(err, errlen, "read stdin: %s", strerror(errno));
				break;
			}
			if (write_all(m->spool_fd, chunk, (size_t)r) != 0) {
				snprintf(err, errlen, "spool write: %s", strerror(errno));
				r = -1;
				break;
			}
		}
		if (r == 0)
			break;
		m->size += (uint64_t)r;
		if (m->size > max_size)
			break;
	}
	free(chunk);
	if (r < 0)
		return MSG_IO_ERROR;
	return m->size > max_size ? MSG_TOO_BIG : MSG_OK;
}

enum msg_status
msg_read(struct msg *m, int fd, uint64_t spool_threshold, uint64_t max_size,
    uint64_t room, const char *spool_dir, char *err, size_t errlen)
{
	size_t cap = spool_threshold < 64 * 1024 ? spool_threshold : 64 * 1024;
	ssize_t r;

	memset(m, 0, sizeof(*m));
	m->spool_fd = -1;
	m->room = room;
	m->head = xmalloc(cap);
	for (;;) {
		if (m->head_len == cap) {
			if (cap >= spool_threshold)
				break;
			cap = cap * 2 < spool_threshold ? cap * 2 : spool_threshold;
			m->head = xreallocarray(m->head, cap, 1);
		}
		r = read_some(fd, m->head + m->head_len, cap - m->head_len);
		if (r == 0)
			break;
		if (r < 0) {
			snprintf(err, errlen, "read stdin: %s", strerror(errno));
			return MSG_IO_ERROR;
		}
		m->head_len += (size_t)r;
		if (m->head_len > max_size)
			return MSG_TOO_BIG;
	}
	m->size = m->head_len;
	if (m->size == 0)
		return MSG_EMPTY;
	m->from_len = from_line_length(m->head, m->head_len);
	if (m->head_len < cap)
		return MSG_OK;
	return spool_rest(m, fd, max_size, spool_dir, err, errlen);
}

void
msg_free(struct msg *m)
{
	free(m->head);
	m->head = NULL;
	if (m->spool_fd >= 0)
		close(m->spool_fd);
	m->spool_fd = -1;
}

ssize_t
msg_pread(const struct msg *m, void *buf, size_t len, uint64_t off)
{
	ssize_t r;

	if (off >= m->size)
		return 0;
	if (len > m->size - off)
		len = (size_t)(m->size - off);
	if (off + len <= m->head_len) {
		memcpy(buf, m->head + off, len);
		return (ssize_t)len;
	}
	do
		r = pread(m->spool_fd, buf, len, (off_t)(m->room + off));
	while (r < 0 && errno == EINTR);
	return r;
}

static int
copy_from_spool(int in, int out, uint64_t off, uint64_t len)
{
	off_t pos = (off_t)off;
	char *chunk;
	ssize_t r;

	while (len > 0) {
		r = sendfile(out, in, &pos, len > (1 << 30) ? (1 << 30) : len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len -= (uint64_t)r;
	}
	if (len == 0)
		return 0;
	if (r == 0) {
		errno = EIO; /* the spool file is shorter than we wrote */
		return -1;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* sendfile(2) refuses some outputs (an O_APPEND file): copy by hand. */
	chunk = xmalloc(CHUNK);
	while (len > 0) {
		r = pread(in, chunk, len < CHUNK ? (size_t)len : CHUNK, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || write_all(out, chunk, (size_t)r) != 0) {
			if (r == 0)
				errno = EIO;
			free(chunk);
			return -1;
		}
		pos += r;
		len -= (uint64_t)r;
	}
	free(chunk);
	return 0;
}

int
msg_copy_out(const struct msg *m, int fd, uint64_t off, uint64_t len)
{
	if (off > m->size || len > m->size - off) {
		errno = EINVAL;
		return -1;
	}
	if (m->spool_fd < 0 || off + len <= m->head_len)
		return write_all(fd, m->head + off, (size_t)len);
	return copy_from_spool(m->spool_fd, fd, m->room + off, len);
}
