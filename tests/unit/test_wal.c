/* test_wal.c — the ZooKeeper-format transaction log: golden bytes from a log written
 * by Apache ZooKeeper 3.8 (tests/data/zk38/log.1: a session, creates, a setData, a
 * multi, a failed create, closeSession), torn tails at every offset, corruption in the
 * middle, file names. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jute.h"
#include "mem.h"
#include "txn.h"
#include "wal.h"

#define MAX_RECORD (2u * 1048575u)


struct collect {
    uint64_t offsets[64];
    int64_t zxids[64];
    int32_t types[64];
    uint32_t count;
    bool decode_failed;
    struct jute_buf reencoded; /* our framing of the same payloads */
};

static int collect_fn(void *ctx, uint64_t offset, const uint8_t *payload, uint32_t len) {
    struct collect *c = ctx;
    if (c->count < 64) {
        struct txn t;
        if (txn_decode(payload, len, &t) != ZK_OK) {
            c->decode_failed = true;
        } else {
            c->offsets[c->count] = offset;
            c->zxids[c->count] = t.zxid;
            c->types[c->count] = t.type;
            txn_deinit(&t);
        }
        c->count++;
    }
    wal_encode_record(&c->reencoded, payload, len);
    return 0;
}

TEST(wal, zookeeper_written_log_scans_clean_and_decodes) {
    uint64_t size = 0;
    uint8_t *data = test_read_file("tests/data/zk38/log.1", &size);
    ASSERT_NOT_NULL(data);
    struct collect c;
    memset(&c, 0, sizeof(c));
    jute_buf_init(&c.reencoded);
    struct wal_scan s;
    ASSERT_OK(wal_scan_buffer(data, size, MAX_RECORD, collect_fn, &c, &s));
    ASSERT_EQ_I64(s.end, WAL_END_CLEAN);
    ASSERT_FALSE(c.decode_failed);
    ASSERT_GT_I64(c.count, 5);
    ASSERT_EQ_I64(s.records, c.count);
    /* zxids are consecutive from 1; the first txn creates a session */
    for (uint32_t i = 0; i < c.count; i++)
        ASSERT_EQ_I64(c.zxids[i], (int64_t)i + 1);
    ASSERT_EQ_I64(c.types[0], TXN_CREATE_SESSION);
    bool saw_multi = false, saw_error = false, saw_create = false;
    for (uint32_t i = 0; i < c.count; i++) {
        saw_multi |= c.types[i] == TXN_MULTI;
        saw_error |= c.types[i] == TXN_ERROR;
        saw_create |= c.types[i] == TXN_CREATE;
    }
    ASSERT_TRUE(saw_multi && saw_error && saw_create);
    /* Golden bytes: our header + record framing of ZooKeeper's own payloads reproduces
     * the written part of ZooKeeper's file byte for byte. */
    struct jute_buf ours;
    jute_buf_init(&ours);
    wal_encode_header(&ours);
    jute_write_raw(&ours, c.reencoded.p, c.reencoded.len);
    ASSERT_EQ_I64(ours.len, s.valid_bytes);
    ASSERT_EQ_MEM(ours.p, data, ours.len);
    jute_buf_deinit(&ours);
    jute_buf_deinit(&c.reencoded);
    free(data);
}

/* A log of n records built by us from real txns. */
static void build_log(struct jute_buf *b, uint32_t n, uint64_t *offsets) {
    jute_buf_init(b);
    wal_encode_header(b);
    for (uint32_t i = 0; i < n; i++) {
        struct txn t;
        txn_init(&t);
        t.client_id = 0x100;
        t.zxid = (int64_t)i + 1;
        t.time_ms = 1000 + i;
        t.type = TXN_SET_DATA;
        t.op.type = TXN_SET_DATA;
        t.op.path = zk_strndup("/k", 2);
        t.op.path_len = 2;
        t.op.data = zk_malloc(3);
        memcpy(t.op.data, "abc", 3);
        t.op.data_len = 3;
        t.op.version = (int32_t)i;
        struct jute_buf p;
        jute_buf_init(&p);
        txn_encode(&p, &t);
        offsets[i] = b->len;
        wal_encode_record(b, p.p, p.len);
        jute_buf_deinit(&p);
        txn_deinit(&t);
    }
}

