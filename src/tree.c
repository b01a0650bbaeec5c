#include "tree.h"

#include <string.h>

#include "base.h"
#include "mem.h"

struct tree_acl {
    struct map_entry link;
    const struct tree *tree;
    struct jute_buf key; /* the list's jute encoding */
    struct acl_list *acl; /* the cache's own copy; nodes hold further references */
};

struct tree_owner {
    struct map_entry link; /* key = the 8 bytes of id */
    int64_t id;
    struct queue nodes;
    uint32_t count;
};

enum tree_kind tree_owner_kind(int64_t owner) {
    if (owner == 0)
        return TREE_NORMAL;
    if (owner == TREE_OWNER_CONTAINER)
        return TREE_CONTAINER;
    if ((owner & TREE_OWNER_TTL_MASK) == TREE_OWNER_TTL_MASK)
        return TREE_TTL;
    return TREE_EPHEMERAL;
}

int64_t tree_owner_for_ttl(int64_t ttl_ms) {
    ZK_ASSERT(ttl_ms > 0 && ttl_ms <= TREE_OWNER_TTL_BITS);
    return TREE_OWNER_TTL_MASK | ttl_ms;
}

int64_t tree_ttl_of_owner(int64_t owner) { return owner & TREE_OWNER_TTL_BITS; }

int32_t tree_visible_cversion(int32_t counter, int32_t num_children) {
    return (int32_t)((uint32_t)counter * 2u - (uint32_t)num_children);
}

static struct acl_list *tree_acl_copy(const struct acl_list *in) {
    struct acl_list *l = zk_xmalloc(sizeof(*l) + (size_t)in->count * sizeof(struct acl_entry));
    l->refs = 1;
    l->count = in->count;
    l->interned = NULL;
    for (uint32_t i = 0; i < in->count; i++) {
        l->e[i].perms = in->e[i].perms;
        l->e[i].scheme = zk_xstrndup(in->e[i].scheme, strlen(in->e[i].scheme));
        l->e[i].id = zk_xstrndup(in->e[i].id, strlen(in->e[i].id));
    }
    return l;
}

static struct tree_acl *tree_acl_find(const struct tree *t, const struct acl_list *acl,
                                      struct jute_buf *key) {
    jute_buf_init(key);
    acl_encode(key, acl);
    struct map_entry *e = map_find(&t->acls, key->p, key->len);
    return e ? zk_container_of(e, struct tree_acl, link) : NULL;
}

/* The cache entry of a list this tree interned, or NULL for any other list. */
static struct tree_acl *tree_acl_entry(const struct tree *t, const struct acl_list *acl) {
    struct tree_acl *a = acl->interned;
    return a != NULL && a->tree == t ? a : NULL;
}

struct acl_list *tree_acl_intern(struct tree *t, const struct acl_list *acl) {
    ZK_ASSERT(acl != NULL);
    struct tree_acl *known = tree_acl_entry(t, acl);
    if (known != NULL)
        return acl_ref(known->acl); /* already this tree's copy: no encoding, no lookup */
    struct jute_buf key;
    struct tree_acl *a = tree_acl_find(t, acl, &key);
    if (a != NULL) {
        jute_buf_deinit(&key);
        return acl_ref(a->acl);
    }
    a = zk_xcalloc(1, sizeof(*a));
    a->tree = t;
    a->key = key;
    a->acl = tree_acl_copy(acl);
    a->acl->interned = a;
    map_insert(&t->acls, &a->link, a->key.p, a->key.len);
    return acl_ref(a->acl);
}

void tree_acl_release(struct tree *t, struct acl_list *acl) {
    if (acl == NULL)
        return;
    struct tree_acl *a = tree_acl_entry(t, acl);
    acl_unref(acl);
    if (a != NULL && acl->refs == 1) {
        map_remove(&t->acls, &a->link);
        acl_unref(a->acl);
        jute_buf_deinit(&a->key);
        zk_free(a);
    }
}

uint32_t tree_acl_count(const struct tree *t) { return t->acls.count; }

static struct tree_node *tree_node_new(const char *path, uint32_t len) {
    struct tree_node *n = zk_xcalloc(1, sizeof(*n));
    n->path = zk_xstrndup(path, len);
    n->path_len = len;
    const char *slash = len > 1 ? strrchr(n->path, '/') : NULL;
    n->name = slash ? slash + 1 : n->path + len;
    n->data_len = -1;
    queue_init(&n->kind_link);
    return n;
}

