/* sim_check.c — the simulator's invariants, checked as events happen.
 *
 * They use the simulator's own bookkeeping (what each node applied, what its
 * disk holds durably, what clients were told), never the core's word for it:
 *  - committed history: every node applies the same sequence of (zxid, txn) —
 *    a prefix of one global history, which is gap-free — and has the same
 *    tree digest after the same prefix (prefix agreement, same zxid => same
 *    txn, equal digests at equal applied zxid, zxid contiguity);
 *  - one txn per zxid across every log write anywhere (ZOOKEEPER-335 shape);
 *  - at most one established leader per epoch;
 *  - an established leader holds every committed txn (leaderLogCompleteness);
 *  - quorums: only voters, and a majority of them;
 *  - reliability.md §5 from the outside: an ACK leaves only if the host's
 *    fsynced log holds the txn; ACK(NEWLEADER) only with every sync txn
 *    fsynced and currentEpoch durable; ACKEPOCH only with acceptedEpoch
 *    durable; what a node advertises equals its fsynced log;
 *  - every leader -> learner stream is the history after its sync point: no
 *    gap, no duplicate, no TRUNC beyond the learner's log, no COMMIT of a
 *    txn it was never sent (message-level, off with rules off);
 *  - a node's own snapshot is of committed state, as committed;
 *  - on disk: acceptedEpoch >= currentEpoch, acceptedEpoch >= epoch of the
 *    last logged zxid, the fsynced log is gap-free;
 *  - every committed txn is durable on a quorum of voters, at all times;
 *  - no ephemeral node outlives its session;
 *  - acknowledged writes are committed; a sync returns at least every write
 *    acknowledged before it was invoked (sync is a quorum round). */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "../../src/base.h"
#include "../../src/mem.h"

void sim_violation(struct sim *s, const char *fmt, ...) {
    if (s->violated)
        return;
    s->violated = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->violation, sizeof(s->violation), fmt, ap);
    va_end(ap);
    sim_trace(s, "VIOLATION: %s", s->violation);
    if (s->out != NULL)
        fprintf(s->out, "VIOLATION: %s\n", s->violation);
}

/* ---- zxid -> txn hash over every logged txn ---- */

static void sim_zmap_grow(struct sim_zmap *m) {
    uint32_t ncap = m->cap ? 2 * m->cap : 1024;
    int64_t *k = zk_xcalloc(ncap, sizeof(*k));
    uint64_t *v = zk_xcalloc(ncap, sizeof(*v));
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->k[i] == 0)
            continue;
        uint32_t j = (uint32_t)sim_mix64((uint64_t)m->k[i]) & (ncap - 1);
        while (k[j] != 0)
            j = (j + 1) & (ncap - 1);
        k[j] = m->k[i];
        v[j] = m->v[i];
    }
    zk_free(m->k);
    zk_free(m->v);
    m->k = k;
    m->v = v;
    m->cap = ncap;
}

void sim_check_logged(struct sim *s, struct sim_node *n, int64_t zxid, uint64_t hash) {
    struct sim_zmap *m = &s->zmap;
    if (2 * (m->count + 1) > m->cap)
        sim_zmap_grow(m);
    uint32_t j = (uint32_t)sim_mix64((uint64_t)zxid) & (m->cap - 1);
    while (m->k[j] != 0 && m->k[j] != zxid)
        j = (j + 1) & (m->cap - 1);
    if (m->k[j] == 0) {
        m->k[j] = zxid;
        m->v[j] = hash;
        m->count++;
        return;
    }
    if (m->v[j] != hash)
        sim_violation(s, "two different txns with zxid 0x%" PRIx64 " (n%d logs the second)", zxid,
                      n->idx + 1);
}

/* ---- committed history ---- */

struct sim_eph_ctx {
    struct sim *s;
    struct sim_node *n;
};

struct sim_eph_first_ctx {
    const struct tree *tree;
    const char *path;
};

static void sim_eph_first(void *ctx, struct tree_node *n) {
    struct sim_eph_first_ctx *x = ctx;
    static char buf[512]; /* for the message */
    if (x->path == NULL)
        x->path = tree_node_path(x->tree, n, buf, sizeof(buf)) < sizeof(buf) ? buf : "(a long path)";
}

