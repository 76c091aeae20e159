/*
 * local_ops.c - Clouddriver's atomic operations for the local provider:
 * synchronous validation in mz_local_submit, tasks recorded under
 * <root>/tasks/<id>.json (with the client request id inside, indexed in
 * memory at start), and a worker thread that runs one operation at a time.
 *
 * A task that was still running when mizzen stopped is run again at the
 * next start; createServerGroup remembers the name it chose in the task, so
 * a re-run finds its server group instead of creating a second one.
 */
#include "cloud/local/local_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRAIN_TIMEOUT_MS 30000

/* ---- tasks (lp->mu held) ------------------------------------------------ */

static void
task_save(mz_local *lp, json_t *task)
{
	char *path = mz_asprintf("%s/tasks/%s.json", lp->root, mz_json_str(task, "id"));
	lp_write_json(path, task);
	free(path);
}

static void
task_status(mz_local *lp, const char *id, const char *phase, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
task_status(mz_local *lp, const char *id, const char *phase, const char *fmt, ...)
{
	json_t *task = json_object_get(lp->tasks, id);
	json_t *st;
	char msg[1024];
	va_list ap;
	if (!task)
		return;
	st = json_object_get(task, "status");
	if (json_is_true(json_object_get(st, "completed")))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_set_new(st, "phase", json_string(phase));
	json_object_set_new(st, "status", json_string(msg));
	json_array_append_new(json_object_get(task, "history"),
	                      json_pack("{s:s, s:s}", "phase", phase, "status", msg));
	task_save(lp, task);
}

static void
task_finish(mz_local *lp, const char *id, bool failed)
{
	json_t *task = json_object_get(lp->tasks, id);
	json_t *st = json_object_get(task, "status");
	if (!task)
		return;
	json_object_set_new(st, "complete", json_true());
	json_object_set_new(st, "completed", json_true());
	json_object_set_new(st, "failed", json_boolean(failed));
	json_object_set_new(st, "retryable", json_false());
	json_object_set_new(task, "endTimeMs", json_integer(mz_now_ms()));
	task_save(lp, task);
}

static void
task_result(mz_local *lp, const char *id, json_t *result /* stolen */)
{
	json_t *task = json_object_get(lp->tasks, id);
	if (task)
		json_array_append_new(json_object_get(task, "resultObjects"), result);
	else
		json_decref(result);
}

void
lp_tasks_load(mz_local *lp)
{
	char *dir = mz_asprintf("%s/tasks", lp->root);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char *p = mz_asprintf("%s/%s", dir, e->d_name);
		json_t *t = lp_read_json(p);
		free(p);
		const char *id = mz_json_str(t, "id");
		if (!id) {
			json_decref(t);
			continue;
		}
		json_object_set(lp->tasks, id, t);
		if (mz_json_str(t, "requestId"))
			json_object_set_new(lp->requests, mz_json_str(t, "requestId"), json_string(id));
		if (!json_is_true(json_object_get(json_object_get(t, "status"), "completed"))) {
			/* interrupted by a stop: run it again */
			json_array_append_new(json_object_get(t, "history"),
			                      json_pack("{s:s, s:s}", "phase", "ORCHESTRATION", "status",
			                                "Resuming Orchestration Task after a restart"));
			json_array_append_new(lp->queue,
			                      json_pack("{s:s, s:O, s:O}", "id", id, "op",
			                                json_object_get(t, "_op"), "description",
			                                json_object_get(t, "_description")));
		}
		json_decref(t);
	}
	if (d)
		closedir(d);
	free(dir);
}

json_t *
mz_local_finished_tasks(mz_local *lp)
{
	json_t *out = json_array();
	const char *id;
	json_t *t;
	pthread_mutex_lock(&lp->mu);
	json_object_foreach(lp->tasks, id, t) {
		if (!json_is_true(json_object_get(json_object_get(t, "status"), "completed")))
			continue;
		json_array_append_new(out, json_pack("{s:s, s:s?, s:I}", "id", id, "requestId",
		                                     mz_json_str(t, "requestId"), "endTimeMs",
		                                     (json_int_t)mz_json_int(t, "endTimeMs", 0)));
	}
	pthread_mutex_unlock(&lp->mu);
	return out;
}

int
mz_local_forget_tasks(mz_local *lp, const json_t *ids)
{
	int n = 0;
	size_t i;
	json_t *v;
	pthread_mutex_lock(&lp->mu);
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		json_t *t = id ? json_object_get(lp->tasks, id) : NULL;
		if (!t || !json_is_true(json_object_get(json_object_get(t, "status"), "completed")))
			continue;
		const char *req = mz_json_str(t, "requestId");
		if (req && mz_streq(mz_json_str(lp->requests, req), id))
			json_object_del(lp->requests, req);
		char *path = mz_asprintf("%s/tasks/%s.json", lp->root, id);
		if (unlink(path) == 0 || errno == ENOENT)
			n++;
		free(path);
		json_object_del(lp->tasks, id);
	}
	pthread_mutex_unlock(&lp->mu);
	return n;
}

json_t *
mz_local_task(mz_local *lp, const char *task_id)
{
	json_t *t, *v = NULL;
	pthread_mutex_lock(&lp->mu);
	t = task_id ? json_object_get(lp->tasks, task_id) : NULL;
	if (t) {
		const char *k;
		json_t *x;
		void *tmp;
		v = json_deep_copy(t);
		json_object_foreach_safe(v, tmp, k, x)
			if (k[0] == '_')
				json_object_del(v, k);
	}
	pthread_mutex_unlock(&lp->mu);
	return v;
}

/* ---- descriptions --------------------------------------------------------- */

static const char *
d_account(const json_t *d)
{
	const char *a = mz_json_str(d, "credentials");
	return a ? a : mz_json_str(d, "account");
}

static const char *
d_region(const json_t *d)
{
	const char *r = mz_json_str(d, "region");
	json_t *regions = mz_json_arr(d, "regions");
	json_t *asgs = mz_json_arr(d, "asgs");
	if (r)
		return r;
	if (json_array_size(regions) > 0 && json_is_string(json_array_get(regions, 0)))
		return json_string_value(json_array_get(regions, 0));
	if (json_array_size(asgs) > 0)
		return mz_json_str(json_array_get(asgs, 0), "region");
	if (mz_json_obj(d, "availabilityZones")) {
		void *it = json_object_iter(mz_json_obj(d, "availabilityZones"));
		if (it)
			return json_object_iter_key(it);
	}
	return NULL;
}

