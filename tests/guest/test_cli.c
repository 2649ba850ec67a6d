// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl as an operator and an attacker meet it, in the guest, as root:
 * assignments that outlive the pins (a reboot: `policy unload --detach`
 * takes every pin away, as a reboot does) and come back with the daemon or
 * `policy load`; a corrupt state file; and the capability checks, for root
 * without capabilities, uid 65534 and root with only some capabilities;
 * the pins as an attacker with a raw bpf(2) and file system calls meets
 * them (root without capabilities, root of a user namespace), a pin
 * directory squatted by another user, and a second set of programs.
 *
 * The state directory is under /tmp (the guest's /var/lib is the host's,
 * read-only). Every test starts and ends with nothing pinned.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/capability.h>

#include "guest.h"
#include "../../bpf/mktme_policy.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG "/mktme-cli"
#define STATE_DIR "/tmp/mktme-cli-state"
#define STATE_FILE STATE_DIR "/assignments"
#define POLICY_FILE "/tmp/mktme-cli-policy.yaml"
#define DAEMON_LOG "/tmp/mktme-cli-daemon.log"
#define PIN_PARENT "/sys/fs/bpf/mktme"
#define PINS MKTME_PIN_DIR	/* PIN_PARENT "/v" MKTME_ABI */
#define OTHER_PINS "/sys/fs/bpf/mktme-other"

#define TWO_TENANTS                                                                  \
	"version: 1\ndefault: deny\nrules:\n"                                        \
	"  - {cgroup: " CG "/a, keys: [ka], verdict: allow}\n"                     \
	"  - {cgroup: " CG "/b, keys: [kb], verdict: allow}\n"

static const char *const cgroups[] = { CG, CG "/a", CG "/b", CG "/late" };
static pid_t daemon_pid;
static key_serial_t KA, KB;

/* The command must exit @want; its stdout and stderr are returned (freed by the caller). */
#define RUN(want, ...)                                                                \
	({                                                                            \
		char *o_;                                                             \
		int rc_ = guest_sh_all(&o_, __VA_ARGS__);                             \
		cr_assert_eq(rc_, (want), "exit %d, expected %d: %s", rc_, (want), o_); \
		o_;                                                                   \
	})

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* Bind @key in cgroup @cg, in a child: 0 or an errno. */
static int bind_in(const char *cg, key_serial_t key)
{
	pid_t pid = fork();
	int st;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char path[256], me[32];
		int fd;

		snprintf(path, sizeof(path), CG_ROOT "%s/cgroup.procs", cg);
		snprintf(me, sizeof(me), "%d", getpid());
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, me, strlen(me)) < 0)
			_exit(120);
		close(fd);
		fd = open(MKTME_DEV, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(121);
		_exit(ioctl(fd, MKTME_IOC_SET_KEY, (unsigned long)key) ? errno : 0);
	}
	st = guest_wait_child(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define EXPECT_BIND(want, cg, key)                                                    \
	do {                                                                          \
		int got_ = bind_in((cg), (key));                                      \
		cr_assert_eq(got_, (want), "bind %s in %s: %d (%s), expected %d",     \
			     #key, (cg), got_, strerror(got_), (want));               \
	} while (0)

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		guest_wait_child(daemon_pid);
		daemon_pid = 0;
	}
}

static void cleanup(void)
{
	char *o;

	stop_daemon();
	guest_sh_all(&o, "%s policy unload --detach", guest_ctl());
	free(o);
	guest_sh_all(&o, "rm -rf " STATE_DIR);
	free(o);
	/* What the squatting test leaves: another user's directories. */
	guest_sh_all(&o, "rm -rf " OTHER_PINS "; [ -O " PIN_PARENT " ] || rm -rf " PIN_PARENT);
	free(o);
	keyctl_clear(KEY_SPEC_SESSION_KEYRING);
	for (int i = sizeof(cgroups) / sizeof(cgroups[0]) - 1; i >= 0; i--) {
		char path[256];

		snprintf(path, sizeof(path), CG_ROOT "%s", cgroups[i]);
		rmdir(path);
	}
}

