/* zkbench.c — a load generator for any server that speaks the ZooKeeper client wire
 * protocol (framing, ConnectRequest/Response, RequestHeader/ReplyHeader and the
 * records of protocol.md §1-7), built on the project's jute codec.
 *
 * One thread, one epoll set over N non-blocking connections, each its own session.
 * Sessions are opened with non-blocking connects, at most --connect-window handshakes
 * at a time. Each connection keeps up to W requests in flight in a fixed ring (the
 * FIFO of outstanding requests); requests are appended to one output buffer and sent
 * with one send() per wakeup (batched writes). Nothing is allocated per request:
 * rings, histograms and key-state arrays are sized at startup, and the I/O buffers
 * only grow when a frame is larger than any before.
 *
 * Every reply is checked against the oldest outstanding request of its connection:
 * the xid must match (FIFO, protocol.md §1.6), the zxid must not go backwards, the
 * error code must be the expected one, and the body must be exactly the record the
 * opcode returns (create: the echoed path, or path + 10-digit suffix increasing per
 * connection for sequential nodes; getData: buffer + Stat whose dataLength matches,
 * and the bytes we wrote when we know the node holds them; exists/setData: a Stat
 * with our length; getChildren: the expected number of names; multi: one setData
 * result per sub-op and the terminator). Any deviation prints what was expected and
 * what arrived and exits 1.
 *
 * Modes. Closed loop (default): each connection refills its window as replies
 * arrive; latency runs from queueing a request to parsing its reply. Open loop
 * (--rate R): request k of connection i is due at start + (k + i/N) * N/R, i.e. R
 * ops/s spread evenly over the connections; latency runs from that intended time, so
 * a request delayed by a full window or a stalled server still carries the delay (no
 * coordinated omission).
 *
 * Phases, in order (see usage() for what each workload does):
 *   connect   open the sessions (reported: time until all are established)
 *   setup     create /zkbench and the parents the workloads need, NODEEXISTS accepted
 *   populate  create the keys/children a workload reads, unless they are known to
 *             exist; NODEEXISTS accepted; reported only for --workload populate
 *   warmup    the workload for --warmup seconds, checked but not reported
 *   <wl>      the workload for --duration seconds and/or --ops operations
 *   close     closeSession on every connection (reply and EOF checked)
 * With --ops 0 zkbench only opens and closes the sessions (a readiness probe; with
 * --wait S it retries refused or dropped handshakes for up to S seconds). With
 * --idle-sessions N it opens N sessions, keeps them alive with pings for --duration
 * seconds and reports the connect time and the ping latencies. With --pause-probe T it
 * talks to no server: T threads spin reading the clock for --duration seconds and it
 * reports how long the machine took them off the CPU (see pause_probe()). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "jute.h"
#include "mem.h"

#define OP_CREATE 1
#define OP_DELETE 2
#define OP_EXISTS 3
#define OP_GETDATA 4
#define OP_SETDATA 5
#define OP_GETCHILDREN 8
#define OP_PING 11
#define OP_MULTI 14
#define OP_CLOSE (-11)
#define XID_PING (-2)
#define CREATE_EPHEMERAL 1
#define CREATE_SEQUENTIAL 2

#define STAT_BYTES 68
#define MAX_FRAME (4u << 20)      /* far above any reply this tool can provoke */
#define MAX_VALUE 1000000         /* stays under the default jute.maxbuffer (1 MiB - 1) */
#define MULTI_OPS_MAX 1000
#define CLIENTS_MAX 200000
#define STALL_MS 30000            /* a request unanswered this long: the server is stuck */
#define PATH_MAX_LEN 96
#define RETRY_MS 20               /* --wait: pause between handshake attempts */
/* A handshake unanswered this long fails (and is retried with --wait). ZooKeeper accepts
 * TCP connections while it is still loading its database and may never answer one that
 * arrived then, so a readiness probe gives up on an attempt quickly and opens a new one;
 * the probe's resolution is about WAIT_HANDSHAKE_MS. */
#define HANDSHAKE_MS 15000
#define WAIT_HANDSHAKE_MS 200
#define CONNECT_HOUSEKEEP_NS 50000000u
#define LATE_NS 1000000u          /* open loop: sent this late after its due time = late */
#define HOUSEKEEP_NS 1000000000u  /* stall check and keep-alive pings, once a second */
#define IN_CAP_LARGE (64 * 1024)
#define IN_CAP_SMALL 1024         /* for many connections (idle sessions) */
#define EVENTS_MAX 256
#define PAUSE_THREADS_MAX 64
#define PAUSE_MIN_NS 50000u       /* --pause-probe: shorter gaps are not kept */
#define PAUSE_KEEP_MAX (1u << 18) /* --pause-probe: gaps kept per thread */

/* ---------- options ---------- */

enum workload {
    WL_GET,
    WL_EXISTS,
    WL_SET,
    WL_CREATE,
    WL_CREATE_EPH,
    WL_CREATE_SEQ,
    WL_DELETE,
    WL_CHILDREN,
    WL_MULTI,
    WL_MIX,
    WL_POPULATE,
    WL_COUNT
};

static const char *const workload_names[WL_COUNT] = {
    "get",    "exists",   "set",   "create", "create-ephemeral", "create-sequential",
    "delete", "children", "multi", "mix",    "populate",
};

#define WORKLOADS_MAX 16

struct options {
    const char *host;
    const char *port;
    uint32_t clients;
    uint32_t inflight;
    enum workload workloads[WORKLOADS_MAX];
    uint32_t nworkloads;
    uint32_t read_pct;
    uint32_t value_bytes;
    uint32_t keys;
    uint32_t children;
    uint32_t multi_ops;
    double duration_s;    /* 0: no time limit */
    double warmup_s;
    uint64_t ops;         /* 0 with ops_set: probe; UINT64_MAX: no count limit */
    bool ops_set;
    double rate;          /* 0: closed loop */
    uint32_t quantum_us;  /* open loop: due requests are sent in batches this far apart */
    bool json;
    bool no_populate;
    uint64_t seed;
    uint32_t idle_sessions;
    uint32_t connect_window;
    double wait_s;
    uint32_t session_timeout_ms;
    uint32_t pause_threads; /* --pause-probe: 0 = off */
};

static struct options opt;

/* ---------- failure ---------- */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("zkbench: FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1); /* no teardown: a leak report would bury the message */
}

static const char *op_name(int32_t type)
{
    switch (type) {
    case OP_CREATE: return "create";
    case OP_DELETE: return "delete";
    case OP_EXISTS: return "exists";
    case OP_GETDATA: return "getData";
    case OP_SETDATA: return "setData";
    case OP_GETCHILDREN: return "getChildren";
    case OP_PING: return "ping";
    case OP_MULTI: return "multi";
    case OP_CLOSE: return "closeSession";
    default: return "?";
    }
}

/* ---------- time, random ---------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: tiny, seedable, good enough to pick keys. */
static uint64_t rng_next(uint64_t *s)
{
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
    double sum;
};

static uint32_t hist_index(uint64_t v)
{
    if (v < (1u << HIST_SUB_BITS))
        return (uint32_t)v;
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(v);
    uint32_t shift = msb - (HIST_SUB_BITS - 1);
    return shift * HIST_HALF + (uint32_t)(v >> shift);
}

