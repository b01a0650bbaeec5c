/* test_sha1.c — SHA-1 and base64 (sha1.h), which replace libcrypto for acl_digest.
 * Goal: bit-exact SHA-1 on the FIPS 180 / RFC 3174 vectors and on every message
 * length across the padding boundaries (55/56 and 63/64 bytes mod 64, where the
 * padding takes one block or two), and RFC 4648 base64.
 * Method: the expected values below were computed with python3's hashlib
 * (hashlib.sha1(...).hexdigest()) and base64 modules. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "sha1.h"

/* ---- Helpers ---- */

static void to_hex(const uint8_t md[SHA1_DIGEST_BYTES], char hex[2 * SHA1_DIGEST_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA1_DIGEST_BYTES; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * SHA1_DIGEST_BYTES] = '\0';
}

static void assert_sha1(const void *data, size_t len, const char *hex_expected)
{
    uint8_t md[SHA1_DIGEST_BYTES];
    char hex[2 * SHA1_DIGEST_BYTES + 1];
    sha1_digest(data, len, md);
    to_hex(md, hex);
    ASSERT_EQ_STR(hex, hex_expected);
}

/* The fixed byte pattern of the length tests: p[i] = i * 31 + 7 (mod 256). */
#define PATTERN_BYTES 200
static void fill_pattern(uint8_t *p)
{
    for (int i = 0; i < PATTERN_BYTES; i++)
        p[i] = (uint8_t)(i * 31 + 7);
}

/* ---- SHA-1 ---- */

TEST(sha1, fips_180_vectors)
{
    assert_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_sha1(NULL, 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* 448 bits: exactly 56 bytes, so the padding needs a second block. */
    assert_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST(sha1, one_million_a)
{
    size_t len = 1000000;
    char *m = malloc(len);
    ASSERT_NOT_NULL(m);
    memset(m, 'a', len);
    uint8_t md[SHA1_DIGEST_BYTES];
    char hex[2 * SHA1_DIGEST_BYTES + 1];
    sha1_digest(m, len, md);
    free(m);
    to_hex(md, hex);
    ASSERT_EQ_STR(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(sha1, lengths_around_the_padding_boundaries)
{
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {1, "5d1be7e9dda1ee8896be5b7e34a85ee16452a7b4"},
        {54, "d55036939dd1f1b82217b436fd60b32b5d015ab1"},
        {55, "749bbefb28edc4638b28b2b9a9e03ab9a4032b90"},
        {56, "a5b6e9c29d201c774753ff8e7fb64931656f5e63"},
        {57, "eb0737bed5451790722b2df351829ce117e3d9dd"},
        {63, "d1a454409359fc372b4d22b3cea6488d6ba1be00"},
        {64, "39a0d8b645ad85f1f976731ed112ac9455e28b78"},
        {65, "d0c96e18890114a14716e9686528d2e3fdba8d9e"},
        {119, "562ecf8a430f8e1056e3619bae33628e9a1d0a4e"},
        {120, "353f6d2bf0e91aa91b74a2e0b3f297510f7d825f"},
        {127, "bebc42d2d3d1e5fb8ad8895c2dcef2d68a6c279a"},
        {128, "0060f2a7e34b6e4d459f560197ef93243732a400"},
        {129, "3a16082d1bf09b604907ec6908b9893ca3e937c0"},
        {130, "6a259313b592f17840cde208eed964698df0148a"},
    };
    uint8_t p[PATTERN_BYTES];
    fill_pattern(p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_sha1(p, cases[i].len, cases[i].hex);
}

TEST(sha1, every_length_0_to_200_rolled_into_one_digest)
{
    /* python3: pat = bytes((i*31+7) & 0xff for i in range(200));
     * sha1(b''.join(sha1(pat[:n]).digest() for n in range(201))) */
    uint8_t p[PATTERN_BYTES];
    fill_pattern(p);
    static uint8_t all[(PATTERN_BYTES + 1) * SHA1_DIGEST_BYTES];
    for (size_t n = 0; n <= PATTERN_BYTES; n++)
        sha1_digest(p, n, all + n * SHA1_DIGEST_BYTES);
    assert_sha1(all, sizeof(all), "46521005cfa6bba4a9497b0bf09ae77fca55f3b1");
}

TEST(sha1, reads_only_len_bytes)
{
    uint8_t p[PATTERN_BYTES];
    fill_pattern(p);
    p[64] ^= 0xff; /* a byte just past the message must not matter */
    assert_sha1(p, 64, "39a0d8b645ad85f1f976731ed112ac9455e28b78");
}

/* ---- base64 ---- */

TEST(sha1, base64_rfc_4648_vectors)
{
    static const char *const cases[][2] = {
        {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[16];
        memset(out, 'X', sizeof(out));
        size_t in_len = strlen(cases[i][0]);
        size_t n = sha1_base64_encode(cases[i][0], in_len, out);
        ASSERT_EQ_I64(n, SHA1_BASE64_LEN(in_len));
        ASSERT_EQ_I64(n, strlen(cases[i][1]));
        ASSERT_EQ_STR(out, cases[i][1]);
    }
    char out[1] = {'X'};
    ASSERT_EQ_I64(sha1_base64_encode(NULL, 0, out), 0);
    ASSERT_EQ_I64(out[0], '\0');
}

TEST(sha1, base64_uses_the_whole_standard_alphabet)
{
    /* 48 bytes whose 6-bit groups are 0, 1, ..., 63 (00 10 83 10 51 87 ...):
     * their base64 text is the alphabet itself. */
    uint8_t in[48];
    for (int g = 0; g < 16; g++) { /* 4 groups of 6 bits per 3 bytes */
        uint32_t v = (uint32_t)(4 * g) << 18 | (uint32_t)(4 * g + 1) << 12 |
                     (uint32_t)(4 * g + 2) << 6 | (uint32_t)(4 * g + 3);
        in[3 * g] = (uint8_t)(v >> 16);
        in[3 * g + 1] = (uint8_t)(v >> 8);
        in[3 * g + 2] = (uint8_t)v;
    }
    char out[SHA1_BASE64_LEN(48) + 1];
    ASSERT_EQ_I64(sha1_base64_encode(in, sizeof(in), out), 64);
    ASSERT_EQ_STR(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}
