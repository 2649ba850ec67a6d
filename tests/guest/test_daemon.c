// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl daemon as it is deployed, in the guest, as root:
 *
 *  - under the systemd unit (packaging/mktme.service.in): its ExecStart
 *    line, with the unit's capability bounding set, NoNewPrivileges and
 *    UMask (setpriv), a clean environment, a NOTIFY_SOCKET of ours and
 *    JOURNAL_STREAM naming its stderr. READY=1 must come only once the policy
 *    is loaded and enforced; the log lines carry journald priorities; the
 *    daemon fails with every capability but CAP_SYS_ADMIN. The guest has
 *    no systemd as PID 1: the unit's namespace sandboxing (ProtectSystem=...)
 *    is not exercised here (tests/host/test_package checks the unit).
 *  - every system call the daemon makes is in the unit's SystemCallFilter=.
 *  - under Kubernetes: the policy is a ConfigMap file that the kubelet
 *    updates by swapping a "..data" symlink; the new policy must be in force
 *    within 2 s of the swap.
 *  - a file the daemon rejected must stay rejected when it re-resolves
 *    cgroups (it used to re-read the file there, and loaded it with its
 *    missing cgroups pending).
 *
 * Every test ends with nothing pinned (policy unload --detach).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "guest.h"
#include "../../bpf/mktme_policy.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG "/mktme-d"
#define ETC "/tmp/mktme-etc"
#define NOTIFY "/tmp/mktme-notify.sock"
#define CM "/tmp/mktme-configmap"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static pid_t daemon_pid;

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
}

static void cleanup(void)
{
	stop_daemon();
	guest_sh(NULL, "%s policy unload --detach >/dev/null 2>&1; rm -rf " ETC " " CM " " NOTIFY " /tmp/mktme-strace* /tmp/mktme-own* /tmp/mktme-same*", guest_ctl());
	rmdir(CG_ROOT CG "/late");
	rmdir(CG_ROOT CG);
}

static void setup(void)
{
	cleanup();
	cr_assert(mkdir(CG_ROOT CG, 0755) == 0, "mkdir %s: %s", CG_ROOT CG, strerror(errno));
}

TestSuite(daemon, .init = setup, .fini = cleanup);

/* Count of @what in @log. */
static int count_in_log(const char *log, const char *what)
{
	char *s = guest_read_file(log, NULL), *p = s;
	int n = 0;

	while (p && (p = strstr(p, what)) != NULL) {
		n++;
		p += strlen(what);
	}
	free(s);
	return n;
}

/* Wait (up to @secs: the first load runs the verifier under TCG) for @n times @what in @log. */
static bool wait_log_n(const char *log, const char *what, int n, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		if (count_in_log(log, what) >= n)
			return true;
		if (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
			daemon_pid = 0;
			break;
		}
		usleep(100 * 1000);
	}
	char *s = guest_read_file(log, NULL);

	fprintf(stderr, "--- %s (\"%s\" not %d times)\n%s---\n", log, what, n, s ? s : "");
	free(s);
	return false;
}

/* `mktmectl status`'s policy line: "policy:    generation N, mode M, ..." */
static char *status_policy(void)
{
	char *out, *line, *copy;

	guest_sh(&out, "%s status 2>/dev/null", guest_ctl());
	line = strstr(out, "policy:");
	copy = strndup(line ? line : "", line ? strcspn(line, "\n") : 0);
	free(out);
	return copy;
}

/* ---- the systemd unit --------------------------------------------------- */

/* The value of the unit's KEY= line (the first one), from packaging/mktme.service.in. */
static char *unit_value(const char *key)
{
	char *unit = guest_read_file(guest_src_path("packaging/mktme.service.in"), NULL), *p, *v;
	char want[64];

	cr_assert_not_null(unit, "cannot read %s", guest_src_path("packaging/mktme.service.in"));
	snprintf(want, sizeof(want), "\n%s=", key);
	p = strstr(unit, want);
	cr_assert_not_null(p, "the unit has no %s=", key);
	p += strlen(want);
	v = strndup(p, strcspn(p, "\n"));
	free(unit);
	return v;
}

/* "a b c" with each word replaced: @from by @to (one substitution per word). */
static char *subst(const char *s, const char *from, const char *to)
{
	const char *hit = strstr(s, from);
	char *r;

	if (!hit)
		return strdup(s);
	r = malloc(strlen(s) + strlen(to) + 1);
	sprintf(r, "%.*s%s%s", (int)(hit - s), s, to, hit + strlen(from));
	return r;
}

/* The unit's CapabilityBoundingSet= as setpriv says it: CAP_SYS_ADMIN -> -all,+sys_admin. */
static void unit_bounding_set(char *bset, size_t len)
{
	char *caps = unit_value("CapabilityBoundingSet");
	size_t n;

	snprintf(bset, len, "-all");
	n = strlen(bset);
	for (const char *c = caps; *c; ) {
		cr_assert(!strncmp(c, "CAP_", 4), "not a capability: %s", c);
		bset[n++] = ',';
		bset[n++] = '+';
		for (c += 4; *c && *c != ' ' && n < len - 1; c++)
			bset[n++] = (char)tolower((unsigned char)*c);
		bset[n] = '\0';
		while (*c == ' ')
			c++;
	}
	free(caps);
}