static void tree_child_add(struct tree_node *parent, struct tree_node *child) {
    if (parent->child_count == parent->child_cap) {
        uint32_t cap = parent->child_cap ? parent->child_cap * 2 : 4;
        parent->children = zk_xrealloc(parent->children, cap * sizeof(*parent->children));
        parent->child_cap = cap;
    }
    child->parent = parent;
    child->parent_index = parent->child_count;
    parent->children[parent->child_count++] = child;
}

static void tree_child_remove(struct tree_node *parent, struct tree_node *child) {
    uint32_t i = child->parent_index;
    ZK_ASSERT(i < parent->child_count && parent->children[i] == child);
    struct tree_node *last = parent->children[--parent->child_count];
    parent->children[i] = last;
    last->parent_index = i;
    child->parent = NULL;
}

static void tree_index(struct tree *t, struct tree_node *n) {
    map_insert(&t->nodes, &n->link, n->path, n->path_len);
    t->data_bytes += n->path_len + (n->data_len > 0 ? (uint32_t)n->data_len : 0);
}

static void tree_add_system(struct tree *t, struct tree_node *parent, const char *path,
                            struct acl_list *acl) {
    struct tree_node *n = tree_node_new(path, (uint32_t)strlen(path));
    n->acl = tree_acl_intern(t, acl);
    n->data_len = 0; /* ZooKeeper's system nodes hold empty, not null, data */
    tree_child_add(parent, n);
    tree_index(t, n);
}

void tree_init(struct tree *t) {
    map_init(&t->nodes);
    map_init(&t->acls);
    map_init(&t->owners);
    queue_init(&t->containers);
    queue_init(&t->ttls);
    t->data_bytes = 0;
    t->ephemeral_count = 0;
    /* ZooKeeper's root is stored under "" in snapshots but addressed as "/". */
    t->root = tree_node_new("/", 1);
    t->root->acl = tree_acl_intern(t, acl_open_unsafe());
    t->root->data_len = 0;
    tree_index(t, t->root);
    tree_add_system(t, t->root, "/zookeeper", acl_open_unsafe());
    struct tree_node *zk = tree_find(t, "/zookeeper", 10);
    tree_add_system(t, zk, "/zookeeper/quota", acl_open_unsafe());
    tree_add_system(t, zk, "/zookeeper/config", acl_read_unsafe());
    /* ZooKeeper installs the config node's ACL with version -1. */
    tree_find(t, "/zookeeper/config", 17)->stat.aversion = -1;
}

static void tree_node_free(struct tree *t, struct tree_node *n) {
    zk_free(n->children);
    zk_free(n->data);
    tree_acl_release(t, n->acl);
    zk_free(n->path);
    zk_free(n);
}

static void tree_free_subtree(struct tree *t, struct tree_node *n) {
    for (uint32_t i = 0; i < n->child_count; i++)
        tree_free_subtree(t, n->children[i]);
    tree_node_free(t, n);
}

void tree_deinit(struct tree *t) {
    uint32_t b;
    struct map_entry *e = map_first(&t->owners, &b);
    while (e != NULL) {
        struct map_entry *next = map_next(&t->owners, e, &b);
        zk_free(zk_container_of(e, struct tree_owner, link));
        e = next;
    }
    tree_free_subtree(t, t->root);
    ZK_ASSERT(t->acls.count == 0);
    map_deinit(&t->acls);
    map_deinit(&t->nodes);
    map_deinit(&t->owners);
    t->root = NULL;
}

struct tree_node *tree_find(const struct tree *t, const char *path, uint32_t len) {
    struct map_entry *e = map_find(&t->nodes, path, len);
    return e ? zk_container_of(e, struct tree_node, link) : NULL;
}

struct tree_node *tree_find_parent(const struct tree *t, const char *path, uint32_t len) {
    uint32_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    if (i == 0)
        return NULL;
    return tree_find(t, path, i == 1 ? 1 : i - 1);
}

static struct tree_owner *tree_owner_get(struct tree *t, int64_t id, bool create) {
    struct map_entry *e = map_find(&t->owners, &id, sizeof(id));
    if (e != NULL)
        return zk_container_of(e, struct tree_owner, link);
    if (!create)
        return NULL;
    struct tree_owner *o = zk_xcalloc(1, sizeof(*o));
    o->id = id;
    queue_init(&o->nodes);
    map_insert(&t->owners, &o->link, &o->id, sizeof(o->id));
    return o;
}

