/* cloud_preconditions.c - the preconditions of a checkPreconditions stage
 * that read the cloud (the engine runs a precondition of type T through
 * the task "precondition.T"; it knows no provider).
 *
 * clusterSize (Orca's ClusterSizePreconditionTask): in each of `regions`,
 * the number of server groups of `cluster` in account `credentials`
 * (only enabled ones with `onlyEnabledServerGroups`) compared with
 * `expected` (default 1) by `comparison` (==, !=, <, <=, >, >=; default
 * ==). Any region that fails the comparison fails the precondition. */
#include "cloud/cloud_int.h"

#include <stdlib.h>
#include <string.h>

static bool
compare(const char *op, long actual, long expected, bool *ok)
{
	if (!op || !strcmp(op, "==") || !strcmp(op, "="))
		*ok = actual == expected;
	else if (!strcmp(op, "!="))
		*ok = actual != expected;
	else if (!strcmp(op, "<"))
		*ok = actual < expected;
	else if (!strcmp(op, "<="))
		*ok = actual <= expected;
	else if (!strcmp(op, ">"))
		*ok = actual > expected;
	else if (!strcmp(op, ">="))
		*ok = actual >= expected;
	else
		return false;
	return true;
}

static void
cluster_size_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *pctx = json_object_get(json_object_get(c->stage, "context"), "context");
	const char *cluster = mz_json_str(pctx, "cluster");
	if (!cluster)
		cluster = mz_json_str(json_object_get(pctx, "moniker"), "cluster");
	const char *account = mz_json_str(pctx, "credentials");
	if (!account)
		account = mz_json_str(pctx, "account");
	json_t *regions = json_object_get(pctx, "regions");
	const char *op = mz_json_str(pctx, "comparison");
	json_t *exp = json_object_get(pctx, "expected");
	long expected = json_is_integer(exp) ? (long)json_integer_value(exp) : 1;
	bool ok;
	if (!cluster || !account || !json_array_size(regions)) {
		mz_task_result_set(r, "TERMINAL", "clusterSize precondition needs 'cluster', "
		                   "'credentials' and 'regions'");
		return;
	}
	if (exp && !json_is_integer(exp)) {
		mz_task_result_set(r, "TERMINAL", "clusterSize precondition: 'expected' must be an "
		                   "integer");
		return;
	}
	if (!compare(op, 0, 0, &ok)) {
		mz_task_result_set(r, "TERMINAL", "clusterSize precondition: unknown comparison '%s' "
		                   "(==, !=, <, <=, >, >=)", op);
		return;
	}
	if (!mz__cloud) {
		mz_task_result_set(r, "TERMINAL", "clusterSize precondition: no cloud");
		return;
	}
	bool enabled_only = mz_json_bool(pctx, "onlyEnabledServerGroups", false);
	char *app = mz__cloud_app_of(cluster);
	json_t *groups = mz_cloud_server_groups(mz__cloud, app, false);
	free(app);
	mz_buf why;
	mz_buf_init(&why, 4096);
	json_t *counts = json_object();
	size_t i, j;
	json_t *region, *sg;
	json_array_foreach(regions, i, region) {
		const char *rn = json_string_value(region);
		long n = 0;
		json_array_foreach(groups, j, sg) {
			if (mz_streq(mz_json_str(sg, "account"), account) &&
			    mz_streq(mz_json_str(sg, "region"), rn) &&
			    mz_streq(mz_json_str(sg, "cluster"), cluster) &&
			    !(enabled_only && mz_json_bool(sg, "isDisabled", false)))
				n++;
		}
		json_object_set_new(counts, rn ? rn : "", json_integer(n));
		compare(op, n, expected, &ok);
		if (!ok)
			mz_buf_printf(&why, "%sexpected %s %ld server groups in %s but found %ld",
			              why.len ? "; " : "", op ? op : "==", expected, rn ? rn : "?", n);
	}
	json_decref(groups);
	json_t *out = mz_task_result_context(r);
	json_object_set_new(out, "serverGroupCounts", counts);
	if (why.len)
		mz_task_result_set(r, "TERMINAL", "clusterSize precondition failed for cluster %s: %s",
		                   cluster, why.data);
	else
		r->status = "SUCCEEDED";
	mz_buf_release(&why);
}

static const mz_task_def cluster_size_def = {
	.name = "precondition.clusterSize",
	.impl_class = "com.netflix.spinnaker.orca.clouddriver.tasks.cluster.ClusterSizePreconditionTask",
	.execute = cluster_size_task,
};

void
mz__cloud_register_preconditions(void)
{
	mz_engine_register_task(&cluster_size_def);
}
