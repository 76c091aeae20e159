/* engine_launch.c - validating pipeline configs and building executions
 * from them (Orca's ExecutionLauncher / OperationsController): stage
 * context = stage map minus name/type/refId/requisiteStageRefIds, linear
 * refIds for ref-less pipelines, trigger normalisation with parameter
 * defaults, required-parameter and disabled checks. */
#include "engine/artifacts.h"
#include "engine/engine_int.h"

#include <pthread.h>
#include <string.h>

/* refIds may be written as numbers by Deck: compare as strings. */
static char *
ref_string(const json_t *v)
{
	if (json_is_string(v))
		return mz_strdup(json_string_value(v));
	if (json_is_integer(v))
		return mz_asprintf("%lld", (long long)json_integer_value(v));
	return NULL;
}

static int
ref_index(json_t *refs, const char *ref)
{
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r) {
		if (strcmp(json_string_value(r), ref) == 0)
			return (int)i;
	}
	return -1;
}

/* Whether every expression in v parses: a walk without the path strings
 * check_expressions builds for its message, run on every launch. */
static bool
expressions_ok(const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		mz_err e = {0};
		return !mz_expr_has(s) || mz_expr_check(s, &e);
	}
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if (!expressions_ok(x))
				return false;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (!expressions_ok(x))
				return false;
		}
	}
	return true;
}

static mz_code
check_expressions(const json_t *v, const char *where, mz_err *err)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		mz_err e = {0};
		if (mz_expr_has(s) && !mz_expr_check(s, &e))
			return mz_fail(err, MZ_EINVAL, "invalid expression in %s: %s", where, e.msg);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s.%s", where, k);
			if (check_expressions(x, sub, err))
				return err->code;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
			if (check_expressions(x, sub, err))
				return err->code;
		}
	}
	return MZ_OK;
}

/* Kahn's algorithm over refIds: every stage must be reachable from a stage
 * without requisites, or the graph has a cycle. */
static mz_code
check_dag(const json_t *stages, json_t *refs, mz_err *err)
{
	size_t n = json_array_size(stages);
	int *indeg = calloc(n ? n : 1, sizeof(int));
	int *queue = calloc(n ? n : 1, sizeof(int));
	int head = 0, tail = 0, seen = 0;
	size_t i, j;
	json_t *s, *r;
	json_array_foreach(stages, i, s) {
		indeg[i] = (int)json_array_size(json_object_get(s, "requisiteStageRefIds"));
		if (indeg[i] == 0)
			queue[tail++] = (int)i;
	}
	while (head < tail) {
		int cur = queue[head++];
		const char *ref = json_string_value(json_array_get(refs, (size_t)cur));
		seen++;
		json_array_foreach(stages, i, s) {
			json_array_foreach(json_object_get(s, "requisiteStageRefIds"), j, r) {
				char *rs = ref_string(r);
				if (rs && strcmp(rs, ref) == 0 && --indeg[i] == 0)
					queue[tail++] = (int)i;
				free(rs);
			}
		}
	}
	mz_code rc = MZ_OK;
	if ((size_t)seen < n) {
		mz_buf names;
		mz_buf_init(&names, 512);
		json_array_foreach(stages, i, s) {
			if (indeg[i] > 0) {
				mz_buf_printf(&names, "%s'%s'", names.len ? ", " : "",
				              json_string_value(json_array_get(refs, i)));
			}
		}
		rc = mz_fail(err, MZ_EINVAL,
		             "stages form a cycle through requisiteStageRefIds: refIds %s can never "
		             "start", names.data);
		mz_buf_release(&names);
	}
	free(indeg);
	free(queue);
	return rc;
}

