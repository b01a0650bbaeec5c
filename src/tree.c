#include "tree.h"

#include <stddef.h>
#include <string.h>

#include "base.h"
#include "mem.h"

_Static_assert(sizeof(uintptr_t) == 8, "child-index tags need 64-bit pointers");
_Static_assert(sizeof(struct tree_node_stat) == 56, "no padding in the node's stat");
_Static_assert(offsetof(struct tree_node, name) == 25, "a write-once node's fixed part");

/* Bytes of a node before its name. */
#define TREE_NODE_FIXED offsetof(struct tree_node, name)
#define TREE_KIDS_TAG_SHIFT 48

struct tree_acl {
    struct map_entry link;
    const struct tree *tree;
    struct jute_buf key;  /* the list's jute encoding */
    struct acl_list *acl; /* the cache's own copy; nodes hold further references */
    uint32_t id;          /* its index in t->acl_table */
};

struct tree_owner {
    struct map_entry link; /* key = the 8 bytes of id */
    int64_t id;
    struct queue nodes; /* of tree_special, in creation order */
    uint32_t count;
};

/* The side record of a node whose kind is not TREE_NORMAL. */
struct tree_special {
    struct queue link; /* in its owner's list, or t->containers or t->ttls */
    struct tree_node *node;
    int64_t owner; /* raw ephemeralOwner */
    uint32_t path_len;
    char path[]; /* the node's path, NUL-terminated */
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

/* ---- ACL cache ---- */

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
    if (t->acl_free_count > 0) {
        a->id = t->acl_free[--t->acl_free_count];
    } else {
        if (t->acl_table_used == t->acl_table_cap) {
            ZK_ASSERT(t->acl_table_cap < UINT32_MAX / 2);
            uint32_t cap = t->acl_table_cap ? t->acl_table_cap * 2 : 8;
            t->acl_table = zk_xrealloc(t->acl_table, (size_t)cap * sizeof(*t->acl_table));
            t->acl_free = zk_xrealloc(t->acl_free, (size_t)cap * sizeof(*t->acl_free));
            t->acl_table_cap = cap;
        }
        a->id = t->acl_table_used++;
    }
    t->acl_table[a->id] = a->acl;
    return acl_ref(a->acl);
}

/* Interns acl and returns its index, with a reference for a node to hold. */
static uint32_t tree_acl_take(struct tree *t, const struct acl_list *acl) {
    struct acl_list *l = tree_acl_intern(t, acl);
    return tree_acl_entry(t, l)->id;
}

void tree_acl_release(struct tree *t, struct acl_list *acl) {
    if (acl == NULL)
        return;
    struct tree_acl *a = tree_acl_entry(t, acl);
    acl_unref(acl);
    if (a != NULL && acl->refs == 1) {
        map_remove(&t->acls, &a->link);
        t->acl_table[a->id] = NULL;
        t->acl_free[t->acl_free_count++] = a->id;
        acl_unref(a->acl);
        jute_buf_deinit(&a->key);
        zk_free(a);
    }
}

uint32_t tree_acl_count(const struct tree *t) { return t->acls.count; }

/* ---- child index ----
 *
 * A name's 64-bit hash gives both a child's home slot (from its high 32 bits
 * and the table size, which need not be a power of two) and its tag (the low
 * 16 bits, kept in the slot above the pointer). Small indexes use the tag
 * only. The hash is fixed (unseeded), so the order of children is the same on
 * every server that applied the same operations. */

