/* fuzz_pipeline.c — the write and read pipeline in-process: prep (request ->
 * txn), apply (txn -> tree, watches, sessions) and read, driven the way
 * server.c drives them, with invariant checks after every step.
 *
 * Two worlds run side by side on the same request stream:
 *   A "batched": writes are prepped at once but applied only when a step asks
 *     for it (or a rule below forces it), so later writes are prepped against
 *     the outstanding-changes overlay, as pipelined clients cause. A applies
 *     each txn after a txn_encode/txn_decode round trip (the log's path).
 *   B "immediate": every txn is applied right after prep (nothing outstanding).
 * prep's overlay promises that batching is invisible: for every request both
 * worlds must produce the same txn (closeSession: the same set of paths), each
 * txn must apply to the same result, and whenever A has nothing outstanding
 * the two trees and session tables must be identical.
 *
 * Input: byte 0 = config (bit 0 extendedTypesEnabled, bit 1 reconfigEnabled,
 * bit 2 a small jute.maxbuffer of 256, bit 3 a third watch owner without
 * identities holds a persistent-recursive watch on "/", bit 4 shut down with
 * A's queued txns never applied, as a server stopping mid-pipeline), then
 * steps of
 *     u8 ctl, i8 opcode, u16 body length (big-endian), body
 * (a short last body is truncated). ctl bit 0 = client slot (two clients, each
 * with a session created at start, a watch owner and auth identities), bit 1 =
 * server-internal request instead of a client one, bit 2 = leave prepped txns
 * outstanding after this step (otherwise everything queued is applied).
 * Bodies are request bodies exactly as on the wire after the RequestHeader
 * (protocol.md); opcodes are ZooKeeper's. Client opcodes: writes (1 2 5 7 14 15
 * 16 19 21 -11) -> prep; reads (3 4 6 8 9 12 17 18 22 101 103-107) -> read;
 * 100 auth (AuthPacket; digest, ip, super:secret is the super user); -10
 * reconnect (new connection and session; body: i32 timeout); 11 ping; others
 * (check 13, deleteContainer 20, unknown) are refused by the server and skipped.
 * Internal opcodes: -11 expire the slot's session (closeSession as the expiry
 * thread issues it), 20 deleteContainer (body as on the wire), 11 advance the
 * clock by the body's u16 milliseconds and run session expiry, 19 run the
 * container/TTL reaper.
 *
 * Server rules mirrored (server.c): a connection sends nothing until its
 * createSession is applied; its reads wait for its own earlier writes; expiry
 * and the reaper see the applied state. Two extra rules keep A and B
 * comparable: the clock advances and the reaper runs only with nothing
 * outstanding, and sessions expiring in one tick are closed in id order.
 *
 * Checked after every step, in both worlds: prep_outstanding() == 0 when
 * nothing is queued; node count == 1 + descendants of "/"; every node is
 * indexed under its path, its parent pointer and index agree with the parent's
 * children array, its path is valid and extends the parent's; data_bytes and
 * the ephemeral/container/TTL indexes agree with a walk of the tree;
 * tree_for_each_ephemeral visits exactly tree_ephemeral_count_of nodes of that
 * owner; ephemerals have no children and (when nothing is queued) belong to a
 * live session; watch counters agree with the registrations; with bit 3 the
 * recursive watch on "/" sees each created/deleted/dataChanged exactly once; replies of
 * successful reads parse exactly. At the end everything is torn down and
 * zk_mem_bytes_in_use() must be back at its starting value (the shared
 * world:anyone lists included: acl_global_deinit checks their refcounts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "apply.h"
#include "base.h"
#include "err.h"
#include "jute.h"
#include "mem.h"
#include "path.h"
#include "prep.h"
#include "queue.h"
#include "read.h"
#include "session.h"
#include "tree.h"
#include "txn.h"
#include "watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define NCLIENT 2
#define QMAX 32
#define MAX_STEPS 1000
#define TICK_MS 2000
#define MAX_BUFFER_DEFAULT 1048575u
#define MAX_BUFFER_SMALL 256u

#define CTL_SLOT 1u
#define CTL_INTERNAL 2u
#define CTL_DEFER 4u

enum {
    OP_CREATE_SESSION = -10,
    OP_CLOSE_SESSION = -11,
    OP_PING = 11,
    OP_CREATE_CONTAINER = 19,
    OP_DELETE_CONTAINER = 20,
    OP_AUTH = 100,
    OP_SASL = 102,
    /* reads, for reply checks */
    OP_EXISTS = 3,
    OP_GET_DATA = 4,
    OP_GET_ACL = 6,
    OP_GET_CHILDREN = 8,
    OP_SYNC = 9,
    OP_GET_CHILDREN2 = 12,
    OP_MULTI_READ = 22,
    OP_GET_EPHEMERALS = 103,
    OP_GET_ALL_CHILDREN_NUMBER = 104,
    OP_ADD_WATCH = 106,
    OP_WHO_AM_I = 107,
};

struct fz;

struct world {
    struct fz *f;
    struct tree tree;
    struct session_table sessions;
    struct watch_mgr watches;
    struct prep prep;
    struct watch_owner owners[NCLIENT];
    struct watch_owner observer; /* no identities: watches on "/" and "/zookeeper" */
    const struct txn *applying;
    int64_t last_applied;
    uint64_t events;
    uint64_t observer_node_events; /* created/deleted/dataChanged seen by observer */
};

struct client {
    int64_t sid;
    struct auth_set auth;
    uint32_t pending_writes; /* queued in A */
    bool pending_create;     /* its createSession is queued in A */
};

struct qent {
    struct txn txn;       /* A's txn */
    struct jute_buf b_res; /* B's apply result, serialised */
    int slot;             /* client slot, -1 for internal */
    bool create_session;
    bool quirk; /* A and B legitimately differ (see fz_write) */
};

