/* test_config.c — zoo.cfg parsing and validation (config.h).
 * Goal: every key lands in its field (with and without the "zookeeper."
 * prefix), a bad value is an error that names the key and the value, unknown
 * keys only warn, config_finish derives ZooKeeper's session-timeout defaults
 * (2x / 20x tickTime), and the 4lw whitelist matches ZooKeeper's parsing.
 * Method: config_set / config_load_string / config_load_file on literals. */
#include <string.h>
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "limits.h"

/* ---- Helpers ---- */

struct warnings {
    char last[CONFIG_ERR_MAX];
    uint32_t count;
};

static void warn_cb(void *ctx, const char *msg)
{
    struct warnings *w = ctx;
    snprintf(w->last, sizeof(w->last), "%s", msg);
    w->count++;
}

static int set(struct config *c, const char *key, const char *value, char *err, struct warnings *w)
{
    return config_set(c, key, value, err, CONFIG_ERR_MAX, warn_cb, w);
}

/* config_set must fail and the message must name both key and value. */
static void assert_bad(const char *key, const char *value)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX] = "";
    struct warnings w = {0};
    int rc = set(&c, key, value, err, &w);
    if (rc != -1) FAIL("config_set(%s, '%s') = %d, want -1", key, value, rc);
    if (strstr(err, key) == NULL || strstr(err, value) == NULL)
        FAIL("error for %s='%s' does not name both: \"%s\"", key, value, err);
}

static void base(struct config *c)
{
    config_defaults(c);
    char err[CONFIG_ERR_MAX];
    ASSERT_OK(config_set(c, "clientPort", "2181", err, sizeof(err), NULL, NULL));
    ASSERT_OK(config_set(c, "dataDir", "/tmp/zkd-test", err, sizeof(err), NULL, NULL));
}

/* ---- defaults ---- */

TEST(config, defaults)
{
    struct config c;
    config_defaults(&c);
    ASSERT_EQ_I64(c.tick_ms, 3000);
    ASSERT_EQ_I64(c.client_port, -1);
    ASSERT_EQ_I64(c.min_session_ms, -1);
    ASSERT_EQ_I64(c.max_session_ms, -1);
    ASSERT_EQ_I64(c.max_client_cnxns, 60);
    ASSERT_EQ_I64(c.max_cnxns, 0);
    ASSERT_EQ_I64(c.global_outstanding, 1000);
    ASSERT_EQ_I64(c.max_buffer, 1048575);
    ASSERT_EQ_STR(c.fourlw_whitelist, "srvr");
    ASSERT_FALSE(c.extended_types);
    ASSERT_EQ_STR(c.super_digest, "");
    ASSERT_EQ_I64(c.container_check_ms, 60000);
    ASSERT_EQ_I64(c.container_max_per_minute, 10000);
    ASSERT_EQ_I64(c.container_max_never_used_ms, 0);
    ASSERT_EQ_I64(c.listen_backlog, -1);
    ASSERT_EQ_I64(c.poll_us, 200);
}

/* ---- config_set per key ---- */

TEST(config, set_integer_keys)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    struct warnings w = {0};
    ASSERT_OK(set(&c, "tickTime", "2000", err, &w));
    ASSERT_OK(set(&c, "clientPort", "0", err, &w));
    ASSERT_OK(set(&c, "minSessionTimeout", "4000", err, &w));
    ASSERT_OK(set(&c, "maxSessionTimeout", "90000", err, &w));
    ASSERT_OK(set(&c, "maxClientCnxns", "0", err, &w));
    ASSERT_OK(set(&c, "maxCnxns", "500", err, &w));
    ASSERT_OK(set(&c, "globalOutstandingLimit", "77", err, &w));
    ASSERT_OK(set(&c, "clientPortListenBacklog", "128", err, &w));
    ASSERT_OK(set(&c, "znode.container.checkIntervalMs", "1234", err, &w));
    ASSERT_OK(set(&c, "znode.container.maxPerMinute", "5", err, &w));
    ASSERT_OK(set(&c, "znode.container.maxNeverUsedIntervalMs", "8589934592", err, &w));
    ASSERT_OK(set(&c, "zkd.pollMicros", "0", err, &w));
    ASSERT_EQ_I64(c.poll_us, 0);
    ASSERT_FALSE(set(&c, "zkd.pollMicros", "10001", err, &w) == 0);
    ASSERT_TRUE(strstr(err, "zkd.pollMicros") != NULL);
    ASSERT_EQ_I64(c.tick_ms, 2000);
    ASSERT_EQ_I64(c.client_port, 0);
    ASSERT_EQ_I64(c.min_session_ms, 4000);
    ASSERT_EQ_I64(c.max_session_ms, 90000);
    ASSERT_EQ_I64(c.max_client_cnxns, 0);
    ASSERT_EQ_I64(c.max_cnxns, 500);
    ASSERT_EQ_I64(c.global_outstanding, 77);
    ASSERT_EQ_I64(c.listen_backlog, 128);
    ASSERT_EQ_I64(c.container_check_ms, 1234);
    ASSERT_EQ_I64(c.container_max_per_minute, 5);
    ASSERT_EQ_I64(c.container_max_never_used_ms, 8589934592LL); /* 64-bit field */
    ASSERT_EQ_I64(w.count, 0);
}

