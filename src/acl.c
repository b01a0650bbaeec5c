#include "acl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "err.h"
#include "limits.h"
#include "mem.h"
#include "sha1.h"

void auth_set_init(struct auth_set *a) {
    a->ids = NULL;
    a->count = 0;
    a->cap = 0;
}

void auth_set_deinit(struct auth_set *a) {
    for (uint32_t i = 0; i < a->count; i++) {
        zk_free(a->ids[i].scheme);
        zk_free(a->ids[i].id);
    }
    zk_free(a->ids);
    auth_set_init(a);
}

bool auth_set_add(struct auth_set *a, const char *scheme, const char *id) {
    for (uint32_t i = 0; i < a->count; i++) {
        if (strcmp(a->ids[i].scheme, scheme) == 0 && strcmp(a->ids[i].id, id) == 0)
            return true;
    }
    if (a->count == a->cap) {
        uint32_t cap = a->cap ? a->cap * 2 : 4;
        struct auth_id *n = zk_realloc(a->ids, cap * sizeof(*n));
        if (n == NULL)
            return false;
        a->ids = n;
        a->cap = cap;
    }
    char *s = zk_strndup(scheme, strlen(scheme));
    char *d = zk_strndup(id, strlen(id));
    if (s == NULL || d == NULL) {
        zk_free(s);
        zk_free(d);
        return false;
    }
    a->ids[a->count].scheme = s;
    a->ids[a->count].id = d;
    a->count++;
    return true;
}

bool auth_set_is_super(const struct auth_set *a) {
    for (uint32_t i = 0; i < a->count; i++) {
        if (strcmp(a->ids[i].scheme, "super") == 0)
            return true;
    }
    return false;
}

/* ---- lists ---- */

static struct acl_list *acl_alloc(uint32_t count) {
    struct acl_list *l = zk_malloc(sizeof(*l) + (size_t)count * sizeof(struct acl_entry));
    if (l == NULL)
        return NULL;
    l->refs = 1;
    l->count = 0;
    l->interned = NULL;
    return l;
}

static bool acl_push(struct acl_list *l, int32_t perms, const char *scheme, uint32_t slen,
                     const char *id, uint32_t ilen) {
    struct acl_entry *e = &l->e[l->count];
    e->scheme = zk_strndup(scheme ? scheme : "", scheme ? slen : 0);
    e->id = zk_strndup(id ? id : "", id ? ilen : 0);
    e->perms = perms;
    if (e->scheme == NULL || e->id == NULL) {
        zk_free(e->scheme);
        zk_free(e->id);
        return false;
    }
    l->count++;
    return true;
}

static struct acl_list *acl_world(int32_t perms) {
    struct acl_list *l = acl_alloc(1);
    if (l == NULL || !acl_push(l, perms, "world", 5, "anyone", 6))
        ZK_PANIC("out of memory building the default ACL");
    return l;
}

static struct acl_list *acl_open_list, *acl_read_list;

struct acl_list *acl_open_unsafe(void) {
    if (acl_open_list == NULL)
        acl_open_list = acl_world(ACL_ALL);
    return acl_open_list;
}

struct acl_list *acl_read_unsafe(void) {
    if (acl_read_list == NULL)
        acl_read_list = acl_world(ACL_READ);
    return acl_read_list;
}

struct acl_list *acl_unresolved_new(int64_t ref) {
    char id[24];
    int n = snprintf(id, sizeof(id), "%lld", (long long)ref);
    struct acl_list *l = acl_alloc(1);
    if (l == NULL || !acl_push(l, 0, ACL_SCHEME_UNRESOLVED, sizeof(ACL_SCHEME_UNRESOLVED) - 1,
                               id, (uint32_t)n)) {
        acl_unref(l);
        return NULL;
    }
    return l;
}

bool acl_is_unresolved(const struct acl_list *l) {
    return l != NULL && l->count == 1 && strcmp(l->e[0].scheme, ACL_SCHEME_UNRESOLVED) == 0;
}

void acl_global_deinit(void) {
    if (acl_open_list != NULL) {
        ZK_ASSERT(acl_open_list->refs == 1);
        acl_unref(acl_open_list);
        acl_open_list = NULL;
    }
    if (acl_read_list != NULL) {
        ZK_ASSERT(acl_read_list->refs == 1);
        acl_unref(acl_read_list);
        acl_read_list = NULL;
    }
}

struct acl_list *acl_ref(struct acl_list *l) {
    ZK_ASSERT(l != NULL && l->refs > 0);
    l->refs++;
    return l;
}

void acl_unref(struct acl_list *l) {
    if (l == NULL)
        return;
    ZK_ASSERT(l->refs > 0);
    if (--l->refs > 0)
        return;
    for (uint32_t i = 0; i < l->count; i++) {
        zk_free(l->e[i].scheme);
        zk_free(l->e[i].id);
    }
    zk_free(l);
}

