/* test_jute.c — the jute codec (jute.h).
 * Goal: the writer emits exactly the bytes ZooKeeper's BinaryOutputArchive
 * does, the reader decodes them back, and the reader's sticky error state
 * catches truncation, bad lengths and impossible vector counts.
 * Method: golden byte vectors typed in by hand from the jute rules in
 * protocol.md §2 (big-endian two's complement, i32 length prefixes, -1 = null). */
#include "test.h"

#include "jute.h"
#include "mem.h"

/* ---- Helpers ---- */

#define ASSERT_BUF(b, ...)                                                                         \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        ASSERT_EQ_I64((b)->len, sizeof(want_));                                                    \
        ASSERT_EQ_MEM((b)->p, want_, sizeof(want_));                                               \
    } while (0)

/* ---- Writer golden vectors ---- */

TEST(jute, write_i32_big_endian)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, 0x01020304);
    jute_write_i32(&b, -1);
    jute_write_i32(&b, INT32_MIN);
    jute_write_i32(&b, 0);
    ASSERT_BUF(&b, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x00,
               0x00, 0x00, 0x00);
    jute_buf_deinit(&b);
}

TEST(jute, write_i64_big_endian)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i64(&b, 0x0102030405060708LL);
    jute_write_i64(&b, -2);
    jute_write_i64(&b, INT64_MIN);
    /* clang-format off */
    ASSERT_BUF(&b, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                   0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
    /* clang-format on */
    jute_buf_deinit(&b);
}

TEST(jute, write_bool_and_u8)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_bool(&b, true);
    jute_write_bool(&b, false);
    jute_write_u8(&b, 0xab);
    ASSERT_BUF(&b, 0x01, 0x00, 0xab);
    jute_buf_deinit(&b);
}

TEST(jute, write_strings_null_empty_and_bytes)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_cstr(&b, "abc");
    jute_write_cstr(&b, NULL);
    jute_write_cstr(&b, "");
    jute_write_bytes(&b, "\x00\xff", 2);
    jute_write_bytes(&b, NULL, -1);
    /* clang-format off */
    ASSERT_BUF(&b, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c', /* "abc" */
                   0xff, 0xff, 0xff, 0xff,                /* null */
                   0x00, 0x00, 0x00, 0x00,                /* "" */
                   0x00, 0x00, 0x00, 0x02, 0x00, 0xff,    /* buffer */
                   0xff, 0xff, 0xff, 0xff);               /* null buffer */
    /* clang-format on */
    jute_buf_deinit(&b);
}

TEST(jute, golden_connect_request)
{
    /* protocol.md §3.4: new session, 30 s, readOnly=false (45-byte payload). */
    /* clang-format off */
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x2d,                         /* frame length 45 */
        0x00, 0x00, 0x00, 0x00,                         /* protocolVersion */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* lastZxidSeen */
        0x00, 0x00, 0x75, 0x30,                         /* timeOut 30000 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sessionId */
        0x00, 0x00, 0x00, 0x10,                         /* passwd length 16 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* passwd */
        0x00,                                           /* readOnly */
    };
    /* clang-format on */
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, 0); /* placeholder for the frame length */
    jute_write_i32(&b, 0);
    jute_write_i64(&b, 0);
    jute_write_i32(&b, 30000);
    jute_write_i64(&b, 0);
    static const uint8_t zero16[16] = {0};
    jute_write_bytes(&b, zero16, 16);
    jute_write_bool(&b, false);
    jute_patch_i32(&b, 0, (int32_t)(b.len - 4));
    ASSERT_EQ_I64(b.len, sizeof(want));
    ASSERT_EQ_MEM(b.p, want, sizeof(want));

    /* And it decodes back field by field. */
    struct jute_reader r;
    jute_reader_init(&r, want, sizeof(want));
    ASSERT_EQ_I64(jute_read_i32(&r), 45);
    ASSERT_EQ_I64(jute_read_i32(&r), 0);
    ASSERT_EQ_I64(jute_read_i64(&r), 0);
    ASSERT_EQ_I64(jute_read_i32(&r), 30000);
    ASSERT_EQ_I64(jute_read_i64(&r), 0);
    struct jute_bytes pw = jute_read_bytes(&r, 1024);
    ASSERT_EQ_I64(pw.len, 16);
    ASSERT_EQ_MEM(pw.p, zero16, 16);
    ASSERT_FALSE(jute_read_bool(&r));
    ASSERT_TRUE(jute_reader_ok(&r));
    ASSERT_EQ_I64(r.left, 0);
    jute_buf_deinit(&b);
}

