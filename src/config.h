/* config.h — zoo.cfg parsing and validation. Keys are ZooKeeper's; keys that
 * ZooKeeper turns into `zookeeper.*` system properties are accepted with and
 * without that prefix. Unknown keys warn; a bad value is an error that names
 * the key and the value. */
#ifndef ZK_CONFIG_H
#define ZK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_PATH_MAX 4096
#define CONFIG_ERR_MAX 512

struct config {
    int32_t tick_ms;
    int32_t client_port;
    char client_addr[256];
    char data_dir[CONFIG_PATH_MAX];
    char data_log_dir[CONFIG_PATH_MAX];
    int32_t min_session_ms; /* -1 until config_finish: 2 x tickTime */
    int32_t max_session_ms; /* -1 until config_finish: 20 x tickTime */
    int32_t max_client_cnxns; /* per IP, 0 = unlimited */
    int32_t max_cnxns;        /* total, 0 = unlimited */
    int32_t global_outstanding;
    uint32_t max_buffer; /* jute.maxbuffer */
    char fourlw_whitelist[1024];
    bool extended_types;
    bool reconfig_enabled;
    char super_digest[512];
    int64_t container_check_ms;
    int32_t container_max_per_minute;
    int64_t container_max_never_used_ms;
    int32_t listen_backlog;
    int64_t server_id;
    /* durability (store.c) */
    int32_t snap_count;          /* snapCount: txns between snapshots (randomised) */
    int64_t snap_size_limit_kb;  /* snapSizeLimitInKb: log bytes between snapshots, <=0 off */
    int64_t prealloc_kb;         /* preAllocSize: log file growth step, KiB */
    bool force_sync;             /* forceSync: fsync the log before replying */
    int64_t fsync_warn_ms;       /* fsync.warningthresholdms */
    int32_t snap_retain_count;   /* autopurge.snapRetainCount (at least 3) */
    int32_t purge_interval_h;    /* autopurge.purgeInterval, hours; 0 = off */
    int32_t poll_us;             /* zkd.pollMicros: most the loop polls before sleeping */
};

/* Writes a warning line for an unknown or ignored key (stderr by default). */
typedef void config_warn_fn(void *ctx, const char *msg);

void config_defaults(struct config *c);
/* Sets one key. Returns 0, or -1 with a message naming key and value in err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen,
               config_warn_fn *warn, void *warn_ctx);
/* Parses a zoo.cfg file (key=value lines, '#' comments). */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen,
                     config_warn_fn *warn, void *warn_ctx);
int config_load_string(struct config *c, const char *text, char *err, size_t errlen,
                       config_warn_fn *warn, void *warn_ctx);
/* Fills derived defaults and checks cross-key rules. */
int config_finish(struct config *c, char *err, size_t errlen);
/* Is the four-letter word enabled by 4lw.commands.whitelist? */
bool config_4lw_allowed(const struct config *c, const char *word);

/* The embedded default configuration used by `make run` (no file given). */
extern const char config_default_text[];

#endif
