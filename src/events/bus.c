/* bus.c - the event bus: storing incoming events, the dispatcher thread
 * that matches each against every enabled trigger and starts pipelines in
 * one transaction per event, the outbox consumer (pipeline triggers and
 * notifications) and the cron scheduler. */
#include "events/events_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define EVENT_BATCH 20
#define OUTBOX_BATCH 20
#define IDLE_WAIT_MS 250
#define DISPATCH_LEASE_MS 5000 /* renewed every pass (at most IDLE_WAIT_MS apart) */
#define CRON_CHECK_MS 250
#define CRON_MISFIRE_MS 60000 /* a firing missed by more than this is skipped */

bool
mz__events_wait(mz_events *ev, pthread_cond_t *cond, bool *kick, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev->lock);
	while (!*kick && !ev->stopping) {
		if (pthread_cond_timedwait(cond, &ev->lock, &ts) == ETIMEDOUT)
			break;
	}
	*kick = false;
	bool running = !ev->stopping;
	pthread_mutex_unlock(&ev->lock);
	return running;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
mz_events_wake(mz_events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->kick = true;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

static void
wake_notifier(mz_events *ev)
{
	pthread_mutex_lock(&ev->lock);
	ev->nkick = true;
	pthread_cond_signal(&ev->ncond);
	pthread_mutex_unlock(&ev->lock);
}

mz_code
mz_events_submit(mz_events *ev, mz_store *st, const json_t *event, const char *event_id,
                 char out_id[128], bool *added, mz_err *err)
{
	char uuid[37];
	if (!json_is_object(event) || !json_is_object(json_object_get(event, "details")) ||
	    !mz_json_str(json_object_get(event, "details"), "type"))
		return mz_fail(err, MZ_EINVAL, "an event needs details.type");
	if (!event_id || !*event_id) {
		mz_uuid(uuid);
		event_id = uuid;
	}
	if (strlen(event_id) >= 128)
		return mz_fail(err, MZ_EINVAL, "an event id has at most 127 characters");
	json_t *copy = json_deep_copy(event);
	json_object_set_new(copy, "eventId", json_string(event_id));
	json_t *d = json_object_get(copy, "details");
	if (!json_object_get(d, "created"))
		json_object_set_new(d, "created", json_sprintf("%lld", (long long)mz_now_ms()));
	mz_code rc = mz_event_add(st, event_id, copy, added, err);
	json_decref(copy);
	if (rc == MZ_OK && out_id)
		snprintf(out_id, 128, "%s", event_id);
	if (rc == MZ_OK)
		mz_events_wake(ev);
	return rc;
}

/* Store failures repeat while the disk is full or the database locked: the
 * dispatcher says so once every 30 s, not once per attempt. */
static void __attribute__((format(printf, 2, 3)))
store_trouble(mz_events *ev, const char *fmt, ...)
{
	long held = 0;
	if (!mz_log_allow(&ev->store_log, 30000, &held))
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (held)
		mz_error("%s (%ld similar messages held back)", msg, held);
	else
		mz_error("%s", msg);
}

bool
mz_events_git_authentic(mz_store *st, const json_t *event)
{
	const json_t *d = json_object_get(event, "details");
	const json_t *c = json_object_get(event, "content");
	const char *source = mz_json_str(d, "source");
	const char *sig = NULL;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(d, "requestHeaders"), k, v) {
		if (strcasecmp(k, "X-Hub-Signature-256") == 0)
			sig = json_string_value(json_is_array(v) ? json_array_get(v, 0) : v);
	}
	json_t *cfgs = NULL;
	mz_err err = {0};
	if (mz_pipeline_list(st, NULL, &cfgs, &err) != MZ_OK) {
		mz_warn("events: cannot list pipelines for a signature check: %s", err.msg);
		return false;
	}
	json_t *views = mz_template_trigger_views(st, cfgs); /* a template's triggers too */
	json_decref(cfgs);
	cfgs = views;
	const char *raw = mz_json_str(event, "rawContent");
	bool any_candidate = false, verified = false, any_secret = false;
	size_t i, j;
	json_t *p, *t;
	json_array_foreach(cfgs, i, p) {
		if (mz_json_bool(p, "disabled", false))
			continue;
		json_array_foreach(json_object_get(p, "triggers"), j, t) {
			if (!mz_json_bool(t, "enabled", false) ||
			    !mz_strcaseeq(mz_json_str(t, "type"), "git") ||
			    !mz_strcaseeq(mz_json_str(t, "source"), source) ||
			    !mz_strcaseeq(mz_json_str(t, "project"), mz_json_str(c, "repoProject")) ||
			    !mz_strcaseeq(mz_json_str(t, "slug"), mz_json_str(c, "slug")))
				continue;
			any_candidate = true;
			const char *secret = mz_json_str(t, "secret");
			if (secret && *secret) {
				any_secret = true;
				if (sig && mz_signature_ok(secret, raw ? raw : "", raw ? strlen(raw) : 0, sig))
					verified = true;
			}
		}
	}
	json_decref(cfgs);
	if (!any_candidate)
		return true; /* nothing listens: nothing to protect */
	if (any_secret)
		return verified;
	return sig == NULL;
}