/*
 * The unit's ExecStart, installed with SBINDIR = the build's mktmectl
 * directory and SYSCONFDIR = ETC, run the way systemd would: capability
 * bounding set @bset (setpriv's syntax), NoNewPrivileges, UMask, a clean
 * environment with NOTIFY_SOCKET and JOURNAL_STREAM (our log file, stderr).
 * Returns the pid.
 */
static pid_t start_unit(const char *bset, const char *log)
{
	char *exec = unit_value("ExecStart"), *a, *b, *umask_s = unit_value("UMask");
	char sbindir[4096], journal[64], cmd[8192];
	struct stat st;
	pid_t pid;
	int fd;

	a = unit_value("NoNewPrivileges");
	cr_assert_str_eq(a, "yes", "the unit has NoNewPrivileges=%s; this runner always sets it", a);
	free(a);
	snprintf(sbindir, sizeof(sbindir), "%s", guest_ctl());
	*strrchr(sbindir, '/') = '\0';
	a = subst(exec, "@SBINDIR@", sbindir);
	b = subst(a, "@SYSCONFDIR@", ETC);
	free(a);
	free(exec);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	snprintf(journal, sizeof(journal), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	snprintf(cmd, sizeof(cmd), "umask %s && exec setpriv --bounding-set=%s --inh-caps=-all --no-new-privs -- %s",
		 umask_s, bset, b);
	fprintf(stderr, "unit: %s\n", cmd);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char notify[] = "NOTIFY_SOCKET=" NOTIFY, jenv[96];
		char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"LANG=C.UTF-8", notify, jenv, NULL };

		snprintf(jenv, sizeof(jenv), "JOURNAL_STREAM=%s", journal);
		dup2(fd, 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, env);
		_exit(127);
	}
	close(fd);
	free(b);
	free(umask_s);
	daemon_pid = pid;
	return pid;
}

/* The notification socket, as systemd has it: datagrams, credentials on. */
static int notify_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = NOTIFY };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	cr_assert_geq(fd, 0);
	unlink(NOTIFY);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	return fd;
}

/*
 * Read notifications until one has "READY=1" or @secs pass, or the daemon
 * exits. What came, concatenated, in @all (freed by the caller). true if ready.
 */
