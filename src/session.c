#include "session.h"

#include <string.h>

#include "base.h"
#include "mem.h"

struct session_bucket {
    struct map_entry link; /* key = time bytes */
    int64_t time_ms;
    struct queue sessions;
};

static int64_t session_round_up(const struct session_table *t, int64_t time_ms) {
    return (time_ms / t->tick_ms + 1) * t->tick_ms;
}

int64_t session_initial_id(int64_t now_ms, int64_t server_id) {
    uint64_t id = ((uint64_t)now_ms << 24) >> 8;
    return (int64_t)(id | ((uint64_t)server_id << 56));
}

void session_table_init(struct session_table *t, int64_t tick_ms, int64_t now_ms,
                        int64_t server_id) {
    ZK_ASSERT(tick_ms > 0);
    map_init(&t->by_id);
    map_init(&t->buckets);
    t->tick_ms = tick_ms;
    t->next_expiration_ms = session_round_up(t, now_ms);
    t->next_id = session_initial_id(now_ms, server_id);
}

void session_table_deinit(struct session_table *t) {
    uint32_t b;
    struct map_entry *e = map_first(&t->by_id, &b);
    while (e != NULL) {
        struct map_entry *next = map_next(&t->by_id, e, &b);
        zk_free(zk_container_of(e, struct session, link));
        e = next;
    }
    e = map_first(&t->buckets, &b);
    while (e != NULL) {
        struct map_entry *next = map_next(&t->buckets, e, &b);
        zk_free(zk_container_of(e, struct session_bucket, link));
        e = next;
    }
    map_deinit(&t->by_id);
    map_deinit(&t->buckets);
}

void session_table_reinit(struct session_table *t, int64_t now_ms) {
    int64_t tick = t->tick_ms, next_id = t->next_id;
    session_table_deinit(t);
    session_table_init(t, tick, now_ms, 0);
    t->next_id = next_id;
}

int64_t session_next_id(struct session_table *t) {
    int64_t id;
    do {
        id = t->next_id++;
    } while (id == 0 || id == INT64_MIN);
    return id;
}

void session_password(int64_t id, uint8_t out[SESSION_PASSWD_LEN]) {
    const uint64_t mult = 0x5DEECE66DULL, mask = (1ULL << 48) - 1;
    uint64_t seed = ((uint64_t)(id ^ 0xB3415C00LL) ^ mult) & mask;
    for (int i = 0; i < SESSION_PASSWD_LEN;) {
        seed = (seed * mult + 0xBULL) & mask;
        int32_t rnd = (int32_t)(uint32_t)(seed >> 16);
        for (int n = 0; n < 4 && i < SESSION_PASSWD_LEN; n++, rnd >>= 8)
            out[i++] = (uint8_t)rnd;
    }
}

struct session *session_find(const struct session_table *t, int64_t id) {
    struct map_entry *e = map_find(&t->by_id, &id, sizeof(id));
    return e ? zk_container_of(e, struct session, link) : NULL;
}

static void session_unbucket(struct session_table *t, struct session *s) {
    if (s->expire_at_ms == 0)
        return;
    struct map_entry *e = map_find(&t->buckets, &s->expire_at_ms, sizeof(s->expire_at_ms));
    ZK_ASSERT(e != NULL);
    queue_remove(&s->bucket_link);
    struct session_bucket *bk = zk_container_of(e, struct session_bucket, link);
    if (queue_empty(&bk->sessions)) {
        map_remove(&t->buckets, &bk->link);
        zk_free(bk);
    }
    s->expire_at_ms = 0;
}

void session_touch(struct session_table *t, struct session *s, int64_t now_ms) {
    int64_t at = session_round_up(t, now_ms + s->timeout_ms);
    if (at == s->expire_at_ms)
        return;
    session_unbucket(t, s);
    struct map_entry *e = map_find(&t->buckets, &at, sizeof(at));
    struct session_bucket *bk;
    if (e == NULL) {
        bk = zk_xcalloc(1, sizeof(*bk));
        bk->time_ms = at;
        queue_init(&bk->sessions);
        map_insert(&t->buckets, &bk->link, &bk->time_ms, sizeof(bk->time_ms));
    } else {
        bk = zk_container_of(e, struct session_bucket, link);
    }
    queue_insert_tail(&bk->sessions, &s->bucket_link);
    s->expire_at_ms = at;
}

struct session *session_add(struct session_table *t, int64_t id, int32_t timeout_ms,
                            int64_t now_ms) {
    struct session *s = session_find(t, id);
    if (s == NULL) {
        s = zk_xcalloc(1, sizeof(*s));
        s->id = id;
        queue_init(&s->bucket_link);
        session_password(id, s->passwd);
        map_insert(&t->by_id, &s->link, &s->id, sizeof(s->id));
    }
    s->timeout_ms = timeout_ms;
    session_touch(t, s, now_ms);
    return s;
}

void session_remove(struct session_table *t, struct session *s) {
    session_unbucket(t, s);
    map_remove(&t->by_id, &s->link);
    zk_free(s);
}

int64_t session_next_expiration(const struct session_table *t) { return t->next_expiration_ms; }

uint32_t session_expire(struct session_table *t, int64_t now_ms,
                        void (*fn)(void *ctx, struct session *s), void *ctx) {
    if (now_ms < t->next_expiration_ms)
        return 0;
    int64_t at = t->next_expiration_ms;
    t->next_expiration_ms += t->tick_ms;
    struct map_entry *e = map_find(&t->buckets, &at, sizeof(at));
    if (e == NULL)
        return 0;
    struct session_bucket *bk = zk_container_of(e, struct session_bucket, link);
    uint32_t n = 0;
    while (!queue_empty(&bk->sessions)) {
        struct session *s = QUEUE_DATA(queue_head(&bk->sessions), struct session, bucket_link);
        queue_remove(&s->bucket_link);
        s->expire_at_ms = 0;
        n++;
        fn(ctx, s);
    }
    map_remove(&t->buckets, &bk->link);
    zk_free(bk);
    return n;
}

uint32_t session_count(const struct session_table *t) { return t->by_id.count; }

void session_for_each(const struct session_table *t, void (*fn)(void *ctx, struct session *s),
                      void *ctx) {
    uint32_t b;
    for (struct map_entry *e = map_first(&t->by_id, &b); e; e = map_next(&t->by_id, e, &b))
        fn(ctx, zk_container_of(e, struct session, link));
}
