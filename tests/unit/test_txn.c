/* test_txn.c — txn records (txn.h).
 * Goal: the log payload is ZooKeeper's (TxnHeader + the zookeeper.jute record
 * of each type), every type round-trips, and decoding damaged input fails with
 * ZK_ECORRUPT (or ZK_ENOMEM) without leaking.
 * Method: golden bytes typed in from the record layouts documented in txn.h;
 * round trips through txn_encode/txn_decode; every truncation of valid
 * payloads; seeded byte mutations; allocation-failure loops on mem.c. */
#include "test.h"

#include "acl.h"
#include "err.h"
#include "mem.h"
#include "txn.h"

/* ---- Helpers ---- */

static void set_path(struct txn_op *op, const char *p)
{
    op->path = zk_xstrndup(p, strlen(p));
    op->path_len = (uint32_t)strlen(p);
}

static void set_data(struct txn_op *op, const char *d, int32_t len)
{
    op->data_len = len;
    if (len > 0) {
        op->data = zk_xmalloc((size_t)len);
        memcpy(op->data, d, (size_t)len);
    }
}

static void set_header(struct txn *t, int32_t type)
{
    t->client_id = 0x0123456789abcdefLL;
    t->cxid = 77;
    t->zxid = 0x200000010LL;
    t->time_ms = 1700000000123LL;
    t->type = type;
}

static void fill_create(struct txn_op *op, int32_t type)
{
    op->type = type;
    set_path(op, "/app/node");
    set_data(op, "payload", 7);
    op->acl = acl_ref(acl_open_unsafe());
    op->ephemeral = type == TXN_CREATE || type == TXN_CREATE2;
    op->parent_cversion = 12;
    op->ttl = type == TXN_CREATE_TTL ? 60000 : 0;
}

static void assert_op_equal(const struct txn_op *a, const struct txn_op *b)
{
    ASSERT_EQ_I64(a->type, b->type);
    ASSERT_EQ_STR(a->path, b->path);
    ASSERT_EQ_I64(a->path_len, b->path_len);
    ASSERT_EQ_I64(a->data_len, b->data_len);
    if (a->data_len > 0) ASSERT_EQ_MEM(a->data, b->data, (size_t)a->data_len);
    ASSERT_TRUE(acl_equal(a->acl, b->acl));
    ASSERT_EQ_I64(a->ephemeral, b->ephemeral);
    ASSERT_EQ_I64(a->parent_cversion, b->parent_cversion);
    ASSERT_EQ_I64(a->ttl, b->ttl);
    ASSERT_EQ_I64(a->version, b->version);
    ASSERT_EQ_I64(a->err, b->err);
    ASSERT_EQ_I64(a->timeout_ms, b->timeout_ms);
    ASSERT_EQ_I64(a->path_count, b->path_count);
    for (uint32_t i = 0; i < a->path_count; i++)
        ASSERT_EQ_STR(a->paths[i], b->paths[i]);
}

/* Encodes t, decodes it, compares everything and re-encodes to the same bytes. */
static void round_trip(const struct txn *t)
{
    struct jute_buf b, b2;
    jute_buf_init(&b);
    jute_buf_init(&b2);
    txn_encode(&b, t);
    struct txn d;
    ASSERT_OK(txn_decode(b.p, b.len, &d));
    ASSERT_EQ_I64(d.client_id, t->client_id);
    ASSERT_EQ_I64(d.cxid, t->cxid);
    ASSERT_EQ_I64(d.zxid, t->zxid);
    ASSERT_EQ_I64(d.time_ms, t->time_ms);
    ASSERT_EQ_I64(d.type, t->type);
    if (t->type == TXN_MULTI) {
        ASSERT_EQ_I64(d.op_count, t->op_count);
        for (uint32_t i = 0; i < t->op_count; i++)
            assert_op_equal(&t->ops[i], &d.ops[i]);
    } else {
        assert_op_equal(&t->op, &d.op);
    }
    txn_encode(&b2, &d);
    ASSERT_EQ_I64(b2.len, b.len);
    ASSERT_EQ_MEM(b2.p, b.p, b.len);
    txn_deinit(&d);
    jute_buf_deinit(&b);
    jute_buf_deinit(&b2);
}

static void assert_empty(const struct txn *t)
{
    ASSERT_EQ_I64(t->type, 0);
    ASSERT_NULL(t->op.path);
    ASSERT_NULL(t->op.data);
    ASSERT_NULL(t->op.acl);
    ASSERT_NULL(t->op.paths);
    ASSERT_NULL(t->ops);
    ASSERT_EQ_I64(t->op_count, 0);
}

