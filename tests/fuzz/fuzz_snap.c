/* fuzz_snap.c — snap_load on arbitrary snapshot images (a damaged or hostile
 * dataDir). Properties: no crash, no leak once the tree and session table are torn
 * down, an error always names an offset inside the image, and an image that loads
 * writes back (snap_write) to one that loads again to the same node and session
 * counts (what zkd writes, zkd reads). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "base.h"
#include "err.h"
#include "jute.h"
#include "mem.h"
#include "session.h"
#include "snap.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_RECORD (2u * 1048575u)

static int fuzz_snap_load(const uint8_t *data, size_t size, struct snap_info *info) {
    struct tree t;
    struct session_table s;
    tree_init(&t);
    session_table_init(&s, 2000, 0, 1);
    char err[256] = "";
    int rc = snap_load(data, size, FUZZ_MAX_RECORD, &t, &s, 0, info, err, sizeof(err));
    if (rc == ZK_ECORRUPT)
        ZK_ASSERT(strncmp(err, "offset ", 7) == 0 && strtoull(err + 7, NULL, 10) <= size);
    if (rc == ZK_OK) {
        ZK_ASSERT(info->nodes >= 1 && info->sealed_bytes <= size);
        struct jute_buf b;
        jute_buf_init(&b);
        snap_write(&b, &t, &s);
        struct tree t2;
        struct session_table s2;
        tree_init(&t2);
        session_table_init(&s2, 2000, 0, 1);
        struct snap_info again;
        char err2[256] = "";
        ZK_ASSERT(snap_load(b.p, b.len, FUZZ_MAX_RECORD, &t2, &s2, 0, &again, err2,
                            sizeof(err2)) == ZK_OK);
        ZK_ASSERT(tree_node_count(&t2) == tree_node_count(&t));
        ZK_ASSERT(tree_check(&t) == NULL && tree_check(&t2) == NULL);
        ZK_ASSERT(session_count(&s2) == session_count(&s));
        session_table_deinit(&s2);
        tree_deinit(&t2);
        jute_buf_deinit(&b);
    }
    session_table_deinit(&s);
    tree_deinit(&t);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* global shared lists (the open ACL, the read-only ACL of /zookeeper/config)
     * are created on first use: warm them before measuring */
    struct tree warm;
    tree_init(&warm);
    tree_deinit(&warm);
    uint64_t base = zk_mem_bytes_in_use();
    struct snap_info info;
    int rc = fuzz_snap_load(data, size, &info);
    if (zk_mem_bytes_in_use() != base)
        fprintf(stderr, "rc=%d leaked %lld\n", rc, (long long)(zk_mem_bytes_in_use() - base));
    ZK_ASSERT(zk_mem_bytes_in_use() == base);
    return 0;
}