static void setup(void)
{
	/* Inherited by every mktmectl the tests start, the daemon too. */
	setenv("MKTME_STATE_DIR", STATE_DIR, 1);
	cleanup();
	cr_assert_geq(keyctl_join_session_keyring(NULL), 0, "session keyring: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]) - 1; i++) {
		char path[256];

		snprintf(path, sizeof(path), CG_ROOT "%s", cgroups[i]);
		cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
			  strerror(errno));
	}
	/* Before any program is attached: everything is allowed. */
	KA = add_key(MKTME_KEY_TYPE, "ka", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		     KEY_SPEC_SESSION_KEYRING);
	KB = add_key(MKTME_KEY_TYPE, "kb", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		     KEY_SPEC_SESSION_KEYRING);
	cr_assert(KA > 0 && KB > 0, "add_key: %s", strerror(errno));
	write_file(POLICY_FILE, TWO_TENANTS);
}

TestSuite(cli, .init = setup, .fini = cleanup, .timeout = GUEST_TIMEOUT(900));

static void start_daemon(void)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int fd = open(DAEMON_LOG, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execl(guest_ctl(), "mktmectl", "daemon", "--no-audit", "--policy", POLICY_FILE, (char *)NULL);
		_exit(127);
	}
	daemon_pid = pid;
}

/* Wait (up to 180 s: TCG, and the daemon may attach the programs) for @what in the log. */
static bool wait_log(const char *what)
{
	for (int i = 0; i < 1800; i++) {
		char *s = guest_read_file(DAEMON_LOG, NULL);
		bool found = s && strstr(s, what);

		free(s);
		if (found)
			return true;
		usleep(100 * 1000);
	}
	char *s = guest_read_file(DAEMON_LOG, NULL);

	fprintf(stderr, "--- " DAEMON_LOG " (no \"%s\")\n%s---\n", what, s ? s : "");
	free(s);
	return false;
}

static char *state_text(void)
{
	char *s = guest_read_file(STATE_FILE, NULL);

	return s ? s : strdup("(no state file)");
}

/* ---- assignments across a "reboot" ------------------------------------------ */

