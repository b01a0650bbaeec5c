/* jute.h — ZooKeeper's jute binary encoding: a bounds-checked read cursor and a
 * growable write buffer. All integers are big-endian two's complement.
 *
 * Reader: every read checks the bytes left; on any violation the reader enters a
 * sticky error state (r->err = true) and returns zeros/NULLs, so a decoder can
 * read a whole record and check once. Strings and buffers are *borrowed* from the
 * input (valid as long as the input bytes are). Length -1 means null. */
#ifndef ZK_JUTE_H
#define ZK_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jute_reader {
    const uint8_t *p;
    uint32_t left;
    bool err;
};

/* A borrowed string or buffer. len == -1 means null (p == NULL). */
struct jute_bytes {
    const uint8_t *p;
    int32_t len;
};

void jute_reader_init(struct jute_reader *r, const void *p, uint32_t len);
uint8_t jute_read_u8(struct jute_reader *r);
bool jute_read_bool(struct jute_reader *r);
int32_t jute_read_i32(struct jute_reader *r);
int64_t jute_read_i64(struct jute_reader *r);
/* Reads a length-prefixed string/buffer; lengths < -1 or > the bytes left (or
 * > max_len) set the error state. */
struct jute_bytes jute_read_bytes(struct jute_reader *r, uint32_t max_len);
/* Reads a vector count; -1 (null) is returned as -1. A count that cannot fit in
 * the remaining bytes given min_elem_bytes per element sets the error state. */
int32_t jute_read_count(struct jute_reader *r, uint32_t min_elem_bytes);
bool jute_reader_ok(const struct jute_reader *r);

/* Growable output buffer. Owns its storage (jute_buf_deinit frees it). Appends
 * panic on OOM: replies are bounded by limits.h before they are built. */
struct jute_buf {
    uint8_t *p;
    uint32_t len;
    uint32_t cap;
};

void jute_buf_init(struct jute_buf *b);
void jute_buf_deinit(struct jute_buf *b);
void jute_buf_reserve(struct jute_buf *b, uint32_t extra);
void jute_write_u8(struct jute_buf *b, uint8_t v);
void jute_write_bool(struct jute_buf *b, bool v);
void jute_write_i32(struct jute_buf *b, int32_t v);
void jute_write_i64(struct jute_buf *b, int64_t v);
void jute_write_raw(struct jute_buf *b, const void *p, uint32_t len);
/* len -1 writes a null string/buffer. */
void jute_write_bytes(struct jute_buf *b, const void *p, int32_t len);
void jute_write_cstr(struct jute_buf *b, const char *s);
/* Overwrites 4 bytes at offset (used for frame lengths written after the body). */
void jute_patch_i32(struct jute_buf *b, uint32_t offset, int32_t v);
/* Drops the first n bytes (after a partial socket write). */
void jute_buf_consume(struct jute_buf *b, uint32_t n);

static inline uint32_t jute_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