/* Largest value that falls into bucket idx. */
static uint64_t hist_upper(uint32_t idx)
{
    if (idx < (1u << HIST_SUB_BITS))
        return idx;
    uint32_t shift = idx / HIST_HALF - 1;
    uint64_t m = idx - shift * HIST_HALF;
    return ((m + 1) << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
    uint32_t i = hist_index(v);
    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    h->count[i]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
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

/* ---------- state ---------- */

/* Which znode a request names; the path is rebuilt from this for checks and messages. */
enum space { SP_NONE, SP_ROOT, SP_KEY, SP_KIDS, SP_KID, SP_CPARENT, SP_CNODE };

/* Key and child states, from what this run has seen. */
enum { KS_UNKNOWN, KS_OURS, KS_EXISTS, KS_ABSENT };

enum phase_kind { PH_CONNECT, PH_SETUP, PH_FILL, PH_RUN, PH_IDLE, PH_CLOSE };

struct pending {
    int32_t xid;
    int32_t type;
    uint32_t index;         /* key / child / created-node number */
    uint8_t space;
    uint8_t sub;            /* SP_CPARENT/SP_CNODE: 0 create, 1 ephemeral, 2 sequential */
    bool check_value;       /* getData: the node holds exactly our value (known at send) */
    bool tolerate_exists;   /* create: NODEEXISTS is an accepted answer */
    uint64_t t0;            /* latency origin: queue time, or due time (open loop) */
    uint64_t t_sent;        /* when it was queued (stall detection) */
};

enum conn_state { CS_NEW, CS_RETRY, CS_CONNECTING, CS_HANDSHAKE, CS_READY, CS_CLOSED };

struct conn {
    uint32_t id;
    int fd;
    enum conn_state state;
    int64_t session_id;
    int32_t next_xid;
    int64_t last_zxid;
    int64_t last_seq;       /* create-sequential: last suffix this connection saw */
    struct jute_buf out;
    uint8_t *in;
    uint32_t in_len, in_cap;
    struct pending *ring;   /* FIFO of outstanding requests, capacity ring_cap */
    uint32_t ring_cap, ring_head, ring_count;
    bool epollout;          /* EPOLLOUT currently requested */
    bool close_sent;
    uint64_t rng;
    uint64_t t_connect;     /* when the current connect attempt started */
    uint64_t retry_at;
    uint64_t last_send;
    uint64_t issued;        /* per phase */
    bool open_done;         /* open loop: nothing more is due in this phase */
};

struct phase {
    enum phase_kind kind;
    enum workload wl;
    const char *name;
    bool reported;
    bool open;              /* open loop */
    bool exhausted;         /* no more work to issue (cursor at the end) */
    uint64_t t_start, t_last, deadline;
    double start_unix_s;    /* wall-clock t_start, to line phases up with server events */
    uint64_t planned;       /* requests to issue; UINT64_MAX = until the deadline */
    uint64_t issued, completed;
    uint64_t reads, writes, late, pings;
    uint64_t max_at;        /* t0 of the slowest request, relative to t_start */
    uint64_t *max_by_s;     /* slowest latency of the requests intended in each second */
    uint32_t max_by_s_len;  /* of the phase (JSON "max_us_by_s"), to line up with events */
    double interval_ns;     /* open loop: gap between two requests of one connection */
    uint64_t ping_seq;      /* idle: pings scheduled so far */
    double ping_gap_ns;     /* idle: gap between two pings over all sessions */
    uint64_t oversleep_max; /* longest wake-up after epoll's timeout was due: a pause of
                               this client, not of the server */
    uint64_t oversleeps;    /* wake-ups more than LATE_NS after their timeout */
    struct hist hist;
};

static struct conn *conns;
static int epfd = -1;
static uint8_t *value;       /* the bytes every create/setData writes */
static uint8_t *key_state;   /* opt.keys entries */
static uint8_t *kid_state;   /* opt.children entries */
static uint64_t kids_created;  /* children this run created (OK, not NODEEXISTS) */
static uint64_t kids_name_bytes;
static char run_tag[24];     /* makes create-workload parents unique per run */
static struct phase *cur;

#define MAX_BY_S_CAP (7 * 24 * 3600) /* a week of seconds: beyond it, not recorded */

/* Records lat in the second of the phase its request was meant to go out in. */
static void max_by_s_add(struct phase *ph, uint64_t at_ns, uint64_t lat)
{
    uint64_t sec = at_ns / 1000000000u;
    if (sec >= MAX_BY_S_CAP)
        return;
    if (sec >= ph->max_by_s_len) {
        uint32_t len = ph->max_by_s_len ? ph->max_by_s_len : 16;
        while (len <= sec)
            len *= 2;
        ph->max_by_s = zk_xrealloc(ph->max_by_s, (size_t)len * sizeof(uint64_t));
        memset(ph->max_by_s + ph->max_by_s_len, 0, (size_t)(len - ph->max_by_s_len) * sizeof(uint64_t));
        ph->max_by_s_len = len;
    }
    if (lat > ph->max_by_s[sec])
        ph->max_by_s[sec] = lat;
}
static uint64_t outstanding; /* requests sent and not answered, all connections */
static struct sockaddr_storage srv_addr;
static socklen_t srv_addr_len;
static uint32_t ready_count, connecting_count, next_start, retry_count;
static uint64_t wait_deadline;
static int32_t negotiated_timeout_ms;
static uint64_t create_next;  /* next create-workload node number */
static uint32_t cursor;       /* setup / populate / delete cursor */
static struct { uint8_t space, sub; } setup_targets[8];
static uint32_t setup_count;
static FILE *human;           /* stdout, or stderr with --json */

static void node_path(char *buf, uint8_t space, uint8_t sub, uint32_t index)
{
    static const char kind_letter[3] = {'c', 'e', 's'};
    switch (space) {
    case SP_ROOT: snprintf(buf, PATH_MAX_LEN, "/zkbench"); break;
    case SP_KEY: snprintf(buf, PATH_MAX_LEN, "/zkbench/n%" PRIu32, index); break;
    case SP_KIDS: snprintf(buf, PATH_MAX_LEN, "/zkbench/kids"); break;
    case SP_KID: snprintf(buf, PATH_MAX_LEN, "/zkbench/kids/k%" PRIu32, index); break;
    case SP_CPARENT:
        snprintf(buf, PATH_MAX_LEN, "/zkbench/%c%s", kind_letter[sub], run_tag);
        break;
    case SP_CNODE:
        if (sub == 2)
            snprintf(buf, PATH_MAX_LEN, "/zkbench/s%s/n-", run_tag);
        else
            snprintf(buf, PATH_MAX_LEN, "/zkbench/%c%s/n%" PRIu32, kind_letter[sub], run_tag,
                     index);
        break;
    default: snprintf(buf, PATH_MAX_LEN, "-"); break;
    }
}

/* ---------- reply failures ---------- */

static void fail_reply(const struct conn *c, const struct pending *p, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
static void fail_reply(const struct conn *c, const struct pending *p, const char *fmt, ...)
{
    char path[PATH_MAX_LEN], msg[512];
    node_path(path, p->space, p->sub, p->index);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    die("phase %s conn %" PRIu32 " (session 0x%" PRIx64 ") xid %" PRId32 " %s %s: %s", cur->name,
        c->id, (uint64_t)c->session_id, p->xid, op_name(p->type), path, msg);
}

/* ---------- connections ---------- */

static void resolve_server(void)
{
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(opt.host, opt.port, &hints, &res);
    if (gai != 0)
        die("%s:%s: %s", opt.host, opt.port, gai_strerror(gai));
    /* Prefer IPv4: ZooKeeper configs usually bind clientPortAddress=127.0.0.1. */
    struct addrinfo *pick = res;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    if (pick->ai_addrlen > sizeof srv_addr)
        die("%s: address too long", opt.host);
    memcpy(&srv_addr, pick->ai_addr, pick->ai_addrlen);
    srv_addr_len = pick->ai_addrlen;
    freeaddrinfo(res);
}

static void conn_init(struct conn *c, uint32_t id)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->fd = -1;
    c->state = CS_NEW;
    c->next_xid = 1;
    c->last_seq = INT64_MIN;
    jute_buf_init(&c->out);
    c->ring_cap = opt.inflight + 1; /* + a keep-alive ping or the closeSession */
    c->ring = zk_xcalloc(c->ring_cap, sizeof *c->ring);
    c->in_cap = opt.clients > 256 ? IN_CAP_SMALL : IN_CAP_LARGE;
    c->in = zk_xmalloc(c->in_cap);
    /* Each connection's stream starts at a hashed point, so streams do not overlap. */
    uint64_t s = opt.seed ^ ((uint64_t)(id + 1) * 0xD1B54A32D192ED03ull);
    c->rng = rng_next(&s);
}

static void conn_deinit(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    jute_buf_deinit(&c->out);
    zk_free(c->in);
    zk_free(c->ring);
}

static void conn_epoll(struct conn *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u32 = c->id};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* Fails the current connect attempt: retried while --wait allows, fatal otherwise. */
static void conn_fail_connect(struct conn *c, const char *why)
{
    uint64_t t = now_ns();
    if (wait_deadline == 0 || t >= wait_deadline)
        die("conn %" PRIu32 ": %s:%s: %s%s", c->id, opt.host, opt.port, why,
            wait_deadline ? " (gave up after --wait)" : "");
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->in_len = 0;
    c->out.len = 0;
    c->epollout = false;
    c->state = CS_RETRY;
    c->retry_at = t + (uint64_t)RETRY_MS * 1000000u;
    connecting_count--;
    retry_count++;
}

static void conn_start(struct conn *c)
{
    c->fd = socket(srv_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s (raise the open-files limit for many sessions)", strerror(errno));
    c->state = CS_CONNECTING;
    c->t_connect = now_ns();
    connecting_count++;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)&srv_addr, srv_addr_len) < 0 &&
        errno != EINPROGRESS) {
        char why[128];
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        conn_fail_connect(c, why);
        return;
    }
    c->epollout = true;
    conn_epoll(c, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT);
}

static void conn_want_out(struct conn *c, bool want)
{
    if (c->epollout == want)
        return;
    conn_epoll(c, EPOLL_CTL_MOD, EPOLLIN | (want ? EPOLLOUT : 0));
    c->epollout = want;
}

/* Sends what is queued; returns false if the connection failed during a handshake. */
static bool conn_flush(struct conn *c)
{
    while (c->out.len > 0) {
        ssize_t w = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (c->state == CS_HANDSHAKE) {
                conn_fail_connect(c, strerror(errno));
                return false;
            }
            die("phase %s conn %" PRIu32 ": send: %s", cur->name, c->id, strerror(errno));
        }
        jute_buf_consume(&c->out, (uint32_t)w);
    }
    conn_want_out(c, c->out.len > 0);
    return true;
}

/* The TCP connect finished (EPOLLOUT): queue the ConnectRequest (§3.1). */
static void conn_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        char why[128];
        snprintf(why, sizeof why, "connect: %s", strerror(err));
        conn_fail_connect(c, why);
        return;
    }
    c->state = CS_HANDSHAKE;
    struct jute_buf *b = &c->out;
    uint32_t start = b->len;
    jute_write_i32(b, 0);                 /* frame length, patched */
    jute_write_i32(b, 0);                 /* protocolVersion */
    jute_write_i64(b, 0);                 /* lastZxidSeen */
    jute_write_i32(b, (int32_t)opt.session_timeout_ms);
    jute_write_i64(b, 0);                 /* sessionId: new */
    uint8_t zero[16] = {0};
    jute_write_bytes(b, zero, 16);
    jute_write_bool(b, false);            /* readOnly, as the Java/C/kazoo clients send */
    jute_patch_i32(b, start, (int32_t)(b->len - start - 4));
    conn_flush(c);
}

