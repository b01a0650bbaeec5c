/* sim_world.c — the event queue, the network, clients, faults and runs.
 *
 * Events are ordered by (time, sequence number); nothing else decides order,
 * so a run is a function of the seed. The network has one FIFO connection per
 * learner session (a learner opens it to its leader; a reset or a partition
 * kills it, and nothing sent on it afterwards arrives), and unordered, lossy
 * election messages. Partitions are directional (asymmetric and bridge shapes
 * come free); a message that meets a partition kills its connection silently,
 * so only timeouts notice, as with a real blackhole. */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/base.h"
#include "../../src/err.h"
#include "../../src/jute.h"
#include "../../src/mem.h"
#include "../../src/snap.h"

enum sim_ev_kind {
    EV_TICK = 1,
    EV_MSG,
    EV_VOTE,
    EV_DISK,
    EV_CONNECT,
    EV_CONN_FAIL,
    EV_DISCONNECT,
    EV_CLIENT_WAKE,
    EV_CLIENT_REQ,
    EV_CLIENT_REPLY,
    EV_RESTART,
    EV_RESUME,
    EV_NEMESIS,
};

struct sim_event {
    int64_t time;
    uint64_t seq;
    uint64_t sent_seq; /* EV_MSG: seq when sent (deferral re-queues change seq) */
    int kind;
    int node; /* target node, or -1 */
    uint32_t inc;
    int from;
    uint64_t conn;
    int64_t peer;
    struct zmsg msg;
    uint8_t *data; /* owned message payload */
    struct fle_note note;
    int client;
    uint64_t cseq;
    int op;
    int result;
    int64_t zxid;
};

/* ---- trace ---- */

void sim_trace(struct sim *s, const char *fmt, ...) {
    char line[200];
    int n = snprintf(line, sizeof(line), "%" PRId64 " ", s->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    s->trace_hash = sim_hash_bytes(s->trace_hash, line, strlen(line));
    snprintf(s->ring[s->ring_pos], sizeof(s->ring[0]), "%s", line);
    s->ring_pos = (s->ring_pos + 1) % SIM_TRACE_RING;
    if (s->verbose)
        printf("%s\n", line);
}

/* ---- the event heap ---- */

static bool sim_ev_before(const struct sim_event *a, const struct sim_event *b) {
    return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

static struct sim_event *sim_ev_new(struct sim *s, int kind, int64_t at, int node) {
    struct sim_event *ev = zk_xcalloc(1, sizeof(*ev));
    ev->kind = kind;
    ev->time = at < s->now ? s->now : at;
    ev->node = node;
    ev->inc = node >= 0 ? s->nodes[node].inc : 0;
    return ev;
}

static void sim_ev_push(struct sim *s, struct sim_event *ev) {
    ev->seq = ++s->ev_seq;
    if (s->heap_count == s->heap_cap) {
        s->heap_cap = s->heap_cap ? 2 * s->heap_cap : 1024;
        s->heap = zk_xrealloc(s->heap, s->heap_cap * sizeof(*s->heap));
    }
    uint32_t i = s->heap_count++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!sim_ev_before(ev, s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = ev;
}

static struct sim_event *sim_ev_pop(struct sim *s) {
    if (s->heap_count == 0)
        return NULL;
    struct sim_event *top = s->heap[0];
    struct sim_event *last = s->heap[--s->heap_count];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= s->heap_count)
            break;
        if (c + 1 < s->heap_count && sim_ev_before(s->heap[c + 1], s->heap[c]))
            c++;
        if (!sim_ev_before(s->heap[c], last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_count > 0)
        s->heap[i] = last;
    return top;
}

static void sim_ev_free(struct sim_event *ev) {
    zk_free(ev->data);
    zk_free(ev);
}

static int64_t sim_between(struct sim *s, int64_t lo, int64_t hi) {
    return lo + (int64_t)sim_rng_below(&s->rng, (uint64_t)(hi - lo + 1));
}

static int64_t sim_net_delay(struct sim *s) {
    return sim_between(s, s->p.net_delay_min, s->p.net_delay_max);
}

static int64_t sim_link_delay(struct sim *s, int from, int to) {
    return sim_net_delay(s) + s->link_extra_ms[from][to];
}

/* ---- setup ---- */

void sim_default_params(struct sim_params *p) {
    memset(p, 0, sizeof(*p));
    p->voters = 3;
    p->observers = 0;
    p->clients = 3;
    p->tick_ms = 100;
    p->init_limit = 10;
    p->sync_limit = 5;
    p->finalize_wait = 2;
    p->resend_min = 2;
    p->resend_max = 16;
    p->window = 64;
    p->net_delay_min = 1;
    p->net_delay_max = 10;
    p->disk_delay_min = 1;
    p->disk_delay_max = 8;
    p->crash_rst = true;
    p->client_think_ms = 20;
    p->client_timeout_ms = 3000;
}

bool sim_rules_off_default = false;
struct sim *sim_current;

void sim_init(struct sim *s, uint64_t seed, const struct sim_params *p) {
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->rules_off = sim_rules_off_default;
    s->p = *p;
    sim_rng_seed(&s->rng, seed);
    ZK_ASSERT(p->voters >= 1 && p->voters + p->observers <= SIM_NODES_MAX);
    ZK_ASSERT(p->clients <= SIM_CLIENTS_MAX);
    s->node_count = p->voters + p->observers;
    for (uint32_t i = 0; i < s->node_count; i++) {
        struct sim_node *n = &s->nodes[i];
        n->idx = (int)i;
        n->sid = (int64_t)i + 1;
        n->observer = i >= p->voters;
        n->leader = -1;
        sim_disk_init(&n->disk);
    }
    for (uint32_t c = 0; c < p->clients; c++) {
        s->clients[c].idx = (int)c;
        s->clients[c].target = (int)(c % s->node_count);
    }
    struct tree t;
    struct session_table ss;
    tree_init(&t);
    session_table_init(&ss, p->tick_ms, 0, 1);
    s->empty_digest = sim_tree_digest(&t, &ss);
    tree_deinit(&t);
    session_table_deinit(&ss);
}

void sim_deinit(struct sim *s) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        struct sim_node *n = &s->nodes[i];
        if (n->up)
            sim_node_teardown(s, n);
        sim_loglist_free(&n->dlog);
        sim_disk_deinit(&n->disk);
    }
    struct sim_event *ev;
    while ((ev = sim_ev_pop(s)) != NULL)
        sim_ev_free(ev);
    for (uint32_t a = 0; a < SIM_NODES_MAX; a++) {
        for (uint32_t b = 0; b < SIM_NODES_MAX; b++) {
            for (uint32_t k = 0; k < s->held_count[a][b]; k++)
                sim_ev_free(s->held[a][b][k].ev);
            zk_free(s->held[a][b]);
        }
    }
    zk_free(s->heap);
    zk_free(s->conns);
    zk_free(s->hist);
    zk_free(s->zmap.k);
    zk_free(s->zmap.v);
    zk_free(s->acked);
}

int sim_node_by_sid(const struct sim *s, int64_t sid) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        if (s->nodes[i].sid == sid)
            return (int)i;
    }
    return -1;
}

