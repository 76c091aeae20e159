/*
 * test_proc.c - the process module against real processes: the exact
 * environment, descriptors closed, the log file, exit codes, a timeout that
 * kills the whole process group, a detached chain that stops at the first
 * failure and outlives its starter, and the sandbox (bubblewrap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"

static char g_dir[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/mz-proc-test-XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mz_proc_rm_rf(g_dir);
	return 0;
}

static char *
slurp(const char *path)
{
	return mz_read_file(path, NULL, NULL);
}

static void
nap(int ms)
{
	usleep((useconds_t)ms * 1000);
}

static void
test_env_is_exact(void **state)
{
	(void)state;
	const char *const argv[] = {"env", NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", "ONLY=this", NULL};
	setenv("MZ_TEST_LEAK", "leaked", 1);
	mz_proc p = {.argv = argv, .env = env, .capture = true};
	mz_buf out;
	mz_buf_init(&out, 0);
	mz_err err = {0};
	assert_int_equal(mz_proc_run(&p, &out, &err), 0);
	mz_buf_add(&out, "", 1);
	assert_string_equal(out.data, "PATH=/usr/bin:/bin\nONLY=this\n");
	mz_buf_release(&out);

	/* no environment at all */
	const char *const env_path[] = {"/usr/bin/env", NULL};
	mz_proc q = {.argv = env_path, .capture = true};
	mz_buf_init(&out, 0);
	assert_int_equal(mz_proc_run(&q, &out, &err), 0);
	assert_int_equal(out.len, 0);
	mz_buf_release(&out);
}

static void
test_descriptors_closed(void **state)
{
	(void)state;
	/* a descriptor the server forgot to mark close-on-exec */
	int fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 77), 77);
	close(fd);
	const char *const argv[] = {"python3", "-c",
	                            "import os; print(' '.join(sorted(os.listdir('/proc/self/fd'))))",
	                            NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	mz_proc p = {.argv = argv, .env = env, .capture = true};
	mz_buf out;
	mz_buf_init(&out, 0);
	assert_int_equal(mz_proc_run(&p, &out, NULL), 0);
	mz_buf_add(&out, "", 1);
	/* 0, 1, 2 and the one listdir itself opened */
	assert_string_equal(out.data, "0 1 2 3\n");
	mz_buf_release(&out);
	close(77);
}

