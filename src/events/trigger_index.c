/*
 * trigger_index.c - the triggers of every pipeline config, indexed when the
 * configs change rather than parsed on every cron tick and for every event.
 *
 * With thousands of configs, listing and parsing them all four times a
 * second (cron) and once per incoming event cost a fifth of a core while
 * idle and tens of milliseconds per event. The store changes a generation
 * token with every save and delete (mz_pipeline_generation), so the
 * dispatcher reads one small row to know whether its index is current, and
 * rebuilds it only then. The index keeps only configs that can trigger
 * (enabled, with an enabled trigger), grouped by what events they can
 * match; matching itself is unchanged (mz_trigger_match on candidates).
 * A v2 templated config is indexed with the triggers of its rendered
 * pipeline (mz_template_trigger_views): those of its template, unless it
 * excludes them, and its own; a template's save changes the generation too.
 */
#include "events/events_int.h"

#include <stdlib.h>
#include <string.h>

void
mz__index_free(mz_trigger_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->ncrons; i++) {
		json_decref(idx->crons[i].pipeline);
		free(idx->crons[i].tkey);
		mz_cron_free(idx->crons[i].cron);
	}
	free(idx->crons);
	json_decref(idx->by_class);
	free(idx->generation);
	free(idx);
}

/* The key that says a cron entry is the same schedule as before. */
static char *
cron_identity(const mz_cron_entry *e)
{
	return mz_asprintf("%s\x1f%s\x1f%s", mz_json_str(e->pipeline, "id"), e->tkey,
	                   mz_json_str(e->trigger, "cronExpression"));
}

static void
add_cron(mz_trigger_index *idx, json_t *p, const json_t *t, size_t j, size_t *cap)
{
	const char *pid = mz_json_str(p, "id");
	const char *expr = mz_json_str(t, "cronExpression");
	if (!pid || !expr)
		return;
	const char *tid = mz_json_str(t, "id");
	char *tkey = tid && *tid ? mz_strdup(tid) : mz_asprintf("%s-%zu", pid, j);
	mz_cron *c = NULL;
	mz_err err = {0};
	if (mz_cron_parse(expr, tkey, &c, &err) != MZ_OK) {
		mz_debug("events: pipeline %s: cron trigger %s: %s", pid, tkey, err.msg);
		free(tkey);
		return;
	}
	if (idx->ncrons == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		idx->crons = realloc(idx->crons, *cap * sizeof(*idx->crons));
		if (!idx->crons)
			abort();
	}
	idx->crons[idx->ncrons++] = (mz_cron_entry){
		.pipeline = json_incref(p), .trigger = t, .index = j, .tkey = tkey, .cron = c,
	};
}

static mz_trigger_index *
build(json_t *cfgs, char *generation, const mz_trigger_index *old)
{
	mz_trigger_index *idx = calloc(1, sizeof(*idx));
	if (!idx)
		abort();
	idx->generation = generation;
	idx->by_class = json_object();
	size_t cap = 0, i, j;
	json_t *p, *t;
	json_array_foreach(cfgs, i, p) {
		if (!json_is_object(p) || mz_json_bool(p, "disabled", false))
			continue;
		bool any = false;
		json_array_foreach(json_object_get(p, "triggers"), j, t) {
			if (!json_is_object(t) || !mz_json_bool(t, "enabled", false))
				continue;
			char *cls = mz__trigger_class(p, t);
			if (!cls)
				continue;
			any = true;
			json_t *list = json_object_get(idx->by_class, cls);
			if (!list) {
				list = json_array();
				json_object_set_new(idx->by_class, cls, list);
			}
			/* A config with two triggers of one class is one candidate. */
			size_t n = json_array_size(list);
			if (n == 0 || json_array_get(list, n - 1) != p)
				json_array_append(list, p);
			free(cls);
			if (mz_strcaseeq(mz_json_str(t, "type"), "cron"))
				add_cron(idx, p, t, j, &cap);
		}
		if (any)
			idx->nconfigs++;
	}
	/* An unchanged schedule keeps its next check: no store reads for it. */
	if (old && old->ncrons && idx->ncrons) {
		json_t *next = json_object();
		for (size_t k = 0; k < old->ncrons; k++) {
			char *id = cron_identity(&old->crons[k]);
			json_object_set_new(next, id, json_integer(old->crons[k].next_check));
			free(id);
		}
		for (size_t k = 0; k < idx->ncrons; k++) {
			char *id = cron_identity(&idx->crons[k]);
			json_t *v = json_object_get(next, id);
			if (v)
				idx->crons[k].next_check = json_integer_value(v);
			free(id);
		}
		json_decref(next);
	}
	return idx;
}

mz_code
mz__index_refresh(mz_trigger_index **idx, mz_store *st, mz_err *err)
{
	char *gen = NULL;
	mz_code rc = mz_pipeline_generation(st, &gen, err);
	if (rc)
		return rc;
	if (*idx && strcmp((*idx)->generation, gen) == 0) {
		free(gen);
		return MZ_OK;
	}
	/* The generation is read before the configs: a save in between makes
	 * the index newer than its generation says, and the next refresh
	 * rebuilds it again; never older. */
	json_t *cfgs = NULL;
	rc = mz_pipeline_list(st, NULL, &cfgs, err);
	if (rc) {
		free(gen);
		json_decref(cfgs);
		return rc;
	}
	int64_t t0 = mz_mono_ms();
	/* a templated config's triggers are mostly its template's */
	json_t *views = mz_template_trigger_views(st, cfgs);
	json_decref(cfgs);
	cfgs = views;
	mz_trigger_index *fresh = build(cfgs, gen, *idx);
	mz_debug("events: trigger index rebuilt: %zu of %zu configs can trigger, %zu cron "
	         "schedules (%lld ms)", fresh->nconfigs, json_array_size(cfgs), fresh->ncrons,
	         (long long)(mz_mono_ms() - t0));
	json_decref(cfgs);
	mz__index_free(*idx);
	*idx = fresh;
	return MZ_OK;
}

const json_t *
mz__index_candidates(const mz_trigger_index *idx, const json_t *event)
{
	if (!idx)
		return NULL;
	char *cls = mz__event_class(event);
	const json_t *list = cls ? json_object_get(idx->by_class, cls) : NULL;
	free(cls);
	return list;
}
