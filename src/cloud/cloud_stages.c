/* cloud_stages.c - Orca's deploy-side stages over the local provider
 * (reference spinnaker-engine-and-api.md §6.9-6.11): deploy and
 * createServerGroup with the strategies none, highlander, redblack and
 * rollingredblack (and rollback on failure), the server-group stages with
 * their targets, the cluster stages, findImageFromCluster, and the load
 * balancer stages.
 *
 * Simplifications, all documented in README: a server-group stage acts in
 * one location (its region, else the first of regions); a dynamic target is
 * resolved by a determineTargetServerGroup task at run time rather than a
 * synthetic stage; "Disable p% of Traffic" below 100% disables nothing
 * (HAProxy already splits traffic by instance count between the two
 * enabled groups), the source is disabled whole at 100%. */
#include "cloud/cloud_int.h"
#include "cloud/cloud_ops.h"
#include "engine/engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ORCA "com.netflix.spinnaker.orca.clouddriver."

/* ---- small helpers ------------------------------------------------------------ */

json_t *
mz__cloud_plan_ctx(mz_plan *p)
{
	json_t *st = mz_plan_stage(p);
	json_t *ctx = json_object_get(st, "context");
	if (!ctx) {
		ctx = json_object();
		json_object_set_new(st, "context", ctx);
	}
	return ctx;
}

/* The context every cluster/server-group stage the strategies add starts
 * from: where the cluster lives. */
json_t *
mz__cloud_base_ctx(const json_t *ctx, const char *cluster, const char *region)
{
	json_t *b = json_object();
	const char *acct = mz__cloud_account(ctx);
	if (acct)
		json_object_set_new(b, "credentials", json_string(acct));
	json_object_set_new(b, "cloudProvider", json_string("local"));
	if (cluster)
		json_object_set_new(b, "cluster", json_string(cluster));
	if (region) {
		json_object_set_new(b, "region", json_string(region));
		json_object_set_new(b, "regions", json_pack("[s]", region));
	}
	json_t *f = json_object_get(ctx, "interestingHealthProviderNames");
	if (f)
		json_object_set(b, "interestingHealthProviderNames", f);
	return b;
}

static const char *
first_name(const json_t *dsg, const char *region)
{
	json_t *l = json_object_get(dsg, region);
	if (!l && json_object_size(dsg) > 0)
		l = json_object_iter_value(json_object_iter((json_t *)dsg));
	return json_string_value(json_array_get(l, 0));
}

/* An account whose config has "permissions" takes only executions whose
 * authentication.allowedAccounts (the accounts their user may WRITE,
 * resolved when they were stored: the trigger's runAsUser, the last saver
 * of the pipeline, or the user who started it) names it. False after
 * setting the result TERMINAL. */
static bool
account_allowed(mz_task_ctx *c, mz_task_result *r, const char *account)
{
	size_t i;
	json_t *a;
	const json_t *perms = NULL;
	json_array_foreach(mz__cloud->accounts, i, a) {
		if (mz_streq(mz_json_str(a, "name"), account))
			perms = json_object_get(a, "permissions");
	}
	if (!json_is_object(perms) || json_object_size(perms) == 0)
		return true;
	const json_t *auth = json_object_get(c->execution, "authentication");
	json_array_foreach(json_object_get(auth, "allowedAccounts"), i, a) {
		if (mz_streq(json_string_value(a), account))
			return true;
	}
	mz_task_result_set(r, "TERMINAL", "Access denied to account %s for user %s - required "
	                   "authorization: WRITE", account,
	                   mz_json_str(auth, "user") ? mz_json_str(auth, "user") : "anonymous");
	return false;
}

/* Orca fails a stage whose account or region does not exist (Clouddriver
 * answers it with an error): a lookup there would find an empty cluster
 * and the stage would "succeed" having done nothing. False after setting
 * the result TERMINAL with the reason. */
bool
mz__cloud_location_ok(mz_task_ctx *c, mz_task_result *r, const char *account, const char *region)
{
	mz_err err = {0};
	if (!mz__cloud) {
		mz_task_result_set(r, "TERMINAL", "no cloud provider is running");
		return false;
	}
	if (mz_local_check_location(mz__cloud->local, account, region, &err) != MZ_OK) {
		mz_task_result_set(r, "TERMINAL", "%s", err.msg);
		return false;
	}
	return account_allowed(c, r, account);
}

static void
ok_task(mz_task_ctx *c, mz_task_result *r)
{
	(void)c;
	r->status = "SUCCEEDED";
}

/* ---- createServerGroup tasks -------------------------------------------------- */

static void
determine_source_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	if (!mz__cloud_location_ok(c, r, mz__cloud_account(ctx), mz__cloud_region(ctx)))
		return;
	r->status = "SUCCEEDED";
	if (mz_json_str(json_object_get(ctx, "source"), "serverGroupName") ||
	    mz_json_str(json_object_get(ctx, "source"), "asgName"))
		return;
	char *cluster = mz__cloud_cluster_name(ctx);
	const char *region = mz__cloud_region(ctx);
	json_t *groups = NULL;
	if (!mz__cloud_read_cluster(c, r, mz__cloud_account(ctx), region, cluster, &groups)) {
		free(cluster);
		return;
	}
	json_t *pick = NULL;
	size_t i;
	json_t *sg;
	json_array_foreach(groups, i, sg) { /* newest enabled, else newest */
		if (!mz_json_bool(sg, "disabled", false)) {
			pick = sg;
			break;
		}
	}
	if (!pick)
		pick = json_array_get(groups, 0);
	if (pick)
		json_object_set_new(mz_task_result_context(r), "source",
		                    json_pack("{s:s?, s:s?, s:s?, s:s?, s:b}",
		                              "account", mz_json_str(pick, "account"),
		                              "region", mz_json_str(pick, "region"),
		                              "serverGroupName", mz_json_str(pick, "name"),
		                              "asgName", mz_json_str(pick, "name"),
		                              "useSourceCapacity",
		                              mz_json_bool(ctx, "useSourceCapacity", false)));
	json_decref(groups);
	free(cluster);
}