struct fz {
    struct world a, b;
    struct client cl[NCLIENT];
    struct auth_set no_auth;
    struct qent q[QMAX];
    uint32_t qlen;
    int64_t zxid; /* last handed out */
    int32_t cxid;
    int64_t now;  /* the clock (ms): wall time of txns and the session clock */
    uint32_t max_string;
    bool recursive_observer; /* the observer's watch on "/" is persistent-recursive */
    char super_digest[128];
    int64_t *expired; /* scratch for session expiry */
    uint32_t nexpired, expired_cap;
};

/* FUZZ_TRACE=1 in the environment prints one line per request (for building
 * seeds and reading crash inputs). */
static int trace_on = -1;

static bool tracing(void) {
    if (trace_on < 0)
        trace_on = getenv("FUZZ_TRACE") != NULL;
    return trace_on > 0;
}

/* ---- callbacks ---- */

static const struct auth_set *world_owner_auth(struct world *w, const struct watch_owner *o) {
    for (int i = 0; i < NCLIENT; i++) {
        if (o == &w->owners[i])
            return &w->f->cl[i].auth;
    }
    CHECK(o == &w->observer);
    return &w->f->no_auth;
}

static void on_event(void *ctx, struct watch_owner *owner, int32_t event, const char *path,
                     uint32_t len, const struct acl_list *acl, int64_t zxid) {
    struct world *w = ctx;
    CHECK(w->applying != NULL && zxid == w->applying->zxid);
    CHECK(event >= 1 && event <= 4);
    CHECK(path != NULL && len > 0 && path_valid(path, len));
    CHECK(acl != NULL && acl->refs > 0);
    /* the server's CVE-2024-23944 filter */
    (void)acl_check(acl, ACL_READ, world_owner_auth(w, owner));
    w->events++;
    if (owner == &w->observer && event != WATCH_EVENT_CHILDREN_CHANGED)
        w->observer_node_events++;
}

static void on_session_closed(void *ctx, struct session *s) {
    struct world *w = ctx;
    CHECK(w->applying != NULL && w->applying->type == TXN_CLOSE_SESSION);
    CHECK(s->id == w->applying->client_id);
}

static void on_emit(void *ctx, int32_t event, const char *path, uint32_t len) {
    (void)ctx;
    CHECK(event >= 1 && event <= 4);
    CHECK(path != NULL && len > 0);
}

/* ---- apply results, serialised for comparing A with B ---- */

static void res_put(struct jute_buf *b, const struct apply_op_result *r) {
    jute_write_i32(b, r->type);
    jute_write_i32(b, r->err);
    jute_write_bytes(b, r->path, r->path ? (int32_t)r->path_len : -1);
    tree_stat_encode(b, &r->stat);
}

static void res_encode(struct jute_buf *b, const struct apply_result *r) {
    res_put(b, &r->one);
    jute_write_i32(b, (int32_t)r->op_count);
    for (uint32_t i = 0; i < r->op_count; i++)
        res_put(b, &r->ops[i]);
}

static void check_result(const struct txn *t, const struct apply_result *r) {
    CHECK(r->one.type == t->type);
    if (t->type != TXN_MULTI) {
        CHECK(r->one.err == (t->type == TXN_ERROR ? t->op.err : ZOO_OK));
        if (txn_is_create(t->type)) {
            CHECK(r->one.path != NULL && r->one.path_len == t->op.path_len);
            CHECK(memcmp(r->one.path, t->op.path, t->op.path_len) == 0);
            CHECK(r->one.stat.czxid == t->zxid && r->one.stat.mzxid == t->zxid);
            CHECK(r->one.stat.num_children == 0 && r->one.stat.version == 0);
        }
        if (t->type == TXN_SET_DATA)
            CHECK(r->one.stat.mzxid == t->zxid && r->one.stat.version == t->op.version);
        if (t->type == TXN_SET_ACL)
            CHECK(r->one.stat.aversion == t->op.version);
        return;
    }
    CHECK(r->op_count == t->op_count);
    bool failed = false;
    for (uint32_t i = 0; i < t->op_count; i++)
        failed |= t->ops[i].type == TXN_ERROR;
    bool after = false;
    for (uint32_t i = 0; i < t->op_count; i++) {
        const struct apply_op_result *o = &r->ops[i];
        if (!failed) {
            CHECK(o->type == t->ops[i].type && o->err == ZOO_OK);
            continue;
        }
        CHECK(o->type == TXN_ERROR && o->path == NULL);
        if (t->ops[i].type == TXN_ERROR) {
            CHECK(o->err == t->ops[i].err);
            CHECK(after || t->ops[i].err != ZOO_RUNTIMEINCONSISTENCY);
            after = true;
        } else {
            CHECK(o->err == (after ? ZOO_RUNTIMEINCONSISTENCY : ZOO_OK));
        }
    }
}

/* Node-level events (created, deleted, dataChanged) a txn fires: a recursive
 * watch on "/" receives each exactly once. */
static uint64_t node_events_of(const struct txn *t) {
    const struct txn_op *ops = t->type == TXN_MULTI ? t->ops : &t->op;
    uint32_t n = t->type == TXN_MULTI ? t->op_count : 1;
    uint64_t events = 0;
    for (uint32_t i = 0; i < n; i++) {
        int32_t type = ops[i].type;
        if (type == TXN_ERROR)
            return 0; /* a failed multi applies nothing */
        if (txn_is_create(type) || type == TXN_DELETE || type == TXN_DELETE_CONTAINER ||
            type == TXN_SET_DATA)
            events++;
    }
    return events;
}

