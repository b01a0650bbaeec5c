#include "txn.h"

#include <string.h>

#include "base.h"
#include "err.h"
#include "mem.h"

void txn_init(struct txn *t) {
    memset(t, 0, sizeof(*t));
    t->op.data_len = -1;
}

void txn_op_deinit(struct txn_op *op) {
    zk_free(op->path);
    zk_free(op->data);
    acl_unref(op->acl);
    for (uint32_t i = 0; i < op->path_count; i++)
        zk_free(op->paths[i]);
    zk_free(op->paths);
    memset(op, 0, sizeof(*op));
    op->data_len = -1;
}

void txn_deinit(struct txn *t) {
    txn_op_deinit(&t->op);
    for (uint32_t i = 0; i < t->op_count; i++)
        txn_op_deinit(&t->ops[i]);
    zk_free(t->ops);
    txn_init(t);
}

struct txn_op *txn_add_op(struct txn *t) {
    t->ops = zk_xrealloc(t->ops, (t->op_count + 1) * sizeof(*t->ops));
    struct txn_op *op = &t->ops[t->op_count++];
    memset(op, 0, sizeof(*op));
    op->data_len = -1;
    return op;
}

bool txn_is_create(int32_t type) {
    return type == TXN_CREATE || type == TXN_CREATE2 || type == TXN_CREATE_CONTAINER ||
           type == TXN_CREATE_TTL;
}

static void txn_encode_body(struct jute_buf *b, int32_t type, const struct txn_op *op) {
    switch (type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL:
        jute_write_bytes(b, op->path, (int32_t)op->path_len);
        jute_write_bytes(b, op->data, op->data_len);
        acl_encode(b, op->acl);
        if (type == TXN_CREATE || type == TXN_CREATE2)
            jute_write_bool(b, op->ephemeral);
        jute_write_i32(b, op->parent_cversion);
        if (type == TXN_CREATE_TTL)
            jute_write_i64(b, op->ttl);
        break;
    case TXN_DELETE:
    case TXN_DELETE_CONTAINER:
        jute_write_bytes(b, op->path, (int32_t)op->path_len);
        break;
    case TXN_SET_DATA:
        jute_write_bytes(b, op->path, (int32_t)op->path_len);
        jute_write_bytes(b, op->data, op->data_len);
        jute_write_i32(b, op->version);
        break;
    case TXN_SET_ACL:
        jute_write_bytes(b, op->path, (int32_t)op->path_len);
        acl_encode(b, op->acl);
        jute_write_i32(b, op->version);
        break;
    case TXN_CHECK:
        jute_write_bytes(b, op->path, (int32_t)op->path_len);
        jute_write_i32(b, op->version);
        break;
    case TXN_CREATE_SESSION:
        jute_write_i32(b, op->timeout_ms);
        break;
    case TXN_CLOSE_SESSION:
        jute_write_i32(b, (int32_t)op->path_count);
        for (uint32_t i = 0; i < op->path_count; i++)
            jute_write_cstr(b, op->paths[i]);
        break;
    case TXN_ERROR:
        jute_write_i32(b, op->err);
        break;
    default:
        ZK_PANIC("encoding unknown txn type %d", type);
    }
}

void txn_encode(struct jute_buf *b, const struct txn *t) {
    jute_write_i64(b, t->client_id);
    jute_write_i32(b, t->cxid);
    jute_write_i64(b, t->zxid);
    jute_write_i64(b, t->time_ms);
    jute_write_i32(b, t->type);
    if (t->type != TXN_MULTI) {
        txn_encode_body(b, t->type, &t->op);
        return;
    }
    jute_write_i32(b, (int32_t)t->op_count);
    for (uint32_t i = 0; i < t->op_count; i++) {
        jute_write_i32(b, t->ops[i].type);
        uint32_t len_at = b->len;
        jute_write_i32(b, 0);
        txn_encode_body(b, t->ops[i].type, &t->ops[i]);
        jute_patch_i32(b, len_at, (int32_t)(b->len - len_at - 4));
    }
}

static int txn_copy_bytes(struct jute_bytes in, char **out, uint32_t *out_len, bool as_string) {
    *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (in.len < 0)
        return as_string ? ZK_ECORRUPT : ZK_OK;
    *out = zk_strndup((const char *)in.p, (size_t)in.len);
    if (*out == NULL)
        return ZK_ENOMEM;
    if (out_len != NULL)
        *out_len = (uint32_t)in.len;
    return ZK_OK;
}

/* A null ACL vector in a logged txn means the open ACL, as ZooKeeper's ACL cache
 * maps a null list (so apply never sees a NULL list). */
