/* mem.h — the single allocation choke point: byte accounting, OOM policy and a
 * test hook that fails the Nth allocation. zk_free(NULL) is a no-op. */
#ifndef ZK_MEM_H
#define ZK_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Returns NULL on failure (callers decide: error reply or ZK_PANIC). */
void *zk_malloc(size_t size);
void *zk_calloc(size_t count, size_t size);
void *zk_realloc(void *p, size_t size);
void zk_free(void *p);
/* Allocates or panics; for paths that cannot fail (apply of a committed txn). */
void *zk_xmalloc(size_t size);
void *zk_xcalloc(size_t count, size_t size);
void *zk_xrealloc(void *p, size_t size);
/* Returns an owned NUL-terminated copy of n bytes of s, or NULL. */
char *zk_strndup(const char *s, size_t n);
char *zk_xstrndup(const char *s, size_t n);

/* The usable size of a live block: at least what was asked for (an arena block's
 * size class; exactly the request for any other block). */
size_t zk_mem_usable_size(const void *p);

uint64_t zk_mem_bytes_in_use(void);
/* Bytes of the allocator's range advised to use transparent huge pages. */
uint64_t zk_mem_huge_bytes(void);
/* The part of that range in use now (len 0 when there is none). */
void zk_mem_huge_range(void **start, size_t *len);
/* Commits allocator range for the next `bytes` of small blocks and returns it, for
 * a thread to fault in ahead of a burst of allocations (arena_commit_ahead); len
 * 0 when small blocks do not come from the arena (ASan builds). */
void zk_mem_commit_ahead(size_t bytes, void **start, size_t *len);
/* Test hook: the nth allocation from now (1-based) fails; 0 disables. */
void zk_mem_fail_after(uint64_t nth);

#define ZK_FREE(p)      \
    do {                \
        zk_free(p);     \
        (p) = NULL;     \
    } while (0)

#endif
