/* cloud_ops.c - the cloud tasks (Orca's clouddriver tasks): submitting
 * operations to the provider (EXTERNAL tasks, the engine's idempotency key
 * as Clouddriver's client request id, so a replay after a crash runs
 * nothing twice), monitoring provider tasks (MonitorKatoTask), resolving
 * targets, and waiting for instances (WaitForUpInstancesTask,
 * WaitForRequiredInstancesDownTask, WaitForCapacityMatchTask) - reference
 * spinnaker-cloud-triggers-ui.md §3. */
#include "cloud/cloud_int.h"
#include "cloud/cloud_ops.h"
#include "engine/engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- context helpers ------------------------------------------------------ */

const char *
mz__cloud_account(const json_t *ctx)
{
	const char *a = mz_json_str(ctx, "credentials");
	if (!a || !*a)
		a = mz_json_str(ctx, "account");
	if (!a || !*a)
		a = mz_json_str(ctx, "accountName");
	return a;
}

const char *
mz__cloud_region(const json_t *ctx)
{
	const char *r = mz_json_str(ctx, "region");
	if (r && *r)
		return r;
	json_t *regs = json_object_get(ctx, "regions");
	if (json_is_array(regs) && json_is_string(json_array_get(regs, 0)))
		return json_string_value(json_array_get(regs, 0));
	json_t *az = json_object_get(ctx, "availabilityZones");
	if (json_is_object(az) && json_object_size(az) > 0) {
		void *it = json_object_iter(az);
		return json_object_iter_key(it);
	}
	json_t *zones = json_object_get(ctx, "zones");
	if (json_is_array(zones) && json_is_string(json_array_get(zones, 0)))
		return json_string_value(json_array_get(zones, 0));
	return NULL;
}

char *
mz__cloud_cluster_name(const json_t *ctx)
{
	const char *c = mz_json_str(ctx, "cluster");
	if (c && *c)
		return mz_strdup(c);
	c = mz_json_str(json_object_get(ctx, "moniker"), "cluster");
	if (c && *c)
		return mz_strdup(c);
	const char *app = mz_json_str(ctx, "application");
	if (!app || !*app)
		return NULL;
	const char *stack = mz_json_str(ctx, "stack");
	const char *detail = mz_json_str(ctx, "freeFormDetails");
	if (!stack)
		stack = "";
	if (detail && *detail)
		return mz_asprintf("%s-%s-%s", app, stack, detail);
	if (*stack)
		return mz_asprintf("%s-%s", app, stack);
	return mz_strdup(app);
}

char *
mz__cloud_app_of(const char *name)
{
	if (!name)
		return mz_strdup("");
	const char *dash = strchr(name, '-');
	return dash ? mz_asprintf("%.*s", (int)(dash - name), name) : mz_strdup(name);
}

static int
cmp_newest(const void *a, const void *b)
{
	int64_t x = mz_json_int(*(json_t *const *)a, "createdTime", 0);
	int64_t y = mz_json_int(*(json_t *const *)b, "createdTime", 0);
	if (x != y)
		return x > y ? -1 : 1;
	/* same instant: the higher sequence is newer */
	const char *nx = mz_json_str(*(json_t *const *)a, "name");
	const char *ny = mz_json_str(*(json_t *const *)b, "name");
	return -strcmp(nx ? nx : "", ny ? ny : "");
}