/* ---- dispatching one event -------------------------------------------- */

/* Starts every pipeline the event matches, inside st's transaction;
 * appends {pipelineId, application, name, executionId} to started and
 * {pipelineId, error} to errors. Only the index's candidates for the event
 * are looked at (the index is current: the dispatcher refreshed it). */
static mz_code
start_matching(mz_events *ev, mz_store *st, const json_t *event, json_t *started,
               json_t *errors, mz_err *err)
{
	mz_code rc = MZ_OK;
	size_t i;
	json_t *p;
	json_array_foreach(mz__index_candidates(ev->index, event), i, p) {
		json_t *trigger = mz_trigger_match(p, event);
		if (!trigger)
			continue;
		char id[27];
		mz_err lerr = {0};
		/* A templated config's candidate is its trigger view (the rendered
		 * triggers on the templated config): it starts as stored, and is
		 * rendered by the launch as a manual start would render it. */
		json_t *cfg = NULL;
		if (mz_template_is_v2_config(p)) {
			rc = mz_pipeline_get(st, mz_json_str(p, "id"), &cfg, &lerr);
			if (rc == MZ_ENOTFOUND) { /* deleted since the index was built */
				json_decref(trigger);
				rc = MZ_OK;
				continue;
			}
			if (rc) {
				*err = lerr;
				json_decref(trigger);
				break;
			}
		}
		rc = mz_engine_launch_pipeline(ev->engine, st, cfg ? cfg : p, trigger,
		                               mz_json_str(trigger, "user"), NULL, id, &lerr);
		json_decref(cfg);
		if (rc == MZ_EINVAL) {
			/* A pipeline that cannot start (a required parameter
			 * missing): reported, and the other matches go ahead. */
			mz_warn("events: event %s matches pipeline %s (%s) but it cannot start: %s",
			        mz_json_str(event, "eventId"), mz_json_str(p, "name"),
			        mz_json_str(p, "id"), lerr.msg);
			json_array_append_new(errors, json_pack("{s:s?, s:s}", "pipelineId",
			                                        mz_json_str(p, "id"), "error", lerr.msg));
			rc = MZ_OK;
		} else if (rc) {
			*err = lerr;
			json_decref(trigger);
			break;
		} else {
			mz_info("events: event %s (%s) started %s's pipeline %s: execution %s",
			        mz_json_str(event, "eventId"),
			        mz_json_str(json_object_get(event, "details"), "type"),
			        mz_json_str(p, "application"), mz_json_str(p, "name"), id);
			json_array_append_new(started, json_pack("{s:s?, s:s?, s:s?, s:s}", "pipelineId",
			                                         mz_json_str(p, "id"), "application",
			                                         mz_json_str(p, "application"), "name",
			                                         mz_json_str(p, "name"), "executionId",
			                                         id));
		}
		json_decref(trigger);
	}
	return rc;
}

static mz_code
dispatch_one(mz_events *ev, mz_store *st, const json_t *item, bool *launched, mz_err *err)
{
	json_int_t seq = json_integer_value(json_object_get(item, "seq"));
	json_t *event = json_deep_copy(json_object_get(item, "event"));
	if (!json_is_object(event)) {
		json_decref(event);
		event = json_object();
	}
	json_object_set(event, "eventId", json_object_get(item, "eventId"));
	if (ev->test_delay_ms > 0) /* test-only: a window for SIGKILL */
		sleep_ms(ev->test_delay_ms);
	json_t *started = json_array(), *errors = json_array();
	mz_code rc = mz_store_begin(st, err);
	if (rc == MZ_OK) {
		const char *type = mz_json_str(json_object_get(event, "details"), "type");
		if (type && strcasecmp(type, "manual") != 0)
			rc = start_matching(ev, st, event, started, errors, err);
		if (rc == MZ_OK) {
			json_t *res = json_pack("{s:O, s:O}", "executions", started, "errors", errors);
			rc = mz_event_done(st, seq, res, err);
			json_decref(res);
		}
		if (rc == MZ_OK)
			rc = mz_store_commit(st, err);
		else
			mz_store_rollback(st);
	}
	if (rc == MZ_ECONFLICT) {
		/* another node processed it first: what this one did is undone */
		mz_err_clear(err);
		json_array_clear(started);
		rc = MZ_OK;
	}
	if (rc == MZ_OK && json_array_size(started) > 0)
		*launched = true;
	json_decref(started);
	json_decref(errors);
	json_decref(event);
	return rc;
}

