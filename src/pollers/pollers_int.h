/*
 * pollers_int.h - for the files in src/pollers only.
 */
#ifndef MZ_POLLERS_INT_H
#define MZ_POLLERS_INT_H

#include "httpc/httpc.h"
#include "pollers/pollers.h"

#include <pthread.h>

/* "/job/a/job/b" for "a/b", each name %-encoded; malloc'd. */
char *mz__jenkins_job_path(const char *job);
/* Java .properties text as a JSON object of strings. */
json_t *mz__parse_properties(const char *text);
/* A build's archived property file (<base><job_path>/<number>/artifact/<file>)
 * as a JSON object: parsed as JSON when it ends in .json, else as Java
 * properties. NULL (logged) when it cannot be fetched. */
json_t *mz__jenkins_properties(const char *base, const char *job_path, json_int_t number,
                               const char *file, long timeout_ms);

#endif
