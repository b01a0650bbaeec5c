/* test_arena.c — the size-class allocator behind zk_malloc (arena.h).
 * Goal: every block is at least as big as asked, aligned for its size, never overlaps
 * another live block, keeps its bytes until freed, and pages come back for any
 * class once empty; exhaustion returns NULL instead of crashing; huge-page
 * advice starts only past huge_after. Method: a private arena driven against a
 * model of live blocks, each filled with a pattern derived from its id and
 * re-checked; under ASan freed blocks are poisoned, so a stale access in the
 * arena itself is reported. */
#include "test.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "mem.h"

static uint8_t pattern_byte(uint32_t id, size_t i) { return (uint8_t)(id * 131u + i * 7u + 1u); }

static void fill(uint8_t *p, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern_byte(id, i);
}

static bool intact(const uint8_t *p, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern_byte(id, i))
            return false;
    return true;
}

TEST(arena, class_sizes_cover_every_request_with_bounded_waste)
{
    size_t prev = 0;
    for (size_t n = 1; n <= ARENA_MAX_BLOCK; n++) {
        size_t c = arena_class_size(n);
        ASSERT_TRUE(c >= n);
        ASSERT_EQ_I64(c % 8, 0);
        if (n % 16 == 0) /* sizes that may need 16-byte alignment get a class that keeps it */
            ASSERT_EQ_I64(c % 16, 0);
        ASSERT_TRUE(c >= prev); /* monotonic */
        /* at most 8 bytes or 25 % over the request */
        ASSERT_TRUE(c <= n + 7 || c * 4 <= n * 5 + 4);
        prev = c;
    }
    ASSERT_EQ_I64(arena_class_size(ARENA_MAX_BLOCK), ARENA_MAX_BLOCK);
    ASSERT_EQ_I64(arena_class_size(0), 8);
    ASSERT_EQ_I64(arena_class_size(100), 104);
    ASSERT_EQ_I64(arena_class_size(133), 136);
    ASSERT_EQ_I64(arena_class_size(257), 320);
}

struct live {
    uint8_t *p;
    size_t size;
    uint32_t id;
};

#define LIVE_MAX 4000

TEST(arena, random_alloc_free_keeps_every_live_block_intact)
{
    struct arena a;
    ASSERT_OK(arena_init(&a, (size_t)256 << 20, (size_t)64 << 20));
    struct live *live = zk_xcalloc(LIVE_MAX, sizeof(*live));
    uint32_t n = 0, next_id = 1;
    for (int step = 0; step < 60000; step++) {
        bool do_alloc = n == 0 || (n < LIVE_MAX && test_rand() % 100 < 55);
        if (do_alloc) {
            /* mostly small, some up to the largest class */
            size_t size = test_rand() % 8 == 0 ? 1 + test_rand() % ARENA_MAX_BLOCK
                                               : 1 + test_rand() % 300;
            uint8_t *p = arena_alloc(&a, size);
            ASSERT_NOT_NULL(p);
            ASSERT_TRUE(arena_owns(&a, p));
            ASSERT_EQ_I64((uintptr_t)p % (arena_class_size(size) % 16 == 0 ? 16 : 8), 0);
            ASSERT_EQ_I64(arena_block_size(&a, p), arena_class_size(size));
            fill(p, size, next_id);
            live[n++] = (struct live){p, size, next_id++};
        } else {
            uint32_t k = (uint32_t)(test_rand() % n);
            if (!intact(live[k].p, live[k].size, live[k].id))
                FAIL("block %u (%zu bytes) was overwritten while live", live[k].id, live[k].size);
            arena_free(&a, live[k].p);
            live[k] = live[--n];
        }
    }
    for (uint32_t k = 0; k < n; k++) {
        if (!intact(live[k].p, live[k].size, live[k].id))
            FAIL("block %u (%zu bytes) was overwritten while live", live[k].id, live[k].size);
        arena_free(&a, live[k].p);
    }
    ASSERT_EQ_I64(a.pages_in_use, 0);
    zk_free(live);
    arena_deinit(&a);
}

TEST(arena, empty_pages_serve_other_classes)
{
    struct arena a;
    ASSERT_OK(arena_init(&a, (size_t)64 << 20, (size_t)64 << 20));
    enum { N = 2000 };
    void *small[N];
    for (int i = 0; i < N; i++)
        small[i] = arena_alloc(&a, 48);
    uint32_t fresh = a.fresh_pages;
    ASSERT_GT_I64(fresh, 1);
    for (int i = 0; i < N; i++)
        arena_free(&a, small[i]);
    ASSERT_EQ_I64(a.pages_in_use, 0);
    /* the same number of pages of another class fits without new pages */
    size_t per_page = ARENA_PAGE / arena_class_size(1000);
    void **big = zk_xcalloc(per_page * fresh, sizeof(*big));
    for (size_t i = 0; i < per_page * fresh; i++)
        ASSERT_NOT_NULL(big[i] = arena_alloc(&a, 1000));
    ASSERT_EQ_I64(a.fresh_pages, fresh);
    for (size_t i = 0; i < per_page * fresh; i++)
        arena_free(&a, big[i]);
    zk_free(big);
    arena_deinit(&a);
}

