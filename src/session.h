/* session.h — session table and expiry (ZooKeeper SessionTrackerImpl +
 * ExpiryQueue): sessions sit in buckets keyed by expiry time rounded up to the
 * next tick, so one tick expires exactly one bucket — no scan of all sessions.
 *
 * The table owns struct session objects. The `conn` field is a borrowed
 * back-pointer maintained by the server. */
#ifndef ZK_SESSION_H
#define ZK_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "map.h"
#include "queue.h"

#define SESSION_PASSWD_LEN 16

struct session {
    struct map_entry link; /* key = id bytes */
    int64_t id;
    int32_t timeout_ms;
    uint8_t passwd[SESSION_PASSWD_LEN];
    int64_t expire_at_ms; /* bucket time; 0 when not in a bucket */
    struct queue bucket_link;
    bool closing; /* close txn issued: new requests get SESSIONEXPIRED */
    void *conn;   /* borrowed: the attached connection, or NULL */
};

struct session_bucket; /* private */

struct session_table {
    struct map by_id;
    struct map buckets; /* expire time -> bucket */
    int64_t tick_ms;    /* expiry interval (tickTime) */
    int64_t next_expiration_ms;
    int64_t next_id;
};

void session_table_init(struct session_table *t, int64_t tick_ms, int64_t now_ms,
                        int64_t server_id);
void session_table_deinit(struct session_table *t);
/* Drops every session, keeping the tick and the id generator. */
void session_table_reinit(struct session_table *t, int64_t now_ms);

/* ZooKeeper's initial session id: ((ms << 24) >>> 8) | (sid << 56). */
int64_t session_initial_id(int64_t now_ms, int64_t server_id);
/* Takes the next id (skipping 0 and the container marker). */
int64_t session_next_id(struct session_table *t);
/* Java Random(id ^ 0xB3415C00).nextBytes(16), as ZooKeeper's generatePasswd. */
void session_password(int64_t id, uint8_t out[SESSION_PASSWD_LEN]);

/* Adds a session (apply of createSession). Returns the object (owned by the
 * table). If the id exists its timeout is updated and it is returned. */
struct session *session_add(struct session_table *t, int64_t id, int32_t timeout_ms,
                            int64_t now_ms);
struct session *session_find(const struct session_table *t, int64_t id);
/* Removes and frees (apply of closeSession). */
void session_remove(struct session_table *t, struct session *s);
/* Moves the session to the bucket for now + timeout (ping / any request). */
void session_touch(struct session_table *t, struct session *s, int64_t now_ms);

/* Time of the next bucket that may expire. */
int64_t session_next_expiration(const struct session_table *t);
/* If now >= the next expiration time, detaches the sessions of that bucket
 * (they stay in the table; expire_at_ms = 0), calls fn for each and advances
 * the next expiration by one tick. Returns the number expired (0 also for an
 * empty bucket): callers catch up with
 * while (now >= session_next_expiration(t)) session_expire(...). */
uint32_t session_expire(struct session_table *t, int64_t now_ms,
                        void (*fn)(void *ctx, struct session *s), void *ctx);
uint32_t session_count(const struct session_table *t);
void session_for_each(const struct session_table *t, void (*fn)(void *ctx, struct session *s),
                      void *ctx);

#endif