Test(cli, assignment_survives_losing_the_pins_and_the_daemon_reapplies_it)
{
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	EXPECT_BIND(EPERM, CG "/a", KB);
	o = RUN(0, "%s assign --owner any " CG "/a kb", guest_ctl());
	cr_assert(strstr(o, "stored in " STATE_FILE "; in force now (generation "), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/a", KB);

	/* Every pin gone, as after a reboot: the assignment stays in the file. */
	free(RUN(0, "%s policy unload --detach", guest_ctl()));
	cr_assert(access(PINS, F_OK) && errno == ENOENT, "%s is left after unload --detach", PINS);
	o = state_text();
	cr_assert(strstr(o, "{\"cgroup\":\"" CG "/a\",\"key\":\"kb\",\"id\":65536,"), "%s", o);
	free(o);
	o = RUN(0, "%s -j assign --owner any " CG "/a kb", guest_ctl());
	cr_assert(strstr(o, "\"changed\":false") && strstr(o, "\"in_force\":false") &&
		  strstr(o, "\"not_in_force_because\":\"the mktme programs are not attached"), "%s", o);
	free(o);

	start_daemon();
	cr_assert(wait_log("assignments: 1 in " STATE_FILE " (1 with their cgroup, 0 waiting for it)"),
		  "the daemon did not reapply the assignment");
	cr_assert(wait_log("start: loaded " POLICY_FILE), "the daemon did not load the policy");
	cr_assert(wait_log("1 assignments"), "the loaded generation lacks the assignment");
	EXPECT_BIND(0, CG "/a", KB);
	EXPECT_BIND(EPERM, CG "/b", KA);
	stop_daemon();

	/* Once more without a daemon: policy load reapplies it too. */
	free(RUN(0, "%s policy unload --detach", guest_ctl()));
	o = RUN(0, "%s policy load " POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, "1 assignments"), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/a", KB);
	o = RUN(0, "%s -j policy show", guest_ctl());
	cr_assert(strstr(o, "\"source\":\"assign\""), "%s", o);
	free(o);
	o = RUN(0, "%s unassign " CG "/a kb", guest_ctl());
	cr_assert(strstr(o, "removed from " STATE_FILE "; in force now"), "%s", o);
	free(o);
	EXPECT_BIND(EPERM, CG "/a", KB);
}

/* After a reboot the daemon may start before the cgroup exists. */
Test(cli, assignment_waits_for_its_cgroup_after_the_daemon_starts)
{
	free(RUN(0, "mkdir " CG_ROOT CG "/late"));
	free(RUN(0, "%s assign --owner any " CG "/late kb", guest_ctl()));
	free(RUN(0, "rmdir " CG_ROOT CG "/late"));
	start_daemon();
	cr_assert(wait_log("assignments: 1 in " STATE_FILE " (0 with their cgroup, 1 waiting for it)"));
	cr_assert(wait_log("ready: watching"));
	cr_assert_eq(mkdir(CG_ROOT CG "/late", 0755), 0, "mkdir: %s", strerror(errno));
	cr_assert(wait_log("cgroups changed: loaded " POLICY_FILE), "the daemon did not see the cgroup");
	cr_assert(wait_log("1 assignments"));
	EXPECT_BIND(0, CG "/late", KB);
	EXPECT_BIND(EPERM, CG "/late", KA);
	stop_daemon();
}

/* The generation in force (0: none), from policy show. */
static long generation(void)
{
	char *o, *g;
	long gen = 0;

	guest_sh_all(&o, "%s -j policy show", guest_ctl());
	g = strstr(o, "\"generation\":");
	if (g)
		gen = atol(g + strlen("\"generation\":"));
	free(o);
	return gen;
}

Test(cli, corrupt_state_file_is_reported_and_never_half_applied)
{
	char *o, *before;
	long gen;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	free(RUN(0, "%s assign --owner any " CG "/a kb", guest_ctl()));
	gen = generation();
	/* An operator's edit gone wrong. */
	free(RUN(0, "sed -i 's/\"id\":65536/\"id\":\"x\"/' " STATE_FILE));
	before = state_text();
	o = RUN(1, "%s policy load " POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, STATE_FILE ":2:37: corrupt state file: \"id\"") &&
		  strstr(o, "the policy was not loaded and nothing was changed"), "%s", o);
	free(o);
	cr_assert_eq(generation(), gen, "the refused load changed the generation");
	/* The dry run says what the load would: refused (it used to say valid). */
	o = RUN(1, "%s policy load --dry-run " POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, STATE_FILE ":2:37: corrupt state file"), "%s", o);
	free(o);
	o = RUN(1, "%s assign " CG "/b ka", guest_ctl());
	cr_assert(strstr(o, STATE_FILE ":2:37:") && strstr(o, "othing was changed"), "%s", o);
	free(o);

	/* The daemon says so, loads its file and keeps the assignment in force. */
	start_daemon();
	cr_assert(wait_log(STATE_FILE ":2:37: corrupt state file"), "the daemon did not name the line");
	cr_assert(wait_log("the assignments in force are kept"));
	cr_assert(wait_log("start: loaded " POLICY_FILE));
	cr_assert(wait_log(" rules, 1 assignments"));
	EXPECT_BIND(0, CG "/a", KB);
	stop_daemon();

	/* After a "reboot" nothing is in force to keep: fail closed, still enforcing the file. */
	free(RUN(0, "%s policy unload --detach", guest_ctl()));
	start_daemon();
	cr_assert(wait_log(STATE_FILE ":2:37: corrupt state file"));
	cr_assert(wait_log("start: loaded " POLICY_FILE), "the daemon did not load the policy");
	cr_assert(wait_log(" rules, 0 assignments"));
	EXPECT_BIND(EPERM, CG "/a", KB);
	EXPECT_BIND(0, CG "/a", KA);
	stop_daemon();
	o = state_text();
	cr_assert_str_eq(o, before, "the corrupt file was rewritten");
	free(o);
	free(before);
}

/* ---- capabilities -------------------------------------------------------------- */

/* Each command, run through @wrap, exits 3 naming @missing, and changes nothing. */
static void refused_all(const char *wrap, const char *missing_change, const char *missing_load)
{
	static const char *const cmds[] = {
		"policy load " POLICY_FILE, "policy unload", "policy unload --detach",
		"assign " CG "/b ka", "unassign " CG "/a kb", "unassign --all",
	};
	long gen = generation();
	char *before = state_text();

	cr_assert_gt(gen, 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *o = RUN(3, "%s %s %s", wrap, guest_ctl(), cmds[i]);
		const char *want = i == 0 ? missing_load : missing_change;

		cr_assert(strstr(o, want) && strstr(o, "Nothing was changed"), "%s: no \"%s\" in: %s",
			  cmds[i], want, o);
		free(o);
		cr_assert_eq(generation(), gen, "%s changed the generation", cmds[i]);
		o = state_text();
		cr_assert_str_eq(o, before, "%s changed the state file", cmds[i]);
		free(o);
	}
	free(before);
	EXPECT_BIND(0, CG "/a", KB);
	EXPECT_BIND(EPERM, CG "/b", KA);
}

