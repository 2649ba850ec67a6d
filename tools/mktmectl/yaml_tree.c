// SPDX-License-Identifier: GPL-2.0
/*
 * libfyaml events -> struct ynode (yaml_tree.h says why not its document).
 * What its document loader checked beyond the syntax is checked here too:
 * duplicate keys in a mapping, one document. Duplicates are found by a
 * scan as each key comes while a mapping is small, and by sorting its keys
 * once it is closed when it is not: a 1 MiB file of 100,000 keys took the
 * scan 30 s (and libfyaml's loader, without its accelerators, longer).
 */
#include "yaml_tree.h"

#include <assert.h>
#include <libfyaml.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK	(256 * 1024)
/* Far deeper than a policy (4 levels): a bound for a hostile file. */
#define MAX_NESTING	64
/* Keys of a mapping checked one by one as they come; past this, when it closes. */
#define SCAN_KEYS	32

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];		/* 8-byte aligned: every allocation is */
};
static_assert(offsetof(struct chunk, data) % 8 == 0, "chunk data alignment");

struct yaml_tree {
	struct chunk *chunks;
	struct ynode *root;
};

/* An open list or mapping: its items so far. */
struct frame {
	struct ynode *node;
	struct ynode **kids;
	size_t n, cap;
};

struct builder {
	struct yaml_tree *t;
	struct frame stack[MAX_NESTING];
	int depth;
	int docs;
	struct ynode *extra;	/* the second document's root */
	const char *file;
	struct diag *d;
};

static void *arena_alloc(struct yaml_tree *t, size_t size)
{
	struct chunk *c = t->chunks;
	void *p;

	size = (size + 7) & ~(size_t)7;
	if (!c || c->size - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = t->chunks;
		c->used = 0;
		c->size = cap;
		t->chunks = c;
	}
	p = c->data + c->used;
	c->used += size;
	return p;
}

static int fail(struct builder *b, struct pos pos, const char *msg)
{
	diag_set(b->d, b->file, pos, "%s", msg);
	return -1;
}

/* Where @tok starts, 1-based; @back: quoted or alias, marked after its first character. */
static struct pos token_pos(struct fy_token *tok, bool back, bool *has)
{
	const struct fy_mark *m = tok ? fy_token_start_mark(tok) : NULL;

	*has = m != NULL;
	if (!m)
		return (struct pos){ 0, 0 };
	return (struct pos){ m->line + 1, m->column + 1 - (back && m->column > 0) };
}

struct pos ynode_pos(const struct ynode *n, struct pos fallback)
{
	/* A collection has no mark of its own: its first scalar's. */
	while (n && (n->type == YN_SEQUENCE || n->type == YN_MAPPING))
		n = n->n ? n->kids[0] : NULL;
	return n && n->has_pos ? n->pos : fallback;
}

static bool same_scalar(const struct ynode *a, const struct ynode *b)
{
	return a->type == YN_SCALAR && b->type == YN_SCALAR && a->len == b->len &&
	       !memcmp(a->text, b->text, a->len);
}

/* @n into the open collection (or as a document's root). */
static int attach(struct builder *b, struct ynode *n)
{
	struct frame *f;

	if (!b->depth) {
		if (b->docs == 1)
			b->t->root = n;
		else if (!b->extra)
			b->extra = n;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->type == YN_MAPPING && f->n % 2 == 0 && f->n / 2 < SCAN_KEYS) {
		for (size_t i = 0; i < f->n; i += 2)
			if (same_scalar(f->kids[i], n))
				return fail(b, n->pos, "YAML: duplicate key");
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		struct ynode **k = realloc(f->kids, cap * sizeof(*k));

		if (!k)
			return fail(b, (struct pos){ 0, 0 }, "out of memory");
		f->kids = k;
		f->cap = cap;
	}
	f->kids[f->n++] = n;
	return 0;
}

static struct ynode *new_node(struct builder *b, enum ynode_type type)
{
	struct ynode *n = arena_alloc(b->t, sizeof(*n));

	if (n) {
		memset(n, 0, sizeof(*n));
		n->type = type;
	}
	return n;
}

static int scalar(struct builder *b, struct fy_token *tok)
{
	enum fy_scalar_style style = fy_token_scalar_style(tok);
	struct ynode *n = new_node(b, YN_SCALAR);
	const char *text;
	size_t len = 0;
	char *copy;

	if (!n)
		return fail(b, (struct pos){ 0, 0 }, "out of memory");
	n->pos = token_pos(tok, style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED,
			   &n->has_pos);
	/* NULL when libfyaml cannot format the text (out of memory, or its own bug). */
	text = fy_token_get_text(tok, &len);
	if (!text)
		return fail(b, n->pos, "YAML: cannot read this scalar's text");
	copy = arena_alloc(b->t, len + 1);
	if (!copy)
		return fail(b, (struct pos){ 0, 0 }, "out of memory");
	if (len)
		memcpy(copy, text, len);
	copy[len] = '\0';
	n->text = copy;
	n->len = len;
	n->plain = style == FYSS_PLAIN;
	return attach(b, n);
}

/* @tok: its '[' or '{', NULL for a block collection. */
static int open_collection(struct builder *b, enum ynode_type type, struct fy_token *tok)
{
	struct ynode *n;
	bool has;

	if (b->depth == MAX_NESTING)
		return fail(b, token_pos(tok, false, &has), "YAML: nested more than 64 levels deep");
	n = new_node(b, type);
	if (!n)
		return fail(b, (struct pos){ 0, 0 }, "out of memory");
	b->stack[b->depth++] = (struct frame){ .node = n };
	return 0;
}

