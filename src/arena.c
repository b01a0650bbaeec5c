#include "arena.h"

#include <string.h>
#include <sys/mman.h>

#include "base.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum { PAGE_FRESH = 0, PAGE_ACTIVE = 1, PAGE_EMPTY = 2 };

struct arena_page {
    uint32_t next, prev; /* partial list of its class, or the free stack (index + 1) */
    uint32_t free_head;  /* in-page offset + 1 of the first returned block; 0 = none */
    uint16_t used;       /* live blocks */
    uint16_t bump;       /* blocks handed out at least once (from the page start) */
    uint8_t cls;
    uint8_t state;
    uint8_t linked; /* on its class's partial list */
};

/* 8-byte steps to 256 B, then (2^k, 2^(k+1)] in four steps of 2^(k-2), k >= 8.
 * A class of a multiple of 16 bytes has only 16-byte-aligned blocks (pages are
 * 64 KiB-aligned), so a request that needs 16-byte alignment, whose size is a
 * multiple of 16, gets it; the others are 8-byte aligned, which any object of
 * their size needs at most. */
static uint32_t arena_class_of(size_t size) {
    if (size <= 256)
        return size <= 8 ? 0 : (uint32_t)((size + 7) / 8 - 1);
    uint32_t k = 63 - (uint32_t)__builtin_clzll((unsigned long long)(size - 1));
    size_t step = (size_t)1 << (k - 2);
    uint32_t sub = (uint32_t)((size - ((size_t)1 << k) + step - 1) / step);
    return 32 + (k - 8) * 4 + sub - 1;
}

static size_t arena_size_of_class(uint32_t c) {
    if (c < 32)
        return ((size_t)c + 1) * 8;
    uint32_t k = 8 + (c - 32) / 4;
    uint32_t sub = (c - 32) % 4 + 1;
    return ((size_t)1 << k) + (size_t)sub * ((size_t)1 << (k - 2));
}

size_t arena_class_size(size_t size) {
    ZK_ASSERT(size <= ARENA_MAX_BLOCK);
    return arena_size_of_class(arena_class_of(size));
}

static uint32_t arena_blocks_per_page(uint32_t c) {
    return (uint32_t)(ARENA_PAGE / arena_size_of_class(c));
}

static uint8_t *arena_page_addr(const struct arena *a, uint32_t idx) {
    return a->base + ((size_t)(idx - 1) << ARENA_PAGE_SHIFT);
}