/* Parses the ConnectResponse (§3.2); returns false if the attempt failed. */
static bool conn_handshake_reply(struct conn *c, const uint8_t *f, uint32_t n)
{
    char why[160];
    if (n != 36 && n != 37) {
        snprintf(why, sizeof why, "ConnectResponse length %" PRIu32 ", expected 37 (or 36)", n);
        conn_fail_connect(c, why);
        return false;
    }
    struct jute_reader r;
    jute_reader_init(&r, f, n);
    int32_t proto = jute_read_i32(&r);
    int32_t timeout = jute_read_i32(&r);
    int64_t sid = jute_read_i64(&r);
    struct jute_bytes pw = jute_read_bytes(&r, 16);
    bool ro = n == 37 ? jute_read_bool(&r) : false;
    if (!jute_reader_ok(&r) || r.left != 0)
        die("conn %" PRIu32 ": malformed ConnectResponse", c->id);
    if (proto != 0)
        die("conn %" PRIu32 ": ConnectResponse protocolVersion %" PRId32 ", expected 0", c->id,
            proto);
    if (timeout <= 0 || sid == 0) {
        snprintf(why, sizeof why, "session refused (timeOut=%" PRId32 " sessionId=0x%" PRIx64 ")",
                 timeout, (uint64_t)sid);
        conn_fail_connect(c, why);
        return false;
    }
    if (pw.len != 16)
        die("conn %" PRIu32 ": password length %" PRId32 ", expected 16", c->id, pw.len);
    if (ro)
        die("conn %" PRIu32 ": server answered readOnly=true", c->id);
    c->session_id = sid;
    c->state = CS_READY;
    c->last_send = now_ns();
    if (negotiated_timeout_ms == 0 || timeout < negotiated_timeout_ms)
        negotiated_timeout_ms = timeout;
    connecting_count--;
    ready_count++;
    if (cur->kind == PH_CONNECT) {
        hist_add(&cur->hist, c->last_send - c->t_connect);
        cur->completed++;
        cur->t_last = c->last_send;
    }
    return true;
}

/* ---------- requests ---------- */

static void write_create_body(struct jute_buf *b, const char *path, bool with_value, int32_t flags)
{
    jute_write_cstr(b, path);
    if (with_value)
        jute_write_bytes(b, value, (int32_t)opt.value_bytes);
    else
        jute_write_bytes(b, NULL, 0);
    jute_write_i32(b, 1);                 /* acl: OPEN_ACL_UNSAFE */
    jute_write_i32(b, 31);
    jute_write_cstr(b, "world");
    jute_write_cstr(b, "anyone");
    jute_write_i32(b, flags);
}

static uint32_t multi_key(uint32_t first, uint32_t j)
{
    uint32_t stride = opt.keys / opt.multi_ops > 0 ? opt.keys / opt.multi_ops : 1;
    return (uint32_t)(((uint64_t)first + (uint64_t)j * stride) % opt.keys);
}

static void write_multi_body(struct jute_buf *b, uint32_t first)
{
    char path[PATH_MAX_LEN];
    for (uint32_t j = 0; j < opt.multi_ops; j++) {
        jute_write_i32(b, OP_SETDATA);    /* MultiHeader{type, done=false, err=-1} */
        jute_write_bool(b, false);
        jute_write_i32(b, -1);
        node_path(path, SP_KEY, 0, multi_key(first, j));
        jute_write_cstr(b, path);
        jute_write_bytes(b, value, (int32_t)opt.value_bytes);
        jute_write_i32(b, -1);
    }
    jute_write_i32(b, -1);                /* terminator MultiHeader{-1, true, -1} */
    jute_write_bool(b, true);
    jute_write_i32(b, -1);
}

/* Queues one request and records it in the FIFO. t0 is its latency origin. */
static void conn_send(struct conn *c, int32_t type, uint8_t space, uint8_t sub, uint32_t index,
                      uint64_t t0)
{
    if (c->ring_count >= c->ring_cap || c->state != CS_READY)
        die("internal: send on a full or unready connection");
    char path[PATH_MAX_LEN];
    struct pending *p = &c->ring[(c->ring_head + c->ring_count) % c->ring_cap];
    struct jute_buf *b = &c->out;
    uint32_t start = b->len;
    int32_t xid = XID_PING;
    if (type != OP_PING) {
        xid = c->next_xid;
        c->next_xid = c->next_xid == INT32_MAX ? 1 : c->next_xid + 1;
    }
    jute_write_i32(b, 0); /* frame length, patched below */
    jute_write_i32(b, xid);
    jute_write_i32(b, type);
    node_path(path, space, sub, index);
    bool tolerate = false;
    switch (type) {
    case OP_CREATE: {
        int32_t flags = 0;
        if (space == SP_CNODE)
            flags = sub == 1 ? CREATE_EPHEMERAL : sub == 2 ? CREATE_SEQUENTIAL : 0;
        write_create_body(b, path, space == SP_KEY || space == SP_CNODE, flags);
        tolerate = space == SP_ROOT || space == SP_KIDS || space == SP_CPARENT ||
                   (space == SP_KEY && key_state[index] == KS_UNKNOWN) ||
                   (space == SP_KID && kid_state[index] == KS_UNKNOWN);
        break;
    }
    case OP_DELETE:
        jute_write_cstr(b, path);
        jute_write_i32(b, -1);
        break;
    case OP_EXISTS:
    case OP_GETDATA:
    case OP_GETCHILDREN:
        jute_write_cstr(b, path);
        jute_write_bool(b, false);        /* no watch */
        break;
    case OP_SETDATA:
        jute_write_cstr(b, path);
        jute_write_bytes(b, value, (int32_t)opt.value_bytes);
        jute_write_i32(b, -1);
        break;
    case OP_MULTI: write_multi_body(b, index); break;
    case OP_PING:
    case OP_CLOSE: break;
    default: die("internal: opcode %" PRId32, type);
    }
    jute_patch_i32(b, start, (int32_t)(b->len - start - 4));

    uint64_t t = now_ns();
    p->xid = xid;
    p->type = type;
    p->space = space;
    p->sub = sub;
    p->index = index;
    p->check_value = space == SP_KEY && key_state[index] == KS_OURS;
    p->tolerate_exists = tolerate;
    p->t0 = t0 ? t0 : t;
    p->t_sent = t;
    c->ring_count++;
    c->last_send = t;
    outstanding++;
}

/* Next key or child the populate phase must create; false when done. */
static bool fill_next(uint8_t *space, uint32_t *index)
{
    bool keys = cur->wl != WL_CHILDREN;
    uint8_t *st = keys ? key_state : kid_state;
    uint32_t n = keys ? opt.keys : opt.children;
    while (cursor < n && (st[cursor] == KS_OURS || st[cursor] == KS_EXISTS))
        cursor++;
    if (cursor >= n)
        return false;
    *space = keys ? SP_KEY : SP_KID;
    *index = cursor++;
    return true;
}

/* Issues one request of the current run phase; false if there is nothing left. */
static bool issue_run(struct conn *c, uint64_t t0)
{
    uint64_t rnd = rng_next(&c->rng);
    uint32_t key = (uint32_t)((rnd & 0xffffffffu) % opt.keys);
    switch (cur->wl) {
    case WL_GET: conn_send(c, OP_GETDATA, SP_KEY, 0, key, t0); break;
    case WL_EXISTS: conn_send(c, OP_EXISTS, SP_KEY, 0, key, t0); break;
    case WL_SET: conn_send(c, OP_SETDATA, SP_KEY, 0, key, t0); break;
    case WL_MIX:
        if ((rnd >> 40) % 100 < opt.read_pct) {
            conn_send(c, OP_GETDATA, SP_KEY, 0, key, t0);
            cur->reads++;
        } else {
            conn_send(c, OP_SETDATA, SP_KEY, 0, key, t0);
            cur->writes++;
        }
        break;
    case WL_CREATE:
    case WL_CREATE_EPH:
    case WL_CREATE_SEQ:
        if (create_next > UINT32_MAX)
            return false;
        conn_send(c, OP_CREATE, SP_CNODE, (uint8_t)(cur->wl - WL_CREATE), (uint32_t)create_next,
                  t0);
        create_next++;
        break;
    case WL_DELETE:
        while (cursor < opt.keys && key_state[cursor] == KS_ABSENT)
            cursor++;
        if (cursor >= opt.keys)
            return false;
        conn_send(c, OP_DELETE, SP_KEY, 0, cursor++, t0);
        break;
    case WL_CHILDREN: conn_send(c, OP_GETCHILDREN, SP_KIDS, 0, 0, t0); break;
    case WL_MULTI: conn_send(c, OP_MULTI, SP_KEY, 0, key, t0); break;
    case WL_POPULATE:
    case WL_COUNT: die("internal: run phase of workload %d", (int)cur->wl);
    }
    return true;
}

/* Issues one request of the current phase; false if this phase has nothing left. */
static bool issue_one(struct conn *c, uint64_t t0)
{
    uint8_t space;
    uint32_t index;
    switch (cur->kind) {
    case PH_SETUP:
        if (cursor >= setup_count)
            return false;
        conn_send(c, OP_CREATE, setup_targets[cursor].space, setup_targets[cursor].sub, 0, 0);
        cursor++;
        return true;
    case PH_FILL:
        if (!fill_next(&space, &index))
            return false;
        conn_send(c, OP_CREATE, space, 0, index, 0);
        return true;
    case PH_RUN: return issue_run(c, t0);
    default: die("internal: issue in phase %s", cur->name);
    }
}

/* Due time of the next open-loop request of c. */
static uint64_t open_due(const struct conn *c)
{
    double k = (double)c->issued + (double)c->id / (double)opt.clients;
    return cur->t_start + (uint64_t)(k * cur->interval_ns);
}

static bool closed_may_issue(uint64_t t)
{
    if (cur->exhausted || cur->issued >= cur->planned)
        return false;
    return cur->deadline == 0 || t < cur->deadline;
}

/* Issues requests until the window is full or nothing more is due. */
static void conn_fill(struct conn *c, uint64_t t)
{
    if (c->state != CS_READY)
        return;
    if (cur->kind == PH_CLOSE) {
        if (!c->close_sent) {
            conn_send(c, OP_CLOSE, SP_NONE, 0, 0, 0);
            c->close_sent = true;
        }
        return;
    }
    if (cur->kind == PH_CONNECT || cur->kind == PH_IDLE || (cur->kind == PH_SETUP && c->id != 0))
        return; /* setup runs in order on connection 0: parents before children */
    while (c->ring_count < opt.inflight) {
        uint64_t t0 = 0;
        if (cur->open) {
            uint64_t due = open_due(c);
            if (c->open_done)
                break;
            if ((cur->deadline != 0 && due >= cur->deadline) || cur->issued >= cur->planned) {
                c->open_done = true;
                break;
            }
            if (due > t)
                break;
            if (t - due > LATE_NS)
                cur->late++;
            t0 = due;
        } else if (!closed_may_issue(t)) {
            break;
        }
        if (!issue_one(c, t0)) {
            cur->exhausted = true;
            c->open_done = true;
            break;
        }
        c->issued++;
        cur->issued++;
    }
}

