/* stage_webhook_preconf.c - preconfigured webhooks (Orca's
 * PreconfiguredWebhookStage): each enabled entry of the config's
 * webhook.preconfigured list is a stage type of its own,
 *
 *   {"type": "notifyDeploy", "label": "Notify deploy", "enabled": true,
 *    "url": "https://board.example.com/deploys/${parameterValues.env}",
 *    "method": "POST", "customHeaders": {"Authorization": ["${#secret('board')}"]},
 *    "payload": {"app": "${execution.application}"},
 *    "parameters": [{"name": "env", "label": "Environment", "defaultValue": "test"}]}
 *
 * and a stage {"type": "notifyDeploy", "parameterValues": {"env": "prod"}}
 * runs the webhook stage with the entry's fields over the stage's: what
 * the operator configured (URL, headers, payload, status polling) wins,
 * what it left out the stage may set, as in Orca. A parameter the stage
 * does not give takes its defaultValue; expressions in the configured
 * fields (${parameterValues.env}) are evaluated before each task runs, and
 * ${#secret(...)} only inside the call, as for any webhook stage. An entry
 * with "permissions" ({"READ": [roles], "WRITE": [roles]}) runs only for an
 * execution whose user may WRITE it. GET /webhooks/preconfigured lists the
 * entries a caller may READ for Deck. */
#include "engine/stage_webhook.h"

#include "engine/engine.h"

#define MAX_PRECONFIGURED 64

const char *const mz_webhook_preconfigured_fields[] = {
	"url", "customHeaders", "method", "payload", "failFastStatusCodes",
	"waitForCompletion", "statusUrlResolution", "statusUrlJsonPath", "statusJsonPath",
	"progressJsonPath", "successStatuses", "canceledStatuses", "terminalStatuses",
	"signalCancellation", "cancelEndpoint", "cancelMethod", "cancelPayload",
	"waitBeforeMonitor", "retryStatusCodes", NULL};

static json_t *g_hooks; /* type -> entry; never freed while the engine may plan */
static mz_permits_fn g_permits;
static void *g_permits_udata;

void
mz_engine_set_permits_fn(mz_permits_fn fn, void *udata)
{
	g_permits = fn;
	g_permits_udata = udata;
}

bool
mz__engine_permits(mz_store *st, const char *user, const json_t *permissions, const char *perm)
{
	return !g_permits || g_permits(st, user ? user : "anonymous", permissions, perm,
	                               g_permits_udata);
}

/* An entry with "permissions" listing roles runs only for a user who may
 * WRITE it (Orca: PreconfiguredWebhookUnauthorizedException). */
static bool
may_run(mz_plan *p, const json_t *def)
{
	const json_t *perms = json_object_get(def, "permissions");
	const char *k;
	json_t *roles;
	bool restricted = false;
	json_object_foreach((json_t *)perms, k, roles) restricted |= json_array_size(roles) > 0;
	if (!restricted || !g_permits)
		return true;
	const char *user = mz_json_str(json_object_get(mz_plan_execution(p), "authentication"),
	                               "user");
	return g_permits(mz_plan_store(p), user ? user : "anonymous", perms, "WRITE",
	                 g_permits_udata);
}
static mz_stage_def g_defs[MAX_PRECONFIGURED];
static int g_ndefs;

static mz_code
preconfigured_plan(mz_plan *p, mz_err *err)
{
	json_t *stage = mz_plan_stage(p);
	const char *type = mz_json_str(stage, "type");
	json_t *def = json_object_get(g_hooks, type ? type : "");
	if (!def)
		return mz_fail(err, MZ_EINVAL, "preconfigured webhook '%s' is not configured", type);
	if (!may_run(p, def)) {
		const char *user = mz_json_str(json_object_get(mz_plan_execution(p),
		                                               "authentication"), "user");
		return mz_fail(err, MZ_EFORBIDDEN, "%s may not run the preconfigured webhook %s "
		               "(its permissions ask for WRITE)", user ? user : "anonymous", type);
	}
	json_t *ctx = json_object_get(stage, "context");
	if (!ctx) {
		ctx = json_object();
		json_object_set_new(stage, "context", ctx);
	}
	for (int i = 0; mz_webhook_preconfigured_fields[i]; i++) {
		json_t *v = json_object_get(def, mz_webhook_preconfigured_fields[i]);
		if (v)
			json_object_set_new(ctx, mz_webhook_preconfigured_fields[i], json_deep_copy(v));
	}
	json_t *values = json_object_get(ctx, "parameterValues");
	if (!json_is_object(values)) {
		values = json_object();
		json_object_set_new(ctx, "parameterValues", values);
	}
	size_t i;
	json_t *param;
	json_array_foreach(json_object_get(def, "parameters"), i, param) {
		const char *name = mz_json_str(param, "name");
		json_t *dflt = json_object_get(param, "defaultValue");
		if (name && dflt && !json_object_get(values, name))
			json_object_set(values, name, dflt);
	}
	if (!mz_json_str(ctx, "url"))
		return mz_fail(err, MZ_EINVAL, "preconfigured webhook '%s' has no url", type);
	return mz__webhook_plan(p, err);
}

void
mz_engine_register_preconfigured_webhooks(const json_t *hooks)
{
	if (!g_hooks)
		g_hooks = json_object();
	size_t i;
	json_t *h;
	json_array_foreach(hooks, i, h) {
		const char *type = mz_json_str(h, "type");
		if (!type || !mz_json_bool(h, "enabled", true))
			continue;
		if (mz_engine_stage_def(type) || g_ndefs == MAX_PRECONFIGURED) {
			mz_warn("webhook.preconfigured: '%s' is taken by another stage type (or there are "
			        "more than %d); skipped", type, MAX_PRECONFIGURED);
			continue;
		}
		json_object_set(g_hooks, type, h);
		g_defs[g_ndefs] = (mz_stage_def){
			.type = mz_json_str(json_object_get(g_hooks, type), "type"),
			.plan = preconfigured_plan,
			.prepare_restart = mz__webhook_prepare_restart};
		mz_engine_register_stage(&g_defs[g_ndefs++]);
	}
}