/* Applies t in w; appends the serialised result to res_out if given. */
static void world_apply(struct world *w, const struct txn *t, struct jute_buf *res_out) {
    struct apply_env env = {
        .tree = &w->tree,
        .sessions = &w->sessions,
        .watches = &w->watches,
        .on_event = on_event,
        .on_session_closed = on_session_closed,
        .ctx = w,
        .now_ms = w->f->now,
    };
    CHECK(t->zxid == w->last_applied + 1);
    struct apply_result res;
    apply_result_init(&res);
    uint64_t events_before = w->observer_node_events;
    uint32_t nodes_before = tree_node_count(&w->tree);
    w->applying = t;
    apply_txn(&env, t, &res);
    w->applying = NULL;
    if (w->f->recursive_observer) {
        uint64_t want = t->type == TXN_CLOSE_SESSION ? nodes_before - tree_node_count(&w->tree)
                        : t->type == TXN_CREATE_SESSION ? 0
                                                        : node_events_of(t);
        CHECK(w->observer_node_events - events_before == want);
    }
    if (t->type != TXN_CREATE_SESSION && t->type != TXN_CLOSE_SESSION)
        check_result(t, &res);
    if (res_out != NULL)
        res_encode(res_out, &res);
    apply_result_deinit(&res);
    w->last_applied = t->zxid;
    prep_applied(&w->prep, t->zxid);
}

/* ---- invariants ---- */

struct eph_ctx {
    const struct tree *t;
    int64_t owner;
    uint32_t seen;
};

static void eph_visit(void *ctx, struct tree_node *n) {
    struct eph_ctx *e = ctx;
    CHECK(tree_node_owner(e->t, n) == e->owner);
    CHECK(tree_node_kind(n) == TREE_EPHEMERAL);
    uint32_t len;
    char *path = tree_node_path_dup(e->t, n, &len);
    CHECK(tree_find(e->t, path, len) == n);
    zk_free(path);
    e->seen++;
}

struct owner_ctx {
    const struct world *w;
    bool quiescent;
    uint32_t total;
    uint32_t owners;
};

static void owner_visit(void *ctx, int64_t owner) {
    struct owner_ctx *o = ctx;
    struct eph_ctx e = {&o->w->tree, owner, 0};
    tree_for_each_ephemeral(&o->w->tree, owner, eph_visit, &e);
    CHECK(e.seen == tree_ephemeral_count_of(&o->w->tree, owner));
    CHECK(e.seen > 0);
    o->total += e.seen;
    o->owners++;
    if (o->quiescent) {
        const struct session *s = session_find(&o->w->sessions, owner);
        CHECK(s != NULL); /* closeSession removes a session's ephemerals */
    }
}

struct kind_ctx {
    const struct tree *t;
    enum tree_kind kind;
    uint32_t seen;
};

static void kind_visit(void *ctx, struct tree_node *n) {
    struct kind_ctx *k = ctx;
    CHECK(tree_node_kind(n) == k->kind);
    CHECK(tree_owner_kind(tree_node_owner(k->t, n)) == k->kind);
    uint32_t len;
    char *path = tree_node_path_dup(k->t, n, &len);
    CHECK(tree_find(k->t, path, len) == n);
    zk_free(path);
    k->seen++;
}

static uint32_t kind_count(const struct tree *t, enum tree_kind kind) {
    struct kind_ctx k = {t, kind, 0};
    tree_for_each_of_kind(t, kind, kind_visit, &k);
    return k.seen;
}

static void check_tree(struct world *w, bool quiescent) {
    const struct tree *t = &w->tree;
    uint32_t count = tree_node_count(t);
    CHECK(tree_check(t) == NULL); /* the child indexes, side table and counters */
    CHECK(t->root != NULL);
    CHECK(count == 1 + tree_descendant_count(t, t->root));
    uint32_t visited = 0, eph = 0, containers = 0, ttls = 0;
    uint64_t data_bytes = 0;
    struct tree_walk walk;
    tree_walk_init(&walk, t);
    for (const struct tree_node *n; (n = tree_walk_next(&walk)) != NULL;) {
        visited++;
        CHECK(visited <= count);
        CHECK(tree_find(t, walk.path, walk.len) == n);
        CHECK(walk.len == strlen(walk.path));
        CHECK(path_valid(walk.path, walk.len));
        const struct acl_list *acl = tree_node_acl(t, n);
        CHECK(acl != NULL && acl->refs > 0 && acl->count > 0);
        CHECK(n->data_len >= -1);
        struct tree_node_stat raw = tree_node_raw(n);
        CHECK(raw.czxid <= w->last_applied && raw.mzxid <= w->last_applied);
        CHECK(raw.mzxid >= raw.czxid && raw.pzxid >= raw.czxid);
        data_bytes += walk.len + (n->data_len > 0 ? (uint32_t)n->data_len : 0);
        if (n != t->root) {
            const struct tree_node *p = tree_walk_parent(&walk);
            CHECK(p != NULL);
            uint32_t plen = path_parent_len(walk.path, walk.len);
            CHECK(tree_find(t, walk.path, plen) == p);
            CHECK(strcmp(n->name, walk.path + (p == t->root ? 1 : plen + 1)) == 0);
            CHECK(n->name[0] != '\0' && strchr(n->name, '/') == NULL);
            CHECK(tree_node_raw(n).czxid >= tree_node_raw(p).czxid);
            CHECK(tree_node_kind(p) != TREE_EPHEMERAL);
        }
        switch (tree_owner_kind(tree_node_owner(t, n))) {
        case TREE_EPHEMERAL:
            eph++;
            CHECK(tree_child_count(n) == 0);
            break;
        case TREE_CONTAINER:
            containers++;
            break;
        case TREE_TTL:
            ttls++;
            CHECK(tree_ttl_of_owner(tree_node_owner(t, n)) > 0);
            break;
        case TREE_NORMAL:
            break;
        }
        uint32_t it = 0, kids = 0;
        for (const struct tree_node *c; (c = tree_child_next(n, &it)) != NULL; kids++)
            CHECK(c->name[0] != '\0');
        CHECK(kids == tree_child_count(n));
    }
    tree_walk_deinit(&walk);
    CHECK(visited == count);
    CHECK(data_bytes == t->data_bytes);
    CHECK(eph == t->ephemeral_count);
    struct owner_ctx oc = {w, quiescent, 0, 0};
    tree_for_each_owner(t, owner_visit, &oc);
    CHECK(oc.total == eph);
    CHECK(kind_count(t, TREE_CONTAINER) == containers);
    CHECK(kind_count(t, TREE_TTL) == ttls);
}