TEST(config, set_string_and_bool_keys)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    struct warnings w = {0};
    ASSERT_OK(set(&c, "clientPortAddress", "127.0.0.1", err, &w));
    ASSERT_OK(set(&c, "dataDir", "/var/lib/zkd", err, &w));
    ASSERT_OK(set(&c, "dataLogDir", "/var/log/zkd", err, &w));
    ASSERT_OK(set(&c, "4lw.commands.whitelist", "ruok, srvr", err, &w));
    ASSERT_OK(set(&c, "jute.maxbuffer", "4194304", err, &w));
    ASSERT_OK(set(&c, "extendedTypesEnabled", "true", err, &w));
    ASSERT_OK(set(&c, "DigestAuthenticationProvider.superDigest",
                  "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", err, &w));
    ASSERT_EQ_STR(c.client_addr, "127.0.0.1");
    ASSERT_EQ_STR(c.data_dir, "/var/lib/zkd");
    ASSERT_EQ_STR(c.data_log_dir, "/var/log/zkd");
    ASSERT_EQ_STR(c.fourlw_whitelist, "ruok, srvr");
    ASSERT_EQ_I64(c.max_buffer, 4194304);
    ASSERT_TRUE(c.extended_types);
    ASSERT_EQ_STR(c.super_digest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    ASSERT_OK(set(&c, "extendedTypesEnabled", "FALSE", err, &w));
    ASSERT_FALSE(c.extended_types);
    ASSERT_OK(set(&c, "extendedTypesEnabled", "yes", err, &w));
    ASSERT_TRUE(c.extended_types);
    ASSERT_EQ_I64(w.count, 0);
}

TEST(config, zookeeper_prefix_is_accepted)
{
    /* Keys ZooKeeper reads as system properties work with the prefix too. */
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    struct warnings w = {0};
    ASSERT_OK(set(&c, "zookeeper.extendedTypesEnabled", "true", err, &w));
    ASSERT_OK(set(&c, "zookeeper.jute.maxbuffer", "2048", err, &w));
    ASSERT_OK(set(&c, "zookeeper.DigestAuthenticationProvider.superDigest", "a:b", err, &w));
    ASSERT_OK(set(&c, "zookeeper.znode.container.checkIntervalMs", "99", err, &w));
    ASSERT_TRUE(c.extended_types);
    ASSERT_EQ_I64(c.max_buffer, 2048);
    ASSERT_EQ_STR(c.super_digest, "a:b");
    ASSERT_EQ_I64(c.container_check_ms, 99);
    ASSERT_EQ_I64(w.count, 0);
}

TEST(config, bad_values_name_key_and_value)
{
    assert_bad("tickTime", "abc");
    assert_bad("tickTime", "0");
    assert_bad("tickTime", "12x");
    assert_bad("tickTime", "");
    assert_bad("tickTime", "99999999999999999999");
    assert_bad("tickTime", "2147483648");
    assert_bad("clientPort", "65536");
    assert_bad("clientPort", "-1");
    assert_bad("minSessionTimeout", "-2");
    assert_bad("maxClientCnxns", "-1");
    assert_bad("globalOutstandingLimit", "0");
    assert_bad("znode.container.maxPerMinute", "0");
    assert_bad("jute.maxbuffer", "10");
    assert_bad("jute.maxbuffer", "2147483648");
    assert_bad("extendedTypesEnabled", "maybe");
    assert_bad("DigestAuthenticationProvider.superDigest", "nocolon");
    assert_bad("zookeeper.extendedTypesEnabled", "1");
}

TEST(config, bad_empty_strings)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX] = "";
    struct warnings w = {0};
    ASSERT_EQ_I64(set(&c, "dataDir", "", err, &w), -1);
    ASSERT_TRUE(strstr(err, "dataDir") != NULL);
    ASSERT_EQ_I64(set(&c, "clientPortAddress", "", err, &w), -1);
    ASSERT_TRUE(strstr(err, "clientPortAddress") != NULL);
}

