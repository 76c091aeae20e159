/* cli_main.c - `mizzen GROUP COMMAND [flags]`: finds the command, parses its
 * flags, sets up the HTTP client and runs it. Also prints the help. */
#include "cli/cli_int.h"

#include <stdarg.h>
#include <termios.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MZ_CLI_DEFAULT_URL "http://127.0.0.1:8084"
#define MZ_CLI_DEFAULT_TIMEOUT_MS 60000L

typedef struct mz_cli_group {
	const char *name;
	const char *aliases[3];
	const char *summary;
	const mz_cli_cmd *cmds;
} mz_cli_group;

static const mz_cli_group groups[] = {
	{"application", {"applications", "app", NULL},
	 "list, show, create and delete applications", mz_cli_application_cmds},
	{"pipeline", {"pipelines", "pi", NULL},
	 "list, show, save, delete and run pipeline configs", mz_cli_pipeline_cmds},
	{"pipeline-execution", {"execution", "executions", "ex"},
	 "list, show and control pipeline executions", mz_cli_execution_cmds},
	{"server-group", {"server-groups", "sg", NULL},
	 "list server groups", mz_cli_server_group_cmds},
	{"user", {"users", NULL, NULL},
	 "add, list and delete users and their roles (admins)", mz_cli_user_cmds},
	{"token", {"tokens", NULL, NULL},
	 "create, list and delete your API tokens", mz_cli_token_cmds},
	{"audit", {NULL, NULL, NULL},
	 "list the audit trail (who changed what, refusals)", mz_cli_audit_cmds},
	{NULL, {NULL}, NULL, NULL},
};

static const mz_cli_group *
find_group(const char *word)
{
	for (const mz_cli_group *g = groups; g->name; g++) {
		if (strcmp(g->name, word) == 0)
			return g;
		for (int i = 0; i < 3 && g->aliases[i]; i++)
			if (strcmp(g->aliases[i], word) == 0)
				return g;
	}
	return NULL;
}

static const mz_cli_cmd *
find_cmd(const mz_cli_group *g, const char *word)
{
	for (const mz_cli_cmd *c = g->cmds; c->name; c++)
		if (strcmp(c->name, word) == 0 || mz_streq(c->alias, word))
			return c;
	return NULL;
}

static void
print_opts(FILE *out, const mz_cli_optdef *opts)
{
	for (const mz_cli_optdef *d = opts; d && d->name; d++) {
		char left[64];
		if (d->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s", d->short_name, d->name,
				 d->kind == MZ_OPT_VALUE ? " VALUE" : "");
		else
			snprintf(left, sizeof(left), "    --%s%s", d->name,
				 d->kind == MZ_OPT_VALUE ? " VALUE" : "");
		fprintf(out, "  %-30s %s\n", left, d->help);
	}
}

static void
print_main_help(FILE *out)
{
	fprintf(out,
		"usage: mizzen [--url URL] [--user NAME [--password PW] | --token T] GROUP COMMAND [flags]\n"
		"       mizzen serve [--listen HOST:PORT] [--data DIR] [--config FILE] [--db URL]\n"
		"\n"
		"mizzen's client speaks the Gate API, like Spinnaker's spin.\n"
		"\n"
		"Groups:\n");
	for (const mz_cli_group *g = groups; g->name; g++)
		fprintf(out, "  %-20s %s\n", g->name, g->summary);
	fprintf(out, "\nGlobal flags:\n");
	print_opts(out, mz_cli_global_opts);
	fprintf(out, "\nRun 'mizzen GROUP --help' for the commands of a group.\n");
}

static void
print_group_help(FILE *out, const mz_cli_group *g)
{
	fprintf(out, "usage: mizzen %s COMMAND [flags]\n\n%s.\n\nCommands:\n",
		g->name, g->summary);
	for (const mz_cli_cmd *c = g->cmds; c->name; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->summary);
	fprintf(out, "\nRun 'mizzen %s COMMAND --help' for its flags.\n", g->name);
}

