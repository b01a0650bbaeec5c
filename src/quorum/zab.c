/* zab.c — the ZAB core (see zab.h for the contract and the durability rules).
 *
 * Layout: effects and sends (with the §5 assertions) / the in-memory log /
 * storage ops and their completions / role changes and election / leader:
 * discovery, sync decision, NEWLEADER quorum, broadcast, pings and sync rounds /
 * learner: handshake, sync, NEWLEADER chain, broadcast / inputs.
 *
 * Mutation flags (tests/sim only) re-introduce known ZooKeeper bugs so the
 * simulator can show that its scenarios catch them; each disables the
 * assertion that would otherwise stop the mutated path:
 *   ZK_MUTATE_ACK_BEFORE_FSYNC        follower ACKs a PROPOSAL when appended (ZK-4646 family)
 *   ZK_MUTATE_NEWLEADER_ACK_EARLY     ACK(NEWLEADER) before sync txns are durable (ZK-3911)
 *   ZK_MUTATE_EPOCH_BEFORE_FSYNC      currentEpoch written before sync txns (ZK-4643)
 *   ZK_MUTATE_ACKEPOCH_EARLY          ACKEPOCH before acceptedEpoch is durable (ZK-335)
 *   ZK_MUTATE_ADVERTISE_MEMORY        election starts without draining storage (ZK-3642/5094)
 *   ZK_MUTATE_OBSERVER_QUORUM         observers count in quorums
 *   ZK_MUTATE_LOCAL_SYNC              sync answered without a quorum round (ZK-1675)
 *   ZK_MUTATE_STALE_VOTE              votes keep the election's peer epoch (ZK-1732)
 *   ZK_MUTATE_EPOCH_AHEAD_LOOP        a leader keeps offering its epoch to a learner that
 *                                     accepted a larger one (ZooKeeper's behaviour)
 *   ZK_MUTATE_SYNC_GAP                the sync stream skips a txn and learners accept
 *                                     a gap (ZK-4925 shape)
 *   ZK_MUTATE_PROPOSE_AFTER_NLACK     PROPOSALs go only to learners that ACKed NEWLEADER
 *                                     (protocol-spec issue 1)
 *   ZK_MUTATE_DUP_FORWARD             a late joiner's ACK(NEWLEADER) makes the leader
 *                                     forward its outstanding proposals again (spec issue 2)
 *   ZK_MUTATE_UPTODATE_STALE_COMMIT   at UPTODATE a learner commits only what it knew at
 *                                     NEWLEADER (spec issue 3)
 *   ZK_MUTATE_BOUNCE_NO_FSYNC         a learner leaving its leader takes written sync txns
 *                                     as durable without an fsync (ZK-4785)
 *   ZK_MUTATE_RESYNC_SKIPS_LOGGED     at DIFF a learner takes what it logged as applied
 *                                     (ZK-2355: a logged closeSession never applied)
 *   ZK_MUTATE_DIFF_BELOW_WINDOW       a learner below the in-memory window gets DIFF,
 *                                     not SNAP (ZK-4352)
 *   ZK_MUTATE_WINDOW_EDGE             the window test is off by one: a learner one txn
 *                                     short of it gets DIFF (ZK-2846 shape)
 *   ZK_MUTATE_RECOVERY_CURRENT_EPOCH  startup refuses a log whose last epoch is above
 *                                     currentEpoch (ZooKeeper's check; ZK-1653/2354)
 *   ZK_MUTATE_TRUNC_AS_DIFF           a learner holding txns beyond the history gets
 *                                     DIFF instead of TRUNC and keeps them (ZK-2845)
 * Driver-side mutants (ZK_MUTATE_SNAP_LATE, ROLE_DROPS_QUEUE, EIO_IGNORED,
 * SNAP_UNCOMMITTED, INSTALL_LOG_FIRST) are compiled into tests/sim instead: see
 * sim.mk.
 */
#include "zab.h"

#include <string.h>

#include "../err.h"
#include "../mem.h"

/* A pure state machine: no clock, no randomness, no I/O, no threads. */
#pragma GCC poison time clock_gettime gettimeofday rand srand random open fopen read write
#pragma GCC poison socket connect send recv pthread_create fsync

#if defined(ZK_MUTATE_ACK_BEFORE_FSYNC) || defined(ZK_MUTATE_NEWLEADER_ACK_EARLY) ||              \
    defined(ZK_MUTATE_EPOCH_BEFORE_FSYNC) || defined(ZK_MUTATE_ACKEPOCH_EARLY) ||                 \
    defined(ZK_MUTATE_ADVERTISE_MEMORY)
#define ZAB_RULE_ASSERT(cond) ((void)0)
#else
#define ZAB_RULE_ASSERT(cond) ZK_ASSERT(cond)
#endif

/* Leader's view of one learner (LearnerHandler). */
enum zab_hphase {
    H_NONE = 0,
    H_INFO,            /* FOLLOWERINFO/OBSERVERINFO received, epoch not fixed yet */
    H_LEADERINFO_SENT, /* waiting for ACKEPOCH */
    H_EPOCH_ACKED,     /* waiting until we may sync it */
    H_SYNC_SENT,       /* DIFF/TRUNC/SNAP + stream + NEWLEADER queued */
    H_NL_ACKED,        /* ACK(NEWLEADER) received, waiting for establishment */
    H_BROADCAST,       /* UPTODATE sent */
};

enum zab_lphase {
    P_NONE = 0,
    P_DISCOVERY,     /* collecting FOLLOWERINFO from a quorum */
    P_EPOCH_WRITE,   /* acceptedEpoch = new epoch being written */
    P_EPOCH_ACK,     /* collecting ACKEPOCH from a quorum */
    P_CURRENT_WRITE, /* currentEpoch = new epoch being written */
    P_SYNC,          /* syncing learners, collecting ACK(NEWLEADER) */
    P_BROADCAST,     /* established */
};

/* A learner's progress with its leader (Learner.java). */
enum zab_lstate {
    L_NONE = 0,
    L_CONNECTING,
    L_INFO_SENT,
    L_EPOCH_WRITING, /* acceptedEpoch being written before ACKEPOCH */
    L_SYNC_WAIT,     /* ACKEPOCH sent */
    L_SYNCING,       /* DIFF/TRUNC/SNAP received */
    L_NEWLEADER,     /* NEWLEADER received: persisting, then currentEpoch */
    L_NL_ACKED,      /* ACK(NEWLEADER) sent */
    L_BROADCAST,     /* UPTODATE received */
};

enum zab_op_kind { OP_SYNC = 1, OP_EPOCH, OP_INSTALL };

struct zab_op {
    uint64_t id;
    int32_t kind;
    int32_t cause;
    uint64_t gen;   /* role generation that issued it */
    int64_t zxid;   /* OP_SYNC: log last at issue (clipped by truncation); OP_INSTALL */
    int32_t epoch_kind;
    uint32_t epoch;
};

struct zab_entry {
    int64_t zxid;
    uint8_t *data;
    uint32_t len;
    uint32_t ack_mask; /* leader: who acknowledged it durable */
};

struct zab_handler {
    int32_t phase;
    uint64_t conn;
    uint32_t accepted_epoch;
    uint32_t peer_current_epoch;
    int64_t peer_last_zxid;
    uint64_t last_heard;
    int64_t sent_zxid; /* last entry queued to it before NEWLEADER */
    bool pinged;
    uint64_t ping_first_round;
    uint64_t pings_answered;
};

struct zab_sync_req {
    uint64_t id;
    uint64_t round;
    int64_t need_zxid;
};

struct zab {
    int64_t id;
    int self;
    int64_t peers[ZAB_PEERS_MAX]; /* voters, then observers */
    uint32_t peer_count;
    uint32_t voter_count;
    uint32_t voter_mask;
    bool is_observer;
    uint32_t init_limit;
    uint32_t sync_limit;
    uint32_t log_window_max;
    struct fle fle;

    int32_t role;
    int64_t leader;
    uint64_t gen;
    uint64_t tick;
    bool established;

    /* durable hard state */
    uint32_t accepted_epoch;
    uint32_t current_epoch;

    /* the log: e[start .. start+count); base_zxid is the zxid just before */
    struct zab_entry *e;
    uint32_t start, count, cap;
    int64_t base_zxid;
    int64_t durable_zxid;
    bool trunc_unsynced; /* a LOG_TRUNCATE no LOG_SYNC has followed yet */
    int64_t commit_zxid;
    int64_t applied_zxid;
    uint8_t **grave; /* data of removed entries, freed in zab_effects_done */
    uint32_t grave_count, grave_cap;

    struct zab_op *ops; /* FIFO ops[op_head .. op_head+op_count) mod op_cap */
    uint32_t op_head, op_count, op_cap;
    uint64_t next_op_id;
    bool draining;

    /* leader */
    int32_t lphase;
    uint64_t phase_tick;
    uint32_t new_epoch;
    uint32_t max_accepted;
    uint32_t info_mask, epoch_ack_mask, nl_ack_mask;
    uint32_t epoch_seen_mask; /* every learner that ever ACKEPOCHed this epoch */
    uint32_t lead_current_epoch; /* our state summary when elected */
    int64_t lead_last_zxid;
    int64_t initial_last_zxid;
    uint32_t next_counter;
    struct zab_handler h[ZAB_PEERS_MAX];
    uint64_t ping_round;
    struct zab_sync_req *syncs;
    uint32_t sync_count, sync_cap;

