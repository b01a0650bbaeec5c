#include "apply.h"

#include <string.h>

#include "base.h"
#include "err.h"
#include "mem.h"
#include "path.h"

void apply_result_init(struct apply_result *r) { memset(r, 0, sizeof(*r)); }

void apply_result_deinit(struct apply_result *r) {
    zk_free(r->one.path);
    for (uint32_t i = 0; i < r->op_count; i++)
        zk_free(r->ops[i].path);
    zk_free(r->ops);
    apply_result_init(r);
}

static void apply_deliver(void *ctx, struct watch_owner *owner, int32_t event, const char *path,
                          uint32_t len) {
    struct apply_env *env = ctx;
    env->on_event(env->ctx, owner, event, path, len, env->event_acl, env->event_zxid);
}

static void apply_trigger_node(struct apply_env *env, const char *path, uint32_t len,
                               int32_t event, const struct acl_list *acl, int64_t zxid) {
    env->event_acl = acl;
    env->event_zxid = zxid;
    watch_trigger_node(env->watches, path, len, event, apply_deliver, env);
}

/* Child watches of the parent of path (a node created or deleted). */
static void apply_trigger_children(struct apply_env *env, const struct tree_node *parent,
                                   const char *path, uint32_t len, int64_t zxid) {
    env->event_acl = tree_node_acl(env->tree, parent);
    env->event_zxid = zxid;
    watch_trigger_children(env->watches, path, path_parent_len(path, len), apply_deliver, env);
}

static void apply_create(struct apply_env *env, const struct txn *t, const struct txn_op *op,
                         struct apply_op_result *res) {
    int64_t owner = 0;
    if (op->type == TXN_CREATE_CONTAINER)
        owner = TREE_OWNER_CONTAINER;
    else if (op->type == TXN_CREATE_TTL)
        owner = tree_owner_for_ttl(op->ttl);
    else if (op->ephemeral)
        owner = t->client_id;
    struct tree_node *parent = tree_find_parent(env->tree, op->path, op->path_len);
    struct tree_node *n = tree_create_in(env->tree, parent, op->path, op->path_len, op->data,
                                         op->data_len, op->acl, owner, op->parent_cversion,
                                         t->zxid, t->time_ms);
    if (res != NULL) {
        res->path = zk_xstrndup(op->path, op->path_len);
        res->path_len = op->path_len;
        tree_node_stat(env->tree, n, &res->stat);
    }
    apply_trigger_node(env, op->path, op->path_len, WATCH_EVENT_CREATED,
                       tree_node_acl(env->tree, n), t->zxid);
    apply_trigger_children(env, parent, op->path, op->path_len, t->zxid);
}

/* Deletes the node at path (borrowed), if it is there, it has no children and,
 * when owner is not 0, that session owns it. Returns whether it did. */
static bool apply_delete_path(struct apply_env *env, const char *path, uint32_t len,
                              int64_t owner, int64_t zxid) {
    struct tree_node *parent = NULL;
    struct tree_node *n = tree_find_with_parent(env->tree, path, len, &parent);
    if (n == NULL || parent == NULL || tree_child_count(n) != 0 ||
        (owner != 0 && tree_node_owner(env->tree, n) != owner))
        return false;
    struct acl_list *acl = acl_ref(tree_node_acl(env->tree, n));
    tree_delete(env->tree, parent, n, len, zxid);
    apply_trigger_node(env, path, len, WATCH_EVENT_DELETED, acl, zxid);
    apply_trigger_children(env, parent, path, len, zxid);
    tree_acl_release(env->tree, acl); /* the deleted node's interned list */
    return true;
}

/* Replay only: is this op's effect impossible or already present? */
static bool apply_replay_skip(struct apply_env *env, const struct txn *t,
                              const struct txn_op *op) {
    switch (op->type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL: {
        struct tree_node *parent = tree_find_parent(env->tree, op->path, op->path_len);
        if (parent == NULL)
            return true;
        struct tree_node *n = tree_find(env->tree, op->path, op->path_len);
        if (n == NULL)
            return false;
        if (acl_is_unresolved(tree_node_acl(env->tree, n)) && op->acl != NULL)
            tree_set_acl(env->tree, n, op->acl, tree_node_raw(n).aversion); /* snap.c's stand-in */
        tree_raise_cversion(env->tree, parent, op->parent_cversion, t->zxid);
        return true;
    }
    case TXN_DELETE:
    case TXN_DELETE_CONTAINER: {
        struct tree_node *n = tree_find(env->tree, op->path, op->path_len);
        return n == NULL || tree_child_count(n) != 0;
    }
    case TXN_SET_DATA:
    case TXN_SET_ACL:
        return tree_find(env->tree, op->path, op->path_len) == NULL;
    default:
        return false;
    }
}

