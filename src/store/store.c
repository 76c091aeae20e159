/* store.c - opening a store, transactions, and the helpers every operation
 * is written with (store_int.h). The operations themselves live in
 * store_apps.c, store_exec.c, store_queue.c and store_events.c, written
 * once over the driver; store_sqlite.c and store_pg.c are the drivers. */
#include "store/store_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Urgent writers of this process waiting for (or holding) the write lock. */
static atomic_int urgent_writers;

bool
mz_store_url_shared(const char *url)
{
	return url && (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0);
}

mz_code
mz_store_open(const char *url, mz_store **out, mz_err *err)
{
	if (!url || !*url)
		return mz_fail(err, MZ_EINVAL, "empty database URL");
	if (mz_store_url_shared(url))
		return mz_store__pg_open(url, out, err);
	if (strncmp(url, "sqlite://", 9) == 0)
		url += 9;
	return mz_store__sqlite_open(url, out, err);
}

void
mz_store_close(mz_store *st)
{
	if (st) {
		free(st->accept);
		st->accept = NULL;
		st->drv->close(st);
	}
}

const char *
mz_store_kind(const mz_store *st)
{
	return st->drv->kind;
}

void
mz_store_set_urgent(mz_store *st, bool urgent)
{
	st->urgent = urgent;
}

int
mz_store_urgent_waiting(void)
{
	return atomic_load_explicit(&urgent_writers, memory_order_relaxed);
}

void
mz__store_urgent_waiting(mz_store *st, int delta)
{
	if (st->urgent)
		atomic_fetch_add(&urgent_writers, delta);
}

mz_code
mz_store_begin(mz_store *st, mz_err *err)
{
	if (st->urgent)
		atomic_fetch_add(&urgent_writers, 1);
	mz_code rc = st->drv->begin(st, err);
	if (st->urgent)
		atomic_fetch_sub(&urgent_writers, 1);
	if (rc == MZ_OK) {
		st->tx_depth = 1;
		st->tx_wrote = false;
		mz__store_began();
	}
	return rc;
}

mz_code
mz_store_commit(mz_store *st, mz_err *err)
{
	mz_code rc = st->drv->commit(st, err);
	if (rc != MZ_OK)
		st->drv->rollback(st); /* a failed commit leaves nothing half-done */
	else
		mz__store_committed(st->tx_wrote);
	st->tx_depth = 0;
	return rc;
}

void
mz_store_rollback(mz_store *st)
{
	if (st->tx_depth)
		st->drv->rollback(st);
	st->tx_depth = 0;
}

/* ---- helpers ------------------------------------------------------------ */

mz_code
mz__run(mz_stmt *s, int64_t *changes, mz_err *err, const char *what)
{
	s->nowait = !changes;
	int rc = mz__step(s);
	s->nowait = false;
	if (rc < 0) {
		mz_code code = mz__fail(s->st, err, what);
		mz__reset(s);
		return code;
	}
	int64_t n = s->st->drv->changes(s);
	if (changes)
		*changes = n;
	if (n > 0)
		s->st->tx_wrote = true;
	mz__reset(s);
	return MZ_OK;
}

json_t *
mz__col_json(mz_stmt *s, int col)
{
	if (mz__col_null(s, col))
		return NULL;
	return mz_json_parse(mz__col_text(s, col), mz__col_bytes(s, col), NULL);
}

mz_code
mz__one_body(mz_stmt *s, json_t **out, mz_err *err, const char *what)
{
	int rc = mz__step(s);
	*out = NULL;
	if (rc == MZ_STEP_DONE) {
		mz__reset(s);
		return MZ_ENOTFOUND;
	}
	if (rc < 0) {
		mz_code code = mz__fail(s->st, err, what);
		mz__reset(s);
		return code;
	}
	*out = mz__col_json(s, 0);
	mz__reset(s);
	return *out ? MZ_OK : mz_fail(err, MZ_EIO, "store: %s: stored JSON is damaged", what);
}

mz_code
mz__all_bodies(mz_stmt *s, json_t **out, mz_err *err, const char *what)
{
	json_t *arr = json_array();
	int rc;
	while ((rc = mz__step(s)) == MZ_STEP_ROW) {
		json_t *v = mz__col_json(s, 0);
		if (v)
			json_array_append_new(arr, v);
	}
	if (rc < 0) {
		mz_code code = mz__fail(s->st, err, what);
		mz__reset(s);
		json_decref(arr);
		return code;
	}
	mz__reset(s);
	*out = arr;
	return MZ_OK;
}

mz_code
mz__one_int(mz_stmt *s, int64_t *out, bool *found, mz_err *err, const char *what)
{
	int rc = mz__step(s);
	*out = 0;
	if (found)
		*found = rc == MZ_STEP_ROW;
	if (rc < 0) {
		mz_code code = mz__fail(s->st, err, what);
		mz__reset(s);
		return code;
	}
	if (rc == MZ_STEP_ROW && !mz__col_null(s, 0))
		*out = mz__col_int(s, 0);
	mz__reset(s);
	return MZ_OK;
}
