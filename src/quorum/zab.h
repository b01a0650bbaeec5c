/* zab.h — the ZAB core of one server: election (fle.h), discovery, sync and
 * broadcast for the leader, follower and observer roles, as a pure and
 * deterministic state machine in the style of etcd-io/raft.
 *
 * INPUTS are function calls: a received learner-channel message (zab_recv), a
 * received election notification (zab_recv_vote), a tick (zab_tick), a
 * connection outcome (zab_connected / zab_disconnected), a storage completion
 * (zab_storage_done), and requests from the server above (zab_propose,
 * zab_sync). OUTPUTS are effects, an ordered list the driver takes with
 * zab_effects() after every input call and then clears with zab_effects_done():
 * messages to send, storage work, committed txns to apply, role changes.
 * The core reads no clock, opens no socket or file, starts no thread and uses
 * no randomness; the same object runs in the server and in tests/sim.
 *
 * The driver's duties:
 *  - Execute effects in order. Storage effects that carry an op_id
 *    (LOG_SYNC, EPOCH_WRITE, SNAP_INSTALL) are completed with
 *    zab_storage_done(op_id) in the order they were issued, once durable:
 *    LOG_SYNC = every LOG_APPEND/LOG_TRUNCATE issued before it is on disk and
 *    fsynced; EPOCH_WRITE = the file is replaced atomically (temp file, fsync,
 *    rename, fsync of the directory); SNAP_INSTALL = the image is the node's
 *    durable state at zxid and the log holds nothing (older or newer).
 *  - A write or fsync error is fatal (reliability.md §5.6): stop the process;
 *    never report a failed op as done.
 *  - APPLY effects come in zxid order, each exactly once per incarnation.
 *  - A SEND of a SNAP (attach_state) gets the image of the applied state
 *    serialized while that effect is handled, before any later APPLY: its
 *    zxid and the stream queued after it were fixed in the same step
 *    (ZOOKEEPER-3104). A snapshot of the node's own state is likewise of
 *    applied (so committed) state, never of logged txns replayed into it
 *    (ZOOKEEPER-1549), and never while a SNAP_INSTALL is incomplete; at
 *    recovery, logged txns after the snapshot go to zab_create, not into the
 *    state.
 *  - Storage work survives role changes: the core waits for every op it
 *    issued before it votes again, so a driver must neither drop queued
 *    writes nor report them done unwritten when the role changes (4712).
 *  - Keep the learner channel FIFO per connection; after a connection is lost
 *    deliver nothing more from it and report zab_disconnected for it.
 *
 * Txns are opaque to the core: zxid plus the encoded bytes (txn.h's
 * txn_encode, which carries the zxid in its header).
 *
 * DURABILITY RULES (reliability.md §5), enforced by construction and asserted
 * in zab.c (zab_send and the storage completions):
 *  1. An ACK of a PROPOSAL leaves only when the proposal is durable; ACKEPOCH
 *     only when acceptedEpoch is durable; ACK(NEWLEADER) only when every sync
 *     txn and currentEpoch are durable.
 *  2. At NEWLEADER: the sync txns are fsynced, then currentEpoch is written,
 *     then ACK — each step is issued only on the completion of the previous.
 *  3. What we advertise (vote, FOLLOWERINFO, ACKEPOCH) is exactly what is
 *     durable: before a new election the core fsyncs what it changed without
 *     fsync (sync txns and a TRUNC of an interrupted sync) and waits until
 *     every storage op it issued is complete; meanwhile it neither votes nor
 *     answers votes (ZOOKEEPER-3642/4712/5094).
 *  4. Every log the core holds is gap-free (zxid_is_successor); a learner
 *     refuses a discontinuous PROPOSAL/INFORM as a protocol error, and a TRUNC
 *     to a point it does not hold or below what it applied.
 *  5. Only committed txns are applied, and only once durable locally; a
 *     snapshot image for SNAP is of applied state, so it is committed.
 *  6. Proposal ACKs are sent only after ACK(NEWLEADER) (ZOOKEEPER-4685).
 * An established leader holds every committed txn: it commits its whole
 * history only when a quorum has acknowledged NEWLEADER.
 *
 * Other choices worth knowing:
 *  - The sync decision (DIFF/TRUNC/SNAP) is made against the history C that a
 *    learner may treat as committed once we are established (our whole log
 *    before establishment, our commit point after). A learner holding more
 *    than C is truncated to C and gets the rest as PROPOSALs again; its ACKs
 *    of uncommitted proposals are forgotten on every re-sync or disconnect,
 *    and its ACK(NEWLEADER) counts for every proposal streamed before it.
 *  - ACKEPOCH always carries the learner's currentEpoch (ZooKeeper sends -1
 *    when the epoch was already accepted) and always counts.
 *  - A learner whose acceptedEpoch is above our epoch, or equal to it without
 *    it ever having ACKEPOCHed us (it accepted the same number from a leader
 *    attempt that failed), would refuse our LEADERINFO forever or accept one
 *    epoch from two leaders; the leader steps down instead, so the next
 *    discovery picks a larger epoch (ZooKeeper leaves that learner out).
 *  - A learner that decided to follow retries its connection every tick until
 *    initLimit (the leader may still be finishing its own election).
 *  - Once established (leader) or UPTODATE (learner), our election vote
 *    reports the new epoch as its peer epoch (ZOOKEEPER-1732).
 *  - The leader pings learners in broadcast every tick and steps down when
 *    fewer than a quorum of voters (itself included) were heard within
 *    syncLimit ticks; learners give up on a leader silent for syncLimit ticks
 *    (initLimit before UPTODATE). `sync` pings too and completes only when a
 *    quorum answered a PING sent after it — stock ZooKeeper does not do this
 *    (ZOOKEEPER-1675); PING zxids are left as ZooKeeper uses them. */
