/* sha256.h - SHA-256 (FIPS 180-4) for the kernel cache keys and checksums.
 *
 * Internal to libptool (and its tests); not a public API. Streaming use:
 * pt__sha256_init(), any number of pt__sha256_update(), pt__sha256_final().
 * No allocation, no global state: one context per thread.
 *
 * The context type is pt__sha256_ctx (tag struct pt__sha256): a typedef
 * named pt__sha256 would collide with the one-shot function pt__sha256(),
 * as typedefs and functions share one C name space.
 */
#ifndef PT__SHA256_H
#define PT__SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PT__SHA256_BYTES 32 /* digest size */

typedef struct pt__sha256 {
    uint32_t h[8];         /* chaining state */
    uint64_t bytes;        /* message bytes hashed so far */
    unsigned char buf[64]; /* partial block */
    size_t used;           /* bytes in buf, 0..63 */
} pt__sha256_ctx;

/* Starts a new digest in caller-owned *c. */
void pt__sha256_init(pt__sha256_ctx *c);

/* Hashes len bytes at data (NULL is fine when len is 0). */
void pt__sha256_update(pt__sha256_ctx *c, const void *data, size_t len);

/* Writes the 32-byte digest to out; *c must be re-initialised before reuse. */
void pt__sha256_final(pt__sha256_ctx *c, unsigned char out[32]);

/* One-shot digest of len bytes at data into out. */
void pt__sha256(const void *data, size_t len, unsigned char out[32]);

/* Writes n bytes as 2n lowercase hex digits plus a NUL into out (2n+1 bytes). */
void pt__hex(const unsigned char *bytes, size_t n, char *out);

#endif /* PT__SHA256_H */
