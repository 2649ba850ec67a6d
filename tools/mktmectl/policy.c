// SPDX-License-Identifier: GPL-2.0
/* mktmectl policy check|load|show|unload */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assign_state.h"
#include "bpfobj.h"
#include "json.h"
#include "main.h"
#include "names.h"
#include "owner.h"
#include "policy.h"
#include "policy_check.h"

static int do_check(int argc, char **argv)
{
	static int offline;
	static const struct option opts[] = {
		{ "offline", no_argument, &offline, 1 },
		{ NULL, 0, NULL, 0 },
	};
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root };
	char *file;
	int ret = opts_flags(argc, argv, opts, 1, &file);

	if (ret)
		return ret;
	o.offline = offline;
	return policy_check_run(file, &o, cli.json, cli.pretty, stdout, stderr);
}

/* @file is not a valid policy (@d says why): exit code 2 with the file's position. */
static int policy_invalid(const char *file, struct diag *d)
{
	if (cli.json) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "error", diag_to_json(d));
		json_object_object_add(e, "nothing_changed", json_object_new_boolean(true));
		json_object_object_add(e, "exit_code", json_object_new_int(EXIT_USAGE));
		json_emit(e, stdout, cli.pretty);
	}
	diag_print(d, stderr);
	fprintf(stderr, "mktmectl %s: %s is not valid; the loaded policy was left exactly as it was.\n",
		cli.cmd, file);
	return EXIT_USAGE;
}

/*
 * Resolve the parsed @pol (its cgroups and executables, as they are now)
 * and compile it with the pinned assignments (if @p) as generation @gen.
 * @pol stays the caller's, whatever happens.
 */
static int compile_policy(const char *file, struct policy *pol, const struct pins *p,
			  unsigned int gen, struct compiled *c)
{
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root };
	struct assignment *a = NULL;
	struct diag d;
	size_t n = 0;
	int ret;

	memset(&d, 0, sizeof(d));
	if (policy_resolve(pol, &o, &d))
		return policy_invalid(file, &d);
	if (p && assignments_read(p, &a, &n))
		return fail(EXIT_RUNTIME, "cannot read the assignments: %s. Nothing was changed.",
			    strerror(errno));
	ret = policy_compile(pol, a, n, gen, c, &d);
	free(a);
	return ret ? policy_invalid(file, &d) : EXIT_OK;
}

/* Parse @file into @pol (freed on error, as it is by policy_parse_file()). */
static int parse_policy(const char *file, struct policy *pol)
{
	struct diag d;

	if (policy_parse_file(file, pol, &d))
		return policy_invalid(file, &d);
	return EXIT_OK;
}

/* A daemon owning the policy (owner.h), as a command that would change it saw it. */
struct gate {
	bool daemon;		/* one runs */
	pid_t pid;
	char who[512];		/* "pid N (mktmectl daemon --policy ...)" */
	char file[1024];	/* its policy file */
	int prev;		/* an override note was there before (1), none (0) */
	bool dry_run;		/* only looked: a dry run overrides nothing */
	char prev_note[512];
};

/* Which daemon owns the policy, into @g: owner_get()'s result. */
static int owner_look(struct gate *g)
{
	int ret;

	memset(g, 0, sizeof(*g));
	ret = owner_get(&g->pid, g->who, sizeof(g->who), g->file, sizeof(g->file));
	g->daemon = ret > 0;
	return ret;
}

/*
 * Refuse @cmd while a daemon owns the policy; with @force, leave the note
 * that makes it stand back (before the change: the daemon reads the note
 * under the pins' lock). Returns an exit code (0: go ahead).
 */
static int owner_gate(const char *cmd, bool force, struct gate *g)
{
	char note[768];
	int ret = owner_look(g);

	if (ret < 0)
		return fail(EXIT_RUNTIME, "cannot tell whether a daemon owns the policy (its lock under /run/mktme): %s. Nothing was changed.",
			    strerror(-ret));
	if (!ret)
		return EXIT_OK;
	if (!force) {
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "daemon_pid", json_object_new_int64(g->pid));
		json_object_object_add(x, "daemon_policy", json_object_new_string(g->file));
		json_object_object_add(x, "nothing_changed", json_object_new_boolean(true));
		return fail_with(EXIT_RUNTIME, x, "the policy is the daemon's: mktmectl daemon %s keeps %s in force and would undo this. Change that file (the daemon loads it at once) or send it SIGHUP (systemctl reload mktme), stop it (systemctl stop mktme), or add --force to override it until its file changes, it gets SIGHUP, or it restarts. Nothing was changed.",
				 g->who, g->file);
	}
	g->prev = owner_override_get(g->prev_note, sizeof(g->prev_note));
	snprintf(note, sizeof(note), "`mktmectl %s` by pid %d (uid %u)", cmd, (int)getpid(),
		 (unsigned int)getuid());
	ret = owner_override_set(note);
	if (ret)
		return fail(EXIT_RUNTIME, "cannot leave the daemon (%s) the note that it is overridden: %s. Nothing was changed.",
			    g->who, strerror(-ret));
	return EXIT_OK;
}

