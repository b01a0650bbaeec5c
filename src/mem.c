#include "mem.h"

#include <stdlib.h>
#include <string.h>

#include "base.h"

/* Each block carries its size in a header so zk_free can account for it. */
struct mem_header {
    size_t size;
    size_t pad; /* keeps 16-byte alignment for the payload */
};

static uint64_t mem_in_use;
static uint64_t mem_fail_countdown;

static bool mem_should_fail(void) {
    if (mem_fail_countdown == 0)
        return false;
    mem_fail_countdown--;
    return mem_fail_countdown == 0;
}

void zk_mem_fail_after(uint64_t nth) { mem_fail_countdown = nth; }

uint64_t zk_mem_bytes_in_use(void) { return mem_in_use; }

void *zk_malloc(size_t size) {
    if (size > SIZE_MAX - sizeof(struct mem_header) || mem_should_fail())
        return NULL;
    struct mem_header *h = malloc(sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    mem_in_use += size;
    return h + 1;
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
    if (size > SIZE_MAX - sizeof(struct mem_header) || mem_should_fail())
        return NULL;
    struct mem_header *h = (struct mem_header *)p - 1;
    size_t old = h->size;
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
    struct mem_header *h = (struct mem_header *)p - 1;
    ZK_ASSERT(mem_in_use >= h->size);
    mem_in_use -= h->size;
    free(h);
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
