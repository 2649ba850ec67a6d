/* SPDX-License-Identifier: GPL-2.0 */
/* The words of the policy format and of the output, both ways. */
#ifndef MKTMECTL_NAMES_H
#define MKTMECTL_NAMES_H

struct name_val {
	const char *name;
	int val;
};

extern const struct name_val mode_names[];
extern const struct name_val audit_names[];	/* values: enum mktme_pol_audit */
extern const struct name_val verdict_names[];
extern const struct name_val op_names[];	/* values: enum mktme_pol_op */
extern const struct name_val type_names[];	/* values: enum mktme_key_type */
extern const struct name_val alg_names[];	/* values: enum mktme_key_alg */
extern const struct name_val reason_names[];
extern const struct name_val owner_names[];	/* values: 1 for subtree */

/* -1 if @name is not in @t. */
int name_lookup(const struct name_val *t, const char *name);
/* "?" if @val is not in @t. */
const char *name_of(const struct name_val *t, int val);
/* "a, b, c": for "expected one of" messages. */
const char *name_list(const struct name_val *t);

#endif
