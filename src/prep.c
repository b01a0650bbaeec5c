#include "prep.h"

#include <stdio.h>
#include <string.h>

#include "base.h"
#include "err.h"
#include "limits.h"
#include "mem.h"
#include "path.h"

/* The state of one path as all outstanding txns leave it (ZooKeeper ChangeRecord). */
struct prep_change {
    struct map_entry link;
    struct queue fifo_link;
    char *path;
    uint32_t len;
    int64_t zxid;
    bool exists;
    struct tree_stat stat;
    int32_t num_children;
    struct acl_list *acl; /* reference held when exists */
};

/* Multi rollback: the record's previous state (or "no record"). */
struct prep_undo {
    char *path;
    uint32_t len;
    bool had_record;
    struct prep_change saved;
};

/* A read-only view of a path: from a change record or the tree. */
struct prep_view {
    bool exists;
    struct tree_stat stat;
    int32_t num_children;
    struct acl_list *acl; /* borrowed */
};

void prep_init(struct prep *p, struct tree *t, struct session_table *s, bool extended_types) {
    memset(p, 0, sizeof(*p));
    p->tree = t;
    p->sessions = s;
    p->extended_types = extended_types;
    map_init(&p->changes);
    queue_init(&p->fifo);
}

static void prep_change_free(struct prep *p, struct prep_change *c) {
    map_remove(&p->changes, &c->link);
    queue_remove(&c->fifo_link);
    tree_acl_release(p->tree, c->acl); /* may be a node's interned list */
    zk_free(c->path);
    zk_free(c);
}

void prep_deinit(struct prep *p) {
    while (!queue_empty(&p->fifo))
        prep_change_free(p, QUEUE_DATA(queue_head(&p->fifo), struct prep_change, fifo_link));
    map_deinit(&p->changes);
    zk_free(p->undo);
}

uint32_t prep_outstanding(const struct prep *p) { return p->changes.count; }

bool prep_is_write(int32_t opcode) {
    switch (opcode) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL:
    case TXN_DELETE:
    case TXN_SET_DATA:
    case TXN_SET_ACL:
    case TXN_MULTI:
    case TXN_CLOSE_SESSION:
    case TXN_DELETE_CONTAINER:
    case PREP_OP_RECONFIG:
        return true;
    default:
        return false;
    }
}

static struct prep_change *prep_change_find(const struct prep *p, const char *path,
                                            uint32_t len) {
    struct map_entry *e = map_find(&p->changes, path, len);
    return e ? zk_container_of(e, struct prep_change, link) : NULL;
}

static bool prep_lookup(const struct prep *p, const char *path, uint32_t len,
                        struct prep_view *v) {
    struct prep_change *c = prep_change_find(p, path, len);
    if (c != NULL) {
        v->exists = c->exists;
        v->stat = c->stat;
        v->num_children = c->num_children;
        v->acl = c->acl;
        return c->exists;
    }
    struct tree_node *n = tree_find(p->tree, path, len);
    if (n == NULL) {
        v->exists = false;
        return false;
    }
    v->exists = true;
    tree_node_persisted(p->tree, n, &v->stat);
    v->num_children = (int32_t)tree_child_count(n);
    v->acl = tree_node_acl(p->tree, n);
    return true;
}

static void prep_undo_push(struct prep *p, const char *path, uint32_t len,
                           struct prep_change *c) {
    if (p->undo_count == p->undo_cap) {
        p->undo_cap = p->undo_cap ? p->undo_cap * 2 : 8;
        p->undo = zk_xrealloc(p->undo, p->undo_cap * sizeof(*p->undo));
    }
    struct prep_undo *u = &p->undo[p->undo_count++];
    u->path = zk_xstrndup(path, len);
    u->len = len;
    u->had_record = c != NULL;
    if (c != NULL) {
        u->saved = *c;
        if (c->acl != NULL)
            acl_ref(c->acl);
    }
}