/* ---------- replies ---------- */

static void check_stat(const struct conn *c, const struct pending *p, struct jute_reader *r,
                       int32_t want_len, bool persistent)
{
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
        fail_reply(c, p, "reply body too short for a Stat");
    if (want_len >= 0 && dlen != want_len)
        fail_reply(c, p, "Stat.dataLength %" PRId32 ", expected %" PRId32, dlen, want_len);
    if (dlen < 0)
        fail_reply(c, p, "Stat.dataLength %" PRId32 " is negative", dlen);
    if (persistent && owner != 0)
        fail_reply(c, p, "Stat.ephemeralOwner 0x%" PRIx64 " on a persistent node",
                   (uint64_t)owner);
    if (mzxid <= 0 || mzxid > c->last_zxid)
        fail_reply(c, p, "Stat.mzxid 0x%" PRIx64 " not in (0, reply zxid 0x%" PRIx64 "]",
                   (uint64_t)mzxid, (uint64_t)c->last_zxid);
}

static void check_create(struct conn *c, const struct pending *p, struct jute_reader *r)
{
    char path[PATH_MAX_LEN];
    node_path(path, p->space, p->sub, p->index);
    size_t plen = strlen(path);
    struct jute_bytes s = jute_read_bytes(r, MAX_FRAME);
    int shown = s.len > 0 && s.len < 200 ? (int)s.len : 0;
    if (!jute_reader_ok(r) || s.len < 0)
        fail_reply(c, p, "malformed CreateResponse");
    if (p->space == SP_CNODE && p->sub == 2) {
        /* ZK-COMPAT: the suffix is the parent's counter as %010d (protocol.md §12). */
        if ((size_t)s.len != plen + 10 || memcmp(s.p, path, plen) != 0)
            fail_reply(c, p, "reply path '%.*s', expected the path + a 10-digit suffix", shown,
                       (const char *)s.p);
        int64_t seq = 0;
        bool neg = s.p[plen] == '-';
        for (size_t i = plen + (neg ? 1 : 0); i < plen + 10; i++) {
            if (s.p[i] < '0' || s.p[i] > '9')
                fail_reply(c, p, "reply path '%.*s': suffix is not %%010d", shown,
                           (const char *)s.p);
            seq = seq * 10 + (s.p[i] - '0');
        }
        if (neg)
            seq = -seq;
        if (seq <= c->last_seq)
            fail_reply(c, p, "sequence %" PRId64 " not above this session's previous %" PRId64,
                       seq, c->last_seq);
        c->last_seq = seq;
        return;
    }
    if ((size_t)s.len != plen || memcmp(s.p, path, plen) != 0)
        fail_reply(c, p, "reply path '%.*s', expected the path itself", shown, (const char *)s.p);
    if (p->space == SP_KEY)
        key_state[p->index] = KS_OURS;
    else if (p->space == SP_KID) {
        kid_state[p->index] = KS_OURS;
        kids_created++;
    }
}

static void check_getdata(const struct conn *c, const struct pending *p, struct jute_reader *r)
{
    struct jute_bytes d = jute_read_bytes(r, MAX_FRAME);
    if (!jute_reader_ok(r))
        fail_reply(c, p, "malformed data buffer");
    int32_t dl = d.len < 0 ? 0 : d.len;
    if (p->check_value &&
        (d.len != (int32_t)opt.value_bytes ||
         (d.len > 0 && memcmp(d.p, value, opt.value_bytes) != 0)))
        fail_reply(c, p, "returned %" PRId32 " bytes that differ from the %" PRIu32 " written",
                   d.len, opt.value_bytes);
    check_stat(c, p, r, dl, true);
}

static void check_children(const struct conn *c, const struct pending *p, struct jute_reader *r)
{
    int32_t n = jute_read_count(r, 4);
    if (!jute_reader_ok(r) || n < 0)
        fail_reply(c, p, "malformed children vector");
    uint64_t bytes = 0;
    for (int32_t i = 0; i < n; i++) {
        struct jute_bytes s = jute_read_bytes(r, MAX_FRAME);
        if (!jute_reader_ok(r) || s.len <= 0)
            fail_reply(c, p, "child %" PRId32 " of %" PRId32 ": malformed or empty name", i, n);
        bytes += (uint64_t)s.len;
    }
    /* Exact when this run created every child; otherwise others may have added some. */
    bool exact = kids_created == opt.children;
    if (exact && ((uint32_t)n != opt.children || bytes != kids_name_bytes))
        fail_reply(c, p, "%" PRId32 " children with %" PRIu64 " name bytes, expected %" PRIu32
                   " with %" PRIu64, n, bytes, opt.children, kids_name_bytes);
    if (!exact && (uint32_t)n < opt.children)
        fail_reply(c, p, "%" PRId32 " children, expected at least %" PRIu32, n, opt.children);
}

static void check_multi(const struct conn *c, const struct pending *p, struct jute_reader *r)
{
    for (uint32_t j = 0; j < opt.multi_ops; j++) {
        int32_t type = jute_read_i32(r);
        bool done = jute_read_bool(r);
        int32_t err = jute_read_i32(r);
        if (!jute_reader_ok(r))
            fail_reply(c, p, "result %" PRIu32 ": truncated MultiHeader", j);
        if (type != OP_SETDATA || done || err != 0)
            fail_reply(c, p, "result %" PRIu32 ": MultiHeader{%" PRId32 ", %d, %" PRId32 " (%s)}, "
                       "expected {5, false, 0}", j, type, (int)done, err, zoo_rc_name(err));
        check_stat(c, p, r, (int32_t)opt.value_bytes, true);
        key_state[multi_key(p->index, j)] = KS_OURS;
    }
    int32_t type = jute_read_i32(r);
    bool done = jute_read_bool(r);
    int32_t err = jute_read_i32(r);
    if (!jute_reader_ok(r) || type != -1 || !done || err != -1)
        fail_reply(c, p, "missing or bad terminator MultiHeader{-1, true, -1}");
}

static void check_body(struct conn *c, const struct pending *p, struct jute_reader *r)
{
    switch (p->type) {
    case OP_CREATE: check_create(c, p, r); break;
    case OP_GETDATA: check_getdata(c, p, r); break;
    case OP_EXISTS:
        check_stat(c, p, r, p->check_value ? (int32_t)opt.value_bytes : -1, true);
        break;
    case OP_SETDATA:
        check_stat(c, p, r, (int32_t)opt.value_bytes, true);
        key_state[p->index] = KS_OURS;
        break;
    case OP_DELETE: key_state[p->index] = KS_ABSENT; break;
    case OP_GETCHILDREN: check_children(c, p, r); break;
    case OP_MULTI: check_multi(c, p, r); break;
    default: break; /* ping, closeSession: no body */
    }
}

/* Checks one reply frame (payload without the length) against the oldest request. */
static void conn_reply(struct conn *c, const uint8_t *f, uint32_t n, uint64_t t_now)
{
    struct jute_reader r;
    jute_reader_init(&r, f, n);
    int32_t xid = jute_read_i32(&r);
    int64_t zxid = jute_read_i64(&r);
    int32_t err = jute_read_i32(&r);
    if (!jute_reader_ok(&r))
        die("phase %s conn %" PRIu32 ": reply frame of %" PRIu32
            " bytes, shorter than a ReplyHeader", cur->name, c->id, n);
    if (c->ring_count == 0)
        die("phase %s conn %" PRIu32 ": unsolicited reply xid %" PRId32 " err %" PRId32
            " (%s), nothing outstanding", cur->name, c->id, xid, err, zoo_rc_name(err));
    struct pending *p = &c->ring[c->ring_head];
    if (xid != p->xid)
        fail_reply(c, p, "xid order violated: got a reply to xid %" PRId32 " err %" PRId32 " (%s)",
                   xid, err, zoo_rc_name(err));
    if (zxid < c->last_zxid)
        fail_reply(c, p, "reply zxid 0x%" PRIx64 " is below the previous reply's 0x%" PRIx64,
                   (uint64_t)zxid, (uint64_t)c->last_zxid);
    c->last_zxid = zxid;

    if (err != ZOO_OK && !(p->tolerate_exists && err == ZOO_NODEEXISTS))
        fail_reply(c, p, "error %" PRId32 " (%s), expected 0 (OK)%s", err, zoo_rc_name(err),
                   p->tolerate_exists ? " or -110 (NODEEXISTS)" : "");
    if (err != ZOO_OK) {
        if (r.left != 0)
            fail_reply(c, p, "error reply carries %" PRIu32 " body bytes, expected 0", r.left);
        if (p->space == SP_KEY)
            key_state[p->index] = KS_EXISTS;
        else if (p->space == SP_KID)
            kid_state[p->index] = KS_EXISTS;
    } else {
        if (zxid <= 0 && p->type != OP_PING)
            fail_reply(c, p, "reply zxid %" PRId64 ", expected > 0", zxid);
        check_body(c, p, &r);
        if (r.left != 0)
            fail_reply(c, p, "%" PRIu32 " unexpected trailing bytes in the reply", r.left);
    }

    bool counted = p->type != OP_PING || cur->kind == PH_IDLE;
    if (counted) {
        uint64_t lat = t_now > p->t0 ? t_now - p->t0 : 0;
        uint64_t at = p->t0 > cur->t_start ? p->t0 - cur->t_start : 0;
        if (lat > cur->hist.max)
            cur->max_at = at;
        max_by_s_add(cur, at, lat);
        hist_add(&cur->hist, lat);
        cur->completed++;
        cur->t_last = t_now;
    }
    c->ring_head = (c->ring_head + 1) % c->ring_cap;
    c->ring_count--;
    outstanding--;
}

