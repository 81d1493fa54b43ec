/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-download.c: job JSON, key choice, S3 URLs, markers, reuse, install.
 * Doubles as the download-helper driver for tests/integration/artifact when called as
 * `unit-agent-test-download --internal-download` (until/unless slipway-agent is built). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "download.h"
#include "download_int.h"
#include "fs.h"
#include "s3.h"
#include "util.h"
#include "banned.h"

static void test_s3_urls(void **state)
{
	struct buf b;
	char bucket[S3_BUCKET_MAX + 1];
	const char *key;

	(void)state;
	assert_int_equal(s3_parse_url("s3://my.bucket/a b/c+d.tgz", bucket, &key), 0);
	assert_string_equal(bucket, "my.bucket");
	assert_string_equal(key, "a b/c+d.tgz");
	assert_int_equal(s3_parse_url("s3://bucket/", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_url("s3://bucket", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_url("s3:///key", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_url("s3://bu$ket/key", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_url("https://bucket/key", bucket, &key), -EINVAL);

	buf_init(&b, 4096);
	assert_int_equal(s3_build_url("bkt", "dir/a b+ü~.tgz", "eu-west-1", NULL, false, &b), 0);
	assert_string_equal(b.p, "https://bkt.s3.eu-west-1.amazonaws.com/dir/a%20b%2B%C3%BC~.tgz");
	buf_reset(&b);
	assert_int_equal(s3_build_url("my.bkt", "k", NULL, NULL, false, &b), 0);
	assert_string_equal(b.p, "https://s3.us-east-1.amazonaws.com/my.bkt/k");
	buf_reset(&b);
	assert_int_equal(s3_build_url("bkt", "k", "us-west-2", NULL, true, &b), 0);
	assert_string_equal(b.p, "https://s3.us-west-2.amazonaws.com/bkt/k");
	buf_reset(&b);
	assert_int_equal(s3_build_url("bkt", "a/b?c", "us-west-2", "http://127.0.0.1:9000/", false, &b), 0);
	assert_string_equal(b.p, "http://127.0.0.1:9000/bkt/a/b%3Fc");
	buf_reset(&b);
	assert_int_equal(s3_build_url("bkt", "k", "US_EAST", NULL, false, &b), -EINVAL);
	assert_int_equal(s3_build_url("bkt", "k", NULL, "ftp://x", false, &b), -EINVAL);
	buf_release(&b);
}

static void test_job_roundtrip(void **state)
{
	struct download_job job, back;
	json_t *j;
	char *s;

	(void)state;
	download_job_init(&job);
	job.url = "https://example.com/a.tgz";
	job.expected_sha256 = "ab";
	job.allow_http = true;
	job.download_allow_hosts = "a.com, *.b.com";
	job.max_archive_entries = 7;
	job.s3_secret_access_key = "secret";
	s = download_job_to_json(&job);
	assert_non_null(s);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_int_equal(download_job_from_json(j, &back), 0);
	assert_string_equal(back.url, job.url);
	assert_string_equal(back.expected_sha256, "ab");
	assert_true(back.allow_http);
	assert_true(back.tls_verify);
	assert_string_equal(back.download_allow_hosts, "a.com, *.b.com");
	assert_int_equal(back.max_archive_entries, 7);
	assert_int_equal(back.max_artifact_bytes, 4ULL << 30);
	assert_string_equal(back.s3_secret_access_key, "secret");
	assert_null(back.signature);
	json_decref(j);
	free(s);

	j = json_loads("{\"maxArtifactBytes\": 1}", 0, NULL);
	assert_int_equal(download_job_from_json(j, &back), -EINVAL);
	json_decref(j);
	j = json_loads("{\"url\": \"x\", \"allowHttp\": \"yes\"}", 0, NULL);
	assert_int_equal(download_job_from_json(j, &back), -EINVAL);
	json_decref(j);
}

static void test_select_key(void **state)
{
	struct build_verify v = { 0 };
	const char *key;
	bool any;

	(void)state;
	assert_int_equal(download_select_key(&v, &key, &any), 0);
	assert_null(key);
	assert_false(any);
	v.signing_key = "K1";
	assert_int_equal(download_select_key(&v, &key, &any), 0);
	assert_string_equal(key, "K1");
	v.trusted_signing_keys = "K2, K1";
	assert_int_equal(download_select_key(&v, &key, &any), 0);
	assert_string_equal(key, "K1");
	v.trusted_signing_keys = "K2,K3";
	assert_int_equal(download_select_key(&v, &key, &any), -EPERM);
	v.signing_key = NULL;
	assert_int_equal(download_select_key(&v, &key, &any), 0);
	assert_null(key);
	assert_true(any);
	v.trusted_signing_keys = " , ";
	assert_int_equal(download_select_key(&v, &key, &any), 0);
	assert_false(any);
}

/* Nothing is extracted before the whole artifact passed when there is anything to check. */
static void test_job_verifies(void **state)
{
	static const char key[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	struct download_job job;

	(void)state;
	download_job_init(&job);
	job.url = "https://a.example/x.tgz";
	assert_false(download_job_verifies(&job)); /* only then: extraction while downloading */
	job.expected_sha256 = "";
	assert_false(download_job_verifies(&job));
	job.expected_sha256 = "00";
	assert_true(download_job_verifies(&job));
	job.expected_sha256 = NULL;
	job.trusted_signing_keys = key; /* every build must be signed */
	assert_true(download_job_verifies(&job));
	job.trusted_signing_keys = NULL;
	job.signing_key = key; /* the goal names a key */
	assert_true(download_job_verifies(&job));
	job.trusted_signing_keys = "AAAA"; /* ... that this host does not trust: refused later, never streamed */
	assert_true(download_job_verifies(&job));
}

static void test_names(void **state)
{
	(void)state;
	assert_true(build_id_is_valid("Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c"));
	assert_false(build_id_is_valid("Pq4sV8xB2nHc6mKw9eRt0a_4be1f0c1"));
	assert_false(build_id_is_valid(""));
	assert_false(build_id_is_valid("a/b"));
	assert_false(build_id_is_valid(".."));
	assert_true(env_name_is_valid("web-prod_1"));
	assert_false(env_name_is_valid("web.prod"));
}

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/test-download-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void write_marker(const char *env_dir, const char *id, const char *sha, const char *key)
{
	char path[4096], data[1024];
	assert_int_equal(str_printf(path, sizeof(path), "%s/%s.extracted", env_dir, id), 0);
	assert_int_equal(str_printf(data, sizeof(data),
				    "{\"buildId\":\"%s\",\"artifactUrl\":\"u\",\"sha256\":\"%s\",\"signatureKey\":%s%s%s,"
				    "\"completedAt\":5}",
				    id, sha, key ? "\"" : "", key ? key : "null", key ? "\"" : ""),
			 0);
	assert_int_equal(fs_write_atomic_path(path, data, strlen(data), 0644), 0);
}

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_reuse(void **state)
{
	char *env = make_tmpdir(), path[4096];
	struct build_verify v = { 0 };
	struct build_marker m;

	(void)state;
	/* nothing there */
	assert_int_equal(build_check_reuse(env, "b1", &v), 0);
	assert_int_equal(build_check_reuse(env, "../x", &v), -EINVAL);
	/* marker without tree: not complete */
	write_marker(env, "b1", SHA_A, NULL);
	assert_int_equal(build_check_reuse(env, "b1", &v), 0);
	str_printf(path, sizeof(path), "%s/b1", env);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(build_check_reuse(env, "b1", &v), 1);
	assert_int_equal(build_marker_read(env, "b1", &m), 0);
	assert_string_equal(m.sha256, SHA_A);
	assert_int_equal(m.completed_at_ms, 5);
	build_marker_release(&m);
	/* sha must match when the goal carries one (case-insensitive) */
	v.expected_sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	assert_int_equal(build_check_reuse(env, "b1", &v), 1);
	v.expected_sha256 = SHA_B;
	assert_int_equal(build_check_reuse(env, "b1", &v), 0);
	v.expected_sha256 = NULL;
	/* signature required: marker must carry the key in use */
	v.signing_key = "KEY1";
	assert_int_equal(build_check_reuse(env, "b1", &v), 0);
	write_marker(env, "b1", SHA_A, "KEY1");
	assert_int_equal(build_check_reuse(env, "b1", &v), 1);
	v.trusted_signing_keys = "KEY2";
	assert_int_equal(build_check_reuse(env, "b1", &v), -EPERM);
	v.signing_key = NULL;
	assert_int_equal(build_check_reuse(env, "b1", &v), 0);
	v.trusted_signing_keys = "KEY2,KEY1";
	assert_int_equal(build_check_reuse(env, "b1", &v), 1);
	/* marker for another id is invalid */
	write_marker(env, "b2", SHA_A, NULL);
	str_printf(path, sizeof(path), "%s/b2.extracted", env);
	assert_int_equal(fs_write_atomic_path(path, "{\"buildId\":\"b1\"}", 16, 0644), 0);
	assert_int_equal(build_marker_read(env, "b2", &m), -EBADMSG);
	assert_int_equal(download_remove_tree(env), 0);
	assert_int_equal(access(env, F_OK), -1);
	free(env);
}

static void make_tmp_tree(const char *env, const char *tmpname, const char *content, char *ret_tmp, size_t sz)
{
	char path[4096];
	assert_int_equal(str_printf(ret_tmp, sz, "%s/%s", env, tmpname), 0);
	assert_int_equal(mkdir(ret_tmp, 0755), 0);
	str_printf(path, sizeof(path), "%s/tree", ret_tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	str_printf(path, sizeof(path), "%s/tree/file", ret_tmp);
	assert_int_equal(fs_write_atomic_path(path, content, strlen(content), 0644), 0);
}

static void test_install(void **state)
{
	char *env = make_tmpdir(), tmp[4096], path[4096], err[256], *data;
	struct build_install_params p = { .env_dir = env, .build_id = "b1", .artifact_url = "u", .sha256 = SHA_A };
	struct build_marker m;
	size_t len;

	(void)state;
	p.tmp_dir = tmp;
	/* stale tree without marker is replaced */
	str_printf(path, sizeof(path), "%s/b1", env);
	assert_int_equal(mkdir(path, 0755), 0);
	make_tmp_tree(env, ".tmp-b1-1", "one", tmp, sizeof(tmp));
	assert_int_equal(build_install(&p, err, sizeof(err)), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	str_printf(path, sizeof(path), "%s/b1/file", env);
	assert_int_equal(fs_read_file(path, 100, &data, &len), 0);
	assert_string_equal(data, "one");
	free(data);
	assert_int_equal(build_marker_read(env, "b1", &m), 0);
	assert_string_equal(m.sha256, SHA_A);
	assert_string_equal(m.signature_key, "");
	build_marker_release(&m);
	/* same digest: marker rewritten, tree kept */
	make_tmp_tree(env, ".tmp-b1-2", "two", tmp, sizeof(tmp));
	p.signature_key = "KEY";
	assert_int_equal(build_install(&p, err, sizeof(err)), 0);
	assert_int_equal(fs_read_file(path, 100, &data, &len), 0);
	assert_string_equal(data, "one");
	free(data);
	assert_int_equal(build_marker_read(env, "b1", &m), 0);
	assert_string_equal(m.signature_key, "KEY");
	build_marker_release(&m);
	/* another digest: swapped */
	make_tmp_tree(env, ".tmp-b1-3", "three", tmp, sizeof(tmp));
	p.sha256 = SHA_B;
	assert_int_equal(build_install(&p, err, sizeof(err)), 0);
	assert_int_equal(fs_read_file(path, 100, &data, &len), 0);
	assert_string_equal(data, "three");
	free(data);
	assert_int_equal(build_marker_read(env, "b1", &m), 0);
	assert_string_equal(m.sha256, SHA_B);
	build_marker_release(&m);
	assert_int_equal(access(tmp, F_OK), -1);
	/* only b1 and its marker remain (no trash) */
	assert_int_equal(download_remove_treeat(AT_FDCWD, path), 0);
	str_printf(path, sizeof(path), "%s/b1", env);
	assert_int_equal(rmdir(path), 0);
	str_printf(path, sizeof(path), "%s/b1.extracted", env);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(env), 0);
	free(env);
}

static void test_result_parse(void **state)
{
	struct download_result res;
	const char *ok = "{\"ok\":true,\"fatal\":false,\"sha256\":\"" SHA_A "\",\"bytes\":12,\"signatureKey\":null,"
			 "\"message\":null}";
	const char *bad = "{\"ok\":false,\"fatal\":true,\"sha256\":null,\"bytes\":0,\"signatureKey\":null,"
			  "\"message\":\"sha256 mismatch\"}";

	(void)state;
	assert_int_equal(download_result_parse(ok, strlen(ok), &res), 0);
	assert_true(res.ok);
	assert_int_equal(res.bytes, 12);
	assert_string_equal(res.sha256, SHA_A);
	assert_int_equal(download_result_parse(bad, strlen(bad), &res), 0);
	assert_false(res.ok);
	assert_true(res.fatal);
	assert_string_equal(res.message, "sha256 mismatch");
	assert_int_equal(download_result_parse("{", 1, &res), -EBADMSG);
	assert_int_equal(download_result_parse("{\"ok\":true}", 11, &res), -EBADMSG);
}

/* The private copy of a verified artifact stays in memory while small and moves to ./artifact, whole, once it
 * outgrows ARTIFACT_MEMORY_MAX. */
static void test_artifact_memory_then_file(void **state)
{
	char dir[] = "/tmp/slipway-test-artifact.XXXXXX", cwd[4096], *chunk = malloc(1 << 20), *back = malloc(1 << 20);
	struct dl d;
	struct stat st;
	uint64_t total = 0;

	(void)state;
	assert_non_null(chunk);
	assert_non_null(back);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(artifact_open(&d), 0);
	assert_true(d.fd_in_memory);
	for (int i = 0; total + (1 << 20) <= ARTIFACT_MEMORY_MAX; i++) {
		memset(chunk, 'a' + i % 26, 1 << 20);
		assert_int_equal(artifact_write(&d, chunk, 1 << 20), 0);
		d.bytes = total += 1 << 20;
	}
	assert_true(d.fd_in_memory);
	assert_int_equal(stat("artifact", &st), -1); /* nothing on disk yet */
	memset(chunk, 'Z', 1 << 20);
	assert_int_equal(artifact_write(&d, chunk, 1 << 20), 0);
	d.bytes = total += 1 << 20;
	assert_false(d.fd_in_memory);
	assert_int_equal(stat("artifact", &st), 0);
	assert_int_equal((uint64_t)st.st_size, total);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the file holds everything, the part written in memory first */
	assert_int_equal(pread(d.fd, back, 1 << 20, 0), 1 << 20);
	assert_true(back[0] == 'a' && back[(1 << 20) - 1] == 'a');
	assert_int_equal(pread(d.fd, back, 1 << 20, (off_t)(total - (1 << 20))), 1 << 20);
	assert_true(back[0] == 'Z' && back[(1 << 20) - 1] == 'Z');
	close(d.fd);
	assert_int_equal(unlink("artifact"), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rmdir(dir), 0);
	free(chunk);
	free(back);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_urls),	 cmocka_unit_test(test_job_roundtrip), cmocka_unit_test(test_select_key),
		cmocka_unit_test(test_names),	 cmocka_unit_test(test_reuse),	      cmocka_unit_test(test_install),
		cmocka_unit_test(test_result_parse), cmocka_unit_test(test_job_verifies),
		cmocka_unit_test(test_artifact_memory_then_file),
	};

	if (argc > 1 && strcmp(argv[1], "--internal-download") == 0)
		return download_helper_main();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