    /* learner */
    int32_t lstate;
    uint64_t conn;
    uint64_t reconnect_at; /* L_CONNECTING: tick of the next attempt (0: one is out) */
    uint64_t last_heard;
    uint32_t learner_epoch;
    int64_t sync_commit;
    int64_t nl_zxid;
    int64_t nl_last_zxid;
#ifdef ZK_MUTATE_UPTODATE_STALE_COMMIT
    int64_t nl_commit; /* sync_commit when NEWLEADER arrived */
#endif
    uint64_t nl_sync_op, nl_epoch_op;
    int64_t acked_through;

    struct zab_effect *eff;
    uint32_t eff_count, eff_cap;
    int32_t cause;
};

/* ---- peers and quorums ---- */

static int zab_peer_index(const struct zab *z, int64_t sid) {
    for (uint32_t i = 0; i < z->peer_count; i++) {
        if (z->peers[i] == sid)
            return (int)i;
    }
    return -1;
}

static bool zab_is_voter_index(const struct zab *z, int i) {
    return i >= 0 && (uint32_t)i < z->voter_count;
}

static bool zab_quorum(const struct zab *z, uint32_t mask) {
#ifdef ZK_MUTATE_OBSERVER_QUORUM
    return 2 * (uint32_t)__builtin_popcount(mask) > z->voter_count;
#else
    return 2 * (uint32_t)__builtin_popcount(mask & z->voter_mask) > z->voter_count;
#endif
}

static uint32_t zab_bit(int i) {
    ZK_ASSERT(i >= 0 && i < ZAB_PEERS_MAX);
    return 1u << i;
}

/* Bits a learner may contribute to a quorum (observers never, unless mutated). */
static uint32_t zab_vote_bit(const struct zab *z, int i) {
#ifdef ZK_MUTATE_OBSERVER_QUORUM
    ZK_UNUSED(z);
    return zab_bit(i);
#else
    return zab_is_voter_index(z, i) ? zab_bit(i) : 0;
#endif
}

/* ---- effects ---- */

static struct zab_effect *zab_emit(struct zab *z, int32_t kind) {
    if (z->eff_count == z->eff_cap) {
        z->eff_cap = z->eff_cap ? 2 * z->eff_cap : 32;
        z->eff = zk_xrealloc(z->eff, z->eff_cap * sizeof(*z->eff));
    }
    struct zab_effect *ef = &z->eff[z->eff_count++];
    memset(ef, 0, sizeof(*ef));
    ef->kind = kind;
    ef->cause = z->cause;
    return ef;
}

static void zab_emit_quorum(struct zab *z, int32_t what, uint32_t mask) {
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_QUORUM);
    ef->quorum_kind = what;
    ef->mask = mask;
}

static void zab_emit_role(struct zab *z) {
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_ROLE);
    ef->role = z->role;
    ef->leader = z->leader;
    ef->epoch = z->role == ZAB_LEADING ? z->new_epoch : z->learner_epoch;
    ef->established = z->established;
}

static int64_t zab_log_last(const struct zab *z) {
    return z->count ? z->e[z->start + z->count - 1].zxid : z->base_zxid;
}

/* Every message leaves through here: the durability rules are checked on the
 * way out, against durable state only. */
static void zab_send(struct zab *z, int64_t peer, uint64_t conn, const struct zmsg *m) {
    ZK_ASSERT(peer != z->id);
    switch (m->type) {
    case ZMSG_ACK:
        if (m->zxid == z->nl_zxid && z->lstate == L_NEWLEADER) {
            /* Rules 1 and 2: sync txns fsynced, then currentEpoch, then ACK. */
            ZAB_RULE_ASSERT(z->durable_zxid >= z->nl_last_zxid);
            ZAB_RULE_ASSERT(z->current_epoch == ZXID_EPOCH(m->zxid));
        } else {
            ZAB_RULE_ASSERT(m->zxid <= z->durable_zxid); /* rule 1 */
            ZK_ASSERT(z->lstate == L_NL_ACKED || z->lstate == L_BROADCAST); /* rule 6 */
        }
        break;
    case ZMSG_ACKEPOCH:
        ZAB_RULE_ASSERT(z->accepted_epoch == z->learner_epoch); /* rule 1 */
        ZAB_RULE_ASSERT(m->zxid == z->durable_zxid);            /* rule 3 */
        ZK_ASSERT(m->epoch == (int32_t)z->current_epoch);
        break;
    case ZMSG_FOLLOWERINFO:
    case ZMSG_OBSERVERINFO:
        ZK_ASSERT(ZXID_EPOCH(m->zxid) == z->accepted_epoch);
        break;
    case ZMSG_LEADERINFO:
        ZK_ASSERT(z->accepted_epoch == z->new_epoch && ZXID_EPOCH(m->zxid) == z->new_epoch);
        break;
    case ZMSG_NEWLEADER:
        ZK_ASSERT(z->current_epoch == z->new_epoch && ZXID_EPOCH(m->zxid) == z->new_epoch);
        break;
    case ZMSG_PROPOSAL:
    case ZMSG_INFORM:
        ZK_ASSERT(z->role == ZAB_LEADING && m->data != NULL);
        break;
    default:
        break;
    }
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_SEND);
    ef->peer = peer;
    ef->conn = conn;
    ef->msg = *m;
}

static void zab_send_simple(struct zab *z, int64_t peer, uint64_t conn, int32_t type,
                            int64_t zxid) {
    struct zmsg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.zxid = zxid;
    zab_send(z, peer, conn, &m);
}

static void zab_close(struct zab *z, int64_t peer, uint64_t conn) {
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_CLOSE);
    ef->peer = peer;
    ef->conn = conn;
}

/* ---- the in-memory log ---- */

static struct zab_entry *zab_entry_at(const struct zab *z, uint32_t i) {
    ZK_ASSERT(i < z->count);
    return &z->e[z->start + i];
}

/* Index of zxid in the log, or -1. */
static int64_t zab_log_find(const struct zab *z, int64_t zxid) {
    uint32_t lo = 0, hi = z->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t m = z->e[z->start + mid].zxid;
        if (m == zxid)
            return mid;
        if (m < zxid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Index of the first entry with zxid > after (count if none). */
static uint32_t zab_log_upper(const struct zab *z, int64_t after) {
    uint32_t lo = 0, hi = z->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->e[z->start + mid].zxid <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void zab_bury(struct zab *z, uint8_t *data) {
    if (data == NULL)
        return;
    if (z->grave_count == z->grave_cap) {
        z->grave_cap = z->grave_cap ? 2 * z->grave_cap : 16;
        z->grave = zk_xrealloc(z->grave, z->grave_cap * sizeof(*z->grave));
    }
    z->grave[z->grave_count++] = data;
}

/* Appends a copy of a txn; the caller checked contiguity for untrusted input. */
static struct zab_entry *zab_log_append(struct zab *z, int64_t zxid, const uint8_t *data,
                                        uint32_t len) {
#ifndef ZK_MUTATE_SYNC_GAP
    ZK_ASSERT(zxid_is_successor(zab_log_last(z), zxid)); /* rule 4 */
#endif
    if (z->start + z->count == z->cap) {
        if (z->start > z->cap / 2) {
            memmove(z->e, z->e + z->start, z->count * sizeof(*z->e));
            z->start = 0;
        } else {
            z->cap = z->cap ? 2 * z->cap : 64;
            z->e = zk_xrealloc(z->e, z->cap * sizeof(*z->e));
        }
    }
    struct zab_entry *en = &z->e[z->start + z->count++];
    en->zxid = zxid;
    en->len = len;
    en->data = zk_xmalloc(len ? len : 1);
    if (len)
        memcpy(en->data, data, len);
    en->ack_mask = 0;
    return en;
}

/* Drops every entry after zxid (TRUNC). */
static void zab_log_truncate(struct zab *z, int64_t zxid) {
    ZK_ASSERT(zxid >= z->base_zxid);
    while (z->count > 0 && zab_entry_at(z, z->count - 1)->zxid > zxid) {
        zab_bury(z, zab_entry_at(z, z->count - 1)->data);
        z->count--;
    }
    ZK_ASSERT(zab_log_last(z) <= zxid);
}

static void zab_log_reset(struct zab *z, int64_t base) {
    while (z->count > 0) {
        zab_bury(z, zab_entry_at(z, z->count - 1)->data);
        z->count--;
    }
    z->start = 0;
    z->base_zxid = base;
}

/* Keeps at most log_window_max entries, dropping only applied ones (the
 * leader can still serve anything after its applied state, by SNAP + stream). */
static void zab_log_compact(struct zab *z) {
    while (z->count > z->log_window_max && z->e[z->start].zxid <= z->applied_zxid) {
        z->base_zxid = z->e[z->start].zxid;
        zk_free(z->e[z->start].data);
        z->start++;
        z->count--;
    }
    ZK_ASSERT(z->base_zxid <= z->applied_zxid);
}

/* ---- storage ops ---- */

static struct zab_op *zab_op_push(struct zab *z, int32_t kind) {
    if (z->op_count == z->op_cap) {
        uint32_t ncap = z->op_cap ? 2 * z->op_cap : 16;
        struct zab_op *n = zk_xmalloc(ncap * sizeof(*n));
        for (uint32_t i = 0; i < z->op_count; i++)
            n[i] = z->ops[(z->op_head + i) % z->op_cap];
        zk_free(z->ops);
        z->ops = n;
        z->op_cap = ncap;
        z->op_head = 0;
    }
    struct zab_op *op = &z->ops[(z->op_head + z->op_count++) % z->op_cap];
    memset(op, 0, sizeof(*op));
    op->id = ++z->next_op_id;
    op->kind = kind;
    op->cause = z->cause;
    op->gen = z->gen;
    return op;
}

static uint64_t zab_issue_sync(struct zab *z) {
    z->trunc_unsynced = false;
    struct zab_op *op = zab_op_push(z, OP_SYNC);
    op->zxid = zab_log_last(z);
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_LOG_SYNC);
    ef->op_id = op->id;
    ef->zxid = op->zxid;
    return op->id;
}

static uint64_t zab_issue_epoch(struct zab *z, int32_t which, uint32_t epoch) {
    struct zab_op *op = zab_op_push(z, OP_EPOCH);
    op->epoch_kind = which;
    op->epoch = epoch;
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_EPOCH_WRITE);
    ef->op_id = op->id;
    ef->epoch_kind = which;
    ef->epoch = epoch;
    return op->id;
}

static void zab_emit_append(struct zab *z, const struct zab_entry *en) {
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_LOG_APPEND);
    ef->zxid = en->zxid;
    ef->data = en->data;
    ef->len = en->len;
}

