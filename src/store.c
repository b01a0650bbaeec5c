/* store.c — recovery, the log-writer thread, snapshots, purge, epoch files.
 *
 * Snapshot mechanism: a forked child. The event loop calls store_snapshot_start
 * between two applies, so the tree and session table are exactly the state after
 * `zxid` — never a half-applied multi, because apply runs a whole txn at a time on
 * the loop thread. fork() gives the child a copy-on-write image of that state; the
 * loop goes on serving at once, and pages it modifies are copied lazily. The
 * pause is fork's page-table copy: about 5 ms per 100 MiB of 4 KiB pages, which
 * is why small blocks live in mem.c's arena of transparent huge pages (arena.h)
 * and why their huge pages are rebuilt after each snapshot (store_recollapse):
 * with a million znodes the pause measured 1-3 ms instead of 21-23 ms. The
 * child closes every inherited descriptor (so clients and the listening port never
 * outlive the server), lowers its priority, dies with its parent, streams the
 * image (snap_writer_run, which allocates nothing: the writer thread may have held
 * an allocator lock at the fork, so the buffers are set up before it) to
 * tmp.snapshot.<zxid>, fsyncs, renames it to
 * snapshot.<zxid>, fsyncs the directory and _exits. Unlike ZooKeeper's fuzzy
 * snapshots, ours are consistent at their zxid, and hold only txns that were
 * already durable in the log (txns are applied after their fsync). A fuzzy
 * snapshot in a thread was the alternative; it would need the tree to be safe
 * for concurrent reads, which the single-threaded design avoids everywhere else.
 *
 * The log writer: the loop encodes records into `pending` under the mutex; the
 * writer swaps it for its own buffer, write()s it (switching files at the roll
 * points the loop marked), fdatasyncs once, publishes the last zxid of the batch
 * as durable and signals the loop's eventfd.
 *
 * Prepared log files: a third thread (store_prep_main) writes the next log file
 * ahead of need: header, then real zeros, fdatasynced, as tmp.log.next. A roll
 * renames it to log.<zxid> and syncs the directory. The writer then only
 * overwrites blocks that are already allocated and written, so its fdatasync
 * flushes data and the disk cache and never commits filesystem metadata (ext4
 * and XFS journal a block allocation, or the conversion of an fallocated extent,
 * on the fdatasync that first covers it; that commit also waits for any other
 * metadata in flight, such as a snapshot being written). PostgreSQL zero-fills
 * its WAL segments for the same reason. The size asked for at a roll is twice
 * the bytes of the log that just ended, capped at preAllocSize, so a busy
 * server does not write 64 MiB of zeros per roll for 10 MiB of txns. Past the
 * prepared size, or when no prepared file is ready, a log grows sparse by
 * preAllocSize (as ZooKeeper pads its logs). The same thread trims each finished
 * log to its last record, and store_close trims the current one, so recovery
 * does not walk the zeros. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "base.h"
#include "err.h"
#include "jute.h"
#include "mem.h"
#include "snap.h"
#include "wal.h"

#define STORE_ROLLS_MAX 8
#define STORE_NAME_MAX 64
#define STORE_PREP_NAME "tmp.log.next" /* the prepared log file (see above) */

struct store_roll {
    uint64_t offset; /* in the pending buffer: the record starting the new file */
    int64_t zxid;
};

/* One batch of records taken from `pending` (now in wbuf) for one write and sync. */
struct store_batch {
    int64_t first, last;
    struct store_roll rolls[STORE_ROLLS_MAX];
    uint32_t nrolls;
};

struct store {
    struct store_config cfg;
    char snap_dir[4200];
    char log_dir[4200];
    /* shared with the writer, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct jute_buf pending;
    int64_t pending_first_zxid; /* 0 when pending is empty */
    int64_t pending_last_zxid;
    struct store_roll rolls[STORE_ROLLS_MAX];
    uint32_t roll_count;
    bool stop;
    bool batch_busy; /* a batch is being written (by the writer or the loop) */
    int64_t durable_zxid; /* written by the writer, read with __atomic */
    /* loop-owned */
    struct jute_buf scratch;
    bool kicked;
    uint64_t batches_inline; /* written on the loop by store_sync_inline */
    bool roll_next;      /* the next appended record starts a new log file */
    int64_t appended_zxid;
    int64_t txns_since_snap;
    int64_t bytes_since_snap;
    int64_t snap_threshold;
    bool snap_requested;
    bool snap_wanted;
    uint64_t rng;
    pid_t child;
    int64_t child_zxid;
    int64_t child_started_ms;
    int64_t child_fork_us;     /* wall time of fork() in the loop */
    int64_t child_fork_cpu_us; /* the loop thread's CPU time in it (no preemption) */
    /* re-collapse of huge pages after a snapshot (see store_recollapse) */
    pthread_t collapse_thread;
    bool collapse_started;
    atomic_bool collapse_busy;
    void *collapse_start;
    size_t collapse_len;
    int64_t next_purge_ms;
    int efd;
    /* writer-owned */
    pthread_t thread;
    struct jute_buf wbuf;
    int log_fd;
    char log_name[STORE_NAME_MAX];
    uint64_t log_pos;
    uint64_t log_alloc;
    /* the preparer thread (store_prep_main); the fields after prep_mu are under it */
    pthread_t prep_thread;
    bool prep_started;
    uint8_t *prep_zeros; /* STORE_PREP_CHUNK zero bytes: the preparer never allocates */
    pthread_mutex_t prep_mu;
    pthread_cond_t prep_cv;
    bool prep_stop;
    int prep_fd;          /* a ready tmp.log.next, or -1 */
    uint64_t prep_size;   /* its size */
    uint64_t prep_want;   /* the size to prepare next; 0: nothing wanted */
    int trim_fd;          /* a finished log for the preparer to trim, or -1 */
    uint64_t trim_len;
    uint64_t logs_prepared_used; /* written by the writer, read with __atomic */
    uint64_t logs_created;
    uint64_t logs_rolled_full;
};

static int64_t store_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t store_thread_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t store_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- files and directories ---- */

static int store_mkdirs(const char *path, char *err, size_t errlen) {
    char buf[4200];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", buf);
        return -1;
    }
    return 0;
}

static int store_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

struct store_file {
    int64_t zxid;
    char name[STORE_NAME_MAX];
};

static int store_file_cmp(const void *a, const void *b) {
    const struct store_file *x = a, *y = b;
    return x->zxid < y->zxid ? -1 : x->zxid > y->zxid;
}

/* Uncompressed snapshots only: zkd does not read ZooKeeper's .gz/.snappy ones. */
static bool store_parse_snap_name(const char *name, int64_t *zxid) {
    bool compressed;
    return snap_parse_file_name(name, zxid, &compressed) && !compressed;
}

/* Lists "snapshot.*" or "log.*" files, sorted by zxid ascending. */
static int store_list(const char *dir, bool snapshots, struct store_file **out, uint32_t *count) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    uint32_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t zxid;
        bool ok = snapshots ? store_parse_snap_name(e->d_name, &zxid)
                            : wal_parse_file_name(e->d_name, &zxid);
        if (!ok || strlen(e->d_name) >= STORE_NAME_MAX)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            *out = zk_xrealloc(*out, (size_t)cap * sizeof(**out));
        }
        (*out)[*count].zxid = zxid;
        memcpy((*out)[*count].name, e->d_name, strlen(e->d_name) + 1);
        (*count)++;
    }
    closedir(d);
    if (*count > 1)
        qsort(*out, *count, sizeof(**out), store_file_cmp);
    return 0;
}

