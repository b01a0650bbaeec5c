#include "wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base.h"

void wal_encode_header(struct jute_buf *b) {
    jute_write_i32(b, WAL_MAGIC);
    jute_write_i32(b, WAL_VERSION);
    jute_write_i64(b, 0);
}

void wal_encode_record(struct jute_buf *b, const uint8_t *payload, uint32_t len) {
    ZK_ASSERT(len > 0 && len <= INT32_MAX);
    uLong sum = adler32(adler32(0L, Z_NULL, 0), payload, len);
    jute_write_i64(b, (int64_t)sum);
    jute_write_i32(b, (int32_t)len);
    jute_write_raw(b, payload, len);
    jute_write_u8(b, WAL_EOR);
}

static uint64_t wal_be64(const uint8_t *p) {
    return ((uint64_t)jute_be32(p) << 32) | jute_be32(p + 4);
}

/* Is there a whole, checksummed record at off? Sets *next past it. */
static bool wal_record_at(const uint8_t *data, uint64_t size, uint64_t off, uint32_t max_record,
                          uint32_t *len_out, uint64_t *next) {
    if (size - off < WAL_RECORD_OVERHEAD)
        return false;
    uint64_t sum = wal_be64(data + off);
    int32_t len = (int32_t)jute_be32(data + off + 8);
    if (len <= 0 || (uint32_t)len > max_record || size - off - 12 < (uint64_t)len + 1)
        return false;
    const uint8_t *payload = data + off + 12;
    if (payload[len] != WAL_EOR)
        return false;
    if (sum > 0xffffffffu || adler32(adler32(0L, Z_NULL, 0), payload, (uInt)len) != sum)
        return false;
    *len_out = (uint32_t)len;
    *next = off + 12 + (uint64_t)len + 1;
    return true;
}

/* Offset of the first non-zero byte in [from, to), or to. A page at a time
 * with memcmp: logs are preallocated, so recovery walks megabytes of zeros. */
static uint64_t wal_next_nonzero_in(const uint8_t *data, uint64_t from, uint64_t to) {
    uint64_t i = from;
    while (i < to && (i & 7) != 0 && data[i] == 0)
        i++;
    if (i < to && data[i] != 0)
        return i;
    static const uint8_t zero[4096];
    while (to - i >= sizeof(zero) && memcmp(data + i, zero, sizeof(zero)) == 0)
        i += sizeof(zero);
    while (i < to && data[i] == 0)
        i++;
    return i;
}

/* The same over [from, size), stepping over the listed holes unread. */
static uint64_t wal_next_nonzero(const uint8_t *data, uint64_t from, uint64_t size,
                                 const struct wal_holes *holes) {
    uint64_t i = from;
    uint32_t h = 0;
    uint32_t count = holes != NULL ? holes->count : 0;
    while (i < size) {
        while (h < count && holes->end[h] <= i)
            h++;
        if (h < count && holes->start[h] <= i) {
            i = holes->end[h]; /* inside a hole: zeros up to its end */
            continue;
        }
        uint64_t to = h < count && holes->start[h] < size ? holes->start[h] : size;
        uint64_t nz = wal_next_nonzero_in(data, i, to);
        if (nz < to)
            return nz;
        i = to;
    }
    return size;
}

bool wal_image_all_zero(const uint8_t *p, uint64_t n, const struct wal_holes *holes) {
    return wal_next_nonzero(p, 0, n, holes) == n;
}

bool wal_all_zero(const uint8_t *p, uint64_t n) { return wal_next_nonzero(p, 0, n, NULL) == n; }

int wal_scan_buffer(const uint8_t *data, uint64_t size, uint32_t max_record, wal_record_fn *fn,
                    void *ctx, struct wal_scan *out) {
    return wal_scan_image(data, size, NULL, max_record, fn, ctx, out);
}

int wal_scan_image(const uint8_t *data, uint64_t size, const struct wal_holes *holes,
                   uint32_t max_record, wal_record_fn *fn, void *ctx, struct wal_scan *out) {
    memset(out, 0, sizeof(*out));
    if (size < WAL_HEADER_BYTES || (int32_t)jute_be32(data) != WAL_MAGIC ||
        (int32_t)jute_be32(data + 4) != WAL_VERSION) {
        out->end = WAL_END_BAD_HEADER;
        return 0;
    }
    uint64_t off = WAL_HEADER_BYTES;
    for (;;) {
        out->valid_bytes = off;
        if (off == size || wal_all_zero(data + off, ZK_MIN(size - off, 12))) {
            /* end of file, or a zero length/checksum: end of the written part */
            if (wal_next_nonzero(data, off, size, holes) == size) {
                out->end = WAL_END_CLEAN;
                return 0;
            }
        }
        uint32_t len;
        uint64_t next;
        if (!wal_record_at(data, size, off, max_record, &len, &next))
            break;
        out->records++;
        if (fn != NULL) {
            int rc = fn(ctx, off, data + off + 12, len);
            if (rc != 0)
                return rc;
        }
        off = next;
    }
    /* A damaged record at off: torn tail unless a valid record appears later. */
    out->bad_offset = off;
    out->end = WAL_END_TORN;
    for (uint64_t at = off + 1; at + WAL_RECORD_OVERHEAD <= size; at++) {
        uint32_t len;
        uint64_t next;
        if (data[at] == 0 && wal_all_zero(data + at, ZK_MIN(size - at, 12))) {
            /* Zero padding cannot start a record. A record begins with its 8-byte
             * checksum, whose non-zero Adler-32 ends it, so a record after a zero
             * run starts at most 7 bytes before the run's first non-zero byte. */
            uint64_t nz = wal_next_nonzero(data, at, size, holes);
            if (nz >= size)
                break;
            if (nz > at + 8)
                at = nz - 8; /* the loop's at++ makes it nz - 7 */
            continue;
        }
        if (wal_record_at(data, size, at, max_record, &len, &next)) {
            out->end = WAL_END_CORRUPT;
            out->next_good_offset = at;
            break;
        }
    }
    return 0;
}

const char *wal_end_name(enum wal_end end) {
    switch (end) {
    case WAL_END_CLEAN:
        return "clean";
    case WAL_END_TORN:
        return "torn tail";
    case WAL_END_CORRUPT:
        return "corrupt";
    case WAL_END_BAD_HEADER:
        return "bad header";
    }
    return "?";
}

void wal_file_name(int64_t zxid, char *out, size_t cap) {
    snprintf(out, cap, "log.%" PRIx64, (uint64_t)zxid);
}

bool wal_parse_file_name(const char *name, int64_t *zxid) {
    if (strncmp(name, "log.", 4) != 0 || name[4] == '\0')
        return false;
    char *end = NULL;
    unsigned long long v = strtoull(name + 4, &end, 16);
    if (*end != '\0')
        return false;
    *zxid = (int64_t)v;
    return true;
}
