/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/lib/test-proc.c: spawn, exit codes, exec failure codes, group kill on timeout, fds and cwd, the forked
 * server. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs.h"
#include "parse.h"
#include "proc.h"
#include "util.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/slipway-test-proc-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int run(const char *const *argv, const char *cwd, int log_fd, int extra_fd, int64_t timeout_ms,
	       struct proc_result *res)
{
	struct proc_spec spec = { .path = argv[0], .argv = argv, .cwd = cwd, .log_fd = log_fd, .stdin_fd = -1,
				  .extra_fd = extra_fd };
	struct proc p;
	int r = proc_spawn(&spec, &p);

	if (r < 0)
		return r;
	r = 0;
	while (r == 0) {
		r = proc_wait(&p, mono_ms() + timeout_ms, res);
		if (r == -EINTR)
			r = 0;
		if (r == 0)
			break;
	}
	if (r == 0)
		assert_int_equal(proc_terminate(&p, 1000, res), 0);
	proc_release(&p);
	return r;
}

static void test_exit_codes(void **state)
{
	const char *ok[] = { "/bin/sh", "-c", "exit 0", NULL };
	const char *fail[] = { "/bin/sh", "-c", "exit 7", NULL };
	const char *sig[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	struct proc_result res;
	(void)state;

	assert_int_equal(run(ok, NULL, -1, -1, 5000, &res), 1);
	assert_int_equal(res.status, PROC_EXITED);
	assert_int_equal(res.code, 0);
	assert_int_equal(run(fail, NULL, -1, -1, 5000, &res), 1);
	assert_int_equal(res.status, PROC_EXITED);
	assert_int_equal(res.code, 7);
	assert_int_equal(run(sig, NULL, -1, -1, 5000, &res), 1);
	assert_int_equal(res.status, PROC_SIGNALED);
	assert_int_equal(res.code, SIGKILL);
}

static void test_exec_failure(void **state)
{
	char missing[300], noexec[300], garbage[300];
	const char *a1[] = { missing, NULL }, *a2[] = { noexec, NULL }, *a3[] = { garbage, NULL };
	struct proc_result res;
	(void)state;

	snprintf(missing, sizeof(missing), "%s/does-not-exist", tmpdir);
	snprintf(noexec, sizeof(noexec), "%s/noexec", tmpdir);
	snprintf(garbage, sizeof(garbage), "%s/garbage", tmpdir);
	assert_int_equal(fs_write_atomic_path(noexec, "#!/bin/sh\nexit 0\n", 17, 0644), 0);
	assert_int_equal(fs_write_atomic_path(garbage, "\x01\x02\x03garbage", 10, 0755), 0);

	assert_int_equal(run(a1, NULL, -1, -1, 5000, &res), 1);
	assert_int_equal(res.status, PROC_EXEC_FAILED);
	assert_int_equal(res.code, 127);
	assert_int_equal(res.exec_errno, ENOENT);
	assert_int_equal(run(a2, NULL, -1, -1, 5000, &res), 1);
	assert_int_equal(res.status, PROC_EXEC_FAILED);
	assert_int_equal(res.code, 126);
	assert_int_equal(run(a3, NULL, -1, -1, 5000, &res), 1);
	assert_int_equal(res.status, PROC_EXEC_FAILED);
	assert_int_equal(res.code, 126);
}

static bool pid_alive(pid_t pid)
{
	char path[64], *data = NULL, *p;
	size_t len;
	bool alive;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (fs_read_file(path, 4096, &data, &len) < 0)
		return false;
	p = strrchr(data, ')');
	alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(data);
	return alive;
}

static void test_timeout_kills_group(void **state)
{
	char pidfile[300], script[1400];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct proc_spec spec = { .path = "/bin/sh", .argv = argv, .log_fd = -1, .stdin_fd = -1, .extra_fd = -1 };
	struct proc p;
	struct proc_result res;
	char *data = NULL;
	size_t len;
	int64_t grandchild = 0;
	(void)state;

	snprintf(pidfile, sizeof(pidfile), "%s/grandchild.pid", tmpdir);
	/* a grandchild that ignores SIGTERM: only the group SIGKILL gets rid of it */
	snprintf(script, sizeof(script), "sh -c 'trap \"\" TERM; echo $$ > %s.tmp; mv %s.tmp %s; sleep 100' & sleep 100",
		 pidfile, pidfile, pidfile);
	assert_int_equal(proc_spawn(&spec, &p), 0);
	for (int i = 0; i < 250 && access(pidfile, F_OK) < 0; i++)
		usleep(20000);
	assert_int_equal(proc_wait(&p, mono_ms() + 200, &res), 0); /* still running */
	assert_int_equal(fs_read_file(pidfile, 100, &data, &len), 0);
	data[strcspn(data, "\n")] = '\0';
	assert_int_equal(parse_i64(data, 1, INT32_MAX, &grandchild), 0);
	free(data);
	assert_true(grandchild > 0);
	assert_int_equal(kill((pid_t)grandchild, 0), 0);

	assert_int_equal(proc_terminate(&p, 300, &res), 0);
	assert_int_equal(res.status, PROC_SIGNALED);
	assert_false(proc_group_alive(&p));
	/* the grandchild is gone (at most a zombie waiting for init) */
	assert_false(pid_alive((pid_t)grandchild));
	proc_release(&p);
}

static void test_fds_and_cwd(void **state)
{
	char logpath[300], script[] = "pwd; echo out; echo err >&2; echo three >&3; read x; echo \"in=$x\"";
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	int log_fd, pfd[2], in[2];
	struct proc_result res;
	char rbuf[64] = { 0 }, *data = NULL, want[400];
	size_t len;
	struct proc_spec spec;
	struct proc p;
	(void)state;

	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	log_fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	assert_true(log_fd >= 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], "hello\n", 6), 6);
	close(in[1]);
	spec = (struct proc_spec){ .path = "/bin/sh", .argv = argv, .cwd = tmpdir, .log_fd = log_fd,
				   .stdin_fd = in[0], .extra_fd = pfd[1] };
	assert_int_equal(proc_spawn(&spec, &p), 0);
	close(pfd[1]);
	close(in[0]);
	assert_int_equal(proc_wait(&p, mono_ms() + 5000, &res), 1);
	proc_release(&p);
	assert_int_equal(res.status, PROC_EXITED);
	assert_int_equal(res.code, 0);
	assert_true(read(pfd[0], rbuf, sizeof(rbuf) - 1) > 0);
	assert_string_equal(rbuf, "three\n");
	close(pfd[0]);
	close(log_fd);
	assert_int_equal(fs_read_file(logpath, 4096, &data, &len), 0);
	snprintf(want, sizeof(want), "%s\nout\nerr\nin=hello\n", tmpdir);
	assert_string_equal(data, want);
	free(data);
}

