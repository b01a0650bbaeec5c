/* sim_node.c — one simulated server: the driver around the real ZAB core.
 *
 * It recovers from its simulated disk (snapshot + ZooKeeper-format log, epoch
 * files), creates the core, executes the core's effects in order (network
 * sends, storage on the disk pipeline, applying committed txns with the real
 * apply), and turns client requests into txns at the leader.
 *
 * Disk layout (one node's directory):
 *   log                       wal.h records (header + checksum|len|txn|'B')
 *   snapshot.<hex zxid>       snap.h image of an installed SNAP
 *   snapshot.<hex zxid>.tmp   an install in progress (rolled forward on restart)
 *   acceptedEpoch, currentEpoch   decimal text, replaced via <name>.tmp + rename
 * Recovery rolls a complete snapshot.*.tmp forward (the install was decided;
 * its image covers everything committed the node held), truncates a torn log
 * tail, and refuses to start on corruption or a log with a gap. */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/apply.h"
#include "../../src/base.h"
#include "../../src/err.h"
#include "../../src/jute.h"
#include "../../src/mem.h"
#include "../../src/snap.h"
#include "../../src/txn.h"
#include "../../src/wal.h"

#define SIM_MAX_RECORD (2u * 1024 * 1024)

/* ---- small helpers ---- */

void sim_loglist_free(struct sim_loglist *l) {
    zk_free(l->r);
    memset(l, 0, sizeof(*l));
}

static void sim_loglist_push(struct sim_loglist *l, int64_t zxid, uint64_t end, uint64_t hash) {
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->r = zk_xrealloc(l->r, l->cap * sizeof(*l->r));
    }
    l->r[l->count].zxid = zxid;
    l->r[l->count].end = end;
    l->r[l->count].hash = hash;
    l->count++;
}

static void sim_loglist_copy(struct sim_loglist *dst, const struct sim_loglist *src) {
    if (dst->cap < src->count) {
        dst->cap = src->count;
        dst->r = zk_xrealloc(dst->r, dst->cap * sizeof(*dst->r));
    }
    if (src->count)
        memcpy(dst->r, src->r, src->count * sizeof(*src->r));
    dst->count = src->count;
    dst->base = src->base;
    dst->base_end = src->base_end;
}