/* Records the new state of a path at zxid. acl is borrowed (a reference is taken). */
static void prep_record(struct prep *p, const char *path, uint32_t len, int64_t zxid,
                        const struct prep_view *v) {
    struct prep_change *c = prep_change_find(p, path, len);
    if (p->in_multi)
        prep_undo_push(p, path, len, c);
    if (c == NULL) {
        c = zk_xcalloc(1, sizeof(*c));
        c->path = zk_xstrndup(path, len);
        c->len = len;
        map_insert(&p->changes, &c->link, c->path, len);
        queue_init(&c->fifo_link);
    } else {
        queue_remove(&c->fifo_link);
    }
    queue_insert_tail(&p->fifo, &c->fifo_link);
    struct acl_list *old = c->acl;
    c->zxid = zxid;
    c->exists = v->exists;
    c->stat = v->stat;
    c->num_children = v->num_children;
    c->acl = v->exists && v->acl ? acl_ref(v->acl) : NULL;
    tree_acl_release(p->tree, old);
}

static void prep_undo_clear(struct prep *p) {
    for (uint32_t i = 0; i < p->undo_count; i++) {
        zk_free(p->undo[i].path);
        if (p->undo[i].had_record)
            tree_acl_release(p->tree, p->undo[i].saved.acl);
    }
    p->undo_count = 0;
}

static void prep_rollback(struct prep *p) {
    while (p->undo_count > 0) {
        struct prep_undo *u = &p->undo[--p->undo_count];
        struct prep_change *c = prep_change_find(p, u->path, u->len);
        ZK_ASSERT(c != NULL);
        if (!u->had_record) {
            prep_change_free(p, c);
        } else {
            tree_acl_release(p->tree, c->acl);
            c->zxid = u->saved.zxid;
            c->exists = u->saved.exists;
            c->stat = u->saved.stat;
            c->num_children = u->saved.num_children;
            c->acl = u->saved.acl; /* the undo entry's reference moves back */
        }
        zk_free(u->path);
    }
}

void prep_applied(struct prep *p, int64_t zxid) {
    while (!queue_empty(&p->fifo)) {
        struct prep_change *c = QUEUE_DATA(queue_head(&p->fifo), struct prep_change, fifo_link);
        if (c->zxid > zxid)
            break;
        prep_change_free(p, c);
    }
}

/* ---- checks shared by the ops ---- */

static int prep_check_session(const struct prep *p, int64_t session_id) {
    if (session_id == 0)
        return ZOO_OK; /* server-internal request */
    struct session *s = session_find(p->sessions, session_id);
    return (s == NULL || s->closing) ? ZOO_SESSIONEXPIRED : ZOO_OK;
}

static bool prep_acl_ok(const struct prep_input *in, const struct acl_list *acl, int32_t perm) {
    if (in->auth == NULL)
        return true; /* internal requests bypass ACLs, as ZooKeeper's ContainerManager */
    return acl_check(acl, perm, in->auth);
}

static int prep_check_version(int32_t current, int32_t expected, int32_t *next) {
    if (expected != -1 && expected != current)
        return ZOO_BADVERSION;
    /* ZOOKEEPER-4743: wrapping from INT32_MAX must skip -1 ("any version"). */
    *next = (int32_t)((uint32_t)current + 1u);
    if (*next == -1)
        *next = 0;
    return ZOO_OK;
}

/* Copies a borrowed path into op (NUL-terminated). */
static void prep_set_path(struct txn_op *op, const char *path, uint32_t len) {
    op->path = zk_xstrndup(path, len);
    op->path_len = len;
}

static void prep_set_data(struct txn_op *op, struct jute_bytes d) {
    op->data_len = d.len;
    if (d.len > 0) {
        op->data = zk_xmalloc((size_t)d.len);
        memcpy(op->data, d.p, (size_t)d.len);
    }
}

