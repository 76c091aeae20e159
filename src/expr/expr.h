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