/* The image of this region from an upstream bake or findImage stage. */
static const char *
upstream_image(mz_task_ctx *c, const char *region)
{
	json_t *dd = mz__ancestor_lookup(c->execution, c->stage, "deploymentDetails");
	json_t *s = c->stage;
	for (int guard = 0; !dd && s && guard < 16; guard++) {
		s = mz__parent(c->execution, s);
		if (s)
			dd = mz__ancestor_lookup(c->execution, s, "deploymentDetails");
	}
	json_t *pick = NULL;
	size_t i;
	json_t *d;
	json_array_foreach(dd, i, d) {
		if (!pick || (region && mz_streq(mz_json_str(d, "region"), region)))
			pick = d;
		if (region && mz_streq(mz_json_str(d, "region"), region))
			break;
	}
	if (!pick)
		return NULL;
	const char *id = mz_json_str(pick, "imageId");
	if (!id)
		id = mz_json_str(pick, "ami");
	if (!id)
		id = mz_json_str(pick, "imageName");
	return id;
}

static void
create_sg_task(mz_task_ctx *c, mz_task_result *r)
{
	static const char *const keys[] = {
		"application", "stack", "freeFormDetails", "capacity", "command", "env",
		"healthCheck", "loadBalancers", "startDisabled", "sequence", "useSourceCapacity",
		"buildInfo", "tags", NULL};
	json_t *ctx = mz__cloud_ctx(c);
	const char *type = mz_json_str(c->stage, "type");
	const char *op = mz_streq(type, "cloneServerGroup") ? "cloneServerGroup"
	                                                    : "createServerGroup";
	json_t *desc = json_object();
	for (int i = 0; keys[i]; i++) {
		json_t *v = json_object_get(ctx, keys[i]);
		if (v && !json_is_null(v))
			json_object_set(desc, keys[i], v);
	}
	if (!json_object_get(desc, "application") && mz_json_str(c->execution, "application"))
		json_object_set_new(desc, "application",
		                    json_string(mz_json_str(c->execution, "application")));
	const char *acct = mz__cloud_account(ctx);
	const char *region = mz__cloud_region(ctx);
	if (acct)
		json_object_set_new(desc, "credentials", json_string(acct));
	if (region)
		json_object_set_new(desc, "region", json_string(region));
	const char *image = mz_json_str(ctx, "image");
	if (!image)
		image = mz_json_str(ctx, "imageId");
	if (!image)
		image = mz_json_str(ctx, "amiName");
	if (!image)
		image = upstream_image(c, region);
	if (image)
		json_object_set_new(desc, "image", json_string(image));
	json_t *src = json_object_get(ctx, "source");
	if (json_is_object(src) && (mz_streq(op, "cloneServerGroup") ||
	                            mz_json_bool(ctx, "useSourceCapacity", false)))
		json_object_set(desc, "source", src);
	char id[40];
	bool ok = mz__cloud_submit(c, r, op, desc, NULL, id);
	json_decref(desc);
	if (!ok)
		return;
	mz__cloud_submitted(r, op, id);
	json_object_set_new(mz_task_result_context(r), "notification.type",
	                    json_string("createdeploy"));
	if (acct)
		json_object_set_new(mz_task_result_context(r), "deploy.account.name", json_string(acct));
}

/* ---- target resolution ---------------------------------------------------------- */

/* groups: the cluster's server groups, newest first (stolen). */
static bool
resolve_target(const json_t *ctx, json_t *groups, const char *target, const char **name_out,
               json_t **hold, char *msg, size_t msgsz)
{
	char *cluster = mz__cloud_cluster_name(ctx);
	const char *region = mz__cloud_region(ctx);
	const char *acct = mz__cloud_account(ctx);
	size_t n = json_array_size(groups);
	json_t *pick = NULL;
	char t[64];
	snprintf(t, sizeof(t), "%s", target);
	for (char *q = t; *q; q++)
		*q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
	char *suffix = strstr(t, "_asg");
	if (suffix)
		*suffix = '\0';
	if (!strcmp(t, "current") || !strcmp(t, "newest"))
		pick = json_array_get(groups, 0);
	else if (!strcmp(t, "ancestor") || !strcmp(t, "previous"))
		pick = n >= 2 ? json_array_get(groups, 1) : NULL;
	else if (!strcmp(t, "oldest"))
		pick = n >= 2 ? json_array_get(groups, n - 1) : NULL;
	else if (!strcmp(t, "largest")) {
		size_t i;
		json_t *sg;
		json_array_foreach(groups, i, sg) {
			if (!pick || json_array_size(json_object_get(sg, "instances")) >
			             json_array_size(json_object_get(pick, "instances")))
				pick = sg;
		}
	} else if (!strcmp(t, "fail"))
		pick = n == 1 ? json_array_get(groups, 0) : NULL;
	else {
		snprintf(msg, msgsz, "unknown target '%s'", target);
		json_decref(groups);
		free(cluster);
		return false;
	}
	if (!pick) {
		snprintf(msg, msgsz, "no server group found for target %s in cluster %s (account %s, "
		         "region %s)", target, cluster ? cluster : "(none)", acct ? acct : "(none)",
		         region ? region : "(none)");
		json_decref(groups);
		free(cluster);
		return false;
	}
	*hold = json_incref(pick);
	*name_out = mz_json_str(pick, "name");
	json_decref(groups);
	free(cluster);
	return true;
}

