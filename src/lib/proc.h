/* SPDX-License-Identifier: Apache-2.0 */
/* lib/proc.h: the only place that forks (STYLE.md §9). Spawns one child in its own session and process
 * group with prepared argv/envp/fds/credentials, waits for it against monotonic deadlines, and stops the
 * whole process group (SIGTERM, grace, SIGKILL). Exec failures come back through a CLOEXEC pipe.
 *
 * Calling sequence:
 *   struct proc p; proc_spawn(&spec, &p);
 *   loop: r = proc_wait(&p, slice_deadline_mono_ms, &res);   1 = ended (res filled), 0 = still running
 *   on timeout/abort: proc_terminate(&p, termination_timeout_ms, &res);
 *   proc_release(&p) (also after the child ended).
 * Does not log. */
#ifndef SLIPWAY_PROC_H
#define SLIPWAY_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_spec {
	const char *path;     /* executable (execve: no PATH search) */
	const char *const *argv; /* NULL-terminated */
	const char *const *envp; /* NULL-terminated; NULL = empty environment */
	const char *cwd;      /* NULL = inherit (the parent's working directory never changes) */
	int log_fd;           /* stdout and stderr; -1 → /dev/null */
	int stdin_fd;         /* -1 → /dev/null */
	int extra_fd;         /* -1, or a descriptor dup'ed to fd 3 in the child */
	bool drop_privs;      /* setgroups(groups), setgid(gid), setuid(uid) before exec */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
};

enum proc_status {
	PROC_RUNNING,
	PROC_EXITED,      /* code = exit status */
	PROC_SIGNALED,    /* code = signal number */
	PROC_TIMED_OUT,   /* set by callers that stopped the child for a timeout; code = last status */
	PROC_EXEC_FAILED, /* code = 126 (not executable, no shebang) or 127 (not found); exec_errno = why */
};

struct proc_result {
	enum proc_status status;
	int code;
	int exec_errno;
};

struct proc {
	pid_t pid;   /* also the process group id and session id */
	int pidfd;   /* -1 when pidfd_open is unavailable (falls back to polling waitpid) */
	bool reaped; /* the leader has been waited for; result holds its status */
	struct proc_result result;
};

/* Forks and execs. On success *ret is filled (also when exec failed: then the child is already reaped and
 * proc_wait reports PROC_EXEC_FAILED at once). Returns 0, or a negative errno when nothing could be started
 * (pipe, fork, /dev/null). */
int proc_spawn(const struct proc_spec *spec, struct proc *ret);

/* Waits until the child ends or until_mono_ms passes (0 = do not block). Returns 1 with *ret filled when
 * the leader ended, 0 when it still runs, -EINTR when a signal arrived (callers re-check their flags),
 * other negative errno on failure. */
int proc_wait(struct proc *p, int64_t until_mono_ms, struct proc_result *ret);

/* Stops the whole process group: SIGTERM to the group, wait up to term_timeout_ms for the leader and every
 * other member, then SIGKILL to the group, then reap the leader (blocking). *ret gets the leader's status
 * (PROC_EXITED/PROC_SIGNALED). Safe after the leader already ended (kills leftovers of the group).
 * Returns 0 or a negative errno. */
int proc_terminate(struct proc *p, int64_t term_timeout_ms, struct proc_result *ret);

/* True while any process of the child's process group exists (leader reaped or not). */
bool proc_group_alive(const struct proc *p);

/* Closes descriptors held for the child. Does not wait or kill. */
void proc_release(struct proc *p);

/* Run fn(arg) in a forked copy of this single-threaded process and wait for it; the copy exits with fn's return
 * value and is killed if we die. For a helper that must not carry anything of one untrusted job into the next
 * (the agent itself never forks without exec). 0 with *ret, or a negative errno when fork failed. */
int proc_run_forked(int (*fn)(void *), void *arg, struct proc_result *ret);

/* Fork a long-lived copy of this single-threaded process that runs fn(arg) and exits with its return value, set
 * up like a spawned child before its exec: default signals, its own session and process group, stdin, stdout and
 * stderr on /dev/null, extra_fd as fd 3 and nothing else open, SIGTERM when we die. For a helper started before
 * the process has read anything the helper must not hold (its configuration, secrets): the copy shares the
 * already relocated library pages instead of loading every library again, as an exec of our binary would. 0
 * with *ret (proc_wait/proc_terminate/proc_release as for proc_spawn), or a negative errno. */
int proc_fork_server(int (*fn)(void *), void *arg, int extra_fd, struct proc *ret);

/* Credentials of a user for proc_spec (getpwnam_r + getgrouplist, done before forking). */
struct proc_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* malloc'd */
	size_t n_groups;
	char *name, *home, *shell; /* malloc'd */
};
/* Returns 0, -ENOENT (no such user), or a negative errno. */
int proc_user_lookup(const char *name, struct proc_user *ret);
void proc_user_release(struct proc_user *u);

#endif