static void sim_check_owner(void *ctx, int64_t owner) {
    struct sim_eph_ctx *c = ctx;
    if (tree_owner_kind(owner) != TREE_EPHEMERAL)
        return;
    if (session_find(&c->n->sessions, owner) == NULL) {
        struct sim_eph_first_ctx x = {&c->n->tree, NULL};
        tree_for_each_ephemeral(&c->n->tree, owner, sim_eph_first, &x);
        sim_violation(c->s, "n%d: ephemeral %s of closed session 0x%" PRIx64 " still exists",
                      c->n->idx + 1, x.path ? x.path : "?", owner);
    }
}

void sim_check_apply(struct sim *s, struct sim_node *n, int64_t zxid, uint64_t hash) {
    uint64_t digest = sim_tree_digest(&n->tree, &n->sessions);
    uint32_t pos = n->hist_pos;
    if (pos < s->hist_count) {
        const struct sim_hist *h = &s->hist[pos];
        if (h->zxid != zxid || h->hash != hash)
            sim_violation(s,
                          "n%d applied 0x%" PRIx64 " as committed txn #%u, but #%u is 0x%" PRIx64
                          " %s",
                          n->idx + 1, zxid, pos + 1, pos + 1, h->zxid,
                          h->zxid == zxid ? "with other content" : "(histories diverge)");
        else if (h->digest != digest)
            sim_violation(s, "n%d tree digest differs after 0x%" PRIx64, n->idx + 1, zxid);
    } else {
        int64_t prev = s->hist_count ? s->hist[s->hist_count - 1].zxid : 0;
        if (!zxid_is_successor(prev, zxid))
            sim_violation(s, "committed history gap: 0x%" PRIx64 " after 0x%" PRIx64, zxid, prev);
        if (s->hist_count == s->hist_cap) {
            s->hist_cap = s->hist_cap ? 2 * s->hist_cap : 256;
            s->hist = zk_xrealloc(s->hist, s->hist_cap * sizeof(*s->hist));
        }
        s->hist[s->hist_count++] = (struct sim_hist){zxid, hash, digest};
    }
    n->hist_pos = pos + 1;
    struct sim_eph_ctx c = {s, n};
    tree_for_each_owner(&n->tree, sim_check_owner, &c);
}

