/* main.c — zkd entry point: arguments, configuration, signals. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "config.h"
#include "mem.h"
#include "server.h"
#include "store.h"

static struct server *main_server;

static void main_on_signal(int sig) {
    if (main_server == NULL)
        return;
    if (sig == SIGUSR1)
        server_request_snapshot(main_server);
    else
        server_request_stop(main_server);
}

static void main_usage(FILE *f) {
    fprintf(f,
            "usage: zkd [zoo.cfg]\n"
            "       zkd --help\n"
            "\n"
            "zkd is a ZooKeeper-compatible coordination server (standalone mode).\n"
            "With no argument it starts from an embedded default configuration:\n"
            "127.0.0.1:2181, tickTime=2000. Otherwise it reads a ZooKeeper zoo.cfg.\n"
            "\n"
            "Recognised zoo.cfg keys: tickTime, clientPort, clientPortAddress, dataDir,\n"
            "dataLogDir, minSessionTimeout, maxSessionTimeout, maxClientCnxns, maxCnxns,\n"
            "snapCount, snapSizeLimitInKb, preAllocSize, forceSync, fsync.warningthresholdms,\n"
            "autopurge.snapRetainCount, autopurge.purgeInterval,\n"
            "globalOutstandingLimit, jute.maxbuffer, 4lw.commands.whitelist,\n"
            "extendedTypesEnabled, DigestAuthenticationProvider.superDigest,\n"
            "znode.container.checkIntervalMs, znode.container.maxPerMinute,\n"
            "znode.container.maxNeverUsedIntervalMs, clientPortListenBacklog\n"
            "(keys ZooKeeper reads as zookeeper.* system properties may carry that prefix).\n"
            "Unknown keys are warned about; a bad value stops startup naming the key.\n"
            "\n"
            "Data lives in dataDir/version-2 (and dataLogDir/version-2 for the log) in\n"
            "Apache ZooKeeper's own formats: zkd starts on a ZooKeeper dataDir and\n"
            "ZooKeeper starts on one zkd wrote. A write is answered after its txn is\n"
            "fsynced (forceSync=yes, the default).\n"
            "SIGTERM or SIGINT stops the server cleanly; SIGUSR1 takes a snapshot now.\n"
            "Exit status: 0 clean stop, 1 startup error (configuration, corrupt data),\n"
            "3 fatal log write or fsync error.\n");
}

static void main_warn(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "zkd: %s\n", msg);
}

int main(int argc, char **argv) {
    if (argc > 2) {
        main_usage(stderr);
        return 2;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        main_usage(stdout);
        return 0;
    }
    struct config cfg;
    char err[CONFIG_ERR_MAX];
    config_defaults(&cfg);
    int rc = argc == 2 ? config_load_file(&cfg, argv[1], err, sizeof(err), main_warn, NULL)
                       : config_load_string(&cfg, config_default_text, err, sizeof(err),
                                            main_warn, NULL);
    if (rc == 0)
        rc = config_finish(&cfg, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "zkd: configuration error: %s\n", err);
        return 1;
    }
    if (server_create(&main_server, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "zkd: %s\n", err);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    const struct store_recovery *rec = server_recovery(main_server);
    if (rec->snap_zxid < 0)
        fprintf(stderr, "zkd: new dataDir %s: wrote snapshot.0\n", cfg.data_dir);
    else
        fprintf(stderr,
                "zkd: recovered %s + %llu txns from %u log files in %lld ms: last zxid 0x%llx\n",
                rec->snap_name, (unsigned long long)rec->txns_replayed, rec->logs_read,
                (long long)rec->load_ms, (unsigned long long)rec->last_zxid);
    fprintf(stderr, "zkd: serving on %s:%d (standalone, tickTime=%d, dataDir=%s, forceSync=%s)\n",
            cfg.client_addr, cfg.client_port, cfg.tick_ms, cfg.data_dir,
            cfg.force_sync ? "yes" : "no");
    rc = server_run(main_server);
    server_destroy(main_server);
    main_server = NULL;
    acl_global_deinit();
    if (zk_mem_bytes_in_use() != 0)
        fprintf(stderr, "zkd: warning: %llu bytes still allocated at exit\n",
                (unsigned long long)zk_mem_bytes_in_use());
    fprintf(stderr, "zkd: stopped\n");
    return rc == 0 ? 0 : 1;
}