static void
determine_target_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	const char *name = mz_json_str(ctx, "serverGroupName");
	if (!name)
		name = mz_json_str(ctx, "asgName");
	json_t *hold = NULL;
	char msg[512];
	const char *region = mz__cloud_region(ctx);
	if (!mz__cloud_location_ok(c, r, mz__cloud_account(ctx), region))
		return;
	if (!name) {
		const char *target = mz_json_str(ctx, "target");
		if (!target) {
			mz_task_result_set(r, "TERMINAL", "the stage needs serverGroupName or target "
			                   "(current_asg_dynamic, ancestor_asg_dynamic, oldest_asg_dynamic)");
			return;
		}
		char *cluster = mz__cloud_cluster_name(ctx);
		json_t *groups = NULL;
		bool read = mz__cloud_read_cluster(c, r, mz__cloud_account(ctx), region, cluster,
		                                   &groups);
		free(cluster);
		if (!read)
			return;
		if (!resolve_target(ctx, groups, target, &name, &hold, msg, sizeof(msg))) {
			mz_task_result_set(r, "TERMINAL", "%s", msg);
			return;
		}
		region = mz_json_str(hold, "region");
	}
	if (!region) {
		mz_task_result_set(r, "TERMINAL", "the stage needs a region");
		json_decref(hold);
		return;
	}
	json_t *cx = mz_task_result_context(r);
	json_object_set_new(cx, "serverGroupName", json_string(name));
	json_object_set_new(cx, "asgName", json_string(name));
	json_object_set_new(cx, "region", json_string(region));
	json_object_set_new(cx, "deploy.server.groups", mz__cloud_dsg(region, name));
	const char *acct = mz__cloud_account(ctx);
	if (acct)
		json_object_set_new(cx, "deploy.account.name", json_string(acct));
	json_object_set_new(mz_task_result_outputs(r), "targetReferences",
	                    json_pack("[{s:s, s:s, s:s?}]", "region", region,
	                              "serverGroupName", name, "account", acct));
	json_decref(hold);
	r->status = "SUCCEEDED";
}

/* ---- server group operations -------------------------------------------------- */

static json_t *
sg_desc(const json_t *ctx)
{
	json_t *d = json_object();
	const char *acct = mz__cloud_account(ctx);
	if (acct)
		json_object_set_new(d, "credentials", json_string(acct));
	if (mz__cloud_region(ctx))
		json_object_set_new(d, "region", json_string(mz__cloud_region(ctx)));
	/* asgName only: the provider fills serverGroupName from it */
	const char *name = mz_json_str(ctx, "serverGroupName");
	if (name)
		json_object_set_new(d, "asgName", json_string(name));
	json_object_set_new(d, "cloudProvider", json_string("local"));
	return d;
}

static void
sg_op(mz_task_ctx *c, mz_task_result *r, const char *op, json_t *desc)
{
	char id[40];
	bool ok = mz__cloud_submit(c, r, op, desc, NULL, id);
	json_decref(desc);
	if (ok)
		mz__cloud_submitted(r, op, id);
}

static void
enable_task(mz_task_ctx *c, mz_task_result *r)
{
	sg_op(c, r, "enableServerGroup", sg_desc(mz__cloud_ctx(c)));
}

static void
disable_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	double pct = mz_json_num(ctx, "desiredPercentage", 100);
	if (pct < 100) {
		/* Partial disable: both groups stay in the load balancer, whose
		 * round robin already gives the source its share by instance
		 * count; the source is disabled whole at 100%. */
		json_object_set_new(mz_task_result_context(r), "partialDisable",
		                    json_string("the local provider disables a whole server group; "
		                                "below 100% traffic is shared by instance count"));
		r->status = "SUCCEEDED";
		return;
	}
	sg_op(c, r, "disableServerGroup", sg_desc(ctx));
}

static void
destroy_task(mz_task_ctx *c, mz_task_result *r)
{
	sg_op(c, r, "destroyServerGroup", sg_desc(mz__cloud_ctx(c)));
}

static void
resize_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	json_t *desc = sg_desc(ctx);
	const char *action = mz_json_str(ctx, "action");
	json_t *cap = json_object_get(ctx, "capacity");
	json_t *newcap = NULL;
	if (action && (mz_strcaseeq(action, "scale_up") || mz_strcaseeq(action, "scale_down"))) {
		json_t *sg = NULL;
		if (!mz__cloud_read_sg(c, r, mz__cloud_account(ctx), mz__cloud_region(ctx),
		                       mz_json_str(ctx, "serverGroupName"), &sg)) {
			json_decref(desc);
			return;
		}
		if (!sg) {
			json_decref(desc);
			mz_task_result_set(r, "TERMINAL", "Server group %s not found",
			                   mz_json_str(ctx, "serverGroupName"));
			return;
		}
		json_t *cur = json_object_get(sg, "capacity");
		int64_t d = mz_json_int(cur, "desired", 0);
		int64_t delta = mz_json_int(ctx, "scaleNum", 0);
		if (json_object_get(ctx, "scalePct"))
			delta = (int64_t)ceil(d * mz_json_num(ctx, "scalePct", 0) / 100.0);
		int64_t nd = mz_strcaseeq(action, "scale_up") ? d + delta : d - delta;
		if (nd < 0)
			nd = 0;
		int64_t mn = mz_json_int(cur, "min", 0), mx = mz_json_int(cur, "max", nd);
		newcap = json_pack("{s:I, s:I, s:I}", "min", (json_int_t)(mn < nd ? mn : nd),
		                   "max", (json_int_t)(mx > nd ? mx : nd), "desired", (json_int_t)nd);
		json_decref(sg);
	} else if (json_is_object(cap)) {
		newcap = json_deep_copy(cap);
	} else {
		json_decref(desc);
		mz_task_result_set(r, "TERMINAL", "resizeServerGroup needs a capacity {min, max, "
		                   "desired} or action scale_up/scale_down with scaleNum or scalePct");
		return;
	}
	json_object_set(desc, "capacity", newcap);
	json_object_set_new(mz_task_result_context(r), "capacity", newcap);
	sg_op(c, r, "resizeServerGroup", desc);
}

static void
terminate_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	json_t *desc = sg_desc(ctx);
	json_t *ids = json_object_get(ctx, "instanceIds");
	if (!ids)
		ids = json_object_get(ctx, "instances");
	json_object_set(desc, "instanceIds", ids ? ids : json_array());
	sg_op(c, r, "terminateInstances", desc);
}

/* ---- cluster operations ------------------------------------------------------- */

enum cluster_op { C_DISABLE, C_SCALEDOWN, C_SHRINK };

