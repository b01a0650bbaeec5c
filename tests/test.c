/* test.c — runner for the TEST() cases registered by tests/unit/test_*.c.
 * See test.h for the contract. Exit status: 0 when every selected test
 * passed, 1 otherwise (also when the filter selects nothing). */
#include "test.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "mem.h"

#define TEST_MAX 2048

struct test_case {
    const char *suite;
    const char *name;
    const char *file;
    int line;
    test_fn *fn;
};

static struct test_case test_cases[TEST_MAX];
static size_t test_case_count;
static jmp_buf test_jmp;
static uint64_t test_seed_value = 0x5eedf00dULL;
static uint64_t test_rand_state;

void test_register(const char *suite, const char *name, test_fn *fn, const char *file, int line)
{
    if (test_case_count == TEST_MAX) {
        fprintf(stderr, "test.c: more than %d tests; raise TEST_MAX\n", TEST_MAX);
        abort();
    }
    test_cases[test_case_count++] = (struct test_case){suite, name, file, line, fn};
}

uint64_t test_seed(void)
{
    return test_seed_value;
}

uint64_t test_rand(void)
{
    uint64_t z = (test_rand_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    longjmp(test_jmp, 1);
}

void test_fail_i64(const char *file, int line, const char *a_expr, const char *b_expr,
                   const char *op, int64_t a, int64_t b)
{
    test_fail(file, line,
              "expected %s %s %s\n    left:  %" PRId64 " (0x%" PRIx64 ")\n"
              "    right: %" PRId64 " (0x%" PRIx64 ")",
              a_expr, op, b_expr, a, (uint64_t)a, b, (uint64_t)b);
}

void test_fail_str(const char *file, int line, const char *a_expr, const char *b_expr,
                   const char *a, const char *b)
{
    test_fail(file, line, "expected %s == %s\n    left:  %s%s%s\n    right: %s%s%s", a_expr, b_expr,
              a ? "\"" : "", a ? a : "NULL", a ? "\"" : "", b ? "\"" : "", b ? b : "NULL",
              b ? "\"" : "");
}

static void test_hex(const char *label, const uint8_t *p, size_t len, size_t mark)
{
    fprintf(stderr, "    %s:", label);
    if (p == NULL) {
        fprintf(stderr, " NULL\n");
        return;
    }
    for (size_t i = 0; i < len && i < 256; i++)
        fprintf(stderr, "%s%02x", i == mark ? " [" : " ", p[i]);
    fprintf(stderr, "%s\n", len > 256 ? " ..." : "");
}

void test_fail_mem(const char *file, int line, const char *a_expr, const char *b_expr,
                   const void *a, const void *b, size_t len)
{
    const uint8_t *x = a, *y = b;
    size_t first = 0;
    while (x != NULL && y != NULL && first < len && x[first] == y[first])
        first++;
    fprintf(stderr,
            "  %s:%d: expected %zu equal bytes: %s == %s (first difference at %zu,"
            " marked '[')\n",
            file, line, len, a_expr, b_expr, first);
    test_hex("left ", x, len, first);
    test_hex("right", y, len, first);
    longjmp(test_jmp, 1);
}

/* Runs one test in this process; true if it passed and freed what it took. */
static bool test_run_here(const struct test_case *t)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *s = t->name; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    test_rand_state = test_seed_value ^ h;
    zk_mem_fail_after(0);
    uint64_t before = zk_mem_bytes_in_use();
    if (setjmp(test_jmp) != 0) {
        zk_mem_fail_after(0);
        return false;
    }
    t->fn();
    zk_mem_fail_after(0);
    uint64_t after = zk_mem_bytes_in_use();
    if (after != before) {
        fprintf(stderr,
                "  %s: zk_malloc bytes in use %" PRIu64 " before, %" PRIu64
                " after (leak or double accounting)\n",
                t->file, before, after);
        return false;
    }
    return true;
}

static bool test_verbose;
static size_t test_failed;

static void test_report(const struct test_case *t, bool ok, const char *why)
{
    if (!ok) {
        test_failed++;
        printf("FAIL %s.%s (%s:%d)%s\n", t->suite, t->name, t->file, t->line, why);
    } else if (test_verbose) {
        printf("ok   %s.%s\n", t->suite, t->name);
    }
    fflush(stdout);
}

/* Forked mode. A child runs the selected tests from `from` on and reports one
 * byte per test ('P'/'F') through a pipe. It stops after the first failure
 * (the failed test leaves its allocations behind) with _exit, skipping the leak
 * report; after an all-pass batch it exits normally, so LSan checks the whole
 * batch once. A crash fails the test in progress; the parent then starts a new
 * child after it. Returns the index of the next test to run. */
