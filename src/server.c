#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "base.h"
#include "err.h"
#include "limits.h"
#include "mem.h"
#include "read.h"
#include "server_int.h"

enum {
    OP_PING = 11,
    OP_CHECK = 13,
    OP_DELETE_CONTAINER = 20,
    OP_AUTH = 100,
    OP_SASL = 102,
};

#define XID_NOTIFICATION (-1)
#define KEEPER_STATE_SYNC_CONNECTED 3

struct conn_ip {
    struct map_entry link;
    char ip[64];
    uint32_t count;
};

static void conn_close(struct conn *c, const char *why);
static void conn_process(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_update_interest(struct conn *c);

int64_t server_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t server_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void latency_add(struct latency *l, int64_t ms) {
    if (l->count == 0 || ms < l->min_ms)
        l->min_ms = ms;
    if (ms > l->max_ms)
        l->max_ms = ms;
    l->sum_ms += ms;
    l->count++;
}

/* ---- output ---- */

static void conn_touch(struct conn *c) {
    if (!c->dirty) {
        c->dirty = true;
        queue_insert_tail(&c->srv->dirty, &c->dirty_link);
    }
}

static void conn_begin_frame(struct conn *c, uint32_t *len_at) {
    conn_touch(c);
    *len_at = c->out.len;
    jute_write_i32(&c->out, 0);
}

static void conn_end_frame(struct conn *c, uint32_t len_at) {
    jute_patch_i32(&c->out, len_at, (int32_t)(c->out.len - len_at - 4));
    c->packets_sent++;
    c->srv->packets_sent++;
    /* Closing here could free watch registrations mid-trigger; the loop closes
     * overflowing connections after this iteration's work (server_flush_all). */
    if (c->out.len - c->out_off > ZK_LIMIT_CONN_OUTBOX_HARD_BYTES)
        c->overflow = true;
}

static void conn_write_header(struct conn *c, int32_t xid, int64_t zxid, int32_t err) {
    jute_write_i32(&c->out, xid);
    jute_write_i64(&c->out, zxid);
    jute_write_i32(&c->out, err);
}

static void conn_send_event(struct conn *c, int32_t event, const char *path, uint32_t len,
                            int64_t zxid) {
    if (c->dead)
        return;
    uint32_t at;
    conn_begin_frame(c, &at);
    conn_write_header(c, XID_NOTIFICATION, zxid, 0);
    jute_write_i32(&c->out, event);
    jute_write_i32(&c->out, KEEPER_STATE_SYNC_CONNECTED);
    jute_write_bytes(&c->out, path, (int32_t)len);
    conn_end_frame(c, at);
}

/* ---- requests ---- */

static void req_free(struct req *r) {
    jute_buf_deinit(&r->reply);
    zk_free(r->body);
    zk_free(r);
}

static void conn_remove_req(struct conn *c, struct req *r) {
    queue_remove(&r->link);
    ZK_ASSERT(c->req_count > 0 && c->srv->outstanding > 0);
    c->req_count--;
    if (c->srv->outstanding-- == (uint32_t)c->srv->cfg.global_outstanding)
        c->srv->recheck_all = true; /* connections held back by the limit may read again */
    req_free(r);
}

static void conn_send_connect_response(struct conn *c, struct req *r) {
    uint32_t at;
    conn_begin_frame(c, &at);
    jute_write_i32(&c->out, 0);
    if (r->err != 0) {
        jute_write_i32(&c->out, 0);
        jute_write_i64(&c->out, 0);
        uint8_t zero[SESSION_PASSWD_LEN] = {0};
        jute_write_bytes(&c->out, zero, SESSION_PASSWD_LEN);
    } else {
        uint8_t pw[SESSION_PASSWD_LEN];
        session_password(r->session_id, pw);
        jute_write_i32(&c->out, r->timeout_ms);
        jute_write_i64(&c->out, r->session_id);
        jute_write_bytes(&c->out, pw, SESSION_PASSWD_LEN);
    }
    if (r->has_readonly)
        jute_write_bool(&c->out, false);
    conn_end_frame(c, at);
}

/* Moves finished replies at the head of the queue into the output buffer. */
static void conn_drain_replies(struct conn *c) {
    while (!c->dead && !queue_empty(&c->reqs)) {
        struct req *r = QUEUE_DATA(queue_head(&c->reqs), struct req, link);
        if (!r->done)
            break;
        if (r->opcode == TXN_CREATE_SESSION) {
            conn_send_connect_response(c, r);
        } else {
            uint32_t at;
            conn_begin_frame(c, &at);
            conn_write_header(c, r->xid, r->zxid, r->err);
            if (r->err == 0 && r->reply.len > 0)
                jute_write_raw(&c->out, r->reply.p, r->reply.len);
            conn_end_frame(c, at);
            int64_t lat = server_mono_ms() - r->start_ms;
            latency_add(&c->lat, lat);
            latency_add(&c->srv->lat, lat);
            c->last_resp_ms = server_wall_ms();
            c->last_zxid = r->zxid;
        }
        bool close_after = r->close_after;
        conn_remove_req(c, r);
        if (close_after) {
            c->close_after_flush = true;
            break;
        }
    }
}

/* ---- the commit path (order -> apply -> reply) ---- */

static struct pending *server_enqueue_txn(struct server *s, struct txn *t, struct req *r,
                                          struct conn *c) {
    struct pending *p = zk_xcalloc(1, sizeof(*p));
    p->txn = *t; /* takes ownership of the txn's contents */
    txn_init(t);
    p->req = r;
    p->conn = c;
    if (r != NULL)
        r->pending = p;
    queue_insert_tail(&s->commit, &p->link);
    s->commit_count++;
    store_append(s->store, &p->txn);
    return p;
}

static void server_on_event(void *ctx, struct watch_owner *owner, int32_t event,
                            const char *path, uint32_t len, const struct acl_list *acl,
                            int64_t zxid) {
    ZK_UNUSED(ctx);
    struct conn *c = zk_container_of(owner, struct conn, watches);
    /* CVE-2024-23944 fix: no event for a node the connection may not read. */
    if (!acl_check(acl, ACL_READ, &c->auth))
        return;
    conn_send_event(c, event, path, len, zxid);
}

static void server_on_session_closed(void *ctx, struct session *sess) {
    ZK_UNUSED(ctx);
    struct conn *c = sess->conn;
    if (c == NULL)
        return;
    sess->conn = NULL;
    c->session = NULL;
    /* The closing connection gets its closeSession reply first; any other
     * attached connection (expiry) is closed once its output is flushed. */
    c->close_after_flush = true;
}

static void server_encode_result(struct jute_buf *b, int32_t req_opcode,
                                 const struct apply_op_result *res) {
    switch (res->type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL:
        jute_write_bytes(b, res->path, (int32_t)res->path_len);
        if (req_opcode != TXN_CREATE)
            tree_stat_encode(b, &res->stat);
        break;
    case TXN_SET_DATA:
    case TXN_SET_ACL:
        tree_stat_encode(b, &res->stat);
        break;
    default:
        break;
    }
}

static void server_encode_multi(struct jute_buf *b, const struct txn *t,
                                const struct apply_result *res) {
    for (uint32_t i = 0; i < res->op_count; i++) {
        const struct apply_op_result *r = &res->ops[i];
        if (r->type == TXN_ERROR) {
            jute_write_i32(b, -1);
            jute_write_bool(b, false);
            jute_write_i32(b, r->err);
            jute_write_i32(b, r->err);
            continue;
        }
        int32_t type = r->type;
        if (type == TXN_CREATE_CONTAINER || type == TXN_CREATE_TTL)
            type = TXN_CREATE2;
        jute_write_i32(b, type);
        jute_write_bool(b, false);
        jute_write_i32(b, 0);
        server_encode_result(b, type, r);
    }
    ZK_ASSERT(res->op_count == t->op_count);
    jute_write_i32(b, -1);
    jute_write_bool(b, true);
    jute_write_i32(b, -1);
}

static void server_finish_handshake(struct server *s, struct conn *c, struct req *r) {
    struct session *sess = session_find(&s->sessions, r->session_id);
    ZK_ASSERT(sess != NULL);
    sess->conn = c;
    c->session = sess;
    c->session_id = sess->id;
    c->timeout_ms = r->timeout_ms;
    c->state = CONN_ACTIVE;
}

static void server_apply_one(struct server *s, struct pending *p) {
    struct apply_env env = {
        .tree = &s->tree,
        .sessions = &s->sessions,
        .watches = &s->watches,
        .on_event = server_on_event,
        .on_session_closed = server_on_session_closed,
        .ctx = s,
        .now_ms = server_mono_ms(),
    };
    struct apply_result res;
    apply_result_init(&res);
    ZK_ASSERT(p->txn.zxid == s->last_zxid + 1);
    apply_txn(&env, &p->txn, &res);
    s->last_zxid = p->txn.zxid;
    prep_applied(&s->prep, s->last_zxid);
    struct req *r = p->req;
    if (r != NULL) {
        struct conn *c = p->conn;
        r->pending = NULL;
        r->done = true;
        r->zxid = p->txn.zxid;
        ZK_ASSERT(c->pending_writes > 0);
        c->pending_writes--;
        if (r->opcode == TXN_CREATE_SESSION) {
            server_finish_handshake(s, c, r);
        } else if (p->txn.type == TXN_ERROR) {
            r->err = p->txn.op.err;
        } else if (p->txn.type == TXN_MULTI) {
            server_encode_multi(&r->reply, &p->txn, &res);
        } else {
            server_encode_result(&r->reply, r->opcode, &res.one);
        }
        conn_drain_replies(c);
    }
    apply_result_deinit(&res);
}

/* Applies the txns of the commit queue that the log made durable, in zxid
 * order, then resumes the connections involved. */
static void server_commit(struct server *s) {
    int64_t durable = s->store != NULL ? store_durable_zxid(s->store) : INT64_MAX;
    while (!queue_empty(&s->commit)) {
        struct pending *p = QUEUE_DATA(queue_head(&s->commit), struct pending, link);
        if (p->txn.zxid > durable)
            break;
        queue_remove(&p->link);
        s->commit_count--;
        server_apply_one(s, p);
        struct conn *c = p->req ? p->conn : NULL;
        txn_deinit(&p->txn);
        zk_free(p);
        if (c != NULL && !c->dead)
            conn_process(c);
    }
}

static int64_t server_next_zxid(struct server *s) { return ++s->next_zxid; }

/* Server-internal write (session expiry, container/TTL reaping). */
static void server_internal_write(struct server *s, int64_t session_id, int32_t opcode,
                                  const uint8_t *body, uint32_t len) {
    struct prep_input in = {
        .session_id = session_id,
        .opcode = opcode,
        .body = body,
        .body_len = len,
        .max_string = s->cfg.max_buffer,
        .auth = NULL,
        .zxid = server_next_zxid(s),
        .time_ms = server_wall_ms(),
    };
    struct txn t;
    txn_init(&t);
    prep_request(&s->prep, &in, &t);
    server_enqueue_txn(s, &t, NULL, NULL);
}

/* ---- request execution ---- */

static void server_emit_catchup(void *ctx, int32_t event, const char *path, uint32_t len) {
    conn_send_event(ctx, event, path, len, -1);
}

static bool server_auth(struct server *s, struct conn *c, struct req *r) {
    struct jute_reader rd;
    jute_reader_init(&rd, r->body, r->body_len);
    (void)jute_read_i32(&rd);
    struct jute_bytes scheme = jute_read_bytes(&rd, s->cfg.max_buffer);
    struct jute_bytes data = jute_read_bytes(&rd, s->cfg.max_buffer);
    if (!jute_reader_ok(&rd) || scheme.len <= 0 || data.len < 0)
        return false; /* ZooKeeper fails a null auth buffer with AUTHFAILED too */
    if ((size_t)scheme.len == 6 && memcmp(scheme.p, "digest", 6) == 0) {
        /* "user:base64(sha1)" is at most the input plus ':' and 28 digest bytes */
        uint32_t dlen = (uint32_t)data.len;
        uint32_t cap = dlen + 64;
        char *digest = zk_xmalloc(cap);
        bool ok = acl_digest((const char *)data.p, dlen, digest, cap);
        if (ok && s->cfg.super_digest[0] != '\0' && strcmp(digest, s->cfg.super_digest) == 0)
            ok = auth_set_add(&c->auth, "super", "");
        ok = ok && auth_set_add(&c->auth, "digest", digest);
        zk_free(digest);
        return ok;
    }
    if ((size_t)scheme.len == 2 && memcmp(scheme.p, "ip", 2) == 0)
        return auth_set_add(&c->auth, "ip", c->ip);
    return false;
}

static void server_exec_read(struct server *s, struct conn *c, struct req *r) {
    r->zxid = s->last_zxid;
    switch (r->opcode) {
    case OP_PING:
        r->xid = -2; /* ZooKeeper answers every ping with xid -2 */
        return;
    case OP_AUTH:
        r->zxid = 0;
        if (!server_auth(s, c, r)) {
            r->err = ZOO_AUTHFAILED;
            r->close_after = true;
            s->auth_failed++;
        }
        return;
    case OP_SASL:
        /* No SASL in zkd: answered UNIMPLEMENTED, the connection stays open;
         * like ZooKeeper's sasl replies it carries zxid 0. */
        r->zxid = 0;
        r->err = ZOO_UNIMPLEMENTED;
        return;
    default:
        break;
    }
    if (!read_is_read(r->opcode)) {
        /* Unknown opcode, a stand-alone check (ZOOKEEPER-2623) or a client
         * deleteContainer: UNIMPLEMENTED, then the connection is closed. */
        r->err = ZOO_UNIMPLEMENTED;
        r->zxid = -1; /* as ZooKeeper */
        r->close_after = true;
        return;
    }
    struct read_env env = {
        .tree = &s->tree,
        .watches = &s->watches,
        .owner = &c->watches,
        .auth = &c->auth,
        .session_id = c->session_id,
        .max_string = s->cfg.max_buffer,
        .emit = server_emit_catchup,
        .emit_ctx = c,
    };
    int zrc = ZOO_OK;
    if (read_request(&env, r->opcode, r->body, r->body_len, &r->reply, &zrc) != ZK_OK) {
        r->reply.len = 0;
        zrc = ZOO_MARSHALLINGERROR;
    }
    r->err = zrc;
}

static void server_exec_write(struct server *s, struct conn *c, struct req *r) {
    struct prep_input in = {
        .session_id = c->session_id,
        .cxid = r->xid,
        .opcode = r->opcode,
        .body = r->body,
        .body_len = r->body_len,
        .max_string = s->cfg.max_buffer,
        .auth = &c->auth,
        .zxid = server_next_zxid(s),
        .time_ms = server_wall_ms(),
    };
    struct txn t;
    txn_init(&t);
    prep_request(&s->prep, &in, &t);
    if (r->opcode == TXN_CLOSE_SESSION)
        r->close_after = true;
    c->pending_writes++;
    server_enqueue_txn(s, &t, r, c);
}

/* Starts queued requests in order: a write is prepped at once (outstanding
 * changes let it see earlier unapplied writes); a read waits until every
 * earlier write of this session is applied, so it never overtakes one. */
static void conn_process(struct conn *c) {
    struct server *s = c->srv;
    struct queue *q;
    QUEUE_FOREACH(q, &c->reqs) {
        if (c->dead)
            return;
        struct req *r = QUEUE_DATA(q, struct req, link);
        if (r->started)
            continue;
        if (!r->is_write && c->pending_writes > 0)
            break;
        r->started = true;
        if (r->is_write) {
            server_exec_write(s, c, r);
        } else {
            server_exec_read(s, c, r);
            r->done = true;
        }
    }
    conn_drain_replies(c);
}

/* ---- handshake ---- */

static void conn_handshake(struct conn *c, const uint8_t *p, uint32_t len) {
    struct server *s = c->srv;
    struct jute_reader rd;
    jute_reader_init(&rd, p, len);
    (void)jute_read_i32(&rd); /* protocolVersion */
    int64_t last_zxid = jute_read_i64(&rd);
    int32_t timeout = jute_read_i32(&rd);
    int64_t session_id = jute_read_i64(&rd);
    struct jute_bytes passwd = jute_read_bytes(&rd, ZK_LIMIT_PASSWD_BYTES_MAX);
    if (!jute_reader_ok(&rd)) {
        conn_close(c, "malformed ConnectRequest");
        return;
    }
    bool has_readonly = rd.left >= 1;
    if (last_zxid > s->last_zxid) {
        conn_close(c, "client has seen a zxid ahead of this server");
        return;
    }
    if (timeout < s->cfg.min_session_ms)
        timeout = s->cfg.min_session_ms;
    if (timeout > s->cfg.max_session_ms)
        timeout = s->cfg.max_session_ms;
    struct req *r = zk_xcalloc(1, sizeof(*r));
    jute_buf_init(&r->reply);
    r->opcode = TXN_CREATE_SESSION;
    r->timeout_ms = timeout;
    r->has_readonly = has_readonly;
    r->start_ms = server_mono_ms();
    r->started = true;
    queue_insert_tail(&c->reqs, &r->link);
    c->req_count++;
    s->outstanding++;
    queue_remove(&c->hs_link);
    c->state = CONN_CONNECTING;
    if (session_id == 0) {
        r->session_id = session_next_id(&s->sessions);
        r->is_write = true;
        struct txn t;
        txn_init(&t);
        prep_create_session(&s->prep, r->session_id, timeout, server_next_zxid(s),
                            server_wall_ms(), &t);
        c->pending_writes++;
        server_enqueue_txn(s, &t, r, c);
        return;
    }
    struct session *sess = session_find(&s->sessions, session_id);
    uint8_t pw[SESSION_PASSWD_LEN];
    session_password(session_id, pw);
    r->done = true;
    r->session_id = session_id;
    if (sess == NULL || sess->closing || passwd.len != SESSION_PASSWD_LEN ||
        memcmp(passwd.p, pw, SESSION_PASSWD_LEN) != 0) {
        r->err = ZOO_SESSIONEXPIRED;
        r->close_after = true;
        conn_drain_replies(c);
        return;
    }
    if (sess->conn != NULL && sess->conn != c) {
        struct conn *old = sess->conn;
        old->session = NULL;
        sess->conn = NULL;
        conn_close(old, "session moved to a new connection");
    }
    sess->timeout_ms = timeout;
    session_touch(&s->sessions, sess, server_mono_ms());
    server_finish_handshake(s, c, r);
    conn_drain_replies(c);
}

/* The short operation names ZooKeeper shows as "lop" in `cons`. */
static const char *server_op_name(int32_t op) {
    switch (op) {
    case 1: case 15: case 19: case 21: return "CREA";
    case 2: case 20: return "DELE";
    case 3: return "EXIS";
    case 4: return "GETD";
    case 5: return "SETD";
    case 6: return "GETA";
    case 7: return "SETA";
    case 8: case 12: return "GETC";
    case 9: return "SYNC";
    case 11: return "PING";
    case 13: return "CHEC";
    case 14: return "MULT";
    case 16: return "RECO";
    case 17: return "CHKW";
    case 18: return "REMW";
    case 22: return "MLTR";
    case 100: return "AUTH";
    case 101: return "SETW";
    case 102: return "SASL";
    case 103: return "GETE";
    case 104: return "GETACN";
    case 105: return "STW2";
    case 106: return "ADDW";
    case 107: return "HOMI";
    case -11: return "CLOS";
    default: return "UNKN";
    }
}

/* ---- input ---- */

static void conn_on_frame(struct conn *c, const uint8_t *p, uint32_t len) {
    struct server *s = c->srv;
    c->packets_received++;
    s->packets_received++;
    if (c->state == CONN_HANDSHAKE) {
        conn_handshake(c, p, len);
        return;
    }
    if (len < 8) {
        conn_close(c, "request shorter than its header");
        return;
    }
    struct req *r = zk_xcalloc(1, sizeof(*r));
    jute_buf_init(&r->reply);
    r->xid = (int32_t)jute_be32(p);
    r->opcode = (int32_t)jute_be32(p + 4);
    r->body_len = len - 8;
    r->body = zk_xmalloc(r->body_len ? r->body_len : 1);
    memcpy(r->body, p + 8, r->body_len);
    r->is_write = prep_is_write(r->opcode) && r->opcode != OP_DELETE_CONTAINER;
    r->start_ms = server_mono_ms();
    snprintf(c->last_op, sizeof(c->last_op), "%s", server_op_name(r->opcode));
    c->last_cxid = r->xid;
    queue_insert_tail(&c->reqs, &r->link);
    c->req_count++;
    s->outstanding++;
    if (c->session != NULL)
        session_touch(&s->sessions, c->session, server_mono_ms());
}

static bool conn_try_fourlw(struct conn *c) {
    uint32_t avail = c->in.len - c->in_off;
    if (avail < 4)
        return false;
    char word[5];
    memcpy(word, c->in.p + c->in_off, 4);
    word[4] = '\0';
    if (!fourlw_is_command(word))
        return false;
    c->is_fourlw = true;
    c->in_off = c->in.len;
    conn_touch(c);
    fourlw_run(c->srv, c, word, &c->out);
    c->close_after_flush = true;
    return true;
}

static bool conn_has_frame(const struct conn *c) {
    uint32_t avail = c->in.len - c->in_off;
    if (avail < 4)
        return false;
    if (c->state == CONN_HANDSHAKE && fourlw_is_command((const char *)c->in.p + c->in_off))
        return true;
    int32_t flen = (int32_t)jute_be32(c->in.p + c->in_off);
    uint32_t max = c->state == CONN_HANDSHAKE ? ZK_LIMIT_HANDSHAKE_BYTES_MAX : c->srv->cfg.max_buffer;
    /* an out-of-range length counts as "ready": parsing it closes the connection */
    return flen < 0 || (uint32_t)flen > max || avail - 4 >= (uint32_t)flen;
}

/* Whether the pipeline may take more requests from this connection now. */
static bool conn_may_take(const struct conn *c) {
    const struct server *s = c->srv;
    return !c->dead && !c->close_after_flush && c->state != CONN_CONNECTING &&
           c->req_count < ZK_LIMIT_SESSION_OUTSTANDING_MAX &&
           s->outstanding < (uint32_t)s->cfg.global_outstanding &&
           c->out.len - c->out_off < ZK_LIMIT_CONN_OUTBOX_SOFT_BYTES;
}

/* Parses complete frames from the input buffer, at most ZK_LIMIT_REQS_PER_EVENT
 * per call; if frames are left only because of that budget, the loop is told
 * not to sleep (s->input_backlog) so they are taken on the next iteration. */
static void conn_parse(struct conn *c) {
    struct server *s = c->srv;
    uint32_t n = 0;
    while (conn_may_take(c) && n < ZK_LIMIT_REQS_PER_EVENT) {
        uint32_t avail = c->in.len - c->in_off;
        if (c->state == CONN_HANDSHAKE && conn_try_fourlw(c))
            break;
        if (avail < 4)
            break;
        int32_t flen = (int32_t)jute_be32(c->in.p + c->in_off);
        uint32_t max = c->state == CONN_HANDSHAKE ? ZK_LIMIT_HANDSHAKE_BYTES_MAX
                                                  : s->cfg.max_buffer;
        if (flen < 0 || (uint32_t)flen > max) {
            conn_close(c, "frame length out of range (negative or over jute.maxbuffer)");
            return;
        }
        if (avail - 4 < (uint32_t)flen)
            break;
        const uint8_t *frame = c->in.p + c->in_off + 4;
        c->in_off += 4 + (uint32_t)flen;
        conn_on_frame(c, frame, (uint32_t)flen);
        n++;
    }
    if (c->dead)
        return;
    /* compact the input buffer; an idle connection keeps none (thousands of
     * mostly idle clients must not pin a read chunk each) */
    if (c->in_off > 0) {
        jute_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    if (c->in.len == 0 && c->in.cap > ZK_LIMIT_CONN_IDLE_BUFFER_BYTES)
        jute_buf_deinit(&c->in);
    conn_process(c);
    if (!c->dead && conn_has_frame(c)) {
        conn_touch(c); /* taken again before the loop sleeps, or once a limit lifts */
        if (n == ZK_LIMIT_REQS_PER_EVENT && conn_may_take(c))
            s->input_backlog = true;
    }
}

static void conn_on_readable(struct conn *c) {
    jute_buf_reserve(&c->in, ZK_LIMIT_READ_CHUNK_BYTES);
    ssize_t n;
    do {
        n = read(c->fd, c->in.p + c->in.len, ZK_LIMIT_READ_CHUNK_BYTES);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        conn_close(c, NULL);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(c, "read error");
        return;
    }
    c->in.len += (uint32_t)n;
    conn_parse(c);
}

/* ---- socket output ---- */

static void conn_flush(struct conn *c) {
    while (!c->dead && c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c, "write error");
            break;
        }
        c->out_off += (uint32_t)n;
    }
    if (c->dead)
        return;
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
        if (c->out.cap > ZK_LIMIT_CONN_IDLE_BUFFER_BYTES)
            jute_buf_deinit(&c->out);
        if (c->close_after_flush) {
            conn_close(c, NULL);
            return;
        }
    } else if (c->out_off > c->out.len / 2) {
        jute_buf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    conn_update_interest(c);
}

