#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "limits.h"

const char config_default_text[] =
    "# zkd embedded default configuration (standalone)\n"
    "tickTime=2000\n"
    "clientPort=2181\n"
    "clientPortAddress=127.0.0.1\n"
    "dataDir=/tmp/zkd-data\n"
    "maxClientCnxns=60\n"
    "4lw.commands.whitelist=srvr,ruok,mntr,conf,stat,isro\n";

void config_defaults(struct config *c) {
    memset(c, 0, sizeof(*c));
    c->tick_ms = 3000; /* ZooKeeper's code default; zoo_sample.cfg uses 2000 */
    c->client_port = -1;
    c->min_session_ms = -1;
    c->max_session_ms = -1;
    c->max_client_cnxns = ZK_LIMIT_CLIENT_CNXNS_DEFAULT;
    c->max_cnxns = 0;
    c->global_outstanding = ZK_LIMIT_GLOBAL_OUTSTANDING_DEFAULT;
    c->max_buffer = ZK_LIMIT_FRAME_BYTES_DEFAULT;
    snprintf(c->fourlw_whitelist, sizeof(c->fourlw_whitelist), "srvr");
    c->container_check_ms = ZK_LIMIT_CONTAINER_CHECK_INTERVAL_MS_DEFAULT;
    c->container_max_per_minute = ZK_LIMIT_CONTAINER_MAX_PER_MINUTE_DEFAULT;
    c->container_max_never_used_ms = 0;
    c->listen_backlog = -1;
    c->snap_count = 100000;
    c->snap_size_limit_kb = 4194304;
    c->prealloc_kb = 65536;
    c->force_sync = true;
    c->fsync_warn_ms = 1000;
    c->snap_retain_count = 3;
    c->purge_interval_h = 0;
    c->poll_us = 200;
}

static int config_bad(char *err, size_t errlen, const char *key, const char *value,
                      const char *why) {
    snprintf(err, errlen, "invalid value for %s: '%s' (%s)", key, value, why);
    return -1;
}

static bool config_parse_i64(const char *v, int64_t min, int64_t max, int64_t *out) {
    if (*v == '\0')
        return false;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return false;
    *out = x;
    return true;
}

