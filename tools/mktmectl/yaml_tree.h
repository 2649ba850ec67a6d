/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A YAML document as the policy parser reads it: scalars, lists and
 * mappings with their positions, built from libfyaml's event stream
 * (fy_parser_parse()) into one arena. libfyaml's own document keeps every
 * token of the file alive in small allocations: about 40 MB and 10,000
 * page faults for a 10,000-rule policy, most of the time of a load. This
 * keeps what the parser asks about: type, text, style, position.
 */
#ifndef MKTMECTL_YAML_TREE_H
#define MKTMECTL_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

enum ynode_type {
	YN_SCALAR,
	YN_SEQUENCE,
	YN_MAPPING,
	YN_ALIAS,	/* *name: the policy format has no use for them */
};

struct ynode {
	struct pos pos;		/* 1-based, where the node starts as written */
	unsigned char type;	/* enum ynode_type */
	bool plain;		/* a scalar written without quotes or block style */
	bool has_pos;
	unsigned int len;	/* scalar: its length (a "\0" escape can be inside) */
	unsigned int n;		/* list: items; mapping: pairs */
	const char *text;	/* scalar: its value, NUL-terminated */
	struct ynode **kids;	/* list: n items; mapping: key, value, key, value... */
};

struct yaml_tree;

/*
 * Parse @len bytes of @buf, one document. 0 with *@tree set (its root may
 * be NULL: no document, or an empty one); -1 with @d set (position and
 * message, "YAML: ..." for libfyaml's own errors).
 */
int yaml_tree_parse(const char *file, const char *buf, size_t len, struct yaml_tree **tree,
		    struct diag *d);
struct ynode *yaml_tree_root(const struct yaml_tree *t);
/* Where @n starts (a list or mapping: its first scalar), else @fallback. */
struct pos ynode_pos(const struct ynode *n, struct pos fallback);
void yaml_tree_free(struct yaml_tree *t);

#endif