static uint64_t tree_name_hash(const char *s, uint32_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    if (len > 0) { /* 1..7 bytes in at most two loads (the length is already in h) */
        uint64_t w;
        if (len >= 4) {
            uint32_t lo, hi;
            memcpy(&lo, s, 4);
            memcpy(&hi, s + len - 4, 4);
            w = (uint64_t)lo | (uint64_t)hi << 32;
        } else {
            w = (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[len / 2] << 8 |
                (uint64_t)(uint8_t)s[len - 1] << 16;
        }
        h = (h ^ w) * 0x94d049bb133111ebull;
    }
    /* splitmix64's finaliser: every input bit reaches the home and the tag */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static uint64_t tree_node_name_hash(const struct tree_node *n) {
    return tree_name_hash(n->name, (uint32_t)strlen(n->name));
}

static inline struct tree_node *tree_kid(uintptr_t slot) {
    return (struct tree_node *)(slot & TREE_KIDS_PTR_MASK);
}

static inline uintptr_t tree_kid_tag(uint64_t h) {
    return (uintptr_t)(h & 0xffffu) << TREE_KIDS_TAG_SHIFT;
}

/* The home slot mixes the capacity into the hash: without that, the slot order
 * of every table would follow the same hash order, and filling a small table in
 * the slot order of a large one (a snapshot lists children that way) would pile
 * every new child onto one ever longer probe run, which is quadratic. */
static inline uint32_t tree_kid_home(uint64_t h, uint32_t cap) {
    uint32_t x = (uint32_t)(h >> 32) ^ (cap * 0x9e3779b9u);
    x ^= x >> 16; /* lowbias32 (Chris Wellons' hash-prospector) */
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return (uint32_t)(((uint64_t)x * cap) >> 32);
}

static inline bool tree_kids_small(const struct tree_kids *k) {
    return k->cap <= TREE_KIDS_SMALL_MAX;
}

static inline bool tree_kids_deferred(const struct tree_kids *k) {
    return (k->cap & TREE_KIDS_DEFERRED) != 0;
}

/* Is n's name exactly these len bytes? Reads no further than n's NUL (a stored
 * name has no NUL inside; a looked-up one with a NUL never matches). Names are
 * short and the tag has already matched: a plain loop beats strnlen + memcmp. */
static inline bool tree_name_is(const struct tree_node *n, const char *name, uint32_t len) {
    for (uint32_t i = 0; i < len; i++) {
        if (n->name[i] != name[i] || name[i] == '\0')
            return false;
    }
    return n->name[len] == '\0';
}

static struct tree_node *tree_kids_find(const struct tree_kids *k, const char *name, uint32_t len,
                                        uint64_t h) {
    if (k == NULL)
        return NULL;
    uintptr_t tag = tree_kid_tag(h);
    if (tree_kids_small(k) || tree_kids_deferred(k)) {
        for (uint32_t i = 0; i < k->count; i++) {
            uintptr_t s = k->slot[i];
            if ((s & ~TREE_KIDS_PTR_MASK) == tag && tree_name_is(tree_kid(s), name, len))
                return tree_kid(s);
        }
        return NULL;
    }
    uint32_t i = tree_kid_home(h, k->cap);
    for (;;) { /* the load stays below 0.8: an empty slot ends every probe */
        uintptr_t s = k->slot[i];
        if (s == 0)
            return NULL;
        if ((s & ~TREE_KIDS_PTR_MASK) == tag && tree_name_is(tree_kid(s), name, len))
            return tree_kid(s);
        if (++i == k->cap)
            i = 0;
    }
}

/* Adds a slot value to an index with room for it. h is the child's name hash
 * (needed by tables only). Returns whether the table already held a child of
 * the same name (only a deferred list, built by tree_restore_end, can). */
static bool tree_kids_put(struct tree_kids *k, uintptr_t slot, uint64_t h) {
    if (tree_kids_small(k) || tree_kids_deferred(k)) {
        ZK_ASSERT(k->count < (k->cap & ~TREE_KIDS_DEFERRED));
        k->slot[k->count++] = slot;
        return false;
    }
    bool twice = false;
    uint32_t i = tree_kid_home(h, k->cap);
    for (uintptr_t s; (s = k->slot[i]) != 0;) {
        if (((s ^ slot) & ~TREE_KIDS_PTR_MASK) == 0 &&
            strcmp(tree_kid(s)->name, tree_kid(slot)->name) == 0)
            twice = true;
        if (++i == k->cap)
            i = 0;
    }
    k->slot[i] = slot;
    k->count++;
    return twice;
}

/* Capacity for count children: a small array with room to spare, or a table
 * at load 0.5. */
static uint32_t tree_kids_cap_for(uint32_t count) {
    if (count <= 1)
        return 1;
    if (count <= 3)
        return 3;
    if (count <= TREE_KIDS_SMALL_MAX)
        return TREE_KIDS_SMALL_MAX;
    ZK_ASSERT(count <= UINT32_MAX / 2);
    return count * 2;
}

/* Moves the children of old (freed; not a deferred list) into a new index sized
 * for count. *twice is set if two children have the same name. */
static struct tree_kids *tree_kids_rebuild(struct tree_kids *old, uint32_t count, bool *twice) {
    ZK_ASSERT(count > 0 && (old == NULL || (old->count <= count && !tree_kids_deferred(old))));
    uint32_t cap = tree_kids_cap_for(count);
    struct tree_kids *k = zk_xcalloc(1, sizeof(*k) + (size_t)cap * sizeof(k->slot[0]));
    k->cap = cap;
    if (old == NULL)
        return k;
    if (tree_kids_small(k)) { /* small indexes need only the tag, already in the slot */
        for (uint32_t i = 0; i < old->cap; i++) {
            if (old->slot[i] != 0)
                tree_kids_put(k, old->slot[i], 0);
        }
        zk_free(old);
        return k;
    }
    /* A table: each child's name is read to hash it, and its new home is a random
     * slot. Both are cache misses on big tables, so the loop runs ahead: it
     * prefetches the name TREE_KIDS_AHEAD * 2 slots on, and hashes and prefetches
     * the new home of a child TREE_KIDS_AHEAD children before storing it. */
    enum { TREE_KIDS_AHEAD = 8 };
    uintptr_t ring_slot[TREE_KIDS_AHEAD];
    uint64_t ring_hash[TREE_KIDS_AHEAD];
    uint32_t queued = 0;
    for (uint32_t i = 0; i < old->cap; i++) {
        if (i + 2 * TREE_KIDS_AHEAD < old->cap)
            __builtin_prefetch(tree_kid(old->slot[i + 2 * TREE_KIDS_AHEAD]));
        uintptr_t s = old->slot[i];
        if (s == 0)
            continue;
        uint64_t h = tree_node_name_hash(tree_kid(s));
        __builtin_prefetch(&k->slot[tree_kid_home(h, k->cap)], 1);
        uint32_t at = queued++ % TREE_KIDS_AHEAD;
        if (queued > TREE_KIDS_AHEAD && tree_kids_put(k, ring_slot[at], ring_hash[at]))
            *twice = true;
        ring_slot[at] = s;
        ring_hash[at] = h;
    }
    for (uint32_t j = queued > TREE_KIDS_AHEAD ? queued - TREE_KIDS_AHEAD : 0; j < queued; j++) {
        if (tree_kids_put(k, ring_slot[j % TREE_KIDS_AHEAD], ring_hash[j % TREE_KIDS_AHEAD]))
            *twice = true;
    }
    zk_free(old);
    return k;
}

static struct tree_node_more *tree_node_more(struct tree_node *n);

static void tree_kids_add(struct tree_node *parent, struct tree_node *child, uint64_t h) {
    uintptr_t p = (uintptr_t)child;
    ZK_ASSERT((p & ~TREE_KIDS_PTR_MASK) == 0); /* the tag bits are free */
    struct tree_node_more *m = tree_node_more(parent);
    struct tree_kids *k = m->kids;
    bool twice = false;
    if (k != NULL && tree_kids_deferred(k)) {
        uint32_t cap = k->cap & ~TREE_KIDS_DEFERRED;
        if (k->count == cap) { /* a list: grows by copying, no hashing */
            ZK_ASSERT(cap <= (TREE_KIDS_DEFERRED - 1) / 2);
            cap *= 2;
            m->kids = k = zk_xrealloc(k, sizeof(*k) + (size_t)cap * sizeof(k->slot[0]));
            k->cap = cap | TREE_KIDS_DEFERRED;
        }
    } else if (k == NULL ||
               (tree_kids_small(k) ? k->count == k->cap
                                   : (uint64_t)(k->count + 1) * 5 > (uint64_t)k->cap * 4)) {
        m->kids = k = tree_kids_rebuild(k, (k != NULL ? k->count : 0) + 1, &twice);
    }
    twice |= tree_kids_put(k, p | tree_kid_tag(h), h);
    ZK_ASSERT(!twice); /* callers look the name up first */
}

/* The slot holding child c (which must be in k). */
static uint32_t tree_kids_slot_of(const struct tree_kids *k, const struct tree_node *c) {
    ZK_ASSERT(k != NULL && !tree_kids_deferred(k));
    if (tree_kids_small(k)) {
        for (uint32_t i = 0; i < k->count; i++) {
            if (tree_kid(k->slot[i]) == c)
                return i;
        }
        ZK_PANIC("tree: child %s missing from its parent's index", c->name);
    }
    uint32_t i = tree_kid_home(tree_node_name_hash(c), k->cap);
    while (tree_kid(k->slot[i]) != c) {
        ZK_ASSERT(k->slot[i] != 0);
        if (++i == k->cap)
            i = 0;
    }
    return i;
}

static void tree_kids_remove(struct tree_node *parent, struct tree_node *c) {
    ZK_ASSERT(parent->flags & TREE_NODE_MORE);
    struct tree_node_more *m = parent->u.more;
    struct tree_kids *k = m->kids;
    uint32_t i = tree_kids_slot_of(k, c);
    if (tree_kids_small(k)) {
        k->slot[i] = k->slot[--k->count];
        k->slot[k->count] = 0;
    } else {
        /* Backward shift: walk the rest of the probe run and move back every
         * entry whose home is not in the cyclic range (i, j], so that no probe
         * meets the hole before reaching its entry. */
        uint32_t j = i;
        for (;;) {
            if (++j == k->cap)
                j = 0;
            uintptr_t s = k->slot[j];
            if (s == 0)
                break;
            uint32_t home = tree_kid_home(tree_node_name_hash(tree_kid(s)), k->cap);
            bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays) {
                k->slot[i] = s;
                i = j;
            }
        }
        k->slot[i] = 0;
        k->count--;
    }
    if (k->count == 0) {
        zk_free(k);
        m->kids = NULL;
    } else if (!tree_kids_small(k) && (uint64_t)k->count * 5 < k->cap) {
        bool twice = false;
        m->kids = tree_kids_rebuild(k, k->count, &twice); /* load under 0.2: shrink */
        ZK_ASSERT(!twice);
    }
}

/* ---- nodes ---- */

static uint8_t *tree_node_area(struct tree_node *n) {
    return (uint8_t *)n->name + strlen(n->name) + 1;
}

/* Bytes the data area can hold inline (the block's usable size past the name). */
static size_t tree_node_area_cap(const struct tree_node *n) {
    return zk_mem_usable_size(n) - TREE_NODE_FIXED - strlen(n->name) - 1;
}

/* The out-of-line data block, or NULL when the data is inline. */
static uint8_t *tree_node_ext(const struct tree_node *n) {
    uint8_t *p = NULL;
    if (n->flags & TREE_NODE_DATA_EXT)
        memcpy(&p, n->name + strlen(n->name) + 1, sizeof(p));
    return p;
}

static struct tree_node *tree_node_new(const char *name, uint32_t name_len, const void *data,
                                       int32_t data_len) {
    size_t len = data_len > 0 ? (size_t)data_len : 0;
    size_t area = len > sizeof(uint8_t *) ? len : sizeof(uint8_t *);
    struct tree_node *n = zk_xmalloc(TREE_NODE_FIXED + name_len + 1 + area);
    memset(n, 0, TREE_NODE_FIXED);
    memcpy(n->name, name, name_len);
    n->name[name_len] = '\0';
    if (len > 0)
        memcpy(n->name + name_len + 1, data, len);
    n->data_len = data_len < 0 ? -1 : data_len;
    return n;
}

/* n's tree_node_more, made on the first change: the stat a write-once node
 * implies moves there. */
static struct tree_node_more *tree_node_more(struct tree_node *n) {
    if (n->flags & TREE_NODE_MORE)
        return n->u.more;
    struct tree_node_more *m = zk_xmalloc(sizeof(*m));
    m->kids = NULL;
    m->ctime = m->mtime = n->u.ctime;
    m->mzxid = m->pzxid = n->czxid;
    m->version = m->cversion = m->aversion = 0;
    n->u.more = m;
    n->flags |= TREE_NODE_MORE;
    return m;
}

static void tree_node_free(struct tree *t, struct tree_node *n) {
    ZK_ASSERT(tree_node_kids(n) == NULL);
    if (n->flags & TREE_NODE_MORE)
        zk_free(n->u.more);
    zk_free(tree_node_ext(n));
    tree_acl_release(t, tree_node_acl(t, n));
    zk_free(n);
}

/* ---- the side table of ephemeral, container and TTL nodes ---- */

static uint32_t tree_special_home(const struct tree *t, const struct tree_node *n) {
    uint64_t h = (uint64_t)(uintptr_t)n * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (t->special_cap - 1);
}

static struct tree_special *tree_special_find(const struct tree *t, const struct tree_node *n) {
    if (t->special_cap == 0)
        return NULL;
    for (uint32_t i = tree_special_home(t, n);; i = (i + 1) & (t->special_cap - 1)) {
        struct tree_special *s = t->special[i];
        if (s == NULL || s->node == n)
            return s;
    }
}

static void tree_special_put(struct tree *t, struct tree_special *s) {
    uint32_t i = tree_special_home(t, s->node);
    while (t->special[i] != NULL)
        i = (i + 1) & (t->special_cap - 1);
    t->special[i] = s;
    t->special_count++;
}

/* Rehashes the side table into cap slots (a power of two, 0 when it is empty). */
static void tree_special_resize(struct tree *t, uint32_t cap) {
    struct tree_special **old = t->special;
    uint32_t old_cap = t->special_cap;
    t->special_cap = cap;
    t->special = cap > 0 ? zk_xcalloc(cap, sizeof(*t->special)) : NULL;
    t->special_count = 0;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old[i] != NULL)
            tree_special_put(t, old[i]);
    }
    zk_free(old);
}