/* The command failed after owner_gate(): the daemon's note as it was. */
static void owner_gate_undo(const struct gate *g)
{
	if (!g->daemon)
		return;
	if (g->prev == 1)
		owner_override_set(g->prev_note);
	else
		owner_override_clear();
}

/* Said on success when a daemon was overridden, or would have to be. */
static void owner_gate_said(const struct gate *g, struct json_object *o)
{
	if (!g->daemon)
		return;
	if (g->dry_run) {
		if (o) {
			json_object_object_add(o, "daemon_pid", json_object_new_int64(g->pid));
			json_object_object_add(o, "daemon_policy", json_object_new_string(g->file));
			json_object_object_add(o, "load_needs_force", json_object_new_boolean(true));
		} else {
			printf("the policy is the daemon's: mktmectl daemon %s keeps %s in force, so the load itself needs --force (and the daemon would stand back until %s changes, it gets SIGHUP, or it restarts)\n",
			       g->who, g->file, g->file);
		}
		return;
	}
	if (o) {
		json_object_object_add(o, "daemon_overridden", json_object_new_boolean(true));
		json_object_object_add(o, "daemon_pid", json_object_new_int64(g->pid));
		return;
	}
	note("mktmectl %s: the daemon (%s) stands back: it leaves this in force until %s changes, it gets SIGHUP (systemctl reload mktme), or it restarts",
	     cli.cmd, g->who, g->file);
}

static void print_loaded(const struct policy *pol, const struct compiled *c, bool dry_run,
			 enum programs_how how, const char *file, const struct gate *g)
{
	const struct mktme_pol_meta *m = compiled_meta(c);

	if (cli.json) {
		struct json_object *o = policy_to_json(pol, c);

		json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
		json_object_object_add(o, "generation", json_object_new_int64(m->generation));
		json_object_object_add(o, "assignments", json_object_new_int64(m->nr_assign));
		if (!dry_run)
			json_object_object_add(o, "programs",
					       json_object_new_string(programs_how_str(how)));
		if (g)
			owner_gate_said(g, o);
		json_emit(o, stdout, cli.pretty);
		return;
	}
	if (dry_run)
		printf("%s is valid: it would become generation %u (mode %s, default %s, %zu rules, %u assignments, %zu map entries, %zu pending). Nothing was changed.\n",
		       file, m->generation, name_of(mode_names, m->mode),
		       name_of(verdict_names, m->dflt), pol->nr_rules, m->nr_assign, compiled_entries(c), c->nr_pending);
	else
		printf("loaded %s as generation %u (mode %s, default %s, %zu rules, %u assignments, %zu map entries, %zu pending); programs %s\n",
		       file, m->generation, name_of(mode_names, m->mode),
		       name_of(verdict_names, m->dflt), pol->nr_rules, m->nr_assign, compiled_entries(c), c->nr_pending,
		       how == PROGRAMS_ADOPTED ? "already attached" :
		       how == PROGRAMS_UPGRADED ? "upgraded: this build's replaced the attached ones, every map kept" :
		       "attached now");
	if (m->mode == MKTME_MODE_AUDIT && !dry_run)
		printf("audit mode: decisions are logged (mktmectl audit), nothing is denied\n");
	if (g)
		owner_gate_said(g, NULL);
}

/*
 * The state file must be readable before a load: a load that silently left
 * out (or kept stale) assignments would not be what the operator asked for.
 */
static int state_ok(void)
{
	struct state s;
	struct diag d;

	if (!state_load(state_dir(cli.state_dir), &s, &d)) {
		state_free(&s);
		return EXIT_OK;
	}
	diag_print(&d, stderr);
	return fail(EXIT_RUNTIME, "the assignments' state file cannot be used (above); the policy was not loaded and nothing was changed");
}

