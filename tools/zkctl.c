/* zkctl.c — offline dump and verification of ZooKeeper data files: transaction
 * logs (log.<zxid>) and snapshots (snapshot.<zxid>) as Apache ZooKeeper 3.x and
 * zkd write them, one file at a time or a whole dataDir.
 *
 * It only reads. Every file is mapped read-only after an fstat size check
 * (ZKCTL_FILE_BYTES_MAX), every record is bounded by jute.maxbuffer plus
 * headroom (ZKCTL_RECORD_BYTES_MAX), and the parsing is the server's own
 * (wal_scan_buffer, txn_decode, snap_load), so what zkctl accepts is what
 * recovery accepts. The only format code here is a second, read-only walk over
 * a snapshot that snap_load has already accepted, so that `snap dump` prints
 * the file exactly (ACL cache refs, only the nodes the file holds).
 *
 * zxid continuity (ZAB): within an epoch the counter grows by one per txn and a
 * new epoch starts at counter 1 (the leader's counter-0 zxid is never logged).
 * So txn b may follow txn a iff b == a + 1, or epoch(b) > epoch(a) and
 * counter(b) == 1. Anything else is a gap, or an overlap when b <= a.
 *
 * Exit status: 0 fine (warnings allowed), 1 a problem was found (damage, a zxid
 * gap, an unreadable file; the message names the file and the byte offset),
 * 2 usage error. Known limitation: a file truncated by another process while it
 * is mapped raises SIGBUS; run zkctl on files no server is truncating. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "acl.h"
#include "base.h"
#include "err.h"
#include "jute.h"
#include "limits.h"
#include "mem.h"
#include "session.h"
#include "snap.h"
#include "tree.h"
#include "txn.h"
#include "wal.h"

#define ZKCTL_EXIT_OK 0
#define ZKCTL_EXIT_PROBLEM 1
#define ZKCTL_EXIT_USAGE 2

/* A logged payload may exceed jute.maxbuffer a little: prep expands the request
 * (auth ACLs become ids, the TxnHeader, the 3.6+ TxnDigest), and ZooKeeper reads
 * with jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize. Twice the default is
 * ample headroom (and matches the unit tests of wal and snap). */
#define ZKCTL_RECORD_BYTES_MAX (2u * ZK_LIMIT_FRAME_BYTES_DEFAULT)
/* snap_load reads at most 4 GiB; ZooKeeper pre-extends logs in 64 MiB steps
 * (preAllocSize), so this only refuses files that are not data files. */
#define ZKCTL_FILE_BYTES_MAX ((uint64_t)UINT32_MAX)
#define ZKCTL_PREVIEW_BYTES 32
#define ZKCTL_MSG_LEN 512
/* A directory path plus "/version-2/" plus a file name. */
#define ZKCTL_PATH_LEN 4096

_Static_assert(ZKCTL_RECORD_BYTES_MAX > ZK_LIMIT_FRAME_BYTES_DEFAULT, "record bound has headroom");
_Static_assert(ZKCTL_FILE_BYTES_MAX <= UINT32_MAX, "snap_load reads at most 4 GiB");

/* ---- Reporting ---- */

/* Problems found in one command. Verify commands print them to stdout as part
 * of their report; dump commands print them to stderr next to the dump. */
struct zkctl_report {
    FILE *out;
    bool strict; /* a torn tail is an error, not a warning */
    uint32_t errors;
    uint32_t warnings;
};

static void zkctl_problem(struct zkctl_report *r, bool is_error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void zkctl_problem(struct zkctl_report *r, bool is_error, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs(is_error ? "ERROR: " : "WARNING: ", r->out);
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    if (is_error)
        r->errors++;
    else
        r->warnings++;
}

static int zkctl_exit_status(const struct zkctl_report *r) {
    return r->errors > 0 ? ZKCTL_EXIT_PROBLEM : ZKCTL_EXIT_OK;
}

static const char *zkctl_basename(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* ---- Files ---- */

static const uint8_t zkctl_empty[1];

/* A data file mapped read-only. data is never NULL (an empty file maps to a
 * static empty buffer), so parsers need no special case. */
struct zkctl_file {
    void *map; /* the mapping, or NULL for an empty file */
    const uint8_t *data;
    uint64_t size;
};

/* Maps path read-only after checking it is a regular file within the size
 * bound. Returns false with "path: reason" in err. */
static bool zkctl_file_open(struct zkctl_file *f, const char *path, char *err, size_t errlen) {
    ZK_ASSERT(path != NULL);
    ZK_ASSERT(errlen > 0);
    memset(f, 0, sizeof(*f));
    f->data = zkctl_empty;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    bool ok = false;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
    } else if ((uint64_t)st.st_size > ZKCTL_FILE_BYTES_MAX) {
        snprintf(err, errlen, "%s: %" PRIu64 " bytes is more than the %" PRIu64
                 " bytes zkctl reads", path, (uint64_t)st.st_size, ZKCTL_FILE_BYTES_MAX);
    } else if (st.st_size == 0) {
        ok = true;
    } else {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        } else {
            f->map = p;
            f->data = p;
            f->size = (uint64_t)st.st_size;
            ok = true;
        }
    }
    close(fd);
    return ok;
}

static void zkctl_file_close(struct zkctl_file *f) {
    if (f->map != NULL)
        munmap(f->map, (size_t)f->size);
    memset(f, 0, sizeof(*f));
}

static uint64_t zkctl_be64(const uint8_t *p) {
    return ((uint64_t)jute_be32(p) << 32) | jute_be32(p + 4);
}

/* ---- Formatting ---- */

/* ISO-8601 UTC with milliseconds; raw milliseconds if the year is out of range. */
static void zkctl_format_time(int64_t ms, char *out, size_t cap) {
    int64_t secs = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t tt = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        snprintf(out, cap, "%" PRId64 "ms", ms);
        return;
    }
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
}

/* Paths keep UTF-8 as is; bytes that would break the one-line-per-record
 * layout (controls, space, backslash) are escaped as \xNN. */
