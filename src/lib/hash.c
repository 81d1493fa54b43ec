/* SPDX-License-Identifier: Apache-2.0 */
/* lib/hash.c: SHA-256 through EVP, base64 through EVP_EncodeBlock/DecodeBlock. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hash.h"
#include "banned.h"

int sha256_init(struct sha256_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return -EIO;
	}
	c->md = md;
	return 0;
}

int sha256_update(struct sha256_ctx *c, const void *data, size_t n)
{
	return EVP_DigestUpdate(c->md, data, n) == 1 ? 0 : -EIO;
}

void sha256_release(struct sha256_ctx *c)
{
	if (c->md)
		EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

int sha256_final_hex(struct sha256_ctx *c, char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	unsigned int n = 0;
	int r = 0;

	if (EVP_DigestFinal_ex(c->md, d, &n) != 1 || n != 32)
		r = -EIO;
	else {
		for (unsigned i = 0; i < 32; i++) {
			out[2 * i] = hex[d[i] >> 4];
			out[2 * i + 1] = hex[d[i] & 15];
		}
		out[64] = '\0';
	}
	sha256_release(c);
	return r;
}

int sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx c = { 0 };
	int r;

	r = sha256_init(&c);
	if (r < 0)
		return r;
	r = sha256_update(&c, data, n);
	if (r < 0) {
		sha256_release(&c);
		return r;
	}
	return sha256_final_hex(&c, out);
}

bool mem_equal_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int base64_encode(const void *data, size_t n, char *out, size_t out_size)
{
	size_t need = 4 * ((n + 2) / 3) + 1;

	if (out_size < need)
		return -ENAMETOOLONG;
	EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	return 0;
}

int base64_decode(const char *s, unsigned char *out, size_t out_size, size_t *ret_len)
{
	size_t n = strlen(s), pad = 0, len;
	unsigned char *tmp;
	int k;

	if (n == 0) {
		*ret_len = 0;
		return 0;
	}
	if (n % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			if (i < n - 2)
				return -EINVAL;
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		      c == '/'))
			return -EINVAL;
	}
	len = n / 4 * 3 - pad;
	if (len > out_size)
		return -ENAMETOOLONG;
	tmp = OPENSSL_malloc(n / 4 * 3 + 1);
	if (!tmp)
		return -ENOMEM;
	k = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (k < 0 || (size_t)k != n / 4 * 3) {
		OPENSSL_free(tmp);
		return -EINVAL;
	}
	memcpy(out, tmp, len);
	OPENSSL_free(tmp);
	*ret_len = len;
	return 0;
}

int base64url_encode(const void *data, size_t n, char *out, size_t out_size)
{
	size_t need = 4 * ((n + 2) / 3) + 1;
	char tmp[1024];
	size_t len;
	int r;

	if (need > sizeof(tmp))
		return -ENAMETOOLONG;
	r = base64_encode(data, n, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	len = strlen(tmp);
	while (len && tmp[len - 1] == '=')
		len--;
	if (len + 1 > out_size)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++)
		out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
	out[len] = '\0';
	return 0;
}

uint64_t hash_fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

int64_t hash_lock_key(const char *name)
{
	/* not the standard offset basis (a digit short): kept, every replica must compute the same keys */
	return (int64_t)hash_fnv1a(1469598103934665603ULL, name, strlen(name));
}