static void
cluster_task(mz_task_ctx *c, mz_task_result *r, enum cluster_op kind)
{
	json_t *ctx = mz__cloud_ctx(c);
	char *cluster = mz__cloud_cluster_name(ctx);
	const char *region = mz__cloud_region(ctx);
	const char *acct = mz__cloud_account(ctx);
	if (!cluster || !acct || !region) {
		mz_task_result_set(r, "TERMINAL", "the cluster stage needs cluster, credentials and "
		                   "a region");
		free(cluster);
		return;
	}
	if (!mz__cloud_location_ok(c, r, acct, region)) {
		free(cluster);
		return;
	}
	json_t *groups = NULL;
	if (!mz__cloud_read_cluster(c, r, acct, region, cluster, &groups)) {
		free(cluster);
		return;
	}
	if (json_array_size(groups) == 0) {
		/* Orca's AbstractClusterWideClouddriverTask: a cluster that is
		 * not there fails the stage unless the stage says to go on. */
		if (mz_json_bool(ctx, "continueIfClusterNotFound", false)) {
			json_object_set_new(mz_task_result_context(r), "clusterNotFound", json_true());
			r->status = "SUCCEEDED";
		} else {
			mz_task_result_set(r, "TERMINAL", "Cluster %s not found in account %s, region "
			                   "%s (set continueIfClusterNotFound to go on without it)",
			                   cluster, acct, region);
		}
		json_decref(groups);
		free(cluster);
		return;
	}
	json_t *ids = json_array();
	json_t *names = json_array();
	int64_t keep;
	const char *op;
	switch (kind) {
	case C_DISABLE:
		keep = mz_json_int(ctx, "remainingEnabledServerGroups", 1);
		op = "disableServerGroup";
		break;
	case C_SCALEDOWN:
		keep = mz_json_int(ctx, "remainingFullSizeServerGroups", 1);
		op = "resizeServerGroup";
		break;
	default:
		keep = mz_json_int(ctx, "shrinkToSize", 1);
		op = "destroyServerGroup";
		break;
	}
	int64_t kept = 0;
	size_t i;
	json_t *sg;
	bool ok = true;
	json_array_foreach(groups, i, sg) {
		bool disabled = mz_json_bool(sg, "disabled", false);
		const char *name = mz_json_str(sg, "name");
		if (kind == C_DISABLE) {
			if (disabled)
				continue;
			if (kept < keep) {
				kept++;
				continue;
			}
		} else if (kept < keep) {
			kept++;
			continue;
		} else if (kind == C_SCALEDOWN) {
			if ((!disabled && !mz_json_bool(ctx, "allowScaleDownActive", false)) ||
			    mz_json_int(json_object_get(sg, "capacity"), "desired", 0) == 0)
				continue;
		} else if (!disabled && !mz_json_bool(ctx, "allowDeleteActive", false)) {
			continue;
		}
		json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "credentials", acct,
		                      "region", region, "asgName", name, "cloudProvider", "local");
		if (kind == C_SCALEDOWN)
			json_object_set_new(d, "capacity", json_pack("{s:i, s:i, s:i}", "min", 0,
			                                             "max", 0, "desired", 0));
		char id[40];
		char *suffix = mz_asprintf("%s:%s", op, name);
		ok = mz__cloud_submit(c, r, op, d, suffix, id);
		free(suffix);
		json_decref(d);
		if (!ok)
			break;
		json_array_append_new(ids, json_string(id));
		json_array_append_new(names, json_string(name));
	}
	if (ok) {
		json_t *cx = mz_task_result_context(r);
		json_object_set(cx, "cloudTaskIds", ids);
		json_object_set_new(cx, "deploy.server.groups", json_pack("{s:O}", region, names));
		json_object_set(cx, kind == C_DISABLE ? "disabledServerGroups" :
		                    kind == C_SCALEDOWN ? "scaledDownServerGroups" :
		                    "destroyedServerGroups", names);
		if (json_array_size(ids) > 0)
			json_object_set_new(cx, "kato.last.task.id",
			                    json_pack("{s:O}", "id", json_array_get(ids, 0)));
		r->status = "SUCCEEDED";
	}
	json_decref(ids);
	json_decref(names);
	json_decref(groups);
	free(cluster);
}

static void disable_cluster_task(mz_task_ctx *c, mz_task_result *r) { cluster_task(c, r, C_DISABLE); }
static void scale_down_cluster_task(mz_task_ctx *c, mz_task_result *r) { cluster_task(c, r, C_SCALEDOWN); }
static void shrink_cluster_task(mz_task_ctx *c, mz_task_result *r) { cluster_task(c, r, C_SHRINK); }

/* ---- findImageFromCluster -------------------------------------------------- */

static void
find_image_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	char *cluster = mz__cloud_cluster_name(ctx);
	const char *acct = mz__cloud_account(ctx);
	json_t *regions = json_object_get(ctx, "regions");
	json_t *own = NULL;
	if (!json_is_array(regions) || json_array_size(regions) == 0) {
		const char *reg = mz__cloud_region(ctx);
		own = json_pack("[s]", reg ? reg : "local");
		regions = own;
	}
	bool only_enabled = mz_json_bool(ctx, "onlyEnabled", true);
	const char *strategy = mz_json_str(ctx, "selectionStrategy");
	json_t *details = json_array();
	size_t i;
	json_t *rv;
	json_array_foreach(regions, i, rv) {
		const char *region = json_string_value(rv);
		if (!mz__cloud_location_ok(c, r, acct, region))
			break;
		json_t *groups = NULL;
		if (!mz__cloud_read_cluster(c, r, acct, region, cluster, &groups))
			break;
		json_t *cands = mz__cloud_select(groups, only_enabled);
		size_t j;
		json_t *sg;
		json_t *pick = NULL;
		size_t n = json_array_size(cands);
		if (n == 0) {
			mz_task_result_set(r, "TERMINAL", "Could not find a server group for cluster %s "
			                   "in %s:%s%s", cluster ? cluster : "(none)", acct ? acct : "",
			                   region ? region : "", only_enabled ? " (only enabled)" : "");
		} else if (!strategy || mz_strcaseeq(strategy, "NEWEST")) {
			pick = json_array_get(cands, 0);
		} else if (mz_strcaseeq(strategy, "OLDEST")) {
			pick = json_array_get(cands, n - 1);
		} else if (mz_strcaseeq(strategy, "LARGEST")) {
			json_array_foreach(cands, j, sg) {
				if (!pick || json_array_size(json_object_get(sg, "instances")) >
				             json_array_size(json_object_get(pick, "instances")))
					pick = sg;
			}
		} else if (mz_strcaseeq(strategy, "FAIL")) {
			if (n > 1)
				mz_task_result_set(r, "TERMINAL", "Multiple server groups in cluster %s "
				                   "(selectionStrategy FAIL)", cluster ? cluster : "");
			else
				pick = json_array_get(cands, 0);
		} else {
			mz_task_result_set(r, "TERMINAL", "unknown selectionStrategy %s", strategy);
		}
		if (pick) {
			json_t *img = json_object_get(pick, "image");
			const char *id = mz_json_str(img, "imageId");
			const char *iname = mz_json_str(img, "name");
			json_array_append_new(details, json_pack(
				"{s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:s?, s:O}", "ami", id, "imageId", id,
				"imageName", iname ? iname : id, "region", region, "cloudProvider", "local",
				"cloudProviderType", "local", "serverGroupName", mz_json_str(pick, "name"),
				"image", img ? img : json_null()));
		}
		json_decref(cands);
		json_decref(groups);
		if (!pick)
			break;
	}
	if (!r->status) {
		json_object_set(mz_task_result_context(r), "amiDetails", details);
		json_object_set(mz_task_result_outputs(r), "deploymentDetails", details);
		r->status = "SUCCEEDED";
	}
	json_decref(details);
	json_decref(own);
	free(cluster);
}