static void zkctl_print_path(const char *p, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c <= 0x20 || c == 0x7f || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

/* Data preview: the first ZKCTL_PREVIEW_BYTES bytes, printable ASCII kept,
 * everything else escaped, in double quotes; "..." marks a longer value. */
static void zkctl_print_preview(const uint8_t *p, int32_t len) {
    if (len < 0) {
        fputs("null", stdout);
        return;
    }
    uint32_t n = ZK_MIN((uint32_t)len, ZKCTL_PREVIEW_BYTES);
    putchar('"');
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    putchar('"');
    if ((uint32_t)len > n)
        fputs("...", stdout);
}

static void zkctl_print_data_len(int32_t len) {
    if (len < 0)
        fputs(" data=null", stdout);
    else
        printf(" data=%" PRId32, len);
}

/* ZooKeeper's permission letters in zkCli's order: c d r w a. */
static void zkctl_print_perms(int32_t perms) {
    static const struct {
        int32_t bit;
        char letter;
    } letters[] = {{ACL_CREATE, 'c'}, {ACL_DELETE, 'd'}, {ACL_READ, 'r'}, {ACL_WRITE, 'w'},
                   {ACL_ADMIN, 'a'}};
    for (size_t i = 0; i < ZK_ARRAY_LEN(letters); i++) {
        if (perms & letters[i].bit)
            putchar(letters[i].letter);
    }
    if ((perms & ~ACL_ALL) != 0)
        printf("+0x%" PRIx32, (uint32_t)(perms & ~ACL_ALL));
}

/* "[scheme:id:perms,...]" */
static void zkctl_print_acl(const struct acl_list *acl) {
    putchar('[');
    for (uint32_t i = 0; acl != NULL && i < acl->count; i++) {
        if (i > 0)
            putchar(',');
        zkctl_print_path(acl->e[i].scheme, (uint32_t)strlen(acl->e[i].scheme));
        putchar(':');
        zkctl_print_path(acl->e[i].id, (uint32_t)strlen(acl->e[i].id));
        putchar(':');
        zkctl_print_perms(acl->e[i].perms);
    }
    putchar(']');
}

static const char *zkctl_type_name(int32_t type) {
    switch (type) {
    case TXN_ERROR: return "error";
    case TXN_CREATE: return "create";
    case TXN_DELETE: return "delete";
    case TXN_SET_DATA: return "setData";
    case TXN_SET_ACL: return "setACL";
    case TXN_CHECK: return "check";
    case TXN_MULTI: return "multi";
    case TXN_CREATE2: return "create2";
    case TXN_CREATE_CONTAINER: return "createContainer";
    case TXN_DELETE_CONTAINER: return "deleteContainer";
    case TXN_CREATE_TTL: return "createTTL";
    case TXN_CREATE_SESSION: return "createSession";
    case TXN_CLOSE_SESSION: return "closeSession";
    case 16: return "reconfig"; /* logged by ZooKeeper; txn_decode does not read it */
    default: return NULL;
    }
}

/* The type's name, or "type<N>" for a number zkctl does not know. */
static const char *zkctl_type_label(int32_t type, char *buf, size_t cap) {
    const char *name = zkctl_type_name(type);
    if (name != NULL)
        return name;
    snprintf(buf, cap, "type%" PRId32, type);
    return buf;
}

/* ---- zxid continuity ---- */

static bool zkctl_zxid_follows(int64_t prev, int64_t next) {
    if ((uint64_t)next == (uint64_t)prev + 1)
        return true;
    return ZXID_EPOCH(next) > ZXID_EPOCH(prev) && ZXID_COUNTER(next) == 1;
}

/* Returns false if next may follow prev; otherwise true with the reason. */
static bool zkctl_step_problem(int64_t prev, int64_t next, char *out, size_t cap) {
    if (zkctl_zxid_follows(prev, next))
        return false;
    if (next <= prev) {
        snprintf(out, cap, "zxid 0x%" PRIx64 " does not increase after 0x%" PRIx64,
                 (uint64_t)next, (uint64_t)prev);
    } else if (ZXID_EPOCH(next) == ZXID_EPOCH(prev) && (uint64_t)next == (uint64_t)prev + 2) {
        snprintf(out, cap, "gap: zxid 0x%" PRIx64 " follows 0x%" PRIx64 " (missing 0x%" PRIx64
                 ")", (uint64_t)next, (uint64_t)prev, (uint64_t)prev + 1);
    } else if (ZXID_EPOCH(next) == ZXID_EPOCH(prev)) {
        snprintf(out, cap, "gap: zxid 0x%" PRIx64 " follows 0x%" PRIx64 " (missing 0x%" PRIx64
                 "-0x%" PRIx64 ")", (uint64_t)next, (uint64_t)prev, (uint64_t)prev + 1,
                 (uint64_t)next - 1);
    } else {
        snprintf(out, cap, "gap: zxid 0x%" PRIx64 " opens epoch %" PRIu32 " after 0x%" PRIx64
                 ", but a new epoch starts at counter 1", (uint64_t)next, ZXID_EPOCH(next),
                 (uint64_t)prev);
    }
    return true;
}

/* ---- Transaction logs ---- */

/* What one log file holds, filled by zkctl_log_check. */
struct zkctl_log {
    const char *path; /* borrowed: argv, or owned by the dir listing */
    bool has_name_zxid;
    int64_t name_zxid;
    struct wal_scan scan;
    uint32_t records; /* framed records whose TxnHeader was readable */
    int64_t first_zxid;
    int64_t last_zxid;
};

struct zkctl_walk {
    struct zkctl_log *log;
    struct zkctl_report *rep;
    bool dump;   /* print every txn */
    bool checks; /* report zxid order problems */
};

static void zkctl_print_op_summary(const struct txn_op *op) {
    switch (op->type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL:
        zkctl_print_data_len(op->data_len);
        printf(" acl=%" PRIu32, op->acl != NULL ? op->acl->count : 0);
        if (op->type == TXN_CREATE || op->type == TXN_CREATE2)
            printf(" ephemeral=%s", op->ephemeral ? "yes" : "no");
        printf(" parent_cversion=%" PRId32, op->parent_cversion);
        if (op->type == TXN_CREATE_TTL)
            printf(" ttl=%" PRId64, op->ttl);
        break;
    case TXN_SET_DATA:
        zkctl_print_data_len(op->data_len);
        printf(" version=%" PRId32, op->version);
        break;
    case TXN_SET_ACL:
        printf(" acl=%" PRIu32 " version=%" PRId32, op->acl != NULL ? op->acl->count : 0,
               op->version);
        break;
    case TXN_CHECK:
        printf(" version=%" PRId32, op->version);
        break;
    case TXN_CREATE_SESSION:
        printf(" timeout=%" PRId32, op->timeout_ms);
        break;
    case TXN_CLOSE_SESSION:
        printf(" ephemerals=%" PRIu32, op->path_count);
        break;
    case TXN_ERROR:
        printf(" err=%" PRId32 " (%s)", op->err, zoo_rc_name(op->err));
        break;
    default:
        break; /* delete, deleteContainer: the path says it all */
    }
}

/* "type path summary" of one op (a txn body or a multi sub-op). */
static void zkctl_print_op(const struct txn_op *op) {
    char label[32];
    fputs(zkctl_type_label(op->type, label, sizeof(label)), stdout);
    putchar(' ');
    if (op->path != NULL)
        zkctl_print_path(op->path, op->path_len);
    else
        putchar('-');
    zkctl_print_op_summary(op);
}

/* One line per txn: zxid time session cxid type path summary; multi sub-ops and
 * the ephemerals a closeSession deletes follow on indented lines. */
static void zkctl_print_txn(const struct txn *t) {
    char when[64];
    zkctl_format_time(t->time_ms, when, sizeof(when));
    printf("0x%" PRIx64 " %s 0x%" PRIx64 " %" PRId32 " ", (uint64_t)t->zxid, when,
           (uint64_t)t->client_id, t->cxid);
    if (t->type != TXN_MULTI) {
        zkctl_print_op(&t->op);
        putchar('\n');
        for (uint32_t i = 0; i < t->op.path_count; i++) {
            fputs("    ephemeral ", stdout);
            zkctl_print_path(t->op.paths[i], (uint32_t)strlen(t->op.paths[i]));
            putchar('\n');
        }
        return;
    }
    printf("multi - ops=%" PRIu32 "\n", t->op_count);
    for (uint32_t i = 0; i < t->op_count; i++) {
        fputs("    ", stdout);
        zkctl_print_op(&t->ops[i]);
        putchar('\n');
    }
}

/* The TxnHeader of a payload, read independently of txn_decode so that an
 * undecodable body still has a zxid for the order checks. */
struct zkctl_txn_header {
    int64_t client_id;
    int32_t cxid;
    int64_t zxid;
    int64_t time_ms;
    int32_t type;
};

static bool zkctl_read_txn_header(const uint8_t *p, uint32_t len, struct zkctl_txn_header *h) {
    struct jute_reader r;
    jute_reader_init(&r, p, len);
    h->client_id = jute_read_i64(&r);
    h->cxid = jute_read_i32(&r);
    h->zxid = jute_read_i64(&r);
    h->time_ms = jute_read_i64(&r);
    h->type = jute_read_i32(&r);
    return jute_reader_ok(&r);
}

static void zkctl_print_undecodable(const struct zkctl_txn_header *h, bool has_header,
                                    uint32_t len) {
    if (!has_header) {
        printf("? - - - ? - UNDECODABLE len=%" PRIu32 "\n", len);
        return;
    }
    char when[64];
    zkctl_format_time(h->time_ms, when, sizeof(when));
    char label[32];
    printf("0x%" PRIx64 " %s 0x%" PRIx64 " %" PRId32 " %s - UNDECODABLE len=%" PRIu32 "\n",
           (uint64_t)h->zxid, when, (uint64_t)h->client_id, h->cxid,
           zkctl_type_label(h->type, label, sizeof(label)), len);
}

/* Order checks for the record at offset with this zxid (before it is counted). */
static void zkctl_check_order(struct zkctl_walk *w, uint64_t offset, int64_t zxid) {
    struct zkctl_log *lg = w->log;
    if (!w->checks)
        return;
    if (lg->records == 0) {
        if (lg->has_name_zxid && zxid != lg->name_zxid)
            zkctl_problem(w->rep, true,
                          "%s: offset %" PRIu64 ": first txn has zxid 0x%" PRIx64
                          " but the file name says 0x%" PRIx64,
                          lg->path, offset, (uint64_t)zxid, (uint64_t)lg->name_zxid);
        return;
    }
    char why[ZKCTL_MSG_LEN];
    if (zkctl_step_problem(lg->last_zxid, zxid, why, sizeof(why)))
        zkctl_problem(w->rep, true, "%s: offset %" PRIu64 ": %s", lg->path, offset, why);
}

/* wal_scan_buffer callback: decode, print, check order; never stops the scan. */
static int zkctl_walk_record(void *ctx, uint64_t offset, const uint8_t *payload, uint32_t len) {
    struct zkctl_walk *w = ctx;
    struct zkctl_log *lg = w->log;
    ZK_ASSERT(len > 0);
    struct zkctl_txn_header h;
    bool has_header = zkctl_read_txn_header(payload, len, &h);
    struct txn t;
    int rc = txn_decode(payload, len, &t);
    if (rc == ZK_OK) {
        ZK_ASSERT(has_header && t.zxid == h.zxid);
        if (w->dump)
            zkctl_print_txn(&t);
        txn_deinit(&t);
    } else {
        if (w->dump)
            zkctl_print_undecodable(&h, has_header, len);
        char label[32];
        zkctl_problem(w->rep, true,
                      "%s: offset %" PRIu64 ": payload of %" PRIu32 " bytes does not decode as "
                      "%s: %s", lg->path, offset, len,
                      has_header ? zkctl_type_label(h.type, label, sizeof(label)) : "a TxnHeader",
                      zk_strerror(rc));
    }
    if (!has_header)
        return 0;
    zkctl_check_order(w, offset, h.zxid);
    if (lg->records == 0)
        lg->first_zxid = h.zxid;
    lg->last_zxid = h.zxid;
    lg->records++;
    return 0;
}

/* Why the record at off failed wal_scan_buffer's checks (for the message). */
static void zkctl_record_damage(const struct zkctl_file *f, uint64_t off, char *out, size_t cap) {
    ZK_ASSERT(off >= WAL_HEADER_BYTES && off <= f->size);
    uint64_t left = f->size - off;
    if (left < WAL_RECORD_OVERHEAD) {
        snprintf(out, cap, "only %" PRIu64 " bytes left, less than a record frame", left);
        return;
    }
    const uint8_t *p = f->data + off;
    uint64_t sum = zkctl_be64(p);
    int32_t len = (int32_t)jute_be32(p + 8);
    if (len <= 0 || (uint32_t)len > ZKCTL_RECORD_BYTES_MAX) {
        snprintf(out, cap, "record length %" PRId32 " is outside 1..%u", len,
                 ZKCTL_RECORD_BYTES_MAX);
    } else if (left - 12 < (uint64_t)len + 1) {
        snprintf(out, cap, "record length %" PRId32 " runs past the end of the file (%" PRIu64
                 " bytes left)", len, left - 12);
    } else if (p[12 + len] != WAL_EOR) {
        snprintf(out, cap, "end-of-record byte is 0x%02x, not 0x42 ('B')", p[12 + len]);
    } else {
        uLong want = adler32(adler32(0L, Z_NULL, 0), p + 12, (uInt)len);
        snprintf(out, cap, "Adler-32 mismatch: stored 0x%" PRIx64 ", computed 0x%lx", sum,
                 (unsigned long)want);
    }
}

static void zkctl_report_bad_header(const struct zkctl_log *lg, const struct zkctl_file *f,
                                    struct zkctl_report *rep) {
    if (f->size < WAL_HEADER_BYTES) {
        zkctl_problem(rep, true, "%s: offset 0: bad header: the file is %" PRIu64
                      " bytes, shorter than the %d-byte log header", lg->path, f->size,
                      WAL_HEADER_BYTES);
        return;
    }
    uint32_t magic = jute_be32(f->data);
    int32_t version = (int32_t)jute_be32(f->data + 4);
    if (magic != WAL_MAGIC)
        zkctl_problem(rep, true, "%s: offset 0: bad header: magic 0x%08" PRIx32
                      " is not ZKLG (0x%08x): not a ZooKeeper txn log", lg->path, magic,
                      WAL_MAGIC);
    else
        zkctl_problem(rep, true, "%s: offset 4: bad header: version %" PRId32 " is not %d",
                      lg->path, version, WAL_VERSION);
}

/* Reports how the scan ended: torn tail (warning unless strict), corruption
 * and bad header (errors). */
static void zkctl_report_end(const struct zkctl_log *lg, const struct zkctl_file *f,
                             struct zkctl_report *rep) {
    char why[ZKCTL_MSG_LEN];
    switch (lg->scan.end) {
    case WAL_END_CLEAN:
        break;
    case WAL_END_BAD_HEADER:
        zkctl_report_bad_header(lg, f, rep);
        break;
    case WAL_END_TORN:
        zkctl_record_damage(f, lg->scan.bad_offset, why, sizeof(why));
        zkctl_problem(rep, rep->strict, "%s: offset %" PRIu64 ": torn tail: %s; nothing valid "
                      "follows (ZooKeeper stops reading here)", lg->path, lg->scan.bad_offset,
                      why);
        break;
    case WAL_END_CORRUPT:
        zkctl_record_damage(f, lg->scan.bad_offset, why, sizeof(why));
        zkctl_problem(rep, true, "%s: offset %" PRIu64 ": CORRUPT record: %s, yet a valid "
                      "record follows at offset %" PRIu64 " (damage, not a torn tail)",
                      lg->path, lg->scan.bad_offset, why, lg->scan.next_good_offset);
        break;
    }
}

static void zkctl_print_log_header(const struct zkctl_log *lg, const struct zkctl_file *f) {
    printf("log %s: %" PRIu64 " bytes", lg->path, f->size);
    if (f->size >= WAL_HEADER_BYTES)
        printf(", magic 0x%08" PRIx32 ", version %" PRId32 ", dbid %" PRId64,
               jute_be32(f->data), (int32_t)jute_be32(f->data + 4),
               (int64_t)zkctl_be64(f->data + 8));
    if (lg->has_name_zxid)
        printf(", name zxid 0x%" PRIx64, (uint64_t)lg->name_zxid);
    putchar('\n');
}

static void zkctl_print_log_trailer(const struct zkctl_log *lg) {
    printf("end: %" PRIu32 " records", lg->records);
    if (lg->records > 0)
        printf(", zxid 0x%" PRIx64 "-0x%" PRIx64, (uint64_t)lg->first_zxid,
               (uint64_t)lg->last_zxid);
    switch (lg->scan.end) {
    case WAL_END_CLEAN:
        printf(", clean\n");
        break;
    case WAL_END_TORN:
        printf(", torn tail at offset %" PRIu64 "\n", lg->scan.bad_offset);
        break;
    case WAL_END_CORRUPT:
        printf(", CORRUPT at offset %" PRIu64 "\n", lg->scan.bad_offset);
        break;
    case WAL_END_BAD_HEADER:
        printf(", bad header\n");
        break;
    }
}

/* One line per checked log in verify reports. */
static void zkctl_print_log_line(const struct zkctl_log *lg) {
    printf("log %s: %" PRIu32 " records", lg->path, lg->records);
    if (lg->records > 0)
        printf(", zxid 0x%" PRIx64 "-0x%" PRIx64, (uint64_t)lg->first_zxid,
               (uint64_t)lg->last_zxid);
    printf(", %s\n", wal_end_name(lg->scan.end));
}

/* Maps and scans one log: header, every record's frame (via wal_scan_buffer),
 * every payload's decoding and, when checking, the zxid order inside the file
 * and against the file name. Returns false if the file could not be read. */
static bool zkctl_log_check(struct zkctl_log *lg, struct zkctl_report *rep, bool dump) {
    ZK_ASSERT(lg->path != NULL);
    char err[ZKCTL_MSG_LEN];
    struct zkctl_file f;
    lg->has_name_zxid = wal_parse_file_name(zkctl_basename(lg->path), &lg->name_zxid);
    if (!zkctl_file_open(&f, lg->path, err, sizeof(err))) {
        zkctl_problem(rep, true, "%s", err);
        return false;
    }
    if (dump)
        zkctl_print_log_header(lg, &f);
    struct zkctl_walk w = {.log = lg, .rep = rep, .dump = dump, .checks = !dump};
    int rc = wal_scan_buffer(f.data, f.size, ZKCTL_RECORD_BYTES_MAX, zkctl_walk_record, &w,
                             &lg->scan);
    ZK_ASSERT(rc == 0); /* the callback never stops the scan */
    ZK_ASSERT(lg->records <= lg->scan.records);
    if (dump) {
        fflush(stdout);
        zkctl_print_log_trailer(lg);
    }
    zkctl_report_end(lg, &f, rep);
    zkctl_file_close(&f);
    return true;
}

static int64_t zkctl_log_key(const struct zkctl_log *lg) {
    if (lg->has_name_zxid)
        return lg->name_zxid;
    return lg->records > 0 ? lg->first_zxid : INT64_MAX;
}

static int zkctl_log_compare(const void *a, const void *b) {
    const struct zkctl_log *x = a;
    const struct zkctl_log *y = b;
    int64_t kx = zkctl_log_key(x);
    int64_t ky = zkctl_log_key(y);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Continuity across files sorted by zxid: each file's first zxid must follow
 * the previous non-empty file's last. */
static void zkctl_logs_check_chain(const struct zkctl_log *logs, uint32_t n,
                                   struct zkctl_report *rep) {
    const struct zkctl_log *prev = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const struct zkctl_log *lg = &logs[i];
        if (lg->records == 0)
            continue;
        char why[ZKCTL_MSG_LEN];
        if (prev != NULL && zkctl_step_problem(prev->last_zxid, lg->first_zxid, why, sizeof(why)))
            zkctl_problem(rep, true, "%s: offset %d: %s (the previous file %s ends at 0x%" PRIx64
                          ")", lg->path, WAL_HEADER_BYTES, why, prev->path,
                          (uint64_t)prev->last_zxid);
        prev = lg;
    }
}

/* Totals over the given logs for the summary line. */
static void zkctl_logs_totals(const struct zkctl_log *logs, uint32_t n, uint64_t *records,
                              int64_t *first, int64_t *last) {
    *records = 0;
    *first = INT64_MAX;
    *last = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        if (logs[i].records == 0)
            continue;
        *records += logs[i].records;
        *first = ZK_MIN(*first, logs[i].first_zxid);
        *last = ZK_MAX(*last, logs[i].last_zxid);
    }
}

