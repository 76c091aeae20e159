/*
 * proc_sandbox.c - the sandbox policy (see proc.h): the bwrap command line,
 * the hidden paths, the sandbox user and handing trees to it.
 */
#include "proc/proc_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static strv g_hidden; /* realpaths, under an empty tmpfs in every sandbox */

void
mz_proc_sandbox_hide(const char *path)
{
	char *real = path ? realpath(path, NULL) : NULL;
	if (!real)
		return;
	pthread_mutex_lock(&g_mu);
	bool have = strcmp(real, "/") == 0;
	for (size_t i = 0; i < g_hidden.n && !have; i++)
		have = strcmp(g_hidden.v[i], real) == 0;
	if (!have)
		mz_strv_add(&g_hidden, real);
	else
		free(real);
	pthread_mutex_unlock(&g_mu);
}

static bool g_allow_unsandboxed;

void
mz_proc_allow_unsandboxed(bool allow)
{
	__atomic_store_n(&g_allow_unsandboxed, allow, __ATOMIC_RELEASE);
}

bool
mz_proc_unsandboxed_allowed(void)
{
	return __atomic_load_n(&g_allow_unsandboxed, __ATOMIC_ACQUIRE);
}

mz_code
mz_proc_check_stage_sandbox(const json_t *stage, mz_err *err)
{
	json_t *v = json_object_get(stage, "sandbox");
	if (!v || json_is_true(v) || json_is_null(v))
		return MZ_OK;
	if (!json_is_false(v))
		return mz_fail(err, MZ_EINVAL, "stage '%s': \"sandbox\" must be true or false",
		               mz_json_str(stage, "name") ? mz_json_str(stage, "name") : "unnamed");
	if (mz_proc_unsandboxed_allowed())
		return MZ_OK;
	return mz_fail(err, MZ_EINVAL, "stage '%s': " MZ_PROC_UNSANDBOXED_REFUSED,
	               mz_json_str(stage, "name") ? mz_json_str(stage, "name") : "unnamed");
}

uid_t
mz_proc_sandbox_uid(void)
{
	return geteuid() == 0 ? (uid_t)MZ_NOBODY : geteuid();
}

static void
add(prep *s, const char *a)
{
	mz_strv_add(&s->argv, mz_strdup(a));
}

/* A path as bwrap needs it: absolute, no links (a bind target that goes
 * through a link would land somewhere else). */
static char *
canonical(const char *path)
{
	char *r = realpath(path, NULL);
	return r ? r : mz_strdup(path);
}

/* One bind. When the process will drop to the sandbox user, the child
 * stages the source (see proc_int.h); otherwise bwrap binds the path. */
static void
bind(prep *s, const char *path, bool writable)
{
	char *c = canonical(path);
	add(s, writable ? "--bind" : "--ro-bind");
	if (s->drop) {
		mz_strv_add(&s->argv, mz_asprintf(MZ_STAGE "/%zu", s->stage.n));
		mz_strv_add(&s->stage, mz_strdup(c));
	} else {
		add(s, c);
	}
	add(s, c);
	if (writable && s->drop)
		mz_strv_add(&s->own, c);
	else
		free(c);
}

void
mz__sandbox_args(const mz_sandbox *sb, const char *cwd, prep *s)
{
	/* Root's sandboxes run as nobody on the host; keep_uid (git) maps to
	 * the server's uid. Either way the namespace's user is 65534 with no
	 * capabilities. */
	s->drop = geteuid() == 0 && !sb->keep_uid;
	s->uid = s->drop ? (uid_t)MZ_NOBODY : geteuid();
	s->gid = s->drop ? (gid_t)MZ_NOBODY : getegid();
	static const char *const fixed[] = {
		MZ_BWRAP, "--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--tmpfs", "/root", "--ro-bind-try", "/dev/null", "/etc/shadow",
		"--ro-bind-try", "/dev/null", "/etc/gshadow", NULL};
	for (int i = 0; fixed[i]; i++)
		add(s, fixed[i]);
	/* the data directory and the like: hidden even when they lie under
	 * /tmp or /root already (a bind below could otherwise show a parent) */
	pthread_mutex_lock(&g_mu);
	for (size_t i = 0; i < g_hidden.n; i++) {
		if (strcmp(g_hidden.v[i], "/tmp") == 0 || strcmp(g_hidden.v[i], "/root") == 0)
			continue;
		add(s, "--tmpfs");
		add(s, g_hidden.v[i]);
	}
	pthread_mutex_unlock(&g_mu);
	for (const char *const *r = sb->readonly; r && *r; r++)
		bind(s, *r, false);
	for (const char *const *w = sb->writable; w && *w; w++)
		bind(s, *w, true);
	if (cwd) {
		char *c = canonical(cwd);
		add(s, "--chdir");
		add(s, c);
		free(c);
	}
	if (sb->die_with_parent)
		add(s, "--die-with-parent");
	add(s, "--");
}

/* ---- handing a tree to the sandbox user ------------------------------- */

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Below dfd, recursively: chown every entry (a link itself, never its
 * target), descending with O_NOFOLLOW. Raw getdents64 with a buffer on the
 * stack, so it may run between fork and exec. */
static void
own_below(int dfd, uid_t uid, gid_t gid, int depth)
{
	char buf[4096];
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (long off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
			off += d->d_reclen;
			const char *name = d->d_name;
			if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
				continue;
			(void)!fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
			bool dir = d->d_type == DT_DIR;
			if (d->d_type == DT_UNKNOWN) {
				struct stat st;
				dir = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				      S_ISDIR(st.st_mode);
			}
			if (dir && depth < 128) {
				int c = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (c >= 0) {
					own_below(c, uid, gid, depth + 1);
					close(c);
				}
			}
		}
	}
}

void
mz__own_tree(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)!fchown(fd, uid, gid);
	own_below(fd, uid, gid, 0);
	close(fd);
}

int
mz_proc_sandbox_own(const char *path)
{
	if (geteuid() != 0)
		return 0;
	struct stat st;
	if (!path || lstat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return lchown(path, MZ_NOBODY, MZ_NOBODY);
	mz__own_tree(path, MZ_NOBODY, MZ_NOBODY);
	return 0;
}
