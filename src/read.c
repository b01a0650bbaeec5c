#include "read.h"

#include <string.h>

#include "base.h"
#include "err.h"
#include "mem.h"
#include "path.h"

enum {
    OP_EXISTS = 3,
    OP_GET_DATA = 4,
    OP_GET_ACL = 6,
    OP_GET_CHILDREN = 8,
    OP_SYNC = 9,
    OP_GET_CHILDREN2 = 12,
    OP_CHECK_WATCHES = 17,
    OP_REMOVE_WATCHES = 18,
    OP_MULTI_READ = 22,
    OP_SET_WATCHES = 101,
    OP_GET_EPHEMERALS = 103,
    OP_GET_ALL_CHILDREN_NUMBER = 104,
    OP_SET_WATCHES2 = 105,
    OP_ADD_WATCH = 106,
    OP_WHO_AM_I = 107,
};

bool read_is_read(int32_t opcode) {
    switch (opcode) {
    case OP_EXISTS:
    case OP_GET_DATA:
    case OP_GET_ACL:
    case OP_GET_CHILDREN:
    case OP_SYNC:
    case OP_GET_CHILDREN2:
    case OP_CHECK_WATCHES:
    case OP_REMOVE_WATCHES:
    case OP_MULTI_READ:
    case OP_SET_WATCHES:
    case OP_GET_EPHEMERALS:
    case OP_GET_ALL_CHILDREN_NUMBER:
    case OP_SET_WATCHES2:
    case OP_ADD_WATCH:
    case OP_WHO_AM_I:
        return true;
    default:
        return false;
    }
}

static struct tree_node *read_find(const struct read_env *env, struct jute_bytes path) {
    if (path.len < 0)
        return NULL;
    /* ZooKeeper indexes the root under "" as well as "/", so reads of "" see it. */
    if (path.len == 0)
        return env->tree->root;
    return tree_find(env->tree, (const char *)path.p, (uint32_t)path.len);
}

static void read_stat(const struct read_env *env, struct jute_buf *out,
                      const struct tree_node *n) {
    struct zk_stat st;
    tree_node_stat(env->tree, n, &st);
    tree_stat_encode(out, &st);
}

/* A watch on the node read_find found at path ("" is the root, watched as "/"). */
static void read_watch_node(struct read_env *env, struct jute_bytes path, uint32_t kind) {
    if (path.len > 0)
        watch_add(env->watches, env->owner, (const char *)path.p, (uint32_t)path.len, kind);
    else
        watch_add(env->watches, env->owner, "/", 1, kind);
}

static int read_get_data(struct read_env *env, struct jute_bytes path, bool watch,
                         struct jute_buf *out) {
    struct tree_node *n = read_find(env, path);
    if (n == NULL)
        return ZOO_NONODE;
    if (!acl_check(tree_node_acl(env->tree, n), ACL_READ, env->auth))
        return ZOO_NOAUTH;
    if (watch)
        read_watch_node(env, path, WATCH_DATA);
    jute_write_bytes(out, tree_node_data(n), n->data_len);
    read_stat(env, out, n);
    return ZOO_OK;
}

static int read_get_children(struct read_env *env, struct jute_bytes path, bool watch,
                             bool with_stat, struct jute_buf *out) {
    struct tree_node *n = read_find(env, path);
    if (n == NULL)
        return ZOO_NONODE;
    if (!acl_check(tree_node_acl(env->tree, n), ACL_READ, env->auth))
        return ZOO_NOAUTH;
    if (watch)
        read_watch_node(env, path, WATCH_CHILD);
    jute_write_i32(out, (int32_t)tree_child_count(n));
    uint32_t it = 0;
    for (const struct tree_node *c; (c = tree_child_next(n, &it)) != NULL;)
        jute_write_cstr(out, c->name);
    if (with_stat)
        read_stat(env, out, n);
    return ZOO_OK;
}

static int read_exists(struct read_env *env, struct jute_bytes path, bool watch,
                       struct jute_buf *out) {
    if (path.len > 0 && path_has_nul((const char *)path.p, (uint32_t)path.len))
        return ZOO_BADARGUMENTS;
    struct tree_node *n = read_find(env, path);
    if (n != NULL && !acl_check(tree_node_acl(env->tree, n), ACL_READ, env->auth))
        return ZOO_NOAUTH;
    /* ZooKeeper registers the watch even when the node is missing. */
    if (watch && path.len > 0)
        watch_add(env->watches, env->owner, (const char *)path.p, (uint32_t)path.len, WATCH_DATA);
    if (n == NULL)
        return ZOO_NONODE;
    read_stat(env, out, n);
    return ZOO_OK;
}

static int read_get_acl(struct read_env *env, struct jute_bytes path, struct jute_buf *out) {
    struct tree_node *n = read_find(env, path);
    if (n == NULL)
        return ZOO_NONODE;
    if (!acl_check(tree_node_acl(env->tree, n), ACL_READ | ACL_ADMIN, env->auth))
        return ZOO_NOAUTH;
    if (acl_check(tree_node_acl(env->tree, n), ACL_ADMIN, env->auth))
        acl_encode(out, tree_node_acl(env->tree, n));
    else
        acl_encode_redacted(out, tree_node_acl(env->tree, n));
    read_stat(env, out, n);
    return ZOO_OK;
}

