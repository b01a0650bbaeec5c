/* fuzz_jute.c — the jute reader and writer (jute.h) over arbitrary bytes.
 *
 * Input: byte 0 = number of script bytes (mod 64), then the script, then the
 * data the reader runs over. Each script byte picks one read (u8, bool, i32,
 * i64, bytes with a max_len, count with a min_elem_bytes, or an ok check).
 *
 * Properties checked against an independent model of the encoding:
 *   - every read returns what the big-endian rules say, or the documented zero
 *     value (0, false, {NULL,-1}, count 0) once the reader has failed;
 *   - the error state is sticky: after the first failure p/left never move and
 *     every later read fails;
 *   - borrowed strings/buffers lie inside the input (the data is copied into an
 *     exact-size heap block so ASan sees any overread);
 *   - the writer re-encodes every value read back into exactly the bytes it was
 *     read from (bools normalised to 0/1); patch/consume/cstr behave.
 * No allocation may leak (zk_mem_bytes_in_use returns to its starting value). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jute.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static const uint32_t max_lens[8] = {0, 1, 4, 16, 255, 65536, UINT32_MAX, 0 /* = left */};

/* The model: offset into the data and the error flag. */
struct model {
    const uint8_t *d;
    uint32_t len;
    uint32_t off;
    bool err;
};

static bool model_need(struct model *m, uint32_t n) {
    if (m->err || m->len - m->off < n) {
        m->err = true;
        return false;
    }
    return true;
}

