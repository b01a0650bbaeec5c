/* fuzz_txn.c — txn_decode over arbitrary bytes (txn.h): the log payload a
 * corrupt or hostile transaction log could hand the server.
 *
 * Properties:
 *   - txn_decode never crashes; on failure it returns ZK_ECORRUPT or ZK_ENOMEM
 *     and leaves the txn initialised and empty;
 *   - on success, txn_encode (which must accept anything the decoder accepted)
 *     gives a canonical payload e1 that decodes again, and whose re-encoding e2
 *     is byte-for-byte e1 (round trip);
 *   - no strict prefix of e1 decodes to a txn (a torn log record is detected),
 *     except the header alone for closeSession, which is the pre-3.9 format;
 *   - allocation failure: for N = 1, 2, ... the Nth allocation of a decode that
 *     succeeds fails (mem.c hook) until decoding succeeds again; each attempt
 *     returns ZK_ENOMEM with an empty txn and no leak;
 *   - nothing leaks (zk_mem_bytes_in_use returns to its starting value, and the
 *     shared world:anyone lists are back to one reference). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "err.h"
#include "jute.h"
#include "mem.h"
#include "txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define TXN_HEADER_BYTES 32u /* i64 clientId, i32 cxid, i64 zxid, i64 time, i32 type */

static void check_empty(const struct txn *t) {
    CHECK(t->type == 0 && t->ops == NULL && t->op_count == 0);
    CHECK(t->op.path == NULL && t->op.data == NULL && t->op.acl == NULL && t->op.paths == NULL);
    CHECK(t->op.path_count == 0 && t->op.data_len == -1);
}

/* Structural sanity of a decoded txn (what apply or the encoder will rely on). */
static void check_op(const struct txn_op *op) {
    CHECK(op->data_len >= -1);
    CHECK((op->data_len > 0) == (op->data != NULL));
    if (op->path != NULL)
        CHECK(op->path[op->path_len] == '\0');
    for (uint32_t i = 0; i < op->path_count; i++)
        CHECK(op->paths[i] != NULL);
    if (op->acl != NULL)
        CHECK(op->acl->refs >= 1 && op->acl->count <= 1024);
}

/* Decodes (len bytes, exact-size heap copy so overreads are caught). */
static int decode_copy(const uint8_t *p, uint32_t len, struct txn *t) {
    uint8_t *c = malloc(len ? len : 1);
    CHECK(c != NULL);
    if (len > 0)
        memcpy(c, p, len);
    int rc = txn_decode(c, len, t);
    free(c);
    return rc;
}

/* The shared world:anyone lists live as long as the process, as in the server
 * (tree_init creates them at startup); decoding a null ACL vector takes a
 * reference on the open list, which must be dropped again. */
static void check_shared_acls(void) {
    CHECK(acl_open_unsafe()->refs == 1);
    CHECK(acl_read_unsafe()->refs == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20))
        return 0;
    check_shared_acls(); /* creates them on the first run */
    uint64_t base = zk_mem_bytes_in_use();
    struct txn t;
    int rc = decode_copy(data, (uint32_t)size, &t);
    if (rc != ZK_OK) {
        CHECK(rc == ZK_ECORRUPT || rc == ZK_ENOMEM);
        check_empty(&t);
        txn_deinit(&t);
        check_shared_acls();
        CHECK(zk_mem_bytes_in_use() == base);
        return 0;
    }
    check_op(&t.op);
    CHECK(t.type != TXN_MULTI || t.op_count == 0 || t.ops != NULL);
    for (uint32_t i = 0; i < t.op_count; i++) {
        CHECK(t.ops[i].type != TXN_MULTI);
        check_op(&t.ops[i]);
    }

    struct jute_buf e1, e2;
    jute_buf_init(&e1);
    jute_buf_init(&e2);
    txn_encode(&e1, &t);
    CHECK(e1.len >= TXN_HEADER_BYTES);
    /* canonical form is never much longer: a null ACL becomes world:anyone
     * (+23 bytes per op), an absent closeSession list an empty one (+4) */
    CHECK(e1.len <= size + 28 * (t.op_count + 1) + 8);
    CHECK(memcmp(e1.p, data, TXN_HEADER_BYTES) == 0); /* the header survives unchanged */

    struct txn t2;
    rc = decode_copy(e1.p, e1.len, &t2);
    CHECK(rc == ZK_OK);
    CHECK(t2.type == t.type && t2.client_id == t.client_id && t2.cxid == t.cxid);
    CHECK(t2.zxid == t.zxid && t2.time_ms == t.time_ms && t2.op_count == t.op_count);
    txn_encode(&e2, &t2);
    CHECK(e2.len == e1.len);
    CHECK(memcmp(e1.p, e2.p, e1.len) == 0);
    txn_deinit(&t2);

    /* Torn records: strict prefixes of the canonical form must not decode
     * (all of them for small payloads, a sample for large ones). */
    uint32_t step = e1.len <= 512 ? 1 : e1.len / 97 + 1;
    for (uint32_t k = 0; k < e1.len; k += step) {
        struct txn tp;
        rc = decode_copy(e1.p, k, &tp);
        if (rc == ZK_OK) {
            CHECK(t.type == TXN_CLOSE_SESSION && k == TXN_HEADER_BYTES);
            CHECK(tp.op.path_count == 0);
        } else {
            check_empty(&tp);
        }
        txn_deinit(&tp);
    }
    {
        struct txn tp;
        rc = decode_copy(e1.p, e1.len - 1, &tp);
        CHECK(rc != ZK_OK || (t.type == TXN_CLOSE_SESSION && e1.len - 1 == TXN_HEADER_BYTES));
        txn_deinit(&tp);
    }

    jute_buf_deinit(&e1);
    jute_buf_deinit(&e2);
    txn_deinit(&t);
    check_empty(&t);
    check_shared_acls();
    CHECK(zk_mem_bytes_in_use() == base);

    /* allocation-failure loop (bounded: inputs with many allocations stop early) */
    for (uint64_t n = 1; n <= 256; n++) {
        struct txn tf;
        zk_mem_fail_after(n);
        rc = decode_copy(data, (uint32_t)size, &tf);
        zk_mem_fail_after(0);
        if (rc == ZK_OK) {
            txn_deinit(&tf);
            CHECK(zk_mem_bytes_in_use() == base);
            break;
        }
        CHECK(rc == ZK_ENOMEM);
        check_empty(&tf);
        txn_deinit(&tf);
        check_shared_acls();
        CHECK(zk_mem_bytes_in_use() == base);
    }
    return 0;
}