mz_code
mz_pipeline_validate(const json_t *cfg, mz_err *err)
{
	if (!json_is_object(cfg))
		return mz_fail(err, MZ_EINVAL, "a pipeline config must be a JSON object");
	const char *app = mz_json_str(cfg, "application");
	const char *name = mz_json_str(cfg, "name");
	if (!app || !*app)
		return mz_fail(err, MZ_EINVAL, "pipeline config needs a non-empty 'application'");
	if (!name || !*name)
		return mz_fail(err, MZ_EINVAL, "pipeline config needs a non-empty 'name'");
	json_t *stages = json_object_get(cfg, "stages");
	if (stages && !json_is_array(stages))
		return mz_fail(err, MZ_EINVAL, "'stages' must be a list of stage objects");
	json_t *refs = json_array();
	size_t i, j;
	json_t *s, *r;
	int with_ref = 0;
	mz_code rc = MZ_OK;
	json_array_foreach(stages, i, s) {
		if (!json_is_object(s)) {
			rc = mz_fail(err, MZ_EINVAL, "stage %zu is not an object", i + 1);
			goto out;
		}
		const char *type = mz_json_str(s, "type");
		if (!type || !*type) {
			rc = mz_fail(err, MZ_EINVAL, "stage %zu ('%s') has no 'type'", i + 1,
			             mz_json_str(s, "name") ? mz_json_str(s, "name") : "unnamed");
			goto out;
		}
		json_t *ref = json_object_get(s, "refId");
		if (ref && !json_is_null(ref)) {
			char *rs = ref_string(ref);
			if (!rs || !*rs) {
				free(rs);
				rc = mz_fail(err, MZ_EINVAL, "stage %zu has a refId that is not a string",
				             i + 1);
				goto out;
			}
			if (ref_index(refs, rs) >= 0) {
				rc = mz_fail(err, MZ_EINVAL, "refId '%s' is used by more than one stage", rs);
				free(rs);
				goto out;
			}
			json_array_append_new(refs, json_string(rs));
			free(rs);
			with_ref++;
		} else {
			json_array_append_new(refs, json_sprintf("%zu", i));
		}
		json_t *req = json_object_get(s, "requisiteStageRefIds");
		if (req && !json_is_null(req) && !json_is_array(req)) {
			rc = mz_fail(err, MZ_EINVAL, "stage %zu: requisiteStageRefIds must be a list", i + 1);
			goto out;
		}
	}
	if (with_ref > 0 && (size_t)with_ref < json_array_size(stages)) {
		rc = mz_fail(err, MZ_EINVAL,
		             "some stages have a refId and others do not: give every stage a refId "
		             "(or none, for a linear pipeline)");
		goto out;
	}
	if (with_ref > 0) {
		json_array_foreach(stages, i, s) {
			const char *own = json_string_value(json_array_get(refs, i));
			json_array_foreach(json_object_get(s, "requisiteStageRefIds"), j, r) {
				char *rs = ref_string(r);
				if (!rs) {
					rc = mz_fail(err, MZ_EINVAL, "stage '%s': requisiteStageRefIds must hold "
					             "refIds (strings)", own);
					goto out;
				}
				if (strcmp(rs, own) == 0) {
					rc = mz_fail(err, MZ_EINVAL, "stage '%s' requires itself", own);
					free(rs);
					goto out;
				}
				if (ref_index(refs, rs) < 0) {
					rc = mz_fail(err, MZ_EINVAL,
					             "stage '%s' requires refId '%s', which no stage has", own, rs);
					free(rs);
					goto out;
				}
				free(rs);
			}
		}
		if ((rc = check_dag(stages, refs, err)))
			goto out;
	}
	json_t *triggers = json_object_get(cfg, "triggers");
	if (triggers && !json_is_array(triggers)) {
		rc = mz_fail(err, MZ_EINVAL, "'triggers' must be a list");
		goto out;
	}
	json_array_foreach(triggers, i, s) {
		if (!json_is_object(s) || !mz_json_str(s, "type")) {
			rc = mz_fail(err, MZ_EINVAL, "trigger %zu needs a 'type'", i + 1);
			goto out;
		}
	}
	json_t *params = json_object_get(cfg, "parameterConfig");
	if (params && !json_is_array(params)) {
		rc = mz_fail(err, MZ_EINVAL, "'parameterConfig' must be a list");
		goto out;
	}
	json_array_foreach(params, i, s) {
		if (!json_is_object(s) || !mz_json_str(s, "name") || !*mz_json_str(s, "name")) {
			rc = mz_fail(err, MZ_EINVAL, "parameter %zu needs a 'name'", i + 1);
			goto out;
		}
	}
	json_array_foreach(stages, i, s) {
		/* the stage type's own checks (a policy of the server) */
		const mz_stage_def *def = mz_engine_stage_def(mz_json_str(s, "type"));
		if (def && def->validate && (rc = def->validate(s, err)))
			goto out;
		if (expressions_ok(s))
			continue;
		char where[160];
		snprintf(where, sizeof(where), "stage '%s'",
		         mz_json_str(s, "name") ? mz_json_str(s, "name") :
		         json_string_value(json_array_get(refs, i)));
		if ((rc = check_expressions(s, where, err)))
			goto out;
	}
out:
	json_decref(refs);
	return rc;
}