static const char *
d_sg_name(const json_t *d)
{
	const char *n = mz_json_str(d, "serverGroupName");
	json_t *asgs = mz_json_arr(d, "asgs");
	if (!n)
		n = mz_json_str(d, "asgName");
	if (!n && json_array_size(asgs) > 0) {
		n = mz_json_str(json_array_get(asgs, 0), "serverGroupName");
		if (!n)
			n = mz_json_str(json_array_get(asgs, 0), "asgName");
	}
	return n;
}

static json_t *
sg_get(mz_local *lp, const char *account, const char *region, const char *name)
{
	char *key = lp_sg_key(account, region, name);
	json_t *sg = json_object_get(lp->sgs, key);
	free(key);
	return sg;
}

static mz_code
check_capacity(const json_t *cap, mz_err *err)
{
	json_t *fields[3] = { json_object_get(cap, "min"), json_object_get(cap, "max"),
		              json_object_get(cap, "desired") };
	const char *names[3] = { "min", "max", "desired" };
	int64_t v[3];
	for (int i = 0; i < 3; i++) {
		if (!json_is_integer(fields[i]))
			return mz_fail(err, MZ_EINVAL, "capacity.%s must be an integer", names[i]);
		v[i] = json_integer_value(fields[i]);
		if (v[i] < 0)
			return mz_fail(err, MZ_EINVAL, "capacity.%s must not be negative", names[i]);
	}
	if (v[0] > v[1])
		return mz_fail(err, MZ_EINVAL, "capacity.min (%lld) is greater than capacity.max (%lld)",
		                (long long)v[0], (long long)v[1]);
	if (v[2] < v[0] || v[2] > v[1])
		return mz_fail(err, MZ_EINVAL,
		               "capacity.desired (%lld) must be between min (%lld) and max (%lld)",
		               (long long)v[2], (long long)v[0], (long long)v[1]);
	if (v[1] > 1000)
		return mz_fail(err, MZ_EINVAL, "capacity.max (%lld) is above 1000", (long long)v[1]);
	return MZ_OK;
}

/* Numbers may come as strings from SpEL: normalise to integers. */
static json_t *
norm_capacity(const json_t *cap, const json_t *dflt)
{
	json_t *c = json_object();
	const char *names[3] = { "min", "max", "desired" };
	for (int i = 0; i < 3; i++) {
		json_t *v = json_object_get(cap, names[i]);
		if (v && !json_is_null(v)) {
			int64_t n = mz_json_int(cap, names[i], INT64_MIN);
			json_object_set_new(c, names[i], n == INT64_MIN ? json_string("?") : json_integer(n));
		} else if (dflt && json_object_get(dflt, names[i])) {
			json_object_set(c, names[i], json_object_get(dflt, names[i]));
		}
	}
	return c;
}

/* Completes a create/clone description in place from its source server
 * group (lp->mu held). */
static mz_code
apply_source(mz_local *lp, json_t *d, bool required, mz_err *err)
{
	json_t *src = mz_json_obj(d, "source");
	const char *sname = mz_json_str(src, "serverGroupName");
	json_t *sg;
	json_t *m;
	if (!sname)
		sname = mz_json_str(src, "asgName");
	if (!src || !sname) {
		if (required)
			return mz_fail(err, MZ_EINVAL, "cloneServerGroup needs source.serverGroupName");
		return MZ_OK;
	}
	sg = sg_get(lp, mz_json_str(src, "account") ? mz_json_str(src, "account") : d_account(d),
	            mz_json_str(src, "region") ? mz_json_str(src, "region") : d_region(d), sname);
	if (!sg) {
		if (required)
			return mz_fail(err, MZ_EINVAL, "source server group %s not found", sname);
		return MZ_OK;
	}
	m = lp_moniker(sname);
	if (!mz_json_str(d, "application"))
		json_object_set(d, "application", json_object_get(m, "app"));
	if (!json_object_get(d, "stack"))
		json_object_set(d, "stack", json_object_get(m, "stack"));
	if (!json_object_get(d, "freeFormDetails"))
		json_object_set(d, "freeFormDetails", json_object_get(m, "detail"));
	json_decref(m);
	if (!json_object_get(d, "image") || json_is_null(json_object_get(d, "image")))
		json_object_set(d, "image", json_object_get(json_object_get(sg, "image"), "imageId"));
	if (!json_object_get(d, "command"))
		json_object_set(d, "command", json_object_get(sg, "command"));
	if (!json_object_get(d, "env"))
		json_object_set(d, "env", json_object_get(sg, "env"));
	if (!json_object_get(d, "healthCheck"))
		json_object_set(d, "healthCheck", json_object_get(sg, "healthCheck"));
	if (!json_object_get(d, "loadBalancers"))
		json_object_set(d, "loadBalancers", json_object_get(sg, "loadBalancers"));
	if (!json_object_get(d, "buildInfo") && json_object_get(sg, "buildInfo"))
		json_object_set(d, "buildInfo", json_object_get(sg, "buildInfo"));
	if (mz_json_bool(src, "useSourceCapacity", false) || !json_object_get(d, "capacity"))
		json_object_set_new(d, "capacity", json_deep_copy(json_object_get(sg, "capacity")));
	return MZ_OK;
}

static mz_code
validate_names(const char *app, const char *stack, const char *detail, mz_err *err)
{
	if (!app || !*app)
		return mz_fail(err, MZ_EINVAL, "application is required");
	if (!lp_name_chars(app, false))
		return mz_fail(err, MZ_EINVAL,
		               "Invalid appName '%s': only letters, digits, '.' and '_' are allowed", app);
	if (stack && !lp_name_chars(stack, false))
		return mz_fail(err, MZ_EINVAL,
		               "Invalid stack '%s': only letters, digits, '.' and '_' are allowed", stack);
	if (detail && !lp_name_chars(detail, true))
		return mz_fail(err, MZ_EINVAL,
		               "Invalid freeFormDetails '%s': only letters, digits, '.', '_', '-', "
		               "'~' and '^' are allowed",
		               detail);
	if (lp_has_push_token(stack))
		return mz_fail(err, MZ_EINVAL, "stack cannot contain a push version");
	if (lp_has_push_token(detail))
		return mz_fail(err, MZ_EINVAL, "detail cannot contain a push version");
	char *cluster = lp_cluster_name(app, stack, detail);
	size_t len = strlen(cluster);
	free(cluster);
	if (len + 5 > 255)
		return mz_fail(err, MZ_EINVAL, "server group names are limited to 255 characters");
	return MZ_OK;
}