json_t *
mz__cloud_cluster_groups(mz_store *st, const char *account, const char *region,
                         const char *cluster, mz_err *err)
{
	json_t *out = json_array();
	if (!mz__cloud || !cluster)
		return out;
	char *app = mz__cloud_app_of(cluster);
	json_t *all = mz__cloud_sgs(st, app, err);
	free(app);
	size_t i, n = 0;
	json_t *sg;
	json_t **v = calloc(json_array_size(all) + 1, sizeof(*v));
	json_array_foreach(all, i, sg) {
		const char *c = mz_json_str(sg, "cluster");
		if (!c)
			c = mz_json_str(json_object_get(sg, "moniker"), "cluster");
		if (!mz_streq(c, cluster))
			continue;
		if (account && !mz_streq(mz_json_str(sg, "account"), account))
			continue;
		if (region && !mz_streq(mz_json_str(sg, "region"), region))
			continue;
		if (!json_object_get(sg, "createdTime"))
			continue; /* Clouddriver ignores those in target lookups */
		v[n++] = sg;
	}
	qsort(v, n, sizeof(*v), cmp_newest);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(all);
	return out;
}

json_t *
mz__cloud_select(const json_t *groups, bool only_enabled)
{
	json_t *out = json_array();
	size_t i;
	json_t *sg;
	json_array_foreach(groups, i, sg) {
		if (!only_enabled || !mz_json_bool(sg, "disabled", false))
			json_array_append(out, sg);
	}
	return out;
}

json_t *
mz__cloud_ctx(mz_task_ctx *c)
{
	return json_object_get(c->stage, "context");
}

/* deploy.server.groups {region: [name]} of one server group. */
json_t *
mz__cloud_dsg(const char *region, const char *name)
{
	return json_pack("{s:[s]}", region, name);
}

/* ---- submitting operations ------------------------------------------------ */

/* Submits op; on success puts the task id in out_id and returns true; on
 * failure sets a TERMINAL result with the provider's message. */
bool
mz__cloud_submit(mz_task_ctx *c, mz_task_result *r, const char *op, const json_t *desc,
                 const char *suffix, char out_id[40])
{
	mz_err err = {0};
	if (!mz__cloud) {
		mz_task_result_set(r, "TERMINAL", "no cloud provider is running");
		return false;
	}
	char *key = suffix ? mz_asprintf("%s:%s", c->idempotency_key ? c->idempotency_key : "",
	                                 suffix)
	                   : mz_strdup(c->idempotency_key ? c->idempotency_key : "");
	if (mz__cloud->shared) { /* several nodes: to one hosting the region */
		if (!*key) {
			free(key);
			key = mz_asprintf("%s:%s", mz_json_str(c->task, "id"), op);
		}
		bool ok = mz__cloud_route(c, r, op, desc, key, out_id);
		free(key);
		return ok;
	}
	mz_code rc = mz_local_submit(mz__cloud->local, op, desc, *key ? key : NULL, out_id, &err);
	free(key);
	if (rc) {
		mz_task_result_set(r, "TERMINAL", "%s", err.msg[0] ? err.msg : mz_code_name(rc));
		return false;
	}
	return true;
}

/* Generic single-operation task result: kato.last.task.id and friends. */
void
mz__cloud_submitted(mz_task_result *r, const char *op, const char *id)
{
	json_t *cx = mz_task_result_context(r);
	json_object_set_new(cx, "kato.last.task.id", json_pack("{s:s}", "id", id));
	json_object_set_new(cx, "cloudTaskIds", json_pack("[s]", id));
	char *nt = mz_strdup(op);
	for (char *p = nt; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	json_object_set_new(cx, "notification.type", json_string(nt));
	free(nt);
	r->status = "SUCCEEDED";
}

/* ---- monitoring provider tasks (MonitorKatoTask) ------------------------- */

static const char *
task_failure(const json_t *task)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(task, "resultObjects"), i, o) {
		if (mz_streq(mz_json_str(o, "type"), "EXCEPTION") && mz_json_str(o, "message"))
			return mz_json_str(o, "message");
	}
	json_t *hist = json_object_get(task, "history");
	size_t n = json_array_size(hist);
	if (n > 0 && mz_json_str(json_array_get(hist, n - 1), "status"))
		return mz_json_str(json_array_get(hist, n - 1), "status");
	return "the operation failed";
}

