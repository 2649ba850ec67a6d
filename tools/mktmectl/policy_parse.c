// SPDX-License-Identifier: GPL-2.0
/*
 * YAML → struct policy. Only the shape and the values are checked here;
 * what needs the system (cgroups, executables) is policy_resolve(), what
 * needs all rules at once (duplicates) is policy_compile().
 *
 * Every error carries the position of the node it is about (1-based,
 * yaml_tree.c). The YAML is read by libfyaml's parser into a light tree
 * (yaml_tree.h), not into libfyaml's document.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "names.h"
#include "yaml_tree.h"

struct parser {
	const char *file;
	struct diag *d;
	struct policy *p;
};

void diag_set(struct diag *d, const char *file, struct pos pos, const char *fmt, ...)
{
	va_list ap;

	snprintf(d->file, sizeof(d->file), "%s", file ? file : "-");
	d->pos = pos;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

void diag_print(const struct diag *d, FILE *out)
{
	if (d->pos.line > 0)
		fprintf(out, "%s:%d:%d: %s\n", d->file, d->pos.line, d->pos.col, d->msg);
	else
		fprintf(out, "%s: %s\n", d->file, d->msg);
}

struct json_object *diag_to_json(const struct diag *d)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "file", json_object_new_string(d->file));
	json_object_object_add(o, "line", json_object_new_int(d->pos.line));
	json_object_object_add(o, "column", json_object_new_int(d->pos.col));
	json_object_object_add(o, "message", json_object_new_string(d->msg));
	return o;
}

static struct pos node_pos(const struct ynode *n, struct pos fallback)
{
	return ynode_pos(n, fallback);
}

static int fail(struct parser *ps, struct pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parser *ps, struct pos pos, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_set(ps->d, ps->file, pos, "%s", msg);
	return -1;
}

static const char *type_word(const struct ynode *n)
{
	switch (n->type) {
	case YN_SCALAR:
	case YN_ALIAS:
		return "a scalar";
	case YN_SEQUENCE:
		return "a list";
	case YN_MAPPING:
		return "a mapping";
	}
	return "?";
}

/* Aliases would let one node stand in many places with one position: the
 * format is small enough to write out. */
static int check_plain(struct parser *ps, const struct ynode *n, struct pos at)
{
	if (n->type == YN_ALIAS)
		return fail(ps, node_pos(n, at), "aliases are not supported in a policy");
	return 0;
}

static int want_scalar(struct parser *ps, const struct ynode *n, const char *what,
		       struct pos at, const char **out)
{
	if (check_plain(ps, n, at))
		return -1;
	if (n->type != YN_SCALAR)
		return fail(ps, node_pos(n, at), "%s: expected a scalar, got %s", what,
			    type_word(n));
	*out = n->text;
	/* "a\0b" would silently be "a": a different cgroup, key or value. */
	if (strlen(*out) != n->len)
		return fail(ps, node_pos(n, at), "%s: contains a NUL character", what);
	return 0;
}

static int want_word(struct parser *ps, const struct ynode *n, const char *what,
		     const struct name_val *t, struct pos at, int *out)
{
	const char *s;

	if (want_scalar(ps, n, what, at, &s))
		return -1;
	*out = name_lookup(t, s);
	if (*out < 0)
		return fail(ps, node_pos(n, at), "%s: unknown value \"%s\" (expected one of: %s)",
			    what, s, name_list(t));
	return 0;
}

static int want_uint(struct parser *ps, const struct ynode *n, const char *what,
		     unsigned long max, struct pos at, unsigned long *out)
{
	const char *s;
	char *end;

	if (want_scalar(ps, n, what, at, &s))
		return -1;
	if (*s < '0' || *s > '9')
		return fail(ps, node_pos(n, at), "%s: expected a non-negative integer, got \"%s\"",
			    what, s);
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (*end)
		return fail(ps, node_pos(n, at), "%s: expected a non-negative integer, got \"%s\"",
			    what, s);
	if (errno == ERANGE || *out > max)
		return fail(ps, node_pos(n, at), "%s: %s is past the limit (at most %lu)", what,
			    s, max);
	return 0;
}

