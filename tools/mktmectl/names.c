// SPDX-License-Identifier: GPL-2.0
#include "names.h"

#include <stdio.h>
#include <string.h>

#include <linux/mktme.h>

#include "mktme_policy.h"

const struct name_val mode_names[] = {
	{ "enforce", MKTME_MODE_ENFORCE },
	{ "audit", MKTME_MODE_AUDIT },
	{ NULL, 0 },
};

const struct name_val audit_names[] = {
	{ "denials", MKTME_AUDIT_DENIALS },
	{ "all", MKTME_AUDIT_ALL },
	{ NULL, 0 },
};

const struct name_val verdict_names[] = {
	{ "allow", MKTME_ALLOW },
	{ "deny", MKTME_DENY },
	{ NULL, 0 },
};

const struct name_val owner_names[] = {
	{ "any", 0 },
	{ "subtree", 1 },
	{ NULL, 0 },
};

const struct name_val op_names[] = {
	{ "create", MKTME_OP_CREATE },
	{ "bind", MKTME_OP_BIND },
	{ "mmap", MKTME_OP_MMAP },
	{ NULL, 0 },
};

/* The payload words of the key type (DESIGN.md 2.3). */
const struct name_val type_names[] = {
	{ "cpu", MKTME_KEY_TYPE_CPU },
	{ "user", MKTME_KEY_TYPE_USER },
	{ "clear", MKTME_KEY_TYPE_CLEAR },
	{ "no-encrypt", MKTME_KEY_TYPE_NO_ENCRYPT },
	{ NULL, 0 },
};

const struct name_val alg_names[] = {
	{ "aes-xts-128", MKTME_ALG_AES_XTS_128 },
	{ "aes-xts-256", MKTME_ALG_AES_XTS_256 },
	{ NULL, 0 },
};

const struct name_val reason_names[] = {
	{ "rule", MKTME_REASON_RULE },
	{ "default", MKTME_REASON_DEFAULT },
	{ "quota", MKTME_REASON_QUOTA },
	{ "no-policy", MKTME_REASON_NO_POLICY },
	{ "error", MKTME_REASON_ERROR },
	{ NULL, 0 },
};

int name_lookup(const struct name_val *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t->val;
	return -1;
}

const char *name_of(const struct name_val *t, int val)
{
	for (; t->name; t++)
		if (t->val == val)
			return t->name;
	return "?";
}

const char *name_list(const struct name_val *t)
{
	/* Tables are few and small: one static buffer per table is enough. */
	static struct {
		const struct name_val *t;
		char buf[128];
	} cache[8];
	size_t i;

	for (i = 0; i < 8 && cache[i].t; i++)
		if (cache[i].t == t)
			return cache[i].buf;
	if (i == 8)
		i = 0;
	cache[i].t = t;
	cache[i].buf[0] = '\0';
	for (const struct name_val *n = t; n->name; n++) {
		size_t len = strlen(cache[i].buf);

		snprintf(cache[i].buf + len, sizeof(cache[i].buf) - len, "%s%s",
			 n == t ? "" : ", ", n->name);
	}
	return cache[i].buf;
}