/* ---- load balancers --------------------------------------------------------- */

/* An orchestration job's "name" becomes the stage's name: the load
 * balancer's name is the context's name or loadBalancerName, else the
 * stage's name when one was given. */
static const char *
lb_name(mz_task_ctx *c)
{
	json_t *ctx = mz__cloud_ctx(c);
	const char *n = mz_json_str(ctx, "loadBalancerName");
	if (!n)
		n = mz_json_str(ctx, "name");
	if (!n && !mz_streq(mz_json_str(c->stage, "name"), mz_json_str(c->stage, "type")))
		n = mz_json_str(c->stage, "name");
	return n;
}

static void
upsert_lb_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	json_t *d = json_object();
	const char *keys[] = {"name", "listeners", "healthCheck", "stack", "detail", NULL};
	for (int i = 0; keys[i]; i++)
		if (json_object_get(ctx, keys[i]))
			json_object_set(d, keys[i], json_object_get(ctx, keys[i]));
	if (!json_object_get(d, "name")) {
		const char *n = lb_name(c);
		if (n)
			json_object_set_new(d, "name", json_string(n));
	}
	if (mz__cloud_account(ctx))
		json_object_set_new(d, "credentials", json_string(mz__cloud_account(ctx)));
	if (mz__cloud_region(ctx))
		json_object_set_new(d, "region", json_string(mz__cloud_region(ctx)));
	json_object_set_new(mz_task_result_outputs(r), "targets",
	                    json_pack("[{s:s?, s:s?, s:s?}]", "name", mz_json_str(d, "name"),
	                              "credentials", mz__cloud_account(ctx),
	                              "region", mz__cloud_region(ctx)));
	sg_op(c, r, "upsertLoadBalancer", d);
}

static void
delete_lb_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	const char *name = lb_name(c);
	json_t *d = json_pack("{s:s?, s:s?, s:s?}", "loadBalancerName", name,
	                      "credentials", mz__cloud_account(ctx), "region", mz__cloud_region(ctx));
	sg_op(c, r, "deleteLoadBalancer", d);
}

/* ---- task definitions ----------------------------------------------------------- */

#define T_INT(nm, cls, fn) {.name = nm, .impl_class = ORCA "tasks." cls, .execute = fn}
#define T_EXT(nm, cls, fn)                                                                 \
	{ .name = nm, .impl_class = ORCA "tasks." cls, .execute = fn, .flags = MZ_TASK_EXTERNAL }

static const mz_task_def task_defs[] = {
	T_INT("determineSourceServerGroup", "DetermineSourceServerGroupTask", determine_source_task),
	T_INT("determineHealthProviders", "DetermineHealthProvidersTask", ok_task),
	T_INT("completeParallelDeploy", "kato.pipeline.ParallelDeployStage$CompleteParallelDeployTask",
	      ok_task),
	T_INT("determineTargetServerGroup", "servergroup.support.DetermineTargetServerGroupTask",
	      determine_target_task),
	T_INT("findImage", "cluster.FindImageFromClusterTask", find_image_task),
	T_EXT("createServerGroup", "servergroup.CreateServerGroupTask", create_sg_task),
	T_EXT("enableServerGroup", "servergroup.EnableServerGroupTask", enable_task),
	T_EXT("disableServerGroup", "servergroup.DisableServerGroupTask", disable_task),
	T_EXT("resizeServerGroup", "servergroup.ResizeServerGroupTask", resize_task),
	T_EXT("destroyServerGroup", "servergroup.DestroyServerGroupTask", destroy_task),
	T_EXT("terminateInstances", "instance.TerminateInstancesTask", terminate_task),
	T_EXT("disableCluster", "cluster.DisableClusterTask", disable_cluster_task),
	T_EXT("scaleDownCluster", "cluster.ScaleDownClusterTask", scale_down_cluster_task),
	T_EXT("shrinkCluster", "cluster.ShrinkClusterTask", shrink_cluster_task),
	T_EXT("upsertLoadBalancer", "loadbalancer.UpsertLoadBalancerTask", upsert_lb_task),
	T_EXT("deleteLoadBalancer", "loadbalancer.DeleteLoadBalancerTask", delete_lb_task),
};

/* ---- createServerGroup / cloneServerGroup ------------------------------------- */

static void
flatten_cluster(json_t *ctx)
{
	json_t *cl = json_object_get(ctx, "cluster");
	if (json_is_object(cl)) {
		json_incref(cl);
		json_object_del(ctx, "cluster");
		mz_json_merge(ctx, cl);
		json_decref(cl);
	}
}

