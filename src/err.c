#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

const char *zk_strerror(int err) {
    switch (err) {
#define ZK_ERR_CASE(name, val, str) \
    case val:                       \
        return str;
        ZK_ERR_LIST(ZK_ERR_CASE)
#undef ZK_ERR_CASE
    default:
        return "unknown error";
    }
}

const char *zoo_rc_name(int rc) {
    switch (rc) {
#define ZOO_RC_CASE(name, val) \
    case val:                  \
        return #name;
        ZOO_RC_LIST(ZOO_RC_CASE)
#undef ZOO_RC_CASE
    default:
        return "?";
    }
}

void zk_panic_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "zkd: PANIC at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}
