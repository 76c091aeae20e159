/*
 * expr_int.h - internals of the pipeline expression evaluator (expr.h).
 *
 * Pipeline: expr_lex.c turns the text into tokens, expr_parse.c builds an
 * AST in an arena (expr_ast.c), expr_eval.c walks it over borrowed jansson values,
 * expr_ops.c holds the operators, expr_conv.c the conversions that must
 * look like Java (toString, number formatting, equality, regex syntax),
 * expr_methods.c the allow-listed methods, expr_funcs.c the #helpers and
 * expr_process.c the ${...} template walk.
 *
 * Values: every evaluator function returns a NEW reference or NULL on error
 * (with ev->err set). Values read out of the caller's root are increfed,
 * never copied; only the final result is deep-copied (see mz_expr_eval).
 */
#ifndef MZ_EXPR_INT_H
#define MZ_EXPR_INT_H

#include "expr/expr.h"

#include <regex.h>

/* Limits that keep hostile input from exhausting the stack or memory. */
#define MZ_X_MAX_LEN (64 * 1024)        /* expression text, bytes */
#define MZ_X_MAX_NEST 200               /* parser recursion depth */
#define MZ_X_MAX_HEIGHT 400             /* AST height = evaluator depth */
#define MZ_X_MAX_DATA_DEPTH 1000        /* recursion into JSON data */

/* ---- tokens (expr_lex.c) ---------------------------------------------- */

typedef enum mz_tok_kind {
	T_EOF, T_INT, T_REAL, T_STR, T_IDENT,
	T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE,
	T_COMMA, T_COLON, T_DOT, T_SAFE_DOT, T_HASH, T_AT,
	T_SELECT, T_SEL_FIRST, T_SEL_LAST, T_PROJECT,   /* ?[ ^[ $[ ![ after . */
	T_QMARK, T_ELVIS,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_POW,
	T_NOT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR,
	T_MATCHES, T_BETWEEN, T_INSTANCEOF,
	T_ASSIGN, T_INC, T_DEC,
} mz_tok_kind;

typedef struct mz_tok {
	mz_tok_kind kind;
	uint32_t pos;   /* byte offset in the source */
	uint32_t len;   /* raw text length */
} mz_tok;

/* Tokenizes src; *out is malloc()ed (free it) and ends with T_EOF. */
mz_code mz_x_lex(const char *src, size_t len, mz_tok **out, size_t *n,
                 mz_err *err);
const char *mz_x_tok_name(mz_tok_kind k);

/* ---- AST (expr_parse.c) ----------------------------------------------- */

typedef enum mz_node_kind {
	N_LIT,      /* lit */
	N_IDENT,    /* name: property of the active context object */
	N_PROP,     /* a.name */
	N_INDEX,    /* a[b] */
	N_METHOD,   /* a.name(args); a == NULL: method of the active context */
	N_FUNC,     /* #name(args) */
	N_VAR,      /* #name: only #this and #root exist */
	N_LIST,     /* {args} */
	N_MAP,      /* {args[0]:args[1], ...}; keys already strings (N_LIT) */
	N_NEG, N_NOT,
	N_BIN,      /* op */
	N_AND, N_OR,
	N_TERNARY,  /* a ? b : c */
	N_ELVIS,    /* a ?: b */
	N_SELECT,   /* a.?[b] (op = select kind) */
	N_PROJECT,  /* a.![b] */
} mz_node_kind;

typedef enum mz_op {
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_MATCHES, OP_BETWEEN,
} mz_op;

enum { SEL_ALL, SEL_FIRST, SEL_LAST };

typedef struct mz_node {
	mz_node_kind kind;
	int op;
	bool safe;              /* reached through ?. */
	bool name_key;          /* N_INDEX: [ident] on a map uses the name */
	uint32_t pos;
	int height;
	const char *name;       /* NUL-terminated, in the arena */
	json_t *lit;            /* owned by the AST */
	struct mz_node *a, *b, *c;
	struct mz_node **args;
	int nargs;
	regex_t *re;            /* OP_MATCHES with a literal pattern: cached */
	int re_state;           /* 0 untried, 1 compiled, -1 failed */
} mz_node;

typedef struct mz_ast mz_ast;

/* Parses one expression (without ${ }); NULL with err on a syntax error. */
mz_ast *mz_x_parse(const char *src, size_t len, mz_err *err);

