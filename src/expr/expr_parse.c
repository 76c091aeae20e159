/*
 * expr_parse.c - recursive-descent parser from tokens to an AST.
 *
 * Precedence, loosest first, as in SpEL:
 *   ternary/elvis  ->  or  ->  and  ->  relational (one operator, not
 *   chained)  ->  + -  ->  * / %  ->  ^  ->  unary - + !  ->  primary with
 *   postfix . ?. [..] .?[..] .^[..] .$[..] .![..]
 * Every node lives in the AST's arena (expr_ast.c). Recursion depth and AST height are capped so that garbage
 * input cannot exhaust the stack here or later in the evaluator.
 */
#include "expr/expr_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parser state ----------------------------------------------------- */

typedef struct parser {
	const char *src;
	mz_tok *t;
	size_t n, i;
	mz_ast *ast;
	mz_err *err;
	int depth;
	bool failed;
} parser;

static mz_node *parse_expr(parser *p);

static mz_node *
perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static mz_node *
perr(parser *p, const char *fmt, ...)
{
	if (!p->failed && p->err) {
		va_list ap;
		va_start(ap, fmt);
		p->err->code = MZ_EINVAL;
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	p->failed = true;
	return NULL;
}

static const mz_tok *
peek(const parser *p)
{
	return &p->t[p->i];
}

static mz_tok_kind
peek_kind(const parser *p, size_t ahead)
{
	size_t i = p->i + ahead;
	return i < p->n ? p->t[i].kind : T_EOF;
}

static const mz_tok *
next(parser *p)
{
	const mz_tok *t = &p->t[p->i];
	if (t->kind != T_EOF)
		p->i++;
	return t;
}

static bool
accept(parser *p, mz_tok_kind k)
{
	if (peek(p)->kind != k)
		return false;
	next(p);
	return true;
}

/* Quotes the offending token for an error message. */
static const char *
tok_text(const parser *p, const mz_tok *t, char *buf, size_t size)
{
	if (t->kind == T_EOF)
		return "end of expression";
	size_t n = t->len < size - 1 ? t->len : size - 1;
	memcpy(buf, p->src + t->pos, n);
	buf[n] = '\0';
	return buf;
}

static bool
expect(parser *p, mz_tok_kind k)
{
	if (accept(p, k))
		return true;
	char buf[48];
	perr(p, "EL1043E: Unexpected token. Expected '%s' but was '%s' "
	     "(position %" PRIu32 ")", mz_x_tok_name(k),
	     tok_text(p, peek(p), buf, sizeof(buf)), peek(p)->pos);
	return false;
}

static bool
is_word(const parser *p, const mz_tok *t, const char *w)
{
	return t->kind == T_IDENT && strlen(w) == t->len &&
	       strncasecmp(p->src + t->pos, w, t->len) == 0;
}

static char *
tok_dup(parser *p, const mz_tok *t)
{
	char *s = mz_x_alloc(p->ast, t->len + 1);
	memcpy(s, p->src + t->pos, t->len);
	return s;
}

/* ---- node construction ------------------------------------------------ */

static int
height_of(const mz_node *n)
{
	return n ? n->height : 0;
}

static mz_node *
check_height(parser *p, mz_node *n)
{
	if (n->height > MZ_X_MAX_HEIGHT)
		return perr(p, "Expression is too deeply nested (more than %d "
		            "levels)", MZ_X_MAX_HEIGHT);
	return n;
}

static mz_node *
mk(parser *p, mz_node_kind kind, uint32_t pos, mz_node *a, mz_node *b,
   mz_node *c)
{
	mz_node *n = mz_x_alloc(p->ast, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	n->a = a;
	n->b = b;
	n->c = c;
	int h = height_of(a);
	if (height_of(b) > h)
		h = height_of(b);
	if (height_of(c) > h)
		h = height_of(c);
	n->height = h + 1;
	return check_height(p, n);
}

static mz_node *
mk_lit(parser *p, uint32_t pos, json_t *v)
{
	if (!v)
		return perr(p, "EL1046E: Invalid literal at position %" PRIu32
		            " (not valid UTF-8?)", pos);
	mz_x_keep_json(p->ast, v);
	mz_node *n = mk(p, N_LIT, pos, NULL, NULL, NULL);
	if (n)
		n->lit = v;
	return n;
}

/* Parses "(a, b, ...)" after the '(' was seen; sets args on n. */
static bool
parse_args(parser *p, mz_node *n)
{
	mz_node *tmp[64];
	int cnt = 0;
	if (!expect(p, T_LPAREN))
		return false;
	if (!accept(p, T_RPAREN)) {
		do {
			if (cnt == 64) {
				perr(p, "Too many arguments (max 64)");
				return false;
			}
			mz_node *a = parse_expr(p);
			if (!a)
				return false;
			tmp[cnt++] = a;
		} while (accept(p, T_COMMA));
		if (!expect(p, T_RPAREN))
			return false;
	}
	n->args = mz_x_alloc(p->ast, sizeof(mz_node *) * (size_t)(cnt ? cnt : 1));
	memcpy(n->args, tmp, sizeof(mz_node *) * (size_t)cnt);
	n->nargs = cnt;
	for (int i = 0; i < cnt; i++)
		if (tmp[i]->height >= n->height)
			n->height = tmp[i]->height + 1;
	return check_height(p, n) != NULL;
}

/* ---- literals --------------------------------------------------------- */

static mz_node *
parse_number(parser *p, const mz_tok *t)
{
	char buf[128];
	if (t->len >= sizeof(buf))
		return perr(p, "EL1035E: Number too long at position %" PRIu32,
		            t->pos);
	memcpy(buf, p->src + t->pos, t->len);
	buf[t->len] = '\0';
	size_t n = t->len;
	if (n > 1 && strchr("lLdDfF", buf[n - 1]) &&
	    !(t->kind == T_INT && (buf[1] == 'x' || buf[1] == 'X') &&
	      strchr("dDfF", buf[n - 1])))
		buf[--n] = '\0';
	char *end;
	errno = 0;
	if (t->kind == T_REAL) {
		double d = strtod(buf, &end);
		if (*end || errno)
			return perr(p, "EL1035E: Invalid number '%s'", buf);
		return mk_lit(p, t->pos, json_real(d));
	}
	long long v;
	if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
		v = (long long)strtoull(buf + 2, &end, 16);
	else
		v = strtoll(buf, &end, 10);
	if (*end || errno || end == buf)
		return perr(p, "EL1035E: The value '%s' cannot be parsed as a "
		            "number", buf);
	return mk_lit(p, t->pos, json_integer(v));
}

/* Strips the quotes and collapses doubled quotes. */
static mz_node *
parse_string(parser *p, const mz_tok *t)
{
	const char *s = p->src + t->pos;
	char q = s[0];
	char *out = malloc(t->len + 1);
	if (!out)
		return perr(p, "out of memory");
	size_t o = 0;
	for (size_t i = 1; i + 1 < t->len; i++) {
		out[o++] = s[i];
		if (s[i] == q)
			i++;
	}
	json_t *v = json_stringn(out, o);
	free(out);
	return mk_lit(p, t->pos, v);
}

/* {1, 2}, {a: 1, 'b': 2}, {} (empty list) and {:} (empty map). */
static mz_node *
parse_inline(parser *p, uint32_t pos)
{
	if (accept(p, T_RBRACE))
		return mk(p, N_LIST, pos, NULL, NULL, NULL);
	if (peek_kind(p, 0) == T_COLON && peek_kind(p, 1) == T_RBRACE) {
		p->i += 2;
		return mk(p, N_MAP, pos, NULL, NULL, NULL);
	}
	mz_node *n = mk(p, N_LIST, pos, NULL, NULL, NULL);
	size_t cnt = 0, cap = 0;
	mz_node **items = NULL;
	bool is_map = false;
	for (;;) {
		mz_node *it = parse_expr(p);
		if (!it)
			goto fail;
		if (cnt == 0 && peek(p)->kind == T_COLON)
			is_map = true;
		if (cnt + 2 > cap) {
			cap = cap ? cap * 2 : 8;
			mz_node **ni = realloc(items, cap * sizeof(*ni));
			if (!ni) {
				perr(p, "out of memory");
				goto fail;
			}
			items = ni;
		}
		if (is_map) {
			/* A bare name as a key is the name itself, as in SpEL. */
			if (it->kind == N_IDENT)
				it = mk_lit(p, it->pos, json_string(it->name));
			if (!it || !expect(p, T_COLON))
				goto fail;
			items[cnt++] = it;
			if (!(it = parse_expr(p)))
				goto fail;
		}
		items[cnt++] = it;
		if (it->height >= n->height)
			n->height = it->height + 1;
		if (!check_height(p, n))
			goto fail;
		if (accept(p, T_RBRACE))
			break;
		if (!expect(p, T_COMMA))
			goto fail;
	}
	n->kind = is_map ? N_MAP : N_LIST;
	n->args = mz_x_alloc(p->ast, cnt * sizeof(*items));
	memcpy(n->args, items, cnt * sizeof(*items));
	n->nargs = (int)cnt;
	free(items);
	return n;
fail:
	free(items);
	return NULL;
}

/* ---- primary expressions ---------------------------------------------- */

static mz_node *
parse_start(parser *p)
{
	const mz_tok *t = next(p);
	char buf[48];
	switch (t->kind) {
	case T_INT:
	case T_REAL:
		return parse_number(p, t);
	case T_STR:
		return parse_string(p, t);
	case T_LPAREN: {
		mz_node *e = parse_expr(p);
		if (!e || !expect(p, T_RPAREN))
			return NULL;
		return e;
	}
	case T_LBRACE:
		return parse_inline(p, t->pos);
	case T_LBRACK: {
		/* [x] alone indexes the active context object. */
		mz_node *ix = parse_expr(p);
		if (!ix || !expect(p, T_RBRACK))
			return NULL;
		mz_node *n = mk(p, N_INDEX, t->pos, NULL, ix, NULL);
		if (n && ix->kind == N_IDENT)
			n->name_key = true;
		return n;
	}
	case T_HASH: {
		const mz_tok *id = next(p);
		if (id->kind != T_IDENT)
			return perr(p, "EL1043E: Unexpected token. Expected a name "
			            "after '#' (position %" PRIu32 ")", t->pos);
		mz_node *n = mk(p, N_VAR, t->pos, NULL, NULL, NULL);
		if (!n)
			return NULL;
		n->name = tok_dup(p, id);
		if (peek(p)->kind == T_LPAREN) {
			n->kind = N_FUNC;
			if (!parse_args(p, n))
				return NULL;
		}
		return n;
	}
	case T_AT:
		return perr(p, "Bean references (@) are not allowed");
	case T_IDENT:
		break;
	default:
		return perr(p, "EL1043E: Unexpected token '%s' at position %" PRIu32,
		            tok_text(p, t, buf, sizeof(buf)), t->pos);
	}
	if (is_word(p, t, "true") || is_word(p, t, "false"))
		return mk_lit(p, t->pos, json_boolean(is_word(p, t, "true")));
	if (is_word(p, t, "null"))
		return mk_lit(p, t->pos, json_null());
	if (t->len == 1 && p->src[t->pos] == 'T' && peek(p)->kind == T_LPAREN)
		return perr(p, "EL1005E: Type references are not allowed: T(...) "
		            "at position %" PRIu32, t->pos);
	if (is_word(p, t, "new") && peek(p)->kind == T_IDENT)
		return perr(p, "Constructor invocation (new) is not allowed at "
		            "position %" PRIu32, t->pos);
	mz_node *n = mk(p, N_IDENT, t->pos, NULL, NULL, NULL);
	if (!n)
		return NULL;
	n->name = tok_dup(p, t);
	if (peek(p)->kind == T_LPAREN) {
		n->kind = N_METHOD;     /* method of the active context */
		if (!parse_args(p, n))
			return NULL;
	}
	return n;
}

/* After '.' or '?.': a property, a method call or a selection. */
static mz_node *
parse_dotted(parser *p, mz_node *target, bool safe)
{
	const mz_tok *t = next(p);
	char buf[48];
	if (t->kind != T_IDENT)
		return perr(p, "EL1043E: Unexpected token. Expected a property "
		            "or method name but was '%s' (position %" PRIu32 ")",
		            tok_text(p, t, buf, sizeof(buf)), t->pos);
	mz_node *n = mk(p, N_PROP, t->pos, target, NULL, NULL);
	if (!n)
		return NULL;
	n->safe = safe;
	n->name = tok_dup(p, t);
	if (peek(p)->kind == T_LPAREN) {
		n->kind = N_METHOD;
		if (!parse_args(p, n))
			return NULL;
	}
	return n;
}

static mz_node *
parse_primary(parser *p)
{
	mz_node *n = parse_start(p);
	while (n) {
		const mz_tok *t = peek(p);
		switch (t->kind) {
		case T_DOT:
		case T_SAFE_DOT:
			next(p);
			n = parse_dotted(p, n, t->kind == T_SAFE_DOT);
			break;
		case T_LBRACK: {
			next(p);
			mz_node *ix = parse_expr(p);
			if (!ix || !expect(p, T_RBRACK))
				return NULL;
			n = mk(p, N_INDEX, t->pos, n, ix, NULL);
			if (n && ix->kind == N_IDENT)
				n->name_key = true;
			break;
		}
		case T_SELECT:
		case T_SEL_FIRST:
		case T_SEL_LAST:
		case T_PROJECT: {
			next(p);
			mz_node *e = parse_expr(p);
			if (!e || !expect(p, T_RBRACK))
				return NULL;
			n = mk(p, t->kind == T_PROJECT ? N_PROJECT : N_SELECT, t->pos,
			       n, e, NULL);
			if (n)
				n->op = t->kind == T_SEL_FIRST ? SEL_FIRST :
				        t->kind == T_SEL_LAST ? SEL_LAST : SEL_ALL;
			break;
		}
		case T_INC:
		case T_DEC:
			return perr(p, "Increment and decrement operators are not "
			            "allowed (position %" PRIu32 ")", t->pos);
		default:
			return n;
		}
	}
	return NULL;
}

/* ---- operators -------------------------------------------------------- */

static bool
enter(parser *p)
{
	if (++p->depth > MZ_X_MAX_NEST) {
		perr(p, "Expression is too deeply nested (more than %d levels)",
		     MZ_X_MAX_NEST);
		return false;
	}
	return true;
}

static mz_node *
leave(parser *p, mz_node *n)
{
	p->depth--;
	return n;
}

static mz_node *
parse_unary(parser *p)
{
	if (!enter(p))
		return NULL;
	const mz_tok *t = peek(p);
	mz_node *n;
	if (t->kind == T_MINUS || t->kind == T_PLUS || t->kind == T_NOT) {
		next(p);
		mz_node *a = parse_unary(p);
		if (!a)
			return NULL;
		if (t->kind == T_PLUS)
			n = mk(p, N_NEG, t->pos, a, NULL, NULL);
		else
			n = mk(p, t->kind == T_MINUS ? N_NEG : N_NOT, t->pos, a, NULL,
			       NULL);
		if (n && t->kind == T_PLUS)
			n->op = 1;      /* unary plus: checks for a number only */
	} else if (t->kind == T_INC || t->kind == T_DEC) {
		n = perr(p, "Increment and decrement operators are not allowed");
	} else {
		n = parse_primary(p);
	}
	return leave(p, n);
}

static mz_node *
parse_pow(parser *p)
{
	mz_node *l = parse_unary(p);
	while (l && peek(p)->kind == T_POW) {
		uint32_t pos = next(p)->pos;
		mz_node *r = parse_unary(p);
		if (!r)
			return NULL;
		if ((l = mk(p, N_BIN, pos, l, r, NULL)))
			l->op = OP_POW;
	}
	return l;
}

static mz_node *
parse_prod(parser *p)
{
	mz_node *l = parse_pow(p);
	for (;;) {
		mz_tok_kind k = peek(p)->kind;
		if (!l || (k != T_STAR && k != T_SLASH && k != T_PERCENT))
			return l;
		uint32_t pos = next(p)->pos;
		mz_node *r = parse_pow(p);
		if (!r)
			return NULL;
		if ((l = mk(p, N_BIN, pos, l, r, NULL)))
			l->op = k == T_STAR ? OP_MUL : k == T_SLASH ? OP_DIV : OP_MOD;
	}
}

static mz_node *
parse_sum(parser *p)
{
	mz_node *l = parse_prod(p);
	for (;;) {
		mz_tok_kind k = peek(p)->kind;
		if (!l || (k != T_PLUS && k != T_MINUS))
			return l;
		uint32_t pos = next(p)->pos;
		mz_node *r = parse_prod(p);
		if (!r)
			return NULL;
		if ((l = mk(p, N_BIN, pos, l, r, NULL)))
			l->op = k == T_PLUS ? OP_ADD : OP_SUB;
	}
}

static mz_node *
parse_rel(parser *p)
{
	mz_node *l = parse_sum(p);
	if (!l)
		return NULL;
	int op;
	switch (peek(p)->kind) {
	case T_EQ: op = OP_EQ; break;
	case T_NE: op = OP_NE; break;
	case T_LT: op = OP_LT; break;
	case T_LE: op = OP_LE; break;
	case T_GT: op = OP_GT; break;
	case T_GE: op = OP_GE; break;
	case T_MATCHES: op = OP_MATCHES; break;
	case T_BETWEEN: op = OP_BETWEEN; break;
	case T_INSTANCEOF:
		return perr(p, "EL1005E: Type references are not allowed "
		            "(instanceof)");
	default:
		return l;
	}
	uint32_t pos = next(p)->pos;
	mz_node *r = parse_sum(p);
	if (!r)
		return NULL;
	if ((l = mk(p, N_BIN, pos, l, r, NULL)))
		l->op = op;
	return l;
}

static mz_node *
parse_and(parser *p)
{
	mz_node *l = parse_rel(p);
	while (l && peek(p)->kind == T_AND) {
		uint32_t pos = next(p)->pos;
		mz_node *r = parse_rel(p);
		if (!r)
			return NULL;
		l = mk(p, N_AND, pos, l, r, NULL);
	}
	return l;
}

static mz_node *
parse_or(parser *p)
{
	mz_node *l = parse_and(p);
	while (l && peek(p)->kind == T_OR) {
		uint32_t pos = next(p)->pos;
		mz_node *r = parse_and(p);
		if (!r)
			return NULL;
		l = mk(p, N_OR, pos, l, r, NULL);
	}
	return l;
}

static mz_node *
parse_expr(parser *p)
{
	if (!enter(p))
		return NULL;
	mz_node *l = parse_or(p);
	if (!l)
		return leave(p, NULL);
	const mz_tok *t = peek(p);
	if (t->kind == T_QMARK) {
		next(p);
		mz_node *b = parse_expr(p);
		if (!b || !expect(p, T_COLON))
			return leave(p, NULL);
		mz_node *c = parse_expr(p);
		if (!c)
			return leave(p, NULL);
		l = mk(p, N_TERNARY, t->pos, l, b, c);
	} else if (t->kind == T_ELVIS) {
		next(p);
		mz_node *b = parse_expr(p);
		if (!b)
			return leave(p, NULL);
		l = mk(p, N_ELVIS, t->pos, l, b, NULL);
	} else if (t->kind == T_ASSIGN) {
		l = perr(p, "Assignment is not allowed (position %" PRIu32 ")",
		         t->pos);
	}
	return leave(p, l);
}

mz_ast *
mz_x_parse(const char *src, size_t len, mz_err *err)
{
	if (len > MZ_X_MAX_LEN) {
		mz_fail(err, MZ_EINVAL, "Expression is too long (%zu bytes, max "
		        "%d)", len, MZ_X_MAX_LEN);
		return NULL;
	}
	parser p = {.src = src, .err = err};
	if (mz_x_lex(src, len, &p.t, &p.n, err) != MZ_OK)
		return NULL;
	p.ast = mz_x_ast_new();
	if (!p.ast) {
		free(p.t);
		mz_fail(err, MZ_ENOMEM, "out of memory");
		return NULL;
	}
	if (peek(&p)->kind == T_EOF) {
		perr(&p, "EL1042E: The expression is empty");
	} else {
		mz_node *top = parse_expr(&p);
		if (top && peek(&p)->kind != T_EOF) {
			char buf[48];
			perr(&p, "EL1041E: After parsing a valid expression, there is "
			     "still more data in the expression: '%s' (position %"
			     PRIu32 ")", tok_text(&p, peek(&p), buf, sizeof(buf)),
			     peek(&p)->pos);
		}
		mz_x_ast_set_top(p.ast, top);
	}
	free(p.t);
	if (p.failed) {
		mz_x_ast_free(p.ast);
		return NULL;
	}
	return p.ast;
}
