/*
 * expr_budget.c - the evaluation budget of expr.h: the process-wide limits,
 * their settings, and the checks the evaluator makes against them.
 *
 * Every failure message starts "Expression budget exceeded:" and names the
 * setting that would raise the limit, so a user reading the stage's
 * expressionEvaluationSummary knows both what happened and what to change.
 */
#include "expr/expr_int.h"

#include <stdatomic.h>
#include <time.h>

/* Set once at start-up, read by every evaluating thread: plain atomics
 * are enough (no field depends on another). */
static _Atomic long lim_steps, lim_string, lim_regex, lim_ms;
static _Thread_local int64_t thread_deadline;

/* The budget's clock is the evaluating thread's CPU time, not the wall
 * clock: on a loaded machine (or under a sanitizer) a thread descheduled for
 * 100 ms must not fail `${true}`, while a regex or loop burning CPU is still
 * stopped after its milliseconds of work. */
int64_t
mz_expr_clock_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return mz_mono_ms();
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mz_expr_thread_deadline(int64_t clock_ms)
{
	int64_t prev = thread_deadline;
	thread_deadline = clock_ms;
	return prev;
}

int64_t
mz_x_deadline(const mz_expr_limits *lim)
{
	int64_t d = mz_expr_clock_ms() + lim->max_ms;
	return thread_deadline && thread_deadline < d ? thread_deadline : d;
}

static long
or_default(long v, long def)
{
	return v > 0 ? v : def;
}

void
mz_expr_set_limits(const mz_expr_limits *l)
{
	atomic_store(&lim_steps, l ? l->max_steps : 0);
	atomic_store(&lim_string, l ? (long)l->max_string : 0);
	atomic_store(&lim_regex, l ? (long)l->max_regex_input : 0);
	atomic_store(&lim_ms, l ? l->max_ms : 0);
}

mz_expr_limits
mz_expr_get_limits(void)
{
	return (mz_expr_limits){
		.max_steps = or_default(atomic_load(&lim_steps), MZ_EXPR_DEFAULT_STEPS),
		.max_string = (size_t)or_default(atomic_load(&lim_string),
		                                 MZ_EXPR_DEFAULT_STRING),
		.max_regex_input = (size_t)or_default(atomic_load(&lim_regex),
		                                      MZ_EXPR_DEFAULT_REGEX_INPUT),
		.max_ms = or_default(atomic_load(&lim_ms), MZ_EXPR_DEFAULT_MS),
	};
}

mz_expr_limits
mz_x_limits(const mz_expr_env *env)
{
	mz_expr_limits l = mz_expr_get_limits();
	const mz_expr_limits *o = env ? env->limits : NULL;
	if (o) {
		l.max_steps = or_default(o->max_steps, l.max_steps);
		l.max_string = (size_t)or_default((long)o->max_string, (long)l.max_string);
		l.max_regex_input = (size_t)or_default((long)o->max_regex_input,
		                                       (long)l.max_regex_input);
		l.max_ms = or_default(o->max_ms, l.max_ms);
	}
	return l;
}

static bool
read_setting(const json_t *cfg, const char *key, long max, long *out, mz_err *err)
{
	json_t *v = json_object_get(cfg, key);
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > max) {
		mz_fail(err, MZ_EINVAL, "expressions.%s must be an integer from 1 to %ld",
		        key, max);
		return false;
	}
	*out = (long)json_integer_value(v);
	return true;
}

bool
mz_expr_limits_from_json(const json_t *cfg, mz_expr_limits *out, mz_err *err)
{
	*out = (mz_expr_limits){
		.max_steps = MZ_EXPR_DEFAULT_STEPS,
		.max_string = MZ_EXPR_DEFAULT_STRING,
		.max_regex_input = MZ_EXPR_DEFAULT_REGEX_INPUT,
		.max_ms = MZ_EXPR_DEFAULT_MS,
	};
	if (!cfg || json_is_null(cfg))
		return true;
	if (!json_is_object(cfg)) {
		mz_fail(err, MZ_EINVAL, "expressions must be an object");
		return false;
	}
	long str = (long)out->max_string, rx = (long)out->max_regex_input;
	if (!read_setting(cfg, "maxSteps", 1000000000L, &out->max_steps, err) ||
	    !read_setting(cfg, "maxStringBytes", 1L << 30, &str, err) ||
	    !read_setting(cfg, "maxRegexInputBytes", 1L << 30, &rx, err) ||
	    !read_setting(cfg, "timeoutMs", 3600000L, &out->max_ms, err))
		return false;
	out->max_string = (size_t)str;
	out->max_regex_input = (size_t)rx;
	return true;
}

bool
mz_x_budget_time(mz_ev *ev)
{
	if (mz_expr_clock_ms() <= ev->deadline)
		return true;
	mz_x_fail(ev, "Expression budget exceeded: evaluation took longer than "
	          "%ld ms (expressions.timeoutMs)", ev->lim.max_ms);
	return false;
}

bool
mz_x_budget_regex(mz_ev *ev, size_t len)
{
	if (len > ev->lim.max_regex_input) {
		mz_x_fail(ev, "Expression budget exceeded: a regular expression may "
		          "run over at most %zu bytes, not %zu "
		          "(expressions.maxRegexInputBytes)", ev->lim.max_regex_input, len);
		return false;
	}
	return mz_x_budget_time(ev);
}

json_t *
mz_x_too_long(mz_ev *ev)
{
	return mz_x_fail(ev, "Expression budget exceeded: a string result would be "
	                 "longer than %zu bytes (expressions.maxStringBytes)",
	                 ev->lim.max_string);
}