static mz_code
validate_create(mz_local *lp, json_t *d, bool clone, mz_err *err)
{
	mz_code rc;
	const char *image;
	json_t *cap;
	size_t i;
	json_t *v;

	rc = apply_source(lp, d, clone, err);
	if (rc != MZ_OK)
		return rc;
	rc = validate_names(mz_json_str(d, "application"), mz_json_str(d, "stack"),
	                    mz_json_str(d, "freeFormDetails"), err);
	if (rc != MZ_OK)
		return rc;
	cap = json_object_get(d, "capacity");
	if (!cap)
		json_object_set_new(d, "capacity", json_pack("{s:i, s:i, s:i}", "min", 1, "max", 1,
		                                             "desired", 1));
	else
		json_object_set_new(d, "capacity", norm_capacity(cap, NULL));
	rc = check_capacity(json_object_get(d, "capacity"), err);
	if (rc != MZ_OK)
		return rc;
	image = mz_json_str(d, "image");
	if (!image)
		image = mz_json_str(d, "imageId");
	if (!image)
		image = mz_json_str(d, "amiName");
	if (!image || !*image)
		return mz_fail(err, MZ_EINVAL, "image is required (an image id or a path)");
	json_object_set_new(d, "image", json_string(image));
	image = mz_json_str(d, "image");
	if (lp_image_id_like(image)) {
		json_t *rec = lp_image_load(lp, image);
		json_t *man = json_object_get(rec, "manifest");
		bool has_cmd = json_array_size(json_object_get(d, "command")) > 0 ||
		               json_array_size(json_object_get(man, "command")) > 0;
		json_decref(rec);
		if (!rec)
			return mz_fail(err, MZ_EINVAL, "unknown image %s", image);
		if (!has_cmd)
			return mz_fail(err, MZ_EINVAL,
			               "no command: neither the deploy nor the manifest of %s gives one",
			               image);
	} else {
		struct stat st;
		if (!mz_path_within(image, lp->image_roots, true))
			return mz_fail(err, MZ_EINVAL, MZ_LOCAL_IMAGE_REFUSED_FMT, image);
		if (stat(image, &st) != 0)
			return mz_fail(err, MZ_EINVAL, "image %s: no such image id or path", image);
	}
	if (json_object_get(d, "command") && !json_is_array(json_object_get(d, "command")))
		return mz_fail(err, MZ_EINVAL, "command must be an argv array of strings");
	json_array_foreach(json_object_get(d, "command"), i, v)
		if (!json_is_string(v))
			return mz_fail(err, MZ_EINVAL, "command must be an argv array of strings");
	json_array_foreach(json_object_get(d, "loadBalancers"), i, v) {
		if (!json_is_string(v) || !json_object_get(lp->lbs, json_string_value(v)))
			return mz_fail(err, MZ_EINVAL, "unknown load balancer %s",
			               json_is_string(v) ? json_string_value(v) : "(not a string)");
	}
	if (json_object_get(d, "sequence") && !json_is_null(json_object_get(d, "sequence"))) {
		int64_t seq = mz_json_int(d, "sequence", -1);
		if (seq < 0 || seq > 999)
			return mz_fail(err, MZ_EINVAL, "sequence must be between 0 and 999");
	}
	return MZ_OK;
}

static mz_code
validate(mz_local *lp, const char *op, json_t *d, mz_err *err)
{
	const char *account = d_account(d), *region = d_region(d);
	mz_code rc;

	if (!json_is_object(d))
		return mz_fail(err, MZ_EINVAL, "%s: the description must be an object", op);
	rc = mz_local_check_location(lp, account, region, err);
	if (rc != MZ_OK)
		return rc;
	json_object_set_new(d, "credentials", json_string(account));
	json_object_set_new(d, "region", json_string(region));
	account = mz_json_str(d, "credentials");
	region = mz_json_str(d, "region");

	if (mz_streq(op, "createServerGroup") || mz_streq(op, "cloneServerGroup"))
		return validate_create(lp, d, mz_streq(op, "cloneServerGroup"), err);
	if (mz_streq(op, "enableServerGroup") || mz_streq(op, "disableServerGroup") ||
	    mz_streq(op, "resizeServerGroup") || mz_streq(op, "destroyServerGroup")) {
		const char *name = d_sg_name(d);
		json_t *sg;
		if (!name)
			return mz_fail(err, MZ_EINVAL, "%s: serverGroupName is required", op);
		json_object_set_new(d, "serverGroupName", json_string(name));
		name = mz_json_str(d, "serverGroupName");
		sg = sg_get(lp, account, region, name);
		if (!sg && !mz_streq(op, "destroyServerGroup"))
			return mz_fail(err, MZ_EINVAL, "server group %s not found in %s/%s", name, account,
			               region);
		if (mz_streq(op, "resizeServerGroup")) {
			json_t *cap = json_object_get(d, "capacity");
			json_t *asgs = mz_json_arr(d, "asgs");
			if (!cap && json_array_size(asgs) > 0)
				cap = json_object_get(json_array_get(asgs, 0), "capacity");
			if (!cap)
				return mz_fail(err, MZ_EINVAL, "resizeServerGroup: capacity is required");
			json_object_set_new(d, "capacity",
			                    norm_capacity(cap, json_object_get(sg, "capacity")));
			return check_capacity(json_object_get(d, "capacity"), err);
		}
		return MZ_OK;
	}
	if (mz_streq(op, "terminateInstances")) {
		json_t *ids = mz_json_arr(d, "instanceIds");
		size_t i;
		json_t *v;
		if (json_array_size(ids) == 0)
			return mz_fail(err, MZ_EINVAL, "terminateInstances: instanceIds is required");
		json_array_foreach(ids, i, v)
			if (!json_is_string(v))
				return mz_fail(err, MZ_EINVAL, "instanceIds must be strings");
		return MZ_OK;
	}
	if (mz_streq(op, "upsertLoadBalancer")) {
		const char *name = mz_json_str(d, "name");
		json_t *l0 = json_array_get(mz_json_arr(d, "listeners"), 0);
		json_t *m;
		int64_t port;
		const char *k;
		json_t *lb;
		if (!name || !*name)
			return mz_fail(err, MZ_EINVAL, "upsertLoadBalancer: name is required");
		if (strlen(name) > 32)
			return mz_fail(err, MZ_EINVAL, "load balancer name %s is longer than 32 characters",
			               name);
		m = lp_moniker(name);
		bool ok = mz_json_str(m, "app") && json_is_null(json_object_get(m, "sequence"));
		json_decref(m);
		if (!ok || !lp_name_chars(name, true))
			return mz_fail(err, MZ_EINVAL,
			               "Invalid load balancer name '%s': use app[-stack[-detail]]", name);
		if (!l0)
			return mz_fail(err, MZ_EINVAL, "upsertLoadBalancer: listeners[0].externalPort is required");
		port = mz_json_int(l0, "externalPort", -1);
		if (port < 1 || port > 65535)
			return mz_fail(err, MZ_EINVAL, "listener port must be between 1 and 65535");
		if (mz_json_str(l0, "externalProtocol") &&
		    !mz_strcaseeq(mz_json_str(l0, "externalProtocol"), "HTTP"))
			return mz_fail(err, MZ_EINVAL, "only HTTP listeners are supported");
		json_object_foreach(lp->lbs, k, lb) {
			json_t *ol = json_array_get(json_object_get(lb, "listeners"), 0);
			if (mz_json_int(ol, "externalPort", 0) == port) {
				if (mz_streq(k, name))
					return MZ_OK; /* unchanged port of the same load balancer */
				return mz_fail(err, MZ_EINVAL, "port %d is used by load balancer %s",
				               (int)port, k);
			}
		}
		if (!lp_port_free((int)port))
			return mz_fail(err, MZ_EINVAL, "port %d on 127.0.0.1 is in use", (int)port);
		return MZ_OK;
	}
	if (mz_streq(op, "deleteLoadBalancer")) {
		const char *name = mz_json_str(d, "loadBalancerName");
		if (!name)
			name = mz_json_str(d, "name");
		if (!name)
			return mz_fail(err, MZ_EINVAL, "deleteLoadBalancer: loadBalancerName is required");
		json_object_set_new(d, "loadBalancerName", json_string(name));
		return MZ_OK;
	}
	if (mz_streq(op, "rollbackServerGroup")) {
		json_t *ctx = mz_json_obj(d, "rollbackContext");
		const char *rb = mz_json_str(ctx, "rollbackServerGroupName");
		const char *rs = mz_json_str(ctx, "restoreServerGroupName");
		if (!rb || !rs)
			return mz_fail(err, MZ_EINVAL, "rollbackContext needs rollbackServerGroupName and "
			                               "restoreServerGroupName");
		if (!sg_get(lp, account, region, rb))
			return mz_fail(err, MZ_EINVAL, "server group %s not found", rb);
		if (!sg_get(lp, account, region, rs))
			return mz_fail(err, MZ_EINVAL, "server group %s not found", rs);
		return MZ_OK;
	}
	return mz_fail(err, MZ_EINVAL, "unknown operation %s for cloud provider local", op);
}