/* parent path of a path that has a '/' ("/a" -> "/", ZooKeeper's "" root). */
static uint32_t prep_parent_len(const char *path, uint32_t len, uint32_t last_slash) {
    ZK_UNUSED(path);
    ZK_UNUSED(len);
    return last_slash == 0 ? 1 : last_slash;
}

static bool prep_last_slash(const char *path, uint32_t len, uint32_t *out) {
    for (uint32_t i = len; i > 0; i--) {
        if (path[i - 1] == '/') {
            *out = i - 1;
            return true;
        }
    }
    return false;
}

/* ---- create ---- */

struct prep_create_req {
    struct jute_bytes path, data;
    struct acl_list *acl; /* owned (decoded) */
    int32_t flags;
    int64_t ttl;
};

static int prep_create_mode(int32_t flags, bool *ephemeral, bool *sequential, bool *container,
                            bool *ttl) {
    *ephemeral = *sequential = *container = *ttl = false;
    switch (flags) {
    case 0:
        break;
    case 1:
        *ephemeral = true;
        break;
    case 2:
        *sequential = true;
        break;
    case 3:
        *ephemeral = *sequential = true;
        break;
    case 4:
        *container = true;
        break;
    case 5:
        *ttl = true;
        break;
    case 6:
        *ttl = *sequential = true;
        break;
    default:
        return ZOO_BADARGUMENTS;
    }
    return ZOO_OK;
}

static int prep_create(struct prep *p, const struct prep_input *in, int32_t type,
                       const struct prep_create_req *rq, struct txn_op *op) {
    bool ephemeral, sequential, container, is_ttl;
    int rc = prep_create_mode(rq->flags, &ephemeral, &sequential, &container, &is_ttl);
    if (rc != ZOO_OK)
        return rc;
    /* As ZooKeeper: the opcode, not the flags, makes a container (opcode 19
     * with flags 0 still creates one; opcode 1/15 with flags 4 a plain node). */
    container = type == TXN_CREATE_CONTAINER;
    if (is_ttl && !p->extended_types)
        return ZOO_UNIMPLEMENTED;
    if (is_ttl ? (rq->ttl <= 0 || rq->ttl > ZK_LIMIT_TTL_MS_MAX) : rq->ttl >= 0)
        return ZOO_BADARGUMENTS;
    /* A createTTL whose mode is not a TTL mode would make a CreateTTLTxn without
     * a valid TTL, which ZooKeeper's own apply cannot process: refuse it here. */
    if (type == TXN_CREATE_TTL && !is_ttl)
        return ZOO_BADARGUMENTS;
    if ((rc = prep_check_session(p, in->session_id)) != ZOO_OK)
        return rc;
    const char *path = (const char *)rq->path.p;
    uint32_t len = rq->path.len > 0 ? (uint32_t)rq->path.len : 0;
    uint32_t slash;
    if (rq->path.len < 0)
        return ZOO_MARSHALLINGERROR; /* ZooKeeper fails on a null path this way */
    if (path == NULL || !prep_last_slash(path, len, &slash) || path_has_nul(path, len))
        return ZOO_BADARGUMENTS;
    struct acl_list *acl = NULL;
    static const struct auth_set no_auth = {0};
    rc = acl_fixup(rq->acl, in->auth ? in->auth : &no_auth, &acl);
    if (rc != ZOO_OK)
        return rc;
    struct prep_view parent;
    uint32_t plen = prep_parent_len(path, len, slash);
    if (!prep_lookup(p, path, plen, &parent)) {
        acl_unref(acl);
        return ZOO_NONODE;
    }
    if (!prep_acl_ok(in, parent.acl, ACL_CREATE)) {
        acl_unref(acl);
        return ZOO_NOAUTH;
    }
    /* Sequential suffix: the parent's create counter, printf %010d. */
    uint32_t flen = len + (sequential ? 11 : 0);
    char *fpath = zk_xmalloc(flen + 1);
    memcpy(fpath, path, len);
    if (sequential)
        flen = len + (uint32_t)snprintf(fpath + len, 12, "%010d", parent.stat.cversion);
    fpath[flen] = '\0';
    struct prep_view node;
    if (!path_valid(fpath, flen))
        rc = ZOO_BADARGUMENTS;
    else if (prep_lookup(p, fpath, flen, &node))
        rc = ZOO_NODEEXISTS;
    else if (tree_owner_kind(parent.stat.ephemeral_owner) == TREE_EPHEMERAL)
        rc = ZOO_NOCHILDRENFOREPHEMERALS;
    if (rc != ZOO_OK) {
        zk_free(fpath);
        acl_unref(acl);
        return rc;
    }
    int32_t new_cversion = (int32_t)((uint32_t)parent.stat.cversion + 1u);
    int64_t owner = container ? TREE_OWNER_CONTAINER
                    : is_ttl  ? tree_owner_for_ttl(rq->ttl)
                    : ephemeral ? in->session_id
                                : 0;
    op->type = type;
    op->path = fpath;
    op->path_len = flen;
    prep_set_data(op, rq->data);
    op->acl = acl;
    op->ephemeral = ephemeral;
    op->parent_cversion = new_cversion;
    op->ttl = is_ttl ? rq->ttl : 0;
    /* Outstanding changes: parent gains a child, the node exists. */
    parent.num_children++;
    parent.stat.cversion = new_cversion;
    parent.stat.pzxid = in->zxid;
    prep_record(p, path, plen, in->zxid, &parent);
    struct prep_view nv = {.exists = true, .num_children = 0, .acl = acl};
    nv.stat = (struct tree_stat){.czxid = in->zxid, .mzxid = in->zxid, .ctime = in->time_ms,
                                 .mtime = in->time_ms, .ephemeral_owner = owner,
                                 .pzxid = in->zxid};
    prep_record(p, fpath, flen, in->zxid, &nv);
    return ZOO_OK;
}

