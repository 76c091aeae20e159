/*
 * expr_lex.c - the tokenizer for pipeline expressions.
 *
 * Tokens only carry their span in the source; the parser decodes literal
 * values itself, so the lexer allocates nothing but the token array.
 * Word operators (and, or, not, eq, ne, lt, le, gt, ge, div, mod, matches,
 * between, instanceof) are case-insensitive as in SpEL, but a word right
 * after '.', '?.' or '#' is a name: `trigger.parameters.lt` still works.
 */
#include "expr/expr_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct lexer {
	const char *s;
	size_t len, i;
	mz_tok *toks;
	size_t n, cap;
	mz_err *err;
} lexer;

static const struct {
	const char *word;
	mz_tok_kind kind;
} words[] = {
	{"and", T_AND}, {"or", T_OR}, {"not", T_NOT}, {"eq", T_EQ},
	{"ne", T_NE}, {"lt", T_LT}, {"le", T_LE}, {"gt", T_GT}, {"ge", T_GE},
	{"div", T_SLASH}, {"mod", T_PERCENT}, {"matches", T_MATCHES},
	{"between", T_BETWEEN}, {"instanceof", T_INSTANCEOF},
};

const char *
mz_x_tok_name(mz_tok_kind k)
{
	static const char *names[] = {
		"end of expression", "integer", "number", "string", "identifier",
		"(", ")", "[", "]", "{", "}", ",", ":", ".", "?.", "#", "@",
		".?[", ".^[", ".$[", ".![", "?", "?:", "+", "-", "*", "/", "%",
		"^", "!", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
		"matches", "between", "instanceof", "=", "++", "--",
	};
	return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static bool
push(lexer *lx, mz_tok_kind kind, size_t pos, size_t len)
{
	if (lx->n == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 32;
		mz_tok *t = realloc(lx->toks, cap * sizeof(*t));
		if (!t) {
			mz_fail(lx->err, MZ_ENOMEM, "out of memory");
			return false;
		}
		lx->toks = t;
		lx->cap = cap;
	}
	lx->toks[lx->n++] = (mz_tok){kind, (uint32_t)pos, (uint32_t)len};
	return true;
}

static mz_tok_kind
prev_kind(const lexer *lx)
{
	return lx->n ? lx->toks[lx->n - 1].kind : T_EOF;
}

static bool
ident_start(int c)
{
	/* Bytes >= 0x80 let UTF-8 names through, as Java letters would. */
	return isalpha(c) || c == '_' || c == '$' || c >= 0x80;
}

static bool
ident_char(int c)
{
	return ident_start(c) || isdigit(c);
}

static bool
lex_word(lexer *lx)
{
	size_t st = lx->i;
	while (lx->i < lx->len && ident_char((unsigned char)lx->s[lx->i]))
		lx->i++;
	size_t n = lx->i - st;
	mz_tok_kind pk = prev_kind(lx);
	if (pk != T_DOT && pk != T_SAFE_DOT && pk != T_HASH) {
		for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
			if (strlen(words[k].word) == n &&
			    strncasecmp(words[k].word, lx->s + st, n) == 0)
				return push(lx, words[k].kind, st, n);
		}
	}
	return push(lx, T_IDENT, st, n);
}

/* Digits, an optional fraction and exponent, and Java's suffixes (L, d,
 * f); hex integers with 0x. The parser converts the span. */
static bool
lex_number(lexer *lx)
{
	const char *s = lx->s;
	size_t st = lx->i, i = lx->i;
	bool real = false;
	if (s[i] == '0' && i + 1 < lx->len && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		i += 2;
		while (i < lx->len && isxdigit((unsigned char)s[i]))
			i++;
	} else {
		while (i < lx->len && isdigit((unsigned char)s[i]))
			i++;
		if (i + 1 < lx->len && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
			real = true;
			i++;
			while (i < lx->len && isdigit((unsigned char)s[i]))
				i++;
		}
		if (i < lx->len && (s[i] == 'e' || s[i] == 'E')) {
			size_t j = i + 1;
			if (j < lx->len && (s[j] == '+' || s[j] == '-'))
				j++;
			if (j < lx->len && isdigit((unsigned char)s[j])) {
				real = true;
				i = j;
				while (i < lx->len && isdigit((unsigned char)s[i]))
					i++;
			}
		}
	}
	if (i < lx->len && strchr("lLdDfF", s[i])) {
		if (s[i] != 'l' && s[i] != 'L')
			real = true;
		i++;
	}
	if (i < lx->len && ident_char((unsigned char)s[i])) {
		mz_fail(lx->err, MZ_EINVAL,
		        "EL1035E: A problem occurred whilst attempting to construct "
		        "a number at position %zu", st);
		return false;
	}
	lx->i = i;
	return push(lx, real ? T_REAL : T_INT, st, i - st);
}

