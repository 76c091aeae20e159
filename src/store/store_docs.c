/* store_docs.c - Front50's small documents that are always read whole:
 * projects and pipeline templates. Each kind is one JSON object in the
 * key/value table ("front50:projects": {lower-cased name: project};
 * "front50:pipelineTemplates": {id or id:tag: template}). Callers change
 * them inside a transaction (theirs, else one of the writer's own), so a
 * read-modify-write is atomic: SQLite has one writer at a time, and on
 * PostgreSQL the read takes a lock on the document's key first. */
#include "store/store_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROJECTS_KEY "front50:projects"

#define TEMPLATES_KEY "front50:pipelineTemplates"

static mz_code
load_doc(mz_store *st, const char *key, json_t **all, mz_err *err)
{
	char *text = NULL;
	/* Inside a transaction the document is about to change: on a shared
	 * PostgreSQL, one node at a time (SQLite's single writer needs no
	 * more). */
	mz_code rc = st->tx_depth ? mz_store_lock(st, key, err) : MZ_OK;
	if (rc != MZ_OK)
		return rc;
	rc = mz_kv_get(st, key, &text, err);
	if (rc == MZ_ENOTFOUND) {
		*all = json_object();
		return MZ_OK;
	}
	if (rc != MZ_OK)
		return rc;
	*all = mz_json_parse(text, strlen(text), err);
	free(text);
	if (!*all || !json_is_object(*all)) {
		json_decref(*all);
		*all = json_object(); /* unreadable: start again rather than fail every call */
	}
	return MZ_OK;
}

static mz_code
save_doc(mz_store *st, const char *key, const json_t *all, mz_err *err)
{
	char *text = mz_json_dump(all);
	mz_code rc = mz_kv_put(st, key, text, err);
	free(text);
	return rc;
}

/* A document is read, changed and written back whole: the writers below
 * run in the caller's transaction, else in one of their own, so that
 * load_doc always takes the document's lock (PostgreSQL) or the write lock
 * (SQLite) before it reads, and a concurrent update is never overwritten
 * by one that read the document before it. Ends the writer's own
 * transaction (own) with its outcome rc. */
static mz_code
doc_tx_end(mz_store *st, bool own, mz_code rc, mz_err *err)
{
	if (!own)
		return rc;
	if (rc == MZ_OK)
		return mz_store_commit(st, err);
	mz_store_rollback(st);
	return rc;
}

