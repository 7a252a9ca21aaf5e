/* A small key -> number store in a text file under state_dir, shared by all
 * spot-deliver processes of a host: the dead-upstream memory and the
 * counters. Updates take an flock(2) on FILE.lock without waiting long,
 * write FILE.tmp and rename it over FILE. A missing, corrupt or unwritable
 * file means no memory, never a failed delivery: every error is ignored by
 * the callers. */
#ifndef SPOT_STATE_H
#define SPOT_STATE_H

#include <stddef.h>
#include <stdint.h>

struct kv {
	char *key;
	int64_t value;
};

struct kvs {
	struct kv *v;
	size_t n;
};

int64_t kvs_get(const struct kvs *s, const char *key);
void kvs_set(struct kvs *s, const char *key, int64_t value);
void kvs_add(struct kvs *s, const char *key, int64_t delta);
void kvs_del(struct kvs *s, const char *key);
void kvs_free(struct kvs *s);

/* Reads dir/name: 0 (an absent file is empty) or -1. */
int state_read(const char *dir, const char *name, struct kvs *out);
/* Read, change with fn, write back, under the lock: 0 or -1. */
int state_update(const char *dir, const char *name,
    void (*fn)(struct kvs *, void *), void *arg);

#endif