TEST(config, too_long_values_are_rejected)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    struct warnings w = {0};
    char *big = malloc(CONFIG_PATH_MAX + 10);
    ASSERT_NOT_NULL(big);
    memset(big, 'd', CONFIG_PATH_MAX + 9);
    big[0] = '/';
    big[CONFIG_PATH_MAX + 9] = '\0';
    int rc = set(&c, "dataDir", big, err, &w);
    free(big);
    ASSERT_EQ_I64(rc, -1);
    ASSERT_TRUE(strstr(err, "dataDir") != NULL);
    ASSERT_EQ_STR(c.data_dir, ""); /* unchanged */
}

TEST(config, unknown_and_ignored_keys_warn)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    struct warnings w = {0};
    ASSERT_OK(set(&c, "noSuchKey", "1", err, &w));
    ASSERT_EQ_I64(w.count, 1);
    ASSERT_TRUE(strstr(w.last, "noSuchKey") != NULL);
    ASSERT_OK(set(&c, "initLimit", "10", err, &w));
    ASSERT_EQ_I64(w.count, 2);
    ASSERT_TRUE(strstr(w.last, "initLimit") != NULL);
    ASSERT_OK(set(&c, "server.1", "127.0.0.1:2888:3888", err, &w));
    ASSERT_EQ_I64(w.count, 3);
    ASSERT_TRUE(strstr(w.last, "server.1") != NULL);
    /* Without a callback nothing breaks. */
    ASSERT_OK(config_set(&c, "noSuchKey", "1", err, sizeof(err), NULL, NULL));
}

/* ---- loading ---- */

TEST(config, load_string_with_comments_blank_lines_and_spaces)
{
    static const char text[] = "# a comment\n"
                               "\n"
                               "   \n"
                               "! also a comment\n"
                               "tickTime = 1500\n"
                               "\tclientPort=2182   \r\n"
                               "dataDir=/data/zk\n"
                               "DigestAuthenticationProvider.superDigest=super:abc=\n"
                               "4lw.commands.whitelist=ruok,srvr\n"
                               "maxClientCnxns=7"; /* no final newline */
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX] = "";
    struct warnings w = {0};
    ASSERT_OK(config_load_string(&c, text, err, sizeof(err), warn_cb, &w));
    ASSERT_EQ_I64(c.tick_ms, 1500);
    ASSERT_EQ_I64(c.client_port, 2182);
    ASSERT_EQ_STR(c.data_dir, "/data/zk");
    ASSERT_EQ_STR(c.super_digest, "super:abc="); /* '=' inside the value is kept */
    ASSERT_EQ_STR(c.fourlw_whitelist, "ruok,srvr");
    ASSERT_EQ_I64(c.max_client_cnxns, 7);
    ASSERT_EQ_I64(w.count, 0);
}

TEST(config, load_string_errors_stop_and_explain)
{
    struct config c;
    char err[CONFIG_ERR_MAX] = "";
    config_defaults(&c);
    ASSERT_EQ_I64(config_load_string(&c, "tickTime=100\njunk line\nclientPort=1\n", err,
                                     sizeof(err), NULL, NULL),
                  -1);
    ASSERT_TRUE(strstr(err, "line 2") != NULL);
    ASSERT_EQ_I64(c.client_port, -1); /* parsing stopped */
    config_defaults(&c);
    ASSERT_EQ_I64(config_load_string(&c, "=5\n", err, sizeof(err), NULL, NULL), -1);
    ASSERT_TRUE(strstr(err, "line 1") != NULL);
    config_defaults(&c);
    ASSERT_EQ_I64(config_load_string(&c, "# ok\ntickTime=-3\n", err, sizeof(err), NULL, NULL), -1);
    ASSERT_TRUE(strstr(err, "tickTime") != NULL);
    ASSERT_TRUE(strstr(err, "-3") != NULL);
}

TEST(config, load_file_and_missing_file)
{
    char path[] = "/tmp/zkd-test-cfg-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    static const char text[] = "# zoo.cfg\ntickTime=2500\nclientPort=3181\ndataDir=/d\n";
    ASSERT_EQ_I64(write(fd, text, sizeof(text) - 1), (int64_t)sizeof(text) - 1);
    close(fd);
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX] = "";
    int rc = config_load_file(&c, path, err, sizeof(err), NULL, NULL);
    unlink(path);
    ASSERT_OK(rc);
    ASSERT_EQ_I64(c.tick_ms, 2500);
    ASSERT_EQ_I64(c.client_port, 3181);
    ASSERT_EQ_STR(c.data_dir, "/d");
    ASSERT_EQ_I64(config_load_file(&c, "/nonexistent/zkd/zoo.cfg", err, sizeof(err), NULL, NULL),
                  -1);
    ASSERT_TRUE(strstr(err, "/nonexistent/zkd/zoo.cfg") != NULL);
}

