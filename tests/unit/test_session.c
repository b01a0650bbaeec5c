/* test_session.c — session table, ids, passwords and expiry buckets (session.h).
 * Goal: ids and passwords identical to ZooKeeper's (SessionTrackerImpl
 * .initializeNextSessionId, ZooKeeperServer.generatePasswd) and ExpiryQueue
 * semantics: a session expires only in the tick of its bucket.
 * Method: golden passwords computed with java.util.Random semantics (seed =
 * (id ^ 0xB3415C00) ^ 0x5DEECE66D masked to 48 bits; nextBytes emits each int
 * least-significant byte first) in python3, and cross-checked with the JDK:
 *   new Random(id ^ 0xB3415C00L).nextBytes(b). */
#include "test.h"

#include "mem.h"
#include "session.h"

/* ---- Helpers ---- */

struct expired {
    int64_t ids[16];
    uint32_t n;
    struct session_table *remove_from; /* if set, the callback removes the session */
};

static void on_expire(void *ctx, struct session *s)
{
    struct expired *e = ctx;
    if (e->n < 16) e->ids[e->n] = s->id;
    e->n++;
    if (s->expire_at_ms != 0)
        FAIL("session %lld still bucketed in the expiry callback", (long long)s->id);
    if (e->remove_from != NULL) session_remove(e->remove_from, s);
}

/* Expires every bucket due at now, the way the server's timer loop does. */
static uint32_t expire_until(struct session_table *t, int64_t now, struct expired *e)
{
    uint32_t total = 0;
    while (now >= session_next_expiration(t))
        total += session_expire(t, now, on_expire, e);
    return total;
}

static bool expired_has(const struct expired *e, int64_t id)
{
    for (uint32_t i = 0; i < e->n && i < 16; i++) {
        if (e->ids[i] == id) return true;
    }
    return false;
}

/* ---- ids and passwords ---- */

TEST(session, password_golden_high_id)
{
    /* clang-format off */
    static const uint8_t want[16] = {0x05, 0x4c, 0xc7, 0x4a, 0x37, 0x32, 0x7d, 0xb2,
                                     0x15, 0xe7, 0x02, 0xe2, 0x0c, 0x73, 0xf0, 0x05};
    /* clang-format on */
    uint8_t pw[SESSION_PASSWD_LEN];
    session_password(0x100000000000001LL, pw);
    ASSERT_EQ_MEM(pw, want, 16);
}

TEST(session, password_golden_id_1_equals_high_id_by_48_bit_seed)
{
    /* Java's Random keeps only the low 48 bits of the seed, so ids 1 and
     * 0x0100000000000001 share a password. */
    /* clang-format off */
    static const uint8_t want[16] = {0x05, 0x4c, 0xc7, 0x4a, 0x37, 0x32, 0x7d, 0xb2,
                                     0x15, 0xe7, 0x02, 0xe2, 0x0c, 0x73, 0xf0, 0x05};
    /* clang-format on */
    uint8_t pw[SESSION_PASSWD_LEN];
    session_password(1, pw);
    ASSERT_EQ_MEM(pw, want, 16);
}

TEST(session, password_golden_mixed_bits)
{
    /* clang-format off */
    static const uint8_t want[16] = {0xf7, 0x72, 0x1b, 0x38, 0x3f, 0xd5, 0x83, 0xba,
                                     0x74, 0xd2, 0x20, 0xed, 0xe3, 0x9f, 0x7b, 0x43};
    /* clang-format on */
    uint8_t pw[SESSION_PASSWD_LEN];
    session_password(0x1234567890ABCDEFLL, pw);
    ASSERT_EQ_MEM(pw, want, 16);
}

TEST(session, password_golden_negative_id)
{
    /* clang-format off */
    static const uint8_t want[16] = {0x20, 0xf6, 0x2c, 0xb5, 0x64, 0x8d, 0xc2, 0xd7,
                                     0x71, 0x47, 0x1c, 0x8a, 0x24, 0x86, 0xa9, 0xee};
    /* clang-format on */
    uint8_t pw[SESSION_PASSWD_LEN];
    session_password(-1, pw);
    ASSERT_EQ_MEM(pw, want, 16);
}

TEST(session, initial_id_layout)
{
    /* ((ms << 24) >>> 8) | (sid << 56): sid in the top byte, the low 40 bits of
     * the clock in bits 16..55, zeros below. */
    const int64_t now = 1700000000000LL;
    ASSERT_EQ_I64(session_initial_id(now, 0), 0x008bcfe568000000LL);
    ASSERT_EQ_I64(session_initial_id(now, 1), 0x018bcfe568000000LL);
    ASSERT_EQ_I64(session_initial_id(now, 255), (int64_t)0xff8bcfe568000000ULL);
    ASSERT_EQ_I64(session_initial_id(0, 3), 0x0300000000000000LL);
}

