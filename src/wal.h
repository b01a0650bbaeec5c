/* wal.h — the transaction log in ZooKeeper's on-disk format (FileTxnLog).
 *
 * File `log.<first zxid, lowercase hex>` in dataDir/version-2:
 *   header  i32 magic 0x5A4B4C47 ("ZKLG") | i32 version 2 | i64 dbid 0     (16 bytes)
 *   record  i64 checksum | i32 len | len bytes payload | u8 0x42 ('B')
 * checksum = Adler-32 of the payload bytes only. payload = TxnHeader + txn record
 * (+ ZooKeeper 3.6+ appends a TxnDigest {i32 version, i64 digest}, which readers
 * skip). The file is pre-extended with zeros; a zero length marks the end.
 *
 * Reading distinguishes a torn tail from corruption: a record that fails its
 * checks is a torn tail (truncate there) unless a valid record follows it
 * anywhere later in the file, which means acknowledged data after the damage:
 * that is corruption, reported with the file offset, never silently dropped.
 *
 * This module does the file format and I/O only; it is not yet wired into the
 * server (issue 3 in progress). */
#ifndef ZK_WAL_H
#define ZK_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jute.h"

#define WAL_MAGIC 0x5A4B4C47
#define WAL_VERSION 2
#define WAL_HEADER_BYTES 16
#define WAL_RECORD_OVERHEAD 13 /* checksum 8 + length 4 + trailer 1 */
#define WAL_EOR 0x42

/* Appends one framed record for payload to b (checksum, length, payload, 'B'). */
void wal_encode_record(struct jute_buf *b, const uint8_t *payload, uint32_t len);
/* Appends the 16-byte file header. */
void wal_encode_header(struct jute_buf *b);

enum wal_end {
    WAL_END_CLEAN,   /* last record followed by end of file or zero padding */
    WAL_END_TORN,    /* a damaged record at the tail, nothing valid after it */
    WAL_END_CORRUPT, /* a damaged record with valid records after it */
    WAL_END_BAD_HEADER,
};

struct wal_scan {
    enum wal_end end;
    uint64_t valid_bytes;  /* offset just after the last good record */
    uint64_t bad_offset;   /* offset of the first damaged record (TORN/CORRUPT) */
    uint64_t next_good_offset; /* CORRUPT: where a valid record was found again */
    uint32_t records;
};

/* Called for each good record, in order; a non-zero return stops the scan
 * and is returned by wal_scan_buffer. payload is borrowed from data. */
typedef int wal_record_fn(void *ctx, uint64_t offset, const uint8_t *payload, uint32_t len);

/* Ranges [start[i], end[i]) of a file image, sorted and disjoint, known to read
 * as zeros without looking: the holes of a sparse file (lseek SEEK_HOLE). Log
 * files are preallocated sparse, and reading a hole of a mapped file makes the
 * kernel allocate and zero a page for it, so the scans below skip listed holes
 * instead of reading them. An unlisted hole is only slower. */
#define WAL_HOLES_MAX 16u
struct wal_holes {
    uint64_t start[WAL_HOLES_MAX];
    uint64_t end[WAL_HOLES_MAX];
    uint32_t count;
};

/* Scans a whole log file image. max_record bounds one payload (jute.maxbuffer
 * plus headroom). holes may be NULL. Returns 0 or the callback's non-zero value. */
int wal_scan_buffer(const uint8_t *data, uint64_t size, uint32_t max_record, wal_record_fn *fn,
                    void *ctx, struct wal_scan *out);
int wal_scan_image(const uint8_t *data, uint64_t size, const struct wal_holes *holes,
                   uint32_t max_record, wal_record_fn *fn, void *ctx, struct wal_scan *out);
const char *wal_end_name(enum wal_end end);
/* Is every byte of p[0..n) zero? (a page at a time; holes may be NULL) */
bool wal_all_zero(const uint8_t *p, uint64_t n);
bool wal_image_all_zero(const uint8_t *p, uint64_t n, const struct wal_holes *holes);

/* Log file names: "log.<hex>" <-> zxid. */
void wal_file_name(int64_t zxid, char *out, size_t cap);
bool wal_parse_file_name(const char *name, int64_t *zxid);

#endif