TEST(config, embedded_default_text_is_valid)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX] = "";
    struct warnings w = {0};
    ASSERT_OK(config_load_string(&c, config_default_text, err, sizeof(err), warn_cb, &w));
    ASSERT_OK(config_finish(&c, err, sizeof(err)));
    ASSERT_EQ_I64(c.tick_ms, 2000);
    ASSERT_EQ_I64(c.client_port, 2181);
    ASSERT_EQ_STR(c.client_addr, "127.0.0.1");
    ASSERT_EQ_I64(c.min_session_ms, 4000);
    ASSERT_EQ_I64(c.max_session_ms, 40000);
    ASSERT_TRUE(config_4lw_allowed(&c, "ruok"));
    ASSERT_EQ_I64(w.count, 0);
}

/* ---- config_finish ---- */

TEST(config, finish_defaults_session_bounds_from_tick)
{
    struct config c;
    base(&c);
    char err[CONFIG_ERR_MAX] = "";
    ASSERT_OK(config_set(&c, "tickTime", "2000", err, sizeof(err), NULL, NULL));
    ASSERT_OK(config_finish(&c, err, sizeof(err)));
    ASSERT_EQ_I64(c.min_session_ms, 4000);
    ASSERT_EQ_I64(c.max_session_ms, 40000);
    ASSERT_EQ_STR(c.client_addr, "0.0.0.0");
    /* Explicit values are kept; -1 means "derive". */
    base(&c);
    ASSERT_OK(config_set(&c, "minSessionTimeout", "1000", err, sizeof(err), NULL, NULL));
    ASSERT_OK(config_set(&c, "maxSessionTimeout", "-1", err, sizeof(err), NULL, NULL));
    ASSERT_OK(config_finish(&c, err, sizeof(err)));
    ASSERT_EQ_I64(c.min_session_ms, 1000);
    ASSERT_EQ_I64(c.max_session_ms, 60000); /* 20 x the default tick 3000 */
}

TEST(config, finish_rejects_min_above_max)
{
    struct config c;
    base(&c);
    char err[CONFIG_ERR_MAX] = "";
    ASSERT_OK(config_set(&c, "minSessionTimeout", "50000", err, sizeof(err), NULL, NULL));
    ASSERT_OK(config_set(&c, "maxSessionTimeout", "40000", err, sizeof(err), NULL, NULL));
    ASSERT_EQ_I64(config_finish(&c, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "minSessionTimeout") != NULL);
    ASSERT_TRUE(strstr(err, "50000") != NULL);
    /* A min above the derived max (20 x tick) is rejected too. */
    base(&c);
    ASSERT_OK(config_set(&c, "minSessionTimeout", "60001", err, sizeof(err), NULL, NULL));
    ASSERT_EQ_I64(config_finish(&c, err, sizeof(err)), -1);
}

TEST(config, finish_requires_port_and_data_dir)
{
    struct config c;
    char err[CONFIG_ERR_MAX] = "";
    config_defaults(&c);
    ASSERT_OK(config_set(&c, "dataDir", "/d", err, sizeof(err), NULL, NULL));
    ASSERT_EQ_I64(config_finish(&c, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "clientPort") != NULL);
    config_defaults(&c);
    ASSERT_OK(config_set(&c, "clientPort", "1", err, sizeof(err), NULL, NULL));
    ASSERT_EQ_I64(config_finish(&c, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "dataDir") != NULL);
}

/* BUG (reported): config_set accepts tickTime up to INT32_MAX, but
 * config_finish computes tick_ms * 2 and tick_ms * 20 in int32 arithmetic:
 * signed overflow (undefined behaviour; UBSan aborts) for tickTime above
 * 107374182. A config value must give an error, not UB. */
TEST(config, huge_tick_time_is_rejected_naming_the_key)
{
    /* Regression: 20 x tickTime used to overflow int32 in config_finish. */
    struct config c;
    base(&c);
    char err[CONFIG_ERR_MAX] = "";
    ASSERT_TRUE(config_set(&c, "tickTime", "1500000000", err, sizeof(err), NULL, NULL) == -1);
    ASSERT_TRUE(strstr(err, "tickTime") != NULL && strstr(err, "1500000000") != NULL);
    ASSERT_OK(config_set(&c, "tickTime", "107374182", err, sizeof(err), NULL, NULL));
    ASSERT_OK(config_finish(&c, err, sizeof(err)));
    ASSERT_EQ_I64(c.max_session_ms, 107374182LL * 20);
}

