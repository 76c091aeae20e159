/*
 * events_int.h - for the files in src/events only.
 */
#ifndef MZ_EVENTS_INT_H
#define MZ_EVENTS_INT_H

#include "events/events.h"

#include <pthread.h>

/* ---- the trigger index (trigger_index.c) ------------------------------- */

/* A cron trigger with its parsed schedule. */
typedef struct mz_cron_entry {
	json_t *pipeline;       /* the config (a reference) */
	const json_t *trigger;  /* inside pipeline */
	size_t index;           /* of the trigger in "triggers" */
	char *tkey;             /* the trigger's id, else "<pipelineId>-<index>" */
	mz_cron *cron;
	int64_t next_check;     /* mz_now_ms() from which to look at it again */
} mz_cron_entry;

/*
 * The enabled triggers of the enabled pipeline configs, built when the
 * configs change (mz_pipeline_generation) instead of parsed again on every
 * cron tick and for every event: by_class maps a class (mz__trigger_class)
 * to the configs with a trigger of that class, in the store's order, and
 * crons holds the parsed cron schedules. Owned by the dispatcher thread.
 */
typedef struct mz_trigger_index {
	char *generation;
	json_t *by_class;
	mz_cron_entry *crons;
	size_t ncrons;
	size_t nconfigs;        /* configs with at least one enabled trigger */
} mz_trigger_index;

/* Rebuilds *idx if the configs changed since it was built (or it is NULL);
 * cron entries whose schedule is unchanged keep their next_check. */
mz_code mz__index_refresh(mz_trigger_index **idx, mz_store *st, mz_err *err);
void mz__index_free(mz_trigger_index *idx);
/* The configs that may hold a trigger matching event (borrowed; NULL when
 * none can). */
const json_t *mz__index_candidates(const mz_trigger_index *idx, const json_t *event);

/* match.c: the class of a trigger / of an event (malloc'd, NULL: none). A
 * trigger can match an event only when the classes are equal. */
char *mz__trigger_class(const json_t *pipeline, const json_t *t);
char *mz__event_class(const json_t *event);

struct mz_events {
	char *db_url;
	mz_engine *engine;
	char *ui_base;
	char *smtp_url;
	char *smtp_from;
	int max_attempts;
	int64_t retry_base_ms;
	int64_t test_delay_ms;  /* MZ_TEST_DISPATCH_DELAY_MS: test-only */

	pthread_mutex_t lock;
	pthread_cond_t cond;    /* the dispatcher's wake-up */
	pthread_cond_t ncond;   /* the notifier's wake-up */
	bool kick, nkick, stopping;
	pthread_t dispatcher, notifier;
	bool have_dispatcher, have_notifier;
	int64_t next_cron_check;
	mz_trigger_index *index;    /* the dispatcher thread's */
	mz_log_limit store_log;     /* the dispatcher's store failures */
	int64_t backoff_ms;         /* after a store failure: 250 ms doubling to 4 s */
};

/* notify.c: turns an outbox event into deliveries (inside st's
 * transaction); *n gets how many. exec may be NULL. */
mz_code mz__notify_plan(mz_events *ev, mz_store *st, const json_t *event, const json_t *exec,
                        int *n, mz_err *err);
/* notify.c: the notifier thread. */
void *mz__notifier_main(void *arg);
/* bus.c: waits up to ms on cond unless kicked or stopping; returns
 * false when stopping. */
bool mz__events_wait(mz_events *ev, pthread_cond_t *cond, bool *kick, int64_t ms);

#endif
