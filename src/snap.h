/* snap.h — snapshots in ZooKeeper's on-disk format (FileSnap + DataTree.serialize).
 *
 * File `snapshot.<zxid, lowercase hex>` in dataDir/version-2:
 *   header    i32 magic 0x5A4B534E ("ZKSN") | i32 version 2 | i64 dbid -1
 *   sessions  i32 count, then {i64 id, i32 timeout} x count
 *   ACL cache i32 count, then {i64 ref, vector<ACL>} x count
 *   nodes     {ustring path, buffer data, i64 acl ref, StatPersisted} ... in pre-order
 *             starting with the root under the path "", terminated by the path "/".
 *             StatPersisted = czxid, mzxid, ctime, mtime (i64), version, cversion
 *             (the child-create counter), aversion (i32), ephemeralOwner, pzxid (i64).
 *             ACL ref -1 means the open ACL (world:anyone ALL).
 *   seal      i64 Adler-32 of every byte before it | ustring "/"
 *   optional  (3.6+) digest {i64 zxid, i32 version, i64 digest}, seal again;
 *             (3.9) last processed zxid, seal again.
 * A ZooKeeper snapshot is fuzzy: it is replayed over by the log from its zxid.
 *
 * This module parses and loads (issue 3 in progress: writing and wiring into the
 * server come next). */
#ifndef ZK_SNAP_H
#define ZK_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jute.h"
#include "session.h"
#include "tree.h"

#define SNAP_MAGIC 0x5A4B534E
#define SNAP_VERSION 2

struct snap_info {
    uint32_t sessions;
    uint32_t acls;
    uint32_t nodes;
    /* nodes whose ACL reference the cache lacks (a fuzzy ZooKeeper snapshot):
     * they hold an acl_unresolved_new() stand-in until the log replay sets it */
    uint32_t unresolved_acls;
    uint64_t sealed_bytes; /* offset just after the first seal */
    bool has_digest;
    int64_t digest_zxid;
};

/* "snapshot.<hex zxid>", optionally with ZooKeeper's compression suffix (.gz,
 * .snappy), reported in *compressed (zkd reads only uncompressed snapshots). */
bool snap_parse_file_name(const char *name, int64_t *zxid, bool *compressed);

/* Streaming writer. snap_writer_init allocates everything it will need;
 * snap_writer_run then allocates nothing (safe in a child forked from a
 * multi-threaded process) and hands the image to sink in pieces. A sink returns 0
 * or a negative error, which stops the run and is returned. */
typedef int snap_sink_fn(void *ctx, const uint8_t *p, uint32_t n);
struct snap_writer {
    const struct tree *t;
    snap_sink_fn *sink;
    void *sink_ctx;
    struct jute_buf b;
    uint32_t adler;
    int err;
    const struct acl_list **refs; /* index i holds ref i + 1 */
    uint32_t ref_count;
    uint32_t ref_cap;
    struct tree_walk walk; /* over the nodes, with their paths */
    const struct tree_node *sys_zk, *sys_quota; /* /zookeeper, /zookeeper/quota */
};
void snap_writer_init(struct snap_writer *w, const struct tree *t, snap_sink_fn *sink, void *ctx);
int snap_writer_run(struct snap_writer *w, const struct session_table *s);
void snap_writer_deinit(struct snap_writer *w);

/* Serialises the tree and sessions as a ZooKeeper snapshot image into b (no
 * digest section: ZooKeeper 3.8/3.9 treat it as optional). Nodes are written in
 * pre-order, the root under "", ACLs through a cache with refs 1..n (the open
 * ACL of the root and system nodes as -1, as ZooKeeper writes them). */
void snap_write(struct jute_buf *b, const struct tree *t, const struct session_table *s);

/* Loads a snapshot image into a freshly initialised tree and session table.
 * Returns ZK_OK, or ZK_ECORRUPT with "offset N: reason" in err (the tree may then
 * hold part of the image and must be discarded). now_ms arms session expiry. */
int snap_load(const uint8_t *data, uint64_t size, uint32_t max_record, struct tree *t,
              struct session_table *s, int64_t now_ms, struct snap_info *info, char *err,
              size_t errlen);

#endif
