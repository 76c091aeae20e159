/* cli_args.c - spin-style option parsing: --name value, --name=value,
 * -n value, -nvalue, boolean --flag[=true|false], repeatable options, and
 * positional words anywhere. "--" ends the options. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const mz_cli_optdef mz_cli_global_opts[] = {
	{"url", 0, MZ_OPT_VALUE, "server URL (default $MIZZEN_URL, else http://127.0.0.1:8084)"},
	{"timeout", 0, MZ_OPT_VALUE, "seconds to wait for each server reply (default 60)"},
	{"user", 0, MZ_OPT_VALUE, "sign in as this user (HTTP Basic, as spin's auth.basic)"},
	{"password", 0, MZ_OPT_VALUE, "the user's password (default $MIZZEN_PASSWORD, else asked)"},
	{"token", 0, MZ_OPT_VALUE, "sign in with an API token (default $MIZZEN_TOKEN)"},
	{"help", 'h', MZ_OPT_FLAG, "show this help"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef *
find_long(const mz_cli_optdef *opts, const char *name, size_t len)
{
	const mz_cli_optdef *tables[2] = {opts, mz_cli_global_opts};
	for (int t = 0; t < 2; t++) {
		for (const mz_cli_optdef *d = tables[t]; d && d->name; d++)
			if (strlen(d->name) == len && strncmp(d->name, name, len) == 0)
				return d;
	}
	return NULL;
}

static const mz_cli_optdef *
find_short(const mz_cli_optdef *opts, char c)
{
	const mz_cli_optdef *tables[2] = {opts, mz_cli_global_opts};
	for (int t = 0; t < 2; t++) {
		for (const mz_cli_optdef *d = tables[t]; d && d->name; d++)
			if (d->short_name && d->short_name == c)
				return d;
	}
	return NULL;
}

static void
add_occ(mz_cli_args *a, const mz_cli_optdef *d, const char *value)
{
	mz_cli_occ *n = realloc(a->occ, (a->nocc + 1) * sizeof(*n));
	if (!n) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	a->occ = n;
	a->occ[a->nocc].def = d;
	a->occ[a->nocc].value = value;
	a->nocc++;
}

static void
add_pos(mz_cli_args *a, const char *word)
{
	const char **n = realloc(a->pos, (a->npos + 1) * sizeof(*n));
	if (!n) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	a->pos = n;
	a->pos[a->npos++] = word;
}

static bool
flag_value_ok(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
}

bool
mz_cli_args_parse(mz_cli_args *a, const mz_cli_optdef *opts, int argc,
		  char **argv, int from)
{
	bool only_pos = false;

	memset(a, 0, sizeof(*a));
	for (int i = from; i < argc; i++) {
		const char *w = argv[i];
		const mz_cli_optdef *d;
		const char *value = NULL;

		if (only_pos || w[0] != '-' || w[1] == '\0') {
			add_pos(a, w);
			continue;
		}
		if (strcmp(w, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (w[1] == '-') {
			const char *name = w + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			d = find_long(opts, name, len);
			if (!d) {
				fprintf(stderr, "unknown flag: --%.*s\n", (int)len, name);
				return false;
			}
			if (eq)
				value = eq + 1;
		} else {
			d = find_short(opts, w[1]);
			if (!d) {
				fprintf(stderr, "unknown shorthand flag: '%c' in %s\n", w[1], w);
				return false;
			}
			if (w[2] != '\0')
				value = w[2] == '=' ? w + 3 : w + 2;
		}
		if (d->kind == MZ_OPT_FLAG) {
			if (value && !flag_value_ok(value)) {
				fprintf(stderr, "invalid value \"%s\" for --%s: want true or false\n",
					value, d->name);
				return false;
			}
			add_occ(a, d, value ? value : "true");
			continue;
		}
		if (!value) {
			if (i + 1 >= argc) {
				fprintf(stderr, "flag needs an argument: --%s\n", d->name);
				return false;
			}
			value = argv[++i];
		}
		add_occ(a, d, value);
	}
	return true;
}

void
mz_cli_args_release(mz_cli_args *a)
{
	free(a->occ);
	free(a->pos);
	memset(a, 0, sizeof(*a));
}

const char *
mz_cli_opt(const mz_cli_args *a, const char *name)
{
	const char *v = NULL;
	for (size_t i = 0; i < a->nocc; i++)
		if (strcmp(a->occ[i].def->name, name) == 0)
			v = a->occ[i].value;
	return v;
}

bool
mz_cli_flag(const mz_cli_args *a, const char *name)
{
	const char *v = mz_cli_opt(a, name);
	return v && strcmp(v, "false") != 0;
}

const char *
mz_cli_opt_next(const mz_cli_args *a, const char *name, size_t *it)
{
	while (*it < a->nocc) {
		const mz_cli_occ *o = &a->occ[(*it)++];
		if (strcmp(o->def->name, name) == 0)
			return o->value;
	}
	return NULL;
}