static int txn_decode_acl(struct jute_reader *r, struct acl_list **out) {
    int rc = acl_decode(r, out);
    if (rc != ZK_OK)
        return rc == ZK_EPROTO ? ZK_ECORRUPT : rc;
    if (*out == NULL)
        *out = acl_ref(acl_open_unsafe());
    return ZK_OK;
}

static int txn_decode_body(struct jute_reader *r, int32_t type, struct txn_op *op) {
    int rc = ZK_OK;
    op->type = type;
    if (type != TXN_CREATE_SESSION && type != TXN_CLOSE_SESSION && type != TXN_ERROR) {
        rc = txn_copy_bytes(jute_read_bytes(r, r->left), &op->path, &op->path_len, true);
        if (rc != ZK_OK)
            return rc;
    }
    switch (type) {
    case TXN_CREATE:
    case TXN_CREATE2:
    case TXN_CREATE_CONTAINER:
    case TXN_CREATE_TTL:
    case TXN_SET_DATA: {
        struct jute_bytes d = jute_read_bytes(r, r->left);
        op->data_len = d.len;
        if (d.len > 0) {
            op->data = zk_malloc((size_t)d.len);
            if (op->data == NULL)
                return ZK_ENOMEM;
            memcpy(op->data, d.p, (size_t)d.len);
        }
        if (type == TXN_SET_DATA) {
            op->version = jute_read_i32(r);
            break;
        }
        rc = txn_decode_acl(r, &op->acl);
        if (rc != ZK_OK)
            return rc;
        if (type == TXN_CREATE || type == TXN_CREATE2)
            op->ephemeral = jute_read_bool(r);
        op->parent_cversion = jute_read_i32(r);
        if (type == TXN_CREATE_TTL)
            op->ttl = jute_read_i64(r);
        break;
    }
    case TXN_DELETE:
    case TXN_DELETE_CONTAINER:
        break;
    case TXN_SET_ACL:
        rc = txn_decode_acl(r, &op->acl);
        if (rc != ZK_OK)
            return rc;
        op->version = jute_read_i32(r);
        break;
    case TXN_CHECK:
        op->version = jute_read_i32(r);
        break;
    case TXN_CREATE_SESSION:
        op->timeout_ms = jute_read_i32(r);
        break;
    case TXN_CLOSE_SESSION: {
        if (r->left == 0)
            break; /* pre-3.9 logs carry no body */
        int32_t n = jute_read_count(r, 4);
        if (n < 0)
            break;
        op->paths = zk_calloc((size_t)n + 1, sizeof(*op->paths));
        if (op->paths == NULL)
            return ZK_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            rc = txn_copy_bytes(jute_read_bytes(r, r->left), &op->paths[i], NULL, true);
            if (rc != ZK_OK)
                return rc;
            op->path_count++;
        }
        break;
    }
    case TXN_ERROR:
        op->err = jute_read_i32(r);
        break;
    default:
        return ZK_ECORRUPT;
    }
    return jute_reader_ok(r) ? ZK_OK : ZK_ECORRUPT;
}

int txn_decode(const uint8_t *p, uint32_t len, struct txn *t) {
    struct jute_reader r;
    txn_init(t);
    jute_reader_init(&r, p, len);
    t->client_id = jute_read_i64(&r);
    t->cxid = jute_read_i32(&r);
    t->zxid = jute_read_i64(&r);
    t->time_ms = jute_read_i64(&r);
    t->type = jute_read_i32(&r);
    if (!jute_reader_ok(&r))
        return ZK_ECORRUPT;
    int rc = ZK_OK;
    if (t->type != TXN_MULTI) {
        rc = txn_decode_body(&r, t->type, &t->op);
    } else {
        int32_t n = jute_read_count(&r, 8);
        if (n > 0) {
            t->ops = zk_calloc((size_t)n, sizeof(*t->ops));
            if (t->ops == NULL)
                rc = ZK_ENOMEM;
        }
        for (int32_t i = 0; rc == ZK_OK && i < n; i++) {
            struct txn_op *op = &t->ops[t->op_count++];
            op->data_len = -1;
            int32_t type = jute_read_i32(&r);
            struct jute_bytes body = jute_read_bytes(&r, r.left);
            if (!jute_reader_ok(&r) || body.len < 0 || type == TXN_MULTI) {
                rc = ZK_ECORRUPT;
                break;
            }
            struct jute_reader sub;
            jute_reader_init(&sub, body.p, (uint32_t)body.len);
            rc = txn_decode_body(&sub, type, op);
        }
        if (rc == ZK_OK && !jute_reader_ok(&r))
            rc = ZK_ECORRUPT;
    }
    if (rc != ZK_OK)
        txn_deinit(t);
    return rc;
}
