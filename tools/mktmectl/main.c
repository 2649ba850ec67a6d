// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl: the operator's tool for mktme. `mktmectl FAMILY COMMAND ...`,
 * dispatched like bpftool (command tables, unambiguous prefixes); each
 * family in its own file.
 */
#include "main.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "mktme_policy.h"

struct cli cli;
static const char *cur_family;	/* of cli.cur, for its usage line */

static const char global_usage[] =
	"Usage: mktmectl [-j|--json] [-p|--pretty] [--bpffs-dir DIR] [--cgroup-root DIR]\n"
	"                [--state-dir DIR] COMMAND [ARGS]\n"
	"       mktmectl --version | --help\n";

static const char exit_usage[] =
	"Commands may be shortened to any unambiguous prefix (mktmectl pol lo FILE).\n"
	"COMMAND --help says more. Exit status: 0 ok, 1 runtime error, 2 bad input or usage,\n"
	"3 a capability is missing, 4 BPF LSM or mktme support missing. See mktmectl(8).\n";

static int fail_msg(int code, struct json_object *extra, const char *msg)
{
	/* Under systemd (the daemon), journald files it as an error: sd-daemon(3). */
	fprintf(stderr, "%smktmectl%s%s: %s\n", cli.journal ? "<3>" : "", cli.cmd ? " " : "",
		cli.cmd ? cli.cmd : "", msg);
	if (cli.json) {
		struct json_object *o = json_error(msg);

		json_object_object_add(o, "exit_code", json_object_new_int(code));
		if (extra) {
			json_object_object_foreach(extra, k, v)
				json_object_object_add(o, k, json_object_get(v));
		}
		json_emit(o, stdout, cli.pretty);
	}
	json_object_put(extra);
	return code;
}

static int vfail(int code, struct json_object *extra, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return fail_msg(code, extra, msg);
}

