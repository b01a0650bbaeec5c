/* zkbench.c — a load generator that speaks the ZooKeeper client wire protocol
 * directly (framing, ConnectRequest/Response, RequestHeader/ReplyHeader and the
 * create/getData/setData/delete/closeSession records of protocol.md §1-7).
 *
 * One thread, epoll over N non-blocking connections, each its own session, each
 * keeping up to D requests outstanding. Every reply is checked: its xid must be
 * the oldest outstanding request of that connection (FIFO, protocol.md §1.6), its
 * zxid must not go backwards on a connection, its error code must be the expected
 * one, and its body must be exactly the record the opcode returns (create: the
 * echoed path; getData: buffer + Stat whose dataLength matches, and the bytes we
 * wrote when we know them; setData: Stat with our length). Any deviation prints
 * what was expected and what arrived and exits 1.
 *
 * Phases, in this order:
 *   setup     create /zkbench (NODEEXISTS accepted), not reported
 *   populate  without --create: create /zkbench/n<i> for i < K, NODEEXISTS accepted
 *   create    with --create: create /zkbench/n<i> for i < K; each must be new
 *   <mix>     for each name in --mix (read, write, mixed; comma list allowed):
 *             --ops operations on uniformly drawn nodes (seeded, per connection)
 *   delete    with --cleanup: delete the K nodes and /zkbench
 * Then every session is closed with closeSession (reply checked).
 * With --ops 0 and neither --create nor --cleanup, zkbench only opens and closes
 * the sessions, which makes it a readiness probe ("does it accept sessions?").
 *
 * Output per reported phase: one human line and one machine line
 *   RESULT phase=<name> ops=.. secs=.. ops_per_sec=.. p50_us=.. p99_us=.. p999_us=.. max_us=..
 * Latency is measured from the moment a request is queued for sending to the
 * moment its reply is parsed, recorded in a log-linear histogram (128 linear
 * buckets per power of two, i.e. <1% relative error); percentiles report the
 * upper edge of their bucket, max is exact. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "jute.h"
#include "mem.h"

#define OP_CREATE 1
#define OP_DELETE 2
#define OP_GETDATA 4
#define OP_SETDATA 5
#define OP_CLOSE (-11)

#define STAT_BYTES 68
#define REPLY_HDR_BYTES 16
#define MAX_FRAME (4u << 20)    /* far above any reply this tool can provoke */
#define MAX_VALUE 1000000       /* stays under the default jute.maxbuffer (1 MiB - 1) */
#define SESSION_TIMEOUT_MS 30000
#define STALL_MS 30000          /* no reply at all for this long: the server is stuck */
#define PATH_MAX_LEN 64

/* ---------- options ---------- */

enum mix { MIX_READ, MIX_WRITE, MIX_MIXED };

struct options {
    const char *host;
    const char *port;
    uint32_t clients;
    uint64_t ops;
    uint32_t pipeline;
    enum mix mixes[8];
    uint32_t nmixes;
    uint32_t value_bytes;
    uint32_t nodes;
    bool create;
    bool cleanup;
    uint64_t seed;
};

static struct options opt;

/* ---------- failure ---------- */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs("zkbench: FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static const char *zoo_rc_name(int32_t rc) {
    switch (rc) {
    case ZOO_OK: return "OK";
    case ZOO_SYSTEMERROR: return "SYSTEMERROR";
    case ZOO_RUNTIMEINCONSISTENCY: return "RUNTIMEINCONSISTENCY";
    case ZOO_DATAINCONSISTENCY: return "DATAINCONSISTENCY";
    case ZOO_CONNECTIONLOSS: return "CONNECTIONLOSS";
    case ZOO_MARSHALLINGERROR: return "MARSHALLINGERROR";
    case ZOO_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case ZOO_OPERATIONTIMEOUT: return "OPERATIONTIMEOUT";
    case ZOO_BADARGUMENTS: return "BADARGUMENTS";
    case ZOO_UNKNOWNSESSION: return "UNKNOWNSESSION";
    case ZOO_APIERROR: return "APIERROR";
    case ZOO_NONODE: return "NONODE";
    case ZOO_NOAUTH: return "NOAUTH";
    case ZOO_BADVERSION: return "BADVERSION";
    case ZOO_NOCHILDRENFOREPHEMERALS: return "NOCHILDRENFOREPHEMERALS";
    case ZOO_NODEEXISTS: return "NODEEXISTS";
    case ZOO_NOTEMPTY: return "NOTEMPTY";
    case ZOO_SESSIONEXPIRED: return "SESSIONEXPIRED";
    case ZOO_INVALIDACL: return "INVALIDACL";
    case ZOO_AUTHFAILED: return "AUTHFAILED";
    case ZOO_SESSIONMOVED: return "SESSIONMOVED";
    case ZOO_NOTREADONLY: return "NOTREADONLY";
    case ZOO_THROTTLEDOP: return "THROTTLEDOP";
    default: return "?";
    }
}

