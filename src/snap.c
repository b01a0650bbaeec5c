#include "snap.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "acl.h"
#include "base.h"
#include "err.h"
#include "jute.h"
#include "mem.h"

struct snap_acl_ref {
    int64_t ref;
    struct acl_list *acl;
};

/* The checksum covers everything before the seal, and on a big snapshot it is a
 * sixth of the load. A thread sums the file up to its last SNAP_SUM_TAIL bytes
 * while the nodes are parsed (the seals lie in the last 46), and each seal check
 * finishes the sum from there. */
#define SNAP_SUM_THREAD_MIN ((uint64_t)4 << 20)
#define SNAP_SUM_TAIL 64u
#define SNAP_SUM_CHUNK ((uint64_t)1 << 20)

struct snap_sum {
    const uint8_t *data;
    uint64_t len;     /* the thread sums data[0 .. len) */
    uLong sum;        /* their Adler-32, valid when done */
    bool done;        /* the thread summed all of it */
    atomic_bool stop; /* the load failed early: give up */
    pthread_t thread;
    bool started;
    bool joined;
};

struct snap_ctx {
    const uint8_t *base;
    struct snap_sum sum;
    struct jute_reader r;
    char *err;
    size_t errlen;
    struct snap_acl_ref *refs;
    uint32_t ref_count;
};

static int snap_fail(struct snap_ctx *c, const char *why) {
    uint64_t off = (uint64_t)(c->r.p - c->base);
    snprintf(c->err, c->errlen, "offset %" PRIu64 ": %s", off, why);
    return ZK_ECORRUPT;
}

static int snap_ref_cmp(const void *a, const void *b) {
    int64_t x = ((const struct snap_acl_ref *)a)->ref, y = ((const struct snap_acl_ref *)b)->ref;
    return (x > y) - (x < y);
}

/* refs is sorted by ref once the cache is read */
static const struct acl_list *snap_acl_for(const struct snap_ctx *c, int64_t ref) {
    if (ref == -1)
        return acl_open_unsafe();
    struct snap_acl_ref key = {.ref = ref};
    const struct snap_acl_ref *hit =
        bsearch(&key, c->refs, c->ref_count, sizeof(*c->refs), snap_ref_cmp);
    return hit != NULL ? hit->acl : NULL;
}

/* Each cache entry is interned in the tree once, so the nodes that refer to it
 * take a reference without encoding or looking up their ACL. */
static int snap_read_acls(struct snap_ctx *c, struct tree *t, struct snap_info *info) {
    int32_t n = jute_read_count(&c->r, 12);
    if (!jute_reader_ok(&c->r) || n < 0)
        return snap_fail(c, "bad ACL cache count");
    c->refs = zk_calloc((size_t)n + 1, sizeof(*c->refs));
    if (c->refs == NULL)
        return ZK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        int64_t ref = jute_read_i64(&c->r);
        struct acl_list *acl = NULL;
        if (!jute_reader_ok(&c->r) || acl_decode(&c->r, &acl) != ZK_OK || acl == NULL) {
            acl_unref(acl);
            return snap_fail(c, "bad ACL cache entry");
        }
        c->refs[c->ref_count].ref = ref;
        c->refs[c->ref_count].acl = tree_acl_intern(t, acl);
        acl_unref(acl);
        c->ref_count++;
    }
    qsort(c->refs, c->ref_count, sizeof(*c->refs), snap_ref_cmp);
    for (uint32_t i = 1; i < c->ref_count; i++)
        if (c->refs[i].ref == c->refs[i - 1].ref)
            return snap_fail(c, "ACL cache lists one reference twice");
    info->acls = (uint32_t)n;
    return ZK_OK;
}