static void zkctl_print_zxid_range(uint64_t records, int64_t first, int64_t last) {
    if (records > 0)
        printf(", zxid 0x%" PRIx64 "-0x%" PRIx64, (uint64_t)first, (uint64_t)last);
}

static void zkctl_print_verdict(const struct zkctl_report *rep) {
    if (rep->errors > 0)
        printf("FAILED: %" PRIu32 " error%s, %" PRIu32 " warning%s\n", rep->errors,
               rep->errors == 1 ? "" : "s", rep->warnings, rep->warnings == 1 ? "" : "s");
}

static int zkctl_cmd_log_dump(const char *path) {
    struct zkctl_report rep = {.out = stderr};
    struct zkctl_log lg = {.path = path};
    zkctl_log_check(&lg, &rep, true);
    return zkctl_exit_status(&rep);
}

static int zkctl_cmd_log_verify(char *const *paths, uint32_t n, bool strict) {
    ZK_ASSERT(n > 0);
    struct zkctl_report rep = {.out = stdout, .strict = strict};
    struct zkctl_log *logs = zk_xcalloc(n, sizeof(*logs));
    for (uint32_t i = 0; i < n; i++) {
        logs[i].path = paths[i];
        if (zkctl_log_check(&logs[i], &rep, false))
            zkctl_print_log_line(&logs[i]);
    }
    qsort(logs, n, sizeof(*logs), zkctl_log_compare);
    zkctl_logs_check_chain(logs, n, &rep);
    uint64_t records;
    int64_t first, last;
    zkctl_logs_totals(logs, n, &records, &first, &last);
    if (rep.errors == 0) {
        printf("OK: %" PRIu64 " records", records);
        zkctl_print_zxid_range(records, first, last);
        if (rep.warnings > 0)
            printf(" (%" PRIu32 " warning%s)", rep.warnings, rep.warnings == 1 ? "" : "s");
        putchar('\n');
    }
    zkctl_print_verdict(&rep);
    zk_free(logs);
    return zkctl_exit_status(&rep);
}