static bool acl_entry_equal(const struct acl_entry *a, const struct acl_entry *b) {
    return a->perms == b->perms && strcmp(a->scheme, b->scheme) == 0 &&
           strcmp(a->id, b->id) == 0;
}

bool acl_equal(const struct acl_list *a, const struct acl_list *b) {
    if (a == b)
        return true;
    if (a == NULL || b == NULL || a->count != b->count)
        return false;
    for (uint32_t i = 0; i < a->count; i++) {
        if (!acl_entry_equal(&a->e[i], &b->e[i]))
            return false;
    }
    return true;
}

void acl_encode(struct jute_buf *b, const struct acl_list *l) {
    ZK_ASSERT(l != NULL);
    jute_write_i32(b, (int32_t)l->count);
    for (uint32_t i = 0; i < l->count; i++) {
        jute_write_i32(b, l->e[i].perms);
        jute_write_cstr(b, l->e[i].scheme);
        jute_write_cstr(b, l->e[i].id);
    }
}

void acl_encode_redacted(struct jute_buf *b, const struct acl_list *l) {
    ZK_ASSERT(l != NULL);
    jute_write_i32(b, (int32_t)l->count);
    for (uint32_t i = 0; i < l->count; i++) {
        const struct acl_entry *e = &l->e[i];
        jute_write_i32(b, e->perms);
        jute_write_cstr(b, e->scheme);
        const char *colon = strchr(e->id, ':');
        if (strcmp(e->scheme, "digest") == 0 && colon != NULL) {
            uint32_t ulen = (uint32_t)(colon - e->id);
            jute_write_i32(b, (int32_t)ulen + 2);
            jute_write_raw(b, e->id, ulen);
            jute_write_raw(b, ":x", 2);
        } else {
            jute_write_cstr(b, e->id);
        }
    }
}

int acl_decode(struct jute_reader *r, struct acl_list **out) {
    *out = NULL;
    /* each entry: perms(4) + two string lengths (4 + 4) at least */
    int32_t n = jute_read_count(r, 12);
    if (!jute_reader_ok(r))
        return ZK_EPROTO;
    if (n == -1)
        return ZK_OK;
    if ((uint32_t)n > ZK_LIMIT_ACL_ENTRIES_MAX)
        return ZK_EPROTO;
    struct acl_list *l = acl_alloc((uint32_t)n);
    if (l == NULL)
        return ZK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        int32_t perms = jute_read_i32(r);
        struct jute_bytes s = jute_read_bytes(r, r->left);
        struct jute_bytes id = jute_read_bytes(r, r->left);
        if (!jute_reader_ok(r)) {
            acl_unref(l);
            return ZK_EPROTO;
        }
        if (!acl_push(l, perms, (const char *)s.p, s.len < 0 ? 0 : (uint32_t)s.len,
                      (const char *)id.p, id.len < 0 ? 0 : (uint32_t)id.len)) {
            acl_unref(l);
            return ZK_ENOMEM;
        }
    }
    *out = l;
    return ZK_OK;
}

/* Java's id.split(":").length == 2 (trailing empty strings are dropped). */
static bool acl_digest_id_valid(const char *id) {
    uint32_t parts = 1;
    size_t n = strlen(id);
    while (n > 0 && id[n - 1] == ':')
        n--;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (id[i] == ':')
            parts++;
    }
    return parts == 2;
}

static int acl_parse_ip(const char *s, size_t len, uint8_t out[16], uint32_t *out_len) {
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, out) == 1) {
        *out_len = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out) == 1) {
        *out_len = 16;
        return 0;
    }
    return -1;
}

static bool acl_parse_bits(const char *s, uint32_t max, uint32_t *bits) {
    if (*s == '\0')
        return false;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || (unsigned long)v > max)
        return false;
    *bits = (uint32_t)v;
    return true;
}

bool acl_ip_valid(const char *pattern) {
    const char *slash = strchr(pattern, '/');
    size_t alen = slash ? (size_t)(slash - pattern) : strlen(pattern);
    uint8_t a[16];
    uint32_t n, bits;
    if (acl_parse_ip(pattern, alen, a, &n) != 0)
        return false;
    return slash == NULL || acl_parse_bits(slash + 1, n * 8, &bits);
}