Test(cli, root_without_capabilities_is_refused_and_nothing_changes)
{
	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	free(RUN(0, "%s assign --owner any " CG "/a kb", guest_ctl()));
	refused_all("setpriv --bounding-set -all --inh-caps -all --ambient-caps -all",
		    "missing: CAP_SYS_ADMIN, CAP_BPF.", "missing: CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON.");
}

Test(cli, uid_65534_is_refused_and_nothing_changes)
{
	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	free(RUN(0, "%s assign --owner any " CG "/a kb", guest_ctl()));
	chmod(POLICY_FILE, 0644);
	refused_all("setpriv --reuid=65534 --regid=65534 --clear-groups",
		    "missing: CAP_SYS_ADMIN, CAP_BPF.", "missing: CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON.");
}

/* Each operation asks for what the kernel checks for it, and only that. */
Test(cli, each_operation_needs_its_own_capabilities)
{
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	/* CAP_BPF and CAP_PERFMON without CAP_SYS_ADMIN: neither assign nor load. */
	o = RUN(3, "setpriv --bounding-set -all,+bpf,+perfmon --inh-caps -all %s assign --owner any " CG "/a kb",
		guest_ctl());
	cr_assert(strstr(o, "missing: CAP_SYS_ADMIN."), "%s", o);
	free(o);
	o = RUN(3, "setpriv --bounding-set -all,+bpf,+perfmon --inh-caps -all %s policy load "
		POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, "loading a policy needs CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON") &&
		  strstr(o, "missing: CAP_SYS_ADMIN."), "%s", o);
	free(o);
	EXPECT_BIND(EPERM, CG "/a", KB);
	/*
	 * CAP_SYS_ADMIN alone: the kernel grants CAP_BPF and CAP_PERFMON with
	 * it (kernel/bpf/token.c), and so does mktmectl (the systemd unit
	 * keeps only CAP_SYS_ADMIN).
	 */
	o = RUN(0, "setpriv --bounding-set -all,+sys_admin --inh-caps -all %s assign --owner any " CG "/a kb",
		guest_ctl());
	cr_assert(strstr(o, "in force now"), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/a", KB);
	free(RUN(0, "setpriv --bounding-set -all,+sys_admin --inh-caps -all %s policy load " POLICY_FILE,
		 guest_ctl()));
	EXPECT_BIND(0, CG "/a", KB);
	/* Keys need none: the policy decides. */
	o = RUN(0, "setpriv --bounding-set -all --inh-caps -all %s -j key list", guest_ctl());
	free(o);
	/* Checking a policy needs nothing. */
	free(RUN(0, "setpriv --bounding-set -all --inh-caps -all %s policy check " POLICY_FILE, guest_ctl()));
}

/* ---- the pins, attacked directly ---------------------------------------------- */

enum attacker { ROOT_WITHOUT_CAPS, USERNS_ROOT };

/* What each attempt gave: 0, or the errno. */
struct attempts {
	int open_rw, open_gen_rw, open_rules_rw, open_ro, unlink_link, rename_pin, rename_dir, rename_parent, chmod_pin, rmdir_dir;
};

static int err_of(int ret)
{
	return ret < 0 ? errno : 0;
}

/* In a child: become @who, try everything that would end or change enforcement. */
static struct attempts attack_pins(enum attacker who)
{
	struct attempts a;
	int pfd[2];
	pid_t pid;

	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct none[2] = { 0 };
		int fd;

