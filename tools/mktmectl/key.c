// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl key add|list|rm: thin wrappers over the "mktme" key type
 * (add_key(2) and /proc/keys). Keys go to the caller's user keyring, so
 * they outlive the command; the policy decides whether they may be made.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keyutils.h>

#include "json.h"
#include "main.h"
#include "names.h"
#include "mktme_policy.h"

static int key_error(const char *name, int err)
{
	switch (err) {
	case ENODEV:
		return fail(EXIT_NO_LSM, "key \"%s\": this kernel has no \"mktme\" key type (mktme=off, or not an mktme kernel). Nothing was created.",
			    name);
	case EPERM:
	case EACCES:
		return fail(EXIT_RUNTIME, "key \"%s\": denied (%s). If the mktme policy denied it, `mktmectl audit` says which rule. Nothing was created.",
			    name, strerror(err));
	case ENOKEY:
		return fail(EXIT_RUNTIME, "key \"%s\": no free KeyID (%s). Nothing was created.", name,
			    strerror(err));
	case EINVAL:
		return fail(EXIT_USAGE, "key \"%s\": the kernel refused the payload (%s). Nothing was created.",
			    name, strerror(err));
	default:
		return fail(EXIT_RUNTIME, "key \"%s\": %s. Nothing was created.", name, strerror(err));
	}
}

/* Each line of /proc/keys for an mktme key: serial and the describe text. */
static int for_each_key(int (*fn)(long serial, const char *uid, const char *desc, void *),
			void *arg)
{
	FILE *f = fopen("/proc/keys", "r");
	char line[1024];
	int ret = 0;

	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f)) {
		char flags[16], usage[16], expiry[16], perm[16], uid[16], gid[16], type[32];
		long serial;
		int off = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%lx %15s %15s %15s %15s %15s %15s %31s %n", &serial, flags, usage,
			   expiry, perm, uid, gid, type, &off) < 8 || !off)
			continue;
		if (strcmp(type, "mktme"))
			continue;
		ret = fn(serial, uid, line + off, arg);
	}
	fclose(f);
	return ret;
}


struct alg_of {
	long serial;
	char *out;
	size_t len;
};

/* The algorithm in @desc ("NAME: keyid=N type=T alg=A") of the key asked for. */
static int alg_one(long serial, const char *uid, const char *desc, void *arg)
{
	struct alg_of *q = arg;
	const char *a = strstr(desc, " alg=");

	(void)uid;
	if (serial != q->serial || !a)
		return 0;
	snprintf(q->out, q->len, "%.*s", (int)strcspn(a + 5, " "), a + 5);
	return 1;
}

static int do_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int type = 0, alg = -1, c;	/* alg -1: the kernel chooses (the platform's default) */
	char payload[512], khex[130] = "", thex[130] = "", chosen[32] = "?";
	key_serial_t serial;
	char *name;

	opts_begin();
	while ((c = opts_next(argc, argv, "", opts)) != -1) {
		if (c == 't' && (type = name_lookup(type_names, optarg)) >= 0)
			continue;
		if (c == 'a' && (alg = name_lookup(alg_names, optarg)) >= 0)
			continue;
		if (c == 't')
			return usage_fail("unknown key type \"%s\" (expected one of: %s)", optarg,
					  name_list(type_names));
		if (c == 'a')
			return usage_fail("unknown algorithm \"%s\" (expected one of: %s)", optarg,
					  name_list(alg_names));
		return opts_error(c, argv);
	}
	if ((c = opts_operands(argc, argv, 1, &name)))
		return c;
	if (!name[0] || strlen(name) >= MKTME_NAME_LEN)
		return fail(EXIT_USAGE, "key name \"%s\": 1 to %d bytes (longer names match only \"*\" rules). Nothing was created.",
			    name, MKTME_NAME_LEN - 1);
	if (type == 1 && scanf("%128s %128s", khex, thex) != 2)
		return fail(EXIT_USAGE, "--type user: expected \"KEYHEX TWEAKHEX\" on standard input. Nothing was created.");
	snprintf(payload, sizeof(payload), "type=%s%s%s%s%s%s%s", name_of(type_names, type),
		 alg >= 0 ? " algorithm=" : "", alg >= 0 ? name_of(alg_names, alg) : "",
		 type == 1 ? " key=" : "", khex, type == 1 ? " tweak=" : "", thex);
	serial = add_key("mktme", name, payload, strlen(payload), KEY_SPEC_USER_KEYRING);
	/* Key material: gone before anything else can fail (the compiler may not drop these). */
	explicit_bzero(payload, sizeof(payload));
	explicit_bzero(khex, sizeof(khex));
	explicit_bzero(thex, sizeof(thex));
	if (serial < 0)
		return key_error(name, errno);
	/* What the kernel chose, as /proc/keys describes the key (its view permission suffices). */
	if (alg >= 0) {
		snprintf(chosen, sizeof(chosen), "%s", name_of(alg_names, alg));
	} else {
		struct alg_of q = { serial, chosen, sizeof(chosen) };

		for_each_key(alg_one, &q);
	}
	if (cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "serial", json_object_new_int64(serial));
		json_object_object_add(o, "type", json_object_new_string(name_of(type_names, type)));
		json_object_object_add(o, "algorithm", json_object_new_string(chosen));
		json_emit(o, stdout, cli.pretty);
	} else {
		printf("key \"%s\": serial %d (type %s, %s), in your user keyring\n", name, serial,
		       name_of(type_names, type), chosen);
	}
	return EXIT_OK;
}