/* Document order: every scalar has its position. */
static bool before(const struct ynode *x, const struct ynode *y)
{
	return x->pos.line < y->pos.line || (x->pos.line == y->pos.line && x->pos.col < y->pos.col);
}

/* Scalar keys by text, equal ones in the order they came. */
static int key_cmp(const void *a, const void *b)
{
	const struct ynode *const *x = a, *const *y = b;
	int c;

	if ((*x)->len != (*y)->len)
		return (*x)->len < (*y)->len ? -1 : 1;
	c = memcmp((*x)->text, (*y)->text, (*x)->len);
	if (c)
		return c;
	return before(*x, *y) ? -1 : before(*y, *x);
}

/*
 * The duplicate key of a large mapping (@kids: key, value, ...) that came
 * first, as the scan would have found it: the second of its equal keys
 * that comes earliest. 0 if none, -1 with the error set.
 */
static int check_keys(struct builder *b, struct ynode **kids, size_t pairs)
{
	struct ynode **keys, *dup = NULL;
	size_t n = 0;

	if (pairs <= SCAN_KEYS)
		return 0;
	keys = malloc(pairs * sizeof(*keys));
	if (!keys)
		return fail(b, (struct pos){ 0, 0 }, "out of memory");
	for (size_t i = 0; i < pairs; i++)
		if (kids[2 * i]->type == YN_SCALAR)
			keys[n++] = kids[2 * i];
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (same_scalar(keys[i - 1], keys[i]) && (!dup || before(keys[i], dup)) &&
		    (i < 2 || !same_scalar(keys[i - 2], keys[i])))
			dup = keys[i];
	free(keys);
	return dup ? fail(b, dup->pos, "YAML: duplicate key") : 0;
}

static int close_collection(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct ynode *n = f->node;
	int ret = 0;

	if (n->type == YN_MAPPING && check_keys(b, f->kids, f->n / 2)) {
		free(f->kids);
		f->kids = NULL;
		return -1;
	}

	n->kids = arena_alloc(b->t, (f->n ? f->n : 1) * sizeof(*n->kids));
	if (!n->kids) {
		ret = fail(b, (struct pos){ 0, 0 }, "out of memory");
	} else {
		if (f->n)
			memcpy(n->kids, f->kids, f->n * sizeof(*n->kids));
		n->n = n->type == YN_MAPPING ? f->n / 2 : f->n;
	}
	free(f->kids);
	f->kids = NULL;
	return ret ? ret : attach(b, n);
}

static int event(struct builder *b, struct fy_event *ev)
{
	struct ynode *n;

	switch (ev->type) {
	case FYET_DOCUMENT_START:
		b->docs++;
		return 0;
	case FYET_SCALAR:
		return scalar(b, ev->scalar.value);
	case FYET_ALIAS:
		n = new_node(b, YN_ALIAS);
		if (!n)
			return fail(b, (struct pos){ 0, 0 }, "out of memory");
		n->pos = token_pos(ev->alias.anchor, true, &n->has_pos);
		return attach(b, n);
	case FYET_SEQUENCE_START:
		return open_collection(b, YN_SEQUENCE, ev->sequence_start.sequence_start);
	case FYET_MAPPING_START:
		return open_collection(b, YN_MAPPING, ev->mapping_start.mapping_start);
	case FYET_SEQUENCE_END:
	case FYET_MAPPING_END:
		return b->depth ? close_collection(b) : 0;
	default:
		return 0;
	}
}

/* libfyaml's own errors (syntax) come through its diag. */
static void quiet_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

int yaml_tree_parse(const char *file, const char *buf, size_t len, struct yaml_tree **tree,
		    struct diag *d)
{
	struct builder b = { .file = file, .d = d };
	struct fy_parse_cfg cfg = { 0 };
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_event *ev;
	int ret = -1;

	*tree = NULL;
	b.t = calloc(1, sizeof(*b.t));
	if (!b.t) {
		diag_set(d, file, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = quiet_output;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag) {
		diag_set(d, file, (struct pos){ 0, 0 }, "out of memory");
		goto out;
	}
	fy_diag_set_collect_errors(diag, true);
	cfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG;
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (!fyp || fy_parser_set_string(fyp, buf, len)) {
		diag_set(d, file, (struct pos){ 0, 0 }, "cannot set up the YAML parser");
		goto out;
	}
	/* The second document is read only as far as its root's position. */
	while (!b.extra && (ev = fy_parser_parse(fyp))) {
		int err = event(&b, ev);

		fy_parser_event_free(fyp, ev);
		if (err)
			goto out;
	}
	if (b.extra || (b.docs > 1 && !fy_parser_get_stream_error(fyp))) {
		diag_set(d, file, ynode_pos(b.extra, (struct pos){ 0, 0 }),
			 "more than one YAML document (a policy is one document)");
		goto out;
	}
	if (fy_parser_get_stream_error(fyp)) {
		void *it = NULL;
		struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);

		if (e)
			diag_set(d, file, (struct pos){ e->line, e->column }, "YAML: %s", e->msg);
		else
			diag_set(d, file, (struct pos){ 0, 0 }, "YAML: malformed");
		goto out;
	}
	ret = 0;
out:
	while (b.depth)
		free(b.stack[--b.depth].kids);
	fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	if (ret)
		yaml_tree_free(b.t);
	else
		*tree = b.t;
	return ret;
}

struct ynode *yaml_tree_root(const struct yaml_tree *t)
{
	return t->root;
}

void yaml_tree_free(struct yaml_tree *t)
{
	if (!t)
		return;
	while (t->chunks) {
		struct chunk *c = t->chunks;

		t->chunks = c->next;
		free(c);
	}
	free(t);
}
