/*
 * cloud_int.h - internals shared by the files of src/cloud (not for other
 * components): the cloud record and the helpers the stages use to read the
 * cloud model from the provider.
 */
#ifndef MZ_CLOUD_INT_H
#define MZ_CLOUD_INT_H

/* How often monitor and wait tasks look at the provider again. The local
 * provider's state is in memory, so a look costs a store transaction and
 * nothing more; a short interval is most of what keeps a deploy's platform
 * overhead low. */
#define MZ_CLOUD_POLL_MS 150

#include "cloud/cloud.h"
#include "cloud/local/local.h"
#include "engine/engine.h"

typedef struct mz_cloud_node mz_cloud_node;

struct mz_cloud {
	mz_local *local;
	json_t *accounts; /* the configured accounts (with their "permissions") */
	char *node_id;    /* this node's id: the "node" of what its provider runs */
	json_t *host_regions; /* the regions whose operations this node runs */
	/* Several nodes share the store (PostgreSQL): operations are routed
	 * through it to a node hosting their region, and reads include what
	 * the other nodes published (cloud_nodes.c). */
	bool shared;
	mz_cloud_node *node;
};

/* The one cloud of the process: task functions are static definitions
 * without user data, so they reach the provider through this pointer
 * (set by mz_cloud_start, cleared by mz_cloud_stop). */
extern mz_cloud *mz__cloud;

/* ---- stage context helpers (cloud_stages.c) ---------------------------- */

/* The account of a stage or operation context: credentials, else account. */
const char *mz__cloud_account(const json_t *ctx);
/* Its region: region, else the first of regions, else the first key of
 * availabilityZones, else the first of zones; NULL when none. */
const char *mz__cloud_region(const json_t *ctx);
/* Frigga cluster name from {cluster | moniker.cluster | application, stack,
 * freeFormDetails}; a new string or NULL. */
char *mz__cloud_cluster_name(const json_t *ctx);
/* The Frigga application of a name ("app-stack-v001" -> "app"); new string. */
char *mz__cloud_app_of(const char *name);

/* Server groups of one cluster in one account/region, sorted newest first
 * (by createdTime); new array of full server groups, of every node. st and
 * err as for mz__cloud_sgs. */
json_t *mz__cloud_cluster_groups(mz_store *st, const char *account, const char *region,
                                 const char *cluster, mz_err *err);

/* ---- the whole cloud, every node's (cloud_view.c) ------------------------ */

/* This node's provider read live, each server group, instance and load
 * balancer with its "node"; with several nodes, what the other nodes
 * published too. st: a connection inside the caller's transaction (a
 * task's), or NULL to use one of the cloud's own. A store failure sets err
 * and leaves this node's own items only. New references. */
json_t *mz__cloud_sgs(mz_store *st, const char *app, mz_err *err);
/* One server group, or NULL (not found, or err set). */
json_t *mz__cloud_sg(mz_store *st, const char *account, const char *region, const char *name,
                     mz_err *err);
json_t *mz__cloud_lbs(mz_store *st, const char *app, mz_err *err);
json_t *mz__cloud_instance(mz_store *st, const char *account, const char *region,
                           const char *id, mz_err *err);
/* The tail of an instance's console log (this node's instances; for
 * another node's, a line saying where it is); NULL when unknown. */
char *mz__cloud_console(const char *account, const char *region, const char *id, size_t max);
/* Sets "node" on a server group view and its instances / a load balancer
 * view and its server groups. */
void mz__cloud_tag_sg(json_t *sg, const char *node);
void mz__cloud_tag_lb(json_t *lb, const char *node);

/* ---- several nodes (cloud_nodes.c, cloud_route.c) ---------------------- */

/* The channel a queued operation is announced on (PostgreSQL NOTIFY). */
#define MZ_CLOUD_CHANNEL "mz_cloud"

/* Opens the node machinery when the store at db_url is shared: the
 * publisher of this node's cloud and the runner of the operations routed
 * to it. Sets cloud->shared. */
mz_code mz__cloud_nodes_start(mz_cloud *cloud, const char *db_url, mz_err *err);
void mz__cloud_nodes_stop(mz_cloud *cloud);
/* A connection of the cloud's own (for reads outside any transaction),
 * and giving it back. NULL with err set when none can be opened. */
mz_store *mz__cloud_store_take(mz_err *err);
void mz__cloud_store_give(mz_store *st);
/* Whether this node hosts region. */
bool mz__cloud_hosts(const char *region);

/* ---- shared by the stage files (cloud_stages.c) ------------------------- */

/* The context of the stage being planned, created empty if missing
 * (borrowed). */
json_t *mz__cloud_plan_ctx(mz_plan *p);
/* A new context for a stage a strategy or rollback adds: ctx's account
 * (as credentials), cloudProvider local, cluster, region and regions, and
 * interestingHealthProviderNames. */
json_t *mz__cloud_base_ctx(const json_t *ctx, const char *cluster, const char *region);
/* False, with the result set TERMINAL and the reason, when the account or
 * region is not configured or the execution's user may not WRITE to the
 * account. */
bool mz__cloud_location_ok(mz_task_ctx *c, mz_task_result *r, const char *account,
                           const char *region);

void mz__cloud_register_stages(void);
void mz__cloud_register_preconditions(void); /* cloud_preconditions.c */
void mz__cloud_register_lb_stages(void);      /* cloud_lbs.c */
void mz__cloud_register_rollback_stages(void); /* cloud_rollback.c */

/* Several nodes: makes sure this node has image_id, importing it from
 * the database when another node stored it (cloud_images.c); MZ_OK for a
 * path or an image it has. */
mz_code mz__cloud_image_fetch(mz_cloud *c, const char *image_id, mz_err *err);

#endif
