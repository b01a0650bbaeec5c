/* zmsg.c — names of quorum message types and peer states (traces, logs). */
#include "zmsg.h"

/* A pure state machine: no clock, no randomness, no I/O, no threads. */
#pragma GCC poison time clock_gettime gettimeofday rand srand random open fopen read write
#pragma GCC poison socket connect send recv pthread_create fsync

const char *zmsg_type_name(int32_t type) {
    static const char *const names[ZMSG_TYPE_COUNT] = {
        [ZMSG_REQUEST] = "REQUEST",
        [ZMSG_PROPOSAL] = "PROPOSAL",
        [ZMSG_ACK] = "ACK",
        [ZMSG_COMMIT] = "COMMIT",
        [ZMSG_PING] = "PING",
        [ZMSG_REVALIDATE] = "REVALIDATE",
        [ZMSG_SYNC] = "SYNC",
        [ZMSG_INFORM] = "INFORM",
        [ZMSG_COMMITANDACTIVATE] = "COMMITANDACTIVATE",
        [ZMSG_NEWLEADER] = "NEWLEADER",
        [ZMSG_FOLLOWERINFO] = "FOLLOWERINFO",
        [ZMSG_UPTODATE] = "UPTODATE",
        [ZMSG_DIFF] = "DIFF",
        [ZMSG_TRUNC] = "TRUNC",
        [ZMSG_SNAP] = "SNAP",
        [ZMSG_OBSERVERINFO] = "OBSERVERINFO",
        [ZMSG_LEADERINFO] = "LEADERINFO",
        [ZMSG_ACKEPOCH] = "ACKEPOCH",
        [ZMSG_INFORMANDACTIVATE] = "INFORMANDACTIVATE",
    };
    if (type <= 0 || type >= ZMSG_TYPE_COUNT || names[type] == NULL)
        return "?";
    return names[type];
}

const char *zpeer_state_name(int32_t state) {
    switch (state) {
    case ZPEER_LOOKING:
        return "LOOKING";
    case ZPEER_FOLLOWING:
        return "FOLLOWING";
    case ZPEER_LEADING:
        return "LEADING";
    case ZPEER_OBSERVING:
        return "OBSERVING";
    default:
        return "?";
    }
}
