/* main.c - the mizzen binary: `mizzen serve` runs the server (engine plus
 * HTTP API); `mizzen --version` prints the version; every other command
 * line goes to the client (src/cli). */
#include "api/api.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "core/core.h"
#include "engine/engine.h"
#include "events/events.h"
#include "httpc/httpc.h"
#include "pollers/pollers.h"
#include "cloud/cloud.h"
#include "bakery/bakery.h"
#include "proc/proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MZ_VERSION "0.1.0"

static const char usage[] =
	"usage: mizzen serve [--listen HOST:PORT] [--data DIR] [--config FILE] [--db URL]\n"
	"                    [--host-regions R1,R2] [--log-level debug|info|warn|error]\n"
	"\n"
	"  --listen HOST:PORT  address to serve on (default 127.0.0.1:8084)\n"
	"  --data DIR          data directory, created if missing (default ./var)\n"
	"  --config FILE       JSON settings, e.g. {\"providers\": {\"local\": {\"accounts\":\n"
	"                      [{\"name\": \"local\", \"regions\": [\"local\"]}]}}}\n"
	"  --db URL            database: a SQLite file path (default DIR/mizzen.db) or\n"
	"                      postgres://...\n"
	"  --host-regions LIST local-cloud regions whose instances and HAProxy this node\n"
	"                      runs, comma-separated (default: every configured region;\n"
	"                      \"\" hosts none); for several nodes on one PostgreSQL\n"
	"  --log-level LEVEL   default info, or $MIZZEN_LOG_LEVEL\n";

typedef struct serve_opts {
	char host[256];
	int port;
	const char *data;
	const char *config;
	const char *db;
	const char *log_level;
	const char *host_regions; /* NULL: every configured region */
} serve_opts;

/* HOST:PORT, [V6]:PORT, :PORT or PORT. */
static int
parse_listen(const char *s, serve_opts *o)
{
	const char *colon = strrchr(s, ':');
	const char *port = colon ? colon + 1 : s;
	char *end;
	errno = 0;
	long p = strtol(port, &end, 10);
	if (!*port || *end || errno || p < 0 || p > 65535)
		return -1;
	o->port = (int)p;
	if (colon && colon > s) {
		const char *h = s;
		size_t n = (size_t)(colon - s);
		if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof(o->host))
			return -1;
		memcpy(o->host, h, n);
		o->host[n] = '\0';
	}
	return 0;
}

static int
parse_level(const char *s, mz_log_level *out)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0) {
			*out = (mz_log_level)i;
			return 0;
		}
	return -1;
}

/* The accounts of every provider in the config file, each with its "type"
 * (the provider name). Returns NULL with a message in err when the file is
 * unreadable or not shaped like {"providers": {"local": {"accounts": [...]}}}. */
static json_t *
load_accounts(const char *path, mz_err *err)
{
	size_t len;
	char *text = mz_read_file(path, &len, err);
	if (!text)
		return NULL;
	mz_err perr = {0};
	json_t *root = mz_json_parse(text, len, &perr);
	free(text);
	if (!root) {
		mz_fail(err, MZ_EINVAL, "config file %s: %s", path, perr.msg);
		return NULL;
	}
	json_t *accounts = json_array();
	json_t *providers = json_object_get(root, "providers");
	const char *pname;
	json_t *prov;
	if (!json_is_object(root)) {
		mz_fail(err, MZ_EINVAL, "config file %s: the top level must be a JSON object", path);
		goto fail;
	}
	if (providers && !json_is_object(providers)) {
		mz_fail(err, MZ_EINVAL, "config file %s: 'providers' must be an object such as "
		        "{\"local\": {\"accounts\": [...]}}", path);
		goto fail;
	}
	json_object_foreach(providers, pname, prov) {
		if (!json_is_object(prov)) {
			mz_fail(err, MZ_EINVAL, "config file %s: providers.%s must be an object", path,
			        pname);
			goto fail;
		}
		json_t *list = json_object_get(prov, "accounts");
		if (list && !json_is_array(list)) {
			mz_fail(err, MZ_EINVAL, "config file %s: providers.%s.accounts must be a list",
			        path, pname);
			goto fail;
		}
		size_t i;
		json_t *a;
		json_array_foreach(list, i, a) {
			const char *name = mz_json_str(a, "name");
			if (!json_is_object(a) || !name || !*name) {
				mz_fail(err, MZ_EINVAL, "config file %s: providers.%s.accounts[%zu] needs a "
				        "non-empty \"name\"", path, pname, i);
				goto fail;
			}
			json_t *regions = json_object_get(a, "regions");
			if (regions && !json_is_array(regions)) {
				mz_fail(err, MZ_EINVAL, "config file %s: account '%s': \"regions\" must be a "
				        "list of region names", path, name);
				goto fail;
			}
			size_t j;
			json_t *reg;
			json_array_foreach(regions, j, reg) {
				if (!json_is_string(reg) && !mz_json_str(reg, "name")) {
					mz_fail(err, MZ_EINVAL, "config file %s: account '%s': region %zu must "
					        "be a name (string)", path, name, j);
					goto fail;
				}
			}
			for (size_t k = 0; k < json_array_size(accounts); k++) {
				if (mz_streq(mz_json_str(json_array_get(accounts, k), "name"), name)) {
					mz_fail(err, MZ_EINVAL, "config file %s: account '%s' is defined twice",
					        path, name);
					goto fail;
				}
			}
			json_t *copy = json_deep_copy(a);
			if (!mz_json_str(copy, "type"))
				json_object_set_new(copy, "type", json_string(pname));
			if (!regions)
				json_object_set_new(copy, "regions", json_pack("[s]", pname));
			json_array_append_new(accounts, copy);
		}
	}
	json_decref(root);
	return accounts;
fail:
	json_decref(root);
	json_decref(accounts);
	return NULL;
}

