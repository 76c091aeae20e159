/* cloud.c - the cloud component's lifecycle and Clouddriver's read views
 * (reference: spinnaker-cloud-triggers-ui.md §2): the local provider's full
 * server groups mapped into ServerGroupViewModel, clusters, load balancers,
 * instances, consoles and credentials. Every read is live. */
#include "cloud/cloud_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

mz_cloud *mz__cloud;

mz_code
mz_cloud_start(const mz_cloud_config *cfg, mz_cloud **out, mz_err *err)
{
	mz_cloud *c = calloc(1, sizeof(*c));
	if (!c)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	mz_local_config lc = {.data_dir = cfg->data_dir, .accounts = cfg->accounts,
	                      .health_interval_ms = 0, .image_roots = cfg->image_roots};
	mz_code rc = mz_local_start(&lc, &c->local, err);
	if (rc) {
		free(c);
		return rc;
	}
	c->accounts = json_is_array(cfg->accounts) ? json_deep_copy(cfg->accounts) : json_array();
	c->node_id = mz_strdup(cfg->node_id ? cfg->node_id : "local");
	c->host_regions = json_array();
	if (cfg->host_regions) {
		json_array_extend(c->host_regions, (json_t *)cfg->host_regions);
	} else { /* every configured region */
		json_t *accts = mz_local_accounts(c->local);
		size_t i, j;
		json_t *a, *reg;
		json_array_foreach(accts, i, a) {
			json_array_foreach(json_object_get(a, "regions"), j, reg)
				json_array_append(c->host_regions, json_object_get(reg, "name"));
		}
		json_decref(accts);
	}
	mz__cloud = c;
	rc = mz__cloud_nodes_start(c, cfg->db_url, err);
	if (rc) {
		mz_cloud_stop(c);
		return rc;
	}
	*out = c;
	return MZ_OK;
}

void
mz_cloud_stop(mz_cloud *cloud)
{
	if (!cloud)
		return;
	mz__cloud_nodes_stop(cloud);
	mz_local_stop(cloud->local);
	if (mz__cloud == cloud)
		mz__cloud = NULL;
	json_decref(cloud->accounts);
	json_decref(cloud->host_regions);
	free(cloud->node_id);
	free(cloud);
}

/* Retention of the local provider's operation tasks: a completed task is
 * of no use once the execution that submitted it is gone (its client
 * request id is the engine's idempotency key, "<executionId>-<stage>-...",
 * and only a live execution can replay it). A task whose request id does
 * not start with an execution id (a ULID) goes at maxAgeDays. */
static const char *
exec_id_end(const char *req)
{
	const char *dash = req ? strchr(req, '-') : NULL;
	return dash && dash - req == 26 ? dash : NULL;
}

static void
prune_tasks(const mz_prune_ctx *pc, void *udata)
{
	mz_cloud *cloud = udata;
	json_t *done = mz_local_finished_tasks(cloud->local);
	json_t *execs = json_array(), *drop = json_array(), *present = NULL;
	size_t i;
	json_t *t;
	json_array_foreach(done, i, t) {
		const char *req = mz_json_str(t, "requestId"), *dash = exec_id_end(req);
		if (dash)
			json_array_append_new(execs, json_stringn(req, (size_t)(dash - req)));
	}
	mz_err err = {0};
	if (json_array_size(execs) &&
	    mz_retention_exec_statuses(pc->st, execs, &present, &err) != MZ_OK) {
		mz_warn("retention: cloud tasks: %s", err.msg);
		goto out;
	}
	json_array_foreach(done, i, t) {
		const char *req = mz_json_str(t, "requestId"), *dash = exec_id_end(req);
		bool gone;
		if (dash) {
			char *exec = strndup(req, (size_t)(dash - req));
			gone = !json_object_get(present, exec);
			free(exec);
		} else {
			gone = mz_json_int(t, "endTimeMs", 0) < pc->before_ms;
		}
		if (gone)
			json_array_append_new(drop, json_string(mz_json_str(t, "id")));
	}
	int n = json_array_size(drop) ? mz_local_forget_tasks(cloud->local, drop) : 0;
	if (n)
		mz_info("retention: removed %d finished cloud tasks", n);
out:
	json_decref(done);
	json_decref(execs);
	json_decref(drop);
	json_decref(present);
}

