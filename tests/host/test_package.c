// SPDX-License-Identifier: GPL-2.0
/*
 * Installing mktme: make install/uninstall into a DESTDIR, the systemd unit
 * (systemd-analyze verify and its offline security score), the Debian
 * package installed, upgraded, removed and purged by dpkg in a root of its
 * own (dpkg --root: this machine's dpkg database is never touched), and the
 * bash completion.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

/* /bin/sh -c on a formatted script, from the repository root. Nested makes
 * must not see the outer make's jobserver. */
static void sh(struct run_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(struct run_result *r, const char *fmt, ...)
{
	char script[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(script, sizeof(script), fmt, ap);
	va_end(ap);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	char *env[] = { "MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=", NULL };

	run_cmd(r, argv, env, (uid_t)-1);
}

#define SH_OK(r, ...)                                                                    \
	do {                                                                             \
		sh((r), __VA_ARGS__);                                                    \
		cr_assert_eq((r)->status, 0, "exit %d\nstdout: %s\nstderr: %s", (r)->status, \
			     (r)->out, (r)->err);                                        \
	} while (0)

static char tmp[64];

static void mktmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mktme-pkg-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void rmtmp(void)
{
	struct run_result r;

	if (tmp[0]) {
		sh(&r, "rm -rf '%s'", tmp);
		run_result_free(&r);
	}
}

static char *slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *slurp(const char *fmt, ...)
{
	char path[512];
	va_list ap;
	FILE *f;
	char *s;
	long n;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, n + 1);
	cr_assert_eq(fread(s, 1, n, f), (size_t)n);
	fclose(f);
	return s;
}

static mode_t mode_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static mode_t mode_of(const char *fmt, ...)
{
	char path[512];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	cr_assert_eq(stat(path, &st), 0, "%s is missing", path);
	return st.st_mode & 07777;
}

/* ---- make install / uninstall ------------------------------------------- */

TestSuite(install, .init = mktmp, .fini = rmtmp);

Test(install, destdir_prefix_layout)
{
	struct run_result r;
	char *unit, *pol, *example;

	SH_OK(&r, "make -s install DESTDIR=%s PREFIX=/usr", tmp);
	run_result_free(&r);
	cr_assert_eq(mode_of("%s/usr/sbin/mktmectl", tmp), 0755);
	cr_assert_eq(mode_of("%s/usr/share/man/man8/mktmectl.8", tmp), 0644);
	cr_assert_eq(mode_of("%s/usr/share/bash-completion/completions/mktmectl", tmp), 0644);
	cr_assert_eq(mode_of("%s/usr/lib/systemd/system/mktme.service", tmp), 0644);
	cr_assert_eq(mode_of("%s/etc/mktme/policy.yaml", tmp), 0644);
	cr_assert_eq(mode_of("%s/var/lib/mktme", tmp), 0700);
	unit = slurp("%s/usr/lib/systemd/system/mktme.service", tmp);
	cr_assert(strstr(unit, "\nExecStart=/usr/sbin/mktmectl daemon --policy /etc/mktme/policy.yaml\n"),
		  "ExecStart not substituted:\n%s", unit);
	cr_assert(!strstr(unit, "@SBINDIR@") && !strstr(unit, "@SYSCONFDIR@"),
		  "a placeholder left in the unit:\n%s", unit);
	pol = slurp("%s/etc/mktme/policy.yaml", tmp);
	example = slurp("packaging/policy.yaml");
	cr_assert_str_eq(pol, example);
	free(unit);
	free(pol);
	free(example);
	/* The installed binary is the built one and runs. */
	SH_OK(&r, "%s/usr/sbin/mktmectl policy check %s/etc/mktme/policy.yaml", tmp, tmp);
	run_result_free(&r);
}

Test(install, keeps_an_existing_policy)
{
	struct run_result r;
	char *pol;

	SH_OK(&r, "mkdir -p %s/etc/mktme && echo 'version: 1 # mine' >%s/etc/mktme/policy.yaml && "
		  "make -s install DESTDIR=%s PREFIX=/usr", tmp, tmp, tmp);
	cr_assert(strstr(r.out, "kept the existing"), "stdout: %s", r.out);
	run_result_free(&r);
	pol = slurp("%s/etc/mktme/policy.yaml", tmp);
	cr_assert_str_eq(pol, "version: 1 # mine\n", "the operator's policy was overwritten");
	free(pol);
	/* A second install over the first keeps it too. */
	SH_OK(&r, "make -s install DESTDIR=%s PREFIX=/usr", tmp);
	run_result_free(&r);
	pol = slurp("%s/etc/mktme/policy.yaml", tmp);
	cr_assert_str_eq(pol, "version: 1 # mine\n");
	free(pol);
}

Test(install, uninstall_leaves_only_an_edited_policy)
{
	struct run_result r;

	SH_OK(&r, "make -s install DESTDIR=%s && echo '# edited' >>%s/etc/mktme/policy.yaml && "
		  "make -s uninstall DESTDIR=%s", tmp, tmp, tmp);
	cr_assert(strstr(r.out, "kept"), "stdout: %s", r.out);
	run_result_free(&r);
	SH_OK(&r, "cd %s && find . -type f | sort", tmp);
	cr_assert_str_eq(r.out, "./etc/mktme/policy.yaml\n", "left behind: %s", r.out);
	run_result_free(&r);
	/* With the example as shipped, nothing is left. */
	SH_OK(&r, "rm -rf %s/* && make -s install DESTDIR=%s && make -s uninstall DESTDIR=%s && "
		  "cd %s && find . -type f", tmp, tmp, tmp, tmp);
	cr_assert_str_eq(r.out, "", "left behind: %s", r.out);
	run_result_free(&r);
}

Test(install, without_a_built_mktmectl_says_so_and_installs_nothing)
{
	struct run_result r;

	sh(&r, "make -s install DESTDIR=%s MKTMECTL=%s/none VMLINUX=%s/none", tmp, tmp, tmp);
	cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "is not built") && strstr(r.err, "Nothing was installed"),
		  "stderr: %s", r.err);
	run_result_free(&r);
	SH_OK(&r, "ls -A %s", tmp);
	cr_assert_str_eq(r.out, "", "installed anyway: %s", r.out);
	run_result_free(&r);
}

