/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the guest test suites. */
#ifndef MKTME_TESTS_GUEST_H
#define MKTME_TESTS_GUEST_H

#include <stdbool.h>
#include <stddef.h>

/* Whole file, NUL-terminated, or NULL with errno set. Caller frees. */
char *guest_read_file(const char *path, size_t *len);

/* $MKTME_BUILD/rel: the host build directory, visible read-only in the guest. */
const char *guest_build_path(const char *rel);

/* Is @word an element of the comma/space/newline-separated @list? */
bool guest_list_has(const char *list, const char *word);

#endif
