/*
 * cloud.h - mizzen's cloud (Clouddriver plus Orca's cloud stages): the
 * cloud model in Spinnaker's JSON shapes, read live from the providers, and
 * the deploy-side stages (deploy with its strategies, server group and
 * cluster stages, findImageFromCluster), which it registers with the engine.
 *
 * The only provider today is "local" (src/cloud/local/local.h): server
 * groups of supervised processes behind HAProxy, on this machine.
 *
 * Use: mz_cloud_start() then mz_cloud_register_stages() before
 * mz_engine_start(); the API calls the read functions. One cloud per
 * process. JSON ownership as in core.h.
 */
#ifndef MZ_CLOUD_H
#define MZ_CLOUD_H

#include "core/core.h"

typedef struct mz_cloud mz_cloud;

typedef struct mz_cloud_config {
	const char *data_dir;    /* server data dir */
	/* Accounts from the config file (as main.c loads them: a list of
	 * {name, type, regions:[...]}); NULL: account "local", region "local". */
	const json_t *accounts;
	/* This server as a node: its id (the "node" of everything its provider
	 * runs; NULL: "local"), the regions whose operations it runs (a JSON
	 * array, borrowed; NULL: every configured one), and the store. When
	 * the store is shared by several nodes (PostgreSQL), cloud operations
	 * go through it to a live node hosting their region, and the reads
	 * answer for every node's regions (see cloud_nodes.c). */
	const char *node_id;
	const json_t *host_regions;
	const char *db_url;
	/* providers.local.imageRoots: directories under which a deploy's image
	 * given as a path may lie (borrowed); NULL: image ids only. */
	const json_t *image_roots;
} mz_cloud_config;

mz_code mz_cloud_start(const mz_cloud_config *cfg, mz_cloud **out, mz_err *err);
/* Stops the cloud's threads; instances and load balancers keep running. */
void mz_cloud_stop(mz_cloud *cloud);

/* Registers the cloud's stage and task definitions with the engine. */
void mz_cloud_register_stages(mz_cloud *cloud);

/* The runJob stage on the local provider (cloud_job.c): jobs live under
 * <data_dir>/jobs, the files they publish in the artifact store
 * (<data_dir>/artifacts). Call before mz_engine_start(). */
void mz_cloud_register_jobs(mz_cloud *cloud, const char *data_dir);
/* The tail (at most max bytes) of a job's log, or NULL when the job is
 * unknown; *job (may be NULL) receives {jobId, pid, startTime, workspace,
 * url, ref, application, executionId, jobState: Running|Succeeded|Failed|
 * Unknown, exitCode?, endTime?, commit?}. */
char *mz_cloud_job_log(const char *job_id, size_t max, json_t **job);
/* Every job this node has (their job.json with jobState, exitCode, endTime
 * and the commit built, as above): a new array, in no order. */
json_t *mz_cloud_jobs(void);
/* Registers each runJob template of job.preconfigured.local as a stage
 * type of its own (cloud_preconfigured.c); before mz_engine_start. */
void mz_cloud_register_preconfigured_jobs(const json_t *jobs);
/* The local provider of the cloud (the bakery imports images into it). */
struct mz_local *mz_cloud_local(mz_cloud *cloud);

/* ---- reads for the API (Gate/Clouddriver shapes, reference §2.3) ----- */

/* GET /credentials[?expand=true] */
json_t *mz_cloud_credentials(mz_cloud *cloud, bool expand);
/* GET /applications/{app}/clusters -> {account: [clusterName, ...]} */
json_t *mz_cloud_clusters(mz_cloud *cloud, const char *app);
/* GET /applications/{app}/clusters/{account}/{cluster} -> [Cluster] or NULL */
json_t *mz_cloud_cluster(mz_cloud *cloud, const char *app, const char *account,
                         const char *cluster);
/* GET /applications/{app}/serverGroups[?expand=true] -> [ServerGroupViewModel] */
json_t *mz_cloud_server_groups(mz_cloud *cloud, const char *app, bool expand);
/* GET /serverGroups/{account}/{region}/{name} -> server group or NULL */
json_t *mz_cloud_server_group(mz_cloud *cloud, const char *account, const char *region,
                              const char *name);
/* GET /applications/{app}/loadBalancers -> [LoadBalancer] */
json_t *mz_cloud_load_balancers(mz_cloud *cloud, const char *app);
/* GET /instances/{account}/{region}/{id} -> instance or NULL */
json_t *mz_cloud_instance(mz_cloud *cloud, const char *account, const char *region,
                          const char *id);
/* GET /instances/{account}/{region}/{id}/console -> {"output": "..."} or NULL */
json_t *mz_cloud_console(mz_cloud *cloud, const char *account, const char *region,
                         const char *id);

/* Several nodes: stores an image this node baked (its id, the directory
 * it was imported from, its manifest) in the database the nodes share, so
 * another node hosting its region can deploy it (cloud_images.c). Nothing
 * on one node; a failure is logged, the image stays this node's. */
void mz_cloud_image_share(mz_cloud *c, const char *image_id, const char *dir,
                          const json_t *manifest);
/* Several nodes: the database's records of every node's images,
 * {imageId: {imageId, name, version, manifest, tags, createdTime}} (a
 * deleted one {imageId, "deleted": true}); NULL on one node, or when the
 * database cannot be read. */
json_t *mz_cloud_images_shared(mz_cloud *c);
/* Sets tags (a null value removes one) on the database's record of
 * image_id; MZ_ENOTFOUND when it has none, or on one node. */
mz_code mz_cloud_image_tag(mz_cloud *c, const char *image_id, const json_t *tags,
                           mz_err *err);
/* Deletes image_id for every node: its record says deleted, its stored
 * copy goes; MZ_ECONFLICT while a server group of any node uses it,
 * MZ_ENOTFOUND when the database has no record of it, or on one node. */
mz_code mz_cloud_image_forget(mz_cloud *c, const char *image_id, mz_err *err);

#endif
