/*
 * Integration checks driven by the real ZooKeeper C client (Debian libzookeeper-mt, 3.8).
 *
 *   cclient_test HOST:PORT [--target=zkd|zookeeper]
 *
 * Prints one line per check, "ok <name>" or "FAIL <name>: <detail>", and exits non-zero when
 * any check failed. Every check works below its own fresh path under /cclient-<pid>, so one
 * failing check does not cascade into the next ones.
 *
 * The checks were validated against Apache ZooKeeper 3.8 (Debian 3.8.0-11+deb12u2): that
 * server is the judge. Where a check depends on behaviour fixed after 3.8.0 (exists checks
 * READ, ZOOKEEPER-2590) the expected result is chosen by --target: zkd must behave like 3.9.
 *
 * Some checks run the client through a small in-process TCP proxy (see "proxy" below). The
 * proxy lets the test cut the client's TCP connection without touching the server (to make
 * the C client reconnect and re-arm its watches with setWatches, xid -8) and lets it look at
 * the frames that cross the wire (which xids/opcodes the client sent, which notifications the
 * server sent).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The synchronous API (zoo_create, zoo_get, ...) is declared only for the mt library. */
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper.h>

#define CONNECT_TIMEOUT_MS 10000
#define EVENT_TIMEOUT_MS 10000
#define SESSION_TIMEOUT_MS 10000

/* Precomputed base64(SHA-1("user:password")) for the digest credentials used below. */
#define CUSER_AUTH "cuser:cpass"
#define CUSER_ID "cuser:jfkwyXemoPKbccuTafrsuHQrPlQ="

static const char *g_hostport;
static int g_is_zkd;
static char g_root[64];
static int g_failures;
static int g_checks;
static const char *g_cur;
static int g_cur_failed;

/* ------------------------------------------------------------------ small helpers */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void init_cond(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* Wait on c until deadline (monotonic ms). Returns 0 on timeout. */
static int cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline)
{
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(c, m, &ts);
    return 1;
}

static void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail_at(int line, const char *fmt, ...)
{
    va_list ap;
    if (g_cur_failed)
        fprintf(stdout, "     (and) ");
    else
        fprintf(stdout, "FAIL %s: ", g_cur);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, " [cclient_test.c:%d]\n", line);
    fflush(stdout);
    g_cur_failed = 1;
}

/* Each check is a void function; EXPECT reports the first broken expectation and returns. */
#define EXPECT(cond, ...)                         \
    do {                                          \
        if (!(cond)) {                            \
            fail_at(__LINE__, __VA_ARGS__);       \
            goto out;                             \
        }                                         \
    } while (0)

#define EXPECT_RC(rc, want, what)                                                         \
    do {                                                                                  \
        int expect_got_ = (rc), expect_want_ = (want);                                    \
        EXPECT(expect_got_ == expect_want_, "%s: rc %d (%s), expected %d (%s)", (what),   \
               expect_got_, zerror(expect_got_), expect_want_, zerror(expect_want_));     \
    } while (0)

#define EXPECT_OK(rc, what) EXPECT_RC(rc, ZOK, what)

static void run_check(const char *name, void (*fn)(void))
{
    g_cur = name;
    g_cur_failed = 0;
    g_checks++;
    fn();
    if (g_cur_failed)
        g_failures++;
    else
        fprintf(stdout, "ok %s\n", name);
    fflush(stdout);
}

/* Path below the run root: P("/x") -> "/cclient-123/x". Returns a static rotating buffer. */
static const char *P(const char *suffix)
{
    static char bufs[16][256];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof bufs[0], "%s%s", g_root, suffix);
    return b;
}

static void fmt_stat(char *out, size_t n, const struct Stat *s)
{
    snprintf(out, n,
             "czxid=%" PRId64 " mzxid=%" PRId64 " ctime=%" PRId64 " mtime=%" PRId64
             " version=%d cversion=%d aversion=%d ephemeralOwner=%#" PRIx64
             " dataLength=%d numChildren=%d pzxid=%" PRId64,
             s->czxid, s->mzxid, s->ctime, s->mtime, s->version, s->cversion, s->aversion,
             (uint64_t)s->ephemeralOwner, s->dataLength, s->numChildren, s->pzxid);
}

static int stat_eq(const struct Stat *a, const struct Stat *b)
{
    return a->czxid == b->czxid && a->mzxid == b->mzxid && a->ctime == b->ctime &&
           a->mtime == b->mtime && a->version == b->version && a->cversion == b->cversion &&
           a->aversion == b->aversion && a->ephemeralOwner == b->ephemeralOwner &&
           a->dataLength == b->dataLength && a->numChildren == b->numChildren &&
           a->pzxid == b->pzxid;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, comma-joined children list, for comparisons and messages. */
static void join_children(char *out, size_t n, struct String_vector *v)
{
    out[0] = 0;
    if (v->count > 0)
        qsort(v->data, (size_t)v->count, sizeof v->data[0], cmp_str);
    size_t used = 0;
    for (int i = 0; i < v->count; i++) {
        int w = snprintf(out + used, n - used, "%s%s", i ? "," : "", v->data[i]);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}

/* ------------------------------------------------------------------ connections */

struct zconn {
    zhandle_t *zh;
    pthread_mutex_t m;
    pthread_cond_t c;
    int state;
    int connected_events;
    int connecting_events;
    int expired;
    int auth_failed;
};

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    struct zconn *zc = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&zc->m);
    zc->state = state;
    if (state == ZOO_CONNECTED_STATE)
        zc->connected_events++;
    else if (state == ZOO_CONNECTING_STATE)
        zc->connecting_events++;
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        zc->expired = 1;
    else if (state == ZOO_AUTH_FAILED_STATE)
        zc->auth_failed = 1;
    pthread_cond_broadcast(&zc->c);
    pthread_mutex_unlock(&zc->m);
}

/* Wait until the handle saw `want_connected` CONNECTED session events (or expiry). */
static int zc_wait_connected(struct zconn *zc, int want_connected, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&zc->m);
    while (zc->connected_events < want_connected && !zc->expired && !zc->auth_failed)
        if (!cond_wait_until(&zc->c, &zc->m, deadline))
            break;
    int ok = zc->connected_events >= want_connected && zc->state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&zc->m);
    return ok;
}

static int zc_wait_expired(struct zconn *zc, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&zc->m);
    while (!zc->expired)
        if (!cond_wait_until(&zc->c, &zc->m, deadline))
            break;
    int e = zc->expired;
    pthread_mutex_unlock(&zc->m);
    return e;
}

static int zc_wait_connecting(struct zconn *zc, int want, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&zc->m);
    while (zc->connecting_events < want)
        if (!cond_wait_until(&zc->c, &zc->m, deadline))
            break;
    int ok = zc->connecting_events >= want;
    pthread_mutex_unlock(&zc->m);
    return ok;
}

/* Opens a handle; does not wait. */
static struct zconn *zc_start_t(const char *hostport, const clientid_t *cid, int timeout_ms)
{
    struct zconn *zc = calloc(1, sizeof *zc);
    if (!zc)
        abort();
    pthread_mutex_init(&zc->m, NULL);
    init_cond(&zc->c);
    zc->zh = zookeeper_init(hostport, session_watcher, timeout_ms, cid, zc, 0);
    if (!zc->zh) {
        pthread_mutex_destroy(&zc->m);
        pthread_cond_destroy(&zc->c);
        free(zc);
        return NULL;
    }
    return zc;
}

static struct zconn *zc_start(const char *hostport, const clientid_t *cid)
{
    return zc_start_t(hostport, cid, SESSION_TIMEOUT_MS);
}

static void zc_close(struct zconn *zc)
{
    if (!zc)
        return;
    if (zc->zh)
        zookeeper_close(zc->zh);
    pthread_mutex_destroy(&zc->m);
    pthread_cond_destroy(&zc->c);
    free(zc);
}

/* Opens a handle and waits for the session; NULL (after reporting) on failure. */
static struct zconn *zc_open_at(const char *hostport, const clientid_t *cid, int timeout_ms,
                                int line)
{
    struct zconn *zc = zc_start_t(hostport, cid, timeout_ms);
    if (!zc) {
        fail_at(line, "zookeeper_init(%s) failed: %s", hostport, strerror(errno));
        return NULL;
    }
    if (!zc_wait_connected(zc, 1, CONNECT_TIMEOUT_MS)) {
        fail_at(line, "no session with %s within %d ms (state %d)", hostport, CONNECT_TIMEOUT_MS,
                zoo_state(zc->zh));
        zc_close(zc);
        return NULL;
    }
    return zc;
}
#define zc_open(hp, cid) zc_open_at((hp), (cid), SESSION_TIMEOUT_MS, __LINE__)
#define zc_open_t(hp, cid, t) zc_open_at((hp), (cid), (t), __LINE__)

/* ------------------------------------------------------------------ watch recorder */

#define MAX_EV 64
struct ev {
    int type;
    int state;
    char path[256];
};

struct evrec {
    pthread_mutex_t m;
    pthread_cond_t c;
    int n;
    struct ev ev[MAX_EV];
    int session_events;
};

static void evrec_init(struct evrec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->m, NULL);
    init_cond(&r->c);
}

static void evrec_destroy(struct evrec *r)
{
    pthread_mutex_destroy(&r->m);
    pthread_cond_destroy(&r->c);
}

/* Watcher object: ctx is the evrec. Session events are delivered to every watcher object by
 * the C client; they are counted apart. */
static void rec_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    struct evrec *r = ctx;
    pthread_mutex_lock(&r->m);
    if (type == ZOO_SESSION_EVENT) {
        r->session_events++;
    } else if (r->n < MAX_EV) {
        r->ev[r->n].type = type;
        r->ev[r->n].state = state;
        snprintf(r->ev[r->n].path, sizeof r->ev[r->n].path, "%s", path ? path : "(null)");
        r->n++;
    }
    pthread_cond_broadcast(&r->c);
    pthread_mutex_unlock(&r->m);
}

static int evrec_wait(struct evrec *r, int n, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&r->m);
    while (r->n < n)
        if (!cond_wait_until(&r->c, &r->m, deadline))
            break;
    int got = r->n;
    pthread_mutex_unlock(&r->m);
    return got;
}

static int evrec_count(struct evrec *r)
{
    pthread_mutex_lock(&r->m);
    int n = r->n;
    pthread_mutex_unlock(&r->m);
    return n;
}

static const char *evname(int type)
{
    if (type == ZOO_CREATED_EVENT)
        return "CREATED";
    if (type == ZOO_DELETED_EVENT)
        return "DELETED";
    if (type == ZOO_CHANGED_EVENT)
        return "CHANGED";
    if (type == ZOO_CHILD_EVENT)
        return "CHILD";
    if (type == ZOO_SESSION_EVENT)
        return "SESSION";
    if (type == ZOO_NOTWATCHING_EVENT)
        return "NOTWATCHING";
    return "?";
}

/* Returns 1 when event i is (type, path) with state CONNECTED. */
static int ev_is(struct evrec *r, int i, int type, const char *path)
{
    pthread_mutex_lock(&r->m);
    int ok = i < r->n && r->ev[i].type == type && strcmp(r->ev[i].path, path) == 0 &&
             r->ev[i].state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&r->m);
    return ok;
}

static const char *ev_desc(struct evrec *r)
{
    static char buf[2048];
    size_t used = 0;
    buf[0] = 0;
    pthread_mutex_lock(&r->m);
    for (int i = 0; i < r->n; i++) {
        int w = snprintf(buf + used, sizeof buf - used, "%s%s(%s,state=%d)", i ? " " : "",
                         evname(r->ev[i].type), r->ev[i].path, r->ev[i].state);
        if (w < 0 || (size_t)w >= sizeof buf - used)
            break;
        used += (size_t)w;
    }
    pthread_mutex_unlock(&r->m);
    if (!used)
        snprintf(buf, sizeof buf, "(no events)");
    return buf;
}

/* ------------------------------------------------------------------ async barrier */

struct waiter {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done;
    int rc;
    char value[256];
};

static void waiter_init(struct waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->m, NULL);
    init_cond(&w->c);
}

static void waiter_destroy(struct waiter *w)
{
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
}

