/* server_int.h — server internals shared by server.c and fourlw.c only. */
#ifndef ZK_SERVER_INT_H
#define ZK_SERVER_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "config.h"
#include "jute.h"
#include "map.h"
#include "pollwait.h"
#include "prep.h"
#include "queue.h"
#include "session.h"
#include "store.h"
#include "tree.h"
#include "txn.h"
#include "watch.h"

enum conn_state {
    CONN_HANDSHAKE,  /* waiting for ConnectRequest or a four-letter word */
    CONN_CONNECTING, /* session create/resume in flight */
    CONN_ACTIVE,
};

struct latency {
    int64_t min_ms, max_ms, sum_ms;
    uint64_t count;
};

/* One queued client request. Owned by its connection's request queue. */
struct req {
    struct queue link;
    int32_t xid;
    int32_t opcode;
    uint8_t *body; /* owned copy of the request body */
    uint32_t body_len;
    bool is_write;
    bool started;
    bool done;
    bool close_after; /* close the connection once this reply is sent */
    int32_t err;
    int64_t zxid;           /* reply header zxid */
    struct jute_buf reply;  /* reply body (no header) */
    struct pending *pending; /* while a txn for it is in the commit queue */
    int64_t start_ms;
    /* handshake */
    int32_t timeout_ms;
    int64_t session_id;
    bool has_readonly;
};

struct conn_ip; /* per-address connection counter */

struct conn {
    struct queue link; /* server->conns */
    struct queue hs_link; /* server->handshaking, while in CONN_HANDSHAKE */
    struct queue dirty_link; /* server->dirty, while `dirty` */
    bool dirty; /* output, leftover frames or death to handle before sleeping */
    struct server *srv;
    int fd;
    char ip[64];
    uint16_t port;
    struct conn_ip *ipc;
    enum conn_state state;
    struct jute_buf in;
    uint32_t in_off;
    struct jute_buf out;
    uint32_t out_off;
    struct queue reqs; /* struct req, in arrival order */
    uint32_t req_count;
    uint32_t pending_writes;
    struct session *session;
    int64_t session_id;
    int32_t timeout_ms;
    struct auth_set auth;
    struct watch_owner watches;
    bool dead;          /* closed; freed at the end of the loop iteration */
    bool close_after_flush;
    bool overflow;      /* output over the hard limit: drop at the next flush */
    bool epoll_in, epoll_out;
    bool is_fourlw;
    int64_t established_ms; /* wall clock */
    int64_t hs_deadline_ms;
    uint64_t packets_received, packets_sent;
    int64_t last_cxid, last_zxid, last_resp_ms;
    char last_op[8];
    struct latency lat;
};

/* A txn in the commit queue, with the request it answers (if any). */
struct pending {
    struct queue link;
    struct txn txn;
    struct req *req;   /* NULL for internal txns or when the client went away */
    struct conn *conn; /* conn of req */
};

struct server {
    struct config cfg;
    int epfd;
    struct poll_wait poll; /* how the loop waits on epfd */
    int listen_fd;
    volatile sig_atomic_t stop;
    struct tree tree;
    struct session_table sessions;
    struct watch_mgr watches;
    struct prep prep;
    struct queue conns;
    struct queue handshaking;
    /* Connections with something for server_before_sleep (output to flush,
     * frames left in their input, closed and to be freed): the loop's per-turn
     * work is proportional to them, not to every idle client. */
    struct queue dirty;
    bool recheck_all; /* global backpressure lifted: every connection re-checks */
    struct map ips;
    uint32_t conn_count;
    struct queue commit; /* struct pending, in zxid order */
    uint32_t commit_count;
    int64_t next_zxid; /* last zxid assigned */
    int64_t last_zxid; /* last zxid applied */
    uint32_t outstanding; /* queued requests over all connections */
    bool input_backlog;   /* some connection has parsable frames left: do not sleep */
    uint32_t reader_run;  /* readable events in a row from one connection */
    int64_t reader_run_start_ms; /* when that run began */
    int64_t start_ms;
    int64_t next_container_check_ms;
    struct latency lat;
    uint64_t packets_received, packets_sent;
    uint64_t auth_failed;
    char super_user[256]; /* "super" digest user of cfg.super_digest */
    struct store *store;  /* NULL once closed at shutdown */
    struct store_recovery recovery;
    volatile sig_atomic_t snapshot_requested; /* SIGUSR1 */
    int64_t snapshots_started;
    int64_t store_poll_ms; /* when store_poll wants to run next */
};

/* Monotonic and wall clocks in milliseconds. */
int64_t server_mono_ms(void);
int64_t server_wall_ms(void);

/* Four-letter words (fourlw.c): recognises the first 4 bytes of a connection.
 * Returns true if `word` is a known command; then the text answer has been
 * appended to out. */
bool fourlw_is_command(const char *word);
void fourlw_run(struct server *s, struct conn *c, const char *word, struct jute_buf *out);

#endif
