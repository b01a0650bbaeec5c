/* test_snap.c — loading a snapshot written by Apache ZooKeeper 3.8
 * (tests/data/zk38/snapshot.b: two live sessions, an ephemeral, a digest ACL, a
 * sequential node, null and empty data) into zkd's tree; truncations and bit flips
 * are refused with an offset. */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "err.h"
#include "mem.h"
#include "session.h"
#include "snap.h"
#include "tree.h"

#define MAX_RECORD (2u * 1048575u)


static int load(const uint8_t *data, uint64_t size, struct tree *t, struct session_table *s,
                struct snap_info *info, char *err, size_t errlen) {
    tree_init(t);
    session_table_init(s, 2000, 0, 1);
    return snap_load(data, size, MAX_RECORD, t, s, 0, info, err, errlen);
}

static void unload(struct tree *t, struct session_table *s) {
    session_table_deinit(s);
    tree_deinit(t);
}

static struct tree_node *find(struct tree *t, const char *p) {
    return tree_find(t, p, (uint32_t)strlen(p));
}

TEST(snap, zookeeper_snapshot_loads_with_exact_stats_acls_and_sessions) {
    uint64_t size = 0;
    uint8_t *data = test_read_file("tests/data/zk38/snapshot.b", &size);
    ASSERT_NOT_NULL(data);
    struct tree t;
    struct session_table s;
    struct snap_info info;
    char err[256] = "";
    ASSERT_OK(load(data, size, &t, &s, &info, err, sizeof(err)));
    ASSERT_EQ_I64(info.sessions, 2);
    ASSERT_EQ_I64(info.acls, 3);
    ASSERT_EQ_I64(info.nodes, 10); /* "", /a, /a/b, /a/s-.., /secret, 3 system, /e, /n */
    ASSERT_TRUE(info.has_digest);
    ASSERT_EQ_I64(info.digest_zxid, 0xb);
    ASSERT_EQ_I64(info.sealed_bytes + 20 + 13, size);
    ASSERT_EQ_I64(tree_node_count(&t), 10);
    ASSERT_NOT_NULL(session_find(&s, 0x10000701cd30001LL));
    ASSERT_EQ_I64(session_find(&s, 0x10000701cd30002LL)->timeout_ms, 30000);
    /* /a: data, versions, the create counter and pzxid exactly as persisted */
    struct tree_node *a = find(&t, "/a");
    ASSERT_NOT_NULL(a);
    ASSERT_EQ_MEM(tree_node_data(a), "world", 5);
    ASSERT_EQ_I64(tree_node_raw(a).czxid, 4);
    ASSERT_EQ_I64(tree_node_raw(a).mzxid, 10);
    ASSERT_EQ_I64(tree_node_raw(a).version, 1);
    ASSERT_EQ_I64(tree_node_raw(a).cversion, 2);
    ASSERT_EQ_I64(tree_node_raw(a).pzxid, 6);
    ASSERT_EQ_I64(tree_node_raw(a).ctime, 1795336856070LL);
    struct zk_stat zs;
    tree_node_stat(&t, a, &zs);
    ASSERT_EQ_I64(zs.num_children, 2);
    ASSERT_EQ_I64(zs.cversion, 2); /* 2 x 2 creations - 2 children */
    ASSERT_NOT_NULL(find(&t, "/a/s-0000000001"));
    /* null data stays null; empty stays empty */
    ASSERT_EQ_I64(find(&t, "/n")->data_len, -1);
    ASSERT_EQ_I64(find(&t, "/a/b")->data_len, 0);
    /* the ephemeral is indexed under its session */
    ASSERT_EQ_I64(tree_ephemeral_count_of(&t, 0x10000701cd30001LL), 1);
    ASSERT_EQ_I64(tree_node_owner(&t, find(&t, "/e")), 0x10000701cd30001LL);
    /* ACLs: the digest id survives; ref -1 (root) is the open ACL; config is READ only */
    struct acl_list *sec = tree_node_acl(&t, find(&t, "/secret"));
    ASSERT_EQ_I64(sec->count, 1);
    ASSERT_EQ_STR(sec->e[0].scheme, "digest");
    ASSERT_EQ_STR(sec->e[0].id, "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    ASSERT_TRUE(acl_equal(tree_node_acl(&t, t.root), acl_open_unsafe()));
    ASSERT_TRUE(acl_equal(tree_node_acl(&t, find(&t, "/zookeeper/config")), acl_read_unsafe()));
    ASSERT_EQ_I64(tree_node_raw(find(&t, "/zookeeper/config")).aversion, -1);
    /* root: the create counter and pzxid from the snapshot, visible cversion derived */
    ASSERT_EQ_I64(tree_node_raw(t.root).cversion, 4);
    ASSERT_EQ_I64(tree_node_raw(t.root).pzxid, 9);
    unload(&t, &s);
    free(data);
}

TEST(snap, every_truncation_is_refused_with_an_offset) {
    uint64_t size = 0;
    uint8_t *data = test_read_file("tests/data/zk38/snapshot.b", &size);
    ASSERT_NOT_NULL(data);
    struct snap_info info;
    char err[256];
    /* up to the first seal, any cut is an error; after it, only the optional digest
     * section is cut, which must then be rejected too unless cut before it starts */
    uint64_t sealed = 0;
    {
        struct tree t;
        struct session_table s;
        ASSERT_OK(load(data, size, &t, &s, &info, err, sizeof(err)));
        sealed = info.sealed_bytes;
        unload(&t, &s);
    }
    for (uint64_t cut = 0; cut < size; cut++) {
        struct tree t;
        struct session_table s;
        err[0] = '\0';
        int rc = load(data, cut, &t, &s, &info, err, sizeof(err));
        if (cut == sealed || (cut > sealed && cut < sealed + 20))
            ASSERT_OK(rc); /* a complete 3.5-style snapshot without the digest section */
        else {
            ASSERT_EQ_I64(rc, ZK_ECORRUPT);
            ASSERT_TRUE(strncmp(err, "offset ", 7) == 0);
        }
        unload(&t, &s);
    }
    free(data);
}

TEST(snap, a_flipped_byte_fails_the_checksum) {
    uint64_t size = 0;
    uint8_t *data = test_read_file("tests/data/zk38/snapshot.b", &size);
    ASSERT_NOT_NULL(data);
    struct snap_info info;
    char err[256];
    uint32_t refused = 0;
    for (uint64_t at = 16; at < 0x400; at += 7) {
        data[at] ^= 0x20;
        struct tree t;
        struct session_table s;
        if (load(data, size, &t, &s, &info, err, sizeof(err)) != ZK_OK)
            refused++;
        unload(&t, &s);
        data[at] ^= 0x20;
    }
    ASSERT_EQ_I64(refused, (0x400 - 16 + 6) / 7);
    free(data);
}

struct cmp_ctx {
    struct tree *other;
    uint32_t mismatches;
    uint32_t visited;
};

static bool raw_equal(struct tree_node_stat a, struct tree_node_stat b) {
    return a.czxid == b.czxid && a.mzxid == b.mzxid && a.ctime == b.ctime &&
           a.mtime == b.mtime && a.pzxid == b.pzxid && a.version == b.version &&
           a.cversion == b.cversion && a.aversion == b.aversion && a.data_len == b.data_len;
}

static void cmp_trees(struct cmp_ctx *c, const struct tree *t) {
    struct tree_walk w;
    tree_walk_init(&w, t);
    for (const struct tree_node *n; (n = tree_walk_next(&w)) != NULL;) {
        const struct tree_node *m = tree_find(c->other, w.path, w.len);
        c->visited++;
        if (m == NULL || m->data_len != n->data_len ||
            (n->data_len > 0 &&
             memcmp(tree_node_data(m), tree_node_data(n), (size_t)n->data_len) != 0) ||
            !raw_equal(tree_node_raw(m), tree_node_raw(n)) ||
            !acl_equal(tree_node_acl(c->other, m), tree_node_acl(t, n)) ||
            tree_node_owner(c->other, m) != tree_node_owner(t, n) ||
            tree_child_count(m) != tree_child_count(n))
            c->mismatches++;
    }
    tree_walk_deinit(&w);
}

TEST(snap, written_snapshot_loads_back_identically) {
    uint64_t size = 0;
    uint8_t *data = test_read_file("tests/data/zk38/snapshot.b", &size);
    ASSERT_NOT_NULL(data);
    struct tree a, b;
    struct session_table sa, sb;
    struct snap_info info;
    char err[256];
    ASSERT_OK(load(data, size, &a, &sa, &info, err, sizeof(err)));
    struct jute_buf img;
    jute_buf_init(&img);
    snap_write(&img, &a, &sa);
    ASSERT_OK(load(img.p, img.len, &b, &sb, &info, err, sizeof(err)));
    ASSERT_FALSE(info.has_digest);
    ASSERT_EQ_I64(info.sealed_bytes, img.len);
    ASSERT_EQ_I64(info.sessions, 2);
    ASSERT_EQ_I64(info.acls, 3); /* world READ, world ALL, the digest: as ZooKeeper's */
    ASSERT_EQ_I64(tree_node_count(&b), tree_node_count(&a));
    ASSERT_EQ_I64(tree_ephemeral_count_of(&b, 0x10000701cd30001LL), 1);
    ASSERT_EQ_I64(session_find(&sb, 0x10000701cd30002LL)->timeout_ms, 30000);
    struct cmp_ctx c = {.other = &b};
    cmp_trees(&c, &a);
    ASSERT_EQ_I64(c.visited, tree_node_count(&a));
    ASSERT_EQ_I64(c.mismatches, 0);
    /* a fresh tree writes the root and system nodes with ref -1 like ZooKeeper's
     * snapshot.0, and only the READ-only config ACL in its cache */
    struct tree f;
    struct session_table sf;
    tree_init(&f);
    session_table_init(&sf, 2000, 0, 1);
    struct jute_buf empty;
    jute_buf_init(&empty);
    snap_write(&empty, &f, &sf);
    struct tree g;
    struct session_table sg;
    ASSERT_OK(load(empty.p, empty.len, &g, &sg, &info, err, sizeof(err)));
    ASSERT_EQ_I64(info.acls, 1);
    ASSERT_EQ_I64(info.nodes, 4);
    unload(&g, &sg);
    session_table_deinit(&sf);
    tree_deinit(&f);
    jute_buf_deinit(&empty);
    jute_buf_deinit(&img);
    unload(&b, &sb);
    unload(&a, &sa);
    free(data);
}

/* A chain of nodes as deep as a client can build (ZooKeeper bounds a path only by
 * the frame size), walked by code that must not recurse: the snapshot writer (it
 * runs in a forked child with the server's stack), snapshot load, the descendant
 * count (getAllChildrenNumber) and teardown. The walks run on a thread with a
 * 256 KiB stack, which the recursive versions overflowed at this depth. */
enum { DEEP_CHAIN = 4000 };

struct deep_run {
    struct tree *t;
    uint64_t written, descendants, loaded_descendants;
    int load_rc;
};

static void *deep_walks(void *arg) {
    struct deep_run *r = arg;
    struct session_table s;
    session_table_init(&s, 2000, 0, 1);
    struct jute_buf b;
    jute_buf_init(&b);
    snap_write(&b, r->t, &s);
    r->written = b.len;
    r->descendants = tree_descendant_count(r->t, r->t->root);
    struct tree t2;
    struct session_table s2;
    struct snap_info info;
    char err[256];
    r->load_rc = load(b.p, b.len, &t2, &s2, &info, err, sizeof(err));
    if (r->load_rc == ZK_OK)
        r->loaded_descendants = tree_descendant_count(&t2, t2.root);
    unload(&t2, &s2);
    tree_deinit(r->t);
    jute_buf_deinit(&b);
    session_table_deinit(&s);
    return NULL;
}

TEST(snap, deep_chain_is_written_loaded_counted_and_freed_without_recursion) {
    static struct tree t;
    tree_init(&t);
    static char path[2 * DEEP_CHAIN + 2];
    uint32_t len = 0;
    for (uint32_t i = 0; i < DEEP_CHAIN; i++) {
        path[len++] = '/';
        path[len++] = 'd';
        ASSERT_NOT_NULL(tree_create(&t, path, len, "x", 1, acl_open_unsafe(), 0, -1,
                                    (int64_t)i + 1, 1000));
    }
    struct deep_run r = {.t = &t};
    pthread_attr_t attr;
    pthread_t th;
    ASSERT_EQ_I64(pthread_attr_init(&attr), 0);
    ASSERT_EQ_I64(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
    ASSERT_EQ_I64(pthread_create(&th, &attr, deep_walks, &r), 0);
    ASSERT_EQ_I64(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
    ASSERT_EQ_I64(r.load_rc, ZK_OK);
    ASSERT_EQ_I64(r.descendants, DEEP_CHAIN + 3); /* + /zookeeper, its quota and config */
    ASSERT_EQ_I64(r.loaded_descendants, DEEP_CHAIN + 3);
    ASSERT_LE_I64(2 * (uint64_t)DEEP_CHAIN * DEEP_CHAIN / 2, r.written); /* every path */
}

/* A snapshot big enough that its checksum is summed by a thread beside the parse
 * (4 MiB and up), with directories big enough that the restore defers their
 * indexes: it loads back identically, and a flipped byte anywhere in the part the
 * thread sums, or in the tail the seal check sums itself, is refused. */
TEST(snap, a_big_snapshot_is_summed_beside_the_parse_and_still_checked) {
    struct tree a;
    struct session_table sa;
    tree_init(&a);
    session_table_init(&sa, 2000, 0, 1);
    char path[64], value[200];
    memset(value, 'v', sizeof(value));
    int64_t zxid = 1;
    for (uint32_t d = 0; d < 3; d++) {
        snprintf(path, sizeof(path), "/dir%u", d);
        tree_create(&a, path, (uint32_t)strlen(path), NULL, -1, acl_open_unsafe(), 0, -1, zxid++,
                    0);
        for (uint32_t i = 0; i < 8000; i++) {
            snprintf(path, sizeof(path), "/dir%u/n%u", d, i);
            tree_create(&a, path, (uint32_t)strlen(path), value, sizeof(value), acl_open_unsafe(),
                        0, -1, zxid++, 0);
        }
    }
    struct jute_buf img;
    jute_buf_init(&img);
    snap_write(&img, &a, &sa);
    ASSERT_TRUE(img.len > (4u << 20));
    struct tree b;
    struct session_table sb;
    struct snap_info info;
    char err[256];
    ASSERT_OK(load(img.p, img.len, &b, &sb, &info, err, sizeof(err)));
    ASSERT_EQ_I64(info.sealed_bytes, img.len);
    ASSERT_TRUE(tree_check(&b) == NULL);
    struct cmp_ctx c = {.other = &b};
    cmp_trees(&c, &a);
    ASSERT_EQ_I64(c.visited, tree_node_count(&a));
    ASSERT_EQ_I64(c.mismatches, 0);
    unload(&b, &sb);
    /* value bytes early, in the middle and last (the thread's part), and the last
     * byte of the last node's pzxid (in the tail the seal check sums itself):
     * each parses, and fails only the checksum */
    const uint8_t *v = img.p;
    const uint8_t *last_v = memrchr(v, 'v', img.len);
    ASSERT_NOT_NULL(last_v);
    uint64_t at[] = {(uint64_t)((const uint8_t *)memchr(v + 4096, 'v', img.len) - v),
                     (uint64_t)((const uint8_t *)memchr(v + img.len / 2, 'v', img.len / 2) - v),
                     (uint64_t)(last_v - v), img.len - 8 - 5 - 5 - 1};
    ASSERT_TRUE(at[2] < img.len - 64 && at[3] >= img.len - 64);
    for (uint32_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        uint8_t *p = (uint8_t *)img.p + at[i];
        *p ^= 0x01;
        ASSERT_EQ_I64(load(img.p, img.len, &b, &sb, &info, err, sizeof(err)), ZK_ECORRUPT);
        ASSERT_TRUE(strstr(err, "checksum mismatch") != NULL);
        unload(&b, &sb);
        *p ^= 0x01;
    }
    ASSERT_OK(load(img.p, img.len, &b, &sb, &info, err, sizeof(err)));
    unload(&b, &sb);
    jute_buf_deinit(&img);
    session_table_deinit(&sa);
    tree_deinit(&a);
}
