// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl: the operator's tool for mktme. `mktmectl FAMILY COMMAND ...`,
 * dispatched like bpftool; each family in its own file.
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

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mktmectl [-j|--json] [-p|--pretty] [--bpffs-dir DIR] [--cgroup-root DIR] COMMAND\n"
		"\n"
		"  policy check FILE            validate a policy; change nothing\n"
		"  policy load FILE [--dry-run] load it (attaching the programs if needed)\n"
		"  policy show                  the policy in force\n"
		"  policy unload [--detach]     stop enforcing (--detach: remove programs and pins)\n"
		"  key add NAME [--type cpu|user|clear|no-encrypt] [--algorithm aes-xts-128|aes-xts-256]\n"
		"  key list\n"
		"  key rm NAME\n"
		"  assign CGROUP KEY            allow KEY in CGROUP, kept across reloads and restarts\n"
		"  unassign CGROUP KEY | --all\n"
		"  audit [--follow]             decisions from the audit ring buffer\n"
		"  status                       backend, LSM, programs, generation, mode\n"
		"  daemon [--policy FILE]       load, pin, reload on change or SIGHUP, stream audit\n"
		"\n"
		"Exit status: 0 ok, 1 runtime error, 2 bad input or usage, 3 not root,\n"
		"4 BPF LSM or mktme support missing. See mktmectl(8).\n");
}

int fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "mktmectl%s%s: %s\n", cli.cmd ? " " : "", cli.cmd ? cli.cmd : "", msg);
	if (cli.json) {
		struct json_object *o = json_error(msg);

		json_object_object_add(o, "exit_code", json_object_new_int(code));
		json_emit(o, stdout, cli.pretty);
	}
	return code;
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

int need_root(const char *what)
{
	if (geteuid() == 0)
		return 0;
	return fail(EXIT_PERM, "%s needs root (CAP_SYS_ADMIN and CAP_BPF); you are uid %u. Nothing was changed.",
		    what, (unsigned int)geteuid());
}

int need_bpf_lsm(void)
{
	char path[512], buf[1024];
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
	for (char *tok = strtok(buf, ",\n"); tok; tok = strtok(NULL, ",\n"))
		if (!strcmp(tok, "bpf"))
			return 0;
	return fail(EXIT_NO_LSM, "BPF LSM is NOT active (%s: %s): programs would attach and never run. Boot with lsm=...,bpf. Nothing was changed.",
		    path, buf[0] ? strtok(buf, "\n") : "(empty)");
}

int cmd_select(const struct cmd *cmds, int argc, char **argv, const char *family,
	       void (*help)(void))
{
	static char name[64];

	if (argc < 1 || !strcmp(argv[0], "help") || !strcmp(argv[0], "--help")) {
		help();
		return argc < 1 ? EXIT_USAGE : EXIT_OK;
	}
	for (const struct cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, argv[0]))
			continue;
		snprintf(name, sizeof(name), "%s%s%s", family ? family : "", family ? " " : "",
			 c->name);
		cli.cmd = name;
		return c->fn(argc - 1, argv + 1);
	}
	cli.cmd = family;
	help();
	return fail(EXIT_USAGE, "unknown command \"%s\"", argv[0]);
}

static void help_top(void)
{
	usage(stderr);
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_OK;
}

static const struct cmd top[] = {
	{ "policy", do_policy },
	{ "key", do_key },
	{ "assign", do_assign },
	{ "unassign", do_unassign },
	{ "audit", do_audit },
	{ "status", do_status },
	{ "daemon", do_daemon },
	{ "help", do_help },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "bpffs-dir", required_argument, NULL, 'B' },
		{ "cgroup-root", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	int c;

	cli.pin_dir = (env = getenv("MKTME_PIN_DIR")) && *env ? env : MKTME_PIN_DIR;
	cli.cgroup_root = getenv("MKTME_CGROUP_ROOT");
	cli.sysfs = (env = getenv("MKTME_SYSFS")) && *env ? env : "/sys";
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
	/* "+": options end at the command, so that subcommands parse their own. */
	while ((c = getopt_long(argc, argv, "+jph", opts, NULL)) != -1) {
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
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return cmd_select(top, argc - optind, argv + optind, NULL, help_top);
}