bool acl_ip_match(const char *pattern, const char *addr) {
    const char *slash = strchr(pattern, '/');
    size_t alen = slash ? (size_t)(slash - pattern) : strlen(pattern);
    uint8_t p[16], a[16];
    uint32_t pn, an, bits;
    if (acl_parse_ip(pattern, alen, p, &pn) != 0 || acl_parse_ip(addr, strlen(addr), a, &an) != 0)
        return false;
    if (pn != an)
        return false;
    bits = pn * 8;
    if (slash != NULL && !acl_parse_bits(slash + 1, pn * 8, &bits))
        return false;
    for (uint32_t i = 0; i < pn; i++) {
        uint32_t keep = bits >= 8 ? 8 : bits;
        uint8_t mask = (uint8_t)(keep == 0 ? 0 : 0xff << (8 - keep));
        if ((p[i] & mask) != (a[i] & mask))
            return false;
        bits -= keep;
    }
    return true;
}

static bool acl_entry_dup(const struct acl_list *l, const struct acl_entry *e) {
    for (uint32_t i = 0; i < l->count; i++) {
        if (acl_entry_equal(&l->e[i], e))
            return true;
    }
    return false;
}

static bool acl_is_authenticated_scheme(const char *scheme) {
    /* ZooKeeper: digest, sasl and x509 providers count as authenticated; ip not. */
    return strcmp(scheme, "digest") == 0 || strcmp(scheme, "sasl") == 0 ||
           strcmp(scheme, "x509") == 0;
}

int acl_fixup(const struct acl_list *in, const struct auth_set *auth, struct acl_list **out) {
    *out = NULL;
    if (in == NULL || in->count == 0)
        return ZOO_INVALIDACL;
    struct acl_list *rv = acl_alloc(in->count * (auth->count + 1));
    if (rv == NULL)
        ZK_PANIC("out of memory fixing up an ACL");
    for (uint32_t i = 0; i < in->count; i++) {
        const struct acl_entry *e = &in->e[i];
        bool dup = false;
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = acl_entry_equal(&in->e[j], e);
        if (dup)
            continue;
        bool ok = false;
        if (strcmp(e->scheme, "world") == 0 && strcmp(e->id, "anyone") == 0) {
            ok = acl_push(rv, e->perms, "world", 5, "anyone", 6);
        } else if (strcmp(e->scheme, "auth") == 0) {
            for (uint32_t k = 0; k < auth->count; k++) {
                const struct auth_id *a = &auth->ids[k];
                if (!acl_is_authenticated_scheme(a->scheme))
                    continue;
                struct acl_entry cand = {e->perms, a->scheme, a->id};
                ok = true;
                if (!acl_entry_dup(rv, &cand))
                    acl_push(rv, e->perms, a->scheme, (uint32_t)strlen(a->scheme), a->id,
                             (uint32_t)strlen(a->id));
            }
        } else if (strcmp(e->scheme, "digest") == 0) {
            ok = acl_digest_id_valid(e->id) &&
                 acl_push(rv, e->perms, e->scheme, 6, e->id, (uint32_t)strlen(e->id));
        } else if (strcmp(e->scheme, "ip") == 0) {
            ok = acl_ip_valid(e->id) &&
                 acl_push(rv, e->perms, e->scheme, 2, e->id, (uint32_t)strlen(e->id));
        }
        if (!ok) {
            acl_unref(rv);
            return ZOO_INVALIDACL;
        }
    }
    *out = rv;
    return ZOO_OK;
}

bool acl_check(const struct acl_list *acl, int32_t perm, const struct auth_set *auth) {
    if (acl == NULL || acl->count == 0)
        return true;
    if (auth_set_is_super(auth))
        return true;
    for (uint32_t i = 0; i < acl->count; i++) {
        const struct acl_entry *e = &acl->e[i];
        if ((e->perms & perm) == 0)
            continue;
        if (strcmp(e->scheme, "world") == 0 && strcmp(e->id, "anyone") == 0)
            return true;
        for (uint32_t k = 0; k < auth->count; k++) {
            const struct auth_id *a = &auth->ids[k];
            if (strcmp(a->scheme, e->scheme) != 0)
                continue;
            if (strcmp(e->scheme, "digest") == 0 && strcmp(a->id, e->id) == 0)
                return true;
            if (strcmp(e->scheme, "ip") == 0 && acl_ip_match(e->id, a->id))
                return true;
        }
    }
    return false;
}

bool acl_digest(const char *user_pw, uint32_t len, char *out, uint32_t cap) {
    uint8_t md[SHA1_DIGEST_BYTES];
    if (len == 0)
        user_pw = ""; /* a null auth buffer digests like an empty one */
    const char *colon = memchr(user_pw, ':', len);
    uint32_t ulen = colon ? (uint32_t)(colon - user_pw) : len;
    uint32_t b64_len = SHA1_BASE64_LEN(SHA1_DIGEST_BYTES);
    if (ulen + 1 + b64_len + 1 > cap)
        return false;
    sha1_digest(user_pw, len, md);
    memcpy(out, user_pw, ulen);
    out[ulen] = ':';
    size_t written = sha1_base64_encode(md, sizeof(md), out + ulen + 1);
    ZK_ASSERT(written == b64_len);
    return true;
}