static mz_code
create_plan(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	flatten_cluster(ctx);
	const char *strategy = mz_json_str(ctx, "strategy");
	if (mz_strcaseeq(strategy, "rollingredblack") && !json_object_get(ctx, "savedCapacity")) {
		json_t *cap = json_object_get(ctx, "capacity");
		json_object_set_new(ctx, "savedCapacity", cap ? json_deep_copy(cap) :
		                    json_pack("{s:i, s:i, s:i}", "min", 1, "max", 1, "desired", 1));
		json_object_set_new(ctx, "capacity", json_pack("{s:i, s:i, s:i}", "min", 0, "max", 0,
		                                               "desired", 0));
		json_object_set_new(ctx, "useSourceCapacity", json_false());
		json_object_set_new(ctx, "targetSize", json_integer(0));
	}
	mz_plan_task(p, "determineSourceServerGroup");
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "createServerGroup");
	mz_plan_task(p, "monitorDeploy");
	mz_plan_task(p, "waitForUpInstances");
	(void)err;
	return MZ_OK;
}

static int64_t
ceil_pct(int64_t v, double pct)
{
	return (int64_t)ceil((double)v * pct / 100.0);
}

static mz_code
create_after(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	const char *strategy = mz_json_str(ctx, "strategy");
	const char *region = mz__cloud_region(ctx);
	char *cluster = mz__cloud_cluster_name(ctx);
	json_t *dsg = json_object_get(ctx, "deploy.server.groups");
	const char *created = first_name(dsg, region);
	const char *source = mz_json_str(json_object_get(ctx, "source"), "serverGroupName");
	if (!source)
		source = mz_json_str(json_object_get(ctx, "source"), "asgName");
	(void)err;
	if (!strategy || !cluster) {
		free(cluster);
		return MZ_OK;
	}
	if (mz_strcaseeq(strategy, "highlander")) {
		json_t *b = mz__cloud_base_ctx(ctx, cluster, region);
		json_object_set_new(b, "shrinkToSize", json_integer(1));
		json_object_set_new(b, "allowDeleteActive", json_true());
		json_object_set_new(b, "retainLargerOverNewer", json_false());
		mz_plan_after(p, "shrinkCluster", "shrinkCluster", b, true);
	} else if (mz_strcaseeq(strategy, "redblack") && source) {
		int64_t max = mz_json_int(ctx, "maxRemainingAsgs", 0);
		if (max > 0) {
			json_t *b = mz__cloud_base_ctx(ctx, cluster, region);
			json_object_set_new(b, "shrinkToSize", json_integer(max));
			json_object_set_new(b, "allowDeleteActive",
			                    json_boolean(mz_json_bool(ctx, "allowDeleteActive", false)));
			json_object_set_new(b, "retainLargerOverNewer", json_false());
			mz_plan_after(p, "shrinkCluster", "shrinkCluster", b, true);
		}
		int64_t delay = mz_json_int(ctx, "delayBeforeCleanup", 0);
		if (delay <= 0)
			delay = mz_json_int(ctx, "delayBeforeDisableSec", 0);
		if (delay > 0)
			mz_plan_after(p, "wait", "Wait Before Disable",
			              json_pack("{s:I}", "waitTime", (json_int_t)delay), true);
		json_t *b = mz__cloud_base_ctx(ctx, cluster, region);
		json_object_set_new(b, "remainingEnabledServerGroups", json_integer(1));
		json_object_set_new(b, "preferLargerOverNewer", json_false());
		mz_plan_after(p, "disableCluster", "disableCluster", b, true);
		if (mz_json_bool(ctx, "scaleDown", false)) {
			int64_t sd = mz_json_int(ctx, "delayBeforeScaleDownSec", 0);
			if (sd > 0)
				mz_plan_after(p, "wait", "Wait Before Scale Down",
				              json_pack("{s:I}", "waitTime", (json_int_t)sd), true);
			b = mz__cloud_base_ctx(ctx, cluster, region);
			json_object_set_new(b, "allowScaleDownActive",
			                    json_boolean(mz_json_bool(ctx, "allowScaleDownActive", false)));
			json_object_set_new(b, "remainingFullSizeServerGroups", json_integer(1));
			json_object_set_new(b, "preferLargerOverNewer", json_false());
			mz_plan_after(p, "scaleDownCluster", "scaleDownCluster", b, true);
		}
	} else if (mz_strcaseeq(strategy, "rollingredblack") && created) {
		json_t *saved = json_object_get(ctx, "savedCapacity");
		json_t *pcts = json_object_get(ctx, "targetPercentages");
		json_t *list = json_is_array(pcts) && json_array_size(pcts) > 0 ? json_copy(pcts)
		                                                                : json_array();
		size_t n = json_array_size(list);
		if (n == 0 || json_number_value(json_array_get(list, n - 1)) != 100)
			json_array_append_new(list, json_integer(100));
		size_t i;
		json_t *pv;
		int64_t delay = mz_json_int(ctx, "delayBeforeScaleDownSec", 0);
		json_array_foreach(list, i, pv) {
			double pct = json_number_value(pv);
			if (pct <= 0 || pct > 100)
				continue;
			json_t *b = mz__cloud_base_ctx(ctx, NULL, region);
			json_object_set_new(b, "serverGroupName", json_string(created));
			json_object_set_new(b, "scalePct", json_real(pct));
			json_object_set_new(b, "action", json_string("scale_exact"));
			json_object_set_new(b, "capacity", json_pack(
				"{s:I, s:I, s:I}",
				"min", (json_int_t)ceil_pct(mz_json_int(saved, "min", 0), pct),
				"max", (json_int_t)mz_json_int(saved, "max", mz_json_int(saved, "desired", 1)),
				"desired", (json_int_t)ceil_pct(mz_json_int(saved, "desired", 1), pct)));
			char *name = mz_asprintf("Grow to %g%% of Desired Size", pct);
			mz_plan_after(p, "resizeServerGroup", name, b, true);
			free(name);
			if (delay > 0)
				mz_plan_after(p, "wait", "wait",
				              json_pack("{s:I}", "waitTime", (json_int_t)delay), true);
			if (source) {
				b = mz__cloud_base_ctx(ctx, NULL, region);
				json_object_set_new(b, "serverGroupName", json_string(source));
				json_object_set_new(b, "desiredPercentage", json_real(pct));
				name = mz_asprintf("Disable %g%% of Traffic on %s", pct, source);
				mz_plan_after(p, "disableServerGroup", name, b, true);
				free(name);
			}
		}
		json_decref(list);
		if (source && mz_json_bool(ctx, "scaleDown", false)) {
			json_t *b = mz__cloud_base_ctx(ctx, cluster, region);
			json_object_set_new(b, "allowScaleDownActive", json_false());
			json_object_set_new(b, "remainingFullSizeServerGroups", json_integer(1));
			json_object_set_new(b, "preferLargerOverNewer", json_false());
			mz_plan_after(p, "scaleDownCluster", "scaleDownCluster", b, true);
		}
	}
	free(cluster);
	return MZ_OK;
}