/* Every proper prefix of the encoding of t must fail to decode (except the
 * header-only closeSession, see below), and leave nothing allocated. */
static void all_truncations_fail(const struct txn *t, uint32_t allowed_ok_len)
{
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, t);
    uint64_t before = zk_mem_bytes_in_use();
    for (uint32_t len = 0; len < b.len; len++) {
        struct txn d;
        int rc = txn_decode(b.p, len, &d);
        if (len == allowed_ok_len) {
            ASSERT_OK(rc);
            txn_deinit(&d);
            continue;
        }
        if (rc != ZK_ECORRUPT)
            FAIL("decode of %u of %u bytes returned %d, want ZK_ECORRUPT", len, b.len, rc);
        assert_empty(&d);
        ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
    }
    jute_buf_deinit(&b);
}

static void build_multi(struct txn *t, bool with_error)
{
    txn_init(t);
    set_header(t, TXN_MULTI);
    fill_create(txn_add_op(t), TXN_CREATE);
    struct txn_op *op = txn_add_op(t);
    op->type = TXN_SET_DATA;
    set_path(op, "/x");
    set_data(op, "v", 1);
    op->version = 3;
    op = txn_add_op(t);
    op->type = TXN_CHECK;
    set_path(op, "/y");
    op->version = 0;
    op = txn_add_op(t);
    op->type = TXN_DELETE;
    set_path(op, "/z");
    fill_create(txn_add_op(t), TXN_CREATE_TTL);
    if (with_error) {
        op = txn_add_op(t);
        op->type = TXN_ERROR;
        op->err = ZOO_NONODE;
        op = txn_add_op(t);
        op->type = TXN_ERROR;
        op->err = ZOO_RUNTIMEINCONSISTENCY;
    }
}

/* ---- Golden bytes ---- */

TEST(txn, golden_create_txn)
{
    /* TxnHeader{clientId, cxid, zxid, time, type=1} + CreateTxn{path, data, acl,
     * ephemeral, parentCVersion}. */
    /* clang-format off */
    static const uint8_t want[] = {
        0, 0, 0, 0, 0, 0, 0, 0x11,                 /* clientId */
        0, 0, 0, 2,                                /* cxid */
        0, 0, 0, 1, 0, 0, 0, 3,                    /* zxid epoch 1, counter 3 */
        0, 0, 0, 0, 0, 0, 0, 4,                    /* time */
        0, 0, 0, 1,                                /* type create */
        0, 0, 0, 2, '/', 'a',                      /* path */
        0, 0, 0, 2, 'x', 'y',                      /* data */
        0, 0, 0, 1,                                /* acl count */
        0, 0, 0, 0x1f,                             /* perms ALL */
        0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd',       /* scheme */
        0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e',  /* id */
        1,                                         /* ephemeral */
        0, 0, 0, 5,                                /* parentCVersion */
    };
    /* clang-format on */
    struct txn t;
    txn_init(&t);
    t.client_id = 0x11;
    t.cxid = 2;
    t.zxid = 0x100000003LL;
    t.time_ms = 4;
    t.type = TXN_CREATE;
    t.op.type = TXN_CREATE;
    set_path(&t.op, "/a");
    set_data(&t.op, "xy", 2);
    t.op.acl = acl_ref(acl_open_unsafe());
    t.op.ephemeral = true;
    t.op.parent_cversion = 5;
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, &t);
    ASSERT_EQ_I64(b.len, sizeof(want));
    ASSERT_EQ_MEM(b.p, want, sizeof(want));
    /* And the golden bytes decode to the same txn. */
    struct txn d;
    ASSERT_OK(txn_decode(want, sizeof(want), &d));
    ASSERT_EQ_I64(d.zxid, 0x100000003LL);
    assert_op_equal(&t.op, &d.op);
    txn_deinit(&d);
    txn_deinit(&t);
    jute_buf_deinit(&b);
}