static bool wait_ready(int fd, int secs, char **all)
{
	double end = now_s() + secs;
	size_t len = 0;

	*all = calloc(1, 1);
	while (now_s() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		char buf[4096];
		ssize_t n;

		if (poll(&p, 1, 200) == 1 && (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			*all = realloc(*all, len + n + 2);
			memcpy(*all + len, buf, n);
			len += n;
			(*all)[len++] = '\n';
			(*all)[len] = '\0';
			if (strstr(buf, "READY=1"))
				return true;
		}
		if (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
			daemon_pid = 0;
			return false;
		}
	}
	return false;
}

/* mode enforce, default deny, no rules: creating any mktme key is refused. */
#define DENY_ALL "version: 1\nmode: enforce\ndefault: deny\n"

/* Runs the unit with bounding set @bset: must fail, and send no READY=1. */
static void unit_fails_without(const char *bset, const char *missing)
{
	char log[128], *got;
	int fd = notify_socket();

	snprintf(log, sizeof(log), "/tmp/mktme-unit-no-%s.log", missing);
	start_unit(bset, log);
	cr_assert_not(wait_ready(fd, 180, &got), "READY=1 without %s:\n%s", missing, got);
	/* wait_ready saw it exit (or timed out: then it is still running, a failure). */
	cr_assert_eq(daemon_pid, 0, "the daemon runs without %s", missing);
	free(got);
	close(fd);
	got = guest_read_file(log, NULL);
	cr_assert(got && strcasestr(got, "nothing was changed"),
		  "without %s, no error saying nothing changed:\n%s", missing, got);
	free(got);
}

Test(daemon, unit_execstart_ready_only_when_enforced, .timeout = GUEST_TIMEOUT(900))
{
	const char *log = "/tmp/mktme-unit.log";
	char bset[256], *got, *pol, *s;
	key_serial_t k;
	int fd, st;

	unit_bounding_set(bset, sizeof(bset));
	cr_assert_eq(mkdir(ETC, 0755), 0);
	cr_assert_eq(mkdir(ETC "/mktme", 0755), 0);
	write_file(ETC "/mktme/policy.yaml", DENY_ALL);

	/* Nothing attached: this start loads the programs with the unit's capabilities. */
	fd = notify_socket();
	start_unit(bset, log);
	cr_assert(wait_ready(fd, 300, &got), "no READY=1 (notifications: %s)", got);
	/* READY=1 only now: the policy must already be in force. */
	pol = status_policy();
	cr_assert(strstr(pol, "mode enforce") && strstr(pol, "default deny"),
		  "READY=1 but the policy in force is: \"%s\"", pol);
	free(pol);
	k = add_key(MKTME_KEY_TYPE, "mktme-unit-k", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		    KEY_SPEC_PROCESS_KEYRING);
	cr_assert_eq(k, -1, "a key was created under default deny");
	cr_assert_eq(errno, EPERM, "add_key: %s, wanted EPERM", strerror(errno));
	cr_assert(strstr(got, "STATUS=generation 1 in force"), "notifications: %s", got);
	free(got);
	/* stderr is the journal's stream: lines carry priorities. */
	s = guest_read_file(log, NULL);
	cr_assert(strstr(s, "<5>mktmectl daemon: start: loaded " ETC "/mktme/policy.yaml as generation 1"),
		  "no <5> (notice) line for the load:\n%s", s);
	cr_assert(strstr(s, "<6>mktmectl daemon: ready: watching"), "no <6> (info) ready line:\n%s", s);
	free(s);

	/* A bad edit: refused at error priority, the generation stays. */
	write_file(ETC "/mktme/policy.yaml", "version: 1\nmode: sometimes\n");
	cr_assert(wait_log_n(log, "<3>mktmectl daemon: file changed: " ETC "/mktme/policy.yaml is not valid", 1, 60));
	pol = status_policy();
	cr_assert(strstr(pol, "generation 1,") && strstr(pol, "mode enforce"), "after a bad edit: %s", pol);
	free(pol);

	/* systemctl stop: SIGTERM, exit 0, STOPPING=1, everything stays pinned. */
	kill(daemon_pid, SIGTERM);
	cr_assert_eq(waitpid(daemon_pid, &st, 0), daemon_pid);
	daemon_pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM: status %d", st);
	cr_assert_not(wait_ready(fd, 2, &got));
	cr_assert(strstr(got, "STOPPING=1"), "notifications after SIGTERM: %s", got);
	free(got);
	close(fd);
	pol = status_policy();
	cr_assert(strstr(pol, "mode enforce"), "after stop: %s", pol);
	free(pol);

	/* Every capability but CAP_SYS_ADMIN is not enough (BPF_*_GET_FD_BY_ID). */
	unit_fails_without("-sys_admin", "CAP_SYS_ADMIN");
}

/*
 * Every system call the daemon makes, through a start, a reload on change, a
 * refresh that loads (a cgroup appears), audit streaming, SIGHUP and SIGTERM,
 * recorded with strace, must be in the unit's SystemCallFilter= (its groups
 * expanded by systemd-analyze syscall-filter, recursively).
 */
Test(daemon, unit_system_calls_are_in_its_filter, .timeout = GUEST_TIMEOUT(900))
{
	const char *log = "/tmp/mktme-strace-daemon.log", *trace = "/tmp/mktme-strace";
	const char *file = "/tmp/mktme-strace.yaml";
	char *filter = unit_value("SystemCallFilter"), *missing, *used, *kids;
	key_serial_t k;
	pid_t pid, child;
	int st;

	write_file(file, "version: 1\nmode: audit\ndefault: deny\nrules:\n"
			 "  - {cgroup: " CG "/late, may_appear_later: true, keys: [k], verdict: allow}\n");
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		execlp("strace", "strace", "-f", "-qq", "-o", trace, guest_ctl(), "daemon", "--policy", file,
		       (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	cr_assert(wait_log_n(log, "ready: watching", 1, 600), "daemon did not start under strace");
	write_file(file, "version: 1\nmode: audit\ndefault: allow\nrules:\n"
			 "  - {cgroup: " CG "/late, may_appear_later: true, keys: [k], verdict: allow}\n");
	cr_assert(wait_log_n(log, "file changed: loaded", 1, 120));
	cr_assert_eq(mkdir(CG_ROOT CG "/late", 0755), 0);
	cr_assert(wait_log_n(log, "cgroups changed: loaded", 1, 120));
	k = add_key(MKTME_KEY_TYPE, "mktme-strace-k", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		    KEY_SPEC_PROCESS_KEYRING);
	cr_assert_gt(k, 0, "audit mode, default allow: add_key: %s", strerror(errno));
	keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING);
	/* Signals go to the daemon, not to strace: its pid starts each line of the trace. */
	kids = guest_read_file(trace, NULL);
	cr_assert(kids && atoi(kids) > 0, "no pid in %s", trace);
	child = atoi(kids);
	free(kids);
	kill(child, SIGHUP);
	cr_assert(wait_log_n(log, "SIGHUP: loaded", 1, 120));
	kill(child, SIGTERM);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	daemon_pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon under strace: status %d", st);

	/* strace's own execve of the daemon aside, every call after it. */
	cr_assert_eq(guest_sh(&used, "sed -n 's/^[0-9]* *\\(<\\.\\.\\. \\)\\{0,1\\}\\([a-z0-9_]*\\)[( ].*/\\2/p' %s | sort -u | tr '\\n' ' '",
			trace), 0);
	fprintf(stderr, "daemon system calls: %s\n", used);
	cr_assert(strstr(used, "bpf ") && strstr(used, "inotify_add_watch "), "strace saw too little: %s", used);
	cr_assert_eq(guest_sh(&missing,
			"expand() { for t in \"$@\"; do case $t in @*) expand $(systemd-analyze syscall-filter --no-pager \"$t\" | "
			"sed -n '2,$ { /^ *#/d; s/^ *//p; }');; *) echo \"$t\";; esac; done; }; "
			"expand %s | sort -u >%s.allowed; for c in %s; do grep -qx \"$c\" %s.allowed || printf '%%s ' \"$c\"; done",
			filter, trace, used, trace), 0);
	cr_assert_str_eq(missing, "", "system calls the daemon makes outside SystemCallFilter=%s: %s", filter, missing);
	free(used);
	free(missing);
	free(filter);
}

/* ---- Kubernetes: a ConfigMap volume ------------------------------------- */

#define AUDIT_POLICY "version: 1\nmode: audit\ndefault: deny\n"
#define ENFORCE_POLICY "version: 1\nmode: enforce\ndefault: allow\n"

/* The kubelet's atomic writer (pkg/volume/util/atomic_writer.go): a new
 * timestamped directory, a ..data_tmp symlink to it renamed over ..data, the
 * old directory removed. Returns the time of the rename. */
static double kubelet_update(const char *old, const char *new, const char *text)
{
	char path[256];
	double t;

	snprintf(path, sizeof(path), CM "/%s", new);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), CM "/%s/policy.yaml", new);
	write_file(path, text);
	cr_assert_eq(symlink(new, CM "/..data_tmp"), 0);
	cr_assert_eq(rename(CM "/..data_tmp", CM "/..data"), 0);
	t = now_s();
	if (old)
		cr_assert_eq(guest_sh(NULL, "rm -rf " CM "/%s", old), 0);
	return t;
}

