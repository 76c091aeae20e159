/* stages_register.c - registers every built-in stage type. */
#include "engine/engine_int.h"

#include "engine/stage_webhook.h"
#include "engine/stages.h"

void
mz_engine_register_builtin(void)
{
	mz__register_basic_stages();
	mz__register_pipeline_stage();
	mz__register_admin_stages();
	mz__register_project_stages();
	mz__register_artifact_stages();
	mz__register_save_stage();
	mz__register_webhook_stage();
}
