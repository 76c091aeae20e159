/*
 * events_int.h - for the files in src/events only.
 */
#ifndef MZ_EVENTS_INT_H
#define MZ_EVENTS_INT_H

#include "events/events.h"

#include <pthread.h>

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