Test(install, never_runs_the_kernel_build)
{
	struct run_result r;

	/* What make would run for install: no kernel/build.sh, no `kernel` target. */
	SH_OK(&r, "make -n install DESTDIR=%s", tmp);
	cr_assert_null(strstr(r.out, "kernel/build.sh"), "make install would build the kernel:\n%s", r.out);
	cr_assert_null(strstr(r.out, "deps.sh"), "make install would install packages:\n%s", r.out);
	run_result_free(&r);
}

/* ---- the systemd unit ---------------------------------------------------- */

TestSuite(unit, .init = mktmp, .fini = rmtmp);

Test(unit, systemd_analyze_verify_passes)
{
	struct run_result r;

	/* Installed under a prefix of its own, so that ExecStart names a binary that
	 * exists and Documentation=man:mktmectl(8) a page man can find. */
	SH_OK(&r, "make -s install PREFIX=%s/usr SYSCONFDIR=%s/etc STATEDIR=%s/state", tmp, tmp, tmp);
	run_result_free(&r);
	SH_OK(&r, "MANPATH=%s/usr/share/man systemd-analyze verify %s/usr/lib/systemd/system/mktme.service",
	      tmp, tmp);
	cr_assert_str_eq(r.err, "", "systemd-analyze verify complains:\n%s", r.err);
	run_result_free(&r);
	/* Overall exposure 1.7 ("OK") when written: fail if hardening is lost. */
	SH_OK(&r, "systemd-analyze security --offline=true --threshold=17 %s/usr/lib/systemd/system/mktme.service",
	      tmp);
	run_result_free(&r);
}

