/* tree.h — the data tree (ZooKeeper DataTree): znodes, their children, stat
 * fields, the ephemeral index and container/TTL sets.
 *
 * Mutations here are the building blocks of apply: they are deterministic
 * functions of their arguments (zxid and time come from the txn). The tree owns
 * every node, its name, data and a reference on its ACL list.
 *
 * Layout. The tree is sized for a million znodes, so a node is one block holding
 * the fields of struct tree_node, its name (the last path component,
 * NUL-terminated) and its data area. Nothing stores a node's full path and there
 * is no global path index: tree_find walks the path one component at a time
 * through each parent's child index. A node does not point to its parent either:
 * callers that need the parent have the path (tree_find_with_parent), and walks
 * keep their ancestors on a stack (tree_walk), which also builds each path. What
 * is not in the node:
 *
 *  - Most of the stat. A node that was created and never changed since (no
 *    setData, setACL or child, so mzxid = pzxid = czxid, mtime = ctime and every
 *    version is 0), which is what most znodes are (locks, queue items,
 *    registrations, sequential and configuration nodes), keeps czxid and ctime
 *    only. The first change moves the rest of the stat, and the child index, to a
 *    struct tree_node_more the node points to (TREE_NODE_MORE; ctime moves there
 *    and its place holds the pointer): 25 bytes of fixed fields for a write-once
 *    node, 25 + 56 for the others. Read the stat with tree_node_raw.
 *  - The ACL: a node holds a 32-bit index into the tree's table of interned
 *    lists (tree_node_acl), and one reference on the list.
 *  - Children: a node with children points (through its tree_node_more) to a
 *    struct tree_kids, an array of
 *    child pointers. Up to TREE_KIDS_SMALL_MAX children it is a dense array that
 *    is scanned; past that, an open-addressing table (linear probing, load 0.2 to
 *    0.8, deletion by backward shift, so no tombstones). Each slot keeps 16 bits
 *    of the child's name hash in the top bits of the pointer, which user-space
 *    pointers leave zero on the 64-bit targets zkd supports (checked when a
 *    child is added): a probe compares those bits and only reads a child node
 *    when they match. A child costs about 8 / load bytes in its parent.
 *    Children are listed in slot order, which is unspecified, like ZooKeeper's
 *    HashSet order.
 *  - Data: inline in the data area when it fits there; otherwise the area holds a
 *    pointer to a separate block (TREE_NODE_DATA_EXT). The area is sized when the
 *    node is created (the data given then, and at least one pointer), so a node
 *    never moves: a setData with more data than the area holds goes out of line,
 *    and comes back inline once it fits again.
 *  - ephemeralOwner: nonzero only for ephemeral, container and TTL nodes. Their
 *    kind is in n->flags; the owner value and their membership in the owner's
 *    list (or the container or TTL set) are in a side table of struct
 *    tree_special records keyed by node address (tree_node_owner). That record
 *    also holds the node's path: an expiring session, container or TTL reaper
 *    starts from the node, not from a path (tree_node_path). */
#ifndef ZK_TREE_H
#define ZK_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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

/* A node's stat as zkd keeps it: StatPersisted without ephemeralOwner (see the
 * header comment), plus the data length. tree_node_raw returns it whole. */
struct tree_node_stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int64_t pzxid;
    int32_t version;
    int32_t cversion; /* raw child-create counter */
    int32_t aversion;
    int32_t data_len; /* -1 = null data */
};

/* A node's child index (see the header comment). Slots hold a child pointer with
 * a 16-bit name-hash tag in bits 48-63; 0 is an empty slot. Up to
 * TREE_KIDS_SMALL_MAX slots the children fill slot[0 .. count) in no order. */
#define TREE_KIDS_SMALL_MAX 7u
#define TREE_KIDS_PTR_MASK ((((uintptr_t)1) << 48) - 1)
/* In cap: a list being filled by a snapshot restore (slot[0 .. count) in the
 * snapshot's order, unhashed), made a table by tree_restore_end. Only a restore
 * ever sees one. */
#define TREE_KIDS_DEFERRED 0x80000000u
struct tree_kids {
    uint32_t count;
    uint32_t cap;
    uintptr_t slot[];
};

/* n->flags: the node's enum tree_kind in the low bits, where its data is, and
 * whether the rest of its stat is out of line. */
#define TREE_NODE_KIND_MASK 0x03u
#define TREE_NODE_DATA_EXT 0x04u /* the data area holds a pointer to the data */
#define TREE_NODE_MORE 0x08u     /* n->u.more holds the stat past czxid */

/* The stat of a node that has changed since it was created, and its children. */
struct tree_node_more {
    struct tree_kids *kids; /* owned; NULL when the node has no children */
    int64_t ctime;
    int64_t mzxid;
    int64_t mtime;
    int64_t pzxid;
    int32_t version;
    int32_t cversion; /* raw child-create counter */
    int32_t aversion;
};