static int snap_read_nodes_into(struct snap_ctx *c, uint32_t max_record, struct tree *t,
                                struct tree_restore *r, struct snap_info *info) {
    for (;;) {
        struct jute_bytes path = jute_read_bytes(&c->r, max_record);
        if (!jute_reader_ok(&c->r) || path.len < 0)
            return snap_fail(c, "truncated node path");
        if (path.len == 1 && path.p[0] == '/')
            return ZK_OK; /* end of nodes */
        struct jute_bytes data = jute_read_bytes(&c->r, max_record);
        int64_t ref = jute_read_i64(&c->r);
        struct tree_stat st;
        st.czxid = jute_read_i64(&c->r);
        st.mzxid = jute_read_i64(&c->r);
        st.ctime = jute_read_i64(&c->r);
        st.mtime = jute_read_i64(&c->r);
        st.version = jute_read_i32(&c->r);
        st.cversion = jute_read_i32(&c->r);
        st.aversion = jute_read_i32(&c->r);
        st.ephemeral_owner = jute_read_i64(&c->r);
        st.pzxid = jute_read_i64(&c->r);
        if (!jute_reader_ok(&c->r))
            return snap_fail(c, "truncated node record");
        const struct acl_list *acl = snap_acl_for(c, ref);
        struct acl_list *stand_in = NULL;
        if (acl == NULL) {
            /* ZooKeeper wrote the ACL cache before this node's ACL was added (its
             * snapshots are fuzzy) and ignores the reference on load; the log
             * replay recreates the ACL. Hold a stand-in that grants nothing. */
            stand_in = acl_unresolved_new(ref);
            if (stand_in == NULL)
                return ZK_ENOMEM;
            acl = stand_in;
            info->unresolved_acls++;
        }
        bool restored = tree_restore_node(t, r, (const char *)path.p, (uint32_t)path.len,
                                          data.p, data.len, acl, &st);
        acl_unref(stand_in);
        if (!restored)
            return snap_fail(c, "node without its parent, listed twice, or an invalid path");
        info->nodes++;
    }
}

static int snap_read_nodes(struct snap_ctx *c, uint32_t max_record, struct tree *t,
                           struct snap_info *info) {
    struct tree_restore r;
    tree_restore_begin(t, &r);
    int rc = snap_read_nodes_into(c, max_record, t, &r, info);
    if (!tree_restore_end(&r) && rc == ZK_OK)
        rc = snap_fail(c, "a parent lists one child name twice");
    return rc;
}

static void *snap_sum_main(void *arg) {
    struct snap_sum *s = arg;
    uLong sum = adler32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < s->len; off += SNAP_SUM_CHUNK) {
        if (atomic_load(&s->stop))
            return NULL;
        uint64_t n = s->len - off < SNAP_SUM_CHUNK ? s->len - off : SNAP_SUM_CHUNK;
        sum = adler32(sum, s->data + off, (uInt)n);
    }
    s->sum = sum;
    s->done = true;
    return NULL;
}

static void snap_sum_start(struct snap_sum *s, const uint8_t *data, uint64_t size) {
    memset(s, 0, sizeof(*s));
    atomic_init(&s->stop, false);
    if (size < SNAP_SUM_THREAD_MIN)
        return;
    s->data = data;
    s->len = size - SNAP_SUM_TAIL;
    s->started = pthread_create(&s->thread, NULL, snap_sum_main, s) == 0;
}

static void snap_sum_join(struct snap_sum *s) {
    if (s->started && !s->joined) {
        pthread_join(s->thread, NULL);
        s->joined = true;
    }
}

/* The Adler-32 of the first n bytes of the file. */
static uLong snap_sum_to(struct snap_ctx *c, uint64_t n) {
    struct snap_sum *s = &c->sum;
    snap_sum_join(s);
    if (s->done && n >= s->len)
        return adler32(s->sum, c->base + s->len, (uInt)(n - s->len));
    return adler32(adler32(0L, Z_NULL, 0), c->base, (uInt)n);
}

static int snap_read_seal(struct snap_ctx *c) {
    uint64_t want = snap_sum_to(c, (uint64_t)(c->r.p - c->base));
    int64_t sum = jute_read_i64(&c->r);
    struct jute_bytes seal = jute_read_bytes(&c->r, 16);
    if (!jute_reader_ok(&c->r))
        return snap_fail(c, "missing checksum (truncated snapshot)");
    if ((uint64_t)sum != want)
        return snap_fail(c, "checksum mismatch");
    if (seal.len != 1 || seal.p[0] != '/')
        return snap_fail(c, "missing end-of-snapshot marker");
    return ZK_OK;
}