/* ---- Snapshots ---- */


/* Loads an image with the server's loader into t and s, which are initialised
 * here and must be released with zkctl_snap_unload even on failure. */
static bool zkctl_snap_load(const struct zkctl_file *f, struct tree *t, struct session_table *s,
                            struct snap_info *info, char *err, size_t errlen) {
    ZK_ASSERT(f->data != NULL);
    ZK_ASSERT(errlen > 0);
    tree_init(t);
    session_table_init(s, 1000, 0, 0);
    err[0] = '\0';
    int rc = snap_load(f->data, f->size, ZKCTL_RECORD_BYTES_MAX, t, s, 0, info, err, errlen);
    if (rc != ZK_OK && err[0] == '\0')
        snprintf(err, errlen, "%s", zk_strerror(rc));
    return rc == ZK_OK;
}

static void zkctl_snap_unload(struct tree *t, struct session_table *s) {
    session_table_deinit(s);
    tree_deinit(t);
}

/* The image as the file holds it, for `snap dump`. Strings and data borrow
 * from the mapping; the ACL lists are owned (one reference each). */
struct zkctl_snap_session {
    int64_t id;
    int32_t timeout_ms;
};

struct zkctl_snap_acl {
    int64_t ref;
    struct acl_list *acl;
};

struct zkctl_snap_node {
    const char *path; /* "/" for the root, which the file stores as "" */
    uint32_t path_len;
    const uint8_t *data;
    int32_t data_len;
    int64_t acl_ref;
    struct tree_stat st;
    uint32_t children;
};

