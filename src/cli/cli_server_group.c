/* cli_server_group.c - `mizzen server-group list -a APP`. */
#include "cli/cli_int.h"

#include <stdlib.h>

static int
sg_list(mz_cli *c, mz_cli_args *a)
{
	const char *app = mz_cli_opt(a, "application");

	if (!app && a->npos > 0)
		app = a->pos[0];
	if (!app || !*app)
		return mz_cli_usage(c, "--application is required");
	return mz_cli_get_print(c, mz_cli_path(c, "/applications/%s/serverGroups", app));
}

static const mz_cli_optdef list_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "application name"},
	{NULL, 0, 0, NULL},
};

const mz_cli_cmd mz_cli_server_group_cmds[] = {
	{"list", "ls", "-a APP", "List the server groups of an application",
	 list_opts, 1, sg_list},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
