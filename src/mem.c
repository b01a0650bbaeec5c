#include "mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "base.h"

/* Small blocks come from the arena (arena.h says why: fork-friendly huge pages,
 * no per-block header). Under AddressSanitizer every block comes from malloc, so
 * that ASan sees each one with its own redzones; tests/unit/test_arena.c checks
 * the arena itself under ASan with manual poisoning. */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_ARENA 0
#else
#define MEM_ARENA 1
#endif

#define MEM_ARENA_RESERVE ((size_t)256 << 30) /* address space only */
#define MEM_ARENA_HUGE_AFTER ((size_t)8 << 20) /* an idle server stays in 4 KiB pages */

/* Large blocks (hash tables and child arrays of big trees) are mapped on their
 * own and advised to use huge pages too: fewer page-table entries for fork to
 * copy, fewer TLB misses on lookups. */
#define MEM_MAP_MIN ((size_t)2 << 20)

/* Blocks outside the arena carry a header: their size, for accounting, and
 * whether they came from malloc or mmap. */
struct mem_header {
    size_t size;
    size_t mapped; /* 1: mmap (length sizeof header + size); also keeps 16-byte alignment */
};

static uint64_t mem_in_use;
static uint64_t mem_fail_countdown;
static struct arena mem_arena;
static int mem_arena_state; /* 0 = not tried yet, 1 = in use, -1 = unavailable */

static bool mem_should_fail(void) {
    if (mem_fail_countdown == 0)
        return false;
    mem_fail_countdown--;
    return mem_fail_countdown == 0;
}

void zk_mem_fail_after(uint64_t nth) { mem_fail_countdown = nth; }

uint64_t zk_mem_bytes_in_use(void) { return mem_in_use; }

uint64_t zk_mem_huge_bytes(void) { return mem_arena_state == 1 ? mem_arena.huge_bytes : 0; }

void zk_mem_huge_range(void **start, size_t *len) {
    *start = NULL;
    *len = 0;
    if (mem_arena_state != 1 || mem_arena.committed <= mem_arena.huge_after)
        return;
    *start = mem_arena.base + mem_arena.huge_after;
    *len = mem_arena.committed - mem_arena.huge_after;
}

static bool mem_arena_ready(void) {
    if (mem_arena_state == 0)
        mem_arena_state =
            MEM_ARENA && arena_init(&mem_arena, MEM_ARENA_RESERVE, MEM_ARENA_HUGE_AFTER) == 0 ? 1
                                                                                             : -1;
    return mem_arena_state == 1;
}

void zk_mem_commit_ahead(size_t bytes, void **start, size_t *len) {
    *start = NULL;
    *len = 0;
    if (mem_arena_ready())
        arena_commit_ahead(&mem_arena, bytes, start, len);
}

/* The allocation itself, after the failure hook was consulted. */
static void *mem_alloc(size_t size) {
    if (size <= ARENA_MAX_BLOCK && mem_arena_ready()) {
        void *p = arena_alloc(&mem_arena, size);
        if (p != NULL) {
            mem_in_use += arena_block_size(&mem_arena, p);
            return p;
        }
        /* range exhausted: malloc takes over */
    }
    if (size > SIZE_MAX - sizeof(struct mem_header))
        return NULL;
    struct mem_header *h;
    if (size >= MEM_MAP_MIN && mem_arena_state == 1) {
        h = mmap(NULL, sizeof(*h) + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
        if (h == MAP_FAILED)
            return NULL;
        (void)madvise(h, sizeof(*h) + size, MADV_HUGEPAGE);
        h->mapped = 1;
    } else {
        h = malloc(sizeof(*h) + size);
        if (h == NULL)
            return NULL;
        h->mapped = 0;
    }
    h->size = size;
    mem_in_use += size;
    return h + 1;
}

static void mem_release(struct mem_header *h) {
    if (h->mapped)
        munmap(h, sizeof(*h) + h->size);
    else
        free(h);
}

static size_t mem_block_size(const void *p) {
    if (mem_arena_state == 1 && arena_owns(&mem_arena, p))
        return arena_block_size(&mem_arena, p);
    return ((const struct mem_header *)p - 1)->size;
}

size_t zk_mem_usable_size(const void *p) { return mem_block_size(p); }

void *zk_malloc(size_t size) {
    if (mem_should_fail())
        return NULL;
    return mem_alloc(size);
}

void *zk_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = zk_malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *zk_realloc(void *p, size_t size) {
    if (p == NULL)
        return zk_malloc(size);
    if (mem_should_fail())
        return NULL;
    if (mem_arena_state == 1 && arena_owns(&mem_arena, p)) {
        size_t old = arena_block_size(&mem_arena, p);
        if (size <= ARENA_MAX_BLOCK && arena_class_size(size) == old)
            return p;
        void *n = mem_alloc(size);
        if (n == NULL)
            return NULL;
        memcpy(n, p, old < size ? old : size);
        zk_free(p);
        return n;
    }
    if (size > SIZE_MAX - sizeof(struct mem_header))
        return NULL;
    struct mem_header *h = (struct mem_header *)p - 1;
    size_t old = h->size;
    if (h->mapped || size >= MEM_MAP_MIN) {
        /* between malloc and mmap, or mmap to mmap: move the bytes */
        void *moved = mem_alloc(size);
        if (moved == NULL)
            return NULL;
        memcpy(moved, p, old < size ? old : size);
        zk_free(p);
        return moved;
    }
    struct mem_header *n = realloc(h, sizeof(*n) + size);
    if (n == NULL)
        return NULL;
    ZK_ASSERT(mem_in_use >= old);
    mem_in_use = mem_in_use - old + size;
    n->size = size;
    return n + 1;
}

void zk_free(void *p) {
    if (p == NULL)
        return;
    size_t size = mem_block_size(p);
    ZK_ASSERT(mem_in_use >= size);
    mem_in_use -= size;
    if (mem_arena_state == 1 && arena_owns(&mem_arena, p))
        arena_free(&mem_arena, p);
    else
        mem_release((struct mem_header *)p - 1);
}

void *zk_xmalloc(size_t size) {
    void *p = zk_malloc(size);
    if (p == NULL)
        ZK_PANIC("out of memory allocating %zu bytes", size);
    return p;
}

void *zk_xcalloc(size_t count, size_t size) {
    void *p = zk_calloc(count, size);
    if (p == NULL)
        ZK_PANIC("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *zk_xrealloc(void *p, size_t size) {
    void *n = zk_realloc(p, size);
    if (n == NULL)
        ZK_PANIC("out of memory reallocating %zu bytes", size);
    return n;
}

char *zk_strndup(const char *s, size_t n) {
    char *d = zk_malloc(n + 1);
    if (d == NULL)
        return NULL;
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *zk_xstrndup(const char *s, size_t n) {
    char *d = zk_strndup(s, n);
    if (d == NULL)
        ZK_PANIC("out of memory duplicating %zu bytes", n);
    return d;
}
