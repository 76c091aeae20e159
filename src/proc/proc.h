/*
 * proc.h - the one way mizzen starts a process (git's run-command is the
 * model: one struct, one start, one wait).
 *
 * Every program mizzen runs - builds (runJob) and their git checkout, bake
 * commands and the bakery's helpers, deployed instances, HAProxy, the git
 * poller, rm/chmod/tar helpers - is described by an mz_proc and started by
 * mz_proc_start:
 *
 *   - argv only, never a shell string; argv[0] without a '/' is looked up in
 *     the PATH of the given environment (inside the sandbox, by bwrap);
 *   - exactly the environment given (nothing of the server's leaks in);
 *   - a working directory;
 *   - stdin from /dev/null, stdout and stderr appended to a log file, or
 *     captured through a pipe (mz_proc_run), or /dev/null;
 *   - always a new session, so the process leads its own process group and
 *     a kill of the group reaches everything it started;
 *   - every descriptor but 0, 1 and 2 closed;
 *   - resource limits;
 *   - a timeout (mz_proc_wait): SIGTERM to the group, SIGKILL after a grace;
 *   - the sandbox policy below.
 *
 * THE SANDBOX (every user-supplied command: runJob and its git checkout,
 * bake commands, deployed instances). The command runs inside bubblewrap
 * (/usr/bin/bwrap) with:
 *   - a new user namespace, every capability dropped and no new privileges
 *     (so no mount, no mknod, no setuid binary gains anything);
 *   - when the server runs as root, the process runs as the unprivileged
 *     host user nobody (65534): files only root may read (/etc/shadow, keys)
 *     stay unreadable, and what it writes is owned by nobody. Writable paths
 *     are handed to that user first (chown of the tree, links not followed).
 *     `keep_uid` keeps the server's uid instead (capabilities still dropped)
 *     for git, which must read repositories only the server can read;
 *   - new pid, IPC and UTS namespaces (the network is shared: builds fetch,
 *     instances listen);
 *   - / read-only; a private /tmp; /root, the data directory and any path
 *     given to mz_proc_sandbox_hide under an empty tmpfs; /etc/shadow and
 *     /etc/gshadow replaced by an empty file;
 *   - only the `writable` paths writable, and the `readonly` paths visible
 *     read-only wherever they lie (a local git repository under /tmp, an
 *     image under the hidden data directory).
 *
 * Thread safety: every function may be called from any thread; the child
 * side of a fork only makes async-signal-safe calls (everything it needs is
 * prepared before the fork).
 */
#ifndef MZ_PROC_H
#define MZ_PROC_H

#include "core/core.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A growing NULL-terminated vector of owned strings, for building an argv
 * or an environment: `(const char *const *)v.v` is what mz_proc takes. */
typedef struct mz_strv {
	char **v;
	size_t n, cap;
} mz_strv;

void mz_strv_add(mz_strv *s, char *owned); /* aborts on OOM */
void mz_strv_free(mz_strv *s);
/* KEY=VALUE for each member of a JSON object (a stage's or server group's
 * `env`; values that are not strings as JSON), skipping names that are
 * empty or hold '='. */
void mz_strv_add_env(mz_strv *s, const json_t *env);
#define MZ_STRV_LIST(s) ((const char *const *)(s)->v)

/* The sandbox of one process (see above). */
typedef struct mz_sandbox {
	const char *const *writable; /* NULL-terminated; bound read-write */
	const char *const *readonly; /* NULL-terminated; bound read-only */
	bool keep_uid;               /* map to the server's uid, not nobody */
	bool die_with_parent;        /* killed when the process that started it dies */
} mz_sandbox;

/* Resource limits; 0 leaves a limit as inherited, except open_files: 0
 * gives the process the soft RLIMIT_NOFILE this server had before it
 * raised its own (mz_proc_raise_nofile), -1 the server's raised one. */
#define MZ_PROC_NOFILE_SERVER (-1)
typedef struct mz_proc_limits {
	int64_t open_files;
	int64_t file_size_mb;
	int64_t cpu_seconds;
	int64_t memory_mb;
	bool no_core;                /* core dumps off */
} mz_proc_limits;

typedef struct mz_proc mz_proc;

struct mz_proc {
	/* what to run */
	const char *const *argv;     /* NULL-terminated, argv[0] required */
	const char *const *env;      /* NULL-terminated; NULL: an empty environment */
	const char *cwd;             /* NULL: "/" */
	/* where its output goes */
	const char *log_path;        /* stdout+stderr appended (created 0644) */
	const char *log_header;      /* written to the log just before the command */
	bool capture;                /* stdout+stderr to a pipe read by mz_proc_wait */
	/* limits and policy */
	mz_proc_limits limits;
	const mz_sandbox *sandbox;   /* NULL: runs on the host, as the server's user */
	int timeout_ms;              /* mz_proc_wait: 0 = none */
	int grace_ms;                /* SIGTERM to SIGKILL on timeout (default 2000) */
	/* detached: a supervisor process that is nobody's child (it outlives
	 * the server) runs this command, then each `then` while they exit 0,
	 * and writes "<exit code> ok|failed\n" to status_path (atomically, via
	 * status_path.tmp). pid is the supervisor, the group's leader. */
	bool detach;
	const mz_proc *then;
	const char *status_path;