/* A truncation or snapshot makes pending syncs promise less. */
static void zab_clip_pending_syncs(struct zab *z, int64_t zxid) {
    for (uint32_t i = 0; i < z->op_count; i++) {
        struct zab_op *op = &z->ops[(z->op_head + i) % z->op_cap];
        if (op->kind == OP_SYNC && op->zxid > zxid)
            op->zxid = zxid;
    }
    if (z->durable_zxid > zxid)
        z->durable_zxid = zxid;
}

/* ---- applying committed txns ---- */

static bool zab_may_apply(const struct zab *z) {
    if (z->role == ZAB_LEADING)
        return z->established;
    return (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && z->lstate == L_BROADCAST;
}

static void zab_check_syncs(struct zab *z);

/* Rule 5: apply what is committed and durable here, in zxid order. */
static void zab_apply_ready(struct zab *z) {
    if (!zab_may_apply(z))
        return;
    int64_t limit = z->commit_zxid < z->durable_zxid ? z->commit_zxid : z->durable_zxid;
    uint32_t i = zab_log_upper(z, z->applied_zxid);
    for (; i < z->count && zab_entry_at(z, i)->zxid <= limit; i++) {
        struct zab_entry *en = zab_entry_at(z, i);
        ZK_ASSERT(zxid_is_successor(z->applied_zxid, en->zxid));
        struct zab_effect *ef = zab_emit(z, ZAB_EFF_APPLY);
        ef->zxid = en->zxid;
        ef->data = en->data;
        ef->len = en->len;
        z->applied_zxid = en->zxid;
    }
    if (z->role == ZAB_LEADING)
        zab_check_syncs(z);
}

/* ---- role changes ---- */

static void zab_fail_syncs(struct zab *z) {
    for (uint32_t i = 0; i < z->sync_count; i++) {
        struct zab_effect *ef = zab_emit(z, ZAB_EFF_SYNC_DONE);
        ef->sync_id = z->syncs[i].id;
        ef->zxid = -1;
    }
    z->sync_count = 0;
}

static void zab_drain_fle(struct zab *z);

static void zab_start_election(struct zab *z) {
    ZK_ASSERT(z->role == ZAB_LOOKING);
#ifndef ZK_MUTATE_ADVERTISE_MEMORY
    /* Rule 3: nothing in flight, so what we advertise is what is on disk. */
    ZK_ASSERT(z->op_count == 0);
    ZK_ASSERT(z->durable_zxid == zab_log_last(z));
#endif
    z->draining = false;
    fle_start(&z->fle, zab_log_last(z), z->current_epoch);
    zab_drain_fle(z);
}

static void zab_go_looking(struct zab *z) {
    if (z->role == ZAB_LEADING) {
        for (uint32_t i = 0; i < z->peer_count; i++) {
            if (z->h[i].phase != H_NONE)
                zab_close(z, z->peers[i], z->h[i].conn);
        }
        zab_fail_syncs(z);
    } else if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && z->conn != 0) {
        zab_close(z, z->leader, z->conn);
    }
    memset(z->h, 0, sizeof(z->h));
    z->lphase = P_NONE;
    z->lstate = L_NONE;
    z->conn = 0;
    z->role = ZAB_LOOKING;
    z->leader = -1;
    z->established = false;
    z->new_epoch = 0;
    z->learner_epoch = 0;
    z->nl_zxid = -1;
    z->gen++;
    fle_set_state(&z->fle, ZPEER_LOOKING);
    zab_emit_role(z);
    /* Txns a learner took before NEWLEADER were written but not fsynced, and a
     * TRUNC may not be durable yet: fsync before we speak again, so what we
     * advertise is exactly what the disk holds. */
    if (z->durable_zxid < zab_log_last(z) || z->trunc_unsynced) {
#ifdef ZK_MUTATE_BOUNCE_NO_FSYNC
        /* ZOOKEEPER-4785: trusts that the log writer will get there. */
        z->durable_zxid = zab_log_last(z);
        z->trunc_unsynced = false;
#else
        zab_issue_sync(z);
#endif
    }
#ifdef ZK_MUTATE_ADVERTISE_MEMORY
    zab_start_election(z);
#else
    if (z->op_count > 0) {
        z->draining = true; /* rule 3 and ZOOKEEPER-4712: finish storage first */
        return;
    }
    zab_start_election(z);
#endif
}

static void zab_start_leading(struct zab *z);
static void zab_start_learning(struct zab *z, int32_t role, int64_t leader);

static void zab_drain_fle(struct zab *z) {
    for (uint32_t i = 0; i < z->fle.out_count; i++) {
        const struct fle_out *o = &z->fle.out[i];
        if (o->note.vote.leader == z->id && o->note.state == ZPEER_LOOKING) {
            /* Rule 3: our own candidacy carries durable values only. */
            ZAB_RULE_ASSERT(o->note.vote.zxid == z->durable_zxid);
            ZK_ASSERT(o->note.vote.peer_epoch == (int64_t)z->current_epoch);
        }
        struct zab_effect *ef = zab_emit(z, ZAB_EFF_VOTE);
        ef->peer = o->to;
        ef->note = o->note;
    }
    fle_clear_out(&z->fle);
    struct zvote v;
    if (z->role != ZAB_LOOKING || !fle_take_decision(&z->fle, &v))
        return;
    if (v.leader == z->id)
        zab_start_leading(z);
    else
        zab_start_learning(z, z->is_observer ? ZAB_OBSERVING : ZAB_FOLLOWING, v.leader);
}

/* ---- leader: discovery ---- */

static void zab_start_leading(struct zab *z) {
    ZK_ASSERT(!z->is_observer);
    z->role = ZAB_LEADING;
    z->leader = z->id;
    z->gen++;
    z->lphase = P_DISCOVERY;
    z->phase_tick = z->tick;
    z->info_mask = zab_bit(z->self);
    z->max_accepted = z->accepted_epoch;
    z->lead_current_epoch = z->current_epoch;
    z->lead_last_zxid = zab_log_last(z);
    z->epoch_ack_mask = z->nl_ack_mask = z->epoch_seen_mask = 0;
    z->established = false;
    z->sync_count = 0;
    memset(z->h, 0, sizeof(z->h));
    zab_emit_role(z);
    if (zab_quorum(z, z->info_mask)) {
        zab_emit_quorum(z, ZAB_QUORUM_EPOCH, z->info_mask);
        z->new_epoch = z->max_accepted + 1;
        z->lphase = P_EPOCH_WRITE;
        zab_issue_epoch(z, ZAB_EPOCH_ACCEPTED, z->new_epoch);
    }
}

/* Sends LEADERINFO to learner i, unless it accepted an epoch that is ours
 * only by number (or a later one), from a leader attempt that failed: then it
 * would refuse us forever (ZooKeeper loops there), or accept one epoch from
 * two leaders (ZOOKEEPER-335). We step down instead, so the next discovery
 * picks a larger epoch. Returns false if we stepped down. */
