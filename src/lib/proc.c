/* SPDX-License-Identifier: Apache-2.0 */
/* lib/proc.c: fork + exec with everything prepared beforehand; between fork and exec the child only makes
 * async-signal-safe calls (no malloc, no stdio, no logging). The fork is a clone(CLONE_VM | CLONE_VFORK) on a
 * stack of its own, as posix_spawn does: the parent's page tables are not copied (and torn down again by the
 * exec), which made a script's start cost as much as the script itself. The child therefore shares our memory
 * until execve: it writes nothing but its own stack (and errno), changes credentials with raw system calls (the
 * libc wrappers would signal every thread of the shared process) and the parent waits, suspended, until the
 * child has exec'd or exited. Must not be used for anything but spawning,
 * waiting for and stopping children. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"
#include "banned.h"

#define HIGH_FD 64

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void child_fail(int err_fd, int err)
{
	ssize_t k;

	do
		k = write(err_fd, &err, sizeof(err));
	while (k < 0 && errno == EINTR);
	_exit(err == ENOENT ? 127 : 126);
}

/* A child's signals as a new program gets them: every handler SIG_DFL, nothing blocked (async-signal-safe). */
static void signals_default(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Only async-signal-safe calls from here to execve. */
static void child_run(const struct proc_spec *spec, int err_fd, int null_fd, pid_t parent)
{
	int in_fd, out_fd, extra = -1, errh;
	char *const empty_env[] = { NULL };

	signals_default();

	/* setsid() first, so that kill(-pid) later reaches the script's children too */
	if (setsid() < 0)
		child_fail(err_fd, errno);

	/* move every source descriptor out of the 0..4 range before placing them */
	errh = fcntl(err_fd, F_DUPFD_CLOEXEC, HIGH_FD);
	if (errh < 0)
		child_fail(err_fd, errno);
	err_fd = errh;
	in_fd = fcntl(spec->stdin_fd >= 0 ? spec->stdin_fd : null_fd, F_DUPFD_CLOEXEC, HIGH_FD);
	out_fd = fcntl(spec->log_fd >= 0 ? spec->log_fd : null_fd, F_DUPFD_CLOEXEC, HIGH_FD);
	if (spec->extra_fd >= 0)
		extra = fcntl(spec->extra_fd, F_DUPFD_CLOEXEC, HIGH_FD);
	if (in_fd < 0 || out_fd < 0 || (spec->extra_fd >= 0 && extra < 0))
		child_fail(err_fd, errno);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		child_fail(err_fd, errno);
	if (extra >= 0 && dup2(extra, 3) < 0)
		child_fail(err_fd, errno);
	/* the error pipe goes right after the fds we keep; everything above it is closed */
	errh = dup3(err_fd, extra >= 0 ? 4 : 3, O_CLOEXEC);
	if (errh < 0)
		child_fail(err_fd, errno);
	err_fd = errh;
	if (syscall(SYS_close_range, (unsigned)err_fd + 1, ~0U, 0) < 0)
		for (int fd = err_fd + 1; fd < 4096; fd++)
			(void)close(fd);

	if (spec->cwd && chdir(spec->cwd) < 0)
		child_fail(err_fd, errno);
	if (spec->drop_privs) {
		if (syscall(SYS_setgroups, spec->n_groups, spec->groups) < 0 || syscall(SYS_setgid, spec->gid) < 0 ||
		    syscall(SYS_setuid, spec->uid) < 0)
			child_fail(err_fd, errno);
	}
	/* after the credential change, which would clear it */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		child_fail(err_fd, errno);
	if (getppid() != parent)
		_exit(1);
	execve(spec->path, (char *const *)spec->argv, spec->envp ? (char *const *)spec->envp : empty_env);
	child_fail(err_fd, errno);
}

#define CHILD_STACK_SIZE (256 * 1024)

struct child_args {
	const struct proc_spec *spec;
	int err_fd, null_fd;
	pid_t parent;
};

static int child_start(void *arg)
{
	const struct child_args *c = arg;

	child_run(c->spec, c->err_fd, c->null_fd, c->parent); /* never returns */
	return 127;
}

/* fork() without copying our memory: the child runs child_run() on stack and shares our address space until
 * its execve (the parent is suspended until then). The pid, or -1 with errno. */
static pid_t spawn_child(struct child_args *c, void *stack)
{
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer cannot follow a child running on a stack it did not allocate (it reports the noreturn
	 * _exit() of a failed exec as a possible false positive): sanitizer builds fork, which gives the child a
	 * copy of everything instead; what the child does is the same */
	pid_t pid;

	(void)stack;
	pid = fork();
	if (pid == 0)
		_exit(child_start(c));
	return pid;
#else
	return clone(child_start, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
#endif
}

static void result_from_status(int status, struct proc_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (WIFEXITED(status)) {
		ret->status = PROC_EXITED;
		ret->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		ret->status = PROC_SIGNALED;
		ret->code = WTERMSIG(status);
	} else {
		ret->status = PROC_EXITED;
		ret->code = 255;
	}
}

int proc_spawn(const struct proc_spec *spec, struct proc *ret)
{
	struct proc p = { .pid = -1, .pidfd = -1 };
	struct child_args args;
	void *stack;
	sigset_t all, old;
	int pipefd[2] = { -1, -1 }, null_fd = -1, err = 0, r;
	pid_t pid, parent = getpid();
	ssize_t k;

	if (!spec || !spec->path || !spec->argv || !ret)
		return -EINVAL;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		goto out;
	}
	stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	args = (struct child_args){ .spec = spec, .err_fd = pipefd[1], .null_fd = null_fd, .parent = parent };
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = spawn_child(&args, stack);
	r = pid < 0 ? -errno : 0;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	(void)munmap(stack, CHILD_STACK_SIZE); /* the child has exec'd or exited: it no longer runs on it */
	if (r < 0)
		goto out;
	close(pipefd[1]);
	pipefd[1] = -1;
	p.pid = pid;

	/* 0 bytes: exec succeeded (the CLOEXEC pipe closed); otherwise the child's errno */
	do
		k = read(pipefd[0], &err, sizeof(err));
	while (k < 0 && errno == EINTR);
	if (k == (ssize_t)sizeof(err)) {
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		p.reaped = true;
		p.result.status = PROC_EXEC_FAILED;
		p.result.code = err == ENOENT ? 127 : 126;
		p.result.exec_errno = err;
	} else {
		p.pidfd = sys_pidfd_open(pid);
	}
	*ret = p;
	r = 0;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (null_fd >= 0)
		close(null_fd);
	return r;
}

int proc_run_forked(int (*fn)(void *), void *arg, struct proc_result *ret)
{
	pid_t parent = getpid(), pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* the job dies with the process that waits for it */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		_exit(fn(arg) & 0xff);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	result_from_status(status, ret);
	return 0;
}

/* In the copy made by proc_fork_server(): what a spawned child gets before its exec (default signals, its own
 * session, /dev/null for stdio, extra_fd as fd 3 and nothing else open, death with the parent), then fn. */
static void server_child(int (*fn)(void *), void *arg, int extra_fd, int null_fd, pid_t parent)
{
	int keep;

	signals_default();
	keep = fcntl(extra_fd, F_DUPFD_CLOEXEC, HIGH_FD);
	if (setsid() < 0 || keep < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0 ||
	    dup2(keep, 3) < 0)
		_exit(127);
	if (syscall(SYS_close_range, 4U, ~0U, 0) < 0)
		for (int fd = 4; fd < 4096; fd++)
			(void)close(fd);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(127);
	_exit(fn(arg) & 0xff);
}

int proc_fork_server(int (*fn)(void *), void *arg, int extra_fd, struct proc *ret)
{
	struct proc p = { .pid = -1, .pidfd = -1 };
	pid_t parent = getpid(), pid;
	sigset_t all, old;
	int null_fd, err;

	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		server_child(fn, arg, extra_fd, null_fd, parent); /* never returns */
	err = errno;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(null_fd);
	if (pid < 0)
		return -err;
	p.pid = pid;
	p.pidfd = sys_pidfd_open(pid);
	*ret = p;
	return 0;
}

static int reap_nohang(struct proc *p)
{
	int status;
	pid_t w;

	if (p->reaped)
		return 1;
	do
		w = waitpid(p->pid, &status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if (w == 0)
		return 0;
	p->reaped = true;
	result_from_status(status, &p->result);
	return 1;
}

int proc_wait(struct proc *p, int64_t until_mono_ms, struct proc_result *ret)
{
	for (;;) {
		int64_t left;
		int r = reap_nohang(p);

		if (r < 0)
			return r;
		if (r > 0) {
			*ret = p->result;
			return 1;
		}
		left = until_mono_ms - mono_ms();
		if (left <= 0)
			return 0;
		if (p->pidfd >= 0) {
			struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
			r = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
			if (r < 0 && errno == EINTR)
				return -EINTR;
		} else {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
				return -EINTR;
		}
	}
}

/* 1 when /proc/<pid>/stat shows a live (non-zombie) member of group pgid, 0 otherwise */
static int pid_in_group_alive(const char *pid_name, pid_t pgid)
{
	char path[64], buf[512], *close_paren;
	int fd, r;
	ssize_t n;
	char state;
	long long ppid, pgrp;

	if (str_printf(path, sizeof(path), "/proc/%s/stat", pid_name) < 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name may contain spaces and parentheses: parse after the last ')' */
	close_paren = strrchr(buf, ')');
	if (!close_paren)
		return 0;
	r = sscanf(close_paren + 1, " %c %lld %lld", &state, &ppid, &pgrp);
	if (r != 3)
		return 0;
	return pgrp == (long long)pgid && state != 'Z' && state != 'X';
}

bool proc_group_alive(const struct proc *p)
{
	DIR *d;
	struct dirent *de;
	bool alive = false;

	if (p->pid <= 0)
		return false;
	if (kill(-p->pid, 0) < 0 && errno != EPERM)
		return false;
	/* kill(2) also sees zombies that wait for their (new) parent to reap them; those are gone for us */
	d = opendir("/proc");
	if (!d)
		return true;
	while (!alive && (de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && pid_in_group_alive(de->d_name, p->pid))
			alive = true;
	closedir(d);
	return alive;
}

int proc_terminate(struct proc *p, int64_t term_timeout_ms, struct proc_result *ret)
{
	int64_t deadline = mono_ms() + term_timeout_ms;
	int r;

	if (p->pid <= 0)
		return -ESRCH;
	(void)kill(-p->pid, SIGTERM);
	(void)kill(-p->pid, SIGCONT);
	for (;;) {
		r = reap_nohang(p);
		if (r < 0)
			return r;
		/* the group outlives its leader while any member lives; wait for all of them */
		if (r > 0 && !proc_group_alive(p))
			break;
		if (mono_ms() >= deadline) {
			(void)kill(-p->pid, SIGKILL);
			break;
		}
		{
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			(void)nanosleep(&ts, NULL);
		}
	}
	if (!p->reaped) {
		int status;
		/* reap the leader first: a zombie leader keeps the group visible */
		pid_t w;
		do
			w = waitpid(p->pid, &status, 0);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			return -errno;
		p->reaped = true;
		result_from_status(status, &p->result);
	}
	/* SIGKILL is delivered asynchronously; give the members a moment to die */
	for (int i = 0; i < 100 && proc_group_alive(p); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		(void)nanosleep(&ts, NULL);
	}
	*ret = p->result;
	return 0;
}

void proc_release(struct proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}

int proc_user_lookup(const char *name, struct proc_user *ret)
{
	struct proc_user u = { 0 };
	struct passwd pw, *res = NULL;
	char *sbuf = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	int r, ngroups = 64;

	if (sz < 16384)
		sz = 16384;
	sbuf = malloc((size_t)sz);
	if (!sbuf)
		return -ENOMEM;
	r = getpwnam_r(name, &pw, sbuf, (size_t)sz, &res);
	if (r != 0) {
		r = -r;
		goto out;
	}
	if (!res) {
		r = -ENOENT;
		goto out;
	}
	u.uid = pw.pw_uid;
	u.gid = pw.pw_gid;
	u.name = strdup(pw.pw_name);
	u.home = strdup(pw.pw_dir ? pw.pw_dir : "/");
	u.shell = strdup(pw.pw_shell && *pw.pw_shell ? pw.pw_shell : "/bin/sh");
	if (!u.name || !u.home || !u.shell) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		int n = ngroups;
		gid_t *g = realloc(u.groups, sizeof(gid_t) * (size_t)n);
		if (!g) {
			r = -ENOMEM;
			goto out;
		}
		u.groups = g;
		if (getgrouplist(pw.pw_name, pw.pw_gid, u.groups, &n) >= 0) {
			u.n_groups = (size_t)n;
			break;
		}
		if (n <= ngroups || n > 65536) {
			r = -E2BIG;
			goto out;
		}
		ngroups = n;
	}
	*ret = u;
	memset(&u, 0, sizeof(u));
	r = 0;
out:
	proc_user_release(&u);
	free(sbuf);
	return r;
}

void proc_user_release(struct proc_user *u)
{
	free(u->groups);
	free(u->name);
	free(u->home);
	free(u->shell);
	memset(u, 0, sizeof(*u));
}