/* Orca's trigger normalisation (OperationsController.parsePipelineTrigger). */
static json_t *
normalise_trigger(const json_t *cfg, const json_t *trigger, const char *user, mz_err *err)
{
	json_t *t = json_is_object(trigger) ? json_deep_copy(trigger) : json_object();
	if (!mz_json_str(t, "type"))
		json_object_set_new(t, "type", json_string("manual"));
	if (!mz_json_str(t, "user"))
		json_object_set_new(t, "user", json_string(user ? user : "[anonymous]"));
	json_t *params = json_object_get(t, "parameters");
	if (!json_is_object(params)) {
		params = json_object();
		json_object_set_new(t, "parameters", params);
	}
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(cfg, "parameterConfig"), i, p) {
		const char *name = mz_json_str(p, "name");
		json_t *dflt = json_object_get(p, "default");
		json_t *given = json_object_get(params, name);
		if ((!given || json_is_null(given)) && dflt && !json_is_null(dflt))
			json_object_set(params, name, dflt);
		given = json_object_get(params, name);
		if (mz_json_bool(p, "required", false) && (!given || json_is_null(given) ||
		    (json_is_string(given) && json_string_length(given) == 0))) {
			mz_fail(err, MZ_EINVAL, "Required parameter %s is missing", name);
			json_decref(t);
			return NULL;
		}
		if (mz_json_bool(p, "hasOptions", false) && json_is_array(json_object_get(p, "options")) &&
		    json_is_string(given)) {
			size_t k;
			json_t *o;
			bool ok = json_array_size(json_object_get(p, "options")) == 0;
			json_array_foreach(json_object_get(p, "options"), k, o) {
				json_t *ov = json_object_get(o, "value");
				if (json_is_string(ov) && strcmp(json_string_value(ov), json_string_value(given)) == 0)
					ok = true;
			}
			if (!ok) {
				mz_fail(err, MZ_EINVAL, "Parameter %s has value '%s', which is not one of its "
				        "options", name, json_string_value(given));
				json_decref(t);
				return NULL;
			}
		}
	}
	static const char *const lists[] = {"artifacts", "notifications",
	                                    "resolvedExpectedArtifacts", NULL};
	for (int k = 0; lists[k]; k++)
		if (!json_is_array(json_object_get(t, lists[k])))
			json_object_set_new(t, lists[k], json_array());
	static const char *const flags[] = {"rebake", "dryRun", "strategy", NULL};
	for (int k = 0; flags[k]; k++)
		json_object_set_new(t, flags[k], json_boolean(mz_json_bool(t, flags[k], false)));
	return t;
}