/* ---- nodes ---- */

static void sim_schedule_tick(struct sim *s, int i, int64_t delay) {
    sim_ev_push(s, sim_ev_new(s, EV_TICK, s->now + delay, i));
}

void sim_start_node(struct sim *s, int i) {
    struct sim_node *n = &s->nodes[i];
    if (n->up || n->broken)
        return;
    n->inc++;
    n->up = true;
    n->paused = false;
    if (sim_node_boot(s, n) != 0) {
        n->up = false;
        sim_violation(s, "n%d cannot recover from its disk", i + 1);
        return;
    }
    sim_schedule_tick(s, i, 1 + sim_between(s, 0, s->p.tick_ms - 1));
    sim_node_drain(s, n);
}

/* Tells `to` that conn is gone, after whatever is still in flight to it. */
static void sim_notify_closed(struct sim *s, struct sim_conn *c, int to) {
    int from = c->a == to ? c->b : c->a;
    if (!s->nodes[to].up || s->nodes[to].inc != (to == c->a ? c->inc_a : c->inc_b) ||
        s->blocked[from][to])
        return; /* a FIN cannot cross a partition either */
    int64_t at = s->now + sim_link_delay(s, from, to);
    int dir = from == c->a ? 0 : 1;
    if (!c->reset && at < c->last_at[dir])
        at = c->last_at[dir];
    struct sim_event *ev = sim_ev_new(s, EV_DISCONNECT, at, to);
    ev->peer = s->nodes[from].sid;
    ev->conn = c->id;
    sim_ev_push(s, ev);
}

static void sim_conn_close(struct sim *s, struct sim_conn *c) {
    c->alive = false;
    c->close_seq = s->ev_seq;
}

/* A crashed process: its sockets close; what it sent is still on the wire. */
static void sim_kill_conns(struct sim *s, int i, bool notify) {
    for (uint32_t k = 0; k < s->conn_count; k++) {
        struct sim_conn *c = &s->conns[k];
        if (!c->alive || (c->a != i && c->b != i))
            continue;
        sim_conn_close(s, c);
        if (notify)
            sim_notify_closed(s, c, c->a == i ? c->b : c->a);
    }
}

void sim_crash_node(struct sim *s, int i, const char *why) {
    struct sim_node *n = &s->nodes[i];
    if (!n->up)
        return;
    sim_trace(s, "n%d CRASH (%s)", i + 1, why);
    if (s->out != NULL)
        fprintf(s->out, "  n%d crashed: %s\n", i + 1, why);
    for (uint32_t k = 0; k < n->write_count; k++)
        sim_client_reply(s, n->writes[k].client, n->writes[k].seq, 2, -1);
    for (uint32_t k = 0; k < n->sync_count; k++)
        sim_client_reply(s, n->syncs[k].client, n->syncs[k].seq, 2, -1);
    sim_disk_crash(&n->disk, &s->rng);
    sim_kill_conns(s, i, s->p.crash_rst);
    sim_node_teardown(s, n);
    n->up = false;
    n->paused = false;
    n->inc++;
    n->role = ZAB_LOOKING;
    n->established = false;
    sim_check_durability(s);
    if (s->faults_on) {
        struct sim_event *ev = sim_ev_new(s, EV_RESTART, s->now + sim_between(s, 100, 4000), -1);
        ev->client = i;
        sim_ev_push(s, ev);
    }
}

/* ---- network ---- */

static struct sim_conn *sim_conn_get(struct sim *s, uint64_t id) {
    if (id == 0 || id > s->conn_count)
        return NULL;
    return &s->conns[id - 1];
}