TEST(txn, golden_multi_with_error_entry)
{
    /* MultiTxn{vector<Txn{int type, buffer data}>}: delete "/a", then an
     * ErrorTxn{-101}. */
    /* clang-format off */
    static const uint8_t body[] = {
        0,    0,    0,    2,                          /* two txns */
        0,    0,    0,    2,    0, 0, 0, 6,           /* type delete, data length 6 */
        0,    0,    0,    2,    '/', 'a',             /* DeleteTxn{path} */
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4,           /* type error, data length 4 */
        0xff, 0xff, 0xff, 0x9b,                       /* ErrorTxn{-101} */
    };
    /* clang-format on */
    struct txn t;
    txn_init(&t);
    t.type = TXN_MULTI;
    struct txn_op *op = txn_add_op(&t);
    op->type = TXN_DELETE;
    set_path(op, "/a");
    op = txn_add_op(&t);
    op->type = TXN_ERROR;
    op->err = ZOO_NONODE;
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, &t);
    ASSERT_EQ_I64(b.len, 32 + sizeof(body));
    ASSERT_EQ_MEM(b.p + 28, "\x00\x00\x00\x0e", 4); /* header type 14 */
    ASSERT_EQ_MEM(b.p + 32, body, sizeof(body));
    txn_deinit(&t);
    jute_buf_deinit(&b);
}

TEST(txn, golden_close_session_with_paths)
{
    static const uint8_t body[] = {0,   0, 0, 2, 0, 0,   0,   2,   '/',
                                   'e', 0, 0, 0, 4, '/', 'a', '/', 'f'};
    struct txn t;
    txn_init(&t);
    t.type = TXN_CLOSE_SESSION;
    t.op.type = TXN_CLOSE_SESSION;
    t.op.paths = zk_xcalloc(2, sizeof(char *));
    t.op.paths[0] = zk_xstrndup("/e", 2);
    t.op.paths[1] = zk_xstrndup("/a/f", 4);
    t.op.path_count = 2;
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, &t);
    ASSERT_EQ_I64(b.len, 32 + sizeof(body));
    ASSERT_EQ_MEM(b.p + 28, "\xff\xff\xff\xf5", 4); /* type -11 */
    ASSERT_EQ_MEM(b.p + 32, body, sizeof(body));
    txn_deinit(&t);
    jute_buf_deinit(&b);
}

/* ---- Round trips ---- */

TEST(txn, round_trip_creates)
{
    static const int32_t types[] = {TXN_CREATE, TXN_CREATE2, TXN_CREATE_CONTAINER, TXN_CREATE_TTL};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct txn t;
        txn_init(&t);
        set_header(&t, types[i]);
        fill_create(&t.op, types[i]);
        round_trip(&t);
        txn_deinit(&t);
    }
}

TEST(txn, round_trip_create_null_and_empty_data)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CREATE);
    t.op.type = TXN_CREATE;
    set_path(&t.op, "/n");
    t.op.data_len = -1;
    t.op.acl = acl_ref(acl_read_unsafe());
    round_trip(&t);
    t.op.data_len = 0;
    round_trip(&t);
    txn_deinit(&t);
}

TEST(txn, round_trip_delete_set_data_set_acl_check)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_DELETE);
    t.op.type = TXN_DELETE;
    set_path(&t.op, "/gone");
    round_trip(&t);
    t.type = t.op.type = TXN_DELETE_CONTAINER;
    round_trip(&t);
    txn_deinit(&t);

    txn_init(&t);
    set_header(&t, TXN_SET_DATA);
    t.op.type = TXN_SET_DATA;
    set_path(&t.op, "/d");
    set_data(&t.op, "\x00\x01\x02", 3);
    t.op.version = 2147483647;
    round_trip(&t);
    txn_deinit(&t);

    txn_init(&t);
    set_header(&t, TXN_SET_ACL);
    t.op.type = TXN_SET_ACL;
    set_path(&t.op, "/acl");
    t.op.acl = acl_ref(acl_read_unsafe());
    t.op.version = 4;
    round_trip(&t);
    txn_deinit(&t);

    txn_init(&t);
    set_header(&t, TXN_CHECK);
    t.op.type = TXN_CHECK;
    set_path(&t.op, "/c");
    t.op.version = -1;
    round_trip(&t);
    txn_deinit(&t);
}

TEST(txn, round_trip_sessions_and_error)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CREATE_SESSION);
    t.op.type = TXN_CREATE_SESSION;
    t.op.timeout_ms = 30000;
    round_trip(&t);
    txn_deinit(&t);

    txn_init(&t);
    set_header(&t, TXN_CLOSE_SESSION);
    t.op.type = TXN_CLOSE_SESSION;
    round_trip(&t); /* no paths */
    t.op.paths = zk_xcalloc(3, sizeof(char *));
    t.op.paths[0] = zk_xstrndup("/e1", 3);
    t.op.paths[1] = zk_xstrndup("/x/e2", 5);
    t.op.paths[2] = zk_xstrndup("/e3", 3);
    t.op.path_count = 3;
    round_trip(&t);
    txn_deinit(&t);

    txn_init(&t);
    set_header(&t, TXN_ERROR);
    t.op.type = TXN_ERROR;
    t.op.err = ZOO_NODEEXISTS;
    round_trip(&t);
    txn_deinit(&t);
}

