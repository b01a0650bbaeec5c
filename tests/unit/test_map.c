/* test_map.c — the intrusive hash map (map.h).
 * Goal: find/insert/remove agree with a simple array model for many keys,
 * iteration visits every entry exactly once, and growth keeps everything
 * reachable. Method: entries embedded in a test struct, keys "k<i>". */
#include "test.h"

#include <stdio.h>

#include "map.h"
#include "mem.h"

/* ---- Fixture ---- */

struct item {
    struct map_entry link;
    char key[24];
    uint32_t len;
    uint32_t value;
    uint32_t seen;
};

#define ITEM_COUNT 5000

static struct item *items_new(uint32_t n)
{
    struct item *it = zk_xcalloc(n, sizeof(*it));
    for (uint32_t i = 0; i < n; i++) {
        it[i].len = (uint32_t)snprintf(it[i].key, sizeof(it[i].key), "k%u", i);
        it[i].value = i;
    }
    return it;
}

static struct item *item_of(struct map_entry *e)
{
    return e ? (struct item *)((char *)e - offsetof(struct item, link)) : NULL;
}

/* ---- Tests ---- */

TEST(map, empty_map_finds_nothing_and_iterates_nothing)
{
    struct map m;
    map_init(&m);
    uint32_t b = 0;
    ASSERT_NULL(map_find(&m, "x", 1));
    ASSERT_NULL(map_first(&m, &b));
    ASSERT_EQ_I64(m.count, 0);
    map_deinit(&m);
}

TEST(map, insert_find_remove_many)
{
    struct map m;
    map_init(&m);
    struct item *it = items_new(ITEM_COUNT);
    for (uint32_t i = 0; i < ITEM_COUNT; i++)
        map_insert(&m, &it[i].link, it[i].key, it[i].len);
    ASSERT_EQ_I64(m.count, ITEM_COUNT);
    for (uint32_t i = 0; i < ITEM_COUNT; i++) {
        struct item *f = item_of(map_find(&m, it[i].key, it[i].len));
        ASSERT_TRUE(f == &it[i]);
        ASSERT_EQ_I64(f->value, i);
    }
    ASSERT_NULL(map_find(&m, "k5000", 5));
    ASSERT_NULL(map_find(&m, "k", 1));
    /* Remove the even keys, then check both halves. */
    for (uint32_t i = 0; i < ITEM_COUNT; i += 2)
        map_remove(&m, &it[i].link);
    ASSERT_EQ_I64(m.count, ITEM_COUNT / 2);
    for (uint32_t i = 0; i < ITEM_COUNT; i++) {
        struct map_entry *e = map_find(&m, it[i].key, it[i].len);
        if (i % 2 == 0)
            ASSERT_NULL(e);
        else
            ASSERT_TRUE(item_of(e) == &it[i]);
    }
    /* Reinsert one removed key. */
    map_insert(&m, &it[0].link, it[0].key, it[0].len);
    ASSERT_TRUE(item_of(map_find(&m, "k0", 2)) == &it[0]);
    map_deinit(&m);
    zk_free(it);
}

TEST(map, keys_are_compared_by_bytes_and_length)
{
    struct map m;
    map_init(&m);
    struct item a = {.len = 2}, b = {.len = 3}, c = {.len = 3};
    memcpy(a.key, "ab", 2);
    memcpy(b.key, "ab\0", 3); /* same prefix, embedded NUL */
    memcpy(c.key, "abc", 3);
    map_insert(&m, &a.link, a.key, a.len);
    map_insert(&m, &b.link, b.key, b.len);
    map_insert(&m, &c.link, c.key, c.len);
    ASSERT_TRUE(item_of(map_find(&m, "ab", 2)) == &a);
    ASSERT_TRUE(item_of(map_find(&m, "ab\0", 3)) == &b);
    ASSERT_TRUE(item_of(map_find(&m, "abc", 3)) == &c);
    ASSERT_NULL(map_find(&m, "a", 1));
    map_deinit(&m);
}

TEST(map, iteration_visits_each_entry_once)
{
    struct map m;
    map_init(&m);
    struct item *it = items_new(ITEM_COUNT);
    for (uint32_t i = 0; i < ITEM_COUNT; i++)
        map_insert(&m, &it[i].link, it[i].key, it[i].len);
    uint32_t b = 0, visits = 0;
    for (struct map_entry *e = map_first(&m, &b); e; e = map_next(&m, e, &b)) {
        item_of(e)->seen++;
        visits++;
    }
    ASSERT_EQ_I64(visits, ITEM_COUNT);
    for (uint32_t i = 0; i < ITEM_COUNT; i++)
        ASSERT_EQ_I64(it[i].seen, 1);
    map_deinit(&m);
    zk_free(it);
}

TEST(map, removal_during_iteration_after_fetching_next)
{
    struct map m;
    map_init(&m);
    struct item *it = items_new(300);
    for (uint32_t i = 0; i < 300; i++)
        map_insert(&m, &it[i].link, it[i].key, it[i].len);
    uint32_t b = 0, removed = 0;
    struct map_entry *e = map_first(&m, &b);
    while (e != NULL) {
        struct map_entry *next = map_next(&m, e, &b);
        map_remove(&m, e);
        removed++;
        e = next;
    }
    ASSERT_EQ_I64(removed, 300);
    ASSERT_EQ_I64(m.count, 0);
    ASSERT_NULL(map_first(&m, &b));
    map_deinit(&m);
    zk_free(it);
}

TEST(map, grows_bucket_array_with_count)
{
    struct map m;
    map_init(&m);
    ASSERT_EQ_I64(m.bucket_count, 0);
    struct item *it = items_new(1000);
    uint32_t last = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        map_insert(&m, &it[i].link, it[i].key, it[i].len);
        /* Power of two, load factor <= 1, never shrinks while inserting. */
        ASSERT_TRUE(m.bucket_count > 0 && (m.bucket_count & (m.bucket_count - 1)) == 0);
        ASSERT_LE_I64(m.count, m.bucket_count);
        ASSERT_LE_I64(last, m.bucket_count);
        last = m.bucket_count;
    }
    ASSERT_GT_I64(m.bucket_count, 16);
    for (uint32_t i = 0; i < 1000; i++)
        ASSERT_TRUE(item_of(map_find(&m, it[i].key, it[i].len)) == &it[i]);
    map_deinit(&m);
    zk_free(it);
}

TEST(map, random_operations_match_model)
{
    /* Model: present[i]. Seeded from --seed, printed on failure. */
    struct map m;
    map_init(&m);
    struct item *it = items_new(512);
    bool present[512] = {false};
    uint32_t count = 0;
    for (int step = 0; step < 20000; step++) {
        uint32_t i = (uint32_t)(test_rand() % 512);
        if (present[i]) {
            map_remove(&m, &it[i].link);
            present[i] = false;
            count--;
        } else {
            map_insert(&m, &it[i].link, it[i].key, it[i].len);
            present[i] = true;
            count++;
        }
        uint32_t j = (uint32_t)(test_rand() % 512);
        struct map_entry *e = map_find(&m, it[j].key, it[j].len);
        ASSERT_EQ_I64(e != NULL, present[j]);
        ASSERT_EQ_I64(m.count, count);
    }
    map_deinit(&m);
    zk_free(it);
}

TEST(map, hash_is_fnv1a_64)
{
    /* FNV-1a 64 reference values: "" and "a". */
    ASSERT_EQ_I64(map_hash("", 0), (int64_t)0xcbf29ce484222325ULL);
    ASSERT_EQ_I64(map_hash("a", 1), (int64_t)0xaf63dc4c8601ec8cULL);
}