/* Inside a multi, ZooKeeper builds an Op from each create while decoding the
 * whole request: flags outside the create modes, or TTL modes on a non-TTL
 * create opcode, fail the decode (MARSHALLINGERROR for the whole multi). */
static bool prep_multi_flags_ok(int32_t type, int32_t flags) {
    if (flags < 0 || flags > 6)
        return false;
    return type == TXN_CREATE_TTL || (flags != 5 && flags != 6);
}

static int prep_decode_create(struct jute_reader *r, int32_t type, uint32_t max,
                              struct prep_create_req *rq) {
    rq->path = jute_read_bytes(r, max);
    rq->data = jute_read_bytes(r, max);
    rq->acl = NULL;
    int rc = acl_decode(r, &rq->acl);
    if (rc != ZK_OK)
        return rc;
    rq->flags = jute_read_i32(r);
    rq->ttl = type == TXN_CREATE_TTL ? jute_read_i64(r) : -1;
    if (!jute_reader_ok(r)) {
        acl_unref(rq->acl);
        rq->acl = NULL;
        return ZK_EPROTO;
    }
    return ZK_OK;
}

/* ---- delete / setData / setACL / check ---- */

static int prep_delete(struct prep *p, const struct prep_input *in, int32_t type,
                       const char *path, uint32_t len, int32_t version, struct txn_op *op) {
    int rc;
    if (type == TXN_DELETE && (rc = prep_check_session(p, in->session_id)) != ZOO_OK)
        return rc;
    uint32_t slash;
    if (path == NULL)
        return ZOO_MARSHALLINGERROR; /* ZooKeeper: null path in getParentPathAndValidate */
    if ( !prep_last_slash(path, len, &slash) || path_has_nul(path, len) ||
        path_is_system(path, len) || (len == 1 && path[0] == '/'))
        return ZOO_BADARGUMENTS;
    struct prep_view parent, node;
    uint32_t plen = prep_parent_len(path, len, slash);
    if (!prep_lookup(p, path, plen, &parent))
        return ZOO_NONODE;
    if (!prep_acl_ok(in, parent.acl, ACL_DELETE))
        return ZOO_NOAUTH;
    if (!prep_lookup(p, path, len, &node))
        return ZOO_NONODE;
    int32_t next;
    if (type == TXN_DELETE && (rc = prep_check_version(node.stat.version, version, &next)))
        return rc;
    if (node.num_children > 0)
        return ZOO_NOTEMPTY;
    if (type == TXN_DELETE_CONTAINER && tree_owner_kind(node.stat.ephemeral_owner) != TREE_CONTAINER &&
        tree_owner_kind(node.stat.ephemeral_owner) != TREE_TTL)
        return ZOO_BADVERSION; /* as ZooKeeper: not a container/TTL node */
    op->type = type;
    prep_set_path(op, path, len);
    parent.num_children--;
    if (in->zxid > parent.stat.pzxid)
        parent.stat.pzxid = in->zxid;
    prep_record(p, path, plen, in->zxid, &parent);
    struct prep_view gone = {.exists = false};
    prep_record(p, path, len, in->zxid, &gone);
    return ZOO_OK;
}