struct sess_ctx {
    bool quiescent;
    uint32_t n;
};

static void sess_visit(void *ctx, struct session *s) {
    struct sess_ctx *c = ctx;
    CHECK(s->id != 0 && s->id != INT64_MIN);
    if (c->quiescent)
        CHECK(!s->closing); /* an applied closeSession removed it */
    c->n++;
}

struct watch_ctx {
    uint32_t paths, regs;
};

static void wpath_visit(void *ctx, const char *path, uint32_t len) {
    struct watch_ctx *c = ctx;
    CHECK(path != NULL && len > 0);
    c->paths++;
}

static void wowner_visit(void *ctx, struct watch_owner *o) {
    struct watch_ctx *c = ctx;
    CHECK(o != NULL && o->count > 0);
    c->regs++;
}

static void owner_path_visit(void *ctx, const char *path, uint32_t len) {
    uint32_t *n = ctx;
    CHECK(path != NULL && len > 0);
    (*n)++;
}

static void check_watches(struct world *w) {
    struct watch_ctx c = {0, 0};
    watch_for_each_path(&w->watches, wpath_visit, wowner_visit, &c);
    CHECK(c.paths == watch_path_count(&w->watches));
    uint32_t regs = 0;
    uint64_t total = 0;
    for (int i = 0; i <= NCLIENT; i++) {
        struct watch_owner *o = i < NCLIENT ? &w->owners[i] : &w->observer;
        uint32_t n = 0;
        watch_for_each_owner_path(o, owner_path_visit, &n);
        CHECK(n == o->count);
        regs += n;
        total += watch_owner_total(o);
    }
    CHECK(regs == c.regs);
    CHECK(total == watch_total(&w->watches));
}

static void check_world(struct world *w, bool quiescent) {
    if (quiescent)
        CHECK(prep_outstanding(&w->prep) == 0);
    check_tree(w, quiescent);
    struct sess_ctx sc = {quiescent, 0};
    session_for_each(&w->sessions, sess_visit, &sc);
    CHECK(sc.n == session_count(&w->sessions));
    check_watches(w);
}

/* A and B agree when A has nothing outstanding. */
static void compare_worlds(struct world *a, struct world *b) {
    CHECK(a->last_applied == b->last_applied);
    CHECK(tree_node_count(&a->tree) == tree_node_count(&b->tree));
    CHECK(a->tree.data_bytes == b->tree.data_bytes);
    CHECK(a->tree.ephemeral_count == b->tree.ephemeral_count);
    struct tree_walk walk;
    tree_walk_init(&walk, &a->tree);
    for (const struct tree_node *n; (n = tree_walk_next(&walk)) != NULL;) {
        const struct tree_node *m = tree_find(&b->tree, walk.path, walk.len);
        CHECK(m != NULL);
        struct tree_stat xs, ys;
        tree_node_persisted(&a->tree, n, &xs);
        tree_node_persisted(&b->tree, m, &ys);
        const struct tree_stat *x = &xs, *y = &ys;
        CHECK(x->czxid == y->czxid && x->mzxid == y->mzxid && x->ctime == y->ctime);
        CHECK(x->mtime == y->mtime && x->version == y->version && x->cversion == y->cversion);
        CHECK(x->aversion == y->aversion && x->ephemeral_owner == y->ephemeral_owner);
        CHECK(x->pzxid == y->pzxid);
        CHECK(n->data_len == m->data_len);
        CHECK(n->data_len <= 0 || memcmp(tree_node_data(n), tree_node_data(m),
                                              (size_t)n->data_len) == 0);
        CHECK(acl_equal(tree_node_acl(&a->tree, n), tree_node_acl(&b->tree, m)));
        CHECK(tree_child_count(n) == tree_child_count(m));
    }
    tree_walk_deinit(&walk);
    uint32_t bucket;
    CHECK(session_count(&a->sessions) == session_count(&b->sessions));
    CHECK(session_next_expiration(&a->sessions) == session_next_expiration(&b->sessions));
    for (struct map_entry *e = map_first(&a->sessions.by_id, &bucket); e != NULL;
         e = map_next(&a->sessions.by_id, e, &bucket)) {
        const struct session *s = zk_container_of(e, struct session, link);
        const struct session *t = session_find(&b->sessions, s->id);
        CHECK(t != NULL);
        CHECK(s->timeout_ms == t->timeout_ms && s->expire_at_ms == t->expire_at_ms);
        CHECK(s->closing == t->closing);
    }
}

/* ---- the queue of A ---- */

static void fz_flush(struct fz *f) {
    for (uint32_t i = 0; i < f->qlen; i++) {
        struct qent *e = &f->q[i];
        /* the log's path: encode, decode, re-encode to the same bytes, apply */
        struct jute_buf e1, e2, res;
        jute_buf_init(&e1);
        jute_buf_init(&e2);
        jute_buf_init(&res);
        txn_encode(&e1, &e->txn);
        struct txn d;
        CHECK(txn_decode(e1.p, e1.len, &d) == ZK_OK);
        txn_encode(&e2, &d);
        CHECK(e1.len == e2.len && memcmp(e1.p, e2.p, e1.len) == 0);
        world_apply(&f->a, &d, &res);
        if (!e->quirk) {
            CHECK(res.len == e->b_res.len);
            CHECK(memcmp(res.p, e->b_res.p, res.len) == 0);
        }
        txn_deinit(&d);
        txn_deinit(&e->txn);
        jute_buf_deinit(&e1);
        jute_buf_deinit(&e2);
        jute_buf_deinit(&res);
        jute_buf_deinit(&e->b_res);
        if (e->slot >= 0) {
            struct client *c = &f->cl[e->slot];
            if (e->create_session) {
                c->pending_create = false;
            } else {
                CHECK(c->pending_writes > 0);
                c->pending_writes--;
            }
        }
    }
    f->qlen = 0;
    for (int i = 0; i < NCLIENT; i++)
        CHECK(f->cl[i].pending_writes == 0 && !f->cl[i].pending_create);
    CHECK(prep_outstanding(&f->a.prep) == 0);
    compare_worlds(&f->a, &f->b);
}