static const char *op_name(int32_t type) {
    switch (type) {
    case OP_CREATE: return "create";
    case OP_DELETE: return "delete";
    case OP_GETDATA: return "getData";
    case OP_SETDATA: return "setData";
    case OP_CLOSE: return "closeSession";
    default: return "?";
    }
}

/* ---------- time, random ---------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: tiny, seedable, good enough to pick nodes. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---------- histogram (log-linear, nanoseconds) ---------- */

#define HIST_SUB_BITS 7
#define HIST_HALF (1u << (HIST_SUB_BITS - 1))
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 2) * HIST_HALF)

struct hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
};

static uint32_t hist_index(uint64_t v) {
    if (v < (1u << HIST_SUB_BITS))
        return (uint32_t)v;
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(v);
    uint32_t shift = msb - (HIST_SUB_BITS - 1);
    return shift * HIST_HALF + (uint32_t)(v >> shift);
}

/* Largest value that falls into bucket idx. */
static uint64_t hist_upper(uint32_t idx) {
    if (idx < (1u << HIST_SUB_BITS))
        return idx;
    uint32_t shift = idx / HIST_HALF - 1;
    uint64_t m = idx - shift * HIST_HALF;
    return ((m + 1) << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t v) {
    uint32_t i = hist_index(v);
    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    h->count[i]++;
    h->total++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p) {
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)(p * (double)h->total);
    if ((double)want < p * (double)h->total)
        want++;
    if (want == 0)
        want = 1;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        acc += h->count[i];
        if (acc >= want) {
            uint64_t u = hist_upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

/* ---------- connections ---------- */

enum phase_kind { PH_SETUP, PH_POPULATE, PH_CREATE, PH_MIX, PH_DELETE, PH_RMROOT, PH_CLOSE };

struct pending {
    int32_t xid;
    int32_t type;
    uint32_t node;      /* node index, UINT32_MAX for /zkbench itself */
    bool check_value;   /* getData: the node holds exactly our value (known at send) */
    uint64_t t0;
};

struct conn {
    int id;
    int fd;
    int64_t session_id;
    int32_t next_xid;
    int64_t last_zxid;
    struct jute_buf out;
    uint8_t *in;
    uint32_t in_len, in_cap;
    struct pending *ring;  /* FIFO of outstanding requests, capacity opt.pipeline */
    uint32_t ring_head, ring_count;
    bool epollout;         /* EPOLLOUT currently requested */
    bool closed;           /* saw EOF after closeSession */
    uint64_t rng;
    /* per phase */
    uint64_t quota, issued, done;
};

struct phase {
    enum phase_kind kind;
    enum mix mix;
    const char *name;
    bool reported;
    struct hist hist;
    uint64_t total, completed;
    uint64_t reads, writes;
};

static struct conn *conns;
static int epfd = -1;
static uint8_t *value;      /* the bytes every create/setData writes */
static uint8_t *known;      /* per node: 1 if it holds exactly `value` */
static struct phase *cur;

static void node_path(char *buf, uint32_t node) {
    if (node == UINT32_MAX)
        snprintf(buf, PATH_MAX_LEN, "/zkbench");
    else
        snprintf(buf, PATH_MAX_LEN, "/zkbench/n%" PRIu32, node);
}

static void set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl: %s", strerror(errno));
}

static void read_full(int fd, void *p, size_t n, const char *what) {
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r == 0)
            die("%s: server closed the connection", what);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("%s: read: %s", what, errno == EAGAIN ? "timed out" : strerror(errno));
        }
        b += r;
        n -= (size_t)r;
    }
}

static void write_full(int fd, const void *p, size_t n, const char *what) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t r = send(fd, b, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("%s: write: %s", what, strerror(errno));
        }
        b += r;
        n -= (size_t)r;
    }
}