/* ---- Reader ---- */

TEST(jute, read_integers_big_endian)
{
    /* clang-format off */
    static const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xfe, 0x80, 0,
                                 0,    0,    0,    0,    0,    1,    0x7f};
    /* clang-format on */
    struct jute_reader r;
    jute_reader_init(&r, in, sizeof(in));
    ASSERT_EQ_I64(jute_read_i32(&r), 0x01020304);
    ASSERT_EQ_I64(jute_read_i32(&r), -2);
    ASSERT_EQ_I64(jute_read_i64(&r), (int64_t)0x8000000000000001ULL);
    ASSERT_EQ_I64(jute_read_u8(&r), 0x7f);
    ASSERT_TRUE(jute_reader_ok(&r));
    ASSERT_EQ_I64(r.left, 0);
    ASSERT_EQ_I64(jute_be32(in), 0x01020304);
}

TEST(jute, read_bool_any_nonzero_is_true)
{
    static const uint8_t in[] = {0x00, 0x01, 0x02, 0xff};
    struct jute_reader r;
    jute_reader_init(&r, in, sizeof(in));
    ASSERT_FALSE(jute_read_bool(&r));
    ASSERT_TRUE(jute_read_bool(&r));
    ASSERT_TRUE(jute_read_bool(&r));
    ASSERT_TRUE(jute_read_bool(&r));
    ASSERT_TRUE(jute_reader_ok(&r));
}

TEST(jute, read_strings_null_empty_and_borrowed)
{
    static const uint8_t in[] = {0, 0, 0, 3, 'x', 'y', 'z', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    struct jute_reader r;
    jute_reader_init(&r, in, sizeof(in));
    struct jute_bytes s = jute_read_bytes(&r, 100);
    ASSERT_EQ_I64(s.len, 3);
    ASSERT_TRUE(s.p == in + 4); /* borrowed, not copied */
    struct jute_bytes n = jute_read_bytes(&r, 100);
    ASSERT_EQ_I64(n.len, -1);
    ASSERT_NULL(n.p);
    struct jute_bytes e = jute_read_bytes(&r, 100);
    ASSERT_EQ_I64(e.len, 0);
    ASSERT_TRUE(jute_reader_ok(&r));
    ASSERT_EQ_I64(r.left, 0);
}

TEST(jute, round_trip_mixed_record)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i64(&b, -1234567890123LL);
    jute_write_cstr(&b, "/a/b");
    jute_write_bool(&b, true);
    jute_write_i32(&b, 2); /* vector<ustring> of 2 */
    jute_write_cstr(&b, "x");
    jute_write_cstr(&b, NULL);
    jute_write_i32(&b, INT32_MAX);
    struct jute_reader r;
    jute_reader_init(&r, b.p, b.len);
    ASSERT_EQ_I64(jute_read_i64(&r), -1234567890123LL);
    struct jute_bytes s = jute_read_bytes(&r, 1000);
    ASSERT_EQ_I64(s.len, 4);
    ASSERT_EQ_MEM(s.p, "/a/b", 4);
    ASSERT_TRUE(jute_read_bool(&r));
    ASSERT_EQ_I64(jute_read_count(&r, 4), 2);
    struct jute_bytes x = jute_read_bytes(&r, 1000);
    ASSERT_EQ_I64(x.len, 1);
    ASSERT_EQ_I64(x.p[0], 'x');
    ASSERT_EQ_I64(jute_read_bytes(&r, 1000).len, -1);
    ASSERT_EQ_I64(jute_read_i32(&r), INT32_MAX);
    ASSERT_TRUE(jute_reader_ok(&r));
    ASSERT_EQ_I64(r.left, 0);
    jute_buf_deinit(&b);
}