static bool config_parse_bool(const char *v, bool *out) {
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static bool config_copy(char *dst, size_t cap, const char *v) {
    size_t n = strlen(v);
    if (n >= cap)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

struct config_int_key {
    const char *key;
    size_t offset;
    int is64;
    int64_t min, max;
};

#define CFG_I32(k, f, lo, hi) {k, offsetof(struct config, f), 0, lo, hi}
#define CFG_I64(k, f, lo, hi) {k, offsetof(struct config, f), 1, lo, hi}
static const struct config_int_key config_ints[] = {
    CFG_I32("tickTime", tick_ms, 1, INT32_MAX / 20), /* 20 x tickTime must fit */
    CFG_I32("clientPort", client_port, 0, 65535),
    CFG_I32("minSessionTimeout", min_session_ms, -1, INT32_MAX),
    CFG_I32("maxSessionTimeout", max_session_ms, -1, INT32_MAX),
    CFG_I32("maxClientCnxns", max_client_cnxns, 0, INT32_MAX),
    CFG_I32("maxCnxns", max_cnxns, 0, INT32_MAX),
    CFG_I32("globalOutstandingLimit", global_outstanding, 1, INT32_MAX),
    CFG_I32("clientPortListenBacklog", listen_backlog, -1, INT32_MAX),
    CFG_I64("znode.container.checkIntervalMs", container_check_ms, 1, INT64_MAX / 2),
    CFG_I32("znode.container.maxPerMinute", container_max_per_minute, 1, INT32_MAX),
    CFG_I64("znode.container.maxNeverUsedIntervalMs", container_max_never_used_ms, 0,
            INT64_MAX / 2),
    CFG_I32("snapCount", snap_count, 1, INT32_MAX),
    CFG_I64("snapSizeLimitInKb", snap_size_limit_kb, INT64_MIN / 2, INT64_MAX / 2048),
    CFG_I64("preAllocSize", prealloc_kb, 1, INT64_MAX / 2048),
    CFG_I64("fsync.warningthresholdms", fsync_warn_ms, 0, INT64_MAX / 2),
    CFG_I32("autopurge.snapRetainCount", snap_retain_count, 1, INT32_MAX),
    CFG_I32("autopurge.purgeInterval", purge_interval_h, 0, 596523), /* hours -> ms fits i64 */
    CFG_I32("zkd.pollMicros", poll_us, 0, 10000), /* pollwait.h; 0 = sleep at once */
};

/* Keys ZooKeeper knows that zkd accepts but does not act on yet. */
static const char *const config_ignored[] = {
    "initLimit", "syncLimit", "admin.enableServer",
    "admin.serverPort", "admin.serverAddress", "admin.commandURL", "standaloneEnabled",
    "localSessionsEnabled", "localSessionsUpgradingEnabled", "electionAlg",
    "metricsProvider.className", "metricsProvider.httpPort", "metricsProvider.httpHost",
    "metricsProvider.exportJvmInfo", "quorumListenOnAllIPs", "peerType", "txnLogSizeLimitInKb", "syncEnabled", "maxSessionTimeout_", "audit.enable",
    "digest.enabled", "snapshot.compression.method", "sessionRequireClientSASLAuth",
    "enforce.auth.enabled", "enforce.auth.schemes", "skipACL", "dynamicConfigFile",
};

static const char *config_strip_prefix(const char *key) {
    return strncmp(key, "zookeeper.", 10) == 0 ? key + 10 : key;
}

int config_set(struct config *c, const char *key_in, const char *value, char *err,
               size_t errlen, config_warn_fn *warn, void *warn_ctx) {
    const char *key = config_strip_prefix(key_in);
    char msg[CONFIG_ERR_MAX];
    for (size_t i = 0; i < ZK_ARRAY_LEN(config_ints); i++) {
        const struct config_int_key *k = &config_ints[i];
        if (strcmp(key, k->key) != 0)
            continue;
        int64_t v;
        if (!config_parse_i64(value, k->min, k->max, &v)) {
            snprintf(msg, sizeof(msg), "expected an integer in [%lld, %lld]", (long long)k->min,
                     (long long)k->max);
            return config_bad(err, errlen, key_in, value, msg);
        }
        if (k->is64)
            *(int64_t *)((char *)c + k->offset) = v;
        else
            *(int32_t *)((char *)c + k->offset) = (int32_t)v;
        return 0;
    }
    if (strcmp(key, "jute.maxbuffer") == 0) {
        int64_t v;
        if (!config_parse_i64(value, 1024, 0x7fffffff, &v))
            return config_bad(err, errlen, key_in, value, "expected bytes in [1024, 2^31-1]");
        c->max_buffer = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "clientPortAddress") == 0) {
        if (*value == '\0' || !config_copy(c->client_addr, sizeof(c->client_addr), value))
            return config_bad(err, errlen, key_in, value, "expected an address");
        return 0;
    }
    if (strcmp(key, "dataDir") == 0 || strcmp(key, "dataLogDir") == 0) {
        char *dst = strcmp(key, "dataDir") == 0 ? c->data_dir : c->data_log_dir;
        if (*value == '\0' || !config_copy(dst, CONFIG_PATH_MAX, value))
            return config_bad(err, errlen, key_in, value, "expected a directory path");
        return 0;
    }
    if (strcmp(key, "4lw.commands.whitelist") == 0) {
        if (!config_copy(c->fourlw_whitelist, sizeof(c->fourlw_whitelist), value))
            return config_bad(err, errlen, key_in, value, "too long");
        return 0;
    }
    if (strcmp(key, "extendedTypesEnabled") == 0) {
        if (!config_parse_bool(value, &c->extended_types))
            return config_bad(err, errlen, key_in, value, "expected true or false");
        return 0;
    }
    if (strcmp(key, "forceSync") == 0) {
        if (!config_parse_bool(value, &c->force_sync))
            return config_bad(err, errlen, key_in, value, "expected yes or no");
        return 0;
    }
    if (strcmp(key, "reconfigEnabled") == 0) {
        if (!config_parse_bool(value, &c->reconfig_enabled))
            return config_bad(err, errlen, key_in, value, "expected true or false");
        return 0;
    }
    if (strcmp(key, "DigestAuthenticationProvider.superDigest") == 0) {
        if (strchr(value, ':') == NULL ||
            !config_copy(c->super_digest, sizeof(c->super_digest), value))
            return config_bad(err, errlen, key_in, value, "expected user:base64digest");
        return 0;
    }
    if (strncmp(key, "server.", 7) == 0 || strncmp(key, "group.", 6) == 0 ||
        strncmp(key, "weight.", 7) == 0) {
        snprintf(msg, sizeof(msg),
                 "warning: %s: ensembles are not supported yet; running standalone", key_in);
        if (warn)
            warn(warn_ctx, msg);
        return 0;
    }
    for (size_t i = 0; i < ZK_ARRAY_LEN(config_ignored); i++) {
        if (strcmp(key, config_ignored[i]) == 0) {
            snprintf(msg, sizeof(msg), "note: %s=%s is accepted but has no effect in zkd yet",
                     key_in, value);
            if (warn)
                warn(warn_ctx, msg);
            return 0;
        }
    }
    snprintf(msg, sizeof(msg), "warning: unknown configuration key '%s' ignored", key_in);
    if (warn)
        warn(warn_ctx, msg);
    return 0;
}

static char *config_trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int config_line(struct config *c, char *line, unsigned lineno, char *err, size_t errlen,
                       config_warn_fn *warn, void *warn_ctx) {
    char *s = config_trim(line);
    if (*s == '\0' || *s == '#' || *s == '!')
        return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(err, errlen, "line %u: expected key=value, got '%s'", lineno, s);
        return -1;
    }
    *eq = '\0';
    char *key = config_trim(s);
    char *value = config_trim(eq + 1);
    if (*key == '\0') {
        snprintf(err, errlen, "line %u: empty key", lineno);
        return -1;
    }
    return config_set(c, key, value, err, errlen, warn, warn_ctx);
}

