/* fuzz_config.c — zoo.cfg parsing (config.h) on arbitrary text.
 *
 * The input (up to its first NUL) is the file text. Byte 0 also picks the
 * size of the error buffer handed to the parser, so truncated error messages
 * are exercised; a canary after it must survive.
 *
 * Properties: config_load_string and config_finish never crash; a failure
 * leaves a NUL-terminated message inside the error buffer; warnings are
 * NUL-terminated lines; after a successful config_finish the values obey the
 * documented ranges (port, session bounds, buffer size, derived defaults) and
 * every string field is NUL-terminated; config_4lw_allowed is total. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define CANARY 0xA5

struct warn_ctx {
    unsigned count;
};

static void on_warn(void *ctx, const char *msg) {
    struct warn_ctx *w = ctx;
    CHECK(msg != NULL);
    CHECK(strlen(msg) < CONFIG_ERR_MAX);
    w->count++;
}

static bool terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

static void check_err(const char *err, size_t errlen, const unsigned char *canary) {
    if (errlen > 0)
        CHECK(terminated(err, errlen));
    for (size_t i = 0; i < 16; i++)
        CHECK(canary[i] == CANARY);
}

static void check_config(const struct config *c) {
    CHECK(c->tick_ms >= 1 && c->tick_ms <= INT32_MAX / 20);
    CHECK(c->client_port >= 0 && c->client_port <= 65535);
    CHECK(c->data_dir[0] != '\0');
    CHECK(terminated(c->client_addr, sizeof(c->client_addr)) && c->client_addr[0] != '\0');
    CHECK(terminated(c->data_dir, sizeof(c->data_dir)));
    CHECK(terminated(c->data_log_dir, sizeof(c->data_log_dir)));
    CHECK(terminated(c->fourlw_whitelist, sizeof(c->fourlw_whitelist)));
    CHECK(terminated(c->super_digest, sizeof(c->super_digest)));
    CHECK(c->super_digest[0] == '\0' || strchr(c->super_digest, ':') != NULL);
    CHECK(c->min_session_ms >= 0 || c->min_session_ms == -1);
    CHECK(c->max_session_ms >= 0 || c->max_session_ms == -1);
    CHECK(c->min_session_ms != -1 && c->max_session_ms != -1); /* derived by finish */
    CHECK(c->min_session_ms <= c->max_session_ms);
    CHECK(c->max_client_cnxns >= 0 && c->max_cnxns >= 0);
    CHECK(c->global_outstanding >= 1);
    CHECK(c->max_buffer >= 1024 && c->max_buffer <= 0x7fffffffu);
    CHECK(c->container_check_ms >= 1 && c->container_max_per_minute >= 1);
    CHECK(c->container_max_never_used_ms >= 0);
    CHECK(c->listen_backlog >= -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20))
        return 0;
    uint64_t base = zk_mem_bytes_in_use();
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';

    /* error buffer of 0..CONFIG_ERR_MAX bytes followed by a canary */
    size_t errlen = size > 0 ? (size_t)(data[0] % 8 == 0 ? data[0] % 40 : CONFIG_ERR_MAX) : 0;
    unsigned char *errmem = malloc(CONFIG_ERR_MAX + 16);
    CHECK(errmem != NULL);
    memset(errmem, CANARY, CONFIG_ERR_MAX + 16);
    char *err = (char *)errmem;
    if (errlen > 0)
        err[0] = '\0';
    const unsigned char *canary = errmem + errlen;

    struct config c;
    config_defaults(&c);
    struct warn_ctx w = {0};
    int rc = config_load_string(&c, text, err, errlen, on_warn, &w);
    CHECK(rc == 0 || rc == -1);
    check_err(err, errlen, canary);
    if (rc == 0) {
        rc = config_finish(&c, err, errlen);
        CHECK(rc == 0 || rc == -1);
        check_err(err, errlen, canary);
        if (rc == 0) {
            check_config(&c);
            static const char *const words[] = {"ruok", "srvr", "stat", "mntr", "conf",
                                                "wchs", "dump", "isro", "", "*"};
            for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                (void)config_4lw_allowed(&c, words[i]);
        }
    }
    /* a warn callback is optional */
    config_defaults(&c);
    (void)config_load_string(&c, text, err, errlen, NULL, NULL);
    check_err(err, errlen, canary);

    free(errmem);
    free(text);
    CHECK(zk_mem_bytes_in_use() == base);
    return 0;
}