/* The server closed the connection: legal only after closeSession was answered. */
static void conn_eof(struct conn *c, const char *why)
{
    if (c->state == CS_CONNECTING || c->state == CS_HANDSHAKE) {
        conn_fail_connect(c, why);
        return;
    }
    if (cur->kind == PH_CLOSE && c->close_sent && c->ring_count == 0 && c->in_len == 0) {
        close(c->fd);
        c->fd = -1;
        c->state = CS_CLOSED;
        cur->t_last = now_ns();
        return;
    }
    die("phase %s conn %" PRIu32 " (session 0x%" PRIx64 "): %s with %" PRIu32
        " requests outstanding%s", cur->name, c->id, (uint64_t)c->session_id, why, c->ring_count,
        c->in_len ? " in the middle of a frame" : "");
}

/* Makes room for at least one more byte; grows only for a frame larger than the buffer. */
static void conn_in_room(struct conn *c)
{
    if (c->in_len < c->in_cap)
        return;
    uint32_t need = 4;
    if (c->in_len >= 4)
        need = 4 + jute_be32(c->in);
    if (need > MAX_FRAME + 4)
        die("phase %s conn %" PRIu32 ": reply frame length %" PRIu32 " is out of bounds",
            cur->name, c->id, need - 4);
    if (need <= c->in_cap)
        die("internal: input buffer full");
    c->in_cap = need;
    c->in = zk_xrealloc(c->in, c->in_cap);
}

/* Processes every complete frame in the input buffer; false if the connection was reset. */
static bool conn_frames(struct conn *c, uint64_t t)
{
    uint32_t off = 0;
    while (c->in_len - off >= 4) {
        uint32_t flen = jute_be32(c->in + off);
        if (flen > MAX_FRAME)
            die("phase %s conn %" PRIu32 ": reply frame length %" PRIu32 " is out of bounds",
                cur->name, c->id, flen);
        if (c->in_len - off - 4 < flen)
            break;
        if (c->state == CS_HANDSHAKE) {
            if (!conn_handshake_reply(c, c->in + off + 4, flen))
                return false;
        } else {
            conn_reply(c, c->in + off + 4, flen, t);
        }
        off += 4 + flen;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return true;
}

/* Reads what is available; returns false if the connection is gone (retry or closed). */
static bool conn_read(struct conn *c)
{
    for (;;) {
        conn_in_room(c);
        uint32_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            conn_eof(c, strerror(errno));
            return false;
        }
        if (n == 0) {
            conn_eof(c, "server closed the connection");
            return false;
        }
        c->in_len += (uint32_t)n;
        if (!conn_frames(c, now_ns()))
            return false;
        if ((uint32_t)n < room)
            return true; /* drained; epoll will tell us about more */
    }
}