static void
print_cmd_help(FILE *out, const char *group, const mz_cli_cmd *c)
{
	fprintf(out, "usage: mizzen %s %s %s\n\n%s.\n\nFlags:\n", group, c->name,
		c->synopsis, c->summary);
	print_opts(out, c->opts);
	print_opts(out, mz_cli_global_opts);
}

int
mz_cli_usage(mz_cli *c, const char *fmt, ...)
{
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "usage: mizzen %s %s %s\n", c->group, c->cmd->name,
		c->cmd->synopsis);
	return MZ_CLI_USAGE;
}

static bool
is_help(const char *w)
{
	return strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0 ||
	       strcmp(w, "help") == 0;
}

/* Picks the base URL: --url, else $MIZZEN_URL, else the default; a
 * trailing '/' is dropped so paths can be appended. */
static char *
base_url(const char *flag)
{
	const char *u = flag;
	size_t n;
	if (!u || !*u)
		u = getenv("MIZZEN_URL");
	if (!u || !*u)
		u = MZ_CLI_DEFAULT_URL;
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return NULL;
	n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	return mz_asprintf("%.*s", (int)n, u);
}

/* Global flags given before the group (`mizzen --url U --user A app list`). */
typedef struct mz_cli_pre {
	const char *url, *user, *password, *token;
} mz_cli_pre;

/* Reads a password from the terminal without echoing it. */
static char *
ask_password(const char *user)
{
	struct termios old, quiet;
	char buf[1024];
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return NULL;
	fprintf(tty, "Password for %s: ", user);
	fflush(tty);
	bool echo_off = tcgetattr(fileno(tty), &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	}
	char *got = fgets(buf, sizeof(buf), tty);
	if (echo_off)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (!got)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	char *pw = mz_strdup(buf);
	memset(buf, 0, sizeof(buf));
	return pw;
}

/* Credentials: --token, else --user with --password ($MIZZEN_PASSWORD, or
 * asked on the terminal), else $MIZZEN_TOKEN, else none. */
static bool
credentials(mz_cli *c, const mz_cli_args *a, const mz_cli_pre *pre)
{
	const char *token = mz_cli_opt(a, "token") ? mz_cli_opt(a, "token") : pre->token;
	const char *user = mz_cli_opt(a, "user") ? mz_cli_opt(a, "user") : pre->user;
	const char *pw = mz_cli_opt(a, "password") ? mz_cli_opt(a, "password") : pre->password;
	if (token && *token) {
		c->token = token;
		return true;
	}
	if (user && *user) {
		c->user = user;
		if (!pw)
			pw = getenv("MIZZEN_PASSWORD");
		c->password = pw ? mz_strdup(pw) : ask_password(user);
		if (!c->password) {
			mz_cli_usage(c, "--user %s needs --password (or $MIZZEN_PASSWORD)", user);
			return false;
		}
		return true;
	}
	const char *env = getenv("MIZZEN_TOKEN");
	if (env && *env)
		c->token = env;
	return true;
}