static int read_multi(struct read_env *env, struct jute_reader *r, struct jute_buf *out) {
    for (;;) {
        int32_t type = jute_read_i32(r);
        bool done = jute_read_bool(r);
        (void)jute_read_i32(r);
        if (!jute_reader_ok(r))
            return ZK_EPROTO;
        if (done)
            break;
        if (type != OP_GET_CHILDREN && type != OP_GET_DATA)
            return ZK_EPROTO;
        struct jute_bytes path = jute_read_bytes(r, env->max_string);
        (void)jute_read_bool(r); /* watch flags inside multiRead are ignored */
        if (!jute_reader_ok(r))
            return ZK_EPROTO;
        uint32_t hdr_at = out->len;
        jute_write_i32(out, type);
        jute_write_bool(out, false);
        jute_write_i32(out, 0);
        int rc = type == OP_GET_DATA ? read_get_data(env, path, false, out)
                                     : read_get_children(env, path, false, false, out);
        if (rc != ZOO_OK) {
            out->len = hdr_at;
            jute_write_i32(out, -1);
            jute_write_bool(out, false);
            jute_write_i32(out, rc);
            jute_write_i32(out, rc);
        }
    }
    jute_write_i32(out, -1);
    jute_write_bool(out, true);
    jute_write_i32(out, -1);
    return ZK_OK;
}

static int read_path_list(struct jute_reader *r, uint32_t max, struct jute_reader *list,
                          int32_t *count) {
    const uint8_t *start = r->p;
    int32_t n = jute_read_count(r, 4);
    if (n < 0)
        return ZK_EPROTO; /* ZooKeeper fails on a null list: MARSHALLINGERROR */
    for (int32_t i = 0; i < n; i++)
        (void)jute_read_bytes(r, max);
    if (!jute_reader_ok(r))
        return ZK_EPROTO;
    jute_reader_init(list, start + 4, (uint32_t)(r->p - start) - 4);
    *count = n < 0 ? 0 : n;
    return ZK_OK;
}

static int read_set_watches(struct read_env *env, struct jute_reader *r, bool v2) {
    int64_t rel = jute_read_i64(r);
    struct jute_reader lists[5];
    int32_t counts[5] = {0, 0, 0, 0, 0};
    int nlists = v2 ? 5 : 3;
    for (int i = 0; i < nlists; i++) {
        if (read_path_list(r, env->max_string, &lists[i], &counts[i]) != ZK_OK)
            return ZK_EPROTO;
    }
    for (int li = 0; li < nlists; li++) {
        for (int32_t i = 0; i < counts[li]; i++) {
            struct jute_bytes p = jute_read_bytes(&lists[li], env->max_string);
            if (p.len <= 0)
                continue;
            const char *path = (const char *)p.p;
            uint32_t len = (uint32_t)p.len;
            struct tree_node *n = tree_find(env->tree, path, len);
            int32_t event = 0;
            uint32_t kind = 0;
            switch (li) {
            case 0: /* data */
                if (n == NULL)
                    event = WATCH_EVENT_DELETED;
                else if (tree_node_raw(n).mzxid > rel)
                    event = WATCH_EVENT_DATA_CHANGED;
                else
                    kind = WATCH_DATA;
                break;
            case 1: /* exist */
                if (n != NULL)
                    event = WATCH_EVENT_CREATED;
                else
                    kind = WATCH_DATA;
                break;
            case 2: /* child */
                if (n == NULL)
                    event = WATCH_EVENT_DELETED;
                else if (tree_node_raw(n).pzxid > rel)
                    event = WATCH_EVENT_CHILDREN_CHANGED;
                else
                    kind = WATCH_CHILD;
                break;
            case 3:
                kind = WATCH_PERSISTENT;
                break;
            default:
                kind = WATCH_RECURSIVE;
                break;
            }
            if (event != 0)
                env->emit(env->emit_ctx, event, path, len);
            else
                watch_add(env->watches, env->owner, path, len, kind);
        }
    }
    return ZK_OK;
}

struct read_eph_ctx {
    const struct tree *tree;
    struct jute_buf *out;
    struct jute_bytes prefix;
    bool all;
    uint32_t count;
};

static void read_eph_fn(void *ctx, struct tree_node *n) {
    struct read_eph_ctx *c = ctx;
    uint32_t len;
    char *path = tree_node_path_dup(c->tree, n, &len);
    if (c->all || (len >= (uint32_t)c->prefix.len &&
                   memcmp(path, c->prefix.p, (size_t)c->prefix.len) == 0)) {
        jute_write_bytes(c->out, path, (int32_t)len);
        c->count++;
    }
    zk_free(path);
}

