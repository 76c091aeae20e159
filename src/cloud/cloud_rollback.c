/* cloud_rollback.c - rolling a cluster back to an earlier server group
 * (reference spinnaker-engine-and-api.md §6.10, Orca's
 * RollbackServerGroupStage and RollbackClusterStage):
 *
 *   rollbackServerGroup  rollbackType EXPLICIT, rollbackContext
 *                        {rollbackServerGroupName, restoreServerGroupName,
 *                        targetHealthyRollbackPercentage,
 *                        delayBeforeDisableSeconds, disableOnly,
 *                        enableAndDisableOnly}: after-stages enable the
 *                        restore group, size it up to the larger of the two
 *                        (min pinned to desired while both serve), wait,
 *                        disable the rolled-back group and give the restore
 *                        group back its min;
 *   rollbackCluster      cluster (or moniker, or serverGroup), credentials,
 *                        regions, targetHealthyRollbackPercentage,
 *                        waitTimeBetweenRegions, additionalRollbackContext,
 *                        originalServerGroup: in each region the newest
 *                        enabled server group is rolled back to the one
 *                        before it (or to originalServerGroup), one
 *                        rollbackServerGroup stage "Rollback <region>" after
 *                        the other.
 *
 * The local provider has no entity tags, so the PREVIOUS_IMAGE rollback
 * (a new server group from the image an entity tag names) never comes up:
 * every candidate is an EXPLICIT rollback to an existing server group. */
#include "cloud/cloud_int.h"
#include "cloud/cloud_ops.h"

#include <stdlib.h>
#include <string.h>

#define ORCA "com.netflix.spinnaker.orca.clouddriver."

/* ---- rollbackServerGroup ------------------------------------------------------ */

static json_t *
capacity_of(const json_t *sg)
{
	json_t *cap = json_object_get(sg, "capacity");
	return json_pack("{s:I, s:I, s:I}", "min", (json_int_t)mz_json_int(cap, "min", 0),
	                 "max", (json_int_t)mz_json_int(cap, "max", 0),
	                 "desired", (json_int_t)mz_json_int(cap, "desired", 0));
}

/* Checks that the server groups named exist and records their capacities
 * (sourceServerGroupCapacitySnapshot: the rolled-back group's, Orca's key;
 * restoreServerGroupCapacity: the restore group's), from which the
 * after-stages size the restore group: reading them here, in a task, keeps
 * planning free of cloud lookups and the same on a replay. */
static void
validate_rollback_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	const char *type = mz_json_str(ctx, "rollbackType");
	json_t *rc = json_object_get(ctx, "rollbackContext");
	if (type && !mz_strcaseeq(type, "EXPLICIT")) {
		mz_task_result_set(r, "TERMINAL", "rollbackType %s is not supported by the local "
		                   "provider (use EXPLICIT)", type);
		return;
	}
	if (!mz__cloud_location_ok(c, r, mz__cloud_account(ctx), mz__cloud_region(ctx)))
		return;
	const char *names[2] = {mz_json_str(rc, "rollbackServerGroupName"),
	                        mz_json_str(rc, "restoreServerGroupName")};
	const char *keys[2] = {"sourceServerGroupCapacitySnapshot", "restoreServerGroupCapacity"};
	for (int i = 0; i < 2; i++) {
		if (i == 1 && mz_json_bool(rc, "disableOnly", false))
			continue;
		json_t *sg = NULL;
		if (names[i] && !mz__cloud_read_sg(c, r, mz__cloud_account(ctx), mz__cloud_region(ctx),
		                                   names[i], &sg))
			return;
		if (!sg) {
			mz_task_result_set(r, "TERMINAL", "rollbackContext.%s: server group %s not found",
			                   i ? "restoreServerGroupName" : "rollbackServerGroupName",
			                   names[i] ? names[i] : "(none)");
			return;
		}
		json_object_set_new(mz_task_result_context(r), keys[i], capacity_of(sg));
		json_decref(sg);
	}
	r->status = "SUCCEEDED";
}

static mz_code
rollback_sg_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "validateRollbackTargets");
	return MZ_OK;
}

