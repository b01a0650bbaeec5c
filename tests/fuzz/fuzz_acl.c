/* fuzz_acl.c — ACL decoding, fixup and checks, the ip and digest providers and
 * path validation (acl.h, path.h) on arbitrary input.
 *
 * Input: byte 0 = flags; then four fields, each a 1-byte length + bytes:
 * an ip pattern, an address, a "user:password" and a path; the rest is a jute
 * vector<ACL> as a create/setACL request carries it.
 *
 * Properties:
 *   - acl_decode never crashes; ZK_OK with a list whose re-encoding decodes to
 *     an equal list (round trip), or ZK_EPROTO/ZK_ENOMEM and no list;
 *   - acl_fixup returns ZOO_OK with a non-empty, duplicate-free list of
 *     world/digest/ip entries whose ids are valid, or ZOO_INVALIDACL and no list;
 *   - acl_check is total; a super identity passes every check; a fixed-up list
 *     grants its own auth identities what the list says;
 *   - acl_ip_match(p, p) holds for every valid address pattern without a mask;
 *     a valid CIDR matches its own base address;
 *   - acl_digest writes a NUL-terminated "user:base64" inside the buffer or
 *     fails cleanly;
 *   - path_valid implies the documented shape, and a valid path's parent is
 *     valid; path_parent_len/path_is_system/path_has_nul are total on it;
 *   - acl_decode under allocation failure (the Nth allocation fails, N = 1, 2,
 *     ... until it succeeds) returns ZK_ENOMEM, no list and no leak;
 *   - no leaks (zk_mem_bytes_in_use returns to its starting value). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "err.h"
#include "jute.h"
#include "mem.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

struct input {
    const uint8_t *p;
    size_t left;
};

/* Takes a 1-byte-length-prefixed field as an exact-size heap copy (plus NUL). */
static char *take_field(struct input *in, uint32_t *len) {
    uint32_t n = 0;
    if (in->left > 0) {
        n = in->p[0];
        in->p++;
        in->left--;
    }
    if (n > in->left)
        n = (uint32_t)in->left;
    char *s = malloc(n + 1);
    CHECK(s != NULL);
    if (n > 0)
        memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n;
    in->left -= n;
    *len = n;
    return s;
}

static void check_ip(const char *pattern, const char *addr) {
    bool valid = acl_ip_valid(pattern);
    bool m = acl_ip_match(pattern, addr);
    if (m)
        CHECK(valid);
    if (valid) {
        const char *slash = strchr(pattern, '/');
        if (slash == NULL) {
            CHECK(acl_ip_match(pattern, pattern));
        } else {
            char base[256];
            size_t n = (size_t)(slash - pattern);
            CHECK(n < sizeof(base));
            memcpy(base, pattern, n);
            base[n] = '\0';
            CHECK(acl_ip_match(pattern, base));
            /* a mask of 0 matches any address of the same family */
        }
    }
}

static void check_digest(const char *user_pw, uint32_t len, uint8_t capsel) {
    char out[128];
    memset(out, 0x5a, sizeof(out));
    uint32_t cap = capsel % 4 == 0 ? capsel % 64 : 100;
    bool ok = acl_digest(user_pw, len, out, cap);
    const char *colon = len > 0 ? memchr(user_pw, ':', len) : NULL;
    uint32_t ulen = colon ? (uint32_t)(colon - user_pw) : len;
    if (ok) {
        CHECK(ulen + 1 + 28 + 1 <= cap);
        CHECK(out[ulen + 1 + 28] == '\0');
        CHECK(ulen == 0 || memcmp(out, user_pw, ulen) == 0);
        CHECK(out[ulen] == ':');
    } else {
        CHECK(ulen + 1 + 28 + 1 > cap);
    }
    for (uint32_t i = cap; i < sizeof(out); i++)
        CHECK((unsigned char)out[i] == 0x5a);
}

