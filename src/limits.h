/* limits.h — every bound the server enforces, with the reason for its value.
 * Configurable limits (zoo.cfg) have their default here; the live value is in
 * struct config. Hitting a bound closes the offending connection or answers it
 * with an error — it never affects other clients. */
#ifndef ZK_LIMITS_H
#define ZK_LIMITS_H

/* jute.maxbuffer default (0xfffff), as ZooKeeper: the largest frame a client may
 * send and the largest node data. Frames above it close the connection. */
#define ZK_LIMIT_FRAME_BYTES_DEFAULT 1048575

/* Before the handshake only a ConnectRequest (45 bytes) or a 4lw is legal; a
 * generous cap keeps unauthenticated peers from making us buffer megabytes. */
#define ZK_LIMIT_HANDSHAKE_BYTES_MAX 4096

/* Paths: no bound of their own, as in ZooKeeper. A path fits in one frame, so its
 * depth (at most half its length) bounds the walks that follow it: lookups,
 * recursive-watch ancestor walks, the tree walk's stack (tree.h). */

/* A multi is bounded by the frame size; each op needs >= 9 header bytes + body,
 * so this is never the first limit hit, it only bounds arrays we allocate. */
#define ZK_LIMIT_MULTI_OPS_MAX 100000

/* ACL entries in one request: each entry is >= 12 bytes on the wire, and ZooKeeper
 * has no separate bound; cap it so a prep-time copy is bounded. */
#define ZK_LIMIT_ACL_ENTRIES_MAX 1024

/* Requests read from one connection per event-loop wakeup (memcached
 * reqs_per_event): keeps one busy client from starving the others. */
#define ZK_LIMIT_REQS_PER_EVENT 64

/* Requests one session may have queued but unanswered before we stop reading its
 * socket (backpressure). ZooKeeper bounds this only globally. */
#define ZK_LIMIT_SESSION_OUTSTANDING_MAX 1000

/* globalOutstandingLimit default (ZooKeeper: 1000): total queued requests above
 * which no connection is read until the pipeline drains. */
#define ZK_LIMIT_GLOBAL_OUTSTANDING_DEFAULT 1000

/* Outgoing bytes buffered for one connection. Above the soft mark we stop reading
 * its requests (it is not reading our replies); above the hard mark (watch events
 * keep arriving even when we stop reading) the connection is dropped. */
#define ZK_LIMIT_CONN_OUTBOX_SOFT_BYTES (4u * 1024 * 1024)
#define ZK_LIMIT_CONN_OUTBOX_HARD_BYTES (64u * 1024 * 1024)

/* Bytes read per read(2) call. */
#define ZK_LIMIT_READ_CHUNK_BYTES 65536

/* A drained input or output buffer larger than this is freed rather than kept:
 * idle connections then cost no buffer memory, busy ones reuse theirs. */
#define ZK_LIMIT_CONN_IDLE_BUFFER_BYTES 16384

/* maxClientCnxns default (per client IP), as ZooKeeper. */
#define ZK_LIMIT_CLIENT_CNXNS_DEFAULT 60

/* A connection that has not completed its handshake within this many ms is
 * closed (slowloris defence; ZooKeeper uses the session timeout similarly). */
#define ZK_LIMIT_HANDSHAKE_TIMEOUT_MS 10000

/* Container sweep defaults (ZooKeeper znode.container.*). */
#define ZK_LIMIT_CONTAINER_CHECK_INTERVAL_MS_DEFAULT 60000
#define ZK_LIMIT_CONTAINER_MAX_PER_MINUTE_DEFAULT 10000

/* TTL range (ZooKeeper EphemeralType.TTL): 1 .. 2^40-1 ms. */
#define ZK_LIMIT_TTL_MS_MAX ((int64_t)0xffffffffffLL)

/* Password field of a ConnectRequest: clients send 16 bytes; anything longer
 * than this is a malformed handshake. */
#define ZK_LIMIT_PASSWD_BYTES_MAX 64

/* Events taken from one epoll_wait call; more are returned by the next call. */
#define ZK_LIMIT_EPOLL_EVENTS 256

/* listen(2) backlog when clientPortListenBacklog is not set (the kernel caps it
 * at net.core.somaxconn). */
#define ZK_LIMIT_LISTEN_BACKLOG_DEFAULT 511

/* setWatches: number of paths in one request is bounded by the frame. */

#endif
