/* fle.c — fast leader election as a pure state machine (see fle.h). */
#include "fle.h"

#include <string.h>

/* A pure state machine: no clock, no randomness, no I/O, no threads. */
#pragma GCC poison time clock_gettime gettimeofday rand srand random open fopen read write
#pragma GCC poison socket connect send recv pthread_create fsync

static int fle_voter_index(const struct fle *f, int64_t sid) {
    for (uint32_t i = 0; i < f->voter_count; i++) {
        if (f->voters[i] == sid)
            return (int)i;
    }
    return -1;
}

void fle_init(struct fle *f, const struct fle_config *cfg) {
    ZK_ASSERT(cfg->voter_count > 0 && cfg->voter_count <= FLE_PEERS_MAX);
    ZK_ASSERT(cfg->resend_ticks_min > 0 && cfg->resend_ticks_min <= cfg->resend_ticks_max);
    memset(f, 0, sizeof(*f));
    f->id = cfg->id;
    memcpy(f->voters, cfg->voters, cfg->voter_count * sizeof(int64_t));
    f->voter_count = cfg->voter_count;
    f->is_observer = cfg->is_observer;
    f->finalize_wait_ticks = cfg->finalize_wait_ticks;
    f->resend_ticks_min = cfg->resend_ticks_min;
    f->resend_ticks_max = cfg->resend_ticks_max;
    f->state = ZPEER_LOOKING;
    /* An observer is never a voter; a voter always is one. */
    ZK_ASSERT((fle_voter_index(f, f->id) >= 0) == !f->is_observer);
}

bool fle_vote_better(const struct zvote *a, const struct zvote *cur) {
    if (a->peer_epoch != cur->peer_epoch)
        return a->peer_epoch > cur->peer_epoch;
    if (a->zxid != cur->zxid)
        return a->zxid > cur->zxid;
    return a->leader > cur->leader;
}

/* Vote.equals: LOOKING votes must match in every field; votes of servers that
 * left the election only in leader and peer epoch (ZOOKEEPER-1732). */
static bool fle_vote_agrees(const struct fle_slot *s, const struct zvote *v, int32_t v_state) {
    if (s->state == ZPEER_LOOKING || v_state == ZPEER_LOOKING) {
        return s->vote.leader == v->leader && s->vote.zxid == v->zxid &&
               s->vote.election_epoch == v->election_epoch &&
               s->vote.peer_epoch == v->peer_epoch;
    }
    return s->vote.leader == v->leader && s->vote.peer_epoch == v->peer_epoch;
}

static bool fle_has_quorum(const struct fle *f, const struct fle_slot *set, const struct zvote *v,
                           int32_t v_state) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->voter_count; i++) {
        if (set[i].has && fle_vote_agrees(&set[i], v, v_state))
            n++;
    }
    return 2 * n > f->voter_count;
}

static void fle_emit(struct fle *f, int64_t to, const struct zvote *v, int32_t state) {
    ZK_ASSERT(f->out_count < FLE_OUT_MAX);
    ZK_ASSERT(to != f->id);
    struct fle_out *o = &f->out[f->out_count++];
    o->to = to;
    o->note.vote = *v;
    o->note.state = state;
    o->note.sid = f->id;
    o->note.version = FLE_NOTE_VERSION;
}

/* sendNotifications: our proposal to every voter; our own copy goes straight
 * into the round's vote set (ZooKeeper loops it back through its queue). */
static void fle_send_all(struct fle *f) {
    ZK_ASSERT(f->state == ZPEER_LOOKING);
    ZK_ASSERT(f->proposal.election_epoch == f->logical_clock);
    for (uint32_t i = 0; i < f->voter_count; i++) {
        if (f->voters[i] == f->id) {
            f->recvset[i].has = true;
            f->recvset[i].state = ZPEER_LOOKING;
            f->recvset[i].vote = f->proposal;
            continue;
        }
        fle_emit(f, f->voters[i], &f->proposal, ZPEER_LOOKING);
    }
}

static void fle_check_round(struct fle *f);

void fle_start(struct fle *f, int64_t last_zxid, int64_t current_epoch) {
    ZK_ASSERT(last_zxid >= 0 && current_epoch >= 0);
    f->state = ZPEER_LOOKING;
    f->decided = false;
    f->logical_clock++;
    memset(f->recvset, 0, sizeof(f->recvset));
    memset(f->outofelection, 0, sizeof(f->outofelection));
    if (f->is_observer) {
        /* A vote that loses against every voter's (ZooKeeper: Long.MIN_VALUE). */
        f->init.leader = INT64_MIN;
        f->init.zxid = INT64_MIN;
        f->init.peer_epoch = INT64_MIN;
    } else {
        f->init.leader = f->id;
        f->init.zxid = last_zxid;
        f->init.peer_epoch = current_epoch;
    }
    f->init.election_epoch = f->logical_clock;
    f->proposal = f->init;
    f->finalize_at = 0;
    f->resend_ticks = f->resend_ticks_min;
    f->resend_at = f->now + f->resend_ticks;
    fle_send_all(f);
    fle_check_round(f);
}

static void fle_decide(struct fle *f, const struct zvote *v) {
    ZK_ASSERT(!f->decided);
    ZK_ASSERT(fle_voter_index(f, v->leader) >= 0);
    f->decided = true;
    f->proposal = *v;
    f->finalize_at = 0;
    if (v->leader == f->id)
        f->state = ZPEER_LEADING;
    else
        f->state = f->is_observer ? ZPEER_OBSERVING : ZPEER_FOLLOWING;
}