/* Builds the stage objects of an execution from config stages. */
static json_t *
build_stages(const json_t *cfg_stages)
{
	json_t *out = json_array();
	size_t i;
	json_t *s;
	bool any_ref = false;
	json_array_foreach(cfg_stages, i, s) {
		json_t *r = json_object_get(s, "refId");
		if (r && !json_is_null(r))
			any_ref = true;
	}
	json_array_foreach(cfg_stages, i, s) {
		json_t *ctx = json_deep_copy(s);
		const char *type = mz_json_str(s, "type");
		const char *name = mz_json_str(s, "name");
		char *ref = any_ref ? ref_string(json_object_get(s, "refId")) : mz_asprintf("%zu", i);
		json_t *st = mz__stage_new(type ? type : "", name ? name : type, ref, NULL);
		json_t *reqs = json_array();
		if (any_ref) {
			size_t j;
			json_t *r;
			json_array_foreach(json_object_get(s, "requisiteStageRefIds"), j, r) {
				char *rs = ref_string(r);
				if (rs)
					json_array_append_new(reqs, json_string(rs));
				free(rs);
			}
		} else if (i > 0) {
			json_array_append_new(reqs, json_sprintf("%zu", i - 1));
		}
		json_object_set_new(st, "requisiteStageRefIds", reqs);
		json_object_del(ctx, "name");
		json_object_del(ctx, "type");
		json_object_del(ctx, "refId");
		json_object_del(ctx, "requisiteStageRefIds");
		if (json_object_get(ctx, "startTimeExpiry")) {
			json_object_set_new(st, "startTimeExpiry",
			                    json_integer(mz_json_int(ctx, "startTimeExpiry", 0)));
			json_object_del(ctx, "startTimeExpiry");
		}
		mz_engine_seal_headers(ctx, false); /* never stored in clear */
		json_object_set_new(st, "context", ctx);
		json_array_append_new(out, st);
		free(ref);
	}
	return out;
}

/* ---- launch templates -----------------------------------------------------
 * Validating a config and building its stages was a third of what a launch
 * cost (140,000 and 250,000 instructions for ten stages), the same result
 * every time the same config starts. So the validated config and the stages
 * built from it are kept, per config id, for the last TEMPLATES configs
 * launched; a launch whose config is equal (json_equal: the same JSON,
 * whatever the order of its keys) to the kept one copies the stages and
 * gives each a new id. Any change to the config is a different config, built
 * afresh. Configs with custom headers are not kept: their sealing (a secret
 * key, installed at start-up) is redone for each launch. */
#define TEMPLATES 32

typedef struct launch_template {
	json_t *cfg;    /* a copy of the config, validated */
	json_t *stages; /* the stages built from it */
	uint64_t used;
} launch_template;

static pthread_mutex_t templates_mu = PTHREAD_MUTEX_INITIALIZER;
static launch_template templates[TEMPLATES];
static uint64_t templates_clock;

static bool
template_worthy(const json_t *cfg)
{
	size_t i;
	json_t *s;
	if (!mz_json_str(cfg, "id"))
		return false; /* an orchestration: started once */
	json_array_foreach(json_object_get(cfg, "stages"), i, s) {
		if (json_object_get(s, "customHeaders"))
			return false;
	}
	return true;
}

/* The kept stages of a config equal to cfg, copied with fresh ids; NULL
 * when none is kept. */
static json_t *
template_stages(const json_t *cfg)
{
	const char *id = mz_json_str(cfg, "id");
	json_t *kept_cfg = NULL, *kept_stages = NULL;
	pthread_mutex_lock(&templates_mu);
	for (int i = 0; i < TEMPLATES; i++) {
		launch_template *t = &templates[i];
		if (t->cfg && mz_streq(mz_json_str(t->cfg, "id"), id)) {
			kept_cfg = json_incref(t->cfg);
			kept_stages = json_incref(t->stages);
			t->used = ++templates_clock;
			break;
		}
	}
	pthread_mutex_unlock(&templates_mu);
	json_t *out = NULL;
	if (kept_cfg && json_equal(kept_cfg, cfg)) {
		out = json_deep_copy(kept_stages);
		size_t i;
		json_t *s;
		json_array_foreach(out, i, s) {
			char sid[27];
			mz_ulid(sid);
			json_object_set_new_nocheck(s, "id", json_string_nocheck(sid));
		}
	}
	json_decref(kept_cfg);
	json_decref(kept_stages);
	return out;
}

