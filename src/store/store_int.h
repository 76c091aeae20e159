/*
 * store_int.h - for the files in src/store only: the table of operations every
 * back-end implements. store.c turns the public calls into calls through
 * this table, so a back-end never has to know about the others.
 */
#ifndef MZ_STORE_INT_H
#define MZ_STORE_INT_H

#include "store/store.h"

typedef struct mz_store_ops {
	const char *kind;
	void (*close)(mz_store *st);
	mz_code (*begin)(mz_store *st, mz_err *err);
	mz_code (*commit)(mz_store *st, mz_err *err);
	void (*rollback)(mz_store *st);

	mz_code (*app_get)(mz_store *st, const char *name, json_t **app, mz_err *err);
	mz_code (*app_put)(mz_store *st, const char *name, const char *body, mz_err *err);
	mz_code (*app_delete)(mz_store *st, const char *name, mz_err *err);
	mz_code (*app_list)(mz_store *st, json_t **apps, mz_err *err);

	mz_code (*pipeline_get)(mz_store *st, const char *id, json_t **cfg, mz_err *err);
	mz_code (*pipeline_by_name)(mz_store *st, const char *app, const char *name, bool ci,
	                            json_t **cfg, mz_err *err);
	mz_code (*pipeline_put)(mz_store *st, const char *id, const char *app, const char *name,
	                        int64_t index, const char *body, mz_err *err);
	mz_code (*pipeline_delete)(mz_store *st, const char *id, mz_err *err);
	mz_code (*pipeline_list)(mz_store *st, const char *app, json_t **cfgs, mz_err *err);
	mz_code (*pipeline_history)(mz_store *st, const char *id, int limit, json_t **versions,
	                            mz_err *err);

	mz_code (*exec_get)(mz_store *st, const char *id, json_t **exec, mz_err *err);
	mz_code (*exec_get_raw)(mz_store *st, const char *id, char **body, size_t *len,
	                        char type[16], mz_err *err);
	mz_code (*exec_put)(mz_store *st, const json_t *exec, const char *body, mz_err *err);
	mz_code (*exec_delete)(mz_store *st, const char *id, mz_err *err);
	mz_code (*exec_query)(mz_store *st, const mz_exec_query *q, json_t **execs, mz_err *err);
	mz_code (*exec_count_status)(mz_store *st, const char *config_id, const char *status,
	                             const char *except_id, int *count, mz_err *err);

	mz_code (*queue_push)(mz_store *st, const char *fp, const char *exec_id,
	                      int64_t deliver_at, bool only_reschedule, mz_err *err);
	mz_code (*queue_claim)(mz_store *st, int64_t now, int64_t lease_ms, mz_msg *out, int max,
	                       int *n, mz_err *err);
	mz_code (*queue_ack)(mz_store *st, int64_t id, mz_err *err);
	mz_code (*queue_set_delivery)(mz_store *st, int64_t id, int64_t deliver_at, mz_err *err);
	mz_code (*queue_next_due)(mz_store *st, int64_t *when, mz_err *err);
	mz_code (*queue_release_leases)(mz_store *st, int64_t now, mz_err *err);
	mz_code (*queue_count_for_execution)(mz_store *st, const char *exec_id, int *count,
	                                     mz_err *err);

	mz_code (*pending_push)(mz_store *st, const char *config_id, const char *body, mz_err *err);
	mz_code (*pending_pop)(mz_store *st, const char *config_id, bool newest, json_t **msg,
	                       mz_err *err);
	mz_code (*pending_count)(mz_store *st, const char *config_id, int *count, mz_err *err);

	mz_code (*outbox_push)(mz_store *st, const char *body, mz_err *err);
	mz_code (*outbox_fetch)(mz_store *st, int64_t after_id, int max, json_t **events,
	                        mz_err *err);
	mz_code (*outbox_delete)(mz_store *st, int64_t id, mz_err *err);

	mz_code (*kv_get)(mz_store *st, const char *key, char **value, mz_err *err);
	mz_code (*kv_put)(mz_store *st, const char *key, const char *value, mz_err *err);

	mz_code (*event_add)(mz_store *st, const char *event_id, const char *body, bool *added,
	                     mz_err *err);
	mz_code (*event_pending)(mz_store *st, int max, json_t **events, mz_err *err);
	mz_code (*event_done)(mz_store *st, int64_t seq, const char *result, mz_err *err);
	mz_code (*event_get)(mz_store *st, const char *event_id, json_t **out, mz_err *err);
	mz_code (*delivery_push)(mz_store *st, const char *body, int64_t deliver_at, mz_err *err);
	mz_code (*delivery_due)(mz_store *st, int64_t now, int max, json_t **out, mz_err *err);
	mz_code (*delivery_retry)(mz_store *st, int64_t id, int64_t deliver_at, const char *error,
	                          mz_err *err);
	mz_code (*delivery_delete)(mz_store *st, int64_t id, mz_err *err);
} mz_store_ops;

/* Every back-end's connection struct starts with this. */
struct mz_store {
	const mz_store_ops *ops;
	int tx_depth; /* 1 while inside mz_store_begin/commit */
};

mz_code mz_store__sqlite_open(const char *path, mz_store **out, mz_err *err);
mz_code mz_store__pg_open(const char *url, mz_store **out, mz_err *err);

#endif