#ifndef ZK_ZAB_H
#define ZK_ZAB_H

#include <stdbool.h>
#include <stdint.h>

#include "fle.h"
#include "zmsg.h"

#define ZAB_PEERS_MAX FLE_PEERS_MAX

enum zab_role {
    ZAB_LOOKING = ZPEER_LOOKING,
    ZAB_FOLLOWING = ZPEER_FOLLOWING,
    ZAB_LEADING = ZPEER_LEADING,
    ZAB_OBSERVING = ZPEER_OBSERVING,
};

struct zab_config {
    int64_t id;
    const int64_t *voters; /* copied by zab_init */
    uint32_t voter_count;
    const int64_t *observers;
    uint32_t observer_count;
    uint32_t init_limit_ticks; /* discovery and sync (ZooKeeper initLimit) */
    uint32_t sync_limit_ticks; /* broadcast liveness (syncLimit) */
    uint32_t finalize_wait_ticks;
    uint32_t fle_resend_ticks_min;
    uint32_t fle_resend_ticks_max;
    uint32_t log_window_max; /* committed txns kept in memory for DIFF (committedLog) */
};

/* One txn of recovered history (borrowed; zab_init copies it). */
struct zab_entry_ref {
    int64_t zxid;
    const uint8_t *data;
    uint32_t len;
};

/* What the driver's recovery found on disk. */
struct zab_recovered {
    uint32_t accepted_epoch;
    uint32_t current_epoch;
    int64_t snap_zxid; /* the state the driver loaded is at this zxid (0: empty) */
    const struct zab_entry_ref *log; /* txns after snap_zxid, gap-free, in order */
    uint32_t log_count;
};

enum zab_effect_kind {
    ZAB_EFF_SEND = 1,     /* peer, conn, msg (data borrowed) */
    ZAB_EFF_VOTE,         /* peer, note */
    ZAB_EFF_CONNECT,      /* open a learner connection to peer; answer with
                           * zab_connected or zab_disconnected(peer, 0) */
    ZAB_EFF_CLOSE,        /* close connection conn to peer */
    ZAB_EFF_LOG_APPEND,   /* zxid, data: write the txn after the log's last */
    ZAB_EFF_LOG_TRUNCATE, /* zxid: drop every txn after zxid (durable at the next LOG_SYNC) */
    ZAB_EFF_LOG_SYNC,     /* op_id: fsync the log */
    ZAB_EFF_EPOCH_WRITE,  /* op_id, epoch_kind, epoch: replace acceptedEpoch/currentEpoch */
    ZAB_EFF_SNAP_INSTALL, /* op_id, zxid, data: replace the state with this image */
    ZAB_EFF_APPLY,        /* zxid, data: apply a committed txn */
    ZAB_EFF_ROLE,         /* role, leader, epoch, established */
    ZAB_EFF_SYNC_DONE,    /* sync_id, zxid: a sync request completed (or failed: zxid -1) */
    ZAB_EFF_SESSIONS,     /* peer, data: session activity from a learner's PING */
    ZAB_EFF_QUORUM,       /* quorum_kind, mask: a quorum decision was taken (for checkers) */
};

enum zab_epoch_kind { ZAB_EPOCH_ACCEPTED = 1, ZAB_EPOCH_CURRENT = 2 };

