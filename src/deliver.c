#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corelimit.h"
#include "http.h"
#include "scan.h"
#include "spot.h"
#include "util.h"

/* Head bytes with each NUL as a space, a small buffer at a time. */
static int
write_nul_to_space(int fd, const char *p, size_t len)
{
	char chunk[4096];
	size_t n, i;

	for (; len > 0; p += n, len -= n) {
		n = len < sizeof(chunk) ? len : sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = p[i] == '\0' ? ' ' : p[i];
		if (write_all(fd, chunk, n) != 0)
			return -1;
	}
	return 0;
}

int
deliver_write(const struct rewrite *rw, const struct msg *m, int fd)
{
	size_t i;

	for (i = 0; i < rw->npieces; i++) {
		const struct piece *p = &rw->pieces[i];
		int rc = p->literal ?
		    write_all(fd, rw->text.data + p->off, (size_t)p->len) :
		    p->nul_to_space ?
		    write_nul_to_space(fd, m->head + p->off, (size_t)p->len) :
		    msg_copy_out(m, fd, p->off, p->len);

		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The new head written over the room and the old head in front of the
 * unchanged rest, in the spool file itself (rewrite_plan_in_place()). The
 * scanners are done with it, and an LDA that rewinds its stdin (Dovecot's
 * does) finds the first byte of the new message at offset 0. */
static int
write_front_in_place(const struct rewrite *rw, const struct msg *m)
{
	struct rewrite front = *rw;
	uint64_t rest = rw->pieces[rw->npieces - 1].off;

	front.npieces--;
	if (lseek(m->spool_fd, 0, SEEK_SET) != 0 ||
	    deliver_write(&front, m, m->spool_fd) != 0)
		return -1;
	if (lseek(m->spool_fd, 0, SEEK_CUR) != (off_t)(m->room + rest)) {
		errno = EIO; /* the plan does not fit the room: never deliver that */
		return -1;
	}
	return lseek(m->spool_fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

/* A small message is copied to anonymous memory, a spooled one whose new
 * head does not fit in place to another unlinked spool file: the LDA gets
 * a regular, seekable file either way. */
static int
copy_for_lda(const struct rewrite *rw, const struct msg *m, const char *spool_dir)
{
	int fd;

	if (m->spool_fd < 0)
		fd = memfd_create("spot-deliver", MFD_CLOEXEC);
	else
		fd = spool_open(spool_dir);
	if (fd < 0)
		return -1;
	if (deliver_write(rw, m, fd) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
lda_path_each(const char *name, int (*try_file)(const char *, void *), void *arg)
{
	const char *path, *p, *end;
	char file[4096];
	int r;

	if (strchr(name, '/') != NULL)
		return try_file(name, arg);
	path = getenv("PATH");
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		r = snprintf(file, sizeof(file), "%.*s/%s", (int)(end - p),
		    end == p ? "." : p, name);
		if (r > 0 && (size_t)r < sizeof(file) && (r = try_file(file, arg)) != 0)
			return r;
		if (*end == '\0')
			return 0;
	}
}

struct exec_try {
	char *const *argv;
	int saved_errno;
};

static int
try_exec(const char *file, void *arg)
{
	struct exec_try *t = arg;

	execv(file, t->argv);
	if (errno != ENOENT && errno != ENOTDIR)
		t->saved_errno = errno;
	return 0;
}

/* execv(2) on argv[0], searching PATH when it has no slash. Unlike
 * execvp(3), never falls back to /bin/sh for a file that is not a program. */
static void
exec_program(char *const argv[])
{
	struct exec_try t = { argv, ENOENT };

	if (strchr(argv[0], '/') != NULL) {
		execv(argv[0], argv);
		return;
	}
	lda_path_each(argv[0], try_exec, &t);
	errno = t.saved_errno;
}

int
deliver_stdin(const struct rewrite *rw, const struct msg *m, const char *spool_dir,
    char *err, size_t errlen)
{
	int in_place = rw->in_place && m->spool_fd >= 0, fd, rc;

	if (in_place) {
		fd = m->spool_fd;
		if (write_front_in_place(rw, m) != 0) {
			snprintf(err, errlen, "cannot write the new header block: %s",
			    strerror(errno));
			return -1;
		}
	} else if ((fd = copy_for_lda(rw, m, spool_dir)) < 0) {
		snprintf(err, errlen, "cannot copy the message for the LDA: %s",
		    strerror(errno));
		return -1;
	}
	rc = dup2(fd, STDIN_FILENO);
	if (!in_place)
		close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "dup2: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
deliver_exec(char *const argv[], char *err, size_t errlen)
{
	int saved;

	/* An ignored signal stays ignored across execve(2): give the LDA the
	 * SIGPIPE and SIGXFSZ it expects. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	core_limit_restore();
	exec_program(argv);
	saved = errno;
	core_limit_drop();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	snprintf(err, errlen, "cannot execute %s: %s", argv[0], strerror(saved));
}

int
deliver_stdout(const struct rewrite *rw, const struct msg *m, char *err,
    size_t errlen)
{
	struct stat st;

	if (deliver_write(rw, m, STDOUT_FILENO) != 0) {
		snprintf(err, errlen, "write to stdout: %s", strerror(errno));
		return -1;
	}
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    fsync(STDOUT_FILENO) != 0) {
		snprintf(err, errlen, "fsync stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

enum handoff_result
deliver_handoff(const struct handoff *p, char *err, size_t errlen)
{
	struct http_req req;
	struct upstream_target t;
	enum handoff_result st = HANDOFF_FAILED;
	long timeout;

	memset(&req, 0, sizeof(req));
	upstream_target_init(&t, p->api, p->memory, p->seed,
	    now_ms() + p->cfg->analysis_timeout_ms);
	snprintf(err, errlen, "no API server to ask");
	while ((timeout = upstream_target_next(&t)) > 0) {
		http_req_free(&req);
		spot_request(&req, t.url, p->cfg, p->env, p->m, p->idem_key, timeout);
		if (http_perform(&req, timeout) != 0) {
			snprintf(err, errlen, "no answer within %ld ms", timeout);
			scan_event(p->events, "SPOT API", &t, NULL, 0, err);
		} else if (req.result == CURLE_OK && req.status / 100 == 2) {
			scan_event(p->events, "SPOT API", &t, &req, 1, NULL);
			st = HANDOFF_DONE;
			break;
		} else {
			http_req_error(&req, err, errlen);
			if (!http_req_host_failed(&req)) {
				if (req.status == 401 || req.status == 403)
					st = HANDOFF_AUTH;
				break;
			}
			scan_event(p->events, "SPOT API", &t, &req, 0, NULL);
		}
	}
	http_req_free(&req);
	return st;
}

char **
lda_argv_build(char *const *lda, const char *extra)
{
	size_t n = 0, len;
	const char *p = extra ? extra : "", *e;
	char **argv;

	while (lda[n] != NULL)
		n++;
	argv = xcalloc(n + 1, sizeof(*argv));
	for (n = 0; lda[n] != NULL; n++)
		argv[n] = xstrdup(lda[n]);
	while ((e = list_next(&p, " \t", &len)) != NULL) {
		argv = xreallocarray(argv, n + 2, sizeof(*argv));
		argv[n++] = xstrndup(e, len);
		argv[n] = NULL;
	}
	return argv;
}

void
lda_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}