static void waiter_finish(struct waiter *w, int rc, const char *value)
{
    pthread_mutex_lock(&w->m);
    w->rc = rc;
    if (value)
        snprintf(w->value, sizeof w->value, "%s", value);
    w->done = 1;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

static void stat_done(int rc, const struct Stat *stat, const void *data)
{
    (void)stat;
    waiter_finish((struct waiter *)data, rc, NULL);
}

static void void_done(int rc, const void *data)
{
    waiter_finish((struct waiter *)data, rc, NULL);
}

static void string_done(int rc, const char *value, const void *data)
{
    waiter_finish((struct waiter *)data, rc, value);
}

static int waiter_wait(struct waiter *w, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    pthread_mutex_lock(&w->m);
    while (!w->done)
        if (!cond_wait_until(&w->c, &w->m, deadline))
            break;
    int d = w->done;
    pthread_mutex_unlock(&w->m);
    return d;
}

/*
 * Barrier on one handle: an asynchronous exists("/") whose completion runs on the client's
 * completion thread. Watch callbacks run on the same thread in arrival order, so once the
 * barrier completes every notification the server sent before that reply has been delivered.
 * The server must send a watch event before any later reply on that connection.
 */
static int barrier(zhandle_t *zh)
{
    struct waiter w;
    waiter_init(&w);
    int rc = zoo_aexists(zh, "/", 0, stat_done, &w);
    if (rc == ZOK) {
        if (!waiter_wait(&w, EVENT_TIMEOUT_MS))
            rc = ZOPERATIONTIMEOUT;
        else
            rc = w.rc;
    }
    waiter_destroy(&w);
    return rc;
}

static int add_auth_wait(zhandle_t *zh, const char *scheme, const char *cred)
{
    struct waiter w;
    waiter_init(&w);
    int rc = zoo_add_auth(zh, scheme, cred, (int)strlen(cred), void_done, &w);
    if (rc == ZOK) {
        if (!waiter_wait(&w, EVENT_TIMEOUT_MS))
            rc = ZOPERATIONTIMEOUT;
        else
            rc = w.rc;
    }
    waiter_destroy(&w);
    return rc;
}

/* ------------------------------------------------------------------ proxy */

/*
 * A one-upstream TCP proxy on 127.0.0.1:<ephemeral> running in its own thread. It forwards
 * bytes unchanged and records every frame that crosses it: client->server frames as
 * (xid, opcode), server->client frames as (xid, err) plus the event type and path of
 * notifications (xid -1). The first frame of each direction (ConnectRequest/Response) is
 * recorded with xid PX_CONNECT. proxy_block() closes every forwarded connection and makes
 * the proxy accept-and-close new ones until proxy_unblock().
 */
#define PX_CONNECT 0x7fffffff
#define PX_MAX_PAIRS 8
#define PX_MAX_REC 1024

struct sniff {
    unsigned char *buf;
    size_t len, cap;
    int seen_first;
};

struct pair {
    int cfd, sfd;
    int conn_no;
    struct sniff c2s, s2c;
};

struct pxrec {
    int c2s;     /* 1 client->server, 0 server->client */
    int conn_no; /* 1-based number of the forwarded connection */
    int xid;
    int op_or_err; /* opcode (c2s) or reply err (s2c) */
    int evtype;    /* notification type (s2c, xid -1) */
    int64_t zxid;  /* reply header zxid (s2c) */
    char path[128];
};

struct proxy {
    int lfd;
    int port;
    struct sockaddr_in up;
    pthread_t th;
    int wake[2];
    pthread_mutex_t m;
    int blocked, drop, stop;
    struct pair pairs[PX_MAX_PAIRS];
    int npairs;
    int conns;
    struct pxrec rec[PX_MAX_REC];
    int nrec;
};

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void px_record_frame(struct proxy *px, struct pair *pr, int c2s, int first,
                            const unsigned char *f, uint32_t n)
{
    struct pxrec r;
    memset(&r, 0, sizeof r);
    r.c2s = c2s;
    r.conn_no = pr->conn_no;
    if (first) {
        r.xid = PX_CONNECT;
    } else if (c2s && n >= 8) {
        r.xid = (int32_t)be32(f);
        r.op_or_err = (int32_t)be32(f + 4);
    } else if (!c2s && n >= 16) {
        r.xid = (int32_t)be32(f);
        r.op_or_err = (int32_t)be32(f + 12);
        r.zxid = (int64_t)(((uint64_t)be32(f + 4) << 32) | be32(f + 8));
        if (r.xid == -1 && n >= 28) {
            r.evtype = (int32_t)be32(f + 16);
            int32_t plen = (int32_t)be32(f + 24);
            if (plen > 0 && (uint32_t)plen <= n - 28) {
                size_t cp = (size_t)plen < sizeof r.path - 1 ? (size_t)plen : sizeof r.path - 1;
                memcpy(r.path, f + 28, cp);
                r.path[cp] = 0;
            }
        }
    } else {
        r.xid = PX_CONNECT - 1; /* runt frame */
    }
    pthread_mutex_lock(&px->m);
    if (px->nrec < PX_MAX_REC)
        px->rec[px->nrec++] = r;
    pthread_mutex_unlock(&px->m);
}

static void px_sniff(struct proxy *px, struct pair *pr, int c2s, const unsigned char *d, size_t n)
{
    struct sniff *s = c2s ? &pr->c2s : &pr->s2c;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n)
            cap *= 2;
        unsigned char *nb = realloc(s->buf, cap);
        if (!nb)
            abort();
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, d, n);
    s->len += n;
    size_t off = 0;
    while (s->len - off >= 4) {
        uint32_t flen = be32(s->buf + off);
        if (flen > (1u << 24)) { /* not a frame stream (4lw?); stop sniffing */
            s->len = 0;
            return;
        }
        if (s->len - off - 4 < flen)
            break;
        px_record_frame(px, pr, c2s, !s->seen_first, s->buf + off + 4, flen);
        s->seen_first = 1;
        off += 4 + flen;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
}

static void px_close_pair(struct proxy *px, int i)
{
    struct pair *pr = &px->pairs[i];
    close(pr->cfd);
    close(pr->sfd);
    free(pr->c2s.buf);
    free(pr->s2c.buf);
    px->pairs[i] = px->pairs[px->npairs - 1];
    px->npairs--;
}

static int write_all(int fd, const unsigned char *d, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *px_main(void *arg)
{
    struct proxy *px = arg;
    unsigned char buf[65536];
    for (;;) {
        pthread_mutex_lock(&px->m);
        int stop = px->stop, drop = px->drop, blocked = px->blocked;
        px->drop = 0;
        pthread_mutex_unlock(&px->m);
        if (drop || stop)
            while (px->npairs > 0)
                px_close_pair(px, px->npairs - 1);
        if (stop)
            break;
        struct pollfd pfd[2 + 2 * PX_MAX_PAIRS];
        int n = 0;
        pfd[n].fd = px->wake[0];
        pfd[n++].events = POLLIN;
        pfd[n].fd = px->lfd;
        pfd[n++].events = POLLIN;
        for (int i = 0; i < px->npairs; i++) {
            pfd[n].fd = px->pairs[i].cfd;
            pfd[n++].events = POLLIN;
            pfd[n].fd = px->pairs[i].sfd;
            pfd[n++].events = POLLIN;
        }
        if (poll(pfd, (nfds_t)n, 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents) {
            char junk[64];
            if (read(px->wake[0], junk, sizeof junk) < 0) {
                /* nothing to do: the pipe is only a wake-up */
            }
        }
        /* Forward before accepting: pairs[] indices match pfd[] only until a pair closes. */
        for (int i = px->npairs - 1; i >= 0; i--) {
            int dead = 0;
            for (int dir = 0; dir < 2 && !dead; dir++) {
                short rev = pfd[2 + 2 * i + dir].revents;
                if (!rev)
                    continue;
                struct pair *pr = &px->pairs[i];
                int from = dir == 0 ? pr->cfd : pr->sfd;
                int to = dir == 0 ? pr->sfd : pr->cfd;
                ssize_t r = recv(from, buf, sizeof buf, 0);
                if (r <= 0) {
                    dead = 1;
                    break;
                }
                px_sniff(px, pr, dir == 0, buf, (size_t)r);
                if (write_all(to, buf, (size_t)r) < 0)
                    dead = 1;
            }
            if (dead)
                px_close_pair(px, i);
        }
        if (pfd[1].revents & POLLIN) {
            int cfd = accept(px->lfd, NULL, NULL);
            if (cfd >= 0) {
                if (blocked || px->npairs >= PX_MAX_PAIRS) {
                    close(cfd);
                } else {
                    int sfd = socket(AF_INET, SOCK_STREAM, 0);
                    if (sfd < 0 || connect(sfd, (struct sockaddr *)&px->up, sizeof px->up) < 0) {
                        if (sfd >= 0)
                            close(sfd);
                        close(cfd);
                    } else {
                        int one = 1;
                        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        struct pair *pr = &px->pairs[px->npairs++];
                        memset(pr, 0, sizeof *pr);
                        pr->cfd = cfd;
                        pr->sfd = sfd;
                        pthread_mutex_lock(&px->m);
                        pr->conn_no = ++px->conns;
                        pthread_mutex_unlock(&px->m);
                    }
                }
            }
        }
    }
    return NULL;
}

static void px_wake(struct proxy *px)
{
    if (write(px->wake[1], "x", 1) < 0) {
        /* the poll timeout picks the change up anyway */
    }
}

static struct proxy *proxy_start(const char *hostport)
{
    char host[128];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        return NULL;
    *colon = 0;
    struct proxy *px = calloc(1, sizeof *px);
    if (!px)
        abort();
    px->up.sin_family = AF_INET;
    px->up.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                  &px->up.sin_addr) != 1) {
        free(px);
        return NULL;
    }
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(px->lfd, 16) < 0 || getsockname(px->lfd, (struct sockaddr *)&a, &alen) < 0 ||
        pipe(px->wake) < 0) {
        if (px->lfd >= 0)
            close(px->lfd);
        free(px);
        return NULL;
    }
    px->port = ntohs(a.sin_port);
    pthread_mutex_init(&px->m, NULL);
    if (pthread_create(&px->th, NULL, px_main, px) != 0)
        abort();
    return px;
}

static void proxy_stop(struct proxy *px)
{
    if (!px)
        return;
    pthread_mutex_lock(&px->m);
    px->stop = 1;
    pthread_mutex_unlock(&px->m);
    px_wake(px);
    pthread_join(px->th, NULL);
    close(px->lfd);
    close(px->wake[0]);
    close(px->wake[1]);
    pthread_mutex_destroy(&px->m);
    free(px);
}

static void proxy_block(struct proxy *px)
{
    pthread_mutex_lock(&px->m);
    px->blocked = 1;
    px->drop = 1;
    pthread_mutex_unlock(&px->m);
    px_wake(px);
}

static void proxy_unblock(struct proxy *px)
{
    pthread_mutex_lock(&px->m);
    px->blocked = 0;
    pthread_mutex_unlock(&px->m);
    px_wake(px);
}

static const char *proxy_hostport(struct proxy *px)
{
    static char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", px->port);
    return hp;
}

/* Copies the records (under the lock) into out; returns how many. */
static int proxy_records(struct proxy *px, struct pxrec *out, int max)
{
    pthread_mutex_lock(&px->m);
    int n = px->nrec < max ? px->nrec : max;
    memcpy(out, px->rec, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&px->m);
    return n;
}

/* Count notifications (server->client xid -1) for path, from record index `from` on. */
static int proxy_count_notifications(struct proxy *px, int from, const char *path)
{
    int c = 0;
    pthread_mutex_lock(&px->m);
    for (int i = from; i < px->nrec; i++)
        if (!px->rec[i].c2s && px->rec[i].xid == -1 && strcmp(px->rec[i].path, path) == 0)
            c++;
    pthread_mutex_unlock(&px->m);
    return c;
}

static int proxy_nrec(struct proxy *px)
{
    pthread_mutex_lock(&px->m);
    int n = px->nrec;
    pthread_mutex_unlock(&px->m);
    return n;
}

/* ------------------------------------------------------------------ shared handles */

static struct zconn *g_main; /* plain handle used by most checks */
static struct zconn *g_other;

static int mk(zhandle_t *zh, const char *path, const char *data)
{
    return zoo_create(zh, path, data, data ? (int)strlen(data) : -1, &ZOO_OPEN_ACL_UNSAFE,
                      ZOO_PERSISTENT, NULL, 0);
}

/* ------------------------------------------------------------------ checks */

static void t_session(void)
{
    const clientid_t *cid = zoo_client_id(g_main->zh);
    EXPECT(cid && cid->client_id != 0, "session id is 0");
    int t = zoo_recv_timeout(g_main->zh);
    /* tickTime 2000 in the test config -> bounds [4000, 40000]; 10000 is inside. */
    EXPECT(t == SESSION_TIMEOUT_MS, "negotiated timeout %d, requested %d", t, SESSION_TIMEOUT_MS);
    EXPECT(zoo_state(g_main->zh) == ZOO_CONNECTED_STATE, "state %d", zoo_state(g_main->zh));
    const clientid_t *cid2 = zoo_client_id(g_other->zh);
    EXPECT(cid2->client_id != cid->client_id, "two sessions share id %#" PRIx64,
           (uint64_t)cid->client_id);
out:;
}

