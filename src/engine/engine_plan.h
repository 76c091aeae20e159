/* engine_plan.h - for the files in src/engine only: the planner state. */
#ifndef MZ_ENGINE_PLAN_H
#define MZ_ENGINE_PLAN_H

#include "engine/engine_int.h"

struct mz_plan {
	mz_batch *batch;
	mz_store *store;
	json_t *exec;
	json_t *stage;
	json_t *tasks; /* array of task names */
	char last_before[256];
	char last_after[256];
	int added;
};

void mz__plan_init(mz_plan *p, mz_batch *b, json_t *exec, json_t *stage);
void mz__plan_release(mz_plan *p);
mz_code mz__plan_build_tasks(mz_plan *p, mz_err *err);

#endif