TEST(jute, truncated_input_sets_sticky_error)
{
    static const uint8_t in[] = {0x00, 0x00, 0x01, 0x41, 0x42};
    struct jute_reader r;
    jute_reader_init(&r, in, 3);
    ASSERT_EQ_I64(jute_read_i32(&r), 0); /* only 3 bytes */
    ASSERT_FALSE(jute_reader_ok(&r));
    /* Sticky: later reads fail even when they would fit. */
    ASSERT_EQ_I64(jute_read_u8(&r), 0);
    ASSERT_FALSE(jute_reader_ok(&r));

    jute_reader_init(&r, in, 5);
    ASSERT_EQ_I64(jute_read_i64(&r), 0);
    ASSERT_FALSE(jute_reader_ok(&r));

    jute_reader_init(&r, in, 0);
    ASSERT_FALSE(jute_read_bool(&r));
    ASSERT_FALSE(jute_reader_ok(&r));
}

TEST(jute, string_longer_than_input_is_an_error)
{
    static const uint8_t in[] = {0x00, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd'};
    struct jute_reader r;
    jute_reader_init(&r, in, sizeof(in));
    struct jute_bytes s = jute_read_bytes(&r, 1000);
    ASSERT_FALSE(jute_reader_ok(&r));
    ASSERT_NULL(s.p);
    /* Once failed, even a fitting i32 read gives 0. */
    jute_reader_init(&r, in, sizeof(in));
    r.err = true;
    ASSERT_EQ_I64(jute_read_i32(&r), 0);
}

TEST(jute, negative_lengths_other_than_minus_one_are_errors)
{
    static const int32_t bad[] = {-2, -100, INT32_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t in[8] = {0};
        uint32_t u = (uint32_t)bad[i];
        in[0] = (uint8_t)(u >> 24);
        in[1] = (uint8_t)(u >> 16);
        in[2] = (uint8_t)(u >> 8);
        in[3] = (uint8_t)u;
        struct jute_reader r;
        jute_reader_init(&r, in, sizeof(in));
        struct jute_bytes s = jute_read_bytes(&r, 1000);
        ASSERT_FALSE(jute_reader_ok(&r));
        ASSERT_NULL(s.p);
        jute_reader_init(&r, in, sizeof(in));
        (void)jute_read_count(&r, 0);
        ASSERT_FALSE(jute_reader_ok(&r));
    }
}

TEST(jute, huge_lengths_and_max_len)
{
    uint8_t in[64] = {0x7f, 0xff, 0xff, 0xff};
    struct jute_reader r;
    jute_reader_init(&r, in, sizeof(in));
    (void)jute_read_bytes(&r, UINT32_MAX);
    ASSERT_FALSE(jute_reader_ok(&r));

    /* A length that fits the input but exceeds max_len (jute.maxbuffer). */
    uint8_t small[] = {0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4};
    jute_reader_init(&r, small, sizeof(small));
    (void)jute_read_bytes(&r, 3);
    ASSERT_FALSE(jute_reader_ok(&r));
    jute_reader_init(&r, small, sizeof(small));
    struct jute_bytes ok = jute_read_bytes(&r, 4);
    ASSERT_TRUE(jute_reader_ok(&r));
    ASSERT_EQ_I64(ok.len, 4);
}

TEST(jute, read_count_checks_remaining_bytes)
{
    /* count 3, elements of >= 4 bytes: needs 12 bytes after the count. */
    uint8_t in[4 + 12] = {0x00, 0x00, 0x00, 0x03};
    struct jute_reader r;
    jute_reader_init(&r, in, 4 + 11);
    ASSERT_EQ_I64(jute_read_count(&r, 4), 0);
    ASSERT_FALSE(jute_reader_ok(&r));
    jute_reader_init(&r, in, 4 + 12);
    ASSERT_EQ_I64(jute_read_count(&r, 4), 3);
    ASSERT_TRUE(jute_reader_ok(&r));

    /* A count near INT32_MAX with big elements must not overflow the check. */
    uint8_t huge[8] = {0x7f, 0xff, 0xff, 0xff};
    jute_reader_init(&r, huge, sizeof(huge));
    (void)jute_read_count(&r, 12);
    ASSERT_FALSE(jute_reader_ok(&r));
    /* 0x15555556 * 12 = 0x100000008: 8 after 32-bit wrap-around, with 8 bytes left. */
    uint8_t wrap12[4 + 8] = {0x15, 0x55, 0x55, 0x56};
    jute_reader_init(&r, wrap12, sizeof(wrap12));
    (void)jute_read_count(&r, 12);
    ASSERT_FALSE(jute_reader_ok(&r));
    /* 0x40000001 * 4 = 0x100000004: 4 after wrap-around, with 4 bytes left. */
    uint8_t wrap4[4 + 4] = {0x40, 0x00, 0x00, 0x01};
    jute_reader_init(&r, wrap4, sizeof(wrap4));
    (void)jute_read_count(&r, 4);
    ASSERT_FALSE(jute_reader_ok(&r));

    /* -1 = null vector, no error; -2 is an error. */
    uint8_t null_vec[4] = {0xff, 0xff, 0xff, 0xff};
    jute_reader_init(&r, null_vec, sizeof(null_vec));
    ASSERT_EQ_I64(jute_read_count(&r, 4), -1);
    ASSERT_TRUE(jute_reader_ok(&r));
    uint8_t m2[4] = {0xff, 0xff, 0xff, 0xfe};
    jute_reader_init(&r, m2, sizeof(m2));
    (void)jute_read_count(&r, 4);
    ASSERT_FALSE(jute_reader_ok(&r));

    /* Count 0 with nothing left is fine. */
    uint8_t zero[4] = {0};
    jute_reader_init(&r, zero, sizeof(zero));
    ASSERT_EQ_I64(jute_read_count(&r, 8), 0);
    ASSERT_TRUE(jute_reader_ok(&r));
}

/* ---- Buffer management ---- */

TEST(jute, patch_i32_overwrites_in_place)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, 0);
    jute_write_cstr(&b, "hi");
    jute_write_i32(&b, 7);
    jute_patch_i32(&b, 0, (int32_t)(b.len - 4));
    jute_patch_i32(&b, b.len - 4, -3);
    /* clang-format off */
    ASSERT_BUF(&b, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x02, 'h', 'i', 0xff, 0xff, 0xff,
               0xfd);
    /* clang-format on */
    jute_buf_deinit(&b);
}

