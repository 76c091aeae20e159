/*
 * local.h - the local provider: a real cloud on this machine (Clouddriver's
 * provider for cloud "local"). Used by src/cloud only; nothing above the
 * cloud component includes it.
 *
 * A server group is N instances of an image: each instance a supervised
 * process in its own session/process group, with its own port (PORT in its
 * environment), working directory and log file, started from an argv array
 * (never a shell string). Load balancers are frontends of one HAProxy
 * (Debian's) run in master-worker mode by the provider; servers are added,
 * enabled, drained and removed through HAProxy's runtime API.
 *
 * Everything the provider knows lives under <data>/cloud/ as JSON files
 * written atomically (write to a temporary file, fsync, rename): server
 * groups, load balancers, images, and operation tasks. Instances and
 * HAProxy outlive the mizzen process: on start the provider re-adopts every
 * instance whose pid is alive with the recorded start time (from
 * /proc/<pid>/stat) and restarts none of them; it re-attaches to a running
 * HAProxy through its master socket, or starts one from the saved config.
 *
 * Operations follow Clouddriver (reference: spinnaker-cloud-triggers-ui.md
 * §3.1-3.2): an operation is a name plus a description JSON, submitted with
 * a client request id; the provider records a task and runs the operation
 * on its own worker thread; submitting the same client request id again
 * returns the existing task and runs nothing (idempotent replay). Reads
 * are live: no cache that a deploy has to wait for.
 *
 * Thread safety: every function may be called from any thread.
 * JSON ownership: returned json_t * are new references; arguments borrowed.
 */
#ifndef MZ_CLOUD_LOCAL_H
#define MZ_CLOUD_LOCAL_H

#include "core/core.h"

typedef struct mz_local mz_local;

typedef struct mz_local_config {
	const char *data_dir;   /* the server's data dir; the provider uses <data_dir>/cloud */
	/* [{"name": "local", "regions": ["local", ...]}, ...]: the accounts of
	 * provider "local" from the config file (borrowed, copied). NULL: one
	 * account "local" with region "local". */
	const json_t *accounts;
	/* Period of HTTP health checks of an Up instance, ms (default 10000;
	 * a server group's healthCheck.intervalMs wins). */
	int health_interval_ms;
	/* Absolute directories under which an image given as a path may lie
	 * (providers.local.imageRoots; a JSON array, borrowed). NULL or empty:
	 * images are image ids only (baked or already imported). */
	const json_t *image_roots;
} mz_local_config;

/* The refusal of an image path outside the roots (%s: the path). */
#define MZ_LOCAL_IMAGE_REFUSED_FMT                                                          \
	"image '%s' is a path outside providers.local.imageRoots: deploy a baked image (its "     \
	"id), or list a directory that holds it in providers.local.imageRoots in the config (no " \
	"path is accepted while the list is empty)"
/* True when image is an image id, or a path under the image roots;
 * must_exist as mz_path_within (false at save, true when deploying). */
bool mz_local_image_allowed(mz_local *lp, const char *image, bool must_exist);

/* A deploy waiting for Up instances fails fast once every instance of the
 * server group crashed this many times in a row (instance views carry
 * restartCount, crashLoop, restartAt and lastExit {exitCode, time, ranMs}). */
#define MZ_LOCAL_CRASHLOOP_FAIL 3

mz_code mz_local_start(const mz_local_config *cfg, mz_local **out, mz_err *err);
/* Stops the provider's threads. Instances and HAProxy keep running. */
void mz_local_stop(mz_local *lp);

/* ---- accounts --------------------------------------------------------- */

/* Clouddriver's /credentials view of the local accounts:
 * [{name, type:"local", cloudProvider:"local", accountType, environment,
 *   regions:[{name}], permissions:{}, ...}] */
json_t *mz_local_accounts(mz_local *lp);
/* MZ_OK when account and region exist; MZ_EINVAL with a message otherwise. */
mz_code mz_local_check_location(mz_local *lp, const char *account, const char *region,
                                mz_err *err);

/* ---- operations (Clouddriver atomic operations) ----------------------- */

/*
 * Submits operation `op` with its description. Names and descriptions as
 * Clouddriver's (account in "credentials" or "account"):
 *   createServerGroup  {application, stack, freeFormDetails, credentials,
 *                       region, capacity:{min,max,desired}, image (image id
 *                       from the image store, or a path to a directory or
 *                       .tar.gz, imported first), command:[argv],
 *                       env:{}, healthCheck:{path, intervalMs?, timeoutMs?},
 *                       loadBalancers:[names], startDisabled?, sequence?,
 *                       source?:{account, region, serverGroupName,
 *                       useSourceCapacity}}
 *   cloneServerGroup   same, with source required (missing fields copied
 *                       from the source server group)
 *   enableServerGroup  {serverGroupName, region, credentials}
 *   disableServerGroup {serverGroupName, region, credentials}
 *   resizeServerGroup  {serverGroupName, region, credentials, capacity}
 *   destroyServerGroup {serverGroupName, region, credentials}
 *   terminateInstances {instanceIds:[...], region, credentials}
 *   upsertLoadBalancer {name, credentials, region, listeners:[{externalPort,
 *                       externalProtocol:"HTTP"}], healthCheck:{path}}
 *   deleteLoadBalancer {loadBalancerName, region, credentials}
 *   rollbackServerGroup {region, credentials, rollbackContext:
 *                       {rollbackServerGroupName, restoreServerGroupName}}
 *                       (enable restore, then disable rollback)
 * The description is validated before anything happens (unknown account or
 * region, bad capacity, Frigga name rules, missing image, a listener port in
 * use): invalid input returns MZ_EINVAL with a message and creates no task.
 * Otherwise a task is recorded and *task_id receives its id; the operation
 * runs asynchronously. A client_request_id seen before returns that task's
 * id and runs nothing.
 */
