/* bench/lda: the final delivery agent of every benchmark case: copies
 * standard input to the file named by argv[1] (created or truncated), like a
 * minimal LDA writing a mailbox file. No fsync: the benchmark measures the
 * clients, not the disk. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static char buf[128 * 1024];
	ssize_t r, w, off;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: lda FILE < message\n");
		return 64;
	}
	if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		perror(argv[1]);
		return 75;
	}
	for (;;) {
		r = read(0, buf, sizeof(buf));
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("read");
			return 75;
		}
		for (off = 0; off < r; off += w) {
			w = write(fd, buf + off, (size_t)(r - off));
			if (w < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				perror("write");
				return 75;
			}
		}
	}
	if (close(fd) != 0) {
		perror("close");
		return 75;
	}
	return 0;
}