struct tree_node {
    int64_t czxid;
    union {
        int64_t ctime;              /* without TREE_NODE_MORE */
        struct tree_node_more *more; /* with it; owned */
    } u;
    uint32_t acl;     /* index in the tree's ACL table; one reference held */
    int32_t data_len; /* -1 = null data */
    uint8_t flags;
    char name[]; /* NUL-terminated ("" for the root), then the data area */
};

struct tree_owner;   /* per-session ephemeral list, private to tree.c */
struct tree_special; /* side record of an ephemeral/container/TTL node, private */

struct tree {
    struct tree_node *root;
    struct map acls;   /* interned ACL lists, keyed by their jute encoding */
    struct acl_list **acl_table; /* the same lists by index (tree_node_acl); NULL = free */
    uint32_t acl_table_cap;
    uint32_t acl_table_used;  /* indexes ever handed out: acl_table[0 .. used) */
    uint32_t *acl_free;       /* stack of freed indexes */
    uint32_t acl_free_count;
    struct map owners; /* session id -> tree_owner */
    struct queue containers; /* of tree_special, in creation order */
    struct queue ttls;
    struct tree_special **special; /* open addressing by node address */
    uint32_t special_cap;          /* power of two, or 0 */
    uint32_t special_count;
    uint32_t node_count;
    uint32_t ephemeral_count;
    uint32_t path_len_max; /* longest path ever created (sizes path buffers) */
    uint64_t data_bytes;   /* ZooKeeper's approximate data size: path + data lengths */
};

/* Creates "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config". */
void tree_init(struct tree *t);
void tree_deinit(struct tree *t);

enum tree_kind tree_owner_kind(int64_t ephemeral_owner);
int64_t tree_owner_for_ttl(int64_t ttl_ms);
int64_t tree_ttl_of_owner(int64_t ephemeral_owner);

/* Finds a node by its full path ("/" is the root; "", relative paths, empty
 * components and a trailing '/' find nothing). */
struct tree_node *tree_find(const struct tree *t, const char *path, uint32_t len);
/* Finds the parent of path (path must contain a '/' not at the end). */
struct tree_node *tree_find_parent(const struct tree *t, const char *path, uint32_t len);
/* tree_find, and the node's parent in *parent (NULL for the root) when found. */
struct tree_node *tree_find_with_parent(const struct tree *t, const char *path, uint32_t len,
                                        struct tree_node **parent);

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
/* The same under parent, the node at path's parent path (found by the caller). */
struct tree_node *tree_create_in(struct tree *t, struct tree_node *parent, const char *path,
                                 uint32_t len, const void *data, int32_t data_len,
                                 const struct acl_list *acl, int64_t ephemeral_owner,
                                 int32_t parent_cversion, int64_t zxid, int64_t time_ms);
/* Deletes a childless node, a child of parent, whose path is path_len bytes long;
 * the parent's pzxid rises to zxid (never lowers). */
void tree_delete(struct tree *t, struct tree_node *parent, struct tree_node *n, uint32_t path_len,
                 int64_t zxid);
/* The node stays where it is (pointers to it remain valid). */
void tree_set_data(struct tree *t, struct tree_node *n, const void *data, int32_t data_len,
                   int32_t version, int64_t zxid, int64_t time_ms);
void tree_set_acl(struct tree *t, struct tree_node *n, const struct acl_list *acl,
                  int32_t aversion);
/* Raises the parent's create counter to cversion, and its pzxid to zxid with it,
 * when cversion is above the counter (replay of a create whose node exists). */
void tree_raise_cversion(struct tree *t, struct tree_node *parent, int32_t cversion,
                         int64_t zxid);
/* Overwrites every stat field but data_len (tests and snapshot restore). */
void tree_node_set_stat(struct tree *t, struct tree_node *n, const struct tree_node_stat *st);

/* Restoring a snapshot (snap_load):
 *   struct tree_restore r;
 *   tree_restore_begin(t, &r);
 *   ... tree_restore_node(t, &r, ...) for each node, parents first ...
 *   ok = tree_restore_end(&r);     (always, also after a failure)
 * Nothing else may use the tree between begin and end.
 *
 * A big directory would otherwise cost a child-index probe per node (a cache
 * miss) and a rehash of every child each time the table grows. So once a parent
 * restored from the snapshot passes TREE_KIDS_SMALL_MAX children, its index
 * becomes a deferred list (TREE_KIDS_DEFERRED): children are appended unhashed
 * and unchecked, and tree_restore_end builds each table once, at its final size,
 * from the list's order, which is the order the nodes sit in memory. A name
 * listed twice under such a parent is found then. */
