/* store.h — durability: recovery at startup, the transaction log written by a
 * log-writer thread with group commit, snapshots, purge and the epoch files, all
 * in ZooKeeper's on-disk layout so either server can start on the other's dataDir:
 *
 *   <dataLogDir>/version-2/log.<hex zxid of its first txn>     (wal.h)
 *   <dataDir>/version-2/snapshot.<hex zxid it is consistent at> (snap.h)
 *   <dataDir>/version-2/acceptedEpoch, currentEpoch             (decimal text)
 *
 * Ordering (../shared/DESIGN.md, reliability.md §5): the event loop appends a
 * txn's record with store_append when it assigns the zxid, and applies the txn
 * and answers the client only once store_durable_zxid() has reached it — after
 * the writer thread's fdatasync (forceSync=yes) or its write() (forceSync=no).
 * Every fsync covers everything appended before it: many txns share one.
 *
 * A write or fsync error on the log is fatal: the process reports the file and
 * the error (ENOSPC named as a full disk) and exits with status 3 before any
 * txn of the failed batch is answered. */
#ifndef ZK_STORE_H
#define ZK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "session.h"
#include "tree.h"
#include "txn.h"

#define STORE_EXIT_FATAL 3

struct store_config {
    const char *data_dir;     /* snapshots and epoch files go in <data_dir>/version-2 */
    const char *log_dir;      /* logs go in <log_dir>/version-2 */
    bool force_sync;
    int64_t prealloc_bytes;   /* log growth step */
    int64_t fsync_warn_ms;
    int32_t snap_count;       /* a snapshot after snap_count/2 + rand(snap_count/2) txns */
    int64_t snap_size_limit;  /* ... or after this many log bytes (<= 0: no limit) */
    int32_t snap_retain_count;
    int64_t purge_interval_ms; /* 0: no automatic purge */
    uint32_t max_record;      /* bound on one log record's payload */
    uint64_t seed;            /* randomises the snapshot interval */
};

/* What recovery found, for the startup log line and the tests. */
struct store_recovery {
    int64_t snap_zxid;      /* zxid of the snapshot loaded (-1: none, fresh dataDir) */
    char snap_name[64];
    uint32_t snaps_skipped; /* newer snapshots that were invalid */
    uint64_t txns_replayed;
    uint32_t logs_read;
    int64_t last_zxid;
    bool truncated;         /* a torn log tail was cut off */
    char truncated_log[64];
    uint64_t truncated_at;
    uint64_t truncated_bytes;
    int64_t load_ms;
};

struct store;

/* Recovers the newest valid snapshot plus every later logged txn into t and s
 * (freshly initialised; s's sessions expire from now_ms), repairs a torn log tail,
 * and starts the log writer. On a fresh dataDir it writes snapshot.0 first.
 * Returns 0, or -1 with a message naming the file and offset in err (corruption,
 * unreadable files): the caller must not serve. */
int store_open(struct store **out, const struct store_config *cfg, struct tree *t,
               struct session_table *s, int64_t now_ms, struct store_recovery *rec, char *err,
               size_t errlen);

/* How this run's log files came to be: renamed from a file the preparer wrote
 * ahead (header and zeros, synced), or created by the writer when none was ready;
 * and the size of the prepared file waiting for the next roll (0: none yet). */
struct store_log_counts {
    uint64_t prepared;
    uint64_t created;
    uint64_t rolled_full; /* logs started because the previous one was full */
    uint64_t ready_bytes;
    uint64_t batches_inline; /* batches the loop wrote itself (store_sync_inline) */
};
void store_log_counts(struct store *st, struct store_log_counts *out);

/* Encodes and queues one txn for the log (zxids strictly increasing). */
void store_append(struct store *st, const struct txn *t);
/* Wakes the writer if anything was appended since the last call (once per loop turn). */
void store_kick(struct store *st);
/* Writes and syncs everything appended since the last kick on the calling (loop)
 * thread, and returns true once it is durable; returns false, doing nothing, when
 * nothing was appended or the writer has a batch running (store_kick then queues
 * the records for it). For a lone client with one write in flight: handing the
 * record to the writer and being woken by its ack costs two thread wake-ups, on a
 * VM each the wake-up of a halted vCPU, as long as a third of the fsync itself.
 * The loop is blocked for the write and the sync, so the caller uses it only
 * when no other client is waiting on it. */
bool store_sync_inline(struct store *st);
/* The highest zxid that is durable (or written, with forceSync=no). */
int64_t store_durable_zxid(const struct store *st);
/* An eventfd that becomes readable when the durable zxid advances; store_ack drains it. */
int store_event_fd(const struct store *st);
void store_ack(struct store *st);

/* Snapshots. store_snapshot_due says the txn count or log size since the last
 * snapshot passed its randomised threshold (or one was requested); the caller then
 * calls store_snapshot_start between two applies, with everything through zxid
 * applied. The snapshot is written by a forked child; store_poll reaps it. */
bool store_snapshot_due(const struct store *st);
void store_request_snapshot(struct store *st);
/* Returns 0 if a child was started, -1 if one is still running or fork failed. */
int store_snapshot_start(struct store *st, const struct tree *t, const struct session_table *s,
                         int64_t zxid);
/* Reaps a finished snapshot child and runs the purge when it is due. Returns the
 * number of milliseconds until it wants to be called again (<= 1000). */
int store_poll(struct store *st, int64_t now_ms);
bool store_snapshot_running(const struct store *st);

/* Writes everything appended, waits for it to be durable, waits for a running
 * snapshot child, stops the writer and frees st. */
void store_close(struct store *st);

/* Writes one snapshot synchronously (startup, tests): temp file, fsync, rename,
 * fsync of the directory. Returns 0 or -1 with err. */
int store_write_snapshot(const char *data_dir, const struct tree *t,
                         const struct session_table *s, int64_t zxid, char *err, size_t errlen);

/* autopurge: keeps the retain newest snapshots and the logs needed to replay from
 * the oldest of them; deletes older ones. Returns the number of files removed. */
int store_purge(const char *data_dir, const char *log_dir, int32_t retain);

/* Epoch files as ZooKeeper keeps them (decimal, no newline, replaced atomically
 * through <name>.tmp). store_read_epoch returns 1 if found, 0 if absent, -1 on a
 * malformed file (err names it). */
int store_read_epoch(const char *data_dir, const char *name, int64_t *out, char *err,
                     size_t errlen);
int store_write_epoch(const char *data_dir, const char *name, int64_t value, char *err,
                      size_t errlen);

#endif