static void sim_conn_reset(struct sim *s, struct sim_conn *c) {
    sim_conn_close(s, c);
    c->reset = true;
    sim_notify_closed(s, c, c->a);
    sim_notify_closed(s, c, c->b);
}

/* A SNAP's image: the sender's applied state, serialized into the message. */
static void sim_attach_image(struct sim_event *ev, const struct sim_node *n) {
    struct jute_buf b;
    jute_buf_init(&b);
    snap_write(&b, &n->tree, &n->sessions);
    ev->data = b.p; /* take the buffer */
    ev->msg.data = ev->data;
    ev->msg.data_len = b.len;
}

void sim_net_send(struct sim *s, int from, const struct zab_effect *ef) {
    int to = sim_node_by_sid(s, ef->peer);
    struct sim_conn *c = sim_conn_get(s, ef->conn);
    if (to < 0 || c == NULL || !c->alive || (c->a != from && c->b != from) ||
        (c->a != to && c->b != to))
        return;
    if (s->blocked[from][to]) {
        sim_conn_close(s, c); /* a blackhole: nobody is told */
        return;
    }
    if (sim_rng_chance(&s->rng, s->p.conn_reset)) {
        sim_trace(s, "conn %" PRIu64 " n%d-n%d reset", c->id, c->a + 1, c->b + 1);
        sim_conn_reset(s, c);
        return;
    }
    struct sim_event *ev = sim_ev_new(s, EV_MSG, 0, to);
    ev->from = from;
    ev->conn = c->id;
    ev->msg = ef->msg;
    ev->msg.data = NULL;
    ev->msg.data_len = 0;
    struct sim_node *n = &s->nodes[from];
    if (ef->msg.attach_state) {
        if (n->applied_zxid != ef->msg.zxid)
            sim_violation(s, "n%d SNAP at 0x%" PRIx64 " but its state is at 0x%" PRIx64, from + 1,
                          ef->msg.zxid, n->applied_zxid);
#ifndef ZK_MUTATE_SNAP_LATE
        /* The image is taken now, in the same step as the core fixed its zxid
         * and queued the stream after it (ZOOKEEPER-3104). */
        sim_attach_image(ev, n);
#endif
    } else if (ef->msg.data_len > 0) {
        ev->data = zk_xmalloc(ef->msg.data_len);
        memcpy(ev->data, ef->msg.data, ef->msg.data_len);
        ev->msg.data_len = ef->msg.data_len;
    }
    ev->msg.data = ev->data;
    int dir = from == c->a ? 0 : 1;
    int64_t at = s->now + sim_link_delay(s, from, to);
    if (at < c->last_at[dir])
        at = c->last_at[dir];
    c->last_at[dir] = at;
    ev->time = at;
    sim_ev_push(s, ev);
    ev->sent_seq = ev->seq;
}

void sim_net_vote(struct sim *s, int from, const struct zab_effect *ef) {
    int to = sim_node_by_sid(s, ef->peer);
    if (to < 0 || s->blocked[from][to] || sim_rng_chance(&s->rng, s->p.vote_loss))
        return;
    struct sim_event *ev = sim_ev_new(s, EV_VOTE, s->now + sim_link_delay(s, from, to), to);
    ev->from = from;
    ev->note = ef->note;
    sim_ev_push(s, ev);
}

void sim_net_connect(struct sim *s, int from, int64_t peer) {
    int to = sim_node_by_sid(s, peer);
    ZK_ASSERT(to >= 0);
    struct sim_node *t = &s->nodes[to];
    bool ok = t->up && t->role == ZAB_LEADING && !s->blocked[from][to] && !s->blocked[to][from];
    if (!ok) {
        int64_t delay = s->blocked[from][to] || s->blocked[to][from] ? 5 * s->p.tick_ms
                                                                     : sim_net_delay(s);
        struct sim_event *ev = sim_ev_new(s, EV_CONN_FAIL, s->now + delay, from);
        ev->peer = peer;
        sim_ev_push(s, ev);
        return;
    }
    if (s->conn_count == s->conn_cap) {
        s->conn_cap = s->conn_cap ? 2 * s->conn_cap : 64;
        s->conns = zk_xrealloc(s->conns, s->conn_cap * sizeof(*s->conns));
    }
    struct sim_conn *c = &s->conns[s->conn_count++];
    memset(c, 0, sizeof(*c));
    c->id = s->conn_count;
    c->a = from;
    c->b = to;
    c->inc_a = s->nodes[from].inc;
    c->inc_b = t->inc;
    c->alive = true;
    c->learner_zxid = c->stream_last = -1;
    struct sim_event *ev = sim_ev_new(
        s, EV_CONNECT, s->now + sim_link_delay(s, from, to) + sim_link_delay(s, to, from), from);
    ev->peer = peer;
    ev->conn = c->id;
    sim_ev_push(s, ev);
}

void sim_net_close(struct sim *s, int from, int64_t peer, uint64_t conn) {
    struct sim_conn *c = sim_conn_get(s, conn);
    int to = sim_node_by_sid(s, peer);
    if (c == NULL || !c->alive || to < 0 || (c->a != from && c->b != from))
        return;
    sim_conn_close(s, c);
    sim_notify_closed(s, c, to);
}

void sim_disk_kick(struct sim *s, int i) {
    struct sim_node *n = &s->nodes[i];
    if (n->disk_busy || n->pend_count == 0)
        return;
    n->disk_busy = true;
    int kind = n->pend[n->pend_head].kind;
    int64_t lat = kind == ZAB_EFF_LOG_APPEND || kind == ZAB_EFF_LOG_TRUNCATE
                      ? 0
                      : sim_between(s, s->p.disk_delay_min, s->p.disk_delay_max);
    sim_ev_push(s, sim_ev_new(s, EV_DISK, s->now + lat, i));
}

