/* sim_rng.c — the simulator's only source of randomness: splitmix64 expands
 * the seed into xoshiro256** state; FNV-1a and a 64-bit mixer for hashes. */
#include "sim.h"

static uint64_t sim_splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_splitmix(&x);
}

static uint64_t sim_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_next(struct sim_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

uint64_t sim_rng_below(struct sim_rng *r, uint64_t n) {
    if (n <= 1)
        return 0;
    /* Lemire's multiply-shift; the tiny bias is irrelevant for fault choice. */
    return (uint64_t)(((__uint128_t)sim_rng_next(r) * n) >> 64);
}

bool sim_rng_chance(struct sim_rng *r, double p) {
    if (p <= 0)
        return false;
    return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0) < p;
}

uint64_t sim_hash_bytes(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    if (h == 0)
        h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t sim_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