static void conn_update_interest(struct conn *c) {
    struct server *s = c->srv;
    /* Read only while the pipeline takes requests from this connection and no
     * complete frame is already waiting in the input buffer (which bounds it to
     * one frame plus one read chunk). */
    bool want_in = conn_may_take(c) && !conn_has_frame(c);
    bool want_out = c->out_off < c->out.len;
    if (want_in == c->epoll_in && want_out == c->epoll_out)
        return;
    struct epoll_event ev = {.events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0),
                             .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        ZK_PANIC("epoll_ctl(MOD) failed: %s", strerror(errno));
    c->epoll_in = want_in;
    c->epoll_out = want_out;
}

/* ---- connection lifecycle ---- */

static struct conn_ip *server_ip_get(struct server *s, const char *ip, bool create) {
    struct map_entry *e = map_find(&s->ips, ip, (uint32_t)strlen(ip));
    if (e != NULL)
        return zk_container_of(e, struct conn_ip, link);
    if (!create)
        return NULL;
    struct conn_ip *ipc = zk_xcalloc(1, sizeof(*ipc));
    snprintf(ipc->ip, sizeof(ipc->ip), "%s", ip);
    map_insert(&s->ips, &ipc->link, ipc->ip, (uint32_t)strlen(ipc->ip));
    return ipc;
}