static int want_bool(struct parser *ps, const struct ynode *n, const char *what,
		     struct pos at, bool *out)
{
	const char *s;

	if (want_scalar(ps, n, what, at, &s))
		return -1;
	if (!strcmp(s, "true"))
		*out = true;
	else if (!strcmp(s, "false"))
		*out = false;
	else
		return fail(ps, node_pos(n, at), "%s: expected true or false, got \"%s\"", what, s);
	return 0;
}

static int want_string(struct parser *ps, const struct ynode *n, const char *what,
		       struct pos at, char **out, struct pos *where)
{
	const char *s;

	if (want_scalar(ps, n, what, at, &s))
		return -1;
	*where = node_pos(n, at);
	*out = strdup(s);
	if (!*out)
		return fail(ps, *where, "%s: out of memory", what);
	return 0;
}

static int want_seq(struct parser *ps, const struct ynode *n, const char *what, struct pos at)
{
	if (check_plain(ps, n, at))
		return -1;
	if (n->type != YN_SEQUENCE)
		return fail(ps, node_pos(n, at), "%s: expected a list, got %s", what, type_word(n));
	if (n->n == 0)
		return fail(ps, at, "%s: empty list", what);
	return 0;
}

/* A list of words → bit mask over their values; a word twice is an error. */
static int want_mask(struct parser *ps, const struct ynode *n, const char *what,
		     const struct name_val *t, struct pos at, uint8_t *mask)
{
	if (want_seq(ps, n, what, at))
		return -1;
	*mask = 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *item = n->kids[i];
		int v;

		if (want_word(ps, item, what, t, at, &v))
			return -1;
		if (*mask & (1u << v))
			return fail(ps, node_pos(item, at), "%s: \"%s\" listed twice", what,
				    name_of(t, v));
		*mask |= 1u << v;
	}
	return 0;
}

static int check_cgroup_path(struct parser *ps, const char *path, struct pos at)
{
	int depth = 0;
	const char *c;

	if (path[0] != '/')
		return fail(ps, at, "cgroup: \"%s\" is not an absolute path (cgroup v2 paths start with /, relative to the cgroup2 mount)",
			    path);
	if (strlen(path) > POLICY_MAX_PATH)
		return fail(ps, at, "cgroup: path longer than %d bytes", POLICY_MAX_PATH);
	for (c = path; *c;) {
		const char *e;
		size_t len;

		while (*c == '/')
			c++;
		if (!*c)
			break;
		e = strchr(c, '/');
		len = e ? (size_t)(e - c) : strlen(c);
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return fail(ps, at, "cgroup: \"%s\": \".\" and \"..\" are not allowed", path);
		depth++;
		c += len;
	}
	if (depth >= MKTME_MAX_DEPTH)
		return fail(ps, at, "cgroup: \"%s\" is %d levels deep (at most %d)", path, depth,
			    MKTME_MAX_DEPTH - 1);
	return 0;
}

static int check_key_name(struct parser *ps, const char *name, struct pos at)
{
	size_t len = strlen(name);

	if (!strcmp(name, "*"))
		return 0;
	if (len == 0)
		return fail(ps, at, "keys: empty key name");
	if (len >= MKTME_NAME_LEN)
		return fail(ps, at, "keys: name \"%.20s...\" is %zu bytes (at most %d)", name, len,
			    MKTME_NAME_LEN - 1);
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (*c < 0x20 || *c == 0x7f)
			return fail(ps, at, "keys: name contains a control character");
		if (*c == '*')
			return fail(ps, at, "keys: \"%s\": \"*\" is not a glob, only \"*\" alone (any key) is allowed",
				    name);
	}
	return 0;
}

static int parse_keys(struct parser *ps, const struct ynode *n, struct pos at,
		      struct policy_rule *r)
{
	size_t count;