TEST(wal, every_cut_in_the_last_record_is_a_torn_tail) {
    struct jute_buf b;
    uint64_t off[8];
    build_log(&b, 8, off);
    uint64_t full = b.len;
    for (uint64_t cut = off[7] + 1; cut < full; cut++) {
        struct wal_scan s;
        ASSERT_OK(wal_scan_buffer(b.p, cut, MAX_RECORD, NULL, NULL, &s));
        /* The checksum's high word is always zero (Adler-32 is 32 bits): a cut that
         * leaves only those zero bytes reads as zero padding, i.e. a clean end. */
        bool only_zeros = true;
        for (uint64_t i = off[7]; i < cut; i++)
            only_zeros &= b.p[i] == 0;
        ASSERT_EQ_I64(s.end, only_zeros ? WAL_END_CLEAN : WAL_END_TORN);
        ASSERT_EQ_I64(s.records, 7);
        ASSERT_EQ_I64(s.valid_bytes, off[7]);
        if (!only_zeros)
            ASSERT_EQ_I64(s.bad_offset, off[7]);
    }
    /* cut exactly at a record boundary: clean, fewer records */
    struct wal_scan s;
    ASSERT_OK(wal_scan_buffer(b.p, off[7], MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_CLEAN);
    ASSERT_EQ_I64(s.records, 7);
    jute_buf_deinit(&b);
}

TEST(wal, zero_padding_is_the_end_and_garbage_tail_is_torn) {
    struct jute_buf b;
    uint64_t off[4];
    build_log(&b, 4, off);
    uint64_t end = b.len;
    uint8_t zeros[4096] = {0};
    jute_write_raw(&b, zeros, sizeof(zeros)); /* preallocated space */
    struct wal_scan s;
    ASSERT_OK(wal_scan_buffer(b.p, b.len, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_CLEAN);
    ASSERT_EQ_I64(s.records, 4);
    ASSERT_EQ_I64(s.valid_bytes, end);
    /* a half-written record followed by zeros, then garbage: torn, not corrupt */
    memcpy(b.p + end, b.p + off[3], 10);
    for (uint32_t i = 0; i < 64; i++)
        b.p[end + 100 + i] = (uint8_t)(0x5a ^ i);
    ASSERT_OK(wal_scan_buffer(b.p, b.len, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_TORN);
    ASSERT_EQ_I64(s.valid_bytes, end);
    jute_buf_deinit(&b);
}

TEST(wal, listed_holes_are_skipped_unread_and_what_follows_them_is_checked) {
    struct jute_buf b;
    uint64_t off[4];
    build_log(&b, 4, off);
    uint64_t end = b.len;
    static const uint8_t zeros[3 * 4096];
    jute_write_raw(&b, zeros, sizeof(zeros));
    struct wal_holes h = {.start = {end + 4096}, .end = {end + 8192}, .count = 1};
    struct wal_scan s;
    /* junk inside a listed hole is never read (a real hole reads as zeros) */
    memset(b.p + end + 4096, 0x5a, 4096);
    ASSERT_OK(wal_scan_image(b.p, b.len, &h, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_CLEAN);
    ASSERT_EQ_I64(s.records, 4);
    ASSERT_EQ_I64(s.valid_bytes, end);
    ASSERT_TRUE(wal_image_all_zero(b.p + end, 3 * 4096, &(struct wal_holes){
                                                            .start = {4096},
                                                            .end = {8192},
                                                            .count = 1}));
    ASSERT_FALSE(wal_all_zero(b.p + end, 3 * 4096));
    /* without the list the same bytes are damage */
    ASSERT_OK(wal_scan_buffer(b.p, b.len, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_TORN);
    memset(b.p + end + 4096, 0, 4096);
    /* junk after the hole is found: torn */
    b.p[b.len - 1] = 0x77;
    ASSERT_OK(wal_scan_image(b.p, b.len, &h, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_TORN);
    ASSERT_EQ_I64(s.bad_offset, end);
    b.p[b.len - 1] = 0;
    /* a valid record after the hole: corruption, and where the record is */
    uint64_t rec = end + 8192 + 64;
    memcpy(b.p + rec, b.p + off[1], off[2] - off[1]);
    ASSERT_OK(wal_scan_image(b.p, b.len, &h, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_CORRUPT);
    ASSERT_EQ_I64(s.bad_offset, end);
    ASSERT_EQ_I64(s.next_good_offset, rec);
    jute_buf_deinit(&b);
}

TEST(wal, damage_before_valid_records_is_corruption_with_offset) {
    struct jute_buf b;
    uint64_t off[6];
    build_log(&b, 6, off);
    /* flip one payload byte of record 2: its checksum fails, records 3..5 are intact */
    for (uint64_t at = off[2]; at < off[3]; at++) {
        b.p[at] ^= 0x01;
        struct wal_scan s;
        ASSERT_OK(wal_scan_buffer(b.p, b.len, MAX_RECORD, NULL, NULL, &s));
        ASSERT_EQ_I64(s.end, WAL_END_CORRUPT);
        ASSERT_EQ_I64(s.bad_offset, off[2]);
        ASSERT_EQ_I64(s.records, 2);
        ASSERT_TRUE(s.next_good_offset >= off[3]);
        b.p[at] ^= 0x01;
    }
    /* zeroing a middle record is corruption too, not an early end */
    memset(b.p + off[1], 0, off[2] - off[1]);
    struct wal_scan s;
    ASSERT_OK(wal_scan_buffer(b.p, b.len, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_CORRUPT);
    ASSERT_EQ_I64(s.bad_offset, off[1]);
    jute_buf_deinit(&b);
}

TEST(wal, bad_header_and_file_names) {
    uint8_t junk[16] = "ZKLX\0\0\0\2";
    struct wal_scan s;
    ASSERT_OK(wal_scan_buffer(junk, sizeof(junk), MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_BAD_HEADER);
    ASSERT_OK(wal_scan_buffer(junk, 3, MAX_RECORD, NULL, NULL, &s));
    ASSERT_EQ_I64(s.end, WAL_END_BAD_HEADER);
    char name[64];
    wal_file_name(0x100000001LL, name, sizeof(name));
    ASSERT_EQ_STR(name, "log.100000001");
    int64_t z = 0;
    ASSERT_TRUE(wal_parse_file_name("log.1a", &z));
    ASSERT_EQ_I64(z, 0x1a);
    ASSERT_FALSE(wal_parse_file_name("log.", &z));
    ASSERT_FALSE(wal_parse_file_name("log.1g", &z));
    ASSERT_FALSE(wal_parse_file_name("snapshot.1", &z));
}
