/*
 * cli_int.h - shared between the files of src/cli only.
 *
 * Each command is a function `int run(mz_cli *c, mz_cli_args *a)` that
 * returns the exit code (MZ_CLI_OK, MZ_CLI_FAIL, MZ_CLI_USAGE) after
 * printing its own messages. Strings returned by the argument accessors
 * are borrowed from argv. Responses own their body and parsed JSON until
 * mz_cli_resp_release().
 */
#ifndef MZ_CLI_INT_H
#define MZ_CLI_INT_H

#include "cli/cli.h"
#include "core/core.h"
#include "httpc/httpc.h"

#include <stdbool.h>
#include <stddef.h>

enum { MZ_CLI_OK = 0, MZ_CLI_FAIL = 1, MZ_CLI_USAGE = 2 };

/* ---- arguments -------------------------------------------------------- */

typedef enum { MZ_OPT_FLAG, MZ_OPT_VALUE } mz_opt_kind;

/* One option a command accepts. VALUE options may repeat; the accessors
 * return the last occurrence, mz_cli_opt_next() walks all of them. FLAG
 * options also accept --flag=true|false. */
typedef struct mz_cli_optdef {
	const char *name;  /* long name without dashes; NULL ends a table */
	char short_name;   /* 0 when none */
	mz_opt_kind kind;
	const char *help;  /* one line for the usage text */
} mz_cli_optdef;

typedef struct mz_cli_occ {
	const mz_cli_optdef *def;
	const char *value;  /* "true"/"false" for flags */
} mz_cli_occ;

typedef struct mz_cli_args {
	mz_cli_occ *occ;
	size_t nocc;
	const char **pos;   /* positional words after the command */
	size_t npos;
} mz_cli_args;

/* Parses argv[from..argc) against opts and the global options. On a
 * usage error prints it on stderr and returns false. */
bool mz_cli_args_parse(mz_cli_args *a, const mz_cli_optdef *opts,
		       int argc, char **argv, int from);
void mz_cli_args_release(mz_cli_args *a);
/* Last value of a VALUE option, or NULL. */
const char *mz_cli_opt(const mz_cli_args *a, const char *name);
/* Whether a FLAG option is set (and not =false). */
bool mz_cli_flag(const mz_cli_args *a, const char *name);
/* Iterates over every value of a repeatable option: start *it at 0. */
const char *mz_cli_opt_next(const mz_cli_args *a, const char *name, size_t *it);

/* Options every command accepts (--url, --help, --timeout). */
extern const mz_cli_optdef mz_cli_global_opts[];

/* ---- commands --------------------------------------------------------- */

struct mz_cli;

typedef struct mz_cli_cmd {
	const char *name;       /* NULL ends a table */
	const char *alias;      /* e.g. "ls", or NULL */
	const char *synopsis;   /* the arguments, for the usage line */
	const char *summary;
	const mz_cli_optdef *opts;
	size_t max_pos;         /* positional words allowed */
	int (*run)(struct mz_cli *c, mz_cli_args *a);
} mz_cli_cmd;

extern const mz_cli_cmd mz_cli_application_cmds[];
extern const mz_cli_cmd mz_cli_pipeline_cmds[];
extern const mz_cli_cmd mz_cli_execution_cmds[];
extern const mz_cli_cmd mz_cli_server_group_cmds[];
extern const mz_cli_cmd mz_cli_user_cmds[];
extern const mz_cli_cmd mz_cli_token_cmds[];
extern const mz_cli_cmd mz_cli_audit_cmds[];

/* Prints "usage: mizzen GROUP CMD SYNOPSIS" for the command being run on
 * stderr, a reason above it if given, and returns MZ_CLI_USAGE. */
int mz_cli_usage(struct mz_cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- HTTP ------------------------------------------------------------- */

typedef struct mz_cli {
	const char *url;         /* base URL without trailing '/' (owned) */
	mz_httpc_session *http;  /* reused for keep-alive */
	long timeout_ms;         /* per request */
	const char *group;       /* for usage lines */
	const mz_cli_cmd *cmd;
	/* Credentials, sent on every request: a bearer token, else Basic. */
	const char *token;
	const char *user;
	char *password;          /* owned (it may have been typed in) */
} mz_cli;

typedef struct mz_cli_resp {
	long status;             /* 0 when the server was not reached */
	mz_buf body;             /* raw body, NUL-terminated */
	json_t *json;            /* body parsed as JSON, or NULL */
	char error[320];         /* transport failure text when status == 0 */
} mz_cli_resp;

void mz_cli_resp_release(mz_cli_resp *r);

/* Sends one request to c->url + path (path already escaped, see
 * mz_cli_path). body, if not NULL, is sent as JSON. Returns 0 when a
 * response arrived, whatever its status; -1 when the server could not be
 * reached, with r->error set and nothing printed. */
int mz_cli_http_try(mz_cli *c, const char *method, const char *path,
		    const json_t *body, mz_cli_resp *r);
/* Like mz_cli_http_try but prints "Could not reach mizzen at URL: ..."
 * on failure. */
int mz_cli_http(mz_cli *c, const char *method, const char *path,
		const json_t *body, mz_cli_resp *r);

/* Builds a path from a printf-like format where every %s is one path
 * segment or query value, percent-escaped. free() the result. */
char *mz_cli_path(mz_cli *c, const char *fmt, ...);
/* GET path (freed here) and print the JSON answer, or the server's error;
 * returns the command's exit code. The list commands are this. */
int mz_cli_get_print(mz_cli *c, char *path);

bool mz_cli_is_2xx(const mz_cli_resp *r);
/* Prints the server's error `message` (or the status and body when there
 * is none), prefixed by what if not NULL, and returns MZ_CLI_FAIL. */
int mz_cli_server_error(const mz_cli_resp *r, const char *what);

/* ---- output and input ------------------------------------------------- */

/* JSON on stdout the way spin prints it: keys sorted, one-space indent,
 * shortest float forms, Go's escapes. mz_cli_json_text appends the same
 * text (with the final newline) to out. */
void mz_cli_print_json(const json_t *v);
void mz_cli_json_text(const json_t *v, mz_buf *out);
/* "Pipeline save succeeded" and friends, on stderr. */
void mz_cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a JSON document from path ("-" is stdin). Prints why on failure
 * and returns NULL. */
json_t *mz_cli_read_json(const char *path);

/* Sleeps ms milliseconds. */
void mz_cli_sleep_ms(long ms);

/* ---- shared between commands ------------------------------------------ */

/* Submits an orchestration (POST /tasks) and polls GET /tasks/{id} until it
 * ends or timeout_ms passes. what is "saving application" and the like.
 * Returns MZ_CLI_OK when the task SUCCEEDED (or STOPPED, SKIPPED). */
int mz_cli_run_task(mz_cli *c, json_t *task, const char *what, long timeout_ms);

/* Follows an execution until it completes, printing stage status changes on
 * stderr. Returns MZ_CLI_OK only if it SUCCEEDED. timeout_ms 0: no limit. */
int mz_cli_wait_execution(mz_cli *c, const char *id, long timeout_ms);

/* Collects error texts of a stage or task context's `exception`
 * (details.errors, else details.error) into out, one per line with
 * prefix. */
void mz_cli_exception_text(const json_t *context, const char *prefix, mz_buf *out);

#endif