mz_code
mz_local_submit(mz_local *lp, const char *op, const json_t *description,
                const char *client_request_id, char task_id[40], mz_err *err)
{
	json_t *d, *task;
	char id[27];
	mz_code rc;

	task_id[0] = '\0';
	if (!op)
		return mz_fail(err, MZ_EINVAL, "no operation");
	pthread_mutex_lock(&lp->mu);
	if (client_request_id && *client_request_id) {
		const char *existing = mz_json_str(lp->requests, client_request_id);
		if (existing) {
			snprintf(task_id, 40, "%s", existing);
			pthread_mutex_unlock(&lp->mu);
			return MZ_OK;
		}
	}
	d = json_deep_copy(description);
	if (!d)
		d = json_object();
	rc = validate(lp, op, d, err);
	if (rc != MZ_OK) {
		pthread_mutex_unlock(&lp->mu);
		json_decref(d);
		return rc;
	}
	mz_ulid(id);
	task = json_object();
	json_object_set_new(task, "id", json_string(id));
	json_object_set_new(task, "requestId",
	                    client_request_id && *client_request_id ? json_string(client_request_id)
	                                                            : json_string(id));
	json_object_set_new(task, "ownerId", json_string("mizzen"));
	json_object_set_new(task, "startTimeMs", json_integer(mz_now_ms()));
	json_object_set_new(task, "status",
	                    json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "phase", "INIT", "status",
	                              "Initializing Orchestration Task", "complete", 0,
	                              "completed", 0, "failed", 0, "retryable", 0));
	json_object_set_new(task, "history",
	                    json_pack("[{s:s, s:s}]", "phase", "INIT", "status",
	                              "Initializing Orchestration Task"));
	json_object_set_new(task, "resultObjects", json_array());
	json_object_set_new(task, "sagaIds", json_array());
	json_object_set_new(task, "outputs", json_array());
	json_object_set_new(task, "retryable", json_false());
	json_object_set_new(task, "_op", json_string(op));
	json_object_set(task, "_description", d);
	json_object_set_new(lp->tasks, id, task);
	json_object_set_new(lp->requests, mz_json_str(task, "requestId"), json_string(id));
	task_save(lp, task);
	json_array_append_new(lp->queue, json_pack("{s:s, s:s, s:o}", "id", id, "op", op,
	                                           "description", d));
	pthread_cond_signal(&lp->qcv);
	pthread_mutex_unlock(&lp->mu);
	snprintf(task_id, 40, "%s", id);
	return MZ_OK;
}

/* ---- the operations (run on the worker; take lp->mu as needed) ----------- */

/* The model never shares nodes with descriptions (deep copies). */
static void
set_copy(json_t *obj, const char *key, json_t *val)
{
	json_object_set_new(obj, key, val ? json_deep_copy(val) : json_object());
}

static json_t *
image_record(mz_local *lp, const char *image, mz_err *err)
{
	char id[80];
	json_t *rec;
	if (lp_image_id_like(image)) {
		snprintf(id, sizeof(id), "%s", image);
	} else if (!mz_path_within(image, lp->image_roots, true)) {
		/* checked at submit too; again here, where it is read */
		mz_fail(err, MZ_EINVAL, MZ_LOCAL_IMAGE_REFUSED_FMT, image);
		return NULL;
	} else if (lp_image_import(lp, image, NULL, id, err) != MZ_OK) {
		return NULL;
	}
	rec = lp_image_load(lp, id);
	if (!rec) {
		mz_fail(err, MZ_EINVAL, "unknown image %s", id);
		return NULL;
	}
	char *p = mz_asprintf("%s/images/%s/root", lp->root, id);
	json_object_set_new(rec, "path", json_string(p));
	free(p);
	return rec;
}