static void conn_event(struct conn *c, uint32_t events)
{
    if (c->state == CS_CLOSED || c->state == CS_RETRY || c->fd < 0)
        return;
    if (c->state == CS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_connected(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (!conn_read(c))
            return;
        conn_fill(c, now_ns());
    }
    conn_flush(c);
}

/* ---------- phases ---------- */

static bool phase_issue_done(uint64_t t)
{
    switch (cur->kind) {
    case PH_CONNECT: return ready_count == opt.clients;
    case PH_CLOSE: return true;
    case PH_IDLE: return t >= cur->deadline;
    case PH_SETUP:
    case PH_FILL:
    case PH_RUN: break;
    }
    if (!cur->open)
        return !closed_may_issue(t);
    for (uint32_t i = 0; i < opt.clients; i++)
        if (!conns[i].open_done)
            return false;
    return true;
}

static bool phase_done(uint64_t t)
{
    if (!phase_issue_done(t) || outstanding > 0)
        return false;
    if (cur->kind == PH_CLOSE) {
        for (uint32_t i = 0; i < opt.clients; i++)
            if (conns[i].state != CS_CLOSED)
                return false;
    }
    return true;
}

/* Opens more sessions while the connect window has room; retries failed ones. */
static void connect_tick(uint64_t t)
{
    if (retry_count > 0) {
        for (uint32_t i = 0; i < opt.clients && connecting_count < opt.connect_window; i++) {
            struct conn *c = &conns[i];
            if (c->state == CS_RETRY && t >= c->retry_at) {
                retry_count--;
                conn_start(c);
            }
        }
    }
    while (next_start < opt.clients && connecting_count < opt.connect_window)
        conn_start(&conns[next_start++]);
}

/* Fails connect attempts that have waited too long for their ConnectResponse. */
static void connect_housekeep(uint64_t t)
{
    uint64_t limit = (uint64_t)(wait_deadline ? WAIT_HANDSHAKE_MS : HANDSHAKE_MS) * 1000000u;
    for (uint32_t i = 0; i < opt.clients; i++) {
        struct conn *c = &conns[i];
        if ((c->state == CS_CONNECTING || c->state == CS_HANDSHAKE) && t > c->t_connect &&
            t - c->t_connect > limit)
            conn_fail_connect(c, c->state == CS_CONNECTING ? "TCP connect timed out"
                                                           : "no ConnectResponse (timed out)");
    }
}

/* Idle sessions: one ping at a time, round-robin, each session every timeout/3. */
static void idle_tick(uint64_t t)
{
    while (t < cur->deadline) {
        uint64_t due = cur->t_start + (uint64_t)((double)cur->ping_seq * cur->ping_gap_ns);
        if (due > t)
            break;
        struct conn *c = &conns[cur->ping_seq % opt.clients];
        cur->ping_seq++;
        if (c->state == CS_READY && c->ring_count < c->ring_cap) {
            conn_send(c, OP_PING, SP_NONE, 0, 0, due);
            cur->pings++;
            conn_flush(c);
        }
    }
}

/* Once a second: fail on a stuck request; ping sessions that have been quiet. */
static void housekeep(uint64_t t)
{
    uint64_t quiet = (uint64_t)negotiated_timeout_ms * 1000000u / 3;
    for (uint32_t i = 0; i < opt.clients; i++) {
        struct conn *c = &conns[i];
        if (c->state != CS_READY)
            continue;
        if (c->ring_count > 0) {
            const struct pending *p = &c->ring[c->ring_head];
            if (t > p->t_sent && t - p->t_sent > (uint64_t)STALL_MS * 1000000u)
                fail_reply(c, p, "no reply for %d s (%" PRIu64 " requests outstanding in all)",
                           STALL_MS / 1000, outstanding);
        } else if (cur->kind != PH_IDLE && cur->kind != PH_CLOSE && quiet > 0 &&
                   t > c->last_send && t - c->last_send > quiet) {
            conn_send(c, OP_PING, SP_NONE, 0, 0, 0);
            conn_flush(c);
        }
    }
}

/* How long epoll may sleep: until the next due request, ping, retry or deadline. */
static uint64_t phase_timeout_ns(uint64_t t, uint64_t next_housekeep)
{
    uint64_t wake = next_housekeep;
    if (cur->deadline != 0 && t < cur->deadline && cur->deadline < wake)
        wake = cur->deadline;
    if (cur->open) {
        uint64_t due_min = UINT64_MAX;
        for (uint32_t i = 0; i < opt.clients; i++) {
            const struct conn *c = &conns[i];
            if (!c->open_done && c->ring_count < opt.inflight) {
                uint64_t due = open_due(c);
                if (due < due_min)
                    due_min = due;
            }
        }
        /* Wake on the quantum grid: one wakeup sends every request due by then. Each
         * request still counts its latency from its own due time. */
        uint64_t q = (uint64_t)opt.quantum_us * 1000u;
        if (q > 0 && due_min != UINT64_MAX && due_min > cur->t_start)
            due_min = cur->t_start + (due_min - cur->t_start + q - 1) / q * q;
        if (due_min < wake)
            wake = due_min;
    }
    if (cur->kind == PH_IDLE) {
        uint64_t due = cur->t_start + (uint64_t)((double)cur->ping_seq * cur->ping_gap_ns);
        if (due < wake)
            wake = due;
    }
    if (cur->kind == PH_CONNECT && retry_count > 0 && t + RETRY_MS * 1000000ull < wake)
        wake = t + RETRY_MS * 1000000ull;
    return wake > t ? wake - t : 0;
}

static void phase_wait(uint64_t timeout_ns)
{
    struct epoll_event evs[EVENTS_MAX];
    struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    uint64_t due = now_ns() + timeout_ns;
    int n = epoll_pwait2(epfd, evs, EVENTS_MAX, &ts, NULL);
    if (n < 0) {
        if (errno == EINTR)
            return;
        die("epoll_pwait2: %s", strerror(errno));
    }
    uint64_t woke = now_ns();
    if (woke > due) {
        uint64_t over = woke - due;
        cur->oversleeps += over > LATE_NS;
        if (over > cur->oversleep_max)
            cur->oversleep_max = over;
    }
    for (int i = 0; i < n; i++)
        conn_event(&conns[evs[i].data.u32], evs[i].events);
}

static void phase_loop(void)
{
    uint64_t t = now_ns();
    uint64_t next_housekeep = t + HOUSEKEEP_NS;
    for (;;) {
        t = now_ns();
        if (cur->kind == PH_CONNECT)
            connect_tick(t);
        else if (cur->kind == PH_IDLE)
            idle_tick(t);
        else if (cur->open) {
            for (uint32_t i = 0; i < opt.clients; i++) {
                conn_fill(&conns[i], t);
                conn_flush(&conns[i]);
            }
        }
        if (t >= next_housekeep && cur->kind == PH_CONNECT) {
            connect_housekeep(t);
            next_housekeep = t + CONNECT_HOUSEKEEP_NS;
        } else if (t >= next_housekeep) {
            housekeep(t);
            next_housekeep = t + HOUSEKEEP_NS;
        }
        if (phase_done(t))
            return;
        phase_wait(phase_timeout_ns(t, next_housekeep));
    }
}

/* ---------- reporting ---------- */

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static double phase_secs(void)
{
    uint64_t end = cur->t_last > cur->t_start ? cur->t_last : cur->t_start;
    if (cur->kind == PH_IDLE)
        end = cur->deadline;
    return (double)(end - cur->t_start) / 1e9;
}

static void print_human(double secs)
{
    const struct hist *h = &cur->hist;
    double rate = secs > 0 ? (double)cur->completed / secs : 0;
    fprintf(human,
            "%-18s ops=%-9" PRIu64 " secs=%-8.3f ops/s=%-9.0f latency_us p50=%.0f p90=%.0f"
            " p99=%.0f p999=%.0f max=%.0f",
            cur->name, cur->completed, secs, rate, us(hist_pct(h, 0.50)), us(hist_pct(h, 0.90)),
            us(hist_pct(h, 0.99)), us(hist_pct(h, 0.999)), us(h->max));
    if (cur->wl == WL_MIX && cur->kind == PH_RUN)
        fprintf(human, " reads=%" PRIu64 " writes=%" PRIu64, cur->reads, cur->writes);
    if (cur->open)
        fprintf(human, " offered=%.0f/s late=%" PRIu64 " oversleep_max=%.0fus", opt.rate,
                cur->late, us(cur->oversleep_max));
    if (cur->kind == PH_IDLE)
        fprintf(human, " sessions=%" PRIu32 " pings=%" PRIu64, opt.clients, cur->pings);
    fprintf(human, " max_at=%.3fs\n", (double)cur->max_at / 1e9);
    fflush(human);
}

static void print_json(double secs)
{
    const struct hist *h = &cur->hist;
    double rate = secs > 0 ? (double)cur->completed / secs : 0;
    printf("{\"phase\":\"%s\",\"workload\":\"%s\",\"mode\":\"%s\",\"clients\":%" PRIu32
           ",\"inflight\":%" PRIu32 ",\"offered_rate\":%.1f,\"keys\":%" PRIu32
           ",\"value_bytes\":%" PRIu32 ",\"read_pct\":%" PRIu32 ",\"multi_ops\":%" PRIu32
           ",\"children\":%" PRIu32 ",\"ops\":%" PRIu64 ",\"secs\":%.6f,\"ops_per_sec\":%.1f"
           ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"late_sends\":%" PRIu64
           ",\"pings\":%" PRIu64 ",\"max_at_s\":%.6f,\"start_unix_s\":%.6f"
           ",\"oversleeps\":%" PRIu64 ",\"oversleep_max_us\":%.1f",
           cur->name, cur->kind == PH_RUN || cur->kind == PH_FILL ? workload_names[cur->wl] : "",
           cur->open ? "open" : "closed", opt.clients,
           cur->kind == PH_IDLE || cur->kind == PH_CONNECT ? 1 : opt.inflight,
           cur->open ? opt.rate : 0.0, opt.keys, opt.value_bytes, opt.read_pct, opt.multi_ops,
           opt.children, cur->completed, secs, rate, cur->reads, cur->writes, cur->late,
           cur->pings, (double)cur->max_at / 1e9, cur->start_unix_s, cur->oversleeps,
           us(cur->oversleep_max));
    /* the seconds the phase ran, the last one partly */
    uint64_t ran = (uint64_t)(secs + 1.0);
    uint32_t n = ran < cur->max_by_s_len ? (uint32_t)ran : cur->max_by_s_len;
    printf(",\"max_us_by_s\":[");
    for (uint32_t i = 0; i < n; i++)
        printf("%s%.0f", i ? "," : "", us(cur->max_by_s[i]));
    printf("]");
    printf(",\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f"
           ",\"mean\":%.1f}}\n",
           us(hist_pct(h, 0.50)), us(hist_pct(h, 0.90)), us(hist_pct(h, 0.99)),
           us(hist_pct(h, 0.999)), us(h->max), h->total ? h->sum / (double)h->total / 1000.0 : 0);
    fflush(stdout);
}

static void print_result_line(double secs)
{
    const struct hist *h = &cur->hist;
    double rate = secs > 0 ? (double)cur->completed / secs : 0;
    printf("RESULT phase=%s ops=%" PRIu64 " secs=%.3f ops_per_sec=%.0f p50_us=%.0f p90_us=%.0f"
           " p99_us=%.0f p999_us=%.0f max_us=%.0f\n",
           cur->name, cur->completed, secs, rate, us(hist_pct(h, 0.50)), us(hist_pct(h, 0.90)),
           us(hist_pct(h, 0.99)), us(hist_pct(h, 0.999)), us(h->max));
    fflush(stdout);
}

/* Runs one phase to completion and prints it: human always, JSON/RESULT if reported. */
static void run(enum phase_kind kind, enum workload wl, const char *name, bool reported,
                double limit_s)
{
    struct phase *ph = zk_xcalloc(1, sizeof *ph);
    ph->kind = kind;
    ph->wl = wl;
    ph->name = name;
    ph->reported = reported;
    ph->planned = UINT64_MAX;
    ph->t_start = now_ns();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    ph->start_unix_s = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9;
    if (limit_s > 0)
        ph->deadline = ph->t_start + (uint64_t)(limit_s * 1e9);
    if (kind == PH_RUN) {
        ph->planned = opt.ops;
        ph->open = opt.rate > 0;
        if (ph->open)
            ph->interval_ns = (double)opt.clients / opt.rate * 1e9;
    }
    if (kind == PH_IDLE)
        ph->ping_gap_ns = (double)negotiated_timeout_ms * 1e6 / 3.0 / (double)opt.clients;
    cur = ph;
    cursor = 0;
    for (uint32_t i = 0; i < opt.clients; i++) {
        conns[i].issued = 0;
        conns[i].open_done = false;
    }
    if (kind != PH_CONNECT && !ph->open) {
        for (uint32_t i = 0; i < opt.clients; i++) {
            conn_fill(&conns[i], ph->t_start);
            conn_flush(&conns[i]);
        }
    }
    phase_loop();
    double secs = phase_secs();
    if (kind != PH_CLOSE && kind != PH_SETUP && (reported || ph->completed > 0))
        print_human(secs);
    if (reported) {
        if (opt.json)
            print_json(secs);
        else
            print_result_line(secs);
    }
    zk_free(ph->max_by_s);
    zk_free(ph);
    cur = NULL;
}

/* Creates /zkbench and the parents the workloads need, in order on connection 0. */
static void run_setup(void)
{
    bool kids = false, cparent[3] = {false, false, false};
    for (uint32_t w = 0; w < opt.nworkloads; w++) {
        enum workload wl = opt.workloads[w];
        kids |= wl == WL_CHILDREN;
        if (wl == WL_CREATE || wl == WL_CREATE_EPH || wl == WL_CREATE_SEQ)
            cparent[wl - WL_CREATE] = true;
    }
    setup_count = 0;
    setup_targets[setup_count].space = SP_ROOT;
    setup_targets[setup_count++].sub = 0;
    if (kids) {
        setup_targets[setup_count].space = SP_KIDS;
        setup_targets[setup_count++].sub = 0;
    }
    for (uint8_t k = 0; k < 3; k++) {
        if (cparent[k]) {
            setup_targets[setup_count].space = SP_CPARENT;
            setup_targets[setup_count++].sub = k;
        }
    }
    run(PH_SETUP, WL_GET, "setup", false, 0);
}

static bool workload_needs_keys(enum workload wl)
{
    return wl == WL_GET || wl == WL_EXISTS || wl == WL_SET || wl == WL_MIX || wl == WL_MULTI ||
           wl == WL_DELETE || wl == WL_POPULATE;
}

static void run_workload(enum workload wl)
{
    const char *name = workload_names[wl];
    if (wl == WL_POPULATE) {
        run(PH_FILL, WL_POPULATE, "populate", true, 0);
        return;
    }
    if (!opt.no_populate && (workload_needs_keys(wl) || wl == WL_CHILDREN))
        run(PH_FILL, wl, wl == WL_CHILDREN ? "populate-children" : "populate-keys", false, 0);
    if (wl == WL_CHILDREN && kids_created == opt.children) {
        kids_name_bytes = 0;
        char name_buf[16];
        for (uint32_t i = 0; i < opt.children; i++)
            kids_name_bytes += (uint64_t)snprintf(name_buf, sizeof name_buf, "k%" PRIu32, i);
    }
    if (opt.warmup_s > 0 && wl != WL_DELETE) {
        static char warm_name[40];
        snprintf(warm_name, sizeof warm_name, "warmup-%s", name);
        uint64_t ops = opt.ops;
        opt.ops = UINT64_MAX; /* warm-up is bounded by time only */
        run(PH_RUN, wl, warm_name, false, opt.warmup_s);
        opt.ops = ops;
    }
    run(PH_RUN, wl, name, true, opt.duration_s);
}

/* ---------- main ---------- */

/* ---------- --pause-probe: the machine's own pauses ---------- */

/* A latency measured on this machine includes the times the machine did not run the
 * client or the server at all: a hypervisor that deschedules a virtual CPU, an
 * interrupt storm, a kernel thread. The probe measures them with no server involved.
 * Each thread spins reading CLOCK_MONOTONIC; a gap between two readings is time the
 * thread was off the CPU. Gaps of at least PAUSE_MIN_NS are kept. */
struct pause_thread {
    pthread_t tid;
    uint64_t end_ns;
    uint64_t *gaps;  /* PAUSE_KEEP_MAX entries */
    uint32_t kept;
    uint64_t dropped; /* gaps beyond PAUSE_KEEP_MAX (counted in no figure but this) */
};

static void *pause_spin(void *arg)
{
    struct pause_thread *t = arg;
    uint64_t last = now_ns();
    for (;;) {
        uint64_t n = now_ns();
        uint64_t gap = n - last;
        last = n;
        if (gap >= PAUSE_MIN_NS) {
            if (t->kept < PAUSE_KEEP_MAX)
                t->gaps[t->kept++] = gap;
            else
                t->dropped++;
        }
        if (n >= t->end_ns)
            return NULL;
    }
}

/* The q-quantile of latency the pauses alone imply for a steady open loop: an arrival
 * that comes d into a pause of length g waits g - d, so the arrivals a pause delays by
 * at least L span max(0, g - L) of the window. Returns the least L for which all pauses
 * together delay at most (1 - q) of the window's arrivals by L or more. The model takes
 * every pause of any thread to delay every request arriving in it, and a busy CPU is
 * taken off more often than a half-idle one, so it is an estimate of the order of the
 * machine's own tail, not a bound. */
static uint64_t pause_implied(const struct pause_thread *ts, uint32_t n, uint64_t window_ns,
                            double q)
{
    double budget = (1.0 - q) * (double)window_ns;
    uint64_t lo = 0, hi = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < ts[i].kept; k++)
            if (ts[i].gaps[k] > hi)
                hi = ts[i].gaps[k];
    while (lo < hi) { /* least L with delayed(L) <= budget; delayed() falls as L grows */
        uint64_t mid = lo + (hi - lo) / 2;
        double delayed = 0;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t k = 0; k < ts[i].kept; k++)
                if (ts[i].gaps[k] > mid)
                    delayed += (double)(ts[i].gaps[k] - mid);
        if (delayed <= budget)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void pause_probe(void)
{
    uint32_t n = opt.pause_threads;
    struct pause_thread *ts = zk_xcalloc(n, sizeof *ts);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    double start_unix_s = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9;
    uint64_t t0 = now_ns();
    uint64_t window_ns = (uint64_t)(opt.duration_s * 1e9);
    for (uint32_t i = 0; i < n; i++) {
        ts[i].end_ns = t0 + window_ns;
        ts[i].gaps = zk_xmalloc(PAUSE_KEEP_MAX * sizeof *ts[i].gaps);
        int rc = pthread_create(&ts[i].tid, NULL, pause_spin, &ts[i]);
        if (rc != 0)
            die("pthread_create: %s", strerror(rc));
    }
    for (uint32_t i = 0; i < n; i++)
        pthread_join(ts[i].tid, NULL);
    uint64_t over1 = 0, over5 = 0, maxgap = 0, paused = 0, dropped = 0;
    for (uint32_t i = 0; i < n; i++) {
        dropped += ts[i].dropped;
        for (uint32_t k = 0; k < ts[i].kept; k++) {
            uint64_t g = ts[i].gaps[k];
            over1 += g > 1000000u;
            over5 += g > 5000000u;
            paused += g;
            if (g > maxgap)
                maxgap = g;
        }
    }
    double secs = opt.duration_s;
    uint64_t f99 = pause_implied(ts, n, window_ns, 0.99);
    uint64_t f999 = pause_implied(ts, n, window_ns, 0.999);
    fprintf(human,
            "%-18s threads=%" PRIu32 " secs=%-8.3f over_1ms=%" PRIu64 " over_5ms=%" PRIu64
            " max=%.0fus paused=%.1fms implied_us p99=%.0f p999=%.0f\n",
            "pauses", n, secs, over1, over5, us(maxgap), (double)paused / 1e6, us(f99),
            us(f999));
    fflush(human);
    if (dropped > 0)
        fprintf(stderr, "zkbench: %" PRIu64 " pauses beyond the %u kept per thread were "
                        "not counted\n", dropped, PAUSE_KEEP_MAX);
    if (opt.json) {
        printf("{\"phase\":\"pauses\",\"threads\":%" PRIu32 ",\"secs\":%.6f,\"start_unix_s\":%.6f"
               ",\"over_1ms\":%" PRIu64 ",\"over_5ms\":%" PRIu64 ",\"max_us\":%.1f"
               ",\"paused_ms\":%.3f,\"implied_p99_us\":%.1f,\"implied_p999_us\":%.1f}\n",
               n, secs, start_unix_s, over1, over5, us(maxgap), (double)paused / 1e6, us(f99),
               us(f999));
        fflush(stdout);
    }
    for (uint32_t i = 0; i < n; i++)
        zk_free(ts[i].gaps);
    zk_free(ts);
}

static void usage(FILE *f)
{
    fputs(
        "usage: zkbench [options]\n"
        "Load generator for any server speaking the ZooKeeper client protocol. One thread,\n"
        "epoll, N sessions x W requests in flight; every reply is checked (xid order, zxid\n"
        "order, error code, body layout, data read back) and any deviation exits 1.\n"
        "\n"
        "Target and shape:\n"
        "  --host H             server host (default 127.0.0.1)\n"
        "  --port P             server port (default 2181)\n"
        "  --clients N          connections, each its own session (default 16)\n"
        "  --inflight W         requests in flight per connection (default 32);\n"
        "                       --pipeline W is an alias\n"
        "  --connect-window C   at most C session handshakes in progress at once (default 32)\n"
        "  --session-timeout MS requested session timeout (default 30000)\n"
        "\n"
        "Workload:\n"
        "  --workload W[,W..]   one measured phase per entry, in order (default get):\n"
        "     get               getData of a uniformly drawn key\n"
        "     exists            exists of a uniformly drawn key\n"
        "     set               setData (version -1) of a uniformly drawn key\n"
        "     mix               getData with probability --read-pct, else setData\n"
        "     create            create new persistent nodes /zkbench/c<run>/n<i>\n"
        "     create-ephemeral  create new ephemeral nodes /zkbench/e<run>/n<i>\n"
        "     create-sequential create persistent-sequential /zkbench/s<run>/n-<10 digits>\n"
        "     delete            delete the keys, each once (ends when none is left;\n"
        "                       no warm-up)\n"
        "     children          getChildren of /zkbench/kids, which has --children children\n"
        "     multi             multi of --multi-ops setData on keys spread over the key space\n"
        "     populate          only create the keys (measured), e.g. to load a server\n"
        "  --keys K             keys /zkbench/n0 .. n<K-1> (default 10000); --nodes is an alias\n"
        "  --value-bytes B      data size of every create/setData (default 100)\n"
        "  --read-pct P         mix: percentage of reads (default 90)\n"
        "  --children C         children: number of children of /zkbench/kids (default 1000)\n"
        "  --multi-ops M        multi: sub-operations per multi (default 4)\n"
        "  --no-populate        the keys / children already exist and hold this run's value\n"
        "                       (created by an earlier zkbench with the same --seed,\n"
        "                       --value-bytes and --children); reads still check the data.\n"
        "                       Without it, keys not known to exist are created first,\n"
        "                       unmeasured, NODEEXISTS accepted\n"
        "  --seed S             seed of the key choice and values (default 1)\n"
        "\n"
        "Length and pacing:\n"
        "  --duration S         measure for S seconds (default 10 unless --ops is given)\n"
        "  --ops N              measure N operations (with --duration: whichever ends first);\n"
        "                       --ops 0 only opens and closes the sessions (readiness probe)\n"
        "  --warmup S           run the workload S seconds before measuring (default 0)\n"
        "  --rate R             open loop: offer R ops/s in total, evenly spaced, spread over\n"
        "                       the connections; latency is measured from each request's\n"
        "                       intended send time, also when a full window delays it\n"
        "                       (no coordinated omission). Default: closed loop, where\n"
        "                       latency runs from queueing the request.\n"
        "  --send-quantum-us Q  open loop: wake at most every Q us and send all requests due\n"
        "                       by then in one batch per connection (default 100; 0 = wake\n"
        "                       for every request). Adds at most Q us to a latency.\n"
        "  --wait S             retry refused or dropped handshakes for up to S seconds\n"
        "                       (readiness probe: --ops 0 --wait 60)\n"
        "  --idle-sessions N    open N sessions (replaces --clients), keep them alive with\n"
        "                       pings (each session every timeout/3) for --duration seconds,\n"
        "                       then close them; reports phases 'connect' and 'idle'\n"
        "\n"
        "Machine check (no server):\n"
        "  --pause-probe T      spin T threads reading the clock for --duration seconds and\n"
        "                       report the gaps (>= 50 us) the machine took them off the CPU:\n"
        "                       phase 'pauses' with over_1ms, over_5ms, max, paused (sum),\n"
        "                       and implied_us p99/p999: the latency quantiles the pauses\n"
        "                       alone would give a steady open loop if every pause of any\n"
        "                       thread delayed every request arriving in it (an estimate\n"
        "                       of the machine's own tail, not a bound: a spinning CPU is\n"
        "                       taken off more often than a half-idle one).\n"
        "                       JSON keys: phase threads secs start_unix_s over_1ms over_5ms\n"
        "                       max_us paused_ms implied_p99_us implied_p999_us\n"
        "\n"
        "Output:\n"
        "  --json               one JSON object per reported phase on stdout; the human\n"
        "                       lines go to stderr\n"
        "  Human line per phase (warm-up and populate included):\n"
        "    <phase> ops=N secs=S ops/s=X latency_us p50= p90= p99= p999= max= [reads= writes=]\n"
        "    [offered= late= oversleep_max=] [sessions= pings=] max_at=<s after phase start\n"
        "    of the slowest request>\n"
        "  Without --json, a machine line per reported phase:\n"
        "    RESULT phase=<name> ops= secs= ops_per_sec= p50_us= p90_us= p99_us= p999_us= "
        "max_us=\n"
        "  JSON keys: phase workload mode(closed|open) clients inflight offered_rate keys\n"
        "    value_bytes read_pct multi_ops children ops secs ops_per_sec reads writes\n"
        "    late_sends (open loop: sent >1 ms after the due time) pings max_at_s\n"
        "    start_unix_s (wall-clock start of the phase)\n"
        "    oversleeps oversleep_max_us (wake-ups more than 1 ms after epoll's timeout\n"
        "    was due, and the longest: pauses of zkbench itself, not of the server)\n"
        "    max_us_by_s (per second of the phase, the slowest request meant to go out\n"
        "    in it, 0 if none: to line latency up with server events)\n"
        "    latency_us{p50,p90,p99,p999,max,mean}\n"
        "  Reported phases: 'connect' (ops = sessions, latency = handshake, secs = until all\n"
        "  are established), the workload's name (or 'populate'), and 'idle'.\n"
        "  Latencies come from a log-linear histogram (<1% relative error; a percentile is the\n"
        "  upper edge of its bucket, max is exact). ops/s = replies / (last reply - start).\n"
        "\n"
        "Exit status: 0 success, 1 protocol violation or I/O error, 2 bad usage.\n",
        f);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "zkbench: bad value for %s: '%s' (expected %" PRIu64 "..%" PRIu64 ")\n",
                name, s, lo, hi);
        exit(2);
    }
    return v;
}