/* True when one of the stage's tasks ended TERMINAL (the deploy itself
 * failed, rather than the clean-up of the old server groups after it). */
static bool
a_task_terminal(const json_t *stage)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(stage, "tasks"), i, t) {
		if (mz_streq(mz_json_str(t, "status"), "TERMINAL"))
			return true;
	}
	return false;
}

/* rollback.onFailure, as Orca's CreateServerGroupStage: a rollbackCluster
 * stage "Rollback <cluster>" over the server group this deploy created
 * (rolling red/black: always, re-enabling the previous group and
 * disabling the new one; red/black: only if the deploy itself failed,
 * disabling the new group, as the old one was never disabled), then with
 * destroyLatest a destroyServerGroup of the new group. Other strategies
 * only destroy. */
static mz_code
create_on_failure(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	json_t *rb = json_object_get(ctx, "rollback");
	(void)err;
	if (!mz_json_bool(rb, "onFailure", false))
		return MZ_OK;
	const char *region = mz__cloud_region(ctx);
	const char *created = first_name(json_object_get(ctx, "deploy.server.groups"), region);
	if (!created)
		return MZ_OK;
	const char *strategy = mz_json_str(ctx, "strategy");
	const char *only = NULL;
	if (mz_strcaseeq(strategy, "rollingredblack"))
		only = "enableAndDisableOnly";
	else if (mz_strcaseeq(strategy, "redblack") && a_task_terminal(mz_plan_stage(p)))
		only = "disableOnly";
	char *cluster = mz__cloud_cluster_name(ctx);
	if (only) {
		json_t *b = mz__cloud_base_ctx(ctx, NULL, region);
		json_object_del(b, "region");
		json_object_set_new(b, "serverGroup", json_string(created));
		json_object_set_new(b, "stageTimeoutMs", json_integer(30 * 60 * 1000));
		json_object_set_new(b, "additionalRollbackContext", json_pack("{s:b}", only, 1));
		char *name = mz_asprintf("Rollback %s", cluster ? cluster : created);
		mz_plan_after(p, "rollbackCluster", name, b, true);
		free(name);
	}
	if (mz_json_bool(rb, "destroyLatest", false)) {
		json_t *b = mz__cloud_base_ctx(ctx, cluster, region);
		json_object_set_new(b, "serverGroupName", json_string(created));
		json_object_set_new(b, "stageTimeoutMs", json_integer(5 * 60 * 1000));
		char *name = mz_asprintf("Destroy %s", created);
		mz_plan_after(p, "destroyServerGroup", name, b, true);
		free(name);
	}
	free(cluster);
	return MZ_OK;
}

/* At save and at run: an image given as a path must lie under
 * providers.local.imageRoots (else a pipeline could deploy, and so read,
 * any directory of the host). An expression is judged when it deploys. */
static mz_code
check_image(const json_t *spec, const char *where, mz_err *err)
{
	static const char *const keys[] = {"image", "imageId", "amiName", NULL};
	for (int i = 0; keys[i]; i++) {
		const char *image = mz_json_str(spec, keys[i]);
		if (!image || !*image || strstr(image, "${"))
			continue;
		if (mz__cloud && !mz_local_image_allowed(mz__cloud->local, image, false))
			return mz_fail(err, MZ_EINVAL, "stage '%s': " MZ_LOCAL_IMAGE_REFUSED_FMT, where,
			               image);
		return MZ_OK; /* the first key given is the one used */
	}
	return MZ_OK;
}

static const char *
stage_name(const json_t *stage, const char *dflt)
{
	const char *n = mz_json_str(stage, "name");
	return n ? n : dflt;
}

static mz_code
create_validate(const json_t *stage, mz_err *err)
{
	return check_image(stage, stage_name(stage, mz_json_str(stage, "type")), err);
}

static const mz_stage_def create_stage = {
	.type = "createServerGroup",
	.plan = create_plan,
	.after = create_after,
	.on_failure = create_on_failure,
	.validate = create_validate,
};

static const mz_stage_def clone_stage = {
	.type = "cloneServerGroup",
	.plan = create_plan,
	.after = create_after,
	.on_failure = create_on_failure,
	.validate = create_validate,
};

/* ---- deploy -------------------------------------------------------------------- */

static mz_code
deploy_plan(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	json_t *clusters = json_object_get(ctx, "clusters");
	json_t *single = json_object_get(ctx, "cluster");
	json_t *list = json_array();
	if (json_is_array(clusters))
		json_array_extend(list, clusters);
	else if (json_is_object(single))
		json_array_append(list, single);
	if (json_array_size(list) == 0) {
		json_decref(list);
		return mz_fail(err, MZ_EINVAL, "the deploy stage needs 'clusters' (a list of "
		               "cluster specs)");
	}
	size_t i;
	json_t *spec;
	json_array_foreach(list, i, spec) {
		if (!json_is_object(spec)) {
			json_decref(list);
			return mz_fail(err, MZ_EINVAL, "clusters[%zu] is not an object", i);
		}
		json_t *c = json_deep_copy(ctx);
		json_object_del(c, "clusters");
		json_object_del(c, "cluster");
		json_object_del(c, "stageTimeoutMs");
		mz_json_merge(c, spec);
		flatten_cluster(c);
		const char *acct = mz__cloud_account(c);
		if (acct && !json_object_get(c, "account"))
			json_object_set_new(c, "account", json_string(acct));
		const char *region = mz__cloud_region(c);
		char *name = mz_asprintf("Deploy in %s", region ? region : "local");
		mz_plan_before(p, mz_streq(mz_json_str(spec, "type"), "cloneServerGroup")
		                  ? "cloneServerGroup" : "createServerGroup", name, c, false);
		free(name);
	}
	json_decref(list);
	mz_plan_task(p, "completeParallelDeploy");
	return MZ_OK;
}