	if (want_seq(ps, n, "keys", at))
		return -1;
	count = n->n;
	if (count > POLICY_MAX_KEYS)
		return fail(ps, node_pos(n, at), "keys: %zu names (at most %d per rule)", count,
			    POLICY_MAX_KEYS);
	r->keys = calloc(count, sizeof(*r->keys));
	if (!r->keys)
		return fail(ps, at, "keys: out of memory");
	for (size_t j = 0; j < count; j++) {
		struct policy_key *k = &r->keys[r->nr_keys];

		if (want_string(ps, n->kids[j], "keys", at, &k->name, &k->pos))
			return -1;
		r->nr_keys++;
		if (check_key_name(ps, k->name, k->pos))
			return -1;
		for (size_t i = 0; i + 1 < r->nr_keys; i++)
			if (!strcmp(r->keys[i].name, k->name))
				return fail(ps, k->pos, "keys: \"%s\" listed twice", k->name);
	}
	return 0;
}

/* Fields a mapping must have, noted as they are seen. */
struct seen {
	const char *name;
	bool seen;
};

static int need(struct parser *ps, const struct seen *s, size_t n, struct pos at,
		const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i].seen)
			return fail(ps, at, "%s: missing required field \"%s\"", what, s[i].name);
	return 0;
}

static int want_map(struct parser *ps, const struct ynode *n, const char *what, struct pos at)
{
	if (check_plain(ps, n, at))
		return -1;
	if (n->type != YN_MAPPING)
		return fail(ps, node_pos(n, at), "%s: expected a mapping, got %s", what,
			    type_word(n));
	return 0;
}

/* Yields each (field name, value, position of the name); *@it from 0. */
static int next_field(struct parser *ps, const struct ynode *map, size_t *it, const char **key,
		      const struct ynode **val, struct pos *kpos, struct pos at)
{
	const struct ynode *k;

	if (*it >= map->n)
		return 0;
	k = map->kids[2 * *it];
	*val = map->kids[2 * *it + 1];
	(*it)++;
	*kpos = node_pos(k, at);
	if (check_plain(ps, k, at) || k->type != YN_SCALAR) {
		if (!ps->d->msg[0])
			fail(ps, *kpos, "field names must be scalars");
		return -1;
	}
	*key = k->text;
	/* "field:" with nothing after it is a null scalar: same as missing. */
	if ((*val)->type == YN_SCALAR && !(*val)->len && (*val)->plain)
		return fail(ps, *kpos, "%s: missing value", *key);
	return 1;
}

static int parse_rule(struct parser *ps, const struct ynode *n, struct pos at, struct policy_rule *r)
{
	struct seen req[] = { { "cgroup", false }, { "keys", false }, { "verdict", false } };
	const char *key;
	const struct ynode *val;
	struct pos kp;
	size_t it = 0;
	int rc, v;
	unsigned long ul;

	if (want_map(ps, n, "rule", at))
		return -1;
	r->pos = node_pos(n, at);
	r->types = MKTME_TYPES_ALL;
	r->algs = MKTME_ALGS_ALL;
	r->ops = MKTME_OPS_ALL;
	while ((rc = next_field(ps, n, &it, &key, &val, &kp, at)) > 0) {
		if (!strcmp(key, "cgroup")) {
			if (r->cgroup)
				return fail(ps, kp, "rule: \"cgroup\" given twice");
			if (want_string(ps, val, "cgroup", kp, &r->cgroup, &r->cgroup_pos) ||
			    check_cgroup_path(ps, r->cgroup, r->cgroup_pos))
				return -1;
			req[0].seen = true;
		} else if (!strcmp(key, "may_appear_later")) {
			if (want_bool(ps, val, key, kp, &r->may_appear_later))
				return -1;
		} else if (!strcmp(key, "exe")) {
			if (want_string(ps, val, key, kp, &r->exe, &r->exe_pos))
				return -1;
			if (r->exe[0] != '/')
				return fail(ps, r->exe_pos, "exe: \"%s\" is not an absolute path",
					    r->exe);
			if (strlen(r->exe) > POLICY_MAX_PATH)
				return fail(ps, r->exe_pos, "exe: path longer than %d bytes",
					    POLICY_MAX_PATH);
			r->has_exe = true;
		} else if (!strcmp(key, "uid")) {
			if (want_uint(ps, val, key, POLICY_MAX_UID, kp, &ul))
				return -1;
			r->uid = ul;
			r->has_uid = true;
		} else if (!strcmp(key, "keys")) {
			if (parse_keys(ps, val, kp, r))
				return -1;
			req[1].seen = true;
		} else if (!strcmp(key, "key_types")) {
			if (want_mask(ps, val, key, type_names, kp, &r->types))
				return -1;
		} else if (!strcmp(key, "algorithms")) {
			if (want_mask(ps, val, key, alg_names, kp, &r->algs))
				return -1;
		} else if (!strcmp(key, "operations")) {
			if (want_mask(ps, val, key, op_names, kp, &r->ops))
				return -1;
		} else if (!strcmp(key, "owner")) {
			if (want_word(ps, val, key, owner_names, kp, &v))
				return -1;
			r->owner_subtree = v;
		} else if (!strcmp(key, "final")) {
			if (want_bool(ps, val, key, kp, &r->final))
				return -1;
		} else if (!strcmp(key, "verdict")) {
			if (want_word(ps, val, key, verdict_names, kp, &v))
				return -1;
			r->verdict = v;
			req[2].seen = true;
		} else {
			return fail(ps, kp, "rule: unknown field \"%s\" (expected one of: cgroup, may_appear_later, exe, uid, keys, key_types, algorithms, operations, owner, final, verdict)",
				    key);
		}
	}
	if (rc < 0)
		return -1;
	return need(ps, req, 3, r->pos, "rule");
}