static bool zab_send_leaderinfo(struct zab *z, int i) {
    uint32_t acc = z->h[i].accepted_epoch;
#ifndef ZK_MUTATE_EPOCH_AHEAD_LOOP
    if (acc > z->new_epoch || (acc == z->new_epoch && !(z->epoch_seen_mask & zab_bit(i)))) {
        zab_go_looking(z);
        return false;
    }
#else
    ZK_UNUSED(acc);
#endif
    struct zmsg m;
    memset(&m, 0, sizeof(m));
    m.type = ZMSG_LEADERINFO;
    m.zxid = ZXID_MAKE(z->new_epoch, 0);
    m.protocol_version = ZMSG_PROTOCOL_VERSION;
    zab_send(z, z->peers[i], z->h[i].conn, &m);
    z->h[i].phase = H_LEADERINFO_SENT;
    return true;
}

static void zab_leader_check_epoch_acks(struct zab *z) {
    if (z->lphase != P_EPOCH_ACK || !zab_quorum(z, z->epoch_ack_mask))
        return;
    zab_emit_quorum(z, ZAB_QUORUM_ACKEPOCH, z->epoch_ack_mask);
    z->lphase = P_CURRENT_WRITE;
    z->phase_tick = z->tick;
    zab_issue_epoch(z, ZAB_EPOCH_CURRENT, z->new_epoch);
}

/* acceptedEpoch = new epoch is durable: tell every learner waiting. */
static void zab_leader_epoch_fixed(struct zab *z) {
    ZK_ASSERT(z->accepted_epoch == z->new_epoch);
    z->lphase = P_EPOCH_ACK;
    z->phase_tick = z->tick;
    z->epoch_ack_mask = zab_bit(z->self);
    for (uint32_t i = 0; i < z->peer_count; i++) {
        if (z->h[i].phase == H_INFO && !zab_send_leaderinfo(z, (int)i))
            return;
    }
    zab_leader_check_epoch_acks(z);
}

static void zab_leader_check_discovery(struct zab *z) {
    if (z->lphase != P_DISCOVERY || !zab_quorum(z, z->info_mask))
        return;
    zab_emit_quorum(z, ZAB_QUORUM_EPOCH, z->info_mask);
    z->new_epoch = z->max_accepted + 1;
    z->lphase = P_EPOCH_WRITE;
    z->phase_tick = z->tick;
    zab_issue_epoch(z, ZAB_EPOCH_ACCEPTED, z->new_epoch);
}

/* ---- leader: sync decision (LearnerHandler.syncFollower) ---- */

/* Forgets a learner's acknowledgements of uncommitted proposals: after a
 * re-sync it may truncate them, so they no longer prove durability. */
static void zab_forget_acks(struct zab *z, int i) {
    for (uint32_t k = zab_log_upper(z, z->commit_zxid); k < z->count; k++)
        zab_entry_at(z, k)->ack_mask &= ~zab_bit(i);
}

static void zab_send_entry(struct zab *z, int i, int32_t type, const struct zab_entry *en) {
    struct zmsg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.zxid = en->zxid;
    m.data = en->data;
    m.data_len = en->len;
    zab_send(z, z->peers[i], z->h[i].conn, &m);
}

/* Chooses DIFF, TRUNC or SNAP for learner i and queues the stream and
 * NEWLEADER, all in this one step, so the snapshot's zxid and the start of the
 * forwarded stream are fixed together (ZOOKEEPER-3104). C is what every
 * learner may treat as committed once we are established: our whole history
 * before establishment, our commit point after. */
static void zab_leader_sync_learner(struct zab *z, int i) {
    struct zab_handler *h = &z->h[i];
    ZK_ASSERT(h->phase == H_EPOCH_ACKED && z->lphase >= P_SYNC);
    bool observer = !zab_is_voter_index(z, i);
    int64_t c = z->established ? z->commit_zxid : zab_log_last(z);
    int64_t peer = h->peer_last_zxid;
    int64_t upto = peer < c ? peer : c;
    int64_t from;
    struct zmsg m;
    memset(&m, 0, sizeof(m));
    zab_forget_acks(z, i);
    /* DIFF or TRUNC needs a learner that holds base_zxid, the txn just before
     * our in-memory window; one below it (even by one txn, or an empty one
     * joining a grown ensemble) gets SNAP. We never serve DIFF from log files
     * (ZOOKEEPER-2846 / 4352). */
    bool in_window = upto >= z->base_zxid;
#if defined(ZK_MUTATE_WINDOW_EDGE)
    in_window = in_window || zxid_is_successor(upto, z->base_zxid); /* off by one */
#elif defined(ZK_MUTATE_DIFF_BELOW_WINDOW)
    in_window = true;
#endif
    if (!in_window) {
        m.type = ZMSG_SNAP; /* the learner is behind our in-memory window */
        m.zxid = z->applied_zxid;
        m.attach_state = true;
        from = z->applied_zxid;
    } else {
        uint32_t k = zab_log_upper(z, upto);
        int64_t t = k == 0 ? z->base_zxid : zab_entry_at(z, k - 1)->zxid;
#if defined(ZK_MUTATE_WINDOW_EDGE) || defined(ZK_MUTATE_DIFF_BELOW_WINDOW)
        if (t > upto)
            t = upto; /* the mutants stream whatever memory holds after the learner's zxid */
#endif
        m.type = t == peer ? ZMSG_DIFF : ZMSG_TRUNC;
        m.zxid = t == peer ? c : t;
#ifdef ZK_MUTATE_TRUNC_AS_DIFF
        m.type = ZMSG_DIFF; /* the learner keeps what it holds beyond t */
        m.zxid = c;
#endif
        from = t;
    }
    zab_send(z, z->peers[i], h->conn, &m);
    h->sent_zxid = from;
    uint32_t first = zab_log_upper(z, from);
#ifdef ZK_MUTATE_SYNC_GAP
    if (first + 1 < z->count)
        first++;
#endif
    for (uint32_t k = first; k < z->count; k++) {
        const struct zab_entry *en = zab_entry_at(z, k);
        if (observer && en->zxid > c)
            break; /* observers learn uncommitted txns by INFORM once committed */
        zab_send_entry(z, i, ZMSG_PROPOSAL, en);
        if (en->zxid <= c)
            zab_send_simple(z, z->peers[i], h->conn, ZMSG_COMMIT, en->zxid);
        h->sent_zxid = en->zxid;
    }
    zab_send_simple(z, z->peers[i], h->conn, ZMSG_NEWLEADER, ZXID_MAKE(z->new_epoch, 0));
    h->phase = H_SYNC_SENT;
    h->last_heard = z->tick;
}

/* ---- leader: establishment, broadcast, pings, sync rounds ---- */

static void zab_leader_check_newleader(struct zab *z) {
    if (z->lphase != P_SYNC || !zab_quorum(z, z->nl_ack_mask))
        return;
    zab_emit_quorum(z, ZAB_QUORUM_NEWLEADER, z->nl_ack_mask);
    z->lphase = P_BROADCAST;
    z->established = true;
    /* Our whole history is now on a quorum with currentEpoch = new epoch. */
    z->commit_zxid = zab_log_last(z);
    ZK_ASSERT(z->commit_zxid == z->initial_last_zxid);
    z->next_counter = 0;
#ifndef ZK_MUTATE_STALE_VOTE
    fle_set_peer_epoch(&z->fle, z->new_epoch);
#endif
    zab_emit_role(z);
    for (uint32_t i = 0; i < z->peer_count; i++) {
        if (z->h[i].phase == H_NL_ACKED) {
            zab_send_simple(z, z->peers[i], z->h[i].conn, ZMSG_UPTODATE, 0);
            z->h[i].phase = H_BROADCAST;
        }
    }
    zab_apply_ready(z);
}

/* currentEpoch = new epoch is durable: sync everyone who acknowledged the epoch. */
static void zab_leader_start_sync(struct zab *z) {
    ZK_ASSERT(z->current_epoch == z->new_epoch);
    ZK_ASSERT(z->durable_zxid == zab_log_last(z));
    z->lphase = P_SYNC;
    z->phase_tick = z->tick;
    z->initial_last_zxid = zab_log_last(z);
    z->nl_ack_mask = zab_bit(z->self);
    for (uint32_t i = 0; i < z->peer_count; i++) {
        if (z->h[i].phase == H_EPOCH_ACKED)
            zab_leader_sync_learner(z, (int)i);
    }
    zab_leader_check_newleader(z);
}

static void zab_leader_try_commit(struct zab *z) {
    uint32_t k = zab_log_upper(z, z->commit_zxid);
    for (; k < z->count; k++) {
        struct zab_entry *en = zab_entry_at(z, k);
        if (!zab_quorum(z, en->ack_mask))
            break;
        ZK_ASSERT(zxid_is_successor(z->commit_zxid, en->zxid));
        z->commit_zxid = en->zxid;
        zab_emit_quorum(z, ZAB_QUORUM_COMMIT, en->ack_mask);
        for (uint32_t i = 0; i < z->peer_count; i++) {
            if (z->h[i].phase < H_SYNC_SENT)
                continue;
            if (zab_is_voter_index(z, (int)i))
                zab_send_simple(z, z->peers[i], z->h[i].conn, ZMSG_COMMIT, en->zxid);
            else
                zab_send_entry(z, (int)i, ZMSG_INFORM, en);
        }
    }
    zab_apply_ready(z);
}

