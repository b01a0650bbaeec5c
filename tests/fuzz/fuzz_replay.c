/* fuzz_replay.c — a main() for builds without libFuzzer (gcc + ASan/UBSan):
 * runs LLVMFuzzerTestOneInput once over every regular file in the directories
 * (or files) given as arguments, in name order, so `make test` replays the
 * corpus and every saved crash input as a regression test.
 *
 *   replay_X tests/fuzz/corpus/X [more dirs or files...]
 *
 * Exit status 0 when every input ran (a failing input aborts the process with
 * the target's or the sanitizer's report); 2 on a usage or I/O error. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Present when linked with a sanitizer runtime (ASan/UBSan). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* Names the input being run when the process dies (sanitizer report, or the
 * abort() of ZK_PANIC / a failed fuzz check): async-signal-safe writes only. */
static char current[4096];

static void say_current(void) {
    static const char pre[] = "replay: failing input: ";
    if (current[0] == '\0')
        return;
    ssize_t rc = write(2, pre, sizeof(pre) - 1);
    rc = write(2, current, strlen(current));
    rc = write(2, "\n", 1);
    (void)rc;
}

static void on_abort(int sig) {
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *n = realloc(buf, cap * 2);
            if (n == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = n;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: error reading %s\n", path);
        free(buf);
        return -1;
    }
    /* an exact-size copy, as libFuzzer hands inputs over */
    uint8_t *in = malloc(len ? len : 1);
    if (in == NULL) {
        free(buf);
        return -1;
    }
    if (len > 0)
        memcpy(in, buf, len);
    free(buf);
    if (getenv("REPLAY_VERBOSE") != NULL)
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    snprintf(current, sizeof(current), "%s", path);
    LLVMFuzzerTestOneInput(in, len);
    current[0] = '\0';
    free(in);
    return 0;
}

static int only_files(const struct dirent *e) { return e->d_name[0] != '.'; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
        return 2;
    }
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(say_current);
    signal(SIGABRT, on_abort);
    unsigned long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) != 0)
                return 2;
            total++;
            continue;
        }
        struct dirent **names = NULL;
        int n = scandir(argv[i], &names, only_files, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        int rc = 0;
        for (int k = 0; k < n; k++) {
            char path[4096];
            int w = snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
            if (rc == 0 && w > 0 && (size_t)w < sizeof(path) && stat(path, &st) == 0 &&
                S_ISREG(st.st_mode)) {
                if (replay_file(path) != 0)
                    rc = 2;
                else
                    total++;
            }
            free(names[k]);
        }
        free(names);
        if (rc != 0)
            return rc;
    }
    printf("replay: %s: %lu inputs OK\n", argv[0], total);
    return 0;
}