static bool sim_node_live(const struct sim *s, const struct sim_event *ev) {
    const struct sim_node *n = &s->nodes[ev->node];
    return n->up && n->inc == ev->inc;
}

/* Delivers a learner message, or parks it behind a hold. */
static void sim_deliver_msg(struct sim *s, struct sim_event *ev) {
    struct sim_conn *c = sim_conn_get(s, ev->conn);
    int from = ev->from, to = ev->node;
    struct sim_node *n = &s->nodes[to];
    if (c == NULL || c->reset || (!c->alive && ev->sent_seq > c->close_seq) || !n->up ||
        n->inc != (to == c->a ? c->inc_a : c->inc_b)) {
        sim_ev_free(ev);
        return;
    }
    if (s->blocked[from][to]) {
        sim_conn_close(s, c);
        c->reset = true; /* the wire is cut: nothing else gets through */
        sim_ev_free(ev);
        return;
    }
    uint32_t bit = 1u << (ev->msg.type & 31);
    if (s->held_count[from][to] > 0 || (s->hold_mask[from][to] & bit)) {
        if (s->held_count[from][to] == s->held_cap[from][to]) {
            s->held_cap[from][to] = s->held_cap[from][to] ? 2 * s->held_cap[from][to] : 16;
            s->held[from][to] =
                zk_xrealloc(s->held[from][to], s->held_cap[from][to] * sizeof(struct sim_heldmsg));
        }
        s->held[from][to][s->held_count[from][to]++].ev = ev;
        return;
    }
    if (s->cut_mask[from][to] & bit) {
        s->cut_mask[from][to] &= ~bit;
        sim_trace(s, "conn %" PRIu64 " cut at %s", c->id, zmsg_type_name(ev->msg.type));
        if (s->out != NULL)
            fprintf(s->out, "  n%d->n%d connection cut at %s\n", from + 1, to + 1,
                    zmsg_type_name(ev->msg.type));
        sim_conn_reset(s, c);
        sim_ev_free(ev);
        return;
    }
#ifdef ZK_MUTATE_SNAP_LATE
    /* ZOOKEEPER-3104's shape: the image is serialized later than its zxid and
     * the stream after it were fixed, so it holds whatever the sender applied
     * in between. */
    if (ev->msg.attach_state && ev->data == NULL && s->nodes[from].up)
        sim_attach_image(ev, &s->nodes[from]);
#endif
    sim_trace(s, "n%d<-n%d %s 0x%" PRIx64, to + 1, from + 1, zmsg_type_name(ev->msg.type),
              ev->msg.zxid);
    struct zab_status st;
    zab_status(n->z, &st);
    if (ev->msg.type == ZMSG_NEWLEADER)
        n->nl_required = st.last_zxid;
    if (ev->msg.type == ZMSG_LEADERINFO)
        n->leaderinfo_epoch = ZXID_EPOCH(ev->msg.zxid);
    zab_recv(n->z, s->nodes[from].sid, ev->conn, &ev->msg);
    sim_node_drain(s, n);
    sim_ev_free(ev);
}

void sim_release(struct sim *s, int from, int to) {
    s->hold_mask[from][to] = 0;
    uint32_t count = s->held_count[from][to];
    struct sim_heldmsg *held = s->held[from][to];
    s->held[from][to] = NULL;
    s->held_count[from][to] = s->held_cap[from][to] = 0;
    for (uint32_t k = 0; k < count; k++)
        sim_deliver_msg(s, held[k].ev);
    zk_free(held);
}

void sim_heal(struct sim *s) {
    memset(s->blocked, 0, sizeof(s->blocked));
}

void sim_partition(struct sim *s, const int *group, uint32_t n) {
    bool in[SIM_NODES_MAX] = {false};
    for (uint32_t k = 0; k < n; k++)
        in[group[k]] = true;
    for (uint32_t a = 0; a < s->node_count; a++) {
        for (uint32_t b = 0; b < s->node_count; b++) {
            if (in[a] != in[b])
                s->blocked[a][b] = true;
        }
    }
}

/* ---- clients ---- */

void sim_client_reply(struct sim *s, int c, uint64_t seq, int result, int64_t zxid) {
    struct sim_event *ev = sim_ev_new(s, EV_CLIENT_REPLY, s->now + sim_net_delay(s), -1);
    ev->client = c;
    ev->cseq = seq;
    ev->result = result;
    ev->zxid = zxid;
    sim_ev_push(s, ev);
}