/*
 * The mode of the generation in force, read the way the programs read it:
 * the mktme_policy slot, then that generation's metadata. -1 if none. A
 * few system calls, where `mktmectl status` takes a second or more under
 * TCG: the 2 s are measured with this, and status is asked afterwards.
 */
static int mode_in_force(void)
{
	struct mktme_pol_meta m;

	return guest_meta_in_force(&m) ? -1 : m.mode;
}

/*
 * Poll the generation in force (up to 10 s) until its mode is @mode (and
 * then `mktmectl status` must say @want): seconds since @t0, or -1.
 */
static double in_force_after(double t0, int mode, const char *want)
{
	while (now_s() - t0 < 10 * guest_timeout_factor()) {
		if (mode_in_force() == mode) {
			double took = now_s() - t0;
			char *pol = status_policy();

			cr_assert(strstr(pol, want), "in force after %.2f s, but status says \"%s\"", took, pol);
			free(pol);
			fprintf(stderr, "configmap: in force %.3f s after the swap\n", took);
			return took;
		}
		usleep(5 * 1000);
	}
	return -1;
}

static pid_t start_daemon(const char *policy, const char *log)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		unsetenv("JOURNAL_STREAM");
		unsetenv("NOTIFY_SOCKET");
		execl(guest_ctl(), "mktmectl", "daemon", "--policy", policy, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	return pid;
}

Test(daemon, configmap_symlink_swap_in_force_within_2s, .timeout = GUEST_TIMEOUT(600))
{
	const char *log = "/tmp/mktme-cm.log";
	const char *d1 = "..2026_12_02_10_00_00.000000001", *d2 = "..2026_12_02_10_01_00.000000002",
		   *d3 = "..2026_12_02_10_02_00.000000003";
	double t, took, limit;
	char *s;

	cr_assert_eq(mkdir(CM, 0755), 0);
	kubelet_update(NULL, d1, AUDIT_POLICY);
	cr_assert_eq(symlink("..data/policy.yaml", CM "/policy.yaml"), 0);
	start_daemon(CM "/policy.yaml", log);
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");
	s = status_policy();
	cr_assert(strstr(s, "mode audit"), "%s", s);
	free(s);

	/*
	 * The bound is issue 7's 2 s, times the factor by which the debug
	 * kernel is slower (KASAN, lockdep: a load there takes seconds).
	 */
	limit = 2.0 * guest_timeout_factor();
	t = kubelet_update(d1, d2, ENFORCE_POLICY);
	took = in_force_after(t, MKTME_MODE_ENFORCE, "mode enforce");
	cr_assert(took >= 0, "the ConfigMap update was not in force %d s after the swap",
		  10 * guest_timeout_factor());
	cr_assert(took <= limit, "the ConfigMap update took %.2f s to be in force (at most %.0f s)",
		  took, limit);
	cr_assert(wait_log_n(log, "file changed: loaded " CM "/policy.yaml", 1, 10),
		  "the update was not seen as a change of the file");

	/* The next update, after the directory the file resolved to is gone. */
	t = kubelet_update(d2, d3, AUDIT_POLICY);
	took = in_force_after(t, MKTME_MODE_AUDIT, "mode audit");
	cr_assert(took >= 0 && took <= limit, "second update: %.2f s (at most %.0f s; -1: never)",
		  took, limit);
	/* Not under systemd: no priority prefixes. */
	cr_assert_eq(count_in_log(log, "<6>"), 0, "journald prefixes without JOURNAL_STREAM");
}

/* ---- a rejected file stays rejected ------------------------------------- */

