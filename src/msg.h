/* Message input. stdin is read completely, byte for byte: the first
 * spool_threshold bytes stay on the heap, anything longer goes to an unlinked
 * spool file (O_TMPFILE), so no temporary file is ever left behind and the
 * memory used does not grow with the message. The rest is moved by the
 * kernel (splice(2) from a pipe, sendfile(2) from a file), and the message
 * starts room bytes into the spool file (SPOOL_ROOM when an LDA is to read
 * it): the new header block can be written in front of the body, and the
 * LDA read the spool file itself. A leading mbox "From " line is kept for
 * delivery but is not part of what the scanners see. */
#ifndef SPOT_MSG_H
#define SPOT_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_ROOM 2048

struct msg {
	char *head;        /* the first head_len bytes of the message */
	size_t head_len;
	int spool_fd;      /* the whole message from room on, or -1 when head
	                    * is all of it */
	uint64_t room;     /* bytes kept free in front of it in the spool file */
	uint64_t size;
	size_t from_len;   /* length of a leading "From " line with its newline */
};

enum msg_status {
	MSG_OK,
	MSG_EMPTY,     /* no bytes at all */
	MSG_TOO_BIG,   /* more than max_size bytes */
	MSG_IO_ERROR,  /* reading stdin or writing the spool failed */
};

enum msg_status msg_read(struct msg *m, int fd, uint64_t spool_threshold,
    uint64_t max_size, uint64_t room, const char *spool_dir, char *err,
    size_t errlen);
void msg_free(struct msg *m);

/* pread(2) on the message: returns bytes read, 0 at the end, -1 on error. */
ssize_t msg_pread(const struct msg *m, void *buf, size_t len, uint64_t off);
/* Writes bytes [off, off + len) of the message to fd; 0 or -1 (errno set). */
int msg_copy_out(const struct msg *m, int fd, uint64_t off, uint64_t len);
/* Opens an unlinked temporary file in dir (or $TMPDIR, /tmp). */
int spool_open(const char *dir);

#endif
