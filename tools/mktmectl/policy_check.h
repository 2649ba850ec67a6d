/* SPDX-License-Identifier: GPL-2.0 */
#ifndef MKTMECTL_POLICY_CHECK_H
#define MKTMECTL_POLICY_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "policy.h"

/* Exit code: 0 valid, 2 not (the error, with its position, on @err). */
int policy_check_run(const char *file, const struct resolve_opts *o, bool json, bool pretty,
		     FILE *out, FILE *err);

#endif