static void
monitor_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = mz__cloud_ctx(c);
	json_t *ids = json_object_get(ctx, "cloudTaskIds");
	json_t *own = NULL;
	if (!json_is_array(ids)) {
		const char *id = mz_json_str(json_object_get(ctx, "kato.last.task.id"), "id");
		own = id ? json_pack("[s]", id) : json_array();
		ids = own;
	}
	json_t *tasks = json_array();
	json_t *dsg = json_object();
	bool running = false;
	char waiting[512] = "";
	size_t i;
	json_t *idv;
	json_array_foreach(ids, i, idv) {
		const char *id = json_string_value(idv);
		json_t *t = NULL;
		if (id && mz__cloud && mz__cloud->shared) {
			/* routed through the store to the node hosting the region */
			mz_err err = {0};
			char why[400];
			t = mz__cloud_routed_task(c->store, id, why, sizeof(why), &err);
			if (err.code) {
				((mz_batch *)c->internal)->err = err;
				r->status = "TERMINAL"; /* never applied: the batch rolls back */
				goto out;
			}
			if (why[0] && !waiting[0])
				snprintf(waiting, sizeof(waiting), "%s", why);
		} else if (id && mz__cloud) {
			t = mz_local_task(mz__cloud->local, id);
		}
		if (!t) {
			mz_task_result_set(r, "TERMINAL", "cloud task %s not found", id ? id : "(none)");
			goto out;
		}
		json_t *st = json_object_get(t, "status");
		if (mz_json_bool(st, "failed", false)) {
			json_array_append(tasks, t);
			json_object_set(mz_task_result_context(r), "kato.tasks", tasks);
			mz_task_result_set(r, "TERMINAL", "%s", task_failure(t));
			json_decref(t);
			goto out;
		}
		if (!mz_json_bool(st, "completed", false) && !mz_json_bool(st, "complete", false))
			running = true;
		size_t j;
		json_t *o;
		json_array_foreach(json_object_get(t, "resultObjects"), j, o) {
			const char *k;
			json_t *v;
			json_object_foreach(json_object_get(o, "serverGroupNameByRegion"), k, v) {
				json_t *list = json_object_get(dsg, k);
				if (!list) {
					list = json_array();
					json_object_set_new(dsg, k, list);
				}
				json_array_append(list, v);
			}
		}
		json_array_append_new(tasks, t);
	}
	json_object_set(mz_task_result_context(r), "kato.tasks", tasks);
	/* why it cannot progress now, for whoever reads the stage or task */
	if (waiting[0])
		json_object_set_new(mz_task_result_context(r), "waitingForHost", json_string(waiting));
	else if (json_is_string(json_object_get(ctx, "waitingForHost")))
		json_object_set_new(mz_task_result_context(r), "waitingForHost", json_null());
	if (running) {
		r->status = "RUNNING";
		if (waiting[0])
			r->backoff_ms = 1000;
		goto out;
	}
	if (json_object_size(dsg) > 0) {
		json_object_set(mz_task_result_context(r), "deploy.server.groups", dsg);
		json_object_set(mz_task_result_outputs(r), "deploy.server.groups", dsg);
	}
	r->status = "SUCCEEDED";
out:
	json_decref(dsg);
	json_decref(tasks);
	json_decref(own);
}

/* ---- health (HealthHelper) ------------------------------------------------- */

static bool
in_filter(const json_t *filter, const char *type)
{
	size_t i;
	json_t *v;
	json_array_foreach(filter, i, v) {
		if (mz_streq(json_string_value(v), type))
			return true;
	}
	return false;
}

static bool
state_in(const char *s, const char *const *set)
{
	for (int i = 0; set[i]; i++)
		if (mz_strcaseeq(s, set[i]))
			return true;
	return false;
}