static struct qent *fz_enqueue(struct fz *f, int slot) {
    if (f->qlen == QMAX)
        fz_flush(f);
    struct qent *e = &f->q[f->qlen++];
    txn_init(&e->txn);
    jute_buf_init(&e->b_res);
    e->slot = slot;
    e->create_session = false;
    e->quirk = false;
    return e;
}

/* ---- requests ---- */

static int path_cmp(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Same txn from both preps; closeSession lists the same paths in any order. */
static bool same_txn(const struct txn *x, const struct txn *y) {
    struct jute_buf bx, by;
    jute_buf_init(&bx);
    jute_buf_init(&by);
    txn_encode(&bx, x);
    txn_encode(&by, y);
    bool same = bx.len == by.len && memcmp(bx.p, by.p, bx.len) == 0;
    jute_buf_deinit(&bx);
    jute_buf_deinit(&by);
    if (same || x->type != TXN_CLOSE_SESSION || y->type != TXN_CLOSE_SESSION)
        return same;
    same = true;
    if (x->client_id != y->client_id || x->zxid != y->zxid ||
        x->op.path_count != y->op.path_count)
        return false;
    uint32_t n = x->op.path_count;
    char **px = malloc(sizeof(char *) * (n + 1)), **py = malloc(sizeof(char *) * (n + 1));
    CHECK(px != NULL && py != NULL);
    if (n > 0) {
        memcpy(px, x->op.paths, sizeof(char *) * n);
        memcpy(py, y->op.paths, sizeof(char *) * n);
    }
    qsort(px, n, sizeof(char *), path_cmp);
    qsort(py, n, sizeof(char *), path_cmp);
    for (uint32_t i = 0; i < n && same; i++)
        same = strcmp(px[i], py[i]) == 0;
    free(px);
    free(py);
    return same;
}

static void dump_txn(const char *what, const struct txn *t) {
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, t);
    fprintf(stderr, "%s: type %d zxid %lld:", what, t->type, (long long)t->zxid);
    for (uint32_t i = 0; i < b.len; i++)
        fprintf(stderr, " %02x", b.p[i]);
    fprintf(stderr, "\n");
    jute_buf_deinit(&b);
}

/* One write through both worlds. slot -1 = server-internal (auth NULL). */
static void fz_write(struct fz *f, int slot, int64_t sid, int32_t opcode, const uint8_t *body,
                     uint32_t len) {
    const struct auth_set *auth = slot >= 0 ? &f->cl[slot].auth : NULL;
    /* ZooKeeper drops requests of a closing session before prep; zkd preps a
     * client's second, pipelined closeSession into a (harmless, empty)
     * closeSession txn while the first is outstanding, where the sequential
     * world answers SESSIONEXPIRED. Tolerated here, reported separately. */
    struct qent *e = fz_enqueue(f, slot);
    const struct session *sa = session_find(&f->a.sessions, sid);
    bool a_closing = sa != NULL && sa->closing;
    struct prep_input in = {
        .session_id = sid,
        .cxid = ++f->cxid,
        .opcode = opcode,
        .body = body,
        .body_len = len,
        .max_string = f->max_string,
        .auth = auth,
        .zxid = ++f->zxid,
        .time_ms = f->now,
    };
    prep_request(&f->a.prep, &in, &e->txn);
    CHECK(e->txn.zxid == in.zxid && e->txn.client_id == sid && e->txn.cxid == in.cxid);
    CHECK(e->txn.time_ms == in.time_ms);
    struct txn tb;
    txn_init(&tb);
    CHECK(prep_outstanding(&f->b.prep) == 0);
    prep_request(&f->b.prep, &in, &tb);
    if (!same_txn(&e->txn, &tb)) {
        if (opcode == OP_CLOSE_SESSION && a_closing && e->txn.type == TXN_CLOSE_SESSION &&
            tb.type == TXN_ERROR && tb.op.err == ZOO_SESSIONEXPIRED) {
            e->quirk = true;
        } else {
            dump_txn("batched", &e->txn);
            dump_txn("immediate", &tb);
            CHECK(!"prep with outstanding changes differs from prep on the applied tree");
        }
    }
    if (tracing()) {
        const struct txn *t = &e->txn;
        fprintf(stderr, "  write op %d slot %d sid 0x%llx zxid %lld -> txn %d", opcode, slot,
                (unsigned long long)sid, (long long)t->zxid, t->type);
        if (t->type == TXN_ERROR)
            fprintf(stderr, " err %d", t->op.err);
        for (uint32_t i = 0; i < t->op_count; i++)
            fprintf(stderr, " [%d %d]", t->ops[i].type, t->ops[i].err);
        if (t->op.path != NULL)
            fprintf(stderr, " %s", t->op.path);
        fprintf(stderr, "%s (outstanding %u)\n", e->quirk ? " (quirk)" : "",
                prep_outstanding(&f->a.prep));
    }
    world_apply(&f->b, &tb, &e->b_res);
    CHECK(prep_outstanding(&f->b.prep) == 0);
    txn_deinit(&tb);
    if (slot >= 0)
        f->cl[slot].pending_writes++;
}

static void fz_reconnect(struct fz *f, int slot, const uint8_t *body, uint32_t len) {
    struct client *c = &f->cl[slot];
    /* a new connection: no watches, only its ip identity */
    watch_owner_detach(&f->a.watches, &f->a.owners[slot]);
    watch_owner_detach(&f->b.watches, &f->b.owners[slot]);
    auth_set_deinit(&c->auth);
    auth_set_init(&c->auth);
    CHECK(auth_set_add(&c->auth, "ip", "127.0.0.1"));
    int32_t timeout = 30000;
    if (len >= 4)
        timeout = (int32_t)jute_be32(body);
    if (timeout < 2 * TICK_MS)
        timeout = 2 * TICK_MS; /* minSessionTimeout */
    if (timeout > 20 * TICK_MS)
        timeout = 20 * TICK_MS; /* maxSessionTimeout */
    int64_t sid = session_next_id(&f->a.sessions);
    CHECK(session_next_id(&f->b.sessions) == sid);
    int64_t zxid = ++f->zxid;
    struct qent *e = fz_enqueue(f, slot);
    e->create_session = true;
    prep_create_session(&f->a.prep, sid, timeout, zxid, f->now, &e->txn);
    struct txn tb;
    txn_init(&tb);
    prep_create_session(&f->b.prep, sid, timeout, zxid, f->now, &tb);
    CHECK(same_txn(&e->txn, &tb));
    world_apply(&f->b, &tb, &e->b_res);
    txn_deinit(&tb);
    c->sid = sid;
    c->pending_create = true;
}

