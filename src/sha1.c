/* sha1.c — SHA-1 as FIPS 180-4 §5.1.1 (padding), §6.1 (computation), and the
 * RFC 4648 base64 encoder; see sha1.h for why zkd has its own. */
#include "sha1.h"

#include <string.h>

#include "base.h"

#define SHA1_BLOCK_BYTES 64

static uint32_t sha1_rotl(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static uint32_t sha1_load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* §6.1.2: folds one 512-bit block into the hash value h. */
static void sha1_block(uint32_t h[5], const uint8_t *block) {
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = sha1_load_be32(block + 4 * t);
    for (int t = 16; t < 80; t++)
        w[t] = sha1_rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k; /* §4.1.1 functions, §4.2.1 constants */
        if (t < 20) {
            f = (b & c) ^ (~b & d); /* Ch */
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d; /* Parity */
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) ^ (b & d) ^ (c & d); /* Maj */
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d; /* Parity */
            k = 0xca62c1d6;
        }
        uint32_t temp = sha1_rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = sha1_rotl(b, 30);
        b = a;
        a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_digest(const void *data, size_t len, uint8_t out[SHA1_DIGEST_BYTES]) {
    const uint8_t *p = data;
    ZK_ASSERT(p != NULL || len == 0);
    ZK_ASSERT((uint64_t)len < UINT64_C(1) << 61); /* the bit length fits 64 bits */
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}; /* §5.3.1 */
    size_t whole = len - len % SHA1_BLOCK_BYTES;
    for (size_t i = 0; i < whole; i += SHA1_BLOCK_BYTES)
        sha1_block(h, p + i);
    /* §5.1.1: the rest, a 1 bit, zeros up to 56 mod 64 bytes, then the message
     * length in bits as a big-endian 64-bit integer: one block or two. */
    uint8_t tail[2 * SHA1_BLOCK_BYTES] = {0};
    size_t rest = len - whole;
    if (rest > 0)
        memcpy(tail, p + whole, rest);
    tail[rest] = 0x80;
    size_t tail_bytes = rest < SHA1_BLOCK_BYTES - 8 ? SHA1_BLOCK_BYTES : 2 * SHA1_BLOCK_BYTES;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_bytes - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < tail_bytes; i += SHA1_BLOCK_BYTES)
        sha1_block(h, tail + i);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

size_t sha1_base64_encode(const void *data, size_t len, char *out) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    ZK_ASSERT(p != NULL || len == 0);
    size_t n = 0;
    /* Each 3 bytes (24 bits) become 4 characters of 6 bits; a final group of 1
     * or 2 bytes is zero-filled and its missing characters are '='. */
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t v = (uint32_t)p[i] << 16;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[n++] = alphabet[v >> 18];
        out[n++] = alphabet[(v >> 12) & 63];
        out[n++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
        out[n++] = left > 2 ? alphabet[v & 63] : '=';
    }
    out[n] = '\0';
    ZK_ASSERT(n == SHA1_BASE64_LEN(len));
    return n;
}