static void apply_op(struct apply_env *env, const struct txn *t, const struct txn_op *op,
                     struct apply_op_result *res) {
    if (env->replay && apply_replay_skip(env, t, op))
        return;
    if (res != NULL) {
        res->type = op->type;
        res->err = ZOO_OK;
    }
    switch (op->type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL:
        apply_create(env, t, op, res);
        break;
    case TXN_DELETE:
    case TXN_DELETE_CONTAINER: {
        bool deleted = apply_delete_path(env, op->path, op->path_len, 0, t->zxid);
        ZK_ASSERT(deleted); /* prepared: the node is there, without children */
        break;
    }
    case TXN_SET_DATA: {
        struct tree_node *n = tree_find(env->tree, op->path, op->path_len);
        ZK_ASSERT(n != NULL);
        tree_set_data(env->tree, n, op->data, op->data_len, op->version, t->zxid, t->time_ms);
        if (res != NULL)
            tree_node_stat(env->tree, n, &res->stat);
        apply_trigger_node(env, op->path, op->path_len, WATCH_EVENT_DATA_CHANGED,
                           tree_node_acl(env->tree, n),
                           t->zxid);
        break;
    }
    case TXN_SET_ACL: {
        struct tree_node *n = tree_find(env->tree, op->path, op->path_len);
        ZK_ASSERT(n != NULL);
        tree_set_acl(env->tree, n, op->acl, op->version);
        if (res != NULL)
            tree_node_stat(env->tree, n, &res->stat);
        break;
    }
    case TXN_CHECK:
        break;
    case TXN_ERROR:
        if (res != NULL)
            res->err = op->err;
        break;
    default:
        ZK_PANIC("apply: unexpected op type %d", op->type);
    }
}

static void apply_multi(struct apply_env *env, const struct txn *t, struct apply_result *res) {
    /* A multi that contains an error entry failed as a whole: ops before the
     * failure report OK (0), ops after it RUNTIMEINCONSISTENCY; nothing applies. */
    bool failed = false;
    for (uint32_t i = 0; i < t->op_count; i++)
        failed |= t->ops[i].type == TXN_ERROR;
    if (res != NULL) {
        res->ops = zk_xcalloc(t->op_count ? t->op_count : 1, sizeof(*res->ops));
        res->op_count = t->op_count;
    }
    bool post_failed = false;
    for (uint32_t i = 0; i < t->op_count; i++) {
        const struct txn_op *op = &t->ops[i];
        struct apply_op_result *r = res ? &res->ops[i] : NULL;
        if (op->type == TXN_ERROR)
            post_failed = true;
        if (failed) {
            if (r != NULL) {
                r->type = TXN_ERROR;
                r->err = op->type == TXN_ERROR ? op->err
                         : post_failed         ? ZOO_RUNTIMEINCONSISTENCY
                                               : ZOO_OK;
            }
            continue;
        }
        apply_op(env, t, op, r);
    }
}

static void apply_take_first(void *ctx, struct tree_node *n) {
    struct tree_node **out = ctx;
    if (*out == NULL && tree_child_count(n) == 0)
        *out = n;
}

static struct tree_node *apply_first_ephemeral(struct tree *t, int64_t owner) {
    struct tree_node *n = NULL;
    tree_for_each_ephemeral(t, owner, apply_take_first, &n);
    return n;
}

static void apply_close_session(struct apply_env *env, const struct txn *t) {
    const struct txn_op *op = &t->op;
    for (uint32_t i = 0; i < op->path_count; i++) {
        uint32_t len = (uint32_t)strlen(op->paths[i]);
        apply_delete_path(env, op->paths[i], len, t->client_id, t->zxid);
    }
    if (env->replay) {
        /* logs older than ZooKeeper 3.6 carry no path list: drop what is left */
        struct tree_node *n;
        while ((n = apply_first_ephemeral(env->tree, t->client_id)) != NULL) {
            uint32_t len;
            char *path = tree_node_path_dup(env->tree, n, &len);
            apply_delete_path(env, path, len, t->client_id, t->zxid);
            zk_free(path);
        }
    }
    struct session *s = session_find(env->sessions, t->client_id);
    if (s != NULL) {
        if (env->on_session_closed != NULL)
            env->on_session_closed(env->ctx, s);
        session_remove(env->sessions, s);
    }
}

void apply_txn(struct apply_env *env, const struct txn *t, struct apply_result *res) {
    ZK_ASSERT(env->tree != NULL && t != NULL);
    if (res != NULL) {
        res->one.type = t->type;
        res->one.err = ZOO_OK;
    }
    switch (t->type) {
    case TXN_MULTI:
        apply_multi(env, t, res);
        break;
    case TXN_CREATE_SESSION:
        session_add(env->sessions, t->client_id, t->op.timeout_ms, env->now_ms);
        break;
    case TXN_CLOSE_SESSION:
        apply_close_session(env, t);
        break;
    default:
        apply_op(env, t, &t->op, res ? &res->one : NULL);
        break;
    }
}
