/* fuzz_wal.c — wal_scan_buffer on arbitrary log file images (a damaged or hostile
 * dataDir). Properties: no crash; the valid prefix lies inside the image and ends on a
 * record boundary that rescans identically; every good record's payload goes through
 * txn_decode without leaks; TORN/CORRUPT report a damaged offset at the end of the
 * valid prefix, and CORRUPT names a later offset where a valid record starts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "base.h"
#include "mem.h"
#include "txn.h"
#include "wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_RECORD (2u * 1048575u)

static int fuzz_wal_record(void *ctx, uint64_t offset, const uint8_t *payload, uint32_t len) {
    uint32_t *n = ctx;
    ZK_ASSERT(offset >= WAL_HEADER_BYTES && len > 0);
    struct txn t;
    if (txn_decode(payload, len, &t) == 0)
        txn_deinit(&t);
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)acl_open_unsafe(); /* the shared list a decoded null ACL refers to */
    uint64_t base = zk_mem_bytes_in_use();
    struct wal_scan s;
    uint32_t seen = 0;
    ZK_ASSERT(wal_scan_buffer(data, size, FUZZ_MAX_RECORD, fuzz_wal_record, &seen, &s) == 0);
    ZK_ASSERT(zk_mem_bytes_in_use() == base);
    if (s.end == WAL_END_BAD_HEADER)
        return 0;
    ZK_ASSERT(s.records == seen);
    ZK_ASSERT(s.valid_bytes >= WAL_HEADER_BYTES && s.valid_bytes <= size);
    if (s.end == WAL_END_TORN || s.end == WAL_END_CORRUPT)
        ZK_ASSERT(s.bad_offset == s.valid_bytes);
    if (s.end == WAL_END_CORRUPT)
        ZK_ASSERT(s.next_good_offset > s.bad_offset && s.next_good_offset < size);
    /* the valid prefix alone scans clean with the same records */
    struct wal_scan again;
    ZK_ASSERT(wal_scan_buffer(data, s.valid_bytes, FUZZ_MAX_RECORD, NULL, NULL, &again) == 0);
    ZK_ASSERT(again.end == WAL_END_CLEAN && again.records == s.records);
    return 0;
}