static json_t *
sg_stage_ctx(const json_t *ctx, const char *region, const char *name)
{
	json_t *b = mz__cloud_base_ctx(ctx, NULL, region);
	json_object_set_new(b, "serverGroupName", json_string(name));
	return b;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Orca's ExplicitRollback: disableOnly disables the rolled-back group and
 * nothing else; enableAndDisableOnly enables the restore group, then
 * disables the other; otherwise the restore group is also sized to the
 * larger of the two groups before the switch (so it can take all the
 * traffic) and its min, pinned to desired meanwhile, is set back to the
 * rolled-back group's min afterwards. */
static mz_code
rollback_sg_after(mz_plan *p, mz_err *err)
{
	json_t *ctx = mz__cloud_plan_ctx(p);
	json_t *rc = json_object_get(ctx, "rollbackContext");
	const char *region = mz__cloud_region(ctx);
	const char *rollback = mz_json_str(rc, "rollbackServerGroupName");
	const char *restore = mz_json_str(rc, "restoreServerGroupName");
	char name[300];
	(void)err;
	if (!rollback)
		return MZ_OK;
	json_t *disable = sg_stage_ctx(ctx, region, rollback);
	snprintf(name, sizeof(name), "Disable %s due to rollback", rollback);
	if (mz_json_bool(rc, "disableOnly", false) || !restore) {
		mz_plan_after(p, "disableServerGroup", name, disable, true);
		return MZ_OK;
	}
	json_t *enable = sg_stage_ctx(ctx, region, restore);
	json_t *pct = json_object_get(rc, "targetHealthyRollbackPercentage");
	if (pct)
		json_object_set(enable, "targetHealthyDeployPercentage", pct);
	char ename[300];
	snprintf(ename, sizeof(ename), "Enable %s due to rollback", restore);
	mz_plan_after(p, "enableServerGroup", ename, enable, true);
	if (mz_json_bool(rc, "enableAndDisableOnly", false)) {
		mz_plan_after(p, "disableServerGroup", name, disable, true);
		return MZ_OK;
	}

	json_t *src = json_object_get(ctx, "sourceServerGroupCapacitySnapshot");
	json_t *cur = json_object_get(ctx, "restoreServerGroupCapacity");
	int64_t max = max64(mz_json_int(src, "max", 0), mz_json_int(cur, "max", 0));
	int64_t desired = max64(mz_json_int(src, "desired", 0), mz_json_int(cur, "desired", 0));
	bool resize = src && cur && (mz_json_int(cur, "min", 0) != desired ||
	                             mz_json_int(cur, "max", 0) != max ||
	                             mz_json_int(cur, "desired", 0) != desired);
	if (resize) {
		json_t *b = sg_stage_ctx(ctx, region, restore);
		json_object_set_new(b, "action", json_string("scale_exact"));
		json_object_set_new(b, "capacity", json_pack("{s:I, s:I, s:I}",
		                                             "min", (json_int_t)desired,
		                                             "max", (json_int_t)max,
		                                             "desired", (json_int_t)desired));
		if (pct)
			json_object_set(b, "targetHealthyDeployPercentage", pct);
		char rname[400];
		snprintf(rname, sizeof(rname), "Resize Server Group: %s to (min: %lld, max: %lld, "
		         "desired: %lld)", restore, (long long)desired, (long long)max,
		         (long long)desired);
		mz_plan_after(p, "resizeServerGroup", rname, b, true);
	}
	int64_t delay = mz_json_int(rc, "delayBeforeDisableSeconds", 0);
	if (delay > 0)
		mz_plan_after(p, "wait", "waitBeforeDisable",
		              json_pack("{s:I}", "waitTime", (json_int_t)delay), true);
	mz_plan_after(p, "disableServerGroup", name, disable, true);
	if (resize) {
		json_t *b = sg_stage_ctx(ctx, region, restore);
		int64_t min = mz_json_int(src, "min", 0);
		json_object_set_new(b, "action", json_string("scale_exact"));
		json_object_set_new(b, "capacity", json_pack("{s:I, s:I, s:I}",
		                                             "min", (json_int_t)(min < desired ? min
		                                                                               : desired),
		                                             "max", (json_int_t)max,
		                                             "desired", (json_int_t)desired));
		mz_plan_after(p, "resizeServerGroup",
		              "Restore Min Capacity From Snapshot due to rollback", b, true);
	}
	return MZ_OK;
}

/* ---- rollbackCluster ---------------------------------------------------------- */

/* The cluster of a server group name (Frigga: "app-stack-detail-v003" ->
 * "app-stack-detail"); a new string. */
static char *
cluster_of(const char *sg)
{
	const char *v = strrchr(sg, '-');
	if (v && v[1] == 'v' && strlen(v + 2) >= 3 && strspn(v + 2, "0123456789") == strlen(v + 2))
		return mz_asprintf("%.*s", (int)(v - sg), sg);
	return mz_strdup(sg);
}

/* Deck's rule for how much of the restore group must be healthy before
 * the rolled-back one is disabled: all of a small group, one instance
 * short of a mid-sized one, 95 % of a large one. */
static int64_t
healthy_pct(const json_t *ctx, const json_t *rollback_sg)
{
	if (json_is_number(json_object_get(ctx, "targetHealthyRollbackPercentage")))
		return mz_json_int(ctx, "targetHealthyRollbackPercentage", 100);
	json_t *cap = json_object_get(rollback_sg, "capacity");
	if (!json_object_get(cap, "desired"))
		return 100;
	int64_t d = mz_json_int(cap, "desired", 0);
	return d < 10 ? 100 : d < 20 ? 90 : 95;
}

/* The regions of the stage: regions, else region. A new array. */
static json_t *
stage_regions(const json_t *ctx)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(ctx, "regions"), i, v) {
		if (json_is_string(v))
			json_array_append(out, v);
	}
	if (!json_array_size(out) && mz__cloud_region(ctx))
		json_array_append_new(out, json_string(mz__cloud_region(ctx)));
	return out;
}