TEST(session, next_id_increments_and_skips_zero_and_int64_min)
{
    struct session_table t;
    session_table_init(&t, 2000, 1700000000000LL, 1);
    ASSERT_EQ_I64(t.next_id, 0x018bcfe568000000LL);
    ASSERT_EQ_I64(session_next_id(&t), 0x018bcfe568000000LL);
    ASSERT_EQ_I64(session_next_id(&t), 0x018bcfe568000001LL);
    t.next_id = -2;
    ASSERT_EQ_I64(session_next_id(&t), -2);
    ASSERT_EQ_I64(session_next_id(&t), -1);
    ASSERT_EQ_I64(session_next_id(&t), 1); /* 0 skipped */
    t.next_id = INT64_MIN;
    ASSERT_EQ_I64(session_next_id(&t), INT64_MIN + 1); /* container marker skipped */
    session_table_deinit(&t);
}

/* ---- table ---- */

TEST(session, add_find_remove)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    struct session *s = session_add(&t, 42, 5000, 0);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_I64(s->id, 42);
    ASSERT_EQ_I64(s->timeout_ms, 5000);
    ASSERT_FALSE(s->closing);
    ASSERT_NULL(s->conn);
    uint8_t pw[SESSION_PASSWD_LEN];
    session_password(42, pw);
    ASSERT_EQ_MEM(s->passwd, pw, SESSION_PASSWD_LEN);
    ASSERT_TRUE(session_find(&t, 42) == s);
    ASSERT_NULL(session_find(&t, 43));
    ASSERT_EQ_I64(session_count(&t), 1);
    session_remove(&t, s);
    ASSERT_NULL(session_find(&t, 42));
    ASSERT_EQ_I64(session_count(&t), 0);
    ASSERT_EQ_I64(t.buckets.count, 0); /* its bucket went with it */
    session_table_deinit(&t);
}

TEST(session, add_existing_updates_timeout)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    struct session *s = session_add(&t, 7, 3000, 0);
    ASSERT_EQ_I64(s->expire_at_ms, 4000);
    struct session *again = session_add(&t, 7, 9000, 0);
    ASSERT_TRUE(again == s);
    ASSERT_EQ_I64(s->timeout_ms, 9000);
    ASSERT_EQ_I64(s->expire_at_ms, 10000);
    ASSERT_EQ_I64(session_count(&t), 1);
    session_table_deinit(&t);
}

static void count_cb(void *ctx, struct session *s)
{
    (void)s;
    (*(uint32_t *)ctx)++;
}

TEST(session, for_each_visits_all)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    for (int64_t id = 1; id <= 50; id++)
        session_add(&t, id, (int32_t)(1000 * (id % 7 + 1)), 0);
    uint32_t n = 0;
    session_for_each(&t, count_cb, &n);
    ASSERT_EQ_I64(n, 50);
    ASSERT_EQ_I64(session_count(&t), 50);
    session_table_deinit(&t);
}

/* ---- expiry ---- */

TEST(session, buckets_round_up_to_the_next_tick)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    ASSERT_EQ_I64(session_next_expiration(&t), 1000);
    ASSERT_EQ_I64(session_add(&t, 1, 3000, 0)->expire_at_ms, 4000);
    ASSERT_EQ_I64(session_add(&t, 2, 3500, 0)->expire_at_ms, 4000);
    ASSERT_EQ_I64(session_add(&t, 3, 2999, 0)->expire_at_ms, 3000);
    ASSERT_EQ_I64(session_add(&t, 4, 3000, 1)->expire_at_ms, 4000);
    ASSERT_EQ_I64(t.buckets.count, 2);
    session_table_deinit(&t);

    session_table_init(&t, 2000, 10000, 1);
    ASSERT_EQ_I64(session_next_expiration(&t), 12000);
    session_table_deinit(&t);
}

TEST(session, sessions_expire_only_in_their_bucket_tick)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    session_add(&t, 1, 3000, 0); /* bucket 4000 */
    session_add(&t, 2, 3500, 0); /* bucket 4000 */
    session_add(&t, 3, 5000, 0); /* bucket 6000 */
    struct expired e = {0};
    ASSERT_EQ_I64(session_expire(&t, 999, on_expire, &e), 0);
    ASSERT_EQ_I64(expire_until(&t, 3999, &e), 0);
    ASSERT_EQ_I64(e.n, 0);
    ASSERT_EQ_I64(session_next_expiration(&t), 4000);
    ASSERT_EQ_I64(expire_until(&t, 4000, &e), 2);
    ASSERT_EQ_I64(e.n, 2);
    ASSERT_TRUE(expired_has(&e, 1));
    ASSERT_TRUE(expired_has(&e, 2));
    /* Expired sessions stay in the table (the close txn removes them). */
    ASSERT_EQ_I64(session_count(&t), 3);
    ASSERT_EQ_I64(session_find(&t, 1)->expire_at_ms, 0);
    ASSERT_EQ_I64(expire_until(&t, 5999, &e), 0);
    ASSERT_EQ_I64(expire_until(&t, 6000, &e), 1);
    ASSERT_TRUE(expired_has(&e, 3));
    ASSERT_EQ_I64(t.buckets.count, 0);
    session_table_deinit(&t);
}