TEST(arena, exhaustion_returns_null_and_recovers_after_a_free)
{
    struct arena a;
    ASSERT_OK(arena_init(&a, 2 * ARENA_SEGMENT, 2 * ARENA_SEGMENT));
    size_t fit = 2 * ARENA_SEGMENT / ARENA_MAX_BLOCK;
    void **b = zk_xcalloc(fit, sizeof(*b));
    for (size_t i = 0; i < fit; i++)
        ASSERT_NOT_NULL(b[i] = arena_alloc(&a, ARENA_MAX_BLOCK));
    ASSERT_NULL(arena_alloc(&a, ARENA_MAX_BLOCK));
    ASSERT_NULL(arena_alloc(&a, 16)); /* no page left for another class either */
    ASSERT_EQ_I64(a.committed, 2 * ARENA_SEGMENT);
    arena_free(&a, b[fit / 2]);
    ASSERT_NOT_NULL(b[fit / 2] = arena_alloc(&a, ARENA_MAX_BLOCK - 100));
    for (size_t i = 0; i < fit; i++)
        arena_free(&a, b[i]);
    zk_free(b);
    arena_deinit(&a);
}

TEST(arena, huge_page_advice_starts_past_huge_after)
{
    struct arena a;
    ASSERT_OK(arena_init(&a, (size_t)16 << 20, 2 * ARENA_SEGMENT));
    /* fill three segments */
    size_t n = 3 * ARENA_SEGMENT / ARENA_MAX_BLOCK;
    void **b = zk_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < n; i++)
        ASSERT_NOT_NULL(b[i] = arena_alloc(&a, ARENA_MAX_BLOCK));
    ASSERT_EQ_I64(a.committed, 3 * ARENA_SEGMENT);
    /* only the third is past huge_after; where the kernel has THP it took the advice */
    ASSERT_LE_I64(a.huge_bytes, ARENA_SEGMENT);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0)
        ASSERT_EQ_I64(a.huge_bytes, ARENA_SEGMENT);
    for (size_t i = 0; i < n; i++)
        arena_free(&a, b[i]);
    zk_free(b);
    arena_deinit(&a);
}

TEST(arena, commit_ahead_returns_the_stretch_the_next_allocations_fill)
{
    struct arena a;
    ASSERT_OK(arena_init(&a, 4 * ARENA_SEGMENT, 4 * ARENA_SEGMENT));
    uint8_t *first = arena_alloc(&a, 100);
    ASSERT_NOT_NULL(first);
    fill(first, 100, 7);
    void *start;
    size_t len;
    /* one byte past a segment: two whole segments, from the first unused page */
    arena_commit_ahead(&a, ARENA_SEGMENT + 1, &start, &len);
    ASSERT_TRUE((uint8_t *)start == a.base + ARENA_PAGE);
    ASSERT_EQ_I64(len, 2 * ARENA_SEGMENT);
    ASSERT_EQ_I64(a.committed, 3 * ARENA_SEGMENT);
#ifdef MADV_POPULATE_WRITE
    /* faulting it in (what store.c's thread does) changes no contents */
    (void)madvise((uint8_t *)start - ARENA_PAGE, len, MADV_POPULATE_WRITE);
#endif
    ASSERT_TRUE(intact(first, 100, 7));
    /* the next pages taken are the stretch's, in order */
    size_t n = len / ARENA_MAX_BLOCK;
    void **b = zk_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < n; i++) {
        ASSERT_NOT_NULL(b[i] = arena_alloc(&a, ARENA_MAX_BLOCK));
        ASSERT_TRUE((uint8_t *)b[i] >= (uint8_t *)start &&
                    (uint8_t *)b[i] + ARENA_MAX_BLOCK <= (uint8_t *)start + len);
    }
    /* past the reservation: what is left, then nothing */
    arena_commit_ahead(&a, 10 * ARENA_SEGMENT, &start, &len);
    ASSERT_EQ_I64(len, 4 * ARENA_SEGMENT - ((uint8_t *)start - a.base));
    ASSERT_EQ_I64(a.committed, 4 * ARENA_SEGMENT);
    arena_commit_ahead(&a, (size_t)1 << 62, &start, &len);
    ASSERT_EQ_I64(len, 4 * ARENA_SEGMENT - ((uint8_t *)start - a.base));
    for (size_t i = 0; i < n; i++)
        arena_free(&a, b[i]);
    arena_free(&a, first);
    zk_free(b);
    arena_deinit(&a);
}

TEST(arena, a_failed_reservation_is_reported)
{
    struct arena a;
    ASSERT_EQ_I64(arena_init(&a, 0, 0), -1);
    ASSERT_EQ_I64(arena_init(&a, (size_t)1 << 62, 0), -1);
    ASSERT_FALSE(arena_owns(&a, &a));
}

TEST(arena, zk_malloc_blocks_round_trip_through_realloc)
{
    /* mem.c over whichever backend this build uses (the arena in release builds,
     * malloc under ASan): contents survive growing and shrinking across classes
     * and into the large-block path, and the accounting returns to its start. */
    uint64_t before = zk_mem_bytes_in_use();
    uint8_t *p = zk_xmalloc(10);
    fill(p, 10, 7);
    size_t sizes[] = {10, 15, 100, 300, 5000, ARENA_MAX_BLOCK, ARENA_MAX_BLOCK + 1, 100000, 40, 1};
    size_t have = 10;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        p = zk_xrealloc(p, sizes[i]);
        size_t keep = have < sizes[i] ? have : sizes[i];
        ASSERT_TRUE(intact(p, keep, 7));
        fill(p, sizes[i], 7);
        have = sizes[i];
    }
    zk_free(p);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
}