static void
template_keep(const json_t *cfg, const json_t *stages)
{
	json_t *c = json_deep_copy(cfg), *st = json_deep_copy(stages), *old_c, *old_st;
	if (!c || !st) {
		json_decref(c);
		json_decref(st);
		return;
	}
	pthread_mutex_lock(&templates_mu);
	launch_template *slot = &templates[0];
	for (int i = 0; i < TEMPLATES; i++) {
		launch_template *t = &templates[i];
		if (t->cfg && mz_streq(mz_json_str(t->cfg, "id"), mz_json_str(cfg, "id"))) {
			slot = t;
			break;
		}
		if (!t->cfg || t->used < slot->used)
			slot = t;
		if (!t->cfg)
			break;
	}
	old_c = slot->cfg;
	old_st = slot->stages;
	slot->cfg = c;
	slot->stages = st;
	slot->used = ++templates_clock;
	pthread_mutex_unlock(&templates_mu);
	json_decref(old_c);
	json_decref(old_st);
}

/* The stages of a new execution of cfg: validated and built, or copied
 * from the template of an equal config. */
static json_t *
launch_stages(const json_t *cfg, mz_err *err)
{
	bool worthy = template_worthy(cfg);
	json_t *stages = worthy ? template_stages(cfg) : NULL;
	if (stages)
		return stages;
	if (mz_pipeline_validate(cfg, err))
		return NULL;
	stages = build_stages(json_object_get(cfg, "stages"));
	if (worthy)
		template_keep(cfg, stages);
	return stages;
}

json_t *
mz__build_pipeline(const json_t *cfg, const json_t *trigger, const char *user,
                   const char *origin, mz_err *err)
{
	char id[27];
	json_t *stages = launch_stages(cfg, err);
	if (!stages)
		return NULL;
	if (mz_json_bool(cfg, "disabled", false) &&
	    !mz_json_bool(json_object_get(cfg, "initialConfig"), "enabled", false)) {
		json_decref(stages);
		mz_fail(err, MZ_EINVAL, "Pipeline is disabled and cannot be started.");
		return NULL;
	}
	json_t *t = normalise_trigger(cfg, trigger, user, err);
	if (!t) {
		json_decref(stages);
		return NULL;
	}
	/* a caller may name the new execution (a retry then finds it: the
	 * launch of an id that exists fails, mz_engine_launch_store) */
	const char *given = mz_json_str(cfg, "executionId");
	if (given && (!*given || strlen(given) >= sizeof(id) ||
	              strspn(given, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                            "_-") != strlen(given))) {
		json_decref(t);
		json_decref(stages);
		mz_fail(err, MZ_EINVAL, "executionId: at most %zu letters, digits, '_' or '-'",
		        sizeof(id) - 1);
		return NULL;
	}
	if (given)
		snprintf(id, sizeof(id), "%s", given);
	else
		mz_ulid(id);
	json_t *exec = json_pack(
		"{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:b, s:b, s:I, s:b, s:s, s:s, s:o, s:o, s:[], "
		"s:{s:s, s:[]}, s:o}",
		"type", "PIPELINE", "id", id, "application", mz_json_str(cfg, "application"), "name",
		mz_json_str(cfg, "name"), "pipelineConfigId", mz_json_str(cfg, "id"), "status",
		"NOT_STARTED", "buildTime", (json_int_t)mz_now_ms(), "canceled", 0,
		"limitConcurrent", mz_json_bool(cfg, "limitConcurrent", false),
		"maxConcurrentExecutions", (json_int_t)mz_json_int(cfg, "maxConcurrentExecutions", 0),
		"keepWaitingPipelines", mz_json_bool(cfg, "keepWaitingPipelines", false), "origin",
		origin ? origin : "unknown", "spelEvaluator",
		mz_json_str(cfg, "spelEvaluator") ? mz_json_str(cfg, "spelEvaluator") : "v4",
		"notifications",
		json_is_array(json_object_get(cfg, "notifications")) ?
		json_deep_copy(json_object_get(cfg, "notifications")) : json_array(),
		"initialConfig",
		json_is_object(json_object_get(cfg, "initialConfig")) ?
		json_deep_copy(json_object_get(cfg, "initialConfig")) : json_object(),
		"systemNotifications", "authentication", "user", user ? user : "anonymous",
		"allowedAccounts", "trigger", t);
	if (!exec) {
		json_decref(stages);
		mz_fail(err, MZ_EINTERNAL, "cannot build execution");
		return NULL;
	}
	if (json_is_array(json_object_get(t, "notifications")))
		json_array_extend(json_object_get(exec, "notifications"),
		                  json_object_get(t, "notifications"));
	json_object_set_new(exec, "stages", stages);
	if (mz_json_int(cfg, "startTimeExpiry", 0) > 0)
		json_object_set_new(exec, "startTimeExpiry",
		                    json_integer(mz_json_int(cfg, "startTimeExpiry", 0)));
	if (json_object_get(cfg, "source"))
		json_object_set(exec, "source", json_object_get(cfg, "source"));
	return exec;
}