/* Blocking connect + handshake (setup, not measured), then non-blocking. */
static void conn_open(struct conn *c, int id) {
    char what[64];
    snprintf(what, sizeof what, "conn %d handshake", id);
    memset(c, 0, sizeof *c);
    c->id = id;
    c->fd = -1;
    c->next_xid = 1;
    jute_buf_init(&c->out);
    c->ring = zk_xcalloc(opt.pipeline, sizeof *c->ring);
    c->in_cap = 64 * 1024;
    c->in = zk_xmalloc(c->in_cap);
    /* Each connection's stream starts at a hashed point, so streams do not overlap. */
    uint64_t s = opt.seed ^ ((uint64_t)(id + 1) * 0xD1B54A32D192ED03ull);
    c->rng = rng_next(&s);

    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(opt.host, opt.port, &hints, &res);
    if (gai != 0)
        die("%s:%s: %s", opt.host, opt.port, gai_strerror(gai));
    int last_errno = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            break;
        }
        last_errno = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (c->fd < 0)
        die("connect %s:%s: %s", opt.host, opt.port, strerror(last_errno));

    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    /* ConnectRequest (§3.1), with the readOnly byte as the Java/C/kazoo clients. */
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, 0);                 /* frame length, patched */
    jute_write_i32(&b, 0);                 /* protocolVersion */
    jute_write_i64(&b, 0);                 /* lastZxidSeen */
    jute_write_i32(&b, SESSION_TIMEOUT_MS);
    jute_write_i64(&b, 0);                 /* sessionId: new */
    uint8_t zero[16] = {0};
    jute_write_bytes(&b, zero, 16);
    jute_write_bool(&b, false);            /* readOnly */
    jute_patch_i32(&b, 0, (int32_t)(b.len - 4));
    write_full(c->fd, b.p, b.len, what);
    jute_buf_deinit(&b);

    uint8_t hdr[4];
    read_full(c->fd, hdr, 4, what);
    uint32_t n = jute_be32(hdr);
    if (n != 36 && n != 37)
        die("%s: ConnectResponse length %" PRIu32 ", expected 37 (or 36)", what, n);
    uint8_t body[37];
    read_full(c->fd, body, n, what);
    struct jute_reader r;
    jute_reader_init(&r, body, n);
    int32_t proto = jute_read_i32(&r);
    int32_t timeout = jute_read_i32(&r);
    int64_t sid = jute_read_i64(&r);
    struct jute_bytes pw = jute_read_bytes(&r, 16);
    bool ro = n == 37 ? jute_read_bool(&r) : false;
    if (!jute_reader_ok(&r) || r.left != 0)
        die("%s: malformed ConnectResponse", what);
    if (proto != 0)
        die("%s: ConnectResponse protocolVersion %" PRId32 ", expected 0", what, proto);
    if (timeout <= 0 || sid == 0)
        die("%s: session refused (timeOut=%" PRId32 " sessionId=0x%" PRIx64 ")", what, timeout,
            (uint64_t)sid);
    if (pw.len != 16)
        die("%s: password length %" PRId32 ", expected 16", what, pw.len);
    if (ro)
        die("%s: server answered readOnly=true", what);
    c->session_id = sid;

    set_nonblock(c->fd);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)id};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void conn_free(struct conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    jute_buf_deinit(&c->out);
    zk_free(c->in);
    zk_free(c->ring);
}

static void conn_want_out(struct conn *c, bool want) {
    if (c->epollout == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = (uint32_t)c->id};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->epollout = want;
}

static void conn_flush(struct conn *c) {
    while (c->out.len > 0) {
        ssize_t w = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            die("phase %s conn %d: send: %s", cur->name, c->id, strerror(errno));
        }
        jute_buf_consume(&c->out, (uint32_t)w);
    }
    conn_want_out(c, c->out.len > 0);
}