		if (who == USERNS_ROOT) {
			/* Root of its own namespace, uid 0 mapped to uid 0: it owns the pins. */
			if (unshare(CLONE_NEWUSER))
				_exit(101);
			fd = open("/proc/self/uid_map", O_WRONLY);
			if (fd < 0 || write(fd, "0 0 1", 5) != 5)
				_exit(102);
			close(fd);
		} else if (syscall(SYS_capset, &h, none)) {
			_exit(103);
		}
		memset(&a, 0, sizeof(a));
		fd = bpf_obj_get(PINS "/mktme_policy");
		a.open_rw = err_of(fd);
		if (fd >= 0) {
			__u32 zero = 0;

			/* What an open for writing is for: everything allowed. */
			bpf_map_delete_elem(fd, &zero);
			close(fd);
		}
		/* The generations' maps: emptied, the slot's generation would deny. */
		fd = bpf_obj_get(PINS "/mktme_gen_rules");
		a.open_gen_rw = err_of(fd);
		if (fd >= 0)
			close(fd);
		fd = bpf_obj_get(PINS "/mktme_rules");
		a.open_rules_rw = err_of(fd);
		if (fd >= 0)
			close(fd);
		fd = bpf_obj_get_opts(PINS "/mktme_policy", &ro);
		a.open_ro = err_of(fd);
		if (fd >= 0)
			close(fd);
		a.unlink_link = err_of(unlink(PINS "/link_mktme_bind"));
		a.rename_pin = err_of(rename(PINS "/mktme_policy", PINS "/moved"));
		a.rename_dir = err_of(rename(PINS, PIN_PARENT "/v0"));
		a.rename_parent = err_of(rename(PIN_PARENT, PIN_PARENT ".hidden"));
		a.chmod_pin = err_of(chmod(PINS "/mktme_policy", 0666));
		a.rmdir_dir = err_of(rmdir(PINS));
		if (write(pfd[1], &a, sizeof(a)) != sizeof(a))
			_exit(104);
		_exit(0);
	}
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], &a, sizeof(a)), (ssize_t)sizeof(a),
		     "the attacker died first: status %#x (101 unshare, 102 uid_map, 103 capset)",
		     guest_wait_child(pid));
	close(pfd[0]);
	guest_wait_child(pid);
	return a;
}

static void pins_held(enum attacker who)
{
	struct attempts a;
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	EXPECT_BIND(EPERM, CG "/b", KA);
	a = attack_pins(who);
	cr_expect_eq(a.open_rw, EPERM, "open for writing: %s", strerror(a.open_rw));
	cr_expect_eq(a.open_gen_rw, EPERM, "open of mktme_gen_rules for writing: %s",
		     strerror(a.open_gen_rw));
	cr_expect_eq(a.open_rules_rw, EPERM, "open of the rules in force for writing: %s",
		     strerror(a.open_rules_rw));
	cr_expect_eq(a.unlink_link, EPERM, "unlink of a link pin: %s", strerror(a.unlink_link));
	cr_expect_eq(a.rename_pin, EPERM, "rename of a pin: %s", strerror(a.rename_pin));
	cr_expect_eq(a.rename_dir, EPERM, "rename of the pin directory: %s", strerror(a.rename_dir));
	cr_expect_eq(a.rename_parent, EPERM, "rename of its parent: %s", strerror(a.rename_parent));
	cr_expect_eq(a.chmod_pin, EPERM, "chmod of a pin: %s", strerror(a.chmod_pin));
	cr_expect_eq(a.rmdir_dir, EPERM, "rmdir of the pin directory: %s", strerror(a.rmdir_dir));
	/* Reading changes nothing: the file modes decide (the owner may). */
	cr_expect_eq(a.open_ro, 0, "open read-only: %s", strerror(a.open_ro));
	/* Everything as it was: same pins, same decisions. */
	o = RUN(0, "%s status", guest_ctl());
	cr_assert(strstr(o, "programs:  12 of 12 attached") && !strstr(o, "WARNING"), "%s", o);
	free(o);
	EXPECT_BIND(EPERM, CG "/b", KA);
	EXPECT_BIND(0, CG "/a", KA);
}

Test(cli, root_without_capabilities_cannot_touch_the_pins)
{
	pins_held(ROOT_WITHOUT_CAPS);
}

Test(cli, root_of_a_user_namespace_cannot_touch_the_pins)
{
	pins_held(USERNS_ROOT);
}

/*
 * `policy unload` said "policy unloaded", exit 0, when it could not use the
 * pins (the policy stayed in force), and named the last generation handed
 * out, not the one in force, so a second unload said it unloaded it again.
 */