struct zkctl_snap_image {
    int64_t dbid;
    struct zkctl_snap_session *sessions;
    uint32_t session_count;
    struct zkctl_snap_acl *acls;
    uint32_t acl_count;
    struct zkctl_snap_node *nodes;
    uint32_t node_count;
    uint32_t node_cap;
};

static void zkctl_snap_image_free(struct zkctl_snap_image *im) {
    for (uint32_t i = 0; i < im->acl_count; i++)
        acl_unref(im->acls[i].acl);
    zk_free(im->acls);
    zk_free(im->sessions);
    zk_free(im->nodes);
    memset(im, 0, sizeof(*im));
}

static bool zkctl_snap_read_sessions(struct jute_reader *r, struct zkctl_snap_image *im) {
    int32_t n = jute_read_count(r, 12);
    if (!jute_reader_ok(r) || n < 0)
        return false;
    im->sessions = zk_calloc((size_t)n + 1, sizeof(*im->sessions));
    if (im->sessions == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        im->sessions[i].id = jute_read_i64(r);
        im->sessions[i].timeout_ms = jute_read_i32(r);
    }
    im->session_count = (uint32_t)n;
    return jute_reader_ok(r);
}

static bool zkctl_snap_read_acls(struct jute_reader *r, struct zkctl_snap_image *im) {
    int32_t n = jute_read_count(r, 12);
    if (!jute_reader_ok(r) || n < 0)
        return false;
    im->acls = zk_calloc((size_t)n + 1, sizeof(*im->acls));
    if (im->acls == NULL)
        return false;
    for (int32_t i = 0; i < n; i++) {
        int64_t ref = jute_read_i64(r);
        struct acl_list *acl = NULL;
        if (!jute_reader_ok(r) || acl_decode(r, &acl) != ZK_OK || acl == NULL) {
            acl_unref(acl);
            return false;
        }
        im->acls[im->acl_count].ref = ref;
        im->acls[im->acl_count].acl = acl;
        im->acl_count++;
    }
    return true;
}