/* Queues one request; returns nothing, records it in the FIFO. */
static void conn_send(struct conn *c, int32_t type, uint32_t node) {
    char path[PATH_MAX_LEN];
    struct pending *p = &c->ring[(c->ring_head + c->ring_count) % opt.pipeline];
    uint32_t start = c->out.len;
    int32_t xid = c->next_xid;
    c->next_xid = c->next_xid == INT32_MAX ? 1 : c->next_xid + 1;

    jute_write_i32(&c->out, 0); /* frame length, patched below */
    jute_write_i32(&c->out, xid);
    jute_write_i32(&c->out, type);
    node_path(path, node);
    switch (type) {
    case OP_CREATE:
        jute_write_cstr(&c->out, path);
        if (node == UINT32_MAX)
            jute_write_bytes(&c->out, NULL, 0);
        else
            jute_write_bytes(&c->out, value, (int32_t)opt.value_bytes);
        jute_write_i32(&c->out, 1);        /* acl: OPEN_ACL_UNSAFE */
        jute_write_i32(&c->out, 31);
        jute_write_cstr(&c->out, "world");
        jute_write_cstr(&c->out, "anyone");
        jute_write_i32(&c->out, 0);        /* flags: persistent */
        break;
    case OP_DELETE:
        jute_write_cstr(&c->out, path);
        jute_write_i32(&c->out, -1);
        break;
    case OP_GETDATA:
        jute_write_cstr(&c->out, path);
        jute_write_bool(&c->out, false);
        break;
    case OP_SETDATA:
        jute_write_cstr(&c->out, path);
        jute_write_bytes(&c->out, value, (int32_t)opt.value_bytes);
        jute_write_i32(&c->out, -1);
        break;
    case OP_CLOSE:
        break;
    default:
        die("internal: opcode %" PRId32, type);
    }
    jute_patch_i32(&c->out, start, (int32_t)(c->out.len - start - 4));

    p->xid = xid;
    p->type = type;
    p->node = node;
    p->check_value = type == OP_GETDATA && known[node];
    p->t0 = now_ns();
    c->ring_count++;
    c->issued++;
}

/* Issues requests until the pipeline is full or the connection's quota is used. */
static void conn_fill(struct conn *c) {
    while (c->ring_count < opt.pipeline && c->issued < c->quota) {
        switch (cur->kind) {
        case PH_SETUP:
            conn_send(c, OP_CREATE, UINT32_MAX);
            break;
        case PH_RMROOT:
            conn_send(c, OP_DELETE, UINT32_MAX);
            break;
        case PH_POPULATE:
        case PH_CREATE:
            conn_send(c, OP_CREATE, (uint32_t)(c->id + c->issued * opt.clients));
            break;
        case PH_DELETE:
            conn_send(c, OP_DELETE, (uint32_t)(c->id + c->issued * opt.clients));
            break;
        case PH_CLOSE:
            conn_send(c, OP_CLOSE, 0);
            break;
        case PH_MIX: {
            uint64_t rnd = rng_next(&c->rng);
            uint32_t node = (uint32_t)((rnd & 0xffffffffu) % opt.nodes);
            bool write = cur->mix == MIX_WRITE || (cur->mix == MIX_MIXED && (rnd >> 40) % 10 == 0);
            conn_send(c, write ? OP_SETDATA : OP_GETDATA, node);
            if (write)
                cur->writes++;
            else
                cur->reads++;
            break;
        }
        }
    }
}

static void check_stat(struct conn *c, const struct pending *p, struct jute_reader *r, int32_t want_len,
                       const char *path) {
    jute_read_i64(r);                     /* czxid */
    int64_t mzxid = jute_read_i64(r);
    jute_read_i64(r);                     /* ctime */
    jute_read_i64(r);                     /* mtime */
    jute_read_i32(r);                     /* version */
    jute_read_i32(r);                     /* cversion */
    jute_read_i32(r);                     /* aversion */
    int64_t owner = jute_read_i64(r);
    int32_t dlen = jute_read_i32(r);
    jute_read_i32(r);                     /* numChildren */
    jute_read_i64(r);                     /* pzxid */
    if (!jute_reader_ok(r))
        die("phase %s conn %d xid %" PRId32 " %s %s: reply body too short for a Stat", cur->name, c->id,
            p->xid, op_name(p->type), path);
    if (want_len >= 0 && dlen != want_len)
        die("phase %s conn %d xid %" PRId32 " %s %s: Stat.dataLength %" PRId32 ", expected %" PRId32,
            cur->name, c->id, p->xid, op_name(p->type), path, dlen, want_len);
    if (owner != 0)
        die("phase %s conn %d xid %" PRId32 " %s %s: Stat.ephemeralOwner 0x%" PRIx64
            " on a persistent node",
            cur->name, c->id, p->xid, op_name(p->type), path, (uint64_t)owner);
    if (mzxid <= 0 || mzxid > c->last_zxid)
        die("phase %s conn %d xid %" PRId32 " %s %s: Stat.mzxid 0x%" PRIx64
            " not in (0, reply zxid 0x%" PRIx64 "]",
            cur->name, c->id, p->xid, op_name(p->type), path, (uint64_t)mzxid, (uint64_t)c->last_zxid);
}

