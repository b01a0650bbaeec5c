/* watch.h — watch manager (ZooKeeper WatchManager + DataTree trigger rules).
 *
 * One registration per (owner, path) carries a bit set of kinds. An owner is a
 * client connection (watches die with the TCP connection, as in ZooKeeper); the
 * server embeds struct watch_owner in its connection object. The manager owns
 * path entries and registrations; it never owns owners. */
#ifndef ZK_WATCH_H
#define ZK_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "map.h"
#include "queue.h"

enum watch_kind {
    WATCH_DATA = 1,      /* one-shot data/exist watch */
    WATCH_CHILD = 2,     /* one-shot child watch */
    WATCH_PERSISTENT = 4,
    WATCH_RECURSIVE = 8, /* persistent, recursive */
};

/* Event types on the wire (Watcher.Event.EventType). */
enum watch_event {
    WATCH_EVENT_CREATED = 1,
    WATCH_EVENT_DELETED = 2,
    WATCH_EVENT_DATA_CHANGED = 3,
    WATCH_EVENT_CHILDREN_CHANGED = 4,
};

/* WatcherType of removeWatches/checkWatches. */
enum watch_type {
    WATCH_TYPE_CHILDREN = 1,
    WATCH_TYPE_DATA = 2,
    WATCH_TYPE_ANY = 3,
    WATCH_TYPE_PERSISTENT = 4,
    WATCH_TYPE_PERSISTENT_RECURSIVE = 5,
};

struct watch_owner {
    struct queue regs; /* struct watch_reg.owner_link */
    uint32_t count;
    uint64_t last_trigger; /* de-duplicates one trigger's deliveries */
};

struct watch_mgr {
    struct map paths;          /* path -> struct watch_path */
    uint32_t recursive_count;  /* registrations with WATCH_RECURSIVE */
    uint64_t trigger_seq;
};

/* Called once per owner per trigger. path is borrowed for the call. */
typedef void watch_deliver_fn(void *ctx, struct watch_owner *owner, int32_t event,
                              const char *path, uint32_t path_len);

void watch_mgr_init(struct watch_mgr *w);
void watch_mgr_deinit(struct watch_mgr *w); /* all owners must be detached */
void watch_owner_init(struct watch_owner *o);
/* Drops every registration of the owner (connection closed). */
void watch_owner_detach(struct watch_mgr *w, struct watch_owner *o);

void watch_add(struct watch_mgr *w, struct watch_owner *o, const char *path, uint32_t len,
               uint32_t kinds);
/* removeWatches (remove = true) / checkWatches (false): true if something matched. */
bool watch_remove(struct watch_mgr *w, struct watch_owner *o, const char *path, uint32_t len,
                  int32_t type, bool remove);
/* A data-type event (created, deleted, data changed) on path. */
void watch_trigger_node(struct watch_mgr *w, const char *path, uint32_t len, int32_t event,
                        watch_deliver_fn *fn, void *ctx);
/* NodeChildrenChanged on the parent path. */
void watch_trigger_children(struct watch_mgr *w, const char *path, uint32_t len,
                            watch_deliver_fn *fn, void *ctx);

/* Introspection for the four-letter words. */
uint32_t watch_path_count(const struct watch_mgr *w);
uint64_t watch_total(const struct watch_mgr *w);
uint32_t watch_owner_total(const struct watch_owner *o);
typedef void watch_path_fn(void *ctx, const char *path, uint32_t len);
void watch_for_each_owner_path(const struct watch_owner *o, watch_path_fn *fn, void *ctx);
typedef void watch_owner_fn(void *ctx, struct watch_owner *o);
void watch_for_each_path(const struct watch_mgr *w, watch_path_fn *path_fn,
                         watch_owner_fn *owner_fn, void *ctx);

#endif
