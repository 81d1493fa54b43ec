/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/lib/test-lib.c: buf, parse, ids, hash, cfg, fs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cfg.h"
#include "fs.h"
#include "hash.h"
#include "jsonutil.h"
#include "parse.h"
#include "util.h"

static void test_buf_cap(void **state)
{
	struct buf b;
	char *s;

	buf_init(&b, 5);
	assert_string_equal(b.p, "");
	assert_int_equal(buf_appends(&b, "abc"), 0);
	assert_int_equal(buf_appends(&b, "de"), 0);       /* exactly at max */
	assert_int_equal(buf_appends(&b, "f"), -EMSGSIZE); /* max + 1 */
	assert_string_equal(b.p, "abcde");
	buf_tail(&b, 2);
	assert_string_equal(b.p, "de");
	assert_int_equal(buf_printf(&b, "%d", 42), 0);
	assert_string_equal(b.p, "de42");
	s = buf_detach(&b);
	assert_string_equal(s, "de42");
	assert_string_equal(b.p, "");
	free(s);
	buf_release(&b);
}

static void test_parse(void **state)
{
	int64_t v = 7;
	uint64_t u = 0;
	bool bv = false;

	assert_int_equal(parse_i64("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_i64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(v, 10);
	assert_int_equal(parse_i64(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_i64("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_i64("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_i64("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_i64("99999999999999999999", 0, INT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("-1", 0, 10, &u), -EINVAL);
	assert_int_equal(parse_size("4G", 0, UINT64_MAX, &u), 0);
	assert_true(u == 4ULL << 30);
	assert_int_equal(parse_bool("Yes", &bv), 0);
	assert_true(bv);
	assert_int_equal(parse_seconds_ms("0.5", 0, 100000, &v), 0);
	assert_int_equal(v, 500);
	/* RFC 3339 (Alertmanager's startsAt): 2026-12-06T08:00:00Z is 1796544000 s */
	assert_int_equal(parse_rfc3339_ms("2026-12-06T08:00:00Z", &v), 0);
	assert_int_equal(v, 1796544000000LL);
	assert_int_equal(parse_rfc3339_ms("2026-12-06T08:00:00.123456789Z", &v), 0);
	assert_int_equal(v, 1796544000123LL);
	assert_int_equal(parse_rfc3339_ms("2026-12-06T10:00:00.5+02:00", &v), 0);
	assert_int_equal(v, 1796544000500LL);
	assert_int_equal(parse_rfc3339_ms("2026-12-06T07:30:00-00:30", &v), 0);
	assert_int_equal(v, 1796544000000LL);
	assert_int_equal(parse_rfc3339_ms("2026-12-06T08:00:00", &v), -EINVAL);
	assert_int_equal(parse_rfc3339_ms("2026-12-06T08:00:00.Z", &v), -EINVAL);
	assert_int_equal(parse_rfc3339_ms("2026-12-06T08:00:00Zx", &v), -EINVAL);
	assert_int_equal(parse_rfc3339_ms("yesterday", &v), -EINVAL);
}

static void test_ids(void **state)
{
	char id[ID_LEN + 1], tok[TOKEN_LEN + 1];

	for (int i = 0; i < 200; i++) {
		assert_int_equal(id_generate(id), 0);
		assert_int_equal(strlen(id), 22);
		assert_true(str_charset_ok(id, "-_", 22, 22));
		assert_true(id[0] != '_' && id[0] != '-');
	}
	assert_int_equal(token_generate(tok), 0);
	assert_int_equal(strlen(tok), 43);
}

static void test_hash(void **state)
{
	char hex[65], b64[16];
	unsigned char out[8];
	size_t n = 0;

	assert_int_equal(sha256_hex("abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(base64_encode("hi!", 3, b64, sizeof(b64)), 0);
	assert_string_equal(b64, "aGkh");
	assert_int_equal(base64_decode("aGk=", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "hi", 2);
	assert_int_equal(base64_decode("aGk", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(base64_decode("a=Gk", out, sizeof(out), &n), -EINVAL);
	/* FNV-1a 64 test vectors; the lock keys every replica must agree on stay what they were */
	assert_true(hash_fnv1a(HASH_FNV1A_BASIS, "", 0) == 0xcbf29ce484222325ULL);
	assert_true(hash_fnv1a(HASH_FNV1A_BASIS, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_fnv1a(hash_fnv1a(HASH_FNV1A_BASIS, "foo", 3), "bar", 3) == 0x85944171f73967e8ULL);
	assert_true(hash_lock_key("DEPLOY-env1") == 6571046927533015081LL);
}

struct conf {
	int64_t timeout;
	char *name;
	bool flag;
};

static const struct cfg_entry conf_table[] = {
	{ "process_timeout", CFG_SECONDS, 1, 86400, "1800", offsetof(struct conf, timeout), NULL },
	{ "name", CFG_STRING, 0, 0, "x", offsetof(struct conf, name), NULL },
	{ "flag", CFG_BOOL, 0, 0, "false", offsetof(struct conf, flag), NULL },
};

static void test_cfg(void **state)
{
	struct conf c = { 0 };
	char path[] = "/tmp/slipway-cfg-XXXXXX", err[256];
	const char *text = "# comment\n\nprocess-timeout = 60\nname = \"a \\\"b\\\"\"\nflag=yes\n";
	int fd;

	assert_int_equal(cfg_apply_defaults(conf_table, 3, &c), 0);
	assert_int_equal(c.timeout, 1800);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(cfg_load_file(conf_table, 3, &c, path, CFG_STRICT_UNKNOWN, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(c.timeout, 60);
	assert_string_equal(c.name, "a \"b\"");
	assert_true(c.flag);
	assert_int_equal(cfg_set(conf_table, 3, &c, "process_timeout", "86401", err, sizeof(err)), -ERANGE);
	assert_int_equal(c.timeout, 60);
	assert_int_equal(cfg_set(conf_table, 3, &c, "nope", "1", err, sizeof(err)), -ENOENT);
	text = "flag = 1\nbogus\n";
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(cfg_load_file(conf_table, 3, &c, path, 0, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2:"));
	unlink(path);
	cfg_release(conf_table, 3, &c);
}

static void test_read_at(void **state)
{
	char dir[] = "/tmp/slipway-test-lib-XXXXXX", *data = NULL, part[8] = "";
	size_t len = 0;
	int dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(fs_write_atomic(dfd, "f", "0123456789", 10, 0600), 0);
	assert_int_equal(mkdirat(dfd, "d", 0700), 0);
	assert_int_equal(symlinkat("f", dfd, "l"), 0);
	assert_int_equal(fs_read_at(dfd, "f", 10, &data, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	free(data);
	assert_int_equal(fs_read_at(dfd, "f", 9, &data, &len), -EFBIG);
	assert_int_equal(fs_read_at(dfd, "d", 100, &data, &len), -EBADMSG);
	assert_int_equal(fs_read_at(dfd, "l", 100, &data, &len), -ELOOP); /* links are not followed */
	assert_int_equal(fs_read_at(dfd, "none", 100, &data, &len), -ENOENT);
	fd = openat(dfd, "f", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fs_read_full(fd, part, 4, 7), 3); /* the file ends first */
	assert_string_equal(part, "789");
	assert_int_equal(fs_read_full(fd, part, 2, -1), 2); /* from the position: the start */
	assert_memory_equal(part, "01", 2);
	close(fd);
	assert_int_equal(unlinkat(dfd, "l", 0), 0);
	assert_int_equal(unlinkat(dfd, "f", 0), 0);
	assert_int_equal(unlinkat(dfd, "d", AT_REMOVEDIR), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

static void read_expect(int dfd, const char *name, const char *want)
{
	char *data = NULL;
	size_t len;

	assert_int_equal(fs_read_at(dfd, name, 100, &data, &len), 0);
	assert_string_equal(data, want);
	free(data);
}

static ino_t inode_of(int dfd, const char *name)
{
	struct stat st;

	assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_ino;
}

/* fs_write_swap: the new contents under the name, the old ones in the spare, no third inode; a spare that is a
 * link (or has a second name) is never written through */
static void test_write_swap(void **state)
{
	char dir[] = "/tmp/slipway-test-swap.XXXXXX";
	struct stat st;
	ino_t a, b;
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(fs_write_swap(dfd, "s.json", ".s.spare", "first, longer", 13, 0600, true), 0);
	read_expect(dfd, "s.json", "first, longer");
	assert_int_equal(faccessat(dfd, ".s.spare", F_OK, 0), -1); /* the first write renamed it */
	a = inode_of(dfd, "s.json");
	assert_int_equal(fs_write_swap(dfd, "s.json", ".s.spare", "second", 6, 0600, true), 0);
	read_expect(dfd, "s.json", "second");
	read_expect(dfd, ".s.spare", "first, longer");
	b = inode_of(dfd, "s.json");
	assert_true(a != b && inode_of(dfd, ".s.spare") == a);
	assert_int_equal(fs_write_swap(dfd, "s.json", ".s.spare", "third", 5, 0600, false), 0);
	read_expect(dfd, "s.json", "third"); /* written over the old, longer contents and cut */
	read_expect(dfd, ".s.spare", "second");
	assert_true(inode_of(dfd, "s.json") == a && inode_of(dfd, ".s.spare") == b);
	assert_int_equal(fstatat(dfd, "s.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* a spare with a second name: replaced through a new temp file, the other name keeps its contents */
	assert_int_equal(linkat(dfd, ".s.spare", dfd, "other", 0), 0);
	assert_int_equal(fs_write_swap(dfd, "s.json", ".s.spare", "fourth", 6, 0600, true), 0);
	read_expect(dfd, "s.json", "fourth");
	read_expect(dfd, "other", "second");
	/* a spare that is a symlink is not followed */
	assert_int_equal(unlinkat(dfd, ".s.spare", 0), 0);
	assert_int_equal(symlinkat("other", dfd, ".s.spare"), 0);
	assert_int_equal(fs_write_swap(dfd, "s.json", ".s.spare", "fifth", 5, 0600, true), 0);
	read_expect(dfd, "s.json", "fifth");
	read_expect(dfd, "other", "second");
	(void)unlinkat(dfd, ".s.spare", 0);
	assert_int_equal(unlinkat(dfd, "other", 0), 0);
	assert_int_equal(unlinkat(dfd, "s.json", 0), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

static void test_csv_entry(void **state)
{
	static const struct {
		const char *list;
		int k;
		size_t size;
		int want;
		const char *tok;
	} rows[] = {
		{ "1,2,3", 1, 8, 0, "1" },	    { "1, 20% ,3", 2, 8, 0, "20%" }, { "1,2,3", 3, 8, 0, "3" },
		{ "1,2,3", 4, 8, -EINVAL, "" },	    { "1,,3", 2, 8, -EINVAL, "" },   { "1,2", 0, 8, -EINVAL, "" },
		{ NULL, 1, 8, -EINVAL, "" },	    { "12345678", 1, 8, -EINVAL, "" }, { "1234567", 1, 8, 0, "1234567" },
		{ "  ", 1, 8, -EINVAL, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char tok[8] = "";
		int r = str_csv_entry(rows[i].list, rows[i].k, tok, rows[i].size);

		if (r != rows[i].want || (r == 0 && strcmp(tok, rows[i].tok) != 0))
			fail_msg("'%s' #%d: %d '%s', want %d '%s'", rows[i].list ? rows[i].list : "(null)", rows[i].k, r,
				 tok, rows[i].want, rows[i].tok);
	}
}

static void test_json_depth(void **state)
{
	char deep[200];
	json_t *j = NULL;
	int n = 0;

	for (int i = 0; i < 33; i++)
		deep[n++] = '[';
	for (int i = 0; i < 33; i++)
		deep[n++] = ']';
	assert_int_equal(json_parse_bounded(deep, (size_t)n, &j, NULL, 0), -EBADMSG);
	assert_int_equal(json_parse_bounded(deep + 1, (size_t)n - 2, &j, NULL, 0), 0); /* 32 deep: ok */
	json_decref(j);
	assert_int_equal(json_parse_bounded("{\"a\":1,\"a\":2}", 13, &j, NULL, 0), -EBADMSG);
}

/* the text writers give exactly what json_dumps gives for the same values */
static void test_json_append(void **state)
{
	static const char *const strs[] = { "", "plain host-1.example/x", "q\"b\\s", "c\x01\b\f\n\r\t\x1f\x7f",
					    "caf\xc3\xa9 \xe2\x82\xac", "</script>" };
	static const json_int_t ints[] = { 0, 7, -1, 1234567890123LL, INT64_MAX, INT64_MIN };
	struct buf b;
	char *want;

	(void)state;
	buf_init(&b, BUF_UNBOUNDED);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_t *v = json_string(strs[i]);

		buf_reset(&b);
		assert_int_equal(json_append_stringn(&b, strs[i], strlen(strs[i])), 0);
		want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_string_equal(b.p, want);
		free(want);
		json_decref(v);
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *v = json_integer(ints[i]);

		buf_reset(&b);
		assert_int_equal(json_append_int(&b, ints[i]), 0);
		want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_string_equal(b.p, want);
		free(want);
		json_decref(v);
	}
	buf_reset(&b);
	assert_int_equal(json_append_stringn(&b, "bad\xff", 4), -EILSEQ);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap), cmocka_unit_test(test_parse), cmocka_unit_test(test_ids),
		cmocka_unit_test(test_hash),    cmocka_unit_test(test_cfg),   cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_json_append), cmocka_unit_test(test_csv_entry), cmocka_unit_test(test_read_at),
		cmocka_unit_test(test_write_swap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