static mz_accounts_fn accounts_fn;
static void *accounts_udata;

void
mz_engine_set_accounts_fn(mz_accounts_fn fn, void *udata)
{
	accounts_fn = fn;
	accounts_udata = udata;
}

/* A launch made in two steps (engine.h): everything that costs CPU, built
 * outside any transaction, then the two rows written inside one. */
struct mz_launch {
	json_t *exec;
	char *text;       /* its stored text */
	size_t len;
	bool start;       /* enqueue startExecution (false: failed at startup) */
	bool given_id;    /* the id came from the config (executionId) */
	char id[27];
};

/* The accounts the launching user may use (auth's), recorded before the
 * document is serialised; st is only read. */
static mz_launch *
launch_new(mz_store *st, json_t *exec, bool start)
{
	json_t *auth = json_object_get(exec, "authentication");
	json_t *accounts = accounts_fn && json_is_object(auth)
	                   ? accounts_fn(st, mz_json_str(auth, "user"), accounts_udata) : NULL;
	if (json_is_array(accounts))
		json_object_set_new(auth, "allowedAccounts", accounts);
	else
		json_decref(accounts);
	mz_launch *l = calloc(1, sizeof(*l));
	if (!l)
		abort();
	l->exec = exec;
	l->start = start;
	l->text = mz_json_dump_len(exec, &l->len);
	snprintf(l->id, sizeof(l->id), "%s", mz_json_str(exec, "id"));
	return l;
}

const char *
mz_launch_id(const mz_launch *l)
{
	return l->id;
}

mz_code
mz_engine_launch_store(mz_store *st, const mz_launch *l, mz_err *err)
{
	if (l->given_id) {
		/* the store's put replaces a document of the same id: a named
		 * launch must not overwrite another execution, of any application */
		char *body = NULL, type[16];
		size_t len = 0;
		mz_code xrc = mz_exec_get_raw(st, l->id, &body, &len, type, err);
		free(body);
		if (xrc == MZ_OK)
			return mz_fail(err, MZ_ECONFLICT, "an execution with id %s exists already "
			               "(executionId names a new execution)", l->id);
		if (xrc != MZ_ENOTFOUND)
			return xrc;
		if (err)
			memset(err, 0, sizeof(*err));
	}
	mz_code rc = mz_exec_put_text(st, l->exec, l->text, err);
	if (rc == MZ_OK && l->start) {
		mz_qmsg q = mz__msg_exec("startExecution", l->exec);
		json_t *m = mz__qm_json(&q);
		rc = mz_queue_push(st, m, mz_now_ms(), err);
		json_decref(m);
		mz__qm_release(&q);
	}
	return rc;
}

