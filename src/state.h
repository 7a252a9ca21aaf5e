/* The files under state_dir that all spot-deliver processes of a host
 * share: the counters and the dead-host memory. Each file has a fixed
 * layout, a header (magic, version, size) and then 64-bit words; it is
 * mapped MAP_SHARED and changed with atomic operations only, so no process
 * ever waits for another and no update is lost.
 *
 * The directory and its files are trusted only when they belong to the
 * effective user and nobody else may write them; every open refuses
 * symbolic links, a new file is made complete under no name (O_TMPFILE, or
 * a random name) and then linked into place, and a file of another type,
 * size, owner or magic is not used. Anything wrong means no memory, never
 * a failed delivery. */
#ifndef SPOT_STATE_H
#define SPOT_STATE_H

#include <stddef.h>
#include <stdint.h>

#define STATE_VERSION 1

enum state_dir_status {
	STATE_DIR_OK,
	STATE_DIR_NONE,     /* state_dir empty or absent: the feature is off */
	STATE_DIR_UNSAFE,   /* wrong owner or mode: fixed by install -d -o USER -m 0755 */
	STATE_DIR_ERROR,    /* anything else */
};

/* Opens dir for the files of this process: *fd, or why not in why. */
enum state_dir_status state_dir_open(const char *dir, int *fd, char *why,
    size_t n);

struct state_map {
	uint64_t *w;        /* the nwords words after the header; NULL: none */
	size_t nwords;
	void *base;
	size_t size;
};

/* Maps dirfd/name, creating it (all words 0) when absent: 0, or -1 and
 * why. */
int state_map_open(struct state_map *m, int dirfd, const char *name,
    const char magic[8], size_t nwords, char *why, size_t n);
void state_map_close(struct state_map *m);
/* Whether the file can be opened and mapped: 0, or -1 and why. */
int state_probe(int dirfd, const char *name, const char magic[8],
    size_t nwords, char *why, size_t n);

/* Copies the words of dir/name into w without changing anything and
 * without trusting its owner (for --stats): 1, 0 when the directory or the
 * file does not exist (w is all 0 then), or -1 and why. */
int state_file_read(const char *dir, const char *name, const char magic[8],
    uint64_t *w, size_t nwords, char *why, size_t n);

/* Runs fn(arg), which may touch maps: 0, or -1 when a map's file was
 * shortened under it (SIGBUS) and fn was cut short there. What fn holds at
 * that moment (a map, a descriptor) is left to the end of the process; fn
 * must not take locks or call state_guard() itself. */
int state_guard(void (*fn)(void *), void *arg);

/* Whether m's file still covers the whole map: 0, or -1 when it was
 * shortened (a word of the last page would be a SIGBUS). */
int state_map_intact(const struct state_map *m);

/* Atomic words; additions saturate at UINT64_MAX. */
uint64_t state_get(const uint64_t *p);
void state_set(uint64_t *p, uint64_t v);
void state_add(uint64_t *p, uint64_t delta);
int state_cas(uint64_t *p, uint64_t old, uint64_t v);

/* An open-addressing table in nslots slots of words words each: two key
 * words (a 128-bit digest), then the values. Slots are claimed by
 * compare-and-swap, freed by state_table_forget(), and reused when freed or
 * when the caller says they have expired; two processes claiming one new key at the same moment may
 * give it two slots (a lookup finds the first), so a reader that sums must
 * sum every slot of a key. */
struct state_table {
	uint64_t *slot;
	size_t nslots;
	size_t words;
	size_t probe;       /* slots looked at from the key's home */
};

#define STATE_KEY_WORDS 2

void state_table_init(struct state_table *t, uint64_t *w, size_t nslots,
    size_t words, size_t probe);
/* The value words of key's slot, or NULL. */
uint64_t *state_table_find(const struct state_table *t, const uint64_t key[2]);
/* The same, claiming a slot if there is none: an empty one, else one
 * that expired(values, arg) says may be reused. init(values, arg) fills a
 * new slot's values before other processes can find it. NULL: full. */
uint64_t *state_table_claim(const struct state_table *t, const uint64_t key[2],
    int (*expired)(const uint64_t *, void *),
    void (*init)(uint64_t *, void *), void *arg);
/* Frees every slot of key: the number freed. */
size_t state_table_forget(const struct state_table *t, const uint64_t key[2]);
/* Slot i's key (NULL when unused or not ready) and values. */
const uint64_t *state_table_slot(const struct state_table *t, size_t i,
    const uint64_t **values);
/* Looks key up in dir/name, a file that holds one table laid out as t says
 * (t->slot unused), reading only the slots probed, without changing
 * anything and without trusting its owner (for --check): 1 and the value
 * words copied to values, 0 when it is absent (or the file, or the
 * directory), or -1 and why. */
int state_file_find(const char *dir, const char *name, const char magic[8],
    const struct state_table *t, const uint64_t key[2], uint64_t *values,
    char *why, size_t n);
/* A 128-bit digest of bytes (FNV-1a, twice): for keys, not for secrets. */
void state_digest(const void *p, size_t n, uint64_t key[2]);

/* A "first seen" table: the time key was first seen, recording now when
 * it is new or when its entry is older than ttl seconds; 0 when the table
 * is full. Words per slot: STATE_FIRST_SEEN_WORDS. */
#define STATE_FIRST_SEEN_WORDS 3
int64_t state_first_seen(const struct state_table *t, const uint64_t key[2],
    int64_t now, int64_t ttl);

#endif