static size_t test_run_batch(const struct test_case **sel, size_t from, size_t n, bool *ok)
{
    int fds[2];
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        for (size_t i = from; i < n; i++) {
            bool pass = test_run_here(sel[i]);
            char c = pass ? 'P' : 'F';
            fflush(stderr);
            if (write(fds[1], &c, 1) != 1 || !pass) _exit(1);
        }
        exit(0);
    }
    close(fds[1]);
    size_t i = from;
    char c;
    while (i < n && read(fds[0], &c, 1) == 1) {
        ok[i] = c == 'P';
        test_report(sel[i], ok[i], "");
        i++;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    bool died = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
    if (WIFSIGNALED(status)) fprintf(stderr, "  child crashed with signal %d\n", WTERMSIG(status));
    if (died && i < n && (i == from || ok[i - 1])) {
        /* Died inside test i (signal, ZK_ASSERT, or a sanitizer's exit). */
        fprintf(stderr, "  died inside the test\n");
        ok[i] = false;
        test_report(sel[i], false, "");
        i++;
    } else if (died && i > from && ok[i - 1]) {
        /* Every test passed but the exit-time leak check (or exit) did not. */
        fprintf(stderr, "  report above covers %s.%s .. %s.%s; isolate with --filter\n",
                sel[from]->suite, sel[from]->name, sel[i - 1]->suite, sel[i - 1]->name);
        ok[i - 1] = false;
        test_report(sel[i - 1], false, " [exit-time leak check of its batch]");
    }
    return i;
}

static int test_order(const void *a, const void *b)
{
    const struct test_case *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static void test_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--filter [-]<substring>] [--list] [--seed <n>] [--no-fork] [-v]\n"
            "  --filter s   run tests whose suite.name contains s (-s: does not contain s)\n"
            "  --list       print the selected test names\n"
            "  --seed n     seed for test_rand() (printed when a test fails)\n"
            "  --no-fork    run tests in this process (for gdb; a crash ends the run)\n"
            "  -v           also print passing tests\n",
            argv0);
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    bool list = false, use_fork = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            test_seed_value = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--no-fork") == 0) {
            use_fork = false;
        } else if (strcmp(argv[i], "-v") == 0) {
            test_verbose = true;
        } else {
            test_usage(argv[0]);
            return 2;
        }
    }
    qsort(test_cases, test_case_count, sizeof(test_cases[0]), test_order);
    /* The shared default ACL lists are created lazily and live until exit;
     * create them now so the per-test byte accounting does not see them. */
    (void)acl_open_unsafe();
    (void)acl_read_unsafe();

    static const struct test_case *sel[TEST_MAX];
    static bool ok[TEST_MAX];
    size_t n = 0;
    char full[512];
    for (size_t i = 0; i < test_case_count; i++) {
        const struct test_case *t = &test_cases[i];
        snprintf(full, sizeof(full), "%s.%s", t->suite, t->name);
        if (filter != NULL) {
            /* "--filter -x" runs every test whose name does not contain x. */
            bool exclude = filter[0] == '-' && filter[1] != '\0';
            bool hit = strstr(full, exclude ? filter + 1 : filter) != NULL;
            if (hit == exclude) continue;
        }
        if (list)
            printf("%s\n", full);
        else
            sel[n++] = t;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n;) {
        if (use_fork) {
            i = test_run_batch(sel, i, n, ok);
        } else {
            ok[i] = test_run_here(sel[i]);
            test_report(sel[i], ok[i], "");
            i++;
        }
    }
    acl_global_deinit();
    if (list) return 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    for (size_t i = 0; i < n; i++) {
        if (!ok[i]) printf("failed: %s.%s\n", sel[i]->suite, sel[i]->name);
    }
    if (test_failed > 0) printf("seed: --seed 0x%" PRIx64 "\n", test_seed_value);
    printf("%zu tests, %zu failed (%ld ms)\n", n, test_failed, ms);
    if (n == 0) fprintf(stderr, "no test matched\n");
    return test_failed == 0 && n > 0 ? 0 : 1;
}

uint8_t *test_read_file(const char *path, uint64_t *size) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *p = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        p = malloc(n > 0 ? (size_t)n : 1);
        if (p != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
            free(p);
            p = NULL;
        }
    }
    fclose(f);
    *size = p != NULL ? (uint64_t)n : 0;
    return p;
}