/* The arena (expr_ast.c): memory lives until mz_x_ast_free. */
mz_ast *mz_x_ast_new(void);
void mz_x_ast_free(mz_ast *ast);
mz_node *mz_x_ast_top(mz_ast *ast);
void mz_x_ast_set_top(mz_ast *ast, mz_node *top);
void *mz_x_alloc(mz_ast *ast, size_t n);       /* zeroed, 16-aligned */
/* Hands a literal to the AST: json_decref at mz_x_ast_free. */
void mz_x_keep_json(mz_ast *ast, json_t *j);
/* Registers a regex_t (in the arena) for regfree at mz_x_ast_free. */
void mz_x_keep_regex(mz_ast *ast, regex_t *re);

/* ---- evaluation (expr_eval.c) ----------------------------------------- */

typedef struct mz_ev {
	const json_t *root;
	const mz_expr_env *env;
	mz_err *err;
	mz_ast *ast;
	const json_t *self;     /* active context object: #this */
	bool at_root;           /* self is the root: lookup() applies */
	long steps;
	mz_expr_limits lim;     /* the budget (expr.h), defaults filled in */
	int64_t deadline;       /* mz_expr_clock_ms() past which evaluation stops */
} mz_ev;

/* The budget (expr_budget.c). mz_x_limits resolves env's limits against
 * the process-wide ones. mz_x_budget_time fails once the deadline has
 * passed; mz_x_budget_regex before running a regex over len bytes. Both
 * return false after setting ev->err. */
mz_expr_limits mz_x_limits(const mz_expr_env *env);
/* now + lim->max_ms, or the thread's deadline if that comes first. */
int64_t mz_x_deadline(const mz_expr_limits *lim);
bool mz_x_budget_time(mz_ev *ev);
bool mz_x_budget_regex(mz_ev *ev, size_t len);
/* Fails with the string budget's message; returns NULL. */
json_t *mz_x_too_long(mz_ev *ev);

json_t *mz_x_eval(mz_ev *ev, const mz_node *n);
/* Sets ev->err (MZ_EINVAL) and returns NULL. */
json_t *mz_x_fail(mz_ev *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* json_incref on a borrowed const value: sharing, not copying. */
json_t *mz_x_ref(const json_t *v);

/* ---- operators (expr_ops.c) ------------------------------------------- */

json_t *mz_x_binop(mz_ev *ev, mz_node *n, const json_t *l, const json_t *r);
json_t *mz_x_negate(mz_ev *ev, const json_t *v);
/* SpEL's boolean conversion: booleans, and strings true/false/yes/no/on/
 * off/1/0; anything else (null too) is an error naming what. */
bool mz_x_tobool(mz_ev *ev, const json_t *v, bool *out, const char *what);
/* Java-like regex match of the whole string; re may be a cache slot. */
json_t *mz_x_matches(mz_ev *ev, mz_node *n, const json_t *l,
                     const json_t *r);

/* ---- conversions (expr_conv.c) ---------------------------------------- */

/* Java class name of a value, for messages. */
const char *mz_x_type(const json_t *v);
/* Double.toString: "1.0", "0.5", "1.0E10"; out must hold 40 bytes. */
void mz_x_fmt_double(double d, char *out);
/* Java toString(): lists "[a, b]", maps "{k=v}", null "null". */
mz_code mz_x_tostring(const json_t *v, mz_buf *b);
/* Spring conversion to String for template parts: like toString but
 * lists are joined with ",". */
mz_code mz_x_tostring_conv(const json_t *v, mz_buf *b);
/* Convenience: a new JSON string holding toString(v); NULL on failure. */
json_t *mz_x_string_of(mz_ev *ev, const json_t *v);
/* SpEL equality: numbers by value (1 == 1.0), containers deeply. */
bool mz_x_equal(const json_t *a, const json_t *b);
/* Orders two values (numbers, strings, booleans, null first); false with
 * err set when the types cannot be compared. */
bool mz_x_compare(mz_ev *ev, const json_t *a, const json_t *b, int *out);
/* New JSON string from bytes; NULL with err when not valid UTF-8. */
json_t *mz_x_strn(mz_ev *ev, const char *s, size_t len);
/* Code points in s[0..len), and the byte offset of code point i. */
size_t mz_x_u8len(const char *s, size_t len);
size_t mz_x_u8off(const char *s, size_t len, size_t i);
/* Compiles a Java-flavoured regex (\d, (?i), ...) as POSIX ERE. whole
 * anchors it at both ends (String.matches). 0 or a message in err. */
int mz_x_regcomp(regex_t *re, const char *pat, bool whole, mz_err *err);
/* Integer value of a JSON number that holds an integral value. */
bool mz_x_as_index(const json_t *v, int64_t *out);

/* ---- methods and functions (expr_methods.c, expr_funcs.c) ------------ */

json_t *mz_x_method(mz_ev *ev, const json_t *target, const char *name,
                    json_t *const *args, int nargs);
json_t *mz_x_function(mz_ev *ev, const char *name, json_t *const *args,
                      int nargs);

#endif