Test(unit, notify_restart_and_only_the_capabilities_it_needs)
{
	char *unit = slurp("packaging/mktme.service.in");
	static const char *const want[] = {
		"\nType=notify\n", "\nNotifyAccess=main\n", "\nRestart=on-failure\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n",
		"\nCapabilityBoundingSet=CAP_SYS_ADMIN\n",
		"\nAmbientCapabilities=\n", "\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n",
		"\nReadWritePaths=/sys/fs/bpf\n", "\nStateDirectory=mktme\n",
		"\nRuntimeDirectory=mktme\n", "\nRuntimeDirectoryPreserve=yes\n",
		"\nProtectControlGroups=yes\n", "\nWantedBy=multi-user.target\n",
		"\nSystemCallFilter=@system-service bpf\n",
		"\nBefore=containerd.service",
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(strstr(unit, want[i]), "the unit lacks \"%s\"", want[i] + 1);
	free(unit);
}

/* ---- the Debian package -------------------------------------------------- */

TestSuite(deb, .init = mktmp, .fini = rmtmp);

/*
 * A dpkg root of its own in @tmp/root, whose status database holds this
 * machine's entries for the packages mktme depends on (so dependencies
 * resolve as they would here), less @drop.
 */
static void dpkg_root(const char *deb, const char *drop)
{
	struct run_result r;

	SH_OK(&r,
	      "set -e; R=%s/root; mkdir -p $R/var/lib/dpkg/info $R/var/lib/dpkg/updates; : >$R/var/lib/dpkg/available; "
	      "for p in $(dpkg-deb -f '%s' Depends | tr ',' '\\n' | sed 's/(.*//; s/ //g'); do "
	      "  [ \"$p\" = '%s' ] && continue; "
	      "  dpkg-query -s $p | sed '/^Conffiles:/,/^[^ ]/{/^Conffiles:/d; /^ /d}'; echo; "
	      "  : >$R/var/lib/dpkg/info/$p.list; : >\"$R/var/lib/dpkg/info/$p:$(dpkg --print-architecture).list\"; "
	      "done >$R/var/lib/dpkg/status",
	      tmp, deb, drop ? drop : "");
	run_result_free(&r);
}

#define DPKG "dpkg --root=%s/root --force-script-chrootless"

static char *build_deb(const char *version)
{
	struct run_result r;
	char *deb;

	SH_OK(&r, "MKTME_DEB_VERSION=%s packaging/build-deb %s/out-%s", version, tmp, version);
	deb = strndup(r.out, strcspn(r.out, "\n"));
	run_result_free(&r);
	return deb;
}

Test(deb, installs_upgrades_removes_and_purges_cleanly)
{
	struct run_result r;
	char *deb1 = build_deb("0.1"), *deb2 = build_deb("0.2"), *pol;

	SH_OK(&r, "dpkg-deb -c %s", deb1);
	static const char *const files[] = {
		"./usr/sbin/mktmectl", "./usr/share/man/man8/mktmectl.8.gz",
		"./usr/share/bash-completion/completions/mktmectl", "./lib/systemd/system/mktme.service",
		"./etc/mktme/policy.yaml", "./var/lib/mktme/", "./usr/share/doc/mktme/copyright",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		cr_assert(strstr(r.out, files[i]), "%s not in the package:\n%s", files[i], r.out);
	run_result_free(&r);
	SH_OK(&r, "dpkg-deb -f %s Depends", deb1);
	cr_assert(strstr(r.out, "libbpf1") && strstr(r.out, "libsystemd0") && strstr(r.out, "libfyaml0"),
		  "Depends: %s", r.out);
	run_result_free(&r);

	dpkg_root(deb1, NULL);
	SH_OK(&r, DPKG " -i %s", tmp, deb1);
	run_result_free(&r);
	SH_OK(&r, "dpkg --root=%s/root -s mktme | sed -n 's/^Status: //p'", tmp);
	cr_assert_str_eq(r.out, "install ok installed\n");
	run_result_free(&r);
	SH_OK(&r, "%s/root/usr/sbin/mktmectl policy check %s/root/etc/mktme/policy.yaml", tmp, tmp);
	run_result_free(&r);
	SH_OK(&r, "grep -x 'ExecStart=/usr/sbin/mktmectl daemon --policy /etc/mktme/policy.yaml' "
		  "%s/root/lib/systemd/system/mktme.service", tmp);
	run_result_free(&r);

	/* Upgrade with an edited policy: dpkg keeps it (a conffile), no prompt. */
	SH_OK(&r, "echo '# edited' >>%s/root/etc/mktme/policy.yaml && " DPKG " -i %s </dev/null",
	      tmp, tmp, deb2);
	run_result_free(&r);
	SH_OK(&r, "dpkg --root=%s/root -s mktme | sed -n 's/^Version: //p'", tmp);
	cr_assert_str_eq(r.out, "0.2\n");
	run_result_free(&r);
	pol = slurp("%s/root/etc/mktme/policy.yaml", tmp);
	cr_assert(strstr(pol, "# edited\n"), "the upgrade replaced the edited policy");
	free(pol);

	/* Remove: everything but the conffile goes. Purge: that too. */
	SH_OK(&r, DPKG " -r mktme >/dev/null && cd %s/root && find . -path ./var/lib/dpkg -prune -o -type f -print", tmp, tmp);
	cr_assert_str_eq(r.out, "./etc/mktme/policy.yaml\n", "left after dpkg -r: %s", r.out);
	run_result_free(&r);
	SH_OK(&r, "dpkg --root=%s/root -s mktme | sed -n 's/^Status: //p'", tmp);
	cr_assert_str_eq(r.out, "deinstall ok config-files\n");
	run_result_free(&r);
	SH_OK(&r, DPKG " -P mktme >/dev/null && cd %s/root && find . -path ./var/lib/dpkg -prune -o ! -type d -print",
	      tmp, tmp);
	cr_assert_str_eq(r.out, "", "left after dpkg -P: %s", r.out);
	run_result_free(&r);
	SH_OK(&r, "test ! -e %s/root/var/lib/mktme && test ! -e %s/root/etc/mktme", tmp, tmp);
	run_result_free(&r);
	/* And this machine's own database never heard of it. */
	sh(&r, "dpkg-query -W mktme");
	cr_assert_neq(r.status, 0, "mktme is in this machine's dpkg database: %s", r.out);
	run_result_free(&r);
	free(deb1);
	free(deb2);
}

Test(deb, a_missing_dependency_stops_the_install)
{
	struct run_result r;
	char *deb = build_deb("0.1");

	dpkg_root(deb, "libsystemd0");
	sh(&r, DPKG " -i %s", tmp, deb);
	cr_assert_neq(r.status, 0, "installed without libsystemd0");
	cr_assert(strstr(r.err, "libsystemd0"), "stderr: %s", r.err);
	run_result_free(&r);
	sh(&r, "dpkg --root=%s/root -s mktme | sed -n 's/^Status: //p'", tmp);
	cr_assert_neq(strcmp(r.out, "install ok installed\n"), 0);
	run_result_free(&r);
	free(deb);
}

/* ---- bash completion ----------------------------------------------------- */

/* What the completion offers for the words of @line (the last one is completed). */
static char *complete(const char *line)
{
	struct run_result r;
	char *out;

	SH_OK(&r, "MKTME_CGROUP_ROOT=%s/cg bash --norc -c '. packaging/mktmectl.bash-completion; "
		  "COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
		  "[ \"${COMP_WORDS[COMP_CWORD]}\" = . ] && COMP_WORDS[COMP_CWORD]=; "
		  "_mktmectl; printf \"%%s\\n\" \"${COMPREPLY[@]}\" | sort'", tmp, line);
	out = strdup(r.out);
	run_result_free(&r);
	return out;
}

TestSuite(completion, .init = mktmp, .fini = rmtmp);

Test(completion, commands_subcommands_options_and_cgroups)
{
	struct run_result r;
	char *s;

	s = complete("mktmectl .");
	cr_assert(strstr(s, "policy\n") && strstr(s, "daemon\n") && strstr(s, "--json\n"), "%s", s);
	free(s);
	s = complete("mktmectl po");
	cr_assert_str_eq(s, "policy\n");
	free(s);
	s = complete("mktmectl -j policy .");
	cr_assert_str_eq(s, "check\nload\nshow\nunload\n");
	free(s);
	s = complete("mktmectl key add k --type .");
	cr_assert_str_eq(s, "clear\ncpu\nno-encrypt\nuser\n");
	free(s);
	s = complete("mktmectl daemon --p");
	cr_assert_str_eq(s, "--policy\n");
	free(s);
	s = complete("mktmectl policy check --of");
	cr_assert_str_eq(s, "--offline\n");
	free(s);
	s = complete("mktmectl --v");
	cr_assert_str_eq(s, "--version\n");
	free(s);
	s = complete("mktmectl --state-dir /nonexistent-mktme v");
	cr_assert_str_eq(s, "version\n");
	free(s);
	s = complete("mktmectl policy check packaging/mktme.serv");
	cr_assert_str_eq(s, "packaging/mktme.service.in\n");
	free(s);
	/* Cgroups as the policy names them: from the cgroup2 mount's root. */
	SH_OK(&r, "mkdir -p %s/cg/tenants/a %s/cg/tenants/b", tmp, tmp);
	run_result_free(&r);
	s = complete("mktmectl assign /tenants/");
	cr_assert_str_eq(s, "/tenants/a/\n/tenants/b/\n");
	free(s);
	SH_OK(&r, "bash --norc -c '. packaging/mktmectl.bash-completion; complete -p mktmectl'");
	cr_assert_str_eq(r.out, "complete -F _mktmectl mktmectl\n");
	run_result_free(&r);
}