static void t_create_persistent(void)
{
    zhandle_t *zh = g_main->zh;
    char pbuf[256];
    char buf[64];
    int blen = sizeof buf;
    struct Stat st;
    int rc = zoo_create(zh, P("/p"), "hello", 5, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, pbuf,
                        sizeof pbuf);
    EXPECT_OK(rc, "zoo_create");
    EXPECT(strcmp(pbuf, P("/p")) == 0, "created path %s", pbuf);
    rc = zoo_get(zh, P("/p"), 0, buf, &blen, &st);
    EXPECT_OK(rc, "zoo_get");
    EXPECT(blen == 5 && memcmp(buf, "hello", 5) == 0, "data len %d", blen);
    EXPECT(st.version == 0 && st.dataLength == 5 && st.numChildren == 0 && st.ephemeralOwner == 0,
           "stat version=%d dataLength=%d numChildren=%d owner=%#" PRIx64, st.version,
           st.dataLength, st.numChildren, (uint64_t)st.ephemeralOwner);
    rc = zoo_create(zh, P("/p"), "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    EXPECT_RC(rc, ZNODEEXISTS, "create existing");
    rc = zoo_create(zh, P("/nope/child"), "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    EXPECT_RC(rc, ZNONODE, "create under missing parent");
    /* Small path buffer: the client truncates, the node gets its full name. */
    char small[6];
    rc = zoo_create(zh, P("/p/truncated"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, small,
                    sizeof small);
    EXPECT_OK(rc, "create with small path buffer");
    rc = zoo_exists(zh, P("/p/truncated"), 0, &st);
    EXPECT_OK(rc, "exists truncated-name node");
out:;
}

static void t_null_and_empty_data(void)
{
    zhandle_t *zh = g_main->zh;
    char buf[16];
    int blen;
    struct Stat st;
    EXPECT_OK(mk(zh, P("/nulldata"), NULL), "create null data");
    blen = sizeof buf;
    EXPECT_OK(zoo_get(zh, P("/nulldata"), 0, buf, &blen, &st), "get null data");
    /* ZooKeeper keeps null distinct from empty: getData returns a null buffer (len -1). */
    EXPECT(blen == -1, "null data read back with length %d, expected -1", blen);
    EXPECT(st.dataLength == 0, "dataLength %d", st.dataLength);
    EXPECT_OK(zoo_create(zh, P("/emptydata"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
              "create empty data");
    blen = sizeof buf;
    EXPECT_OK(zoo_get(zh, P("/emptydata"), 0, buf, &blen, &st), "get empty data");
    EXPECT(blen == 0, "empty data read back with length %d, expected 0", blen);
    /* setData to null and back */
    EXPECT_OK(zoo_set(zh, P("/emptydata"), NULL, -1, -1), "set null");
    blen = sizeof buf;
    EXPECT_OK(zoo_get(zh, P("/emptydata"), 0, buf, &blen, &st), "get after set null");
    EXPECT(blen == -1 && st.version == 1, "after set(null): len %d version %d", blen, st.version);
    /* Larger value, and a buffer shorter than the data: client truncates to the buffer. */
    static char big[100000];
    memset(big, 'z', sizeof big);
    EXPECT_OK(zoo_set(zh, P("/emptydata"), big, (int)sizeof big, 1), "set 100000 bytes");
    blen = sizeof buf;
    EXPECT_OK(zoo_get(zh, P("/emptydata"), 0, buf, &blen, &st), "get big");
    EXPECT(st.dataLength == (int)sizeof big && blen == (int)sizeof buf,
           "dataLength %d (want %d), copied %d", st.dataLength, (int)sizeof big, blen);
out:;
}

static void t_create2_stat(void)
{
    zhandle_t *zh = g_main->zh;
    char pbuf[256];
    struct Stat st, st2, pst0, pst1;
    EXPECT_OK(mk(zh, P("/c2"), NULL), "create parent");
    EXPECT_OK(zoo_exists(zh, P("/c2"), 0, &pst0), "exists parent");
    int rc = zoo_create2(zh, P("/c2/n"), "abc", 3, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, pbuf,
                         sizeof pbuf, &st);
    EXPECT_OK(rc, "zoo_create2");
    char d[512];
    fmt_stat(d, sizeof d, &st);
    EXPECT(strcmp(pbuf, P("/c2/n")) == 0, "path %s", pbuf);
    EXPECT(st.czxid > 0 && st.czxid == st.mzxid && st.czxid == st.pzxid, "zxids: %s", d);
    EXPECT(st.ctime > 0 && st.ctime == st.mtime, "times: %s", d);
    EXPECT(st.version == 0 && st.cversion == 0 && st.aversion == 0, "versions: %s", d);
    EXPECT(st.ephemeralOwner == 0 && st.dataLength == 3 && st.numChildren == 0, "misc: %s", d);
    /* ctime is wall-clock ms */
    int64_t wall = (int64_t)time(NULL) * 1000;
    EXPECT(st.ctime > wall - 600000 && st.ctime < wall + 600000, "ctime %" PRId64 " vs now %" PRId64,
           st.ctime, wall);
    EXPECT(st.czxid > pst0.czxid, "child czxid %" PRId64 " <= parent czxid %" PRId64, st.czxid,
           pst0.czxid);
    EXPECT_OK(zoo_exists(zh, P("/c2/n"), 0, &st2), "exists");
    EXPECT(stat_eq(&st, &st2), "create2 stat differs from exists stat");
    EXPECT_OK(zoo_exists(zh, P("/c2"), 0, &pst1), "exists parent");
    EXPECT(pst1.pzxid == st.czxid && pst1.cversion == pst0.cversion + 1 && pst1.numChildren == 1 &&
               pst1.mzxid == pst0.mzxid && pst1.version == pst0.version,
           "parent after child create: pzxid %" PRId64 " (child czxid %" PRId64
           ") cversion %d->%d numChildren %d mzxid changed %d",
           pst1.pzxid, st.czxid, pst0.cversion, pst1.cversion, pst1.numChildren,
           pst1.mzxid != pst0.mzxid);
    /* create2 on an existing path */
    rc = zoo_create2(zh, P("/c2/n"), "abc", 3, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, pbuf,
                     sizeof pbuf, &st);
    EXPECT_RC(rc, ZNODEEXISTS, "create2 existing");
    /* create2 sequential returns the suffixed path and its stat */
    rc = zoo_create2(zh, P("/c2/s-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL,
                     pbuf, sizeof pbuf, &st);
    EXPECT_OK(rc, "create2 sequential");
    EXPECT(strcmp(pbuf, P("/c2/s-0000000001")) == 0, "sequential create2 path %s", pbuf);
    EXPECT_OK(zoo_exists(zh, pbuf, 0, &st2), "exists seq");
    EXPECT(stat_eq(&st, &st2), "create2 seq stat differs from exists stat");
out:;
}

static void t_ephemeral(void)
{
    zhandle_t *zh = g_main->zh;
    struct Stat st;
    struct zconn *e = NULL;
    EXPECT_OK(mk(zh, P("/eph"), NULL), "create parent");
    e = zc_open(g_hostport, NULL);
    if (!e)
        goto out;
    int64_t sid = zoo_client_id(e->zh)->client_id;
    EXPECT_OK(zoo_create(e->zh, P("/eph/e"), "v", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
              "create ephemeral");
    EXPECT_OK(zoo_exists(zh, P("/eph/e"), 0, &st), "exists ephemeral (other session)");
    EXPECT(st.ephemeralOwner == sid, "ephemeralOwner %#" PRIx64 ", session %#" PRIx64,
           (uint64_t)st.ephemeralOwner, (uint64_t)sid);
    int rc = zoo_create(e->zh, P("/eph/e/child"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                        NULL, 0);
    EXPECT_RC(rc, ZNOCHILDRENFOREPHEMERALS, "child of ephemeral");
    rc = zoo_create(zh, P("/eph/e/child2"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    EXPECT_RC(rc, ZNOCHILDRENFOREPHEMERALS, "ephemeral child of ephemeral (other session)");
    char pbuf[256];
    EXPECT_OK(zoo_create(e->zh, P("/eph/es-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_EPHEMERAL_SEQUENTIAL, pbuf, sizeof pbuf),
              "create ephemeral sequential");
    EXPECT(strcmp(pbuf, P("/eph/es-0000000001")) == 0, "ephemeral sequential path %s", pbuf);
    EXPECT_OK(zoo_exists(zh, pbuf, 0, &st), "exists ephemeral sequential");
    EXPECT(st.ephemeralOwner == sid, "ephemeral-sequential owner %#" PRIx64,
           (uint64_t)st.ephemeralOwner);
    /* Closing the session removes its ephemerals before the close returns. */
    zc_close(e);
    e = NULL;
    rc = zoo_exists(zh, P("/eph/e"), 0, &st);
    EXPECT_RC(rc, ZNONODE, "ephemeral after session close");
    rc = zoo_exists(zh, pbuf, 0, &st);
    EXPECT_RC(rc, ZNONODE, "ephemeral sequential after session close");
    EXPECT_OK(zoo_exists(zh, P("/eph"), 0, &st), "exists parent");
    EXPECT(st.numChildren == 0 && st.cversion == 4, "parent after close: numChildren %d cversion %d",
           st.numChildren, st.cversion);
out:
    zc_close(e);
}

static void t_sequential(void)
{
    zhandle_t *zh = g_main->zh;
    char pbuf[256];
    struct Stat st;
    EXPECT_OK(mk(zh, P("/seq"), NULL), "create parent");
    EXPECT_OK(zoo_create(zh, P("/seq/a-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_PERSISTENT_SEQUENTIAL, pbuf, sizeof pbuf),
              "seq 1");
    EXPECT(strcmp(pbuf, P("/seq/a-0000000000")) == 0, "first sequential path %s", pbuf);
    EXPECT_OK(zoo_create(zh, P("/seq/b-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_PERSISTENT_SEQUENTIAL, pbuf, sizeof pbuf),
              "seq 2");
    EXPECT(strcmp(pbuf, P("/seq/b-0000000001")) == 0, "second sequential path %s", pbuf);
    /* A plain create and a delete: the counter counts creations, deletions do not lower it. */
    EXPECT_OK(mk(zh, P("/seq/plain"), NULL), "plain child");
    EXPECT_OK(zoo_delete(zh, P("/seq/plain"), -1), "delete plain child");
    EXPECT_OK(zoo_delete(zh, P("/seq/a-0000000000"), -1), "delete seq child");
    EXPECT_OK(zoo_create(zh, P("/seq/a-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_PERSISTENT_SEQUENTIAL, pbuf, sizeof pbuf),
              "seq 3");
    EXPECT(strcmp(pbuf, P("/seq/a-0000000003")) == 0, "sequential after plain create+deletes %s",
           pbuf);
    /* Sequential with a trailing slash: the child's name is only the digits. */
    EXPECT_OK(zoo_create(zh, P("/seq/"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL,
                         pbuf, sizeof pbuf),
              "seq with trailing slash");
    EXPECT(strcmp(pbuf, P("/seq/0000000004")) == 0, "trailing-slash sequential path %s", pbuf);
    EXPECT_OK(zoo_exists(zh, P("/seq"), 0, &st), "exists parent");
    /* visible cversion = creations + deletions = 5 + 2 */
    EXPECT(st.numChildren == 3 && st.cversion == 7, "parent numChildren %d cversion %d",
           st.numChildren, st.cversion);
out:;
}

static void t_set_versions(void)
{
    zhandle_t *zh = g_main->zh;
    struct Stat st, st0;
    char buf[32];
    int blen;
    EXPECT_OK(mk(zh, P("/v"), "0"), "create");
    EXPECT_OK(zoo_exists(zh, P("/v"), 0, &st0), "exists");
    EXPECT_OK(zoo_set(zh, P("/v"), "1", 1, 0), "set version 0");
    EXPECT_RC(zoo_set(zh, P("/v"), "x", 1, 0), ZBADVERSION, "set stale version 0");
    EXPECT_RC(zoo_set(zh, P("/v"), "x", 1, 5), ZBADVERSION, "set future version 5");
    EXPECT_OK(zoo_set2(zh, P("/v"), "two", 3, 1, &st), "set2 version 1");
    char d[512];
    fmt_stat(d, sizeof d, &st);
    EXPECT(st.version == 2 && st.dataLength == 3 && st.mzxid > st0.mzxid && st.czxid == st0.czxid &&
               st.ctime == st0.ctime && st.mtime >= st0.mtime && st.cversion == 0 &&
               st.pzxid == st0.pzxid,
           "stat after two sets: %s", d);
    EXPECT_OK(zoo_set(zh, P("/v"), "any", 3, -1), "set version -1");
    blen = sizeof buf;
    EXPECT_OK(zoo_get(zh, P("/v"), 0, buf, &blen, &st), "get");
    EXPECT(blen == 3 && memcmp(buf, "any", 3) == 0 && st.version == 3, "data/version %d/%d", blen,
           st.version);
    EXPECT_RC(zoo_set(zh, P("/missing"), "x", 1, -1), ZNONODE, "set missing");
    blen = sizeof buf;
    EXPECT_RC(zoo_get(zh, P("/missing"), 0, buf, &blen, &st), ZNONODE, "get missing");
    EXPECT_RC(zoo_exists(zh, P("/missing"), 0, &st), ZNONODE, "exists missing");
out:;
}

static void t_delete(void)
{
    zhandle_t *zh = g_main->zh;
    struct Stat st, pst0, pst1;
    EXPECT_OK(mk(zh, P("/d"), NULL), "create parent");
    EXPECT_OK(mk(zh, P("/d/x"), "x"), "create child");
    EXPECT_OK(mk(zh, P("/d/x/y"), "y"), "create grandchild");
    EXPECT_RC(zoo_delete(zh, P("/d/x"), -1), ZNOTEMPTY, "delete non-empty");
    EXPECT_RC(zoo_delete(zh, P("/d/nope"), -1), ZNONODE, "delete missing");
    EXPECT_RC(zoo_delete(zh, P("/d/x/y"), 3), ZBADVERSION, "delete wrong version");
    EXPECT_OK(zoo_set(zh, P("/d/x/y"), "y2", 2, -1), "set");
    EXPECT_RC(zoo_delete(zh, P("/d/x/y"), 0), ZBADVERSION, "delete stale version");
    EXPECT_OK(zoo_exists(zh, P("/d/x"), 0, &pst0), "exists parent");
    EXPECT_OK(zoo_delete(zh, P("/d/x/y"), 1), "delete right version");
    EXPECT_RC(zoo_exists(zh, P("/d/x/y"), 0, &st), ZNONODE, "exists after delete");
    EXPECT_OK(zoo_exists(zh, P("/d/x"), 0, &pst1), "exists parent");
    EXPECT(pst1.numChildren == 0 && pst1.cversion == pst0.cversion + 1 && pst1.pzxid > pst0.pzxid &&
               pst1.mzxid == pst0.mzxid,
           "parent after delete: numChildren %d cversion %d->%d pzxid %" PRId64 "->%" PRId64,
           pst1.numChildren, pst0.cversion, pst1.cversion, pst0.pzxid, pst1.pzxid);
    EXPECT_OK(zoo_delete(zh, P("/d/x"), -1), "delete now-empty node");
    /* the reserved nodes cannot be deleted */
    int rc = zoo_delete(zh, "/zookeeper", -1);
    EXPECT(rc == ZBADARGUMENTS, "delete /zookeeper: rc %d (%s), expected ZBADARGUMENTS", rc,
           zerror(rc));
out:;
}

static void t_children(void)
{
    zhandle_t *zh = g_main->zh;
    struct String_vector v = {0, NULL};
    struct Stat st, st2;
    char joined[512];
    EXPECT_OK(mk(zh, P("/ch"), NULL), "create parent");
    EXPECT_OK(zoo_get_children(zh, P("/ch"), 0, &v), "get_children empty");
    EXPECT(v.count == 0, "empty parent has %d children", v.count);
    deallocate_String_vector(&v);
    EXPECT_OK(mk(zh, P("/ch/b"), NULL), "create b");
    EXPECT_OK(mk(zh, P("/ch/a"), NULL), "create a");
    EXPECT_OK(mk(zh, P("/ch/c"), NULL), "create c");
    EXPECT_OK(mk(zh, P("/ch/a/deep"), NULL), "create a/deep");
    EXPECT_OK(zoo_get_children(zh, P("/ch"), 0, &v), "get_children");
    join_children(joined, sizeof joined, &v);
    deallocate_String_vector(&v);
    EXPECT(strcmp(joined, "a,b,c") == 0, "children %s", joined);
    EXPECT_OK(zoo_delete(zh, P("/ch/b"), -1), "delete b");
    EXPECT_OK(zoo_get_children2(zh, P("/ch"), 0, &v, &st), "get_children2");
    join_children(joined, sizeof joined, &v);
    deallocate_String_vector(&v);
    EXPECT(strcmp(joined, "a,c") == 0, "children2 %s", joined);
    EXPECT_OK(zoo_exists(zh, P("/ch"), 0, &st2), "exists");
    EXPECT(stat_eq(&st, &st2), "get_children2 stat is not the listed node's stat");
    EXPECT(st.numChildren == 2 && st.cversion == 4, "numChildren %d cversion %d", st.numChildren,
           st.cversion);
    EXPECT_RC(zoo_get_children(zh, P("/ch/missing"), 0, &v), ZNONODE, "get_children missing");
    EXPECT_RC(zoo_get_children2(zh, P("/ch/missing"), 0, &v, &st), ZNONODE, "children2 missing");
    /* The root lists the reserved /zookeeper node. */
    EXPECT_OK(zoo_get_children(zh, "/", 0, &v), "get_children /");
    int found = 0;
    for (int i = 0; i < v.count; i++)
        if (strcmp(v.data[i], "zookeeper") == 0)
            found = 1;
    deallocate_String_vector(&v);
    EXPECT(found, "/ does not list zookeeper");
    EXPECT_OK(zoo_get_children(zh, "/zookeeper", 0, &v), "get_children /zookeeper");
    join_children(joined, sizeof joined, &v);
    deallocate_String_vector(&v);
    EXPECT(strcmp(joined, "config,quota") == 0, "/zookeeper children %s", joined);
out:;
}

static void t_acl_digest(void)
{
    zhandle_t *zh = g_main->zh;
    struct zconn *a = NULL, *b = NULL;
    struct ACL_vector acl = {0, NULL};
    struct Stat st;
    char buf[32];
    int blen;
    a = zc_open(g_hostport, NULL);
    b = zc_open(g_hostport, NULL);
    if (!a || !b)
        goto out;
    EXPECT_OK(mk(zh, P("/acl"), NULL), "create parent");
    EXPECT_OK(add_auth_wait(a->zh, "digest", CUSER_AUTH), "add_auth digest");
    /* CREATOR_ALL (auth scheme) expands to the session's digest id. */
    EXPECT_OK(zoo_create(a->zh, P("/acl/creator"), "secret", 6, &ZOO_CREATOR_ALL_ACL,
                         ZOO_PERSISTENT, NULL, 0),
              "create with CREATOR_ALL_ACL");
    EXPECT_OK(zoo_get_acl(a->zh, P("/acl/creator"), &acl, &st), "get_acl (owner)");
    EXPECT(acl.count == 1 && acl.data[0].perms == ZOO_PERM_ALL &&
               strcmp(acl.data[0].id.scheme, "digest") == 0 &&
               strcmp(acl.data[0].id.id, CUSER_ID) == 0,
           "acl count %d first %s:%s perms %d", acl.count, acl.count ? acl.data[0].id.scheme : "-",
           acl.count ? acl.data[0].id.id : "-", acl.count ? acl.data[0].perms : -1);
    deallocate_ACL_vector(&acl);
    blen = sizeof buf;
    EXPECT_OK(zoo_get(a->zh, P("/acl/creator"), 0, buf, &blen, &st), "owner get");
    /* Session b has no credentials. */
    blen = sizeof buf;
    EXPECT_RC(zoo_get(b->zh, P("/acl/creator"), 0, buf, &blen, &st), ZNOAUTH, "unauth get");
    EXPECT_RC(zoo_set(b->zh, P("/acl/creator"), "x", 1, -1), ZNOAUTH, "unauth set");
    EXPECT_RC(zoo_create(b->zh, P("/acl/creator/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_PERSISTENT, NULL, 0),
              ZNOAUTH, "unauth create child");
    struct String_vector v = {0, NULL};
    EXPECT_RC(zoo_get_children(b->zh, P("/acl/creator"), 0, &v), ZNOAUTH, "unauth get_children");
    EXPECT_RC(zoo_set_acl(b->zh, P("/acl/creator"), -1, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH,
              "unauth set_acl");
    /* getACL needs READ or ADMIN (also in 3.8.0). */
    EXPECT_RC(zoo_get_acl(b->zh, P("/acl/creator"), &acl, &st), ZNOAUTH, "unauth get_acl");
    /* exists does not check READ in 3.8.0; 3.8.4/3.9.2 and zkd do (ZOOKEEPER-2590). */
    int rc = zoo_exists(b->zh, P("/acl/creator"), 0, &st);
    if (g_is_zkd)
        EXPECT_RC(rc, ZNOAUTH, "unauth exists (3.9 behaviour)");
    else
        EXPECT_RC(rc, ZOK, "unauth exists (3.8.0 behaviour)");
    /* Wrong password: auth itself succeeds (digest accepts any user:password), no access. */
    EXPECT_OK(add_auth_wait(b->zh, "digest", "cuser:wrong"), "add_auth wrong password");
    blen = sizeof buf;
    EXPECT_RC(zoo_get(b->zh, P("/acl/creator"), 0, buf, &blen, &st), ZNOAUTH,
              "get with wrong password");
    /* Right password added to the same session: access (auth ids accumulate). */
    EXPECT_OK(add_auth_wait(b->zh, "digest", CUSER_AUTH), "add_auth right password");
    blen = sizeof buf;
    EXPECT_OK(zoo_get(b->zh, P("/acl/creator"), 0, buf, &blen, &st), "get after auth");
    EXPECT(blen == 6 && memcmp(buf, "secret", 6) == 0, "data after auth, len %d", blen);
out:
    zc_close(a);
    zc_close(b);
}

static void t_acl_explicit(void)
{
    zhandle_t *zh = g_main->zh;
    struct zconn *b = NULL;
    struct Stat st;
    char buf[32];
    int blen;
    /* digest ALL for cuser + world READ, built by hand */
    struct ACL entries[2] = {
        {ZOO_PERM_ALL, {(char *)"digest", (char *)CUSER_ID}},
        {ZOO_PERM_READ, {(char *)"world", (char *)"anyone"}},
    };
    struct ACL_vector acl = {2, entries};
    EXPECT_OK(mk(zh, P("/acl2"), NULL), "create parent");
    /* An explicit digest id needs no matching credentials on the creating session. */
    EXPECT_OK(zoo_create(zh, P("/acl2/n"), "d", 1, &acl, ZOO_PERSISTENT, NULL, 0),
              "create with explicit digest ACL (creator not authenticated)");
    b = zc_open(g_hostport, NULL);
    if (!b)
        goto out;
    blen = sizeof buf;
    EXPECT_OK(zoo_get(b->zh, P("/acl2/n"), 0, buf, &blen, &st), "world READ get");
    EXPECT_OK(zoo_exists(b->zh, P("/acl2/n"), 0, &st), "world READ exists");
    EXPECT_RC(zoo_set(b->zh, P("/acl2/n"), "x", 1, -1), ZNOAUTH, "set without WRITE");
    EXPECT_RC(zoo_create(b->zh, P("/acl2/n/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                         NULL, 0),
              ZNOAUTH, "create child without CREATE");
    EXPECT_OK(add_auth_wait(b->zh, "digest", CUSER_AUTH), "add_auth");
    EXPECT_OK(zoo_set(b->zh, P("/acl2/n"), "x", 1, -1), "set after auth");
    EXPECT_OK(zoo_create(b->zh, P("/acl2/n/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                         NULL, 0),
              "create child after auth");
    /* Deleting a node needs DELETE on its parent, not on the node: /acl2/n/c is open but its
     * parent grants DELETE only to cuser. */
    EXPECT_RC(zoo_delete(zh, P("/acl2/n/c"), -1), ZNOAUTH, "delete child without DELETE on parent");
    EXPECT_OK(zoo_delete(b->zh, P("/acl2/n/c"), -1), "delete child with DELETE on parent");
    /* ... and /acl2/n itself can be deleted by anyone, /acl2 being open. */
    EXPECT_OK(zoo_delete(zh, P("/acl2/n"), -1), "delete restricted node under open parent");
    /* Individual permission bits: READ|CREATE only. */
    struct ACL rc_e = {ZOO_PERM_READ | ZOO_PERM_CREATE, {(char *)"world", (char *)"anyone"}};
    struct ACL_vector rc_acl = {1, &rc_e};
    EXPECT_OK(zoo_create(zh, P("/acl2/rc"), NULL, -1, &rc_acl, ZOO_PERSISTENT, NULL, 0),
              "create READ|CREATE node");
    EXPECT_OK(mk(b->zh, P("/acl2/rc/kid"), NULL), "create under READ|CREATE");
    EXPECT_RC(zoo_delete(b->zh, P("/acl2/rc/kid"), -1), ZNOAUTH,
              "delete under READ|CREATE (no DELETE)");
    EXPECT_RC(zoo_set(b->zh, P("/acl2/rc"), "x", 1, -1), ZNOAUTH, "set on READ|CREATE (no WRITE)");
    EXPECT_RC(zoo_set_acl(b->zh, P("/acl2/rc"), -1, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH,
              "set_acl on READ|CREATE (no ADMIN)");
out:
    zc_close(b);
}

static void t_get_set_acl(void)
{
    zhandle_t *zh = g_main->zh;
    struct zconn *b = NULL, *c = NULL;
    struct ACL_vector got = {0, NULL};
    struct Stat st, st0;
    struct ACL entries[2] = {
        {ZOO_PERM_ALL, {(char *)"digest", (char *)CUSER_ID}},
        {ZOO_PERM_READ, {(char *)"world", (char *)"anyone"}},
    };
    struct ACL_vector acl = {2, entries};
    EXPECT_OK(mk(zh, P("/sa"), "x"), "create");
    EXPECT_OK(zoo_get_acl(zh, P("/sa"), &got, &st0), "get_acl default");
    EXPECT(got.count == 1 && got.data[0].perms == ZOO_PERM_ALL &&
               strcmp(got.data[0].id.scheme, "world") == 0 &&
               strcmp(got.data[0].id.id, "anyone") == 0,
           "default acl %d entries, first %s:%s", got.count, got.count ? got.data[0].id.scheme : "",
           got.count ? got.data[0].id.id : "");
    deallocate_ACL_vector(&got);
    EXPECT(st0.aversion == 0, "aversion %d", st0.aversion);
    EXPECT_RC(zoo_set_acl(zh, P("/sa"), 3, &acl), ZBADVERSION, "set_acl wrong aversion");
    EXPECT_OK(zoo_set_acl(zh, P("/sa"), 0, &acl), "set_acl aversion 0");
    EXPECT_OK(zoo_get_acl(zh, P("/sa"), &got, &st), "get_acl after set (READ only)");
    /* Without ADMIN, digest ids come back as "<user>:x". */
    int redacted = -1, world = -1;
    for (int i = 0; i < got.count; i++) {
        if (strcmp(got.data[i].id.scheme, "digest") == 0)
            redacted = strcmp(got.data[i].id.id, "cuser:x") == 0 && got.data[i].perms == ZOO_PERM_ALL;
        if (strcmp(got.data[i].id.scheme, "world") == 0)
            world = got.data[i].perms == ZOO_PERM_READ;
    }
    EXPECT(got.count == 2 && redacted == 1 && world == 1,
           "acl for non-admin reader: count %d, digest redacted %d, world READ %d (first id %s)",
           got.count, redacted, world, got.count ? got.data[0].id.id : "");
    deallocate_ACL_vector(&got);
    EXPECT(st.aversion == 1 && st.mzxid == st0.mzxid && st.version == st0.version &&
               st.mtime == st0.mtime,
           "after set_acl: aversion %d, mzxid changed %d, version %d", st.aversion,
           st.mzxid != st0.mzxid, st.version);
    /* No ADMIN any more for this session. */
    EXPECT_RC(zoo_set_acl(zh, P("/sa"), -1, &ZOO_OPEN_ACL_UNSAFE), ZNOAUTH, "set_acl without ADMIN");
    /* An authenticated session sees the full id and may set the ACL back. */
    c = zc_open(g_hostport, NULL);
    if (!c)
        goto out;
    EXPECT_OK(add_auth_wait(c->zh, "digest", CUSER_AUTH), "add_auth");
    EXPECT_OK(zoo_get_acl(c->zh, P("/sa"), &got, &st), "get_acl as admin");
    int full = 0;
    for (int i = 0; i < got.count; i++)
        if (strcmp(got.data[i].id.scheme, "digest") == 0 && strcmp(got.data[i].id.id, CUSER_ID) == 0)
            full = 1;
    deallocate_ACL_vector(&got);
    EXPECT(full, "admin does not see the full digest id");
    EXPECT_OK(zoo_set_acl(c->zh, P("/sa"), 1, &ZOO_OPEN_ACL_UNSAFE), "set_acl back as admin");
    EXPECT_OK(zoo_exists(zh, P("/sa"), 0, &st), "exists");
    EXPECT(st.aversion == 2, "aversion %d", st.aversion);
    /* Invalid ACLs. */
    struct ACL_vector empty = {0, NULL};
    EXPECT_RC(zoo_set_acl(zh, P("/sa"), -1, &empty), ZINVALIDACL, "set_acl empty list");
    struct ACL badworld_e = {ZOO_PERM_ALL, {(char *)"world", (char *)"someone"}};
    struct ACL_vector badworld = {1, &badworld_e};
    EXPECT_RC(zoo_set_acl(zh, P("/sa"), -1, &badworld), ZINVALIDACL, "set_acl world:someone");
    struct ACL baddigest_e = {ZOO_PERM_ALL, {(char *)"digest", (char *)"nocolon"}};
    struct ACL_vector baddigest = {1, &baddigest_e};
    EXPECT_RC(zoo_create(zh, P("/sa/bad"), NULL, -1, &baddigest, ZOO_PERSISTENT, NULL, 0),
              ZINVALIDACL, "create with digest id without ':'");
    /* "auth" scheme needs an authenticated id on the session. */
    b = zc_open(g_hostport, NULL);
    if (!b)
        goto out;
    EXPECT_RC(zoo_create(b->zh, P("/sa/creator"), NULL, -1, &ZOO_CREATOR_ALL_ACL, ZOO_PERSISTENT,
                         NULL, 0),
              ZINVALIDACL, "CREATOR_ALL_ACL without auth");
    EXPECT_RC(zoo_set_acl(zh, P("/missing"), -1, &ZOO_OPEN_ACL_UNSAFE), ZNONODE, "set_acl missing");
    EXPECT_RC(zoo_get_acl(zh, P("/missing"), &got, &st), ZNONODE, "get_acl missing");
out:
    zc_close(b);
    zc_close(c);
}

static void auth_cb(int rc, const void *data)
{
    waiter_finish((struct waiter *)data, rc, NULL);
}

static void t_auth_failed(void)
{
    struct zconn *b = zc_open(g_hostport, NULL);
    struct waiter w;
    waiter_init(&w);
    if (!b)
        goto out;
    /* An unknown scheme fails authentication; the server closes the connection. */
    int rc = zoo_add_auth(b->zh, "nosuchscheme", "x", 1, auth_cb, &w);
    EXPECT_OK(rc, "zoo_add_auth queued");
    EXPECT(waiter_wait(&w, EVENT_TIMEOUT_MS), "no auth completion");
    EXPECT_RC(w.rc, ZAUTHFAILED, "auth with unknown scheme");
    int64_t deadline = now_ms() + EVENT_TIMEOUT_MS;
    while (zoo_state(b->zh) != ZOO_AUTH_FAILED_STATE && now_ms() < deadline)
        sleep_ms(20);
    EXPECT(zoo_state(b->zh) == ZOO_AUTH_FAILED_STATE, "state %d after auth failure",
           zoo_state(b->zh));
out:
    waiter_destroy(&w);
    zc_close(b);
}

static void t_multi_ok(void)
{
    zhandle_t *zh = g_main->zh;
    zoo_op_t ops[5];
    zoo_op_result_t res[5];
    char p0[256], p1[256];
    struct Stat setst, st;
    EXPECT_OK(mk(zh, P("/m"), NULL), "create parent");
    EXPECT_OK(mk(zh, P("/m/old"), "o"), "create old");
    zoo_create_op_init(&ops[0], P("/m/new"), "n", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p0,
                       sizeof p0);
    zoo_create_op_init(&ops[1], P("/m/s-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                       ZOO_PERSISTENT_SEQUENTIAL, p1, sizeof p1);
    zoo_set_op_init(&ops[2], P("/m/new"), "nn", 2, 0, &setst);
    zoo_check_op_init(&ops[3], P("/m/new"), 1);
    zoo_delete_op_init(&ops[4], P("/m/old"), 0);
    memset(res, 0x55, sizeof res);
    int rc = zoo_multi(zh, 5, ops, res);
    EXPECT_OK(rc, "zoo_multi");
    for (int i = 0; i < 5; i++)
        EXPECT(res[i].err == ZOK, "op %d err %d", i, res[i].err);
    EXPECT(strcmp(p0, P("/m/new")) == 0, "create result %s", p0);
    EXPECT(strcmp(p1, P("/m/s-0000000002")) == 0, "sequential create result %s", p1);
    EXPECT(setst.version == 1 && setst.dataLength == 2, "setData result version %d len %d",
           setst.version, setst.dataLength);
    EXPECT_RC(zoo_exists(zh, P("/m/old"), 0, &st), ZNONODE, "deleted by multi");
    struct Stat snew, sseq;
    EXPECT_OK(zoo_exists(zh, P("/m/new"), 0, &snew), "exists new");
    EXPECT_OK(zoo_exists(zh, p1, 0, &sseq), "exists seq");
    /* All ops of one multi share one zxid. */
    EXPECT(snew.czxid == snew.mzxid && snew.czxid == sseq.czxid && setst.mzxid == snew.czxid,
           "multi ops have different zxids: %" PRId64 " %" PRId64 " %" PRId64, snew.czxid,
           snew.mzxid, sseq.czxid);
    EXPECT(snew.version == 1, "version %d", snew.version);
out:;
}

static void t_multi_fail(void)
{
    zhandle_t *zh = g_main->zh;
    zoo_op_t ops[4];
    zoo_op_result_t res[4];
    char p0[256];
    struct Stat st, st0;
    EXPECT_OK(mk(zh, P("/mf"), NULL), "create parent");
    EXPECT_OK(mk(zh, P("/mf/x"), "x"), "create x");
    EXPECT_OK(zoo_exists(zh, P("/mf/x"), 0, &st0), "exists x");
    zoo_create_op_init(&ops[0], P("/mf/a"), "a", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p0,
                       sizeof p0);
    zoo_set_op_init(&ops[1], P("/mf/x"), "changed", 7, -1, NULL);
    zoo_check_op_init(&ops[2], P("/mf/x"), 7);
    zoo_delete_op_init(&ops[3], P("/mf/x"), -1);
    memset(res, 0x55, sizeof res);
    int rc = zoo_multi(zh, 4, ops, res);
    EXPECT_RC(rc, ZBADVERSION, "zoo_multi return");
    EXPECT(res[0].err == ZOK && res[1].err == ZOK && res[2].err == ZBADVERSION &&
               res[3].err == ZRUNTIMEINCONSISTENCY,
           "per-op results %d %d %d %d, expected 0 0 %d %d", res[0].err, res[1].err, res[2].err,
           res[3].err, ZBADVERSION, ZRUNTIMEINCONSISTENCY);
    EXPECT_RC(zoo_exists(zh, P("/mf/a"), 0, &st), ZNONODE, "create of failed multi applied");
    EXPECT_OK(zoo_exists(zh, P("/mf/x"), 0, &st), "exists x");
    EXPECT(stat_eq(&st, &st0), "x changed by a failed multi (version %d)", st.version);
    /* Failure on the first op: NODEEXISTS, the rest RUNTIMEINCONSISTENCY. */
    zoo_create_op_init(&ops[0], P("/mf/x"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p0,
                       sizeof p0);
    zoo_delete_op_init(&ops[1], P("/mf/x"), -1);
    memset(res, 0x55, sizeof res);
    rc = zoo_multi(zh, 2, ops, res);
    EXPECT_RC(rc, ZNODEEXISTS, "zoo_multi (first op fails)");
    EXPECT(res[0].err == ZNODEEXISTS && res[1].err == ZRUNTIMEINCONSISTENCY, "results %d %d",
           res[0].err, res[1].err);
    /* Ops see the effect of earlier ops of the same multi: create then create a child. */
    zoo_create_op_init(&ops[0], P("/mf/p"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[1], P("/mf/p/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                       0);
    zoo_delete_op_init(&ops[2], P("/mf/p"), -1);
    memset(res, 0x55, sizeof res);
    rc = zoo_multi(zh, 3, ops, res);
    EXPECT_RC(rc, ZNOTEMPTY, "zoo_multi create parent+child then delete parent");
    EXPECT(res[0].err == ZOK && res[1].err == ZOK && res[2].err == ZNOTEMPTY, "results %d %d %d",
           res[0].err, res[1].err, res[2].err);
    EXPECT_RC(zoo_exists(zh, P("/mf/p"), 0, &st), ZNONODE, "partial multi applied");
    /* Missing node in a check op. */
    zoo_check_op_init(&ops[0], P("/mf/none"), 0);
    memset(res, 0x55, sizeof res);
    rc = zoo_multi(zh, 1, ops, res);
    EXPECT_RC(rc, ZNONODE, "zoo_multi check missing");
    EXPECT(res[0].err == ZNONODE, "result %d", res[0].err);
    /* Ephemeral in a multi, then a child under it in the same multi. */
    zoo_create_op_init(&ops[0], P("/mf/e"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0);
    zoo_create_op_init(&ops[1], P("/mf/e/c"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                       0);
    memset(res, 0x55, sizeof res);
    rc = zoo_multi(zh, 2, ops, res);
    EXPECT_RC(rc, ZNOCHILDRENFOREPHEMERALS, "multi: child under ephemeral created in same multi");
out:;
}

static void t_watch_data(void)
{
    zhandle_t *zh = g_main->zh, *oth = g_other->zh;
    struct evrec r;
    evrec_init(&r);
    char buf[32];
    int blen = sizeof buf;
    struct Stat st;
    EXPECT_OK(mk(zh, P("/wd"), "0"), "create");
    EXPECT_OK(zoo_wget(zh, P("/wd"), rec_watcher, &r, buf, &blen, &st), "zoo_wget");
    EXPECT_OK(zoo_set(oth, P("/wd"), "1", 1, -1), "set from other session");
    EXPECT(evrec_wait(&r, 1, EVENT_TIMEOUT_MS) >= 1, "no event after setData");
    EXPECT(ev_is(&r, 0, ZOO_CHANGED_EVENT, P("/wd")), "events: %s", ev_desc(&r));
    /* One-shot: a second change without re-arming gives nothing. */
    EXPECT_OK(zoo_set(oth, P("/wd"), "2", 1, -1), "second set");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&r) == 1, "one-shot watch fired again: %s", ev_desc(&r));
    /* Re-arm, then delete: DELETED. */
    blen = sizeof buf;
    EXPECT_OK(zoo_wget(zh, P("/wd"), rec_watcher, &r, buf, &blen, &st), "zoo_wget again");
    EXPECT_OK(zoo_delete(oth, P("/wd"), -1), "delete");
    EXPECT(evrec_wait(&r, 2, EVENT_TIMEOUT_MS) >= 2, "no event after delete: %s", ev_desc(&r));
    EXPECT(ev_is(&r, 1, ZOO_DELETED_EVENT, P("/wd")), "events: %s", ev_desc(&r));
    /* getData on a missing node leaves no watch behind. */
    blen = sizeof buf;
    EXPECT_RC(zoo_wget(zh, P("/wd"), rec_watcher, &r, buf, &blen, &st), ZNONODE, "wget missing");
    EXPECT_OK(mk(oth, P("/wd"), "again"), "re-create");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&r) == 2, "getData on a missing node left a watch: %s", ev_desc(&r));
out:
    evrec_destroy(&r);
}

static void t_watch_exists(void)
{
    zhandle_t *zh = g_main->zh, *oth = g_other->zh;
    struct evrec r;
    evrec_init(&r);
    struct Stat st;
    EXPECT_OK(mk(zh, P("/we"), NULL), "create parent");
    /* exists on a missing node registers a watch anyway. */
    EXPECT_RC(zoo_wexists(zh, P("/we/n"), rec_watcher, &r, &st), ZNONODE, "wexists missing");
    EXPECT_OK(mk(oth, P("/we/n"), "x"), "create from other session");
    EXPECT(evrec_wait(&r, 1, EVENT_TIMEOUT_MS) >= 1, "no CREATED event");
    EXPECT(ev_is(&r, 0, ZOO_CREATED_EVENT, P("/we/n")), "events: %s", ev_desc(&r));
    /* exists watch on an existing node: CHANGED on setData */
    EXPECT_OK(zoo_wexists(zh, P("/we/n"), rec_watcher, &r, &st), "wexists present");
    EXPECT_OK(zoo_set(oth, P("/we/n"), "y", 1, -1), "set");
    EXPECT(evrec_wait(&r, 2, EVENT_TIMEOUT_MS) >= 2, "no CHANGED event: %s", ev_desc(&r));
    EXPECT(ev_is(&r, 1, ZOO_CHANGED_EVENT, P("/we/n")), "events: %s", ev_desc(&r));
    /* and DELETED on delete */
    EXPECT_OK(zoo_wexists(zh, P("/we/n"), rec_watcher, &r, &st), "wexists present again");
    EXPECT_OK(zoo_delete(oth, P("/we/n"), -1), "delete");
    EXPECT(evrec_wait(&r, 3, EVENT_TIMEOUT_MS) >= 3, "no DELETED event: %s", ev_desc(&r));
    EXPECT(ev_is(&r, 2, ZOO_DELETED_EVENT, P("/we/n")), "events: %s", ev_desc(&r));
    /* Changes elsewhere (a sibling, the parent's data) do not fire it. */
    EXPECT_RC(zoo_wexists(zh, P("/we/n"), rec_watcher, &r, &st), ZNONODE, "wexists missing again");
    EXPECT_OK(mk(oth, P("/we/sibling"), NULL), "sibling");
    EXPECT_OK(zoo_set(oth, P("/we"), "p", 1, -1), "parent set");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&r) == 3, "unrelated change fired exists watch: %s", ev_desc(&r));
    /* The watch set by the same session's own write also fires, before the write's reply. */
    EXPECT_OK(mk(zh, P("/we/n"), NULL), "create by the watching session");
    EXPECT(evrec_wait(&r, 4, EVENT_TIMEOUT_MS) >= 4, "own create did not fire: %s", ev_desc(&r));
    EXPECT(ev_is(&r, 3, ZOO_CREATED_EVENT, P("/we/n")), "events: %s", ev_desc(&r));
out:
    evrec_destroy(&r);
}

static void t_watch_children(void)
{
    zhandle_t *zh = g_main->zh, *oth = g_other->zh;
    struct evrec r, rd;
    evrec_init(&r);
    evrec_init(&rd);
    struct String_vector v = {0, NULL};
    struct Stat st;
    char buf[8];
    int blen = sizeof buf;
    EXPECT_OK(mk(zh, P("/wc"), NULL), "create parent");
    EXPECT_OK(zoo_wget_children(zh, P("/wc"), rec_watcher, &r, &v), "wget_children");
    deallocate_String_vector(&v);
    EXPECT_OK(mk(oth, P("/wc/a"), NULL), "create child");
    EXPECT(evrec_wait(&r, 1, EVENT_TIMEOUT_MS) >= 1, "no CHILD event on child create");
    EXPECT(ev_is(&r, 0, ZOO_CHILD_EVENT, P("/wc")), "events: %s", ev_desc(&r));
    /* One-shot. */
    EXPECT_OK(mk(oth, P("/wc/b"), NULL), "create second child");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&r) == 1, "child watch fired twice: %s", ev_desc(&r));
    /* get_children2 watch, fired by a child delete; data change of the parent or of a child
     * does not fire it. */
    EXPECT_OK(zoo_wget_children2(zh, P("/wc"), rec_watcher, &r, &v, &st), "wget_children2");
    deallocate_String_vector(&v);
    EXPECT_OK(zoo_set(oth, P("/wc"), "x", 1, -1), "set parent data");
    EXPECT_OK(zoo_set(oth, P("/wc/a"), "x", 1, -1), "set child data");
    EXPECT_OK(mk(oth, P("/wc/a/grandchild"), NULL), "create grandchild");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&r) == 1, "child watch fired by data/grandchild change: %s", ev_desc(&r));
    EXPECT_OK(zoo_delete(oth, P("/wc/b"), -1), "delete child");
    EXPECT(evrec_wait(&r, 2, EVENT_TIMEOUT_MS) >= 2, "no CHILD event on child delete");
    EXPECT(ev_is(&r, 1, ZOO_CHILD_EVENT, P("/wc")), "events: %s", ev_desc(&r));
    /* Child watch + data watch on a node that gets deleted: both watchers see DELETED. */
    EXPECT_OK(mk(zh, P("/wc/gone"), NULL), "create node to delete");
    EXPECT_OK(zoo_wget_children(zh, P("/wc/gone"), rec_watcher, &r, &v), "child watch on node");
    deallocate_String_vector(&v);
    EXPECT_OK(zoo_wget(zh, P("/wc/gone"), rec_watcher, &rd, buf, &blen, &st), "data watch on node");
    EXPECT_OK(zoo_delete(oth, P("/wc/gone"), -1), "delete node");
    EXPECT(evrec_wait(&r, 3, EVENT_TIMEOUT_MS) >= 3, "child watcher: no event on node delete: %s",
           ev_desc(&r));
    EXPECT(ev_is(&r, 2, ZOO_DELETED_EVENT, P("/wc/gone")), "child watcher events: %s", ev_desc(&r));
    EXPECT(evrec_wait(&rd, 1, EVENT_TIMEOUT_MS) >= 1, "data watcher: no event on node delete");
    EXPECT(ev_is(&rd, 0, ZOO_DELETED_EVENT, P("/wc/gone")), "data watcher events: %s", ev_desc(&rd));
    /* get_children on a missing node leaves no watch. */
    EXPECT_RC(zoo_wget_children(zh, P("/wc/gone"), rec_watcher, &r, &v), ZNONODE,
              "wget_children missing");
    EXPECT_OK(mk(oth, P("/wc/gone"), NULL), "re-create");
    EXPECT_OK(mk(oth, P("/wc/gone/kid"), NULL), "child of re-created");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&r) == 3, "getChildren on missing node left a watch: %s", ev_desc(&r));
out:
    evrec_destroy(&r);
    evrec_destroy(&rd);
}

static void t_watch_multi(void)
{
    zhandle_t *zh = g_main->zh, *oth = g_other->zh;
    struct evrec rd, rch, re;
    evrec_init(&rd);
    evrec_init(&rch);
    evrec_init(&re);
    struct String_vector v = {0, NULL};
    struct Stat st;
    char buf[8];
    int blen = sizeof buf;
    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    EXPECT_OK(mk(zh, P("/wm"), NULL), "create parent");
    EXPECT_OK(mk(zh, P("/wm/d"), NULL), "create d");
    EXPECT_OK(zoo_wget(zh, P("/wm/d"), rec_watcher, &rd, buf, &blen, &st), "data watch");
    EXPECT_OK(zoo_wget_children(zh, P("/wm"), rec_watcher, &rch, &v), "child watch");
    deallocate_String_vector(&v);
    EXPECT_RC(zoo_wexists(zh, P("/wm/new"), rec_watcher, &re, &st), ZNONODE, "exists watch");
    zoo_set_op_init(&ops[0], P("/wm/d"), "1", 1, -1, NULL);
    zoo_create_op_init(&ops[1], P("/wm/new"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                       0);
    zoo_set_op_init(&ops[2], P("/wm/d"), "2", 1, -1, NULL);
    EXPECT_OK(zoo_multi(oth, 3, ops, res), "multi");
    EXPECT(evrec_wait(&rd, 1, EVENT_TIMEOUT_MS) >= 1, "data watch did not fire");
    EXPECT(evrec_wait(&rch, 1, EVENT_TIMEOUT_MS) >= 1, "child watch did not fire");
    EXPECT(evrec_wait(&re, 1, EVENT_TIMEOUT_MS) >= 1, "exists watch did not fire");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&rd) == 1 && ev_is(&rd, 0, ZOO_CHANGED_EVENT, P("/wm/d")), "data: %s",
           ev_desc(&rd));
    EXPECT(evrec_count(&rch) == 1 && ev_is(&rch, 0, ZOO_CHILD_EVENT, P("/wm")), "child: %s",
           ev_desc(&rch));
    EXPECT(evrec_count(&re) == 1 && ev_is(&re, 0, ZOO_CREATED_EVENT, P("/wm/new")), "exists: %s",
           ev_desc(&re));
    /* A failed multi fires nothing. */
    blen = sizeof buf;
    EXPECT_OK(zoo_wget(zh, P("/wm/d"), rec_watcher, &rd, buf, &blen, &st), "data watch again");
    zoo_set_op_init(&ops[0], P("/wm/d"), "3", 1, -1, NULL);
    zoo_check_op_init(&ops[1], P("/wm/d"), 99);
    EXPECT_RC(zoo_multi(oth, 2, ops, res), ZBADVERSION, "failing multi");
    EXPECT_OK(barrier(zh), "barrier");
    EXPECT(evrec_count(&rd) == 1, "failed multi fired a watch: %s", ev_desc(&rd));
out:
    evrec_destroy(&rd);
    evrec_destroy(&rch);
    evrec_destroy(&re);
}

static void t_legacy_watch_flag(void)
{
    /* watch=1 on the non-"w" calls reports to the handle's global watcher; here we only check
     * that such a watch fires once (the global watcher of g_main ignores non-session events,
     * so a separate handle with a recorder as its global watcher is used). */
    struct evrec r;
    evrec_init(&r);
    zhandle_t *h = NULL;
    struct Stat st;
    char buf[8];
    int blen = sizeof buf;
    EXPECT_OK(mk(g_main->zh, P("/lw"), "x"), "create");
    h = zookeeper_init(g_hostport, rec_watcher, SESSION_TIMEOUT_MS, NULL, &r, 0);
    EXPECT(h, "zookeeper_init failed");
    pthread_mutex_lock(&r.m);
    int64_t deadline = now_ms() + CONNECT_TIMEOUT_MS;
    while (r.session_events == 0)
        if (!cond_wait_until(&r.c, &r.m, deadline))
            break;
    pthread_mutex_unlock(&r.m);
    EXPECT(zoo_state(h) == ZOO_CONNECTED_STATE, "not connected (state %d)", zoo_state(h));
    EXPECT_OK(zoo_get(h, P("/lw"), 1, buf, &blen, &st), "zoo_get watch=1");
    EXPECT_OK(zoo_exists(h, P("/lw"), 1, &st), "zoo_exists watch=1 (same path)");
    EXPECT_OK(zoo_set(g_other->zh, P("/lw"), "y", 1, -1), "set");
    EXPECT(evrec_wait(&r, 1, EVENT_TIMEOUT_MS) >= 1, "no event");
    EXPECT_OK(barrier(h), "barrier");
    /* data + exist watch of one connection on one path: one event from the server, and the
     * C client calls the (single) global watcher once. */
    EXPECT(evrec_count(&r) == 1 && ev_is(&r, 0, ZOO_CHANGED_EVENT, P("/lw")), "events: %s",
           ev_desc(&r));
out:
    if (h)
        zookeeper_close(h);
    evrec_destroy(&r);
}

static void t_container_ttl(void)
{
    zhandle_t *zh = g_main->zh;
    char pbuf[256];
    struct Stat st, st2;
    EXPECT_OK(mk(zh, P("/ct"), NULL), "create parent");
    /* Reaping of containers and TTL nodes is checked by the Java program. Not here either:
     * containers/TTL inside zoo_multi - the 3.8 C client parses a createContainer sub-result
     * as a plain CreateResponse (path only) although servers answer with Create2Response
     * (path + Stat), and it has no TTL sub-op at all. */
    /* ZOO_CONTAINER: the C client sends createContainer (19). */
    int rc = zoo_create2(zh, P("/ct/container"), "c", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, pbuf,
                         sizeof pbuf, &st);
    EXPECT_OK(rc, "create2 container");
    EXPECT(strcmp(pbuf, P("/ct/container")) == 0, "path %s", pbuf);
    EXPECT(st.ephemeralOwner == 0, "container ephemeralOwner %#" PRIx64, (uint64_t)st.ephemeralOwner);
    EXPECT_OK(zoo_exists(zh, P("/ct/container"), 0, &st2), "exists container");
    EXPECT(stat_eq(&st, &st2), "create2 stat differs from exists stat");
    EXPECT_OK(mk(zh, P("/ct/container/child"), NULL), "child in container");
    rc = zoo_create(zh, P("/ct/container2"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, pbuf,
                    sizeof pbuf);
    EXPECT_OK(rc, "create (no stat) container");
    /* TTL nodes (createTTL, 21); the server runs with extendedTypesEnabled=true. */
    rc = zoo_create2_ttl(zh, P("/ct/ttl"), "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL,
                         3600000, pbuf, sizeof pbuf, &st);
    EXPECT_OK(rc, "create2_ttl");
    EXPECT(st.ephemeralOwner == 0 && st.dataLength == 1 && st.version == 0,
           "ttl stat owner %#" PRIx64 " dataLength %d", (uint64_t)st.ephemeralOwner, st.dataLength);
    EXPECT_OK(zoo_exists(zh, P("/ct/ttl"), 0, &st2), "exists ttl");
    EXPECT(stat_eq(&st, &st2), "create2_ttl stat differs from exists stat");
    rc = zoo_create_ttl(zh, P("/ct/sttl-"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL, 3600000, pbuf, sizeof pbuf);
    EXPECT_OK(rc, "create_ttl sequential");
    EXPECT(strcmp(pbuf, P("/ct/sttl-0000000003")) == 0, "sequential ttl path %s", pbuf);
    rc = zoo_create2_ttl(zh, P("/ct/ttl"), "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL,
                         1000, pbuf, sizeof pbuf, &st);
    EXPECT_RC(rc, ZNODEEXISTS, "create2_ttl existing");
    rc = zoo_create2_ttl(zh, P("/ct/nope/ttl"), "t", 1, &ZOO_OPEN_ACL_UNSAFE,
                         ZOO_PERSISTENT_WITH_TTL, 1000, pbuf, sizeof pbuf, &st);
    EXPECT_RC(rc, ZNONODE, "create2_ttl missing parent");
out:;
}

static void t_sync(void)
{
    struct waiter w;
    waiter_init(&w);
    EXPECT_OK(mk(g_main->zh, P("/sync"), NULL), "create");
    EXPECT_OK(zoo_async(g_main->zh, P("/sync"), string_done, &w), "zoo_async");
    EXPECT(waiter_wait(&w, EVENT_TIMEOUT_MS), "no sync completion");
    EXPECT_OK(w.rc, "sync result");
    EXPECT(strcmp(w.value, P("/sync")) == 0, "sync echoed path %s", w.value);
out:
    waiter_destroy(&w);
}

static void t_remove_watches(void)
{
    struct proxy *px = proxy_start(g_hostport);
    struct zconn *w = NULL;
    struct evrec r, r2;
    evrec_init(&r);
    evrec_init(&r2);
    struct Stat st;
    struct String_vector v = {0, NULL};
    char buf[8];
    int blen = sizeof buf;
    EXPECT(px, "proxy_start failed");
    w = zc_open(proxy_hostport(px), NULL);
    if (!w)
        goto out;
    EXPECT_OK(mk(g_main->zh, P("/rw"), NULL), "create");
    EXPECT_OK(mk(g_main->zh, P("/rw2"), NULL), "create 2");
    /* Data watch, removed on the server (local=0: sends checkWatches, opcode 17, for a given
     * watcher; zoo_remove_all_watches sends removeWatches, 18). */
    EXPECT_OK(zoo_wget(w->zh, P("/rw"), rec_watcher, &r, buf, &blen, &st), "wget");
    EXPECT_OK(zoo_wget_children(w->zh, P("/rw"), rec_watcher, &r, &v), "wget_children");
    deallocate_String_vector(&v);
    EXPECT_OK(zoo_remove_all_watches(w->zh, P("/rw"), ZWATCHTYPE_DATA, 0),
              "remove_all_watches DATA");
    int mark = proxy_nrec(px);
    EXPECT_OK(zoo_set(g_other->zh, P("/rw"), "x", 1, -1), "set");
    EXPECT_OK(barrier(w->zh), "barrier");
    EXPECT(proxy_count_notifications(px, mark, P("/rw")) == 0,
           "server still sent a notification for a removed data watch");
    /* The child watch is still there. */
    EXPECT_OK(mk(g_other->zh, P("/rw/kid"), NULL), "create child");
    EXPECT(evrec_wait(&r, 1, EVENT_TIMEOUT_MS) >= 1, "child watch gone after removing DATA");
    EXPECT_OK(barrier(w->zh), "barrier");
    int n = evrec_count(&r);
    int child_ev = 0;
    pthread_mutex_lock(&r.m);
    for (int i = 0; i < r.n; i++)
        if (r.ev[i].type == ZOO_CHILD_EVENT)
            child_ev++;
    pthread_mutex_unlock(&r.m);
    EXPECT(child_ev == 1 && n >= 1, "events: %s", ev_desc(&r));
    /* Nothing left: ZNOWATCHER (the C client answers this one itself, from its own table). */
    EXPECT_RC(zoo_remove_all_watches(w->zh, P("/rw"), ZWATCHTYPE_ANY, 0), ZNOWATCHER,
              "remove_all_watches with no watches");
    /* zoo_remove_watches for one watcher object (opcode 17 on the wire). */
    blen = sizeof buf;
    EXPECT_OK(zoo_wget(w->zh, P("/rw2"), rec_watcher, &r2, buf, &blen, &st), "wget rw2");
    EXPECT_OK(zoo_remove_watches(w->zh, P("/rw2"), ZWATCHTYPE_DATA, rec_watcher, &r2, 0),
              "remove_watches");
    EXPECT_OK(zoo_set(g_other->zh, P("/rw2"), "x", 1, -1), "set rw2");
    EXPECT_OK(barrier(w->zh), "barrier");
    pthread_mutex_lock(&r2.m);
    int changed = 0;
    for (int i = 0; i < r2.n; i++)
        if (r2.ev[i].type == ZOO_CHANGED_EVENT)
            changed++;
    pthread_mutex_unlock(&r2.m);
    EXPECT(changed == 0, "removed watcher was called: %s", ev_desc(&r2));
    /* Which opcodes went out: 18 for remove_all, 17 for remove_watches, both answered 0. */
    static struct pxrec recs[PX_MAX_REC];
    int nr = proxy_records(px, recs, PX_MAX_REC);
    int saw17 = 0, saw18 = 0;
    for (int i = 0; i < nr; i++) {
        if (recs[i].c2s && recs[i].op_or_err == 17)
            saw17 = 1;
        if (recs[i].c2s && recs[i].op_or_err == 18)
            saw18 = 1;
    }
    EXPECT(saw17 && saw18, "opcodes seen on the wire: checkWatches %d removeWatches %d", saw17,
           saw18);
out:
    zc_close(w);
    proxy_stop(px);
    evrec_destroy(&r);
    evrec_destroy(&r2);
}

static void t_session_resume(void)
{
    struct proxy *px = proxy_start(g_hostport);
    struct zconn *a = NULL, *b = NULL, *bad = NULL;
    struct Stat st;
    EXPECT(px, "proxy_start failed");
    EXPECT_OK(mk(g_main->zh, P("/sr"), NULL), "create parent");
    a = zc_open(proxy_hostport(px), NULL);
    if (!a)
        goto out;
    EXPECT_OK(zoo_create(a->zh, P("/sr/eph"), "e", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
              "create ephemeral");
    clientid_t cid = *zoo_client_id(a->zh);
    /* Cut a off (it keeps trying through the blocked proxy) and resume its session with a
     * second handle connected directly to the server. */
    proxy_block(px);
    EXPECT(zc_wait_connecting(a, 1, EVENT_TIMEOUT_MS), "first handle did not notice the cut");
    b = zc_open(g_hostport, &cid);
    if (!b)
        goto out;
    EXPECT(zoo_client_id(b->zh)->client_id == cid.client_id,
           "resumed session id %#" PRIx64 ", expected %#" PRIx64,
           (uint64_t)zoo_client_id(b->zh)->client_id, (uint64_t)cid.client_id);
    EXPECT(memcmp(zoo_client_id(b->zh)->passwd, cid.passwd, sizeof cid.passwd) == 0,
           "resumed session has a different password");
    EXPECT_OK(zoo_exists(b->zh, P("/sr/eph"), 0, &st), "ephemeral survives the reconnect");
    EXPECT(st.ephemeralOwner == cid.client_id, "owner %#" PRIx64, (uint64_t)st.ephemeralOwner);
    /* The resumed session owns it: it may create more, and its ephemerals list is shared. */
    EXPECT_OK(zoo_create(b->zh, P("/sr/eph2"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL,
                         0),
              "create ephemeral on the resumed session");
    /* A wrong password for a live session: the server answers "expired". */
    clientid_t badcid = cid;
    badcid.passwd[0] ^= 0x5a;
    bad = zc_start(g_hostport, &badcid);
    EXPECT(bad, "zookeeper_init failed");
    EXPECT(zc_wait_expired(bad, CONNECT_TIMEOUT_MS), "wrong password did not give an expired session "
                                                     "(state %d)",
           zoo_state(bad->zh));
    zc_close(bad);
    bad = NULL;
    /* The real session is unaffected. (ZooKeeper closes the session's current connection
     * before it checks the password, so b may have to reconnect: retry on connection loss.) */
    int64_t deadline = now_ms() + CONNECT_TIMEOUT_MS;
    int rc;
    while ((rc = zoo_exists(b->zh, P("/sr/eph"), 0, &st)) == ZCONNECTIONLOSS && now_ms() < deadline)
        sleep_ms(50);
    EXPECT_OK(rc, "session still usable after a wrong-password attempt");
    EXPECT(st.ephemeralOwner == cid.client_id, "owner %#" PRIx64, (uint64_t)st.ephemeralOwner);
    /* Drop the first (disconnected) handle: no close request can reach the server. */
    zc_close(a);
    a = NULL;
    EXPECT_OK(zoo_exists(g_main->zh, P("/sr/eph"), 0, &st), "ephemeral after closing stale handle");
    /* Closing the resumed handle ends the session: both ephemerals go. */
    zc_close(b);
    b = NULL;
    EXPECT_RC(zoo_exists(g_main->zh, P("/sr/eph"), 0, &st), ZNONODE, "ephemeral after close");
    EXPECT_RC(zoo_exists(g_main->zh, P("/sr/eph2"), 0, &st), ZNONODE, "ephemeral 2 after close");
    /* Resuming a closed session: expired. */
    bad = zc_start(g_hostport, &cid);
    EXPECT(bad, "zookeeper_init failed");
    EXPECT(zc_wait_expired(bad, CONNECT_TIMEOUT_MS), "resuming a closed session: state %d",
           zoo_state(bad->zh));
out:
    zc_close(bad);
    zc_close(b);
    zc_close(a);
    proxy_stop(px);
}

static void t_setwatches_reconnect(void)
{
    struct proxy *px = proxy_start(g_hostport);
    struct zconn *w = NULL;
    struct evrec rd, re, rch, rq, rg;
    evrec_init(&rd);
    evrec_init(&re);
    evrec_init(&rch);
    evrec_init(&rq);
    evrec_init(&rg);
    struct Stat st;
    struct String_vector v = {0, NULL};
    char buf[8];
    int blen;
    zhandle_t *m = g_main->zh;
    static struct pxrec recs[PX_MAX_REC];
    EXPECT(px, "proxy_start failed");
    EXPECT_OK(mk(m, P("/sw"), NULL), "create parent");
    EXPECT_OK(mk(m, P("/sw/data"), "0"), "create data");
    EXPECT_OK(mk(m, P("/sw/kids"), NULL), "create kids");
    EXPECT_OK(mk(m, P("/sw/quiet"), "0"), "create quiet");
    EXPECT_OK(mk(m, P("/sw/gone"), "0"), "create gone");
    w = zc_open(proxy_hostport(px), NULL);
    if (!w)
        goto out;
    int64_t sid = zoo_client_id(w->zh)->client_id;
    EXPECT_OK(zoo_create(w->zh, P("/sw/eph"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
              "ephemeral");
    blen = sizeof buf;
    EXPECT_OK(zoo_wget(w->zh, P("/sw/data"), rec_watcher, &rd, buf, &blen, &st), "data watch");
    EXPECT_RC(zoo_wexists(w->zh, P("/sw/missing"), rec_watcher, &re, &st), ZNONODE, "exist watch");
    EXPECT_OK(zoo_wget_children(w->zh, P("/sw/kids"), rec_watcher, &rch, &v), "child watch");
    deallocate_String_vector(&v);
    blen = sizeof buf;
    EXPECT_OK(zoo_wget(w->zh, P("/sw/quiet"), rec_watcher, &rq, buf, &blen, &st), "quiet watch");
    blen = sizeof buf;
    EXPECT_OK(zoo_wget(w->zh, P("/sw/gone"), rec_watcher, &rg, buf, &blen, &st), "gone watch");

    int connected_before = w->connected_events;
    proxy_block(px);
    EXPECT(zc_wait_connecting(w, 1, EVENT_TIMEOUT_MS), "handle did not notice the cut");
    int mark = proxy_nrec(px);
    /* Changes while the watcher is away. */
    EXPECT_OK(zoo_set(m, P("/sw/data"), "1", 1, -1), "set data while away");
    EXPECT_OK(mk(m, P("/sw/missing"), NULL), "create missing while away");
    EXPECT_OK(mk(m, P("/sw/kids/k"), NULL), "create child while away");
    EXPECT_OK(zoo_delete(m, P("/sw/gone"), -1), "delete gone while away");
    proxy_unblock(px);
    EXPECT(zc_wait_connected(w, connected_before + 1, CONNECT_TIMEOUT_MS), "no reconnect");
    EXPECT(zoo_client_id(w->zh)->client_id == sid, "session changed over the reconnect");
    /* Catch-up events from setWatches. */
    EXPECT(evrec_wait(&rd, 1, EVENT_TIMEOUT_MS) >= 1, "data watch: no catch-up event");
    EXPECT(ev_is(&rd, 0, ZOO_CHANGED_EVENT, P("/sw/data")), "data: %s", ev_desc(&rd));
    EXPECT(evrec_wait(&re, 1, EVENT_TIMEOUT_MS) >= 1, "exist watch: no catch-up event");
    EXPECT(ev_is(&re, 0, ZOO_CREATED_EVENT, P("/sw/missing")), "exist: %s", ev_desc(&re));
    EXPECT(evrec_wait(&rch, 1, EVENT_TIMEOUT_MS) >= 1, "child watch: no catch-up event");
    EXPECT(ev_is(&rch, 0, ZOO_CHILD_EVENT, P("/sw/kids")), "child: %s", ev_desc(&rch));
    EXPECT(evrec_wait(&rg, 1, EVENT_TIMEOUT_MS) >= 1, "deleted node watch: no catch-up event");
    EXPECT(ev_is(&rg, 0, ZOO_DELETED_EVENT, P("/sw/gone")), "gone: %s", ev_desc(&rg));
    EXPECT_OK(barrier(w->zh), "barrier");
    EXPECT(evrec_count(&rq) == 0, "unchanged node's watch fired on reconnect: %s", ev_desc(&rq));
    /* The unchanged watch was re-armed on the server. */
    EXPECT_OK(zoo_set(m, P("/sw/quiet"), "1", 1, -1), "set quiet");
    EXPECT(evrec_wait(&rq, 1, EVENT_TIMEOUT_MS) >= 1, "re-armed watch did not fire");
    EXPECT(ev_is(&rq, 0, ZOO_CHANGED_EVENT, P("/sw/quiet")), "quiet: %s", ev_desc(&rq));
    EXPECT_OK(zoo_exists(m, P("/sw/eph"), 0, &st), "ephemeral survives the reconnect");
    /* On the wire: setWatches (101) with xid -8, answered with xid -8 err 0, the catch-up
     * notifications before that reply. */
    int nr = proxy_records(px, recs, PX_MAX_REC);
    int sw_req = 0, sw_reply = -1, notif_before = 0, notif_after = 0, sw_err = 0;
    for (int i = mark; i < nr; i++) {
        if (recs[i].c2s && recs[i].xid == -8 && recs[i].op_or_err == 101)
            sw_req++;
        if (!recs[i].c2s && recs[i].xid == -8 && sw_reply < 0) {
            sw_reply = i;
            sw_err = recs[i].op_or_err;
        }
        if (!recs[i].c2s && recs[i].xid == -1 && strncmp(recs[i].path, P("/sw/"), strlen(P("/sw/"))) == 0 &&
            strcmp(recs[i].path, P("/sw/quiet")) != 0) {
            if (sw_reply < 0)
                notif_before++;
            else
                notif_after++;
        }
    }
    EXPECT(sw_req == 1, "setWatches requests with xid -8 after reconnect: %d", sw_req);
    EXPECT(sw_reply >= 0 && sw_err == 0, "setWatches reply: %s (err %d)",
           sw_reply >= 0 ? "present" : "missing", sw_err);
    EXPECT(notif_before == 4 && notif_after == 0,
           "catch-up notifications before/after the setWatches reply: %d/%d (expected 4/0)",
           notif_before, notif_after);
out:
    zc_close(w);
    proxy_stop(px);
    evrec_destroy(&rd);
    evrec_destroy(&re);
    evrec_destroy(&rch);
    evrec_destroy(&rq);
    evrec_destroy(&rg);
}

static void t_wire_order(void)
{
    /* On the wire (seen through the proxy): a watch event triggered by the watching session's
     * own write arrives before that write's reply; the reply header of a write carries a zxid
     * at least as high as the write's own; request xids are echoed. */
    struct proxy *px = proxy_start(g_hostport);
    struct zconn *w = NULL;
    struct evrec r;
    evrec_init(&r);
    static struct pxrec recs[PX_MAX_REC];
    char buf[8];
    int blen = sizeof buf;
    struct Stat st, st2;
    EXPECT(px, "proxy_start failed");
    w = zc_open(proxy_hostport(px), NULL);
    if (!w)
        goto out;
    EXPECT_OK(mk(g_main->zh, P("/wo"), "0"), "create");
    EXPECT_OK(zoo_wget(w->zh, P("/wo"), rec_watcher, &r, buf, &blen, &st), "wget");
    int mark = proxy_nrec(px);
    EXPECT_OK(zoo_set2(w->zh, P("/wo"), "1", 1, -1, &st2), "own set");
    EXPECT(evrec_wait(&r, 1, EVENT_TIMEOUT_MS) >= 1, "no event for own write");
    int nr = proxy_records(px, recs, PX_MAX_REC);
    int set_xid = 0, have_set = 0, notif_at = -1, reply_at = -1;
    int64_t reply_zxid = 0;
    for (int i = mark; i < nr; i++) {
        if (recs[i].c2s && recs[i].op_or_err == 5 && !have_set) {
            set_xid = recs[i].xid;
            have_set = 1;
        }
        if (!recs[i].c2s && recs[i].xid == -1 && strcmp(recs[i].path, P("/wo")) == 0 && notif_at < 0)
            notif_at = i;
        if (have_set && !recs[i].c2s && recs[i].xid == set_xid && reply_at < 0) {
            reply_at = i;
            reply_zxid = recs[i].zxid;
        }
    }
    EXPECT(have_set, "setData request not seen on the wire");
    EXPECT(reply_at >= 0, "no reply with the setData xid %d", set_xid);
    EXPECT(notif_at >= 0 && notif_at < reply_at,
           "notification (record %d) does not precede the setData reply (record %d)", notif_at,
           reply_at);
    EXPECT(reply_zxid >= st2.mzxid, "setData reply zxid %" PRId64 " < mzxid %" PRId64, reply_zxid,
           st2.mzxid);
out:
    zc_close(w);
    proxy_stop(px);
    evrec_destroy(&r);
}

static void t_ping_and_expiry(void)
{
    /* Short session (4000 ms = 2 x tickTime, the minimum) through the proxy: pings keep it
     * alive while idle; once the client is cut off the server expires it (ephemeral deleted,
     * watchers told), and the client's later reconnect is answered "expired". */
    struct proxy *px = proxy_start(g_hostport);
    struct zconn *a = NULL;
    struct evrec r;
    evrec_init(&r);
    struct Stat st;
    static struct pxrec recs[PX_MAX_REC];
    EXPECT(px, "proxy_start failed");
    EXPECT_OK(mk(g_main->zh, P("/px"), NULL), "create parent");
    a = zc_open_t(proxy_hostport(px), NULL, 4000);
    if (!a)
        goto out;
    EXPECT(zoo_recv_timeout(a->zh) == 4000, "negotiated timeout %d, requested 4000",
           zoo_recv_timeout(a->zh));
    int64_t sid = zoo_client_id(a->zh)->client_id;
    EXPECT_OK(zoo_create(a->zh, P("/px/eph"), NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
              "create ephemeral");
    sleep_ms(5000); /* idle longer than the session timeout */
    EXPECT(zoo_state(a->zh) == ZOO_CONNECTED_STATE && a->connected_events == 1,
           "idle session lost its connection (state %d, connects %d)", zoo_state(a->zh),
           a->connected_events);
    EXPECT_OK(zoo_exists(a->zh, P("/px/eph"), 0, &st), "ephemeral after idling");
    EXPECT(st.ephemeralOwner == sid, "owner changed");
    int nr = proxy_records(px, recs, PX_MAX_REC);
    int pings = 0, pongs = 0;
    for (int i = 0; i < nr; i++) {
        if (recs[i].c2s && recs[i].xid == -2 && recs[i].op_or_err == 11)
            pings++;
        if (!recs[i].c2s && recs[i].xid == -2 && recs[i].op_or_err == 0)
            pongs++;
    }
    EXPECT(pings >= 2 && pongs >= 2 && pongs <= pings, "pings %d, replies %d", pings, pongs);
    /* Cut it off; the session must expire on the server. */
    EXPECT_RC(zoo_wexists(g_main->zh, P("/px/eph"), rec_watcher, &r, &st), ZOK, "watch ephemeral");
    int64_t t0 = now_ms();
    proxy_block(px);
    EXPECT(evrec_wait(&r, 1, 20000) >= 1, "ephemeral of a cut-off 4 s session not deleted in 20 s");
    int64_t took = now_ms() - t0;
    EXPECT(ev_is(&r, 0, ZOO_DELETED_EVENT, P("/px/eph")), "events: %s", ev_desc(&r));
    EXPECT(took >= 2000, "session expired after only %" PRId64 " ms (timeout 4000)", took);
    EXPECT_RC(zoo_exists(g_main->zh, P("/px/eph"), 0, &st), ZNONODE, "ephemeral after expiry");
    proxy_unblock(px);
    EXPECT(zc_wait_expired(a, 15000), "client not told its session expired (state %d)",
           zoo_state(a->zh));
out:
    zc_close(a);
    proxy_stop(px);
    evrec_destroy(&r);
}

static void t_pipelined_async(void)
{
    /* Many async writes in flight: completions come back in request order, and a read issued
     * after them sees all of them. */
    enum { N = 200 };
    static struct waiter ws[N];
    zhandle_t *zh = g_main->zh;
    struct Stat st;
    EXPECT_OK(mk(zh, P("/pipe"), NULL), "create");
    for (int i = 0; i < N; i++)
        waiter_init(&ws[i]);
    for (int i = 0; i < N; i++) {
        int rc = zoo_aset(zh, P("/pipe"), "v", 1, i, stat_done, &ws[i]);
        EXPECT_OK(rc, "zoo_aset queue");
    }
    for (int i = 0; i < N; i++) {
        EXPECT(waiter_wait(&ws[i], EVENT_TIMEOUT_MS), "completion %d missing", i);
        EXPECT_OK(ws[i].rc, "pipelined set with exact version");
    }
    EXPECT_OK(zoo_exists(zh, P("/pipe"), 0, &st), "exists");
    EXPECT(st.version == N, "version %d after %d pipelined sets", st.version, N);
out:
    for (int i = 0; i < N; i++)
        waiter_destroy(&ws[i]);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s HOST:PORT [--target=zkd|zookeeper]\n", argv[0]);
        return 2;
    }
    g_hostport = argv[1];
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], "--target=", 9) == 0)
            g_is_zkd = strcmp(argv[i] + 9, "zkd") == 0;
    zoo_set_debug_level(getenv("CCLIENT_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : ZOO_LOG_LEVEL_ERROR);
    zoo_deterministic_conn_order(1);
    snprintf(g_root, sizeof g_root, "/cclient-%ld", (long)getpid());

    g_cur = "connect";
    g_cur_failed = 0;
    g_main = zc_open(g_hostport, NULL);
    g_other = g_main ? zc_open(g_hostport, NULL) : NULL;
    if (!g_main || !g_other) {
        printf("FAIL connect: cannot open sessions to %s, no further checks run\n", g_hostport);
        return 1;
    }
    int rc = zoo_create(g_main->zh, g_root, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    if (rc != ZOK) {
        printf("FAIL connect: create %s: %s\n", g_root, zerror(rc));
        return 1;
    }
    printf("ok connect\n");

    run_check("session", t_session);
    run_check("create_persistent", t_create_persistent);
    run_check("null_and_empty_data", t_null_and_empty_data);
    run_check("create2_stat", t_create2_stat);
    run_check("ephemeral", t_ephemeral);
    run_check("sequential", t_sequential);
    run_check("set_versions", t_set_versions);
    run_check("delete", t_delete);
    run_check("children", t_children);
    run_check("acl_digest", t_acl_digest);
    run_check("acl_explicit", t_acl_explicit);
    run_check("get_set_acl", t_get_set_acl);
    run_check("auth_failed", t_auth_failed);
    run_check("multi_ok", t_multi_ok);
    run_check("multi_fail", t_multi_fail);
    run_check("watch_data", t_watch_data);
    run_check("watch_exists", t_watch_exists);
    run_check("watch_children", t_watch_children);
    run_check("watch_multi", t_watch_multi);
    run_check("legacy_watch_flag", t_legacy_watch_flag);
    run_check("container_ttl", t_container_ttl);
    run_check("sync", t_sync);
    run_check("remove_watches", t_remove_watches);
    run_check("session_resume", t_session_resume);
    run_check("setwatches_reconnect", t_setwatches_reconnect);
    run_check("pipelined_async", t_pipelined_async);
    run_check("wire_order", t_wire_order);
    run_check("ping_and_expiry", t_ping_and_expiry);

    zc_close(g_other);
    zc_close(g_main);
    printf("%d checks, %d failed\n", g_checks + 1, g_failures);
    return g_failures ? 1 : 0;
}