/* Returns how many events were handled (-1 on a store failure). */
static int
dispatch_events(mz_events *ev, mz_store *st)
{
	json_t *items = NULL;
	mz_err err = {0};
	if (mz_event_pending(st, EVENT_BATCH, &items, &err) != MZ_OK) {
		store_trouble(ev, "events: cannot read events: %s", err.msg);
		return -1;
	}
	int n = 0;
	bool launched = false;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		if (dispatch_one(ev, st, item, &launched, &err) != MZ_OK) {
			store_trouble(ev, "events: event %s not processed yet (will retry): %s",
			         mz_json_str(item, "eventId"), err.msg);
			n = -1;
			break;
		}
		n++;
		if (launched) {
			mz_engine_wake(ev->engine);
			launched = false;
		}
	}
	json_decref(items);
	return n;
}

/* ---- the engine's outbox ------------------------------------------------ */

static mz_code
outbox_one(mz_events *ev, mz_store *st, json_int_t id, const json_t *oevent, bool *launched,
           int *deliveries, mz_err *err)
{
	const json_t *d = json_object_get(oevent, "details");
	const json_t *c = json_object_get(oevent, "content");
	const char *type = mz_json_str(d, "type");
	mz_code rc = mz_store_begin(st, err);
	if (rc)
		return rc;
	/* Consumed first: a second node consuming the same row waits for this
	 * transaction, then finds it gone and does nothing. */
	rc = mz_outbox_delete(st, id, err);
	if (rc) {
		mz_store_rollback(st);
		if (rc == MZ_ECONFLICT)
			mz_err_clear(err);
		return rc == MZ_ECONFLICT ? MZ_OK : rc;
	}
	json_t *exec = NULL;
	const char *exec_id = mz_json_str(c, "executionId");
	/* The execution is read (and parsed) only when something needs it:
	 * a pipeline event says whether it has notifications, and its end
	 * needs it only if some pipeline trigger could match (older rows
	 * without the flag: read). */
	bool need_exec = true;
	if (json_is_false(json_object_get(c, "hasNotifications"))) {
		const json_t *cands = NULL;
		if (mz_streq(type, "orca:pipeline:complete") || mz_streq(type, "orca:pipeline:failed"))
			cands = mz__index_candidates(ev->index, oevent);
		need_exec = json_array_size(cands) > 0;
	}
	if (exec_id && need_exec) {
		mz_err gerr = {0};
		if (mz_exec_get(st, exec_id, &exec, &gerr) != MZ_OK)
			exec = NULL;
	}
	if (mz_streq(type, "orca:pipeline:complete") || mz_streq(type, "orca:pipeline:failed")) {
		json_t *event = json_deep_copy(oevent);
		json_t *content = json_object_get(event, "content");
		if (exec && json_is_object(content))
			json_object_set(content, "execution", exec);
		char *eid = mz_asprintf("orca:%s:%s", exec_id ? exec_id : "", type);
		json_object_set_new(event, "eventId", json_string(eid));
		free(eid);
		json_t *started = json_array(), *errors = json_array();
		rc = start_matching(ev, st, event, started, errors, err);
		if (json_array_size(started) > 0)
			*launched = true;
		json_decref(started);
		json_decref(errors);
		json_decref(event);
	}
	if (rc == MZ_OK)
		rc = mz__notify_plan(ev, st, oevent, exec, deliveries, err);
	json_decref(exec);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, err);
	else
		mz_store_rollback(st);
	return rc;
}

static int
dispatch_outbox(mz_events *ev, mz_store *st)
{
	json_t *items = NULL;
	mz_err err = {0};
	if (mz_outbox_fetch(st, 0, OUTBOX_BATCH, &items, &err) != MZ_OK) {
		store_trouble(ev, "events: cannot read the outbox: %s", err.msg);
		return -1;
	}
	int n = 0;
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		bool launched = false;
		int deliveries = 0;
		json_int_t id = json_integer_value(json_object_get(item, "id"));
		if (outbox_one(ev, st, id, json_object_get(item, "event"), &launched, &deliveries,
		               &err) != MZ_OK) {
			store_trouble(ev, "events: outbox event %lld not processed yet (will retry): %s",
			         (long long)id, err.msg);
			n = -1;
			break;
		}
		n++;
		if (launched)
			mz_engine_wake(ev->engine);
		if (deliveries)
			wake_notifier(ev);
	}
	json_decref(items);
	return n;
}