static int do_load(int argc, char **argv)
{
	static int dry_run, force;
	static const struct option opts[] = {
		{ "dry-run", no_argument, &dry_run, 1 },
		{ "force", no_argument, &force, 1 },
		{ NULL, 0, NULL, 0 },
	};
	struct policy pol;
	struct compiled c;
	struct pins p = PINS_INIT;
	struct gate g;
	char *file, err[512], what[1100];
	enum programs_how how = PROGRAMS_ADOPTED;
	int ret = opts_flags(argc, argv, opts, 1, &file);

	if (ret)
		return ret;
	if (dry_run) {
		/*
		 * Exactly what a load would compile, with the pins where they
		 * are (none: a first load's generation 1), refused where the load
		 * would be refused (a state file it cannot use, pins it cannot).
		 * A daemon owning the policy is said, not refused: checking a
		 * file before handing it to the daemon is what a dry run is for.
		 */
		int pret = pins_open(&p, false), oret;
		bool pinned = pret == 0;

		if (pret && pret != -ENOENT)
			return fail(EXIT_RUNTIME, "cannot open the pinned maps under %s: %s. A load would fail the same way.",
				    cli.pin_dir, strerror(-pret));
		ret = state_ok();
		if (ret) {
			pins_close(&p);
			return ret;
		}
		oret = owner_look(&g);
		g.dry_run = true;
		if (oret < 0)
			note("mktmectl policy load --dry-run: cannot tell whether a daemon owns the policy (its lock under /run/mktme): %s; if one does, the load needs --force",
			     strerror(-oret));
		ret = parse_policy(file, &pol);
		if (!ret) {
			ret = compile_policy(file, &pol, pinned ? &p : NULL,
					     pinned ? generation_last(&p) + 1 : 1, &c);
			if (ret)
				policy_free(&pol);
		}
		pins_close(&p);
		if (ret)
			return ret;
		print_loaded(&pol, &c, true, PROGRAMS_ADOPTED, file, &g);
		compiled_free(&c);
		policy_free(&pol);
		return EXIT_OK;
	}
	ret = need_caps("loading a policy", CAPS_ATTACH);
	if (ret || (ret = state_ok()))
		return ret;
	/*
	 * The file is read and parsed once: what is loaded is what was
	 * checked. Compiled first without the pins when programs would be
	 * attached, because a bad policy must not even attach them; with
	 * this build's attached, the compile under the lock below is the
	 * check (it fails before anything changes), and a 10,000-rule
	 * policy is not compiled twice.
	 */
	ret = parse_policy(file, &pol);
	if (ret)
		return ret;
	if (!programs_current()) {
		ret = compile_policy(file, &pol, NULL, 0, &c);
		if (ret)
			goto free_policy;
		compiled_free(&c);
	}
	ret = need_bpf_lsm();
	snprintf(what, sizeof(what), "policy load --force %s", file);
	if (ret || (ret = owner_gate(what, force, &g)))
		goto free_policy;
	ret = programs_ensure(&how);
	if (ret)
		goto undo;
	ret = pins_open(&p, true);
	if (ret) {
		ret = fail(EXIT_RUNTIME, "cannot open the pinned maps under %s: %s. The policy was not loaded.",
			   cli.pin_dir, strerror(-ret));
		goto undo;
	}
	/* Under the lock: its cgroups and executables again, with the assignments. */
	ret = compile_policy(file, &pol, &p, generation_last(&p) + 1, &c);
	if (ret)
		goto out;
	if (policy_switch(&p, &c, err, sizeof(err))) {
		ret = fail(EXIT_RUNTIME, "%s. The policy in force was left as it was.", err);
	} else {
		print_loaded(&pol, &c, false, how, file, &g);
		ret = EXIT_OK;
	}
	compiled_free(&c);
out:
	pins_close(&p);
undo:
	if (ret)
		owner_gate_undo(&g);
free_policy:
	policy_free(&pol);
	return ret;
}

static int do_show(int argc, char **argv)
{
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root };
	struct pins p = PINS_INIT;
	struct compiled c;
	struct policy pol;
	int ret = opts_flags(argc, argv, NULL, 0, NULL);

	if (ret || (ret = need_caps("reading the loaded policy", NEED_SYS_ADMIN)))
		return ret;
	ret = pins_open(&p, false);
	if (ret == -ENOENT) {
		if (cli.json) {
			struct json_object *j = json_object_new_object();

			json_object_object_add(j, "loaded", json_object_new_boolean(false));
			json_object_object_add(j, "programs_attached", json_object_new_boolean(false));
			json_emit(j, stdout, cli.pretty);
		} else {
			printf("no policy loaded: the mktme programs are not attached (nothing pinned under %s)\n",
			       cli.pin_dir);
		}
		return EXIT_OK;
	}
	if (ret)
		return fail(EXIT_RUNTIME, "cannot open the pinned maps under %s: %s", cli.pin_dir,
			    strerror(-ret));
	ret = policy_current(&p, &c);
	pins_close(&p);
	if (ret == -ENOENT) {
		if (cli.json) {
			struct json_object *j = json_object_new_object();

			json_object_object_add(j, "loaded", json_object_new_boolean(false));
			json_object_object_add(j, "programs_attached", json_object_new_boolean(true));
			json_emit(j, stdout, cli.pretty);
		} else {
			printf("no policy loaded: the programs are attached and allow everything\n");
		}
		return EXIT_OK;
	}
	if (ret || (ret = policy_decompile(&c, &o, &pol))) {
		compiled_free(&c);
		return fail(EXIT_RUNTIME, "cannot read the policy in force: %s", strerror(-ret));
	}
	if (cli.json)
		json_emit(policy_to_json(&pol, &c), stdout, cli.pretty);
	else
		policy_print_text(&pol, &c, stdout);
	policy_free(&pol);
	compiled_free(&c);
	return EXIT_OK;
}

