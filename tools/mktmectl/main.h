/* SPDX-License-Identifier: GPL-2.0 */
/* What every mktmectl command shares: options, exit codes, error output. */
#ifndef MKTMECTL_MAIN_H
#define MKTMECTL_MAIN_H

#include <stdbool.h>

/* Exit codes (mktmectl.8, EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,	/* the system said no, or something failed */
	EXIT_USAGE = 2,		/* bad input: usage, policy file, names */
	EXIT_PERM = 3,		/* needs root */
	EXIT_NO_LSM = 4,	/* BPF LSM not active, or no mktme support */
};

struct cli {
	bool json, pretty;
	const char *pin_dir;		/* --bpffs-dir, $MKTME_PIN_DIR */
	const char *cgroup_root;	/* --cgroup-root, $MKTME_CGROUP_ROOT */
	const char *sysfs;		/* $MKTME_SYSFS (tests) or /sys */
	const char *cmd;		/* "policy load", for messages */
};

extern struct cli cli;

/*
 * Reports an error the way every command does (text on stderr; with -j a
 * {"error": ...} object on stdout too) and returns @code. The message says
 * what went wrong; callers say whether anything changed.
 */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Not root: EXIT_PERM with a message naming @what. 0 if root. */
int need_root(const char *what);
/* "bpf" among the active LSMs, else a loud EXIT_NO_LSM. */
int need_bpf_lsm(void);
/* Progress lines (text mode only, stderr). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int do_policy(int argc, char **argv);
int do_key(int argc, char **argv);
int do_assign(int argc, char **argv);
int do_unassign(int argc, char **argv);
int do_audit(int argc, char **argv);
int do_status(int argc, char **argv);
int do_daemon(int argc, char **argv);

/* Subcommand tables, as in bpftool. */
struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

int cmd_select(const struct cmd *cmds, int argc, char **argv, const char *family,
	       void (*help)(void));

#endif