/* The forked server's side: reports on fd 3 what a spawned child would have (its own session, stdio on
 * /dev/null, nothing open above fd 3, SIGTERM at its default, nothing blocked), then echoes one message. */
static int server_fn(void *arg)
{
	struct stat null_st, st;
	struct sigaction sa;
	sigset_t blocked;
	char msg[64], reply[160];
	bool stdio_null = stat("/dev/null", &null_st) == 0;
	int high_open = 0;
	ssize_t n;

	for (int fd = 0; fd < 3; fd++)
		stdio_null = stdio_null && fstat(fd, &st) == 0 && st.st_rdev == null_st.st_rdev;
	for (int fd = 4; fd < 64; fd++)
		high_open += fcntl(fd, F_GETFD) >= 0;
	(void)sigaction(SIGTERM, NULL, &sa);
	(void)sigprocmask(SIG_SETMASK, NULL, &blocked);
	n = read(3, msg, sizeof(msg) - 1);
	if (n <= 0)
		return 3;
	msg[n] = '\0';
	snprintf(reply, sizeof(reply), "%s leader=%d null=%d high=%d dfl=%d blocked=%d", msg,
		 getsid(0) == getpid(), stdio_null, high_open, sa.sa_handler == SIG_DFL, sigismember(&blocked, SIGTERM));
	if (write(3, reply, strlen(reply)) < 0)
		return 4;
	return *(int *)arg;
}

static void test_fork_server(void **state)
{
	int sv[2], stray, code = 7;
	struct proc_result res;
	struct proc p;
	char buf[160] = { 0 };
	sigset_t term, old;
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	stray = open("/dev/null", O_RDONLY); /* not CLOEXEC: the copy must still not hold it */
	assert_true(stray > 3);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old), 0);
	assert_int_equal(proc_fork_server(server_fn, &code, sv[1], &p), 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	close(sv[1]);
	close(stray);
	assert_int_equal(write(sv[0], "ping", 4), 4);
	assert_true(read(sv[0], buf, sizeof(buf) - 1) > 0);
	assert_string_equal(buf, "ping leader=1 null=1 high=0 dfl=1 blocked=0");
	assert_int_equal(proc_wait(&p, mono_ms() + 5000, &res), 1);
	assert_int_equal(res.status, PROC_EXITED);
	assert_int_equal(res.code, 7);
	proc_release(&p);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_fds_and_cwd),
		cmocka_unit_test(test_fork_server),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