Test(daemon, a_rejected_file_stays_rejected_when_cgroups_change, .timeout = GUEST_TIMEOUT(600))
{
	const char *log = "/tmp/mktme-rej.log", *file = "/tmp/mktme-rej.yaml";
	char *s;

	write_file(file, "version: 1\nmode: audit\ndefault: allow\nrules:\n"
			 "  - {cgroup: " CG "/late, may_appear_later: true, keys: [k], verdict: allow}\n");
	start_daemon(file, log);
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");
	cr_assert(wait_log_n(log, "1 pending)", 1, 10));

	/* An edit naming a cgroup that does not exist, without may_appear_later: refused.
	 * Its other rule makes its entries differ from those in force. */
	write_file(file, "version: 1\nmode: enforce\ndefault: deny\nrules:\n"
			 "  - {cgroup: " CG ", keys: [k2], verdict: deny}\n"
			 "  - {cgroup: " CG "/missing, keys: [k], verdict: allow}\n");
	cr_assert(wait_log_n(log, "file changed: " "/tmp/mktme-rej.yaml is not valid", 1, 30));
	/* The cgroup the policy in force waits for appears: the daemon re-resolves... */
	cr_assert_eq(mkdir(CG_ROOT CG "/late", 0755), 0);
	cr_assert(wait_log_n(log, "cgroups changed: loaded", 1, 30), "the new cgroup was not seen");
	/* ...the policy in force, not the refused file. */
	s = status_policy();
	cr_assert(strstr(s, "mode audit") && strstr(s, "default allow"), "the refused file got loaded: %s", s);
	free(s);
	cr_assert_eq(count_in_log(log, "mode enforce"), 0, "the refused file was loaded:\n%s",
		     guest_read_file(log, NULL));
	cr_assert(wait_log_n(log, "0 pending)", 1, 10));
}

/* ---- who owns the policy ------------------------------------------------ */

/* A directory of its own: nothing else there makes the daemon read the file. */
#define OWN_DIR "/tmp/mktme-own.d"
#define OWN_FILE OWN_DIR "/policy.yaml"
#define OWN_FORCED "/tmp/mktme-own-forced.yaml"

/*
 * Wait (up to 60 s) until the daemon has read @file @n more times: each
 * 2 s refresh reads it once (IN_CLOSE_NOWRITE on the file itself), so this
 * is "n refreshes have run", without guessing at their timing.
 */
static void wait_refreshes(const char *file, int n)
{
	int fd = inotify_init1(IN_CLOEXEC), seen = 0;
	double end = now_s() + 60;

	cr_assert_geq(fd, 0);
	cr_assert_geq(inotify_add_watch(fd, file, IN_CLOSE_NOWRITE), 0, "%s: %s", file, strerror(errno));
	while (seen < n && now_s() < end) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t len;

		if (poll(&p, 1, 500) != 1)
			continue;
		len = read(fd, buf, sizeof(buf));
		for (char *q = buf; len > 0 && q < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)q;

			seen += !!(ev->mask & IN_CLOSE_NOWRITE);
			q += sizeof(*ev) + ev->len;
		}
	}
	close(fd);
	cr_assert_geq(seen, n, "the daemon read %s %d times in 60 s, not %d: no refresh", file, seen, n);
}

/* The daemon under strace, with the fault @inject in the system calls @calls. */
static pid_t start_daemon_faulty(const char *policy, const char *log, const char *calls,
				 const char *inject)
{
	char trace[64], fault[128];

	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		snprintf(trace, sizeof(trace), "trace=%s", calls);
		snprintf(fault, sizeof(fault), "inject=%s:%s", calls, inject);
		execlp("strace", "strace", "-f", "-qq", "-o", "/dev/null", "-e", trace, "-e", fault,
		       guest_ctl(), "daemon", "--policy", policy, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	return pid;
}

/* The daemon's exit status, waited for up to @secs (then it is killed: -1). */
static int daemon_exit(int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		int st;

		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(100 * 1000);
	}
	stop_daemon();
	return -1;
}

/*
 * The daemon owns the policy while it runs: the command line's load and
 * unload are refused naming it (text and -j), a second daemon too; with
 * --force they are done and the daemon stands back, saying so once, for as
 * many refreshes as it takes, until SIGHUP or its file changes; then it
 * takes the policy back, attaching the programs again after a --detach. It
 * used to put its file back at the next refresh (and after a --detach,
 * log an error every 2 s). A cgroup that does not exist is named, not
 * silently pending.
 */
