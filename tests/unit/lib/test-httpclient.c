/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/lib/test-httpclient.c: the curl code → errno mapping, a refused option, and real
 * transfers over file:// (the protocol list, a full write callback, the abort callback). HTTP
 * itself is exercised by the CLI and webhook integration tests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "httpclient.h"

static char path[64], url[96];

static int setup(void **state)
{
	int fd;

	(void)state;
	(void)snprintf(path, sizeof(path), "/tmp/test-httpclient.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	(void)snprintf(url, sizeof(url), "file://%s", path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_errno(void **state)
{
	static const struct {
		CURLcode cc;
		int want;
	} rows[] = {
		{ CURLE_OK, 0 },
		{ CURLE_COULDNT_RESOLVE_HOST, -ECONNREFUSED },
		{ CURLE_COULDNT_CONNECT, -ECONNREFUSED },
		{ CURLE_PEER_FAILED_VERIFICATION, -ECONNREFUSED },
		{ CURLE_GOT_NOTHING, -ECONNREFUSED },
		{ CURLE_RECV_ERROR, -ECONNREFUSED },
		{ CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT },
		{ CURLE_FILESIZE_EXCEEDED, -EMSGSIZE },
		{ CURLE_WRITE_ERROR, -EMSGSIZE },
		{ CURLE_HTTP_RETURNED_ERROR, -EREMOTEIO },
		{ CURLE_ABORTED_BY_CALLBACK, -ECANCELED },
		{ CURLE_URL_MALFORMAT, -EINVAL },
		{ CURLE_UNSUPPORTED_PROTOCOL, -EINVAL },
		{ CURLE_OUT_OF_MEMORY, -ENOMEM },
		{ CURLE_PARTIAL_FILE, -EIO },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (httpclient_errno(rows[i].cc) != rows[i].want)
			fail_msg("curl code %d: got %d, want %d", (int)rows[i].cc, httpclient_errno(rows[i].cc),
				 rows[i].want);
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
	return buf_append(userdata, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static int abort_now(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)ud;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return 1;
}

/* One GET of url with req's other fields; returns the errno, the answer in *b. */
static int get(struct httpclient_request req, struct buf *b)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = NULL;
	long status = -1;
	int r;

	req.write_fn = collect;
	req.write_data = b;
	r = httpclient_new(&req, errbuf, &h);
	assert_int_equal(r, 0);
	r = httpclient_perform(h, errbuf, &status);
	if (r < 0)
		assert_true(errbuf[0] != 0); /* a failure always has a text */
	else
		assert_int_equal(status, 0); /* file:// has no status */
	curl_easy_cleanup(h);
	return r;
}

static void test_file_transfers(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(get((struct httpclient_request){ .url = url, .protocols = "file" }, &b), 0);
	assert_string_equal(b.p, "0123456789");
	buf_release(&b);
	/* a write callback that refuses (its buffer is full) */
	buf_init(&b, 4);
	assert_int_equal(get((struct httpclient_request){ .url = url, .protocols = "file" }, &b), -EMSGSIZE);
	buf_release(&b);
	/* only the listed protocols: the default is http and https */
	buf_init(&b, 1024);
	assert_int_equal(get((struct httpclient_request){ .url = url }, &b), -EINVAL);
	assert_string_equal(b.p, "");
	/* the progress callback aborts */
	assert_int_equal(get((struct httpclient_request){ .url = url, .protocols = "file", .progress_fn = abort_now },
			     &b),
			 -ECANCELED);
	assert_string_equal(b.p, "");
	buf_release(&b);
}

static void test_refused_option(void **state)
{
	struct httpclient_request req = { .url = url, .protocols = "no-such-protocol" };
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = (CURL *)0x1;

	(void)state;
	assert_int_equal(httpclient_new(&req, errbuf, &h), -EINVAL);
	assert_ptr_equal(h, (CURL *)0x1); /* untouched on failure */
}

/* One handle kept across requests: each set-up starts from a reset handle, so an option of the previous
 * request (here the aborting progress callback, and the small buffer) does not carry over. */
static void test_reused_handle(void **state)
{
	struct buf small, b;
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = curl_easy_init();
	long status = -1;

	(void)state;
	assert_non_null(h);
	buf_init(&small, 4);
	buf_init(&b, 1024);
	struct httpclient_request req = {
		.url = url, .protocols = "file", .write_fn = collect, .write_data = &small, .progress_fn = abort_now
	};
	assert_int_equal(httpclient_setup(h, &req, errbuf), 0);
	assert_int_equal(httpclient_perform(h, errbuf, &status), -ECANCELED);
	req = (struct httpclient_request){ .url = url, .protocols = "file", .write_fn = collect, .write_data = &b };
	assert_int_equal(httpclient_setup(h, &req, errbuf), 0);
	assert_int_equal(httpclient_perform(h, errbuf, &status), 0);
	assert_string_equal(b.p, "0123456789");
	assert_string_equal(small.p, "");
	req.protocols = "no-such-protocol";
	assert_int_equal(httpclient_setup(h, &req, errbuf), -EINVAL);
	buf_release(&small);
	buf_release(&b);
	curl_easy_cleanup(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_file_transfers),
		cmocka_unit_test(test_refused_option),
		cmocka_unit_test(test_reused_handle),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