static struct zkctl_snap_node *zkctl_snap_add_node(struct zkctl_snap_image *im) {
    if (im->node_count == im->node_cap) {
        uint32_t cap = im->node_cap ? im->node_cap * 2 : 64;
        struct zkctl_snap_node *n = zk_realloc(im->nodes, (size_t)cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        im->nodes = n;
        im->node_cap = cap;
    }
    struct zkctl_snap_node *node = &im->nodes[im->node_count++];
    memset(node, 0, sizeof(*node));
    return node;
}

static bool zkctl_snap_read_nodes(struct jute_reader *r, struct zkctl_snap_image *im) {
    for (;;) {
        struct jute_bytes path = jute_read_bytes(r, ZKCTL_RECORD_BYTES_MAX);
        if (!jute_reader_ok(r) || path.len < 0)
            return false;
        if (path.len == 1 && path.p[0] == '/')
            return true; /* end of nodes */
        struct jute_bytes data = jute_read_bytes(r, ZKCTL_RECORD_BYTES_MAX);
        struct zkctl_snap_node *n = zkctl_snap_add_node(im);
        if (n == NULL)
            return false;
        n->path = path.len == 0 ? "/" : (const char *)path.p;
        n->path_len = path.len == 0 ? 1 : (uint32_t)path.len;
        n->data = data.p;
        n->data_len = data.len;
        n->acl_ref = jute_read_i64(r);
        n->st.czxid = jute_read_i64(r);
        n->st.mzxid = jute_read_i64(r);
        n->st.ctime = jute_read_i64(r);
        n->st.mtime = jute_read_i64(r);
        n->st.version = jute_read_i32(r);
        n->st.cversion = jute_read_i32(r);
        n->st.aversion = jute_read_i32(r);
        n->st.ephemeral_owner = jute_read_i64(r);
        n->st.pzxid = jute_read_i64(r);
        if (!jute_reader_ok(r))
            return false;
    }
}

static int zkctl_path_compare(const char *a, uint32_t alen, const char *b, uint32_t blen) {
    int c = memcmp(a, b, ZK_MIN(alen, blen));
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int zkctl_snap_node_compare(const void *a, const void *b) {
    const struct zkctl_snap_node *x = a;
    const struct zkctl_snap_node *y = b;
    return zkctl_path_compare(x->path, x->path_len, y->path, y->path_len);
}

/* Sorts the nodes by path and counts each node's children in the file. */
static void zkctl_snap_sort_nodes(struct zkctl_snap_image *im) {
    qsort(im->nodes, im->node_count, sizeof(*im->nodes), zkctl_snap_node_compare);
    for (uint32_t i = 0; i < im->node_count; i++) {
        const struct zkctl_snap_node *n = &im->nodes[i];
        if (n->path_len <= 1)
            continue; /* the root */
        uint32_t cut = n->path_len - 1;
        while (cut > 0 && n->path[cut] != '/')
            cut--;
        struct zkctl_snap_node key = {.path = n->path, .path_len = cut == 0 ? 1 : cut};
        struct zkctl_snap_node *parent = bsearch(&key, im->nodes, im->node_count,
                                                 sizeof(*im->nodes), zkctl_snap_node_compare);
        if (parent != NULL)
            parent->children++;
    }
}

/* Walks an image snap_load accepted: header, sessions, ACL cache, nodes. */
static bool zkctl_snap_image_read(const struct zkctl_file *f, struct zkctl_snap_image *im) {
    ZK_ASSERT(f->size <= UINT32_MAX);
    memset(im, 0, sizeof(*im));
    struct jute_reader r;
    jute_reader_init(&r, f->data, (uint32_t)f->size);
    (void)jute_read_i32(&r); /* magic and version: checked by snap_load */
    (void)jute_read_i32(&r);
    im->dbid = jute_read_i64(&r);
    if (!zkctl_snap_read_sessions(&r, im) || !zkctl_snap_read_acls(&r, im) ||
        !zkctl_snap_read_nodes(&r, im))
        return false;
    zkctl_snap_sort_nodes(im);
    return true;
}

static const struct acl_list *zkctl_snap_acl_of(const struct zkctl_snap_image *im, int64_t ref) {
    if (ref == -1)
        return acl_open_unsafe(); /* ZooKeeper's ref for the open ACL */
    for (uint32_t i = 0; i < im->acl_count; i++) {
        if (im->acls[i].ref == ref)
            return im->acls[i].acl;
    }
    return NULL;
}

static void zkctl_print_owner(int64_t owner) {
    printf(" ephemeralOwner=0x%" PRIx64, (uint64_t)owner);
    switch (tree_owner_kind(owner)) {
    case TREE_CONTAINER:
        fputs("(container)", stdout);
        break;
    case TREE_TTL:
        printf("(ttl=%" PRId64 ")", tree_ttl_of_owner(owner));
        break;
    default:
        break;
    }
}

static void zkctl_print_snap_node(const struct zkctl_snap_image *im,
                                  const struct zkctl_snap_node *n) {
    char ctime[64];
    char mtime[64];
    zkctl_format_time(n->st.ctime, ctime, sizeof(ctime));
    zkctl_format_time(n->st.mtime, mtime, sizeof(mtime));
    zkctl_print_path(n->path, n->path_len);
    zkctl_print_data_len(n->data_len);
    if (n->data_len >= 0) {
        putchar(' ');
        zkctl_print_preview(n->data, n->data_len);
    }
    printf(" acl=%" PRId64 " ", n->acl_ref);
    zkctl_print_acl(zkctl_snap_acl_of(im, n->acl_ref));
    printf(" czxid=0x%" PRIx64 " mzxid=0x%" PRIx64 " pzxid=0x%" PRIx64 " ctime=%s mtime=%s",
           (uint64_t)n->st.czxid, (uint64_t)n->st.mzxid, (uint64_t)n->st.pzxid, ctime, mtime);
    printf(" version=%" PRId32 " cversion=%" PRId32 " aversion=%" PRId32, n->st.version,
           n->st.cversion, n->st.aversion);
    zkctl_print_owner(n->st.ephemeral_owner);
    printf(" numChildren=%" PRIu32 " dataLength=%" PRId32 "\n", n->children,
           n->data_len < 0 ? 0 : n->data_len);
}

static void zkctl_print_snap_image(const char *path, const struct zkctl_file *f,
                                   const struct zkctl_snap_image *im, const struct tree *t,
                                   const struct snap_info *info) {
    int64_t zxid;
    bool compressed;
    printf("snapshot %s: %" PRIu64 " bytes, dbid %" PRId64, path, f->size, im->dbid);
    if (snap_parse_file_name(zkctl_basename(path), &zxid, &compressed))
        printf(", name zxid 0x%" PRIx64, (uint64_t)zxid);
    printf("\nsessions: %" PRIu32 "\n", im->session_count);
    for (uint32_t i = 0; i < im->session_count; i++)
        printf("  session 0x%" PRIx64 " timeout=%" PRId32 " ephemerals=%" PRIu32 "\n",
               (uint64_t)im->sessions[i].id, im->sessions[i].timeout_ms,
               tree_ephemeral_count_of(t, im->sessions[i].id));
    printf("acls: %" PRIu32 "\n", im->acl_count);
    for (uint32_t i = 0; i < im->acl_count; i++) {
        printf("  acl %" PRId64 " ", im->acls[i].ref);
        zkctl_print_acl(im->acls[i].acl);
        putchar('\n');
    }
    printf("nodes: %" PRIu32 "\n", im->node_count);
    for (uint32_t i = 0; i < im->node_count; i++)
        zkctl_print_snap_node(im, &im->nodes[i]);
    if (info->has_digest)
        printf("digest: present, zxid 0x%" PRIx64 "\n", (uint64_t)info->digest_zxid);
    else
        printf("digest: absent\n");
}

/* The header is checked here, before snap_load, to report the field's own
 * offset (snap_load reports the cursor after the fields it read). */
static bool zkctl_snap_header_ok(const char *path, const struct zkctl_file *f,
                                 struct zkctl_report *rep) {
    if (f->size < 16) {
        zkctl_problem(rep, true, "%s: offset 0: bad header: the file is %" PRIu64
                      " bytes, shorter than the 16-byte snapshot header", path, f->size);
        return false;
    }
    uint32_t magic = jute_be32(f->data);
    int32_t version = (int32_t)jute_be32(f->data + 4);
    if (magic != SNAP_MAGIC) {
        zkctl_problem(rep, true, "%s: offset 0: bad header: magic 0x%08" PRIx32 " is not ZKSN "
                      "(0x%08x): not a ZooKeeper snapshot", path, magic, SNAP_MAGIC);
        return false;
    }
    if (version != SNAP_VERSION) {
        zkctl_problem(rep, true, "%s: offset 4: bad header: version %" PRId32 " is not %d", path,
                      version, SNAP_VERSION);
        return false;
    }
    return true;
}

/* Opens and loads one snapshot. On success t and s hold it (release them with
 * zkctl_snap_unload) and f stays mapped (close it); on failure the problem is
 * reported and nothing is held. */
static bool zkctl_snap_open(const char *path, struct zkctl_file *f, struct tree *t,
                            struct session_table *s, struct snap_info *info,
                            struct zkctl_report *rep) {
    int64_t zxid;
    bool compressed = false;
    char err[ZKCTL_MSG_LEN];
    (void)snap_parse_file_name(zkctl_basename(path), &zxid, &compressed);
    if (compressed) {
        zkctl_problem(rep, true, "%s: offset 0: compressed snapshot: zkctl reads only "
                      "uncompressed ones (zookeeper.snapshot.compression.method=none)", path);
        return false;
    }
    if (!zkctl_file_open(f, path, err, sizeof(err))) {
        zkctl_problem(rep, true, "%s", err);
        return false;
    }
    if (!zkctl_snap_header_ok(path, f, rep)) {
        zkctl_file_close(f);
        return false;
    }
    if (!zkctl_snap_load(f, t, s, info, err, sizeof(err))) {
        zkctl_problem(rep, true, "%s: %s", path, err);
        zkctl_snap_unload(t, s);
        zkctl_file_close(f);
        return false;
    }
    return true;
}

/* snap verify of one file: prints "OK: ..." or reports the error. */
static bool zkctl_snap_check(const char *path, struct zkctl_report *rep) {
    struct zkctl_file f;
    struct tree t;
    struct session_table s;
    struct snap_info info;
    if (!zkctl_snap_open(path, &f, &t, &s, &info, rep))
        return false;
    printf("OK: %s: %" PRIu32 " nodes, %" PRIu32 " sessions, %" PRIu32 " acls, ", path,
           info.nodes, info.sessions, info.acls);
    if (info.unresolved_acls > 0) /* a fuzzy ZooKeeper snapshot: the log replay sets them */
        printf("%" PRIu32 " nodes refer to ACLs the cache lacks, ", info.unresolved_acls);
    printf("digest ");
    if (info.has_digest)
        printf("present (zxid 0x%" PRIx64 ")\n", (uint64_t)info.digest_zxid);
    else
        printf("absent\n");
    zkctl_snap_unload(&t, &s);
    zkctl_file_close(&f);
    return true;
}

static int zkctl_cmd_snap_dump(const char *path) {
    struct zkctl_report rep = {.out = stderr};
    struct zkctl_file f;
    struct tree t;
    struct session_table s;
    struct snap_info info;
    if (!zkctl_snap_open(path, &f, &t, &s, &info, &rep))
        return zkctl_exit_status(&rep);
    struct zkctl_snap_image im;
    if (zkctl_snap_image_read(&f, &im))
        zkctl_print_snap_image(path, &f, &im, &t, &info);
    else /* snap_load accepted it, so only memory can fail here */
        zkctl_problem(&rep, true, "%s: out of memory while walking the snapshot", path);
    zkctl_snap_image_free(&im);
    zkctl_snap_unload(&t, &s);
    zkctl_file_close(&f);
    return zkctl_exit_status(&rep);
}

static int zkctl_cmd_snap_verify(char *const *paths, uint32_t n) {
    ZK_ASSERT(n > 0);
    struct zkctl_report rep = {.out = stdout};
    for (uint32_t i = 0; i < n; i++)
        (void)zkctl_snap_check(paths[i], &rep);
    zkctl_print_verdict(&rep);
    return zkctl_exit_status(&rep);
}

/* ---- Data directories ---- */

struct zkctl_dir_file {
    char *path; /* owned */
    int64_t zxid;
};

struct zkctl_dir_list {
    struct zkctl_dir_file *files; /* owned */
    uint32_t count;
    uint32_t cap;
};

static void zkctl_dir_list_free(struct zkctl_dir_list *l) {
    for (uint32_t i = 0; i < l->count; i++)
        zk_free(l->files[i].path);
    zk_free(l->files);
    memset(l, 0, sizeof(*l));
}

static void zkctl_dir_list_add(struct zkctl_dir_list *l, const char *dir, const char *name,
                               int64_t zxid) {
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->files = zk_xrealloc(l->files, (size_t)l->cap * sizeof(*l->files));
    }
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = zk_xmalloc(len);
    snprintf(path, len, "%s/%s", dir, name);
    l->files[l->count].path = path;
    l->files[l->count].zxid = zxid;
    l->count++;
}

static int zkctl_dir_file_compare(const void *a, const void *b) {
    const struct zkctl_dir_file *x = a;
    const struct zkctl_dir_file *y = b;
    if (x->zxid != y->zxid)
        return x->zxid < y->zxid ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Lists <dir>/version-2: snapshots (want_snaps) or logs, sorted by name zxid.
 * Other files (acceptedEpoch, currentEpoch, ...) are ignored. */
static bool zkctl_dir_scan(const char *dir, bool want_snaps, struct zkctl_dir_list *out,
                           struct zkctl_report *rep) {
    char path[ZKCTL_PATH_LEN];
    if ((size_t)snprintf(path, sizeof(path), "%s/version-2", dir) >= sizeof(path)) {
        zkctl_problem(rep, true, "%s: path too long", dir);
        return false;
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        zkctl_problem(rep, true, "%s: cannot open directory: %s", path, strerror(errno));
        return false;
    }
    const char *prefix = want_snaps ? "snapshot." : "log.";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t zxid;
        bool compressed;
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        bool parsed = want_snaps ? snap_parse_file_name(e->d_name, &zxid, &compressed)
                                 : wal_parse_file_name(e->d_name, &zxid);
        if (parsed)
            zkctl_dir_list_add(out, path, e->d_name, zxid);
        else
            zkctl_problem(rep, false, "%s/%s: ignored: the name does not parse", path,
                          e->d_name);
    }
    closedir(d);
    if (out->count > 0)
        qsort(out->files, out->count, sizeof(*out->files), zkctl_dir_file_compare);
    return true;
}

/* The recovery point: ZooKeeper loads the newest snapshot that loads and
 * replays the logs after its zxid. Returns false if no snapshot is valid. */
static bool zkctl_dir_check_snaps(const struct zkctl_dir_list *snaps, struct zkctl_report *rep,
                                  int64_t *snap_zxid, const char **snap_path) {
    bool found = false;
    for (uint32_t i = 0; i < snaps->count; i++) {
        if (!zkctl_snap_check(snaps->files[i].path, rep))
            continue;
        found = true; /* ascending order: the last valid one is the newest */
        *snap_zxid = snaps->files[i].zxid;
        *snap_path = snaps->files[i].path;
    }
    return found;
}

/* Is a break between two consecutive logs (prev ends at last, next starts at
 * first) harmful, given that the snapshot covers every zxid <= snap_zxid? */
static bool zkctl_break_is_harmful(int64_t last, int64_t first, bool has_snap,
                                   int64_t snap_zxid) {
    if (!has_snap)
        return true;
    if (first <= last) /* overlap: txns replayed twice unless the snapshot covers them */
        return last > snap_zxid;
    if (first <= snap_zxid)
        return false; /* every missing zxid is in the snapshot */
    return !zkctl_zxid_follows(ZK_MAX(last, snap_zxid), first);
}

/* Cross-file continuity of logs sorted by zxid, then coverage: the first zxid
 * after the snapshot must be logged. Breaks the snapshot covers are warnings. */
static void zkctl_dir_check_logs(const struct zkctl_log *logs, uint32_t n, bool has_snap,
                                 int64_t snap_zxid, struct zkctl_report *rep) {
    const struct zkctl_log *prev = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const struct zkctl_log *lg = &logs[i];
        if (lg->records == 0)
            continue;
        char why[ZKCTL_MSG_LEN];
        if (prev == NULL) {
            int64_t base = has_snap ? snap_zxid : 0;
            if (lg->first_zxid > base && !zkctl_zxid_follows(base, lg->first_zxid))
                zkctl_problem(rep, true, "%s: offset %d: zxids after 0x%" PRIx64 " are not "
                              "logged: the first logged txn is 0x%" PRIx64, lg->path,
                              WAL_HEADER_BYTES, (uint64_t)base, (uint64_t)lg->first_zxid);
        } else if (zkctl_step_problem(prev->last_zxid, lg->first_zxid, why, sizeof(why))) {
            bool harmful = zkctl_break_is_harmful(prev->last_zxid, lg->first_zxid, has_snap,
                                                  snap_zxid);
            zkctl_problem(rep, harmful, "%s: offset %d: %s (the previous file %s ends at 0x%"
                          PRIx64 ")%s", lg->path, WAL_HEADER_BYTES, why, prev->path,
                          (uint64_t)prev->last_zxid,
                          harmful ? "" : "; the snapshot covers it");
        }
        prev = lg;
    }
    if (has_snap && prev != NULL && prev->last_zxid < snap_zxid)
        zkctl_problem(rep, false, "logs end at 0x%" PRIx64 ", before the newest valid "
                      "snapshot 0x%" PRIx64, (uint64_t)prev->last_zxid, (uint64_t)snap_zxid);
}

