/* fle.h — fast leader election (ZooKeeper FastLeaderElection) as a pure,
 * deterministic state machine.
 *
 * Inputs: fle_start (enter LOOKING with our durable vote), fle_step (a received
 * notification), fle_tick (logical time). Outputs: notifications to send, left
 * in f->out[] for the owner to drain after every call, and a decision
 * (fle_decided) once this server knows who leads. No clock, no I/O, no
 * randomness: time is ticks, and the finalize wait and resend back-off are
 * counted in ticks.
 *
 * Semantics follow ZooKeeper:
 *  - votes are ordered by peer epoch, then zxid, then server id;
 *  - the election epoch (logical clock) rises by one per round; a notification
 *    from a later round resets our round, one from an earlier round is answered
 *    with our vote and otherwise ignored;
 *  - a proposal backed by a quorum of voters ends the round once no better
 *    notification arrived for finalize_wait_ticks;
 *  - FOLLOWING/LEADING notifications let a late server join: a quorum agreeing
 *    on (leader, peer epoch), including the leader's own LEADING notification;
 *  - observers send notifications with a vote that can never win, never count
 *    toward any quorum (their notifications are answered, not recorded), and
 *    decide only on a quorum of voters;
 *  - a server that is not LOOKING answers a LOOKING notification with its
 *    current vote and state.
 *
 * ZAB-INVARIANT: the vote we propose for ourselves (zxid, peer epoch) is what
 * the caller passed to fle_start; the caller passes durable values only. */
#ifndef ZK_FLE_H
#define ZK_FLE_H

#include <stdbool.h>
#include <stdint.h>

#include "zmsg.h"

/* Voters plus observers in one ensemble (ZooKeeper allows more; the core keeps
 * per-peer state in fixed arrays and quorum sets in 32-bit masks). */
#define FLE_PEERS_MAX 32
/* Notifications one call can produce: one per voter, plus one answer. */
#define FLE_OUT_MAX (FLE_PEERS_MAX + 1)

struct fle_config {
    int64_t id;
    const int64_t *voters; /* borrowed during fle_init (copied) */
    uint32_t voter_count;
    bool is_observer;
    uint32_t finalize_wait_ticks;
    uint32_t resend_ticks_min; /* notification timeout, doubled on each expiry */
    uint32_t resend_ticks_max;
};

struct fle_out {
    int64_t to;
    struct fle_note note;
};

struct fle_slot {
    bool has;
    int32_t state;
    struct zvote vote;
};

struct fle {
    int64_t id;
    int64_t voters[FLE_PEERS_MAX];
    uint32_t voter_count;
    bool is_observer;
    uint32_t finalize_wait_ticks;
    uint32_t resend_ticks_min;
    uint32_t resend_ticks_max;

    int32_t state;         /* enum zpeer_state of this server */
    int64_t logical_clock; /* election epoch of the current round */
    struct zvote init;     /* our own vote: id, durable last zxid, current epoch */
    struct zvote proposal; /* while LOOKING; the final vote otherwise */
    struct fle_slot recvset[FLE_PEERS_MAX];       /* this round, by voter index */
    struct fle_slot outofelection[FLE_PEERS_MAX]; /* FOLLOWING/LEADING votes */
    uint64_t now;
    uint64_t finalize_at; /* 0: not armed */
    uint64_t resend_at;
    uint32_t resend_ticks;
    bool decided;

    struct fle_out out[FLE_OUT_MAX];
    uint32_t out_count;
};

void fle_init(struct fle *f, const struct fle_config *cfg);
/* Begins a new round (LOOKING). last_zxid and current_epoch must be durable. */
void fle_start(struct fle *f, int64_t last_zxid, int64_t current_epoch);
/* Handles one notification. Notifications from unknown senders are ignored. */
void fle_step(struct fle *f, const struct fle_note *n);
void fle_tick(struct fle *f);
/* After a decision: true once, with the final vote. The caller then moves the
 * server to the role and tells fle with fle_set_state. */
bool fle_take_decision(struct fle *f, struct zvote *out);
/* The server's role changed outside the election (e.g. it lost its leader):
 * replies to LOOKING peers carry this state. */
void fle_set_state(struct fle *f, int32_t state);
void fle_clear_out(struct fle *f);
/* The epoch this server now serves in (leader established, or learner
 * UPTODATE): our vote reports it as its peer epoch, so every member of a
 * stable ensemble reports the same (leader, peer epoch) to servers that join
 * later (ZOOKEEPER-1732 / 1818; without it a joiner can wait forever). */
void fle_set_peer_epoch(struct fle *f, int64_t epoch);

/* totalOrderPredicate: is vote (id, zxid, peer_epoch) a better than cur? */
bool fle_vote_better(const struct zvote *a, const struct zvote *cur);

#endif