/* The settings of the events and pollers components from the config file
 * (already checked by load_accounts): {"notifications": {"smtp": {"url",
 * "from"}}, "jenkins": {"masters": [{"name", "address"}]}, "dockerRegistry":
 * {"accounts": [{"name", "address"}]}, "scheduler": {"cron": {"timezone"}},
 * "pollers": {"intervalSeconds"}}. A new reference, or NULL. */
static json_t *
load_settings(const char *path)
{
	size_t len;
	char *text = path ? mz_read_file(path, &len, NULL) : NULL;
	json_t *root = text ? mz_json_parse(text, len, NULL) : NULL;
	free(text);
	return root;
}

static const json_t *
setting(const json_t *root, const char *a, const char *b)
{
	json_t *v = json_object_get(root, a);
	return b ? json_object_get(v, b) : v;
}

/* NULL, or a JSON array of absolute paths (the *Roots settings). */
static bool
absolute_paths(const json_t *v)
{
	if (!v)
		return true;
	if (!json_is_array(v))
		return false;
	size_t i;
	json_t *p;
	json_array_foreach(v, i, p)
		if (!json_is_string(p) || json_string_value(p)[0] != '/')
			return false;
	return true;
}

/* This node's id, stable across restarts on the same data directory (so a
 * restarted node takes back its own claims at once): DATA/node-id, made on
 * first start. */
static char *
node_id(const char *data)
{
	char *path = mz_asprintf("%s/node-id", data);
	size_t len = 0;
	char *id = mz_read_file(path, &len, NULL);
	if (id) {
		while (len > 0 && (id[len - 1] == '\n' || id[len - 1] == ' '))
			id[--len] = '\0';
	}
	if (!id || !*id || len >= 40) {
		free(id);
		char fresh[27];
		mz_ulid(fresh);
		id = mz_strdup(fresh);
		FILE *f = fopen(path, "w");
		if (f) {
			fprintf(f, "%s\n", id);
			fclose(f);
		}
	}
	free(path);
	return id;
}

/* The regions this node hosts: --host-regions as given, else every region
 * of the local provider's accounts (the default account's "local"). */
static json_t *
host_regions(const char *flag, const json_t *local_accounts)
{
	json_t *out = json_array();
	if (flag) {
		char *copy = mz_strdup(flag), *save = NULL;
		for (char *r = strtok_r(copy, ", ", &save); r; r = strtok_r(NULL, ", ", &save))
			json_array_append_new(out, json_string(r));
		free(copy);
		return out;
	}
	size_t i, j;
	json_t *a, *reg;
	json_array_foreach(local_accounts, i, a) {
		json_array_foreach(json_object_get(a, "regions"), j, reg) {
			const char *name = json_is_string(reg) ? json_string_value(reg)
			                                      : mz_json_str(reg, "name");
			bool seen = false;
			for (size_t k = 0; name && k < json_array_size(out); k++)
				seen = seen || mz_streq(json_string_value(json_array_get(out, k)), name);
			if (name && !seen)
				json_array_append_new(out, json_string(name));
		}
	}
	if (!json_array_size(local_accounts))
		json_array_append_new(out, json_string("local"));
	return out;
}