int arena_init(struct arena *a, size_t reserve, size_t huge_after) {
    memset(a, 0, sizeof(*a));
    ZK_ASSERT(arena_class_of(ARENA_MAX_BLOCK) == ARENA_CLASSES - 1);
    reserve = (reserve + ARENA_SEGMENT - 1) & ~(ARENA_SEGMENT - 1);
    if (reserve == 0 || (reserve >> ARENA_PAGE_SHIFT) >= UINT32_MAX)
        return -1;
    size_t len = reserve + ARENA_SEGMENT;
    void *m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    size_t npages = reserve >> ARENA_PAGE_SHIFT;
    size_t plen = npages * sizeof(struct arena_page);
    void *d = mmap(NULL, plen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (d == MAP_FAILED) {
        munmap(m, len);
        return -1;
    }
    uintptr_t b = ((uintptr_t)m + ARENA_SEGMENT - 1) & ~(uintptr_t)(ARENA_SEGMENT - 1);
    a->map_addr = m;
    a->map_len = len;
    a->base = (uint8_t *)b;
    a->reserved = reserve;
    a->huge_after = huge_after;
    a->pages = d;
    a->pages_len = plen;
    return 0;
}

void arena_deinit(struct arena *a) {
    if (a->map_addr != NULL) {
        ARENA_UNPOISON(a->base, a->committed);
        munmap(a->map_addr, a->map_len);
    }
    if (a->pages != NULL)
        munmap(a->pages, a->pages_len);
    memset(a, 0, sizeof(*a));
}

static void arena_partial_push(struct arena *a, uint32_t c, uint32_t idx) {
    struct arena_page *pg = &a->pages[idx - 1];
    ZK_DEBUG_ASSERT(!pg->linked);
    pg->prev = 0;
    pg->next = a->partial[c];
    if (pg->next != 0)
        a->pages[pg->next - 1].prev = idx;
    a->partial[c] = idx;
    pg->linked = 1;
}

static void arena_partial_unlink(struct arena *a, uint32_t c, uint32_t idx) {
    struct arena_page *pg = &a->pages[idx - 1];
    ZK_ASSERT(pg->linked);
    if (pg->prev != 0)
        a->pages[pg->prev - 1].next = pg->next;
    else
        a->partial[c] = pg->next;
    if (pg->next != 0)
        a->pages[pg->next - 1].prev = pg->prev;
    pg->next = pg->prev = 0;
    pg->linked = 0;
}

/* Makes the next ARENA_SEGMENT of the range usable. */
static int arena_commit_segment(struct arena *a) {
    if (a->committed + ARENA_SEGMENT > a->reserved)
        return -1;
    uint8_t *seg = a->base + a->committed;
    if (mprotect(seg, ARENA_SEGMENT, PROT_READ | PROT_WRITE) != 0)
        return -1;
    /* Advice only: without THP (enabled=never) it is accepted and does nothing;
     * on a kernel without it, it fails and the segment stays in 4 KiB pages. */
    if (a->committed >= a->huge_after && madvise(seg, ARENA_SEGMENT, MADV_HUGEPAGE) == 0)
        a->huge_bytes += ARENA_SEGMENT;
    ARENA_POISON(seg, ARENA_SEGMENT);
    a->committed += ARENA_SEGMENT;
    return 0;
}

void arena_commit_ahead(struct arena *a, size_t bytes, void **start, size_t *len) {
    size_t from = (size_t)a->fresh_pages << ARENA_PAGE_SHIFT;
    size_t to = from + ((bytes + ARENA_SEGMENT - 1) & ~(ARENA_SEGMENT - 1));
    if (bytes > a->reserved || to > a->reserved)
        to = a->reserved;
    while (a->committed < to) {
        if (arena_commit_segment(a) != 0)
            break;
    }
    if (to > a->committed)
        to = a->committed;
    *start = a->base + from;
    *len = to > from ? to - from : 0;
}

/* An empty page for class c, linked on its partial list; 0 when exhausted. */
static uint32_t arena_page_take(struct arena *a, uint32_t c) {
    uint32_t idx = a->free_pages;
    if (idx != 0) {
        a->free_pages = a->pages[idx - 1].next;
    } else {
        size_t next_off = (size_t)a->fresh_pages << ARENA_PAGE_SHIFT;
        if (next_off >= a->committed && arena_commit_segment(a) != 0)
            return 0;
        idx = ++a->fresh_pages;
    }
    struct arena_page *pg = &a->pages[idx - 1];
    memset(pg, 0, sizeof(*pg));
    pg->cls = (uint8_t)c;
    pg->state = PAGE_ACTIVE;
    a->pages_in_use++;
    arena_partial_push(a, c, idx);
    return idx;
}

void *arena_alloc(struct arena *a, size_t size) {
    if (size == 0)
        size = 1;
    ZK_ASSERT(size <= ARENA_MAX_BLOCK);
    uint32_t c = arena_class_of(size);
    uint32_t idx = a->partial[c];
    if (idx == 0 && (idx = arena_page_take(a, c)) == 0)
        return NULL;
    struct arena_page *pg = &a->pages[idx - 1];
    size_t cs = arena_size_of_class(c);
    uint8_t *page = arena_page_addr(a, idx);
    uint8_t *p;
    if (pg->free_head != 0) {
        p = page + pg->free_head - 1;
        ARENA_UNPOISON(p, cs);
        memcpy(&pg->free_head, p, sizeof(pg->free_head));
    } else {
        ZK_DEBUG_ASSERT(pg->bump < arena_blocks_per_page(c));
        p = page + (size_t)pg->bump * cs;
        pg->bump++;
        ARENA_UNPOISON(p, cs);
    }
    pg->used++;
    if (pg->free_head == 0 && pg->bump == arena_blocks_per_page(c))
        arena_partial_unlink(a, c, idx);
    return p;
}

void arena_free(struct arena *a, void *ptr) {
    ZK_ASSERT(arena_owns(a, ptr));
    size_t off = (size_t)((uint8_t *)ptr - a->base);
    uint32_t idx = (uint32_t)(off >> ARENA_PAGE_SHIFT) + 1;
    struct arena_page *pg = &a->pages[idx - 1];
    ZK_ASSERT(pg->state == PAGE_ACTIVE && pg->used > 0);
    uint32_t c = pg->cls;
    size_t cs = arena_size_of_class(c);
    uint32_t in = (uint32_t)(off & (ARENA_PAGE - 1));
    ZK_ASSERT(in % cs == 0 && in / cs < pg->bump);
    memcpy(ptr, &pg->free_head, sizeof(pg->free_head));
    pg->free_head = in + 1;
    ARENA_POISON(ptr, cs);
    pg->used--;
    if (pg->used == 0) {
        /* the whole page goes back to the free stack, for any class */
        if (pg->linked)
            arena_partial_unlink(a, c, idx);
        pg->state = PAGE_EMPTY;
        pg->next = a->free_pages;
        a->free_pages = idx;
        a->pages_in_use--;
    } else if (!pg->linked) {
        arena_partial_push(a, c, idx);
    }
}

size_t arena_block_size(const struct arena *a, const void *p) {
    ZK_ASSERT(arena_owns(a, p));
    size_t off = (size_t)((const uint8_t *)p - a->base);
    const struct arena_page *pg = &a->pages[off >> ARENA_PAGE_SHIFT];
    ZK_ASSERT(pg->state == PAGE_ACTIVE);
    return arena_size_of_class(pg->cls);
}
