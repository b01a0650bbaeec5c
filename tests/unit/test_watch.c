/* test_watch.c — the watch manager (watch.h).
 * Goal: ZooKeeper's trigger rules (protocol.md §9, features.md §4): one-shot
 * data/exist and child watches, persistent and persistent-recursive watches,
 * one delivery per owner per trigger, removeWatches/checkWatches with
 * NOWATCHER semantics, and the counters used by the four-letter words.
 * Method: three owners; the delivery callback appends to a log that each test
 * compares with the exact expected sequence. */
#include "test.h"

#include "mem.h"
#include "watch.h"

/* ---- Fixture ---- */

struct delivery {
    struct watch_owner *owner;
    int32_t event;
    char path[64];
};

struct fixture {
    struct watch_mgr w;
    struct watch_owner a, b, c;
    struct delivery log[32];
    uint32_t n;
};

static void fx_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    watch_mgr_init(&f->w);
    watch_owner_init(&f->a);
    watch_owner_init(&f->b);
    watch_owner_init(&f->c);
}

static void fx_deinit(struct fixture *f)
{
    watch_owner_detach(&f->w, &f->a);
    watch_owner_detach(&f->w, &f->b);
    watch_owner_detach(&f->w, &f->c);
    watch_mgr_deinit(&f->w);
}

static void deliver(void *ctx, struct watch_owner *owner, int32_t event, const char *path,
                    uint32_t len)
{
    struct fixture *f = ctx;
    if (f->n >= 32 || len >= 64) FAIL("too many deliveries or path too long");
    struct delivery *d = &f->log[f->n++];
    d->owner = owner;
    d->event = event;
    memcpy(d->path, path, len);
    d->path[len] = '\0';
}

/* ---- Helpers ---- */

static void add(struct fixture *f, struct watch_owner *o, const char *path, uint32_t kinds)
{
    watch_add(&f->w, o, path, (uint32_t)strlen(path), kinds);
}

static void node(struct fixture *f, const char *path, int32_t event)
{
    f->n = 0;
    watch_trigger_node(&f->w, path, (uint32_t)strlen(path), event, deliver, f);
}

static void children(struct fixture *f, const char *path)
{
    f->n = 0;
    watch_trigger_children(&f->w, path, (uint32_t)strlen(path), deliver, f);
}

static bool rm(struct fixture *f, struct watch_owner *o, const char *path, int32_t type,
               bool remove)
{
    return watch_remove(&f->w, o, path, (uint32_t)strlen(path), type, remove);
}

static void assert_delivery(const struct fixture *f, uint32_t i, const struct watch_owner *o,
                            int32_t event, const char *path)
{
    if (i >= f->n) FAIL("delivery %u missing (only %u)", i, f->n);
    ASSERT_TRUE(f->log[i].owner == o);
    ASSERT_EQ_I64(f->log[i].event, event);
    ASSERT_EQ_STR(f->log[i].path, path);
}

/* Deliveries may come in any owner order: find the one for o. */
static const struct delivery *delivery_for(const struct fixture *f, const struct watch_owner *o)
{
    const struct delivery *found = NULL;
    for (uint32_t i = 0; i < f->n; i++) {
        if (f->log[i].owner == o) {
            if (found != NULL) FAIL("owner received %s twice", f->log[i].path);
            found = &f->log[i];
        }
    }
    return found;
}

/* ---- one-shot watches ---- */

TEST(watch, data_watch_is_one_shot)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA);
    ASSERT_EQ_I64(watch_path_count(&f.w), 1);
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DATA_CHANGED, "/a");
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 0);
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    ASSERT_EQ_I64(watch_total(&f.w), 0);
    ASSERT_EQ_I64(f.a.count, 0);
    fx_deinit(&f);
}

TEST(watch, data_watch_fires_on_delete_not_on_children)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA);
    children(&f, "/a");
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/a", WATCH_EVENT_DELETED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DELETED, "/a");
    fx_deinit(&f);
}

TEST(watch, exist_watch_on_missing_path_fires_on_create)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/later", WATCH_DATA);
    node(&f, "/other", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/later", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CREATED, "/later");
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    fx_deinit(&f);
}