static int parse_limit(struct parser *ps, const struct ynode *n, struct pos at, struct policy_limit *l)
{
	struct seen req[] = { { "cgroup", false } };
	const char *key;
	const struct ynode *val;
	struct pos kp;
	size_t it = 0;
	unsigned long ul;
	int rc;

	if (want_map(ps, n, "limit", at))
		return -1;
	l->pos = node_pos(n, at);
	while ((rc = next_field(ps, n, &it, &key, &val, &kp, at)) > 0) {
		if (!strcmp(key, "cgroup")) {
			if (want_string(ps, val, "cgroup", kp, &l->cgroup, &l->cgroup_pos) ||
			    check_cgroup_path(ps, l->cgroup, l->cgroup_pos))
				return -1;
			req[0].seen = true;
		} else if (!strcmp(key, "max_live_keys")) {
			if (want_uint(ps, val, key, POLICY_MAX_LIVE, kp, &ul))
				return -1;
			l->max_live_keys = ul;
			l->has_max_live_keys = true;
		} else if (!strcmp(key, "denial_records_per_second")) {
			if (want_uint(ps, val, key, MKTME_MAX_DENIAL_RATE, kp, &ul))
				return -1;
			if (!ul)
				return fail(ps, node_pos(val, kp),
					    "%s: 0 would log no denial of the subtree (at least 1)", key);
			l->denial_rate = ul;
		} else if (!strcmp(key, "may_appear_later")) {
			if (want_bool(ps, val, key, kp, &l->may_appear_later))
				return -1;
		} else {
			return fail(ps, kp, "limit: unknown field \"%s\" (expected one of: cgroup, max_live_keys, denial_records_per_second, may_appear_later)",
				    key);
		}
	}
	if (rc < 0)
		return -1;
	if (need(ps, req, 1, l->pos, "limit"))
		return -1;
	if (!l->has_max_live_keys && !l->denial_rate)
		return fail(ps, l->pos, "limit: needs max_live_keys, denial_records_per_second or both");
	return 0;
}