static int snap_parse(struct snap_ctx *c, uint32_t max_record, struct tree *t,
                      struct session_table *s, int64_t now_ms, struct snap_info *info) {
    if (jute_read_i32(&c->r) != SNAP_MAGIC || jute_read_i32(&c->r) != SNAP_VERSION)
        return snap_fail(c, "not a ZooKeeper snapshot (magic/version)");
    (void)jute_read_i64(&c->r); /* dbid */
    int32_t n = jute_read_count(&c->r, 12);
    if (!jute_reader_ok(&c->r) || n < 0)
        return snap_fail(c, "bad session count");
    for (int32_t i = 0; i < n; i++) {
        int64_t id = jute_read_i64(&c->r);
        int32_t timeout = jute_read_i32(&c->r);
        if (!jute_reader_ok(&c->r) || timeout <= 0 || id == 0)
            return snap_fail(c, "bad session entry");
        session_add(s, id, timeout, now_ms);
    }
    info->sessions = (uint32_t)n;
    int rc = snap_read_acls(c, t, info);
    if (rc == ZK_OK)
        rc = snap_read_nodes(c, max_record, t, info);
    if (rc == ZK_OK)
        rc = snap_read_seal(c);
    if (rc != ZK_OK)
        return rc;
    info->sealed_bytes = (uint64_t)(c->r.p - c->base);
    if (c->r.left >= 20) { /* optional digest section (3.6+) */
        info->digest_zxid = jute_read_i64(&c->r);
        (void)jute_read_i32(&c->r);
        (void)jute_read_i64(&c->r);
        if ((rc = snap_read_seal(c)) != ZK_OK)
            return rc;
        info->has_digest = true;
    }
    return ZK_OK;
}

int snap_load(const uint8_t *data, uint64_t size, uint32_t max_record, struct tree *t,
              struct session_table *s, int64_t now_ms, struct snap_info *info, char *err,
              size_t errlen) {
    struct snap_ctx c = {.base = data, .err = err, .errlen = errlen};
    memset(info, 0, sizeof(*info));
    if (size > UINT32_MAX) {
        snprintf(err, errlen, "snapshot larger than 4 GiB is not supported yet");
        return ZK_ECORRUPT;
    }
    jute_reader_init(&c.r, data, (uint32_t)size);
    snap_sum_start(&c.sum, data, size);
    int rc = snap_parse(&c, max_record, t, s, now_ms, info);
    atomic_store(&c.sum.stop, true);
    snap_sum_join(&c.sum); /* the caller unmaps data next */
    for (uint32_t i = 0; i < c.ref_count; i++)
        tree_acl_release(t, c.refs[i].acl); /* nodes hold their own references */
    zk_free(c.refs);
    return rc;
}

