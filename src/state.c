#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* How long an update may wait for another process's lock. */
#define LOCK_TRIES 20
#define LOCK_SLEEP_NS 1000000L

static struct kv *
find(const struct kvs *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return &s->v[i];
	return NULL;
}

int64_t
kvs_get(const struct kvs *s, const char *key)
{
	struct kv *kv = find(s, key);

	return kv ? kv->value : 0;
}

void
kvs_set(struct kvs *s, const char *key, int64_t value)
{
	struct kv *kv = find(s, key);

	if (kv == NULL) {
		s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
		kv = &s->v[s->n++];
		kv->key = xstrdup(key);
	}
	kv->value = value;
}

void
kvs_add(struct kvs *s, const char *key, int64_t delta)
{
	kvs_set(s, key, kvs_get(s, key) + delta);
}

void
kvs_del(struct kvs *s, const char *key)
{
	struct kv *kv = find(s, key);

	if (kv == NULL)
		return;
	free(kv->key);
	*kv = s->v[--s->n];
}

void
kvs_free(struct kvs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].key);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int
path_of(char *dst, size_t n, const char *dir, const char *name, const char *ext)
{
	int r = snprintf(dst, n, "%s/%s%s", dir, name, ext);

	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* Lines "VALUE KEY"; anything else is skipped, so a corrupt file is empty. */
static void
parse(FILE *fp, struct kvs *out)
{
	char line[1024], *end, *nl;
	long long v;

	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((nl = strchr(line, '\n')) == NULL)
			continue;
		*nl = '\0';
		errno = 0;
		v = strtoll(line, &end, 10);
		if (errno != 0 || end == line || *end != ' ' || end[1] == '\0')
			continue;
		kvs_set(out, end + 1, v);
	}
}

int
state_read(const char *dir, const char *name, struct kvs *out)
{
	char path[4096];
	FILE *fp;

	memset(out, 0, sizeof(*out));
	if (dir == NULL || *dir == '\0' || path_of(path, sizeof(path), dir, name, "") != 0)
		return -1;
	if ((fp = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	parse(fp, out);
	fclose(fp);
	return 0;
}

static int
lock_file(const char *path)
{
	struct timespec pause = { 0, LOCK_SLEEP_NS };
	int fd, i;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return -1;
	for (i = 0; i < LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK)
			break;
		nanosleep(&pause, NULL);
	}
	close(fd);
	return -1;
}

static int
write_all_kvs(const char *tmp, const char *path, const struct kvs *s)
{
	FILE *fp;
	size_t i;
	int rc = 0;

	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	for (i = 0; i < s->n; i++)
		fprintf(fp, "%lld %s\n", (long long)s->v[i].value, s->v[i].key);
	if (fflush(fp) != 0 || ferror(fp))
		rc = -1;
	if (fclose(fp) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int
state_update(const char *dir, const char *name, void (*fn)(struct kvs *, void *),
    void *arg)
{
	char path[4096], lock[4096], tmp[4096];
	struct kvs s;
	int fd, rc;

	if (dir == NULL || *dir == '\0' ||
	    path_of(path, sizeof(path), dir, name, "") != 0 ||
	    path_of(lock, sizeof(lock), dir, name, ".lock") != 0 ||
	    path_of(tmp, sizeof(tmp), dir, name, ".tmp") != 0)
		return -1;
	if ((fd = lock_file(lock)) < 0)
		return -1;
	if ((rc = state_read(dir, name, &s)) == 0) {
		fn(&s, arg);
		rc = write_all_kvs(tmp, path, &s);
	}
	kvs_free(&s);
	close(fd); /* releases the lock */
	return rc;
}