struct store_map {
    const uint8_t *p;
    uint64_t size;
    struct wal_holes holes; /* the first holes of a sparse file (wal.h) */
};

/* Lists the file's holes (SEEK_DATA / SEEK_HOLE), up to WAL_HOLES_MAX of them. A
 * file system without hole reporting shows the whole file as data: nothing is
 * listed and the scans read everything, as they did before. */
static void store_find_holes(int fd, uint64_t size, struct wal_holes *h) {
    h->count = 0;
    uint64_t off = 0;
    while (off < size && h->count < WAL_HOLES_MAX) {
        off_t data = lseek(fd, (off_t)off, SEEK_DATA);
        uint64_t hole_end = data < 0 ? size : ZK_MIN((uint64_t)data, size);
        if (data < 0 && errno != ENXIO)
            return; /* no hole reporting (ENXIO means: only a hole up to the end) */
        if (hole_end > off) {
            h->start[h->count] = off;
            h->end[h->count] = hole_end;
            h->count++;
        }
        if (data < 0 || hole_end >= size)
            return;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0 || (uint64_t)hole <= (uint64_t)data)
            return;
        off = (uint64_t)hole;
    }
}

static int store_map_file(const char *path, struct store_map *m, char *err, size_t errlen) {
    m->p = NULL;
    m->size = 0;
    m->holes.count = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    m->size = (uint64_t)sb.st_size;
    if (m->size > 0) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        m->p = p;
        store_find_holes(fd, m->size, &m->holes);
    }
    close(fd);
    return 0;
}

static void store_unmap(struct store_map *m) {
    if (m->p != NULL)
        munmap((void *)m->p, m->size);
    m->p = NULL;
}

/* ---- snapshots ---- */

static int store_write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *store_errno_hint(int e) {
    return e == ENOSPC ? " (the disk is full)" : e == EDQUOT ? " (disk quota exceeded)" : "";
}

struct store_fd_sink {
    int fd;
    int err; /* errno of a failed write */
};

static int store_sink_fd(void *ctx, const uint8_t *p, uint32_t n) {
    struct store_fd_sink *k = ctx;
    if (store_write_all(k->fd, p, n) != 0) {
        k->err = errno;
        return -1;
    }
    return 0;
}

/* Writes the image through w (initialised with store_sink_fd and k) to
 * tmp.snapshot.<zxid>, fsyncs it, renames it to snapshot.<zxid> and fsyncs the
 * directory. Allocates nothing (runs in the forked child). */