/* ---- cron ---------------------------------------------------------------- */

/* Looks at one cron schedule (due, or never looked at): fires it if a firing
 * is due, records the last firing, and returns when to look again. */
static int64_t
cron_trigger(mz_events *ev, mz_store *st, const mz_cron_entry *ce, int64_t now)
{
	const json_t *p = ce->pipeline;
	const char *pid = mz_json_str(p, "id");
	const char *expr = mz_json_str(ce->trigger, "cronExpression");
	const char *tkey = ce->tkey;
	const mz_cron *c = ce->cron;
	mz_err err = {0};
	char *kvkey = mz_asprintf("cron:%s:%s", pid, tkey);
	char *val = NULL;
	int64_t last = -1;
	if (mz_kv_get(st, kvkey, &val, &err) == MZ_OK && val) {
		char *bar = strrchr(val, '|');
		if (bar && strncmp(val, expr, (size_t)(bar - val)) == 0 &&
		    strlen(expr) == (size_t)(bar - val))
			last = strtoll(bar + 1, NULL, 10);
	}
	free(val);
	char *newval = NULL;
	char *event_id = NULL;
	int64_t fire = -1;
	int64_t recorded = last;   /* the last firing once this call is done */
	if (last < 0) {
		/* A new (or changed) schedule starts now: no retroactive runs. */
		newval = mz_asprintf("%s|%lld", expr, (long long)now);
		recorded = now;
	} else {
		int64_t from = last;
		if (now - from > 3600 * 1000)
			from = now - CRON_MISFIRE_MS;
		int64_t next = mz_cron_next(c, from);
		if (next >= 0 && next <= now) {
			int64_t latest = next;
			for (int k = 0; k < 100000; k++) {
				int64_t n2 = mz_cron_next(c, latest);
				if (n2 < 0 || n2 > now)
					break;
				latest = n2;
			}
			newval = mz_asprintf("%s|%lld", expr, (long long)latest);
			recorded = latest;
			if (now - latest <= CRON_MISFIRE_MS) {
				fire = latest;
				event_id = mz_asprintf("cron:%s:%s:%lld", pid, tkey, (long long)latest);
			} else {
				mz_info("events: pipeline %s: cron trigger %s missed its firing at %lld; "
				        "skipped (misfire policy: do nothing)", pid, tkey, (long long)latest);
			}
		}
	}
	if (newval) {
		mz_code rc = mz_store_begin(st, &err);
		if (rc == MZ_OK && event_id) {
			json_t *e = json_pack("{s:{s:s, s:s, s:s?}, s:{s:s, s:s, s:I, s:s}}", "details",
			                      "type", "cron", "source", "scheduler", "application",
			                      mz_json_str(p, "application"), "content", "pipelineId", pid,
			                      "triggerId", tkey, "scheduledTime", (json_int_t)fire,
			                      "cronExpression", expr);
			rc = mz_events_submit(ev, st, e, event_id, NULL, NULL, &err);
			json_decref(e);
		}
		if (rc == MZ_OK)
			rc = mz_kv_put(st, kvkey, newval, &err);
		if (rc == MZ_OK)
			rc = mz_store_commit(st, &err);
		else
			mz_store_rollback(st);
		if (rc) {
			store_trouble(ev, "events: cron trigger %s of pipeline %s: %s", tkey, pid, err.msg);
			recorded = -1;
		}
	}
	free(newval);
	free(event_id);
	free(kvkey);
	if (recorded < 0)
		return now + 1000;  /* the store failed: look again in a second */
	int64_t next = mz_cron_next(c, recorded);
	return next < 0 ? INT64_MAX : next;
}

/* Runs the cron schedules that are due; the index holds them parsed with
 * their next firing time, so an idle tick reads nothing. */
static void
cron_tick(mz_events *ev, mz_store *st)
{
	int64_t now = mz_now_ms();
	if (now < ev->next_cron_check || !ev->index)
		return;
	ev->next_cron_check = now + CRON_CHECK_MS;
	for (size_t i = 0; i < ev->index->ncrons; i++) {
		mz_cron_entry *ce = &ev->index->crons[i];
		if (ce->next_check <= now)
			ce->next_check = cron_trigger(ev, st, ce, now);
	}
}

/* ---- the dispatcher thread ---------------------------------------------- */