static int64_t sim_hist_find(const struct sim *s, int64_t zxid) {
    uint32_t lo = 0, hi = s->hist_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->hist[mid].zxid == zxid)
            return mid;
        if (s->hist[mid].zxid < zxid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* A node's state was replaced by an image (SNAP, or a snapshot at boot). */
void sim_check_installed(struct sim *s, struct sim_node *n, int64_t zxid) {
    uint64_t digest = sim_tree_digest(&n->tree, &n->sessions);
    if (zxid == 0) {
        n->hist_pos = 0;
        if (digest != s->empty_digest)
            sim_violation(s, "n%d state at zxid 0 is not the empty tree", n->idx + 1);
        return;
    }
    int64_t i = sim_hist_find(s, zxid);
    if (i < 0) {
        sim_violation(s, "n%d state at 0x%" PRIx64 " is not a committed point", n->idx + 1, zxid);
        return;
    }
    n->hist_pos = (uint32_t)i + 1;
    if (s->hist[i].digest != digest)
        sim_violation(s, "n%d image at 0x%" PRIx64 " differs from the committed state",
                      n->idx + 1, zxid);
}

/* Rule 5 (ZOOKEEPER-1549): a node's own snapshot holds committed state only,
 * exactly as the committed history had it at the image's zxid. */
void sim_check_snapshot(struct sim *s, struct sim_node *n, int64_t zxid, uint64_t digest) {
    if (zxid == 0)
        return;
    int64_t i = sim_hist_find(s, zxid);
    if (i < 0)
        sim_violation(s, "n%d snapshot at 0x%" PRIx64 " holds txns not known to be committed",
                      n->idx + 1, zxid);
    else if (s->hist[i].digest != digest)
        sim_violation(s, "n%d snapshot at 0x%" PRIx64 " differs from the committed state",
                      n->idx + 1, zxid);
}

void sim_check_acked(struct sim *s, int64_t zxid, uint64_t hash) {
    ZK_UNUSED(hash);
    int64_t i = sim_hist_find(s, zxid);
    if (i < 0)
        sim_violation(s, "acknowledged write 0x%" PRIx64 " is not committed", zxid);
    if (s->acked_count == s->acked_cap) {
        s->acked_cap = s->acked_cap ? 2 * s->acked_cap : 256;
        s->acked = zk_xrealloc(s->acked, s->acked_cap * sizeof(*s->acked));
    }
    s->acked[s->acked_count].zxid = zxid;
    s->acked[s->acked_count].hash = i >= 0 ? s->hist[i].hash : 0;
    s->acked_count++;
    if (zxid > s->max_acked_zxid)
        s->max_acked_zxid = zxid;
    s->writes_acked++;
}

void sim_check_sync(struct sim *s, int64_t need, int64_t got) {
    if (got < need)
        sim_violation(s,
                      "sync returned 0x%" PRIx64 " but write 0x%" PRIx64
                      " was acknowledged before the sync began (stale sync)",
                      got, need);
}

/* ---- messages ---- */

static int64_t sim_dlog_last(const struct sim_node *n) {
    return n->dlog.count ? n->dlog.r[n->dlog.count - 1].zxid : n->dlog.base;
}

static bool sim_dlog_covers(const struct sim_node *n, int64_t zxid) {
    return zxid <= n->dsnap_zxid || zxid == n->dlog.base || sim_loglist_find(&n->dlog, zxid) >= 0;
}

/* Rule 2 from the disk's side: a learner's currentEpoch becomes durable only
 * after every txn it received before NEWLEADER is fsynced (ZOOKEEPER-4643). */
void sim_check_current_epoch(struct sim *s, struct sim_node *n) {
    if (s->rules_off || (n->role != ZAB_FOLLOWING && n->role != ZAB_OBSERVING))
        return;
    if (!sim_dlog_covers(n, n->nl_required))
        sim_violation(s,
                      "n%d currentEpoch %u durable before its sync txns (needs 0x%" PRIx64
                      ", disk has 0x%" PRIx64 ")",
                      n->idx + 1, n->dur_current, n->nl_required, sim_dlog_last(n));
}

/* The leader's stream to one learner, seen from outside (rule 4; protocol-spec
 * issues 1 and 2; ZOOKEEPER-2846/3104/4352/4925): after the sync point (DIFF:
 * the zxid the learner advertised in ACKEPOCH on this connection; TRUNC, SNAP:
 * the message's zxid) every PROPOSAL or INFORM carries the next zxid of the
 * history — no gap, no duplicate — a TRUNC point is one the learner reached,
 * and a COMMIT names only a zxid the learner holds or was sent. */
static void sim_check_stream(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    const struct zmsg *m = &ef->msg;
    if (ef->conn == 0 || ef->conn > s->conn_count)
        return;
    struct sim_conn *c = &s->conns[ef->conn - 1];
    int to = sim_node_by_sid(s, ef->peer) + 1;
    int64_t prev = c->stream_last;
    const char *bad = NULL;
    switch (m->type) {
    case ZMSG_ACKEPOCH:
        c->learner_zxid = m->zxid;
        return;
    case ZMSG_DIFF:
        c->stream_last = c->learner_zxid;
        return;
    case ZMSG_TRUNC:
        if (m->zxid > c->learner_zxid)
            bad = "TRUNC beyond the learner's log";
        c->stream_last = m->zxid;
        break;
    case ZMSG_SNAP:
        c->stream_last = m->zxid;
        return;
    case ZMSG_PROPOSAL:
    case ZMSG_INFORM:
        if (c->stream_last < 0)
            bad = "txn before the sync point";
        else if (m->zxid <= c->stream_last)
            bad = "duplicate txn";
        else if (!zxid_is_successor(c->stream_last, m->zxid))
            bad = "gap in the stream";
        if (m->zxid > c->stream_last)
            c->stream_last = m->zxid;
        break;
    case ZMSG_COMMIT:
        if (m->zxid > c->stream_last)
            bad = "COMMIT of a txn it was never sent";
        break;
    default:
        return;
    }
    if (bad != NULL && !s->rules_off)
        sim_violation(s, "n%d -> n%d %s 0x%" PRIx64 ": %s (stream at 0x%" PRIx64 ")", n->idx + 1,
                      to, zmsg_type_name(m->type), m->zxid, bad, prev);
}

void sim_check_send(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    const struct zmsg *m = &ef->msg;
    sim_check_stream(s, n, ef);
    if (s->rules_off)
        return;
    switch (m->type) {
    case ZMSG_ACK:
        if (ZXID_COUNTER(m->zxid) == 0) {
            if (n->dur_current != ZXID_EPOCH(m->zxid))
                sim_violation(s, "n%d ACK(NEWLEADER) with currentEpoch %u on disk, not %u",
                              n->idx + 1, n->dur_current, ZXID_EPOCH(m->zxid));
            else if (!sim_dlog_covers(n, n->nl_required))
                sim_violation(s,
                              "n%d ACK(NEWLEADER) before its sync txns are fsynced (needs "
                              "0x%" PRIx64 ", disk has 0x%" PRIx64 ")",
                              n->idx + 1, n->nl_required, sim_dlog_last(n));
        } else if (!sim_dlog_covers(n, m->zxid)) {
            sim_violation(s, "n%d ACK 0x%" PRIx64 " before it is fsynced (disk has 0x%" PRIx64 ")",
                          n->idx + 1, m->zxid, sim_dlog_last(n));
        }
        break;
    case ZMSG_ACKEPOCH:
        if (n->dur_accepted < n->leaderinfo_epoch)
            sim_violation(s, "n%d ACKEPOCH %u before acceptedEpoch is durable (disk: %u)",
                          n->idx + 1, n->leaderinfo_epoch, n->dur_accepted);
        else if (m->zxid != sim_dlog_last(n))
            sim_violation(s, "n%d advertises 0x%" PRIx64 " but its disk holds 0x%" PRIx64,
                          n->idx + 1, m->zxid, sim_dlog_last(n));
        break;
    case ZMSG_FOLLOWERINFO:
    case ZMSG_OBSERVERINFO:
        if (ZXID_EPOCH(m->zxid) != n->dur_accepted)
            sim_violation(s, "n%d FOLLOWERINFO acceptedEpoch %u, disk has %u", n->idx + 1,
                          ZXID_EPOCH(m->zxid), n->dur_accepted);
        break;
    default:
        break;
    }
}

void sim_check_vote(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    const struct fle_note *nt = &ef->note;
    if (s->rules_off || nt->state != ZPEER_LOOKING || nt->vote.leader != n->sid)
        return;
    if (nt->vote.zxid != sim_dlog_last(n) || nt->vote.peer_epoch != (int64_t)n->dur_current)
        sim_violation(s,
                      "n%d votes for itself with (0x%" PRIx64 ", epoch %" PRId64
                      ") but its disk holds (0x%" PRIx64 ", epoch %u)",
                      n->idx + 1, nt->vote.zxid, nt->vote.peer_epoch, sim_dlog_last(n),
                      n->dur_current);
}

void sim_check_role(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    if (ef->role != ZAB_LEADING || !ef->established)
        return;
    uint32_t e = ef->epoch;
    if (e < ZK_ARRAY_LEN(s->leader_of_epoch)) {
        if (s->leader_of_epoch[e] != 0 && s->leader_of_epoch[e] != n->sid)
            sim_violation(s, "two established leaders in epoch %u: %" PRId64 " and %" PRId64, e,
                          s->leader_of_epoch[e], n->sid);
        s->leader_of_epoch[e] = n->sid;
    }
    struct zab_status st;
    zab_status(n->z, &st);
    /* Every txn committed in an earlier epoch. (A leader whose last
     * ACK(NEWLEADER) arrives late may establish an old epoch after a newer one
     * committed txns; it can commit nothing more, since its followers moved on.) */
    for (uint32_t i = 0; i < s->hist_count && ZXID_EPOCH(s->hist[i].zxid) < e; i++) {
        const struct sim_hist *h = &s->hist[i];
        if (h->zxid <= st.log_base_zxid)
            continue; /* in its applied state, checked against the history */
        const uint8_t *data;
        uint32_t len;
        if (!zab_log_get(n->z, h->zxid, &data, &len) ||
            sim_hash_bytes(0, data, len) != h->hash) {
            sim_violation(s, "established leader n%d (epoch %u) lacks committed txn 0x%" PRIx64,
                          n->idx + 1, e, h->zxid);
            return;
        }
    }
}

void sim_check_quorum(struct sim *s, struct sim_node *n, const struct zab_effect *ef) {
    static const char *const what[] = {"?", "epoch", "ackepoch", "newleader", "commit", "sync"};
    const char *name = ef->quorum_kind >= 1 && ef->quorum_kind <= 5 ? what[ef->quorum_kind] : "?";
    uint32_t voters = (uint32_t)((1ull << s->p.voters) - 1);
    if (ef->mask & ~voters) {
        int obs = __builtin_ctz(ef->mask & ~voters);
        sim_violation(s, "n%d counted observer n%d in a %s quorum", n->idx + 1, obs + 1, name);
        return;
    }
    if (2 * (uint32_t)__builtin_popcount(ef->mask) <= s->p.voters)
        sim_violation(s, "n%d %s quorum of %d voters out of %u", n->idx + 1, name,
                      __builtin_popcount(ef->mask), s->p.voters);
}

/* ---- disks ---- */

/* The end of the committed prefix this node's disk holds: the durable
 * snapshot, extended by the fsynced log when the log starts at or below it,
 * up to the log's last record that is in the committed history (the log is
 * gap-free and prefix-consistent, checked elsewhere). */
static int64_t sim_disk_committed(const struct sim *s, const struct sim_node *n) {
    int64_t cov = n->dsnap_zxid;
    if (n->dlog.base > cov)
        return cov;
    for (uint32_t i = n->dlog.count; i-- > 0;) {
        int64_t k = sim_hist_find(s, n->dlog.r[i].zxid);
        if (k >= 0 && s->hist[k].hash == n->dlog.r[i].hash) {
            if (n->dlog.r[i].zxid > cov)
                cov = n->dlog.r[i].zxid;
            break;
        }
    }
    return cov;
}

void sim_check_disk(struct sim *s, struct sim_node *n) {
    /* What a disk durably holds of the committed history never shrinks: a
     * TRUNC removes only uncommitted txns, and a SNAP install makes its image
     * durable before the old log goes (ZOOKEEPER-3642). */
    int64_t cov = sim_disk_committed(s, n);
    if (cov < n->dur_committed)
        sim_violation(s, "n%d disk: lost committed txns: it held the history through 0x%" PRIx64
                      ", now only through 0x%" PRIx64, n->idx + 1, n->dur_committed, cov);
    if (cov > n->dur_committed)
        n->dur_committed = cov;
    if (n->dur_accepted < n->dur_current)
        sim_violation(s, "n%d disk: acceptedEpoch %u < currentEpoch %u", n->idx + 1,
                      n->dur_accepted, n->dur_current);
    if (ZXID_EPOCH(sim_dlog_last(n)) > n->dur_accepted)
        sim_violation(s, "n%d disk: log holds 0x%" PRIx64 " beyond acceptedEpoch %u", n->idx + 1,
                      sim_dlog_last(n), n->dur_accepted);
    int64_t prev = n->dlog.base;
    for (uint32_t i = 0; i < n->dlog.count; i++) {
        if (!zxid_is_successor(prev, n->dlog.r[i].zxid)) {
            sim_violation(s, "n%d disk: log gap 0x%" PRIx64 " after 0x%" PRIx64, n->idx + 1,
                          n->dlog.r[i].zxid, prev);
            return;
        }
        prev = n->dlog.r[i].zxid;
    }
}

/* Every committed txn is durable on a quorum of voters (in their fsynced log,
 * or under a durable snapshot of committed state). */
void sim_check_durability(struct sim *s) {
    for (uint32_t i = 0; i < s->hist_count && !s->violated; i++) {
        const struct sim_hist *h = &s->hist[i];
        uint32_t have = 0;
        for (uint32_t v = 0; v < s->p.voters; v++) {
            const struct sim_node *n = &s->nodes[v];
            if (h->zxid <= n->dsnap_zxid || sim_loglist_has(&n->dlog, h->zxid, h->hash))
                have++;
        }
        if (2 * have <= s->p.voters)
            sim_violation(s, "committed txn 0x%" PRIx64 " is durable on only %u of %u voters",
                          h->zxid, have, s->p.voters);
    }
}

void sim_check_converged(struct sim *s) {
    int64_t applied = -1;
    for (uint32_t i = 0; i < s->node_count && !s->violated; i++) {
        const struct sim_node *n = &s->nodes[i];
        if (!n->up)
            continue;
        if (applied < 0)
            applied = n->applied_zxid;
        if (n->applied_zxid != applied)
            sim_violation(s, "not converged: n%d applied 0x%" PRIx64 ", others 0x%" PRIx64,
                          n->idx + 1, n->applied_zxid, applied);
    }
    for (uint32_t i = 0; i < s->acked_count && !s->violated; i++) {
        if (s->acked[i].zxid > applied)
            sim_violation(s, "acknowledged write 0x%" PRIx64 " missing after convergence",
                          s->acked[i].zxid);
    }
}

void sim_check_all(struct sim *s) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        if (s->nodes[i].up)
            sim_check_disk(s, &s->nodes[i]);
    }
    sim_check_durability(s);
}