Test(cli, unload_says_what_was_in_force_and_fails_when_it_cannot_clear)
{
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	EXPECT_BIND(EPERM, CG "/b", KA);
	cr_assert_eq(chmod(PINS, 0755), 0, "%s: %s", PINS, strerror(errno));
	o = RUN(1, "%s policy unload", guest_ctl());
	cr_assert(strstr(o, "cannot open the pinned maps under") && strstr(o, "left as it was"), "%s", o);
	free(o);
	cr_assert_eq(chmod(PINS, 0700), 0);
	EXPECT_BIND(EPERM, CG "/b", KA);

	o = RUN(0, "%s policy unload", guest_ctl());
	cr_assert(strstr(o, "policy unloaded (generation "), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/b", KA);
	o = RUN(0, "%s policy unload", guest_ctl());
	cr_assert(strstr(o, "no policy was in force"), "%s", o);
	free(o);
	o = RUN(0, "%s -j policy unload", guest_ctl());
	cr_assert(strstr(o, "\"unloaded_generation\":0"), "%s", o);
	free(o);
}

/*
 * `assign` of what is already stored said "in force now" without looking:
 * after the cgroup was made again by the same path (a container restart),
 * the generation in force still named the old cgroup's id, and the
 * assignment did nothing until the next load.
 */
Test(cli, assign_again_puts_a_remade_cgroup_in_force)
{
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	cr_assert(mkdir(CG_ROOT CG "/late", 0755) == 0 || errno == EEXIST);
	free(RUN(0, "%s assign --owner any " CG "/late kb", guest_ctl()));
	EXPECT_BIND(0, CG "/late", KB);
	cr_assert_eq(rmdir(CG_ROOT CG "/late"), 0, "rmdir: %s", strerror(errno));
	cr_assert_eq(mkdir(CG_ROOT CG "/late", 0755), 0);
	EXPECT_BIND(EPERM, CG "/late", KB);
	o = RUN(0, "%s assign --owner any " CG "/late kb", guest_ctl());
	cr_assert(strstr(o, "already assigned") && strstr(o, "in force now"), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/late", KB);
	free(RUN(0, "%s unassign " CG "/late kb", guest_ctl()));
}

/* The capable operator still may: unload --detach, and load again. */
Test(cli, the_guards_let_the_operator_through)
{
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	free(RUN(0, "%s policy unload --detach", guest_ctl()));
	o = RUN(0, "%s status", guest_ctl());
	cr_assert(strstr(o, "programs:  0 of 12 attached"), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/b", KA);
	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	EXPECT_BIND(EPERM, CG "/b", KA);
}

Test(cli, a_pin_directory_squatted_by_another_user_is_refused)
{
	char *o;

	/* Before any load (after a reboot, bpffs is empty): uid 65534 gets there first. */
	free(RUN(0, "rm -rf " PIN_PARENT));
	free(RUN(0, "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'mkdir -m 0777 " PIN_PARENT
		 " && mkdir -m 0700 " PINS "'"));
	o = RUN(1, "%s policy load " POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, "refusing to pin the programs under " PINS ": " PIN_PARENT
			 " is owned by uid 65534, not root") && strstr(o, "Nothing was attached"),
		  "%s", o);
	free(o);
	o = RUN(0, "%s status", guest_ctl());
	cr_assert(strstr(o, "programs:  0 of 12 attached"), "%s", o);
	free(o);
	EXPECT_BIND(0, CG "/b", KA);

	/* Root's directories, but the pin directory open to others: refused too. */
	free(RUN(0, "rm -rf " PIN_PARENT " && mkdir -m 0700 " PIN_PARENT " && mkdir -m 0755 " PINS));
	o = RUN(1, "%s policy load " POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, PINS " has mode 0755 (want 0700"), "%s", o);
	free(o);
	free(RUN(0, "rmdir " PINS));
	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	EXPECT_BIND(EPERM, CG "/b", KA);
}

Test(cli, a_second_set_of_programs_is_never_attached)
{
	char *o;

	free(RUN(0, "%s policy load " POLICY_FILE, guest_ctl()));
	/* Pins elsewhere (or renamed away by a capable root): the set still runs. */
	o = RUN(1, "%s --bpffs-dir " OTHER_PINS " policy load " POLICY_FILE, guest_ctl());
	cr_assert(strstr(o, "mktme programs are already attached but not pinned under " OTHER_PINS
			 " (link ids ") && strstr(o, "Nothing was attached"), "%s", o);
	free(o);
	o = RUN(1, "%s --bpffs-dir " OTHER_PINS " status", guest_ctl());
	cr_assert(strstr(o, "WARNING:   12 mktme program link(s) attached but not pinned under " OTHER_PINS),
		  "%s", o);
	free(o);
	/* Detaching "everything" from there must not say it did. */
	o = RUN(1, "%s --bpffs-dir " OTHER_PINS " policy unload --detach", guest_ctl());
	cr_assert(strstr(o, "12 mktme program link(s) not pinned there are still attached"), "%s", o);
	free(o);
	o = RUN(0, "%s status", guest_ctl());
	cr_assert(strstr(o, "programs:  12 of 12 attached") && !strstr(o, "WARNING"), "%s", o);
	free(o);
	EXPECT_BIND(EPERM, CG "/b", KA);
}