bool snap_parse_file_name(const char *name, int64_t *zxid, bool *compressed) {
    static const char prefix[] = "snapshot.";
    *compressed = false;
    if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *hex = name + sizeof(prefix) - 1;
    const char *end = hex;
    uint64_t v = 0;
    while ((*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f') ||
           (*end >= 'A' && *end <= 'F')) {
        if (end - hex >= 16)
            return false;
        uint8_t c = (uint8_t)*end;
        v = v * 16 + (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        end++;
    }
    if (end == hex)
        return false;
    if (strcmp(end, ".gz") == 0 || strcmp(end, ".snappy") == 0)
        *compressed = true;
    else if (*end != '\0')
        return false;
    *zxid = (int64_t)v;
    return true;
}

/* ---- writing ----
 *
 * The writer streams: bytes gather in a buffer that is flushed to a sink (with the
 * running Adler-32 updated) whenever it passes SNAP_FLUSH_AT, and node data or paths
 * longer than SNAP_DIRECT_AT go to the sink directly. Every allocation (the buffer
 * and the ACL ref table) happens in snap_writer_init, so snap_writer_run allocates
 * nothing: it runs in a child forked from a multi-threaded process, where malloc
 * may be holding a lock another thread owned at the fork. */

#define SNAP_FLUSH_AT (256u * 1024)
#define SNAP_DIRECT_AT (16u * 1024)

static int64_t snap_ref_of(const struct snap_writer *w, const struct acl_list *acl) {
    for (uint32_t i = 0; i < w->ref_count; i++) {
        if (w->refs[i] == acl)
            return (int64_t)i + 1;
    }
    return 0;
}

/* "/", "/zookeeper" or "/zookeeper/quota" with the open ACL. */
static bool snap_is_open_system(const struct snap_writer *w, const struct tree_node *n) {
    bool system = n == w->t->root || n == w->sys_zk || n == w->sys_quota;
    return system && acl_equal(tree_node_acl(w->t, n), acl_open_unsafe());
}

static void snap_flush(struct snap_writer *w) {
    if (w->err != 0 || w->b.len == 0) {
        w->b.len = 0;
        return;
    }
    w->adler = adler32(w->adler, w->b.p, w->b.len);
    w->err = w->sink(w->sink_ctx, w->b.p, w->b.len);
    w->b.len = 0;
}

/* Room for n more bytes without the buffer growing (it must not: no allocation). */
static bool snap_room(struct snap_writer *w, uint32_t n) {
    if (w->b.len + n > w->b.cap)
        snap_flush(w);
    if (w->b.len + n > w->b.cap) {
        if (w->err == 0)
            w->err = -2; /* an item larger than the preallocated buffer */
        return false;
    }
    return true;
}

static void snap_put_bytes(struct snap_writer *w, const void *p, int32_t len) {
    if (len <= (int32_t)SNAP_DIRECT_AT) {
        if (snap_room(w, 4 + (uint32_t)(len > 0 ? len : 0)))
            jute_write_bytes(&w->b, p, len);
        return;
    }
    if (!snap_room(w, 4))
        return;
    jute_write_i32(&w->b, len);
    snap_flush(w);
    if (w->err == 0) {
        w->adler = adler32(w->adler, p, (uInt)len);
        w->err = w->sink(w->sink_ctx, p, (uint32_t)len);
    }
}

/* Assigns cache refs 1..n in pre-order of first use (linear lookup: the number of
 * distinct ACLs is small; each is interned once in the tree). */
static void snap_collect_acls(struct snap_writer *w) {
    tree_walk_restart(&w->walk);
    for (const struct tree_node *n; (n = tree_walk_next(&w->walk)) != NULL;) {
        const struct acl_list *acl = tree_node_acl(w->t, n);
        if (!snap_is_open_system(w, n) && snap_ref_of(w, acl) == 0) {
            if (w->ref_count == w->ref_cap) {
                w->err = -3; /* more distinct lists than the tree interned: impossible */
                return;
            }
            w->refs[w->ref_count++] = acl;
        }
    }
}

/* Writes n, whose path is path[0 .. len) (the root's is "", as ZooKeeper
 * stores it). */
static void snap_write_node(struct snap_writer *w, const struct tree_node *n, const char *path,
                            uint32_t len) {
    if (w->err != 0)
        return;
    snap_put_bytes(w, path, (int32_t)len);
    struct tree_node_stat st = tree_node_raw(n);
    snap_put_bytes(w, tree_node_data(n), st.data_len);
    if (!snap_room(w, 8 * 7 + 4 * 3))
        return;
    struct jute_buf *b = &w->b;
    jute_write_i64(b, snap_is_open_system(w, n) ? -1 : snap_ref_of(w, tree_node_acl(w->t, n)));
    jute_write_i64(b, st.czxid);
    jute_write_i64(b, st.mzxid);
    jute_write_i64(b, st.ctime);
    jute_write_i64(b, st.mtime);
    jute_write_i32(b, st.version);
    jute_write_i32(b, st.cversion);
    jute_write_i32(b, st.aversion);
    jute_write_i64(b, tree_node_owner(w->t, n));
    jute_write_i64(b, st.pzxid);
    if (b->len >= SNAP_FLUSH_AT)
        snap_flush(w);
}

/* Every node in pre-order, with no recursion (a chain of nodes may be as deep as
 * a client's frames allow) and no allocation (this runs in the forked child):
 * the walk was set up by snap_writer_init. */
static void snap_write_nodes(struct snap_writer *w) {
    tree_walk_restart(&w->walk);
    for (const struct tree_node *n; w->err == 0 && (n = tree_walk_next(&w->walk)) != NULL;)
        snap_write_node(w, n, w->walk.path, n == w->t->root ? 0 : w->walk.len);
}

static void snap_write_session(void *ctx, struct session *sess) {
    struct snap_writer *w = ctx;
    if (!snap_room(w, 12))
        return;
    jute_write_i64(&w->b, sess->id);
    jute_write_i32(&w->b, sess->timeout_ms);
}

void snap_writer_init(struct snap_writer *w, const struct tree *t, snap_sink_fn *sink,
                      void *ctx) {
    memset(w, 0, sizeof(*w));
    w->t = t;
    w->sink = sink;
    w->sink_ctx = ctx;
    jute_buf_init(&w->b);
    /* the flush threshold, one small item, and the largest ACL list (a request's
     * worth at most) */
    jute_buf_reserve(&w->b, SNAP_FLUSH_AT + SNAP_DIRECT_AT + 2u * 1024 * 1024);
    w->ref_cap = tree_acl_count(t) + 8;
    w->refs = zk_xcalloc(w->ref_cap, sizeof(*w->refs));
    tree_walk_init(&w->walk, t);
    w->sys_zk = tree_find(t, "/zookeeper", 10);
    w->sys_quota = tree_find(t, "/zookeeper/quota", 16);
}

void snap_writer_deinit(struct snap_writer *w) {
    jute_buf_deinit(&w->b);
    zk_free(w->refs);
    w->refs = NULL;
    tree_walk_deinit(&w->walk);
}

int snap_writer_run(struct snap_writer *w, const struct session_table *s) {
    w->adler = adler32(0L, Z_NULL, 0);
    w->b.len = 0;
    w->ref_count = 0;
    w->err = 0;
    struct jute_buf *b = &w->b;
    jute_write_i32(b, SNAP_MAGIC);
    jute_write_i32(b, SNAP_VERSION);
    jute_write_i64(b, -1);
    jute_write_i32(b, (int32_t)session_count(s));
    session_for_each(s, snap_write_session, w);
    snap_collect_acls(w);
    if (snap_room(w, 4))
        jute_write_i32(b, (int32_t)w->ref_count);
    for (uint32_t i = 0; i < w->ref_count && w->err == 0; i++) {
        snap_flush(w); /* an ACL list may be large: start it in an empty buffer */
        if (w->err != 0)
            break;
        jute_write_i64(b, (int64_t)i + 1);
        uint32_t cap = b->cap;
        acl_encode(b, w->refs[i]);
        ZK_ASSERT(b->cap == cap); /* no growth: see snap_writer_init */
    }
    snap_write_nodes(w);
    snap_put_bytes(w, "/", 1);
    snap_flush(w);
    if (w->err != 0)
        return w->err;
    /* the seal: Adler-32 of every byte before it */
    jute_write_i64(b, (int64_t)w->adler);
    jute_write_bytes(b, "/", 1);
    w->err = w->sink(w->sink_ctx, b->p, b->len);
    b->len = 0;
    return w->err;
}

static int snap_sink_buf(void *ctx, const uint8_t *p, uint32_t n) {
    jute_write_raw(ctx, p, n);
    return 0;
}

void snap_write(struct jute_buf *b, const struct tree *t, const struct session_table *s) {
    struct snap_writer w;
    snap_writer_init(&w, t, snap_sink_buf, b);
    int rc = snap_writer_run(&w, s);
    ZK_ASSERT(rc == 0);
    snap_writer_deinit(&w);
}