/* Orca's DetermineRollbackCandidatesTask. In each region with at least two
 * server groups of the cluster, one of them enabled: the newest enabled
 * group is rolled back to originalServerGroup when the stage names one,
 * else to the newest other group (only enabled ones with
 * additionalRollbackContext.onlyEnabledServerGroups). A region without a
 * candidate is skipped, as Orca skips it. Outputs rollbackTypes and
 * rollbackContexts by region; context imagesToRestore. */
static void
determine_candidates_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	const char *acct = mz__cloud_account(ctx);
	char *cluster = mz__cloud_cluster_name(ctx);
	if (!cluster && mz_json_str(ctx, "serverGroup"))
		cluster = cluster_of(mz_json_str(ctx, "serverGroup"));
	json_t *regions = stage_regions(ctx);
	if (!cluster || !acct || !json_array_size(regions)) {
		mz_task_result_set(r, "TERMINAL", "rollbackCluster needs cluster (or moniker, or "
		                   "serverGroup), credentials and regions");
		goto out;
	}
	bool only_enabled = mz_json_bool(json_object_get(ctx, "additionalRollbackContext"),
	                                 "onlyEnabledServerGroups", false);
	const char *original = mz_json_str(ctx, "originalServerGroup");
	json_t *types = json_object(), *contexts = json_object(), *images = json_array();
	size_t i;
	json_t *rv;
	json_array_foreach(regions, i, rv) {
		const char *region = json_string_value(rv);
		if (!mz__cloud_location_ok(c, r, acct, region))
			break;
		json_t *groups = NULL;
		if (!mz__cloud_read_cluster(c, r, acct, region, cluster, &groups))
			break;
		json_t *enabled = mz__cloud_select(groups, true);
		size_t j;
		json_t *sg;
		if (json_array_size(groups) < 2 || !json_array_size(enabled)) {
			mz_debug("rollbackCluster: no rollback candidate in cluster %s, region %s "
			         "(%zu server groups, %zu enabled): region skipped", cluster, region,
			         json_array_size(groups), json_array_size(enabled));
			json_decref(enabled);
			json_decref(groups);
			continue;
		}
		json_t *from = json_array_get(enabled, 0);
		const char *from_name = mz_json_str(from, "name");
		json_t *to = NULL;
		json_array_foreach(only_enabled ? enabled : groups, j, sg) {
			const char *n = mz_json_str(sg, "name");
			if (original ? mz_streq(n, original) : !mz_streq(n, from_name)) {
				to = sg;
				break;
			}
		}
		if (!to && original) {
			/* Orca takes originalServerGroup on trust; here it must exist */
			mz_task_result_set(r, "TERMINAL", "originalServerGroup %s is not a server group "
			                   "of cluster %s in %s", original, cluster, region);
		} else if (!to) {
			mz_task_result_set(r, "TERMINAL", "Could not find a server group to roll back "
			                   "to! (serverGroupName: %s)", from_name);
		} else {
			json_object_set_new(types, region, json_string("EXPLICIT"));
			json_object_set_new(contexts, region, json_pack(
				"{s:s, s:s?, s:I}", "rollbackServerGroupName", from_name,
				"restoreServerGroupName", mz_json_str(to, "name"),
				"targetHealthyRollbackPercentage", (json_int_t)healthy_pct(ctx, from)));
			json_t *img = json_object_get(to, "image");
			json_t *bn = json_object_get(json_object_get(to, "buildInfo"), "buildNumber");
			json_t *entry = json_pack("{s:s, s:s?, s:s}", "region", region,
			                          "image", mz_json_str(img, "name") ?
			                          mz_json_str(img, "name") : mz_json_str(img, "imageId"),
			                          "rollbackMethod", "EXPLICIT");
			if (bn)
				json_object_set(entry, "buildNumber", bn);
			json_array_append_new(images, entry);
		}
		json_decref(enabled);
		json_decref(groups);
		if (r->status)
			break;
	}
	if (!r->status) {
		json_object_set(mz_task_result_context(r), "imagesToRestore", images);
		json_object_set(mz_task_result_outputs(r), "rollbackTypes", types);
		json_object_set(mz_task_result_outputs(r), "rollbackContexts", contexts);
		r->status = "SUCCEEDED";
	}
	json_decref(types);
	json_decref(contexts);
	json_decref(images);