TEST(jute, buf_consume_partial_and_full)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_raw(&b, "abcdef", 6);
    jute_buf_consume(&b, 2);
    ASSERT_BUF(&b, 'c', 'd', 'e', 'f');
    jute_buf_consume(&b, 0);
    ASSERT_BUF(&b, 'c', 'd', 'e', 'f');
    jute_buf_consume(&b, 4);
    ASSERT_EQ_I64(b.len, 0);
    /* The buffer stays usable after being drained. */
    jute_write_u8(&b, 'z');
    ASSERT_BUF(&b, 'z');
    jute_buf_deinit(&b);
    ASSERT_NULL(b.p);
    ASSERT_EQ_I64(b.len, 0);
}

TEST(jute, buf_grows_and_keeps_content)
{
    struct jute_buf b;
    jute_buf_init(&b);
    for (int32_t i = 0; i < 10000; i++)
        jute_write_i32(&b, i);
    ASSERT_EQ_I64(b.len, 40000);
    ASSERT_LE_I64(b.len, b.cap);
    struct jute_reader r;
    jute_reader_init(&r, b.p, b.len);
    for (int32_t i = 0; i < 10000; i++)
        ASSERT_EQ_I64(jute_read_i32(&r), i);
    ASSERT_TRUE(jute_reader_ok(&r));
    uint32_t cap = b.cap;
    jute_buf_reserve(&b, 0);
    ASSERT_EQ_I64(b.cap, cap);
    jute_buf_reserve(&b, cap); /* needs len + cap bytes */
    ASSERT_LE_I64((int64_t)b.len + cap, b.cap);
    jute_buf_deinit(&b);
}

TEST(jute, write_raw_zero_length_allocates_nothing)
{
    struct jute_buf b;
    jute_buf_init(&b);
    uint64_t before = zk_mem_bytes_in_use();
    jute_write_raw(&b, "", 0);
    ASSERT_NULL(b.p);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
    jute_write_bytes(&b, "", 0); /* writes the 4-byte length only */
    ASSERT_BUF(&b, 0, 0, 0, 0);
    jute_buf_deinit(&b);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
}