/* Checks one reply frame (payload without the length) against the oldest request. */
static void conn_reply(struct conn *c, const uint8_t *f, uint32_t n, uint64_t t_now) {
    struct jute_reader r;
    jute_reader_init(&r, f, n);
    int32_t xid = jute_read_i32(&r);
    int64_t zxid = jute_read_i64(&r);
    int32_t err = jute_read_i32(&r);
    if (!jute_reader_ok(&r))
        die("phase %s conn %d: reply frame of %" PRIu32 " bytes, shorter than a ReplyHeader", cur->name,
            c->id, n);
    if (c->ring_count == 0)
        die("phase %s conn %d: unsolicited reply xid %" PRId32 " err %" PRId32 " (%s), nothing outstanding",
            cur->name, c->id, xid, err, zoo_rc_name(err));
    struct pending *p = &c->ring[c->ring_head];
    char path[PATH_MAX_LEN];
    node_path(path, p->node);
    if (p->type == OP_CLOSE)
        snprintf(path, sizeof path, "-");
    if (xid != p->xid)
        die("phase %s conn %d: xid order violated: expected reply to xid %" PRId32 " (%s %s), got xid %"
            PRId32 " err %" PRId32 " (%s)",
            cur->name, c->id, p->xid, op_name(p->type), path, xid, err, zoo_rc_name(err));
    if (zxid < c->last_zxid)
        die("phase %s conn %d xid %" PRId32 " %s %s: reply zxid 0x%" PRIx64
            " is below the previous reply's 0x%" PRIx64,
            cur->name, c->id, xid, op_name(p->type), path, (uint64_t)zxid, (uint64_t)c->last_zxid);
    c->last_zxid = zxid;

    bool tolerate_exists = p->type == OP_CREATE && (cur->kind == PH_SETUP || cur->kind == PH_POPULATE);
    if (err != ZOO_OK && !(tolerate_exists && err == ZOO_NODEEXISTS))
        die("phase %s conn %d xid %" PRId32 " %s %s: error %" PRId32 " (%s), expected 0 (OK)%s", cur->name,
            c->id, xid, op_name(p->type), path, err, zoo_rc_name(err),
            tolerate_exists ? " or -110 (NODEEXISTS)" : "");
    if (err != ZOO_OK) {
        if (r.left != 0)
            die("phase %s conn %d xid %" PRId32 " %s %s: error reply carries %" PRIu32 " body bytes, expected 0",
                cur->name, c->id, xid, op_name(p->type), path, r.left);
    } else {
        if (zxid <= 0)
            die("phase %s conn %d xid %" PRId32 " %s %s: reply zxid %" PRId64 ", expected > 0", cur->name,
                c->id, xid, op_name(p->type), path, zxid);
        switch (p->type) {
        case OP_CREATE: {
            struct jute_bytes s = jute_read_bytes(&r, MAX_FRAME);
            if (!jute_reader_ok(&r) || s.len != (int32_t)strlen(path) || memcmp(s.p, path, strlen(path)) != 0)
                die("phase %s conn %d xid %" PRId32 " create %s: reply path %.*s, expected the path itself",
                    cur->name, c->id, xid, path, s.len > 0 ? (int)s.len : 0, s.p ? (const char *)s.p : "");
            if (p->node != UINT32_MAX)
                known[p->node] = 1;
            break;
        }
        case OP_GETDATA: {
            struct jute_bytes d = jute_read_bytes(&r, MAX_FRAME);
            if (!jute_reader_ok(&r))
                die("phase %s conn %d xid %" PRId32 " getData %s: malformed data buffer", cur->name, c->id,
                    xid, path);
            int32_t dl = d.len < 0 ? 0 : d.len;
            if (p->check_value && (d.len != (int32_t)opt.value_bytes ||
                                   (d.len > 0 && memcmp(d.p, value, opt.value_bytes) != 0)))
                die("phase %s conn %d xid %" PRId32 " getData %s: returned %" PRId32
                    " bytes that differ from the %" PRIu32 " bytes written",
                    cur->name, c->id, xid, path, d.len, opt.value_bytes);
            check_stat(c, p, &r, dl, path);
            break;
        }
        case OP_SETDATA:
            check_stat(c, p, &r, (int32_t)opt.value_bytes, path);
            known[p->node] = 1;
            break;
        case OP_DELETE:
            if (p->node != UINT32_MAX)
                known[p->node] = 0;
            break;
        default:
            break;
        }
        if (r.left != 0)
            die("phase %s conn %d xid %" PRId32 " %s %s: %" PRIu32 " unexpected trailing bytes in the reply",
                cur->name, c->id, xid, op_name(p->type), path, r.left);
    }

    hist_add(&cur->hist, t_now - p->t0);
    c->ring_head = (c->ring_head + 1) % opt.pipeline;
    c->ring_count--;
    c->done++;
    cur->completed++;
}

