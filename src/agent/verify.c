/* SPDX-License-Identifier: Apache-2.0 */
/* agent/verify.c: what a goal demands of an artifact (AGENT.md §8.4): the choice of the signing key,
 * whether a job verifies at all, and the Ed25519 check over the complete artifact (OpenSSL). */
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "download_int.h"
#include "paths.h"
#include "util.h"
#include "banned.h"

/* ---- signing keys (§8.4) ------------------------------------------------------------------- */

int download_select_key(const struct build_verify *v, const char **ret_key, bool *ret_any_trusted)
{
	bool have_list = !clist_is_empty(v->trusted_signing_keys);

	if (!str_empty(v->signing_key)) {
		if (have_list && !clist_contains(v->trusted_signing_keys, v->signing_key))
			return -EPERM;
		*ret_key = v->signing_key;
		*ret_any_trusted = false;
		return 0;
	}
	*ret_key = NULL;
	*ret_any_trusted = have_list;
	return 0;
}

/* An untrusted goal key counts: verify_signature() refuses it later. */
bool download_job_verifies(const struct download_job *job)
{
	struct build_verify v = { .signing_key = job->signing_key, .trusted_signing_keys = job->trusted_signing_keys };
	const char *key = NULL;
	bool any = false;

	if (!str_empty(job->expected_sha256))
		return true;
	return download_select_key(&v, &key, &any) < 0 || key || any;
}

static int verify_one(const unsigned char *msg, size_t len, const unsigned char sig[64], const char *key_b64)
{
	unsigned char raw[64];
	size_t rawlen = 0;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	int r = -EBADMSG;

	if (base64_decode(key_b64, raw, sizeof(raw), &rawlen) < 0 || rawlen != 32)
		return -EINVAL;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	ctx = EVP_MD_CTX_new();
	if (!pk || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, 64, msg, len) == 1)
		r = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

struct verify_ctx {
	const unsigned char *msg;
	size_t len;
	const unsigned char *sig;
	char *found;
	size_t foundsz;
};

static bool key_item_verifies(const char *item, size_t n, const void *c)
{
	const struct verify_ctx *v = c;
	char key[SIGNING_KEY_B64_MAX + 1];

	if (n > SIGNING_KEY_B64_MAX)
		return false;
	memcpy(key, item, n);
	key[n] = '\0';
	if (verify_one(v->msg, v->len, v->sig, key) < 0)
		return false;
	return str_copy(v->found, v->foundsz, key) == 0;
}

/* §8.4 signature over the complete artifact (fd at any position). */
int verify_signature(struct dl *d, int fd)
{
	const struct download_job *job = d->job;
	struct build_verify v = { .signing_key = job->signing_key, .trusted_signing_keys = job->trusted_signing_keys };
	const char *key;
	bool any;
	unsigned char sig[96];
	size_t siglen = 0;
	struct stat st;
	void *map = NULL;
	const unsigned char *msg = (const unsigned char *)"";
	int r;

	r = download_select_key(&v, &key, &any);
	if (r < 0)
		return dl_fail(d, true, r, "server signing key not trusted on this host");
	if (!key && !any)
		return 0;
	if (str_empty(job->signature))
		return dl_fail(d, true, -EPERM, "artifact signature required but the build has none");
	if (base64_decode(job->signature, sig, sizeof(sig), &siglen) < 0 || siglen != 64)
		return dl_fail(d, true, -EPERM, "artifact signature is not 64 bytes of base64");
	if (fstat(fd, &st) < 0)
		return dl_fail(d, false, -errno, "cannot stat artifact: %s", strerror(errno));
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			return dl_fail(d, false, -errno, "cannot map artifact: %s", strerror(errno));
		msg = map;
	}
	if (key) {
		r = verify_one(msg, (size_t)st.st_size, sig, key);
		if (r == -EINVAL)
			r = dl_fail(d, true, -EPERM, "signing key is not a base64 Ed25519 public key");
		else if (r < 0)
			r = dl_fail(d, true, -EPERM, "artifact signature invalid");
		else
			r = str_copy(d->key_used, sizeof(d->key_used), key);
	} else {
		struct verify_ctx c = { msg, (size_t)st.st_size, sig, d->key_used, sizeof(d->key_used) };
		r = clist_any(job->trusted_signing_keys, key_item_verifies, &c)
			    ? 0
			    : dl_fail(d, true, -EPERM, "artifact signature invalid (no trusted key verifies it)");
	}
	if (map)
		munmap(map, (size_t)st.st_size);
	return r;
}

