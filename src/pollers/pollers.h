/*
 * pollers.h - pollers that turn changes in the outside world into events
 * (Spinnaker's Igor): git repositories (`git ls-remote`), container
 * registries (Docker Registry HTTP API v2 tags/list) and Jenkins jobs
 * (Jenkins' JSON API); plus the `jenkins` stage that starts a job and waits
 * for it.
 *
 * Every `interval_ms` a poller thread reads the enabled triggers of every
 * enabled pipeline, polls each distinct target once, and compares with a
 * durable cursor in the store's key/value table (last hash per url+branch,
 * tags seen per repository, last build number per job). The first poll of
 * a target only records the cursor (no flood on first start); later ones
 * store one event per new commit, tag or completed build, oldest first,
 * with a deterministic id, in the same transaction that advances the
 * cursor — so a crash neither loses nor doubles one.
 *
 * git runs through src/proc with an argument vector, never a shell, in the
 * sandbox of a build's checkout (a local repository seen read-only).
 */
#ifndef MZ_POLLERS_H
#define MZ_POLLERS_H

#include "core/core.h"
#include "engine/engine.h"
#include "events/events.h"

typedef struct mz_pollers mz_pollers;

typedef struct mz_pollers_config {
	const char *db_url;
	mz_events *events;          /* woken after events are stored */
	mz_engine *engine;          /* its node's lease: one node of a cluster polls */
	int64_t interval_ms;        /* 0: $MZ_POLL_INTERVAL_MS, else 30000 */
	/* [{"name", "address"}]: docker registry accounts and Jenkins masters
	 * (borrowed, copied). A master not listed is looked up in
	 * $MZ_JENKINS_<NAME>_URL (upper-case, other characters as '_'). */
	const json_t *docker_accounts;
	const json_t *jenkins_masters;
} mz_pollers_config;

mz_code mz_pollers_start(const mz_pollers_config *cfg, mz_pollers **out, mz_err *err);
void mz_pollers_stop(mz_pollers *p);

/* Takes the baseline (branch head) of every enabled polled git trigger of
 * cfg whose target has no cursor yet: called by the API right after a
 * pipeline is saved, so a commit pushed after the save starts it (one git
 * ls-remote per new target; no transaction held meanwhile). */
void mz_pollers_git_baseline(mz_store *st, const json_t *cfg);

/* Registers the `jenkins` stage with the engine (before mz_engine_start);
 * masters as in the config above (copied). */
void mz_pollers_register_stages(const json_t *jenkins_masters);

/* ---- pipelines from git (repos.c) ---------------------------------------- */

typedef struct mz_repos mz_repos;

typedef struct mz_repos_config {
	const char *db_url;
	const char *data_dir;       /* mirrors go to DATA/pipeline-repos */
	const json_t *repos;        /* [{"url", "branch", "path"}] (borrowed, copied) */
	int64_t interval_ms;        /* 0: $MZ_POLL_INTERVAL_MS, else 30000 */
} mz_repos_config;

/* Starts the thread that keeps each repository's configs in sync (none
 * when repos is empty: *out NULL). MZ_EINVAL for a malformed entry. */
mz_code mz_repos_start(const mz_repos_config *cfg, mz_repos **out, mz_err *err);
/* Syncs every repository now (a push webhook); NULL-safe. */
void mz_repos_wake(mz_repos *rp);
void mz_repos_stop(mz_repos *rp);
/* The kv key of a repository's sync state: {"commit", "files", "errors":
 * {file: {"file", "commit", "message"}}, "error", "lastSync"}. */
char *mz_repos_state_key(const json_t *repo);

/* The base URL of a Jenkins master, malloc'd, or NULL if unknown. */
char *mz_jenkins_master_url(const json_t *masters, const char *name);

#endif
