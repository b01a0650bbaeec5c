/* fourlw.c — four-letter words on the client port, in ZooKeeper's formats. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "mem.h"
#include "server_int.h"

#define ZKD_VERSION_STRING "3.9.3-zkd-0.1, built on " __DATE__ " " __TIME__ " UTC"

static const char *const fourlw_words[] = {
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "srst", "envi", "wchs",
    "wchc", "wchp", "dump", "isro", "dirs", "gtmk", "stmk", "hash",
};

bool fourlw_is_command(const char *word) {
    for (size_t i = 0; i < ZK_ARRAY_LEN(fourlw_words); i++) {
        if (memcmp(word, fourlw_words[i], 4) == 0)
            return true;
    }
    return false;
}

static void out_printf(struct jute_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_printf(struct jute_buf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(tmp)) {
        char *big = zk_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        jute_write_raw(b, big, (uint32_t)n);
        zk_free(big);
        return;
    }
    jute_write_raw(b, tmp, (uint32_t)n);
}

/* Java's Double.toString for the values we print (plain notation): the shortest
 * decimal that reads back as the same double, with at least one fractional digit. */
static const char *fourlw_jdouble(double v, char *buf, size_t cap) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*f", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* trim trailing zeros but keep one digit after the point */
    size_t n = strlen(buf);
    while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.')
        buf[--n] = '\0';
    return buf;
}

static uint32_t fourlw_node_count(const struct server *s) {
    /* ZooKeeper's node map holds the root twice ("" and "/"). */
    return tree_node_count(&s->tree) + 1;
}

static void fourlw_latency(const struct latency *l, int64_t *min, double *avg, int64_t *max) {
    *min = l->count ? l->min_ms : 0;
    *max = l->count ? l->max_ms : 0;
    *avg = l->count ? (double)l->sum_ms / (double)l->count : 0.0;
}

static void fourlw_conn_brief(struct jute_buf *b, const struct conn *c, bool full) {
    out_printf(b, " /%s:%u[%d](queued=%u,recved=%llu,sent=%llu", c->ip, c->port,
               c->state == CONN_ACTIVE ? 1 : 0, c->req_count,
               (unsigned long long)c->packets_received, (unsigned long long)c->packets_sent);
    if (full && c->session_id != 0) {
        int64_t mn, mx;
        double avg;
        fourlw_latency(&c->lat, &mn, &avg, &mx);
        out_printf(b,
                   ",sid=0x%llx,lop=%s,est=%lld,to=%d,lcxid=0x%llx,lzxid=0x%llx,lresp=%lld,"
                   "llat=%lld,minlat=%lld,avglat=%.0f,maxlat=%lld",
                   (unsigned long long)c->session_id, c->last_op, (long long)c->established_ms,
                   c->timeout_ms, (unsigned long long)c->last_cxid,
                   (unsigned long long)c->last_zxid, (long long)c->last_resp_ms, (long long)mx,
                   (long long)mn, avg, (long long)mx);
    }
    out_printf(b, ")\n");
}

static void fourlw_srvr(struct server *s, struct jute_buf *b, bool with_clients) {
    int64_t mn, mx;
    double avg;
    fourlw_latency(&s->lat, &mn, &avg, &mx);
    out_printf(b, "Zookeeper version: %s\n", ZKD_VERSION_STRING);
    if (with_clients) {
        out_printf(b, "Clients:\n");
        struct queue *q;
        QUEUE_FOREACH(q, &s->conns) {
            const struct conn *c = QUEUE_DATA(q, struct conn, link);
            if (!c->dead)
                fourlw_conn_brief(b, c, false);
        }
        out_printf(b, "\n");
    }
    char avg_s[64];
    out_printf(b, "Latency min/avg/max: %lld/%s/%lld\n", (long long)mn,
               fourlw_jdouble(avg, avg_s, sizeof(avg_s)), (long long)mx);
    out_printf(b, "Received: %llu\n", (unsigned long long)s->packets_received);
    out_printf(b, "Sent: %llu\n", (unsigned long long)s->packets_sent);
    out_printf(b, "Connections: %u\n", s->conn_count);
    out_printf(b, "Outstanding: %u\n", s->outstanding);
    out_printf(b, "Zxid: 0x%llx\n", (unsigned long long)s->last_zxid);
    out_printf(b, "Mode: standalone\n");
    out_printf(b, "Node count: %u\n", fourlw_node_count(s));
}