TEST(txn, round_trip_multi_with_error_entries)
{
    struct txn t;
    build_multi(&t, true);
    ASSERT_EQ_I64(t.op_count, 7);
    round_trip(&t);
    txn_deinit(&t);
    build_multi(&t, false);
    round_trip(&t);
    txn_deinit(&t);
    /* An empty multi is legal. */
    txn_init(&t);
    set_header(&t, TXN_MULTI);
    round_trip(&t);
    txn_deinit(&t);
}

TEST(txn, close_session_without_body_decodes)
{
    /* Logs written before CloseSessionTxn existed carry no body. */
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CLOSE_SESSION);
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i64(&b, t.client_id);
    jute_write_i32(&b, t.cxid);
    jute_write_i64(&b, t.zxid);
    jute_write_i64(&b, t.time_ms);
    jute_write_i32(&b, TXN_CLOSE_SESSION);
    struct txn d;
    ASSERT_OK(txn_decode(b.p, b.len, &d));
    ASSERT_EQ_I64(d.type, TXN_CLOSE_SESSION);
    ASSERT_EQ_I64(d.op.path_count, 0);
    txn_deinit(&d);
    jute_buf_deinit(&b);
}

TEST(txn, is_create)
{
    ASSERT_TRUE(txn_is_create(TXN_CREATE));
    ASSERT_TRUE(txn_is_create(TXN_CREATE2));
    ASSERT_TRUE(txn_is_create(TXN_CREATE_CONTAINER));
    ASSERT_TRUE(txn_is_create(TXN_CREATE_TTL));
    ASSERT_FALSE(txn_is_create(TXN_DELETE));
    ASSERT_FALSE(txn_is_create(TXN_SET_DATA));
    ASSERT_FALSE(txn_is_create(TXN_MULTI));
    ASSERT_FALSE(txn_is_create(TXN_ERROR));
}

/* ---- Damaged input ---- */

TEST(txn, truncated_create_fails_at_every_length)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CREATE_TTL);
    fill_create(&t.op, TXN_CREATE_TTL);
    all_truncations_fail(&t, UINT32_MAX);
    txn_deinit(&t);
}

TEST(txn, truncated_multi_fails_at_every_length)
{
    struct txn t;
    build_multi(&t, true);
    all_truncations_fail(&t, UINT32_MAX);
    txn_deinit(&t);
}

TEST(txn, truncated_close_session_fails_except_header_only)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CLOSE_SESSION);
    t.op.type = TXN_CLOSE_SESSION;
    t.op.paths = zk_xcalloc(2, sizeof(char *));
    t.op.paths[0] = zk_xstrndup("/e1", 3);
    t.op.paths[1] = zk_xstrndup("/e2", 3);
    t.op.path_count = 2;
    all_truncations_fail(&t, 32);
    txn_deinit(&t);
}

TEST(txn, garbage_is_corrupt)
{
    struct jute_buf b;
    struct txn d;
    /* Unknown type. */
    jute_buf_init(&b);
    jute_write_i64(&b, 1);
    jute_write_i32(&b, 1);
    jute_write_i64(&b, 1);
    jute_write_i64(&b, 1);
    jute_write_i32(&b, 99);
    jute_write_i32(&b, 0);
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    assert_empty(&d);
    /* A create whose path is null. */
    b.len = 28;
    jute_write_i32(&b, TXN_CREATE);
    jute_write_i32(&b, -1);
    jute_write_i32(&b, -1);
    jute_write_i32(&b, 0);
    jute_write_bool(&b, false);
    jute_write_i32(&b, 1);
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    /* A multi nested in a multi. */
    b.len = 28;
    jute_write_i32(&b, TXN_MULTI);
    jute_write_i32(&b, 1);
    jute_write_i32(&b, TXN_MULTI);
    jute_write_i32(&b, 4);
    jute_write_i32(&b, 0);
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    /* A multi op with a null body. */
    b.len = 28;
    jute_write_i32(&b, TXN_MULTI);
    jute_write_i32(&b, 1);
    jute_write_i32(&b, TXN_DELETE);
    jute_write_i32(&b, -1);
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    /* A multi op whose body is shorter than its record. */
    b.len = 28;
    jute_write_i32(&b, TXN_MULTI);
    jute_write_i32(&b, 1);
    jute_write_i32(&b, TXN_SET_DATA);
    jute_write_i32(&b, 6);
    jute_write_cstr(&b, "/a"); /* no data, no version */
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    /* A malformed ACL vector inside a create. */
    b.len = 28;
    jute_write_i32(&b, TXN_CREATE);
    jute_write_cstr(&b, "/a");
    jute_write_i32(&b, -1);
    jute_write_i32(&b, -5);
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    /* A closeSession path list with a null path. */
    b.len = 28;
    jute_write_i32(&b, TXN_CLOSE_SESSION);
    jute_write_i32(&b, 2);
    jute_write_cstr(&b, "/a");
    jute_write_i32(&b, -1);
    ASSERT_EQ_I64(txn_decode(b.p, b.len, &d), ZK_ECORRUPT);
    assert_empty(&d);
    jute_buf_deinit(&b);
}