static void zab_leader_ping_all(struct zab *z) {
    z->ping_round++;
    for (uint32_t i = 0; i < z->peer_count; i++) {
        struct zab_handler *h = &z->h[i];
        if (h->phase != H_BROADCAST)
            continue;
        if (!h->pinged) {
            h->pinged = true;
            h->ping_first_round = z->ping_round;
            h->pings_answered = 0;
        }
        zab_send_simple(z, z->peers[i], h->conn, ZMSG_PING, zab_log_last(z));
    }
}

/* Voters (and us) that answered a PING of round >= round. */
static uint32_t zab_round_mask(const struct zab *z, uint64_t round) {
    uint32_t mask = zab_bit(z->self);
    for (uint32_t i = 0; i < z->peer_count; i++) {
        const struct zab_handler *h = &z->h[i];
        if (h->phase == H_BROADCAST && h->pinged && h->pings_answered > 0 &&
            h->ping_first_round + h->pings_answered - 1 >= round)
            mask |= zab_vote_bit(z, (int)i);
    }
    return mask;
}

static void zab_check_syncs(struct zab *z) {
    uint32_t kept = 0;
    for (uint32_t k = 0; k < z->sync_count; k++) {
        struct zab_sync_req *s = &z->syncs[k];
        uint32_t mask = zab_round_mask(z, s->round);
#ifdef ZK_MUTATE_LOCAL_SYNC
        mask = z->voter_mask;
#endif
        if (zab_quorum(z, mask) && z->applied_zxid >= s->need_zxid) {
            zab_emit_quorum(z, ZAB_QUORUM_SYNC, mask);
            struct zab_effect *ef = zab_emit(z, ZAB_EFF_SYNC_DONE);
            ef->sync_id = s->id;
            ef->zxid = z->applied_zxid;
            continue;
        }
        z->syncs[kept++] = *s;
    }
    z->sync_count = kept;
}

static void zab_leader_drop(struct zab *z, int i, bool close) {
    struct zab_handler *h = &z->h[i];
    ZK_ASSERT(h->phase != H_NONE);
    if (close)
        zab_close(z, z->peers[i], h->conn);
    zab_forget_acks(z, i);
    memset(h, 0, sizeof(*h));
}

static void zab_leader_tick(struct zab *z) {
    if (!z->established && z->tick - z->phase_tick > z->init_limit) {
        zab_go_looking(z); /* discovery or sync did not finish within initLimit */
        return;
    }
    for (uint32_t i = 0; i < z->peer_count; i++) {
        struct zab_handler *h = &z->h[i];
        if (h->phase == H_NONE)
            continue;
        uint32_t limit = h->phase == H_BROADCAST ? z->sync_limit : z->init_limit;
        if (z->tick - h->last_heard > limit)
            zab_leader_drop(z, (int)i, true);
    }
    if (!z->established)
        return;
    zab_leader_ping_all(z);
    uint32_t live = zab_bit(z->self);
    for (uint32_t i = 0; i < z->peer_count; i++) {
        if (z->h[i].phase == H_BROADCAST)
            live |= zab_vote_bit(z, (int)i);
    }
    if (!zab_quorum(z, live)) {
        zab_go_looking(z); /* lost a quorum for syncLimit ticks: step down */
        return;
    }
    zab_check_syncs(z);
}

/* ---- leader: messages from learners ---- */

static int zab_leader_on_info(struct zab *z, int i, uint64_t conn, const struct zmsg *m) {
    bool voter = zab_is_voter_index(z, i);
    if ((m->type == ZMSG_FOLLOWERINFO) != voter || m->sid != z->peers[i] ||
        ZXID_COUNTER(m->zxid) != 0)
        return ZK_EPROTO;
    if (z->h[i].phase != H_NONE)
        zab_leader_drop(z, i, z->h[i].conn != conn); /* a reconnect replaces the old one */
    struct zab_handler *h = &z->h[i];
    memset(h, 0, sizeof(*h));
    h->phase = H_INFO;
    h->conn = conn;
    h->accepted_epoch = ZXID_EPOCH(m->zxid);
    h->last_heard = z->tick;
    if (z->lphase == P_DISCOVERY) {
        if (h->accepted_epoch > z->max_accepted)
            z->max_accepted = h->accepted_epoch;
        z->info_mask |= zab_vote_bit(z, i);
        zab_leader_check_discovery(z);
    } else if (z->lphase >= P_EPOCH_ACK) {
        zab_send_leaderinfo(z, i);
    }
    return ZK_OK;
}

static int zab_leader_on_ackepoch(struct zab *z, int i, const struct zmsg *m) {
    struct zab_handler *h = &z->h[i];
    if (h->phase != H_LEADERINFO_SENT || m->epoch < 0 || m->zxid < 0)
        return ZK_EPROTO;
    h->peer_last_zxid = m->zxid;
    h->peer_current_epoch = (uint32_t)m->epoch;
    z->epoch_seen_mask |= zab_bit(i);
    if (!z->established &&
        (h->peer_current_epoch > z->lead_current_epoch ||
         (h->peer_current_epoch == z->lead_current_epoch && m->zxid > z->lead_last_zxid))) {
        zab_go_looking(z); /* "Follower is ahead of the leader": elect again */
        return ZK_OK;
    }
    h->phase = H_EPOCH_ACKED;
    if (z->lphase == P_EPOCH_ACK) {
        z->epoch_ack_mask |= zab_vote_bit(z, i);
        zab_leader_check_epoch_acks(z);
    } else if (z->lphase >= P_SYNC) {
        zab_leader_sync_learner(z, i);
    }
    return ZK_OK;
}

static int zab_leader_on_ack(struct zab *z, int i, const struct zmsg *m) {
    struct zab_handler *h = &z->h[i];
    if (h->phase == H_SYNC_SENT) {
        if (m->zxid != ZXID_MAKE(z->new_epoch, 0))
            return ZK_EPROTO; /* a PROPOSAL ACK before ACK(NEWLEADER): ZOOKEEPER-4685 */
        h->phase = H_NL_ACKED;
        if (!z->established) {
            z->nl_ack_mask |= zab_vote_bit(z, i);
            zab_leader_check_newleader(z);
            return ZK_OK;
        }
        /* Its ACK(NEWLEADER) covers every proposal streamed before NEWLEADER;
         * those are not forwarded again (protocol-spec issue 2). */
        for (uint32_t k = zab_log_upper(z, z->commit_zxid); k < z->count; k++) {
            struct zab_entry *en = zab_entry_at(z, k);
            if (en->zxid <= h->sent_zxid)
                en->ack_mask |= zab_vote_bit(z, i);
#ifdef ZK_MUTATE_DUP_FORWARD
            if (en->zxid <= h->sent_zxid)
                zab_send_entry(z, i, ZMSG_PROPOSAL, en);
#endif
        }
        zab_send_simple(z, z->peers[i], h->conn, ZMSG_UPTODATE, 0);
        h->phase = H_BROADCAST;
        zab_leader_try_commit(z);
        return ZK_OK;
    }
    if (h->phase < H_NL_ACKED || !zab_is_voter_index(z, i))
        return ZK_EPROTO;
    if (m->zxid <= z->commit_zxid)
        return ZK_OK; /* late ACK of something already committed */
    int64_t k = zab_log_find(z, m->zxid);
    if (k < 0)
        return ZK_EPROTO;
    zab_entry_at(z, (uint32_t)k)->ack_mask |= zab_vote_bit(z, i);
    zab_leader_try_commit(z);
    return ZK_OK;
}

static int zab_leader_recv(struct zab *z, int i, uint64_t conn, const struct zmsg *m) {
    if (m->type == ZMSG_FOLLOWERINFO || m->type == ZMSG_OBSERVERINFO)
        return zab_leader_on_info(z, i, conn, m);
    struct zab_handler *h = &z->h[i];
    if (h->phase == H_NONE || h->conn != conn)
        return ZK_EPROTO; /* a connection we do not know (any more) */
    h->last_heard = z->tick;
    switch (m->type) {
    case ZMSG_ACKEPOCH:
        return zab_leader_on_ackepoch(z, i, m);
    case ZMSG_ACK:
        return zab_leader_on_ack(z, i, m);
    case ZMSG_PING:
        if (h->pinged)
            h->pings_answered++;
        if (m->data_len > 0) {
            struct zab_effect *ef = zab_emit(z, ZAB_EFF_SESSIONS);
            ef->peer = z->peers[i];
            ef->data = m->data;
            ef->len = m->data_len;
        }
        zab_check_syncs(z);
        return ZK_OK;
    default:
        return ZK_EPROTO;
    }
}

/* ---- learner ---- */

static void zab_start_learning(struct zab *z, int32_t role, int64_t leader) {
    ZK_ASSERT(leader != z->id && zab_peer_index(z, leader) >= 0);
    z->role = role;
    z->leader = leader;
    z->gen++;
    z->lstate = L_CONNECTING;
    z->conn = 0;
    z->reconnect_at = 0;
    z->last_heard = z->tick;
    z->learner_epoch = 0;
    z->nl_zxid = -1;
    z->acked_through = 0;
    z->established = false;
    zab_emit_role(z);
    struct zab_effect *ef = zab_emit(z, ZAB_EFF_CONNECT);
    ef->peer = leader;
}