/* The checks setData and check share, in ZooKeeper's order: live session,
 * valid path, node exists, permission, then the expected version. */
static int prep_existing_node(struct prep *p, const struct prep_input *in, const char *path,
                              uint32_t len, int32_t perm, int32_t version,
                              struct prep_view *node, int32_t *next) {
    int rc;
    if ((rc = prep_check_session(p, in->session_id)) != ZOO_OK)
        return rc;
    if (path == NULL || !path_valid(path, len))
        return ZOO_BADARGUMENTS;
    if (!prep_lookup(p, path, len, node))
        return ZOO_NONODE;
    if (!prep_acl_ok(in, node->acl, perm))
        return ZOO_NOAUTH;
    return prep_check_version(node->stat.version, version, next);
}

static int prep_set_data_op(struct prep *p, const struct prep_input *in, const char *path,
                            uint32_t len, struct jute_bytes data, int32_t version,
                            struct txn_op *op) {
    struct prep_view node;
    int32_t next;
    int rc = prep_existing_node(p, in, path, len, ACL_WRITE, version, &node, &next);
    if (rc != ZOO_OK)
        return rc;
    op->type = TXN_SET_DATA;
    prep_set_path(op, path, len);
    prep_set_data(op, data);
    op->version = next;
    node.stat.version = next;
    node.stat.mzxid = in->zxid;
    node.stat.mtime = in->time_ms;
    prep_record(p, path, len, in->zxid, &node);
    return ZOO_OK;
}

static int prep_set_acl_op(struct prep *p, const struct prep_input *in, const char *path,
                           uint32_t len, struct acl_list *req_acl, int32_t version,
                           struct txn_op *op) {
    int rc;
    if ((rc = prep_check_session(p, in->session_id)) != ZOO_OK)
        return rc;
    if (path == NULL || !path_valid(path, len))
        return ZOO_BADARGUMENTS;
    struct acl_list *acl = NULL;
    static const struct auth_set no_auth = {0};
    if ((rc = acl_fixup(req_acl, in->auth ? in->auth : &no_auth, &acl)) != ZOO_OK)
        return rc;
    struct prep_view node;
    int32_t next = 0;
    if (!prep_lookup(p, path, len, &node))
        rc = ZOO_NONODE;
    else if (!prep_acl_ok(in, node.acl, ACL_ADMIN))
        rc = ZOO_NOAUTH;
    else
        rc = prep_check_version(node.stat.aversion, version, &next);
    if (rc != ZOO_OK) {
        acl_unref(acl);
        return rc;
    }
    op->type = TXN_SET_ACL;
    prep_set_path(op, path, len);
    op->acl = acl;
    op->version = next;
    node.stat.aversion = next;
    node.acl = acl;
    prep_record(p, path, len, in->zxid, &node);
    return ZOO_OK;
}