static void conn_close(struct conn *c, const char *why) {
    if (c->dead)
        return;
    struct server *s = c->srv;
    if (why != NULL)
        fprintf(stderr, "zkd: closing connection %s:%u (session 0x%llx): %s\n", c->ip, c->port,
                (unsigned long long)c->session_id, why);
    c->dead = true;
    conn_touch(c); /* freed by server_before_sleep */
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->state == CONN_HANDSHAKE)
        queue_remove(&c->hs_link);
    watch_owner_detach(&s->watches, &c->watches);
    if (c->session != NULL) {
        c->session->conn = NULL;
        c->session = NULL;
    }
    /* Requests whose txn is still in the commit queue lose their requester. */
    struct queue *q;
    QUEUE_FOREACH(q, &c->reqs) {
        struct req *r = QUEUE_DATA(q, struct req, link);
        if (r->pending != NULL) {
            r->pending->req = NULL;
            r->pending->conn = NULL;
            r->pending = NULL;
        }
    }
}

static void conn_free(struct conn *c) {
    struct server *s = c->srv;
    ZK_ASSERT(c->dead);
    while (!queue_empty(&c->reqs))
        conn_remove_req(c, QUEUE_DATA(queue_head(&c->reqs), struct req, link));
    queue_remove(&c->link);
    if (c->dirty)
        queue_remove(&c->dirty_link);
    ZK_ASSERT(s->conn_count > 0 && c->ipc->count > 0);
    s->conn_count--;
    if (--c->ipc->count == 0) {
        map_remove(&s->ips, &c->ipc->link);
        zk_free(c->ipc);
    }
    auth_set_deinit(&c->auth);
    jute_buf_deinit(&c->in);
    jute_buf_deinit(&c->out);
    zk_free(c);
}