int config_load_string(struct config *c, const char *text, char *err, size_t errlen,
                       config_warn_fn *warn, void *warn_ctx) {
    char line[8192];
    unsigned lineno = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (n >= sizeof(line)) {
            snprintf(err, errlen, "line %u: too long", lineno);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        if (config_line(c, line, lineno, err, errlen, warn, warn_ctx) != 0)
            return -1;
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen,
                     config_warn_fn *warn, void *warn_ctx) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open configuration file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[8192];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        rc = config_line(c, line, lineno, err, errlen, warn, warn_ctx);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "error reading %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc != 0 && strncmp(err, path, strlen(path)) != 0) {
        char tmp[CONFIG_ERR_MAX];
        snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
        snprintf(err, errlen, "%s", tmp);
    }
    return rc;
}

int config_finish(struct config *c, char *err, size_t errlen) {
    if (c->client_port < 0) {
        snprintf(err, errlen, "clientPort is not set");
        return -1;
    }
    if (c->data_dir[0] == '\0') {
        snprintf(err, errlen, "dataDir is not set");
        return -1;
    }
    if (c->min_session_ms == -1)
        c->min_session_ms = c->tick_ms * 2;
    if (c->max_session_ms == -1)
        c->max_session_ms = c->tick_ms * 20;
    if (c->min_session_ms > c->max_session_ms) {
        snprintf(err, errlen,
                 "invalid value for minSessionTimeout: '%d' (must not exceed maxSessionTimeout %d)",
                 c->min_session_ms, c->max_session_ms);
        return -1;
    }
    if (c->client_addr[0] == '\0')
        snprintf(c->client_addr, sizeof(c->client_addr), "0.0.0.0");
    if (c->data_log_dir[0] == '\0')
        memcpy(c->data_log_dir, c->data_dir, sizeof(c->data_log_dir));
    /* ZooKeeper's floors: snapCount 2 (SyncRequestProcessor), snapRetainCount 3
     * (DatadirCleanupManager) */
    if (c->snap_count < 2)
        c->snap_count = 2;
    if (c->snap_retain_count < 3)
        c->snap_retain_count = 3;
    return 0;
}

bool config_4lw_allowed(const struct config *c, const char *word) {
    const char *p = c->fourlw_whitelist;
    size_t wlen = strlen(word);
    while (*p != '\0') {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *end = p;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        size_t n = (size_t)(end - start);
        if (n == 1 && *start == '*')
            return true;
        if (n == wlen && strncmp(start, word, n) == 0)
            return true;
    }
    return false;
}
