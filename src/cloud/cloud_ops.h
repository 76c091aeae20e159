/* cloud_ops.h - task helpers shared by the stage files of src/cloud. */
#ifndef MZ_CLOUD_OPS_H
#define MZ_CLOUD_OPS_H

#include "cloud/cloud_int.h"

json_t *mz__cloud_ctx(mz_task_ctx *c);
json_t *mz__cloud_dsg(const char *region, const char *name);
bool mz__cloud_submit(mz_task_ctx *c, mz_task_result *r, const char *op, const json_t *desc,
                      const char *suffix, char out_id[40]);
void mz__cloud_submitted(mz_task_result *r, const char *op, const char *id);
bool mz__cloud_inst_up(const json_t *inst, const json_t *filter);
bool mz__cloud_inst_down(const json_t *inst, const json_t *filter);
void mz__cloud_register_common_tasks(void);

/* Reads of the whole cloud for a task (cloud_view.c): false when the store
 * failed, after setting r so that the task is tried again (nothing is
 * decided on a partial view). *sg NULL: no such server group. */
bool mz__cloud_read_sg(mz_task_ctx *c, mz_task_result *r, const char *account,
                       const char *region, const char *name, json_t **sg);
bool mz__cloud_read_cluster(mz_task_ctx *c, mz_task_result *r, const char *account,
                            const char *region, const char *cluster, json_t **groups);
/* The server groups of a list (in its order) that are enabled, or all of
 * them; a new array. */
json_t *mz__cloud_select(const json_t *groups, bool only_enabled);

/* Several nodes (cloud_nodes.c): queues operation op for a live node that
 * hosts its region (the node holding the server group or load balancer it
 * names, when one does), under the request id key. False after setting r. */
bool mz__cloud_route(mz_task_ctx *c, mz_task_result *r, const char *op, const json_t *desc,
                     const char *key, char out_id[40]);
/* The provider task of routed operation id as its node last wrote it back
 * (a queued one: a task that has not started); NULL when there is no such
 * operation (err clear) or the store failed (err set). *waiting receives
 * why it cannot progress now (no live node hosts its region, its node is
 * dead), or "" when it can. */
json_t *mz__cloud_routed_task(mz_store *st, const char *id, char *waiting, size_t n,
                              mz_err *err);

/* Whether any of the nodes (a JSON array of ids; nulls skipped) is not
 * alive: *why names it, "" when all are. False when the store failed. */
bool mz__cloud_nodes_down(mz_store *st, const json_t *node_ids, char *why, size_t n,
                          mz_err *err);

#endif