int64_t sim_loglist_find(const struct sim_loglist *l, int64_t zxid) {
    uint32_t lo = 0, hi = l->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->r[mid].zxid == zxid)
            return mid;
        if (l->r[mid].zxid < zxid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool sim_loglist_has(const struct sim_loglist *l, int64_t zxid, uint64_t hash) {
    int64_t i = sim_loglist_find(l, zxid);
    return i >= 0 && l->r[i].hash == hash;
}

static int64_t sim_payload_zxid(const uint8_t *p, uint32_t len) {
    if (len < 20)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[12 + i];
    return (int64_t)v;
}

static uint64_t sim_txn_hash(const uint8_t *p, uint32_t len) { return sim_hash_bytes(0, p, len); }

struct sim_digest_ctx {
    uint64_t sum;
};

static void sim_digest_session(void *ctx, struct session *ss) {
    struct sim_digest_ctx *d = ctx;
    uint64_t h = sim_mix64((uint64_t)ss->id) ^ sim_mix64((uint64_t)ss->timeout_ms + 77);
    d->sum += sim_mix64(h);
}

/* Order-independent digest of every node (path, data, persisted stat) and
 * session (id, timeout): equal at equal applied zxid on every replica. */
uint64_t sim_tree_digest(const struct tree *t, const struct session_table *ss) {
    uint64_t sum = 0;
    struct tree_walk w; /* the tree stores no paths: the walk builds them */
    tree_walk_init(&w, t);
    for (const struct tree_node *n; (n = tree_walk_next(&w)) != NULL;) {
        uint64_t h = sim_hash_bytes(0, w.path, w.len);
        if (n->data_len > 0)
            h = sim_hash_bytes(h, tree_node_data(n), (size_t)n->data_len);
        struct tree_stat st;
        tree_node_persisted(t, n, &st);
        int64_t f[9] = {st.czxid,    st.mzxid,    st.ctime,           st.mtime, st.version,
                        st.cversion, st.aversion, st.ephemeral_owner, st.pzxid};
        h = sim_hash_bytes(h, f, sizeof(f));
        h = sim_hash_bytes(h, &n->data_len, sizeof(n->data_len));
        sum += sim_mix64(h);
    }
    tree_walk_deinit(&w);
    struct sim_digest_ctx d = {sum};
    session_for_each(ss, sim_digest_session, &d);
    return d.sum;
}

/* ---- recovery ---- */

static void sim_state_init(struct sim *s, struct sim_node *n) {
    tree_init(&n->tree);
    session_table_init(&n->sessions, s->p.tick_ms, s->now, n->sid);
    watch_mgr_init(&n->watches);
    n->state_init = true;
}

static void sim_state_deinit(struct sim_node *n) {
    if (!n->state_init)
        return;
    tree_deinit(&n->tree);
    session_table_deinit(&n->sessions);
    watch_mgr_deinit(&n->watches);
    n->state_init = false;
}

/* Loads an image into fresh state; false if it is not a valid snapshot. */
static bool sim_state_load(struct sim *s, struct sim_node *n, const uint8_t *p, uint64_t len) {
    sim_state_deinit(n);
    sim_state_init(s, n);
    struct snap_info info;
    char err[128];
    int rc = snap_load(p, len, SIM_MAX_RECORD, &n->tree, &n->sessions, s->now, &info, err,
                       sizeof(err));
    if (rc != ZK_OK) {
        sim_state_deinit(n);
        sim_state_init(s, n);
        return false;
    }
    return true;
}

static bool sim_read_epoch(struct sim_node *n, const char *name, uint32_t *out) {
    *out = 0;
    int ino = sim_disk_lookup(&n->disk, name);
    if (ino < 0)
        return true;
    uint64_t size;
    const uint8_t *p = sim_disk_data(&n->disk, ino, &size);
    char buf[32];
    if (size == 0 || size >= sizeof(buf))
        return false;
    memcpy(buf, p, size);
    buf[size] = 0;
    char *end;
    unsigned long v = strtoul(buf, &end, 10);
    if (*end != '\n' || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static void sim_log_create(struct sim_node *n) {
    n->log_ino = sim_disk_create(&n->disk, "log");
    struct jute_buf b;
    jute_buf_init(&b);
    wal_encode_header(&b);
    sim_disk_write(&n->disk, n->log_ino, 0, b.p, b.len);
    jute_buf_deinit(&b);
    sim_disk_fsync(&n->disk, n->log_ino);
    sim_disk_fsync_dir(&n->disk);
}

/* Finishes a snapshot install interrupted by a crash, or drops a torn one. */
static void sim_roll_forward(struct sim *s, struct sim_node *n) {
    char names[64][SIM_NAME_MAX];
    uint32_t count = sim_disk_names(&n->disk, names, 64);
    for (uint32_t i = 0; i < count; i++) {
        unsigned long long z;
        char tail[8];
        if (strstr(names[i], "Epoch.tmp") != NULL || strstr(names[i], ".part") != NULL) {
            sim_disk_unlink(&n->disk, names[i]); /* an epoch file or own snapshot never finished */
            continue;
        }
        if (sscanf(names[i], "snapshot.%llx.%4s", &z, tail) != 2 || strcmp(tail, "tmp") != 0)
            continue;
        uint64_t size;
        const uint8_t *p = sim_disk_data(&n->disk, sim_disk_lookup(&n->disk, names[i]), &size);
        if (!sim_state_load(s, n, p, size)) {
            sim_trace(s, "n%d recovery: dropped torn %s", n->idx + 1, names[i]);
            sim_disk_unlink(&n->disk, names[i]);
            continue;
        }
        sim_trace(s, "n%d recovery: rolled forward %s", n->idx + 1, names[i]);
        int log = sim_disk_lookup(&n->disk, "log");
        if (log >= 0) {
            sim_disk_truncate(&n->disk, log, WAL_HEADER_BYTES);
            sim_disk_fsync(&n->disk, log);
        }
        for (uint32_t k = 0; k < count; k++) {
            if (k != i && strncmp(names[k], "snapshot.", 9) == 0)
                sim_disk_unlink(&n->disk, names[k]);
        }
        char final[SIM_NAME_MAX];
        snprintf(final, sizeof(final), "snapshot.%llx", z);
        sim_disk_rename(&n->disk, names[i], final);
    }
    sim_disk_fsync_dir(&n->disk);
}

/* Loads the newest snapshot; returns its zxid (0: none), or -1 if invalid. */
static int64_t sim_load_snapshot(struct sim *s, struct sim_node *n) {
    char names[64][SIM_NAME_MAX];
    uint32_t count = sim_disk_names(&n->disk, names, 64);
    int64_t best = -1;
    int best_i = -1;
    for (uint32_t i = 0; i < count; i++) {
        unsigned long long z;
        char rest[8];
        if (sscanf(names[i], "snapshot.%llx%7s", &z, rest) == 1 && (int64_t)z > best) {
            best = (int64_t)z;
            best_i = (int)i;
        }
    }
    sim_state_deinit(n);
    sim_state_init(s, n);
    if (best_i < 0)
        return 0;
    uint64_t size;
    const uint8_t *p = sim_disk_data(&n->disk, sim_disk_lookup(&n->disk, names[best_i]), &size);
    return sim_state_load(s, n, p, size) ? best : -1;
}

struct sim_scan_ctx {
    struct sim_node *n;
    int64_t snap_zxid;
    struct zab_entry_ref *refs;
    uint32_t count, cap;
    bool bad;
};

static int sim_scan_record(void *ctx, uint64_t offset, const uint8_t *payload, uint32_t len) {
    struct sim_scan_ctx *c = ctx;
    int64_t zxid = sim_payload_zxid(payload, len);
    uint64_t end = offset + WAL_RECORD_OVERHEAD + len;
    if (zxid < 0) {
        c->bad = true;
        return 1;
    }
    if (zxid <= c->snap_zxid) {
        c->n->vlog.base_end = end;
        return 0;
    }
    sim_loglist_push(&c->n->vlog, zxid, end, sim_txn_hash(payload, len));
    if (c->count == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->refs = zk_xrealloc(c->refs, c->cap * sizeof(*c->refs));
    }
    c->refs[c->count].zxid = zxid;
    c->refs[c->count].data = payload;
    c->refs[c->count].len = len;
    c->count++;
    return 0;
}

/* Scans the log, repairing a torn tail. Returns false on corruption. */
static bool sim_scan_log(struct sim *s, struct sim_node *n, struct sim_scan_ctx *c) {
    n->log_ino = sim_disk_lookup(&n->disk, "log");
    if (n->log_ino < 0)
        sim_log_create(n);
    uint64_t size;
    const uint8_t *p = sim_disk_data(&n->disk, n->log_ino, &size);
    struct wal_scan scan;
    n->vlog.base = c->snap_zxid;
    n->vlog.base_end = WAL_HEADER_BYTES;
    wal_scan_buffer(p, size, SIM_MAX_RECORD, sim_scan_record, c, &scan);
    if (scan.end == WAL_END_BAD_HEADER && (size < WAL_HEADER_BYTES || wal_all_zero(p, size))) {
        sim_trace(s, "n%d recovery: log header never written, recreated", n->idx + 1);
        sim_log_create(n);
        return true;
    }
    if (scan.end == WAL_END_CORRUPT || scan.end == WAL_END_BAD_HEADER || c->bad)
        return false;
    if (scan.end == WAL_END_TORN || scan.valid_bytes < size) {
        sim_trace(s, "n%d recovery: torn log tail cut at %" PRIu64, n->idx + 1, scan.valid_bytes);
        sim_disk_truncate(&n->disk, n->log_ino, scan.valid_bytes);
        sim_disk_fsync(&n->disk, n->log_ino);
    }
    return true;
}

static void sim_node_config(const struct sim *s, struct sim_node *n, struct zab_config *cfg,
                            int64_t *voters, int64_t *observers) {
    memset(cfg, 0, sizeof(*cfg));
    for (uint32_t i = 0; i < s->p.voters; i++)
        voters[i] = s->nodes[i].sid;
    for (uint32_t i = 0; i < s->p.observers; i++)
        observers[i] = s->nodes[s->p.voters + i].sid;
    cfg->id = n->sid;
    cfg->voters = voters;
    cfg->voter_count = s->p.voters;
    cfg->observers = observers;
    cfg->observer_count = s->p.observers;
    cfg->init_limit_ticks = s->p.init_limit;
    cfg->sync_limit_ticks = s->p.sync_limit;
    cfg->finalize_wait_ticks = s->p.finalize_wait;
    cfg->fle_resend_ticks_min = s->p.resend_min;
    cfg->fle_resend_ticks_max = s->p.resend_max;
    cfg->log_window_max = s->p.window;
}

/* Real recovery from the node's disk, then a fresh core. Returns 0, or -1 if
 * the node refuses to start (it stays down, flagged broken). */
int sim_node_boot(struct sim *s, struct sim_node *n) {
    char names[64][SIM_NAME_MAX];
    uint32_t count = sim_disk_names(&n->disk, names, 64);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t size;
        sim_disk_data(&n->disk, sim_disk_lookup(&n->disk, names[i]), &size);
        sim_trace(s, "n%d disk: %s %" PRIu64 " bytes", n->idx + 1, names[i], size);
    }
    sim_roll_forward(s, n);
    int64_t snap = sim_load_snapshot(s, n);
    struct zab_recovered rec;
    memset(&rec, 0, sizeof(rec));
    struct sim_scan_ctx c = {.n = n, .snap_zxid = snap};
    sim_loglist_free(&n->vlog);
    sim_loglist_free(&n->dlog);
    bool ok = snap >= 0 && sim_read_epoch(n, "acceptedEpoch", &rec.accepted_epoch) &&
              sim_read_epoch(n, "currentEpoch", &rec.current_epoch) && sim_scan_log(s, n, &c);
    int rc = ZK_ECORRUPT;
    if (ok) {
        rec.snap_zxid = snap;
        rec.log = c.refs;
        rec.log_count = c.count;
        struct zab_config cfg;
        int64_t voters[SIM_NODES_MAX], observers[SIM_NODES_MAX];
        sim_node_config(s, n, &cfg, voters, observers);
        rc = zab_create(&n->z, &cfg, &rec);
    }
    zk_free(c.refs);
    if (rc != ZK_OK) {
        sim_trace(s, "n%d recovery refused: %s", n->idx + 1, zk_strerror(rc));
        sim_state_deinit(n);
        sim_loglist_free(&n->vlog);
        n->broken = true;
        return -1;
    }
    sim_loglist_copy(&n->dlog, &n->vlog);
    n->dsnap_zxid = snap;
    n->dur_accepted = rec.accepted_epoch;
    n->dur_current = rec.current_epoch;
    n->applied_zxid = snap;
    n->role = ZAB_LOOKING;
    n->established = false;
    sim_check_installed(s, n, snap);
    sim_check_disk(s, n);
    sim_trace(s, "n%d boot: snap=0x%" PRIx64 " log=%u last=0x%" PRIx64 " acc=%u cur=%u",
              n->idx + 1, snap, n->vlog.count,
              n->vlog.count ? n->vlog.r[n->vlog.count - 1].zxid : snap, rec.accepted_epoch,
              rec.current_epoch);
    return 0;
}

static void sim_pend_free(struct sim_node *n) {
    for (uint32_t i = 0; i < n->pend_count; i++)
        zk_free(n->pend[(n->pend_head + i) % n->pend_cap].data);
    zk_free(n->pend);
    n->pend = NULL;
    n->pend_head = n->pend_count = n->pend_cap = 0;
    n->disk_busy = false;
}

void sim_node_teardown(struct sim *s, struct sim_node *n) {
    ZK_UNUSED(s);
    zab_destroy(n->z);
    n->z = NULL;
    sim_state_deinit(n);
    sim_loglist_free(&n->vlog); /* dlog stays: the disk keeps at least that */
    sim_pend_free(n);
    zk_free(n->writes);
    n->writes = NULL;
    n->write_count = n->write_cap = 0;
    zk_free(n->syncs);
    n->syncs = NULL;
    n->sync_count = n->sync_cap = 0;
    n->crash_armed = false;
    n->eio_next = 0;
}

/* ---- the disk pipeline ---- */

static void sim_pend_push(struct sim *s, struct sim_node *n, const struct sim_pend *p) {
    if (n->pend_count == n->pend_cap) {
        uint32_t ncap = n->pend_cap ? 2 * n->pend_cap : 16;
        struct sim_pend *np = zk_xmalloc(ncap * sizeof(*np));
        for (uint32_t i = 0; i < n->pend_count; i++)
            np[i] = n->pend[(n->pend_head + i) % n->pend_cap];
        zk_free(n->pend);
        n->pend = np;
        n->pend_cap = ncap;
        n->pend_head = 0;
    }
    n->pend[(n->pend_head + n->pend_count++) % n->pend_cap] = *p;
    sim_disk_kick(s, n->idx);
}

static void sim_exec_append(struct sim *s, struct sim_node *n, const struct sim_pend *p) {
    int64_t last = n->vlog.count ? n->vlog.r[n->vlog.count - 1].zxid : n->vlog.base;
    if (!zxid_is_successor(last, p->zxid))
        sim_violation(s, "n%d log gap: 0x%" PRIx64 " after 0x%" PRIx64, n->idx + 1, p->zxid,
                      last);
    struct jute_buf b;
    jute_buf_init(&b);
    wal_encode_record(&b, p->data, p->len);
    uint64_t off;
    sim_disk_data(&n->disk, n->log_ino, &off);
    sim_disk_write(&n->disk, n->log_ino, off, b.p, b.len);
    sim_loglist_push(&n->vlog, p->zxid, off + b.len, sim_txn_hash(p->data, p->len));
    jute_buf_deinit(&b);
}

static void sim_exec_truncate(struct sim *s, struct sim_node *n, int64_t zxid) {
    uint64_t end;
    if (zxid == n->vlog.base) {
        end = n->vlog.base_end;
        n->vlog.count = 0;
    } else {
        int64_t i = sim_loglist_find(&n->vlog, zxid);
        if (i < 0) {
            sim_violation(s, "n%d truncate to unknown 0x%" PRIx64, n->idx + 1, zxid);
            return;
        }
        end = n->vlog.r[i].end;
        n->vlog.count = (uint32_t)i + 1;
    }
    sim_disk_truncate(&n->disk, n->log_ino, end);
}

static void sim_write_epoch_tmp(struct sim_node *n, const struct sim_pend *p) {
    const char *name = p->epoch_kind == ZAB_EPOCH_ACCEPTED ? "acceptedEpoch.tmp"
                                                           : "currentEpoch.tmp";
    int ino = sim_disk_create(&n->disk, name);
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%u\n", p->epoch);
    sim_disk_write(&n->disk, ino, 0, buf, (uint32_t)len);
    sim_disk_fsync(&n->disk, ino);
}

/* Runs one stage of the op at the head; true when the op is finished. */
static bool sim_exec_stage(struct sim *s, struct sim_node *n, struct sim_pend *p) {
    char tmp[SIM_NAME_MAX], final[32];
    switch (p->kind) {
    case ZAB_EFF_LOG_APPEND:
        sim_exec_append(s, n, p);
        return true;
    case ZAB_EFF_LOG_TRUNCATE:
        sim_exec_truncate(s, n, p->zxid);
        return true;
    case ZAB_EFF_LOG_SYNC:
        sim_disk_fsync(&n->disk, n->log_ino);
        sim_disk_fsync_dir(&n->disk);
        sim_loglist_copy(&n->dlog, &n->vlog);
        sim_check_disk(s, n);
        return true;
    case ZAB_EFF_EPOCH_WRITE:
        if (p->stage == 0) { /* temp file written and fsynced, renamed */
            sim_write_epoch_tmp(n, p);
            const char *name = p->epoch_kind == ZAB_EPOCH_ACCEPTED ? "acceptedEpoch"
                                                                   : "currentEpoch";
            snprintf(tmp, sizeof(tmp), "%s.tmp", name);
            sim_disk_rename(&n->disk, tmp, name);
            return false;
        }
        sim_disk_fsync_dir(&n->disk); /* the rename is durable */
        if (p->epoch_kind == ZAB_EPOCH_ACCEPTED) {
            n->dur_accepted = p->epoch;
        } else {
            n->dur_current = p->epoch;
            sim_check_current_epoch(s, n);
        }
        sim_check_disk(s, n);
        return true;
    default:
        break;
    }
    ZK_ASSERT(p->kind == ZAB_EFF_SNAP_INSTALL);
    snprintf(final, sizeof(final), "snapshot.%" PRIx64, p->zxid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", final);
    uint32_t stage = p->stage;
#ifdef ZK_MUTATE_INSTALL_LOG_FIRST
    if (stage < 2)
        stage = 1 - stage; /* the old log goes before the image is durable */
#endif
    if (stage == 0) {
        /* The image, fsynced, and its directory entry too: the log may be
         * emptied only once recovery is sure to find the image and roll the
         * install forward (without the directory fsync a crash can drop the
         * temp file and keep the emptied log — found by seed 0x5ae9). */
        int ino = sim_disk_create(&n->disk, tmp);
        sim_disk_write(&n->disk, ino, 0, p->data, p->len);
        sim_disk_fsync(&n->disk, ino);
        sim_disk_fsync_dir(&n->disk);
        n->dsnap_zxid = p->zxid; /* recovery would roll it forward now */
        return false;
    }
    if (stage == 1) { /* the old log goes */
        sim_disk_truncate(&n->disk, n->log_ino, WAL_HEADER_BYTES);
        sim_disk_fsync(&n->disk, n->log_ino);
        n->vlog.count = 0;
        n->vlog.base = p->zxid;
        n->vlog.base_end = WAL_HEADER_BYTES;
        sim_loglist_copy(&n->dlog, &n->vlog);
        return false;
    }
    char names[64][SIM_NAME_MAX];
    uint32_t count = sim_disk_names(&n->disk, names, 64);
    for (uint32_t i = 0; i < count; i++) {
        if (strncmp(names[i], "snapshot.", 9) == 0 && strcmp(names[i], tmp) != 0)
            sim_disk_unlink(&n->disk, names[i]);
    }
    sim_disk_rename(&n->disk, tmp, final);
    sim_disk_fsync_dir(&n->disk);
    sim_check_disk(s, n);
    return true;
}

static bool sim_pend_has_latency(const struct sim_pend *p) {
    return p->kind != ZAB_EFF_LOG_APPEND && p->kind != ZAB_EFF_LOG_TRUNCATE;
}

/* Does this stage fail with an injected EIO/ENOSPC (random, or scripted on
 * the next log write or fsync)? The random draw is made for every stage that
 * takes time, so scripted injections leave the random stream unchanged. */
static bool sim_stage_eio(struct sim *s, struct sim_node *n, const struct sim_pend *p) {
    bool eio = sim_pend_has_latency(p) && sim_rng_chance(&s->rng, s->p.eio);
    if ((n->eio_next == SIM_EIO_WRITE && p->kind == ZAB_EFF_LOG_APPEND) ||
        (n->eio_next == SIM_EIO_SYNC && p->kind == ZAB_EFF_LOG_SYNC)) {
        n->eio_next = 0;
        eio = true;
    }
    return eio;
}

/* A disk event: run stages until one needs time. */
void sim_node_disk_stage(struct sim *s, struct sim_node *n) {
    n->disk_busy = false;
    while (n->pend_count > 0 && n->up) {
        struct sim_pend *p = &n->pend[n->pend_head];
        if (sim_stage_eio(s, n, p)) {
#ifdef ZK_MUTATE_EIO_IGNORED
            /* ZOOKEEPER-4882's shape: the error is logged and the op reported
             * done; the write never happened (a hole), the fsync did not sync. */
            sim_trace(s, "n%d EIO ignored", n->idx + 1);
            p->dropped = true;
#else
            sim_crash_node(s, n->idx, "EIO on the log device (fatal)");
            return;
#endif
        }
        /* a dropped op (driver mutants) is skipped, yet reported done */
        bool done = p->dropped || sim_exec_stage(s, n, p);
        if (n->crash_armed && n->crash_cause == SIM_CAUSE_DISK && ++n->crash_seen == n->crash_k) {
            char why[64];
            snprintf(why, sizeof(why), "crash after disk step %u", n->crash_k);
            sim_crash_node(s, n->idx, why);
            return;
        }
        if (!done) {
            p->stage++;
            sim_disk_kick(s, n->idx);
            return;
        }
        struct sim_pend op = *p;
        n->pend_head = (n->pend_head + 1) % n->pend_cap;
        n->pend_count--;
        zk_free(op.data);
        if (op.op_id != 0) {
            zab_storage_done(n->z, op.op_id);
            if (!sim_node_drain(s, n))
                return;
        }
        if (n->pend_count > 0 && sim_pend_has_latency(&n->pend[n->pend_head])) {
            sim_disk_kick(s, n->idx);
            return;
        }
    }
}

/* ---- effects ---- */

static void sim_node_install(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    if (!sim_state_load(s, n, ef->data, ef->len)) {
        sim_violation(s, "n%d SNAP image at 0x%" PRIx64 " does not load", n->idx + 1, ef->zxid);
        return;
    }
    n->applied_zxid = ef->zxid;
    sim_check_installed(s, n, ef->zxid);
}

static void sim_node_apply(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    struct txn t;
    txn_init(&t);
    if (txn_decode(ef->data, ef->len, &t) != ZK_OK || t.zxid != ef->zxid) {
        sim_violation(s, "n%d cannot decode txn 0x%" PRIx64, n->idx + 1, ef->zxid);
        txn_deinit(&t);
        return;
    }
    struct apply_env env;
    memset(&env, 0, sizeof(env));
    env.tree = &n->tree;
    env.sessions = &n->sessions;
    env.watches = &n->watches;
    env.now_ms = s->now;
    apply_txn(&env, &t, NULL);
    txn_deinit(&t);
    n->applied_zxid = ef->zxid;
    sim_check_apply(s, n, ef->zxid, sim_txn_hash(ef->data, ef->len));
    for (uint32_t i = 0; i < n->write_count; i++) {
        if (n->writes[i].zxid != ef->zxid)
            continue;
        sim_client_reply(s, n->writes[i].client, n->writes[i].seq, 1, ef->zxid);
        n->writes[i] = n->writes[--n->write_count];
        break;
    }
}

static void sim_node_fail_clients(struct sim *s, struct sim_node *n) {
    for (uint32_t i = 0; i < n->write_count; i++)
        sim_client_reply(s, n->writes[i].client, n->writes[i].seq, 2, -1);
    n->write_count = 0;
    for (uint32_t i = 0; i < n->sync_count; i++)
        sim_client_reply(s, n->syncs[i].client, n->syncs[i].seq, 2, -1);
    n->sync_count = 0;
}

static void sim_node_role(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    sim_check_role(s, n, ef);
    n->role = ef->role;
    n->established = ef->established;
    n->epoch = ef->epoch;
    n->leader = ef->leader;
    sim_trace(s, "n%d role %s leader=%" PRId64 " epoch=%u%s", n->idx + 1, zab_role_name(ef->role),
              ef->leader, ef->epoch, ef->established ? " established" : "");
    if (s->out != NULL && s->trace_roles && ef->established)
        fprintf(s->out, "  n%d %s epoch %u\n", n->idx + 1, zab_role_name(ef->role), ef->epoch);
    if (ef->role != ZAB_LEADING || !ef->established)
        sim_node_fail_clients(s, n);
#ifdef ZK_MUTATE_ROLE_DROPS_QUEUE
    /* ZOOKEEPER-4712's shape: leaving a role shuts the log writer down
     * halfway; appends and fsyncs still queued are dropped, their completions
     * reported all the same. */
    if (ef->role == ZAB_LOOKING) {
        for (uint32_t i = 0; i < n->pend_count; i++) {
            struct sim_pend *p = &n->pend[(n->pend_head + i) % n->pend_cap];
            if (p->kind == ZAB_EFF_LOG_APPEND || p->kind == ZAB_EFF_LOG_SYNC)
                p->dropped = true;
        }
    }
#endif
}

static void sim_node_sync_done(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    for (uint32_t i = 0; i < n->sync_count; i++) {
        if (n->syncs[i].id != ef->sync_id)
            continue;
        sim_client_reply(s, n->syncs[i].client, n->syncs[i].seq, ef->zxid < 0 ? 2 : 1, ef->zxid);
        n->syncs[i] = n->syncs[--n->sync_count];
        return;
    }
}

static void sim_node_storage(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    struct sim_pend p;
    memset(&p, 0, sizeof(p));
    p.kind = ef->kind;
    p.op_id = ef->op_id;
    p.zxid = ef->zxid;
    p.epoch_kind = ef->epoch_kind;
    p.epoch = ef->epoch;
    if (ef->kind == ZAB_EFF_LOG_APPEND || ef->kind == ZAB_EFF_SNAP_INSTALL) {
        p.data = zk_xmalloc(ef->len ? ef->len : 1);
        memcpy(p.data, ef->data, ef->len);
        p.len = ef->len;
    }
    if (ef->kind == ZAB_EFF_LOG_APPEND)
        sim_check_logged(s, n, ef->zxid, sim_txn_hash(ef->data, ef->len));
    if (ef->kind == ZAB_EFF_SNAP_INSTALL)
        sim_node_install(s, n, ef);
    sim_pend_push(s, n, &p);
}

static void sim_node_exec(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    switch (ef->kind) {
    case ZAB_EFF_SEND:
        sim_check_send(s, n, ef);
        sim_net_send(s, n->idx, ef);
        break;
    case ZAB_EFF_VOTE:
        sim_check_vote(s, n, ef);
        sim_net_vote(s, n->idx, ef);
        break;
    case ZAB_EFF_CONNECT:
        sim_net_connect(s, n->idx, ef->peer);
        break;
    case ZAB_EFF_CLOSE:
        sim_net_close(s, n->idx, ef->peer, ef->conn);
        break;
    case ZAB_EFF_LOG_APPEND:
    case ZAB_EFF_LOG_TRUNCATE:
    case ZAB_EFF_LOG_SYNC:
    case ZAB_EFF_EPOCH_WRITE:
    case ZAB_EFF_SNAP_INSTALL:
        sim_node_storage(s, n, ef);
        break;
    case ZAB_EFF_APPLY:
        sim_node_apply(s, n, ef);
        break;
    case ZAB_EFF_ROLE:
        sim_node_role(s, n, ef);
        break;
    case ZAB_EFF_SYNC_DONE:
        sim_node_sync_done(s, n, ef);
        break;
    case ZAB_EFF_QUORUM:
        sim_check_quorum(s, n, ef);
        break;
    case ZAB_EFF_SESSIONS:
        break;
    default:
        ZK_PANIC("sim: unknown effect %d", ef->kind);
    }
}

bool sim_node_drain(struct sim *s, struct sim_node *n) {
    uint32_t count;
    const struct zab_effect *effs = zab_effects(n->z, &count);
    uint32_t inc = n->inc;
    for (uint32_t i = 0; i < count; i++) {
        const struct zab_effect *ef = &effs[i];
        sim_node_exec(s, n, ef);
        if (!n->up || n->inc != inc)
            return false;
        if (n->crash_armed && ef->cause == n->crash_cause && ++n->crash_seen == n->crash_k) {
            char why[96];
            snprintf(why, sizeof(why), "crash after effect %u of %s", n->crash_k,
                     ef->cause < ZMSG_TYPE_COUNT ? zmsg_type_name(ef->cause) : "internal");
            sim_crash_node(s, n->idx, why);
            return false;
        }
    }
    zab_effects_done(n->z);
    return true;
}

/* ---- client requests at this server ---- */

struct sim_paths_ctx {
    const struct tree *tree;
    struct txn_op *op;
    uint32_t cap;
};

static void sim_collect_path(void *ctx, struct tree_node *tn) {
    struct sim_paths_ctx *pc = ctx;
    ZK_ASSERT(pc->op->path_count < pc->cap);
    pc->op->paths[pc->op->path_count++] = tree_node_path_dup(pc->tree, tn, NULL);
}

static void sim_build_txn(struct sim *s, const struct sim_node *n, const struct sim_client *c,
                          int64_t zxid, struct txn *t) {
    txn_init(t);
    t->client_id = c->session;
    t->cxid = (int32_t)c->seq;
    t->zxid = zxid;
    t->time_ms = s->now;
    struct txn_op *op = &t->op;
    switch (c->op) {
    case SIM_OP_SESSION:
        t->type = TXN_CREATE_SESSION;
        op->timeout_ms = 30000;
        break;
    case SIM_OP_CREATE:
    case SIM_OP_CREATE_EPH: {
        t->type = TXN_CREATE;
        op->path = zk_xstrndup(c->op_path, strlen(c->op_path));
        op->path_len = (uint32_t)strlen(c->op_path);
        op->data_len = 4;
        op->data = zk_xmalloc(4);
        memcpy(op->data, &c->seq, 4);
        op->acl = acl_ref(acl_open_unsafe());
        op->ephemeral = c->op == SIM_OP_CREATE_EPH;
        op->parent_cversion = tree_node_raw(n->tree.root).cversion + 1;
        break;
    }
    case SIM_OP_SET:
        t->type = TXN_SET_DATA;
        op->path = zk_xstrndup(c->op_path, strlen(c->op_path));
        op->path_len = (uint32_t)strlen(c->op_path);
        op->data_len = 8;
        op->data = zk_xmalloc(8);
        memcpy(op->data, &zxid, 8);
        op->version = c->op_version;
        break;
    case SIM_OP_DELETE:
        t->type = TXN_DELETE;
        op->path = zk_xstrndup(c->op_path, strlen(c->op_path));
        op->path_len = (uint32_t)strlen(c->op_path);
        break;
    case SIM_OP_CLOSE: {
        /* As ZooKeeper's prep: the session's ephemerals in the leader's tree
         * (a late request from a client that gave up must still be right). */
        t->type = TXN_CLOSE_SESSION;
        struct sim_paths_ctx pc = {&n->tree, op, tree_ephemeral_count_of(&n->tree, c->session)};
        op->paths = zk_xcalloc(pc.cap ? pc.cap : 1, sizeof(char *));
        tree_for_each_ephemeral(&n->tree, c->session, sim_collect_path, &pc);
        break;
    }
    default:
        ZK_PANIC("sim: bad client op %d", c->op);
    }
}

void sim_node_client_request(struct sim *s, struct sim_node *n, int ci, uint64_t seq, int op) {
    struct sim_client *c = &s->clients[ci];
    if (c->seq != seq || c->op != op)
        return; /* a request the client already gave up on */
    if (op == SIM_OP_SYNC) {
        uint64_t id = ++n->next_sync_id;
        if (zab_sync(n->z, id) != ZK_OK) {
            sim_client_reply(s, ci, seq, 3, n->leader);
            return;
        }
        if (n->sync_count == n->sync_cap) {
            n->sync_cap = n->sync_cap ? 2 * n->sync_cap : 8;
            n->syncs = zk_xrealloc(n->syncs, n->sync_cap * sizeof(*n->syncs));
        }
        n->syncs[n->sync_count++] = (struct sim_syncreq){id, ci, seq};
        sim_node_drain(s, n);
        return;
    }
    int64_t zxid = zab_next_zxid(n->z);
    if (zxid < 0) {
        sim_client_reply(s, ci, seq, 3, n->leader); /* with a hint, as a redirect */
        return;
    }
    struct txn t;
    sim_build_txn(s, n, c, zxid, &t);
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, &t);
    txn_deinit(&t);
    int rc = zab_propose(n->z, zxid, b.p, b.len);
    jute_buf_deinit(&b);
    ZK_ASSERT(rc == ZK_OK);
    if (n->write_count == n->write_cap) {
        n->write_cap = n->write_cap ? 2 * n->write_cap : 8;
        n->writes = zk_xrealloc(n->writes, n->write_cap * sizeof(*n->writes));
    }
    n->writes[n->write_count++] = (struct sim_write){zxid, ci, seq};
    sim_node_drain(s, n);
}

/* A create proposed at a leader directly (scripts, sweeps): nobody waits for
 * it. Returns its zxid, or -1 if the node cannot propose. */
int64_t sim_node_propose_raw(struct sim *s, struct sim_node *n, const char *path) {
    int64_t zxid = zab_next_zxid(n->z);
    if (zxid < 0)
        return -1;
    struct txn t;
    txn_init(&t);
    t.zxid = zxid;
    t.time_ms = s->now;
    t.type = TXN_CREATE;
    t.op.path = zk_xstrndup(path, strlen(path));
    t.op.path_len = (uint32_t)strlen(path);
    t.op.acl = acl_ref(acl_open_unsafe());
    t.op.parent_cversion = tree_node_raw(n->tree.root).cversion + 1;
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, &t);
    txn_deinit(&t);
    int rc = zab_propose(n->z, zxid, b.p, b.len);
    jute_buf_deinit(&b);
    ZK_ASSERT(rc == ZK_OK);
    sim_node_drain(s, n);
    return zxid;
}

/* ---- a snapshot of the node's own state ---- */

#ifdef ZK_MUTATE_SNAP_UNCOMMITTED
/* ZOOKEEPER-1549's shape: the image is of the state with every logged txn
 * replayed into it, committed or not (as a server that loads its whole log
 * into memory at startup, then snapshots). Returns the image's zxid. */
static int64_t sim_image_with_log_tail(struct sim *s, struct sim_node *n, struct jute_buf *out,
                                       uint64_t *digest) {
    struct jute_buf b;
    jute_buf_init(&b);
    snap_write(&b, &n->tree, &n->sessions);
    struct tree t;
    struct session_table ss;
    struct watch_mgr w;
    tree_init(&t);
    session_table_init(&ss, s->p.tick_ms, s->now, n->sid);
    watch_mgr_init(&w);
    struct snap_info info;
    char err[128];
    int rc = snap_load(b.p, b.len, SIM_MAX_RECORD, &t, &ss, s->now, &info, err, sizeof(err));
    ZK_ASSERT(rc == ZK_OK);
    jute_buf_deinit(&b);
    int64_t zxid = n->applied_zxid;
    for (uint32_t i = 0; i < n->vlog.count; i++) {
        const uint8_t *data;
        uint32_t len;
        struct txn tx;
        if (n->vlog.r[i].zxid <= zxid || !zab_log_get(n->z, n->vlog.r[i].zxid, &data, &len))
            continue;
        txn_init(&tx);
        if (txn_decode(data, len, &tx) == ZK_OK) {
            struct apply_env env;
            memset(&env, 0, sizeof(env));
            env.tree = &t;
            env.sessions = &ss;
            env.watches = &w;
            env.now_ms = s->now;
            apply_txn(&env, &tx, NULL);
            zxid = tx.zxid;
        }
        txn_deinit(&tx);
    }
    snap_write(out, &t, &ss);
    *digest = sim_tree_digest(&t, &ss);
    tree_deinit(&t);
    session_table_deinit(&ss);
    watch_mgr_deinit(&w);
    return zxid;
}
#endif

/* A snapshot of the node's own applied state (ZooKeeper's periodic snapshot,
 * store.c in the server): the image goes to snapshot.<zxid>.part, is fsynced,
 * renamed to snapshot.<zxid>, and the directory fsynced, all at once (a crash
 * can only leave a .part, which recovery deletes). Applied state is committed
 * and durable here (rule 5), so the image may stand for the log up to its
 * zxid: recovery loads the newest snapshot and skips the records it covers,
 * and the log itself is left alone. Not while a SNAP install is on its way to
 * disk: the state is already the leader's image, but the log is still the old
 * one, which the image must not be taken to describe. Returns the image's
 * zxid, or -1 if no snapshot was taken. */
int64_t sim_node_snapshot(struct sim *s, struct sim_node *n) {
    ZK_ASSERT(n->up);
    for (uint32_t i = 0; i < n->pend_count; i++) {
        if (n->pend[(n->pend_head + i) % n->pend_cap].kind == ZAB_EFF_SNAP_INSTALL)
            return -1;
    }
    struct jute_buf b;
    jute_buf_init(&b);
    int64_t zxid = n->applied_zxid;
    uint64_t digest;
#ifdef ZK_MUTATE_SNAP_UNCOMMITTED
    zxid = sim_image_with_log_tail(s, n, &b, &digest);
#else
    snap_write(&b, &n->tree, &n->sessions);
    digest = sim_tree_digest(&n->tree, &n->sessions);
#endif
    char part[SIM_NAME_MAX], final[32];
    snprintf(final, sizeof(final), "snapshot.%" PRIx64, zxid);
    snprintf(part, sizeof(part), "%s.part", final);
    int ino = sim_disk_create(&n->disk, part);
    sim_disk_write(&n->disk, ino, 0, b.p, b.len);
    sim_disk_fsync(&n->disk, ino);
    sim_disk_rename(&n->disk, part, final);
    sim_disk_fsync_dir(&n->disk);
    jute_buf_deinit(&b);
    if (zxid > n->dsnap_zxid)
        n->dsnap_zxid = zxid;
    sim_trace(s, "n%d snapshot at 0x%" PRIx64, n->idx + 1, zxid);
    sim_check_snapshot(s, n, zxid, digest);
    return zxid;
}