static void zkctl_dir_summary(const struct zkctl_report *rep, uint32_t snap_count,
                              const char *snap_path, const struct zkctl_log *logs, uint32_t n) {
    uint64_t records;
    int64_t first, last;
    zkctl_logs_totals(logs, n, &records, &first, &last);
    if (rep->errors == 0) {
        printf("OK: %" PRIu32 " snapshot%s", snap_count, snap_count == 1 ? "" : "s");
        if (snap_path != NULL)
            printf(" (newest valid %s)", zkctl_basename(snap_path));
        printf(", %" PRIu32 " log%s, %" PRIu64 " records", n, n == 1 ? "" : "s", records);
        zkctl_print_zxid_range(records, first, last);
        printf(", no zxid missing after the snapshot");
        if (rep->warnings > 0)
            printf(" (%" PRIu32 " warning%s)", rep->warnings, rep->warnings == 1 ? "" : "s");
        putchar('\n');
    }
    zkctl_print_verdict(rep);
}

static void zkctl_dir_check(const struct zkctl_dir_list *snaps, const struct zkctl_dir_list *files,
                            struct zkctl_report *rep) {
    int64_t snap_zxid = 0;
    const char *snap_path = NULL;
    bool has_snap = zkctl_dir_check_snaps(snaps, rep, &snap_zxid, &snap_path);
    struct zkctl_log *logs = zk_xcalloc(files->count + 1, sizeof(*logs));
    uint32_t with_records = 0;
    for (uint32_t i = 0; i < files->count; i++) {
        logs[i].path = files->files[i].path;
        if (zkctl_log_check(&logs[i], rep, false))
            zkctl_print_log_line(&logs[i]);
        with_records += logs[i].records > 0;
    }
    qsort(logs, files->count, sizeof(*logs), zkctl_log_compare);
    if (has_snap)
        printf("recovery: %s (zxid 0x%" PRIx64 ") + the logs after it\n", snap_path,
               (uint64_t)snap_zxid);
    else if (with_records > 0)
        zkctl_problem(rep, true, "no valid snapshot but %" PRIu32 " logs with txns: ZooKeeper "
                      "refuses to start (zookeeper.snapshot.trust.empty)", with_records);
    zkctl_dir_check_logs(logs, files->count, has_snap, snap_zxid, rep);
    zkctl_dir_summary(rep, snaps->count, snap_path, logs, files->count);
    zk_free(logs);
}