/* A committed launch's document goes to the engine's cache with the text
 * stored for it, so the worker that starts it does not parse it again
 * (had the caller rolled back, the cache would find no such text and drop
 * the entry). */
void
mz_engine_launch_done(mz_engine *eng, mz_launch *l, bool committed)
{
	if (!l)
		return;
	if (committed && eng) {
		mz__cache_put(eng->cache, l->exec, l->text, l->len);
	} else {
		json_decref(l->exec);
		free(l->text);
	}
	free(l);
}

/* Stores a prepared launch in the caller's transaction and hands it on. */
static mz_code
store_and_start(mz_engine *eng, mz_store *st, mz_launch *l, char out_id[27], mz_err *err)
{
	mz_code rc = mz_engine_launch_store(st, l, err);
	if (rc == MZ_OK && out_id)
		snprintf(out_id, 27, "%s", l->id);
	mz_engine_launch_done(eng, l, rc == MZ_OK);
	return rc;
}

/* Echo sends an application's notifications for each of its pipelines:
 * they join the execution's own (each type's list, typed). */
static mz_code
add_app_notifications(mz_store *st, json_t *exec, mz_err *err)
{
	json_t *prefs = NULL;
	mz_code rc = mz_app_notifications_get(st, mz_json_str(exec, "application"), &prefs, err);
	if (rc != MZ_OK)
		return rc;
	json_t *list = json_object_get(exec, "notifications");
	const char *type;
	json_t *v;
	json_object_foreach(prefs, type, v) {
		size_t i;
		json_t *p;
		json_array_foreach(v, i, p) {
			if (!json_is_object(p))
				continue;
			json_t *n = json_deep_copy(p);
			if (!mz_json_str(n, "type"))
				json_object_set_new(n, "type", json_string(type));
			json_object_set_new(n, "level", json_string("application"));
			json_array_append_new(list, n);
		}
	}
	json_decref(prefs);
	return MZ_OK;
}

/* Prepares a pipeline whose config is already rendered (not a template). */
static mz_code
prepare_rendered(mz_engine *eng, mz_store *st, const json_t *cfg, const json_t *trigger,
                 const char *user, const char *origin, mz_launch **out, mz_err *err)
{
	*out = NULL;
	json_t *exec = mz__build_pipeline(cfg, trigger, user, origin, err);
	if (!exec)
		return err ? err->code : MZ_EINVAL;
	mz_code nrc = add_app_notifications(st, exec, err);
	if (nrc != MZ_OK) {
		json_decref(exec);
		return nrc;
	}
	if (json_array_size(json_object_get(cfg, "expectedArtifacts")) > 0) {
		/* Orca's artifact resolution at launch (engine_artifacts.c), with the
		 * last execution of the same config for usePriorArtifact */
		json_t *prior = NULL, *list = NULL;
		const char *ids[] = {mz_json_str(cfg, "id"), NULL};
		mz_exec_query q = {.type = "PIPELINE", .config_ids = ids, .limit = 1};
		if (ids[0] && mz_exec_query_run(st, &q, &list, NULL) == MZ_OK)
			prior = json_array_get(list, 0);
		mz_err aerr = {0};
		mz_code rc = mz_artifacts_resolve(cfg, json_object_get(exec, "trigger"), prior, &aerr);
		json_decref(list);
		if (rc != MZ_OK) {
			const char *tt = mz_json_str(trigger, "type");
			if (!tt || mz_streq(tt, "manual")) {
				json_decref(exec);
				return mz_fail(err, MZ_EINVAL, "%s", aerr.msg);
			}
			/* from an event: the execution exists, failed at startup (Orca's
			 * handleStartupFailure) */
			int64_t now = mz_now_ms();
			json_object_set_new(exec, "status", json_string("TERMINAL"));
			json_object_set_new(exec, "startTime", json_integer(now));
			json_object_set_new(exec, "endTime", json_integer(now));
			json_object_set_new(exec, "canceledBy", json_string("system"));
			json_object_set_new(exec, "cancellationReason", json_string(aerr.msg));
			json_object_set_new(exec, "exception",
			                    json_pack("{s:{s:s, s:[s]}}", "details", "error", aerr.msg,
			                              "errors", aerr.msg));
			*out = launch_new(st, exec, false);
			(*out)->given_id = mz_json_str(cfg, "executionId") != NULL;
			return MZ_OK;
		}
	}
	(void)eng;
	*out = launch_new(st, exec, true);
	(*out)->given_id = mz_json_str(cfg, "executionId") != NULL;
	return MZ_OK;
}