#define TREE_RESTORE_SEEDED_MAX 8u
struct tree_restore {
    /* The node restored last (chain[depth]) and its ancestors by depth, root at 0:
     * in pre-order, the next node's parent is one of them. */
    struct tree_node **chain;
    uint32_t depth;
    uint32_t chain_cap;           /* 0 until the first node */
    struct tree_node **deferred;  /* parents whose index is a deferred list */
    uint32_t deferred_count;
    uint32_t deferred_cap;
    /* Parents that had children before the restore (the root, /zookeeper): a
     * snapshot lists those children again, and they are overwritten in place. */
    const struct tree_node *seeded[TREE_RESTORE_SEEDED_MAX];
    uint32_t seeded_count;
    bool all_seeded; /* the tree was not fresh: every parent counts as seeded */
    bool defer_off;  /* the snapshot left pre-order: no more deferred lists */
    bool twice;     /* a deferred list held a name twice */
};
void tree_restore_begin(struct tree *t, struct tree_restore *r);
/* Restores a node exactly as persisted: creates it under its existing parent,
 * with the given data, ACL (borrowed, interned) and persisted stat, or
 * overwrites an existing child of a seeded parent (the root and the system
 * nodes). The parent's stat is left alone (it comes from the snapshot too).
 * Returns false if the parent is missing, the path is not absolute or holds a
 * NUL, the path is listed twice under a parent that is not seeded, or a node
 * would be or become ephemeral, container or TTL. Snapshots list nodes in
 * pre-order, so the parent is found among the last node's ancestors (r->chain)
 * instead of a lookup by path. */
bool tree_restore_node(struct tree *t, struct tree_restore *r, const char *path, uint32_t len,
                       const void *data, int32_t data_len, const struct acl_list *acl,
                       const struct tree_stat *st);
/* Builds the deferred indexes and frees r's memory. Returns false if a parent
 * holds a name twice (the tree is then only fit for tree_deinit). */
bool tree_restore_end(struct tree_restore *r);

/* ---- reading a node ---- */

static inline enum tree_kind tree_node_kind(const struct tree_node *n) {
    return (enum tree_kind)(n->flags & TREE_NODE_KIND_MASK);
}

static inline const struct tree_kids *tree_node_kids(const struct tree_node *n) {
    return (n->flags & TREE_NODE_MORE) ? n->u.more->kids : NULL;
}

/* The node's stat (ephemeralOwner apart: tree_node_owner). */
static inline struct tree_node_stat tree_node_raw(const struct tree_node *n) {
    struct tree_node_stat s;
    s.czxid = n->czxid;
    s.data_len = n->data_len;
    if (n->flags & TREE_NODE_MORE) {
        const struct tree_node_more *m = n->u.more;
        s.ctime = m->ctime;
        s.mzxid = m->mzxid;
        s.mtime = m->mtime;
        s.pzxid = m->pzxid;
        s.version = m->version;
        s.cversion = m->cversion;
        s.aversion = m->aversion;
    } else {
        s.ctime = s.mtime = n->u.ctime;
        s.mzxid = s.pzxid = n->czxid;
        s.version = s.cversion = s.aversion = 0;
    }
    return s;
}

/* The node's ACL list (interned; borrowed). */
static inline struct acl_list *tree_node_acl(const struct tree *t, const struct tree_node *n) {
    return t->acl_table[n->acl];
}

/* The node's data: data_len bytes (none when it is 0 or -1). */
static inline const uint8_t *tree_node_data(const struct tree_node *n) {
    const uint8_t *area = (const uint8_t *)n->name + strlen(n->name) + 1;
    if (n->flags & TREE_NODE_DATA_EXT) {
        const uint8_t *p;
        memcpy(&p, area, sizeof(p));
        return p;
    }
    return area;
}

static inline uint32_t tree_child_count(const struct tree_node *n) {
    const struct tree_kids *k = tree_node_kids(n);
    return k != NULL ? k->count : 0;
}

/* Children in index order (unspecified; stable while the node's children do not
 * change):
 *   uint32_t it = 0;
 *   for (struct tree_node *c; (c = tree_child_next(n, &it)) != NULL;) ...
 * Slot order is unrelated to where the children are in memory, so each step
 * prefetches the child a few slots on (a walk over a big index would otherwise
 * wait for a cache miss per child). */
#define TREE_KIDS_PREFETCH 8u
static inline struct tree_node *tree_child_next(const struct tree_node *n, uint32_t *it) {
    const struct tree_kids *k = tree_node_kids(n);
    if (k == NULL)
        return NULL;
    for (uint32_t i = *it; i < k->cap; i++) {
        if (k->slot[i] != 0) {
            *it = i + 1;
            if (i + TREE_KIDS_PREFETCH < k->cap) /* an empty slot prefetches NULL: harmless */
                __builtin_prefetch((const void *)(k->slot[i + TREE_KIDS_PREFETCH] &
                                                  TREE_KIDS_PTR_MASK));
            return (struct tree_node *)(k->slot[i] & TREE_KIDS_PTR_MASK);
        }
    }
    *it = k->cap;
    return NULL;
}