static void server_reap_dead(struct server *s) {
    struct queue *q, *n;
    QUEUE_FOREACH_SAFE(q, n, &s->conns) {
        struct conn *c = QUEUE_DATA(q, struct conn, link);
        if (c->dead)
            conn_free(c);
    }
}

static int net_set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void server_accept(struct server *s) {
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fprintf(stderr, "zkd: accept failed: %s\n", strerror(errno));
            return;
        }
        char ip[64] = "?";
        uint16_t port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
        }
        struct conn_ip *ipc = server_ip_get(s, ip, false);
        if ((s->cfg.max_client_cnxns > 0 && ipc != NULL &&
             ipc->count >= (uint32_t)s->cfg.max_client_cnxns) ||
            (s->cfg.max_cnxns > 0 && s->conn_count >= (uint32_t)s->cfg.max_cnxns)) {
            fprintf(stderr, "zkd: too many connections from %s (maxClientCnxns=%d); refused\n",
                    ip, s->cfg.max_client_cnxns);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = zk_xcalloc(1, sizeof(*c));
        c->srv = s;
        c->fd = fd;
        snprintf(c->ip, sizeof(c->ip), "%s", ip);
        c->port = port;
        c->ipc = ipc ? ipc : server_ip_get(s, ip, true);
        c->ipc->count++;
        c->state = CONN_HANDSHAKE;
        queue_init(&c->reqs);
        jute_buf_init(&c->in);
        jute_buf_init(&c->out);
        auth_set_init(&c->auth);
        watch_owner_init(&c->watches);
        if (!auth_set_add(&c->auth, "ip", ip))
            ZK_PANIC("out of memory");
        c->established_ms = server_wall_ms();
        c->hs_deadline_ms = server_mono_ms() + ZK_LIMIT_HANDSHAKE_TIMEOUT_MS;
        snprintf(c->last_op, sizeof(c->last_op), "NA");
        c->last_cxid = -1;
        c->last_zxid = -1;
        queue_insert_tail(&s->conns, &c->link);
        queue_insert_tail(&s->handshaking, &c->hs_link);
        s->conn_count++;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            ZK_PANIC("epoll_ctl(ADD) failed: %s", strerror(errno));
        c->epoll_in = true;
    }
}