/* someAreUpAndNoneAreDownOrStarting. filter NULL: every entry. */
bool
mz__cloud_inst_up(const json_t *inst, const json_t *filter)
{
	static const char *const bad[] = {"Down", "OutOfService", "Starting", "Draining", NULL};
	if (filter && json_array_size(filter) == 0)
		return true;
	bool some_up = false, platform_ok = false, any_bad = false;
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(inst, "health"), i, h) {
		const char *type = mz_json_str(h, "type");
		const char *st = mz_json_str(h, "state");
		if (filter && !in_filter(filter, type))
			continue;
		if (mz_strcaseeq(st, "Up"))
			some_up = true;
		if (filter && mz_streq(mz_json_str(h, "healthClass"), "platform") &&
		    !mz_strcaseeq(st, "Down"))
			platform_ok = true;
		if (state_in(st, bad))
			any_bad = true;
	}
	return (some_up || platform_ok) && !any_bad;
}

/* someAreDownAndNoneAreUp. The local provider's platform entry ("Local")
 * is the process's own health check, which stays Up when the group is
 * disabled; what a disable changes is the LoadBalancer entry. Without an
 * explicit filter only the LoadBalancer entries count (an instance in no
 * load balancer gets no traffic: it is down). */
bool
mz__cloud_inst_down(const json_t *inst, const json_t *filter)
{
	static const char *const down[] = {"Down", "OutOfService", "Starting", NULL};
	static const char *const up[] = {"Up", "Draining", NULL};
	if (filter && json_array_size(filter) == 0)
		return true;
	bool any = false, any_down = false, any_up = false;
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(inst, "health"), i, h) {
		const char *type = mz_json_str(h, "type");
		const char *st = mz_json_str(h, "state");
		if (filter ? !in_filter(filter, type) : !mz_streq(type, "LoadBalancer"))
			continue;
		any = true;
		if (state_in(st, down))
			any_down = true;
		if (state_in(st, up))
			any_up = true;
	}
	return (!any || any_down) && !any_up;
}

/* A deploy whose instances all keep crashing fails now, not at its
 * timeout: TERMINAL with the exit status and the last lines of the log. */
static bool
crash_looping(const json_t *sg, const char *account, const char *region, mz_task_result *r)
{
	json_t *insts = json_object_get(sg, "instances");
	json_t *worst = NULL;
	size_t i;
	json_t *in;
	if (json_array_size(insts) == 0)
		return false;
	json_array_foreach(insts, i, in) {
		if (mz_json_int(in, "crashLoop", 0) < MZ_LOCAL_CRASHLOOP_FAIL)
			return false;
		if (!worst)
			worst = in;
	}
	const char *id = mz_json_str(worst, "instanceId");
	json_t *last = json_object_get(worst, "lastExit");
	json_t *code = json_object_get(last, "exitCode");
	char status[64];
	if (json_is_integer(code) && json_integer_value(code) > 128)
		snprintf(status, sizeof(status), "was killed by signal %d (exit status %d)",
		         (int)json_integer_value(code) - 128, (int)json_integer_value(code));
	else if (json_is_integer(code))
		snprintf(status, sizeof(status), "exited with exit status %d",
		         (int)json_integer_value(code));
	else
		snprintf(status, sizeof(status), "exited (status unknown)");
	char *tail = mz__cloud_console(account, region, id, 800);
	mz_task_result_set(r, "TERMINAL",
	                   "Every instance of %s:%s keeps crashing: %s %s after %lld ms, %lld times "
	                   "in a row (restarted %lld times, with a growing delay); last log lines "
	                   "of %s:\n%s",
	                   region, mz_json_str(sg, "name"), id, status,
	                   (long long)mz_json_int(last, "ranMs", 0),
	                   (long long)mz_json_int(worst, "crashLoop", 0),
	                   (long long)mz_json_int(worst, "restartCount", 0), id, tail ? tail : "");
	free(tail);
	return true;
}

static json_t *
health_filter(const json_t *ctx)
{
	json_t *f = json_object_get(ctx, "interestingHealthProviderNames");
	return json_is_array(f) ? f : NULL;
}

