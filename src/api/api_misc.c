/* api_misc.c - health, version, credentials (the configured accounts), the
 * redirect from / and the web UI's static files. */
#include "api/api_int.h"

#include "cloud/cloud.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* UP while the store can be written; DOWN with the reason (a full disk, a
 * database locked by someone else) while it cannot, probing it at most
 * once a second so that recovery shows without other traffic. */
static void
health(api_req *r)
{
	char why[300];
	if (!mz_store_writable(why, sizeof(why)) &&
	    !mz_store_probe(api_store(r), why, sizeof(why))) {
		api_reply_json(r, 503, json_pack("{s:s, s:s, s:s, s:s}", "status", "DOWN",
		                                 "reason", why, "error", "Service Unavailable",
		                                 "message", why));
		return;
	}
	api_reply_json(r, 200, json_pack("{s:s}", "status", "UP"));
}

static void
version(api_req *r)
{
	api_reply_json(r, 200, json_pack("{s:s}", "version", r->api->version));
}

static void
root(api_req *r)
{
	free(r->location);
	r->location = mz_strdup("/ui/");
	api_reply_empty(r, 302);
}

/* ---- credentials -------------------------------------------------------- */

/* Clouddriver's account description of one configured account. */
static json_t *
account_view(const json_t *cfg)
{
	json_t *a = json_deep_copy(cfg);
	const char *type = mz_json_str(cfg, "type");
	if (!type)
		type = "local";
	json_object_set_new(a, "type", json_string(type));
	json_object_set_new(a, "cloudProvider", json_string(type));
	json_object_set_new(a, "accountType", json_string(mz_json_str(cfg, "accountType") ?
	                                                  mz_json_str(cfg, "accountType") :
	                                                  mz_json_str(cfg, "name")));
	if (!mz_json_str(cfg, "environment"))
		json_object_set_new(a, "environment", json_string(mz_json_str(cfg, "name")));
	json_t *regions = json_array();
	size_t i;
	json_t *reg;
	json_array_foreach(json_object_get(cfg, "regions"), i, reg) {
		if (json_is_string(reg))
			json_array_append_new(regions, json_pack("{s:O}", "name", reg));
		else if (json_is_object(reg) && mz_json_str(reg, "name"))
			json_array_append(regions, reg);
	}
	json_object_set_new(a, "regions", regions);
	json_object_set_new(a, "authorized", json_true());
	if (!json_object_get(a, "requiredGroupMembership"))
		json_object_set_new(a, "requiredGroupMembership", json_array());
	if (!json_object_get(a, "permissions"))
		json_object_set_new(a, "permissions", json_object());
	if (!json_object_get(a, "challengeDestructiveActions"))
		json_object_set_new(a, "challengeDestructiveActions", json_false());
	if (!json_object_get(a, "primaryAccount"))
		json_object_set_new(a, "primaryAccount", json_false());
	return a;
}

/* The cloud's accounts (live, from the providers), then the configured
 * accounts of providers the cloud does not run. */
static json_t *
all_accounts(api_req *r, bool expand)
{
	json_t *out = r->api->cloud ? mz_cloud_credentials(r->api->cloud, expand) : json_array();
	size_t i, j;
	json_t *a, *b;
	json_array_foreach(r->api->accounts, i, a) {
		bool seen = false;
		json_array_foreach(out, j, b) {
			if (mz_streq(mz_json_str(a, "name"), mz_json_str(b, "name")))
				seen = true;
		}
		if (!seen)
			json_array_append_new(out, account_view(a));
	}
	return out;
}

static void
credentials(api_req *r)
{
	bool expand;
	if (!api_query_bool(r, "expand", false, &expand))
		return;
	api_reply_json(r, 200, all_accounts(r, expand));
}

static void
credential(api_req *r)
{
	json_t *all = all_accounts(r, true);
	size_t i;
	json_t *a;
	json_array_foreach(all, i, a) {
		if (mz_streq(mz_json_str(a, "name"), r->param[0])) {
			api_reply_json(r, 200, json_incref(a));
			json_decref(all);
			return;
		}
	}
	json_decref(all);
	api_reply_error(r, 404, "Account not found (name: %s)", r->param[0]);
}

/* The stage types this server runs (every registered definition, so what
 * the bakery, the cloud and the pollers add is listed too): the pipeline
 * editor offers these and no others. */