static void *
dispatcher_main(void *arg)
{
	mz_events *ev = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	while (!st) {
		if (mz_store_open(ev->db_url, &st, &err) == MZ_OK)
			break;
		mz_error("events: cannot open the store: %s", err.msg);
		st = NULL;
		if (!mz__events_wait(ev, &ev->cond, &ev->kick, 1000))
			return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&ev->lock);
		bool stop = ev->stopping;
		pthread_mutex_unlock(&ev->lock);
		if (stop)
			break;
		/* Trigger dispatch and cron run on one node of a cluster at a
		 * time (the others stand by to take the lease over); each event
		 * and outbox row is also claimed in its own transaction, so even
		 * two dispatchers would not start a pipeline twice. Matching
		 * needs the index current: with a store failure the events wait
		 * rather than match against nothing. */
		int a = 0, b = 0;
		if (!mz_engine_lease(ev->engine, st, "events.dispatch", DISPATCH_LEASE_MS)) {
			/* standing by */
		} else if (mz__index_refresh(&ev->index, st, &err) == MZ_OK) {
			a = dispatch_events(ev, st);
			b = dispatch_outbox(ev, st);
			cron_tick(ev, st);
		} else {
			a = b = -1;
			store_trouble(ev, "events: cannot read the pipeline configs: %s", err.msg);
		}
		if (a < 0 || b < 0) {
			ev->backoff_ms = ev->backoff_ms ? (ev->backoff_ms >= 2000 ? 4000
			                                                          : ev->backoff_ms * 2)
			                                : 250;
			if (!mz__events_wait(ev, &ev->cond, &ev->kick, ev->backoff_ms))
				break;
			continue;
		}
		if (ev->backoff_ms) {
			mz_info("events: the store is writable again");
			ev->backoff_ms = 0;
		}
		if (a == 0 && b == 0) {
			if (!mz__events_wait(ev, &ev->cond, &ev->kick, IDLE_WAIT_MS))
				break;
		}
	}
	mz__index_free(ev->index);
	ev->index = NULL;
	mz_store_close(st);
	return NULL;
}

mz_code
mz_events_start(const mz_events_config *cfg, mz_events **out, mz_err *err)
{
	mz_events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	ev->db_url = mz_strdup(cfg->db_url);
	ev->engine = cfg->engine;
	ev->ui_base = mz_strdup(cfg->ui_base ? cfg->ui_base : "http://127.0.0.1:8084");
	const char *smtp = cfg->smtp_url ? cfg->smtp_url : getenv("MZ_SMTP_URL");
	ev->smtp_url = smtp && *smtp ? mz_strdup(smtp) : NULL;
	ev->smtp_from = mz_strdup(cfg->smtp_from ? cfg->smtp_from : "mizzen@localhost");
	ev->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 5;
	ev->retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 1000;
	const char *delay = getenv("MZ_TEST_DISPATCH_DELAY_MS");
	if (delay && *delay) {
		ev->test_delay_ms = strtoll(delay, NULL, 10);
		mz_warn("events: MZ_TEST_DISPATCH_DELAY_MS=%lld: the dispatcher waits before each "
		        "event (for tests only)", (long long)ev->test_delay_ms);
	}
	pthread_mutex_init(&ev->lock, NULL);
	pthread_cond_init(&ev->cond, NULL);
	pthread_cond_init(&ev->ncond, NULL);
	if (pthread_create(&ev->dispatcher, NULL, dispatcher_main, ev) != 0) {
		mz_events_stop(ev);
		return mz_fail(err, MZ_EIO, "cannot start the event dispatcher");
	}
	ev->have_dispatcher = true;
	if (pthread_create(&ev->notifier, NULL, mz__notifier_main, ev) != 0) {
		mz_events_stop(ev);
		return mz_fail(err, MZ_EIO, "cannot start the notifier");
	}
	ev->have_notifier = true;
	*out = ev;
	return MZ_OK;
}

void
mz_events_stop(mz_events *ev)
{
	if (!ev)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->stopping = true;
	pthread_cond_broadcast(&ev->cond);
	pthread_cond_broadcast(&ev->ncond);
	pthread_mutex_unlock(&ev->lock);
	if (ev->have_dispatcher)
		pthread_join(ev->dispatcher, NULL);
	if (ev->have_notifier)
		pthread_join(ev->notifier, NULL);
	pthread_cond_destroy(&ev->cond);
	pthread_cond_destroy(&ev->ncond);
	pthread_mutex_destroy(&ev->lock);
	free(ev->db_url);
	free(ev->ui_base);
	free(ev->smtp_url);
	free(ev->smtp_from);
	free(ev);
}
