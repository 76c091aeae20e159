/* store_cloud.c - the cloud of several nodes: operations queued for the
 * node hosting their region (cloud_ops) and the state each node publishes
 * (cloud_state). Written once over the driver; see store.h. */
#include "store/store_sql.h"

#include <stdlib.h>
#include <string.h>

static json_t *
text_or_null(mz_stmt *q, int col)
{
	return mz__col_null(q, col) ? json_null() : json_string(mz__col_text(q, col));
}

static json_t *
json_or_null(mz_stmt *q, int col)
{
	json_t *v = mz__col_json(q, col);
	return v ? v : json_null();
}

/* A row of COP_COLS as the JSON of mz_cloudop_get. */
static json_t *
op_row(mz_stmt *q)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:o, s:o, s:I, s:I}",
	                 "id", mz__col_text(q, 0), "requestId", mz__col_text(q, 1),
	                 "region", mz__col_text(q, 2), "node", text_or_null(q, 3),
	                 "op", mz__col_text(q, 4), "description", json_or_null(q, 5),
	                 "state", mz__col_text(q, 6), "claimedBy", text_or_null(q, 7),
	                 "task", json_or_null(q, 8), "createdAt", (json_int_t)mz__col_int(q, 9),
	                 "updatedAt", (json_int_t)mz__col_int(q, 10));
}

mz_code
mz_cloudop_add(mz_store *st, const char *id, const char *request_id, const char *region,
                const char *node, const char *op, const json_t *description, int64_t now,
                char out_id[40], mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_COP_ADD, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(description);
	mz__text(q, 1, id);
	mz__text(q, 2, request_id);
	mz__text(q, 3, region);
	mz__text(q, 4, node);
	mz__text(q, 5, op);
	mz__text(q, 6, body);
	mz__int(q, 7, now);
	mz_code rc = mz__run(q, NULL, err, "queue cloud operation");
	free(body);
	if (rc)
		return rc;
	/* the first operation with this request id, whoever queued it */
	q = mz__stmt(st, Q_COP_BY_REQUEST, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, request_id);
	int s = mz__step(q);
	if (s < 0) {
		rc = mz__fail(st, err, "find cloud operation");
	} else if (s == MZ_STEP_DONE) {
		rc = mz_fail(err, MZ_EIO, "store: the cloud operation of request %s vanished",
		             request_id);
	} else {
		snprintf(out_id, 40, "%s", mz__col_text(q, 0));
	}
	mz__reset(q);
	return rc;
}

mz_code
mz_cloudop_get(mz_store *st, const char *id, json_t **op, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_COP_GET, err);
	*op = NULL;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	int s = mz__step(q);
	mz_code rc = MZ_OK;
	if (s < 0)
		rc = mz__fail(st, err, "get cloud operation");
	else if (s == MZ_STEP_DONE)
		rc = MZ_ENOTFOUND;
	else
		*op = op_row(q);
	mz__reset(q);
	return rc;
}

mz_code
mz_cloudop_queued(mz_store *st, int limit, json_t **ops, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_COP_QUEUED, err);
	*ops = NULL;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, limit);
	json_t *out = json_array();
	int s;
	while ((s = mz__step(q)) == MZ_STEP_ROW)
		json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "id", mz__col_text(q, 0),
		                                     "region", mz__col_text(q, 1),
		                                     "node", text_or_null(q, 2)));
	mz_code rc = s < 0 ? mz__fail(st, err, "list queued cloud operations") : MZ_OK;
	mz__reset(q);
	if (rc)
		json_decref(out);
	else
		*ops = out;
	return rc;
}

mz_code
mz_cloudop_claim(mz_store *st, const char *id, const char *node, int64_t now, bool *claimed,
                  mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_COP_CLAIM, err);
	*claimed = false;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz__text(q, 2, node);
	mz__int(q, 3, now);
	int64_t n = 0;
	mz_code rc = mz__run(q, &n, err, "claim cloud operation");
	*claimed = rc == MZ_OK && n == 1;
	return rc;
}

mz_code
mz_cloudop_running(mz_store *st, const char *node, json_t **ops, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_COP_RUNNING, err);
	*ops = NULL;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, node);
	json_t *out = json_array();
	int s;
	while ((s = mz__step(q)) == MZ_STEP_ROW)
		json_array_append_new(out, op_row(q));
	mz_code rc = s < 0 ? mz__fail(st, err, "list running cloud operations") : MZ_OK;
	mz__reset(q);
	if (rc)
		json_decref(out);
	else
		*ops = out;
	return rc;
}

mz_code
mz_cloudop_update(mz_store *st, const char *id, const char *node, const json_t *task, bool done,
                   int64_t now, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_COP_UPDATE, err);
	if (!q)
		return MZ_EIO;
	char *body = task ? mz_json_dump(task) : NULL;
	mz__text(q, 1, id);
	mz__text(q, 2, node);
	mz__text(q, 3, body);
	mz__int(q, 4, done ? 1 : 0);
	mz__int(q, 5, now);
	mz_code rc = mz__run(q, NULL, err, "update cloud operation");
	free(body);
	return rc;
}

mz_code
mz_cloudstate_put(mz_store *st, const char *node, const char *kind, const char *key,
                   const char *app, const char *body, int64_t now, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, body ? Q_CST_PUT : Q_CST_DEL, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, node);
	mz__text(q, 2, kind);
	mz__text(q, 3, key);
	if (body) {
		mz__text(q, 4, app);
		mz__text(q, 5, body);
		mz__int(q, 6, now);
	}
	return mz__run(q, NULL, err, body ? "publish cloud state" : "withdraw cloud state");
}

mz_code
mz_cloudstate_clear(mz_store *st, const char *node, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_CST_CLEAR, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, node);
	return mz__run(q, NULL, err, "clear cloud state");
}

mz_code
mz_cloudstate_list(mz_store *st, const char *kind, const char *app, const char *except_node,
                    json_t **items, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_CST_LIST, err);
	*items = NULL;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, kind);
	mz__text(q, 2, app);
	mz__text(q, 3, except_node ? except_node : "");
	json_t *out = json_array();
	int s;
	while ((s = mz__step(q)) == MZ_STEP_ROW) {
		json_t *body = mz__col_json(q, 2);
		if (!body)
			continue; /* damaged: as if not published */
		json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "node", mz__col_text(q, 0),
		                                     "key", mz__col_text(q, 1), "body", body));
	}
	mz_code rc = s < 0 ? mz__fail(st, err, "list cloud state") : MZ_OK;
	mz__reset(q);
	if (rc)
		json_decref(out);
	else
		*items = out;
	return rc;
}
