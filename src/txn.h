/* txn.h — transaction records: the deterministic result of prep, the unit that
 * apply consumes, the log stores and ZAB replicates. Encoding follows
 * ZooKeeper's txn log payload: TxnHeader {i64 clientId, i32 cxid, i64 zxid,
 * i64 time, i32 type} followed by the type's record (zookeeper.jute):
 *   create/create2 (1/15)   CreateTxn {str path, buf data, vec<ACL> acl, bool ephemeral, i32 parentCVersion}
 *   createContainer (19)    CreateContainerTxn {str path, buf data, vec<ACL>, i32 parentCVersion}
 *   createTTL (21)          CreateTTLTxn {str path, buf data, vec<ACL>, i32 parentCVersion, i64 ttl}
 *   delete (2), deleteContainer (20)  DeleteTxn {str path}
 *   setData (5)             SetDataTxn {str path, buf data, i32 version}
 *   setACL (7)              SetACLTxn {str path, vec<ACL> acl, i32 version}
 *   check (13)              CheckVersionTxn {str path, i32 version}
 *   createSession (-10)     CreateSessionTxn {i32 timeOut}
 *   closeSession (-11)      CloseSessionTxn {vec<str> paths2Delete}
 *   error (-1)              ErrorTxn {i32 err}
 *   multi (14)              MultiTxn {vec<Txn{i32 type, buf data}>}
 * The in-memory form owns its strings, data and ACL references. */
#ifndef ZK_TXN_H
#define ZK_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "jute.h"

enum txn_type {
    TXN_ERROR = -1,
    TXN_CREATE = 1,
    TXN_DELETE = 2,
    TXN_SET_DATA = 5,
    TXN_SET_ACL = 7,
    TXN_CHECK = 13,
    TXN_MULTI = 14,
    TXN_CREATE2 = 15,
    TXN_CREATE_CONTAINER = 19,
    TXN_DELETE_CONTAINER = 20,
    TXN_CREATE_TTL = 21,
    TXN_CREATE_SESSION = -10,
    TXN_CLOSE_SESSION = -11,
};

/* One operation: a plain txn body, or one element of a multi. */
struct txn_op {
    int32_t type;
    char *path; /* owned, NUL-terminated (NULL for session/error ops) */
    uint32_t path_len;
    uint8_t *data; /* owned; NULL if data_len <= 0 */
    int32_t data_len; /* -1 = null */
    struct acl_list *acl; /* one reference, or NULL */
    bool ephemeral;
    int32_t parent_cversion;
    int64_t ttl;
    int32_t version;
    int32_t err;        /* TXN_ERROR */
    int32_t timeout_ms; /* TXN_CREATE_SESSION */
    char **paths;       /* TXN_CLOSE_SESSION: owned array of owned paths */
    uint32_t path_count;
};

struct txn {
    int64_t client_id;
    int32_t cxid;
    int64_t zxid;
    int64_t time_ms;
    int32_t type;
    struct txn_op op;     /* for every type but TXN_MULTI */
    struct txn_op *ops;   /* TXN_MULTI: owned array */
    uint32_t op_count;
};

void txn_init(struct txn *t);
void txn_deinit(struct txn *t);
void txn_op_deinit(struct txn_op *op);
/* Appends a zeroed op to a multi (panics on OOM). */
struct txn_op *txn_add_op(struct txn *t);

/* Appends the log payload (TxnHeader + record) to b. */
void txn_encode(struct jute_buf *b, const struct txn *t);
/* Decodes a payload. Returns ZK_OK or ZK_ECORRUPT/ZK_ENOMEM; on error *t is
 * left initialised and empty. */
int txn_decode(const uint8_t *p, uint32_t len, struct txn *t);
bool txn_is_create(int32_t type);

#endif