void
mz_cloud_register_stages(mz_cloud *cloud)
{
	mz__cloud_register_stages();
	mz__cloud_register_preconditions();
	mz__cloud_register_lb_stages();
	mz_engine_register_pruner("cloud tasks", prune_tasks, cloud);
	mz__cloud_register_rollback_stages();
}

/* ---- credentials -------------------------------------------------------- */

json_t *
mz_cloud_credentials(mz_cloud *cloud, bool expand)
{
	json_t *accts = mz_local_accounts(cloud->local);
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(accts, i, a) {
		json_t *v = json_deep_copy(a);
		const char *name = mz_json_str(a, "name");
		if (!json_object_get(v, "type"))
			json_object_set_new(v, "type", json_string("local"));
		if (!json_object_get(v, "cloudProvider"))
			json_object_set_new(v, "cloudProvider", json_string("local"));
		if (!json_object_get(v, "accountType"))
			json_object_set_new(v, "accountType", json_string(name ? name : "local"));
		if (!json_object_get(v, "environment"))
			json_object_set_new(v, "environment", json_string(name ? name : "local"));
		if (!json_object_get(v, "requiredGroupMembership"))
			json_object_set_new(v, "requiredGroupMembership", json_array());
		if (!json_object_get(v, "permissions"))
			json_object_set_new(v, "permissions", json_object());
		if (!json_object_get(v, "challengeDestructiveActions"))
			json_object_set_new(v, "challengeDestructiveActions", json_false());
		if (!json_object_get(v, "primaryAccount"))
			json_object_set_new(v, "primaryAccount", json_false());
		if (!json_object_get(v, "authorized"))
			json_object_set_new(v, "authorized", json_true());
		if (!json_object_get(v, "accountId"))
			json_object_set_new(v, "accountId", json_null());
		(void)expand; /* Deck reads regions from the unexpanded list too */
		json_array_append_new(out, v);
	}
	json_decref(accts);
	return out;
}

/* ---- the whole cloud --------------------------------------------------------- */

/* The API shows what it can: this node's cloud when the others' cannot be
 * read (the store is down), and says so in the log. */
static void
read_failed(const mz_err *err)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static mz_log_limit lim;
	long held = 0;
	pthread_mutex_lock(&mu);
	bool say = mz_log_allow(&lim, 30000, &held);
	pthread_mutex_unlock(&mu);
	if (say)
		mz_warn("cloud: the other nodes' cloud cannot be read: %s", err->msg);
}

static json_t *
all_sgs(const char *app)
{
	mz_err err = {0};
	json_t *all = mz__cloud_sgs(NULL, app, &err);
	if (err.code)
		read_failed(&err);
	return all;
}

static json_t *
all_lbs(const char *app)
{
	mz_err err = {0};
	json_t *all = mz__cloud_lbs(NULL, app, &err);
	if (err.code)
		read_failed(&err);
	return all;
}

/* ---- server groups --------------------------------------------------------- */

static json_t *
instance_view(const json_t *in)
{
	const char *id = mz_json_str(in, "id");
	const char *name = mz_json_str(in, "name");
	json_t *health = json_object_get(in, "health");
	return json_pack("{s:s?, s:s?, s:o, s:s, s:O, s:s, s:s?}",
	                 "id", id ? id : name, "name", name ? name : id,
	                 "health", health ? json_incref(health) : json_array(),
	                 "healthState", mz_json_str(in, "healthState") ?
	                                mz_json_str(in, "healthState") : "Unknown",
	                 "launchTime", json_object_get(in, "launchTime") ?
	                               json_object_get(in, "launchTime") : json_null(),
	                 "availabilityZone", mz_json_str(in, "zone") ? mz_json_str(in, "zone") :
	                                     mz_json_str(in, "availabilityZone") ?
	                                     mz_json_str(in, "availabilityZone") : "local",
	                 "node", mz_json_str(in, "node"));
}

static json_t *
get_or(const json_t *o, const char *k, json_t *dflt)
{
	json_t *v = json_object_get(o, k);
	if (v) {
		json_decref(dflt);
		return json_incref(v);
	}
	return dflt;
}

