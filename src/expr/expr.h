/*
 * expr.h - Spinnaker pipeline expressions (${...}), a safe subset of SpEL.
 *
 * The public header of the expression component (src/expr), which depends
 * on core only. The engine evaluates stage contexts with it; engine.h
 * includes this header, so other components reach it through engine.h.
 *
 * What is supported (Spinnaker reference §7): property and bracket access
 * (a.b, a['b'], a[0]), safe navigation (?.), literals ('s', "s", numbers,
 * true/false/null, inline lists {1,2} and maps {a:1}), comparisons
 * (== != < <= > >= and eq ne lt le gt ge), boolean and/or/not (&& || !),
 * arithmetic (+ - * / %), string concatenation with +, ternary and elvis
 * (?:), `matches` (regex), list selection .?[..], first .^[..], last .$[..],
 * projection .![..], #this and #root, string/list/map methods in common use,
 * and the helper functions #stage, #stageByRefId, #stageExists, #judgment,
 * #judgement, #toInt, #toFloat, #toBoolean, #toJson, #readJson,
 * #alphanumerical, #toBase64, #fromBase64, #currentStage.
 * Anything else (T(...), new, arbitrary methods, file or network access) is
 * an evaluation error, never executed.
 *
 * Ownership: returned json_t * are new references; arguments are borrowed.
 */
#ifndef MZ_EXPR_H
#define MZ_EXPR_H

#include "core/core.h"

/*
 * The evaluation budget. Expressions come from pipeline configs and
 * trigger payloads, and the engine evaluates them inside its write
 * transaction, so one expression must not be able to run for long: every
 * limit below ends evaluation with a per-field error
 * ("Expression budget exceeded: ...") instead.
 *  - max_steps: AST node evaluations per expression;
 *  - max_string: bytes of any string an expression builds;
 *  - max_regex_input: bytes a regular expression may be run over
 *    (glibc's matcher is quadratic in the input on patterns such as
 *    (a|aa)*c, and a running regexec cannot be interrupted, so the input
 *    is what bounds it: 4 kB costs at most ~40 ms);
 *  - max_ms: wall-clock time of one mz_expr_eval, or of one whole
 *    mz_expr_process walk (a stage context), checked between steps and
 *    before every regular-expression match.
 * Zero in a field means its default. The settings are the config's
 * "expressions" object (README).
 */
typedef struct mz_expr_limits {
	long max_steps;             /* default 100000 */
	size_t max_string;          /* default 1 MiB */
	size_t max_regex_input;     /* default 4096 */
	long max_ms;                /* default 50 */
} mz_expr_limits;

#define MZ_EXPR_DEFAULT_STEPS 100000L
#define MZ_EXPR_DEFAULT_STRING (1024 * 1024)
#define MZ_EXPR_DEFAULT_REGEX_INPUT 4096
#define MZ_EXPR_DEFAULT_MS 50L

/* Sets the process-wide limits (at start-up, before any evaluation);
 * NULL restores the defaults. */
void mz_expr_set_limits(const mz_expr_limits *limits);
/* The limits in force, with defaults filled in. */
mz_expr_limits mz_expr_get_limits(void);
/* Reads {"maxSteps", "maxStringBytes", "maxRegexInputBytes", "timeoutMs"}
 * (each optional, a positive integer) into *out, starting from the
 * defaults. cfg may be NULL. False with err naming the bad setting. */
bool mz_expr_limits_from_json(const json_t *cfg, mz_expr_limits *out,
                              mz_err *err);

/* The clock of the time budget: the calling thread's CPU time in ms (time
 * spent descheduled on a loaded machine does not count). */
int64_t mz_expr_clock_ms(void);
/*
 * A deadline (on mz_expr_clock_ms) for every evaluation on the calling
 * thread, on top of max_ms per evaluation; 0 clears it. The engine sets one
 * around each transaction so that all the expressions it evaluates share
 * one bound, however many fields and stages there are. Returns the previous.
 */
int64_t mz_expr_thread_deadline(int64_t clock_ms);

typedef struct mz_expr_env {
	/* The execution JSON (Spinnaker's shape, with "stages"); borrowed, may
	 * be NULL. #stage, #stageByRefId, #stageExists, #judgment search its
	 * "stages" array. */
	const json_t *execution;
	/* The stage being evaluated; borrowed, may be NULL. #currentStage()
	 * returns it. */
	const json_t *stage;
	/* Called for a top-level name that is not a key of the root object:
	 * the engine answers with upstream stages' outputs (Orca's ancestor
	 * lookup). Returns a borrowed reference or NULL. May be NULL. */
	json_t *(*lookup)(const char *name, void *udata);
	void *udata;
	/* Orca evaluates stage contexts with unknown keys reading as null, and
	 * trigger-time evaluation with unknown keys as errors. */
	bool strict_unknown_keys;
	/* Overrides the process-wide limits for this evaluation; may be NULL. */
	const mz_expr_limits *limits;
} mz_expr_env;

/*
 * Evaluates one expression given WITHOUT the ${ } delimiters against root
 * (an object whose keys are the top-level names). Returns the typed value
 * (a new reference; JSON null for a null result) or NULL with err set to a
 * message such as "Unable to locate [Deploy] using #stage(Deploy)".
 */
json_t *mz_expr_eval(const char *expr, const json_t *root,
                     const mz_expr_env *env, mz_err *err);

/*
 * Walks value (maps, lists, and map keys too) and replaces every string
 * containing ${...}. A string that is exactly one expression takes the
 * result's type; a composite string becomes a string, with any part that
 * fails or is null left as its literal ${...} text. On failure the
 * original text is kept and an entry is appended to summary (an object,
 * may be NULL) under the expression text without ${ }:
 *   {"<expr>": [{"description": "Failed to evaluate [field] <msg>",
 *                "exceptionType": "SpelEvaluationException",
 *                "timestamp": <ms>, "level": "ERROR"}]}
 * A null result records level "INFO" with description
 * "Failed to evaluate [field] <expr> not found". Returns a new reference.
 */
json_t *mz_expr_process(const json_t *value, const json_t *root,
                        const mz_expr_env *env, json_t *summary);

/* Checks the syntax of every ${...} in s without evaluating anything (for
 * validating a pipeline before it is stored). Returns false with err set
 * to a message naming the expression and what is wrong. */
bool mz_expr_check(const char *s, mz_err *err);

/* True if the string contains "${": the cheap test before processing. */
bool mz_expr_has(const char *s);

#endif
