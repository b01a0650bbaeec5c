/* main.c — zkd entry point: arguments, configuration, signals. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"
#include "config.h"
#include "mem.h"
#include "server.h"

static struct server *main_server;

static void main_on_signal(int sig) {
    (void)sig;
    if (main_server != NULL)
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
            "minSessionTimeout, maxSessionTimeout, maxClientCnxns, maxCnxns,\n"
            "globalOutstandingLimit, jute.maxbuffer, 4lw.commands.whitelist,\n"
            "extendedTypesEnabled, DigestAuthenticationProvider.superDigest,\n"
            "znode.container.checkIntervalMs, znode.container.maxPerMinute,\n"
            "znode.container.maxNeverUsedIntervalMs, clientPortListenBacklog\n"
            "(keys ZooKeeper reads as zookeeper.* system properties may carry that prefix).\n"
            "Unknown keys are warned about; a bad value stops startup naming the key.\n"
            "\n"
            "Data is kept in memory only in this version: nothing is written to dataDir.\n"
            "SIGTERM or SIGINT stops the server cleanly.\n");
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
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "zkd: serving on %s:%d (standalone, tickTime=%d, data in memory only)\n",
            cfg.client_addr, cfg.client_port, cfg.tick_ms);
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
