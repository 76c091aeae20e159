/*
 * engine_cache.c - parsed executions kept between transactions.
 *
 * Parsing an execution's JSON is the largest single cost of handling a
 * message for it (jansson builds a hash table per object: ~90 us for a
 * ten-stage execution), and a running execution is loaded again on every
 * poll of its tasks, and right after it was launched. So each document a
 * transaction wrote (or read) is kept here, parsed, beside the exact text
 * stored for it.
 *
 * The store stays the truth: loading an execution always reads its stored
 * text, inside the caller's transaction, and the cached document is used
 * only when that text is byte for byte the text it was cached with. Any
 * other writer (an API call, another node on the same PostgreSQL, a
 * transaction that rolled back after caching) changes or removes the text,
 * and the document is parsed afresh. Nothing here can hand out a stale
 * execution, so no writer has to remember to invalidate anything.
 *
 * An entry is taken out while a transaction uses its document (one owner
 * at a time, never shared between threads) and put back after the commit.
 * Finished executions are not kept; the cache is bounded in entries and in
 * bytes of text, the least recently used entry going first.
 */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_ENTRIES 128
#define CACHE_MAX_BYTES ((size_t)2 << 20)

typedef struct cache_entry {
	char id[32];
	json_t *doc;
	char *text;
	size_t len;
	uint64_t used;
} cache_entry;

struct mz_exec_cache {
	pthread_mutex_t mu;
	cache_entry e[CACHE_MAX_ENTRIES];
	int n;
	size_t bytes;
	uint64_t clock;
};

mz_exec_cache *
mz__cache_new(void)
{
	mz_exec_cache *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static void
entry_free(cache_entry *e)
{
	json_decref(e->doc);
	free(e->text);
}

void
mz__cache_free(mz_exec_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		entry_free(&c->e[i]);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Removes entry i (caller holds the lock) and hands back its contents. */
static cache_entry
unlink_entry(mz_exec_cache *c, int i)
{
	cache_entry out = c->e[i];
	c->bytes -= out.len;
	c->e[i] = c->e[--c->n];
	return out;
}

json_t *
mz__cache_load(mz_exec_cache *c, mz_store *st, const char *id, char **text, size_t *len,
               mz_err *err)
{
	cache_entry hit = {0};
	bool have = false;
	if (c) {
		pthread_mutex_lock(&c->mu);
		for (int i = 0; i < c->n; i++)
			if (strcmp(c->e[i].id, id) == 0) {
				hit = unlink_entry(c, i);
				have = true;
				break;
			}
		pthread_mutex_unlock(&c->mu);
	}
	char *raw = NULL;
	size_t n = 0;
	/* locked: on a shared store one node at a time changes an execution,
	 * and the next reads the text the previous one committed */
	mz_code rc = mz_exec_get_raw_locked(st, id, &raw, &n, NULL, err);
	json_t *doc = NULL;
	if (rc == MZ_OK && have && n == hit.len && memcmp(raw, hit.text, n) == 0) {
		doc = hit.doc;
		hit.doc = NULL;
	} else if (rc == MZ_OK) {
		mz_err perr = {0};
		doc = mz_json_parse(raw, n, &perr);
		if (!doc)
			mz_fail(err, MZ_EIO, "execution %s: stored JSON does not parse: %s", id, perr.msg);
	}
	if (have)
		entry_free(&hit);
	if (!doc) {
		free(raw);
		return NULL;
	}
	*text = raw;
	*len = n;
	return doc;
}

void
mz__cache_put(mz_exec_cache *c, json_t *doc, char *text, size_t len)
{
	const char *id = mz_json_str(doc, "id");
	if (!c || !text || !id || strlen(id) >= sizeof(c->e[0].id) || len > CACHE_MAX_BYTES / 4 ||
	    mz_status_complete(mz_json_str(doc, "status"))) {
		json_decref(doc);
		free(text);
		return;
	}
	cache_entry gone[CACHE_MAX_ENTRIES];
	int ngone = 0;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->e[i].id, id) == 0) {
			gone[ngone++] = unlink_entry(c, i);
			break;
		}
	while (c->n > 0 && (c->n == CACHE_MAX_ENTRIES || c->bytes + len > CACHE_MAX_BYTES)) {
		int lru = 0;
		for (int i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[lru].used)
				lru = i;
		gone[ngone++] = unlink_entry(c, lru);
	}
	cache_entry *e = &c->e[c->n++];
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->doc = doc;
	e->text = text;
	e->len = len;
	e->used = ++c->clock;
	c->bytes += len;
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < ngone; i++) /* freed outside the lock */
		entry_free(&gone[i]);
}
