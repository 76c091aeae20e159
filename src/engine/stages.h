/* stages.h - for the files in src/engine only: registration of the
 * built-in stage families. */
#ifndef MZ_STAGES_H
#define MZ_STAGES_H

void mz__register_basic_stages(void);    /* stages_basic.c */
void mz__register_pipeline_stage(void);  /* stage_pipeline.c */
void mz__register_admin_stages(void);    /* stages_admin.c */
void mz__register_project_stages(void);  /* stages_project.c */
void mz__register_artifact_stages(void); /* stages_artifacts.c */

void mz__register_save_stage(void);     /* stage_save_pipeline.c */

/* Saves cfg (changed in place: id, lastModifiedBy, updateTs) as the
 * execution's user would through POST /pipelines: validated (a v2 config
 * must render), WRITE on its application, the runAsUser rule, not managed
 * in git, no other config of that name, the stale check when asked,
 * trigger secrets and sealed headers kept (config_save.c). *created tells
 * a new config from an update. A store failure is also set on the batch
 * (which rolls back); any other error is the caller's to report. */
struct mz_task_ctx;
mz_code mz__save_config(struct mz_task_ctx *c, json_t *cfg, bool stale_check, bool *created,
                        mz_err *err);
/* Whether user may do perm ("READ", "WRITE", "EXECUTE") under permissions,
 * or is an admin ("ADMIN"; permissions unused), by the resolver main.c
 * sets (stage_webhook_preconf.c); without one, yes. */
bool mz__engine_permits(mz_store *st, const char *user, const json_t *permissions,
                        const char *perm);

#endif
