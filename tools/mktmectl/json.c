// SPDX-License-Identifier: GPL-2.0
#include "names.h"
#include "json.h"

void json_emit(struct json_object *o, FILE *out, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
			    : JSON_C_TO_STRING_PLAIN);

	fprintf(out, "%s\n", json_object_to_json_string_ext(o, flags));
	fflush(out);
	json_object_put(o);
}

struct json_object *json_u64(uint64_t v)
{
	/* json-c 0.16 has uint64; ids above 2^53 still print exactly. */
	return json_object_new_uint64(v);
}

struct json_object *json_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *json_mask(const struct name_val *t, unsigned int mask)
{
	struct json_object *a = json_object_new_array();

	for (; t->name; t++)
		if (mask & (1u << t->val))
			json_object_array_add(a, json_object_new_string(t->name));
	return a;
}

struct json_object *json_error(const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}