/* server_auth: AuthPacket {i32 type, str scheme, buf auth}. */
static void fz_auth(struct fz *f, int slot, const uint8_t *body, uint32_t len) {
    struct client *c = &f->cl[slot];
    struct jute_reader rd;
    jute_reader_init(&rd, body, len);
    (void)jute_read_i32(&rd);
    struct jute_bytes scheme = jute_read_bytes(&rd, f->max_string);
    struct jute_bytes d = jute_read_bytes(&rd, f->max_string);
    if (!jute_reader_ok(&rd) || scheme.len <= 0)
        return;
    if (scheme.len == 6 && memcmp(scheme.p, "digest", 6) == 0) {
        char digest[1024];
        uint32_t dlen = d.len > 0 ? (uint32_t)d.len : 0;
        if (!acl_digest((const char *)d.p, dlen, digest, sizeof(digest)))
            return;
        if (strcmp(digest, f->super_digest) == 0)
            CHECK(auth_set_add(&c->auth, "super", ""));
        CHECK(auth_set_add(&c->auth, "digest", digest));
    } else if (scheme.len == 2 && memcmp(scheme.p, "ip", 2) == 0) {
        CHECK(auth_set_add(&c->auth, "ip", "127.0.0.1"));
    }
}

/* Parses a reply the way a client would; it must be consumed exactly. */
static void check_reply(struct fz *f, int slot, int32_t opcode, const struct jute_buf *out) {
    struct jute_reader r;
    jute_reader_init(&r, out->p, out->len);
    uint32_t max = UINT32_MAX;
    switch (opcode) {
    case OP_EXISTS:
        break;
    case OP_GET_DATA:
        (void)jute_read_bytes(&r, max);
        break;
    case OP_GET_ACL: {
        struct acl_list *l = NULL;
        CHECK(acl_decode(&r, &l) == ZK_OK && l != NULL && l->count > 0);
        acl_unref(l);
        break;
    }
    case OP_GET_CHILDREN:
    case OP_GET_CHILDREN2: {
        int32_t n = jute_read_count(&r, 4);
        CHECK(n >= 0);
        for (int32_t i = 0; i < n; i++) {
            struct jute_bytes name = jute_read_bytes(&r, max);
            CHECK(name.len > 0 && memchr(name.p, '/', (size_t)name.len) == NULL);
        }
        if (opcode == OP_GET_CHILDREN)
            CHECK(jute_reader_ok(&r) && r.left == 0);
        break;
    }
    case OP_SYNC:
        (void)jute_read_bytes(&r, max);
        CHECK(jute_reader_ok(&r) && r.left == 0);
        break;
    case OP_GET_ALL_CHILDREN_NUMBER:
        CHECK(jute_read_i32(&r) >= 0);
        CHECK(jute_reader_ok(&r) && r.left == 0);
        break;
    case OP_GET_EPHEMERALS: {
        int32_t n = jute_read_count(&r, 4);
        CHECK(n >= 0);
        for (int32_t i = 0; i < n; i++) {
            struct jute_bytes p = jute_read_bytes(&r, max);
            CHECK(jute_reader_ok(&r) && p.len > 0);
            const struct tree_node *node = tree_find(&f->a.tree, (const char *)p.p,
                                                     (uint32_t)p.len);
            CHECK(node != NULL && tree_node_owner(&f->a.tree, node) == f->cl[slot].sid);
        }
        CHECK(jute_reader_ok(&r) && r.left == 0);
        break;
    }
    case OP_MULTI_READ:
        for (;;) {
            int32_t type = jute_read_i32(&r);
            bool done = jute_read_bool(&r);
            int32_t err = jute_read_i32(&r);
            CHECK(jute_reader_ok(&r));
            if (done) {
                CHECK(type == -1 && err == -1);
                break;
            }
            if (type == -1) {
                CHECK(err != 0 && jute_read_i32(&r) == err);
            } else if (type == OP_GET_DATA) {
                (void)jute_read_bytes(&r, max);
                CHECK(jute_reader_ok(&r) && r.left >= 68); /* the Stat */
                r.p += 68;
                r.left -= 68;
            } else {
                CHECK(type == OP_GET_CHILDREN);
                int32_t n = jute_read_count(&r, 4);
                for (int32_t i = 0; i < n; i++)
                    (void)jute_read_bytes(&r, max);
            }
            CHECK(jute_reader_ok(&r));
        }
        CHECK(r.left == 0);
        break;
    case OP_ADD_WATCH:
        CHECK(jute_read_i32(&r) == 0 && r.left == 0);
        break;
    case OP_WHO_AM_I: {
        int32_t n = jute_read_count(&r, 8);
        CHECK(n == (int32_t)f->cl[slot].auth.count);
        for (int32_t i = 0; i < n; i++) {
            (void)jute_read_bytes(&r, max);
            (void)jute_read_bytes(&r, max);
        }
        CHECK(jute_reader_ok(&r) && r.left == 0);
        break;
    }
    default: /* watches management: no body */
        CHECK(out->len == 0);
        return;
    }
    if (opcode == OP_EXISTS || opcode == OP_GET_DATA || opcode == OP_GET_ACL ||
        opcode == OP_GET_CHILDREN2) {
        CHECK(jute_reader_ok(&r) && r.left == 68); /* the Stat */
        int64_t czxid = jute_read_i64(&r);
        int64_t mzxid = jute_read_i64(&r);
        CHECK(czxid <= f->a.last_applied && mzxid <= f->a.last_applied);
    }
}

