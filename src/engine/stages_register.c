/* stages_register.c - registers every built-in stage type. */
#include "engine/engine_int.h"

#if __has_include("engine/stage_webhook.c") /* until the webhook stage lands */
#include "engine/stage_webhook.h"
#define MZ_HAVE_WEBHOOK 1
#endif
#include "engine/stages.h"

void
mz_engine_register_builtin(void)
{
	mz__register_basic_stages();
	mz__register_pipeline_stage();
	mz__register_admin_stages();
#ifdef MZ_HAVE_WEBHOOK
	mz__register_webhook_stage();
#endif
}