static double parse_secs(const char *name, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "zkbench: bad value for %s: '%s' (expected %g..%g)\n", name, s, lo, hi);
        exit(2);
    }
    return v;
}

static void parse_workloads(const char *s)
{
    opt.nworkloads = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (opt.nworkloads == WORKLOADS_MAX) {
            fprintf(stderr, "zkbench: too many --workload entries\n");
            exit(2);
        }
        int found = -1;
        for (int w = 0; w < WL_COUNT; w++)
            if (strcmp(tok, workload_names[w]) == 0)
                found = w;
        if (found < 0) {
            fprintf(stderr, "zkbench: unknown workload '%s' (see --help)\n", tok);
            exit(2);
        }
        opt.workloads[opt.nworkloads++] = (enum workload)found;
    }
    if (opt.nworkloads == 0) {
        fprintf(stderr, "zkbench: empty --workload\n");
        exit(2);
    }
}

/* Options that take a value; returns false for an unknown name. */
static bool parse_valued(const char *a, const char *v)
{
    if (strcmp(a, "--host") == 0)
        opt.host = v;
    else if (strcmp(a, "--port") == 0)
        opt.port = v;
    else if (strcmp(a, "--clients") == 0)
        opt.clients = (uint32_t)parse_u64(a, v, 1, CLIENTS_MAX);
    else if (strcmp(a, "--inflight") == 0 || strcmp(a, "--pipeline") == 0)
        opt.inflight = (uint32_t)parse_u64(a, v, 1, 100000);
    else if (strcmp(a, "--workload") == 0)
        parse_workloads(v);
    else if (strcmp(a, "--read-pct") == 0)
        opt.read_pct = (uint32_t)parse_u64(a, v, 0, 100);
    else if (strcmp(a, "--value-bytes") == 0)
        opt.value_bytes = (uint32_t)parse_u64(a, v, 0, MAX_VALUE);
    else if (strcmp(a, "--keys") == 0 || strcmp(a, "--nodes") == 0)
        opt.keys = (uint32_t)parse_u64(a, v, 1, 100000000);
    else if (strcmp(a, "--children") == 0)
        opt.children = (uint32_t)parse_u64(a, v, 1, 10000000);
    else if (strcmp(a, "--multi-ops") == 0)
        opt.multi_ops = (uint32_t)parse_u64(a, v, 1, MULTI_OPS_MAX);
    else if (strcmp(a, "--duration") == 0)
        opt.duration_s = parse_secs(a, v, 0.001, 1e6);
    else if (strcmp(a, "--warmup") == 0)
        opt.warmup_s = parse_secs(a, v, 0, 1e6);
    else if (strcmp(a, "--ops") == 0) {
        opt.ops = parse_u64(a, v, 0, (uint64_t)1 << 40);
        opt.ops_set = true;
    } else if (strcmp(a, "--rate") == 0)
        opt.rate = parse_secs(a, v, 0.001, 1e9);
    else if (strcmp(a, "--send-quantum-us") == 0)
        opt.quantum_us = (uint32_t)parse_u64(a, v, 0, 1000000);
    else if (strcmp(a, "--seed") == 0)
        opt.seed = parse_u64(a, v, 0, UINT64_MAX);
    else if (strcmp(a, "--idle-sessions") == 0)
        opt.idle_sessions = (uint32_t)parse_u64(a, v, 1, CLIENTS_MAX);
    else if (strcmp(a, "--connect-window") == 0)
        opt.connect_window = (uint32_t)parse_u64(a, v, 1, CLIENTS_MAX);
    else if (strcmp(a, "--wait") == 0)
        opt.wait_s = parse_secs(a, v, 0, 1e6);
    else if (strcmp(a, "--session-timeout") == 0)
        opt.session_timeout_ms = (uint32_t)parse_u64(a, v, 1, INT32_MAX);
    else if (strcmp(a, "--pause-probe") == 0)
        opt.pause_threads = (uint32_t)parse_u64(a, v, 1, PAUSE_THREADS_MAX);
    else
        return false;
    return true;
}

