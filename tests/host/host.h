/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers for host tests that run the project's own commands. */
#ifndef MKTME_TESTS_HOST_H
#define MKTME_TESTS_HOST_H

#include <sys/types.h>

struct run_result {
	int status;	/* exit code, or 128 + signal */
	char *out;	/* stdout, NUL-terminated */
	char *err;	/* stderr, NUL-terminated */
};

/*
 * Run argv[0] (path relative to the repository root, where tests run) with
 * the extra environment @env ("NAME=value" strings, NULL-terminated, may be
 * NULL), as @uid if it is not (uid_t)-1. Aborts the test on spawn errors.
 */
void run_cmd(struct run_result *r, char *const argv[], char *const env[], uid_t uid);
void run_result_free(struct run_result *r);

#endif
