/*
 * expr_ast.c - the arena that owns a parsed expression: nodes, names,
 * literal values and compiled regexes, all released by one call. Parsing
 * never frees piecemeal, so a syntax error half-way needs no cleanup.
 */
#include "expr/expr_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------ */

typedef struct blk {
	struct blk *next;
	size_t used, cap;
	_Alignas(16) char data[];
} blk;

typedef struct fin {
	struct fin *next;
	json_t *json;
	regex_t *re;
} fin;

struct mz_ast {
	blk *blocks;
	fin *fins;
	mz_node *top;
};

void *
mz_x_alloc(mz_ast *ast, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	blk *b = ast->blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 4000 ? n : 4000;
		b = malloc(sizeof(*b) + cap);
		if (!b) {
			mz_error("out of memory parsing an expression");
			abort();
		}
		b->used = 0;
		b->cap = cap;
		b->next = ast->blocks;
		ast->blocks = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static void
keep(mz_ast *ast, json_t *j, regex_t *re)
{
	fin *f = mz_x_alloc(ast, sizeof(*f));
	f->json = j;
	f->re = re;
	f->next = ast->fins;
	ast->fins = f;
}

void
mz_x_keep_regex(mz_ast *ast, regex_t *re)
{
	keep(ast, NULL, re);
}

void
mz_x_ast_free(mz_ast *ast)
{
	if (!ast)
		return;
	for (fin *f = ast->fins; f; f = f->next) {
		json_decref(f->json);
		if (f->re)
			regfree(f->re);
	}
	blk *b = ast->blocks;
	while (b) {
		blk *next = b->next;
		free(b);
		b = next;
	}
	free(ast);
}

mz_node *
mz_x_ast_top(mz_ast *ast)
{
	return ast->top;
}

void
mz_x_keep_json(mz_ast *ast, json_t *j)
{
	keep(ast, j, NULL);
}

mz_ast *
mz_x_ast_new(void)
{
	return calloc(1, sizeof(mz_ast));
}

void
mz_x_ast_set_top(mz_ast *ast, mz_node *top)
{
	ast->top = top;
}