/* ---- timers ---- */

static void server_expire_fn(void *ctx, struct session *sess) {
    struct server *s = ctx;
    if (sess->closing)
        return;
    fprintf(stderr, "zkd: session 0x%llx expired (timeout %d ms)\n", (unsigned long long)sess->id,
            sess->timeout_ms);
    if (sess->conn != NULL)
        ((struct conn *)sess->conn)->close_after_flush = true;
    server_internal_write(s, sess->id, TXN_CLOSE_SESSION, NULL, 0);
}

struct container_ctx {
    struct server *s;
    int64_t now;
    uint32_t budget;
};

static void server_reap_node(void *ctx, struct tree_node *n) {
    struct container_ctx *x = ctx;
    if (x->budget == 0 || tree_child_count(n) != 0)
        return;
    int64_t owner = tree_node_owner(&x->s->tree, n);
    struct tree_node_stat st = tree_node_raw(n);
    int64_t elapsed = x->now - st.mtime;
    bool reap;
    if (tree_owner_kind(owner) == TREE_CONTAINER) {
        reap = st.cversion > 0 || (x->s->cfg.container_max_never_used_ms != 0 &&
                                        elapsed > x->s->cfg.container_max_never_used_ms);
    } else {
        int64_t ttl = tree_ttl_of_owner(owner);
        reap = ttl != 0 && elapsed > ttl;
    }
    if (!reap)
        return;
    uint32_t len;
    char *path = tree_node_path_dup(&x->s->tree, n, &len);
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_bytes(&b, path, (int32_t)len);
    zk_free(path);
    x->budget--;
    server_internal_write(x->s, 0, TXN_DELETE_CONTAINER, b.p, b.len);
    jute_buf_deinit(&b);
}