/* Reads what is available and processes every complete frame. Returns false if
 * the server closed the connection (legal only after closeSession). */
static bool conn_read(struct conn *c) {
    for (;;) {
        if (c->in_len == c->in_cap) {
            /* Only grows when one frame is larger than the buffer. */
            uint32_t need = 4;
            if (c->in_len >= 4)
                need = 4 + jute_be32(c->in);
            if (need > MAX_FRAME + 4)
                die("phase %s conn %d: reply frame length %" PRIu32 " is out of bounds", cur->name, c->id,
                    need - 4);
            if (need <= c->in_cap)
                die("internal: input buffer full");
            c->in_cap = need;
            c->in = zk_xrealloc(c->in, c->in_cap);
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == ECONNRESET && cur->kind == PH_CLOSE && c->ring_count == 0 && c->in_len == 0)
                return false; /* closed after answering closeSession */
            die("phase %s conn %d: recv: %s (%" PRIu32 " requests outstanding)", cur->name, c->id,
                strerror(errno), c->ring_count);
        }
        if (n == 0) {
            if (c->in_len != 0)
                die("phase %s conn %d: server closed the connection in the middle of a frame", cur->name, c->id);
            if (cur->kind == PH_CLOSE && c->ring_count == 0)
                return false;
            die("phase %s conn %d (session 0x%" PRIx64 "): server closed the connection with %" PRIu32
                " requests outstanding",
                cur->name, c->id, (uint64_t)c->session_id, c->ring_count);
        }
        c->in_len += (uint32_t)n;
        uint64_t t = now_ns();
        uint32_t off = 0;
        while (c->in_len - off >= 4) {
            uint32_t flen = jute_be32(c->in + off);
            if (flen > MAX_FRAME)
                die("phase %s conn %d: reply frame length %" PRIu32 " is out of bounds", cur->name, c->id, flen);
            if (c->in_len - off - 4 < flen)
                break;
            conn_reply(c, c->in + off + 4, flen, t);
            off += 4 + flen;
        }
        if (off > 0) {
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
        }
        if ((uint32_t)n < 16 * 1024)
            return true; /* likely drained; epoll will tell us about more */
    }
}

/* ---------- phases ---------- */