/* After our proposal or the vote set changed: arm or disarm the finalize wait. */
static void fle_check_round(struct fle *f) {
    if (!fle_has_quorum(f, f->recvset, &f->proposal, ZPEER_LOOKING)) {
        f->finalize_at = 0;
        return;
    }
    if (f->finalize_at != 0)
        return;
    if (f->finalize_wait_ticks == 0) {
        fle_decide(f, &f->proposal);
        return;
    }
    f->finalize_at = f->now + f->finalize_wait_ticks;
}

static void fle_update_proposal(struct fle *f, const struct zvote *v) {
    f->proposal = *v;
    f->proposal.election_epoch = f->logical_clock;
    if (v->leader == f->id) {
        /* A vote for us carries what someone last heard from us; we speak for
         * ourselves with what we hold durably now (it may be less, e.g. after
         * a wiped or damaged disk), never with a stale claim. */
        f->proposal.zxid = f->init.zxid;
        f->proposal.peer_epoch = f->init.peer_epoch;
    }
    f->finalize_at = 0; /* a changed proposal waits its own finalize period */
    fle_send_all(f);
}

static void fle_step_looking(struct fle *f, int vi, const struct fle_note *n) {
    if (n->vote.election_epoch > f->logical_clock) {
        f->logical_clock = n->vote.election_epoch;
        memset(f->recvset, 0, sizeof(f->recvset));
        f->init.election_epoch = f->logical_clock;
        fle_update_proposal(f, fle_vote_better(&n->vote, &f->init) ? &n->vote : &f->init);
    } else if (n->vote.election_epoch < f->logical_clock) {
        return;
    } else if (fle_vote_better(&n->vote, &f->proposal)) {
        fle_update_proposal(f, &n->vote);
    }
    f->recvset[vi].has = true;
    f->recvset[vi].state = ZPEER_LOOKING;
    f->recvset[vi].vote = n->vote;
    fle_check_round(f);
}

/* checkLeader: we must have heard the leader itself say LEADING, or be the
 * leader in the round that elected us. */
static bool fle_check_leader(const struct fle *f, const struct fle_slot *set, int64_t leader,
                             int64_t election_epoch) {
    if (leader == f->id)
        return f->logical_clock == election_epoch;
    int li = fle_voter_index(f, leader);
    return li >= 0 && set[li].has && set[li].state == ZPEER_LEADING;
}

static void fle_step_settled(struct fle *f, int vi, const struct fle_note *n) {
    if (n->vote.election_epoch == f->logical_clock) {
        f->recvset[vi].has = true;
        f->recvset[vi].state = n->state;
        f->recvset[vi].vote = n->vote;
        if (fle_has_quorum(f, f->recvset, &n->vote, n->state) &&
            fle_check_leader(f, f->recvset, n->vote.leader, n->vote.election_epoch)) {
            fle_decide(f, &n->vote);
            return;
        }
    }
    f->outofelection[vi].has = true;
    f->outofelection[vi].state = n->state;
    f->outofelection[vi].vote = n->vote;
    if (fle_has_quorum(f, f->outofelection, &n->vote, n->state) &&
        fle_check_leader(f, f->outofelection, n->vote.leader, n->vote.election_epoch)) {
        f->logical_clock = n->vote.election_epoch;
        fle_decide(f, &n->vote);
    }
}

void fle_step(struct fle *f, const struct fle_note *n) {
    if (n->sid == f->id)
        return;
    int vi = fle_voter_index(f, n->sid);
    if (vi < 0) {
        /* A non-voter (observer): answer with our vote, never record it. */
        if (!f->is_observer)
            fle_emit(f, n->sid, &f->proposal, f->state);
        return;
    }
    if (f->state != ZPEER_LOOKING) {
        if (n->state == ZPEER_LOOKING)
            fle_emit(f, n->sid, &f->proposal, f->state);
        return;
    }
    if (n->state == ZPEER_LOOKING && n->vote.election_epoch < f->logical_clock)
        fle_emit(f, n->sid, &f->proposal, ZPEER_LOOKING);
    if (fle_voter_index(f, n->vote.leader) < 0)
        return; /* proposes a non-voter */
    switch (n->state) {
    case ZPEER_LOOKING:
        fle_step_looking(f, vi, n);
        break;
    case ZPEER_FOLLOWING:
    case ZPEER_LEADING:
        fle_step_settled(f, vi, n);
        break;
    default:
        break; /* OBSERVING or unknown: ignored */
    }
}

void fle_tick(struct fle *f) {
    f->now++;
    if (f->state != ZPEER_LOOKING || f->decided)
        return;
    if (f->finalize_at != 0 && f->now >= f->finalize_at) {
        f->finalize_at = 0;
        if (fle_has_quorum(f, f->recvset, &f->proposal, ZPEER_LOOKING)) {
            fle_decide(f, &f->proposal);
            return;
        }
    }
    if (f->now >= f->resend_at) {
        fle_send_all(f);
        f->resend_ticks = f->resend_ticks * 2 > f->resend_ticks_max ? f->resend_ticks_max
                                                                    : f->resend_ticks * 2;
        f->resend_at = f->now + f->resend_ticks;
    }
}

bool fle_take_decision(struct fle *f, struct zvote *out) {
    if (!f->decided)
        return false;
    f->decided = false;
    *out = f->proposal;
    ZK_ASSERT(f->state != ZPEER_LOOKING);
    return true;
}

void fle_set_state(struct fle *f, int32_t state) {
    ZK_ASSERT(state >= ZPEER_LOOKING && state <= ZPEER_OBSERVING);
    f->state = state;
}

void fle_clear_out(struct fle *f) { f->out_count = 0; }

void fle_set_peer_epoch(struct fle *f, int64_t epoch) {
    ZK_ASSERT(f->state != ZPEER_LOOKING);
    ZK_ASSERT(epoch >= f->proposal.peer_epoch);
    f->proposal.peer_epoch = epoch;
}