Test(daemon, owns_the_policy_and_stands_back_only_when_forced, .timeout = GUEST_TIMEOUT(900))
{
	const char *log = "/tmp/mktme-own.log";
	char *out, *tag, want[256];
	int rc;

	cr_assert_eq(mkdir(OWN_DIR, 0755), 0);
	write_file(OWN_FILE, "version: 1\nmode: audit\ndefault: allow\nrules:\n"
			     "  - {cgroup: " CG "/lat, may_appear_later: true, keys: [k], verdict: allow}\n");
	write_file(OWN_FORCED, "version: 1\nmode: enforce\ndefault: allow\n");
	start_daemon(OWN_FILE, log);
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");
	/* A cgroup that is not there (a typo of /late?) is named with its line. */
	cr_assert(wait_log_n(log, "do not exist (yet): " CG "/lat (" OWN_FILE ":5)", 1, 10));
	cr_assert_eq(mode_in_force(), MKTME_MODE_AUDIT);

	/* A second daemon would undo the first one's loads: refused, naming it. */
	rc = guest_sh(&out, "%s daemon --policy %s 2>&1", guest_ctl(), OWN_FORCED);
	snprintf(want, sizeof(want), "another daemon owns the policy under %s: pid %d (", MKTME_PIN_DIR,
		 daemon_pid);
	cr_assert(rc == 1 && strstr(out, want) && strstr(out, "Nothing was changed"),
		  "second daemon: exit %d:\n%s", rc, out);
	free(out);

	/* policy load and unload by hand: refused, naming the daemon and the way out. */
	rc = guest_sh(&out, "%s policy load %s 2>&1", guest_ctl(), OWN_FORCED);
	snprintf(want, sizeof(want), "the policy is the daemon's: mktmectl daemon pid %d (", daemon_pid);
	cr_assert(rc == 1 && strstr(out, want) && strstr(out, "--force") &&
		  strstr(out, "Nothing was changed"), "policy load: exit %d:\n%s", rc, out);
	free(out);
	/* A dry run checks the file and says the load would need --force. */
	rc = guest_sh(&out, "%s policy load --dry-run %s 2>&1", guest_ctl(), OWN_FORCED);
	cr_assert(rc == 0 && strstr(out, " is valid: ") && strstr(out, want) &&
		  strstr(out, "the load itself needs --force"), "policy load --dry-run: exit %d:\n%s", rc, out);
	free(out);
	rc = guest_sh(&out, "%s -j policy load --dry-run %s 2>/dev/null", guest_ctl(), OWN_FORCED);
	snprintf(want, sizeof(want), "\"daemon_pid\":%d", daemon_pid);
	cr_assert(rc == 0 && strstr(out, want) && strstr(out, "\"load_needs_force\":true") &&
		  strstr(out, "\"dry_run\":true"), "-j policy load --dry-run: exit %d:\n%s", rc, out);
	free(out);
	rc = guest_sh(&out, "%s -j policy unload 2>/dev/null", guest_ctl());
	snprintf(want, sizeof(want), "\"daemon_pid\":%d", daemon_pid);
	cr_assert(rc == 1 && strstr(out, want) && strstr(out, "\"exit_code\":1") &&
		  strstr(out, "\"nothing_changed\":true") && strstr(out, "\"daemon_policy\":\"" OWN_FILE "\""),
		  "-j policy unload: exit %d:\n%s", rc, out);
	free(out);
	cr_assert_eq(mode_in_force(), MKTME_MODE_AUDIT, "a refused command changed the policy");

	/* status: who owns the policy, and which build enforces (the tag bpftool sees too). */
	cr_assert_eq(guest_sh(&tag, "bpftool prog show name mktme_create | sed -n 's/.* tag \\([0-9a-f]*\\).*/\\1/p' | tr -d '\\n'"), 0);
	cr_assert_eq(strlen(tag), 16, "bpftool's tag: \"%s\"", tag);
	guest_sh(&out, "%s status 2>&1", guest_ctl());
	snprintf(want, sizeof(want), "daemon:    pid %d (", daemon_pid);
	cr_assert(strstr(out, want) && strstr(out, "keeps " OWN_FILE " in force"), "status:\n%s", out);
	cr_assert(strstr(out, "mktmectl:  ") && strstr(out, tag), "status has no tag %s:\n%s", tag, out);
	free(out);
	guest_sh(&out, "%s -j status 2>/dev/null", guest_ctl());
	snprintf(want, sizeof(want), "\"tag\":\"%s\"", tag);
	cr_assert(strstr(out, want) && strstr(out, "\"version\":\""), "-j status:\n%s", out);
	snprintf(want, sizeof(want), "\"daemon_pid\":%d", daemon_pid);
	cr_assert(strstr(out, want) && strstr(out, "\"daemon_overridden_by\":null"), "-j status:\n%s", out);
	free(out);
	free(tag);

	/* --force: done, and the daemon leaves it alone, saying so once. */
	rc = guest_sh(&out, "%s policy load --force %s 2>&1", guest_ctl(), OWN_FORCED);
	cr_assert(rc == 0 && strstr(out, "the daemon (pid ") && strstr(out, "stands back"),
		  "policy load --force: exit %d:\n%s", rc, out);
	free(out);
	cr_assert(wait_log_n(log, "the policy was changed outside the daemon: `mktmectl policy load --force " OWN_FORCED "`", 1, 30));
	wait_refreshes(OWN_FILE, 3);
	cr_assert_eq(mode_in_force(), MKTME_MODE_ENFORCE, "the daemon put its file back after --force");
	cr_assert_eq(count_in_log(log, "changed outside the daemon"), 1, "not said once:\n%s",
		     guest_read_file(log, NULL));
	guest_sh(&out, "%s status 2>&1", guest_ctl());
	cr_assert(strstr(out, "STANDS BACK: overridden by `mktmectl policy load --force " OWN_FORCED "`"),
		  "status while overridden:\n%s", out);
	free(out);

	/* SIGHUP: the daemon takes the policy back. */
	kill(daemon_pid, SIGHUP);
	cr_assert(wait_log_n(log, "taking the policy back", 1, 30));
	cr_assert(wait_log_n(log, "SIGHUP: loaded " OWN_FILE, 1, 30));
	cr_assert_eq(mode_in_force(), MKTME_MODE_AUDIT);

	/* Forced away entirely: the daemon stands back without an error per refresh... */
	rc = guest_sh(&out, "%s -j policy unload --detach --force 2>&1", guest_ctl());
	cr_assert(rc == 0 && strstr(out, "\"detached\":true") && strstr(out, "\"daemon_overridden\":true"),
		  "unload --detach --force: exit %d:\n%s", rc, out);
	free(out);
	cr_assert(wait_log_n(log, "changed outside the daemon: `mktmectl policy unload --detach --force`", 1, 30));
	wait_refreshes(OWN_FILE, 3);
	cr_assert_eq(mode_in_force(), -1, "the daemon attached again while overridden");
	cr_assert_eq(count_in_log(log, "cannot"), 0, "errors while standing back:\n%s",
		     guest_read_file(log, NULL));
	/* ...until its file changes: then it attaches the programs again and loads it. */
	write_file(OWN_FILE, "version: 1\nmode: audit\ndefault: deny\n");
	cr_assert(wait_log_n(log, "the programs were detached: attached and pinned them again", 1, 300));
	cr_assert(wait_log_n(log, "file changed: loaded " OWN_FILE, 1, 60));
	out = status_policy();
	cr_assert(strstr(out, "mode audit") && strstr(out, "default deny"), "after the re-attach: %s", out);
	free(out);
	cr_assert(wait_log_n(log, "every cgroup of the policy exists now", 1, 10));

	/* A failing poll: exit 1 (systemd restarts it), not a daemon deaf to everything. */
	stop_daemon();
	start_daemon_faulty(OWN_FILE, log, "poll,ppoll", "error=ENOMEM");
	rc = daemon_exit(300);
	out = guest_read_file(log, NULL);
	cr_assert(rc == 1 && strstr(out, "poll: Cannot allocate memory; exiting"),
		  "poll failing: exit %d:\n%s", rc, out);
	free(out);
	/* A failing signalfd (SIGTERM would go unseen): exit 1, before anything. */
	start_daemon_faulty(OWN_FILE, log, "signalfd4", "error=EMFILE");
	rc = daemon_exit(120);
	out = guest_read_file(log, NULL);
	cr_assert(rc == 1 && strstr(out, "signalfd: Too many open files; nothing was changed"),
		  "signalfd failing: exit %d:\n%s", rc, out);
	free(out);
	cr_assert_eq(mode_in_force(), MKTME_MODE_AUDIT, "the failed starts changed the policy");
}

