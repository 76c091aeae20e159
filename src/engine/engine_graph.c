/*
 * engine_graph.c - an index of an execution's stages, for the graph walks.
 *
 * Every stage transition asks the stage graph several questions (the
 * stage with this id, its parent, its synthetic children, what runs
 * after it, what it waits for, whether anything upstream halted), and
 * each question walked every stage of the execution reading two or three
 * keys of each: a jansson lookup hashes the key every time. Measured: a
 * sixth of the engine's instructions per stage went to these walks.
 *
 * Here the keys the walks read (id, refId, parentStageId,
 * syntheticStageOwner, requisiteStageRefIds) are copied once per
 * execution into a flat array, and the walks compare plain strings. The
 * index is kept per thread for the last few executions and checked on
 * every use: same stages array, same length, the same stage object at
 * every position. It holds a reference to the array and to every stage it
 * indexes, so none of them can be freed and another object take its
 * address while it is kept: a stage added, removed or replaced is always
 * seen, and the index rebuilt.
 *
 * What it relies on: those five keys of a stage never change once the
 * stage is in an execution's stages (they are set when the stage is
 * built, before it is inserted; a restart removes and re-adds stages).
 */
#include "engine/engine_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GRAPHS 8 /* executions indexed per thread */

typedef struct gnode {
	json_t *stage; /* held */
	const char *id, *ref, *parent, *owner; /* copies, NULL when absent */
	unsigned id_hash;
	const char **reqs; /* the string requisites, copies */
	size_t nreqs;
	/* positions of its upstream and downstream stages (same parent), in
	 * the order the walks return them; computed on first use */
	int *up, *down;
	int nup, ndown;
} gnode;

typedef struct graph {
	const json_t *exec; /* compared only, never dereferenced */
	json_t *stages;     /* held */
	size_t n;
	gnode *node;
	char *text; /* the copied strings and requisite vectors */
	int *links; /* every node's up and down positions, once computed */
	size_t hint; /* where the last stage looked up by id was: consecutive
	              * messages mostly name the same stage */
} graph;

typedef struct graph_cache {
	graph g[GRAPHS];
	unsigned next;
} graph_cache;

static __thread graph_cache *cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void
graph_clear(graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		json_decref(g->node[i].stage);
	json_decref(g->stages);
	free(g->node);
	free(g->text);
	free(g->links);
	memset(g, 0, sizeof(*g));
}

static void
cache_free(void *arg)
{
	graph_cache *c = arg;
	for (int i = 0; i < GRAPHS; i++)
		graph_clear(&c->g[i]);
	free(c);
}

static void
cache_key_make(void)
{
	pthread_key_create(&cache_key, cache_free);
}

static unsigned
hash_of(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *
str_of(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Copies s into the text arena at *at (NULL stays NULL). */
static const char *
put(char *text, size_t *at, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *out = text + *at;
	memcpy(out, s, n);
	*at += n;
	return out;
}

static bool
graph_build(graph *g, const json_t *exec, json_t *stages)
{
	size_t n = json_array_size(stages), bytes = 0, nreqs = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(stages, i);
		const char *keys[4] = {str_of(s, "id"), str_of(s, "refId"), str_of(s, "parentStageId"),
		                       str_of(s, "syntheticStageOwner")};
		for (int k = 0; k < 4; k++)
			bytes += keys[k] ? strlen(keys[k]) + 1 : 0;
		size_t j;
		json_t *r;
		json_array_foreach(json_object_get(s, "requisiteStageRefIds"), j, r) {
			if (json_is_string(r)) {
				bytes += strlen(json_string_value(r)) + 1;
				nreqs++;
			}
		}
	}
	/* the requisite vectors first (aligned), then the strings */
	size_t vec = nreqs * sizeof(const char *);
	g->node = calloc(n ? n : 1, sizeof(gnode));
	g->text = malloc(vec + bytes + 1);
	if (!g->node || !g->text) {
		free(g->node);
		free(g->text);
		g->node = NULL;
		g->text = NULL;
		return false;
	}
	const char **reqv = (const char **)g->text;
	size_t at = vec, used = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(stages, i);
		gnode *d = &g->node[i];
		d->stage = json_incref(s);
		d->id = put(g->text, &at, str_of(s, "id"));
		d->id_hash = hash_of(d->id);
		d->ref = put(g->text, &at, str_of(s, "refId"));
		d->parent = put(g->text, &at, str_of(s, "parentStageId"));
		d->owner = put(g->text, &at, str_of(s, "syntheticStageOwner"));
		d->reqs = reqv + used;
		size_t j;
		json_t *r;
		json_array_foreach(json_object_get(s, "requisiteStageRefIds"), j, r) {
			if (json_is_string(r))
				reqv[used++] = put(g->text, &at, json_string_value(r));
		}
		d->nreqs = (size_t)(reqv + used - d->reqs);
	}
	g->exec = exec;
	g->stages = json_incref(stages);
	g->n = n;
	return true;
}