static void parse_args(int argc, char **argv)
{
    opt.host = "127.0.0.1";
    opt.port = "2181";
    opt.clients = 16;
    opt.inflight = 32;
    opt.workloads[0] = WL_GET;
    opt.nworkloads = 1;
    opt.read_pct = 90;
    opt.value_bytes = 100;
    opt.keys = 10000;
    opt.children = 1000;
    opt.multi_ops = 4;
    opt.seed = 1;
    opt.connect_window = 32;
    opt.session_timeout_ms = 30000;
    opt.quantum_us = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--json") == 0) {
            opt.json = true;
            continue;
        }
        if (strcmp(a, "--no-populate") == 0) {
            opt.no_populate = true;
            continue;
        }
        if (i + 1 >= argc || !parse_valued(a, argv[i + 1])) {
            fprintf(stderr, "zkbench: unknown option or missing value: %s\n", a);
            usage(stderr);
            exit(2);
        }
        i++;
    }
    if (opt.idle_sessions > 0) {
        opt.clients = opt.idle_sessions;
        opt.inflight = 1;
    }
    if (!opt.ops_set)
        opt.ops = UINT64_MAX;
    if (opt.duration_s == 0 && !opt.ops_set)
        opt.duration_s = 10;
}

/* Raises the open-files limit when many sessions are asked for. */
static void raise_nofile(void)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)opt.clients + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        die("%" PRIu32 " sessions need %llu open files; the hard limit is %llu", opt.clients,
            (unsigned long long)need, (unsigned long long)rl.rlim_max);
}

static void setup_state(void)
{
    raise_nofile();
    /* Sleep as exactly as asked: the open loop's due times are microseconds apart. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    human = opt.json ? stderr : stdout;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    resolve_server();
    value = zk_xmalloc(opt.value_bytes ? opt.value_bytes : 1);
    uint64_t vs = opt.seed ^ 0x5EEDull;
    for (uint32_t i = 0; i < opt.value_bytes; i++)
        value[i] = (uint8_t)('a' + rng_next(&vs) % 26);
    key_state = zk_xcalloc(opt.keys, 1);
    kid_state = zk_xcalloc(opt.children, 1);
    if (opt.no_populate) {
        /* The contract of --no-populate: an earlier run with the same --seed and
         * --value-bytes created them, so the data read back is still checked. */
        memset(key_state, KS_OURS, opt.keys);
        memset(kid_state, KS_OURS, opt.children);
        kids_created = opt.children;
    }
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t tag = ((uint64_t)getpid() << 32) ^ (uint64_t)rt.tv_sec ^ (uint64_t)rt.tv_nsec;
    snprintf(run_tag, sizeof run_tag, "%" PRIx64, tag);
    conns = zk_xcalloc(opt.clients, sizeof *conns);
    for (uint32_t i = 0; i < opt.clients; i++)
        conn_init(&conns[i], i);
    if (opt.wait_s > 0)
        wait_deadline = now_ns() + (uint64_t)(opt.wait_s * 1e9);
}

static void print_header(void)
{
    fprintf(human, "zkbench %s:%s clients=%" PRIu32 " inflight=%" PRIu32 " workload=", opt.host,
            opt.port, opt.clients, opt.inflight);
    for (uint32_t w = 0; w < opt.nworkloads; w++)
        fprintf(human, "%s%s", w ? "," : "", workload_names[opt.workloads[w]]);
    fprintf(human, " keys=%" PRIu32 " value_bytes=%" PRIu32 " read_pct=%" PRIu32, opt.keys,
            opt.value_bytes, opt.read_pct);
    if (opt.duration_s > 0)
        fprintf(human, " duration=%gs", opt.duration_s);
    if (opt.ops != UINT64_MAX)
        fprintf(human, " ops=%" PRIu64, opt.ops);
    fprintf(human, " warmup=%gs %s", opt.warmup_s, opt.rate > 0 ? "open-loop" : "closed-loop");
    if (opt.rate > 0)
        fprintf(human, " rate=%g/s quantum=%" PRIu32 "us", opt.rate, opt.quantum_us);
    fprintf(human, " seed=%" PRIu64 "\n", opt.seed);
    fflush(human);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (opt.pause_threads > 0) {
        human = opt.json ? stderr : stdout;
        pause_probe();
        return 0;
    }
    setup_state();
    bool probe = opt.ops_set && opt.ops == 0 && opt.idle_sessions == 0;
    if (!probe)
        print_header();

    run(PH_CONNECT, WL_GET, "connect", !probe, 0);
    if (opt.idle_sessions > 0) {
        run(PH_IDLE, WL_GET, "idle", true, opt.duration_s);
    } else if (!probe) {
        run_setup();
        for (uint32_t w = 0; w < opt.nworkloads; w++)
            run_workload(opt.workloads[w]);
    }
    run(PH_CLOSE, WL_GET, "close", false, 0);

    for (uint32_t i = 0; i < opt.clients; i++)
        conn_deinit(&conns[i]);
    zk_free(conns);
    zk_free(key_state);
    zk_free(kid_state);
    zk_free(value);
    close(epfd);
    return 0;
}
