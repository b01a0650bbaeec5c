/* prep.h — request -> txn (ZooKeeper PrepRequestProcessor).
 *
 * Validation, ACL and version checks, sequence suffixes and ephemeral owners
 * are decided here, against the tree *plus* the outstanding changes of txns
 * that were prepped but not yet applied (so a pipeline of writes, or the ops of
 * one multi, see each other's effects). A request always yields a txn: a
 * failed one becomes an error txn, as in ZooKeeper (it consumes a zxid).
 *
 * prep borrows the tree and session table; it owns its change records. */
#ifndef ZK_PREP_H
#define ZK_PREP_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "jute.h"
#include "map.h"
#include "queue.h"
#include "session.h"
#include "tree.h"
#include "txn.h"

struct prep {
    struct tree *tree;
    struct session_table *sessions;
    struct map changes; /* path -> struct prep_change */
    struct queue fifo;  /* change records by zxid of their last change */
    bool extended_types;
    bool reconfig_enabled;
    struct prep_undo *undo; /* multi rollback log */
    uint32_t undo_count;
    uint32_t undo_cap;
    bool in_multi;
};

struct prep_input {
    int64_t session_id; /* 0 for server-internal requests */
    int32_t cxid;
    int32_t opcode;
    const uint8_t *body; /* borrowed request body (after the header) */
    uint32_t body_len;
    uint32_t max_string; /* jute.maxbuffer: bound for strings/buffers */
    const struct auth_set *auth; /* borrowed; NULL for internal requests */
    int64_t zxid;
    int64_t time_ms;
};

void prep_init(struct prep *p, struct tree *t, struct session_table *s, bool extended_types);
void prep_deinit(struct prep *p);

#define PREP_OP_RECONFIG 16

/* Opcodes that become txns: create, create2, createContainer, createTTL,
 * delete, setData, setACL, multi, closeSession, deleteContainer (internal),
 * reconfig (always an error txn in standalone). */
bool prep_is_write(int32_t opcode);
/* Fills out (which must be txn_init'ed). */
void prep_request(struct prep *p, const struct prep_input *in, struct txn *out);
void prep_create_session(struct prep *p, int64_t session_id, int32_t timeout_ms, int64_t zxid,
                         int64_t time_ms, struct txn *out);
/* Forget change records whose last change is at or before zxid (applied). */
void prep_applied(struct prep *p, int64_t zxid);
uint32_t prep_outstanding(const struct prep *p);

#endif