out:
	json_decref(regions);
	free(cluster);
}

static mz_code
rollback_cluster_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "determineRollbackCandidates");
	return MZ_OK;
}

/* The stage a rollbackCluster was planned by (a deploy's server group on
 * failure), or NULL. */
static const json_t *
parent_stage(mz_plan *p)
{
	const char *pid = mz_json_str(mz_plan_stage(p), "parentStageId");
	size_t i;
	json_t *st;
	if (!pid)
		return NULL;
	json_array_foreach(json_object_get(mz_plan_execution(p), "stages"), i, st) {
		if (mz_streq(mz_json_str(st, "id"), pid))
			return st;
	}
	return NULL;
}

/* One rollbackServerGroup per region that has a candidate, in the order of
 * regions, with a wait of waitTimeBetweenRegions seconds between two. */
static mz_code
rollback_cluster_after(mz_plan *p, mz_err *err)
{
	json_t *st = mz_plan_stage(p);
	json_t *ctx = mz__cloud_plan_ctx(p);
	json_t *outs = json_object_get(st, "outputs");
	json_t *types = json_object_get(outs, "rollbackTypes");
	json_t *contexts = json_object_get(outs, "rollbackContexts");
	json_t *extra = json_object_get(ctx, "additionalRollbackContext");
	const json_t *parent = parent_stage(p);
	const json_t *pctx = json_object_get(parent, "context");
	json_t *regions = stage_regions(ctx);
	json_t *todo = json_array();
	size_t i;
	json_t *rv;
	(void)err;
	json_array_foreach(regions, i, rv) {
		if (json_object_get(types, json_string_value(rv)))
			json_array_append(todo, rv);
	}
	json_array_foreach(todo, i, rv) {
		const char *region = json_string_value(rv);
		json_t *b = json_object();
		json_object_set(b, "rollbackType", json_object_get(types, region));
		json_t *rc = json_deep_copy(json_object_get(contexts, region));
		if (json_is_object(extra))
			json_object_update(rc, extra);
		json_object_set_new(b, "rollbackContext", rc);
		json_object_set_new(b, "region", json_string(region));
		if (mz__cloud_account(ctx))
			json_object_set_new(b, "credentials", json_string(mz__cloud_account(ctx)));
		json_object_set_new(b, "cloudProvider", json_string("local"));
		json_t *hp = json_object_get(pctx, "interestingHealthProviderNames");
		if (hp)
			json_object_set(b, "interestingHealthProviderNames", hp);
		char name[200];
		snprintf(name, sizeof(name), "Rollback %s", region);
		mz_plan_after(p, "rollbackServerGroup", name, b, true);
		json_t *w = json_object_get(ctx, "waitTimeBetweenRegions");
		if (json_is_number(w) && i + 1 < json_array_size(todo)) {
			snprintf(name, sizeof(name), "Wait after %s", region);
			mz_plan_after(p, "wait", name, json_pack("{s:O}", "waitTime", w), true);
		}
	}
	json_decref(todo);
	json_decref(regions);
	return MZ_OK;
}

/* ---- registration ------------------------------------------------------------- */

static const mz_task_def rollback_tasks[] = {
	{.name = "validateRollbackTargets", .impl_class = ORCA "tasks.servergroup.RollbackServerGroupTask",
	 .execute = validate_rollback_task},
	{.name = "determineRollbackCandidates",
	 .impl_class = ORCA "tasks.cluster.DetermineRollbackCandidatesTask",
	 .execute = determine_candidates_task},
};

static const mz_stage_def rollback_stages[] = {
	{.type = "rollbackServerGroup", .plan = rollback_sg_plan, .after = rollback_sg_after},
	{.type = "rollbackCluster", .plan = rollback_cluster_plan, .after = rollback_cluster_after},
};

void
mz__cloud_register_rollback_stages(void)
{
	for (size_t i = 0; i < sizeof(rollback_tasks) / sizeof(rollback_tasks[0]); i++)
		mz_engine_register_task(&rollback_tasks[i]);
	for (size_t i = 0; i < sizeof(rollback_stages) / sizeof(rollback_stages[0]); i++)
		mz_engine_register_stage(&rollback_stages[i]);
}
