/* test_acl.c — ACL lists, fixupACL, checkACL and the digest/ip providers (acl.h).
 * Goal: the rules of protocol.md §10 and ZooKeeper's DigestAuthenticationProvider
 * / IPAuthenticationProvider, with exact golden digests.
 * Method: lists are built the way the server builds them — encoded as a jute
 * vector<ACL> and decoded with acl_decode. The digest golden values were
 * computed with python3 hashlib/base64 (base64(sha1("user:password"))). */
#include "test.h"

#include <stdarg.h>

#include "acl.h"
#include "err.h"
#include "limits.h"
#include "mem.h"

/* ---- Helpers ---- */

/* mk_acl(n, perms, scheme, id, ...) -> owned list (refs 1). */
static struct acl_list *mk_acl(int n, ...)
{
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        jute_write_i32(&b, va_arg(ap, int));
        jute_write_cstr(&b, va_arg(ap, const char *));
        jute_write_cstr(&b, va_arg(ap, const char *));
    }
    va_end(ap);
    struct jute_reader r;
    jute_reader_init(&r, b.p, b.len);
    struct acl_list *l = NULL;
    int rc = acl_decode(&r, &l);
    jute_buf_deinit(&b);
    if (rc != ZK_OK || l == NULL) FAIL("mk_acl: acl_decode returned %d", rc);
    return l;
}

static int fixup(const struct acl_list *in, const struct auth_set *auth, struct acl_list **out)
{
    return acl_fixup(in, auth, out);
}

/* Fixes up a single entry with an empty auth set and returns the result code. */
static int fixup_one(const char *scheme, const char *id)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *in = mk_acl(1, ACL_ALL, scheme, id), *out = NULL;
    int rc = fixup(in, &a, &out);
    if (rc == ZOO_OK && out == NULL) FAIL("acl_fixup returned OK without a list");
    if (rc != ZOO_OK && out != NULL) FAIL("acl_fixup returned %d with a list", rc);
    acl_unref(out);
    acl_unref(in);
    return rc;
}

static void assert_entry(const struct acl_list *l, uint32_t i, int32_t perms, const char *scheme,
                         const char *id)
{
    if (i >= l->count) FAIL("entry %u missing (count %u)", i, l->count);
    ASSERT_EQ_I64(l->e[i].perms, perms);
    ASSERT_EQ_STR(l->e[i].scheme, scheme);
    ASSERT_EQ_STR(l->e[i].id, id);
}

/* ---- digest provider ---- */

