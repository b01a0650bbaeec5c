/* sha1.h — one-shot SHA-1 (FIPS 180-4) and base64 (RFC 4648 §4) for the digest
 * auth provider: ZooKeeper's id for "user:password" is "user:" followed by
 * base64(sha1("user:password")) (acl_digest).
 *
 * Why our own: this was zkd's only use of OpenSSL's libcrypto, and merely
 * loading libcrypto.so.3 cost about 1.4 MiB of resident memory (its relocated
 * data pages), some 38% of an idle server's RSS. SHA-1 here is the id format
 * ZooKeeper's DigestAuthenticationProvider fixes, not a security primitive we
 * chose; do not use it for anything else. */
#ifndef ZK_SHA1_H
#define ZK_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_BYTES 20
/* Length of the base64 text of n bytes, without the NUL: 4 * ceil(n / 3). */
#define SHA1_BASE64_LEN(n) (4 * (((n) + 2) / 3))

/* out = SHA-1 of data[0, len). Borrows data for the call; NULL is allowed when
 * len is 0. */
void sha1_digest(const void *data, size_t len, uint8_t out[SHA1_DIGEST_BYTES]);

/* Writes base64(data[0, len)) (standard alphabet, '=' padding, no line breaks)
 * and a NUL into out, which must hold SHA1_BASE64_LEN(len) + 1 bytes. Returns
 * SHA1_BASE64_LEN(len). NULL data is allowed when len is 0. */
size_t sha1_base64_encode(const void *data, size_t len, char *out);

#endif
