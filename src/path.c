#include "path.h"

#include <string.h>

#include "base.h"

bool path_has_nul(const char *p, uint32_t len) { return memchr(p, '\0', len) != NULL; }

/* Decodes one UTF-8 sequence; returns its length or 0 if malformed. */
static uint32_t path_utf8(const uint8_t *s, uint32_t left, uint32_t *cp) {
    uint8_t c = s[0];
    uint32_t n, v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        v = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        v = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (uint32_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[n])
        return 0; /* overlong */
    *cp = v;
    return n;
}

static bool path_char_ok(uint32_t c) {
    if (c == 0)
        return false;
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f))
        return false;
    if (c >= 0xd800 && c <= 0xf8ff)
        return false;
    if (c >= 0xfff0)
        return false; /* U+FFF0..U+FFFF and everything needing a surrogate pair */
    return true;
}

bool path_valid(const char *p, uint32_t len) {
    if (p == NULL || len == 0 || p[0] != '/')
        return false;
    if (len == 1)
        return true;
    if (p[len - 1] == '/')
        return false;
    const uint8_t *s = (const uint8_t *)p;
    uint32_t comp_start = 1;
    for (uint32_t i = 1; i <= len; i++) {
        if (i == len || s[i] == '/') {
            uint32_t clen = i - comp_start;
            if (clen == 0)
                return false;
            if (clen == 1 && s[comp_start] == '.')
                return false;
            if (clen == 2 && s[comp_start] == '.' && s[comp_start + 1] == '.')
                return false;
            comp_start = i + 1;
            continue;
        }
        uint32_t cp = 0;
        uint32_t n = path_utf8(s + i, len - i, &cp);
        if (n == 0 || !path_char_ok(cp))
            return false;
        i += n - 1;
    }
    return true;
}

uint32_t path_parent_len(const char *p, uint32_t len) {
    ZK_ASSERT(len > 1 && p[0] == '/');
    uint32_t i = len;
    while (i > 0 && p[i - 1] != '/')
        i--;
    ZK_ASSERT(i > 0);
    return i == 1 ? 1 : i - 1;
}

bool path_is_system(const char *p, uint32_t len) {
    return (len == 10 && memcmp(p, "/zookeeper", 10) == 0) ||
           (len == 16 && memcmp(p, "/zookeeper/quota", 16) == 0) ||
           (len == 17 && memcmp(p, "/zookeeper/config", 17) == 0);
}