TEST(watch, child_watch_one_shot_and_fires_deleted)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/p", WATCH_CHILD);
    node(&f, "/p", WATCH_EVENT_DATA_CHANGED); /* not for child watches */
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/p", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 0);
    children(&f, "/p");
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CHILDREN_CHANGED, "/p");
    children(&f, "/p");
    ASSERT_EQ_I64(f.n, 0);
    /* Re-armed child watch gets NodeDeleted when the node itself goes. */
    add(&f, &f.a, "/p", WATCH_CHILD);
    node(&f, "/p", WATCH_EVENT_DELETED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DELETED, "/p");
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    fx_deinit(&f);
}

TEST(watch, child_watch_survives_unrelated_node_event)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/p", WATCH_CHILD | WATCH_DATA);
    node(&f, "/p", WATCH_EVENT_DATA_CHANGED); /* clears the data kind only */
    ASSERT_EQ_I64(f.n, 1);
    ASSERT_EQ_I64(watch_total(&f.w), 1);
    children(&f, "/p");
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CHILDREN_CHANGED, "/p");
    ASSERT_EQ_I64(watch_total(&f.w), 0);
    fx_deinit(&f);
}

TEST(watch, one_shot_for_several_owners_on_one_path)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/x", WATCH_DATA);
    add(&f, &f.b, "/x", WATCH_DATA);
    add(&f, &f.c, "/x", WATCH_DATA);
    node(&f, "/x", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 3);
    ASSERT_NOT_NULL(delivery_for(&f, &f.a));
    ASSERT_NOT_NULL(delivery_for(&f, &f.b));
    ASSERT_NOT_NULL(delivery_for(&f, &f.c));
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    fx_deinit(&f);
}

/* ---- persistent watches ---- */

TEST(watch, persistent_stays_and_gets_children_changed)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/p", WATCH_PERSISTENT);
    node(&f, "/p", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CREATED, "/p");
    node(&f, "/p", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    node(&f, "/p", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    children(&f, "/p");
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CHILDREN_CHANGED, "/p");
    /* Not recursive: a child's own events do not reach it. */
    node(&f, "/p/c", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/p", WATCH_EVENT_DELETED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DELETED, "/p");
    ASSERT_EQ_I64(watch_path_count(&f.w), 1); /* still registered */
    fx_deinit(&f);
}

TEST(watch, recursive_gets_descendants_but_never_children_changed)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_RECURSIVE);
    ASSERT_EQ_I64(f.w.recursive_count, 1);
    node(&f, "/a", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CREATED, "/a");
    node(&f, "/a/b", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CREATED, "/a/b");
    node(&f, "/a/b/c/d", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DATA_CHANGED, "/a/b/c/d");
    node(&f, "/a/b", WATCH_EVENT_DELETED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DELETED, "/a/b");
    children(&f, "/a");
    ASSERT_EQ_I64(f.n, 0);
    children(&f, "/a/b");
    ASSERT_EQ_I64(f.n, 0);
    ASSERT_EQ_I64(watch_path_count(&f.w), 1);
    fx_deinit(&f);
}

TEST(watch, recursive_matches_whole_components_only)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_RECURSIVE);
    node(&f, "/ab", WATCH_EVENT_CREATED); /* sibling, not a descendant */
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/b/a", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 0);
    fx_deinit(&f);
}

TEST(watch, recursive_on_root_sees_everything)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/", WATCH_RECURSIVE);
    node(&f, "/x", WATCH_EVENT_CREATED);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CREATED, "/x");
    node(&f, "/x/y/z", WATCH_EVENT_DELETED);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DELETED, "/x/y/z");
    node(&f, "/", WATCH_EVENT_DATA_CHANGED);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_DATA_CHANGED, "/");
    children(&f, "/");
    ASSERT_EQ_I64(f.n, 0);
    fx_deinit(&f);
}

/* ---- de-duplication ---- */