/* ---- a refresh that finds nothing new ------------------------------------ */

#define SAME_DIR "/tmp/mktme-same.d"
#define SAME_FILE SAME_DIR "/policy.yaml"
/* Limits too: their entries' padding once made equal limits differ. */
#define SAME_LIMITS "limits:\n  - {cgroup: " CG ", max_live_keys: 3, denial_records_per_second: 7}\n"

/*
 * The 2 s refresh compiles the file again and compares it with the
 * generation in force. That comparison counted the slot the generation sits
 * in (which a fresh compile does not have until it is switched to), so
 * every generation in slot 1 was loaded again as the next one in slot 0, a
 * "cgroups changed" reload with nothing changed; and it compared the limits'
 * entries with their padding, so a policy with limits was loaded again at
 * almost every refresh.
 */
Test(daemon, a_refresh_does_not_reload_what_is_in_force, .timeout = GUEST_TIMEOUT(600))
{
	const char *log = "/tmp/mktme-same.log";
	struct mktme_pol_meta m;

	cr_assert_eq(mkdir(SAME_DIR, 0755), 0);
	write_file(SAME_FILE, AUDIT_POLICY SAME_LIMITS);
	start_daemon(SAME_FILE, log);
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");
	write_file(SAME_FILE, ENFORCE_POLICY SAME_LIMITS);
	cr_assert(wait_log_n(log, "file changed: loaded " SAME_FILE " as generation 2", 1, 30));
	cr_assert_eq(guest_meta_in_force(&m), 0);
	cr_assert_eq(m.generation, 2);
	cr_assert_eq(m.slot, 1, "the second generation is in slot %u, not 1", m.slot);

	wait_refreshes(SAME_FILE, 3);
	cr_assert_eq(count_in_log(log, "cgroups changed: loaded"), 0,
		     "a refresh loaded the policy in force again:\n%s", guest_read_file(log, NULL));
	cr_assert_eq(guest_meta_in_force(&m), 0);
	cr_assert_eq(m.generation, 2, "generation %u in force after three refreshes", m.generation);
}

/* ---- the audit stream across another command's re-attach --------------- */

/*
 * The daemon read the rings it opened until it re-attached the programs
 * itself. Detached and attached again by another command (unload --detach
 * --force, then load --force), the new denial ring had no reader: every
 * denial after it was left for the ring to fill and then lost, unsaid.
 */
