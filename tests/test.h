/* test.h — the in-house unit test runner (libuv task.h / canonical munit spirit).
 *
 * TEST(suite, name) { ... } defines a static test function and registers it
 * from an __attribute__((constructor)) so a test file needs no list. Asserts
 * are typed, print both sides with file:line, and end the test at the first
 * failure (longjmp back to the runner; the test's allocations are then not
 * freed, which is fine because the test already failed).
 *
 * The runner (test.c) runs the tests in forked children: a child runs tests
 * until one fails or crashes, so a crash (ZK_ASSERT, an ASan/UBSan report,
 * SIGSEGV) fails only the test in progress and the run goes on in a new child;
 * LSan checks each all-pass batch when its child exits. After every test the
 * runner also compares zk_mem_bytes_in_use() with the value before, so a leak
 * through mem.c is attributed to the exact test. Flags: --filter <substring>
 * (--filter -<substring> excludes), --list, --seed <n>, --no-fork, -v.
 *
 * Tests named BUG_* document a reported defect in src/ and fail until it is
 * fixed; each carries a comment with the file, function and expected result. */
#ifndef ZK_TEST_H
#define ZK_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef void test_fn(void);

void test_register(const char *suite, const char *name, test_fn *fn, const char *file, int line);
/* Records a failure and leaves the current test. */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void test_fail_i64(const char *file, int line, const char *a_expr, const char *b_expr,
                   const char *op, int64_t a, int64_t b) __attribute__((noreturn));
void test_fail_str(const char *file, int line, const char *a_expr, const char *b_expr,
                   const char *a, const char *b) __attribute__((noreturn));
void test_fail_mem(const char *file, int line, const char *a_expr, const char *b_expr,
                   const void *a, const void *b, size_t len) __attribute__((noreturn));
/* The run's seed (--seed, default from the clock); printed when a test fails. */
uint64_t test_seed(void);
/* A small deterministic PRNG (splitmix64) seeded from test_seed() per test. */
uint64_t test_rand(void);

#define TEST(suite, name)                                                                          \
    static void test_##suite##_##name(void);                                                       \
    __attribute__((constructor)) static void test_register_##suite##_##name(void)                  \
    {                                                                                              \
        test_register(#suite, #name, test_##suite##_##name, __FILE__, __LINE__);                   \
    }                                                                                              \
    static void test_##suite##_##name(void)

#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) test_fail(__FILE__, __LINE__, "expected true: %s", #cond);                    \
    } while (0)

#define ASSERT_FALSE(cond)                                                                         \
    do {                                                                                           \
        if (cond) test_fail(__FILE__, __LINE__, "expected false: %s", #cond);                      \
    } while (0)

#define TEST_CMP_I64(a, b, op)                                                                     \
    do {                                                                                           \
        int64_t test_a_ = (int64_t)(a), test_b_ = (int64_t)(b);                                    \
        if (!(test_a_ op test_b_))                                                                 \
            test_fail_i64(__FILE__, __LINE__, #a, #b, #op, test_a_, test_b_);                      \
    } while (0)

#define ASSERT_EQ_I64(a, b) TEST_CMP_I64(a, b, ==)
#define ASSERT_NE_I64(a, b) TEST_CMP_I64(a, b, !=)
#define ASSERT_LT_I64(a, b) TEST_CMP_I64(a, b, <)
#define ASSERT_LE_I64(a, b) TEST_CMP_I64(a, b, <=)
#define ASSERT_GT_I64(a, b) TEST_CMP_I64(a, b, >)

/* rc == 0 (ZK_OK / ZOO_OK). */
#define ASSERT_OK(rc) TEST_CMP_I64(rc, 0, ==)

#define ASSERT_NULL(p)                                                                             \
    do {                                                                                           \
        if ((p) != NULL) test_fail(__FILE__, __LINE__, "expected NULL: %s", #p);                   \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                                         \
    do {                                                                                           \
        if ((p) == NULL) test_fail(__FILE__, __LINE__, "expected non-NULL: %s", #p);               \
    } while (0)

/* Either side may be NULL; two NULLs are equal. */
#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *test_a_ = (a), *test_b_ = (b);                                                 \
        if ((test_a_ == NULL) != (test_b_ == NULL) ||                                              \
            (test_a_ != NULL && strcmp(test_a_, test_b_) != 0))                                    \
            test_fail_str(__FILE__, __LINE__, #a, #b, test_a_, test_b_);                           \
    } while (0)

#define ASSERT_EQ_MEM(a, b, len)                                                                   \
    do {                                                                                           \
        const void *test_a_ = (a), *test_b_ = (b);                                                 \
        size_t test_n_ = (size_t)(len);                                                            \
        if (test_n_ > 0 &&                                                                         \
            (test_a_ == NULL || test_b_ == NULL || memcmp(test_a_, test_b_, test_n_) != 0))        \
            test_fail_mem(__FILE__, __LINE__, #a, #b, test_a_, test_b_, test_n_);                  \
    } while (0)

/* Reads a whole file (test fixtures, relative to the repository root). Returns a
 * malloc'ed buffer (free with free) and its size, or NULL. */
uint8_t *test_read_file(const char *path, uint64_t *size);

#endif