static uint64_t fourlw_dir_size(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    char p[CONFIG_PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

static uint32_t fourlw_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    uint32_t n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the DIR's own fd */
}

struct fourlw_count {
    uint32_t sessions_with_ephemerals;
};

static void fourlw_mntr(struct server *s, struct jute_buf *b) {
    int64_t mn, mx;
    double avg;
    fourlw_latency(&s->lat, &mn, &avg, &mx);
    struct rlimit rl;
    long long max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long long)rl.rlim_cur : -1;
    out_printf(b, "zk_version\t%s\n", ZKD_VERSION_STRING);
    out_printf(b, "zk_server_state\tstandalone\n");
    out_printf(b, "zk_ephemerals_count\t%u\n", s->tree.ephemeral_count);
    out_printf(b, "zk_num_alive_connections\t%u\n", s->conn_count);
    char avg_s[64];
    out_printf(b, "zk_avg_latency\t%s\n", fourlw_jdouble(avg, avg_s, sizeof(avg_s)));
    out_printf(b, "zk_outstanding_requests\t%u\n", s->outstanding);
    out_printf(b, "zk_znode_count\t%u\n", fourlw_node_count(s));
    out_printf(b, "zk_global_sessions\t%u\n", session_count(&s->sessions));
    out_printf(b, "zk_non_mtls_remote_conn_count\t0\n");
    out_printf(b, "zk_packets_sent\t%llu\n", (unsigned long long)s->packets_sent);
    out_printf(b, "zk_packets_received\t%llu\n", (unsigned long long)s->packets_received);
    out_printf(b, "zk_watch_count\t%llu\n", (unsigned long long)watch_total(&s->watches));
    out_printf(b, "zk_auth_failed_count\t%llu\n", (unsigned long long)s->auth_failed);
    out_printf(b, "zk_min_latency\t%lld\n", (long long)mn);
    out_printf(b, "zk_max_file_descriptor_count\t%lld\n", max_fds);
    out_printf(b, "zk_approximate_data_size\t%llu\n", (unsigned long long)s->tree.data_bytes);
    out_printf(b, "zk_open_file_descriptor_count\t%u\n", fourlw_open_fds());
    out_printf(b, "zk_local_sessions\t0\n");
    out_printf(b, "zk_uptime\t%lld\n", (long long)(server_mono_ms() - s->start_ms));
    out_printf(b, "zk_max_latency\t%lld\n", (long long)mx);
    out_printf(b, "zk_outstanding_changes_queued\t%u\n", prep_outstanding(&s->prep));
    out_printf(b, "zk_mem_bytes_in_use\t%llu\n", (unsigned long long)zk_mem_bytes_in_use());
}

