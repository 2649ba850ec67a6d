/* SPDX-License-Identifier: GPL-2.0 */
/* -j output: one JSON document per command (audit: one per line). */
#ifndef MKTMECTL_JSON_H
#define MKTMECTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "names.h"

/* Prints @o and a newline, then drops the reference. */
void json_emit(struct json_object *o, FILE *out, bool pretty);

struct json_object *json_u64(uint64_t v);
/* A string, or null for NULL. */
struct json_object *json_str(const char *s);
/* ["a", "b"] for the bits of @mask named in @t. */
struct json_object *json_mask(const struct name_val *t, unsigned int mask);
/* {"error": message, "nothing_changed": true, ...}: every failing command. */
struct json_object *json_error(const char *msg);

#endif