static void check_path(const char *p, uint32_t len) {
    bool has_nul = path_has_nul(p, len);
    (void)path_is_system(p, len);
    if (!path_valid(p, len))
        return;
    CHECK(!has_nul);
    CHECK(len >= 1 && p[0] == '/');
    if (len == 1)
        return;
    CHECK(p[len - 1] != '/');
    for (uint32_t i = 0; i + 1 < len; i++)
        CHECK(!(p[i] == '/' && p[i + 1] == '/'));
    uint32_t plen = path_parent_len(p, len);
    CHECK(plen >= 1 && plen < len);
    CHECK(plen == 1 || p[plen] == '/');
    CHECK(path_valid(p, plen));
}

static void check_list_shape(const struct acl_list *l) {
    CHECK(l->refs >= 1);
    for (uint32_t i = 0; i < l->count; i++)
        CHECK(l->e[i].scheme != NULL && l->e[i].id != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20))
        return 0;
    uint64_t base = zk_mem_bytes_in_use();
    struct input in = {data, size};
    uint8_t flags = 0;
    if (in.left > 0) {
        flags = in.p[0];
        in.p++;
        in.left--;
    }
    uint32_t plen, alen, ulen, pathlen;
    char *pattern = take_field(&in, &plen);
    char *addr = take_field(&in, &alen);
    char *user_pw = take_field(&in, &ulen);
    char *path = take_field(&in, &pathlen);
    uint8_t *rest = malloc(in.left ? in.left : 1);
    CHECK(rest != NULL);
    if (in.left > 0)
        memcpy(rest, in.p, in.left);

    check_ip(pattern, addr);
    check_ip(addr, pattern);
    /* the server passes the auth packet's data pointer as is: NULL for a null
     * buffer (length -1 -> 0) */
    check_digest(ulen == 0 && (flags & 32) ? NULL : user_pw, ulen, flags);
    check_path(path, pathlen);

    /* The connection's identities: an ip, a digest of user_pw, maybe super. */
    struct auth_set auth;
    auth_set_init(&auth);
    if (flags & 1)
        CHECK(auth_set_add(&auth, "ip", addr));
    if (flags & 2) {
        char digest[1024];
        if (acl_digest(user_pw, ulen, digest, sizeof(digest)))
            CHECK(auth_set_add(&auth, "digest", digest));
    }
    if (flags & 4)
        CHECK(auth_set_add(&auth, "digest", user_pw)); /* raw id, may equal an ACL id */
    if (flags & 8)
        CHECK(auth_set_add(&auth, "super", ""));
    if (flags & 16)
        CHECK(auth_set_add(&auth, "sasl", addr)); /* authenticated, for the auth scheme */
    CHECK(auth_set_is_super(&auth) == ((flags & 8) != 0));

    struct jute_reader r;
    jute_reader_init(&r, rest, (uint32_t)in.left);
    struct acl_list *l = NULL;
    int rc = acl_decode(&r, &l);
    CHECK(rc == ZK_OK || rc == ZK_EPROTO || rc == ZK_ENOMEM);
    if (rc != ZK_OK)
        CHECK(l == NULL);
    if (l != NULL) {
        check_list_shape(l);
        CHECK(l->refs == 1);
        /* round trip: encode, decode, compare; the redacted form decodes too */
        struct jute_buf b;
        jute_buf_init(&b);
        acl_encode(&b, l);
        struct jute_reader r2;
        jute_reader_init(&r2, b.p, b.len);
        struct acl_list *l2 = NULL;
        CHECK(acl_decode(&r2, &l2) == ZK_OK && l2 != NULL && r2.left == 0);
        CHECK(acl_equal(l, l2));
        acl_unref(l2);
        b.len = 0;
        acl_encode_redacted(&b, l);
        jute_reader_init(&r2, b.p, b.len);
        CHECK(acl_decode(&r2, &l2) == ZK_OK && l2 != NULL && r2.left == 0);
        CHECK(l2->count == l->count);
        acl_unref(l2);
        jute_buf_deinit(&b);
    }

    /* fixupACL, with and without identities (null vector included) */
    static const struct auth_set no_auth = {0};
    for (int pass = 0; pass < 2; pass++) {
        const struct auth_set *a = pass == 0 ? &auth : &no_auth;
        struct acl_list *fx = NULL;
        int zrc = acl_fixup(l, a, &fx);
        CHECK(zrc == ZOO_OK || zrc == ZOO_INVALIDACL);
        if (zrc != ZOO_OK) {
            CHECK(fx == NULL);
            continue;
        }
        CHECK(fx != NULL && fx->count > 0 && fx->refs == 1);
        check_list_shape(fx);
        for (uint32_t i = 0; i < fx->count; i++) {
            const struct acl_entry *e = &fx->e[i];
            CHECK(strcmp(e->scheme, "world") == 0 || strcmp(e->scheme, "digest") == 0 ||
                  strcmp(e->scheme, "ip") == 0 || strcmp(e->scheme, "sasl") == 0);
            if (strcmp(e->scheme, "world") == 0)
                CHECK(strcmp(e->id, "anyone") == 0);
            if (strcmp(e->scheme, "ip") == 0)
                CHECK(acl_ip_valid(e->id));
            for (uint32_t j = 0; j < i; j++) {
                const struct acl_entry *o = &fx->e[j];
                CHECK(!(o->perms == e->perms && strcmp(o->scheme, e->scheme) == 0 &&
                        strcmp(o->id, e->id) == 0));
            }
            /* an identity the list names is granted what the entry says */
            if ((strcmp(e->scheme, "digest") == 0 || strcmp(e->scheme, "sasl") == 0) &&
                (e->perms & ACL_ALL) != 0) {
                struct auth_set me;
                auth_set_init(&me);
                CHECK(auth_set_add(&me, e->scheme, e->id));
                if (strcmp(e->scheme, "digest") == 0)
                    CHECK(acl_check(fx, e->perms & ACL_ALL, &me));
                auth_set_deinit(&me);
            }
        }
        CHECK(acl_equal(fx, fx));
        struct acl_list *ref = acl_ref(fx);
        CHECK(ref == fx && fx->refs == 2);
        acl_unref(ref);
        for (int32_t perm = 1; perm <= ACL_ALL; perm <<= 1)
            (void)acl_check(fx, perm, &auth);
        acl_unref(fx);
    }

    /* checkACL on the raw list, every permission bit and a few combinations */
    static const int32_t perms[] = {ACL_READ,   ACL_WRITE, ACL_CREATE,           ACL_DELETE,
                                    ACL_ADMIN,  ACL_ALL,   ACL_READ | ACL_ADMIN, 0};
    for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
        bool ok = acl_check(l, perms[i], &auth);
        if (auth_set_is_super(&auth) || l == NULL || l->count == 0)
            CHECK(ok);
        (void)acl_check(l, perms[i], &no_auth);
    }

    if (l != NULL) {
        for (uint64_t n = 1; n <= 256; n++) {
            uint64_t before = zk_mem_bytes_in_use();
            struct jute_reader rf;
            jute_reader_init(&rf, rest, (uint32_t)in.left);
            struct acl_list *lf = NULL;
            zk_mem_fail_after(n);
            int frc = acl_decode(&rf, &lf);
            zk_mem_fail_after(0);
            if (frc == ZK_OK) {
                CHECK(lf != NULL && acl_equal(l, lf));
                acl_unref(lf);
                CHECK(zk_mem_bytes_in_use() == before);
                break;
            }
            CHECK(frc == ZK_ENOMEM && lf == NULL);
            CHECK(zk_mem_bytes_in_use() == before);
        }
    }

    acl_unref(l);
    auth_set_deinit(&auth);
    free(rest);
    free(path);
    free(user_pw);
    free(addr);
    free(pattern);
    acl_global_deinit();
    CHECK(zk_mem_bytes_in_use() == base);
    return 0;
}