void sim_client_submit(struct sim *s, int ci, int op, int target) {
    struct sim_client *c = &s->clients[ci];
    c->op = op;
    c->seq++;
    c->waiting = true;
    c->deadline = s->now + s->p.client_timeout_ms;
    c->target = target;
    c->last_result = 0;
    switch (op) {
    case SIM_OP_SESSION:
        c->session = ((int64_t)(ci + 1) << 40) | ++c->session_inc;
        break;
    case SIM_OP_CREATE:
    case SIM_OP_CREATE_EPH:
        snprintf(c->op_path, sizeof(c->op_path), "/c%d-%u", ci, ++c->name_seq);
        break;
    case SIM_OP_SET:
    case SIM_OP_DELETE:
        ZK_ASSERT(c->node_count > 0);
        c->pick = (uint32_t)sim_rng_below(&s->rng, c->node_count);
        memcpy(c->op_path, c->nodes[c->pick].path, sizeof(c->op_path));
        c->op_version = c->nodes[c->pick].version + 1;
        break;
    case SIM_OP_SYNC:
        c->sync_need = s->max_acked_zxid;
        break;
    default:
        break;
    }
    struct sim_event *ev = sim_ev_new(s, EV_CLIENT_REQ, s->now + sim_net_delay(s), target);
    ev->client = ci;
    ev->cseq = c->seq;
    ev->op = op;
    sim_ev_push(s, ev);
    struct sim_event *w = sim_ev_new(s, EV_CLIENT_WAKE, c->deadline, -1);
    w->client = ci;
    w->cseq = c->seq;
    sim_ev_push(s, w);
}

static int sim_client_choose(struct sim *s, struct sim_client *c) {
    if (!c->session_open)
        return SIM_OP_SESSION;
    bool room = c->node_count < SIM_CLIENT_NODES_MAX;
    uint64_t r = sim_rng_below(&s->rng, 100);
    if (r < 35 && room)
        return SIM_OP_CREATE;
    if (r < 50 && room)
        return SIM_OP_CREATE_EPH;
    if (r < 65 && c->node_count > 0)
        return SIM_OP_SET;
    if (r < 82 && c->node_count > 0)
        return SIM_OP_DELETE;
    if (r < 87)
        return SIM_OP_CLOSE;
    if (r < 94)
        return SIM_OP_SYNC;
    return room ? SIM_OP_CREATE : SIM_OP_DELETE;
}

static void sim_client_wake_later(struct sim *s, int ci, int64_t delay) {
    struct sim_client *c = &s->clients[ci];
    if (!c->active)
        return;
    struct sim_event *w = sim_ev_new(s, EV_CLIENT_WAKE, s->now + delay, -1);
    w->client = ci;
    w->cseq = c->seq;
    sim_ev_push(s, w);
}

void sim_client_start(struct sim *s, int ci) {
    s->clients[ci].active = true;
    sim_client_wake_later(s, ci, s->p.client_think_ms);
}

/* An op whose outcome is unknown: the client forgets what depended on it. */
static void sim_client_abandon(struct sim_client *c) {
    c->waiting = false;
    c->session_open = false;
    c->node_count = 0;
    c->last_result = 2;
}

static void sim_client_ok(struct sim *s, struct sim_client *c, int64_t zxid) {
    c->waiting = false;
    c->last_result = 1;
    c->last_zxid = zxid;
    switch (c->op) {
    case SIM_OP_SESSION:
        c->session_open = true;
        break;
    case SIM_OP_CREATE:
    case SIM_OP_CREATE_EPH: {
        if (c->node_count == SIM_CLIENT_NODES_MAX)
            break; /* scripts write more than a client tracks; forget it */
        struct sim_cnode *nd = &c->nodes[c->node_count++];
        memcpy(nd->path, c->op_path, sizeof(nd->path));
        nd->ephemeral = c->op == SIM_OP_CREATE_EPH;
        nd->version = 0;
        break;
    }
    case SIM_OP_SET:
        c->nodes[c->pick].version = c->op_version;
        break;
    case SIM_OP_DELETE:
        c->nodes[c->pick] = c->nodes[--c->node_count];
        break;
    case SIM_OP_CLOSE: {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < c->node_count; i++) {
            if (!c->nodes[i].ephemeral)
                c->nodes[kept++] = c->nodes[i];
        }
        c->node_count = kept;
        c->session_open = false;
        break;
    }
    default:
        break;
    }
    if (c->op == SIM_OP_SYNC) {
        sim_check_sync(s, c->sync_need, zxid);
        return;
    }
    c->acks++;
    sim_check_acked(s, zxid, 0);
}

static void sim_client_on_reply(struct sim *s, const struct sim_event *ev) {
    struct sim_client *c = &s->clients[ev->client];
    if (!c->waiting || ev->cseq != c->seq)
        return;
    sim_trace(s, "client %d op %d %s -> %d 0x%" PRIx64, ev->client, c->op,
              c->op == SIM_OP_SESSION || c->op == SIM_OP_CLOSE || c->op == SIM_OP_SYNC ? ""
                                                                                   : c->op_path,
              ev->result, ev->zxid);
    if (ev->result == 1) {
        sim_client_ok(s, c, ev->zxid);
    } else if (ev->result == 2) {
        sim_client_abandon(c);
    } else {
        c->waiting = false;
        c->last_result = 3;
        int hint = ev->zxid > 0 ? sim_node_by_sid(s, ev->zxid) : -1;
        c->target = hint >= 0 ? hint : (int)sim_rng_below(&s->rng, s->node_count);
    }
    sim_client_wake_later(s, ev->client, s->p.client_think_ms);
}

static void sim_client_on_wake(struct sim *s, const struct sim_event *ev) {
    struct sim_client *c = &s->clients[ev->client];
    if (c->waiting) {
        if (ev->cseq == c->seq && s->now >= c->deadline) {
            sim_trace(s, "client %d op %d timed out", ev->client, c->op);
            sim_client_abandon(c);
            sim_client_wake_later(s, ev->client, s->p.client_think_ms);
        }
        return;
    }
    if (!c->active || ev->cseq != c->seq)
        return;
    sim_client_submit(s, ev->client, sim_client_choose(s, c), c->target);
}