static void zab_learner_send_ackepoch(struct zab *z) {
    struct zmsg m;
    memset(&m, 0, sizeof(m));
    m.type = ZMSG_ACKEPOCH;
#ifdef ZK_MUTATE_ADVERTISE_MEMORY
    m.zxid = zab_log_last(z);
#else
    m.zxid = z->durable_zxid;
#endif
    m.epoch = (int32_t)z->current_epoch;
    zab_send(z, z->leader, z->conn, &m);
    z->lstate = L_SYNC_WAIT;
}

/* Proposal ACKs, in zxid order, for what is durable — only after ACK(NEWLEADER). */
static void zab_learner_flush_acks(struct zab *z) {
    if (z->role != ZAB_FOLLOWING || z->lstate < L_NL_ACKED)
        return;
    for (uint32_t k = zab_log_upper(z, z->acked_through); k < z->count; k++) {
        const struct zab_entry *en = zab_entry_at(z, k);
        if (en->zxid > z->durable_zxid)
            break;
        zab_send_simple(z, z->leader, z->conn, ZMSG_ACK, en->zxid);
        z->acked_through = en->zxid;
    }
}

static void zab_learner_send_nl_ack(struct zab *z) {
    zab_send_simple(z, z->leader, z->conn, ZMSG_ACK, z->nl_zxid);
    z->lstate = L_NL_ACKED;
    z->acked_through = z->nl_last_zxid;
    zab_learner_flush_acks(z);
}

/* Rule 2, step 2: the sync txns are durable; now currentEpoch. */
static void zab_learner_nl_synced(struct zab *z) {
    ZAB_RULE_ASSERT(z->durable_zxid >= z->nl_last_zxid);
    if (z->current_epoch == z->learner_epoch) {
        zab_learner_send_nl_ack(z);
        return;
    }
    z->nl_epoch_op = zab_issue_epoch(z, ZAB_EPOCH_CURRENT, z->learner_epoch);
}

static int zab_learner_on_newleader(struct zab *z, const struct zmsg *m) {
    if (z->lstate != L_SYNCING || ZXID_EPOCH(m->zxid) != z->learner_epoch ||
        ZXID_COUNTER(m->zxid) != 0)
        return ZK_EPROTO;
    z->nl_zxid = m->zxid;
    z->nl_last_zxid = zab_log_last(z);
    z->lstate = L_NEWLEADER;
#ifdef ZK_MUTATE_UPTODATE_STALE_COMMIT
    z->nl_commit = z->sync_commit;
#endif
#if defined(ZK_MUTATE_EPOCH_BEFORE_FSYNC)
    z->nl_epoch_op = zab_issue_epoch(z, ZAB_EPOCH_CURRENT, z->learner_epoch);
    z->nl_sync_op = zab_issue_sync(z);
#elif defined(ZK_MUTATE_NEWLEADER_ACK_EARLY)
    z->nl_sync_op = zab_issue_sync(z);
    z->nl_epoch_op = zab_issue_epoch(z, ZAB_EPOCH_CURRENT, z->learner_epoch);
    zab_learner_send_nl_ack(z);
#else
    z->nl_sync_op = zab_issue_sync(z); /* rule 2, step 1 */
    z->nl_epoch_op = 0;
#endif
    return ZK_OK;
}

static int zab_learner_on_sync_mode(struct zab *z, const struct zmsg *m) {
    if (z->lstate != L_SYNC_WAIT)
        return ZK_EPROTO;
    if (m->type == ZMSG_DIFF) {
        /* What we logged after applied_zxid is applied at UPTODATE, when the
         * commit point covers it (ZOOKEEPER-2355: a logged closeSession). */
        int64_t last = zab_log_last(z);
        z->sync_commit = m->zxid < last ? m->zxid : last;
#ifdef ZK_MUTATE_RESYNC_SKIPS_LOGGED
        z->applied_zxid = z->commit_zxid = z->sync_commit;
#endif
    } else if (m->type == ZMSG_TRUNC) {
        int64_t t = m->zxid;
        if (t < z->applied_zxid || t > zab_log_last(z) ||
            (t != z->base_zxid && zab_log_find(z, t) < 0))
            return ZK_EPROTO; /* would cut applied (committed) state, or no such point */
        zab_log_truncate(z, t);
        struct zab_effect *ef = zab_emit(z, ZAB_EFF_LOG_TRUNCATE);
        ef->zxid = t;
        z->trunc_unsynced = true;
        zab_clip_pending_syncs(z, t);
        z->sync_commit = t;
    } else {
        if (m->zxid < z->applied_zxid || m->zxid < 0 || m->data == NULL)
            return ZK_EPROTO;
        struct zab_op *op = zab_op_push(z, OP_INSTALL);
        op->zxid = m->zxid;
        struct zab_effect *ef = zab_emit(z, ZAB_EFF_SNAP_INSTALL);
        ef->op_id = op->id;
        ef->zxid = m->zxid;
        ef->data = m->data;
        ef->len = m->data_len;
        zab_log_reset(z, m->zxid);
        zab_clip_pending_syncs(z, -1);
        z->applied_zxid = z->commit_zxid = m->zxid;
        z->sync_commit = m->zxid;
    }
    z->lstate = L_SYNCING;
    return ZK_OK;
}

/* A txn from the leader (PROPOSAL, or INFORM to an observer). */
static int zab_learner_take_txn(struct zab *z, const struct zmsg *m) {
    int64_t last = zab_log_last(z);
    if (m->zxid <= last) {
        /* A duplicate (protocol-spec issue 2) is ignored; anything else is a fork. */
        return zab_log_find(z, m->zxid) >= 0 || m->zxid == z->base_zxid ? ZK_OK : ZK_EPROTO;
    }
#ifndef ZK_MUTATE_SYNC_GAP
    if (!zxid_is_successor(last, m->zxid))
        return ZK_EPROTO; /* rule 4: a gap (ZOOKEEPER-4925/5094) */
#endif
    if (ZXID_EPOCH(m->zxid) > z->learner_epoch || m->data == NULL)
        return ZK_EPROTO;
    struct zab_entry *en = zab_log_append(z, m->zxid, m->data, m->data_len);
    zab_emit_append(z, en);
    if (z->lstate >= L_NEWLEADER)
        zab_issue_sync(z); /* before NEWLEADER, the NEWLEADER sync covers it */
#ifdef ZK_MUTATE_ACK_BEFORE_FSYNC
    if (z->role == ZAB_FOLLOWING && z->lstate >= L_NL_ACKED && m->type == ZMSG_PROPOSAL) {
        zab_send_simple(z, z->leader, z->conn, ZMSG_ACK, m->zxid);
        z->acked_through = m->zxid;
    }
#endif
    return ZK_OK;
}

static int zab_learner_on_commit(struct zab *z, int64_t zxid) {
    if (zxid > zab_log_last(z) || (zab_log_find(z, zxid) < 0 && zxid != z->base_zxid))
        return ZK_EPROTO; /* COMMIT of an unknown txn (messageLegal) */
    if (z->lstate < L_BROADCAST) {
        if (zxid > z->sync_commit)
            z->sync_commit = zxid;
        return ZK_OK;
    }
    if (zxid > z->commit_zxid)
        z->commit_zxid = zxid;
    zab_apply_ready(z);
    return ZK_OK;
}

static int zab_learner_on_leaderinfo(struct zab *z, const struct zmsg *m) {
    uint32_t e = ZXID_EPOCH(m->zxid);
    if (z->lstate != L_INFO_SENT || ZXID_COUNTER(m->zxid) != 0 || e < z->accepted_epoch)
        return ZK_EPROTO;
    z->learner_epoch = e;
    if (e == z->accepted_epoch) {
        zab_learner_send_ackepoch(z);
        return ZK_OK;
    }
    z->lstate = L_EPOCH_WRITING;
#ifdef ZK_MUTATE_ACKEPOCH_EARLY
    zab_issue_epoch(z, ZAB_EPOCH_ACCEPTED, e);
    zab_learner_send_ackepoch(z);
#else
    zab_issue_epoch(z, ZAB_EPOCH_ACCEPTED, e); /* rule 1: ACKEPOCH waits for it */
#endif
    return ZK_OK;
}

static int zab_learner_recv_sync(struct zab *z, const struct zmsg *m) {
    switch (m->type) {
    case ZMSG_PROPOSAL:
        if (z->lstate < L_SYNCING || (z->is_observer && z->lstate == L_BROADCAST))
            return ZK_EPROTO;
        return zab_learner_take_txn(z, m);
    case ZMSG_COMMIT:
        if (z->lstate < L_SYNCING || (z->is_observer && z->lstate == L_BROADCAST))
            return ZK_EPROTO;
        return zab_learner_on_commit(z, m->zxid);
    case ZMSG_INFORM: {
        if (!z->is_observer || z->lstate < L_SYNCING)
            return ZK_EPROTO;
        int rc = zab_learner_take_txn(z, m);
        return rc != ZK_OK ? rc : zab_learner_on_commit(z, m->zxid);
    }
    case ZMSG_NEWLEADER:
        return zab_learner_on_newleader(z, m);
    case ZMSG_UPTODATE:
        if (z->lstate != L_NL_ACKED)
            return ZK_EPROTO;
        z->lstate = L_BROADCAST;
        z->established = true;
        /* COMMITs that came after NEWLEADER count too: UPTODATE carries no
         * commit point (protocol-spec issue 3, ZOOKEEPER-4394). */
#ifdef ZK_MUTATE_UPTODATE_STALE_COMMIT
        z->sync_commit = z->nl_commit;
#endif
        if (z->sync_commit > z->commit_zxid)
            z->commit_zxid = z->sync_commit;
#ifndef ZK_MUTATE_STALE_VOTE
        fle_set_peer_epoch(&z->fle, z->learner_epoch);
#endif
        zab_emit_role(z);
        zab_apply_ready(z);
        return ZK_OK;
    default:
        return ZK_EPROTO;
    }
}