static int prep_check_op(struct prep *p, const struct prep_input *in, const char *path,
                         uint32_t len, int32_t version, struct txn_op *op) {
    struct prep_view node;
    int32_t next;
    int rc = prep_existing_node(p, in, path, len, ACL_READ, version, &node, &next);
    if (rc != ZOO_OK)
        return rc;
    op->type = TXN_CHECK;
    prep_set_path(op, path, len);
    op->version = next;
    return ZOO_OK;
}

/* Decodes and preps one op from r. ZK_EPROTO for an undecodable body. */
static int prep_one(struct prep *p, const struct prep_input *in, int32_t type,
                    struct jute_reader *r, struct txn_op *op, int *zrc) {
    uint32_t max = in->max_string;
    switch (type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL: {
        struct prep_create_req rq;
        int rc = prep_decode_create(r, type, max, &rq);
        if (rc != ZK_OK)
            return rc;
        if (p->in_multi && !prep_multi_flags_ok(type, rq.flags)) {
            acl_unref(rq.acl);
            return ZK_EPROTO;
        }
        *zrc = prep_create(p, in, type, &rq, op);
        acl_unref(rq.acl);
        return ZK_OK;
    }
    case TXN_DELETE: {
        struct jute_bytes path = jute_read_bytes(r, max);
        int32_t version = jute_read_i32(r);
        if (!jute_reader_ok(r))
            return ZK_EPROTO;
        *zrc = prep_delete(p, in, type, (const char *)path.p, path.len < 0 ? 0 : (uint32_t)path.len,
                           version, op);
        return ZK_OK;
    }
    case TXN_DELETE_CONTAINER: {
        struct jute_bytes path = jute_read_bytes(r, max);
        if (!jute_reader_ok(r))
            return ZK_EPROTO;
        *zrc = prep_delete(p, in, type, (const char *)path.p, path.len < 0 ? 0 : (uint32_t)path.len,
                           -1, op);
        return ZK_OK;
    }
    case TXN_SET_DATA: {
        struct jute_bytes path = jute_read_bytes(r, max);
        struct jute_bytes data = jute_read_bytes(r, max);
        int32_t version = jute_read_i32(r);
        if (!jute_reader_ok(r))
            return ZK_EPROTO;
        *zrc = prep_set_data_op(p, in, (const char *)path.p,
                                path.len < 0 ? 0 : (uint32_t)path.len, data, version, op);
        return ZK_OK;
    }
    case TXN_SET_ACL: {
        struct jute_bytes path = jute_read_bytes(r, max);
        struct acl_list *acl = NULL;
        int rc = acl_decode(r, &acl);
        int32_t version = jute_read_i32(r);
        if (rc != ZK_OK || !jute_reader_ok(r)) {
            acl_unref(acl);
            return rc == ZK_ENOMEM ? rc : ZK_EPROTO;
        }
        *zrc = prep_set_acl_op(p, in, (const char *)path.p,
                               path.len < 0 ? 0 : (uint32_t)path.len, acl, version, op);
        acl_unref(acl);
        return ZK_OK;
    }
    case TXN_CHECK: {
        struct jute_bytes path = jute_read_bytes(r, max);
        int32_t version = jute_read_i32(r);
        if (!jute_reader_ok(r))
            return ZK_EPROTO;
        *zrc = prep_check_op(p, in, (const char *)path.p, path.len < 0 ? 0 : (uint32_t)path.len,
                             version, op);
        return ZK_OK;
    }
    default:
        return ZK_EPROTO;
    }
}

