/*
 * artifacts.h - Spinnaker's artifact model inside the engine (Kork's
 * Artifact and Orca's ArtifactUtils): artifacts are JSON objects
 * {type, name, version, reference, location, metadata, artifactAccount,
 * provenance} carried by triggers (trigger.artifacts), stage outputs
 * (outputs.artifacts) and the execution.
 *
 * The artifact store keeps the files builds produce under
 * <data>/artifacts/<sha256> (content addressed, immutable); an artifact of
 * type "mizzen/file" names one by reference = its sha256. Types:
 *   git/repo        reference = repository URL, version = commit or ref
 *   mizzen/file     reference = sha256 of a file in the store
 *   embedded/base64 reference = the base64 content
 *   http/file       reference = an http(s) URL
 *
 * expectedArtifacts of a pipeline config ({id, displayName, matchArtifact,
 * defaultArtifact, useDefaultArtifact, usePriorArtifact}) are resolved at
 * launch (engine_launch.c): matchArtifact's string fields are regexes
 * matched against the whole field of the trigger's artifacts.
 *
 * Thread safety: every function may be called from any thread once
 * mz_artifacts_init has run (before any thread uses the store).
 */
#ifndef MZ_ENGINE_ARTIFACTS_H
#define MZ_ENGINE_ARTIFACTS_H

#include "core/core.h"
#include "store/store.h"

/* Sets the store's directory to <data_dir>/artifacts (created). */
mz_code mz_artifacts_init(const char *data_dir, mz_err *err);
/* The store's directory, or NULL before init. */
const char *mz_artifacts_root(void);

/* Streaming SHA-256 of a file, as 64 hex digits. */
mz_code mz_sha256_file(const char *path, char hex[65], int64_t *size, mz_err *err);
/* Several nodes: every file put from now on is also stored in the
 * database at db_url (shared by the nodes), and a file another node put is
 * read from there (mz_artifacts_path_any). NULL: this node's files only. */
void mz_artifacts_share(const char *db_url);
/* Copies a file into the store; hex receives its address. Idempotent.
 * Shared: returns once the other nodes can read it too; MZ_EBUSY when
 * the shared store cannot take it now (the file is kept here: try again). */
mz_code mz_artifacts_put_file(const char *path, char hex[65], int64_t *size, mz_err *err);
/* The path of a stored file (new string), or NULL when it is not stored or
 * hex is not 64 hex digits. */
char *mz_artifacts_path(const char *hex);
/* The same, and when this node does not have the file but another node
 * stored it (mz_artifacts_share), copies it here first (checking its
 * digest). NULL with err set when no node has it. */
char *mz_artifacts_path_any(const char *hex, mz_err *err);

/* Retention (artifacts_prune.c): removes the stored files no one used
 * (published, read by a bake, a job or a download) for longer than up to
 * before_ms, unless a running execution names them; interrupted copies;
 * catalog versions whose file is gone. */
void mz_artifacts_prune(mz_store *st, int64_t before_ms);

/* The catalog of what builds published (artifacts_catalog.c): each
 * mizzen/file a runJob publishes is recorded under its name and version,
 * so the artifact account can list names and versions as Clouddriver's
 * artifact accounts do. */
mz_code mz_artifacts_catalog_add(const char *name, const char *version, const char *reference,
                                 mz_err *err);
/* The names with at least one version still stored, sorted (new array). */
json_t *mz_artifacts_catalog_names(void);
/* A name's versions, newest first, each once, only those still stored:
 * a new array of {version, reference, time}. */
json_t *mz_artifacts_catalog_versions(const char *name);

/* Materialises an artifact's content as a file at dest (mizzen/file: a
 * copy from the store, embedded/base64: decoded, http/file: downloaded).
 * MZ_EINVAL for types that have no file content. */
mz_code mz_artifact_fetch(const json_t *artifact, const char *dest, mz_err *err);

/* The artifact named `name` (or whose type/reference matches it) in the
 * outputs.artifacts of the stage's ancestors, else in the trigger's
 * artifacts and resolvedExpectedArtifacts; borrowed, or NULL. */
json_t *mz_artifact_find(const json_t *exec, const json_t *stage, const char *name);

/* Orca's expected-artifact resolution: fills trigger.resolvedExpectedArtifacts
 * and appends bound artifacts to trigger.artifacts (trigger is modified).
 * prior: the last execution of the same config (may be NULL). Fails with
 * MZ_EINVAL "Unmatched expected artifact <displayName>". */
mz_code mz_artifacts_resolve(const json_t *cfg, json_t *trigger, const json_t *prior,
                             mz_err *err);

/* Does artifact a match the expected artifact's matchArtifact m? (regex
 * full match of every string field given in m) */
bool mz_artifact_matches(const json_t *m, const json_t *a);

#endif