static mz_code
deploy_validate(const json_t *stage, mz_err *err)
{
	const char *name = stage_name(stage, "deploy");
	mz_code rc = check_image(json_object_get(stage, "cluster"), name, err);
	size_t i;
	json_t *spec;
	json_array_foreach(json_object_get(stage, "clusters"), i, spec) {
		if (rc == MZ_OK)
			rc = check_image(spec, name, err);
	}
	return rc;
}

static const mz_stage_def deploy_stage = {
	.type = "deploy",
	.plan = deploy_plan,
	.validate = deploy_validate,
};

/* ---- server group stages -------------------------------------------------------- */

static mz_code
enable_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "determineTargetServerGroup");
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "enableServerGroup");
	mz_plan_task(p, "monitorServerGroup");
	mz_plan_task(p, "waitForUpInstances");
	return MZ_OK;
}

static mz_code
disable_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "determineTargetServerGroup");
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "disableServerGroup");
	mz_plan_task(p, "monitorServerGroup");
	mz_plan_task(p, "waitForDownInstances");
	return MZ_OK;
}

static mz_code
resize_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "determineTargetServerGroup");
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "resizeServerGroup");
	mz_plan_task(p, "monitorServerGroup");
	mz_plan_task(p, "waitForCapacityMatch");
	return MZ_OK;
}

static mz_code
destroy_plan(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	(void)err;
	if (!mz_json_bool(ctx, "skipDisableBeforeDestroy", false)) {
		json_t *c = json_deep_copy(ctx);
		json_object_del(c, "stageTimeoutMs");
		mz_plan_before(p, "disableServerGroup", "disableServerGroup", c, true);
	}
	mz_plan_task(p, "determineTargetServerGroup");
	mz_plan_task(p, "destroyServerGroup");
	mz_plan_task(p, "monitorServerGroup");
	mz_plan_task(p, "waitForDestroyedServerGroup");
	return MZ_OK;
}

static mz_code
terminate_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "terminateInstances");
	mz_plan_task(p, "monitorTerminateInstances");
	return MZ_OK;
}

/* ---- cluster stages ---------------------------------------------------------------- */

static mz_code
disable_cluster_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "disableCluster");
	mz_plan_task(p, "monitorDisableCluster");
	mz_plan_task(p, "waitForClusterDisable");
	return MZ_OK;
}

static mz_code
scale_down_cluster_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "scaleDownCluster");
	mz_plan_task(p, "monitorScaleDownCluster");
	mz_plan_task(p, "waitForScaleDownCluster");
	return MZ_OK;
}

static mz_code
shrink_cluster_plan(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	(void)err;
	if (mz_json_bool(ctx, "allowDeleteActive", false) &&
	    mz_json_bool(ctx, "runDisableClusterStep", true)) {
		json_t *b = mz__cloud_base_ctx(ctx, NULL, mz__cloud_region(ctx));
		char *cluster = mz__cloud_cluster_name(ctx);
		if (cluster)
			json_object_set_new(b, "cluster", json_string(cluster));
		free(cluster);
		json_object_set_new(b, "remainingEnabledServerGroups",
		                    json_integer(mz_json_int(ctx, "shrinkToSize", 1)));
		json_object_set_new(b, "preferLargerOverNewer",
		                    json_boolean(mz_json_bool(ctx, "retainLargerOverNewer", false)));
		mz_plan_before(p, "disableCluster", "disableCluster", b, true);
	}
	mz_plan_task(p, "determineHealthProviders");
	mz_plan_task(p, "shrinkCluster");
	mz_plan_task(p, "monitorShrinkCluster");
	mz_plan_task(p, "waitForClusterShrink");
	return MZ_OK;
}

static mz_code
find_image_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "findImage");
	return MZ_OK;
}

static mz_code
upsert_lb_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "upsertLoadBalancer");
	mz_plan_task(p, "monitorUpsert");
	return MZ_OK;
}

static mz_code
delete_lb_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "deleteLoadBalancer");
	mz_plan_task(p, "monitorDelete");
	return MZ_OK;
}

static const mz_stage_def stage_defs[] = {
	{.type = "enableServerGroup", .plan = enable_plan},
	{.type = "disableServerGroup", .plan = disable_plan},
	{.type = "resizeServerGroup", .plan = resize_plan},
	{.type = "destroyServerGroup", .plan = destroy_plan},
	{.type = "terminateInstances", .plan = terminate_plan},
	{.type = "disableCluster", .plan = disable_cluster_plan},
	{.type = "scaleDownCluster", .plan = scale_down_cluster_plan},
	{.type = "shrinkCluster", .plan = shrink_cluster_plan},
	{.type = "findImageFromCluster", .plan = find_image_plan},
	{.type = "findImage", .plan = find_image_plan},
	{.type = "upsertLoadBalancer", .plan = upsert_lb_plan},
	{.type = "deleteLoadBalancer", .plan = delete_lb_plan},
};

void
mz__cloud_register_stages(void)
{
	mz__cloud_register_common_tasks();
	for (size_t i = 0; i < sizeof(task_defs) / sizeof(task_defs[0]); i++)
		mz_engine_register_task(&task_defs[i]);
	mz_engine_register_stage(&create_stage);
	mz_engine_register_stage(&clone_stage);
	mz_engine_register_stage(&deploy_stage);
	for (size_t i = 0; i < sizeof(stage_defs) / sizeof(stage_defs[0]); i++)
		mz_engine_register_stage(&stage_defs[i]);
}
