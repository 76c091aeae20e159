/* api_artifacts.c - the artifact store and build jobs through the API:
 *   GET /artifacts/local/{sha256}            the stored file (download)
 *   GET /artifacts/local/{sha256}/metadata   {reference, size}
 *   GET /applications/{app}/jobs/{account}/{region}/{jobId}        the job
 *   GET /applications/{app}/jobs/{account}/{region}/{jobId}/logs   its log
 *       (text/plain, the last 1 MiB; readable while the job runs) */
#include "api/api_int.h"

#include "cloud/cloud.h"
#include "engine/artifacts.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file a build published on another node is read from the store the
 * nodes share (and kept here). */
static void
artifact_get(api_req *r)
{
	mz_err err = {0};
	char *p = mz_artifacts_path_any(r->param[0], &err);
	int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
	struct stat sb;
	free(p);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		api_reply_error(r, 404, "Artifact not found (reference: %s)", r->param[0]);
		return;
	}
	api_reply_empty(r, 200);
	r->content_type = "application/octet-stream";
	r->file_fd = fd;
	r->file_size = (size_t)sb.st_size;
}

static void
artifact_meta(api_req *r)
{
	mz_err err = {0};
	char *p = mz_artifacts_path_any(r->param[0], &err);
	struct stat sb;
	if (!p || stat(p, &sb) != 0) {
		free(p);
		api_reply_error(r, 404, "Artifact not found (reference: %s)", r->param[0]);
		return;
	}
	free(p);
	api_reply_json(r, 200, json_pack("{s:s, s:s, s:I, s:s, s:I}", "type", "mizzen/file",
	                                 "reference", r->param[0], "size", (json_int_t)sb.st_size,
	                                 "artifactAccount", "mizzen", "createdTime",
	                                 (json_int_t)sb.st_mtime * 1000));
}

static void
job_get(api_req *r)
{
	json_t *job = NULL;
	char *log = mz_cloud_job_log(r->param[3], 0, &job);
	free(log);
	if (!job || !mz_streq(mz_json_str(job, "application"), r->param[0])) {
		json_decref(job);
		api_reply_error(r, 404, "Job not found (application: %s, id: %s)", r->param[0],
		                r->param[3]);
		return;
	}
	json_object_set_new(job, "name", json_string(r->param[3]));
	json_object_set_new(job, "account", json_string(r->param[1]));
	json_object_set_new(job, "location", json_string(r->param[2]));
	json_object_set_new(job, "provider", json_string("local"));
	api_reply_json(r, 200, job);
}

static void
job_logs(api_req *r)
{
	json_t *job = NULL;
	char *log = mz_cloud_job_log(r->param[3], 1u << 20, &job);
	if (!log || !mz_streq(mz_json_str(job, "application"), r->param[0])) {
		free(log);
		json_decref(job);
		api_reply_error(r, 404, "Job not found (application: %s, id: %s)", r->param[0],
		                r->param[3]);
		return;
	}
	json_decref(job);
	api_reply_raw(r, 200, "text/plain; charset=utf-8", log, strlen(log));
}

const api_route api_artifact_routes[] = {
	{"GET", "/artifacts/local/{ref}", artifact_get},
	{"GET", "/artifacts/local/{ref}/metadata", artifact_meta},
	{"GET", "/applications/{app}/jobs/{account}/{region}/{id}", job_get},
	{"GET", "/applications/{app}/jobs/{account}/{region}/{id}/logs", job_logs},
	{NULL, NULL, NULL},
};