static int zab_learner_recv(struct zab *z, int64_t from, uint64_t conn, const struct zmsg *m) {
    if (from != z->leader || conn != z->conn || z->lstate < L_INFO_SENT) {
        zab_close(z, from, conn); /* not our leader's current connection */
        return ZK_EPROTO;
    }
    z->last_heard = z->tick;
    switch (m->type) {
    case ZMSG_LEADERINFO:
        return zab_learner_on_leaderinfo(z, m);
    case ZMSG_DIFF:
    case ZMSG_TRUNC:
    case ZMSG_SNAP:
        return zab_learner_on_sync_mode(z, m);
    case ZMSG_PING: {
        if (z->lstate < L_SYNC_WAIT)
            return ZK_EPROTO;
        struct zmsg r;
        memset(&r, 0, sizeof(r));
        r.type = ZMSG_PING;
        r.zxid = m->zxid;
        r.attach_sessions = true;
        zab_send(z, z->leader, z->conn, &r);
        return ZK_OK;
    }
    default:
        return zab_learner_recv_sync(z, m);
    }
}

/* ---- storage completions ---- */

static void zab_op_continue(struct zab *z, const struct zab_op *op) {
    if (z->role == ZAB_LEADING) {
        if (op->kind == OP_EPOCH && op->epoch_kind == ZAB_EPOCH_ACCEPTED &&
            z->lphase == P_EPOCH_WRITE)
            zab_leader_epoch_fixed(z);
        else if (op->kind == OP_EPOCH && op->epoch_kind == ZAB_EPOCH_CURRENT &&
                 z->lphase == P_CURRENT_WRITE)
            zab_leader_start_sync(z);
        else if (op->kind == OP_SYNC && z->established) {
            for (uint32_t k = zab_log_upper(z, z->commit_zxid); k < z->count; k++) {
                struct zab_entry *en = zab_entry_at(z, k);
                if (en->zxid > z->durable_zxid)
                    break;
                en->ack_mask |= zab_bit(z->self);
            }
            zab_leader_try_commit(z);
        }
        return;
    }
    if (z->role != ZAB_FOLLOWING && z->role != ZAB_OBSERVING)
        return;
    if (op->kind == OP_EPOCH && op->epoch_kind == ZAB_EPOCH_ACCEPTED &&
        z->lstate == L_EPOCH_WRITING) {
        zab_learner_send_ackepoch(z);
    } else if (op->kind == OP_SYNC && op->id == z->nl_sync_op && z->lstate == L_NEWLEADER) {
        if (z->nl_epoch_op == 0)
            zab_learner_nl_synced(z);
#ifdef ZK_MUTATE_EPOCH_BEFORE_FSYNC
        else
            zab_learner_send_nl_ack(z);
#endif
    } else if (op->kind == OP_EPOCH && op->id == z->nl_epoch_op && z->lstate == L_NEWLEADER) {
#ifndef ZK_MUTATE_EPOCH_BEFORE_FSYNC
        zab_learner_send_nl_ack(z);
#endif
    }
    zab_learner_flush_acks(z);
    zab_apply_ready(z);
}

void zab_storage_done(struct zab *z, uint64_t op_id) {
    ZK_ASSERT(z->eff_count == 0);
    ZK_ASSERT(z->op_count > 0);
    struct zab_op op = z->ops[z->op_head];
    ZK_ASSERT(op.id == op_id); /* completions come in issue order */
    z->op_head = (z->op_head + 1) % z->op_cap;
    z->op_count--;
    z->cause = op.cause;
    switch (op.kind) {
    case OP_SYNC:
        if (op.zxid > z->durable_zxid)
            z->durable_zxid = op.zxid;
        break;
    case OP_EPOCH:
        if (op.epoch_kind == ZAB_EPOCH_ACCEPTED)
            z->accepted_epoch = op.epoch;
        else
            z->current_epoch = op.epoch;
        ZK_ASSERT(z->accepted_epoch >= z->current_epoch);
        break;
    case OP_INSTALL:
        z->durable_zxid = op.zxid;
        break;
    default:
        ZK_PANIC("zab: bad op kind %d", op.kind);
    }
    ZK_ASSERT(z->durable_zxid <= zab_log_last(z));
    if (op.gen == z->gen)
        zab_op_continue(z, &op);
    if (z->draining && z->op_count == 0)
        zab_start_election(z);
}

/* ---- inputs ---- */

void zab_tick(struct zab *z) {
    ZK_ASSERT(z->eff_count == 0);
    z->tick++;
    z->cause = ZAB_CAUSE_TICK;
    if (!z->draining) {
        fle_tick(&z->fle);
        zab_drain_fle(z);
    }
    switch (z->role) {
    case ZAB_LEADING:
        zab_leader_tick(z);
        break;
    case ZAB_FOLLOWING:
    case ZAB_OBSERVING: {
        uint32_t limit = z->lstate == L_BROADCAST ? z->sync_limit : z->init_limit;
        if (z->tick - z->last_heard > limit) {
            zab_go_looking(z); /* a silent leader */
        } else if (z->lstate == L_CONNECTING && z->reconnect_at != 0 &&
                   z->tick >= z->reconnect_at) {
            /* Learner.connectToLeader retries until initLimit: the leader may
             * not have finished its own election yet. */
            z->reconnect_at = 0;
            struct zab_effect *ef = zab_emit(z, ZAB_EFF_CONNECT);
            ef->peer = z->leader;
        }
        break;
    }
    default:
        break;
    }
}

int zab_recv(struct zab *z, int64_t from, uint64_t conn, const struct zmsg *m) {
    ZK_ASSERT(z->eff_count == 0);
    z->cause = m->type;
    int i = zab_peer_index(z, from);
    if (i < 0 || from == z->id || conn == 0)
        return ZK_EPROTO;
    int rc;
    if (z->role == ZAB_LEADING) {
        rc = zab_leader_recv(z, i, conn, m);
        if (rc != ZK_OK && z->role == ZAB_LEADING) {
            if (z->h[i].phase != H_NONE && z->h[i].conn == conn)
                zab_leader_drop(z, i, true);
            else
                zab_close(z, from, conn);
        }
        return rc;
    }
    if (z->role == ZAB_LOOKING) {
        zab_close(z, from, conn); /* nobody here is leading */
        return ZK_EPROTO;
    }
    rc = zab_learner_recv(z, from, conn, m);
    if (rc != ZK_OK && (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) &&
        conn == z->conn)
        zab_go_looking(z);
    return rc;
}

void zab_recv_vote(struct zab *z, const struct fle_note *n) {
    ZK_ASSERT(z->eff_count == 0);
    z->cause = ZAB_CAUSE_VOTE;
    if (zab_peer_index(z, n->sid) < 0 || z->draining)
        return; /* while draining storage we neither vote nor answer */
    fle_step(&z->fle, n);
    zab_drain_fle(z);
}

void zab_connected(struct zab *z, int64_t peer, uint64_t conn) {
    ZK_ASSERT(z->eff_count == 0);
    ZK_ASSERT(conn != 0);
    z->cause = ZAB_CAUSE_CONNECTION;
    if ((z->role != ZAB_FOLLOWING && z->role != ZAB_OBSERVING) || peer != z->leader ||
        z->lstate != L_CONNECTING) {
        zab_close(z, peer, conn);
        return;
    }
    z->conn = conn;
    z->last_heard = z->tick;
    struct zmsg m;
    memset(&m, 0, sizeof(m));
    m.type = z->is_observer ? ZMSG_OBSERVERINFO : ZMSG_FOLLOWERINFO;
    m.zxid = ZXID_MAKE(z->accepted_epoch, 0);
    m.sid = z->id;
    m.protocol_version = ZMSG_PROTOCOL_VERSION;
    zab_send(z, peer, conn, &m);
    z->lstate = L_INFO_SENT;
}

void zab_disconnected(struct zab *z, int64_t peer, uint64_t conn) {
    ZK_ASSERT(z->eff_count == 0);
    z->cause = ZAB_CAUSE_CONNECTION;
    int i = zab_peer_index(z, peer);
    if (i < 0)
        return;
    if (z->role == ZAB_LEADING) {
        if (conn != 0 && z->h[i].phase != H_NONE && z->h[i].conn == conn)
            zab_leader_drop(z, i, false);
        return;
    }
    if ((z->role != ZAB_FOLLOWING && z->role != ZAB_OBSERVING) || peer != z->leader)
        return;
    if (conn == 0 && z->lstate == L_CONNECTING) {
        z->reconnect_at = z->tick + 1; /* retried from zab_tick until initLimit */
    } else if (conn != 0 && conn == z->conn) {
        z->conn = 0;
        zab_go_looking(z);
    }
}