Test(daemon, streams_denials_after_another_command_attaches_again, .timeout = GUEST_TIMEOUT(600))
{
	const char *log = "/tmp/mktme-same-rs.log", *out = "/tmp/mktme-same-rs.out";
	const char *file = "/tmp/mktme-same-rs.yaml";
	key_serial_t k;
	pid_t pid;

	write_file(file, AUDIT_POLICY);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
		dup2(open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
		unsetenv("JOURNAL_STREAM");
		unsetenv("NOTIFY_SOCKET");
		execl(guest_ctl(), "mktmectl", "daemon", "--policy", file, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");

	/* Audit mode, default deny: allowed, and streamed as a would-deny. */
	k = add_key(MKTME_KEY_TYPE, "rs-before", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		    KEY_SPEC_PROCESS_KEYRING);
	cr_assert_gt(k, 0, "add_key: %s", strerror(errno));
	keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING);
	cr_assert(wait_log_n(out, "\"key\":\"rs-before\"", 1, 20), "not streamed before the re-attach");

	cr_assert_eq(guest_sh(NULL, "%s policy unload --detach --force >/dev/null && %s policy load --force %s >/dev/null",
			      guest_ctl(), guest_ctl(), file), 0);
	k = add_key(MKTME_KEY_TYPE, "rs-after", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		    KEY_SPEC_PROCESS_KEYRING);
	cr_assert_gt(k, 0, "add_key: %s", strerror(errno));
	keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING);
	cr_assert(wait_log_n(out, "\"key\":\"rs-after\"", 1, 30),
		  "the denial after another command's re-attach was not streamed:\n%s",
		  guest_read_file(log, NULL));
	cr_assert(wait_log_n(log, "audit: the programs were attached again by another command", 1, 5));
}

/* ---- a bad file changes nothing ------------------------------------------ */

/*
 * Started with a file that does not compile, the daemon used to attach the
 * programs (and put the stored assignments in force) before reading it,
 * then exit 2 saying nothing was changed.
 */
Test(daemon, a_bad_file_at_start_attaches_nothing, .timeout = GUEST_TIMEOUT(600))
{
	const char *file = "/tmp/mktme-same-bad.yaml";
	char *out;

	write_file(file, "version: 1\nmode: typo\n");
	cr_assert_eq(guest_sh(&out, "%s daemon --policy %s 2>&1", guest_ctl(), file), 2, "%s", out);
	cr_assert(strstr(out, "is not valid (above); nothing was changed"), "%s", out);
	free(out);
	guest_sh(&out, "%s status 2>&1", guest_ctl());
	cr_assert(strstr(out, "programs:  0 of 12 attached"), "the bad start attached programs: %s", out);
	free(out);
}

#define OV_DIR "/tmp/mktme-same-ov.d"
#define OV_FILE OV_DIR "/policy.yaml"
#define OV_FORCED "/tmp/mktme-same-ov-forced.yaml"

/*
 * While the daemon stands back from a forced load, an edit of its own file
 * that does not compile must leave the forced policy alone. It used to end
 * the override before reading the file; the next refresh then put the
 * previous content back over the operator's policy.
 */
Test(daemon, a_bad_edit_does_not_end_an_override, .timeout = GUEST_TIMEOUT(600))
{
	const char *log = "/tmp/mktme-same-ov.log";

	cr_assert_eq(mkdir(OV_DIR, 0755), 0);
	write_file(OV_FILE, AUDIT_POLICY);
	write_file(OV_FORCED, ENFORCE_POLICY);
	start_daemon(OV_FILE, log);
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");
	cr_assert_eq(guest_sh(NULL, "%s policy load --force %s >/dev/null", guest_ctl(), OV_FORCED), 0);
	cr_assert(wait_log_n(log, "Standing back", 1, 30));
	cr_assert_eq(mode_in_force(), MKTME_MODE_ENFORCE);

	write_file(OV_FILE, "version: 1\nmode: typo\n");
	cr_assert(wait_log_n(log, "file changed: " OV_FILE " is not valid", 1, 30));
	wait_refreshes(OV_FILE, 2);
	cr_assert_eq(count_in_log(log, "taking the policy back"), 0, "%s", guest_read_file(log, NULL));
	cr_assert_eq(mode_in_force(), MKTME_MODE_ENFORCE, "the forced policy was replaced:\n%s",
		     guest_read_file(log, NULL));
}

/* ---- a hook left without its program -------------------------------------- */

#define PD_DIR "/tmp/mktme-same-pd.d"
#define PD_FILE PD_DIR "/policy.yaml"

/*
 * A link pin removed by hand detaches one hook's program; the maps stay,
 * so the daemon, which looked only for missing pins of maps, never noticed
 * and the hook stayed unenforced. Now each refresh attaches what is missing.
 */
Test(daemon, a_hook_left_without_its_program_is_attached_again, .timeout = GUEST_TIMEOUT(600))
{
	const char *log = "/tmp/mktme-same-pd.log";
	char *out;

	cr_assert_eq(mkdir(PD_DIR, 0755), 0);
	write_file(PD_FILE, AUDIT_POLICY);
	start_daemon(PD_FILE, log);
	cr_assert(wait_log_n(log, "ready: watching", 1, 300), "daemon did not start");
	cr_assert_eq(unlink(MKTME_PIN_DIR "/link_mktme_bind"), 0, "unlink: %s", strerror(errno));
	guest_sh(&out, "%s status 2>&1", guest_ctl());
	cr_assert(strstr(out, "11 of 12 attached"), "%s", out);
	free(out);
	cr_assert(wait_log_n(log, "only 11 of the 12 programs are attached", 1, 30));
	wait_refreshes(PD_FILE, 1);
	guest_sh(&out, "%s status 2>&1", guest_ctl());
	cr_assert(strstr(out, "programs:  12 of 12 attached"), "not repaired: %s\n%s", out,
		  guest_read_file(log, NULL));
	free(out);
}