/* The raw ephemeralOwner (0, a session id, or a container/TTL marker). */
int64_t tree_node_owner(const struct tree *t, const struct tree_node *n);
/* The persisted stat, ephemeralOwner included. */
void tree_node_persisted(const struct tree *t, const struct tree_node *n, struct tree_stat *out);
void tree_node_stat(const struct tree *t, const struct tree_node *n, struct zk_stat *out);
void tree_stat_encode(struct jute_buf *b, const struct zk_stat *s);
/* Visible cversion from the raw counter (2 x counter - numChildren). */
int32_t tree_visible_cversion(int32_t counter, int32_t num_children);

/* n's full path ("/" for the root): written with its NUL into buf when it fits in
 * cap bytes; the path's length is returned either way (as snprintf). The root
 * and ephemeral, container and TTL nodes have theirs at hand (O(1)); any other
 * node is searched for by a walk of the whole tree, O(nodes): for tests and
 * diagnostics, never a request path. */
uint32_t tree_node_path(const struct tree *t, const struct tree_node *n, char *buf, uint32_t cap);
/* The same, in a new NUL-terminated block the caller frees (zk_free). */
char *tree_node_path_dup(const struct tree *t, const struct tree_node *n, uint32_t *len);

/* Pre-order walk of the whole tree with each node's path, built incrementally:
 *   struct tree_walk w; tree_walk_init(&w, t);
 *   for (const struct tree_node *n; (n = tree_walk_next(&w)) != NULL;) use w.path, w.len
 *   tree_walk_deinit(&w);
 * The tree must not change during a walk. Only init allocates (a path buffer and
 * a stack of ancestors, sized by the tree's longest path), so a walk set up
 * before a fork runs in the child; tree_walk_restart begins it again. */
struct tree_walk_level {
    const struct tree_node *node;
    uint32_t it;  /* tree_child_next position in node's children */
    uint32_t len; /* node's path length, 0 for the root (its children add "/name") */
};
struct tree_walk {
    const struct tree *t;
    const struct tree_node *top;  /* where the walk starts */
    struct tree_walk_level *stack; /* stack[depth - 1] is the node last returned */
    uint32_t depth;
    uint32_t stack_cap;
    char *path; /* the last node's path, NUL-terminated ("/" for the root; relative
                 * to top, "" for top, when top is not the root) */
    uint32_t len;
    uint32_t cap;
    bool started;
};
void tree_walk_init(struct tree_walk *w, const struct tree *t);
/* A walk of top and its descendants (top first). */
void tree_walk_init_at(struct tree_walk *w, const struct tree *t, const struct tree_node *top);
const struct tree_node *tree_walk_next(struct tree_walk *w);
void tree_walk_restart(struct tree_walk *w);
/* The parent of the node last returned (NULL for top). */
static inline const struct tree_node *tree_walk_parent(const struct tree_walk *w) {
    return w->depth >= 2 ? w->stack[w->depth - 2].node : NULL;
}
void tree_walk_deinit(struct tree_walk *w);

/* Ephemerals of a session, in creation order. Calls fn for each; fn may
 * delete the node it is given, and no other. */
typedef void tree_node_fn(void *ctx, struct tree_node *n);
void tree_for_each_ephemeral(const struct tree *t, int64_t owner, tree_node_fn *fn, void *ctx);
uint32_t tree_ephemeral_count_of(const struct tree *t, int64_t owner);
/* Container (kind TREE_CONTAINER) or TTL (TREE_TTL) nodes, in creation order;
 * fn may delete the node it is given, and no other. */
void tree_for_each_of_kind(const struct tree *t, enum tree_kind kind, tree_node_fn *fn,
                           void *ctx);
/* Session ids that own ephemerals. */
void tree_for_each_owner(const struct tree *t, void (*fn)(void *ctx, int64_t owner), void *ctx);
/* Number of descendants (getAllChildrenNumber). */
uint32_t tree_descendant_count(const struct tree *t, const struct tree_node *n);
uint32_t tree_node_count(const struct tree *t);

/* Checks every internal invariant (child indexes, side table, counters) in
 * O(nodes); returns NULL, or what is wrong. For tests and fuzzing. */
/* The probes a lookup of every child of n makes in its index (1 per child at
 * its home slot, more for children displaced by others): the quality of the
 * index as a number, for tests. */
uint64_t tree_child_probes(const struct tree_node *n);
const char *tree_check(const struct tree *t);

#endif