/* What a quorum decided: for checkers (observers must never be in the mask). */
enum zab_quorum_kind {
    ZAB_QUORUM_EPOCH = 1,  /* FOLLOWERINFO quorum fixed the new epoch */
    ZAB_QUORUM_ACKEPOCH,   /* ACKEPOCH quorum */
    ZAB_QUORUM_NEWLEADER,  /* ACK(NEWLEADER) quorum: leader established */
    ZAB_QUORUM_COMMIT,     /* proposal ACK quorum */
    ZAB_QUORUM_SYNC,       /* sync round */
};

/* Causes other than a message type (which is the cause of effects produced by
 * handling that message, including effects issued later when storage it
 * started completes). */
enum zab_cause {
    ZAB_CAUSE_TICK = 100,
    ZAB_CAUSE_VOTE,
    ZAB_CAUSE_PROPOSE,
    ZAB_CAUSE_SYNC_REQUEST,
    ZAB_CAUSE_CONNECTION,
    ZAB_CAUSE_STORAGE,
    ZAB_CAUSE_INIT,
};

struct zab_effect {
    int32_t kind;
    int32_t cause; /* enum zmsg_type or enum zab_cause */
    int64_t peer;
    uint64_t conn;
    struct zmsg msg;
    struct fle_note note;
    uint64_t op_id;
    int64_t zxid;
    const uint8_t *data; /* borrowed until zab_effects_done */
    uint32_t len;
    int32_t epoch_kind;
    uint32_t epoch;
    int32_t role;
    int64_t leader;
    bool established;
    uint64_t sync_id;
    int32_t quorum_kind;
    uint32_t mask; /* bit i = the i-th server of the config (voters, then observers) */
};

struct zab; /* private to zab.c */

/* Creates a core. Returns ZK_OK, ZK_EINVAL for a bad config, ZK_ECORRUPT if
 * the recovered state is inconsistent (acceptedEpoch < currentEpoch, a log
 * with a gap). The core starts LOOKING; its first effects (notifications) are
 * available at once. *out is owned: free with zab_destroy. */
int zab_create(struct zab **out, const struct zab_config *cfg, const struct zab_recovered *rec);
void zab_destroy(struct zab *z);

void zab_tick(struct zab *z);
/* A learner-channel message from peer on connection conn. Returns ZK_OK, or
 * ZK_EPROTO if it was illegal (the core then closed the connection). */
int zab_recv(struct zab *z, int64_t from, uint64_t conn, const struct zmsg *m);
void zab_recv_vote(struct zab *z, const struct fle_note *n);
void zab_connected(struct zab *z, int64_t peer, uint64_t conn);
/* conn 0: a CONNECT to peer failed. */
void zab_disconnected(struct zab *z, int64_t peer, uint64_t conn);
void zab_storage_done(struct zab *z, uint64_t op_id);

/* The zxid the next proposal must carry, or -1 if this server cannot propose
 * (not an established leader, or the epoch's counter is exhausted). */
int64_t zab_next_zxid(const struct zab *z);
/* Proposes a txn whose encoding carries zab_next_zxid(). data is copied.
 * Returns ZK_OK or ZK_EAGAIN (not an established leader). */
int zab_propose(struct zab *z, int64_t zxid, const uint8_t *data, uint32_t len);
/* A sync: completes (ZAB_EFF_SYNC_DONE) after a quorum of voters answered a
 * PING sent after this call and every txn proposed before it is applied
 * here. Returns ZK_EAGAIN if this server is not an established leader. */
int zab_sync(struct zab *z, uint64_t sync_id);

const struct zab_effect *zab_effects(const struct zab *z, uint32_t *count);
void zab_effects_done(struct zab *z);

/* Introspection (checkers, traces, mntr). */
struct zab_status {
    int32_t role;
    int64_t leader;
    uint32_t epoch; /* leader's epoch while LEADING/FOLLOWING/OBSERVING */
    bool established; /* leader: NEWLEADER quorum; learner: UPTODATE received */
    uint32_t accepted_epoch; /* durable */
    uint32_t current_epoch;  /* durable */
    int64_t last_zxid;       /* in memory */
    int64_t durable_zxid;
    int64_t commit_zxid;
    int64_t applied_zxid;
    int64_t log_base_zxid;
    uint32_t log_count;
    uint32_t pending_ops;
    int64_t election_epoch;
};
void zab_status(const struct zab *z, struct zab_status *out);
/* Does the in-memory log hold zxid? Sets *data and *len (borrowed). */
bool zab_log_get(const struct zab *z, int64_t zxid, const uint8_t **data, uint32_t *len);
const char *zab_role_name(int32_t role);

#endif