static char *
lower(const char *s)
{
	char *p = mz_strdup(s);
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

/* The key of the project with this id, else this name; NULL if none. */
static const char *
find(json_t *all, const char *id_or_name)
{
	const char *k;
	json_t *p;
	json_object_foreach(all, k, p) {
		if (mz_streq(mz_json_str(p, "id"), id_or_name))
			return k;
	}
	json_object_foreach(all, k, p) {
		if (mz_strcaseeq(mz_json_str(p, "name"), id_or_name))
			return k;
	}
	return NULL;
}

static json_t *sorted_values(json_t *all, bool latest_only);

mz_code
mz_project_list(mz_store *st, json_t **projects, mz_err *err)
{
	json_t *all = NULL;
	mz_code rc = load_doc(st, PROJECTS_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	*projects = sorted_values(all, false);
	json_decref(all);
	return MZ_OK;
}

/* The values of obj ordered by key; with latest_only, only keys without a
 * ':' (a template's latest version, not its tags). New reference. */
static json_t *
sorted_values(json_t *all, bool latest_only)
{
	/* json objects iterate in insertion order; sort the keys for a stable list */
	size_t n = json_object_size(all), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *p;
	json_object_foreach(all, k, p) keys[i++] = k;
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
			const char *t = keys[b];
			keys[b] = keys[b - 1];
			keys[b - 1] = t;
		}
	json_t *out = json_array();
	for (i = 0; i < n; i++)
		if (!latest_only || !strchr(keys[i], ':'))
			json_array_append(out, json_object_get(all, keys[i]));
	free(keys);
	return out;
}

mz_code
mz_project_get(mz_store *st, const char *id_or_name, json_t **project, mz_err *err)
{
	json_t *all = NULL;
	mz_code rc = load_doc(st, PROJECTS_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	const char *k = find(all, id_or_name);
	*project = k ? json_incref(json_object_get(all, k)) : NULL;
	json_decref(all);
	return *project ? MZ_OK : mz_fail(err, MZ_ENOTFOUND, "Project not found: %s", id_or_name);
}

static mz_code
project_put(mz_store *st, json_t *project, mz_err *err)
{
	const char *name = mz_json_str(project, "name");
	if (!name || !*name)
		return mz_fail(err, MZ_EINVAL, "a project needs a 'name'");
	json_t *all = NULL;
	mz_code rc = load_doc(st, PROJECTS_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	const char *id = mz_json_str(project, "id");
	const char *k = id ? find(all, id) : NULL;
	const char *same_name = find(all, name);
	if (same_name && (!k || strcmp(same_name, k) != 0) &&
	    !mz_streq(mz_json_str(json_object_get(all, same_name), "id"), id)) {
		json_decref(all);
		return mz_fail(err, MZ_ECONFLICT, "A project named '%s' already exists", name);
	}
	char ts[32];
	snprintf(ts, sizeof(ts), "%" PRId64, mz_now_ms());
	json_t *prev = k ? json_object_get(all, k) : NULL;
	if (!id || !*id) {
		char nid[37];
		mz_uuid(nid);
		json_object_set_new(project, "id", json_string(nid));
	}
	json_object_set_new(project, "createTs", prev && json_object_get(prev, "createTs")
	                    ? json_incref(json_object_get(prev, "createTs")) : json_string(ts));
	json_object_set_new(project, "updateTs", json_string(ts));
	if (!json_is_object(json_object_get(project, "config")))
		json_object_set_new(project, "config", json_object());
	json_t *cfg = json_object_get(project, "config");
	static const char *const lists[] = {"applications", "clusters", "pipelineConfigs"};
	for (int i = 0; i < 3; i++)
		if (!json_is_array(json_object_get(cfg, lists[i])))
			json_object_set_new(cfg, lists[i], json_array());
	if (k) {
		char *old = mz_strdup(k); /* k lives in the object being changed */
		json_object_del(all, old); /* a rename moves it to its new key */
		free(old);
	}
	char *key = lower(name);
	json_object_set(all, key, project);
	free(key);
	rc = save_doc(st, PROJECTS_KEY, all, err);
	json_decref(all);
	return rc;
}

mz_code
mz_project_put(mz_store *st, json_t *project, mz_err *err)
{
	bool own = !st->tx_depth;
	mz_code rc = own ? mz_store_begin(st, err) : MZ_OK;
	return rc == MZ_OK ? doc_tx_end(st, own, project_put(st, project, err), err) : rc;
}

static mz_code
project_delete(mz_store *st, const char *id_or_name, mz_err *err)
{
	json_t *all = NULL;
	mz_code rc = load_doc(st, PROJECTS_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	const char *k = find(all, id_or_name);
	if (!k) {
		json_decref(all);
		return mz_fail(err, MZ_ENOTFOUND, "Project not found: %s", id_or_name);
	}
	char *old = mz_strdup(k);
	json_object_del(all, old);
	free(old);
	rc = save_doc(st, PROJECTS_KEY, all, err);
	json_decref(all);
	return rc;
}

mz_code
mz_project_delete(mz_store *st, const char *id_or_name, mz_err *err)
{
	bool own = !st->tx_depth;
	mz_code rc = own ? mz_store_begin(st, err) : MZ_OK;
	return rc == MZ_OK ? doc_tx_end(st, own, project_delete(st, id_or_name, err), err) : rc;
}

/* ---- pipeline templates ----------------------------------------------- */

static char *
template_key(const char *id, const char *tag)
{
	return tag && *tag && strcmp(tag, "latest") != 0 ? mz_asprintf("%s:%s", id, tag)
	                                                  : mz_strdup(id);
}

mz_code
mz_template_list(mz_store *st, bool all_versions, json_t **templates, mz_err *err)
{
	json_t *all = NULL;
	mz_code rc = load_doc(st, TEMPLATES_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	*templates = sorted_values(all, !all_versions);
	json_decref(all);
	return MZ_OK;
}

mz_code
mz_template_get(mz_store *st, const char *id, const char *tag, json_t **tmpl, mz_err *err)
{
	json_t *all = NULL;
	mz_code rc = load_doc(st, TEMPLATES_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	char *key = template_key(id, tag);
	*tmpl = json_incref(json_object_get(all, key));
	free(key);
	json_decref(all);
	if (!*tmpl)
		return mz_fail(err, MZ_ENOTFOUND, "Pipeline template not found: %s%s%s", id,
		               tag && *tag ? ":" : "", tag && *tag ? tag : "");
	return MZ_OK;
}

static mz_code
template_put(mz_store *st, json_t *tmpl, const char *tag, mz_err *err)
{
	const char *id = mz_json_str(tmpl, "id");
	if (!id || !*id || strchr(id, ':'))
		return mz_fail(err, MZ_EINVAL, "a pipeline template needs an 'id' without ':'");
	json_t *all = NULL;
	mz_code rc = load_doc(st, TEMPLATES_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	char ts[32];
	snprintf(ts, sizeof(ts), "%" PRId64, mz_now_ms());
	json_object_set_new(tmpl, "updateTs", json_string(ts));
	if (tag && *tag)
		json_object_set_new(tmpl, "tag", json_string(tag));
	/* the latest version is always the last one saved, tagged or not */
	json_object_set(all, id, tmpl);
	if (tag && *tag && strcmp(tag, "latest") != 0) {
		char *key = template_key(id, tag);
		json_object_set(all, key, tmpl);
		free(key);
	}
	rc = save_doc(st, TEMPLATES_KEY, all, err);
	if (rc == MZ_OK)
		rc = mz__pipelines_changed(st, err); /* the configs using it render anew */
	json_decref(all);
	return rc;
}

mz_code
mz_template_put(mz_store *st, json_t *tmpl, const char *tag, mz_err *err)
{
	bool own = !st->tx_depth;
	mz_code rc = own ? mz_store_begin(st, err) : MZ_OK;
	return rc == MZ_OK ? doc_tx_end(st, own, template_put(st, tmpl, tag, err), err) : rc;
}

static mz_code
template_delete(mz_store *st, const char *id, const char *tag, mz_err *err)
{
	json_t *all = NULL;
	mz_code rc = load_doc(st, TEMPLATES_KEY, &all, err);
	if (rc != MZ_OK)
		return rc;
	bool found = false;
	if (tag && *tag) {
		char *key = template_key(id, tag);
		found = json_object_del(all, key) == 0;
		free(key);
	} else {
		/* the template and every tag of it */
		size_t idl = strlen(id);
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(all, tmp, k, v) {
			if (strcmp(k, id) == 0 || (strncmp(k, id, idl) == 0 && k[idl] == ':')) {
				json_object_del(all, k);
				found = true;
			}
		}
	}
	if (found)
		rc = save_doc(st, TEMPLATES_KEY, all, err);
	if (found && rc == MZ_OK)
		rc = mz__pipelines_changed(st, err);
	json_decref(all);
	if (rc == MZ_OK && !found)
		return mz_fail(err, MZ_ENOTFOUND, "Pipeline template not found: %s", id);
	return rc;
}

mz_code
mz_template_delete(mz_store *st, const char *id, const char *tag, mz_err *err)
{
	bool own = !st->tx_depth;
	mz_code rc = own ? mz_store_begin(st, err) : MZ_OK;
	return rc == MZ_OK ? doc_tx_end(st, own, template_delete(st, id, tag, err), err) : rc;
}

/* ---- application notifications ---------------------------------------- */

static char *
notifications_key(const char *app)
{
	char *l = lower(app);
	char *k = mz_asprintf("front50:notifications:%s", l);
	free(l);
	return k;
}

mz_code
mz_app_notifications_get(mz_store *st, const char *app, json_t **prefs, mz_err *err)
{
	char *key = notifications_key(app);
	mz_code rc = load_doc(st, key, prefs, err);
	free(key);
	if (rc == MZ_OK)
		json_object_set_new(*prefs, "application", json_string(app));
	return rc;
}

mz_code
mz_app_notifications_put(mz_store *st, const char *app, const json_t *prefs, mz_err *err)
{
	char *key = notifications_key(app);
	mz_code rc = save_doc(st, key, prefs, err);
	free(key);
	return rc;
}