static void
stage_types(api_req *r)
{
	json_t *out = json_array();
	for (int i = 0; i < mz_engine_stage_count(); i++) {
		const mz_stage_def *d = mz_engine_stage_at(i);
		json_array_append_new(out, json_pack("{s:s, s:b}", "type", d->type,
		                                     "canManuallySkip", d->can_manually_skip));
	}
	api_reply_json(r, 200, out);
}

/* ---- the web UI ----------------------------------------------------------- */

char *
api_find_web_dir(const char *configured)
{
	char buf[PATH_MAX];
	const char *dir = configured && *configured ? configured : getenv("MIZZEN_WEB_DIR");
	char *found = NULL;
	if (dir && *dir) {
		found = realpath(dir, NULL);
	} else {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 8);
		if (n > 0) {
			buf[n] = '\0';
			char *slash = strrchr(buf, '/');
			if (slash) {
				char *cand = mz_asprintf("%.*s/../web", (int)(slash - buf), buf);
				found = realpath(cand, NULL);
				free(cand);
			}
		}
	}
	struct stat sb;
	if (found && (stat(found, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
		free(found);
		found = NULL;
	}
	return found;
}

static const char *
content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"}, {".json", "application/json"},
		{".map", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
		{".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
		{".ico", "image/x-icon"}, {".webp", "image/webp"}, {".woff", "font/woff"},
		{".woff2", "font/woff2"}, {".ttf", "font/ttf"}, {".txt", "text/plain; charset=utf-8"},
		{".md", "text/plain; charset=utf-8"}, {".wasm", "application/wasm"},
	};
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static const char placeholder[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>mizzen</title></head>\n<body style=\"font-family: sans-serif; margin: 3em\">"
	"<h1>mizzen</h1>\n<p>The web UI is not installed: no <code>web/</code> directory was "
	"found next to the binary (<code>&lt;bindir&gt;/../web</code>) and "
	"<code>MIZZEN_WEB_DIR</code> is not set.</p>\n<p>The API answers under this address: "
	"try <a href=\"/applications\">/applications</a> or <a href=\"/health\">/health</a>.</p>"
	"\n</body></html>\n";

void
api_serve_ui(api_req *r)
{
	mz_api *api = r->api;
	if (strcmp(r->path, "/ui") == 0) {
		free(r->location);
		r->location = mz_strdup("/ui/");
		api_reply_empty(r, 302);
		return;
	}
	mz_buf rel;
	mz_buf_init(&rel, PATH_MAX);
	for (int i = 1; i < r->nseg; i++) {
		const char *s = r->seg[i];
		/* no "..", no hidden files, no separators smuggled in by %2F */
		if (!*s || s[0] == '.' || strchr(s, '/') || strchr(s, '\\') ||
		    mz_buf_printf(&rel, "/%s", s) != MZ_OK) {
			mz_buf_release(&rel);
			api_reply_error(r, 404, "no such file in the UI: %s", r->path);
			return;
		}
	}
	if (rel.len == 0)
		mz_buf_adds(&rel, "/index.html");
	if (!api->web_dir) {
		if (strcmp(rel.data, "/index.html") == 0)
			api_reply_raw(r, 200, "text/html; charset=utf-8", mz_strdup(placeholder),
			              strlen(placeholder));
		else
			api_reply_error(r, 404, "the web UI is not installed (no web/ directory next to "
			                "the binary and MIZZEN_WEB_DIR unset)");
		mz_buf_release(&rel);
		return;
	}
	char *full = mz_asprintf("%s%s", api->web_dir, rel.data);
	char *real = realpath(full, NULL);
	size_t dlen = strlen(api->web_dir);
	struct stat sb;
	int fd = -1;
	if (real && strncmp(real, api->web_dir, dlen) == 0 && real[dlen] == '/')
		fd = open(real, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		api_reply_error(r, 404, "no such file in the UI: %s", r->path);
	} else {
		api_reply_empty(r, 200);
		r->content_type = content_type(real);
		r->file_fd = fd;
		r->file_size = (size_t)sb.st_size;
	}
	free(real);
	free(full);
	mz_buf_release(&rel);
}

const api_route api_misc_routes[] = {
	{"GET", "/", root},
	{"GET", "/health", health},
	{"GET", "/version", version},
	{"GET", "/credentials", credentials},
	{"GET", "/credentials/{account}", credential},
	{"GET", "/stageTypes", stage_types},
	{NULL, NULL, NULL},
};