static void fz_read(struct fz *f, int slot, int32_t opcode, const uint8_t *body, uint32_t len) {
    struct client *c = &f->cl[slot];
    struct read_env env = {
        .tree = &f->a.tree,
        .watches = &f->a.watches,
        .owner = &f->a.owners[slot],
        .auth = &c->auth,
        .session_id = c->sid,
        .max_string = f->max_string,
        .emit = on_emit,
        .emit_ctx = f,
    };
    struct jute_buf out;
    jute_buf_init(&out);
    int zrc = -999;
    int rc = read_request(&env, opcode, body, len, &out, &zrc);
    if (tracing())
        fprintf(stderr, "  read op %d slot %d -> rc %d zrc %d (%u reply bytes)\n", opcode, slot,
                rc, zrc, out.len);
    CHECK(rc == ZK_OK || rc == ZK_EPROTO);
    if (rc == ZK_OK && zrc == ZOO_OK)
        check_reply(f, slot, opcode, &out);
    else if (rc == ZK_OK)
        CHECK(zrc < 0);
    jute_buf_deinit(&out);
}

static void fz_client(struct fz *f, int slot, int32_t opcode, const uint8_t *body, uint32_t len) {
    struct client *c = &f->cl[slot];
    /* the connection is CONNECTING until its session exists */
    if (c->pending_create)
        fz_flush(f);
    struct session *sa = session_find(&f->a.sessions, c->sid);
    struct session *sb = session_find(&f->b.sessions, c->sid);
    if (sa != NULL)
        session_touch(&f->a.sessions, sa, f->now);
    if (sb != NULL)
        session_touch(&f->b.sessions, sb, f->now);
    switch (opcode) {
    case OP_CREATE_SESSION:
        fz_reconnect(f, slot, body, len);
        return;
    case OP_PING:
    case OP_SASL:
        return;
    case OP_AUTH:
        fz_auth(f, slot, body, len);
        return;
    default:
        break;
    }
    if (prep_is_write(opcode) && opcode != OP_DELETE_CONTAINER) {
        fz_write(f, slot, c->sid, opcode, body, len);
    } else if (read_is_read(opcode)) {
        /* a read waits for the connection's earlier writes */
        if (c->pending_writes > 0)
            fz_flush(f);
        fz_read(f, slot, opcode, body, len);
    }
    /* anything else: UNIMPLEMENTED and the connection closes */
}

static void collect_expired(void *ctx, struct session *s) {
    struct fz *f = ctx;
    if (s->closing)
        return;
    if (f->nexpired == f->expired_cap) {
        f->expired_cap = f->expired_cap ? 2 * f->expired_cap : 16;
        f->expired = realloc(f->expired, f->expired_cap * sizeof(*f->expired));
        CHECK(f->expired != NULL);
    }
    f->expired[f->nexpired++] = s->id;
}