/* ServerGroupViewModel (ServerGroupController) of a full server group. */
static json_t *
server_group_view(const json_t *sg)
{
	const char *name = mz_json_str(sg, "name");
	char *app = mz__cloud_app_of(name);
	json_t *v = json_object();
	json_object_set_new(v, "name", json_string(name ? name : ""));
	json_object_set_new(v, "account", get_or(sg, "account", json_string("local")));
	json_object_set_new(v, "region", get_or(sg, "region", json_string("local")));
	json_object_set_new(v, "cluster", get_or(sg, "cluster", json_null()));
	json_object_set_new(v, "vpcId", json_null());
	json_object_set_new(v, "type", get_or(sg, "type", json_string("local")));
	json_object_set_new(v, "cloudProvider", get_or(sg, "cloudProvider", json_string("local")));
	json_object_set_new(v, "instanceType", get_or(sg, "instanceType", json_null()));
	json_object_set_new(v, "application", get_or(sg, "application", json_string(app)));
	json_object_set_new(v, "isDisabled", json_boolean(mz_json_bool(sg, "disabled", false)));
	json_object_set_new(v, "moniker", get_or(sg, "moniker", json_object()));
	json_object_set_new(v, "buildInfo", get_or(sg, "buildInfo", json_object()));
	json_object_set_new(v, "createdTime", get_or(sg, "createdTime", json_null()));
	json_object_set_new(v, "capacity", get_or(sg, "capacity", json_object()));
	json_t *insts = json_array();
	size_t i;
	json_t *in;
	json_array_foreach(json_object_get(sg, "instances"), i, in) {
		json_array_append_new(insts, instance_view(in));
	}
	json_object_set_new(v, "instances", insts);
	json_object_set_new(v, "loadBalancers", get_or(sg, "loadBalancers", json_array()));
	json_object_set_new(v, "targetGroups", json_array());
	json_object_set_new(v, "securityGroups", get_or(sg, "securityGroups", json_array()));
	json_object_set_new(v, "instanceCounts", get_or(sg, "instanceCounts", json_object()));
	json_t *tags = json_object_get(sg, "tags");
	if (json_object_size(tags) > 0)
		json_object_set(v, "tags", tags);
	json_object_set_new(v, "providerMetadata", json_null());
	json_object_set_new(v, "node", get_or(sg, "node", json_null()));
	json_object_set_new(v, "serverGroupManagers", json_array());
	free(app);
	return v;
}

/* expand=true: the full server group plus the fields Clouddriver adds. */
static json_t *
server_group_expanded(const json_t *sg)
{
	json_t *v = json_deep_copy(sg);
	const json_t *mon = json_object_get(sg, "moniker");
	char *app = mz__cloud_app_of(mz_json_str(sg, "name"));
	json_object_set(v, "accountName", json_object_get(sg, "account"));
	if (!json_object_get(v, "application"))
		json_object_set_new(v, "application", json_string(app));
	json_object_set_new(v, "stack", mz_json_str(mon, "stack") ?
	                    json_string(mz_json_str(mon, "stack")) : json_null());
	json_object_set_new(v, "freeFormDetail", mz_json_str(mon, "detail") ?
	                    json_string(mz_json_str(mon, "detail")) : json_null());
	json_object_set_new(v, "isDisabled", json_boolean(mz_json_bool(sg, "disabled", false)));
	free(app);
	return v;
}

json_t *
mz_cloud_server_groups(mz_cloud *cloud, const char *app, bool expand)
{
	(void)cloud;
	json_t *all = all_sgs(app);
	json_t *out = json_array();
	size_t i;
	json_t *sg;
	json_array_foreach(all, i, sg) {
		json_array_append_new(out, expand ? server_group_expanded(sg) : server_group_view(sg));
	}
	json_decref(all);
	return out;
}

json_t *
mz_cloud_server_group(mz_cloud *cloud, const char *account, const char *region,
                      const char *name)
{
	(void)cloud;
	mz_err err = {0};
	json_t *sg = mz__cloud_sg(NULL, account, region, name, &err);
	if (err.code)
		read_failed(&err);
	return sg;
}