TEST(txn, mutated_payloads_never_crash_or_leak)
{
    /* Seeded byte mutations of a multi payload: decode must return OK or
     * ECORRUPT, and a successful decode must re-encode and decode again. */
    struct txn t;
    build_multi(&t, true);
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, &t);
    uint8_t *copy = zk_xmalloc(b.len);
    uint64_t before = zk_mem_bytes_in_use();
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(copy, b.p, b.len);
        int flips = 1 + (int)(test_rand() % 4);
        for (int k = 0; k < flips; k++) {
            uint32_t at = (uint32_t)(test_rand() % b.len);
            copy[at] = (uint8_t)test_rand();
        }
        struct txn d;
        int rc = txn_decode(copy, b.len, &d);
        if (rc != ZK_OK && rc != ZK_ECORRUPT)
            FAIL("iteration %d: txn_decode returned %d", iter, rc);
        if (rc == ZK_OK) {
            struct jute_buf again;
            jute_buf_init(&again);
            txn_encode(&again, &d);
            struct txn d2;
            ASSERT_OK(txn_decode(again.p, again.len, &d2));
            txn_deinit(&d2);
            jute_buf_deinit(&again);
        }
        txn_deinit(&d);
        ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
    }
    zk_free(copy);
    jute_buf_deinit(&b);
    txn_deinit(&t);
}

/* Fails allocation N = 1, 2, ... of txn_decode until it succeeds; each
 * failure must be a clean ZK_ENOMEM with an empty txn and nothing leaked. */
static void decode_under_allocation_failures(const struct txn *t)
{
    struct jute_buf b;
    jute_buf_init(&b);
    txn_encode(&b, t);
    uint64_t before = zk_mem_bytes_in_use();
    int rc = ZK_ENOMEM;
    uint64_t n;
    for (n = 1; n < 1000 && rc == ZK_ENOMEM; n++) {
        struct txn d;
        zk_mem_fail_after(n);
        rc = txn_decode(b.p, b.len, &d);
        zk_mem_fail_after(0);
        if (rc == ZK_ENOMEM) {
            assert_empty(&d);
            ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
        } else {
            ASSERT_OK(rc);
            txn_deinit(&d);
        }
    }
    ASSERT_OK(rc);
    ASSERT_GT_I64(n, 2);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
    jute_buf_deinit(&b);
}

TEST(txn, decode_allocation_failures_create)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CREATE);
    fill_create(&t.op, TXN_CREATE);
    decode_under_allocation_failures(&t);
    txn_deinit(&t);
}

TEST(txn, decode_allocation_failures_close_session)
{
    struct txn t;
    txn_init(&t);
    set_header(&t, TXN_CLOSE_SESSION);
    t.op.type = TXN_CLOSE_SESSION;
    t.op.paths = zk_xcalloc(2, sizeof(char *));
    t.op.paths[0] = zk_xstrndup("/e1", 3);
    t.op.paths[1] = zk_xstrndup("/e2", 3);
    t.op.path_count = 2;
    decode_under_allocation_failures(&t);
    txn_deinit(&t);
}

/* BUG (reported): txn.h promises txn_decode returns ZK_ENOMEM on allocation
 * failure, but for a multi it grows the op array with txn_add_op, which uses
 * zk_xrealloc and panics (abort) when that allocation fails. This test then
 * dies with SIGABRT ("out of memory reallocating"). */
TEST(txn, regression_decode_allocation_failures_multi_panics)
{
    struct txn t;
    build_multi(&t, true);
    decode_under_allocation_failures(&t);
    txn_deinit(&t);
}
