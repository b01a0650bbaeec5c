/* zmsg.h — the messages of ZooKeeper's quorum protocols, as the pure ZAB core
 * (zab.h) and election core (fle.h) see them: decoded structs, no bytes on the
 * wire. A later codec maps them 1:1 onto ZooKeeper's own encodings:
 *
 *   learner channel   QuorumPacket {int type; long zxid; buffer data; vector<Id> authinfo}
 *                     (zookeeper.jute). Where ZooKeeper puts a record in `data`
 *                     the decoded fields are here:
 *                       FOLLOWERINFO/OBSERVERINFO  data = LearnerInfo {long serverid;
 *                                                  int protocolVersion; long configVersion}
 *                                                  zxid = makeZxid(acceptedEpoch, 0)
 *                       LEADERINFO                 data = int protocolVersion,
 *                                                  zxid = makeZxid(newEpoch, 0)
 *                       ACKEPOCH                   data = int currentEpoch, zxid = last zxid
 *                       PROPOSAL/INFORM            data = the txn (TxnHeader + record)
 *                       SNAP                       the state image follows the packet
 *                       PING (learner -> leader)   data = session activity
 *   election channel  the FLE notification {int state; long leader; long zxid;
 *                     long electionEpoch; long peerEpoch; int version; config},
 *                     sender id from the connection.
 *
 * Ownership: every pointer in these structs is borrowed. A message handed to
 * zab_recv stays owned by the caller, who keeps its bytes valid until it has
 * drained the effects of that call (an effect may borrow them). */
#ifndef ZK_ZMSG_H
#define ZK_ZMSG_H

#include <stdbool.h>
#include <stdint.h>

#include "../base.h"

/* zxid = epoch << 32 | counter (base.h has ZXID_EPOCH / ZXID_COUNTER). */
#define ZXID_MAKE(epoch, counter)                                                                  \
    ((int64_t)(((uint64_t)(uint32_t)(epoch) << 32) | (uint64_t)(uint32_t)(counter)))

/* QuorumPacket types, values as Leader.java. */
enum zmsg_type {
    ZMSG_REQUEST = 1,
    ZMSG_PROPOSAL = 2,
    ZMSG_ACK = 3,
    ZMSG_COMMIT = 4,
    ZMSG_PING = 5,
    ZMSG_REVALIDATE = 6,
    ZMSG_SYNC = 7,
    ZMSG_INFORM = 8,
    ZMSG_COMMITANDACTIVATE = 9,
    ZMSG_NEWLEADER = 10,
    ZMSG_FOLLOWERINFO = 11,
    ZMSG_UPTODATE = 12,
    ZMSG_DIFF = 13,
    ZMSG_TRUNC = 14,
    ZMSG_SNAP = 15,
    ZMSG_OBSERVERINFO = 16,
    ZMSG_LEADERINFO = 17,
    ZMSG_ACKEPOCH = 18,
    ZMSG_INFORMANDACTIVATE = 19,
    ZMSG_TYPE_COUNT = 20,
};

/* Leader.java's protocol version for LEADERINFO / LearnerInfo (0x10000). */
#define ZMSG_PROTOCOL_VERSION 0x10000

struct zmsg {
    int32_t type;
    int64_t zxid;
    int64_t sid;              /* FOLLOWERINFO/OBSERVERINFO: LearnerInfo.serverid */
    int32_t protocol_version; /* FOLLOWERINFO/OBSERVERINFO/LEADERINFO */
    int64_t config_version;   /* FOLLOWERINFO/OBSERVERINFO */
    int32_t epoch;            /* ACKEPOCH: the learner's currentEpoch */
    const uint8_t *data;      /* PROPOSAL/INFORM: txn; SNAP: image; PING: sessions */
    uint32_t data_len;
    /* SNAP sent by the core: the driver attaches an image of its applied state,
     * which must be at exactly `zxid` when it handles the send effect. */
    bool attach_state;
    /* PING sent by a learner: the driver attaches its session activity. */
    bool attach_sessions;
};

/* QuorumPeer.ServerState ordinals, as carried in notifications. */
enum zpeer_state {
    ZPEER_LOOKING = 0,
    ZPEER_FOLLOWING = 1,
    ZPEER_LEADING = 2,
    ZPEER_OBSERVING = 3,
};

/* A vote: who should lead, and the (peerEpoch, zxid) the candidate reported.
 * Ordering (FastLeaderElection.totalOrderPredicate): peer_epoch, then zxid,
 * then leader id. */
struct zvote {
    int64_t leader;
    int64_t zxid;
    int64_t election_epoch;
    int64_t peer_epoch;
};

/* An election notification. */
struct fle_note {
    struct zvote vote;
    int32_t state; /* enum zpeer_state of the sender */
    int64_t sid;   /* sender */
    int32_t version;
};

/* Notification.CURRENTVERSION of ZooKeeper 3.5+. */
#define FLE_NOTE_VERSION 0x2

const char *zmsg_type_name(int32_t type);
const char *zpeer_state_name(int32_t state);

/* Is b the next zxid after a in one history? Within an epoch counters are
 * contiguous; a new epoch starts at counter 1. a == 0 is the empty history. */
static inline bool zxid_is_successor(int64_t a, int64_t b) {
    if (ZXID_EPOCH(b) == ZXID_EPOCH(a))
        return ZXID_COUNTER(b) == ZXID_COUNTER(a) + 1;
    return ZXID_EPOCH(b) > ZXID_EPOCH(a) && ZXID_COUNTER(b) == 1;
}

#endif