/* Decodes one multi op body without prepping it. */
static int prep_skip_op(struct jute_reader *r, int32_t type, uint32_t max) {
    if (txn_is_create(type)) {
        struct prep_create_req rq;
        int rc = prep_decode_create(r, type, max, &rq);
        if (rc == ZK_OK && !prep_multi_flags_ok(type, rq.flags))
            rc = ZK_EPROTO;
        acl_unref(rq.acl);
        return rc;
    }
    (void)jute_read_bytes(r, max);
    if (type == TXN_SET_DATA)
        (void)jute_read_bytes(r, max);
    (void)jute_read_i32(r);
    return jute_reader_ok(r) ? ZK_OK : ZK_EPROTO;
}

static void prep_error_txn(struct txn *out, int32_t err) {
    txn_deinit(out);
    out->type = TXN_ERROR;
    out->op.type = TXN_ERROR;
    out->op.err = err;
}

static bool prep_multi_op_allowed(int32_t type) {
    return type == TXN_CREATE || type == TXN_CREATE2 || type == TXN_CREATE_CONTAINER ||
           type == TXN_CREATE_TTL || type == TXN_DELETE || type == TXN_SET_DATA ||
           type == TXN_CHECK;
}

static void prep_multi(struct prep *p, const struct prep_input *in, struct txn *out) {
    struct jute_reader r;
    jute_reader_init(&r, in->body, in->body_len);
    out->type = TXN_MULTI;
    p->in_multi = true;
    bool failed = false;
    for (;;) {
        int32_t type = jute_read_i32(&r);
        bool done = jute_read_bool(&r);
        (void)jute_read_i32(&r);
        if (!jute_reader_ok(&r) || (!done && !prep_multi_op_allowed(type)) ||
            out->op_count >= ZK_LIMIT_MULTI_OPS_MAX)
            goto marshalling;
        if (done)
            break;
        struct txn_op *op = txn_add_op(out);
        if (failed) {
            /* Everything after the failing op is RUNTIMEINCONSISTENCY and is not
             * prepped, as in ZooKeeper; it is still decoded to find the next. */
            if (prep_skip_op(&r, type, in->max_string) != ZK_OK)
                goto marshalling;
            op->type = TXN_ERROR;
            op->err = ZOO_RUNTIMEINCONSISTENCY;
            continue;
        }
        int zrc = ZOO_OK;
        if (prep_one(p, in, type, &r, op, &zrc) != ZK_OK)
            goto marshalling;
        if (zrc != ZOO_OK) {
            txn_op_deinit(op);
            op->type = TXN_ERROR;
            op->err = zrc;
            failed = true;
            prep_rollback(p);
        }
    }
    p->in_multi = false;
    prep_undo_clear(p);
    return;
marshalling:
    prep_rollback(p);
    p->in_multi = false;
    prep_error_txn(out, ZOO_MARSHALLINGERROR);
}

struct prep_close_ctx {
    struct prep *p;
    char **paths;
    uint32_t count;
    uint32_t cap;
};

static void prep_close_add(struct prep_close_ctx *c, const char *path, uint32_t len) {
    for (uint32_t i = 0; i < c->count; i++) {
        if (strlen(c->paths[i]) == len && memcmp(c->paths[i], path, len) == 0)
            return;
    }
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->paths = zk_xrealloc(c->paths, c->cap * sizeof(*c->paths));
    }
    c->paths[c->count++] = zk_xstrndup(path, len);
}

static void prep_close_tree_fn(void *ctx, struct tree_node *n) {
    struct prep_close_ctx *c = ctx;
    uint32_t len;
    char *path = tree_node_path_dup(c->p->tree, n, &len);
    struct prep_change *ch = prep_change_find(c->p, path, len);
    /* An outstanding change may have deleted the node and another session
     * re-created the path: then it is not this session's ephemeral any more. */
    if (ch == NULL ||
        (ch->exists && ch->stat.ephemeral_owner == tree_node_owner(c->p->tree, n)))
        prep_close_add(c, path, len);
    zk_free(path);
}