static mz_code
op_create(mz_local *lp, const char *tid, json_t *d, mz_err *err)
{
	const char *account = mz_json_str(d, "credentials"), *region = mz_json_str(d, "region");
	const char *app = mz_json_str(d, "application");
	const char *stack = mz_json_str(d, "stack"), *detail = mz_json_str(d, "freeFormDetails");
	char *cluster = lp_cluster_name(app, stack, detail);
	json_t *img, *man, *sg = NULL, *latest = NULL, *stops = NULL;
	const char *key;
	json_t *o;
	int64_t seq, created = mz_now_ms();
	char *name = NULL, *sgkey = NULL;
	mz_code rc = MZ_OK;

	pthread_mutex_lock(&lp->mu);
	task_status(lp, tid, "DEPLOY", "Initializing phase.");
	{
		/* a re-run after a restart: the server group may already exist */
		json_t *task = json_object_get(lp->tasks, tid);
		const char *prev = mz_json_str(task, "_serverGroupName");
		if (prev && (sg = sg_get(lp, account, region, prev)) != NULL) {
			name = mz_strdup(prev);
			task_status(lp, tid, "DEPLOY", "Server group %s already created", name);
			goto result;
		}
	}
	task_status(lp, tid, "DEPLOY", "Looking for local deploy handler...");
	task_status(lp, tid, "DEPLOY", "Preparing image %s", mz_json_str(d, "image"));
	pthread_mutex_unlock(&lp->mu);
	img = image_record(lp, mz_json_str(d, "image"), err);
	pthread_mutex_lock(&lp->mu);
	if (!img) {
		rc = err->code ? err->code : MZ_EINVAL;
		goto out;
	}
	man = json_object_get(img, "manifest");

	/* the push sequence (reference §1.4) */
	json_object_foreach(lp->sgs, key, o) {
		json_t *m;
		if (!mz_streq(mz_json_str(o, "account"), account) ||
		    !mz_streq(mz_json_str(o, "region"), region))
			continue;
		m = lp_moniker(mz_json_str(o, "name"));
		if (mz_streq(mz_json_str(m, "cluster"), cluster) &&
		    (!latest || mz_json_int(o, "createdTime", 0) > mz_json_int(latest, "createdTime", 0)))
			latest = o;
		json_decref(m);
	}
	if (json_is_integer(json_object_get(d, "sequence")) ||
	    json_is_string(json_object_get(d, "sequence"))) {
		seq = mz_json_int(d, "sequence", 0);
		name = mz_asprintf("%s-v%03d", cluster, (int)seq);
		if (sg_get(lp, account, region, name)) {
			rc = mz_fail(err, MZ_ECONFLICT, "server group %s already exists", name);
			goto out;
		}
	} else {
		json_t *lm = latest ? lp_moniker(mz_json_str(latest, "name")) : NULL;
		seq = lm ? (mz_json_int(lm, "sequence", 0) + 1) % 1000 : 0;
		json_decref(lm);
		for (int tries = 0;; tries++) {
			if (tries >= 1000) {
				rc = mz_fail(err, MZ_ECONFLICT,
				             "All server group names for cluster %s in %s are taken.", cluster,
				             region);
				goto out;
			}
			name = mz_asprintf("%s-v%03d", cluster, (int)seq);
			if (!sg_get(lp, account, region, name))
				break;
			free(name);
			name = NULL;
			seq = (seq + 1) % 1000;
		}
	}
	if (latest) {
		task_status(lp, tid, "DEPLOY", "Found ancestor server group %s",
		            mz_json_str(latest, "name"));
		if (mz_json_int(latest, "createdTime", 0) >= created)
			created = mz_json_int(latest, "createdTime", 0) + 1;
	}

	sg = json_object();
	json_object_set_new(sg, "name", json_string(name));
	json_object_set_new(sg, "account", json_string(account));
	json_object_set_new(sg, "region", json_string(region));
	json_object_set_new(sg, "cluster", json_string(cluster));
	json_object_set_new(sg, "app", json_string(app));
	set_copy(sg, "stack", json_object_get(d, "stack") ? json_object_get(d, "stack") : json_null());
	set_copy(sg, "detail", json_object_get(d, "freeFormDetails") ? json_object_get(d, "freeFormDetails") : json_null());
	json_object_set_new(sg, "sequence", json_integer(seq));
	json_object_set_new(sg, "createdTime", json_integer(created));
	json_object_set_new(sg, "disabled", json_boolean(mz_json_bool(d, "startDisabled", false)));
	set_copy(sg, "capacity", json_object_get(d, "capacity"));
	json_object_set_new(sg, "image", json_pack("{s:O, s:O, s:O, s:O}", "imageId",
	                                           json_object_get(img, "imageId"), "name",
	                                           json_object_get(img, "name"), "path",
	                                           json_object_get(img, "path"), "manifest", man));
	if (json_array_size(json_object_get(d, "command")) > 0)
		set_copy(sg, "command", json_object_get(d, "command"));
	else
		set_copy(sg, "command", json_object_get(man, "command"));
	{
		json_t *env = json_object();
		if (json_is_object(json_object_get(man, "env")))
			json_object_update(env, json_object_get(man, "env"));
		if (json_is_object(json_object_get(d, "env")))
			json_object_update(env, json_object_get(d, "env"));
		json_object_set_new(sg, "env", env);
	}
	{
		json_t *hc = json_object_get(d, "healthCheck");
		if (!json_is_object(hc))
			hc = json_object_get(man, "healthCheck");
		json_object_set_new(sg, "healthCheck", json_is_object(hc) ? json_deep_copy(hc) : json_object());
	}
	json_object_set_new(sg, "loadBalancers", json_is_array(json_object_get(d, "loadBalancers"))
	                                                 ? json_deep_copy(json_object_get(d, "loadBalancers"))
	                                                 : json_array());
	set_copy(sg, "buildInfo", json_object_get(d, "buildInfo") ? json_object_get(d, "buildInfo")
	                                                         : NULL);
	if (json_is_object(json_object_get(d, "tags")))
		set_copy(sg, "tags", json_object_get(d, "tags"));
	json_object_set_new(sg, "nextIndex", json_integer(0));
	json_object_set_new(sg, "instances", json_array());
	json_decref(img);
	if (json_array_size(json_object_get(sg, "command")) == 0) {
		json_decref(sg);
		sg = NULL;
		rc = mz_fail(err, MZ_EINVAL, "no command: neither the deploy nor the image manifest gives one");
		goto out;
	}

	task_status(lp, tid, "DEPLOY", "Creating server group %s", name);
	sgkey = lp_sg_key(account, region, name);
	json_object_set_new(lp->sgs, sgkey, sg);
	json_object_set_new(json_object_get(lp->tasks, tid), "_serverGroupName", json_string(name));
	task_save(lp, json_object_get(lp->tasks, tid));
	lp_sg_save(lp, sg);
	{
		int64_t desired = mz_json_int(json_object_get(sg, "capacity"), "desired", 0);
		for (int64_t i = 0; i < desired; i++) {
			if (lp_instance_start(lp, sg, err) != MZ_OK) {
				/* roll back: nothing half-created stays */
				char *path = mz_asprintf("%s/servergroups/%s/%s/%s.json", lp->root, account,
				                         region, name);
				stops = json_array();
				while (json_array_size(json_object_get(sg, "instances")) > 0)
					lp_detach_instance(sg, 0, stops, true);
				unlink(path);
				free(path);
				json_object_del(lp->sgs, sgkey);
				sg = NULL;
				rc = err->code ? err->code : MZ_EIO;
				task_status(lp, tid, "DEPLOY", "Rolled back server group %s", name);
				goto out;
			}
		}
	}
	lp_sg_save(lp, sg);
	task_status(lp, tid, "DEPLOY", "Server Groups: [%s:%s] created.", region, name);
result:
	{
		json_t *r = json_object();
		char *full = mz_asprintf("%s:%s", region, name);
		json_object_set_new(r, "serverGroupNames", json_pack("[s]", full));
		json_object_set_new(r, "serverGroupNameByRegion", json_pack("{s:s}", region, name));
		json_object_set_new(r, "messages", json_array());
		json_object_set_new(r, "deployedNames", json_pack("[s]", name));
		json_object_set_new(r, "deployedNamesByLocation", json_pack("{s:[s]}", region, name));
		json_object_set_new(r, "createdArtifacts", json_array());
		json_object_set_new(r, "deployments",
		                    json_pack("[{s:s, s:s, s:s, s:s, s:O, s:{}}]", "cloudProvider", "local",
		                              "account", account, "location", region, "serverGroupName",
		                              name, "capacity", json_object_get(sg, "capacity"),
		                              "metadata"));
		task_result(lp, tid, r);
		free(full);
		if (latest)
			task_result(lp, tid, json_pack("{s:{s:s}}", "ancestorServerGroupNameByRegion", region,
			                               mz_json_str(latest, "name")));
	}
	lp_wake_monitor(lp);
out:
	pthread_mutex_unlock(&lp->mu);
	if (stops) {
		lp_run_stops(lp, stops, 1000);
		json_decref(stops);
	}
	free(cluster);
	free(name);
	free(sgkey);
	return rc;
}

