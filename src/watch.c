#include "watch.h"

#include <string.h>

#include "base.h"
#include "limits.h"
#include "mem.h"

struct watch_path {
    struct map_entry link;
    char *path;
    uint32_t len;
    struct queue regs; /* struct watch_reg.path_link */
};

struct watch_reg {
    struct queue owner_link;
    struct queue path_link;
    struct watch_path *wp;
    struct watch_owner *owner;
    uint32_t kinds;
};

void watch_mgr_init(struct watch_mgr *w) {
    map_init(&w->paths);
    w->recursive_count = 0;
    w->trigger_seq = 0;
}

void watch_mgr_deinit(struct watch_mgr *w) {
    ZK_ASSERT(w->paths.count == 0);
    map_deinit(&w->paths);
}

void watch_owner_init(struct watch_owner *o) {
    queue_init(&o->regs);
    o->count = 0;
    o->last_trigger = 0;
}

static struct watch_path *watch_path_find(const struct watch_mgr *w, const char *path,
                                          uint32_t len) {
    struct map_entry *e = map_find(&w->paths, path, len);
    return e ? zk_container_of(e, struct watch_path, link) : NULL;
}

static void watch_reg_free(struct watch_mgr *w, struct watch_reg *r) {
    struct watch_path *wp = r->wp;
    if (r->kinds & WATCH_RECURSIVE) {
        ZK_ASSERT(w->recursive_count > 0);
        w->recursive_count--;
    }
    queue_remove(&r->path_link);
    queue_remove(&r->owner_link);
    ZK_ASSERT(r->owner->count > 0);
    r->owner->count--;
    zk_free(r);
    if (queue_empty(&wp->regs)) {
        map_remove(&w->paths, &wp->link);
        zk_free(wp->path);
        zk_free(wp);
    }
}

/* Clears kinds from a registration, freeing it when nothing is left. */
static void watch_reg_clear(struct watch_mgr *w, struct watch_reg *r, uint32_t kinds) {
    if ((r->kinds & kinds & WATCH_RECURSIVE) && (r->kinds & ~kinds)) {
        ZK_ASSERT(w->recursive_count > 0);
        w->recursive_count--;
    }
    uint32_t left = r->kinds & ~kinds;
    if (left == 0) {
        watch_reg_free(w, r);
        return;
    }
    r->kinds = left;
}

void watch_owner_detach(struct watch_mgr *w, struct watch_owner *o) {
    while (!queue_empty(&o->regs))
        watch_reg_free(w, QUEUE_DATA(queue_head(&o->regs), struct watch_reg, owner_link));
    ZK_ASSERT(o->count == 0);
}

static struct watch_reg *watch_reg_find(struct watch_path *wp, const struct watch_owner *o) {
    struct queue *q;
    QUEUE_FOREACH(q, &wp->regs) {
        struct watch_reg *r = QUEUE_DATA(q, struct watch_reg, path_link);
        if (r->owner == o)
            return r;
    }
    return NULL;
}

void watch_add(struct watch_mgr *w, struct watch_owner *o, const char *path, uint32_t len,
               uint32_t kinds) {
    ZK_ASSERT(kinds != 0 && (kinds & ~15u) == 0);
    struct watch_path *wp = watch_path_find(w, path, len);
    if (wp == NULL) {
        wp = zk_xcalloc(1, sizeof(*wp));
        wp->path = zk_xstrndup(path, len);
        wp->len = len;
        queue_init(&wp->regs);
        map_insert(&w->paths, &wp->link, wp->path, len);
    }
    struct watch_reg *r = watch_reg_find(wp, o);
    if (r == NULL) {
        r = zk_xcalloc(1, sizeof(*r));
        r->wp = wp;
        r->owner = o;
        queue_insert_tail(&wp->regs, &r->path_link);
        queue_insert_tail(&o->regs, &r->owner_link);
        o->count++;
    }
    if ((kinds & WATCH_RECURSIVE) && !(r->kinds & WATCH_RECURSIVE))
        w->recursive_count++;
    r->kinds |= kinds;
}

static uint32_t watch_kinds_of_type(int32_t type) {
    switch (type) {
    case WATCH_TYPE_CHILDREN:
        return WATCH_CHILD;
    case WATCH_TYPE_DATA:
        return WATCH_DATA;
    case WATCH_TYPE_ANY:
        return WATCH_DATA | WATCH_CHILD | WATCH_PERSISTENT | WATCH_RECURSIVE;
    case WATCH_TYPE_PERSISTENT:
        return WATCH_PERSISTENT;
    case WATCH_TYPE_PERSISTENT_RECURSIVE:
        return WATCH_RECURSIVE;
    default:
        return 0;
    }
}

bool watch_remove(struct watch_mgr *w, struct watch_owner *o, const char *path, uint32_t len,
                  int32_t type, bool remove) {
    uint32_t kinds = watch_kinds_of_type(type);
    struct watch_path *wp = watch_path_find(w, path, len);
    if (wp == NULL || kinds == 0)
        return false;
    struct watch_reg *r = watch_reg_find(wp, o);
    if (r == NULL || (r->kinds & kinds) == 0)
        return false;
    if (remove)
        watch_reg_clear(w, r, kinds);
    return true;
}