static bool
graph_valid(const graph *g, const json_t *stages)
{
	if (g->stages != stages || json_array_size(stages) != g->n)
		return false;
	for (size_t i = 0; i < g->n; i++) {
		if (json_array_get(stages, i) != g->node[i].stage)
			return false;
	}
	return true;
}

/* The index of exec's stages (NULL only when out of memory). */
static graph *
graph_of(const json_t *exec)
{
	json_t *stages = mz__stages(exec);
	if (!cache) {
		pthread_once(&cache_once, cache_key_make);
		cache = calloc(1, sizeof(*cache));
		if (!cache)
			return NULL;
		pthread_setspecific(cache_key, cache); /* freed when the thread ends */
	}
	graph *slot = NULL;
	for (int i = 0; i < GRAPHS; i++) {
		graph *g = &cache->g[i];
		if (g->exec == exec && g->stages) {
			if (graph_valid(g, stages))
				return g;
			slot = g;
			break;
		}
	}
	if (!slot)
		slot = &cache->g[cache->next++ % GRAPHS];
	graph_clear(slot);
	return graph_build(slot, exec, stages) ? slot : NULL;
}

static const gnode *
node_of(const graph *g, const json_t *stage)
{
	for (size_t i = 0; i < g->n; i++) {
		if (g->node[i].stage == stage)
			return &g->node[i];
	}
	return NULL;
}

static bool
requires(const gnode *d, const char *ref)
{
	for (size_t i = 0; i < d->nreqs; i++) {
		if (strcmp(d->reqs[i], ref) == 0)
			return true;
	}
	return false;
}

/* Every node's upstream and downstream positions (a join of many branches
 * is asked for its upstream stages once per branch that completes). */
static bool
graph_links(graph *g)
{
	if (g->links || g->n == 0)
		return true;
	size_t total = 0;
	for (size_t i = 0; i < g->n; i++) {
		gnode *d = &g->node[i];
		d->nup = d->ndown = 0;
		for (size_t r = 0; r < d->nreqs; r++)
			for (size_t j = 0; j < g->n; j++)
				if (j != i && mz_streq(g->node[j].ref, d->reqs[r]) &&
				    mz_streq(g->node[j].parent, d->parent))
					d->nup++;
		for (size_t j = 0; d->ref && j < g->n; j++)
			if (j != i && requires(&g->node[j], d->ref) &&
			    mz_streq(g->node[j].parent, d->parent))
				d->ndown++;
		total += (size_t)(d->nup + d->ndown);
	}
	g->links = malloc((total ? total : 1) * sizeof(int));
	if (!g->links)
		return false;
	int *at = g->links;
	for (size_t i = 0; i < g->n; i++) {
		gnode *d = &g->node[i];
		d->up = at;
		for (size_t r = 0; r < d->nreqs; r++)
			for (size_t j = 0; j < g->n; j++)
				if (j != i && mz_streq(g->node[j].ref, d->reqs[r]) &&
				    mz_streq(g->node[j].parent, d->parent))
					*at++ = (int)j;
		d->down = at;
		for (size_t j = 0; d->ref && j < g->n; j++)
			if (j != i && requires(&g->node[j], d->ref) &&
			    mz_streq(g->node[j].parent, d->parent))
				*at++ = (int)j;
	}
	return true;
}

static json_t *
stages_at(const graph *g, const int *pos, int n)
{
	json_t *out = json_array();
	for (int i = 0; i < n; i++)
		json_array_append(out, g->node[pos[i]].stage);
	return out;
}

/* ---- the walks (engine_int.h) -------------------------------------------
 * Each falls back to reading the stage itself when it is not among the
 * execution's stages (a stage being built) or memory ran out. */

json_t *
mz__stage_by_id(const json_t *exec, const char *id)
{
	graph *g = graph_of(exec);
	if (!g) {
		size_t i;
		json_t *s;
		json_array_foreach(mz__stages(exec), i, s) {
			if (mz_streq(str_of(s, "id"), id))
				return s;
		}
		return NULL;
	}
	if (g->hint < g->n && mz_streq(g->node[g->hint].id, id))
		return g->node[g->hint].stage;
	unsigned h = hash_of(id);
	for (size_t i = 0; i < g->n; i++) {
		if (g->node[i].id_hash == h && mz_streq(g->node[i].id, id)) {
			g->hint = i;
			return g->node[i].stage;
		}
	}
	return NULL;
}

json_t *
mz__stage_by_ref(const json_t *exec, const char *ref)
{
	const graph *g = graph_of(exec);
	if (!g) {
		size_t i;
		json_t *s;
		json_array_foreach(mz__stages(exec), i, s) {
			if (mz_streq(str_of(s, "refId"), ref))
				return s;
		}
		return NULL;
	}
	for (size_t i = 0; i < g->n; i++) {
		if (mz_streq(g->node[i].ref, ref))
			return g->node[i].stage;
	}
	return NULL;
}