static mz_code
op_enable(mz_local *lp, const char *tid, json_t *d, const char *name, mz_err *err)
{
	json_t *sg;
	size_t i;
	json_t *inst;
	int joined = 0, up = 0;
	pthread_mutex_lock(&lp->mu);
	sg = sg_get(lp, mz_json_str(d, "credentials"), mz_json_str(d, "region"), name);
	if (!sg) {
		pthread_mutex_unlock(&lp->mu);
		return mz_fail(err, MZ_ENOTFOUND, "server group %s not found", name);
	}
	task_status(lp, tid, "ENABLE_SERVER_GROUP", "Enabling server group %s", name);
	json_object_set_new(sg, "disabled", json_false());
	/* only instances already seen Up become ready in HAProxy; the others
	 * join when their health check passes */
	json_array_foreach(json_object_get(sg, "instances"), i, inst) {
		if (!mz_streq(mz_json_str(inst, "state"), "Up"))
			continue;
		up++;
		if (lp_instance_join_lbs(lp, sg, inst))
			joined++;
	}
	lp_sg_save(lp, sg);
	lp_write_config_locked(lp);
	task_status(lp, tid, "ENABLE_SERVER_GROUP",
	            "Enabled server group %s (%d Up instances registered with its load balancers)",
	            name, joined);
	pthread_mutex_unlock(&lp->mu);
	(void)up;
	return MZ_OK;
}

static mz_code
op_disable(mz_local *lp, const char *tid, json_t *d, const char *name, mz_err *err)
{
	json_t *sg, *pairs = json_array();
	size_t i;
	json_t *inst;
	pthread_mutex_lock(&lp->mu);
	sg = sg_get(lp, mz_json_str(d, "credentials"), mz_json_str(d, "region"), name);
	if (!sg) {
		pthread_mutex_unlock(&lp->mu);
		json_decref(pairs);
		return mz_fail(err, MZ_ENOTFOUND, "server group %s not found", name);
	}
	task_status(lp, tid, "DISABLE_SERVER_GROUP", "Disabling server group %s", name);
	json_object_set_new(sg, "disabled", json_true());
	json_array_foreach(json_object_get(sg, "instances"), i, inst) {
		lp_instance_lb_pairs(sg, inst, pairs);
		json_object_set_new(inst, "inLb", json_false());
	}
	lp_sg_save(lp, sg);
	lp_write_config_locked(lp);
	task_status(lp, tid, "DISABLE_SERVER_GROUP", "Draining %zu servers from the load balancers",
	            json_array_size(pairs));
	pthread_mutex_unlock(&lp->mu);
	lp_ha_remove_servers(lp, pairs, DRAIN_TIMEOUT_MS);
	json_decref(pairs);
	pthread_mutex_lock(&lp->mu);
	task_status(lp, tid, "DISABLE_SERVER_GROUP", "Disabled server group %s", name);
	pthread_mutex_unlock(&lp->mu);
	return MZ_OK;
}

