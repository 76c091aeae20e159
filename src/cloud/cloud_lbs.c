/* cloud_lbs.c - Deck's plural load balancer stage: upsertLoadBalancers
 * {"loadBalancers": [{upsertLoadBalancer fields}, ...]} runs one
 * upsertLoadBalancer per entry, in parallel, each with the stage's own
 * fields (cloudProvider, credentials, region, ...) under the entry's. */
#include "cloud/cloud_int.h"

#include <stdio.h>

static mz_code
upsert_lbs_plan(mz_plan *p, mz_err *err)
{
	json_t *ctx = json_object_get(mz_plan_stage(p), "context");
	json_t *lbs = json_object_get(ctx, "loadBalancers");
	if (!json_is_array(lbs) || !json_array_size(lbs))
		return mz_fail(err, MZ_EINVAL, "upsertLoadBalancers needs 'loadBalancers': a list of "
		               "load balancers");
	size_t i;
	json_t *lb;
	json_array_foreach(lbs, i, lb) {
		if (!json_is_object(lb) || !mz_json_str(lb, "name"))
			return mz_fail(err, MZ_EINVAL, "loadBalancers[%zu] needs a 'name'", i);
		json_t *c = json_deep_copy(ctx);
		json_object_del(c, "loadBalancers");
		json_object_del(c, "stageEnabled");
		mz_json_merge(c, lb);
		char name[160];
		snprintf(name, sizeof(name), "Upsert load balancer %s", mz_json_str(lb, "name"));
		mz_plan_before(p, "upsertLoadBalancer", name, c, false);
	}
	return MZ_OK;
}

static const mz_stage_def upsert_lbs_stage = {.type = "upsertLoadBalancers",
                                              .plan = upsert_lbs_plan};

void
mz__cloud_register_lb_stages(void)
{
	mz_engine_register_stage(&upsert_lbs_stage);
}