TEST(watch, one_delivery_per_owner_per_trigger)
{
    /* Owner a: data + child watch on the node, recursive on its parent and on
     * "/": a delete reaches it through four registrations, but one NodeDeleted
     * is delivered. Owner b has only a data watch and gets its own. */
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a/b", WATCH_DATA);
    add(&f, &f.a, "/a/b", WATCH_CHILD);
    add(&f, &f.a, "/a", WATCH_RECURSIVE);
    add(&f, &f.a, "/", WATCH_RECURSIVE);
    add(&f, &f.b, "/a/b", WATCH_DATA);
    ASSERT_EQ_I64(watch_path_count(&f.w), 3);
    node(&f, "/a/b", WATCH_EVENT_DELETED);
    ASSERT_EQ_I64(f.n, 2);
    const struct delivery *da = delivery_for(&f, &f.a);
    const struct delivery *db = delivery_for(&f, &f.b);
    ASSERT_NOT_NULL(da);
    ASSERT_NOT_NULL(db);
    ASSERT_EQ_I64(da->event, WATCH_EVENT_DELETED);
    ASSERT_EQ_STR(da->path, "/a/b");
    ASSERT_EQ_I64(db->event, WATCH_EVENT_DELETED);
    /* One-shot kinds are gone, the recursive ones stay. */
    ASSERT_EQ_I64(watch_path_count(&f.w), 2);
    ASSERT_EQ_I64(f.w.recursive_count, 2);
    /* A later trigger is a new trigger: delivered again (once). */
    node(&f, "/a/b", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.a, WATCH_EVENT_CREATED, "/a/b");
    fx_deinit(&f);
}

TEST(watch, duplicate_registration_collapses)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA);
    add(&f, &f.a, "/a", WATCH_DATA);
    add(&f, &f.a, "/a", WATCH_RECURSIVE);
    add(&f, &f.a, "/a", WATCH_RECURSIVE);
    ASSERT_EQ_I64(f.a.count, 1);
    ASSERT_EQ_I64(f.w.recursive_count, 1);
    ASSERT_EQ_I64(watch_total(&f.w), 2);
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    fx_deinit(&f);
    ASSERT_EQ_I64(f.w.recursive_count, 0);
}

/* ---- removeWatches / checkWatches ---- */

TEST(watch, remove_children_type_leaves_data_watch)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA | WATCH_CHILD);
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_CHILDREN, true));
    ASSERT_FALSE(rm(&f, &f.a, "/a", WATCH_TYPE_CHILDREN, true)); /* NOWATCHER now */
    children(&f, "/a");
    ASSERT_EQ_I64(f.n, 0);
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    fx_deinit(&f);
}

TEST(watch, remove_data_type_leaves_child_watch)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA | WATCH_CHILD);
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_DATA, true));
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 0);
    children(&f, "/a");
    ASSERT_EQ_I64(f.n, 1);
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    fx_deinit(&f);
}

TEST(watch, remove_any_type_removes_every_kind)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA | WATCH_CHILD | WATCH_PERSISTENT | WATCH_RECURSIVE);
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_ANY, true));
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    ASSERT_EQ_I64(f.w.recursive_count, 0);
    ASSERT_EQ_I64(f.a.count, 0);
    ASSERT_FALSE(rm(&f, &f.a, "/a", WATCH_TYPE_ANY, true));
    fx_deinit(&f);
}

TEST(watch, remove_persistent_and_recursive_types)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_PERSISTENT | WATCH_RECURSIVE);
    ASSERT_FALSE(rm(&f, &f.a, "/a", WATCH_TYPE_DATA, true)); /* no standard watch */
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_PERSISTENT_RECURSIVE, true));
    ASSERT_EQ_I64(f.w.recursive_count, 0);
    node(&f, "/a/b", WATCH_EVENT_CREATED); /* no recursive watch any more */
    ASSERT_EQ_I64(f.n, 0);
    children(&f, "/a"); /* the persistent one is still there */
    ASSERT_EQ_I64(f.n, 1);
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_PERSISTENT, true));
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
    ASSERT_FALSE(rm(&f, &f.a, "/a", WATCH_TYPE_PERSISTENT, true));
    fx_deinit(&f);
}

TEST(watch, remove_returns_false_for_nowatcher_cases)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_CHILD);
    ASSERT_FALSE(rm(&f, &f.a, "/nowhere", WATCH_TYPE_ANY, true)); /* unwatched path */
    ASSERT_FALSE(rm(&f, &f.b, "/a", WATCH_TYPE_ANY, true));       /* another owner's */
    ASSERT_FALSE(rm(&f, &f.a, "/a", WATCH_TYPE_DATA, true));      /* other kind */
    ASSERT_FALSE(rm(&f, &f.a, "/a", 9, true));                    /* unknown type */
    ASSERT_FALSE(rm(&f, &f.a, "/a", 0, false));
    ASSERT_EQ_I64(watch_path_count(&f.w), 1);
    ASSERT_EQ_I64(f.a.count, 1);
    fx_deinit(&f);
}