static mz_code
op_resize(mz_local *lp, const char *tid, json_t *d, mz_err *err)
{
	const char *name = mz_json_str(d, "serverGroupName");
	json_t *sg, *stops = json_array();
	mz_code rc = MZ_OK;
	pthread_mutex_lock(&lp->mu);
	sg = sg_get(lp, mz_json_str(d, "credentials"), mz_json_str(d, "region"), name);
	if (!sg) {
		rc = mz_fail(err, MZ_ENOTFOUND, "server group %s not found", name);
		goto out;
	}
	task_status(lp, tid, "RESIZE", "Resizing server group %s to min %lld, max %lld, desired %lld",
	            name, (long long)mz_json_int(json_object_get(d, "capacity"), "min", 0),
	            (long long)mz_json_int(json_object_get(d, "capacity"), "max", 0),
	            (long long)mz_json_int(json_object_get(d, "capacity"), "desired", 0));
	set_copy(sg, "capacity", json_object_get(d, "capacity"));
	json_object_del(sg, "retryAfter");
	lp_reconcile(lp, sg, stops);
	lp_sg_save(lp, sg);
	lp_write_config_locked(lp);
out:
	pthread_mutex_unlock(&lp->mu);
	lp_run_stops(lp, stops, DRAIN_TIMEOUT_MS);
	pthread_mutex_lock(&lp->mu);
	if (rc == MZ_OK)
		task_status(lp, tid, "RESIZE", "Resized server group %s", name);
	pthread_mutex_unlock(&lp->mu);
	json_decref(stops);
	return rc;
}

static mz_code
op_destroy(mz_local *lp, const char *tid, json_t *d, mz_err *err)
{
	const char *name = mz_json_str(d, "serverGroupName");
	const char *account = mz_json_str(d, "credentials"), *region = mz_json_str(d, "region");
	json_t *sg, *stops = json_array();
	pthread_mutex_lock(&lp->mu);
	sg = sg_get(lp, account, region, name);
	if (!sg) {
		task_status(lp, tid, "DESTROY_SERVER_GROUP", "Server group %s does not exist", name);
		pthread_mutex_unlock(&lp->mu);
		json_decref(stops);
		return MZ_OK;
	}
	task_status(lp, tid, "DESTROY_SERVER_GROUP", "Destroying server group %s", name);
	while (json_array_size(json_object_get(sg, "instances")) > 0)
		lp_detach_instance(sg, 0, stops, true);
	{
		char *path = mz_asprintf("%s/servergroups/%s/%s/%s.json", lp->root, account, region,
		                         name);
		char *key = lp_sg_key(account, region, name);
		unlink(path);
		json_object_del(lp->sgs, key);
		free(path);
		free(key);
	}
	lp_write_config_locked(lp);
	pthread_mutex_unlock(&lp->mu);
	lp_run_stops(lp, stops, DRAIN_TIMEOUT_MS);
	json_decref(stops);
	pthread_mutex_lock(&lp->mu);
	task_status(lp, tid, "DESTROY_SERVER_GROUP", "Destroyed server group %s", name);
	pthread_mutex_unlock(&lp->mu);
	(void)err;
	return MZ_OK;
}

static mz_code
op_terminate(mz_local *lp, const char *tid, json_t *d, mz_err *err)
{
	json_t *ids = json_object_get(d, "instanceIds");
	json_t *stops = json_array();
	size_t i;
	json_t *v;
	pthread_mutex_lock(&lp->mu);
	json_array_foreach(ids, i, v) {
		const char *key;
		json_t *sg;
		bool found = false;
		json_object_foreach(lp->sgs, key, sg) {
			size_t idx;
			if (!mz_streq(mz_json_str(sg, "account"), mz_json_str(d, "credentials")) ||
			    !mz_streq(mz_json_str(sg, "region"), mz_json_str(d, "region")))
				continue;
			if (lp_find_instance(sg, json_string_value(v), &idx)) {
				lp_detach_instance(sg, idx, stops, true);
				lp_sg_save(lp, sg);
				found = true;
				break;
			}
		}
		task_status(lp, tid, "TERMINATE_INSTANCES", found ? "Terminating instance %s"
		                                                  : "Instance %s not found",
		            json_string_value(v));
	}
	lp_write_config_locked(lp);
	pthread_mutex_unlock(&lp->mu);
	lp_run_stops(lp, stops, 5000);
	json_decref(stops);
	pthread_mutex_lock(&lp->mu);
	lp_wake_monitor(lp); /* replacements keep the desired capacity */
	task_status(lp, tid, "TERMINATE_INSTANCES", "Terminated %zu instances", json_array_size(ids));
	pthread_mutex_unlock(&lp->mu);
	(void)err;
	return MZ_OK;
}

static mz_code
op_upsert_lb(mz_local *lp, const char *tid, json_t *d, mz_err *err)
{
	const char *name = mz_json_str(d, "name");
	json_t *old, *lb;
	char *path = mz_asprintf("%s/loadbalancers/%s.json", lp->root, name);
	mz_code rc;
	json_t *l0 = json_array_get(json_object_get(d, "listeners"), 0);
	pthread_mutex_lock(&lp->mu);
	old = json_object_get(lp->lbs, name);
	json_incref(old);
	task_status(lp, tid, "UPSERT_LOAD_BALANCER", "%s load balancer %s on port %d",
	            old ? "Updating" : "Creating", name, (int)mz_json_int(l0, "externalPort", 0));
	lb = json_object();
	json_object_set_new(lb, "name", json_string(name));
	json_object_set(lb, "account", json_object_get(d, "credentials"));
	json_object_set(lb, "region", json_object_get(d, "region"));
	json_object_set_new(lb, "listeners",
	                    json_pack("[{s:I, s:s, s:I, s:s}]", "externalPort",
	                              (json_int_t)mz_json_int(l0, "externalPort", 0), "externalProtocol",
	                              "HTTP", "internalPort",
	                              (json_int_t)mz_json_int(l0, "externalPort", 0), "internalProtocol",
	                              "HTTP"));
	json_object_set_new(lb, "healthCheck",
	                    json_pack("{s:s}", "path",
	                              mz_json_str(mz_json_obj(d, "healthCheck"), "path")
	                                      ? mz_json_str(mz_json_obj(d, "healthCheck"), "path")
	                                      : "/"));
	json_object_set_new(lb, "createdTime",
	                    json_integer(old ? mz_json_int(old, "createdTime", 0) : mz_now_ms()));
	json_object_set_new(lp->lbs, name, lb);
	rc = lp_ha_apply(lp, true, err);
	if (rc != MZ_OK) {
		/* back to what was there */
		if (old)
			json_object_set(lp->lbs, name, old);
		else
			json_object_del(lp->lbs, name);
		mz_err e2;
		mz_err_clear(&e2);
		lp_ha_apply(lp, false, &e2);
	} else {
		lp_write_json(path, lb);
		task_status(lp, tid, "UPSERT_LOAD_BALANCER", "Load balancer %s listens on 127.0.0.1:%d",
		            name, (int)mz_json_int(l0, "externalPort", 0));
	}
	json_decref(old);
	pthread_mutex_unlock(&lp->mu);
	free(path);
	return rc;
}