int64_t zab_next_zxid(const struct zab *z) {
    if (z->role != ZAB_LEADING || !z->established || z->next_counter >= 0xfffffffeu)
        return -1;
    return ZXID_MAKE(z->new_epoch, z->next_counter + 1);
}

int zab_propose(struct zab *z, int64_t zxid, const uint8_t *data, uint32_t len) {
    ZK_ASSERT(z->eff_count == 0);
    if (zab_next_zxid(z) < 0)
        return ZK_EAGAIN;
    ZK_ASSERT(zxid == zab_next_zxid(z));
    z->cause = ZAB_CAUSE_PROPOSE;
    struct zab_entry *en = zab_log_append(z, zxid, data, len);
    z->next_counter++;
    zab_emit_append(z, en);
    zab_issue_sync(z);
    /* Every voter whose sync stream is queued gets the proposal, also before
     * its ACK(NEWLEADER): that stream ended with our txn before this one
     * (protocol-spec issue 1: the Zab paper sends only to ACK-LD senders, so
     * a learner that ACKed the epoch misses proposals made meanwhile). */
#ifdef ZK_MUTATE_PROPOSE_AFTER_NLACK
    int32_t phase_min = H_NL_ACKED;
#else
    int32_t phase_min = H_SYNC_SENT;
#endif
    for (uint32_t i = 0; i < z->peer_count; i++) {
        if (z->h[i].phase >= phase_min && zab_is_voter_index(z, (int)i))
            zab_send_entry(z, (int)i, ZMSG_PROPOSAL, en);
    }
    return ZK_OK;
}

int zab_sync(struct zab *z, uint64_t sync_id) {
    ZK_ASSERT(z->eff_count == 0);
    if (z->role != ZAB_LEADING || !z->established)
        return ZK_EAGAIN;
    z->cause = ZAB_CAUSE_SYNC_REQUEST;
    zab_leader_ping_all(z);
    if (z->sync_count == z->sync_cap) {
        z->sync_cap = z->sync_cap ? 2 * z->sync_cap : 8;
        z->syncs = zk_xrealloc(z->syncs, z->sync_cap * sizeof(*z->syncs));
    }
    struct zab_sync_req *s = &z->syncs[z->sync_count++];
    s->id = sync_id;
    s->round = z->ping_round;
    s->need_zxid = zab_log_last(z);
    zab_check_syncs(z);
    return ZK_OK;
}

const struct zab_effect *zab_effects(const struct zab *z, uint32_t *count) {
    *count = z->eff_count;
    return z->eff;
}

void zab_effects_done(struct zab *z) {
    z->eff_count = 0;
    for (uint32_t i = 0; i < z->grave_count; i++)
        zk_free(z->grave[i]);
    z->grave_count = 0;
    zab_log_compact(z);
}

/* ---- construction ---- */

static int zab_check_config(const struct zab_config *cfg) {
    uint32_t n = cfg->voter_count + cfg->observer_count;
    if (cfg->voter_count == 0 || n > ZAB_PEERS_MAX || cfg->init_limit_ticks == 0 ||
        cfg->sync_limit_ticks == 0 || cfg->fle_resend_ticks_min == 0 ||
        cfg->fle_resend_ticks_max < cfg->fle_resend_ticks_min || cfg->log_window_max == 0)
        return ZK_EINVAL;
    bool found = false;
    for (uint32_t i = 0; i < n; i++) {
        int64_t a = i < cfg->voter_count ? cfg->voters[i] : cfg->observers[i - cfg->voter_count];
        if (a < 0)
            return ZK_EINVAL;
        found |= a == cfg->id;
        for (uint32_t j = 0; j < i; j++) {
            int64_t b =
                j < cfg->voter_count ? cfg->voters[j] : cfg->observers[j - cfg->voter_count];
            if (a == b)
                return ZK_EINVAL;
        }
    }
    return found ? ZK_OK : ZK_EINVAL;
}

static int zab_check_recovered(const struct zab_recovered *rec) {
    if (rec->accepted_epoch < rec->current_epoch || rec->snap_zxid < 0)
        return ZK_ECORRUPT;
    int64_t last = rec->snap_zxid;
    for (uint32_t i = 0; i < rec->log_count; i++) {
        if (!zxid_is_successor(last, rec->log[i].zxid))
            return ZK_ECORRUPT; /* a gap: never start on it */
        last = rec->log[i].zxid;
    }
    /* The log may hold txns of an epoch above currentEpoch: a learner takes
     * proposals of its new leader's epoch right after NEWLEADER, while its
     * currentEpoch write is still queued behind them. Only acceptedEpoch
     * bounds the log (ZooKeeper compares with currentEpoch and then refuses to
     * start: ZOOKEEPER-1653/2354). */
    if (ZXID_EPOCH(last) > rec->accepted_epoch)
        return ZK_ECORRUPT;
#ifdef ZK_MUTATE_RECOVERY_CURRENT_EPOCH
    if (ZXID_EPOCH(last) > rec->current_epoch)
        return ZK_ECORRUPT;
#endif
    return ZK_OK;
}

int zab_create(struct zab **out, const struct zab_config *cfg, const struct zab_recovered *rec) {
    int rc = zab_check_config(cfg);
    if (rc == ZK_OK)
        rc = zab_check_recovered(rec);
    if (rc != ZK_OK)
        return rc;
    struct zab *z = zk_xcalloc(1, sizeof(*z));
    z->id = cfg->id;
    for (uint32_t i = 0; i < cfg->voter_count; i++)
        z->peers[z->peer_count++] = cfg->voters[i];
    for (uint32_t i = 0; i < cfg->observer_count; i++)
        z->peers[z->peer_count++] = cfg->observers[i];
    z->voter_count = cfg->voter_count;
    z->voter_mask = (uint32_t)((1ull << cfg->voter_count) - 1);
    z->self = zab_peer_index(z, cfg->id);
    z->is_observer = !zab_is_voter_index(z, z->self);
    z->init_limit = cfg->init_limit_ticks;
    z->sync_limit = cfg->sync_limit_ticks;
    z->log_window_max = cfg->log_window_max;
    struct fle_config fc = {
        .id = cfg->id,
        .voters = cfg->voters,
        .voter_count = cfg->voter_count,
        .is_observer = z->is_observer,
        .finalize_wait_ticks = cfg->finalize_wait_ticks,
        .resend_ticks_min = cfg->fle_resend_ticks_min,
        .resend_ticks_max = cfg->fle_resend_ticks_max,
    };
    fle_init(&z->fle, &fc);
    z->accepted_epoch = rec->accepted_epoch;
    z->current_epoch = rec->current_epoch;
    z->base_zxid = rec->snap_zxid;
    for (uint32_t i = 0; i < rec->log_count; i++)
        zab_log_append(z, rec->log[i].zxid, rec->log[i].data, rec->log[i].len);
    z->durable_zxid = zab_log_last(z);
    z->commit_zxid = z->applied_zxid = rec->snap_zxid;
    z->role = ZAB_LOOKING;
    z->cause = ZAB_CAUSE_INIT;
    zab_go_looking(z);
    *out = z;
    return ZK_OK;
}

void zab_destroy(struct zab *z) {
    if (z == NULL)
        return;
    zab_effects_done(z);
    for (uint32_t i = 0; i < z->count; i++)
        zk_free(zab_entry_at(z, i)->data);
    zk_free(z->e);
    zk_free(z->grave);
    zk_free(z->ops);
    zk_free(z->syncs);
    zk_free(z->eff);
    zk_free(z);
}

/* ---- introspection ---- */

void zab_status(const struct zab *z, struct zab_status *out) {
    memset(out, 0, sizeof(*out));
    out->role = z->role;
    out->leader = z->leader;
    out->epoch = z->role == ZAB_LEADING ? z->new_epoch : z->learner_epoch;
    out->established = z->established;
    out->accepted_epoch = z->accepted_epoch;
    out->current_epoch = z->current_epoch;
    out->last_zxid = zab_log_last(z);
    out->durable_zxid = z->durable_zxid;
    out->commit_zxid = z->commit_zxid;
    out->applied_zxid = z->applied_zxid;
    out->log_base_zxid = z->base_zxid;
    out->log_count = z->count;
    out->pending_ops = z->op_count;
    out->election_epoch = z->fle.logical_clock;
}

bool zab_log_get(const struct zab *z, int64_t zxid, const uint8_t **data, uint32_t *len) {
    int64_t k = zab_log_find(z, zxid);
    if (k < 0)
        return false;
    const struct zab_entry *en = zab_entry_at(z, (uint32_t)k);
    *data = en->data;
    *len = en->len;
    return true;
}

const char *zab_role_name(int32_t role) { return zpeer_state_name(role); }