/* ---- 4lw whitelist ---- */

TEST(config, fourlw_default_is_srvr_only)
{
    struct config c;
    config_defaults(&c);
    ASSERT_TRUE(config_4lw_allowed(&c, "srvr"));
    ASSERT_FALSE(config_4lw_allowed(&c, "ruok"));
    ASSERT_FALSE(config_4lw_allowed(&c, "stat"));
    ASSERT_FALSE(config_4lw_allowed(&c, "mntr"));
    ASSERT_FALSE(config_4lw_allowed(&c, "srv"));
}

TEST(config, fourlw_star_allows_everything)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    ASSERT_OK(config_set(&c, "4lw.commands.whitelist", "*", err, sizeof(err), NULL, NULL));
    ASSERT_TRUE(config_4lw_allowed(&c, "ruok"));
    ASSERT_TRUE(config_4lw_allowed(&c, "wchp"));
    ASSERT_OK(config_set(&c, "4lw.commands.whitelist", "stat, * ", err, sizeof(err), NULL, NULL));
    ASSERT_TRUE(config_4lw_allowed(&c, "dump"));
}

TEST(config, fourlw_list_with_spaces)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    ASSERT_OK(config_set(&c, "4lw.commands.whitelist", " ruok ,stat,  mntr ,,conf", err,
                         sizeof(err), NULL, NULL));
    ASSERT_TRUE(config_4lw_allowed(&c, "ruok"));
    ASSERT_TRUE(config_4lw_allowed(&c, "stat"));
    ASSERT_TRUE(config_4lw_allowed(&c, "mntr"));
    ASSERT_TRUE(config_4lw_allowed(&c, "conf"));
    ASSERT_FALSE(config_4lw_allowed(&c, "srvr")); /* replaced, not added */
    ASSERT_FALSE(config_4lw_allowed(&c, "ruo"));
    ASSERT_FALSE(config_4lw_allowed(&c, "ruokk"));
    ASSERT_FALSE(config_4lw_allowed(&c, "*"));
    ASSERT_OK(config_set(&c, "4lw.commands.whitelist", "", err, sizeof(err), NULL, NULL));
    ASSERT_FALSE(config_4lw_allowed(&c, "srvr"));
    ASSERT_FALSE(config_4lw_allowed(&c, "ruok"));
}

/* ---- durability keys ---- */

TEST(config, durability_keys_and_zookeeper_floors)
{
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX];
    struct warnings w = {0};
    ASSERT_EQ_I64(c.snap_count, 100000);
    ASSERT_EQ_I64(c.prealloc_kb, 65536);
    ASSERT_TRUE(c.force_sync);
    ASSERT_EQ_I64(c.fsync_warn_ms, 1000);
    ASSERT_OK(set(&c, "snapCount", "1", err, &w));
    ASSERT_OK(set(&c, "preAllocSize", "4", err, &w));
    ASSERT_OK(set(&c, "forceSync", "no", err, &w));
    ASSERT_OK(set(&c, "zookeeper.fsync.warningthresholdms", "5", err, &w));
    ASSERT_OK(set(&c, "autopurge.snapRetainCount", "1", err, &w));
    ASSERT_OK(set(&c, "autopurge.purgeInterval", "2", err, &w));
    ASSERT_OK(set(&c, "snapSizeLimitInKb", "-1", err, &w));
    ASSERT_OK(set(&c, "clientPort", "2181", err, &w));
    ASSERT_OK(set(&c, "dataDir", "/d", err, &w));
    ASSERT_EQ_I64(w.count, 0); /* acted on: no "has no effect" note */
    ASSERT_OK(config_finish(&c, err, sizeof(err)));
    ASSERT_EQ_I64(c.snap_count, 2);        /* ZooKeeper's floor */
    ASSERT_EQ_I64(c.snap_retain_count, 3); /* ZooKeeper's floor */
    ASSERT_EQ_I64(c.prealloc_kb, 4);
    ASSERT_FALSE(c.force_sync);
    ASSERT_EQ_I64(c.fsync_warn_ms, 5);
    ASSERT_EQ_I64(c.purge_interval_h, 2);
    ASSERT_EQ_STR(c.data_log_dir, "/d"); /* dataLogDir defaults to dataDir */
    assert_bad("forceSync", "maybe");
    assert_bad("snapCount", "0");
    assert_bad("preAllocSize", "0");
    assert_bad("autopurge.purgeInterval", "-1");
}
