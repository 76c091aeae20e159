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

struct mz_cloud {
	mz_local *local;
	json_t *accounts; /* the configured accounts (with their "permissions") */
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
 * (by createdTime); new array of full server groups. */
json_t *mz__cloud_cluster_groups(const char *account, const char *region,
                                 const char *cluster);

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

#endif
