/* api_repos.c - GET /pipelineRepos: the state of each repository that
 * pipelines are kept in (src/pollers/repos.c): the last commit applied,
 * when it was synced, a repository-level error (fetch failed), and each
 * file that is not a valid config with its commit and message (its config,
 * if any, keeps its previous version). */
#include "api/api_int.h"

#include "pollers/pollers.h"

#include <stdlib.h>
#include <string.h>

static void
list_repos(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *out = json_array();
	size_t i;
	json_t *repo;
	json_array_foreach(json_object_get(r->api->settings, "pipelineRepos"), i, repo) {
		char *key = mz_repos_state_key(repo);
		char *text = NULL;
		mz_err err = {0};
		json_t *state = NULL;
		if (mz_kv_get(st, key, &text, &err) == MZ_OK && text)
			state = mz_json_parse(text, strlen(text), &err);
		free(text);
		free(key);
		json_t *files = json_object_get(state, "files");
		json_t *errors = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(state, "errors"), k, v) json_array_append(errors, v);
		json_t *e = json_pack(
			"{s:O, s:s, s:s, s:O, s:O, s:O, s:i, s:o}", "url", json_object_get(repo, "url"),
			"branch", mz_json_str(repo, "branch") ? mz_json_str(repo, "branch") : "master",
			"path", mz_json_str(repo, "path") ? mz_json_str(repo, "path") : "",
			"commit", json_object_get(state, "commit") ? json_object_get(state, "commit")
			: json_null(),
			"lastSync", json_object_get(state, "lastSync") ? json_object_get(state, "lastSync")
			: json_null(),
			"error", json_object_get(state, "error") ? json_object_get(state, "error")
			: json_null(),
			"configs", (int)json_object_size(files), "invalidFiles", errors);
		json_decref(state);
		if (e)
			json_array_append_new(out, e);
	}
	api_reply_json(r, 200, out);
}

const api_route api_repo_routes[] = {
	{"GET", "/pipelineRepos", list_repos},
	{NULL, NULL, NULL},
};
