/*
 * proc_int.h - internals of src/proc, shared by its files only.
 *
 * A command is turned into a `prep` before any fork: the full argv (the
 * bwrap prefix when sandboxed), the environment, the resolved program, the
 * descriptors and limits. The child side of a fork then only runs
 * prep_exec, which makes async-signal-safe calls alone: the server has
 * many threads, and a fork copies just the calling one (a lock held by
 * another thread, malloc's included, would never be released).
 */
#ifndef MZ_PROC_INT_H
#define MZ_PROC_INT_H

#include "proc/proc.h"

#include <sys/resource.h>

#define MZ_BWRAP "/usr/bin/bwrap"
#define MZ_NOBODY 65534
#define MZ_STAGE "/tmp" /* in the child's own mount namespace only */

typedef mz_strv strv;

typedef struct prep {
	strv argv;           /* what execve gets */
	strv env;
	char *path;          /* the program execve runs */
	char *cwd;           /* chdir on the host before exec */
	int logfd;           /* stdout/stderr when not captured; -1: /dev/null */
	char *header;        /* written to the log first (may be NULL) */
	struct {
		int res;
		struct rlimit lim;
	} limits[6];
	int nlimits;
	bool sandboxed;      /* no new privileges */
	bool drop;           /* become the sandbox user (setgroups, setgid, setuid) */
	uid_t uid;
	gid_t gid;
	strv own;            /* trees handed to the sandbox user before the drop */
	strv stage;          /* paths to bind: the child mounts them on
	                      * MZ_STAGE/<i> in a mount namespace of its own
	                      * before it drops to the sandbox user, who may not
	                      * traverse their parents (a data dir is often 0700
	                      * root's) */
} prep;

/* Builds p's prep (argv with the sandbox prefix, environment, log). */
mz_code mz__prep(const mz_proc *p, prep *s, mz_err *err);
void mz__prep_free(prep *s);
/* The bwrap prefix for sb and the in-sandbox working directory (ends with
 * "--"); fills s->own and s->drop. */
void mz__sandbox_args(const mz_sandbox *sb, const char *cwd, prep *s);
/* Child side: stdio, header, ownership, limits, cwd, uid drop, exec.
 * Never returns. errfd (may be -1) gets errno when exec fails. */
void mz__prep_exec(const prep *s, int outfd, int nullfd, int errfd)
	__attribute__((noreturn));
/* chown of a tree without following links, async-signal-safe. */
void mz__own_tree(const char *path, uid_t uid, gid_t gid);
/* Signals back to their defaults, nothing blocked (child side). */
void mz__child_signals(void);

#endif
