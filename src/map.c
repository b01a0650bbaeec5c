#include "map.h"

#include <string.h>

#include "base.h"
#include "mem.h"

#define MAP_INITIAL_BUCKETS 16u

void map_init(struct map *m) {
    m->buckets = NULL;
    m->bucket_count = 0;
    m->count = 0;
}

void map_deinit(struct map *m) {
    ZK_FREE(m->buckets);
    m->bucket_count = 0;
    m->count = 0;
}

/* FNV-1a, 64-bit: simple, decent spread for paths. */
uint64_t map_hash(const void *key, uint32_t len) {
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

struct map_entry *map_find(const struct map *m, const void *key, uint32_t len) {
    if (m->bucket_count == 0)
        return NULL;
    uint64_t h = map_hash(key, len);
    struct map_entry *e = m->buckets[h & (m->bucket_count - 1)];
    for (; e != NULL; e = e->next) {
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

static void map_grow(struct map *m) {
    uint32_t n = m->bucket_count ? m->bucket_count * 2 : MAP_INITIAL_BUCKETS;
    if (n < m->bucket_count)
        return;
    struct map_entry **b = zk_xcalloc(n, sizeof(*b));
    for (uint32_t i = 0; i < m->bucket_count; i++) {
        struct map_entry *e = m->buckets[i];
        while (e != NULL) {
            struct map_entry *next = e->next;
            uint32_t idx = (uint32_t)(e->hash & (n - 1));
            e->next = b[idx];
            b[idx] = e;
            e = next;
        }
    }
    zk_free(m->buckets);
    m->buckets = b;
    m->bucket_count = n;
}

void map_insert(struct map *m, struct map_entry *e, const void *key, uint32_t len) {
    ZK_DEBUG_ASSERT(map_find(m, key, len) == NULL);
    if (m->count >= m->bucket_count)
        map_grow(m);
    ZK_ASSERT(m->bucket_count > 0);
    e->key = key;
    e->key_len = len;
    e->hash = map_hash(key, len);
    uint32_t idx = (uint32_t)(e->hash & (m->bucket_count - 1));
    e->next = m->buckets[idx];
    m->buckets[idx] = e;
    m->count++;
}

void map_remove(struct map *m, struct map_entry *e) {
    ZK_ASSERT(m->bucket_count > 0 && m->count > 0);
    struct map_entry **pp = &m->buckets[e->hash & (m->bucket_count - 1)];
    while (*pp != NULL && *pp != e)
        pp = &(*pp)->next;
    ZK_ASSERT(*pp == e);
    *pp = e->next;
    e->next = NULL;
    m->count--;
}

struct map_entry *map_first(const struct map *m, uint32_t *bucket) {
    for (uint32_t i = 0; i < m->bucket_count; i++) {
        if (m->buckets[i] != NULL) {
            *bucket = i;
            return m->buckets[i];
        }
    }
    return NULL;
}

struct map_entry *map_next(const struct map *m, struct map_entry *e, uint32_t *bucket) {
    if (e->next != NULL)
        return e->next;
    for (uint32_t i = *bucket + 1; i < m->bucket_count; i++) {
        if (m->buckets[i] != NULL) {
            *bucket = i;
            return m->buckets[i];
        }
    }
    return NULL;
}