static int id_cmp(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Advances the clock and runs session expiry in both worlds. */
static void fz_tick(struct fz *f, const uint8_t *body, uint32_t len) {
    fz_flush(f);
    int64_t advance = len >= 2 ? (int64_t)((body[0] << 8) | body[1]) : TICK_MS;
    f->now += advance;
    int64_t *ids[2];
    uint32_t counts[2];
    for (int k = 0; k < 2; k++) {
        struct world *w = k == 0 ? &f->a : &f->b;
        f->nexpired = 0;
        while (f->now >= session_next_expiration(&w->sessions))
            session_expire(&w->sessions, f->now, collect_expired, f);
        counts[k] = f->nexpired;
        ids[k] = malloc(sizeof(int64_t) * (f->nexpired + 1));
        CHECK(ids[k] != NULL);
        if (f->nexpired > 0)
            memcpy(ids[k], f->expired, sizeof(int64_t) * f->nexpired);
        qsort(ids[k], counts[k], sizeof(int64_t), id_cmp);
    }
    CHECK(counts[0] == counts[1]);
    CHECK(counts[0] == 0 || memcmp(ids[0], ids[1], sizeof(int64_t) * counts[0]) == 0);
    for (uint32_t i = 0; i < counts[0]; i++)
        fz_write(f, -1, ids[0][i], OP_CLOSE_SESSION, NULL, 0);
    free(ids[0]);
    free(ids[1]);
}

struct reap_ctx {
    struct fz *f;
    char *paths[64];
    uint32_t n;
    enum tree_kind kind;
};

static void reap_visit(void *ctx, struct tree_node *node) {
    struct reap_ctx *x = ctx;
    if (x->n == 64 || tree_child_count(node) != 0)
        return;
    bool reap;
    if (x->kind == TREE_CONTAINER) {
        reap = tree_node_raw(node).cversion > 0;
    } else {
        int64_t ttl = tree_ttl_of_owner(tree_node_owner(&x->f->a.tree, node));
        reap = ttl != 0 && x->f->now - tree_node_raw(node).mtime > ttl;
    }
    if (reap)
        x->paths[x->n++] = tree_node_path_dup(&x->f->a.tree, node, NULL);
}

/* server_check_containers: empty containers that had children, and TTL
 * nodes unmodified past their TTL (maxNeverUsedIntervalMs = 0). */
static void fz_reap(struct fz *f) {
    fz_flush(f);
    struct reap_ctx x = {f, {NULL}, 0, TREE_CONTAINER};
    tree_for_each_of_kind(&f->a.tree, TREE_CONTAINER, reap_visit, &x);
    x.kind = TREE_TTL;
    tree_for_each_of_kind(&f->a.tree, TREE_TTL, reap_visit, &x);
    char **paths = x.paths;
    uint32_t n = x.n;
    for (uint32_t i = 0; i < n; i++) {
        struct jute_buf b;
        jute_buf_init(&b);
        jute_write_cstr(&b, paths[i]);
        fz_write(f, -1, 0, OP_DELETE_CONTAINER, b.p, b.len);
        jute_buf_deinit(&b);
        zk_free(paths[i]);
    }
}

static void fz_internal(struct fz *f, int slot, int32_t opcode, const uint8_t *body,
                        uint32_t len) {
    struct client *c = &f->cl[slot];
    switch (opcode) {
    case OP_CLOSE_SESSION: {
        if (c->pending_create)
            fz_flush(f);
        const struct session *sa = session_find(&f->a.sessions, c->sid);
        const struct session *sb = session_find(&f->b.sessions, c->sid);
        bool ea = sa != NULL && !sa->closing, eb = sb != NULL && !sb->closing;
        CHECK(ea == eb);
        if (ea)
            fz_write(f, -1, c->sid, OP_CLOSE_SESSION, NULL, 0);
        break;
    }
    case OP_DELETE_CONTAINER:
        fz_write(f, -1, 0, OP_DELETE_CONTAINER, body, len);
        break;
    case OP_PING:
        fz_tick(f, body, len);
        break;
    case OP_CREATE_CONTAINER:
        fz_reap(f);
        break;
    default:
        break;
    }
}

/* ---- setup and teardown ---- */

static void world_init(struct fz *f, struct world *w, uint8_t cfg) {
    bool extended = cfg & 1, reconfig = cfg & 2;
    memset(w, 0, sizeof(*w));
    w->f = f;
    tree_init(&w->tree);
    session_table_init(&w->sessions, TICK_MS, f->now, 1);
    watch_mgr_init(&w->watches);
    prep_init(&w->prep, &w->tree, &w->sessions, extended);
    w->prep.reconfig_enabled = reconfig;
    for (int i = 0; i < NCLIENT; i++)
        watch_owner_init(&w->owners[i]);
    watch_owner_init(&w->observer);
    watch_add(&w->watches, &w->observer, "/", 1, (cfg & 8) ? WATCH_RECURSIVE : WATCH_PERSISTENT);
    watch_add(&w->watches, &w->observer, "/zookeeper", 10, WATCH_PERSISTENT);
}

static void world_deinit(struct world *w) {
    for (int i = 0; i < NCLIENT; i++)
        watch_owner_detach(&w->watches, &w->owners[i]);
    watch_owner_detach(&w->watches, &w->observer);
    CHECK(watch_path_count(&w->watches) == 0);
    watch_mgr_deinit(&w->watches);
    prep_deinit(&w->prep);
    session_table_deinit(&w->sessions);
    tree_deinit(&w->tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20))
        return 0;
    uint64_t base = zk_mem_bytes_in_use();
    static struct fz fz;
    struct fz *f = &fz;
    memset(f, 0, sizeof(*f));
    uint8_t cfg = data[0];
    f->max_string = (cfg & 4) ? MAX_BUFFER_SMALL : MAX_BUFFER_DEFAULT;
    f->recursive_observer = (cfg & 8) != 0;
    f->now = 1700000000000;
    CHECK(acl_digest("super:secret", 12, f->super_digest, sizeof(f->super_digest)));
    auth_set_init(&f->no_auth);
    world_init(f, &f->a, cfg);
    world_init(f, &f->b, cfg);
    for (int i = 0; i < NCLIENT; i++) {
        auth_set_init(&f->cl[i].auth);
        CHECK(auth_set_add(&f->cl[i].auth, "ip", "127.0.0.1"));
    }
    /* the two initial sessions, as connections' handshakes create them */
    for (int i = 0; i < NCLIENT; i++) {
        int64_t sid = session_next_id(&f->a.sessions);
        CHECK(session_next_id(&f->b.sessions) == sid);
        f->cl[i].sid = sid;
        int64_t zxid = ++f->zxid;
        for (int k = 0; k < 2; k++) {
            struct world *w = k == 0 ? &f->a : &f->b;
            struct txn t;
            txn_init(&t);
            prep_create_session(&w->prep, sid, 30000, zxid, f->now, &t);
            world_apply(w, &t, NULL);
            txn_deinit(&t);
        }
    }

    size_t pos = 1;
    for (int steps = 0; pos + 4 <= size && steps < MAX_STEPS; steps++) {
        uint8_t ctl = data[pos];
        int32_t opcode = (int8_t)data[pos + 1];
        size_t len = ((size_t)data[pos + 2] << 8) | data[pos + 3];
        pos += 4;
        if (len > size - pos)
            len = size - pos;
        /* an exact-size copy so ASan sees any read past the body */
        uint8_t *body = malloc(len ? len : 1);
        CHECK(body != NULL);
        if (len > 0)
            memcpy(body, data + pos, len);
        pos += len;
        int slot = (ctl & CTL_SLOT) ? 1 : 0;
        if (tracing())
            fprintf(stderr, "step %d: ctl 0x%02x op %d len %zu\n", steps, ctl, opcode, len);
        if (ctl & CTL_INTERNAL)
            fz_internal(f, slot, opcode, body, (uint32_t)len);
        else
            fz_client(f, slot, opcode, body, (uint32_t)len);
        free(body);
        if (!(ctl & CTL_DEFER))
            fz_flush(f);
        check_world(&f->a, f->qlen == 0);
        check_world(&f->b, true);
    }
    if (cfg & 16) {
        /* shutdown with txns prepped but never applied */
        for (uint32_t i = 0; i < f->qlen; i++) {
            txn_deinit(&f->q[i].txn);
            jute_buf_deinit(&f->q[i].b_res);
        }
        f->qlen = 0;
    } else {
        fz_flush(f);
        check_world(&f->a, true);
    }
    check_world(&f->b, true);

    world_deinit(&f->a);
    world_deinit(&f->b);
    for (int i = 0; i < NCLIENT; i++)
        auth_set_deinit(&f->cl[i].auth);
    free(f->expired);
    acl_global_deinit(); /* asserts the shared lists' refcounts are back to 1 */
    CHECK(zk_mem_bytes_in_use() == base);
    return 0;
}
