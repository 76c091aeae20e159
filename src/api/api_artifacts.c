/* api_artifacts.c - the artifact store and build jobs through the API:
 *   GET /artifacts/local/{sha256}            the stored file (download)
 *   GET /artifacts/local/{sha256}/metadata   {reference, size}
 *   GET /applications/{app}/jobs/{account}/{region}/{jobId}        the job
 *   GET /applications/{app}/jobs/{account}/{region}/{jobId}/logs   its log
 *       (text/plain, the last 1 MiB; readable while the job runs)
 * Several nodes: a job runs on one node (its files are there); another
 * node answers for it from its stage, naming the node that has the log. */
#include "api/api_int.h"

#include "cloud/cloud.h"
#include "engine/artifacts.h"
#include "engine/engine.h"

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

/* The stage of application app that started job_id, from the execution
 * its id names ("j-<executionId>-<stageId>-...", mz_id_from_key of the
 * engine's key; an execution id may itself hold '-'); NULL when none.
 * *exec receives the execution the stage is borrowed from. */
static json_t *
job_stage(api_req *r, const char *app, const char *job_id, json_t **exec)
{
	*exec = NULL;
	if (strncmp(job_id, "j-", 2) != 0)
		return NULL;
	mz_store *st = api_store(r);
	for (const char *dash = strchr(job_id + 2, '-'); st && dash; dash = strchr(dash + 1, '-')) {
		char *id = mz_asprintf("%.*s", (int)(dash - job_id - 2), job_id + 2);
		json_t *e = NULL;
		mz_err err = {0};
		mz_code rc = mz_exec_get(st, id, &e, &err);
		free(id);
		if (rc != MZ_OK || !mz_streq(mz_json_str(e, "application"), app)) {
			json_decref(e);
			continue;
		}
		size_t i;
		json_t *stage;
		json_array_foreach(json_object_get(e, "stages"), i, stage) {
			if (mz_streq(mz_json_str(json_object_get(stage, "context"), "jobId"), job_id) &&
			    mz_json_str(stage, "node")) {
				*exec = e;
				return stage;
			}
		}
		json_decref(e);
	}
	return NULL;
}

/* The address of a node, or "unknown" (new string). */
static char *
node_address(api_req *r, const char *node)
{
	json_t *nodes = NULL;
	mz_err err = {0};
	char *out = NULL;
	mz_store *st = api_store(r);
	if (st && mz_node_list(st, mz_now_ms(), MZ_NODE_LEASE_MS, &nodes, &err) == MZ_OK) {
		size_t i;
		json_t *n;
		json_array_foreach(nodes, i, n)
			if (!out && mz_streq(mz_json_str(n, "id"), node))
				out = mz_strdup(mz_json_str(n, "address"));
	}
	json_decref(nodes);
	return out ? out : mz_strdup("unknown");
}

/* A job of another node, as this node knows it from the job's stage. */
static json_t *
job_elsewhere(api_req *r, const char *app, const char *job_id)
{
	json_t *exec = NULL;
	json_t *stage = job_stage(r, app, job_id, &exec);
	if (!stage)
		return NULL;
	json_t *ctx = json_object_get(stage, "context");
	char *addr = node_address(r, mz_json_str(stage, "node"));
	const char *state = mz_json_str(json_object_get(ctx, "jobStatus"), "jobState");
	json_t *job = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I}", "jobId", job_id,
	                        "executionId", mz_json_str(exec, "id"), "application", app,
	                        "jobState", state ? state : "Unknown", "node",
	                        mz_json_str(stage, "node"), "startTime",
	                        (json_int_t)mz_json_int(ctx, "jobStartTime", 0));
	json_object_set_new(job, "address", json_string(addr));
	free(addr);
	json_decref(exec);
	return job;
}

static void
job_get(api_req *r)
{
	json_t *job = NULL;
	char *log = mz_cloud_job_log(r->param[3], 0, &job);
	free(log);
	if (!job)
		job = job_elsewhere(r, r->param[0], r->param[3]);
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
	if (!log && (job = job_elsewhere(r, r->param[0], r->param[3])) != NULL)
		log = mz_asprintf("(job %s runs on node %s (%s): its log is in that node's data "
		                  "directory, jobs/%s/log; read it through that node: "
		                  "http://%s/applications/%s/jobs/local/local/%s/logs)\n",
		                  r->param[3], mz_json_str(job, "node"), mz_json_str(job, "address"),
		                  r->param[3], mz_json_str(job, "address"), r->param[0], r->param[3]);
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