TEST(session, touch_moves_the_session_to_a_later_bucket)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    struct session *s1 = session_add(&t, 1, 3000, 0);
    session_add(&t, 2, 3000, 0);
    session_touch(&t, s1, 2500); /* 5500 -> bucket 6000 */
    ASSERT_EQ_I64(s1->expire_at_ms, 6000);
    struct expired e = {0};
    ASSERT_EQ_I64(expire_until(&t, 4000, &e), 1);
    ASSERT_EQ_I64(e.ids[0], 2);
    ASSERT_EQ_I64(expire_until(&t, 5999, &e), 0);
    ASSERT_EQ_I64(expire_until(&t, 6000, &e), 1);
    ASSERT_EQ_I64(e.ids[1], 1);
    session_table_deinit(&t);
}

TEST(session, touch_within_the_same_bucket_keeps_it)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    struct session *s = session_add(&t, 1, 3000, 0);
    session_touch(&t, s, 500); /* 3500 -> still 4000 */
    ASSERT_EQ_I64(s->expire_at_ms, 4000);
    ASSERT_EQ_I64(t.buckets.count, 1);
    session_table_deinit(&t);
}

TEST(session, touch_after_expiry_rebuckets)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    struct session *s = session_add(&t, 1, 1000, 0); /* bucket 2000 */
    struct expired e = {0};
    ASSERT_EQ_I64(expire_until(&t, 2000, &e), 1);
    ASSERT_EQ_I64(s->expire_at_ms, 0);
    session_touch(&t, s, 2000);
    ASSERT_EQ_I64(s->expire_at_ms, 4000);
    ASSERT_EQ_I64(expire_until(&t, 4000, &e), 1);
    ASSERT_EQ_I64(e.n, 2);
    session_table_deinit(&t);
}

TEST(session, expire_on_an_empty_bucket_advances_the_clock)
{
    /* Note: session.h says to call session_expire "until it returns 0"; an
     * empty bucket also returns 0, so callers must loop on
     * session_next_expiration instead (as server.c does). */
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    session_add(&t, 1, 2500, 0); /* bucket 3000 */
    struct expired e = {0};
    ASSERT_EQ_I64(session_expire(&t, 3000, on_expire, &e), 0); /* bucket 1000: empty */
    ASSERT_EQ_I64(session_next_expiration(&t), 2000);
    ASSERT_EQ_I64(session_expire(&t, 3000, on_expire, &e), 0); /* bucket 2000: empty */
    ASSERT_EQ_I64(session_expire(&t, 3000, on_expire, &e), 1); /* bucket 3000 */
    ASSERT_EQ_I64(session_next_expiration(&t), 4000);
    ASSERT_EQ_I64(session_expire(&t, 3000, on_expire, &e), 0); /* not due yet */
    ASSERT_EQ_I64(session_next_expiration(&t), 4000);
    session_table_deinit(&t);
}

TEST(session, expiry_callback_may_remove_the_session)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    session_add(&t, 1, 1000, 0);
    session_add(&t, 2, 1000, 0);
    session_add(&t, 3, 1000, 0);
    struct expired e = {.remove_from = &t};
    ASSERT_EQ_I64(expire_until(&t, 2000, &e), 3);
    ASSERT_EQ_I64(session_count(&t), 0);
    ASSERT_EQ_I64(t.buckets.count, 0);
    session_table_deinit(&t);
}

TEST(session, remove_keeps_other_bucket_members)
{
    struct session_table t;
    session_table_init(&t, 1000, 0, 1);
    struct session *a = session_add(&t, 1, 1000, 0);
    session_add(&t, 2, 1000, 0);
    session_remove(&t, a);
    ASSERT_EQ_I64(t.buckets.count, 1);
    struct expired e = {0};
    ASSERT_EQ_I64(expire_until(&t, 2000, &e), 1);
    ASSERT_EQ_I64(e.ids[0], 2);
    session_table_deinit(&t);
}

TEST(session, deinit_frees_sessions_and_buckets)
{
    uint64_t before = zk_mem_bytes_in_use();
    struct session_table t;
    session_table_init(&t, 500, 0, 9);
    for (int64_t id = 1; id <= 100; id++)
        session_add(&t, id, (int32_t)(id * 37), 0);
    session_table_deinit(&t);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
}
