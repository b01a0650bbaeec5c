/* apply.h — txn -> tree mutation + watch triggers (ZooKeeper DataTree.processTxn
 * and the session parts of ZooKeeperServer.processTxn).
 *
 * Deterministic and infallible: prep validated the txn against exactly the
 * state apply sees, so a failure here is a broken invariant (ZK_ASSERT), and
 * OOM panics. Results are returned for building replies. */
#ifndef ZK_APPLY_H
#define ZK_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "session.h"
#include "tree.h"
#include "txn.h"
#include "watch.h"

struct apply_op_result {
    int32_t type; /* txn type of the op, TXN_ERROR for an error entry */
    int32_t err;
    char *path; /* owned copy (creates), or NULL */
    uint32_t path_len;
    struct zk_stat stat; /* creates, setData, setACL */
};

struct apply_result {
    struct apply_op_result one; /* non-multi txns */
    struct apply_op_result *ops; /* multi: owned array */
    uint32_t op_count;
};

/* Called for each watch delivery: the owner, the event and the ACL of the node
 * that fired it (for the READ filter), and the txn zxid. */
typedef void apply_event_fn(void *ctx, struct watch_owner *owner, int32_t event,
                            const char *path, uint32_t path_len, const struct acl_list *acl,
                            int64_t zxid);
/* Called before a session is removed (closeSession applied). */
typedef void apply_session_fn(void *ctx, struct session *s);

struct apply_env {
    struct tree *tree;
    struct session_table *sessions;
    struct watch_mgr *watches;
    apply_event_fn *on_event;
    apply_session_fn *on_session_closed;
    void *ctx;
    int64_t now_ms; /* monotonic clock, for session buckets */
    /* Recovery: replaying the log over a snapshot. ZooKeeper's snapshots are
     * fuzzy (taken while txns apply), so a replayed txn may find its effect
     * already there: a create of an existing node only raises the parent's
     * cversion/pzxid, and an op on a missing node is skipped, as ZooKeeper's
     * own replay (FileTxnSnapLog.processTransaction) does. */
    bool replay;
    /* internal: the event being delivered */
    const struct acl_list *event_acl;
    int64_t event_zxid;
};

void apply_txn(struct apply_env *env, const struct txn *t, struct apply_result *res);
void apply_result_init(struct apply_result *r);
void apply_result_deinit(struct apply_result *r);

#endif