/* closeSession: the txn lists the session's ephemerals, including ones created
 * by outstanding txns and minus ones outstanding deletes remove. */
static void prep_close_session(struct prep *p, const struct prep_input *in, struct txn *out) {
    struct session *s = session_find(p->sessions, in->session_id);
    if (s == NULL || s->closing) {
        /* gone, or a second closeSession pipelined behind the first */
        prep_error_txn(out, ZOO_SESSIONEXPIRED);
        return;
    }
    struct prep_close_ctx c = {.p = p};
    tree_for_each_ephemeral(p->tree, in->session_id, prep_close_tree_fn, &c);
    struct queue *q;
    QUEUE_FOREACH(q, &p->fifo) {
        struct prep_change *ch = QUEUE_DATA(q, struct prep_change, fifo_link);
        if (ch->exists && ch->stat.ephemeral_owner == in->session_id)
            prep_close_add(&c, ch->path, ch->len);
    }
    out->type = TXN_CLOSE_SESSION;
    out->op.type = TXN_CLOSE_SESSION;
    out->op.paths = c.paths;
    out->op.path_count = c.count;
    for (uint32_t i = 0; i < c.count; i++) {
        const char *path = c.paths[i];
        uint32_t len = (uint32_t)strlen(path);
        struct prep_view parent;
        uint32_t plen = path_parent_len(path, len);
        if (prep_lookup(p, path, plen, &parent)) {
            parent.num_children--;
            if (in->zxid > parent.stat.pzxid)
                parent.stat.pzxid = in->zxid;
            prep_record(p, path, plen, in->zxid, &parent);
        }
        struct prep_view gone = {.exists = false};
        prep_record(p, path, len, in->zxid, &gone);
    }
    s->closing = true;
}

void prep_request(struct prep *p, const struct prep_input *in, struct txn *out) {
    ZK_ASSERT(prep_is_write(in->opcode));
    ZK_ASSERT(!p->in_multi && p->undo_count == 0);
    out->client_id = in->session_id;
    out->cxid = in->cxid;
    out->zxid = in->zxid;
    out->time_ms = in->time_ms;
    if (in->opcode == PREP_OP_RECONFIG) {
        /* Standalone: ZooKeeper refuses reconfig in prep (an error txn that
         * consumes a zxid): RECONFIGDISABLED unless reconfigEnabled, then
         * UNIMPLEMENTED because a standalone server cannot reconfigure. */
        int32_t err = !p->reconfig_enabled ? ZOO_RECONFIGDISABLED
                      : prep_check_session(p, in->session_id) != ZOO_OK ? ZOO_SESSIONEXPIRED
                                                                       : ZOO_UNIMPLEMENTED;
        prep_error_txn(out, err);
    } else if (in->opcode == TXN_MULTI) {
        prep_multi(p, in, out);
    } else if (in->opcode == TXN_CLOSE_SESSION) {
        prep_close_session(p, in, out);
    } else {
        struct jute_reader r;
        jute_reader_init(&r, in->body, in->body_len);
        int zrc = ZOO_OK;
        out->type = in->opcode;
        if (prep_one(p, in, in->opcode, &r, &out->op, &zrc) != ZK_OK)
            zrc = ZOO_MARSHALLINGERROR;
        if (zrc != ZOO_OK)
            prep_error_txn(out, zrc);
    }
    out->client_id = in->session_id;
    out->cxid = in->cxid;
    out->zxid = in->zxid;
    out->time_ms = in->time_ms;
}

void prep_create_session(struct prep *p, int64_t session_id, int32_t timeout_ms, int64_t zxid,
                         int64_t time_ms, struct txn *out) {
    ZK_UNUSED(p);
    out->client_id = session_id;
    out->cxid = 0;
    out->zxid = zxid;
    out->time_ms = time_ms;
    out->type = TXN_CREATE_SESSION;
    out->op.type = TXN_CREATE_SESSION;
    out->op.timeout_ms = timeout_ms;
}