static int store_snapshot_to_disk(const char *data_dir, struct snap_writer *w,
                                  struct store_fd_sink *k, const struct session_table *s,
                                  int64_t zxid, char *err, size_t errlen) {
    char dir[4200], tmp[4300], final[4300];
    snprintf(dir, sizeof(dir), "%s/version-2", data_dir);
    snprintf(tmp, sizeof(tmp), "%s/tmp.snapshot.%" PRIx64, dir, (uint64_t)zxid);
    snprintf(final, sizeof(final), "%s/snapshot.%" PRIx64, dir, (uint64_t)zxid);
    k->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    k->err = 0;
    int rc = -1;
    if (k->fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    int wrc = snap_writer_run(w, s);
    if (wrc != 0 || fsync(k->fd) != 0) {
        int e = wrc == 0 || k->err == 0 ? errno : k->err;
        if (wrc != 0 && k->err == 0)
            snprintf(err, errlen, "cannot serialise the tree into %s (code %d)", tmp, wrc);
        else
            snprintf(err, errlen, "cannot write %s: %s%s", tmp, strerror(e), store_errno_hint(e));
    } else if (rename(tmp, final) != 0) {
        snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
    } else if (store_fsync_dir(dir) != 0) {
        snprintf(err, errlen, "cannot fsync %s: %s", dir, strerror(errno));
    } else {
        rc = 0;
    }
    close(k->fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int store_write_snapshot(const char *data_dir, const struct tree *t,
                         const struct session_table *s, int64_t zxid, char *err, size_t errlen) {
    struct store_fd_sink k = {.fd = -1};
    struct snap_writer w;
    snap_writer_init(&w, t, store_sink_fd, &k);
    int rc = store_snapshot_to_disk(data_dir, &w, &k, s, zxid, err, errlen);
    snap_writer_deinit(&w);
    return rc;
}

static int64_t store_snap_threshold(struct store *st) {
    /* ZooKeeper: snapCount/2 + a random share of snapCount/2, so that servers of
     * an ensemble do not all snapshot at once. */
    int64_t half = st->cfg.snap_count / 2;
    st->rng = st->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t r = half > 0 ? (int64_t)((st->rng >> 33) % (uint64_t)half) : 0;
    return half + r;
}

/* Not while huge pages are being rebuilt: the fork would wait for the collapse's
 * locks, and the collapse fails on pages the new child shares. */
bool store_snapshot_due(const struct store *st) {
    return st->snap_wanted && st->child <= 0 && !atomic_load(&st->collapse_busy);
}

bool store_snapshot_running(const struct store *st) { return st->child > 0; }

void store_request_snapshot(struct store *st) {
    st->snap_requested = true;
    st->snap_wanted = true;
    st->roll_next = true;
}

static void store_child_close_fds(void) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, ~0U, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        close((int)fd);
}

int store_snapshot_start(struct store *st, const struct tree *t, const struct session_table *s,
                         int64_t zxid) {
    if (st->child > 0)
        return -1;
    st->snap_wanted = false;
    st->snap_requested = false;
    /* everything the child needs is allocated here, before the fork */
    struct store_fd_sink k = {.fd = -1};
    struct snap_writer w;
    snap_writer_init(&w, t, store_sink_fd, &k);
    pid_t parent = getpid();
    int64_t t0 = store_mono_us(), c0 = store_thread_cpu_us();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "zkd: cannot fork to write a snapshot: %s (will retry at the next one)\n",
                strerror(errno));
        snap_writer_deinit(&w);
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe work from here: another thread may have held a
         * malloc lock at the fork. Any allocation attempt fails loudly instead. */
        zk_mem_fail_after(1);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        store_child_close_fds();
        setpriority(PRIO_PROCESS, 0, 10);
        char err[512];
        if (store_snapshot_to_disk(st->cfg.data_dir, &w, &k, s, zxid, err, sizeof(err)) != 0) {
            static const char msg[] = "zkd: snapshot child failed: ";
            ssize_t ignored = write(2, msg, sizeof(msg) - 1);
            ignored = write(2, err, strlen(err));
            ignored = write(2, "\n", 1);
            ZK_UNUSED(ignored);
            _exit(1);
        }
        _exit(0);
    }
    snap_writer_deinit(&w);
    st->child = pid;
    st->child_zxid = zxid;
    st->child_fork_us = store_mono_us() - t0;
    st->child_fork_cpu_us = store_thread_cpu_us() - c0;
    st->child_started_ms = store_mono_ms();
    return 0;
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif

static void *store_collapse_main(void *arg) {
    struct store *st = arg;
    /* EINVAL: a kernel without MADV_COLLAPSE; EAGAIN/ENOMEM: no huge page free
     * now. Either way khugepaged may still do it later; nothing to report. */
    (void)madvise(st->collapse_start, st->collapse_len, MADV_COLLAPSE);
    atomic_store(&st->collapse_busy, false);
    return NULL;
}

/* While a snapshot child runs, every page the loop writes is copied, and a huge
 * page written to is split into 4 KiB mappings for good (the kernel's
 * copy-on-write of a huge page); left alone, the next fork's page-table copy
 * grows with every snapshot. After the child is gone, a thread asks the kernel to
 * rebuild the huge pages of the allocator's range (madvise MADV_COLLAPSE; the
 * loop goes on, briefly waiting on a 2 MiB region it faults in while that
 * region is being copied). */
static void store_recollapse(struct store *st) {
    void *start;
    size_t len;
    zk_mem_huge_range(&start, &len);
    if (len == 0 || atomic_load(&st->collapse_busy))
        return;
    if (st->collapse_started)
        pthread_join(st->collapse_thread, NULL);
    st->collapse_started = false;
    st->collapse_start = start;
    st->collapse_len = len;
    atomic_store(&st->collapse_busy, true);
    if (pthread_create(&st->collapse_thread, NULL, store_collapse_main, st) != 0) {
        atomic_store(&st->collapse_busy, false);
        return;
    }
    st->collapse_started = true;
}

static bool store_reap(struct store *st, bool block) {
    if (st->child <= 0)
        return false;
    int status = 0;
    pid_t r;
    do {
        r = waitpid(st->child, &status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        fprintf(stderr,
                "zkd: snapshot.%" PRIx64 " written in %" PRId64
                " ms (fork paused the loop %" PRId64 ".%01" PRId64 " ms, %" PRId64 ".%01" PRId64
                " ms of it on the CPU)\n",
                (uint64_t)st->child_zxid, store_mono_ms() - st->child_started_ms,
                st->child_fork_us / 1000, st->child_fork_us % 1000 / 100,
                st->child_fork_cpu_us / 1000, st->child_fork_cpu_us % 1000 / 100);
    } else {
        fprintf(stderr, "zkd: snapshot at zxid 0x%" PRIx64 " was not written (status %d); "
                "the log still holds every txn\n", (uint64_t)st->child_zxid, status);
    }
    st->child = 0;
    return true;
}

/* ---- purge ---- */

/* ZooKeeper's quick validity test (SnapStream.isValidSnapshot): at least 10
 * bytes, ending with the seal's "/" string. */
static bool store_snap_looks_valid(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat sb;
    uint8_t tail[5];
    bool ok = fstat(fd, &sb) == 0 && sb.st_size >= 10 &&
              pread(fd, tail, 5, sb.st_size - 5) == 5 && jute_be32(tail) == 1 && tail[4] == '/';
    close(fd);
    return ok;
}

int store_purge(const char *data_dir, const char *log_dir, int32_t retain) {
    char sdir[4200], ldir[4200], path[4400];
    snprintf(sdir, sizeof(sdir), "%s/version-2", data_dir);
    snprintf(ldir, sizeof(ldir), "%s/version-2", log_dir);
    struct store_file *snaps = NULL, *logs = NULL;
    uint32_t ns = 0, nl = 0;
    int removed = 0;
    if (store_list(sdir, true, &snaps, &ns) != 0 || store_list(ldir, false, &logs, &nl) != 0)
        goto out;
    /* the retain newest valid snapshots, newest first */
    int32_t kept = 0;
    int64_t least = -1;
    for (uint32_t i = ns; i-- > 0 && kept < retain;) {
        snprintf(path, sizeof(path), "%s/%s", sdir, snaps[i].name);
        if (store_snap_looks_valid(path)) {
            kept++;
            least = snaps[i].zxid;
        }
    }
    if (kept < retain)
        goto out; /* not enough snapshots yet: keep everything */
    for (uint32_t i = 0; i < ns; i++) {
        if (snaps[i].zxid >= least)
            continue;
        snprintf(path, sizeof(path), "%s/%s", sdir, snaps[i].name);
        if (unlink(path) == 0)
            removed++;
    }
    /* keep the newest log starting at or before least (it holds the txns after
     * that snapshot) and every later one */
    int64_t keep_from = INT64_MIN;
    for (uint32_t i = 0; i < nl; i++) {
        if (logs[i].zxid <= least)
            keep_from = logs[i].zxid;
    }
    for (uint32_t i = 0; i < nl; i++) {
        if (logs[i].zxid >= keep_from)
            break;
        snprintf(path, sizeof(path), "%s/%s", ldir, logs[i].name);
        if (unlink(path) == 0)
            removed++;
    }
out:
    zk_free(snaps);
    zk_free(logs);
    return removed;
}

/* ---- epoch files ---- */

int store_read_epoch(const char *data_dir, const char *name, int64_t *out, char *err,
                     size_t errlen) {
    char path[4300];
    snprintf(path, sizeof(path), "%s/version-2/%s", data_dir, name);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[64];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (n == 0 || *end != '\0' || errno != 0) {
        snprintf(err, errlen, "%s: not a number: '%.32s'", path, buf);
        return -1;
    }
    *out = v;
    return 1;
}

int store_write_epoch(const char *data_dir, const char *name, int64_t value, char *err,
                      size_t errlen) {
    char dir[4200], tmp[4300], path[4300], text[32];
    snprintf(dir, sizeof(dir), "%s/version-2", data_dir);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    int n = snprintf(text, sizeof(text), "%" PRId64, value);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || store_write_all(fd, (const uint8_t *)text, (size_t)n) != 0 || fsync(fd) != 0 ||
        rename(tmp, path) != 0 || store_fsync_dir(dir) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s%s", path, strerror(e), store_errno_hint(e));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- recovery ---- */

static void store_noop_event(void *ctx, struct watch_owner *owner, int32_t event,
                             const char *path, uint32_t len, const struct acl_list *acl,
                             int64_t zxid) {
    ZK_UNUSED(ctx);
    ZK_UNUSED(owner);
    ZK_UNUSED(event);
    ZK_UNUSED(path);
    ZK_UNUSED(len);
    ZK_UNUSED(acl);
    ZK_UNUSED(zxid);
}

struct store_replay {
    struct apply_env env;
    const char *file;
    int64_t last_zxid;
    uint64_t replayed;
    char *err;
    size_t errlen;
};

static int store_replay_record(void *ctx, uint64_t offset, const uint8_t *payload, uint32_t len) {
    struct store_replay *r = ctx;
    struct txn t;
    txn_init(&t);
    if (txn_decode(payload, len, &t) != ZK_OK) {
        snprintf(r->err, r->errlen,
                 "%s: offset %" PRIu64 ": the record's checksum is right but its txn cannot be "
                 "decoded",
                 r->file, offset);
        return -1;
    }
    if (t.zxid <= r->last_zxid) {
        txn_deinit(&t); /* already in the snapshot */
        return 0;
    }
    bool same_epoch = (t.zxid >> 32) == (r->last_zxid >> 32);
    if (same_epoch && t.zxid != r->last_zxid + 1) {
        snprintf(r->err, r->errlen,
                 "%s: offset %" PRIu64 ": zxid gap: expected 0x%" PRIx64 ", found 0x%" PRIx64
                 " (txns are missing)",
                 r->file, offset, (uint64_t)(r->last_zxid + 1), (uint64_t)t.zxid);
        txn_deinit(&t);
        return -1;
    }
    apply_txn(&r->env, &t, NULL);
    r->last_zxid = t.zxid;
    r->replayed++;
    txn_deinit(&t);
    return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Faulting in fresh memory is a large part of a big load: the kernel zeroes
 * every page the tree fills (and on a VM the host may have to back it first).
 * While a snapshot or a log loads, a thread faults in the allocator's next stretch
 * (zk_mem_commit_ahead) so that the zeroing runs beside the parse instead of
 * inside it. The contents are not touched, only page tables, so the two threads
 * share no data; the loop just finds the pages already there. */
struct store_prefault {
    pthread_t thread;
    bool started;
    atomic_bool stop;
    uint8_t *start;
    size_t len;
};

#define STORE_PREFAULT_STEP ((size_t)2 << 20)

static void *store_prefault_main(void *arg) {
    struct store_prefault *p = arg;
    for (size_t off = 0; off < p->len && !atomic_load(&p->stop); off += STORE_PREFAULT_STEP) {
        size_t n = p->len - off < STORE_PREFAULT_STEP ? p->len - off : STORE_PREFAULT_STEP;
        if (madvise(p->start + off, n, MADV_POPULATE_WRITE) != 0)
            break; /* EINVAL before Linux 5.14, ENOMEM: the loop faults pages itself */
    }
    return NULL;
}

/* Faults in the allocator's next `bytes` from a thread (none for less than two
 * huge pages: not worth a thread). Callers estimate what a load will allocate;
 * an overestimate leaves pages the tree grows into later. */
static void store_prefault_start(struct store_prefault *p, uint64_t bytes) {
    memset(p, 0, sizeof(*p));
    atomic_init(&p->stop, false);
    if (bytes < 2 * STORE_PREFAULT_STEP || bytes > SIZE_MAX / 2)
        return;
    void *start;
    zk_mem_commit_ahead((size_t)bytes, &start, &p->len);
    p->start = start;
    if (p->len > 0 && pthread_create(&p->thread, NULL, store_prefault_main, p) == 0)
        p->started = true;
}

static void store_prefault_stop(struct store_prefault *p) {
    atomic_store(&p->stop, true);
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = false;
}

/* Where the zeros at the end of a mapped log begin, to a page: after its last hole
 * that reaches the end of the file (ZooKeeper's sparse padding) is skipped, a
 * page-by-page walk back (zero-filled padding). */
static uint64_t store_log_data_end(const struct store_map *m) {
    uint64_t end = m->size;
    if (m->holes.count > 0 && m->holes.end[m->holes.count - 1] >= end)
        end = m->holes.start[m->holes.count - 1];
    const uint64_t page = 4096;
    while (end > 0) {
        uint64_t from = end > page ? (end - 1) / page * page : 0;
        if (!wal_all_zero(m->p + from, end - from))
            break;
        end = from;
    }
    return end;
}

/* Replays the logs that may hold txns after snap_zxid. */
static int store_replay_logs(struct store *st, struct tree *t, struct session_table *s,
                             int64_t now_ms, int64_t snap_zxid, struct store_recovery *rec,
                             char *err, size_t errlen) {
    struct store_file *logs = NULL;
    uint32_t nl = 0;
    if (store_list(st->log_dir, false, &logs, &nl) != 0) {
        snprintf(err, errlen, "cannot list %s: %s", st->log_dir, strerror(errno));
        return -1;
    }
    uint32_t first = 0;
    for (uint32_t i = 0; i < nl; i++) {
        if (logs[i].zxid <= snap_zxid)
            first = i;
    }
    struct store_replay r = {
        .env = {.tree = t, .sessions = s, .watches = NULL, .on_event = store_noop_event,
                .now_ms = now_ms, .replay = true},
        .last_zxid = snap_zxid,
        .err = err,
        .errlen = errlen,
    };
    struct watch_mgr none;
    watch_mgr_init(&none);
    r.env.watches = &none;
    int rc = 0;
    char path[4400];
    for (uint32_t i = first; i < nl && rc == 0; i++) {
        bool last = i + 1 == nl;
        snprintf(path, sizeof(path), "%s/%s", st->log_dir, logs[i].name);
        struct store_map m;
        if (store_map_file(path, &m, err, errlen) != 0) {
            rc = -1;
            break;
        }
        r.file = path;
        struct wal_scan scan;
        if (m.size < WAL_HEADER_BYTES || wal_image_all_zero(m.p, m.size, &m.holes)) {
            /* created but its header never reached the disk (the writer syncs the
             * header before any record): nothing in it is durable. A zeroed header
             * with records after it is damage, refused below as a bad header. */
            store_unmap(&m);
            if (!last) {
                snprintf(err, errlen, "%s: empty log file followed by newer logs", path);
                rc = -1;
                break;
            }
            fprintf(stderr, "zkd: %s: removing an empty log file (crash right after creating it)\n",
                    path);
            if (unlink(path) != 0) {
                snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
                rc = -1;
            }
            break;
        }
        /* A create costs about half its record's bytes in the log (creates fill
         * the memory a log's replay needs; other txns need little). The zeros
         * after the last record are not records: a prepared file that a crash
         * left untrimmed has up to preAllocSize of them. */
        uint64_t data_bytes = store_log_data_end(&m);
        for (uint32_t h = 0; h < m.holes.count; h++) {
            if (m.holes.end[h] <= data_bytes)
                data_bytes -= m.holes.end[h] - m.holes.start[h];
        }
        struct store_prefault pf;
        store_prefault_start(&pf, data_bytes / 2);
        int src = wal_scan_image(m.p, m.size, &m.holes, st->cfg.max_record, store_replay_record,
                                 &r, &scan);
        store_prefault_stop(&pf);
        if (src != 0) {
            store_unmap(&m);
            rc = -1;
            break;
        }
        store_unmap(&m);
        rec->logs_read++;
        if (last && scan.records == 0 && scan.end != WAL_END_BAD_HEADER &&
            scan.end != WAL_END_CORRUPT) {
            /* a header and no whole record: nothing in it was ever durable, and the
             * next txn's log file may want its name */
            fprintf(stderr, "zkd: %s: removing a log file without any whole record\n", path);
            if (unlink(path) != 0 || store_fsync_dir(st->log_dir) != 0) {
                snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
                rc = -1;
            }
            break;
        }
        switch (scan.end) {
        case WAL_END_CLEAN:
            break;
        case WAL_END_BAD_HEADER:
            snprintf(err, errlen, "%s: offset 0: not a ZooKeeper transaction log (bad header)", path);
            rc = -1;
            break;
        case WAL_END_CORRUPT:
            snprintf(err, errlen,
                     "%s: offset %" PRIu64 ": corrupt record (a valid record follows at offset %"
                     PRIu64 "); refusing to start rather than drop acknowledged txns",
                     path, scan.bad_offset, scan.next_good_offset);
            rc = -1;
            break;
        case WAL_END_TORN:
            if (!last) {
                /* a later file must continue exactly where this one ends */
                if (logs[i + 1].zxid != r.last_zxid + 1 && logs[i + 1].zxid > snap_zxid) {
                    snprintf(err, errlen,
                             "%s: offset %" PRIu64 ": damaged record, and the next log %s starts "
                             "at zxid 0x%" PRIx64 " (txns after 0x%" PRIx64 " are missing)",
                             path, scan.bad_offset, logs[i + 1].name, (uint64_t)logs[i + 1].zxid,
                             (uint64_t)r.last_zxid);
                    rc = -1;
                }
                break;
            }
            /* the torn tail of the newest log: it was never acknowledged */
            {
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                struct stat sb;
                if (fd < 0 || fstat(fd, &sb) != 0 || ftruncate(fd, (off_t)scan.valid_bytes) != 0 ||
                    fsync(fd) != 0) {
                    snprintf(err, errlen, "cannot truncate the torn tail of %s: %s", path,
                             strerror(errno));
                    rc = -1;
                } else {
                    rec->truncated = true;
                    snprintf(rec->truncated_log, sizeof(rec->truncated_log), "%s", logs[i].name);
                    rec->truncated_at = scan.valid_bytes;
                    rec->truncated_bytes = (uint64_t)sb.st_size - scan.valid_bytes;
                    fprintf(stderr,
                            "zkd: %s: torn tail at offset %" PRIu64 " (%" PRIu64
                            " bytes after the last whole record) truncated\n",
                            path, scan.bad_offset, rec->truncated_bytes);
                }
                if (fd >= 0)
                    close(fd);
            }
            break;
        }
    }
    watch_mgr_deinit(&none);
    zk_free(logs);
    rec->txns_replayed = r.replayed;
    rec->last_zxid = r.last_zxid;
    return rc;
}

/* A fuzzy ZooKeeper snapshot may name ACLs its cache lacks (snap.c holds a
 * stand-in for each); the replayed txn that created such a node (or set its
 * ACL) puts the real list in place. One left means neither the snapshot nor
 * the log knows the node's ACL: refuse rather than guess. */
static int store_check_unresolved_acls(const struct tree *t, const char *snap_path,
                                       uint32_t count, char *err, size_t errlen) {
    struct tree_walk w;
    tree_walk_init(&w, t);
    int rc = 0;
    for (const struct tree_node *n; (n = tree_walk_next(&w)) != NULL;) {
        if (acl_is_unresolved(tree_node_acl(t, n))) {
            snprintf(err, errlen,
                     "%s: node %s refers to ACL %s, which is neither in the snapshot's ACL "
                     "cache nor set by a later logged txn: refusing to start",
                     snap_path, w.path, tree_node_acl(t, n)->e[0].id);
            rc = -1;
            break;
        }
    }
    tree_walk_deinit(&w);
    if (rc == 0)
        fprintf(stderr,
                "zkd: %s: %u node(s) referred to ACLs added while ZooKeeper wrote the snapshot; "
                "the log replay restored them\n",
                snap_path, count);
    return rc;
}

static void store_remove_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "tmp.snapshot.", 13) == 0 || strcmp(e->d_name, STORE_PREP_NAME) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

static int store_recover(struct store *st, struct tree *t, struct session_table *s,
                         int64_t now_ms, struct store_recovery *rec, char *err, size_t errlen) {
    struct store_file *snaps = NULL;
    uint32_t ns = 0;
    if (store_list(st->snap_dir, true, &snaps, &ns) != 0) {
        snprintf(err, errlen, "cannot list %s: %s", st->snap_dir, strerror(errno));
        return -1;
    }
    int rc = -1;
    char path[4400], why[512];
    int64_t newest_invalid = -1;
    char newest_invalid_msg[5200] = "";
    for (uint32_t i = ns; i-- > 0;) {
        snprintf(path, sizeof(path), "%s/%s", st->snap_dir, snaps[i].name);
        struct store_map m;
        if (store_map_file(path, &m, why, sizeof(why)) != 0) {
            fprintf(stderr, "zkd: %s\n", why);
            goto invalid;
        }
        struct snap_info info;
        /* nodes take about as much memory as the file: 0.9 times for 100 B
         * values, 0.6 times for 10 B values */
        struct store_prefault pf;
        store_prefault_start(&pf, m.size / 4 * 3);
        int lrc = m.size == 0 ? ZK_ECORRUPT
                              : snap_load(m.p, m.size, st->cfg.max_record, t, s, now_ms, &info,
                                          why, sizeof(why));
        store_prefault_stop(&pf);
        if (m.size == 0)
            snprintf(why, sizeof(why), "empty file");
        store_unmap(&m);
        if (lrc == ZK_OK) {
            rec->snap_zxid = snaps[i].zxid;
            snprintf(rec->snap_name, sizeof(rec->snap_name), "%s", snaps[i].name);
            rc = store_replay_logs(st, t, s, now_ms, snaps[i].zxid, rec, err, errlen);
            if (rc == 0 && info.unresolved_acls > 0)
                rc = store_check_unresolved_acls(t, path, info.unresolved_acls, err, errlen);
            if (rc != 0 && newest_invalid >= 0) {
                /* name the root cause too: the fallback was needed because of it */
                char cause[1024];
                snprintf(cause, sizeof(cause), "%s", err);
                snprintf(err, errlen, "%s; falling back to %s failed: %s", newest_invalid_msg,
                         snaps[i].name, cause);
            }
            if (rc == 0 && newest_invalid >= 0 && rec->last_zxid < newest_invalid) {
                snprintf(err, errlen,
                         "%s; the older snapshot %s plus the logs reach only zxid 0x%" PRIx64
                         ", so falling back would lose txns: refusing to start",
                         newest_invalid_msg, snaps[i].name, (uint64_t)rec->last_zxid);
                rc = -1;
            }
            goto out;
        }
        fprintf(stderr, "zkd: %s: invalid snapshot: %s; trying an older one\n", path, why);
        /* start again from an empty state */
        tree_deinit(t);
        tree_init(t);
        session_table_reinit(s, now_ms);
    invalid:
        rec->snaps_skipped++;
        if (newest_invalid < 0) {
            newest_invalid = snaps[i].zxid;
            snprintf(newest_invalid_msg, sizeof(newest_invalid_msg), "%s: invalid snapshot (%s)",
                     path, why);
        }
    }
    /* no valid snapshot */
    struct store_file *logs = NULL;
    uint32_t nl = 0;
    store_list(st->log_dir, false, &logs, &nl);
    zk_free(logs);
    if (ns > 0) {
        snprintf(err, errlen, "%s, and no older valid snapshot: refusing to start",
                 newest_invalid_msg);
    } else if (nl > 0) {
        /* as ZooKeeper: logs without any snapshot mean files were lost */
        snprintf(err, errlen,
                 "%s holds transaction logs but %s holds no snapshot: refusing to start "
                 "(files are missing)",
                 st->log_dir, st->snap_dir);
    } else {
        rec->snap_zxid = -1; /* fresh dataDir */
        rec->last_zxid = 0;
        rc = 0;
    }
out:
    zk_free(snaps);
    return rc;
}

/* ---- prepared log files (see the top of this file) ---- */

#define STORE_PREP_CHUNK (256u * 1024)
#define STORE_PREP_FIRST (1u << 20)
#define STORE_ROLL_FULL_MIN (1u << 20) /* see store_log_full */

static void store_prep_path(const struct store *st, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", st->log_dir, STORE_PREP_NAME);
}

static void store_log_header(uint8_t h[WAL_HEADER_BYTES]) {
    /* magic, version, dbid 0: by hand, as the writer thread does not allocate */
    static const uint8_t head[WAL_HEADER_BYTES] = {0x5A, 0x4B, 0x4C, 0x47, 0, 0, 0, WAL_VERSION};
    memcpy(h, head, WAL_HEADER_BYTES);
    ZK_ASSERT(jute_be32(h) == WAL_MAGIC);
}

/* The size of the file that follows a log of `used` bytes: twice that, in 64 KiB
 * steps, at most preAllocSize. */
static uint64_t store_prep_size(const struct store *st, uint64_t used) {
    const uint64_t step = 64 * 1024;
    uint64_t want = (used * 2 + step - 1) / step * step;
    if (want < step)
        want = step;
    if (want > (uint64_t)st->cfg.prealloc_bytes)
        want = (uint64_t)st->cfg.prealloc_bytes;
    return want;
}

/* Writes tmp.log.next: the header, then zeros to `size`, synced. The zeros go out
 * in chunks, each written back before the next (sync_file_range), so the disk
 * sees a steady trickle rather than one burst that the writer's next flush would
 * have to wait for. Returns the open descriptor, or -1 (errno set, file removed). */
static int store_prep_file(struct store *st, uint64_t size) {
    char path[4400];
    store_prep_path(st, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    uint8_t h[WAL_HEADER_BYTES];
    store_log_header(h);
    int rc = store_write_all(fd, h, sizeof(h));
    for (uint64_t off = sizeof(h); rc == 0 && off < size;) {
        uint64_t n = size - off < STORE_PREP_CHUNK ? size - off : STORE_PREP_CHUNK;
        ssize_t w = pwrite(fd, st->prep_zeros, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            rc = -1;
            break;
        }
        /* best effort: a failure here only loses the pacing */
        sync_file_range(fd, (off_t)off, w,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER);
        off += (uint64_t)w;
        if (__atomic_load_n(&st->prep_stop, __ATOMIC_RELAXED)) {
            errno = ECANCELED;
            rc = -1;
        }
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -1;
    if (rc != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    return fd;
}

static void *store_prep_main(void *arg) {
    struct store *st = arg;
    /* below the loop and the writer, like the snapshot child */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    bool warned = false;
    pthread_mutex_lock(&st->prep_mu);
    for (;;) {
        while (!st->prep_stop && st->trim_fd < 0 && (st->prep_fd >= 0 || st->prep_want == 0))
            pthread_cond_wait(&st->prep_cv, &st->prep_mu);
        if (st->prep_stop)
            break;
        if (st->trim_fd >= 0) {
            int fd = st->trim_fd;
            uint64_t len = st->trim_len;
            st->trim_fd = -1;
            pthread_mutex_unlock(&st->prep_mu);
            /* no sync: if the cut is lost in a crash, the zeros read as padding */
            if (ftruncate(fd, (off_t)len) != 0 && !warned) {
                warned = true;
                fprintf(stderr, "zkd: cannot trim a finished log in %s: %s (harmless)\n",
                        st->log_dir, strerror(errno));
            }
            close(fd);
            pthread_mutex_lock(&st->prep_mu);
            continue;
        }
        uint64_t size = st->prep_want;
        st->prep_want = 0;
        pthread_mutex_unlock(&st->prep_mu);
        int fd = store_prep_file(st, size);
        int e = errno;
        pthread_mutex_lock(&st->prep_mu);
        if (fd >= 0) {
            st->prep_fd = fd;
            st->prep_size = size;
        } else if (e != ECANCELED && !warned) {
            /* the writer creates its logs itself, as before; the disk error, if it
             * persists, will stop the server on the log itself */
            warned = true;
            fprintf(stderr,
                    "zkd: cannot prepare the next log file in %s: %s%s; logs are created "
                    "when needed instead\n",
                    st->log_dir, strerror(e), store_errno_hint(e));
        }
    }
    pthread_mutex_unlock(&st->prep_mu);
    return NULL;
}

/* Takes the prepared file, if one is ready. An older request is dropped with it:
 * the preparer must not start on the temporary name before the taken file has left
 * it (store_prep_request, after the rename). */
static int store_prep_take(struct store *st, uint64_t *size) {
    pthread_mutex_lock(&st->prep_mu);
    int fd = st->prep_fd;
    *size = st->prep_size;
    st->prep_fd = -1;
    st->prep_want = 0;
    pthread_mutex_unlock(&st->prep_mu);
    return fd;
}

/* Asks for the next file, sized after the log that ended (`ended_bytes`, 0 at the
 * first log of a run). Only once the taken file has its new name: the preparer
 * reuses the temporary one. */
static void store_prep_request(struct store *st, uint64_t ended_bytes) {
    pthread_mutex_lock(&st->prep_mu);
    if (st->prep_started)
        st->prep_want = store_prep_size(st, ended_bytes > 0 ? ended_bytes : STORE_PREP_FIRST / 2);
    pthread_cond_signal(&st->prep_cv);
    pthread_mutex_unlock(&st->prep_mu);
}

/* Stops the preparer: a file it was writing is removed, a ready one too, and a
 * trim it had not done yet is done here. */
static void store_prep_stop(struct store *st) {
    pthread_mutex_lock(&st->prep_mu);
    __atomic_store_n(&st->prep_stop, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&st->prep_cv);
    pthread_mutex_unlock(&st->prep_mu);
    if (st->prep_started)
        pthread_join(st->prep_thread, NULL);
    st->prep_started = false;
    if (st->trim_fd >= 0) {
        if (ftruncate(st->trim_fd, (off_t)st->trim_len) != 0)
            fprintf(stderr, "zkd: cannot trim a finished log in %s: %s (harmless)\n", st->log_dir,
                    strerror(errno));
        close(st->trim_fd);
        st->trim_fd = -1;
    }
    if (st->prep_fd >= 0) {
        char prep[4400];
        store_prep_path(st, prep, sizeof(prep));
        close(st->prep_fd);
        unlink(prep);
        st->prep_fd = -1;
    }
    zk_free(st->prep_zeros);
    st->prep_zeros = NULL;
}

void store_log_counts(struct store *st, struct store_log_counts *out) {
    out->prepared = __atomic_load_n(&st->logs_prepared_used, __ATOMIC_RELAXED);
    out->created = __atomic_load_n(&st->logs_created, __ATOMIC_RELAXED);
    out->rolled_full = __atomic_load_n(&st->logs_rolled_full, __ATOMIC_RELAXED);
    out->batches_inline = st->batches_inline;
    pthread_mutex_lock(&st->prep_mu);
    out->ready_bytes = st->prep_fd >= 0 ? st->prep_size : 0;
    pthread_mutex_unlock(&st->prep_mu);
}

/* ---- the log writer ---- */

static void store_fatal(const char *what, const char *file, int e) {
    fprintf(stderr,
            "zkd: FATAL: %s %s: %s%s. Stopping: no txn of the failed write was acknowledged; "
            "restart once the problem is fixed.\n",
            what, file, strerror(e), store_errno_hint(e));
    _exit(STORE_EXIT_FATAL);
}

static void store_log_path(const struct store *st, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", st->log_dir, name);
}

/* `ended_bytes`: the size of the log this one follows (0: the first of this run). */
static void store_open_log(struct store *st, int64_t first_zxid, uint64_t ended_bytes) {
    char path[4400];
    wal_file_name(first_zxid, st->log_name, sizeof(st->log_name));
    store_log_path(st, st->log_name, path, sizeof(path));
    uint64_t size = 0;
    int fd = store_prep_take(st, &size);
    if (fd >= 0) {
        /* header and zeros are durable already: only the name is new. The name
         * must not exist, as with O_EXCL below (recovery removes a log without
         * records, so a txn never finds its file name taken). */
        char prep[4400];
        store_prep_path(st, prep, sizeof(prep));
        if (renameat2(AT_FDCWD, prep, AT_FDCWD, path, RENAME_NOREPLACE) != 0)
            store_fatal("cannot rename the prepared log file to", path, errno);
        st->log_fd = fd;
        st->log_pos = WAL_HEADER_BYTES;
        st->log_alloc = size;
        __atomic_add_fetch(&st->logs_prepared_used, 1, __ATOMIC_RELAXED);
    } else {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
            store_fatal("cannot create transaction log", path, errno);
        uint8_t h[WAL_HEADER_BYTES];
        store_log_header(h);
        if (store_write_all(fd, h, sizeof(h)) != 0)
            store_fatal("cannot write transaction log", path, errno);
        st->log_fd = fd;
        st->log_pos = sizeof(h);
        st->log_alloc = sizeof(h);
        __atomic_add_fetch(&st->logs_created, 1, __ATOMIC_RELAXED);
        if (fsync(fd) != 0)
            store_fatal("cannot fsync transaction log", path, errno);
    }
    if (store_fsync_dir(st->log_dir) != 0)
        store_fatal("cannot fsync directory", st->log_dir, errno);
    store_prep_request(st, ended_bytes);
}

/* Closes the current log; everything in it was synced by the batch that wrote it.
 * The preparer trims its zeros. Without one (or with its last trim still pending)
 * they stay, and read as padding, as ZooKeeper's own do. */
static void store_close_log(struct store *st) {
    if (st->log_fd < 0)
        return;
    int old = -1;
    pthread_mutex_lock(&st->prep_mu);
    if (st->prep_started && !st->prep_stop && st->trim_fd < 0 && st->log_pos < st->log_alloc) {
        st->trim_fd = st->log_fd;
        st->trim_len = st->log_pos;
        pthread_cond_signal(&st->prep_cv);
    } else {
        old = st->log_fd;
    }
    pthread_mutex_unlock(&st->prep_mu);
    if (old >= 0)
        close(old);
    st->log_fd = -1;
}

/* Whether the batch about to be written (its first `n` bytes go to the current log)
 * should start a new log instead: the log is full, a prepared file is ready, and the
 * log is at least STORE_ROLL_FULL_MIN long. The alternative is to grow the log by
 * preAllocSize as a sparse file, and then every fdatasync that writes a new block
 * also waits for an ext4 journal commit. Small logs (a small preAllocSize) are never
 * rolled this way: a roll costs a rename and a directory fsync, a commit of its own.
 * Only with forceSync on: every record of the log has then been synced before the
 * next log starts, so no crash can keep a later log and lose the end of this one. */
static bool store_log_full(struct store *st, uint64_t n) {
    if (st->log_fd < 0 || n == 0 || !st->cfg.force_sync || st->log_pos <= WAL_HEADER_BYTES ||
        st->log_alloc < STORE_ROLL_FULL_MIN || st->log_pos + n <= st->log_alloc)
        return false;
    pthread_mutex_lock(&st->prep_mu);
    bool ready = st->prep_fd >= 0;
    pthread_mutex_unlock(&st->prep_mu);
    return ready;
}

static void store_log_write(struct store *st, const uint8_t *p, size_t n) {
    char path[4400];
    if (st->log_pos + n > st->log_alloc) {
        uint64_t step = (uint64_t)st->cfg.prealloc_bytes;
        uint64_t want = ((st->log_pos + n + step - 1) / step) * step;
        /* sparse, as ZooKeeper pads its logs: the size is set once per step */
        if (ftruncate(st->log_fd, (off_t)want) != 0) {
            store_log_path(st, st->log_name, path, sizeof(path));
            store_fatal("cannot extend transaction log", path, errno);
        }
        st->log_alloc = want;
    }
    while (n > 0) {
        ssize_t w = pwrite(st->log_fd, p, n, (off_t)st->log_pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            store_log_path(st, st->log_name, path, sizeof(path));
            store_fatal("cannot write transaction log", path, w < 0 ? errno : EIO);
        }
        p += w;
        n -= (size_t)w;
        st->log_pos += (uint64_t)w;
    }
}

/* Takes the pending records as the next batch (under mu, with no batch running),
 * or returns false when there are none. */
static bool store_take_batch(struct store *st, struct store_batch *b) {
    if (st->pending.len == 0 || st->batch_busy)
        return false;
    struct jute_buf tmp = st->wbuf;
    st->wbuf = st->pending;
    st->pending = tmp;
    st->pending.len = 0;
    b->first = st->pending_first_zxid;
    b->last = st->pending_last_zxid;
    b->nrolls = st->roll_count;
    memcpy(b->rolls, st->rolls, sizeof(b->rolls));
    st->roll_count = 0;
    st->pending_first_zxid = 0;
    st->batch_busy = true;
    return true;
}

/* Writes one batch (st->wbuf) to the log, switching files at its roll points,
 * and fdatasyncs once; store_end_batch then publishes it. Runs on the writer
 * thread, or on the loop (store_sync_inline), never on both at once: batch_busy,
 * set by store_take_batch under mu, hands the writer-owned fields over. */
static void store_write_batch(struct store *st, const struct store_batch *b) {
    uint64_t off = 0;
    if (st->log_fd < 0 && (b->nrolls == 0 || b->rolls[0].offset != 0)) {
        store_open_log(st, b->first, 0);
    } else if (store_log_full(st, b->nrolls > 0 ? b->rolls[0].offset : st->wbuf.len)) {
        /* the previous batch's fdatasync covered every record of the full log */
        uint64_t ended = st->log_pos;
        store_close_log(st);
        store_open_log(st, b->first, ended);
        __atomic_add_fetch(&st->logs_rolled_full, 1, __ATOMIC_RELAXED);
    }
    for (uint32_t i = 0; i <= b->nrolls; i++) {
        uint64_t end = i < b->nrolls ? b->rolls[i].offset : st->wbuf.len;
        if (end > off)
            store_log_write(st, st->wbuf.p + off, end - off);
        off = end;
        if (i < b->nrolls) {
            if (st->log_fd >= 0 && st->cfg.force_sync && fdatasync(st->log_fd) != 0) {
                char path[4400];
                store_log_path(st, st->log_name, path, sizeof(path));
                store_fatal("cannot fsync transaction log", path, errno);
            }
            uint64_t ended = st->log_fd >= 0 ? st->log_pos : 0;
            store_close_log(st);
            store_open_log(st, b->rolls[i].zxid, ended);
        }
    }
    if (st->cfg.force_sync) {
        int64_t t0 = store_mono_ms();
        if (fdatasync(st->log_fd) != 0) {
            char path[4400];
            store_log_path(st, st->log_name, path, sizeof(path));
            store_fatal("cannot fsync transaction log", path, errno);
        }
        int64_t took = store_mono_ms() - t0;
        if (took > st->cfg.fsync_warn_ms)
            fprintf(stderr,
                    "zkd: fsync of %s/%s took %" PRId64 " ms (fsync.warningthresholdms=%" PRId64
                    "): the disk is slow; every write waits for it\n",
                    st->log_dir, st->log_name, took, st->cfg.fsync_warn_ms);
    }
}

/* Ends the running batch: its last zxid becomes durable. batch_busy is cleared
 * first, so whoever sees the new durable zxid finds the writer's fields free. */
static void store_end_batch(struct store *st, const struct store_batch *b) {
    pthread_mutex_lock(&st->mu);
    st->batch_busy = false;
    __atomic_store_n(&st->durable_zxid, b->last, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&st->mu);
}

static void *store_writer_main(void *arg) {
    struct store *st = arg;
    for (;;) {
        struct store_batch b;
        bool have;
        pthread_mutex_lock(&st->mu);
        while (!(have = store_take_batch(st, &b)) && !st->stop)
            pthread_cond_wait(&st->cv, &st->mu);
        pthread_mutex_unlock(&st->mu);
        if (!have)
            break; /* stopped with nothing pending */
        store_write_batch(st, &b);
        store_end_batch(st, &b);
        uint64_t one = 1;
        ssize_t w = write(st->efd, &one, sizeof(one));
        ZK_UNUSED(w); /* an eventfd write only fails on counter overflow */
    }
    return NULL;
}

bool store_sync_inline(struct store *st) {
    if (!st->kicked)
        return false;
    struct store_batch b;
    pthread_mutex_lock(&st->mu);
    bool took = store_take_batch(st, &b);
    pthread_mutex_unlock(&st->mu);
    if (!took)
        return false; /* the writer has a batch running: store_kick queues this one */
    st->kicked = false;
    store_write_batch(st, &b);
    /* nothing was appended meanwhile (only this thread appends), so the writer,
     * if it woke while the batch ran, has nothing to look at again */
    store_end_batch(st, &b);
    st->batches_inline++;
    return true;
}

void store_append(struct store *st, const struct txn *t) {
    ZK_ASSERT(t->zxid > st->appended_zxid);
    st->scratch.len = 0;
    txn_encode(&st->scratch, t);
    pthread_mutex_lock(&st->mu);
    if (st->roll_next && st->roll_count < STORE_ROLLS_MAX) {
        st->rolls[st->roll_count].offset = st->pending.len;
        st->rolls[st->roll_count].zxid = t->zxid;
        st->roll_count++;
        st->roll_next = false;
    }
    if (st->pending.len == 0)
        st->pending_first_zxid = t->zxid;
    wal_encode_record(&st->pending, st->scratch.p, st->scratch.len);
    st->pending_last_zxid = t->zxid;
    pthread_mutex_unlock(&st->mu);
    st->appended_zxid = t->zxid;
    st->kicked = true;
    st->txns_since_snap++;
    st->bytes_since_snap += (int64_t)st->scratch.len + WAL_RECORD_OVERHEAD;
    if (st->txns_since_snap > st->snap_threshold ||
        (st->cfg.snap_size_limit > 0 && st->bytes_since_snap > st->cfg.snap_size_limit)) {
        /* as ZooKeeper: roll the log, and snapshot unless one is still being written */
        st->txns_since_snap = 0;
        st->bytes_since_snap = 0;
        st->snap_threshold = store_snap_threshold(st);
        st->roll_next = true;
        if (st->child <= 0)
            st->snap_wanted = true;
        else
            fprintf(stderr, "zkd: a snapshot is still being written; skipping this one\n");
    }
}

void store_kick(struct store *st) {
    if (!st->kicked)
        return;
    st->kicked = false;
    pthread_mutex_lock(&st->mu);
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

int64_t store_durable_zxid(const struct store *st) {
    return __atomic_load_n(&st->durable_zxid, __ATOMIC_ACQUIRE);
}

int store_event_fd(const struct store *st) { return st->efd; }

void store_ack(struct store *st) {
    uint64_t v;
    ssize_t r = read(st->efd, &v, sizeof(v));
    ZK_UNUSED(r); /* EAGAIN: nothing to drain */
}

int store_poll(struct store *st, int64_t now_ms) {
    if (store_reap(st, false))
        store_recollapse(st);
    if (st->cfg.purge_interval_ms > 0 && now_ms >= st->next_purge_ms) {
        st->next_purge_ms = now_ms + st->cfg.purge_interval_ms;
        int n = store_purge(st->cfg.data_dir, st->cfg.log_dir, st->cfg.snap_retain_count);
        if (n > 0)
            fprintf(stderr, "zkd: autopurge removed %d old snapshot and log files\n", n);
    }
    return st->child > 0 ? 100 : 1000;
}

int store_open(struct store **out, const struct store_config *cfg, struct tree *t,
               struct session_table *s, int64_t now_ms, struct store_recovery *rec, char *err,
               size_t errlen) {
    int64_t t0 = store_mono_ms();
    memset(rec, 0, sizeof(*rec));
    struct store *st = zk_xcalloc(1, sizeof(*st));
    st->cfg = *cfg;
    st->log_fd = -1;
    st->efd = -1;
    st->prep_fd = -1;
    st->trim_fd = -1;
    if (st->cfg.prealloc_bytes < 4096)
        st->cfg.prealloc_bytes = 4096;
    snprintf(st->snap_dir, sizeof(st->snap_dir), "%s/version-2", cfg->data_dir);
    snprintf(st->log_dir, sizeof(st->log_dir), "%s/version-2", cfg->log_dir);
    if (store_mkdirs(st->snap_dir, err, errlen) != 0 || store_mkdirs(st->log_dir, err, errlen) != 0)
        goto fail;
    store_remove_temps(st->snap_dir);
    store_remove_temps(st->log_dir);
    if (store_recover(st, t, s, now_ms, rec, err, errlen) != 0)
        goto fail;
    if (rec->snap_zxid < 0) {
        /* a fresh dataDir gets snapshot.0, as ZooKeeper writes at first start:
         * ZooKeeper refuses to start on logs without any snapshot */
        if (store_write_snapshot(cfg->data_dir, t, s, 0, err, errlen) != 0)
            goto fail;
    }
    st->durable_zxid = rec->last_zxid;
    st->appended_zxid = rec->last_zxid;
    st->rng = cfg->seed ^ 0x9e3779b97f4a7c15ULL;
    st->snap_threshold = store_snap_threshold(st);
    /* ZooKeeper takes a snapshot after loading; so do we, if the log replayed
     * anything, so the next start is quick. */
    st->snap_wanted = rec->txns_replayed > 0;
    st->next_purge_ms = now_ms; /* first purge at startup, as ZooKeeper */
    st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_mutex_init(&st->prep_mu, NULL);
    pthread_cond_init(&st->prep_cv, NULL);
    jute_buf_init(&st->pending);
    jute_buf_init(&st->wbuf);
    jute_buf_init(&st->scratch);
    /* the preparer starts on the first log at once; without it (a thread limit)
     * the writer creates every log itself */
    st->prep_zeros = zk_xcalloc(1, STORE_PREP_CHUNK);
    st->prep_want = store_prep_size(st, STORE_PREP_FIRST / 2);
    st->prep_started = pthread_create(&st->prep_thread, NULL, store_prep_main, st) == 0;
    if (!st->prep_started)
        fprintf(stderr, "zkd: cannot start the log preparer thread; logs are created when needed\n");
    int prc = pthread_create(&st->thread, NULL, store_writer_main, st);
    if (prc != 0) {
        snprintf(err, errlen, "cannot start the log writer thread: %s", strerror(prc));
        store_prep_stop(st);
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
        pthread_mutex_destroy(&st->prep_mu);
        pthread_cond_destroy(&st->prep_cv);
        jute_buf_deinit(&st->pending);
        jute_buf_deinit(&st->wbuf);
        jute_buf_deinit(&st->scratch);
        goto fail;
    }
    rec->load_ms = store_mono_ms() - t0;
    *out = st;
    return 0;
fail:
    if (st->efd >= 0)
        close(st->efd);
    zk_free(st);
    return -1;
}

void store_close(struct store *st) {
    pthread_mutex_lock(&st->mu);
    st->stop = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL);
    if (st->log_fd >= 0 && fdatasync(st->log_fd) != 0) {
        char path[4400];
        store_log_path(st, st->log_name, path, sizeof(path));
        store_fatal("cannot fsync transaction log", path, errno);
    }
    store_prep_stop(st);
    /* the zeros after the last record: the next start need not read them */
    if (st->log_fd >= 0 && st->log_pos < st->log_alloc && ftruncate(st->log_fd, (off_t)st->log_pos) != 0)
        fprintf(stderr, "zkd: cannot trim %s/%s: %s (harmless)\n", st->log_dir, st->log_name,
                strerror(errno));
    store_close_log(st);
    /* let a running snapshot finish (the next start is quicker), but never hang
     * the shutdown on it: the log holds every txn anyway */
    for (int i = 0; i < 600 && st->child > 0; i++) {
        store_reap(st, false);
        if (st->child > 0)
            usleep(50 * 1000);
    }
    if (st->child > 0) {
        fprintf(stderr, "zkd: snapshot child %d did not finish in 30 s; killing it\n",
                (int)st->child);
        kill(st->child, SIGKILL);
        store_reap(st, true);
    }
    if (st->collapse_started)
        pthread_join(st->collapse_thread, NULL);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->prep_mu);
    pthread_cond_destroy(&st->prep_cv);
    jute_buf_deinit(&st->pending);
    jute_buf_deinit(&st->wbuf);
    jute_buf_deinit(&st->scratch);
    close(st->efd);
    zk_free(st);
}
