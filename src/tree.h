/* tree.h — the data tree (ZooKeeper DataTree): znodes indexed by full path,
 * children lists, stat fields, the ephemeral index and container/TTL sets.
 *
 * Mutations here are the building blocks of apply: they are deterministic
 * functions of their arguments (zxid and time come from the txn). The tree owns
 * every node, its path, data and a reference on its ACL list. */
#ifndef ZK_TREE_H
#define ZK_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "jute.h"
#include "map.h"
#include "queue.h"

/* Ephemeral-owner markers (ZooKeeper EphemeralType). */
#define TREE_OWNER_CONTAINER ((int64_t)INT64_MIN)
#define TREE_OWNER_TTL_MASK ((int64_t)0xff00000000000000ULL)
#define TREE_OWNER_TTL_BITS ((int64_t)0x00ffffffffffffffLL)

enum tree_kind { TREE_NORMAL, TREE_EPHEMERAL, TREE_CONTAINER, TREE_TTL };

/* What ZooKeeper persists (StatPersisted); cversion here is the raw child-create
 * counter, not the value clients see. */
struct tree_stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeral_owner; /* raw, including container/TTL markers */
    int64_t pzxid;
};

/* The 68-byte Stat clients see. */
struct zk_stat {
    int64_t czxid, mzxid, ctime, mtime;
    int32_t version, cversion, aversion;
    int64_t ephemeral_owner;
    int32_t data_length, num_children;
    int64_t pzxid;
};

struct tree_node {
    struct map_entry link; /* key = path */
    char *path;            /* owned, NUL-terminated, full path ("/" for the root) */
    uint32_t path_len;
    const char *name; /* points into path: the last component */
    struct tree_node *parent;
    struct tree_node **children; /* owned array of borrowed child pointers */
    uint32_t child_count;
    uint32_t child_cap;
    uint32_t parent_index; /* position in parent->children */
    uint8_t *data;         /* owned; NULL when data_len <= 0 */
    int32_t data_len;      /* -1 = null data */
    struct acl_list *acl;  /* one reference held */
    struct tree_stat stat;
    struct queue kind_link; /* in the owner's ephemeral list, or containers/ttls */
};

struct tree_owner; /* per-session ephemeral list, private to tree.c */

struct tree {
    struct map nodes;   /* path -> tree_node */
    struct map acls;    /* interned ACL lists, keyed by their jute encoding */
    struct map owners;  /* session id -> tree_owner */
    struct queue containers;
    struct queue ttls;
    struct tree_node *root;
    uint64_t data_bytes; /* ZooKeeper's approximate data size: path + data lengths */
    uint32_t ephemeral_count;
};

/* Creates "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config". */
void tree_init(struct tree *t);
void tree_deinit(struct tree *t);

enum tree_kind tree_owner_kind(int64_t ephemeral_owner);
int64_t tree_owner_for_ttl(int64_t ttl_ms);
int64_t tree_ttl_of_owner(int64_t ephemeral_owner);

struct tree_node *tree_find(const struct tree *t, const char *path, uint32_t len);
/* Finds the parent of path (path must contain a '/' not at the end). */
struct tree_node *tree_find_parent(const struct tree *t, const char *path, uint32_t len);

/* ACL interning (ZooKeeper's ReferenceCountedACLCache): nodes with equal ACLs
 * share one list. Returns the shared list with a new reference; acl is
 * borrowed. tree_acl_release drops a reference on any list (NULL is a no-op)
 * and forgets an interned list once only the cache holds it: every holder of
 * a reference to a list that may be interned must release it this way. */
struct acl_list *tree_acl_intern(struct tree *t, const struct acl_list *acl);
void tree_acl_release(struct tree *t, struct acl_list *acl);
uint32_t tree_acl_count(const struct tree *t);

/* Creates a node (ZooKeeper createNode). The parent must exist and the path
 * must not. parent_cversion is the new value of the parent's create counter;
 * the parent's pzxid moves to zxid only when the counter advances (replay
 * idempotence, as ZooKeeper). acl is borrowed (interned). Never fails. */
struct tree_node *tree_create(struct tree *t, const char *path, uint32_t len, const void *data,
                              int32_t data_len, const struct acl_list *acl, int64_t ephemeral_owner,
                              int32_t parent_cversion, int64_t zxid, int64_t time_ms);
/* Deletes a childless node; the parent's pzxid rises to zxid (never lowers). */
void tree_delete(struct tree *t, struct tree_node *n, int64_t zxid);
void tree_set_data(struct tree *t, struct tree_node *n, const void *data, int32_t data_len,
                   int32_t version, int64_t zxid, int64_t time_ms);
void tree_set_acl(struct tree *t, struct tree_node *n, const struct acl_list *acl,
                  int32_t aversion);

/* Restores a node exactly as persisted (snapshot load): creates it under its
 * existing parent, or overwrites an existing node (the root and system nodes), with
 * the given data, ACL (borrowed, interned) and persisted stat. The parent's stat is
 * left alone (it comes from the snapshot too). Returns false if the parent is
 * missing or the path is not absolute. *cursor (NULL at the start) is the node
 * restored last: snapshots list nodes in pre-order, so the parent is found by
 * walking up from it instead of a lookup by path. */
bool tree_restore_node(struct tree *t, struct tree_node **cursor, const char *path, uint32_t len,
                       const void *data, int32_t data_len, const struct acl_list *acl,
                       const struct tree_stat *st);

void tree_node_stat(const struct tree_node *n, struct zk_stat *out);
void tree_stat_encode(struct jute_buf *b, const struct zk_stat *s);
/* Visible cversion from the raw counter (2 x counter - numChildren). */
int32_t tree_visible_cversion(int32_t counter, int32_t num_children);

/* Ephemerals of a session, in creation order. Calls fn for each; fn may
 * delete the node it is given, and no other. */
typedef void tree_node_fn(void *ctx, struct tree_node *n);
void tree_for_each_ephemeral(const struct tree *t, int64_t owner, tree_node_fn *fn, void *ctx);
uint32_t tree_ephemeral_count_of(const struct tree *t, int64_t owner);
/* Session ids that own ephemerals. */
void tree_for_each_owner(const struct tree *t, void (*fn)(void *ctx, int64_t owner), void *ctx);
/* Number of descendants (getAllChildrenNumber). */
uint32_t tree_descendant_count(const struct tree_node *n);
uint32_t tree_node_count(const struct tree *t);

#endif