TEST(acl, digest_golden_super_test)
{
    char out[128];
    ASSERT_TRUE(acl_digest("super:test", 10, out, sizeof(out)));
    ASSERT_EQ_STR(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
}

TEST(acl, digest_golden_bob_secret)
{
    char out[128];
    ASSERT_TRUE(acl_digest("bob:secret", 10, out, sizeof(out)));
    ASSERT_EQ_STR(out, "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
}

TEST(acl, digest_uses_only_len_bytes_and_respects_cap)
{
    char out[64];
    /* "super:testXYZ" with len 10 is "super:test". */
    ASSERT_TRUE(acl_digest("super:testXYZ", 10, out, sizeof(out)));
    ASSERT_EQ_STR(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    /* "super:" + 28 base64 chars + NUL = 35 bytes. */
    ASSERT_TRUE(acl_digest("super:test", 10, out, 35));
    ASSERT_EQ_STR(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    ASSERT_FALSE(acl_digest("super:test", 10, out, 34));
}

TEST(acl, digest_without_colon_hashes_whole_input_like_zookeeper)
{
    /* DigestAuthenticationProvider.generateDigest("user"): split(":", 2)[0] is
     * "user", the hash covers the whole input. (acl.h's comment says this case
     * returns false; ZooKeeper accepts it, and so does the code.) */
    char out[64];
    ASSERT_TRUE(acl_digest("user", 4, out, sizeof(out)));
    ASSERT_EQ_STR(out, "user:Et6pb+wgWTVmq3VpLJlJWWgzrck=");
}

TEST(acl, digest_golden_password_longer_than_a_sha1_block)
{
    /* 105 bytes: two 64-byte blocks, the second with the padding. */
    const char *up = "carol:p4ssw0rd-p4ssw0rd-p4ssw0rd-p4ssw0rd-p4ssw0rd-p4ssw0rd-p4ssw0rd-"
                     "p4ssw0rd-p4ssw0rd-p4ssw0rd-p4ssw0rd-";
    char out[64];
    ASSERT_EQ_I64(strlen(up), 105);
    ASSERT_TRUE(acl_digest(up, 105, out, sizeof(out)));
    ASSERT_EQ_STR(out, "carol:aapk7w+YJc1JjRE1i7QLl/Bmer0=");
}

/* ---- encode / decode ---- */

TEST(acl, encode_golden_world_anyone)
{
    struct jute_buf b;
    jute_buf_init(&b);
    acl_encode(&b, acl_open_unsafe());
    /* clang-format off */
    static const uint8_t want[] = {0, 0, 0, 1,  0,   0,   0,   0x1f, 0,   0,   0,  5,
                                   'w', 'o', 'r', 'l', 'd', 0,   0,   0,    6,   'a', 'n', 'y',
                                   'o', 'n', 'e'};
    /* clang-format on */
    ASSERT_EQ_I64(b.len, sizeof(want));
    ASSERT_EQ_MEM(b.p, want, sizeof(want));
    jute_buf_deinit(&b);
}

TEST(acl, decode_round_trip)
{
    struct acl_list *l = mk_acl(3, ACL_READ, "world", "anyone", ACL_ALL, "digest",
                                "bob:abc=", ACL_WRITE | ACL_ADMIN, "ip", "10.0.0.0/8");
    ASSERT_EQ_I64(l->count, 3);
    ASSERT_EQ_I64(l->refs, 1);
    assert_entry(l, 0, ACL_READ, "world", "anyone");
    assert_entry(l, 1, ACL_ALL, "digest", "bob:abc=");
    assert_entry(l, 2, ACL_WRITE | ACL_ADMIN, "ip", "10.0.0.0/8");
    struct jute_buf b;
    jute_buf_init(&b);
    acl_encode(&b, l);
    struct jute_reader r;
    jute_reader_init(&r, b.p, b.len);
    struct acl_list *back = NULL;
    ASSERT_OK(acl_decode(&r, &back));
    ASSERT_EQ_I64(r.left, 0);
    ASSERT_TRUE(acl_equal(l, back));
    acl_unref(back);
    acl_unref(l);
    jute_buf_deinit(&b);
}

TEST(acl, decode_null_vector_and_null_strings)
{
    static const uint8_t null_vec[] = {0xff, 0xff, 0xff, 0xff};
    struct jute_reader r;
    jute_reader_init(&r, null_vec, sizeof(null_vec));
    struct acl_list *l = (struct acl_list *)1;
    ASSERT_OK(acl_decode(&r, &l));
    ASSERT_NULL(l);
    /* kazoo sends Id("auth", "") with a null id string: decodes as "". */
    /* clang-format off */
    static const uint8_t auth_null[] = {0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 4, 'a', 'u', 't', 'h',
                                        0xff, 0xff, 0xff, 0xff};
    /* clang-format on */
    jute_reader_init(&r, auth_null, sizeof(auth_null));
    ASSERT_OK(acl_decode(&r, &l));
    ASSERT_NOT_NULL(l);
    assert_entry(l, 0, ACL_ALL, "auth", "");
    acl_unref(l);
}

TEST(acl, decode_malformed_returns_eproto)
{
    struct jute_reader r;
    struct acl_list *l = NULL;
    /* Count 2 but only one entry. */
    /* clang-format off */
    static const uint8_t short_vec[] = {0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 'w', 0, 0, 0, 1, 'a',
                                        0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    /* clang-format on */
    jute_reader_init(&r, short_vec, sizeof(short_vec));
    ASSERT_EQ_I64(acl_decode(&r, &l), ZK_EPROTO);
    ASSERT_NULL(l);
    /* Truncated inside the scheme string. */
    static const uint8_t trunc[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, 'w', 'o'};
    jute_reader_init(&r, trunc, sizeof(trunc));
    ASSERT_EQ_I64(acl_decode(&r, &l), ZK_EPROTO);
    ASSERT_NULL(l);
    /* A negative count other than -1. */
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    jute_reader_init(&r, neg, sizeof(neg));
    ASSERT_EQ_I64(acl_decode(&r, &l), ZK_EPROTO);
    /* Empty input. */
    jute_reader_init(&r, neg, 0);
    ASSERT_EQ_I64(acl_decode(&r, &l), ZK_EPROTO);
    ASSERT_NULL(l);
}

TEST(acl, decode_rejects_more_than_the_entry_limit)
{
    /* A count above ZK_LIMIT_ACL_ENTRIES_MAX with enough bytes behind it. */
    uint32_t n = ZK_LIMIT_ACL_ENTRIES_MAX + 1;
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, (int32_t)n);
    for (uint32_t i = 0; i < n; i++) {
        jute_write_i32(&b, 1);
        jute_write_cstr(&b, "");
        jute_write_cstr(&b, "");
    }
    struct jute_reader r;
    jute_reader_init(&r, b.p, b.len);
    struct acl_list *l = NULL;
    ASSERT_EQ_I64(acl_decode(&r, &l), ZK_EPROTO);
    ASSERT_NULL(l);
    jute_buf_deinit(&b);
}

TEST(acl, decode_allocation_failures_are_clean)
{
    /* Fail the Nth allocation for N = 1, 2, ... until decode succeeds. */
    struct jute_buf b;
    jute_buf_init(&b);
    jute_write_i32(&b, 2);
    jute_write_i32(&b, 1);
    jute_write_cstr(&b, "digest");
    jute_write_cstr(&b, "u:p");
    jute_write_i32(&b, 2);
    jute_write_cstr(&b, "world");
    jute_write_cstr(&b, "anyone");
    uint64_t before = zk_mem_bytes_in_use();
    int rc = ZK_ENOMEM;
    uint64_t n;
    for (n = 1; n < 100 && rc == ZK_ENOMEM; n++) {
        struct jute_reader r;
        jute_reader_init(&r, b.p, b.len);
        struct acl_list *l = NULL;
        zk_mem_fail_after(n);
        rc = acl_decode(&r, &l);
        zk_mem_fail_after(0);
        if (rc == ZK_ENOMEM) {
            ASSERT_NULL(l);
            ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ_I64(l->count, 2);
            acl_unref(l);
        }
    }
    ASSERT_OK(rc);
    ASSERT_GT_I64(n, 2); /* at least one failure was injected */
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
    jute_buf_deinit(&b);
}

TEST(acl, encode_redacted_hides_digest_hashes)
{
    struct acl_list *l = mk_acl(3, ACL_ALL, "digest", "user:D/InIHSb7yEEbrWz8b9l71RjZJU=", ACL_READ,
                                "world", "anyone", ACL_READ, "ip", "10.0.0.1");
    struct jute_buf b;
    jute_buf_init(&b);
    acl_encode_redacted(&b, l);
    struct jute_reader r;
    jute_reader_init(&r, b.p, b.len);
    struct acl_list *back = NULL;
    ASSERT_OK(acl_decode(&r, &back));
    ASSERT_EQ_I64(r.left, 0);
    assert_entry(back, 0, ACL_ALL, "digest", "user:x");
    assert_entry(back, 1, ACL_READ, "world", "anyone");
    assert_entry(back, 2, ACL_READ, "ip", "10.0.0.1");
    acl_unref(back);
    acl_unref(l);
    jute_buf_deinit(&b);
}

/* ---- refcounting and equality ---- */

TEST(acl, ref_unref_frees_on_last_reference)
{
    uint64_t before = zk_mem_bytes_in_use();
    struct acl_list *l = mk_acl(1, ACL_READ, "digest", "a:b");
    ASSERT_GT_I64(zk_mem_bytes_in_use(), before);
    ASSERT_TRUE(acl_ref(l) == l);
    ASSERT_EQ_I64(l->refs, 2);
    acl_unref(l);
    ASSERT_EQ_I64(l->refs, 1);
    acl_unref(l);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
    acl_unref(NULL); /* no-op */
}

TEST(acl, equal_compares_perms_scheme_and_id_in_order)
{
    struct acl_list *a = mk_acl(2, 1, "world", "anyone", 31, "digest", "a:b");
    struct acl_list *b = mk_acl(2, 1, "world", "anyone", 31, "digest", "a:b");
    struct acl_list *c = mk_acl(2, 31, "digest", "a:b", 1, "world", "anyone");
    struct acl_list *d = mk_acl(2, 1, "world", "anyone", 30, "digest", "a:b");
    ASSERT_TRUE(acl_equal(a, b));
    ASSERT_TRUE(acl_equal(a, a));
    ASSERT_FALSE(acl_equal(a, c));
    ASSERT_FALSE(acl_equal(a, d));
    ASSERT_FALSE(acl_equal(a, NULL));
    acl_unref(a);
    acl_unref(b);
    acl_unref(c);
    acl_unref(d);
}

TEST(acl, auth_set_dedupes_and_detects_super)
{
    struct auth_set a;
    auth_set_init(&a);
    ASSERT_FALSE(auth_set_is_super(&a));
    for (int i = 0; i < 10; i++)
        ASSERT_TRUE(auth_set_add(&a, "ip", "127.0.0.1"));
    ASSERT_EQ_I64(a.count, 1);
    ASSERT_TRUE(auth_set_add(&a, "digest", "u:h"));
    ASSERT_TRUE(auth_set_add(&a, "digest", "v:h"));
    ASSERT_TRUE(auth_set_add(&a, "digest", "w:h"));
    ASSERT_TRUE(auth_set_add(&a, "digest", "x:h")); /* past the initial capacity */
    ASSERT_EQ_I64(a.count, 5);
    ASSERT_FALSE(auth_set_is_super(&a));
    ASSERT_TRUE(auth_set_add(&a, "super", ""));
    ASSERT_TRUE(auth_set_is_super(&a));
    auth_set_deinit(&a);
    ASSERT_EQ_I64(a.count, 0);
}

/* ---- fixupACL ---- */

TEST(acl, fixup_null_or_empty_is_invalid)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *out = (struct acl_list *)1;
    ASSERT_EQ_I64(fixup(NULL, &a, &out), ZOO_INVALIDACL);
    ASSERT_NULL(out);
    ASSERT_EQ_I64(ZOO_INVALIDACL, -114);
    struct acl_list *empty = mk_acl(0);
    ASSERT_EQ_I64(fixup(empty, &a, &out), ZOO_INVALIDACL);
    ASSERT_NULL(out);
    acl_unref(empty);
}

TEST(acl, fixup_world_only_with_anyone)
{
    ASSERT_EQ_I64(fixup_one("world", "anyone"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("world", "someone"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("world", ""), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("world", "Anyone"), ZOO_INVALIDACL);
}

TEST(acl, fixup_keeps_valid_entries_in_order)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *in = mk_acl(3, ACL_READ, "world", "anyone", ACL_ALL, "digest",
                                 "u:h=", ACL_ADMIN, "ip", "10.0.0.0/8");
    struct acl_list *out = NULL;
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_OK);
    ASSERT_EQ_I64(out->count, 3);
    assert_entry(out, 0, ACL_READ, "world", "anyone");
    assert_entry(out, 1, ACL_ALL, "digest", "u:h=");
    assert_entry(out, 2, ACL_ADMIN, "ip", "10.0.0.0/8");
    ASSERT_EQ_I64(out->refs, 1);
    acl_unref(out);
    acl_unref(in);
}

TEST(acl, fixup_auth_expands_to_authenticated_ids_only)
{
    struct auth_set a;
    auth_set_init(&a);
    ASSERT_TRUE(auth_set_add(&a, "ip", "127.0.0.1"));
    ASSERT_TRUE(auth_set_add(&a, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="));
    ASSERT_TRUE(auth_set_add(&a, "digest", "amy:xyz="));
    struct acl_list *in = mk_acl(1, ACL_READ | ACL_WRITE, "auth", "");
    struct acl_list *out = NULL;
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_OK);
    ASSERT_EQ_I64(out->count, 2); /* the ip id is not an authenticated id */
    assert_entry(out, 0, ACL_READ | ACL_WRITE, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
    assert_entry(out, 1, ACL_READ | ACL_WRITE, "digest", "amy:xyz=");
    acl_unref(out);
    acl_unref(in);
    auth_set_deinit(&a);
}

TEST(acl, fixup_auth_without_authenticated_ids_is_invalid)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *in = mk_acl(1, ACL_ALL, "auth", "");
    struct acl_list *out = NULL;
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_INVALIDACL); /* no ids at all */
    ASSERT_TRUE(auth_set_add(&a, "ip", "127.0.0.1"));
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_INVALIDACL); /* only ip */
    ASSERT_TRUE(auth_set_add(&a, "super", ""));
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_INVALIDACL); /* super is no provider */
    ASSERT_NULL(out);
    acl_unref(in);
    auth_set_deinit(&a);
}

TEST(acl, fixup_auth_id_text_is_ignored)
{
    /* Id("auth", anything) expands the same way as Id("auth", ""). */
    struct auth_set a;
    auth_set_init(&a);
    ASSERT_TRUE(auth_set_add(&a, "digest", "bob:h="));
    struct acl_list *in = mk_acl(1, ACL_ALL, "auth", "whatever");
    struct acl_list *out = NULL;
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_OK);
    ASSERT_EQ_I64(out->count, 1);
    assert_entry(out, 0, ACL_ALL, "digest", "bob:h=");
    acl_unref(out);
    acl_unref(in);
    auth_set_deinit(&a);
}

