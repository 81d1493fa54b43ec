/* SPDX-License-Identifier: Apache-2.0 */
/* lib/hash.h: SHA-256 and base64 on OpenSSL libcrypto. Does not log. */
#ifndef SLIPWAY_HASH_H
#define SLIPWAY_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

struct sha256_ctx {
	void *md; /* EVP_MD_CTX */
};

int sha256_init(struct sha256_ctx *c);
int sha256_update(struct sha256_ctx *c, const void *data, size_t n);
/* Writes 64 lower-case hex chars + NUL and releases the context. */
int sha256_final_hex(struct sha256_ctx *c, char out[SHA256_HEX_LEN + 1]);
void sha256_release(struct sha256_ctx *c);
int sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);
/* a and b hold the same n bytes, compared in a time that does not depend on where they differ (secrets) */
bool mem_equal_ct(const void *a, const void *b, size_t n);

/* Standard base64 (RFC 4648 §4, padded). Decode returns the decoded length in *ret_len;
 * -EINVAL for anything that is not canonical padded base64. */
int base64_encode(const void *data, size_t n, char *out, size_t out_size);
int base64_decode(const char *s, unsigned char *out, size_t out_size, size_t *ret_len);
/* URL-safe alphabet, no padding. */
int base64url_encode(const void *data, size_t n, char *out, size_t out_size);

/* 64-bit FNV-1a: continues h over n bytes (start with HASH_FNV1A_BASIS). For in-memory tables, never stored. */
#define HASH_FNV1A_BASIS 14695981039346656037ULL
uint64_t hash_fnv1a(uint64_t h, const void *data, size_t n);

/* 64-bit FNV-1a of a string: lock keys (PROTOCOL §8). */
int64_t hash_lock_key(const char *name);

#endif