	/* filled by mz_proc_start */
	pid_t pid;                   /* the process (group leader), -1 before */
	uint64_t start_ticks;        /* its start time from /proc, to recognise it later */
	int out_fd;                  /* the capture pipe, -1 when none */
};

/* The sandbox's hidden paths: the data directory (and anything else given
 * here, e.g. a secret key file's directory) lies under an empty tmpfs in
 * every sandbox. Call before the first sandboxed start; again to add. */
void mz_proc_sandbox_hide(const char *path);
/* `"sandbox": false` on a stage runs its command on the host: refused
 * unless the config says {"sandbox": {"allowUnsandboxed": true}}. */
void mz_proc_allow_unsandboxed(bool allow);
bool mz_proc_unsandboxed_allowed(void);
#define MZ_PROC_UNSANDBOXED_REFUSED                                                        \
	"\"sandbox\": false is refused: this server runs every command in its sandbox "    \
	"(allow it with {\"sandbox\": {\"allowUnsandboxed\": true}} in the config)"
/* A stage's "sandbox" key: MZ_OK when absent, true, or false and allowed;
 * MZ_EINVAL with the message above otherwise (for validation at save). */
mz_code mz_proc_check_stage_sandbox(const json_t *stage, mz_err *err);

/* The host uid sandboxed processes run as (65534 when the server is root,
 * else the server's own uid). */
uid_t mz_proc_sandbox_uid(void);

/* Starts p. On success p->pid and p->start_ticks are set; an exec failure
 * of a direct child is reported here (not for detached or sandboxed ones,
 * whose failure is their exit status and a line in the log). */
mz_code mz_proc_start(mz_proc *p, mz_err *err);
/* Waits for a started (not detached) process: reads the capture pipe into
 * out (capped at out->max, the rest is drained and dropped), enforces the
 * timeout with a group kill. Returns the exit code, 128+signal when killed
 * by a signal, 124 after a timeout, -1 when it cannot wait. */
int mz_proc_wait(mz_proc *p, mz_buf *out);
/* Start + wait; -1 with err when it cannot start. */
int mz_proc_run(mz_proc *p, mz_buf *out, mz_err *err);

/* Convenience: runs argv on the host with an empty environment but PATH,
 * output captured into out (may be NULL), a timeout; returns as mz_proc_wait. */
int mz_proc_run_argv(const char *const argv[], mz_buf *out, int timeout_ms);

/* ---- processes started earlier (maybe by an earlier server) ------------ */

/* Start time (field 22 of /proc/<pid>/stat), 0 when there is no such
 * process or it is a zombie. Reaps nothing. */
uint64_t mz_proc_start_ticks(pid_t pid);
/* Alive with this start time (a recycled pid is not the same process). */
bool mz_proc_alive(pid_t pid, uint64_t start_ticks);
/* Collects the exit of a child of this process that has ended: true with
 * *code (exit code or 128+signal) when it was reaped now. */
bool mz_proc_reap(pid_t pid, int *code);
/* SIGTERM to the process group led by pid (if it is still the process
 * started at start_ticks), up to grace_ms for it to go, then SIGKILL to
 * the group. A child of ours is reaped. */
void mz_proc_kill_group(pid_t pid, uint64_t start_ticks, int grace_ms);

/* ---- the server's own limits ------------------------------------------- */

/* Raises this process's soft RLIMIT_NOFILE to its hard limit (a server
 * holding thousands of connections needs it) and remembers the soft limit
 * it had, which every process started afterwards gets back (see
 * mz_proc_limits.open_files): a build, a bake, git or an instance sees the
 * host's usual limit, not the server's, as it would from a shell (programs
 * using select() break above 1024 descriptors). Returns the soft limit now
 * in force (2^20 for "unlimited"). Call once, before starting threads that
 * spawn. */
uint64_t mz_proc_raise_nofile(void);

/* ---- helpers ------------------------------------------------------------ */

/* The last max bytes of a process's log file ("" when there is none). */
char *mz_proc_log_tail(const char *path, size_t max);
/* rm -rf path (write permission restored first); refuses "/" and "". */
int mz_proc_rm_rf(const char *path);
/* Hands a tree to the sandbox user (chown, links not followed); a no-op
 * unless the server is root. 0 on success. */
int mz_proc_sandbox_own(const char *path);

#endif
