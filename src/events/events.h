/*
 * events.h - the event bus, triggers and notifications (Spinnaker's Echo).
 *
 * Incoming events (webhooks, pollers, the cron scheduler) are stored in the
 * store's `events` table under a unique event id, then a dispatcher thread
 * with its own store connection takes them in order and, in ONE transaction
 * per event, matches the event against every enabled trigger of every
 * enabled pipeline, starts one execution per matching pipeline (through
 * mz_engine_launch_pipeline, so the executions and the "processed" mark
 * commit together) and records which executions it started. A restart
 * never replays a processed event; an event id stored twice is kept once.
 *
 * The same thread consumes the engine's outbox (orca:pipeline:* and
 * orca:stage:* events): it starts pipelines with `pipeline` triggers and
 * turns the executions' `notifications` into deliveries (webhook, Slack
 * incoming webhook, email over SMTP), all in the transaction that deletes
 * the outbox row. A notifier thread sends deliveries with retries and
 * backoff; a failed notification is logged and never fails a pipeline.
 *
 * Cron triggers (Quartz expressions with a seconds field) are scheduled by
 * the dispatcher: each firing is an event with the deterministic id
 * cron:<pipeline>:<trigger>:<scheduled ms>, so a restart neither loses nor
 * doubles one.
 *
 * JSON ownership: as in core.h.
 */
#ifndef MZ_EVENTS_H
#define MZ_EVENTS_H

#include "core/core.h"
#include "engine/engine.h"
#include "store/store.h"

typedef struct mz_events mz_events;

typedef struct mz_events_config {
	const char *db_url;     /* the dispatcher and notifier open their own connections */
	mz_engine *engine;      /* borrowed: woken after executions are started */
	const char *ui_base;    /* http://host:port: links to executions in notifications */
	const char *smtp_url;   /* smtp://host:port for email; NULL: $MZ_SMTP_URL */
	const char *smtp_from;  /* NULL: mizzen@localhost */
	int max_attempts;       /* per notification delivery; 0: 5 */
	int64_t retry_base_ms;  /* first retry delay, doubled each time; 0: 1000 */
} mz_events_config;

mz_code mz_events_start(const mz_events_config *cfg, mz_events **out, mz_err *err);
/* Stops the threads after their current step; stored work stays stored. */
void mz_events_stop(mz_events *ev);
/* Tells the dispatcher that new events may be stored. */
void mz_events_wake(mz_events *ev);

/* Stores an incoming event {details: {type, source, ...}, content, payload?,
 * rawContent?} under event_id (NULL: a new UUID), in st's current
 * transaction if there is one (mz_events_wake after the commit), else in
 * its own. The id goes to out_id (may be NULL); *added (may be NULL) is
 * false when an event with that id was already stored. */
mz_code mz_events_submit(mz_events *ev, mz_store *st, const json_t *event,
                         const char *event_id, char out_id[128], bool *added, mz_err *err);

/* Does a GitHub-style event carry a signature that one of the triggers it
 * addresses accepts? false (reply 401) when some enabled git trigger for
 * its source/project/slug has a `secret` and no such secret verifies the
 * X-Hub-Signature-256 (or when a signature is given but the matching
 * triggers have no secret). Triggers whose repository differs do not
 * count. */
bool mz_events_git_authentic(mz_store *st, const json_t *event);

/* ---- matching (pure functions; unit-tested) --------------------------- */

/* The concrete trigger a pipeline would run with for event, or NULL when
 * the pipeline is disabled or none of its enabled triggers matches (the
 * first matching trigger wins: one execution per pipeline per event).
 * event carries "eventId" and, for pipeline triggers, content.execution
 * (the parent execution). */
json_t *mz_trigger_match(const json_t *pipeline, const json_t *event);

/* Echo's payload constraints: every key must be present (top level, or,
 * with jsonpath, as a JSONPath-ish path such as "$.a.b", "a.b[0]") with a
 * value whose text contains a match of the regex (unanchored, as Java's
 * find(); anchor with ^...$). Invalid regex: no match. */
bool mz_payload_constraints_ok(const json_t *constraints, const json_t *payload,
                               bool jsonpath);
/* Full match of s against the POSIX extended regex re; invalid: false. */
bool mz_regex_full(const char *re, const char *s);
/* An HMAC-SHA256 hex digest, "sha256=<hex>" accepted, compared in
 * constant time, case-insensitively. */
bool mz_signature_ok(const char *secret, const char *body, size_t len, const char *header);

/* ---- cron (Quartz syntax) --------------------------------------------- */

typedef struct mz_cron mz_cron;

/* 6 or 7 fields, seconds first: sec min hour day-of-month month
 * day-of-week [year]; `*`, `?`, lists, ranges, steps (`*\/5`, `0/15`,
 * `10-40/10`), names (JAN-DEC, SUN-SAT; day-of-week 1 = Sunday), `L` (last
 * day of the month; `5L` last Thursday), `n#k` (k-th weekday n), `H`
 * (hashed from salt, as Echo's fuzzer). One of day-of-month and
 * day-of-week must be `?`. */
mz_code mz_cron_parse(const char *expr, const char *salt, mz_cron **out, mz_err *err);
/* The first firing strictly after after_ms, in the process's local time
 * zone (TZ), or -1 if none within about five years. */
int64_t mz_cron_next(const mz_cron *c, int64_t after_ms);
void mz_cron_free(mz_cron *c);

/* ---- small shared helpers --------------------------------------------- */

/* (SHA-256, HMAC-SHA256 and hex are in core.h; outbound HTTP and mail go
 * through src/httpc.) */
#endif
