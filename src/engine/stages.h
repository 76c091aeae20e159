/* stages.h - for the files in src/engine only: registration of the
 * built-in stage families. */
#ifndef MZ_STAGES_H
#define MZ_STAGES_H

void mz__register_basic_stages(void);    /* stages_basic.c */
void mz__register_pipeline_stage(void);  /* stage_pipeline.c */
void mz__register_admin_stages(void);    /* stages_admin.c */
void mz__register_project_stages(void);  /* stages_project.c */
void mz__register_artifact_stages(void); /* stages_artifacts.c */

#endif