/* ---- wait tasks ------------------------------------------------------------ */

enum wait_kind { WAIT_UP, WAIT_DOWN, WAIT_CAPACITY, WAIT_DESTROYED, WAIT_ZERO };

static int64_t
wait_timeout(const json_t *ctx, enum wait_kind k)
{
	const char *key = k == WAIT_UP ? "waitForUpInstancesTimeoutMs" : "waitTimeoutMs";
	int64_t t = mz_json_int(ctx, key, 0);
	if (t <= 0)
		t = mz_json_int(ctx, "waitTimeoutMs", 0);
	return t > 0 ? t : 10LL * 60 * 1000;
}

static void
wait_task(mz_task_ctx *c, mz_task_result *r, enum wait_kind kind)
{
	json_t *ctx = mz__cloud_ctx(c);
	json_t *targets = json_object_get(ctx, "deploy.server.groups");
	const char *account = mz__cloud_account(ctx);
	json_t *filter = health_filter(ctx);
	int64_t start = mz_json_int(c->task, "startTime", c->now);
	int64_t timeout = wait_timeout(ctx, kind);
	bool done = true;
	char why[512] = "";
	json_t *counts = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "up", 0, "down", 0,
	                           "outOfService", 0, "starting", 0, "succeeded", 0, "failed", 0,
	                           "unknown", 0);
	int64_t target_size = -1;
	const char *region;
	json_t *names;
	json_t *on_nodes = json_array(); /* the nodes of what is not there yet */

	if (!mz__cloud) {
		mz_task_result_set(r, "TERMINAL", "no cloud provider is running");
		goto out;
	}
	json_object_foreach(targets, region, names) {
		size_t i;
		json_t *nv;
		json_array_foreach(names, i, nv) {
			const char *name = json_string_value(nv);
			json_t *sg = NULL;
			if (!mz__cloud_read_sg(c, r, account, region, name, &sg))
				goto out;
			if (kind == WAIT_DESTROYED) {
				if (sg) {
					done = false;
					json_array_append_new(on_nodes, json_string(mz_json_str(sg, "node")));
					snprintf(why, sizeof(why), "server group %s:%s still exists", region, name);
				}
				json_decref(sg);
				continue;
			}
			if (!sg) {
				if (kind == WAIT_UP) {
					done = false; /* tolerated: it may show up */
					snprintf(why, sizeof(why), "waiting for server group %s:%s to show up",
					         region, name);
					continue;
				}
				if (kind == WAIT_DOWN || kind == WAIT_ZERO) {
					mz_task_result_set(r, "TERMINAL", "Server group '%s:%s' does not exist",
					                   region, name);
					goto out;
				}
				done = false;
				continue;
			}
			json_t *insts = json_object_get(sg, "instances");
			json_t *cap = json_object_get(sg, "capacity");
			int64_t desired = mz_json_int(cap, "desired", -1);
			json_t *ccap = json_object_get(ctx, "capacity");
			if (kind == WAIT_CAPACITY && json_is_object(ccap) &&
			    mz_json_int(ccap, "desired", -1) >= 0)
				desired = mz_json_int(ccap, "desired", desired);
			if (kind == WAIT_ZERO)
				desired = 0;
			int64_t tgt = desired;
			json_t *pct = json_object_get(ctx, "targetHealthyDeployPercentage");
			if (kind == WAIT_UP && pct && !json_is_null(pct)) {
				double p = mz_json_num(ctx, "targetHealthyDeployPercentage", 100);
				if (p < 0 || p > 100) {
					mz_task_result_set(r, "TERMINAL", "targetHealthyDeployPercentage must be "
					                   "between 0 and 100");
					goto out;
				}
				tgt = (int64_t)llround(p * (double)desired / 100.0);
				if (tgt == 0 && p > 0 && desired > 0)
					tgt = 1;
			}
			target_size = tgt;
			int64_t n = (int64_t)json_array_size(insts), up = 0, down = 0;
			size_t j;
			json_t *in;
			json_array_foreach(insts, j, in) {
				const char *hs = mz_json_str(in, "healthState");
				const char *key = mz_strcaseeq(hs, "Up") ? "up" :
				                  mz_strcaseeq(hs, "Down") ? "down" :
				                  mz_strcaseeq(hs, "OutOfService") ? "outOfService" :
				                  mz_strcaseeq(hs, "Starting") ? "starting" :
				                  mz_strcaseeq(hs, "Succeeded") ? "succeeded" :
				                  mz_strcaseeq(hs, "Failed") ? "failed" : "unknown";
				json_object_set_new(counts, key,
				                    json_integer(mz_json_int(counts, key, 0) + 1));
				if (mz__cloud_inst_up(in, filter))
					up++;
				if (mz__cloud_inst_down(in, filter))
					down++;
			}
			bool ok = true;
			if (kind == WAIT_UP && up < tgt && crash_looping(sg, account, region, r))
				goto out_sg;
			switch (kind) {
			case WAIT_UP:
				ok = desired >= 0 && n >= tgt && up >= tgt;
				if (!ok)
					snprintf(why, sizeof(why), "%lld of %lld instances Up in %s:%s",
					         (long long)up, (long long)tgt, region, name);
				break;
			case WAIT_DOWN: {
				double p = mz_json_num(ctx, "desiredPercentage", 100);
				if (p < 100) {
					ok = true; /* partial disable: see disable_task */
					break;
				}
				ok = down >= n && mz_json_bool(sg, "disabled", false);
				if (!ok)
					snprintf(why, sizeof(why), "%lld of %lld instances down in %s:%s",
					         (long long)down, (long long)n, region, name);
				break;
			}
			case WAIT_ZERO:
			case WAIT_CAPACITY:
				ok = n == desired &&
				     (kind == WAIT_ZERO || mz_json_bool(sg, "disabled", false) || up >= desired);
				if (!ok)
					snprintf(why, sizeof(why), "%s:%s has %lld instances (%lld Up), "
					         "waiting for %lld", region, name, (long long)n, (long long)up,
					         (long long)desired);
				break;
			default:
				break;
			}
			if (!ok) {
				done = false;
				json_array_append_new(on_nodes, json_string(mz_json_str(sg, "node")));
			}
			json_decref(sg);
			continue;
		out_sg:
			json_decref(sg);
			goto out;
		}
	}
	json_object_set(mz_task_result_context(r), "lastCapacityCheck", counts);
	if (target_size >= 0)
		json_object_set_new(mz_task_result_context(r), "targetDesiredSize",
		                    json_integer(target_size));
	if (done) {
		if (json_is_string(json_object_get(ctx, "waitingForHost")))
			json_object_set_new(mz_task_result_context(r), "waitingForHost", json_null());
		r->status = "SUCCEEDED";
		goto out;
	}
	if (c->now - start > timeout) {
		if (kind == WAIT_UP)
			mz_task_result_set(r, "TERMINAL", "Instances did not become healthy within %lld s "
			                   "(%s)", (long long)(timeout / 1000), why);
		else
			mz_task_result_set(r, "TERMINAL", "Timed out after %lld s: %s",
			                   (long long)(timeout / 1000), why);
		goto out;
	}
	json_object_set_new(mz_task_result_context(r), "waitingFor", json_string(why));
	r->status = "RUNNING";
	r->backoff_ms = MZ_CLOUD_POLL_MS;
	if (mz__cloud->shared) {
		/* several nodes: what it waits for may be on a node that is down */
		char host[400] = "";
		mz_err err = {0};
		if (!mz__cloud_nodes_down(c->store, on_nodes, host, sizeof(host), &err)) {
			((mz_batch *)c->internal)->err = err;
			r->status = "TERMINAL"; /* never applied: the batch rolls back */
			goto out;
		}
		if (host[0]) {
			json_object_set_new(mz_task_result_context(r), "waitingForHost", json_string(host));
			r->backoff_ms = 1000;
		} else if (json_is_string(json_object_get(ctx, "waitingForHost"))) {
			json_object_set_new(mz_task_result_context(r), "waitingForHost", json_null());
		}
	}
