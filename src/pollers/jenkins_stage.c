/* jenkins_stage.c - placeholder, replaced below */
#include "pollers/pollers_int.h"

void
mz_pollers_register_stages(const json_t *jenkins_masters)
{
	(void)jenkins_masters;
}