static void sim_client_on_request(struct sim *s, const struct sim_event *ev) {
    struct sim_node *n = &s->nodes[ev->node];
    if (!n->up || n->inc != ev->inc) {
        sim_client_reply(s, ev->client, ev->cseq, 3, -1);
        return;
    }
    sim_node_client_request(s, n, ev->client, ev->cseq, ev->op);
}

/* ---- faults (random runs) ---- */

static const int32_t sim_crash_causes[] = {
    ZMSG_PROPOSAL, ZMSG_COMMIT,   ZMSG_NEWLEADER,    ZMSG_UPTODATE,     ZMSG_DIFF,
    ZMSG_TRUNC,    ZMSG_SNAP,     ZMSG_LEADERINFO,   ZMSG_ACKEPOCH,     ZMSG_ACK,
    ZMSG_INFORM,   ZMSG_FOLLOWERINFO, ZAB_CAUSE_PROPOSE, ZAB_CAUSE_TICK, ZAB_CAUSE_VOTE,
    SIM_CAUSE_DISK, SIM_CAUSE_DISK,
};

static int sim_random_up(struct sim *s) {
    int up[SIM_NODES_MAX], n = 0;
    for (uint32_t i = 0; i < s->node_count; i++) {
        if (s->nodes[i].up)
            up[n++] = (int)i;
    }
    return n ? up[sim_rng_below(&s->rng, (uint64_t)n)] : -1;
}

static void sim_random_partition(struct sim *s) {
    sim_heal(s);
    uint32_t shape = (uint32_t)sim_rng_below(&s->rng, 4);
    int group[SIM_NODES_MAX] = {0};
    uint32_t n = 0;
    if (shape == 0) { /* random halves */
        for (uint32_t i = 0; i < s->node_count; i++) {
            if (sim_rng_chance(&s->rng, 0.5))
                group[n++] = (int)i;
        }
        sim_partition(s, group, n);
    } else if (shape == 1) { /* isolate one */
        group[0] = (int)sim_rng_below(&s->rng, s->node_count);
        sim_partition(s, group, 1);
    } else if (shape == 2) { /* bridge: halves that both reach one node */
        int bridge = (int)sim_rng_below(&s->rng, s->node_count);
        for (uint32_t i = 0; i < s->node_count; i++) {
            if ((int)i != bridge && sim_rng_chance(&s->rng, 0.5))
                group[n++] = (int)i;
        }
        sim_partition(s, group, n);
        for (uint32_t i = 0; i < s->node_count; i++)
            s->blocked[bridge][i] = s->blocked[i][bridge] = false;
    } else { /* one-way links */
        for (int k = 0; k < 3; k++) {
            uint32_t a = (uint32_t)sim_rng_below(&s->rng, s->node_count);
            uint32_t b = (uint32_t)sim_rng_below(&s->rng, s->node_count);
            if (a != b)
                s->blocked[a][b] = true;
        }
    }
    sim_trace(s, "nemesis: partition shape %u", shape);
}

static void sim_nemesis(struct sim *s) {
    uint64_t a = sim_rng_below(&s->rng, 100);
    int i = sim_random_up(s);
    static const double resets[] = {0, 0.001, 0.01}, losses[] = {0, 0.05, 0.3},
                        eios[] = {0, 0.0005, 0.005};
    if (a < 18 && i >= 0) {
        sim_crash_node(s, i, "nemesis");
    } else if (a < 30 && i >= 0) {
        struct sim_node *n = &s->nodes[i];
        n->crash_armed = true;
        n->crash_cause = sim_crash_causes[sim_rng_below(&s->rng, ZK_ARRAY_LEN(sim_crash_causes))];
        n->crash_k = 1 + (uint32_t)sim_rng_below(&s->rng, 8);
        n->crash_seen = 0;
        sim_trace(s, "nemesis: n%d crashes after effect %u of cause %d", i + 1, n->crash_k,
                  n->crash_cause);
    } else if (a < 45) {
        sim_random_partition(s);
    } else if (a < 60) {
        sim_heal(s);
        sim_trace(s, "nemesis: heal");
    } else if (a < 68 && i >= 0 && !s->nodes[i].paused) {
        struct sim_node *n = &s->nodes[i];
        n->paused = true;
        n->paused_until = s->now + sim_between(s, 100, 3000);
        struct sim_event *ev = sim_ev_new(s, EV_RESUME, n->paused_until, -1);
        ev->client = i;
        sim_ev_push(s, ev);
        sim_trace(s, "nemesis: pause n%d", i + 1);
    } else if (a < 76) {
        s->p.conn_reset = resets[sim_rng_below(&s->rng, 3)];
    } else if (a < 82) {
        s->p.vote_loss = losses[sim_rng_below(&s->rng, 3)];
    } else if (a < 86) {
        s->p.eio = eios[sim_rng_below(&s->rng, 3)];
    } else if (a < 92 && i >= 0 && !s->nodes[i].paused) {
        sim_node_snapshot(s, &s->nodes[i]); /* as a server does every snapCount txns */
    }
}

/* ---- the loop ---- */