mz_code mz_local_submit(mz_local *lp, const char *op, const json_t *description,
                        const char *client_request_id, char task_id[40], mz_err *err);

/*
 * Clouddriver's task JSON: {id, requestId, startTimeMs,
 *   status:{phase, status, complete, completed, failed, retryable},
 *   history:[{phase, status}], resultObjects:[...]}.
 * createServerGroup/cloneServerGroup add the DeploymentResult
 * {serverGroupNames:["region:name"], serverGroupNameByRegion:{region:name},
 *  deployments:[{cloudProvider, account, location, serverGroupName,
 *  capacity}], messages:[]} and, when an older server group existed,
 * {ancestorServerGroupNameByRegion:{region:name}}. A failed operation adds
 * {type:"EXCEPTION", message, operation} and has status.failed true.
 * NULL when unknown.
 */
json_t *mz_local_task(mz_local *lp, const char *task_id);
/* Retention: the completed tasks as [{id, requestId, endTimeMs}], and
 * forgetting some of them (memory, the request-id index and the file; a
 * task not completed is kept). Returns how many were forgotten. */
json_t *mz_local_finished_tasks(mz_local *lp);
int mz_local_forget_tasks(mz_local *lp, const json_t *ids);

/* ---- reads (live) ----------------------------------------------------- */

/*
 * Every server group (app NULL) or those of one application, as full
 * Clouddriver server groups: {name, account, region, cluster, application,
 * type:"local", cloudProvider:"local", moniker:{app, cluster, stack, detail,
 * sequence}, createdTime, disabled, capacity:{min,max,desired},
 * instanceCounts:{total, up, down, unknown, outOfService, starting},
 * instances:[{id, name, healthState, launchTime, zone:"local",
 *   availabilityZone:"local", port, pid, health:[{type:"Local",
 *   healthClass:"platform", state}, {type:"LoadBalancer", state,
 *   loadBalancers:[{name, state:"InService"|"OutOfService",
 *   healthState}]}]}], loadBalancers:[names], securityGroups:[],
 * image:{imageId, name, ...manifest}, buildInfo:{...}, launchConfig:{command,
 * env (values of keys that look secret are masked), healthCheck}, zones:["local"]}.
 * Health states: Starting (process up, health check not yet passed), Up,
 * Down (check failing or process dead), OutOfService (disabled in the
 * load balancer), Unknown.
 */
json_t *mz_local_server_groups(mz_local *lp, const char *app);
/* One server group, or NULL. */
json_t *mz_local_server_group(mz_local *lp, const char *account, const char *region,
                              const char *name);
/* Load balancers (app NULL: all; else those whose Frigga app is app):
 * {name, account, region, type:"local", cloudProvider:"local", moniker,
 *  listeners:[{externalPort, externalProtocol}], healthCheck, url,
 *  serverGroups:[{name, account, region, isDisabled, cloudProvider,
 *  instances:[{id, name, zone, health:{state, ...}}], detachedInstances:[]}]} */
json_t *mz_local_load_balancers(mz_local *lp, const char *app);
/* {id, name, serverGroup, account, region, healthState, health, pid, port,
 *  launchTime, workdir, ...} or NULL. */
json_t *mz_local_instance(mz_local *lp, const char *account, const char *region,
                          const char *id);
/* The tail (at most max bytes) of an instance's log; NULL if unknown. */
char *mz_local_console(mz_local *lp, const char *account, const char *region,
                       const char *id, size_t max);

/* ---- images ----------------------------------------------------------- */

/* Imports a directory or .tar.gz into the content-addressed image store
 * (<data>/cloud/images/<id>, read-only) with a manifest (JSON, may be NULL:
 * {name, version, command:[...], healthCheck:{path}, ...}); identical
 * content yields the same id. *image_id receives the id ("img-<hex>"). */
mz_code mz_local_image_import(mz_local *lp, const char *path, const json_t *manifest,
                              char image_id[80], mz_err *err);
/* {imageId, name, path, manifest, createdTime, tags} or NULL. */
json_t *mz_local_image(mz_local *lp, const char *image_id);
json_t *mz_local_images(mz_local *lp);
/* Sets (value) or removes (null) tags of an image: MZ_ENOTFOUND if unknown. */
mz_code mz_local_image_tag(mz_local *lp, const char *image_id, const json_t *tags, mz_err *err);
/* Deletes an image; MZ_ECONFLICT while a server group uses it. */
mz_code mz_local_image_delete(mz_local *lp, const char *image_id, mz_err *err);
/* Retention: removes the images that no server group uses, that are not
 * keys of protect (a JSON object, may be NULL) and that are not among the
 * newest keep of their family (the image's name: a bake's package name, an
 * imported directory's manifest name; else the path it was imported from).
 * Waits (removes nothing) while a deploy is in flight. Also clears imports
 * that a crash interrupted before before_ms. Returns how many were removed. */
int mz_local_images_prune(mz_local *lp, int keep, const json_t *protect, int64_t before_ms);

#endif