/* Whether host names only the loopback interface (127.0.0.0/8, ::1,
 * localhost); an empty host or 0.0.0.0 listens everywhere. */
static bool
loopback_only(const char *host)
{
	if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	unsigned a, b, c, d;
	char tail;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
	       c < 256 && d < 256;
}

/* The engine's account resolver: src/auth over the configured accounts. */
typedef struct accounts_ctx {
	mz_auth *auth;
	const json_t *accounts;
} accounts_ctx;

static json_t *
allowed_accounts(mz_store *st, const char *user, void *udata)
{
	accounts_ctx *c = udata;
	return mz_auth_allowed_accounts(c->auth, st, user, c->accounts);
}

/* The engine's permission check (src/auth): a preconfigured webhook's
 * "permissions", an application's for a stage that saves pipelines, and
 * whether the user is an admin ("ADMIN"). */
static bool
user_permits(mz_store *st, const char *user, const json_t *permissions, const char *perm,
             void *udata)
{
	accounts_ctx *c = udata;
	if (strcmp(perm, "ADMIN") == 0) {
		mz_identity id;
		if (!mz_auth_enabled(c->auth))
			return true;
		return user && mz_auth_identity_of(c->auth, st, user, &id, NULL) == MZ_OK && id.admin;
	}
	mz_perm p = strcmp(perm, "READ") == 0      ? MZ_PERM_READ
	            : strcmp(perm, "EXECUTE") == 0 ? MZ_PERM_EXECUTE
	                                           : MZ_PERM_WRITE;
	return mz_auth_user_allowed(c->auth, st, user, permissions, p);
}

/* The engine's secret resolver: src/auth's /secrets; the values used are
 * noted so the effect can scrub them from what it gets back. */
static void
note_secret(const char *value, void *arg)
{
	mz_secret_use_add(arg, value);
}

static char *
resolve_secrets(const char *text, mz_secret_use *use, mz_err *err, void *udata)
{
	return mz_auth_secrets_resolve(udata, text, use ? note_secret : NULL, use, err);
}

/* The engine's sealer for sensitive headers: src/auth's secretbox. */
static char *
seal_text(const char *text, bool open, mz_err *err, void *udata)
{
	return open ? mz_auth_unseal(udata, text, err) : mz_auth_seal(udata, text, err);
}