static void
test_log_file_and_cwd(void **state)
{
	(void)state;
	char *log = mz_asprintf("%s/log", g_dir);
	const char *const argv[] = {"sh", "-c", "echo out; echo err >&2; pwd", NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	mz_proc p = {.argv = argv, .env = env, .cwd = g_dir, .log_path = log,
	             .log_header = "$ the header\n"};
	assert_int_equal(mz_proc_run(&p, NULL, NULL), 0);
	assert_int_equal(mz_proc_run(&p, NULL, NULL), 0); /* appended */
	char *text = slurp(log);
	char *want = mz_asprintf("$ the header\nout\nerr\n%s\n$ the header\nout\nerr\n%s\n", g_dir,
	                         g_dir);
	assert_string_equal(text, want);
	free(want);
	free(text);
	free(log);
}

static void
test_exit_codes(void **state)
{
	(void)state;
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	const char *const f[] = {"false", NULL};
	const char *const k[] = {"sh", "-c", "kill -9 $$", NULL};
	const char *const missing[] = {"no-such-program-mizzen", NULL};
	mz_proc p = {.argv = f, .env = env};
	assert_int_equal(mz_proc_run(&p, NULL, NULL), 1);
	mz_proc q = {.argv = k, .env = env};
	assert_int_equal(mz_proc_run(&q, NULL, NULL), 128 + 9);
	mz_proc r = {.argv = missing, .env = env};
	mz_err err = {0};
	assert_int_equal(mz_proc_run(&r, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "no-such-program-mizzen"));
	/* the new session: the child leads its own group */
	const char *const pg[] = {"sh", "-c", "ps -o pgid= -p $$; echo $$", NULL};
	mz_proc s = {.argv = pg, .env = env, .capture = true};
	mz_buf out;
	mz_buf_init(&out, 0);
	assert_int_equal(mz_proc_run(&s, &out, NULL), 0);
	mz_buf_add(&out, "", 1);
	int pgid = 0, pid = 1;
	assert_int_equal(sscanf(out.data, " %d %d", &pgid, &pid), 2);
	assert_int_equal(pgid, pid);
	mz_buf_release(&out);
}

static void
test_timeout_kills_the_group(void **state)
{
	(void)state;
	char *pidfile = mz_asprintf("%s/bg.pid", g_dir);
	char *script = mz_asprintf("sleep 300 & echo $! > %s; trap '' TERM; sleep 300", pidfile);
	const char *const argv[] = {"sh", "-c", script, NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	mz_proc p = {.argv = argv, .env = env, .timeout_ms = 300, .grace_ms = 300};
	int64_t t0 = mz_mono_ms();
	assert_int_equal(mz_proc_run(&p, NULL, NULL), 124);
	int64_t took = mz_mono_ms() - t0;
	assert_true(took >= 300 && took < 3000);
	char *text = slurp(pidfile);
	assert_non_null(text);
	pid_t bg = atoi(text);
	assert_true(bg > 1);
	for (int i = 0; i < 100 && mz_proc_start_ticks(bg) != 0; i++)
		nap(20);
	assert_int_equal(mz_proc_start_ticks(bg), 0); /* the background child went too */
	free(text);
	free(script);
	free(pidfile);
}

static void
test_capture_is_capped(void **state)
{
	(void)state;
	const char *const argv[] = {"head", "-c", "1000000", "/dev/zero", NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	mz_proc p = {.argv = argv, .env = env, .capture = true};
	mz_buf out;
	mz_buf_init(&out, 65536);
	assert_int_equal(mz_proc_run(&p, &out, NULL), 0); /* drained, not blocked */
	assert_true(out.len <= 65536);
	mz_buf_release(&out);
}

static void
test_detached_chain(void **state)
{
	(void)state;
	char *log = mz_asprintf("%s/chain.log", g_dir);
	char *status = mz_asprintf("%s/exit", g_dir);
	char *never = mz_asprintf("%s/never", g_dir);
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	const char *const a1[] = {"echo", "one", NULL};
	const char *const a2[] = {"sh", "-c", "echo two; exit 3", NULL};
	const char *const a3[] = {"touch", never, NULL};
	mz_proc s3 = {.argv = a3, .env = env, .log_path = log};
	mz_proc s2 = {.argv = a2, .env = env, .log_path = log, .then = &s3};
	mz_proc s1 = {.argv = a1, .env = env, .log_path = log, .log_header = "$ echo one\n",
	              .then = &s2, .detach = true, .status_path = status};
	mz_err err = {0};
	assert_int_equal(mz_proc_start(&s1, &err), MZ_OK);
	assert_true(s1.pid > 0);
	/* not our child: it outlives us */
	assert_int_equal(waitpid(s1.pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	char *text = NULL;
	for (int i = 0; i < 250 && !(text = slurp(status)); i++)
		nap(20);
	assert_non_null(text);
	assert_string_equal(text, "3 failed\n");
	free(text);
	text = slurp(log);
	assert_string_equal(text, "$ echo one\none\ntwo\n");
	free(text);
	assert_int_not_equal(access(never, F_OK), 0);
	free(log);
	free(status);
	free(never);
}

static void
test_kill_group_of_a_detached_process(void **state)
{
	(void)state;
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	const char *const a[] = {"sleep", "300", NULL};
	char *status = mz_asprintf("%s/exit", g_dir);
	mz_proc p = {.argv = a, .env = env, .detach = true, .status_path = status};
	assert_int_equal(mz_proc_start(&p, NULL), MZ_OK);
	assert_true(mz_proc_alive(p.pid, p.start_ticks));
	assert_false(mz_proc_alive(p.pid, p.start_ticks + 1)); /* a recycled pid is not it */
	mz_proc_kill_group(p.pid, p.start_ticks, 500);
	for (int i = 0; i < 100 && mz_proc_alive(p.pid, p.start_ticks); i++)
		nap(20);
	assert_false(mz_proc_alive(p.pid, p.start_ticks));
	free(status);
}

static bool
bwrap_works(void)
{
	const char *const argv[] = {"/usr/bin/bwrap", "--unshare-user", "--ro-bind", "/", "/",
	                            "--", "true", NULL};
	return access("/usr/bin/bwrap", X_OK) == 0 && mz_proc_run_argv(argv, NULL, 10000) == 0;
}

static void
test_sandbox(void **state)
{
	(void)state;
	if (!bwrap_works()) {
		print_message("  bubblewrap cannot run here; sandbox test skipped\n");
		skip();
	}
	char *hidden = mz_asprintf("%s/data", g_dir);
	char *ws = mz_asprintf("%s/data/ws", g_dir);
	char *secret = mz_asprintf("%s/data/secret", g_dir);
	mz_mkdirs(ws, 0755);
	FILE *f = fopen(secret, "w");
	fputs("s3cret", f);
	fclose(f);
	mz_proc_sandbox_hide(hidden);
	char *script = mz_asprintf(
		"grep CapEff /proc/self/status; "
		"cat %s 2>/dev/null && echo SECRET-VISIBLE; "
		"ls /root | grep -q . && echo ROOT-VISIBLE; "
		"touch /var/tmp/mz-proc-escape 2>/dev/null && echo WROTE-OUTSIDE; "
		"mknod /tmp/null c 1 3 2>/dev/null && echo MKNOD; "
		"mount -o remount,rw / 2>/dev/null && echo REMOUNTED; "
		"echo hi > %s/made && echo WS-OK; touch /tmp/t && echo TMP-OK; pwd",
		secret, ws);
	const char *const argv[] = {"sh", "-c", script, NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	const char *const writable[] = {ws, NULL};
	mz_sandbox sb = {.writable = writable};
	mz_proc p = {.argv = argv, .env = env, .cwd = ws, .sandbox = &sb, .capture = true};
	mz_buf out;
	mz_buf_init(&out, 0);
	mz_err err = {0};
	int rc = mz_proc_run(&p, &out, &err);
	mz_buf_add(&out, "", 1);
	if (rc != 0)
		print_message("  sandbox said: %s%s\n", out.data, err.msg);
	assert_int_equal(rc, 0);
	char *want = mz_asprintf("CapEff:\t0000000000000000\nWS-OK\nTMP-OK\n%s\n", ws);
	assert_string_equal(out.data, want);
	free(want);
	mz_buf_release(&out);
	struct stat st;
	char *made = mz_asprintf("%s/made", ws);
	assert_int_equal(stat(made, &st), 0);
	assert_int_equal(st.st_uid, mz_proc_sandbox_uid());
	assert_int_not_equal(access("/var/tmp/mz-proc-escape", F_OK), 0);
	free(made);
	free(script);
	free(hidden);
	free(ws);
	free(secret);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_env_is_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_descriptors_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_file_and_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_the_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_is_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detached_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_group_of_a_detached_process, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_sandbox, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
