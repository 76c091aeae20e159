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

#endif
