/*
 * pollers_int.h - for the files in src/pollers only.
 */
#ifndef MZ_POLLERS_INT_H
#define MZ_POLLERS_INT_H

#include "pollers/pollers.h"

#include <pthread.h>

/* "/job/a/job/b" for "a/b", each name %-encoded; malloc'd. */
char *mz__jenkins_job_path(const char *job);
/* Java .properties text as a JSON object of strings. */
json_t *mz__parse_properties(const char *text);

#endif