/* Load between 1/8 and 3/4: the table doubles, or shrinks back to load 1/2. */
static void tree_special_insert(struct tree *t, struct tree_special *s) {
    if ((uint64_t)(t->special_count + 1) * 4 > (uint64_t)t->special_cap * 3) {
        ZK_ASSERT(t->special_cap <= UINT32_MAX / 2);
        tree_special_resize(t, t->special_cap ? t->special_cap * 2 : 16);
    }
    tree_special_put(t, s);
}

/* Backward-shift deletion, as in tree_kids_remove. */
static void tree_special_erase(struct tree *t, const struct tree_special *s) {
    uint32_t mask = t->special_cap - 1;
    uint32_t i = tree_special_home(t, s->node);
    while (t->special[i] != s) {
        ZK_ASSERT(t->special[i] != NULL);
        i = (i + 1) & mask;
    }
    for (uint32_t j = (i + 1) & mask; t->special[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = tree_special_home(t, t->special[j]->node);
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->special[i] = t->special[j];
            i = j;
        }
    }
    t->special[i] = NULL;
    t->special_count--;
    if (t->special_count == 0) {
        tree_special_resize(t, 0);
    } else if (t->special_cap > 16 && (uint64_t)t->special_count * 8 < t->special_cap) {
        uint32_t cap = 16;
        while (cap < t->special_count * 2)
            cap *= 2;
        tree_special_resize(t, cap);
    }
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

static void tree_special_add(struct tree *t, struct tree_node *n, int64_t owner, const char *path,
                             uint32_t path_len) {
    enum tree_kind kind = tree_owner_kind(owner);
    ZK_ASSERT(kind != TREE_NORMAL);
    struct tree_special *s = zk_xmalloc(sizeof(*s) + (size_t)path_len + 1);
    s->node = n;
    s->owner = owner;
    s->path_len = path_len;
    memcpy(s->path, path, path_len);
    s->path[path_len] = '\0';
    n->flags = (uint8_t)((n->flags & ~TREE_NODE_KIND_MASK) | (unsigned)kind);
    tree_special_insert(t, s);
    switch (kind) {
    case TREE_EPHEMERAL: {
        struct tree_owner *o = tree_owner_get(t, owner, true);
        queue_insert_tail(&o->nodes, &s->link);
        o->count++;
        t->ephemeral_count++;
        break;
    }
    case TREE_CONTAINER:
        queue_insert_tail(&t->containers, &s->link);
        break;
    case TREE_TTL:
        queue_insert_tail(&t->ttls, &s->link);
        break;
    case TREE_NORMAL:
        break;
    }
}

static void tree_special_remove(struct tree *t, struct tree_node *n) {
    struct tree_special *s = tree_special_find(t, n);
    ZK_ASSERT(s != NULL);
    tree_special_erase(t, s);
    queue_remove(&s->link);
    if (tree_node_kind(n) == TREE_EPHEMERAL) {
        struct tree_owner *o = tree_owner_get(t, s->owner, false);
        ZK_ASSERT(o != NULL && o->count > 0);
        t->ephemeral_count--;
        if (--o->count == 0) {
            map_remove(&t->owners, &o->link);
            zk_free(o);
        }
    }
    zk_free(s);
}

int64_t tree_node_owner(const struct tree *t, const struct tree_node *n) {
    switch (tree_node_kind(n)) {
    case TREE_NORMAL:
        return 0;
    case TREE_CONTAINER:
        return TREE_OWNER_CONTAINER;
    case TREE_EPHEMERAL:
    case TREE_TTL:
        break;
    }
    const struct tree_special *s = tree_special_find(t, n);
    ZK_ASSERT(s != NULL);
    return s->owner;
}

/* ---- paths ---- */

uint32_t tree_node_path(const struct tree *t, const struct tree_node *n, char *buf, uint32_t cap) {
    const char *p = "/";
    uint32_t len = 1;
    struct tree_walk w = {0};
    if (n != t->root && tree_node_kind(n) != TREE_NORMAL) {
        const struct tree_special *s = tree_special_find(t, n);
        ZK_ASSERT(s != NULL);
        p = s->path;
        len = s->path_len;
    } else if (n != t->root) {
        tree_walk_init(&w, t);
        const struct tree_node *x;
        while ((x = tree_walk_next(&w)) != NULL && x != n)
            ;
        ZK_ASSERT(x == n); /* n is in the tree */
        p = w.path;
        len = w.len;
    }
    if (len < cap)
        memcpy(buf, p, (size_t)len + 1);
    if (w.path != NULL)
        tree_walk_deinit(&w);
    return len;
}

char *tree_node_path_dup(const struct tree *t, const struct tree_node *n, uint32_t *len) {
    uint32_t l = tree_node_path(t, n, NULL, 0);
    char *p = zk_xmalloc((size_t)l + 1);
    ZK_ASSERT(tree_node_path(t, n, p, l + 1) == l);
    if (len != NULL)
        *len = l;
    return p;
}

/* ---- building ---- */

/* Adds a new child under parent; h is the hash of its name. */
static void tree_attach(struct tree *t, struct tree_node *parent, struct tree_node *n, uint64_t h,
                        uint32_t path_len) {
    tree_kids_add(parent, n, h);
    t->node_count++;
    t->data_bytes += path_len + (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    if (path_len > t->path_len_max)
        t->path_len_max = path_len;
}

static struct tree_node *tree_add_system(struct tree *t, struct tree_node *parent,
                                         const char *path, struct acl_list *acl) {
    uint32_t len = (uint32_t)strlen(path);
    const char *name = strrchr(path, '/') + 1;
    uint32_t name_len = (uint32_t)strlen(name);
    /* ZooKeeper's system nodes hold empty, not null, data */
    struct tree_node *n = tree_node_new(name, name_len, "", 0);
    n->acl = tree_acl_take(t, acl);
    tree_attach(t, parent, n, tree_name_hash(name, name_len), len);
    return n;
}

void tree_init(struct tree *t) {
    memset(t, 0, sizeof(*t));
    map_init(&t->acls);
    map_init(&t->owners);
    queue_init(&t->containers);
    queue_init(&t->ttls);
    /* ZooKeeper's root is stored under "" in snapshots but addressed as "/". */
    t->root = tree_node_new("", 0, "", 0);
    t->root->acl = tree_acl_take(t, acl_open_unsafe());
    t->node_count = 1;
    t->data_bytes = 1;
    t->path_len_max = 1;
    struct tree_node *zk = tree_add_system(t, t->root, "/zookeeper", acl_open_unsafe());
    tree_add_system(t, zk, "/zookeeper/quota", acl_open_unsafe());
    struct tree_node *config = tree_add_system(t, zk, "/zookeeper/config", acl_read_unsafe());
    /* ZooKeeper installs the config node's ACL with version -1. */
    tree_node_more(config)->aversion = -1;
}

/* Frees the whole tree in post-order, without recursion (a client can build a
 * chain of nodes as deep as its frame allows): a stack of the nodes being
 * emptied, each index consumed from its last slot down (cap shrinks as it goes:
 * the index is freed after). */
static void tree_free_all(struct tree *t) {
    uint32_t cap = t->path_len_max / 2 + 2, depth = 1;
    struct tree_node **stack = zk_xmalloc((size_t)cap * sizeof(*stack));
    stack[0] = t->root;
    while (depth > 0) {
        struct tree_node *n = stack[depth - 1];
        struct tree_kids *k = (struct tree_kids *)tree_node_kids(n);
        if (k != NULL) {
            while (k->cap > 0 && k->slot[k->cap - 1] == 0)
                k->cap--;
            if (k->cap > 0) {
                ZK_ASSERT(depth < cap); /* a path has at most len / 2 components */
                stack[depth++] = tree_kid(k->slot[--k->cap]);
                continue;
            }
            zk_free(k);
            n->u.more->kids = NULL;
        }
        tree_node_free(t, n);
        depth--;
    }
    zk_free(stack);
}

static void tree_free_specials(struct queue *head) {
    while (!queue_empty(head)) {
        struct queue *q = queue_head(head);
        queue_remove(q);
        zk_free(QUEUE_DATA(q, struct tree_special, link));
    }
}

void tree_deinit(struct tree *t) {
    uint32_t b;
    struct map_entry *e = map_first(&t->owners, &b);
    while (e != NULL) {
        struct map_entry *next = map_next(&t->owners, e, &b);
        struct tree_owner *o = zk_container_of(e, struct tree_owner, link);
        tree_free_specials(&o->nodes);
        zk_free(o);
        e = next;
    }
    tree_free_specials(&t->containers);
    tree_free_specials(&t->ttls);
    zk_free(t->special);
    t->special = NULL;
    t->special_cap = t->special_count = 0;
    tree_free_all(t);
    ZK_ASSERT(t->acls.count == 0);
    zk_free(t->acl_table);
    zk_free(t->acl_free);
    t->acl_table = NULL;
    t->acl_free = NULL;
    t->acl_table_cap = t->acl_table_used = t->acl_free_count = 0;
    map_deinit(&t->acls);
    map_deinit(&t->owners);
    t->root = NULL;
    t->node_count = 0;
}

/* ---- lookups ---- */

struct tree_node *tree_find_with_parent(const struct tree *t, const char *path, uint32_t len,
                                        struct tree_node **parent) {
    if (len == 0 || path[0] != '/')
        return NULL;
    struct tree_node *n = t->root, *up = NULL;
    uint32_t i = 1;
    while (len > 1) {
        const char *comp = path + i;
        const char *slash = memchr(comp, '/', len - i);
        uint32_t clen = slash != NULL ? (uint32_t)(slash - comp) : len - i;
        const struct tree_kids *k = tree_node_kids(n);
        if (clen == 0 || k == NULL)
            return NULL;
        up = n;
        n = tree_kids_find(k, comp, clen, tree_name_hash(comp, clen));
        if (n == NULL || slash == NULL)
            break;
        i += clen + 1;
    }
    if (n != NULL)
        *parent = up;
    return n;
}

struct tree_node *tree_find(const struct tree *t, const char *path, uint32_t len) {
    struct tree_node *parent;
    return tree_find_with_parent(t, path, len, &parent);
}

struct tree_node *tree_find_parent(const struct tree *t, const char *path, uint32_t len) {
    uint32_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    if (i == 0)
        return NULL;
    return tree_find(t, path, i == 1 ? 1 : i - 1);
}

/* ---- mutations ---- */

/* parent is the node at path's parent path; name (the last component of the
 * path, whose length is path_len) does not exist under it; h is its hash. */
static struct tree_node *tree_create_under(struct tree *t, struct tree_node *parent,
                                           const char *name, uint32_t name_len, uint64_t h,
                                           const char *path, uint32_t path_len, const void *data,
                                           int32_t data_len,
                                           const struct acl_list *acl, int64_t owner,
                                           int32_t parent_cversion, int64_t zxid,
                                           int64_t time_ms) {
    struct tree_node *n = tree_node_new(name, name_len, data, data_len);
    n->acl = tree_acl_take(t, acl);
    n->czxid = zxid; /* a write-once node: mzxid, pzxid and mtime follow */
    n->u.ctime = time_ms;
    if (parent_cversion == -1)
        parent_cversion = (int32_t)((uint32_t)tree_node_raw(parent).cversion + 1u);
    tree_raise_cversion(t, parent, parent_cversion, zxid);
    tree_attach(t, parent, n, h, path_len);
    if (owner != 0)
        tree_special_add(t, n, owner, path, path_len);
    return n;
}

struct tree_node *tree_create(struct tree *t, const char *path, uint32_t len, const void *data,
                              int32_t data_len, const struct acl_list *acl, int64_t owner,
                              int32_t parent_cversion, int64_t zxid, int64_t time_ms) {
    return tree_create_in(t, tree_find_parent(t, path, len), path, len, data, data_len, acl, owner,
                          parent_cversion, zxid, time_ms);
}

struct tree_node *tree_create_in(struct tree *t, struct tree_node *parent, const char *path,
                                 uint32_t len, const void *data, int32_t data_len,
                                 const struct acl_list *acl, int64_t owner,
                                 int32_t parent_cversion, int64_t zxid, int64_t time_ms) {
    ZK_ASSERT(parent != NULL);
    uint32_t slash = len;
    while (path[slash - 1] != '/')
        slash--;
    const char *name = path + slash;
    uint32_t name_len = len - slash;
    ZK_ASSERT(name_len > 0);
    uint64_t h = tree_name_hash(name, name_len);
    ZK_DEBUG_ASSERT(tree_kids_find(tree_node_kids(parent), name, name_len, h) == NULL);
    return tree_create_under(t, parent, name, name_len, h, path, len, data, data_len, acl, owner,
                             parent_cversion, zxid, time_ms);
}

void tree_delete(struct tree *t, struct tree_node *parent, struct tree_node *n, uint32_t path_len,
                 int64_t zxid) {
    ZK_ASSERT(n != t->root && tree_node_kids(n) == NULL);
    tree_kids_remove(parent, n);
    if (zxid > parent->u.more->pzxid)
        parent->u.more->pzxid = zxid;
    t->node_count--;
    t->data_bytes -= path_len + (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    if (tree_node_kind(n) != TREE_NORMAL)
        tree_special_remove(t, n);
    tree_node_free(t, n);
}

void tree_set_data(struct tree *t, struct tree_node *n, const void *data, int32_t data_len,
                   int32_t version, int64_t zxid, int64_t time_ms) {
    size_t len = data_len > 0 ? (size_t)data_len : 0;
    uint8_t *old_ext = tree_node_ext(n);
    uint8_t *area = tree_node_area(n);
    t->data_bytes -= (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    if (len <= tree_node_area_cap(n)) {
        if (len > 0)
            memmove(area, data, len);
        n->flags &= (uint8_t)~TREE_NODE_DATA_EXT;
    } else {
        uint8_t *p = zk_xmalloc(len);
        memcpy(p, data, len);
        memcpy(area, &p, sizeof(p));
        n->flags |= TREE_NODE_DATA_EXT;
    }
    zk_free(old_ext); /* after the copy: data may have pointed into it */
    n->data_len = data_len < 0 ? -1 : data_len;
    t->data_bytes += len;
    struct tree_node_more *m = tree_node_more(n);
    m->version = version;
    m->mzxid = zxid;
    m->mtime = time_ms;
}

void tree_set_acl(struct tree *t, struct tree_node *n, const struct acl_list *acl,
                  int32_t aversion) {
    struct acl_list *old = tree_node_acl(t, n);
    n->acl = tree_acl_take(t, acl);
    tree_acl_release(t, old);
    if (aversion != 0 || (n->flags & TREE_NODE_MORE))
        tree_node_more(n)->aversion = aversion;
}

void tree_raise_cversion(struct tree *t, struct tree_node *parent, int32_t cversion,
                         int64_t zxid) {
    (void)t;
    if (cversion > tree_node_raw(parent).cversion) {
        struct tree_node_more *m = tree_node_more(parent);
        m->cversion = cversion;
        m->pzxid = zxid;
    }
}

void tree_node_set_stat(struct tree *t, struct tree_node *n, const struct tree_node_stat *st) {
    (void)t;
    bool write_once = st->mzxid == st->czxid && st->pzxid == st->czxid &&
                      st->mtime == st->ctime && st->version == 0 && st->cversion == 0 &&
                      st->aversion == 0;
    n->czxid = st->czxid;
    if (write_once && tree_node_kids(n) == NULL) {
        if (n->flags & TREE_NODE_MORE) {
            zk_free(n->u.more);
            n->flags &= (uint8_t)~TREE_NODE_MORE;
        }
        n->u.ctime = st->ctime;
        return;
    }
    struct tree_node_more *m = tree_node_more(n);
    m->ctime = st->ctime;
    m->mzxid = st->mzxid;
    m->mtime = st->mtime;
    m->pzxid = st->pzxid;
    m->version = st->version;
    m->cversion = st->cversion;
    m->aversion = st->aversion;
}

/* ---- snapshot restore ---- */

void tree_restore_begin(struct tree *t, struct tree_restore *r) {
    memset(r, 0, sizeof(*r));
    /* A fresh tree has a handful of nodes: list the ones with children. */
    r->all_seeded = t->node_count > 64;
    struct tree_walk w;
    tree_walk_init(&w, t);
    for (const struct tree_node *n; !r->all_seeded && (n = tree_walk_next(&w)) != NULL;) {
        if (tree_node_kids(n) == NULL)
            continue;
        if (r->seeded_count == TREE_RESTORE_SEEDED_MAX)
            r->all_seeded = true;
        else
            r->seeded[r->seeded_count++] = n;
    }
    tree_walk_deinit(&w);
}

static bool tree_restore_seeded(const struct tree_restore *r, const struct tree_node *n) {
    if (r->all_seeded)
        return true;
    for (uint32_t i = 0; i < r->seeded_count; i++) {
        if (r->seeded[i] == n)
            return true;
    }
    return false;
}

/* Turns parent's full small index into a deferred list. */
static void tree_restore_defer(struct tree_restore *r, struct tree_node *parent) {
    struct tree_node_more *m = parent->u.more;
    uint32_t cap = 8 * TREE_KIDS_SMALL_MAX;
    struct tree_kids *k = zk_xrealloc(m->kids, sizeof(*k) + (size_t)cap * sizeof(k->slot[0]));
    k->cap = cap | TREE_KIDS_DEFERRED;
    m->kids = k;
    if (r->deferred_count == r->deferred_cap) {
        ZK_ASSERT(r->deferred_cap <= UINT32_MAX / 4);
        r->deferred_cap = r->deferred_cap != 0 ? 2 * r->deferred_cap : 16;
        r->deferred = zk_xrealloc(r->deferred, (size_t)r->deferred_cap * sizeof(*r->deferred));
    }
    r->deferred[r->deferred_count++] = parent;
}

/* Makes every deferred list a table, in one pass each: the list holds the
 * children in the order they were restored, which is the order their nodes
 * were allocated, so reading their names to hash them runs through memory. */
static void tree_restore_settle(struct tree_restore *r) {
    for (uint32_t i = 0; i < r->deferred_count; i++) {
        struct tree_node_more *m = r->deferred[i]->u.more;
        struct tree_kids *k = m->kids;
        ZK_ASSERT(tree_kids_deferred(k));
        k->cap = k->count; /* a list without holes */
        m->kids = tree_kids_rebuild(k, k->count, &r->twice);
    }
    r->deferred_count = 0;
}

bool tree_restore_end(struct tree_restore *r) {
    tree_restore_settle(r);
    zk_free(r->deferred);
    r->deferred = NULL;
    r->deferred_cap = 0;
    zk_free(r->chain);
    r->chain = NULL;
    r->chain_cap = r->depth = 0;
    return !r->twice;
}

/* Makes n, at the given depth, the last node restored: r->chain[0 .. depth - 1]
 * must already be its ancestors. */
static void tree_restore_push(struct tree_restore *r, struct tree_node *n, uint32_t depth) {
    if (depth >= r->chain_cap) {
        ZK_ASSERT(depth < UINT32_MAX / 2);
        r->chain_cap = depth < 8 ? 16 : 2 * depth;
        r->chain = zk_xrealloc(r->chain, (size_t)r->chain_cap * sizeof(*r->chain));
    }
    r->chain[depth] = n;
    r->depth = depth;
}

/* Do r->chain[1 .. want] have the names of the components of path? */
static bool tree_restore_chain_is(const struct tree_restore *r, uint32_t want, const char *path,
                                  uint32_t plen) {
    uint32_t i = 1;
    for (uint32_t d = 1; d <= want; d++) {
        const char *name = r->chain[d]->name;
        uint32_t l = (uint32_t)strlen(name);
        if (i + l > plen || memcmp(path + i, name, l) != 0 ||
            (i + l < plen && path[i + l] != '/'))
            return false;
        i += l + 1;
    }
    return i >= plen;
}

/* The node at path (a parent path of plen bytes, at depth want: its number of
 * '/', 0 for the root), found among the last node's ancestors, else by lookup.
 * Either way r->chain[0 .. want] holds it and its ancestors after. */
static struct tree_node *tree_restore_parent(const struct tree *t, struct tree_restore *r,
                                             const char *path, uint32_t plen, uint32_t want) {
    if (r->chain_cap == 0)
        tree_restore_push(r, t->root, 0);
    if (plen == 1)
        return t->root;
    /* In pre-order the parent is the last node or one of its ancestors. */
    if (want <= r->depth && tree_restore_chain_is(r, want, path, plen))
        return r->chain[want];
    /* Not pre-order: lookups by path from here on, so no more deferred lists. */
    tree_restore_settle(r);
    r->defer_off = true;
    struct tree_node *n = t->root;
    uint32_t i = 1;
    for (uint32_t d = 1; d <= want; d++) {
        const char *slash = memchr(path + i, '/', plen - i);
        uint32_t clen = slash != NULL ? (uint32_t)(slash - (path + i)) : plen - i;
        const struct tree_kids *k = tree_node_kids(n);
        if (clen == 0 || k == NULL)
            return NULL;
        n = tree_kids_find(k, path + i, clen, tree_name_hash(path + i, clen));
        if (n == NULL)
            return NULL;
        tree_restore_push(r, n, d);
        i += clen + 1;
    }
    return n;
}

static void tree_node_set_persisted(struct tree *t, struct tree_node *n,
                                    const struct tree_stat *st) {
    struct tree_node_stat raw = {.czxid = st->czxid,
                                 .mzxid = st->mzxid,
                                 .ctime = st->ctime,
                                 .mtime = st->mtime,
                                 .pzxid = st->pzxid,
                                 .version = st->version,
                                 .cversion = st->cversion,
                                 .aversion = st->aversion,
                                 .data_len = n->data_len};
    tree_node_set_stat(t, n, &raw);
}

bool tree_restore_node(struct tree *t, struct tree_restore *r, const char *path, uint32_t len,
                       const void *data, int32_t data_len, const struct acl_list *acl,
                       const struct tree_stat *st) {
    struct tree_node *n = t->root;
    uint32_t depth = 0;
    if (len > 0) {
        if (len < 2 || path[0] != '/' || path[len - 1] == '/' || memchr(path, '\0', len) != NULL)
            return false;
        uint32_t slash = len;
        while (path[slash - 1] != '/')
            slash--;
        for (uint32_t i = 0; i < slash; i++)
            depth += path[i] == '/';
        struct tree_node *parent =
            tree_restore_parent(t, r, path, slash == 1 ? 1 : slash - 1, depth - 1);
        if (parent == NULL)
            return false;
        const char *name = path + slash;
        uint32_t name_len = len - slash;
        uint64_t h = tree_name_hash(name, name_len);
        const struct tree_kids *k = tree_node_kids(parent);
        bool seeded = tree_restore_seeded(r, parent);
        /* a deferred list is checked for names listed twice when it is built */
        n = k != NULL && tree_kids_deferred(k) ? NULL : tree_kids_find(k, name, name_len, h);
        if (n != NULL && !seeded)
            return false; /* listed twice */
        if (n == NULL) {
            if (k != NULL && tree_kids_small(k) && k->count == TREE_KIDS_SMALL_MAX && !seeded &&
                !r->defer_off)
                tree_restore_defer(r, parent);
            n = tree_create_under(t, parent, name, name_len, h, path, len, data, data_len, acl,
                                  st->ephemeral_owner, tree_node_raw(parent).cversion,
                                  st->czxid, st->ctime);
            tree_node_set_persisted(t, n, st);
            tree_restore_push(r, n, depth);
            return true;
        }
    }
    /* an existing node: the root or a child of a seeded parent (a system node);
     * never ephemeral, container or TTL */
    if (tree_owner_kind(st->ephemeral_owner) != TREE_NORMAL || tree_node_kind(n) != TREE_NORMAL)
        return false;
    tree_set_data(t, n, data, data_len, st->version, st->mzxid, st->mtime);
    tree_set_acl(t, n, acl, st->aversion);
    tree_node_set_persisted(t, n, st);
    tree_restore_push(r, n, depth);
    return true;
}

/* ---- reading ---- */

void tree_node_persisted(const struct tree *t, const struct tree_node *n, struct tree_stat *out) {
    struct tree_node_stat s = tree_node_raw(n);
    out->czxid = s.czxid;
    out->mzxid = s.mzxid;
    out->ctime = s.ctime;
    out->mtime = s.mtime;
    out->version = s.version;
    out->cversion = s.cversion;
    out->aversion = s.aversion;
    out->ephemeral_owner = tree_node_owner(t, n);
    out->pzxid = s.pzxid;
}

void tree_node_stat(const struct tree *t, const struct tree_node *n, struct zk_stat *out) {
    struct tree_node_stat s = tree_node_raw(n);
    uint32_t children = tree_child_count(n);
    out->czxid = s.czxid;
    out->mzxid = s.mzxid;
    out->ctime = s.ctime;
    out->mtime = s.mtime;
    out->version = s.version;
    out->cversion = tree_visible_cversion(s.cversion, (int32_t)children);
    out->aversion = s.aversion;
    out->ephemeral_owner = tree_node_kind(n) == TREE_EPHEMERAL ? tree_node_owner(t, n) : 0;
    out->data_length = s.data_len < 0 ? 0 : s.data_len;
    out->num_children = (int32_t)children;
    out->pzxid = s.pzxid;
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

/* ---- iteration ---- */

void tree_walk_init_at(struct tree_walk *w, const struct tree *t, const struct tree_node *top) {
    memset(w, 0, sizeof(*w));
    w->t = t;
    w->top = top;
    /* A path of len bytes has at most len / 2 components below the root. */
    w->stack_cap = t->path_len_max / 2 + 2;
    w->stack = zk_xmalloc((size_t)w->stack_cap * sizeof(*w->stack));
    w->cap = t->path_len_max + 2;
    w->path = zk_xmalloc(w->cap);
    w->path[0] = '\0';
}

void tree_walk_init(struct tree_walk *w, const struct tree *t) { tree_walk_init_at(w, t, t->root); }

void tree_walk_restart(struct tree_walk *w) {
    w->depth = 0;
    w->len = 0;
    w->path[0] = '\0';
    w->started = false;
}

const struct tree_node *tree_walk_next(struct tree_walk *w) {
    if (!w->started) {
        w->started = true;
        w->stack[0] = (struct tree_walk_level){.node = w->top, .it = 0, .len = 0};
        w->depth = 1;
        bool root = w->top == w->t->root;
        w->len = root ? 1 : 0;
        memcpy(w->path, root ? "/" : "", root ? 2 : 1);
        return w->top;
    }
    /* the last node's first child not yet visited, else its parent's, and so on up */
    while (w->depth > 0) {
        struct tree_walk_level *up = &w->stack[w->depth - 1];
        const struct tree_node *c = tree_child_next(up->node, &up->it);
        if (c == NULL) {
            w->depth--;
            continue;
        }
        uint32_t l = (uint32_t)strlen(c->name);
        ZK_ASSERT(w->depth < w->stack_cap && up->len + 1 + l < w->cap);
        w->path[up->len] = '/';
        memcpy(w->path + up->len + 1, c->name, (size_t)l + 1);
        w->len = up->len + 1 + l;
        w->stack[w->depth++] = (struct tree_walk_level){.node = c, .it = 0, .len = w->len};
        return c;
    }
    return NULL;
}

void tree_walk_deinit(struct tree_walk *w) {
    zk_free(w->path);
    zk_free(w->stack);
    w->path = NULL;
    w->stack = NULL;
}

/* Calls fn for each node of a list of tree_special; fn may delete the node it
 * is given, which frees its record, and head too when it is the last record of
 * an owner. */
static void tree_for_each_special(struct queue *head, tree_node_fn *fn, void *ctx) {
    struct queue *q = head->next;
    while (q != head) {
        struct queue *next = q->next;
        bool last = next == head;
        fn(ctx, QUEUE_DATA(q, struct tree_special, link)->node);
        if (last)
            break;
        q = next;
    }
}

void tree_for_each_ephemeral(const struct tree *t, int64_t owner, tree_node_fn *fn, void *ctx) {
    struct tree_owner *o = tree_owner_get((struct tree *)t, owner, false);
    if (o != NULL)
        tree_for_each_special(&o->nodes, fn, ctx);
}

void tree_for_each_of_kind(const struct tree *t, enum tree_kind kind, tree_node_fn *fn,
                           void *ctx) {
    ZK_ASSERT(kind == TREE_CONTAINER || kind == TREE_TTL);
    struct tree *m = (struct tree *)t;
    tree_for_each_special(kind == TREE_CONTAINER ? &m->containers : &m->ttls, fn, ctx);
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

uint32_t tree_descendant_count(const struct tree *t, const struct tree_node *top) {
    uint32_t total = 0;
    struct tree_walk w;
    tree_walk_init_at(&w, t, top);
    ZK_ASSERT(tree_walk_next(&w) == top);
    while (tree_walk_next(&w) != NULL)
        total++;
    tree_walk_deinit(&w);
    return total;
}

uint32_t tree_node_count(const struct tree *t) { return t->node_count; }

/* ---- invariants ---- */

uint64_t tree_child_probes(const struct tree_node *n) {
    const struct tree_kids *k = tree_node_kids(n);
    if (k == NULL)
        return 0;
    if (tree_kids_small(k))
        return (uint64_t)k->count * (k->count + 1) / 2; /* a scan from the start */
    uint64_t probes = 0;
    for (uint32_t i = 0; i < k->cap; i++) {
        if (k->slot[i] == 0)
            continue;
        const struct tree_node *c = tree_kid(k->slot[i]);
        uint32_t home = tree_kid_home(tree_node_name_hash(c), k->cap);
        probes += 1 + (i >= home ? i - home : i + k->cap - home);
    }
    return probes;
}

static const char *tree_check_kids(const struct tree_node *n) {
    const struct tree_kids *k = tree_node_kids(n);
    if (k == NULL)
        return NULL;
    if (tree_kids_deferred(k))
        return "deferred child list outside a restore";
    if (k->count == 0 || k->count > k->cap)
        return "child index count out of range";
    if (!tree_kids_small(k) && (uint64_t)k->count * 5 > (uint64_t)k->cap * 4)
        return "child table loaded above 0.8";
    uint32_t seen = 0;
    for (uint32_t i = 0; i < k->cap; i++) {
        uintptr_t s = k->slot[i];
        if (s == 0) {
            if (tree_kids_small(k) && i < k->count)
                return "hole in a small child index";
            continue;
        }
        seen++;
        const struct tree_node *c = tree_kid(s);
        uint32_t len = (uint32_t)strlen(c->name);
        uint64_t h = tree_name_hash(c->name, len);
        if (len == 0 || memchr(c->name, '/', len) != NULL)
            return "child name empty or with '/'";
        if ((s & ~TREE_KIDS_PTR_MASK) != tree_kid_tag(h))
            return "child slot tag is not its name's";
        if (tree_kids_find(k, c->name, len, h) != c)
            return "child not found by its name";
    }
    return seen == k->count ? NULL : "child index count differs from its slots";
}

/* One node of tree_check, whose path is path[0 .. path_len). */
static const char *tree_check_node(const struct tree *t, const struct tree_node *n,
                                   const char *path, uint32_t path_len, uint64_t *data_bytes,
                                   uint32_t *specials, uint32_t *ephemerals) {
    const char *why = tree_check_kids(n);
    if (why != NULL)
        return why;
    if (n->data_len < -1 ||
        n->flags & ~(TREE_NODE_KIND_MASK | TREE_NODE_DATA_EXT | TREE_NODE_MORE))
        return "bad data length or flags";
    if ((n->flags & TREE_NODE_MORE) && n->u.more == NULL)
        return "out-of-line stat missing";
    size_t area = tree_node_area_cap(n);
    if (area < sizeof(uint8_t *))
        return "data area smaller than a pointer";
    if (n->flags & TREE_NODE_DATA_EXT) {
        if (n->data_len <= 0 || (size_t)n->data_len <= area ||
            tree_node_ext(n) == NULL)
            return "out-of-line data that would fit inline";
    } else if (n->data_len > 0 && (size_t)n->data_len > area) {
        return "inline data larger than the data area";
    }
    if (n->acl >= t->acl_table_used || t->acl_table[n->acl] == NULL ||
        t->acl_table[n->acl]->interned == NULL || t->acl_table[n->acl]->refs < 2)
        return "node without an interned ACL reference";
    *data_bytes += path_len + (n->data_len > 0 ? (uint32_t)n->data_len : 0);
    const struct tree_special *s = tree_special_find(t, n);
    if ((s != NULL) != (tree_node_kind(n) != TREE_NORMAL))
        return "kind flag and side table disagree";
    if (s != NULL) {
        (*specials)++;
        if (tree_owner_kind(s->owner) != tree_node_kind(n))
            return "side record owner of another kind";
        if (s->path_len != path_len || memcmp(s->path, path, path_len) != 0)
            return "side record path is not the node's";
        if (tree_node_kind(n) == TREE_EPHEMERAL)
            (*ephemerals)++;
    }
    return NULL;
}

const char *tree_check(const struct tree *t) {
    const char *why;
    uint32_t nodes = 0, specials = 0, ephemerals = 0;
    uint64_t data_bytes = 0;
    if (t->root == NULL || t->root->name[0] != '\0')
        return "bad root";
    struct tree_walk w;
    tree_walk_init(&w, t); /* asserts that no path is longer than path_len_max */
    for (const struct tree_node *n; (n = tree_walk_next(&w)) != NULL;) {
        if (++nodes > t->node_count)
            why = "more nodes than node_count";
        else
            why = tree_check_node(t, n, w.path, w.len, &data_bytes, &specials, &ephemerals);
        if (why != NULL) {
            tree_walk_deinit(&w);
            return why;
        }
    }
    tree_walk_deinit(&w);
    if (nodes != t->node_count)
        return "fewer nodes than node_count";
    uint32_t lists = 0;
    for (uint32_t i = 0; i < t->acl_table_used; i++) {
        const struct acl_list *l = t->acl_table[i];
        if (l != NULL && (l->interned == NULL ||
                          ((const struct tree_acl *)l->interned)->id != i))
            return "ACL table entry not interned at its index";
        lists += l != NULL;
    }
    if (lists != t->acls.count || lists + t->acl_free_count != t->acl_table_used)
        return "ACL table and cache disagree";
    if (specials != t->special_count || ephemerals != t->ephemeral_count)
        return "side table or ephemeral count differs from the nodes";
    if (data_bytes != t->data_bytes)
        return "data_bytes differs from the nodes";
    return NULL;
}
