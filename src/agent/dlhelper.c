/* SPDX-License-Identifier: Apache-2.0 */
/* agent/dlhelper.c: the download helper kept between downloads (see dlhelper.h): the helper's job loop and the
 * agent's handle on it. One job at a time: a SOCK_SEQPACKET message with the job's JSON and three descriptors
 * (tmp dir, env log, verdict pipe) goes to the helper, which runs it in a forked copy of itself (so no job sees
 * what an earlier one left behind), and one byte comes back (the job's exit code). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dlhelper.h"
#include "download.h"
#include "hash.h"
#include "title.h"
#include "util.h"
#include "banned.h"

#define JOB_MSG_MAX (192 * 1024) /* a job is a few hundred bytes; the socket buffer bounds a message */
#define HELPER_SOCK_FD 3

/* ---- the helper ----------------------------------------------------------------------------------- */

static ssize_t recv_job(int sock, char *buf, size_t size, int fds[3])
{
	union {
		char space[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space,
			     .msg_controllen = sizeof(ctl.space) };
	struct cmsghdr *c;
	ssize_t n;

	fds[0] = fds[1] = fds[2] = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(3 * sizeof(int)))
		memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
	else if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[8];
		memcpy(got, CMSG_DATA(c), (k < 8 ? k : 8) * sizeof(int));
		for (size_t i = 0; i < k && i < 8; i++)
			close(got[i]);
		return -EBADMSG;
	}
	if (fds[0] < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return -EBADMSG;
	}
	return n;
}

struct job {
	const char *json;
	size_t len;
	const int *fds;
	const struct proc_title *title;
};

/* In the job's own process: the descriptors in place, then the one-shot helper's work. The exit code. */
static int job_main(void *arg)
{
	const struct job *j = arg;

	proc_title_set(j->title, "slipway-dl-job", "slipway-agent: download job");
	if (fchdir(j->fds[0]) < 0 || dup2(j->fds[1], STDOUT_FILENO) < 0 || dup2(j->fds[1], STDERR_FILENO) < 0 ||
	    dup2(j->fds[2], DOWNLOAD_RESULT_FD) < 0)
		return DOWNLOAD_EXIT_TRANSIENT;
	return download_helper_job(j->json, j->len);
}

/* One job in a fresh copy of this clean process: whatever an archive or a server did to the job's process
 * (it parses untrusted data) cannot reach the verdict of a later build. The exit code. */
static int run_one(const char *json, size_t len, const int fds[3], const struct proc_title *title)
{
	struct job j = { .json = json, .len = len, .fds = fds, .title = title };
	struct proc_result res;
	int code = DOWNLOAD_EXIT_TRANSIENT;

	if (proc_run_forked(job_main, &j, &res) == 0 && res.status == PROC_EXITED)
		code = res.code;
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	return code;
}

int download_server_main(const struct proc_title *title)
{
	char *buf = malloc(JOB_MSG_MAX + 1);
	int sock, null_fd;

	/* its own name: not the agent's command line (the config path) in ps; stdout and stderr are /dev/null between
	 * jobs (each job's go to its env log) */
	proc_title_set(title, "slipway-dl", "slipway-agent: download helper");
	signal(SIGPIPE, SIG_IGN);
	/* nothing this process runs may gain privileges (no setuid binaries, no file capabilities) */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || !buf)
		return DOWNLOAD_EXIT_TRANSIENT;
	sock = fcntl(HELPER_SOCK_FD, F_DUPFD_CLOEXEC, 10);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (sock < 0 || null_fd < 0 || chdir("/") < 0)
		return DOWNLOAD_EXIT_TRANSIENT;
	close(HELPER_SOCK_FD); /* fd 3 is each job's verdict pipe */
	(void)dup2(null_fd, STDOUT_FILENO);
	(void)dup2(null_fd, STDERR_FILENO);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return DOWNLOAD_EXIT_TRANSIENT;
	{
		/* OpenSSL builds its table of algorithm names at the first digest a process computes: once here, and
		 * every job (a fork) starts with it instead of building it again for each build it verifies */
		char hex[SHA256_HEX_LEN + 1];
		(void)sha256_hex("", 0, hex);
	}
	for (;;) {
		int fds[3];
		ssize_t n = recv_job(sock, buf, JOB_MSG_MAX, fds);
		unsigned char reply;

		if (n == -EBADMSG) {
			reply = DOWNLOAD_EXIT_FATAL;
			(void)send(sock, &reply, 1, MSG_NOSIGNAL);
			continue;
		}
		if (n <= 0)
			break; /* EOF: the agent is gone or stops us */
		buf[n] = '\0';
		reply = (unsigned char)run_one(buf, (size_t)n, fds, title);
		if (send(sock, &reply, 1, MSG_NOSIGNAL) < 0)
			break;
	}
	curl_global_cleanup();
	free(buf);
	return 0;
}