int fail(int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(code, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

int fail_with(int code, struct json_object *extra, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(code, extra, fmt, ap);
	va_end(ap);
	return ret;
}

void note(const char *fmt, ...)
{
	va_list ap;

	if (cli.json)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int need_bpf_lsm(void)
{
	char path[512], buf[1024], list[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/kernel/security/lsm", cli.sysfs);
	f = fopen(path, "r");
	if (!f)
		return fail(EXIT_NO_LSM, "cannot read %s (%s): is securityfs mounted? Without it there is no telling whether BPF LSM programs would run. Nothing was changed.",
			    path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* strtok() cuts its string: the message shows the whole list. */
	snprintf(list, sizeof(list), "%s", buf);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
		if (!strcmp(tok, "bpf"))
			return 0;
	return fail(EXIT_NO_LSM, "BPF LSM is NOT active (%s: %s): programs would attach and never run. Boot with lsm=...,bpf. Nothing was changed.",
		    path, list[0] ? list : "(empty)");
}

/* ---- help --------------------------------------------------------------- */

static void usage_line(FILE *out, const char *prefix, const char *family, const struct cmd *c)
{
	fprintf(out, "%smktmectl %s%s%s%s%s\n", prefix, family ? family : "", family ? " " : "",
		c->name, c->usage && *c->usage ? " " : "", c->usage ? c->usage : "");
}

static struct json_object *cmd_json(const char *family, const struct cmd *c)
{
	struct json_object *o = json_object_new_object();
	char name[64], usage[512];

	snprintf(name, sizeof(name), "%s%s%s", family ? family : "", family ? " " : "", c->name);
	snprintf(usage, sizeof(usage), "mktmectl %s%s%s", name, c->usage && *c->usage ? " " : "",
		 c->usage ? c->usage : "");
	json_object_object_add(o, "command", json_object_new_string(name));
	json_object_object_add(o, "usage", json_object_new_string(usage));
	json_object_object_add(o, "description", json_object_new_string(c->desc ? c->desc : ""));
	return o;
}

/* Every command of @cmds (and of its families), one line each. */
static void help_table(FILE *out, const struct cmd *cmds, const char *family,
		       struct json_object *arr)
{
	for (const struct cmd *c = cmds; c->name; c++) {
		if (c->sub) {
			help_table(out, c->sub, c->name, arr);
			continue;
		}
		if (arr) {
			json_object_array_add(arr, cmd_json(family, c));
			continue;
		}
		usage_line(out, "  ", family, c);
		if (c->desc)
			fprintf(out, "      %s\n", c->desc);
	}
}

static void help_of(FILE *out, const struct cmd *cmds, const char *family, bool top)
{
	if (cli.json && out == stdout) {
		struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

		help_table(out, cmds, family, arr);
		json_object_object_add(o, "commands", arr);
		json_emit(o, out, cli.pretty);
		return;
	}
	if (top)
		fprintf(out, "%s\nCommands:\n", global_usage);
	else
		fprintf(out, "Usage:\n");
	help_table(out, cmds, family, NULL);
	fprintf(out, "\n%s", exit_usage);
}

static void help_cmd(FILE *out, const char *family, const struct cmd *c)
{
	if (cli.json && out == stdout) {
		json_emit(cmd_json(family, c), out, cli.pretty);
		return;
	}
	usage_line(out, "Usage: ", family, c);
	if (c->desc && out == stdout)
		fprintf(out, "\n%s\n", c->desc);
}

int usage_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli.cur)
		help_cmd(stderr, cur_family, cli.cur);
	return fail(EXIT_USAGE, "%s", msg);
}

/* ---- options of one command ------------------------------------------------ */

void opts_begin(void)
{
	optind = 0;	/* 0: glibc starts afresh */
	opterr = 0;	/* reported by opts_error(), the same way as every error */
}

int opts_next(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	char spec[32];

	/* ":": a missing argument is ':', not '?' (opts_error() tells them apart). */
	snprintf(spec, sizeof(spec), ":%s", shortopts);
	return getopt_long(argc + 1, argv - 1, spec, opts, NULL);
}

int opts_error(int c, char **argv)
{
	const char *arg = argv[optind - 2];

	if (c == ':')
		return usage_fail("option \"%s\" needs an argument", arg);
	return usage_fail("unknown option \"%s\"", arg);
}

int opts_operands(int argc, char **argv, int n, char **pos)
{
	int have = argc + 1 - optind;

	if (have < n)
		return usage_fail("missing argument");
	if (have > n)
		return usage_fail("unexpected argument \"%s\"", argv[optind - 1 + n]);
	for (int i = 0; i < n; i++)
		pos[i] = argv[optind - 1 + i];
	return EXIT_OK;
}

int opts_flags(int argc, char **argv, const struct option *opts, int n, char **pos)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int c;

	opts_begin();
	while ((c = opts_next(argc, argv, "", opts ? opts : none)) != -1)
		if (c)
			return opts_error(c, argv);
	return opts_operands(argc, argv, n, pos);
}

/* ---- dispatch ------------------------------------------------------------ */

static bool is_prefix(const char *pfx, const char *name)
{
	size_t n = strlen(pfx);

	return n && n <= strlen(name) && !memcmp(pfx, name, n);
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/*
 * An exact name wins; otherwise the one command that @word is a prefix of.
 * NULL (after saying why) when none is, or several are.
 */
static const struct cmd *find(const struct cmd *cmds, const char *word, const char *family)
{
	const struct cmd *hit = NULL;
	char cands[256] = "";
	int n = 0;

	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, word))
			return c;
	for (const struct cmd *c = cmds; c->name; c++) {
		if (!is_prefix(word, c->name))
			continue;
		hit = c;
		n++;
		snprintf(cands + strlen(cands), sizeof(cands) - strlen(cands), "%s%s", n > 1 ? ", " : "",
			 c->name);
	}
	if (n == 1)
		return hit;
	if (n == 0) {
		help_of(stderr, cmds, family, !family);
		fail(EXIT_USAGE, "unknown command \"%s\"", word);
	} else {
		fail(EXIT_USAGE, "\"%s\" is ambiguous: it could be %s", word, cands);
	}
	return NULL;
}

int cmd_select(const struct cmd *cmds, int argc, char **argv, const char *family)
{
	static char name[64];
	const struct cmd *c;

	cli.cmd = family;
	if (argc < 1) {
		help_of(stderr, cmds, family, !family);
		return fail(EXIT_USAGE, "missing command");
	}
	/* The top's "help" is a command of its own (do_help); a family's is this. */
	if (is_help(argv[0]) || (family && !strcmp(argv[0], "help"))) {
		if (argc > 1 && !is_help(argv[0])) {
			help_of(stderr, cmds, family, false);
			return fail(EXIT_USAGE, "unexpected argument \"%s\"", argv[1]);
		}
		help_of(stdout, cmds, family, !family);
		return EXIT_OK;
	}
	c = find(cmds, argv[0], family);
	if (!c)
		return EXIT_USAGE;
	if (c->sub)
		return cmd_select(c->sub, argc - 1, argv + 1, c->name);
	snprintf(name, sizeof(name), "%s%s%s", family ? family : "", family ? " " : "", c->name);
	cli.cmd = name;
	cli.cur = c;
	cur_family = family;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (is_help(argv[i])) {
			help_cmd(stdout, family, c);
			return EXIT_OK;
		}
	}
	return c->fn(argc - 1, argv + 1);
}