static void run(const uint8_t *script, uint32_t nscript, const uint8_t *d, uint32_t len) {
    struct jute_reader r;
    jute_reader_init(&r, d, len);
    CHECK(jute_reader_ok(&r) && r.left == len && r.p == d);
    struct model m = {d, len, 0, false};
    struct jute_buf got, want;
    jute_buf_init(&got);
    jute_buf_init(&want);

    for (uint32_t i = 0; i < nscript; i++) {
        uint8_t s = script[i];
        const uint8_t *p_before = r.p;
        uint32_t left_before = r.left;
        bool err_before = r.err;
        uint32_t off = m.off;
        CHECK(err_before == m.err);
        switch (s % 7) {
        case 0: {
            uint8_t v = jute_read_u8(&r);
            if (model_need(&m, 1)) {
                CHECK(v == d[off]);
                m.off += 1;
                jute_write_u8(&got, v);
            } else {
                CHECK(v == 0);
            }
            break;
        }
        case 1: {
            bool v = jute_read_bool(&r);
            if (model_need(&m, 1)) {
                CHECK(v == (d[off] != 0));
                m.off += 1;
                jute_write_bool(&got, v);
            } else {
                CHECK(!v);
            }
            break;
        }
        case 2: {
            int32_t v = jute_read_i32(&r);
            if (model_need(&m, 4)) {
                CHECK((uint32_t)v == be32(d + off));
                CHECK(jute_be32(d + off) == be32(d + off));
                m.off += 4;
                jute_write_i32(&got, v);
            } else {
                CHECK(v == 0);
            }
            break;
        }
        case 3: {
            int64_t v = jute_read_i64(&r);
            if (model_need(&m, 8)) {
                uint64_t want64 = ((uint64_t)be32(d + off) << 32) | be32(d + off + 4);
                CHECK((uint64_t)v == want64);
                m.off += 8;
                jute_write_i64(&got, v);
            } else {
                CHECK(v == 0);
            }
            break;
        }
        case 4: {
            uint32_t max = max_lens[(s >> 3) & 7];
            if (((s >> 3) & 7) == 7)
                max = r.left;
            struct jute_bytes b = jute_read_bytes(&r, max);
            bool ok = model_need(&m, 4);
            int32_t n = ok ? (int32_t)be32(d + off) : 0;
            if (ok && n != -1) {
                uint32_t room = m.len - m.off - 4;
                if (n < -1 || (uint32_t)n > room || (uint32_t)n > max) {
                    m.err = true;
                    ok = false;
                }
            }
            if (ok) {
                CHECK(b.len == n);
                if (n == -1) {
                    CHECK(b.p == NULL);
                    m.off += 4;
                } else {
                    CHECK(b.p == d + off + 4);
                    CHECK((uint32_t)b.len <= max);
                    /* touch every byte: ASan flags anything outside the input */
                    uint32_t sum = 0;
                    for (int32_t k = 0; k < b.len; k++)
                        sum += b.p[k];
                    (void)sum;
                    m.off += 4 + (uint32_t)n;
                }
                jute_write_bytes(&got, b.p, b.len);
            } else {
                CHECK(b.p == NULL && b.len == -1);
            }
            break;
        }
        case 5: {
            uint32_t min_elem = (s >> 3) & 15;
            int32_t n = jute_read_count(&r, min_elem);
            bool ok = model_need(&m, 4);
            int32_t wantn = ok ? (int32_t)be32(d + off) : 0;
            if (ok && wantn != -1) {
                uint32_t room = m.len - m.off - 4;
                if (wantn < -1 || (min_elem > 0 && (uint64_t)wantn * min_elem > room)) {
                    m.err = true;
                    ok = false;
                }
            }
            if (ok) {
                CHECK(n == wantn);
                m.off += 4;
                jute_write_i32(&got, n);
            } else {
                CHECK(n == 0);
            }
            break;
        }
        default:
            CHECK(jute_reader_ok(&r) == !m.err);
            break;
        }
        CHECK(r.err == m.err);
        CHECK(jute_reader_ok(&r) == !m.err);
        if (err_before) {
            /* sticky: a failed reader never moves again */
            CHECK(r.p == p_before && r.left == left_before);
        } else if (!r.err) {
            CHECK(r.p == d + m.off && r.left == len - m.off);
            /* what was consumed, with bools normalised, is what the writer emits */
            if (m.off > off) {
                if (s % 7 == 1) {
                    jute_write_u8(&want, d[off] != 0);
                } else {
                    jute_write_raw(&want, d + off, m.off - off);
                }
            }
        }
        CHECK(r.left <= len && r.p >= d && r.p <= d + len);
    }
    CHECK(got.len == want.len);
    CHECK(got.len == 0 || memcmp(got.p, want.p, got.len) == 0);

    /* Writer extras: cstr stops at the first NUL; patch rewrites 4 bytes in
     * place; consume drops a prefix. */
    if (len > 0) {
        char *s = zk_xstrndup((const char *)d, len > 300 ? 300 : len);
        uint32_t before = got.len;
        jute_write_cstr(&got, s);
        size_t sl = strlen(s);
        CHECK(got.len == before + 4 + sl);
        CHECK(be32(got.p + before) == (uint32_t)sl);
        CHECK(sl == 0 || memcmp(got.p + before + 4, s, sl) == 0);
        zk_free(s);
    }
    jute_write_cstr(&got, NULL);
    CHECK(got.len >= 4 && be32(got.p + got.len - 4) == UINT32_MAX);
    uint32_t at = len >= 4 ? be32(d) % (got.len - 3) : 0;
    int32_t v = len >= 8 ? (int32_t)be32(d + 4) : 0x01020304;
    jute_patch_i32(&got, at, v);
    CHECK(be32(got.p + at) == (uint32_t)v);
    uint32_t drop = len >= 1 ? d[0] % (got.len + 1) : got.len;
    uint32_t old_len = got.len;
    uint8_t *copy = malloc(old_len);
    CHECK(copy != NULL);
    memcpy(copy, got.p, old_len);
    jute_buf_consume(&got, drop);
    CHECK(got.len == old_len - drop);
    CHECK(got.len == 0 || memcmp(got.p, copy + drop, got.len) == 0);
    free(copy);

    jute_buf_deinit(&got);
    jute_buf_deinit(&want);
    CHECK(got.p == NULL && got.len == 0 && got.cap == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20))
        return 0;
    uint64_t base = zk_mem_bytes_in_use();
    uint32_t nscript = size > 0 ? data[0] % 64 : 0;
    if (nscript > size - (size > 0 ? 1 : 0))
        nscript = size > 0 ? (uint32_t)size - 1 : 0;
    const uint8_t *script = data + (size > 0 ? 1 : 0);
    uint32_t dlen = (uint32_t)size - (size > 0 ? 1 : 0) - nscript;
    /* exact-size copy: reads past the end are heap overflows, not silent */
    uint8_t *d = malloc(dlen ? dlen : 1);
    CHECK(d != NULL);
    if (dlen > 0)
        memcpy(d, script + nscript, dlen);
    run(script, nscript, d, dlen);
    /* an empty reader over NULL is legal and fails on the first read */
    struct jute_reader r;
    jute_reader_init(&r, NULL, 0);
    CHECK(jute_read_i32(&r) == 0 && !jute_reader_ok(&r));
    struct jute_bytes b = jute_read_bytes(&r, 10);
    CHECK(b.p == NULL && b.len == -1 && jute_read_count(&r, 0) == 0);
    free(d);
    CHECK(zk_mem_bytes_in_use() == base);
    return 0;
}