/* ---- the agent's side ----------------------------------------------------------------------------- */

extern char **environ;

void dl_helper_init(struct dl_helper *h)
{
	memset(h, 0, sizeof(*h));
	h->p.pid = -1;
	h->p.pidfd = -1;
	h->sock = -1;
}

void dl_helper_forget(struct dl_helper *h)
{
	struct proc_result res;

	if (h->sock >= 0)
		close(h->sock);
	h->sock = -1;
	if (h->p.pid > 0 && !h->p.reaped)
		(void)proc_terminate(&h->p, 2000, &res);
	if (h->p.pid > 0)
		proc_release(&h->p);
	dl_helper_init(h);
}

static int start(struct dl_helper *h)
{
	const char *argv[] = { "slipway-agent", "--internal-download-server", NULL };
	int sv[2], r;
	struct proc_spec spec = { .path = "/proc/self/exe", .argv = argv, .envp = (const char *const *)environ,
				  .log_fd = -1, .stdin_fd = -1 };

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	spec.extra_fd = sv[1];
	r = proc_spawn(&spec, &h->p);
	close(sv[1]);
	if (r < 0 || h->p.reaped) {
		close(sv[0]);
		if (r == 0)
			r = -h->p.result.exec_errno ? -h->p.result.exec_errno : -ENOEXEC;
		dl_helper_init(h);
		return r;
	}
	h->sock = sv[0];
	return 0;
}

static int server_entry(void *arg)
{
	return download_server_main(arg);
}

int dl_helper_fork(struct dl_helper *h, const struct proc_title *title)
{
	int sv[2], r;

	dl_helper_init(h);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	r = proc_fork_server(server_entry, (void *)title, sv[1], &h->p);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		dl_helper_init(h);
		return r;
	}
	h->sock = sv[0];
	return 0;
}

static int send_job(int sock, const char *job_json, const int fds[3])
{
	union {
		char space[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)job_json, .iov_len = strlen(job_json) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space,
			     .msg_controllen = sizeof(ctl.space) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	if (iov.iov_len > JOB_MSG_MAX)
		return -EMSGSIZE;
	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int dl_helper_submit(struct dl_helper *h, const char *job_json, int tmp_fd, int log_fd, int result_fd)
{
	const int fds[3] = { tmp_fd, log_fd, result_fd };
	struct proc_result res;
	int r = -EPIPE;

	if (h->sock >= 0 && proc_wait(&h->p, 0, &res) != 0)
		dl_helper_forget(h); /* it ended (or cannot be waited for) since the last job */
	for (int attempt = 0; attempt < 2 && r < 0; attempt++) {
		if (h->sock < 0) {
			r = start(h);
			if (r < 0)
				return r;
		}
		r = send_job(h->sock, job_json, fds);
		if (r == -EMSGSIZE)
			return r;
		if (r < 0)
			dl_helper_forget(h); /* a helper that went away between two jobs: start a new one */
	}
	if (r == 0)
		h->jobs++;
	return r;
}

void dl_helper_stop(struct dl_helper *h)
{
	struct proc_result res;

	if (h->sock < 0)
		return;
	close(h->sock);
	h->sock = -1;
	if (proc_wait(&h->p, mono_ms() + 2000, &res) != 1)
		(void)proc_terminate(&h->p, 1000, &res);
	dl_helper_forget(h);
}

int dl_helper_reply(struct dl_helper *h, struct proc_result *ret)
{
	unsigned char b;
	ssize_t n;

	do
		n = recv(h->sock, &b, 1, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 1) {
		memset(ret, 0, sizeof(*ret));
		ret->status = PROC_EXITED;
		ret->code = b;
		return 1;
	}
	/* EOF or an error: the helper ended (or is ending) without an answer */
	close(h->sock);
	h->sock = -1;
	if (proc_wait(&h->p, mono_ms() + 2000, ret) != 1)
		(void)proc_terminate(&h->p, 1000, ret);
	if (ret->status == PROC_EXITED && ret->code == DOWNLOAD_EXIT_OK)
		ret->code = DOWNLOAD_EXIT_TRANSIENT;
	dl_helper_forget(h);
	return 0;
}