static void fourlw_conf(struct server *s, struct jute_buf *b) {
    char dir[CONFIG_PATH_MAX + 16], ldir[CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/version-2", s->cfg.data_dir);
    snprintf(ldir, sizeof(ldir), "%s/version-2", s->cfg.data_log_dir);
    uint64_t size = fourlw_dir_size(dir);
    uint64_t lsize = fourlw_dir_size(ldir);
    out_printf(b, "clientPort=%d\n", s->cfg.client_port);
    out_printf(b, "secureClientPort=-1\n");
    out_printf(b, "dataDir=%s\n", dir);
    out_printf(b, "dataDirSize=%llu\n", (unsigned long long)size);
    out_printf(b, "dataLogDir=%s\n", ldir);
    out_printf(b, "dataLogSize=%llu\n", (unsigned long long)lsize);
    out_printf(b, "tickTime=%d\n", s->cfg.tick_ms);
    out_printf(b, "maxClientCnxns=%d\n", s->cfg.max_client_cnxns);
    out_printf(b, "minSessionTimeout=%d\n", s->cfg.min_session_ms);
    out_printf(b, "maxSessionTimeout=%d\n", s->cfg.max_session_ms);
    out_printf(b, "clientPortListenBacklog=%d\n", s->cfg.listen_backlog);
    out_printf(b, "serverId=%lld\n", (long long)s->cfg.server_id);
}

static void fourlw_envi(struct jute_buf *b) {
    struct utsname u;
    char host[256] = "unknown";
    gethostname(host, sizeof(host) - 1);
    out_printf(b, "Environment:\n");
    out_printf(b, "zookeeper.version=%s\n", ZKD_VERSION_STRING);
    out_printf(b, "host.name=%s\n", host);
    if (uname(&u) == 0) {
        out_printf(b, "os.name=%s\n", u.sysname);
        out_printf(b, "os.arch=%s\n", u.machine);
        out_printf(b, "os.version=%s\n", u.release);
    }
    char cwd[CONFIG_PATH_MAX];
    const char *user = getenv("USER");
    out_printf(b, "user.name=%s\n", user ? user : "");
    const char *home = getenv("HOME");
    out_printf(b, "user.home=%s\n", home ? home : "");
    out_printf(b, "user.dir=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "");
    out_printf(b, "zkd.mem.bytes_in_use=%llu\n", (unsigned long long)zk_mem_bytes_in_use());
}

static void fourlw_path_line(void *ctx, const char *path, uint32_t len) {
    out_printf(ctx, "\t%.*s\n", (int)len, path);
}

static void fourlw_wchc(struct server *s, struct jute_buf *b) {
    struct queue *q;
    QUEUE_FOREACH(q, &s->conns) {
        struct conn *c = QUEUE_DATA(q, struct conn, link);
        if (c->dead || c->watches.count == 0)
            continue;
        out_printf(b, "0x%llx\n", (unsigned long long)c->session_id);
        watch_for_each_owner_path(&c->watches, fourlw_path_line, b);
    }
    out_printf(b, "\n");
}

static void fourlw_wchp_path(void *ctx, const char *path, uint32_t len) {
    out_printf(ctx, "%.*s\n", (int)len, path);
}

static void fourlw_wchp_owner(void *ctx, struct watch_owner *o) {
    struct conn *c = zk_container_of(o, struct conn, watches);
    out_printf(ctx, "\t0x%llx\n", (unsigned long long)c->session_id);
}

struct fourlw_dump_ctx {
    struct server *s;
    struct jute_buf *b;
    uint32_t count;
};

static void fourlw_dump_count(void *ctx, int64_t owner) {
    ZK_UNUSED(owner);
    ((struct fourlw_dump_ctx *)ctx)->count++;
}

static void fourlw_dump_node(void *ctx, struct tree_node *n) {
    struct fourlw_dump_ctx *x = ctx;
    char *path = tree_node_path_dup(&x->s->tree, n, NULL);
    out_printf(x->b, "\t%s\n", path);
    zk_free(path);
}

static void fourlw_dump_owner(void *ctx, int64_t owner) {
    struct fourlw_dump_ctx *x = ctx;
    out_printf(x->b, "0x%llx:\n", (unsigned long long)owner);
    tree_for_each_ephemeral(&x->s->tree, owner, fourlw_dump_node, x);
}

static void fourlw_dump_session(void *ctx, struct session *sess) {
    struct fourlw_dump_ctx *x = ctx;
    out_printf(x->b, "\t0x%llx\texpires in %lld ms\n", (unsigned long long)sess->id,
               (long long)(sess->expire_at_ms ? sess->expire_at_ms - server_mono_ms() : 0));
}

static void fourlw_dump(struct server *s, struct jute_buf *b) {
    struct fourlw_dump_ctx x = {s, b, 0};
    out_printf(b, "SessionTracker dump:\n");
    out_printf(b, "Global Sessions(%u):\n", session_count(&s->sessions));
    session_for_each(&s->sessions, fourlw_dump_session, &x);
    out_printf(b, "ephemeral nodes dump:\n");
    tree_for_each_owner(&s->tree, fourlw_dump_count, &x);
    out_printf(b, "Sessions with Ephemerals (%u):\n", x.count);
    tree_for_each_owner(&s->tree, fourlw_dump_owner, &x);
    out_printf(b, "Connections dump:\n");
    out_printf(b, "Connections Sets (1)/(%u)\n", s->conn_count);
}

static void fourlw_reset_conn_stats(struct server *s) {
    struct queue *q;
    QUEUE_FOREACH(q, &s->conns) {
        struct conn *c = QUEUE_DATA(q, struct conn, link);
        c->packets_received = c->packets_sent = 0;
        memset(&c->lat, 0, sizeof(c->lat));
        c->last_cxid = c->last_zxid = -1;
        c->last_resp_ms = 0;
        snprintf(c->last_op, sizeof(c->last_op), "NA");
    }
}

void fourlw_run(struct server *s, struct conn *self, const char *word, struct jute_buf *b) {
    ZK_UNUSED(self);
    if (!config_4lw_allowed(&s->cfg, word)) {
        out_printf(b, "%s is not executed because it is not in the whitelist.\n", word);
        return;
    }
    if (strcmp(word, "ruok") == 0) {
        out_printf(b, "imok");
    } else if (strcmp(word, "srvr") == 0) {
        fourlw_srvr(s, b, false);
    } else if (strcmp(word, "stat") == 0) {
        fourlw_srvr(s, b, true);
    } else if (strcmp(word, "mntr") == 0) {
        fourlw_mntr(s, b);
    } else if (strcmp(word, "conf") == 0) {
        fourlw_conf(s, b);
    } else if (strcmp(word, "cons") == 0) {
        struct queue *q;
        QUEUE_FOREACH(q, &s->conns) {
            const struct conn *c = QUEUE_DATA(q, struct conn, link);
            if (!c->dead)
                fourlw_conn_brief(b, c, true);
        }
        out_printf(b, "\n");
    } else if (strcmp(word, "crst") == 0) {
        fourlw_reset_conn_stats(s);
        out_printf(b, "Connection stats reset.\n");
    } else if (strcmp(word, "srst") == 0) {
        memset(&s->lat, 0, sizeof(s->lat));
        s->packets_received = s->packets_sent = 0;
        out_printf(b, "Server stats reset.\n");
    } else if (strcmp(word, "envi") == 0) {
        fourlw_envi(b);
    } else if (strcmp(word, "wchs") == 0) {
        uint32_t watching = 0;
        struct queue *q;
        QUEUE_FOREACH(q, &s->conns) {
            if (QUEUE_DATA(q, struct conn, link)->watches.count > 0)
                watching++;
        }
        out_printf(b, "%u connections watching %u paths\nTotal watches:%llu\n", watching,
                   watch_path_count(&s->watches), (unsigned long long)watch_total(&s->watches));
    } else if (strcmp(word, "wchc") == 0) {
        fourlw_wchc(s, b);
    } else if (strcmp(word, "wchp") == 0) {
        watch_for_each_path(&s->watches, fourlw_wchp_path, fourlw_wchp_owner, b);
        out_printf(b, "\n");
    } else if (strcmp(word, "dump") == 0) {
        fourlw_dump(s, b);
    } else if (strcmp(word, "isro") == 0) {
        out_printf(b, "rw");
    } else if (strcmp(word, "dirs") == 0) {
        char dir[CONFIG_PATH_MAX + 16], ldir[CONFIG_PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/version-2", s->cfg.data_dir);
        snprintf(ldir, sizeof(ldir), "%s/version-2", s->cfg.data_log_dir);
        out_printf(b, "datadir_size: %llu\nlogdir_size: %llu\n",
                   (unsigned long long)fourlw_dir_size(dir),
                   (unsigned long long)fourlw_dir_size(ldir));
    } else if (strcmp(word, "gtmk") == 0 || strcmp(word, "stmk") == 0) {
        out_printf(b, "0\n");
    } else {
        ZK_ASSERT(strcmp(word, "hash") == 0);
        out_printf(b, "\n");
    }
}