TEST(acl, fixup_removes_duplicates)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *in = mk_acl(4, ACL_ALL, "world", "anyone", ACL_ALL, "world", "anyone",
                                 ACL_READ, "world", "anyone", ACL_ALL, "world", "anyone");
    struct acl_list *out = NULL;
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_OK);
    /* Exact duplicates collapse; a different perms value is a different ACL. */
    ASSERT_EQ_I64(out->count, 2);
    assert_entry(out, 0, ACL_ALL, "world", "anyone");
    assert_entry(out, 1, ACL_READ, "world", "anyone");
    acl_unref(out);
    acl_unref(in);
}

TEST(acl, fixup_digest_id_needs_exactly_two_java_split_parts)
{
    /* Java: id.split(":").length == 2; trailing empty strings are dropped. */
    ASSERT_EQ_I64(fixup_one("digest", "a:b"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("digest", ":b"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("digest", "a:b:"), ZOO_OK); /* ["a","b"] */
    ASSERT_EQ_I64(fixup_one("digest", "a"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("digest", "a:b:c"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("digest", "a:"), ZOO_INVALIDACL);  /* ["a"] */
    ASSERT_EQ_I64(fixup_one("digest", "a::"), ZOO_INVALIDACL); /* ["a"] */
    ASSERT_EQ_I64(fixup_one("digest", "a::b"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("digest", ""), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("digest", ":"), ZOO_INVALIDACL);
}

TEST(acl, fixup_ip_id_must_parse)
{
    ASSERT_EQ_I64(fixup_one("ip", "10.0.0.1"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("ip", "10.0.0.0/8"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("ip", "10.0.0.0/32"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("ip", "::1"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("ip", "fe80::/10"), ZOO_OK);
    ASSERT_EQ_I64(fixup_one("ip", "10.0.0.0/33"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("ip", "::1/129"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("ip", "x"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("ip", ""), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("ip", "10.0.0.1/"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("ip", "10.0.0.1/x"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("ip", "300.0.0.1"), ZOO_INVALIDACL);
}

TEST(acl, fixup_unknown_scheme_is_invalid)
{
    ASSERT_EQ_I64(fixup_one("foo", "bar"), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("super", ""), ZOO_INVALIDACL);
    ASSERT_EQ_I64(fixup_one("", ""), ZOO_INVALIDACL);
}

TEST(acl, fixup_one_bad_entry_rejects_the_whole_list)
{
    struct auth_set a;
    auth_set_init(&a);
    uint64_t before = zk_mem_bytes_in_use();
    struct acl_list *in =
        mk_acl(3, ACL_ALL, "world", "anyone", ACL_ALL, "digest", "a:b", ACL_ALL, "ip", "nope");
    struct acl_list *out = NULL;
    ASSERT_EQ_I64(fixup(in, &a, &out), ZOO_INVALIDACL);
    ASSERT_NULL(out);
    acl_unref(in);
    ASSERT_EQ_I64(zk_mem_bytes_in_use(), before);
}

/* ---- checkACL ---- */

TEST(acl, check_empty_or_null_list_allows)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *empty = mk_acl(0);
    ASSERT_TRUE(acl_check(empty, ACL_ADMIN, &a));
    ASSERT_TRUE(acl_check(NULL, ACL_ADMIN, &a));
    acl_unref(empty);
}

TEST(acl, check_world_respects_perm_bits)
{
    struct auth_set a;
    auth_set_init(&a);
    struct acl_list *l = acl_read_unsafe();
    ASSERT_TRUE(acl_check(l, ACL_READ, &a));
    ASSERT_FALSE(acl_check(l, ACL_WRITE, &a));
    ASSERT_FALSE(acl_check(l, ACL_CREATE, &a));
    ASSERT_FALSE(acl_check(l, ACL_DELETE, &a));
    ASSERT_FALSE(acl_check(l, ACL_ADMIN, &a));
    struct acl_list *cd = mk_acl(1, ACL_CREATE | ACL_DELETE, "world", "anyone");
    ASSERT_TRUE(acl_check(cd, ACL_CREATE, &a));
    ASSERT_TRUE(acl_check(cd, ACL_DELETE, &a));
    ASSERT_FALSE(acl_check(cd, ACL_READ, &a));
    acl_unref(cd);
    ASSERT_TRUE(acl_check(acl_open_unsafe(), ACL_ADMIN, &a));
}

TEST(acl, check_digest_exact_match)
{
    struct acl_list *l = mk_acl(1, ACL_READ, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
    struct auth_set a;
    auth_set_init(&a);
    ASSERT_FALSE(acl_check(l, ACL_READ, &a));
    ASSERT_TRUE(auth_set_add(&a, "digest", "bob:wrong="));
    ASSERT_FALSE(acl_check(l, ACL_READ, &a));
    ASSERT_TRUE(auth_set_add(&a, "ip", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=")); /* wrong scheme */
    ASSERT_FALSE(acl_check(l, ACL_READ, &a));
    ASSERT_TRUE(auth_set_add(&a, "digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="));
    ASSERT_TRUE(acl_check(l, ACL_READ, &a));
    ASSERT_FALSE(acl_check(l, ACL_WRITE, &a)); /* right id, missing bit */
    acl_unref(l);
    auth_set_deinit(&a);
}

TEST(acl, check_ip_cidr_v4_and_v6)
{
    struct acl_list *l = mk_acl(2, ACL_READ, "ip", "10.0.0.0/8", ACL_WRITE, "ip", "fe80::/10");
    struct auth_set in4, out4, in6, out6;
    auth_set_init(&in4);
    auth_set_init(&out4);
    auth_set_init(&in6);
    auth_set_init(&out6);
    ASSERT_TRUE(auth_set_add(&in4, "ip", "10.200.3.4"));
    ASSERT_TRUE(auth_set_add(&out4, "ip", "11.0.0.1"));
    ASSERT_TRUE(auth_set_add(&in6, "ip", "fe80::1234"));
    ASSERT_TRUE(auth_set_add(&out6, "ip", "2001:db8::1"));
    ASSERT_TRUE(acl_check(l, ACL_READ, &in4));
    ASSERT_FALSE(acl_check(l, ACL_READ, &out4));
    ASSERT_FALSE(acl_check(l, ACL_WRITE, &in4)); /* v4 never matches a v6 pattern */
    ASSERT_TRUE(acl_check(l, ACL_WRITE, &in6));
    ASSERT_FALSE(acl_check(l, ACL_WRITE, &out6));
    ASSERT_FALSE(acl_check(l, ACL_READ, &in6));
    acl_unref(l);
    auth_set_deinit(&in4);
    auth_set_deinit(&out4);
    auth_set_deinit(&in6);
    auth_set_deinit(&out6);
}

TEST(acl, ip_match_prefix_lengths)
{
    ASSERT_TRUE(acl_ip_match("10.0.0.1", "10.0.0.1"));
    ASSERT_FALSE(acl_ip_match("10.0.0.1", "10.0.0.2"));
    ASSERT_TRUE(acl_ip_match("10.0.0.1/32", "10.0.0.1"));
    ASSERT_TRUE(acl_ip_match("0.0.0.0/0", "192.168.1.1"));
    ASSERT_TRUE(acl_ip_match("172.16.0.0/12", "172.31.255.255"));
    ASSERT_FALSE(acl_ip_match("172.16.0.0/12", "172.32.0.0"));
    ASSERT_TRUE(acl_ip_match("192.168.1.0/25", "192.168.1.127"));
    ASSERT_FALSE(acl_ip_match("192.168.1.0/25", "192.168.1.128"));
    ASSERT_TRUE(acl_ip_match("::1", "::1"));
    ASSERT_TRUE(acl_ip_match("2001:db8::/32", "2001:db8:ffff::5"));
    ASSERT_FALSE(acl_ip_match("2001:db8::/32", "2001:db9::5"));
    ASSERT_FALSE(acl_ip_match("10.0.0.0/8", "not-an-ip"));
    ASSERT_FALSE(acl_ip_match("garbage", "10.0.0.1"));
    ASSERT_TRUE(acl_ip_valid("10.1.2.3"));
    ASSERT_FALSE(acl_ip_valid("10.1.2"));
}

TEST(acl, check_super_bypasses_everything)
{
    struct acl_list *l = mk_acl(1, ACL_READ, "digest", "bob:h=");
    struct auth_set a;
    auth_set_init(&a);
    ASSERT_FALSE(acl_check(l, ACL_ADMIN, &a));
    ASSERT_TRUE(auth_set_add(&a, "super", ""));
    ASSERT_TRUE(acl_check(l, ACL_ADMIN, &a));
    ASSERT_TRUE(acl_check(l, ACL_DELETE, &a));
    acl_unref(l);
    auth_set_deinit(&a);
}

TEST(acl, check_any_matching_entry_suffices)
{
    struct acl_list *l = mk_acl(2, ACL_READ, "digest", "bob:h=", ACL_READ, "ip", "127.0.0.1");
    struct auth_set a;
    auth_set_init(&a);
    ASSERT_TRUE(auth_set_add(&a, "ip", "127.0.0.1"));
    ASSERT_TRUE(acl_check(l, ACL_READ, &a));
    acl_unref(l);
    auth_set_deinit(&a);
}