static int
serve(int argc, char **argv)
{
	serve_opts o = {.host = "127.0.0.1", .port = 8084, .data = "./var"};
	mz_err err = {0};
	mz_log_level level = MZ_LOG_INFO;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		const char *eq = strchr(a, '=');
		char flag[32];
		size_t flen = eq ? (size_t)(eq - a) : strlen(a);
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strncmp(a, "--", 2) != 0 || flen >= sizeof(flag)) {
			fprintf(stderr, "mizzen serve: unexpected argument '%s'\n%s", a, usage);
			return 2;
		}
		memcpy(flag, a, flen);
		flag[flen] = '\0';
		if (strcmp(flag, "--listen") && strcmp(flag, "--data") && strcmp(flag, "--config") &&
		    strcmp(flag, "--db") && strcmp(flag, "--log-level") &&
		    strcmp(flag, "--host-regions")) {
			fprintf(stderr, "mizzen serve: unknown flag '%s'\n%s", flag, usage);
			return 2;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		if (!val) {
			fprintf(stderr, "mizzen serve: %s needs a value\n%s", flag, usage);
			return 2;
		}
		if (strcmp(flag, "--listen") == 0) {
			if (parse_listen(val, &o) != 0) {
				fprintf(stderr, "mizzen serve: --listen wants HOST:PORT with a port from 0 "
				        "to 65535, got '%s'\n", val);
				return 2;
			}
		} else if (strcmp(flag, "--data") == 0) {
			o.data = val;
		} else if (strcmp(flag, "--config") == 0) {
			o.config = val;
		} else if (strcmp(flag, "--db") == 0) {
			o.db = val;
		} else if (strcmp(flag, "--host-regions") == 0) {
			o.host_regions = val;
		} else {
			o.log_level = val;
		}
	}
	if (!o.log_level)
		o.log_level = getenv("MIZZEN_LOG_LEVEL");
	if (o.log_level && *o.log_level && parse_level(o.log_level, &level) != 0) {
		fprintf(stderr, "mizzen serve: unknown log level '%s' (debug, info, warn, error)\n",
		        o.log_level);
		return 2;
	}
	mz_log_set_level(level);

	json_t *accounts = NULL;
	if (o.config) {
		accounts = load_accounts(o.config, &err);
		if (!accounts) {
			fprintf(stderr, "mizzen serve: %s\n", err.msg);
			return 2;
		}
	}
	if (mz_mkdirs(o.data, 0755) != 0) {
		fprintf(stderr, "mizzen serve: cannot create the data directory %s: %s\n", o.data,
		        strerror(errno));
		json_decref(accounts);
		return 1;
	}
	/* From here on the data directory is an absolute path: it ends up in
	 * files other programs read from elsewhere (HAProxy's configuration,
	 * where "./var/cloud/haproxy/runtime.sock" reads as an address without
	 * a port; the sandbox's hidden paths), and `make run`'s default is the
	 * relative ./var. Kept in a static so that it lives as long as the
	 * process, whichever way serve() returns. */
	static char *data_abs;
	if ((data_abs = realpath(o.data, NULL)) != NULL)
		o.data = data_abs;
	/* One server per data directory; held until the process ends. */
	if (mz_lock_data_dir(o.data, &err) < 0) {
		fprintf(stderr, "mizzen serve: %s\n", err.msg);
		json_decref(accounts);
		return 1;
	}
	char *db_url = o.db ? mz_strdup(o.db) : mz_asprintf("%s/mizzen.db", o.data);
	bool v6 = strchr(o.host, ':') != NULL;
	json_t *settings = load_settings(o.config);
	/* The outbound policy (webhooks, artifacts, notifications, pollers):
	 * refuse link-local addresses and our own listen address unless
	 * outbound.allow lists them. Set before any thread can make a call.
	 * libcurl itself is set up on the first call (mz__httpc_easy). */
	if (mz_httpc_set_policy(o.host, o.port, setting(settings, "outbound", "allow"), &err) !=
	    MZ_OK) {
		fprintf(stderr, "mizzen serve: %s%s\n", o.config ? "config: " : "", err.msg);
		json_decref(settings);
		json_decref(accounts);
		free(db_url);
		return 2;
	}
	/* HTTP server limits: "server": {"maxConnections", ...} */
	mz_api_limits limits;
	if (mz_api_limits_parse(setting(settings, "server", NULL), &limits, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: config: %s\n", err.msg);
		json_decref(settings);
		json_decref(accounts);
		free(db_url);
		return 2;
	}
	/* Cron triggers run in one time zone for the whole server (as Echo's
	 * scheduler.cron.timezone); set before any thread starts. */
	const char *tz = json_string_value(setting(setting(settings, "scheduler", "cron"),
	                                           "timezone", NULL));
	if (!tz)
		tz = getenv("MZ_CRON_TIMEZONE");
	if (tz && *tz)
		setenv("TZ", tz, 1);
	tzset();
	/* The expression budget ("expressions": {"maxSteps", ...}). */
	mz_expr_limits xlim;
	if (!mz_expr_limits_from_json(setting(settings, "expressions", NULL), &xlim, &err)) {
		fprintf(stderr, "mizzen serve: config file %s: %s\n", o.config, err.msg);
		json_decref(settings);
		json_decref(accounts);
		free(db_url);
		return 2;
	}
	mz_expr_set_limits(&xlim);
	/* What is kept ("retention": {"executionsPerPipeline", ...}). */
	mz_retention retention;
	if (!mz_retention_from_json(setting(settings, "retention", NULL), &retention, &err)) {
		fprintf(stderr, "mizzen serve: config file %s: %s\n", o.config, err.msg);
		json_decref(settings);
		json_decref(accounts);
		free(db_url);
		return 2;
	}
	/* The sandbox of every user-supplied command hides the data directory;
	 * `"sandbox": false` on a stage only where the config allows it. */
	{
		const json_t *allow = setting(settings, "sandbox", "allowUnsandboxed");
		const json_t *roots = setting(settings, "bakery", "packageRoots");
		const json_t *iroots = setting(setting(settings, "providers", "local"), "imageRoots",
		                               NULL);
		const char *bad = NULL;
		if (!absolute_paths(roots))
			bad = "bakery.packageRoots must be a list of absolute paths";
		else if (!absolute_paths(iroots))
			bad = "providers.local.imageRoots must be a list of absolute paths";
		else if (allow && !json_is_boolean(allow))
			bad = "sandbox.allowUnsandboxed must be true or false";
		if (bad) {
			fprintf(stderr, "mizzen serve: config file %s: %s\n", o.config, bad);
			json_decref(settings);
			json_decref(accounts);
			free(db_url);
			return 2;
		}
		mz_proc_sandbox_hide(o.data);
		mz_proc_allow_unsandboxed(json_is_true(allow));
	}

	/* The server raises its open-files limit before any thread starts;
	 * what it starts gets the old soft limit back (src/proc). */
	mz_proc_raise_nofile();

	/* Signals are taken by sigwait() in this thread only: block them
	 * before any other thread starts so that every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Authentication is on unless the config says "auth": {"enabled":
	 * false}, which only a loopback-only listener may say. */
	const json_t *auth_enabled = setting(settings, "auth", "enabled");
	bool auth_on = !json_is_false(auth_enabled);
	if (!auth_on && !loopback_only(o.host)) {
		fprintf(stderr, "mizzen serve: \"auth\": {\"enabled\": false} is refused when "
		        "listening on %s: anyone who can reach the port could do anything. Listen on "
		        "127.0.0.1 only, or keep authentication on\n", o.host);
		json_decref(settings);
		json_decref(accounts);
		free(db_url);
		return 2;
	}
	const json_t *cors_origins = setting(setting(settings, "cors", NULL), "allowedOrigins",
	                                     NULL);
	if (cors_origins && !json_is_array(cors_origins)) {
		fprintf(stderr, "mizzen serve: cors.allowedOrigins must be a list of origins such as "
		        "[\"https://deck.example.com\"]\n");
		json_decref(settings);
		json_decref(accounts);
		free(db_url);
		return 2;
	}

	int rc = 1;
	mz_auth *auth = NULL;
	mz_engine *engine = NULL;
	mz_api *api = NULL;
	mz_events *events = NULL;
	mz_pollers *pollers = NULL;
	mz_repos *repos = NULL;
	mz_cloud *cloud = NULL;
	mz_bakery *bakery = NULL;
	json_t *local_accounts = NULL;
	char *self = NULL, *address = NULL; /* this node's id and HOST:PORT */
	json_t *hosted = NULL;
	char *ui_base = mz_asprintf(v6 ? "http://[%s]:%d" : "http://%s:%d", o.host, o.port);
	mz_engine_register_builtin();
	/* The cloud: the local provider with the accounts of provider "local"
	 * (instances and HAProxy outlive this process and are re-adopted). */
	if (accounts) {
		local_accounts = json_array();
		size_t ai;
		json_t *acct;
		json_array_foreach(accounts, ai, acct) {
			const char *t = mz_json_str(acct, "type");
			if (!t || strcmp(t, "local") == 0)
				json_array_append(local_accounts, acct);
		}
	}
	self = node_id(o.data);
	address = mz_asprintf(v6 ? "[%s]:%d" : "%s:%d", o.host, o.port);
	hosted = host_regions(o.host_regions, local_accounts);
	mz_auth_config aucfg = {.db_url = db_url, .data_dir = o.data, .enabled = auth_on,
	                        .secret_key_file = mz_json_str(setting(settings, "secrets", NULL),
	                                                       "keyFile"),
	                        .defer_bootstrap = true};
	if (mz_auth_start(&aucfg, &auth, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: %s\n", err.msg);
		goto out;
	}
	if (!auth_on)
		mz_warn("authentication is disabled (auth.enabled false): every caller on this "
		        "machine may do anything");
	/* before the cloud, the engine and the event bus start: the first
	 * instance they start (re)starts with its secrets, the first stage
	 * (a recovered execution, a cron trigger) already seals its headers
	 * and checks its accounts. Auth's set-up on the store (the first
	 * admin) waits for the engine to have made the schema. */
	static accounts_ctx actx;
	actx.auth = auth;
	actx.accounts = accounts;
	mz_engine_set_accounts_fn(allowed_accounts, &actx);
	mz_engine_set_permits_fn(user_permits, &actx);
	mz_engine_set_secret_fn(resolve_secrets, auth);
	mz_engine_set_seal_fn(seal_text, auth);
	mz_cloud_config ccfg = {.data_dir = o.data,
	                        .accounts = json_array_size(local_accounts) ? local_accounts : NULL,
	                        .node_id = self, .host_regions = hosted, .db_url = db_url,
	                        .image_roots = setting(setting(settings, "providers", "local"),
	                                               "imageRoots", NULL)};
	if (mz_cloud_start(&ccfg, &cloud, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: cannot start the cloud: %s\n", err.msg);
		goto out;
	}
	mz_cloud_register_stages(cloud);
	mz_cloud_register_jobs(cloud, o.data);
	mz_cloud_register_preconfigured_jobs(
		json_object_get(setting(settings, "job", "preconfigured"), "local"));
	mz_bakery_config bcfg = {.data_dir = o.data, .cloud = cloud,
	                         .package_roots = setting(settings, "bakery", "packageRoots")};
	if (mz_bakery_start(&bcfg, &bakery, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: cannot start the bakery: %s\n", err.msg);
		goto out;
	}
	mz_bakery_register_stages(bakery);
	mz_pollers_register_stages(setting(settings, "jenkins", "masters"));
	/* last: a preconfigured webhook may not take a built-in stage's type */
	mz_engine_register_preconfigured_webhooks(setting(settings, "webhook", "preconfigured"));
	mz_engine_config ecfg = {.db_url = db_url, .workers = 2, .ui_base = ui_base,
	                         .node_id = self, .address = address, .host_regions = hosted,
	                         .retention = &retention};
	if (mz_engine_start(&ecfg, &engine, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: cannot start the engine: %s\n", err.msg);
		goto out;
	}
	/* the first admin, once the engine has made the store's schema */
	if (mz_auth_bootstrap(auth, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: %s\n", err.msg);
		goto out;
	}
	const json_t *smtp = setting(settings, "notifications", "smtp");
	mz_events_config evcfg = {.db_url = db_url, .engine = engine, .ui_base = ui_base,
	                          .smtp_url = mz_json_str(smtp, "url"),
	                          .smtp_from = mz_json_str(smtp, "from")};
	if (mz_events_start(&evcfg, &events, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: cannot start the event bus: %s\n", err.msg);
		goto out;
	}
	mz_pollers_config pcfg = {
		.db_url = db_url, .events = events, .engine = engine,
		.interval_ms = mz_json_int(setting(settings, "pollers", NULL), "intervalSeconds", 0) *
		               1000,
		.docker_accounts = setting(settings, "dockerRegistry", "accounts"),
		.jenkins_masters = setting(settings, "jenkins", "masters")};
	if (mz_pollers_start(&pcfg, &pollers, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: cannot start the pollers: %s\n", err.msg);
		goto out;
	}
	mz_repos_config rcfg = {
		.db_url = db_url, .data_dir = o.data, .repos = setting(settings, "pipelineRepos", NULL),
		.interval_ms = mz_json_int(setting(settings, "pollers", NULL), "intervalSeconds", 0) *
		               1000};
	if (mz_repos_start(&rcfg, &repos, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: pipelineRepos: %s\n", err.msg);
		goto out;
	}
	mz_api_config acfg = {.host = o.host, .port = o.port, .db_url = db_url,
	                      .engine = engine, .accounts = accounts, .cloud = cloud,
	                      .version = MZ_VERSION, .events = events,
	                      .settings = settings, .repos = repos, .auth = auth,
	                      .cors_origins = cors_origins, .limits = limits};
	if (mz_api_start(&acfg, &api, &err) != MZ_OK) {
		fprintf(stderr, "mizzen serve: %s\n", err.msg);
		goto out;
	}
	if (o.port == 0) /* the port the kernel chose is our own address now */
		mz_httpc_set_policy(o.host, mz_api_port(api), setting(settings, "outbound", "allow"),
		                    NULL);
	mz_info(v6 ? "mizzen listening on http://[%s]:%d" : "mizzen listening on http://%s:%d",
	        o.host, mz_api_port(api));

	int sig = 0;
	while (sigwait(&sigs, &sig) != 0)
		;
	mz_info("mizzen: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	mz_api_stop(api);
	mz_repos_stop(repos);
	mz_pollers_stop(pollers);
	mz_events_stop(events);
	if (engine)
		mz_engine_stop(engine);
	mz_bakery_stop(bakery);
	mz_cloud_stop(cloud);
	/* last: the engine, the notifier and the instances' starts call it */
	mz_engine_set_secret_fn(NULL, NULL);
	mz_engine_set_seal_fn(NULL, NULL);
	mz_engine_set_accounts_fn(NULL, NULL);
	mz_engine_set_permits_fn(NULL, NULL);
	mz_auth_stop(auth);
	json_decref(local_accounts);
	json_decref(hosted);
	free(address);
	free(self);
	free(ui_base);
	free(db_url);
	json_decref(accounts);
	json_decref(settings);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
		printf("mizzen %s\n", MZ_VERSION);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc, argv);
	return mz_cli_main(argc, argv);
}