/* ZooKeeper ContainerManager: delete empty containers that had children, and
 * TTL nodes unmodified past their TTL, at most maxPerMinute per pass. */
static void server_check_containers(struct server *s) {
    struct container_ctx x = {s, server_wall_ms(), 0};
    int64_t per_pass = (int64_t)s->cfg.container_max_per_minute * s->cfg.container_check_ms / 60000;
    x.budget = per_pass < 1 ? 1 : (per_pass > UINT32_MAX ? UINT32_MAX : (uint32_t)per_pass);
    tree_for_each_of_kind(&s->tree, TREE_CONTAINER, server_reap_node, &x);
    tree_for_each_of_kind(&s->tree, TREE_TTL, server_reap_node, &x);
}

static void server_timers(struct server *s) {
    int64_t now = server_mono_ms();
    while (now >= session_next_expiration(&s->sessions))
        session_expire(&s->sessions, now, server_expire_fn, s);
    while (!queue_empty(&s->handshaking)) {
        struct conn *c = QUEUE_DATA(queue_head(&s->handshaking), struct conn, hs_link);
        if (c->hs_deadline_ms > now)
            break;
        conn_close(c, "no handshake within the time limit");
    }
    if (now >= s->next_container_check_ms) {
        s->next_container_check_ms = now + s->cfg.container_check_ms;
        server_check_containers(s);
    }
    s->store_poll_ms = now + store_poll(s->store, now);
}

