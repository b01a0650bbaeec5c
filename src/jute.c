#include "jute.h"

#include <string.h>

#include "base.h"
#include "mem.h"

void jute_reader_init(struct jute_reader *r, const void *p, uint32_t len) {
    r->p = p;
    r->left = len;
    r->err = false;
}

bool jute_reader_ok(const struct jute_reader *r) { return !r->err; }

static bool jute_need(struct jute_reader *r, uint32_t n) {
    if (r->err || r->left < n) {
        r->err = true;
        return false;
    }
    return true;
}

uint8_t jute_read_u8(struct jute_reader *r) {
    if (!jute_need(r, 1))
        return 0;
    uint8_t v = r->p[0];
    r->p++;
    r->left--;
    return v;
}

bool jute_read_bool(struct jute_reader *r) { return jute_read_u8(r) != 0; }

int32_t jute_read_i32(struct jute_reader *r) {
    if (!jute_need(r, 4))
        return 0;
    uint32_t v = jute_be32(r->p);
    r->p += 4;
    r->left -= 4;
    return (int32_t)v;
}

int64_t jute_read_i64(struct jute_reader *r) {
    if (!jute_need(r, 8))
        return 0;
    uint64_t v = ((uint64_t)jute_be32(r->p) << 32) | jute_be32(r->p + 4);
    r->p += 8;
    r->left -= 8;
    return (int64_t)v;
}

struct jute_bytes jute_read_bytes(struct jute_reader *r, uint32_t max_len) {
    struct jute_bytes out = {NULL, -1};
    int32_t len = jute_read_i32(r);
    if (r->err)
        return out;
    if (len == -1)
        return out;
    if (len < -1 || (uint32_t)len > r->left || (uint32_t)len > max_len) {
        r->err = true;
        return out;
    }
    out.p = r->p;
    out.len = len;
    r->p += len;
    r->left -= (uint32_t)len;
    return out;
}

int32_t jute_read_count(struct jute_reader *r, uint32_t min_elem_bytes) {
    int32_t n = jute_read_i32(r);
    if (r->err)
        return 0;
    if (n == -1)
        return -1;
    if (n < -1 || (min_elem_bytes > 0 && (uint64_t)n * min_elem_bytes > r->left)) {
        r->err = true;
        return 0;
    }
    return n;
}

void jute_buf_init(struct jute_buf *b) {
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void jute_buf_deinit(struct jute_buf *b) {
    zk_free(b->p);
    jute_buf_init(b);
}

void jute_buf_reserve(struct jute_buf *b, uint32_t extra) {
    ZK_ASSERT(extra <= UINT32_MAX - b->len);
    uint32_t need = b->len + extra;
    if (need <= b->cap)
        return;
    uint32_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    b->p = zk_xrealloc(b->p, cap);
    b->cap = cap;
}

void jute_write_raw(struct jute_buf *b, const void *p, uint32_t len) {
    if (len == 0)
        return;
    jute_buf_reserve(b, len);
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

void jute_write_u8(struct jute_buf *b, uint8_t v) { jute_write_raw(b, &v, 1); }

void jute_write_bool(struct jute_buf *b, bool v) { jute_write_u8(b, v ? 1 : 0); }

void jute_write_i32(struct jute_buf *b, int32_t v) {
    uint32_t u = (uint32_t)v;
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    jute_write_raw(b, x, 4);
}

void jute_write_i64(struct jute_buf *b, int64_t v) {
    jute_write_i32(b, (int32_t)((uint64_t)v >> 32));
    jute_write_i32(b, (int32_t)((uint64_t)v & 0xffffffffu));
}

void jute_write_bytes(struct jute_buf *b, const void *p, int32_t len) {
    ZK_ASSERT(len >= -1);
    jute_write_i32(b, len);
    if (len > 0)
        jute_write_raw(b, p, (uint32_t)len);
}

void jute_write_cstr(struct jute_buf *b, const char *s) {
    if (s == NULL) {
        jute_write_i32(b, -1);
        return;
    }
    size_t n = strlen(s);
    ZK_ASSERT(n <= INT32_MAX);
    jute_write_bytes(b, s, (int32_t)n);
}

void jute_patch_i32(struct jute_buf *b, uint32_t offset, int32_t v) {
    ZK_ASSERT(offset <= b->len && b->len - offset >= 4);
    uint32_t u = (uint32_t)v;
    b->p[offset] = (uint8_t)(u >> 24);
    b->p[offset + 1] = (uint8_t)(u >> 16);
    b->p[offset + 2] = (uint8_t)(u >> 8);
    b->p[offset + 3] = (uint8_t)u;
}

void jute_buf_consume(struct jute_buf *b, uint32_t n) {
    ZK_ASSERT(n <= b->len);
    if (n == b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}