/* ---- clusters ---------------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sort_string_array(json_t *arr)
{
	size_t n = json_array_size(arr);
	if (n < 2)
		return;
	const char **v = calloc(n, sizeof(*v));
	json_t *copy = json_copy(arr);
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(copy, i));
	qsort(v, n, sizeof(*v), cmp_str);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	json_decref(copy);
	free(v);
}

static const char *
cluster_of(const json_t *sg)
{
	const char *c = mz_json_str(sg, "cluster");
	if (!c)
		c = mz_json_str(json_object_get(sg, "moniker"), "cluster");
	return c;
}

json_t *
mz_cloud_clusters(mz_cloud *cloud, const char *app)
{
	(void)cloud;
	json_t *all = all_sgs(app);
	json_t *out = json_object();
	size_t i, j;
	json_t *sg, *e;
	json_array_foreach(all, i, sg) {
		const char *acct = mz_json_str(sg, "account");
		const char *c = cluster_of(sg);
		if (!acct || !c)
			continue;
		json_t *list = json_object_get(out, acct);
		if (!list) {
			list = json_array();
			json_object_set_new(out, acct, list);
		}
		bool seen = false;
		json_array_foreach(list, j, e) {
			if (mz_streq(json_string_value(e), c))
				seen = true;
		}
		if (!seen)
			json_array_append_new(list, json_string(c));
	}
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v) {
		sort_string_array(v);
	}
	json_decref(all);
	return out;
}

json_t *
mz_cloud_cluster(mz_cloud *cloud, const char *app, const char *account, const char *cluster)
{
	(void)cloud;
	json_t *all = all_sgs(app);
	json_t *groups = json_array();
	json_t *lbnames = json_array();
	size_t i, j, k;
	json_t *sg, *n, *e;
	json_array_foreach(all, i, sg) {
		if (!mz_streq(mz_json_str(sg, "account"), account) || !mz_streq(cluster_of(sg), cluster))
			continue;
		json_array_append(groups, sg);
		json_array_foreach(json_object_get(sg, "loadBalancers"), j, n) {
			bool seen = false;
			json_array_foreach(lbnames, k, e) {
				if (json_equal(e, n))
					seen = true;
			}
			if (!seen)
				json_array_append(lbnames, n);
		}
	}
	json_decref(all);
	if (json_array_size(groups) == 0) {
		json_decref(groups);
		json_decref(lbnames);
		return NULL;
	}
	json_t *lbs = json_array();
	json_t *alllb = all_lbs(NULL);
	json_array_foreach(alllb, i, e) {
		json_array_foreach(lbnames, j, n) {
			if (mz_streq(mz_json_str(e, "name"), json_string_value(n)) &&
			    mz_streq(mz_json_str(e, "account"), account))
				json_array_append(lbs, e);
		}
	}
	json_decref(alllb);
	json_decref(lbnames);
	json_t *mon = json_object_get(json_array_get(groups, 0), "moniker");
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:o}", "name", cluster,
	                      "type", "local", "cloudProvider", "local", "accountName", account,
	                      "moniker", mon ? mon : json_null(), "serverGroups", groups,
	                      "loadBalancers", lbs);
	json_t *out = json_array();
	json_array_append_new(out, c);
	return out;
}

/* ---- load balancers, instances ------------------------------------------- */

static int
cmp_lb(const void *a, const void *b)
{
	const char *x = mz_json_str(*(json_t *const *)a, "name");
	const char *y = mz_json_str(*(json_t *const *)b, "name");
	return strcasecmp(x ? x : "", y ? y : "");
}

json_t *
mz_cloud_load_balancers(mz_cloud *cloud, const char *app)
{
	(void)cloud;
	json_t *all = all_lbs(app);
	size_t n = json_array_size(all);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(*v), cmp_lb);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(all);
	return out;
}

json_t *
mz_cloud_instance(mz_cloud *cloud, const char *account, const char *region, const char *id)
{
	(void)cloud;
	mz_err err = {0};
	json_t *in = mz__cloud_instance(NULL, account, region, id, &err);
	if (err.code)
		read_failed(&err);
	return in;
}

json_t *
mz_cloud_console(mz_cloud *cloud, const char *account, const char *region, const char *id)
{
	(void)cloud;
	char *text = mz__cloud_console(account, region, id, 64 * 1024);
	if (!text)
		return NULL;
	json_t *out = json_pack("{s:s%}", "output", text, strlen(text));
	if (!out) /* not UTF-8: keep what can be shown */
		out = json_pack("{s:s}", "output", "(the log is not valid UTF-8)");
	free(text);
	return out;
}