static void run_phase(struct phase *ph) {
    cur = ph;
    ph->total = 0;
    ph->completed = 0;
    for (uint32_t i = 0; i < opt.clients; i++) {
        struct conn *c = &conns[i];
        c->issued = c->done = 0;
        switch (ph->kind) {
        case PH_SETUP:
        case PH_RMROOT:
            c->quota = i == 0 ? 1 : 0;
            break;
        case PH_POPULATE:
        case PH_CREATE:
        case PH_DELETE:
            c->quota = opt.nodes / opt.clients + (i < opt.nodes % opt.clients ? 1 : 0);
            break;
        case PH_MIX:
            c->quota = opt.ops / opt.clients + (i < opt.ops % opt.clients ? 1 : 0);
            break;
        case PH_CLOSE:
            c->quota = 1;
            break;
        }
        ph->total += c->quota;
    }

    uint64_t t_start = now_ns();
    for (uint32_t i = 0; i < opt.clients; i++) {
        conn_fill(&conns[i]);
        conn_flush(&conns[i]);
    }
    uint32_t open_conns = opt.clients;
    uint64_t last_progress = t_start;
    struct epoll_event evs[64];
    while (ph->completed < ph->total || (ph->kind == PH_CLOSE && open_conns > 0)) {
        int n = epoll_wait(epfd, evs, 64, 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        uint64_t before = ph->completed;
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            if (c->closed)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (!conn_read(c)) {
                    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                    c->closed = true;
                    open_conns--;
                    last_progress = now_ns();
                    continue;
                }
                conn_fill(c);
            }
            conn_flush(c);
        }
        uint64_t t = now_ns();
        if (ph->completed != before)
            last_progress = t;
        else if (t - last_progress > (uint64_t)STALL_MS * 1000000u) {
            uint64_t outstanding = 0;
            for (uint32_t i = 0; i < opt.clients; i++)
                outstanding += conns[i].ring_count;
            die("phase %s: no reply for %d s with %" PRIu64 " requests outstanding (%" PRIu64 "/%" PRIu64
                " done)",
                ph->name, STALL_MS / 1000, outstanding, ph->completed, ph->total);
        }
    }
    double secs = (double)(now_ns() - t_start) / 1e9;

    if (!ph->reported)
        return;
    double rate = secs > 0 ? (double)ph->completed / secs : 0;
    double p50 = (double)hist_pct(&ph->hist, 0.50) / 1000.0;
    double p99 = (double)hist_pct(&ph->hist, 0.99) / 1000.0;
    double p999 = (double)hist_pct(&ph->hist, 0.999) / 1000.0;
    double mx = (double)ph->hist.max / 1000.0;
    char extra[64] = "";
    if (ph->kind == PH_MIX && ph->mix == MIX_MIXED)
        snprintf(extra, sizeof extra, " (reads=%" PRIu64 " writes=%" PRIu64 ")", ph->reads, ph->writes);
    printf("%-8s ops=%-8" PRIu64 " secs=%-8.3f ops/s=%-9.0f latency_us p50=%.0f p99=%.0f p999=%.0f max=%.0f%s\n",
           ph->name, ph->completed, secs, rate, p50, p99, p999, mx, extra);
    printf("RESULT phase=%s ops=%" PRIu64 " secs=%.3f ops_per_sec=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f"
           " max_us=%.0f\n",
           ph->name, ph->completed, secs, rate, p50, p99, p999, mx);
    fflush(stdout);
}

static void run(enum phase_kind kind, enum mix mix, const char *name, bool reported) {
    struct phase *ph = zk_xcalloc(1, sizeof *ph);
    ph->kind = kind;
    ph->mix = mix;
    ph->name = name;
    ph->reported = reported;
    run_phase(ph);
    zk_free(ph);
    cur = NULL;
}

/* ---------- main ---------- */

static void usage(FILE *f) {
    fputs("usage: zkbench [options]\n"
          "  --host H          server host (default 127.0.0.1)\n"
          "  --port P          server port (default 2181)\n"
          "  --clients N       connections, each its own session (default 8)\n"
          "  --ops N           operations per --mix phase, over all connections (default 100000)\n"
          "  --pipeline D      outstanding requests per connection (default 16)\n"
          "  --mix M[,M..]     read (getData), write (setData), mixed (90% read / 10% write);\n"
          "                    a comma list runs one phase per entry (default read)\n"
          "  --value-bytes B   data size of every create/setData (default 100)\n"
          "  --nodes K         nodes /zkbench/n0 .. n<K-1> the phases use (default 1000)\n"
          "  --create          measure creating the K nodes (they must not exist yet);\n"
          "                    without it, missing nodes are created first, unmeasured\n"
          "  --cleanup         delete the K nodes and /zkbench at the end (measured)\n"
          "  --seed S          seed of the node choice and values (default 1)\n"
          "Prints one line per phase and a 'RESULT phase=...' line; exits 1 on any\n"
          "protocol violation (xid order, error code, malformed reply) or I/O error.\n"
          "--ops 0 without --create/--cleanup only opens and closes the sessions.\n",
          f);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t lo, uint64_t hi) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "zkbench: bad value for %s: '%s' (expected %" PRIu64 "..%" PRIu64 ")\n", name, s, lo,
                hi);
        exit(2);
    }
    return v;
}