static int server_poll_timeout(struct server *s) {
    int64_t now = server_mono_ms();
    int64_t next = session_next_expiration(&s->sessions);
    if (s->next_container_check_ms < next)
        next = s->next_container_check_ms;
    if (s->store_poll_ms < next)
        next = s->store_poll_ms;
    if (!queue_empty(&s->handshaking)) {
        struct conn *c = QUEUE_DATA(queue_head(&s->handshaking), struct conn, hs_link);
        if (c->hs_deadline_ms < next)
            next = c->hs_deadline_ms;
    }
    int64_t d = next - now;
    return d < 0 ? 0 : (d > 1000 ? 1000 : (int)d);
}

/* A lone client is the only connection the loop has read from for the last
 * SERVER_LONE_MS, with at least SERVER_LONE_RUN readable events in that run: the
 * loop then writes and syncs its single outstanding write itself
 * (store_sync_inline) rather than waking the log writer and waiting to be woken
 * back. The loop is blocked for that fsync, which may take tens of milliseconds
 * on a busy disk, so any other client active in the window (a reader among
 * writers, a second writer) keeps the writer thread, whose group commit lets the
 * loop serve the others meanwhile; only a request arriving after such a silence
 * can wait for one inline fsync. */
#define SERVER_LONE_RUN 4
#define SERVER_LONE_MS 100

/* Before sleeping: commit, then one write per connection for everything queued.
 * Only dirty connections are visited (new ones join the list's tail while it is
 * walked, e.g. watch events); a connection leaves it once it has nothing left
 * but waiting for its socket. Returns true if it made a write durable on the
 * loop: the caller runs it again, to apply the write and send its reply, until
 * it returns false (no txn then waits for a sync the loop would sleep through). */
static bool server_before_sleep(struct server *s) {
    server_commit(s);
    struct queue *q, *nq;
    if (s->recheck_all) {
        s->recheck_all = false;
        QUEUE_FOREACH(q, &s->conns) {
            conn_touch(QUEUE_DATA(q, struct conn, link));
        }
    }
    QUEUE_FOREACH(q, &s->dirty) {
        struct conn *c = QUEUE_DATA(q, struct conn, dirty_link);
        if (c->dead)
            continue;
        if (c->overflow) {
            conn_close(c, "client is not reading its replies (output over the hard limit)");
            continue;
        }
        conn_flush(c);
        /* frames left by the per-event budget or a lifted backpressure limit */
        if (!c->dead && conn_has_frame(c))
            conn_parse(c);
    }
    server_commit(s);
    QUEUE_FOREACH_SAFE(q, nq, &s->dirty) {
        struct conn *c = QUEUE_DATA(q, struct conn, dirty_link);
        if (!c->dead)
            conn_flush(c); /* also re-arms EPOLLIN where a limit lifted */
        if (c->dead) {
            conn_free(c);
        } else if (!conn_has_frame(c)) {
            queue_remove(&c->dirty_link);
            c->dirty = false;
        }
    }
    bool synced = false;
    if (s->reader_run >= SERVER_LONE_RUN && s->commit_count == 1 &&
        server_mono_ms() - s->reader_run_start_ms >= SERVER_LONE_MS)
        synced = store_sync_inline(s->store);
    if (!synced)
        store_kick(s->store);
    if (s->snapshot_requested) {
        s->snapshot_requested = 0;
        store_request_snapshot(s->store);
    }
    /* between two applies: the tree is exactly the state after last_zxid */
    if (store_snapshot_due(s->store) &&
        store_snapshot_start(s->store, &s->tree, &s->sessions, s->last_zxid) == 0)
        s->snapshots_started++;
    return synced;
}

int server_run(struct server *s) {
    struct epoll_event events[ZK_LIMIT_EPOLL_EVENTS];
    bool wrote = false;
    const struct conn *last_reader = NULL; /* compared, never followed: it may be freed */
    while (!s->stop) {
        s->input_backlog = false;
        /* again while it synced on the loop: applying that write may let the same
         * connection's next write start (one queued behind a read), synced in turn */
        while (server_before_sleep(s))
            ;
        int timeout = s->input_backlog ? 0 : server_poll_timeout(s);
        /* Polling before sleeping (pollwait.h) is for a lone client waiting on each
         * reply, whose next request comes soon after: the loop polls only when
         * the last two requests came from one connection, no write waits for the
         * log writer's fsync, and the writer did not just answer one (a client
         * writing through the writer sends its next request an fsync later at the
         * soonest). A lone client's write synced on the loop (server_before_sleep)
         * is answered at once, so its next request comes soon and is polled for.
         * With several clients the loop is woken by one while it serves another,
         * and polling would only take a vCPU from them and from the log writer. */
        bool sleep_now = s->commit_count > 0 || wrote || s->reader_run < 2;
        wrote = false;
        int n = sleep_now ? epoll_wait(s->epfd, events, (int)ZK_ARRAY_LEN(events), timeout)
                          : poll_wait(&s->poll, s->epfd, events, (int)ZK_ARRAY_LEN(events), timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "zkd: epoll_wait failed: %s\n", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                server_accept(s);
                continue;
            }
            if (events[i].data.ptr == (void *)s->store) {
                store_ack(s->store); /* server_commit runs before the next sleep */
                wrote = true;
                continue;
            }
            struct conn *c = events[i].data.ptr;
            if (c->dead)
                continue;
            if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                if (!(events[i].events & EPOLLIN)) {
                    conn_close(c, NULL);
                    continue;
                }
            }
            if (events[i].events & EPOLLOUT)
                conn_flush(c);
            if (!c->dead && (events[i].events & (EPOLLIN | EPOLLHUP))) {
                if (c == last_reader) {
                    s->reader_run += s->reader_run < UINT32_MAX;
                } else {
                    s->reader_run = 1;
                    s->reader_run_start_ms = server_mono_ms();
                }
                last_reader = c;
                conn_on_readable(c);
            }
        }
        server_timers(s);
    }
    return 0;
}