static int parse_list(struct parser *ps, const struct ynode *n, struct pos at, const char *what,
		      size_t max, void **items, size_t size, size_t *count,
		      int (*one)(struct parser *, const struct ynode *, struct pos, void *))
{
	size_t total;

	if (check_plain(ps, n, at))
		return -1;
	if (n->type != YN_SEQUENCE)
		return fail(ps, node_pos(n, at), "%s: expected a list, got %s", what, type_word(n));
	total = n->n;
	if (total > max)
		return fail(ps, at, "%s: %zu entries (at most %zu)", what, total, max);
	*items = calloc(total ? total : 1, size);
	if (!*items)
		return fail(ps, at, "%s: out of memory", what);
	for (size_t i = 0; i < total; i++) {
		const struct ynode *item = n->kids[i];
		void *slot = (char *)*items + *count * size;

		/* Counted first so that policy_free() frees a half-parsed entry. */
		(*count)++;
		if (one(ps, item, node_pos(item, at), slot))
			return -1;
	}
	return 0;
}

static int one_rule(struct parser *ps, const struct ynode *n, struct pos at, void *slot)
{
	struct policy_rule *r = slot;

	r->id = r - ps->p->rules + 1;
	return parse_rule(ps, n, at, r);
}

static int one_limit(struct parser *ps, const struct ynode *n, struct pos at, void *slot)
{
	return parse_limit(ps, n, at, slot);
}

static int parse_root(struct parser *ps, const struct ynode *root)
{
	struct pos top = { 1, 1 };
	struct seen req[] = { { "version", false } };
	struct policy *p = ps->p;
	const char *key;
	const struct ynode *val;
	struct pos kp;
	size_t it = 0;
	unsigned long ul;
	int rc, v;

	if (!root)
		return fail(ps, top, "empty policy (expected a mapping with at least \"version: 1\")");
	if (want_map(ps, root, "policy", top))
		return -1;
	p->mode = MKTME_MODE_ENFORCE;
	p->dflt = MKTME_DENY;
	p->audit = MKTME_AUDIT_DENIALS;
	while ((rc = next_field(ps, root, &it, &key, &val, &kp, top)) > 0) {
		if (!strcmp(key, "version")) {
			if (want_uint(ps, val, key, ~0ul, kp, &ul))
				return -1;
			if (ul != 1)
				return fail(ps, node_pos(val, kp), "version: %lu is not supported (this mktmectl reads version 1)",
					    ul);
			p->version = ul;
			req[0].seen = true;
		} else if (!strcmp(key, "mode")) {
			if (want_word(ps, val, key, mode_names, kp, &v))
				return -1;
			p->mode = v;
		} else if (!strcmp(key, "audit")) {
			if (want_word(ps, val, key, audit_names, kp, &v))
				return -1;
			p->audit = v;
		} else if (!strcmp(key, "default")) {
			if (want_word(ps, val, key, verdict_names, kp, &v))
				return -1;
			p->dflt = v;
		} else if (!strcmp(key, "rules")) {
			if (parse_list(ps, val, kp, "rules", MKTME_MAX_RULES, (void **)&p->rules,
				       sizeof(*p->rules), &p->nr_rules, one_rule))
				return -1;
		} else if (!strcmp(key, "limits")) {
			if (parse_list(ps, val, kp, "limits", POLICY_MAX_LIMITS,
				       (void **)&p->limits, sizeof(*p->limits), &p->nr_limits,
				       one_limit))
				return -1;
		} else {
			return fail(ps, kp, "unknown field \"%s\" (expected one of: version, mode, audit, default, limits, rules)",
				    key);
		}
	}
	if (rc < 0)
		return -1;
	return need(ps, req, 1, top, "policy");
}