static int
run_cmd(const char *group, const mz_cli_cmd *cmd, int argc, char **argv,
	int from, const mz_cli_pre *pre)
{
	const char *url_flag = pre->url;
	mz_cli c = {0};
	mz_cli_args a;
	const char *t;
	char *end;
	int rc;

	c.group = group;
	c.cmd = cmd;
	if (!mz_cli_args_parse(&a, cmd->opts, argc, argv, from)) {
		mz_cli_args_release(&a);
		return mz_cli_usage(&c, NULL);
	}
	if (mz_cli_flag(&a, "help")) {
		print_cmd_help(stdout, group, cmd);
		mz_cli_args_release(&a);
		return MZ_CLI_OK;
	}
	if (a.npos > cmd->max_pos) {
		rc = mz_cli_usage(&c, "unexpected argument: %s", a.pos[cmd->max_pos]);
		mz_cli_args_release(&a);
		return rc;
	}
	c.timeout_ms = MZ_CLI_DEFAULT_TIMEOUT_MS;
	t = mz_cli_opt(&a, "timeout");
	if (t) {
		double secs = strtod(t, &end);
		if (end == t || *end != '\0' || secs < 0) {
			rc = mz_cli_usage(&c, "invalid --timeout: %s (seconds)", t);
			mz_cli_args_release(&a);
			return rc;
		}
		c.timeout_ms = (long)(secs * 1000);
	}
	c.url = base_url(mz_cli_opt(&a, "url") ? mz_cli_opt(&a, "url") : url_flag);
	if (!c.url) {
		rc = mz_cli_usage(&c, "invalid URL: want http://HOST:PORT");
		mz_cli_args_release(&a);
		return rc;
	}
	if (!credentials(&c, &a, pre)) {
		free((char *)c.url);
		mz_cli_args_release(&a);
		return MZ_CLI_USAGE;
	}
	if (mz_httpc_global_init(NULL) != MZ_OK || !(c.http = mz_httpc_session_new())) {
		fprintf(stderr, "cannot initialise the HTTP client (libcurl)\n");
		free((char *)c.url);
		free(c.password);
		mz_cli_args_release(&a);
		return MZ_CLI_FAIL;
	}
	rc = cmd->run(&c, &a);
	mz_httpc_session_free(c.http);
	free((char *)c.url);
	if (c.password) {
		memset(c.password, 0, strlen(c.password));
		free(c.password);
	}
	mz_cli_args_release(&a);
	return rc;
}

int
mz_cli_main(int argc, char **argv)
{
	mz_cli_pre pre = {0};
	const mz_cli_group *g;
	const mz_cli_cmd *cmd;
	int i = 1;

	/* Global flags may come before the group; after it they are parsed
	 * with the command's own flags. */
	while (i < argc && argv[i][0] == '-' && !is_help(argv[i])) {
		static const char *const names[] = {"url", "user", "password", "token"};
		const char **slots[] = {&pre.url, &pre.user, &pre.password, &pre.token};
		bool taken = false;
		for (int k = 0; k < 4 && !taken; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(argv[i], "--", 2) != 0 || strncmp(argv[i] + 2, names[k], n) != 0)
				continue;
			if (argv[i][2 + n] == '=') {
				*slots[k] = argv[i] + 3 + n;
				i++;
				taken = true;
			} else if (argv[i][2 + n] == '\0' && i + 1 < argc) {
				*slots[k] = argv[i + 1];
				i += 2;
				taken = true;
			}
		}
		if (!taken) {
			fprintf(stderr, "unknown flag: %s\n", argv[i]);
			print_main_help(stderr);
			return MZ_CLI_USAGE;
		}
	}
	if (i >= argc) {
		print_main_help(stderr);
		return MZ_CLI_USAGE;
	}
	if (is_help(argv[i])) {
		if (i + 1 < argc && (g = find_group(argv[i + 1]))) {
			print_group_help(stdout, g);
			return MZ_CLI_OK;
		}
		print_main_help(stdout);
		return MZ_CLI_OK;
	}
	g = find_group(argv[i]);
	if (!g) {
		fprintf(stderr, "unknown command \"%s\"\n", argv[i]);
		print_main_help(stderr);
		return MZ_CLI_USAGE;
	}
	i++;
	/* spin's spelling: `pipeline execution list` */
	if (g == find_group("pipeline") && i < argc && find_group(argv[i]) ==
	    find_group("pipeline-execution")) {
		g = find_group("pipeline-execution");
		i++;
	}
	if (i >= argc) {
		print_group_help(stderr, g);
		return MZ_CLI_USAGE;
	}
	if (is_help(argv[i])) {
		print_group_help(stdout, g);
		return MZ_CLI_OK;
	}
	cmd = find_cmd(g, argv[i]);
	if (!cmd) {
		fprintf(stderr, "unknown command \"%s\" for \"mizzen %s\"\n", argv[i], g->name);
		print_group_help(stderr, g);
		return MZ_CLI_USAGE;
	}
	return run_cmd(g->name, cmd, argc, argv, i + 1, &pre);
}
