/* read.h — requests answered from the applied tree without a txn (ZooKeeper
 * FinalRequestProcessor's read cases): exists, getData, getACL, getChildren(2),
 * getAllChildrenNumber, getEphemerals, multiRead, sync, whoAmI, addWatch,
 * checkWatches, removeWatches, setWatches(2). Reads register watches for the
 * calling connection. */
#ifndef ZK_READ_H
#define ZK_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "jute.h"
#include "tree.h"
#include "watch.h"

struct read_env {
    struct tree *tree;
    struct watch_mgr *watches;
    struct watch_owner *owner;   /* the calling connection's watches */
    const struct auth_set *auth; /* the calling connection's identities */
    int64_t session_id;
    uint32_t max_string;
    /* setWatches catch-up events, delivered before the reply. */
    void (*emit)(void *ctx, int32_t event, const char *path, uint32_t len);
    void *emit_ctx;
};

bool read_is_read(int32_t opcode);
/* Executes one read. Returns ZK_OK with *zrc set to the ZooKeeper result; on
 * ZOO_OK the reply body has been appended to out. Returns ZK_EPROTO when the
 * body cannot be decoded (the caller answers MARSHALLINGERROR). */
int read_request(struct read_env *env, int32_t opcode, const uint8_t *body, uint32_t len,
                 struct jute_buf *out, int *zrc);

#endif