static void parse_mix(const char *s) {
    opt.nmixes = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (opt.nmixes == sizeof opt.mixes / sizeof opt.mixes[0]) {
            fprintf(stderr, "zkbench: too many --mix entries\n");
            exit(2);
        }
        if (strcmp(tok, "read") == 0)
            opt.mixes[opt.nmixes++] = MIX_READ;
        else if (strcmp(tok, "write") == 0)
            opt.mixes[opt.nmixes++] = MIX_WRITE;
        else if (strcmp(tok, "mixed") == 0)
            opt.mixes[opt.nmixes++] = MIX_MIXED;
        else {
            fprintf(stderr, "zkbench: bad --mix '%s' (read, write or mixed)\n", tok);
            exit(2);
        }
    }
    if (opt.nmixes == 0) {
        fprintf(stderr, "zkbench: empty --mix\n");
        exit(2);
    }
}

int main(int argc, char **argv) {
    opt.host = "127.0.0.1";
    opt.port = "2181";
    opt.clients = 8;
    opt.ops = 100000;
    opt.pipeline = 16;
    opt.mixes[0] = MIX_READ;
    opt.nmixes = 1;
    opt.value_bytes = 100;
    opt.nodes = 1000;
    opt.seed = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--create") == 0) {
            opt.create = true;
            continue;
        }
        if (strcmp(a, "--cleanup") == 0) {
            opt.cleanup = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "zkbench: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0)
            opt.host = v;
        else if (strcmp(a, "--port") == 0)
            opt.port = v;
        else if (strcmp(a, "--clients") == 0)
            opt.clients = (uint32_t)parse_u64(a, v, 1, 10000);
        else if (strcmp(a, "--ops") == 0)
            opt.ops = parse_u64(a, v, 0, (uint64_t)1 << 40);
        else if (strcmp(a, "--pipeline") == 0)
            opt.pipeline = (uint32_t)parse_u64(a, v, 1, 100000);
        else if (strcmp(a, "--mix") == 0)
            parse_mix(v);
        else if (strcmp(a, "--value-bytes") == 0)
            opt.value_bytes = (uint32_t)parse_u64(a, v, 0, MAX_VALUE);
        else if (strcmp(a, "--nodes") == 0)
            opt.nodes = (uint32_t)parse_u64(a, v, 1, 100000000);
        else if (strcmp(a, "--seed") == 0)
            opt.seed = parse_u64(a, v, 0, UINT64_MAX);
        else {
            fprintf(stderr, "zkbench: unknown option: %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    value = zk_xmalloc(opt.value_bytes ? opt.value_bytes : 1);
    uint64_t vs = opt.seed ^ 0x5EEDull;
    for (uint32_t i = 0; i < opt.value_bytes; i++)
        value[i] = (uint8_t)('a' + rng_next(&vs) % 26);
    known = zk_xcalloc(opt.nodes, 1);

    bool work = opt.create || opt.cleanup || opt.ops > 0;
    printf("zkbench %s:%s clients=%" PRIu32 " pipeline=%" PRIu32 " ops=%" PRIu64 " nodes=%" PRIu32
           " value_bytes=%" PRIu32 " create=%d cleanup=%d seed=%" PRIu64 "\n",
           opt.host, opt.port, opt.clients, opt.pipeline, opt.ops, opt.nodes, opt.value_bytes, opt.create,
           opt.cleanup, opt.seed);
    fflush(stdout);

    conns = zk_xcalloc(opt.clients, sizeof *conns);
    for (uint32_t i = 0; i < opt.clients; i++)
        conn_open(&conns[i], (int)i);

    if (work) {
        run(PH_SETUP, MIX_READ, "setup", false);
        if (opt.create)
            run(PH_CREATE, MIX_READ, "create", true);
        else if (opt.ops > 0)
            run(PH_POPULATE, MIX_READ, "populate", false);
        if (opt.ops > 0) {
            for (uint32_t m = 0; m < opt.nmixes; m++) {
                enum mix mx = opt.mixes[m];
                run(PH_MIX, mx, mx == MIX_READ ? "read" : mx == MIX_WRITE ? "write" : "mixed", true);
            }
        }
        if (opt.cleanup) {
            run(PH_DELETE, MIX_READ, "delete", true);
            run(PH_RMROOT, MIX_READ, "rmroot", false);
        }
    }
    run(PH_CLOSE, MIX_READ, "close", false);

    for (uint32_t i = 0; i < opt.clients; i++)
        conn_free(&conns[i]);
    zk_free(conns);
    zk_free(known);
    zk_free(value);
    close(epfd);
    return 0;
}