out:
	json_decref(on_nodes);
	json_decref(counts);
}

static void wait_up(mz_task_ctx *c, mz_task_result *r) { wait_task(c, r, WAIT_UP); }
static void wait_down(mz_task_ctx *c, mz_task_result *r) { wait_task(c, r, WAIT_DOWN); }
static void wait_capacity(mz_task_ctx *c, mz_task_result *r) { wait_task(c, r, WAIT_CAPACITY); }
static void wait_destroyed(mz_task_ctx *c, mz_task_result *r) { wait_task(c, r, WAIT_DESTROYED); }
static void wait_zero(mz_task_ctx *c, mz_task_result *r) { wait_task(c, r, WAIT_ZERO); }

#define WAIT_DEF(nm, cls, fn)                                                              \
	{ .name = nm, .impl_class = "com.netflix.spinnaker.orca.clouddriver.tasks." cls,      \
	  .execute = fn, .backoff_ms = MZ_CLOUD_POLL_MS, .timeout_ms = 2LL * 3600 * 1000,      \
	  .flags = MZ_TASK_RETRYABLE }

static const mz_task_def wait_defs[] = {
	WAIT_DEF("waitForUpInstances", "instance.WaitForUpInstancesTask", wait_up),
	WAIT_DEF("waitForDownInstances", "instance.WaitForRequiredInstancesDownTask", wait_down),
	WAIT_DEF("waitForCapacityMatch", "servergroup.WaitForCapacityMatchTask", wait_capacity),
	WAIT_DEF("waitForDestroyedServerGroup", "servergroup.WaitForDestroyedServerGroupTask",
	         wait_destroyed),
	WAIT_DEF("waitForClusterDisable", "cluster.WaitForClusterDisableTask", wait_down),
	WAIT_DEF("waitForScaleDownCluster", "cluster.WaitForScaleDownClusterTask", wait_zero),
	WAIT_DEF("waitForClusterShrink", "cluster.WaitForClusterShrinkTask", wait_destroyed),
};