static int list_one(long serial, const char *uid, const char *desc, void *arg)
{
	struct json_object *a = arg;
	const char *colon = strstr(desc, ": ");
	char name[256];

	snprintf(name, sizeof(name), "%.*s", colon ? (int)(colon - desc) : (int)strlen(desc), desc);
	if (a) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "serial", json_object_new_int64(serial));
		json_object_object_add(o, "uid", json_object_new_int64(atol(uid)));
		json_object_object_add(o, "kernel", json_object_new_string(colon ? colon + 2 : ""));
		json_object_array_add(a, o);
	} else {
		printf("%-10ld %-6s %-24s %s\n", serial, uid, name, colon ? colon + 2 : "(not instantiated)");
	}
	return 0;
}

static int do_list(int argc, char **argv)
{
	struct json_object *a;
	int ret;

	ret = opts_flags(argc, argv, NULL, 0, NULL);
	if (ret)
		return ret;
	a = cli.json ? json_object_new_array() : NULL;
	if (!a)
		printf("%-10s %-6s %-24s %s\n", "SERIAL", "UID", "NAME", "KERNEL");
	ret = for_each_key(list_one, a);
	if (ret) {
		json_object_put(a);
		return fail(EXIT_RUNTIME, "cannot read /proc/keys: %s", strerror(-ret));
	}
	if (a)
		json_emit(a, stdout, cli.pretty);
	return EXIT_OK;
}

static int do_rm(int argc, char **argv)
{
	key_serial_t serial;
	char *name;
	int ret = opts_flags(argc, argv, NULL, 1, &name);

	if (ret)
		return ret;
	serial = keyctl_search(KEY_SPEC_USER_KEYRING, "mktme", name, 0);
	if (serial < 0)
		return fail(errno == ENOKEY ? EXIT_USAGE : EXIT_RUNTIME,
			    "no mktme key \"%s\" in your user keyring (%s). Nothing was removed.",
			    name, strerror(errno));
	/*
	 * Invalidate when we may: the key is gone everywhere at once and its
	 * KeyID is released as soon as nothing maps it. That needs search
	 * permission, which only a possessor has by default; a caller whose
	 * session keyring does not reach the user keyring (a new session,
	 * keyctl new_session) does not possess the key, but owns the user
	 * keyring and can unlink it from there: the key then goes, with its
	 * KeyID, when the key garbage collector finds it unreferenced.
	 */
	if (keyctl_invalidate(serial) && (errno != EACCES ||
					  keyctl_unlink(serial, KEY_SPEC_USER_KEYRING)))
		return fail(EXIT_RUNTIME, "key \"%s\" (serial %d): %s. Nothing was removed.", name,
			    serial, strerror(errno));
	if (cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "serial", json_object_new_int64(serial));
		json_object_object_add(o, "removed", json_object_new_boolean(true));
		json_emit(o, stdout, cli.pretty);
	} else {
		printf("key \"%s\" (serial %d) removed\n", name, serial);
	}
	return EXIT_OK;
}

const struct cmd key_cmds[] = {
	{ "add", do_add, NULL, "NAME [--type cpu|user|clear|no-encrypt] [--algorithm aes-xts-128|aes-xts-256]",
	  "add an mktme key to your user keyring; --type user reads \"KEYHEX TWEAKHEX\" from standard input (never from the command line)" },
	{ "list", do_list, NULL, "", "the mktme keys you can see" },
	{ "rm", do_rm, NULL, "NAME", "invalidate the key" },
	{ NULL, NULL, NULL, NULL, NULL },
};