mz_code
mz_engine_prepare_pipeline(mz_engine *eng, mz_store *st, const json_t *cfg,
                           const json_t *trigger, const char *user, const char *origin,
                           mz_launch **out, mz_err *err)
{
	*out = NULL;
	if (!mz_template_is_v2_config(cfg))
		return prepare_rendered(eng, st, cfg, trigger, user, origin, out, err);
	/* templated: rendered with the template as it is now, at every start
	 * (Orca renders at start too, so a template change reaches every
	 * pipeline made from it) */
	json_t *rendered = NULL;
	mz_code rc = mz_template_render(st, cfg, &rendered, err);
	if (rc == MZ_OK)
		rc = prepare_rendered(eng, st, rendered, trigger, user, origin, out, err);
	json_decref(rendered);
	return rc;
}

mz_code
mz_engine_launch_pipeline(mz_engine *eng, mz_store *st, const json_t *cfg,
                          const json_t *trigger, const char *user, const char *origin,
                          char out_id[27], mz_err *err)
{
	mz_launch *l;
	mz_code rc = mz_engine_prepare_pipeline(eng, st, cfg, trigger, user, origin, &l, err);
	return rc ? rc : store_and_start(eng, st, l, out_id, err);
}

mz_code
mz_engine_launch_orchestration(mz_engine *eng, mz_store *st, const json_t *req,
                               const char *user, const char *origin, char out_id[27],
                               mz_err *err)
{
	if (!json_is_object(req))
		return mz_fail(err, MZ_EINVAL, "a task must be a JSON object");
	const char *app = mz_json_str(req, "application");
	json_t *job = json_object_get(req, "job");
	if (!app || !*app)
		return mz_fail(err, MZ_EINVAL, "a task needs an 'application'");
	if (!json_is_array(job) || json_array_size(job) == 0)
		return mz_fail(err, MZ_EINVAL, "a task needs a non-empty 'job' list of operations");
	size_t i;
	json_t *j;
	json_array_foreach(job, i, j) {
		if (!json_is_object(j) || !mz_json_str(j, "type"))
			return mz_fail(err, MZ_EINVAL, "job %zu needs a 'type'", i + 1);
	}
	/* An orchestration is a pipeline without a config: stages named after
	 * their types, linear unless they carry refIds. */
	json_t *cfg = json_pack("{s:s, s:s, s:O}", "application", app, "name",
	                        mz_json_str(req, "description") ? mz_json_str(req, "description")
	                                                        : "orchestration",
	                        "stages", job);
	json_t *exec = mz__build_pipeline(cfg, json_object_get(req, "trigger"), user, origin, err);
	json_decref(cfg);
	if (!exec)
		return err ? err->code : MZ_EINVAL;
	json_object_set_new(exec, "type", json_string("ORCHESTRATION"));
	json_object_del(exec, "name");
	json_object_set_new(exec, "description",
	                    json_string(mz_json_str(req, "description") ?
	                                mz_json_str(req, "description") : "orchestration"));
	return store_and_start(eng, st, launch_new(st, exec, true), out_id, err);
}