/* Delivers to every registration on one path whose kinds intersect `match`,
 * then clears the one-shot kinds in `clear`. */
static void watch_fire_path(struct watch_mgr *w, struct watch_path *wp, uint32_t match,
                            uint32_t clear, int32_t event, const char *path, uint32_t len,
                            watch_deliver_fn *fn, void *ctx) {
    struct queue *q, *next;
    QUEUE_FOREACH_SAFE(q, next, &wp->regs) {
        struct watch_reg *r = QUEUE_DATA(q, struct watch_reg, path_link);
        if ((r->kinds & match) == 0)
            continue;
        struct watch_owner *o = r->owner;
        bool last = next == &wp->regs;
        if (r->kinds & clear)
            watch_reg_clear(w, r, clear); /* may free wp when it was the last reg */
        if (o->last_trigger != w->trigger_seq) {
            o->last_trigger = w->trigger_seq;
            fn(ctx, o, event, path, len);
        }
        if (last)
            break;
    }
}

void watch_trigger_node(struct watch_mgr *w, const char *path, uint32_t len, int32_t event,
                        watch_deliver_fn *fn, void *ctx) {
    w->trigger_seq++;
    uint32_t match = WATCH_DATA | WATCH_PERSISTENT | WATCH_RECURSIVE;
    uint32_t clear = WATCH_DATA;
    if (event == WATCH_EVENT_DELETED) {
        match |= WATCH_CHILD;
        clear |= WATCH_CHILD;
    }
    struct watch_path *wp = watch_path_find(w, path, len);
    if (wp != NULL)
        watch_fire_path(w, wp, match, clear, event, path, len, fn, ctx);
    if (w->recursive_count == 0)
        return;
    /* Ancestors: only persistent-recursive registrations apply. */
    uint32_t plen = len;
    while (plen > 1) {
        while (plen > 0 && path[plen - 1] != '/')
            plen--;
        plen = plen > 1 ? plen - 1 : plen;
        wp = watch_path_find(w, path, plen);
        if (wp != NULL)
            watch_fire_path(w, wp, WATCH_RECURSIVE, 0, event, path, len, fn, ctx);
        if (plen == 1)
            break;
    }
}

void watch_trigger_children(struct watch_mgr *w, const char *path, uint32_t len,
                            watch_deliver_fn *fn, void *ctx) {
    w->trigger_seq++;
    struct watch_path *wp = watch_path_find(w, path, len);
    if (wp != NULL)
        watch_fire_path(w, wp, WATCH_CHILD | WATCH_PERSISTENT, WATCH_CHILD,
                        WATCH_EVENT_CHILDREN_CHANGED, path, len, fn, ctx);
}

uint32_t watch_path_count(const struct watch_mgr *w) { return w->paths.count; }

static uint32_t watch_reg_weight(uint32_t kinds) {
    /* ZooKeeper counts entries in its data and child tables: a persistent watch
     * sits in both, a recursive one in the data table only. */
    return ((kinds & WATCH_DATA) ? 1 : 0) + ((kinds & WATCH_CHILD) ? 1 : 0) +
           ((kinds & WATCH_PERSISTENT) ? 2 : 0) + ((kinds & WATCH_RECURSIVE) ? 1 : 0);
}

uint64_t watch_total(const struct watch_mgr *w) {
    uint64_t total = 0;
    uint32_t b;
    for (struct map_entry *e = map_first(&w->paths, &b); e; e = map_next(&w->paths, e, &b)) {
        struct watch_path *wp = zk_container_of(e, struct watch_path, link);
        struct queue *q;
        QUEUE_FOREACH(q, &wp->regs) {
            total += watch_reg_weight(QUEUE_DATA(q, struct watch_reg, path_link)->kinds);
        }
    }
    return total;
}

uint32_t watch_owner_total(const struct watch_owner *o) {
    uint32_t total = 0;
    struct queue *q;
    QUEUE_FOREACH(q, &o->regs) {
        total += watch_reg_weight(QUEUE_DATA(q, struct watch_reg, owner_link)->kinds);
    }
    return total;
}

void watch_for_each_owner_path(const struct watch_owner *o, watch_path_fn *fn, void *ctx) {
    struct queue *q;
    QUEUE_FOREACH(q, &o->regs) {
        struct watch_reg *r = QUEUE_DATA(q, struct watch_reg, owner_link);
        fn(ctx, r->wp->path, r->wp->len);
    }
}

void watch_for_each_path(const struct watch_mgr *w, watch_path_fn *path_fn,
                         watch_owner_fn *owner_fn, void *ctx) {
    uint32_t b;
    for (struct map_entry *e = map_first(&w->paths, &b); e; e = map_next(&w->paths, e, &b)) {
        struct watch_path *wp = zk_container_of(e, struct watch_path, link);
        path_fn(ctx, wp->path, wp->len);
        struct queue *q;
        QUEUE_FOREACH(q, &wp->regs) {
            owner_fn(ctx, QUEUE_DATA(q, struct watch_reg, path_link)->owner);
        }
    }
}