static void sim_dispatch(struct sim *s, struct sim_event *ev) {
    switch (ev->kind) {
    case EV_TICK:
        if (!sim_node_live(s, ev))
            break;
        zab_tick(s->nodes[ev->node].z);
        if (sim_node_drain(s, &s->nodes[ev->node]))
            sim_schedule_tick(s, ev->node, s->p.tick_ms);
        break;
    case EV_MSG:
        sim_deliver_msg(s, ev);
        return; /* freed or parked there */
    case EV_VOTE:
        if (!sim_node_live(s, ev))
            break;
        sim_trace(s, "n%d<-n%d vote %s leader=%" PRId64 " zxid=0x%" PRIx64 " ee=%" PRId64
                     " pe=%" PRId64,
                  ev->node + 1, ev->from + 1, zpeer_state_name(ev->note.state),
                  ev->note.vote.leader, ev->note.vote.zxid, ev->note.vote.election_epoch,
                  ev->note.vote.peer_epoch);
        zab_recv_vote(s->nodes[ev->node].z, &ev->note);
        sim_node_drain(s, &s->nodes[ev->node]);
        break;
    case EV_DISK:
        if (sim_node_live(s, ev))
            sim_node_disk_stage(s, &s->nodes[ev->node]);
        break;
    case EV_CONNECT: {
        struct sim_conn *c = sim_conn_get(s, ev->conn);
        if (!sim_node_live(s, ev))
            break;
        if (c != NULL && c->alive)
            zab_connected(s->nodes[ev->node].z, ev->peer, ev->conn);
        else
            zab_disconnected(s->nodes[ev->node].z, ev->peer, 0);
        sim_node_drain(s, &s->nodes[ev->node]);
        break;
    }
    case EV_CONN_FAIL:
    case EV_DISCONNECT:
        if (!sim_node_live(s, ev))
            break;
        zab_disconnected(s->nodes[ev->node].z, ev->peer, ev->kind == EV_CONN_FAIL ? 0 : ev->conn);
        sim_node_drain(s, &s->nodes[ev->node]);
        break;
    case EV_CLIENT_WAKE:
        sim_client_on_wake(s, ev);
        break;
    case EV_CLIENT_REQ:
        sim_client_on_request(s, ev);
        break;
    case EV_CLIENT_REPLY:
        sim_client_on_reply(s, ev);
        break;
    case EV_RESTART:
        if (s->faults_on)
            sim_start_node(s, ev->client);
        break;
    case EV_RESUME:
        s->nodes[ev->client].paused = false;
        break;
    case EV_NEMESIS:
        if (!s->faults_on)
            break;
        sim_nemesis(s);
        sim_ev_push(s, sim_ev_new(s, EV_NEMESIS, s->now + sim_between(s, 200, 2000), -1));
        break;
    default:
        ZK_PANIC("sim: bad event %d", ev->kind);
    }
    sim_ev_free(ev);
}

bool sim_step(struct sim *s) {
    struct sim_event *ev = sim_ev_pop(s);
    if (ev == NULL)
        return false;
    ZK_ASSERT(ev->time >= s->now);
    s->now = ev->time;
    if (ev->node >= 0 && s->nodes[ev->node].paused) {
        if (s->now < s->nodes[ev->node].paused_until) {
            ev->time = s->nodes[ev->node].paused_until; /* a paused process runs nothing */
            sim_ev_push(s, ev);
            return true;
        }
        s->nodes[ev->node].paused = false;
    }
    s->events++;
    sim_dispatch(s, ev);
    if (s->events % 4096 == 0)
        sim_check_all(s);
    return true;
}

void sim_run_for(struct sim *s, int64_t ms) {
    int64_t end = s->now + ms;
    while (!s->violated && s->heap_count > 0 && s->heap[0]->time <= end)
        sim_step(s);
    if (s->now < end)
        s->now = end;
}

bool sim_is_stable(const struct sim *s, int *leader_out) {
    int leader = -1;
    for (uint32_t i = 0; i < s->node_count; i++) {
        const struct sim_node *n = &s->nodes[i];
        if (n->up && n->role == ZAB_LEADING && n->established) {
            if (leader >= 0)
                return false;
            leader = (int)i;
        }
    }
    if (leader < 0)
        return false;
    struct zab_status ls;
    zab_status(s->nodes[leader].z, &ls);
    if (ls.commit_zxid != ls.last_zxid || ls.applied_zxid != ls.last_zxid)
        return false;
    for (uint32_t i = 0; i < s->node_count; i++) {
        const struct sim_node *n = &s->nodes[i];
        if (!n->up)
            continue;
        struct zab_status st;
        zab_status(n->z, &st);
        if (n->pend_count > 0 || st.applied_zxid != ls.last_zxid || !st.established ||
            st.leader != s->nodes[leader].sid || n->paused)
            return false;
    }
    for (uint32_t c = 0; c < s->p.clients; c++) {
        if (s->clients[c].waiting)
            return false;
    }
    if (leader_out != NULL)
        *leader_out = leader;
    return true;
}

bool sim_run_until_stable(struct sim *s, int64_t max_ms) {
    int64_t end = s->now + max_ms;
    while (!s->violated) {
        if (sim_is_stable(s, NULL))
            return true;
        if (s->heap_count == 0 || s->heap[0]->time > end)
            break;
        sim_step(s);
    }
    if (s->now < end && !s->violated)
        s->now = end;
    return false;
}

/* Scripted: submit one op and run until it is answered or max_ms passed.
 * Returns the client's last_result (1 ok, 2 indeterminate, 3 not leader). */
