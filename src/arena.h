/* arena.h — the size-class allocator behind zk_malloc in release builds.
 *
 * Why it exists: a snapshot is a fork(), and fork copies the page tables of the
 * whole heap while the event loop waits. With 4 KiB pages that is about 5 ms
 * per 100 MiB of heap (20+ ms with a million znodes); with 2 MiB transparent
 * huge pages it is well under a millisecond. glibc's heap grows in small brk
 * steps and rarely gets huge pages, so zkd's small blocks (znodes, names, data,
 * watch and session records) come from here instead: one reserved address range,
 * committed 2 MiB at a time, advised MADV_HUGEPAGE past the first few MiB (so an
 * idle server stays small). A second gain is that a block carries no header: its
 * size is its page's size class.
 *
 * Layout: the range is cut into 64 KiB pages; a page holds blocks of one size
 * class (8-byte steps to 256 B, then four classes per power of two up to
 * ARENA_MAX_BLOCK). Each page has a descriptor (its class, a free list of
 * returned blocks, a bump index for never-used ones, a live count); pages with a
 * free block are linked per class; a page whose last block is freed goes back to
 * a free-page stack and can serve any class. Memory is not returned to the
 * kernel (as glibc's main heap rarely does).
 *
 * One thread only: the loop thread allocates; the log writer never does. Blocks
 * larger than ARENA_MAX_BLOCK, and everything once the range is exhausted, are
 * the caller's business (mem.c falls back to malloc). */
#ifndef ZK_ARENA_H
#define ZK_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARENA_PAGE_SHIFT 16
#define ARENA_PAGE ((size_t)1 << ARENA_PAGE_SHIFT) /* 64 KiB */
#define ARENA_SEGMENT ((size_t)2 << 20)             /* commit step = one huge page */
#define ARENA_MAX_BLOCK ((size_t)16384)
#define ARENA_CLASSES 56

struct arena_page; /* descriptor, private to arena.c */

struct arena {
    uint8_t *base;           /* ARENA_SEGMENT-aligned start of the range */
    size_t reserved;         /* bytes of address space reserved */
    size_t committed;        /* bytes made readable/writable, from base */
    size_t huge_after;       /* segments at or past this offset get MADV_HUGEPAGE */
    void *map_addr;          /* what mmap returned (for munmap) */
    size_t map_len;
    struct arena_page *pages; /* one descriptor per page of the range */
    size_t pages_len;         /* bytes mapped for descriptors */
    uint32_t fresh_pages;     /* pages ever taken from the range, from base */
    uint32_t free_pages;      /* stack of empty pages (index + 1; 0 = none) */
    uint32_t partial[ARENA_CLASSES]; /* pages with a free block, per class (index + 1) */
    uint64_t pages_in_use;
    uint64_t huge_bytes; /* committed bytes advised MADV_HUGEPAGE */
};

/* Reserves `reserve` bytes of address space (rounded up to ARENA_SEGMENT);
 * nothing is committed yet. Returns -1 (errno set) when the reservation fails,
 * e.g. under a small RLIMIT_AS. */
int arena_init(struct arena *a, size_t reserve, size_t huge_after);
/* Unmaps everything; every block is gone. */
void arena_deinit(struct arena *a);

/* 1 <= size <= ARENA_MAX_BLOCK (0 is treated as 1). Returns NULL when the range
 * is exhausted or a commit fails. A block is 16-byte aligned when its class
 * size is a multiple of 16 (every request of such a size), else 8-byte aligned. */
void *arena_alloc(struct arena *a, size_t size);
/* p must be a live block of this arena. */
void arena_free(struct arena *a, void *p);
/* The usable size of a live block: its class size, >= what was asked. */
size_t arena_block_size(const struct arena *a, const void *p);

static inline bool arena_owns(const struct arena *a, const void *p) {
    return a->base != NULL && (const uint8_t *)p >= a->base &&
           (size_t)((const uint8_t *)p - a->base) < a->reserved;
}

/* Commits the range far enough that the next `bytes` (rounded up to whole
 * segments) past the pages handed out so far are usable, and returns that stretch
 * (*len 0 when the range is exhausted or a commit fails; shorter when only part
 * could be committed). arena_alloc takes fresh pages in address order, so a
 * caller that knows a burst of allocations is coming (a snapshot load) can fault
 * the stretch in from another thread (madvise MADV_POPULATE_WRITE) while it
 * allocates; the arena itself is not touched by that. */
void arena_commit_ahead(struct arena *a, size_t bytes, void **start, size_t *len);

/* The class size that serves `size` bytes (for tests and accounting). */
size_t arena_class_size(size_t size);

#endif
