/* bench/runner: starts and reaps the measured clients for bench/bench.py.
 *
 * Why not from Python: Linux carries a process's peak RSS across execve(2)
 * (ru_maxrss keeps the high-water mark of the memory the process had before
 * the exec), and a child made by fork/vfork starts with its parent's pages.
 * Every client spawned by the Python harness, which holds the 25 MB messages,
 * would report Python's RSS as its peak. This small static program forks
 * them instead; its own RSS is well below any client's.
 *
 * Usage: runner FD   (FD: an AF_UNIX SOCK_SEQPACKET socket to the harness)
 * Requests, one per packet:
 *   "S" argv[0] "\0" argv[1] "\0" ... "\0", with SCM_RIGHTS fds [stdin, stdout, stderr]
 *       fork; the child gets the three fds as 0, 1, 2, SIGPIPE at its default,
 *       and execv(argv[0]) (no PATH search)     reply "P pid t0_ns"
 *   "W" pid   wait4(pid, or -1 for 0)           reply "D pid status utime_us stime_us maxrss_kb t_ns"
 * Times are CLOCK_MONOTONIC nanoseconds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXARGS 256

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
reply(int sock, const char *s)
{
	if (send(sock, s, strlen(s), MSG_NOSIGNAL) < 0)
		exit(1);
}

int
main(int argc, char **argv)
{
	static char buf[65536];
	char out[256], *av[MAXARGS + 1], *p;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(3 * sizeof(int))];
	} ctl;
	int sock, fds[3], i, k, st;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	struct rusage ru;
	long long t0;
	ssize_t n;
	pid_t pid;

	if (argc != 2)
		return 64;
	sock = atoi(argv[1]);
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf) - 1;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		buf[n] = '\0';
		if (buf[0] == 'W') {
			pid = (pid_t)atoi(buf + 1);
			do
				pid = wait4(pid > 0 ? pid : -1, &st, 0, &ru);
			while (pid < 0 && errno == EINTR);
			snprintf(out, sizeof(out), "D %d %d %lld %lld %ld %lld", (int)pid,
			    pid < 0 ? -1 : st,
			    (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
			    (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
			    ru.ru_maxrss, now_ns());
			reply(sock, out);
			continue;
		}
		if (buf[0] != 'S')
			return 65;
		fds[0] = fds[1] = fds[2] = -1;
		cm = CMSG_FIRSTHDR(&mh);
		if (cm == NULL || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len != CMSG_LEN(3 * sizeof(int)))
			return 65;
		memcpy(fds, CMSG_DATA(cm), sizeof(fds));
		for (k = 0, p = buf + 1; p < buf + n && *p != '\0' && k < MAXARGS; k++) {
			av[k] = p;
			p += strlen(p) + 1;
		}
		av[k] = NULL;
		if (k == 0)
			return 65;
		t0 = now_ns();
		pid = fork();
		if (pid == 0) {
			for (i = 0; i < 3; i++)
				if (dup2(fds[i], i) < 0)
					_exit(126);
			signal(SIGPIPE, SIG_DFL);
			execv(av[0], av);
			_exit(127);
		}
		for (i = 0; i < 3; i++)
			close(fds[i]);
		snprintf(out, sizeof(out), "P %d %lld", (int)pid, t0);
		reply(sock, out);
	}
}