static mz_code
op_delete_lb(mz_local *lp, const char *tid, json_t *d, mz_err *err)
{
	const char *name = mz_json_str(d, "loadBalancerName");
	char *path = mz_asprintf("%s/loadbalancers/%s.json", lp->root, name);
	const char *key;
	json_t *sg;
	mz_code rc = MZ_OK;
	pthread_mutex_lock(&lp->mu);
	if (!json_object_get(lp->lbs, name)) {
		task_status(lp, tid, "DELETE_LOAD_BALANCER", "Load balancer %s does not exist", name);
		goto out;
	}
	task_status(lp, tid, "DELETE_LOAD_BALANCER", "Deleting load balancer %s", name);
	json_object_del(lp->lbs, name);
	unlink(path);
	json_object_foreach(lp->sgs, key, sg) {
		json_t *lbs = json_object_get(sg, "loadBalancers");
		bool changed = false;
		for (size_t i = json_array_size(lbs); i-- > 0;) {
			if (mz_streq(json_string_value(json_array_get(lbs, i)), name)) {
				json_array_remove(lbs, i);
				changed = true;
			}
		}
		if (changed) {
			if (json_array_size(lbs) == 0) {
				size_t i;
				json_t *inst;
				json_array_foreach(json_object_get(sg, "instances"), i, inst)
					json_object_set_new(inst, "inLb", json_false());
			}
			lp_sg_save(lp, sg);
		}
	}
	rc = lp_ha_apply(lp, true, err);
	if (rc == MZ_OK)
		task_status(lp, tid, "DELETE_LOAD_BALANCER", "Deleted load balancer %s", name);
out:
	pthread_mutex_unlock(&lp->mu);
	free(path);
	return rc;
}

static mz_code
run_op(mz_local *lp, const char *tid, const char *op, json_t *d, mz_err *err)
{
	if (mz_streq(op, "createServerGroup") || mz_streq(op, "cloneServerGroup"))
		return op_create(lp, tid, d, err);
	if (mz_streq(op, "enableServerGroup"))
		return op_enable(lp, tid, d, mz_json_str(d, "serverGroupName"), err);
	if (mz_streq(op, "disableServerGroup"))
		return op_disable(lp, tid, d, mz_json_str(d, "serverGroupName"), err);
	if (mz_streq(op, "resizeServerGroup"))
		return op_resize(lp, tid, d, err);
	if (mz_streq(op, "destroyServerGroup"))
		return op_destroy(lp, tid, d, err);
	if (mz_streq(op, "terminateInstances"))
		return op_terminate(lp, tid, d, err);
	if (mz_streq(op, "upsertLoadBalancer"))
		return op_upsert_lb(lp, tid, d, err);
	if (mz_streq(op, "deleteLoadBalancer"))
		return op_delete_lb(lp, tid, d, err);
	if (mz_streq(op, "rollbackServerGroup")) {
		json_t *ctx = json_object_get(d, "rollbackContext");
		mz_code rc = op_enable(lp, tid, d, mz_json_str(ctx, "restoreServerGroupName"), err);
		if (rc == MZ_OK)
			rc = op_disable(lp, tid, d, mz_json_str(ctx, "rollbackServerGroupName"), err);
		return rc;
	}
	return mz_fail(err, MZ_EINVAL, "unknown operation %s", op);
}

static const char *
op_class(const char *op)
{
	if (mz_streq(op, "createServerGroup") || mz_streq(op, "cloneServerGroup"))
		return "DeployAtomicOperation";
	if (mz_streq(op, "enableServerGroup"))
		return "EnableLocalServerGroupAtomicOperation";
	if (mz_streq(op, "disableServerGroup"))
		return "DisableLocalServerGroupAtomicOperation";
	if (mz_streq(op, "resizeServerGroup"))
		return "ResizeLocalServerGroupAtomicOperation";
	if (mz_streq(op, "destroyServerGroup"))
		return "DestroyLocalServerGroupAtomicOperation";
	if (mz_streq(op, "terminateInstances"))
		return "TerminateLocalInstancesAtomicOperation";
	if (mz_streq(op, "upsertLoadBalancer"))
		return "UpsertLocalLoadBalancerAtomicOperation";
	if (mz_streq(op, "deleteLoadBalancer"))
		return "DeleteLocalLoadBalancerAtomicOperation";
	if (mz_streq(op, "rollbackServerGroup"))
		return "RollbackLocalServerGroupAtomicOperation";
	return op;
}

void *
lp_worker_main(void *arg)
{
	mz_local *lp = arg;
	pthread_mutex_lock(&lp->mu);
	for (;;) {
		json_t *item;
		char *tid, *op;
		json_t *d;
		mz_err err;
		mz_code rc;
		while (!lp->stopping && json_array_size(lp->queue) == 0)
			pthread_cond_wait(&lp->qcv, &lp->mu);
		if (lp->stopping)
			break;
		item = json_incref(json_array_get(lp->queue, 0));
		json_array_remove(lp->queue, 0);
		tid = mz_strdup(mz_json_str(item, "id"));
		op = mz_strdup(mz_json_str(item, "op"));
		d = json_deep_copy(json_object_get(item, "description"));
		json_decref(item);
		task_status(lp, tid, "ORCHESTRATION", "Processing op: %s", op_class(op));
		pthread_mutex_unlock(&lp->mu);

		mz_err_clear(&err);
		rc = run_op(lp, tid, op, d, &err);

		pthread_mutex_lock(&lp->mu);
		if (rc == MZ_OK) {
			task_status(lp, tid, "ORCHESTRATION", "Orchestration completed.");
			task_finish(lp, tid, false);
		} else {
			task_status(lp, tid, "ORCHESTRATION", "Orchestration failed: %s | %s: [%s]",
			            op_class(op), mz_code_name(rc), err.msg);
			task_result(lp, tid, json_pack("{s:s, s:s, s:s, s:s}", "type", "EXCEPTION",
			                               "message", err.msg, "operation", op, "cause",
			                               mz_code_name(rc)));
			task_finish(lp, tid, true);
			mz_warn("local: %s failed: %s", op, err.msg);
		}
		free(tid);
		free(op);
		json_decref(d);
	}
	pthread_mutex_unlock(&lp->mu);
	return NULL;
}