void server_request_stop(struct server *s) { s->stop = 1; }

void server_request_snapshot(struct server *s) { s->snapshot_requested = 1; }

const struct store_recovery *server_recovery(const struct server *s) { return &s->recovery; }

static int server_listen(struct server *s, char *err, size_t errlen) {
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->cfg.client_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->cfg.client_port);
        sl = sizeof(*a4);
    } else if (inet_pton(AF_INET6, s->cfg.client_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->cfg.client_port);
        sl = sizeof(*a6);
    } else {
        snprintf(err, errlen, "invalid value for clientPortAddress: '%s' (not an IP address)",
                 s->cfg.client_addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->cfg.client_addr,
                 s->cfg.client_port, strerror(errno));
        close(fd);
        return -1;
    }
    int backlog = s->cfg.listen_backlog > 0 ? s->cfg.listen_backlog : ZK_LIMIT_LISTEN_BACKLOG_DEFAULT;
    if (listen(fd, backlog) != 0 || net_set_nonblock(fd) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    s->listen_fd = fd;
    return 0;
}

static void server_rearm_session(void *ctx, struct session *sess) {
    struct server *s = ctx;
    session_touch(&s->sessions, sess, server_mono_ms());
}

int server_create(struct server **out, const struct config *cfg, char *err, size_t errlen) {
    struct server *s = zk_xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->listen_fd = -1;
    s->epfd = -1;
    int64_t now = server_mono_ms();
    s->start_ms = now;
    tree_init(&s->tree);
    /* A standalone ZooKeeper creates its session tracker with server id 1, so its
     * session ids start 0x01...; ids embed a millisecond clock below that byte. */
    int64_t tracker_id = cfg->server_id != 0 ? cfg->server_id : 1;
    session_table_init(&s->sessions, cfg->tick_ms, now, tracker_id);
    s->sessions.next_id = session_initial_id(server_wall_ms(), tracker_id);
    watch_mgr_init(&s->watches);
    queue_init(&s->conns);
    queue_init(&s->dirty);
    queue_init(&s->handshaking);
    queue_init(&s->commit);
    map_init(&s->ips);
    struct store_config sc = {
        .data_dir = cfg->data_dir,
        .log_dir = cfg->data_log_dir[0] != '\0' ? cfg->data_log_dir : cfg->data_dir,
        .force_sync = cfg->force_sync,
        .prealloc_bytes = cfg->prealloc_kb * 1024,
        .fsync_warn_ms = cfg->fsync_warn_ms,
        .snap_count = cfg->snap_count,
        .snap_size_limit = cfg->snap_size_limit_kb * 1024,
        .snap_retain_count = cfg->snap_retain_count,
        .purge_interval_ms = (int64_t)cfg->purge_interval_h * 3600 * 1000,
        .max_record = cfg->max_buffer + 1024, /* payload = request data + txn header */
        .seed = (uint64_t)server_wall_ms() ^ ((uint64_t)getpid() << 32),
    };
    if (store_open(&s->store, &sc, &s->tree, &s->sessions, now, &s->recovery, err, errlen) != 0)
        goto fail;
    s->last_zxid = s->next_zxid = s->recovery.last_zxid;
    /* recovered sessions get their whole timeout from now, after the load (as
     * ZooKeeper, which starts its session tracker once the data is loaded) */
    session_for_each(&s->sessions, server_rearm_session, s);
    prep_init(&s->prep, &s->tree, &s->sessions, cfg->extended_types);
    s->prep.reconfig_enabled = cfg->reconfig_enabled;
    poll_wait_init(&s->poll, (int64_t)s->cfg.poll_us * 1000);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto fail_prep;
    }
    if (server_listen(s, err, errlen) != 0)
        goto fail_prep;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) != 0)
        ZK_PANIC("epoll_ctl(listen) failed: %s", strerror(errno));
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = s->store};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, store_event_fd(s->store), &sev) != 0)
        ZK_PANIC("epoll_ctl(store) failed: %s", strerror(errno));
    s->next_container_check_ms = now + cfg->container_check_ms;
    *out = s;
    return 0;
fail_prep:
    prep_deinit(&s->prep);
    store_close(s->store);
    if (s->epfd >= 0)
        close(s->epfd);
fail:
    map_deinit(&s->ips);
    watch_mgr_deinit(&s->watches);
    session_table_deinit(&s->sessions);
    tree_deinit(&s->tree);
    zk_free(s);
    return -1;
}

void server_destroy(struct server *s) {
    struct queue *q;
    QUEUE_FOREACH(q, &s->conns) {
        conn_close(QUEUE_DATA(q, struct conn, link), NULL);
    }
    /* every txn handed to the log is made durable before the log closes */
    store_kick(s->store);
    store_close(s->store);
    s->store = NULL;
    server_commit(s);
    server_reap_dead(s);
    ZK_ASSERT(s->commit_count == 0 && s->outstanding == 0);
    prep_deinit(&s->prep);
    watch_mgr_deinit(&s->watches);
    session_table_deinit(&s->sessions);
    tree_deinit(&s->tree);
    map_deinit(&s->ips);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    close(s->epfd);
    zk_free(s);
}