static bool read_prefix_is_all(struct jute_bytes p) {
    /* null, blank (after trim) or "/" after trim */
    int32_t s = 0, e = p.len;
    if (p.len < 0)
        return true;
    while (s < e && (unsigned char)p.p[s] <= ' ')
        s++;
    while (e > s && (unsigned char)p.p[e - 1] <= ' ')
        e--;
    return e == s || (e - s == 1 && p.p[s] == '/');
}

static void read_who_am_i(struct read_env *env, struct jute_buf *out) {
    jute_write_i32(out, (int32_t)env->auth->count);
    for (uint32_t i = 0; i < env->auth->count; i++) {
        const struct auth_id *a = &env->auth->ids[i];
        jute_write_cstr(out, a->scheme);
        if (strcmp(a->scheme, "digest") == 0) {
            const char *colon = strchr(a->id, ':');
            size_t ulen = colon ? (size_t)(colon - a->id) : strlen(a->id);
            jute_write_bytes(out, a->id, (int32_t)ulen);
        } else {
            jute_write_cstr(out, a->id);
        }
    }
}

int read_request(struct read_env *env, int32_t opcode, const uint8_t *body, uint32_t len,
                 struct jute_buf *out, int *zrc) {
    struct jute_reader r;
    jute_reader_init(&r, body, len);
    uint32_t max = env->max_string;
    *zrc = ZOO_OK;
    switch (opcode) {
    case OP_EXISTS:
    case OP_GET_DATA:
    case OP_GET_CHILDREN:
    case OP_GET_CHILDREN2: {
        struct jute_bytes path = jute_read_bytes(&r, max);
        bool watch = jute_read_bool(&r);
        if (!jute_reader_ok(&r))
            return ZK_EPROTO;
        if (opcode == OP_EXISTS)
            *zrc = read_exists(env, path, watch, out);
        else if (opcode == OP_GET_DATA)
            *zrc = read_get_data(env, path, watch, out);
        else
            *zrc = read_get_children(env, path, watch, opcode == OP_GET_CHILDREN2, out);
        return ZK_OK;
    }
    case OP_GET_ACL:
    case OP_SYNC:
    case OP_GET_ALL_CHILDREN_NUMBER:
    case OP_GET_EPHEMERALS: {
        struct jute_bytes path = jute_read_bytes(&r, max);
        if (!jute_reader_ok(&r))
            return ZK_EPROTO;
        if (opcode == OP_GET_ACL) {
            *zrc = read_get_acl(env, path, out);
        } else if (opcode == OP_SYNC) {
            jute_write_bytes(out, path.p, path.len);
        } else if (opcode == OP_GET_ALL_CHILDREN_NUMBER) {
            struct tree_node *n = read_find(env, path);
            if (n == NULL)
                *zrc = ZOO_NONODE;
            else if (!acl_check(tree_node_acl(env->tree, n), ACL_READ, env->auth))
                *zrc = ZOO_NOAUTH;
            else if (path.len == 0) /* ZooKeeper counts keys under "" + "/": root included */
                jute_write_i32(out, (int32_t)tree_descendant_count(env->tree, n) + 1);
            else
                jute_write_i32(out, (int32_t)tree_descendant_count(env->tree, n));
        } else {
            struct read_eph_ctx c = {env->tree, out, path, read_prefix_is_all(path), 0};
            uint32_t count_at = out->len;
            jute_write_i32(out, 0);
            tree_for_each_ephemeral(env->tree, env->session_id, read_eph_fn, &c);
            jute_patch_i32(out, count_at, (int32_t)c.count);
        }
        return ZK_OK;
    }
    case OP_CHECK_WATCHES:
    case OP_REMOVE_WATCHES: {
        struct jute_bytes path = jute_read_bytes(&r, max);
        int32_t type = jute_read_i32(&r);
        if (!jute_reader_ok(&r))
            return ZK_EPROTO;
        if (type < WATCH_TYPE_CHILDREN || type > WATCH_TYPE_PERSISTENT_RECURSIVE)
            return ZK_EPROTO;
        if (path.len <= 0 || !watch_remove(env->watches, env->owner, (const char *)path.p,
                                           (uint32_t)path.len, type, opcode == OP_REMOVE_WATCHES))
            *zrc = ZOO_NOWATCHER;
        return ZK_OK;
    }
    case OP_ADD_WATCH: {
        struct jute_bytes path = jute_read_bytes(&r, max);
        int32_t mode = jute_read_i32(&r);
        if (!jute_reader_ok(&r) || (mode != 0 && mode != 1) || path.len <= 0)
            return ZK_EPROTO;
        watch_add(env->watches, env->owner, (const char *)path.p, (uint32_t)path.len,
                  mode == 0 ? WATCH_PERSISTENT : WATCH_RECURSIVE);
        jute_write_i32(out, 0);
        return ZK_OK;
    }
    case OP_MULTI_READ:
        return read_multi(env, &r, out);
    case OP_SET_WATCHES:
    case OP_SET_WATCHES2:
        return read_set_watches(env, &r, opcode == OP_SET_WATCHES2);
    case OP_WHO_AM_I:
        read_who_am_i(env, out);
        return ZK_OK;
    default:
        ZK_PANIC("read_request: not a read opcode %d", opcode);
    }
}