static int do_version(int argc, char **argv)
{
	int ret = opts_flags(argc, argv, NULL, 0, NULL);

	if (ret)
		return ret;
	if (cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "version", json_object_new_string(MKTME_VERSION));
		json_object_object_add(o, "policy_format", json_object_new_int(1));
		json_object_object_add(o, "pin_dir", json_object_new_string(MKTME_PIN_DIR));
		json_emit(o, stdout, cli.pretty);
	} else {
		printf("mktmectl %s (policy format version 1, pins under %s)\n", MKTME_VERSION,
		       MKTME_PIN_DIR);
	}
	return EXIT_OK;
}

static int do_help(int argc, char **argv);

static const struct cmd top[] = {
	{ "policy", NULL, policy_cmds, NULL, NULL },
	{ "key", NULL, key_cmds, NULL, NULL },
	{ "assign", do_assign, NULL, "[--owner subtree|any] CGROUP KEY",
	  "allow KEY in CGROUP; kept in the state file (--state-dir), so across reloads, restarts and reboots" },
	{ "unassign", do_unassign, NULL, "CGROUP KEY | --all", "remove one assignment, or all" },
	{ "audit", do_audit, NULL, "[--follow]", "decisions from the audit ring buffer" },
	{ "status", do_status, NULL, "", "backend, LSM, programs, generation, mode" },
	{ "daemon", do_daemon, NULL, "[--policy FILE] [--no-audit]",
	  "load, pin, reload on change or SIGHUP, reapply assignments, stream audit" },
	{ "version", do_version, NULL, "", "the version of mktmectl" },
	{ "help", do_help, NULL, "", "this list" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static int do_help(int argc, char **argv)
{
	int ret = opts_flags(argc, argv, NULL, 0, NULL);

	if (ret)
		return ret;
	help_of(stdout, top, NULL, true);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "bpffs-dir", required_argument, NULL, 'B' },
		{ "cgroup-root", required_argument, NULL, 'C' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	bool version = false;
	int c;

	cli.pin_dir = (env = getenv("MKTME_PIN_DIR")) && *env ? env : MKTME_PIN_DIR;
	cli.cgroup_root = getenv("MKTME_CGROUP_ROOT");
	cli.sysfs = (env = getenv("MKTME_SYSFS")) && *env ? env : "/sys";
	cli.state_dir = getenv("MKTME_STATE_DIR");
	/* -j and -p may come anywhere (`mktmectl audit --follow -j`): take them
	 * out before the subcommands parse their own options. */
	for (int i = 1, n = 1, dashdash = 0; i <= argc; i++) {
		const char *a = argv[i];

		if (i == argc) {
			argv[n] = NULL;
			argc = n;
			break;
		}
		if (!dashdash && !strcmp(a, "--")) {
			dashdash = 1;
		} else if (!dashdash && (!strcmp(a, "-j") || !strcmp(a, "--json"))) {
			cli.json = true;
			continue;
		} else if (!dashdash && (!strcmp(a, "-p") || !strcmp(a, "--pretty"))) {
			cli.json = cli.pretty = true;
			continue;
		}
		argv[n++] = argv[i];
	}
	opterr = 0;
	/* "+": options end at the command, so that subcommands parse their own. */
	while ((c = getopt_long(argc, argv, "+:jphV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli.json = true;
			break;
		case 'p':
			cli.json = cli.pretty = true;
			break;
		case 'B':
			cli.pin_dir = optarg;
			break;
		case 'C':
			cli.cgroup_root = optarg;
			break;
		case 'S':
			cli.state_dir = optarg;
			break;
		case 'h':
			help_of(stdout, top, NULL, true);
			return EXIT_OK;
		case 'V':
			version = true;
			break;
		default:
			help_of(stderr, top, NULL, true);
			return fail(EXIT_USAGE, c == ':' ? "option \"%s\" needs an argument" :
					       "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (version)
		return do_version(0, argv + optind);
	return cmd_select(top, argc - optind, argv + optind, NULL);
}