static struct tree_node *tree_create_under(struct tree *t, struct tree_node *parent,
                                           const char *path, uint32_t len, const void *data,
                                           int32_t data_len, const struct acl_list *acl,
                                           int64_t owner, int32_t parent_cversion, int64_t zxid,
                                           int64_t time_ms);

struct tree_node *tree_create(struct tree *t, const char *path, uint32_t len, const void *data,
                              int32_t data_len, const struct acl_list *acl, int64_t owner,
                              int32_t parent_cversion, int64_t zxid, int64_t time_ms) {
    struct tree_node *parent = tree_find_parent(t, path, len);
    ZK_ASSERT(parent != NULL);
    ZK_DEBUG_ASSERT(tree_find(t, path, len) == NULL);
    return tree_create_under(t, parent, path, len, data, data_len, acl, owner, parent_cversion,
                             zxid, time_ms);
}

/* parent is the node at path's parent path; path does not exist. */
static struct tree_node *tree_create_under(struct tree *t, struct tree_node *parent,
                                           const char *path, uint32_t len, const void *data,
                                           int32_t data_len, const struct acl_list *acl,
                                           int64_t owner, int32_t parent_cversion, int64_t zxid,
                                           int64_t time_ms) {
    struct tree_node *n = tree_node_new(path, len);
    if (data_len > 0) {
        n->data = zk_xmalloc((size_t)data_len);
        memcpy(n->data, data, (size_t)data_len);
    }
    n->data_len = data_len < 0 ? -1 : data_len;
    n->acl = tree_acl_intern(t, acl);
    n->stat = (struct tree_stat){.czxid = zxid, .mzxid = zxid, .ctime = time_ms,
                                 .mtime = time_ms, .ephemeral_owner = owner, .pzxid = zxid};
    if (parent_cversion == -1)
        parent_cversion = parent->stat.cversion + 1;
    if (parent_cversion > parent->stat.cversion) {
        parent->stat.cversion = parent_cversion;
        parent->stat.pzxid = zxid;
    }
    tree_child_add(parent, n);
    tree_index(t, n);
    switch (tree_owner_kind(owner)) {
    case TREE_EPHEMERAL: {
        struct tree_owner *o = tree_owner_get(t, owner, true);
        queue_insert_tail(&o->nodes, &n->kind_link);
        o->count++;
        t->ephemeral_count++;
        break;
    }
    case TREE_CONTAINER:
        queue_insert_tail(&t->containers, &n->kind_link);
        break;
    case TREE_TTL:
        queue_insert_tail(&t->ttls, &n->kind_link);
        break;
    case TREE_NORMAL:
        break;
    }
    return n;
}

