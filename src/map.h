/* map.h — intrusive chained hash map keyed by byte strings.
 * The entry (struct map_entry) is embedded in the owner's object together with
 * the key bytes it points at; the map never copies or frees keys or objects.
 * Used for the path index, session table and watch tables. */
#ifndef ZK_MAP_H
#define ZK_MAP_H

#include <stdbool.h>
#include <stdint.h>

struct map_entry {
    struct map_entry *next;
    uint64_t hash;
    const void *key; /* borrowed from the owning object */
    uint32_t key_len;
};

struct map {
    struct map_entry **buckets;
    uint32_t bucket_count; /* power of two, or 0 before the first insert */
    uint32_t count;
};

void map_init(struct map *m);
/* Frees the bucket array only; entries belong to their owners. */
void map_deinit(struct map *m);
uint64_t map_hash(const void *key, uint32_t len);
struct map_entry *map_find(const struct map *m, const void *key, uint32_t len);
/* Sets e->key/key_len/hash and links it. The key must not be present.
 * Growing the bucket array panics on OOM (the map is internal state). */
void map_insert(struct map *m, struct map_entry *e, const void *key, uint32_t len);
void map_remove(struct map *m, struct map_entry *e);

/* Iteration: for (it = map_first(m, &b); it; it = map_next(m, it, &b)).
 * The entry returned may be removed before calling map_next on it is NOT allowed;
 * fetch the next one first. */
struct map_entry *map_first(const struct map *m, uint32_t *bucket);
struct map_entry *map_next(const struct map *m, struct map_entry *e, uint32_t *bucket);

#endif