json_t *
mz__parent(const json_t *exec, const json_t *stage)
{
	const graph *g = graph_of(exec);
	const gnode *d = g ? node_of(g, stage) : NULL;
	const char *p = d ? d->parent : str_of(stage, "parentStageId");
	return p ? mz__stage_by_id(exec, p) : NULL;
}

json_t *
mz__downstream(const json_t *exec, const json_t *stage)
{
	graph *g = graph_of(exec);
	const gnode *d = g ? node_of(g, stage) : NULL;
	if (d && graph_links(g))
		return stages_at(g, d->down, d->ndown);
	json_t *out = json_array();
	const char *ref = d ? d->ref : str_of(stage, "refId");
	const char *parent = d ? d->parent : str_of(stage, "parentStageId");
	if (!ref)
		return out;
	if (!g) {
		size_t i, j;
		json_t *s, *r;
		json_array_foreach(mz__stages(exec), i, s) {
			bool req = false;
			json_array_foreach(json_object_get(s, "requisiteStageRefIds"), j, r) {
				req = req || (json_is_string(r) && strcmp(json_string_value(r), ref) == 0);
			}
			if (s != stage && req && mz_streq(str_of(s, "parentStageId"), parent))
				json_array_append(out, s);
		}
		return out;
	}
	for (size_t i = 0; i < g->n; i++) {
		const gnode *s = &g->node[i];
		if (s->stage != stage && requires(s, ref) && mz_streq(s->parent, parent))
			json_array_append(out, s->stage);
	}
	return out;
}

json_t *
mz__upstream(const json_t *exec, const json_t *stage)
{
	graph *g = graph_of(exec);
	const gnode *d = g ? node_of(g, stage) : NULL;
	if (d && graph_links(g))
		return stages_at(g, d->up, d->nup);
	json_t *out = json_array();
	const char *parent = d ? d->parent : str_of(stage, "parentStageId");
	json_t *reqs = d ? NULL : json_object_get(stage, "requisiteStageRefIds");
	size_t nreqs = d ? d->nreqs : json_array_size(reqs);
	for (size_t i = 0; i < nreqs; i++) {
		const char *want = d ? d->reqs[i] : json_string_value(json_array_get(reqs, i));
		if (!want)
			continue;
		if (!g) {
			size_t j;
			json_t *s;
			json_array_foreach(mz__stages(exec), j, s) {
				if (s != stage && mz_streq(str_of(s, "refId"), want) &&
				    mz_streq(str_of(s, "parentStageId"), parent))
					json_array_append(out, s);
			}
			continue;
		}
		for (size_t j = 0; j < g->n; j++) {
			const gnode *s = &g->node[j];
			if (s->stage != stage && mz_streq(s->ref, want) && mz_streq(s->parent, parent))
				json_array_append(out, s->stage);
		}
	}
	return out;
}

json_t *
mz__children(const json_t *exec, const json_t *stage, const char *owner)
{
	json_t *out = json_array();
	const graph *g = graph_of(exec);
	const gnode *d = g ? node_of(g, stage) : NULL;
	const char *id = d ? d->id : str_of(stage, "id");
	if (!g) {
		size_t i;
		json_t *s;
		json_array_foreach(mz__stages(exec), i, s) {
			if (mz_streq(str_of(s, "parentStageId"), id) &&
			    (!owner || mz_streq(str_of(s, "syntheticStageOwner"), owner)))
				json_array_append(out, s);
		}
		return out;
	}
	for (size_t i = 0; i < g->n; i++) {
		const gnode *s = &g->node[i];
		if (mz_streq(s->parent, id) && (!owner || mz_streq(s->owner, owner)))
			json_array_append(out, s->stage);
	}
	return out;
}

/* Orca's StartStage check (mz__any_upstream_halted) over the index:
 * upstream positions instead of a new array of stages per level. */
static bool
halted_at(const graph *g, size_t i, int depth)
{
	const gnode *d = &g->node[i];
	if (depth > 256)
		return false;
	for (int k = 0; k < d->nup; k++) {
		const char *st = mz__status(g->node[d->up[k]].stage);
		if (strcmp(st, "TERMINAL") == 0 || strcmp(st, "STOPPED") == 0 ||
		    strcmp(st, "CANCELED") == 0 ||
		    (strcmp(st, "NOT_STARTED") == 0 && halted_at(g, (size_t)d->up[k], depth + 1)))
			return true;
	}
	return false;
}

int
mz__graph_upstream_halted(const json_t *exec, const json_t *stage)
{
	graph *g = graph_of(exec);
	const gnode *d = g ? node_of(g, stage) : NULL;
	if (!d || !graph_links(g))
		return -1;
	return halted_at(g, (size_t)(d - g->node), 0);
}

int
mz__graph_all_upstream(const json_t *exec, const json_t *stage, bool (*ok)(const char *status))
{
	graph *g = graph_of(exec);
	const gnode *d = g ? node_of(g, stage) : NULL;
	if (!d || !graph_links(g))
		return -1;
	for (int k = 0; k < d->nup; k++)
		if (!ok(mz__status(g->node[d->up[k]].stage)))
			return 0;
	return 1;
}
