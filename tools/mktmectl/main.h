/* SPDX-License-Identifier: GPL-2.0 */
/* What every mktmectl command shares: options, exit codes, error output. */
#ifndef MKTMECTL_MAIN_H
#define MKTMECTL_MAIN_H

#include <getopt.h>
#include <stdbool.h>

#ifndef MKTME_VERSION
#define MKTME_VERSION "0.1.0"
#endif

/* Exit codes (mktmectl.8, EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,	/* the system said no, or something failed */
	EXIT_USAGE = 2,		/* bad input: usage, policy file, names */
	EXIT_PERM = 3,		/* a capability the operation needs is missing */
	EXIT_NO_LSM = 4,	/* BPF LSM not active, or no mktme support */
};

struct cmd;

struct cli {
	bool json, pretty;
	const char *pin_dir;		/* --bpffs-dir, $MKTME_PIN_DIR */
	const char *cgroup_root;	/* --cgroup-root, $MKTME_CGROUP_ROOT */
	const char *sysfs;		/* $MKTME_SYSFS (tests) or /sys */
	const char *state_dir;		/* --state-dir, $MKTME_STATE_DIR */
	const char *cmd;		/* "policy load", for messages */
	const struct cmd *cur;		/* the command running, for its usage */
	bool journal;			/* stderr is journald's stream: "<N>" prefixes */
};

extern struct cli cli;

/*
 * Reports an error the way every command does (text on stderr; with -j a
 * {"error": ...} object on stdout too) and returns @code. The message says
 * what went wrong; callers say whether anything changed.
 */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fail(), and @extra's members (its reference is taken) in the -j object. */
struct json_object;
int fail_with(int code, struct json_object *extra, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Capabilities, as the kernel checks them (capable(): the effective set, in
 * the initial user namespace). Which operation needs which: caps.c.
 */
enum {
	NEED_SYS_ADMIN = 1 << 0,
	NEED_BPF = 1 << 1,
	NEED_PERFMON = 1 << 2,
};
#define CAPS_CHANGE	(NEED_SYS_ADMIN | NEED_BPF)		/* assign, unassign, unload */
#define CAPS_ATTACH	(NEED_SYS_ADMIN | NEED_BPF | NEED_PERFMON)	/* load, daemon */
/* Every capability in @need is there: 0; else EXIT_PERM naming the missing. */
int need_caps(const char *what, unsigned int need);
bool have_caps(unsigned int need);
/* "bpf" among the active LSMs, else a loud EXIT_NO_LSM. */
int need_bpf_lsm(void);
/* Progress lines (text mode only, stderr). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int do_assign(int argc, char **argv);
int do_unassign(int argc, char **argv);
/* The daemon's start: the state file's assignments put in force (assign.c). */
int assign_state_apply(void);
int do_audit(int argc, char **argv);
int do_status(int argc, char **argv);
int do_daemon(int argc, char **argv);

/*
 * Command tables, as in bpftool: a command is named by any unambiguous
 * prefix (`mktmectl pol lo FILE`). A family (policy, key) has a table of
 * its own in @sub; every other command has @fn, and --help anywhere among
 * its arguments prints @usage and @desc.
 */
struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const struct cmd *sub;
	const char *usage;	/* the arguments: "FILE [--dry-run]" */
	const char *desc;	/* one line */
};

extern const struct cmd policy_cmds[], key_cmds[];

int cmd_select(const struct cmd *cmds, int argc, char **argv, const char *family);

/*
 * Every command parses its arguments one way: getopt_long over them
 * (argv[-1] is its name), GNU style (options may follow operands, "--"
 * ends them), then an exact count of operands. A command whose options
 * are all flags (set through their flag pointers), or that has none
 * (@opts NULL), calls opts_flags(); one with options that take values
 * runs its own loop: opts_begin(), then opts_next() (@shortopts as
 * getopt's, "" for none) returns an option, -1 at the end, '?' or ':' for
 * a bad one (then return opts_error()), and then opts_operands().
 * Operands: exactly @n of them into @pos; else EXIT_USAGE, said with the
 * command's usage.
 */
void opts_begin(void);
int opts_next(int argc, char **argv, const char *shortopts, const struct option *opts);
int opts_error(int c, char **argv);
int opts_operands(int argc, char **argv, int n, char **pos);
int opts_flags(int argc, char **argv, const struct option *opts, int n, char **pos);
/* The usage of the running command on stderr, and EXIT_USAGE with the message. */
int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