#define MON_DEF(nm, cls)                                                                   \
	{ .name = nm, .impl_class = "com.netflix.spinnaker.orca.clouddriver.tasks." cls,      \
	  .execute = monitor_task, .backoff_ms = MZ_CLOUD_POLL_MS,                           \
	  .timeout_ms = 2LL * 3600 * 1000,                                                  \
	  .flags = MZ_TASK_RETRYABLE }

static const mz_task_def monitor_defs[] = {
	MON_DEF("monitorDeploy", "MonitorKatoTask"),
	MON_DEF("monitorServerGroup", "MonitorKatoTask"),
	MON_DEF("monitorUpsert", "MonitorKatoTask"),
	MON_DEF("monitorDelete", "MonitorKatoTask"),
	MON_DEF("monitorDisableCluster", "cluster.MonitorClusterTask"),
	MON_DEF("monitorScaleDownCluster", "cluster.MonitorClusterTask"),
	MON_DEF("monitorShrinkCluster", "cluster.MonitorClusterTask"),
	MON_DEF("monitorTerminateInstances", "MonitorKatoTask"),
};

void
mz__cloud_register_common_tasks(void)
{
	for (size_t i = 0; i < sizeof(wait_defs) / sizeof(wait_defs[0]); i++)
		mz_engine_register_task(&wait_defs[i]);
	for (size_t i = 0; i < sizeof(monitor_defs) / sizeof(monitor_defs[0]); i++)
		mz_engine_register_task(&monitor_defs[i]);
}