/* A quoted literal; the quote is escaped by doubling it. SpEL has no
 * backslash escapes, so backslashes are ordinary characters. */
static bool
lex_string(lexer *lx)
{
	char q = lx->s[lx->i];
	size_t st = lx->i++;
	for (;;) {
		if (lx->i >= lx->len) {
			mz_fail(lx->err, MZ_EINVAL,
			        "EL1046E: Cannot find terminating %c for string "
			        "(position %zu)", q, st);
			return false;
		}
		if (lx->s[lx->i] == q) {
			if (lx->i + 1 < lx->len && lx->s[lx->i + 1] == q) {
				lx->i += 2;
				continue;
			}
			lx->i++;
			return push(lx, T_STR, st, lx->i - st);
		}
		lx->i++;
	}
}

/* Two-character operators first, then single characters. */
static bool
lex_punct(lexer *lx)
{
	const char *s = lx->s + lx->i;
	char c = s[0], d = lx->i + 1 < lx->len ? s[1] : '\0';
	size_t st = lx->i;
	mz_tok_kind k;
	size_t w = 2;
	bool after_dot = prev_kind(lx) == T_DOT;

	if (after_dot && d == '[' && strchr("?^$!", c)) {
		/* The '.' before a selection belongs to the selection token. */
		lx->n--;
		k = c == '?' ? T_SELECT : c == '^' ? T_SEL_FIRST :
		    c == '$' ? T_SEL_LAST : T_PROJECT;
		lx->i += 2;
		return push(lx, k, st - 1, 3);
	}
	if (c == '?' && d == '.') k = T_SAFE_DOT;
	else if (c == '?' && d == ':') k = T_ELVIS;
	else if (c == '=' && d == '=') k = T_EQ;
	else if (c == '!' && d == '=') k = T_NE;
	else if (c == '<' && d == '=') k = T_LE;
	else if (c == '>' && d == '=') k = T_GE;
	else if (c == '&' && d == '&') k = T_AND;
	else if (c == '|' && d == '|') k = T_OR;
	else if (c == '+' && d == '+') k = T_INC;
	else if (c == '-' && d == '-') k = T_DEC;
	else {
		w = 1;
		switch (c) {
		case '(': k = T_LPAREN; break;
		case ')': k = T_RPAREN; break;
		case '[': k = T_LBRACK; break;
		case ']': k = T_RBRACK; break;
		case '{': k = T_LBRACE; break;
		case '}': k = T_RBRACE; break;
		case ',': k = T_COMMA; break;
		case ':': k = T_COLON; break;
		case '.': k = T_DOT; break;
		case '#': k = T_HASH; break;
		case '@': k = T_AT; break;
		case '?': k = T_QMARK; break;
		case '+': k = T_PLUS; break;
		case '-': k = T_MINUS; break;
		case '*': k = T_STAR; break;
		case '/': k = T_SLASH; break;
		case '%': k = T_PERCENT; break;
		case '^': k = T_POW; break;
		case '!': k = T_NOT; break;
		case '<': k = T_LT; break;
		case '>': k = T_GT; break;
		case '=': k = T_ASSIGN; break;
		default:
			mz_fail(lx->err, MZ_EINVAL,
			        "EL1069E: Unexpected character '%c' (0x%02x) at "
			        "position %zu", (c >= 32 && c < 127) ? c : '?',
			        (unsigned char)c, st);
			return false;
		}
	}
	lx->i += w;
	return push(lx, k, st, w);
}

mz_code
mz_x_lex(const char *src, size_t len, mz_tok **out, size_t *n, mz_err *err)
{
	lexer lx = {.s = src, .len = len, .err = err};
	bool ok = true;
	while (ok) {
		while (lx.i < len && isspace((unsigned char)src[lx.i]))
			lx.i++;
		if (lx.i >= len)
			break;
		unsigned char c = (unsigned char)src[lx.i];
		bool sel_last = c == '$' && lx.i + 1 < len &&
		                src[lx.i + 1] == '[' && prev_kind(&lx) == T_DOT;
		if (sel_last)
			ok = lex_punct(&lx);
		else if (isdigit(c))
			ok = lex_number(&lx);
		else if (ident_start(c))
			ok = lex_word(&lx);
		else if (c == '\'' || c == '"')
			ok = lex_string(&lx);
		else
			ok = lex_punct(&lx);
	}
	if (ok)
		ok = push(&lx, T_EOF, len, 0);
	if (!ok) {
		free(lx.toks);
		return err ? err->code : MZ_EINVAL;
	}
	*out = lx.toks;
	*n = lx.n;
	return MZ_OK;
}