void tree_delete(struct tree *t, struct tree_node *n, int64_t zxid) {
    ZK_ASSERT(n != t->root && n->child_count == 0);
    struct tree_node *parent = n->parent;
    tree_child_remove(parent, n);
    if (zxid > parent->stat.pzxid)
        parent->stat.pzxid = zxid;
    map_remove(&t->nodes, &n->link);
    t->data_bytes -= n->path_len + (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    if (!queue_empty(&n->kind_link))
        queue_remove(&n->kind_link);
    if (tree_owner_kind(n->stat.ephemeral_owner) == TREE_EPHEMERAL) {
        struct tree_owner *o = tree_owner_get(t, n->stat.ephemeral_owner, false);
        ZK_ASSERT(o != NULL && o->count > 0);
        t->ephemeral_count--;
        if (--o->count == 0) {
            map_remove(&t->owners, &o->link);
            zk_free(o);
        }
    }
    tree_node_free(t, n);
}

void tree_set_data(struct tree *t, struct tree_node *n, const void *data, int32_t data_len,
                   int32_t version, int64_t zxid, int64_t time_ms) {
    t->data_bytes -= (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    zk_free(n->data);
    n->data = NULL;
    if (data_len > 0) {
        n->data = zk_xmalloc((size_t)data_len);
        memcpy(n->data, data, (size_t)data_len);
    }
    n->data_len = data_len < 0 ? -1 : data_len;
    t->data_bytes += (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    n->stat.version = version;
    n->stat.mzxid = zxid;
    n->stat.mtime = time_ms;
}

void tree_set_acl(struct tree *t, struct tree_node *n, const struct acl_list *acl,
                  int32_t aversion) {
    struct acl_list *old = n->acl;
    n->acl = tree_acl_intern(t, acl);
    tree_acl_release(t, old);
    n->stat.aversion = aversion;
}

/* The node at path's parent path, found from `near` or its ancestors, else by lookup. */
static struct tree_node *tree_restore_parent(const struct tree *t, struct tree_node *near,
                                             const char *path, uint32_t len) {
    uint32_t plen = len;
    while (plen > 0 && path[plen - 1] != '/')
        plen--;
    if (plen == 0)
        return NULL;
    plen = plen == 1 ? 1 : plen - 1;
    for (struct tree_node *p = near; p != NULL; p = p->parent) {
        if (p->path_len == plen && memcmp(p->path, path, plen) == 0)
            return p;
        if (p->path_len < plen)
            break; /* ancestors only get shorter */
    }
    return tree_find(t, path, plen);
}

bool tree_restore_node(struct tree *t, struct tree_node **cursor, const char *path, uint32_t len,
                       const void *data, int32_t data_len, const struct acl_list *acl,
                       const struct tree_stat *st) {
    struct tree_node *n = len == 0 ? t->root : tree_find(t, path, len);
    if (n == NULL) {
        if (len < 2 || path[0] != '/' || path[len - 1] == '/')
            return false;
        struct tree_node *parent = tree_restore_parent(t, *cursor, path, len);
        if (parent == NULL)
            return false;
        n = tree_create_under(t, parent, path, len, data, data_len, acl, st->ephemeral_owner,
                              parent->stat.cversion, st->czxid, st->ctime);
    } else {
        if (tree_owner_kind(st->ephemeral_owner) != TREE_NORMAL)
            return false; /* the root and system nodes are never ephemeral */
        tree_set_data(t, n, data, data_len, st->version, st->mzxid, st->mtime);
        tree_set_acl(t, n, acl, st->aversion);
    }
    n->stat = *st;
    *cursor = n;
    return true;
}

void tree_node_stat(const struct tree_node *n, struct zk_stat *out) {
    out->czxid = n->stat.czxid;
    out->mzxid = n->stat.mzxid;
    out->ctime = n->stat.ctime;
    out->mtime = n->stat.mtime;
    out->version = n->stat.version;
    out->cversion = tree_visible_cversion(n->stat.cversion, (int32_t)n->child_count);
    out->aversion = n->stat.aversion;
    out->ephemeral_owner =
        tree_owner_kind(n->stat.ephemeral_owner) == TREE_EPHEMERAL ? n->stat.ephemeral_owner : 0;
    out->data_length = n->data_len < 0 ? 0 : n->data_len;
    out->num_children = (int32_t)n->child_count;
    out->pzxid = n->stat.pzxid;
}

void tree_stat_encode(struct jute_buf *b, const struct zk_stat *s) {
    jute_write_i64(b, s->czxid);
    jute_write_i64(b, s->mzxid);
    jute_write_i64(b, s->ctime);
    jute_write_i64(b, s->mtime);
    jute_write_i32(b, s->version);
    jute_write_i32(b, s->cversion);
    jute_write_i32(b, s->aversion);
    jute_write_i64(b, s->ephemeral_owner);
    jute_write_i32(b, s->data_length);
    jute_write_i32(b, s->num_children);
    jute_write_i64(b, s->pzxid);
}

void tree_for_each_ephemeral(const struct tree *t, int64_t owner, tree_node_fn *fn, void *ctx) {
    struct tree_owner *o = tree_owner_get((struct tree *)t, owner, false);
    if (o == NULL)
        return;
    /* fn may delete the node it is given; deleting the last one frees o. */
    struct queue *q = o->nodes.next;
    while (q != &o->nodes) {
        struct queue *next = q->next;
        bool last = next == &o->nodes;
        fn(ctx, QUEUE_DATA(q, struct tree_node, kind_link));
        if (last)
            break;
        q = next;
    }
}

uint32_t tree_ephemeral_count_of(const struct tree *t, int64_t owner) {
    struct tree_owner *o = tree_owner_get((struct tree *)t, owner, false);
    return o ? o->count : 0;
}

void tree_for_each_owner(const struct tree *t, void (*fn)(void *ctx, int64_t owner), void *ctx) {
    uint32_t b;
    for (struct map_entry *e = map_first(&t->owners, &b); e; e = map_next(&t->owners, e, &b))
        fn(ctx, zk_container_of(e, struct tree_owner, link)->id);
}

uint32_t tree_descendant_count(const struct tree_node *n) {
    uint32_t total = n->child_count;
    for (uint32_t i = 0; i < n->child_count; i++)
        total += tree_descendant_count(n->children[i]);
    return total;
}

uint32_t tree_node_count(const struct tree *t) { return t->nodes.count; }