TEST(watch, check_watches_leaves_the_watch)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA);
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_DATA, false));
    ASSERT_TRUE(rm(&f, &f.a, "/a", WATCH_TYPE_ANY, false));
    ASSERT_FALSE(rm(&f, &f.a, "/a", WATCH_TYPE_CHILDREN, false));
    ASSERT_EQ_I64(watch_path_count(&f.w), 1);
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    fx_deinit(&f);
}

/* ---- lifetime and counters ---- */

TEST(watch, owner_detach_frees_everything)
{
    uint64_t before = zk_mem_bytes_in_use();
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA);
    add(&f, &f.a, "/b", WATCH_CHILD);
    add(&f, &f.a, "/c", WATCH_RECURSIVE);
    add(&f, &f.b, "/a", WATCH_DATA);
    ASSERT_EQ_I64(watch_path_count(&f.w), 3);
    watch_owner_detach(&f.w, &f.a);
    ASSERT_EQ_I64(f.a.count, 0);
    ASSERT_EQ_I64(f.w.recursive_count, 0);
    ASSERT_EQ_I64(watch_path_count(&f.w), 1); /* b's /a remains */
    node(&f, "/a", WATCH_EVENT_DATA_CHANGED);
    ASSERT_EQ_I64(f.n, 1);
    assert_delivery(&f, 0, &f.b, WATCH_EVENT_DATA_CHANGED, "/a");
    node(&f, "/c/x", WATCH_EVENT_CREATED);
    ASSERT_EQ_I64(f.n, 0);
    fx_deinit(&f);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
}

TEST(watch, total_counts_table_entries_like_zookeeper)
{
    /* data 1, child 1, persistent 2 (data + child tables), recursive 1. */
    struct fixture f;
    fx_init(&f);
    ASSERT_EQ_I64(watch_total(&f.w), 0);
    add(&f, &f.a, "/a", WATCH_DATA);
    add(&f, &f.a, "/a", WATCH_CHILD);
    add(&f, &f.b, "/a", WATCH_DATA);
    add(&f, &f.b, "/p", WATCH_PERSISTENT);
    add(&f, &f.c, "/r", WATCH_RECURSIVE);
    ASSERT_EQ_I64(watch_total(&f.w), 1 + 1 + 1 + 2 + 1);
    ASSERT_EQ_I64(watch_path_count(&f.w), 3);
    ASSERT_EQ_I64(watch_owner_total(&f.a), 2);
    ASSERT_EQ_I64(watch_owner_total(&f.b), 3);
    ASSERT_EQ_I64(watch_owner_total(&f.c), 1);
    fx_deinit(&f);
    ASSERT_EQ_I64(watch_path_count(&f.w), 0);
}

struct paths_seen {
    uint32_t paths;
    uint32_t owners;
    uint32_t len_sum;
};

static void seen_path(void *ctx, const char *path, uint32_t len)
{
    struct paths_seen *s = ctx;
    (void)path;
    s->paths++;
    s->len_sum += len;
}

static void seen_owner(void *ctx, struct watch_owner *o)
{
    struct paths_seen *s = ctx;
    (void)o;
    s->owners++;
}

TEST(watch, introspection_walks)
{
    struct fixture f;
    fx_init(&f);
    add(&f, &f.a, "/a", WATCH_DATA);
    add(&f, &f.a, "/bb", WATCH_CHILD);
    add(&f, &f.b, "/a", WATCH_DATA);
    struct paths_seen s = {0};
    watch_for_each_owner_path(&f.a, seen_path, &s);
    ASSERT_EQ_I64(s.paths, 2);
    ASSERT_EQ_I64(s.len_sum, 2 + 3);
    struct paths_seen t = {0};
    watch_for_each_path(&f.w, seen_path, seen_owner, &t);
    ASSERT_EQ_I64(t.paths, 2);
    ASSERT_EQ_I64(t.owners, 3);
    fx_deinit(&f);
}

TEST(watch, trigger_without_watches_is_harmless)
{
    struct fixture f;
    fx_init(&f);
    node(&f, "/", WATCH_EVENT_DATA_CHANGED);
    node(&f, "/a/b/c", WATCH_EVENT_DELETED);
    children(&f, "/");
    ASSERT_EQ_I64(f.n, 0);
    fx_deinit(&f);
}