static int do_unload(int argc, char **argv)
{
	static int detach, force;
	static const struct option opts[] = {
		{ "detach", no_argument, &detach, 1 },
		{ "force", no_argument, &force, 1 },
		{ NULL, 0, NULL, 0 },
	};
	struct pins p = PINS_INIT;
	struct gate g;
	unsigned int gen;
	int ret = opts_flags(argc, argv, opts, 0, NULL);

	if (ret || (ret = need_caps("unloading the policy", CAPS_CHANGE)))
		return ret;
	ret = owner_gate(detach ? "policy unload --detach --force" : "policy unload --force", force, &g);
	if (ret)
		return ret;
	ret = pins_open(&p, true);
	if (ret == -ENOENT && !detach) {
		owner_gate_undo(&g);
		return fail(EXIT_RUNTIME, "nothing to unload: no mktme programs are pinned under %s",
			    cli.pin_dir);
	}
	if (ret && ret != -ENOENT && !detach) {
		/* Pins that cannot be used (their mode, owner, a failed open): nothing cleared. */
		owner_gate_undo(&g);
		return fail(EXIT_RUNTIME, "cannot open the pinned maps under %s: %s. The policy in force was left as it was.",
			    cli.pin_dir, strerror(-ret));
	}
	gen = ret ? 0 : generation_in_force(&p);
	if (!ret && policy_clear(&p)) {
		pins_close(&p);
		owner_gate_undo(&g);
		return fail(EXIT_RUNTIME, "cannot empty the policy slot: %s. The policy in force was left as it was.",
			    strerror(errno));
	}
	if (detach) {
		char names[N_PROGS][32], foreign[256] = "";
		unsigned int progs[N_PROGS], ours[N_PROGS], left[64];
		size_t n = 0, n_foreign = 0;

		programs_attached(names, progs, ours);
		ret = programs_remove();
		if (ret) {
			pins_close(&p);
			return fail(EXIT_RUNTIME, "cannot remove every pin under %s: %s", cli.pin_dir,
				    strerror(-ret));
		}
		/* Ours go (the kernel frees them shortly after); any other set stays. */
		if (!programs_in_kernel(left, 64, &n)) {
			for (size_t i = 0; i < n && i < 64; i++) {
				bool mine = false;
				size_t off = strlen(foreign);

				for (int k = 0; k < N_PROGS; k++)
					mine |= ours[k] == left[i];
				if (mine)
					continue;
				n_foreign++;
				snprintf(foreign + off, sizeof(foreign) - off, "%s%u", off ? ", " : "", left[i]);
			}
		}
		if (n_foreign) {
			pins_close(&p);
			return fail(EXIT_RUNTIME, "the pins under %s are removed, but %zu mktme program link(s) not pinned there are still attached (link ids %s): that set still enforces. Detach it where it is pinned, or reboot.",
				    cli.pin_dir, n_foreign, foreign);
		}
	}
	pins_close(&p);
	if (cli.json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "unloaded_generation", json_object_new_int64(gen));
		json_object_object_add(j, "detached", json_object_new_boolean(detach));
		owner_gate_said(&g, j);
		json_emit(j, stdout, cli.pretty);
		return EXIT_OK;
	} else if (detach) {
		printf("policy unloaded and programs detached; every pin under %s removed (counters too; the assignments stay in %s/%s)\n",
		       cli.pin_dir, state_dir(cli.state_dir), STATE_FILE);
	} else if (gen) {
		printf("policy unloaded (generation %u was in force); the programs stay attached and allow everything\n",
		       gen);
	} else {
		printf("no policy was in force; the programs stay attached and allow everything\n");
	}
	owner_gate_said(&g, NULL);
	return EXIT_OK;
}

const struct cmd policy_cmds[] = {
	{ "check", do_check, NULL, "[--offline] FILE",
	  "validate FILE and change nothing; --offline: without this system's cgroups and executables (their form only), e.g. on a workstation or in CI" },
	{ "load", do_load, NULL, "FILE [--dry-run] [--force]",
	  "load FILE with the assignments (attaching the programs if needed); --dry-run: say what it would be; --force: even while the daemon owns the policy (it then stands back until its file changes or SIGHUP)" },
	{ "show", do_show, NULL, "", "the policy in force" },
	{ "unload", do_unload, NULL, "[--detach] [--force]",
	  "stop enforcing; --detach: remove the programs and pins too; --force: even while the daemon owns the policy (as for load)" },
	{ NULL, NULL, NULL, NULL, NULL },
};