/*
 * Length of the valid UTF-8 sequence at @s (RFC 3629: no overlong forms,
 * surrogates or code points past U+10FFFF), or 0.
 */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	size_t n;
	unsigned int min, cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A policy is UTF-8 text, with no tab and none of the C0 controls that
 * YAML 1.2 leaves out of its character set (section 5.1, c-printable).
 * Checked before libfyaml sees it, for two bugs of 0.7.12 (Debian 12's),
 * both fixed upstream after that release: it loops forever on a directive
 * with an invalid byte ("%\xff", libfyaml issue #101), and after its error
 * "cannot use tab for indentation of block entry" under an explicit key
 * ("? s:\t-") it frees its simple-key list twice (issue #57) and crashes
 * in fy_parser_destroy(). YAML allows tabs only as separation, never as
 * indentation, and a value that holds one can say so in a double-quoted
 * string ("\t"), so refusing them loses nothing a policy needs.
 */
static int check_text(struct parser *ps, const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	struct pos at = { 1, 1 };

	for (size_t i = 0, n; i < len; i += n) {
		n = utf8_seq(s + i, len - i);
		if (!n)
			return fail(ps, at, "not valid UTF-8 (a policy is UTF-8 text)");
		if (s[i] == '\t')
			return fail(ps, at, "a tab character (a policy is indented and separated with spaces; in a double-quoted string write \\t)");
		if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\r') || s[i] == 0x7f)
			return fail(ps, at, "a control character (U+%04X) is not YAML text", s[i]);
		if (s[i] == '\n')
			at.line++, at.col = 1;
		else
			at.col++;
	}
	return 0;
}

/*
 * policy_parse_buf() with @src (@len bytes and a NUL, malloc'd) handed over:
 * it becomes the policy's source, freed with it or here on failure. The
 * file read is kept as it is, not copied (a 10,000-rule file is 700 KB).
 * Both callers hold @len to POLICY_MAX_FILE before they allocate.
 */
static int parse_source(const char *name, char *src, size_t len, struct policy *p,
			struct diag *d)
{
	struct parser ps = { .file = name, .d = d, .p = p };
	struct yaml_tree *tree = NULL;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	memset(d, 0, sizeof(*d));
	p->source = src;
	p->source_len = len;
	p->file = strdup(name);
	if (!p->file) {
		diag_set(d, name, (struct pos){ 0, 0 }, "out of memory");
		goto out;
	}
	if (check_text(&ps, src, len) || yaml_tree_parse(name, src, len, &tree, d))
		goto out;
	ret = parse_root(&ps, yaml_tree_root(tree));
out:
	yaml_tree_free(tree);
	if (ret) {
		char file[256];

		/* The error names the file; keep that, drop the rest. */
		snprintf(file, sizeof(file), "%s", d->file[0] ? d->file : name);
		policy_free(p);
		snprintf(d->file, sizeof(d->file), "%s", file);
	}
	return ret;
}

int policy_parse_buf(const char *name, const char *buf, size_t len, struct policy *p,
		     struct diag *d)
{
	char *src = len > POLICY_MAX_FILE ? NULL : malloc(len + 1);

	if (!src) {
		memset(p, 0, sizeof(*p));
		memset(d, 0, sizeof(*d));
		if (len > POLICY_MAX_FILE)
			diag_set(d, name, (struct pos){ 0, 0 }, "file is %zu bytes (at most %d)",
				 len, POLICY_MAX_FILE);
		else
			diag_set(d, name, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}
	memcpy(src, buf, len);
	src[len] = '\0';
	return parse_source(name, src, len, p, d);
}

int policy_parse_file(const char *path, struct policy *p, struct diag *d)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	memset(p, 0, sizeof(*p));
	memset(d, 0, sizeof(*d));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		diag_set(d, path, (struct pos){ 0, 0 }, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		diag_set(d, path, (struct pos){ 0, 0 }, "not a regular file");
		close(fd);
		return -1;
	}
	if (st.st_size > POLICY_MAX_FILE) {
		diag_set(d, path, (struct pos){ 0, 0 }, "file is %lld bytes (at most %d)",
			 (long long)st.st_size, POLICY_MAX_FILE);
		close(fd);
		return -1;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		diag_set(d, path, (struct pos){ 0, 0 }, "out of memory");
		close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return parse_source(path, buf, len, p, d);
}

void policy_free(struct policy *p)
{
	for (size_t i = 0; i < p->nr_rules; i++) {
		struct policy_rule *r = &p->rules[i];

		free(r->cgroup);
		free(r->exe);
		for (size_t k = 0; k < r->nr_keys; k++)
			free(r->keys[k].name);
		free(r->keys);
	}
	for (size_t i = 0; i < p->nr_limits; i++)
		free(p->limits[i].cgroup);
	free(p->rules);
	free(p->limits);
	free(p->file);
	free(p->source);
	memset(p, 0, sizeof(*p));
}