int sim_client_op_wait(struct sim *s, int ci, int op, int target, int64_t max_ms) {
    struct sim_client *c = &s->clients[ci];
    sim_client_submit(s, ci, op, target);
    int64_t end = s->now + max_ms;
    while (!s->violated && c->waiting && s->heap_count > 0 && s->heap[0]->time <= end)
        sim_step(s);
    if (c->waiting) {
        sim_client_abandon(c);
        c->seq++; /* ignore a late answer */
    }
    return c->last_result;
}

/* ---- one random run ---- */

static void sim_random_params(struct sim_rng *r, struct sim_params *p) {
    static const uint32_t voters[] = {1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 6, 7};
    static const uint32_t windows[] = {2, 4, 8, 32, 256};
    sim_default_params(p);
    p->voters = voters[sim_rng_below(r, ZK_ARRAY_LEN(voters))];
    p->observers = (uint32_t)sim_rng_below(r, 3);
    p->clients = 1 + (uint32_t)sim_rng_below(r, 4);
    p->tick_ms = 50 + (int64_t)sim_rng_below(r, 100);
    p->init_limit = 5 + (uint32_t)sim_rng_below(r, 10);
    p->sync_limit = 2 + (uint32_t)sim_rng_below(r, 6);
    p->finalize_wait = (uint32_t)sim_rng_below(r, 4);
    p->resend_min = 1 + (uint32_t)sim_rng_below(r, 3);
    p->resend_max = p->resend_min * (2 + (uint32_t)sim_rng_below(r, 8));
    p->window = windows[sim_rng_below(r, ZK_ARRAY_LEN(windows))];
    p->net_delay_max = 1 + (int64_t)sim_rng_below(r, 30);
    p->disk_delay_max = 1 + (int64_t)sim_rng_below(r, 20);
    p->crash_rst = sim_rng_chance(r, 0.5);
    p->client_timeout_ms = 2000 + (int64_t)sim_rng_below(r, 4000);
}

/* Stops every fault: heals the network, restarts crashed nodes, resumes paused ones. */
static void sim_heal_all(struct sim *s) {
    s->faults_on = false;
    sim_heal(s);
    s->p.conn_reset = 0;
    s->p.vote_loss = 0;
    s->p.eio = 0;
    for (uint32_t i = 0; i < s->node_count; i++) {
        struct sim_node *n = &s->nodes[i];
        n->crash_armed = false;
        n->paused = false;
        if (!n->up && !n->broken)
            sim_start_node(s, (int)i);
    }
    sim_trace(s, "heal: all faults stopped");
}

int sim_run_seed(uint64_t seed, bool verbose, uint64_t *trace_hash) {
    struct sim_rng cfg;
    sim_rng_seed(&cfg, seed ^ 0x5eedc0ffee);
    struct sim_params p;
    sim_random_params(&cfg, &p);
    int64_t fault_ms = 4000 + (int64_t)sim_rng_below(&cfg, 12000);
    struct sim *s = zk_xcalloc(1, sizeof(*s));
    sim_init(s, seed, &p);
    s->verbose = verbose;
    sim_current = s;
    for (uint32_t a = 0; a < s->node_count; a++) {
        for (uint32_t b = 0; b < s->node_count; b++)
            s->link_extra_ms[a][b] = (int64_t)sim_rng_below(&cfg, (uint64_t)p.net_delay_max + 1);
    }
    sim_trace(s, "seed 0x%" PRIx64 ": %u voters %u observers %u clients tick %" PRId64
                 " init %u sync %u window %u faults %" PRId64 "ms",
              seed, p.voters, p.observers, p.clients, p.tick_ms, p.init_limit, p.sync_limit,
              p.window, fault_ms);
    for (uint32_t i = 0; i < s->node_count; i++)
        sim_start_node(s, (int)i);
    for (uint32_t c = 0; c < p.clients; c++)
        sim_client_start(s, (int)c);
    s->faults_on = true;
    sim_ev_push(s, sim_ev_new(s, EV_NEMESIS, s->now + 500, -1));
    sim_run_for(s, fault_ms);
    if (!s->violated) {
        sim_heal_all(s);
        uint64_t acked = s->writes_acked;
        int64_t end = s->now + 60000;
        while (!s->violated && s->writes_acked == acked && s->now < end && sim_step(s)) {
        }
        if (!s->violated && s->writes_acked == acked)
            sim_violation(s, "liveness: no write committed within 60 s after the faults healed");
    }
    if (!s->violated) {
        for (uint32_t c = 0; c < p.clients; c++)
            s->clients[c].active = false;
        if (!sim_run_until_stable(s, 60000) && !s->violated)
            sim_violation(s, "liveness: the cluster did not settle within 60 s after healing");
    }
    if (!s->violated) {
        sim_check_converged(s);
        sim_check_all(s);
    }
    sim_trace(s, "end: %" PRIu64 " events, %" PRIu64 " writes acknowledged, %u committed",
              s->events, s->writes_acked, s->hist_count);
    int rc = s->violated ? 1 : 0;
    if (rc != 0 && !verbose) {
        fprintf(stderr, "seed 0x%" PRIx64 ": VIOLATION: %s\nlast events:\n", seed, s->violation);
        for (uint32_t k = 0; k < SIM_TRACE_RING; k++) {
            const char *line = s->ring[(s->ring_pos + k) % SIM_TRACE_RING];
            if (line[0] != 0)
                fprintf(stderr, "  %s\n", line);
        }
    }
    *trace_hash = s->trace_hash;
    sim_current = NULL;
    sim_deinit(s);
    zk_free(s);
    return rc;
}