static int zkctl_cmd_dir_verify(const char *data_dir, const char *log_dir, bool strict) {
    struct zkctl_report rep = {.out = stdout, .strict = strict};
    struct zkctl_dir_list snaps = {0};
    struct zkctl_dir_list logs = {0};
    bool ok = zkctl_dir_scan(data_dir, true, &snaps, &rep);
    ok = zkctl_dir_scan(log_dir != NULL ? log_dir : data_dir, false, &logs, &rep) && ok;
    if (ok)
        zkctl_dir_check(&snaps, &logs, &rep);
    else
        zkctl_print_verdict(&rep);
    zkctl_dir_list_free(&snaps);
    zkctl_dir_list_free(&logs);
    return zkctl_exit_status(&rep);
}

/* ---- Command line ---- */

static void zkctl_usage(FILE *out) {
    fputs(
        "usage: zkctl log dump FILE\n"
        "       zkctl log verify [--strict] FILE...\n"
        "       zkctl snap dump FILE\n"
        "       zkctl snap verify FILE...\n"
        "       zkctl dir verify [--strict] DATADIR [DATALOGDIR]\n"
        "       zkctl --help\n"
        "\n"
        "Reads ZooKeeper data files (txn logs log.<zxid>, snapshots snapshot.<zxid>, as\n"
        "Apache ZooKeeper 3.x and zkd write them); never writes.\n"
        "\n"
        "log dump FILE\n"
        "    One line per txn: zxid, time (UTC, ms), session id, cxid, type (create create2\n"
        "    createContainer createTTL delete deleteContainer setData setACL check multi\n"
        "    createSession closeSession error), path ('-' if none) and a summary: data=\n"
        "    length, acl= entry count, ephemeral=, parent_cversion=, ttl=, version=,\n"
        "    timeout= (createSession), err= (error), ops= (multi; each sub-op follows on\n"
        "    an indented line), ephemerals= (closeSession; each path indented). Ends with\n"
        "    \"end: N records, zxid FIRST-LAST, clean | torn tail at offset N |\n"
        "    CORRUPT at offset N | bad header\".\n"
        "log verify [--strict] FILE...\n"
        "    Checks the header, every record's Adler-32, length and 'B' marker, that every\n"
        "    payload decodes, that zxids increase without gaps within a file and across\n"
        "    the files (ordered by the zxid in their names), and that a file's first zxid\n"
        "    equals the one in its name. Prints \"OK: N records, zxid FIRST-LAST\" or the\n"
        "    problems. A torn tail (a damaged last record, nothing valid after it) is a\n"
        "    warning, an error with --strict; damage followed by valid records is\n"
        "    corruption, always an error.\n"
        "snap dump FILE\n"
        "    Header, sessions (id, timeout ms, ephemerals), the ACL cache (ref, then\n"
        "    scheme:id:perms with perms from cdrwa), then every node in path order: data\n"
        "    length and preview (first 32 bytes, escaped), ACL ref and entries, and the\n"
        "    persisted stat (czxid mzxid pzxid ctime mtime version cversion aversion\n"
        "    ephemeralOwner; cversion is ZooKeeper's raw child-create counter) plus\n"
        "    numChildren and dataLength. Ends with the digest section, if any.\n"
        "snap verify FILE...\n"
        "    Loads each file as the server does: \"OK: FILE: N nodes, N sessions, N acls,\n"
        "    digest present|absent\" or the error with its offset. A ZooKeeper snapshot\n"
        "    written while ACLs were being added may have nodes that refer to ACLs its\n"
        "    cache lacks (counted in the OK line); the server takes them from the log.\n"
        "dir verify [--strict] DATADIR [DATALOGDIR]\n"
        "    In DATADIR/version-2 (logs in DATALOGDIR/version-2 if given): verifies every\n"
        "    snapshot and log, and that the logs hold every zxid after the newest valid\n"
        "    snapshot without gaps. Breaks the snapshot covers are warnings.\n"
        "\n"
        "zxid continuity: b may follow a iff b == a + 1, or b opens a later epoch at\n"
        "counter 1 (ZAB never logs counter 0).\n"
        "Limits: files up to 4 GiB (mapped read-only), records up to 2 MiB (jute.maxbuffer\n"
        "plus headroom).\n"
        "Exit status: 0 fine (warnings allowed), 1 a problem was found (each message names\n"
        "the file and the byte offset), 2 usage error.\n",
        out);
}

struct zkctl_args {
    const char *group; /* log, snap, dir */
    const char *verb;  /* dump, verify */
    bool strict;
    char *files[256];
    uint32_t file_count;
};

/* Splits argv into the command, --strict and files ("--" ends options).
 * Returns false on a usage error. */
static bool zkctl_parse_args(int argc, char **argv, struct zkctl_args *a) {
    memset(a, 0, sizeof(*a));
    if (argc < 3)
        return false;
    a->group = argv[1];
    a->verb = argv[2];
    bool options = true;
    for (int i = 3; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (options && strcmp(argv[i], "--strict") == 0) {
            a->strict = true;
        } else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "zkctl: unknown option: %s\n", argv[i]);
            return false;
        } else if (a->file_count == ZK_ARRAY_LEN(a->files)) {
            fprintf(stderr, "zkctl: more than %zu files\n", ZK_ARRAY_LEN(a->files));
            return false;
        } else {
            a->files[a->file_count++] = argv[i];
        }
    }
    return true;
}

/* Runs the command, or returns -1 for a usage error. */
static int zkctl_run(const struct zkctl_args *a) {
    bool dump = strcmp(a->verb, "dump") == 0;
    bool verify = strcmp(a->verb, "verify") == 0;
    uint32_t n = a->file_count;
    if (strcmp(a->group, "log") == 0) {
        if (dump && n == 1 && !a->strict)
            return zkctl_cmd_log_dump(a->files[0]);
        if (verify && n >= 1)
            return zkctl_cmd_log_verify(a->files, n, a->strict);
    } else if (strcmp(a->group, "snap") == 0 && !a->strict) {
        if (dump && n == 1)
            return zkctl_cmd_snap_dump(a->files[0]);
        if (verify && n >= 1)
            return zkctl_cmd_snap_verify(a->files, n);
    } else if (strcmp(a->group, "dir") == 0) {
        if (verify && (n == 1 || n == 2))
            return zkctl_cmd_dir_verify(a->files[0], n == 2 ? a->files[1] : NULL, a->strict);
    }
    return -1;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            (i == 1 && strcmp(argv[i], "help") == 0)) {
            zkctl_usage(stdout);
            return ZKCTL_EXIT_OK;
        }
    }
    struct zkctl_args args;
    int rc = zkctl_parse_args(argc, argv, &args) ? zkctl_run(&args) : -1;
    if (rc < 0) {
        zkctl_usage(stderr);
        return ZKCTL_EXIT_USAGE;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "zkctl: writing the output failed: %s\n", strerror(errno));
        rc = ZKCTL_EXIT_PROBLEM; /* a cut report must not read as a clean one */
    }
    acl_global_deinit(); /* asserts every ACL reference was returned */
    return rc;
}
