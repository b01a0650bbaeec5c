/* base.h — assertions and small macros shared by every module. */
#ifndef ZK_BASE_H
#define ZK_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

void zk_panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

/* Always on, release builds included: a broken invariant stops the process. */
#define ZK_ASSERT(cond)                                                      \
    do {                                                                     \
        if (__builtin_expect(!(cond), 0))                                    \
            zk_panic_at(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

#ifdef ZK_DEBUG
#define ZK_DEBUG_ASSERT(cond) ZK_ASSERT(cond)
#else
#define ZK_DEBUG_ASSERT(cond) ((void)0)
#endif

#define ZK_PANIC(...) zk_panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define ZK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ZK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ZK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define ZK_UNUSED(x) ((void)(x))
#define zk_container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

/* zxid = epoch (high 32 bits) | counter (low 32 bits). */
#define ZXID_EPOCH(z) ((uint32_t)((uint64_t)(z) >> 32))
#define ZXID_COUNTER(z) ((uint32_t)((uint64_t)(z) & 0xffffffffu))

#endif
