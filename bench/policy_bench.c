// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, the policy layer's part (issue 10 §5), in the guest: what the
 * BPF LSM programs add to the hot path of /dev/mktme, by the number of rules
 * and the depth of the caller's cgroup, and how long mktmectl takes to load
 * a policy. One boot; every state is measured in every round, the states'
 * order rotated round by round (as bench/mktme_bench.c does), so that
 * whatever slows the machine down slows all of them alike and the ratios
 * come from the same run.
 *
 * States (switched with mktmectl, as an operator does):
 *   no-bpf        programs not attached (policy unload --detach)
 *   nop-progs     instead of mktmectl's, a program on each of the two hooks
 *                 that returns at once (bench/bench_nop.bpf.c): what running
 *                 any BPF LSM program there costs, the floor of the others
 *   no-policy     programs attached, no policy (policy unload)
 *   rules-N       a policy of N rules (policy load), N = 1, 100, 1000, 10000
 *
 * The policies use the shipped defaults for what they do not need to set:
 * mode enforce, audit denials (allows are counted, not logged); default
 * deny, so that a cycle the policy did not allow by a rule would fail (and
 * the bench with it): every measured cycle is an allowed one.
 *
 * The worst case for the compiled maps (bpf/mktme_policy.h, mktme_decide()):
 * the walk always visits every level of the caller's ancestry, doing per
 * level one hash lookup of (cgroup id, key name) and, only if that misses,
 * one of (cgroup id, "*"); a bucket found is scanned rule by rule until one
 * matches (at most MKTME_BUCKET_MAX = 16). So the most work a decision can
 * do is a full bucket for the key's name at every level, none of whose
 * rules match except the last one of the caller's own cgroup. The N-rule
 * policies build that, nearest first, as far as N allows: 15 rules for
 * other uids (which sort before a rule without uid: policy/REFERENCE.md,
 * precedence) then the deciding allow, the last rule of the file, in the
 * caller's own cgroup at depth 10; the same at depth 1 (the deciding rule
 * for the depth-1 caller is the second last); then 16 other-uid rules at
 * each level between. Rules left over (N > 160) are allows for other key
 * names spread over the same cgroups: they only make the map bigger. The
 * one-rule policy is one allow at depth 1, which decides for both callers.
 *
 * A cycle: open /dev/mktme, MKTME_IOC_SET_KEY, mmap 4 KiB, optionally write
 * one byte (the fault-in), munmap, close. A fresh fd each cycle: a region is
 * bound once (SET_KEY on a bound region is EBUSY), and binding is one of
 * the two decisions (bind, mmap) the hot path pays for. The key is made
 * afresh in each state, by the depth-10 caller, so that the programs know
 * where it was created as they would in use.
 *
 * Loads: the wall time of `mktmectl policy load FILE` (process start
 * included) into programs already attached, per rule count; `policy load
 * --dry-run` of the 10,000 rules (parse, cgroup resolution, compile: no map
 * written), to split the load's cost; and the attach (`policy load` of an
 * empty policy when nothing is attached: programs loaded, verified,
 * attached and pinned), the boot's first one on its own. And `policy check
 * --offline` of the 10,000 rules (parse and compile, no system): only
 * mktmectl's own work, which bench/run times again natively on the host
 * with the same binary and file (written beside OUT.json), so that the
 * report can say what the emulation costs a load.
 *
 * The programs' own time per decision: after the timed blocks of a state
 * with programs attached, more blocks run with the kernel's BPF run-time
 * statistics on (BPF_ENABLE_STATS: on while its fd is open, so nothing is
 * left on if the bench dies), each giving the run time of mktme_bind and
 * mktme_mmap over their runs in it. Not during the timed blocks: the
 * statistics cost every run two clock reads. Compared with what a cycle
 * costs over no BPF, it tells the programs' work from what running a BPF
 * LSM program at all costs (the trampoline, and whatever the emulated CPU
 * charges around it).
 *
 * Writes one JSON document (json-c), raw samples; bench/report.py makes the
 * medians, ratios and table.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <keyutils.h>
#include <limits.h>
#include <linux/mktme.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bench_nop.skel.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_TOP		"/mktme-bench"	/* depth 1; depth d below it is .../l2/.../ld */
#define MAX_LEVEL	10
#define BUCKET_MAX	16		/* MKTME_BUCKET_MAX in bpf/mktme_policy.h */
#define KEY_NAME	"bench"
#define POLICY_MAX	(1 << 20)	/* MKTME_SOURCE_MAX: a policy file's size limit */
#define TMP		"/tmp/mktme-policy-bench"

enum state { NO_BPF, NOP_PROGS, NO_POLICY, RULES_1, RULES_100, RULES_1000, RULES_10000, NR_STATES };
static const char *const state_names[NR_STATES] = {
	"no-bpf", "nop-progs", "no-policy", "rules-1", "rules-100", "rules-1000", "rules-10000",
};
static const int state_rules[NR_STATES] = { -1, -1, 0, 1, 100, 1000, 10000 };

/* What is measured in every state: caller's depth, and whether it touches. */
#define NR_SUBS 4
static const int sub_depth[NR_SUBS] = { 1, 1, 10, 10 };
static const bool sub_touch[NR_SUBS] = { false, true, false, true };
static const char *const sub_names[NR_SUBS] = {
	"depth-1 no-touch", "depth-1 touch", "depth-10 no-touch", "depth-10 touch",
};

static const char *ctl;
static int rounds = 9;
static long cycles = 50;		/* per block */
static int blocks = 40;		/* per state, caller and round */
static int stat_blocks = 10;		/* with BPF statistics on, after those */
static bool attached;
static struct bench_nop_bpf *nop;	/* attached in nop-progs only */
static json_object *cost[NR_STATES][NR_SUBS];	/* per round: µs per cycle of each block */
static json_object *prog[NR_STATES][NR_SUBS];	/* per round: µs per decision of each stat block */
static json_object *loads[NR_STATES];		/* ms, policy load (rules-N) or unload */
static json_object *settles[NR_STATES];	/* ms, the guest busy after entering (settle()) */
static json_object *attaches, *detaches, *dry_runs, *checks, *entries;
static double first_attach_ms = -1;

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "policy_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The path of the cgroup at @depth under CG_TOP, relative to the cgroup2 root. */
static void cg_path(int depth, char *buf, size_t len)
{
	size_t n = snprintf(buf, len, "%s", CG_TOP);

	for (int d = 2; d <= depth; d++)
		n += snprintf(buf + n, len - n, "/l%d", d);
}

/* Move this process into the cgroup at @depth (0: back to the root). */
static void cg_enter(int depth)
{
	char path[256], file[300];
	FILE *f;

	if (depth)
		cg_path(depth, path, sizeof(path));
	else
		path[0] = 0;
	snprintf(file, sizeof(file), CG_ROOT "%s/cgroup.procs", path);
	f = fopen(file, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		die("cannot move into %s: %s", file, strerror(errno));
}

static void cg_setup(bool make)
{
	char path[256], full[300];

	for (int d = make ? 1 : MAX_LEVEL; make ? d <= MAX_LEVEL : d >= 1; d += make ? 1 : -1) {
		cg_path(d, path, sizeof(path));
		snprintf(full, sizeof(full), CG_ROOT "%s", path);
		if (make ? mkdir(full, 0755) && errno != EEXIST : rmdir(full) && errno != ENOENT)
			die("%s %s: %s", make ? "mkdir" : "rmdir", full, strerror(errno));
	}
}

/*
 * Run mktmectl with @args (NULL-terminated), its output to @out; the wall
 * time in ms, process start included (what an operator waits for). Dies
 * unless it exits 0: a state that could not be set up is not measured.
 */
static double run_ctl(const char *out, const char *const *args)
{
	const char *argv[8] = { ctl };
	double t0, t1;
	pid_t pid;
	int st, n = 1;

	for (; args[n - 1] && n < 7; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	t0 = now_us();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(ctl, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid: %s", strerror(errno));
	t1 = now_us();
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", out);
		if (system(cmd))
			fprintf(stderr, "policy_bench: (no output in %s)\n", out);
		die("%s %s %s failed (status %d)", ctl, args[0], args[1] ? args[1] : "", st);
	}
	return (t1 - t0) / 1e3;
}

static void add(json_object *a, double v)
{
	json_object_array_add(a, json_object_new_double(v));
}

/*
 * The policy of @n rules (file comment: the worst case, nearest first) in
 * @file. The header spells out the shipped defaults it relies on.
 */
static void write_policy(const char *file, int n)
{
	char *y = malloc(POLICY_MAX), path[MAX_LEVEL + 1][256];
	/* Path buckets, nearest first: depth 10, depth 1, then 9 down to 2. */
	static const int order[MAX_LEVEL] = { 10, 1, 9, 8, 7, 6, 5, 4, 3, 2 };
	size_t len;
	int fill = n >= 2 ? n - 2 : 0, filler = 0;
	FILE *f;

	if (!y)
		die("out of memory");
	for (int d = 1; d <= MAX_LEVEL; d++)
		cg_path(d, path[d], sizeof(path[d]));
	/* 0 rules: the policy that attaches the programs (attach()). */
	if (n == 0)
		len = snprintf(y, POLICY_MAX, "version: 1\ndefault: allow\n");
	else
		len = snprintf(y, POLICY_MAX, "version: 1\nmode: enforce\naudit: denials\ndefault: deny\nrules:\n");
	/* Other uids' rules for the key: found, scanned, never matching (uid 0 runs this). */
	for (int i = 0; i < MAX_LEVEL && fill; i++) {
		int d = order[i], room = d == 10 || d == 1 ? BUCKET_MAX - 1 : BUCKET_MAX;

		for (int k = 0; k < room && fill; k++, fill--)
			len += snprintf(y + len, POLICY_MAX - len,
					"  - {cgroup: %s, uid: %d, keys: [" KEY_NAME "], verdict: deny}\n",
					path[d], 60000 + k);
	}
	/* The rest: other key names, only a bigger map. */
	for (; fill; fill--, filler++)
		len += snprintf(y + len, POLICY_MAX - len, "  - {cgroup: %s, keys: [f%d], verdict: allow}\n",
				path[1 + filler % MAX_LEVEL], filler);
	if (n >= 1)
		len += snprintf(y + len, POLICY_MAX - len, "  - {cgroup: %s, keys: [" KEY_NAME "], verdict: allow}\n",
				path[1]);
	if (n >= 2)
		len += snprintf(y + len, POLICY_MAX - len, "  - {cgroup: %s, keys: [" KEY_NAME "], verdict: allow}\n",
				path[MAX_LEVEL]);
	if (len >= POLICY_MAX)
		die("a policy of %d rules does not fit in %d bytes", n, POLICY_MAX);
	f = fopen(file, "w");
	if (!f || fwrite(y, 1, len, f) != len || fclose(f))
		die("writing %s: %s", file, strerror(errno));
	free(y);
}

static void policy_file(int n, char *buf, size_t len)
{
	snprintf(buf, len, TMP "/rules-%d.yaml", n);
}

/* The policy of @n rules, also beside @out (OUT.json) as rules-N.yaml, for the host. */
static void copy_beside(const char *out, int n)
{
	char from[128], to[PATH_MAX], cmd[2 * PATH_MAX];
	const char *slash = strrchr(out, '/');

	policy_file(n, from, sizeof(from));
	snprintf(to, sizeof(to), "%.*s/rules-%d.yaml", slash ? (int)(slash - out) : 1,
		 slash ? out : ".", n);
	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	if (system(cmd))
		die("cannot copy %s to %s", from, to);
}

/* Attach the programs: a load of the empty policy when none are attached. */
static void attach(bool keep)
{
	char file[128];
	double ms;

	policy_file(0, file, sizeof(file));
	ms = run_ctl(TMP "/out", (const char *[]){ "policy", "load", file, NULL });
	if (first_attach_ms < 0)
		first_attach_ms = ms;
	else if (keep)
		add(attaches, ms);
	attached = true;
}

/* Put the system in state @s; @keep: record the times (not in round 0). */
static void enter(enum state s, bool keep)
{
	char file[128];
	double ms;

	cg_enter(0);
	if (nop && s != NOP_PROGS) {
		bench_nop_bpf__destroy(nop);
		nop = NULL;
	}
	if (s == NOP_PROGS) {
		/* Alone on the hooks: mktmectl's programs detached first. */
		if (attached)
			run_ctl(TMP "/out", (const char *[]){ "policy", "unload", "--detach", NULL });
		attached = false;
		nop = bench_nop_bpf__open_and_load();
		if (!nop || bench_nop_bpf__attach(nop))
			die("cannot load and attach bench/bench_nop.bpf.c: %s", strerror(errno));
		return;
	}
	if (s == NO_BPF) {
		if (attached) {
			ms = run_ctl(TMP "/out", (const char *[]){ "policy", "unload", "--detach", NULL });
			if (keep)
				add(detaches, ms);
		}
		attached = false;
		return;
	}
	if (!attached)
		attach(keep);
	if (s == NO_POLICY) {
		ms = run_ctl(TMP "/out", (const char *[]){ "policy", "unload", NULL });
	} else {
		policy_file(state_rules[s], file, sizeof(file));
		ms = run_ctl(TMP "/out", (const char *[]){ "policy", "load", file, NULL });
	}
	if (keep)
		add(loads[s], ms);
}

/*
 * The guest's CPU time busy (all CPUs, USER_HZ ticks) so far, from
 * /proc/stat's first line: everything but idle and iowait.
 */
static unsigned long long busy_ticks(void)
{
	unsigned long long v[8] = { 0 }, busy = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		die("cannot read /proc/stat");
	fclose(f);
	for (int i = 0; i < 8; i++)
		if (i != 3 && i != 4)	/* idle, iowait */
			busy += v[i];
	return busy;
}

#define SETTLE_WINDOW_MS	250
#define SETTLE_BUSY_TICKS	2	/* 20 ms of a window's 500 ms of CPU time */
#define SETTLE_MAX_MS		30000

/*
 * Wait until the guest is idle: a window of SETTLE_WINDOW_MS with at most
 * SETTLE_BUSY_TICKS of CPU time used while this process sleeps. A state
 * change leaves work behind it after mktmectl exits: the maps a load
 * replaced are freed by the kernel's workqueues after a grace period
 * (bpf_map_put() in kernel/bpf/syscall.c), the programs a detach dropped
 * likewise. Under TCG both vCPUs share one host thread, so that work would
 * run inside the state's timed blocks and charge it to the hot path.
 * Returns the ms waited, the load's aftermath (the report shows it).
 */
static double settle(void)
{
	double t0 = now_us(), ms;

	for (;;) {
		unsigned long long b0 = busy_ticks(), b1;

		usleep(SETTLE_WINDOW_MS * 1000);
		b1 = busy_ticks();
		ms = (now_us() - t0) / 1e3;
		if (b1 - b0 <= SETTLE_BUSY_TICKS)
			return ms - SETTLE_WINDOW_MS;
		if (ms > SETTLE_MAX_MS)
			die("the guest is still busy %d ms after a state change (%llu ticks in the last %d ms)",
			    SETTLE_MAX_MS, b1 - b0, SETTLE_WINDOW_MS);
	}
}

/* One cycle of the hot path; dies on any refusal: only allowed cycles count. */
static void cycle(key_serial_t key, bool touch)
{
	int fd = open("/dev/mktme", O_RDWR | O_CLOEXEC);
	char *p;

	if (fd < 0)
		die("open /dev/mktme: %s", strerror(errno));
	if (ioctl(fd, MKTME_IOC_SET_KEY, (unsigned long)key))
		die("MKTME_IOC_SET_KEY: %s (the policy must allow the cycle)", strerror(errno));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap: %s (the policy must allow the cycle)", strerror(errno));
	if (touch)
		*(volatile char *)p = 1;
	if (munmap(p, 4096))
		die("munmap: %s", strerror(errno));
	close(fd);
}

/* The decision programs (by name; nop-progs': theirs) attached now, up to @max: their fds. */
static int decision_progs(enum state s, int *fds, int max)
{
	const char *bind = s == NOP_PROGS ? "nop_bind" : "mktme_bind";
	const char *mmap = s == NOP_PROGS ? "nop_mmap" : "mktme_mmap";

	__u32 id = 0;
	int n = 0;

	while (n < max && !bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;	/* gone meanwhile */
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    (!strcmp(info.name, bind) || !strcmp(info.name, mmap)))
			fds[n++] = fd;
		else
			close(fd);
	}
	return n;
}

/* The summed run time (ns) and run count of @fds. */
static void progs_run(const int *fds, int n, __u64 *ns, __u64 *cnt)
{
	*ns = *cnt = 0;
	for (int i = 0; i < n; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fds[i], &info, &len))
			die("reading the statistics of a decision program: %s", strerror(errno));
		*ns += info.run_time_ns;
		*cnt += info.run_cnt;
	}
}

/*
 * The programs' time per decision in state @s (attached): stat_blocks
 * blocks per caller with the statistics on; each block's µs per decision.
 */
static void measure_progs(enum state s, key_serial_t key, bool keep)
{
	int fds[4], n, stats_fd;

	n = decision_progs(s, fds, 4);
	if (n != 2)
		die("%d decision programs attached in %s (mktme_bind and mktme_mmap: 2)", n, state_names[s]);
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		die("BPF_ENABLE_STATS: %s", strerror(errno));
	for (int k = 0; k < NR_SUBS; k++) {
		json_object *blk = json_object_new_array();

		cg_enter(sub_depth[k]);
		for (int b = 0; b < stat_blocks; b++) {
			__u64 ns0, c0, ns1, c1;

			progs_run(fds, n, &ns0, &c0);
			for (long i = 0; i < cycles; i++)
				cycle(key, sub_touch[k]);
			progs_run(fds, n, &ns1, &c1);
			if (c1 - c0 != 2 * (__u64)cycles)
				die("%llu decisions in a block of %ld cycles in %s (two per cycle)",
				    (unsigned long long)(c1 - c0), cycles, state_names[s]);
			add(blk, (double)(ns1 - ns0) / (c1 - c0) / 1e3);
		}
		if (keep)
			json_object_array_add(prog[s][k], blk);
		else
			json_object_put(blk);
	}
	close(stats_fd);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void measure(enum state s, int round, bool keep)
{
	json_object *blk[NR_SUBS];
	key_serial_t key;

	/* Made where the programs see it made, if they run: the depth-10 caller. */
	cg_enter(MAX_LEVEL);
	key = add_key("mktme", KEY_NAME, "type=cpu algorithm=aes-xts-128", 30,
		      KEY_SPEC_PROCESS_KEYRING);
	if (key < 0)
		die("add_key in %s: %s", state_names[s], strerror(errno));
	/*
	 * Short blocks, the callers interleaved block by block: the host
	 * (2 cores, shared) takes the emulated CPUs away for milliseconds at
	 * a time, and a block short enough to fall between two such pauses
	 * measures the path itself. bench/report.py takes each visit's
	 * fastest block; every block is kept in the raw samples.
	 */
	for (int k = 0; k < NR_SUBS; k++)
		blk[k] = json_object_new_array();
	for (int b = 0; b < blocks; b++) {
		for (int k = 0; k < NR_SUBS; k++) {
			int sub = (k + b + round) % NR_SUBS;
			double t0;

			cg_enter(sub_depth[sub]);
			t0 = now_us();
			for (long i = 0; i < cycles; i++)
				cycle(key, sub_touch[sub]);
			add(blk[sub], (now_us() - t0) / cycles);
		}
	}
	for (int k = 0; k < NR_SUBS; k++) {
		if (keep)
			json_object_array_add(cost[s][k], blk[k]);
		else
			json_object_put(blk[k]);
	}
	if (s != NO_BPF)
		measure_progs(s, key, keep);
	/* Gone before the next state: its KeyID goes back to the pool. */
	if (keyctl_invalidate(key))
		die("keyctl_invalidate: %s", strerror(errno));
	cg_enter(0);
}

/* The compiled size of state @s's policy, from the dry run's JSON. */
static void record_entries(enum state s)
{
	char file[128];
	json_object *o, *v;

	policy_file(state_rules[s], file, sizeof(file));
	run_ctl(TMP "/dry.json", (const char *[]){ "-j", "policy", "load", "--dry-run", file, NULL });
	o = json_object_from_file(TMP "/dry.json");
	if (!o || !json_object_object_get_ex(o, "map_entries", &v))
		die("no map_entries in the dry run of %s", file);
	json_object_object_add(entries, state_names[s], json_object_get(v));
	json_object_put(o);
}

int main(int argc, char **argv)
{
	json_object *root = json_object_new_object(), *c, *l, *st, *pr;
	struct utsname u;
	char file[128];

	if (argc < 3) {
		fprintf(stderr, "usage: policy_bench OUT.json MKTMECTL [ROUNDS [CYCLES [BLOCKS]]]\n");
		return 2;
	}
	ctl = argv[2];
	if (argc > 3)
		rounds = atoi(argv[3]);
	if (argc > 4)
		cycles = atol(argv[4]);
	if (argc > 5)
		blocks = atoi(argv[5]);
	if (rounds < 1 || cycles < 1 || blocks < 1) {
		fprintf(stderr, "policy_bench: ROUNDS, CYCLES and BLOCKS >= 1\n");
		return 2;
	}
	if (mkdir(TMP, 0700) && errno != EEXIST)
		die("mkdir " TMP ": %s", strerror(errno));
	cg_setup(true);
	for (int s = 0; s < NR_STATES; s++) {
		if (state_rules[s] >= 0) {
			policy_file(state_rules[s], file, sizeof(file));
			write_policy(file, state_rules[s]);
		}
		loads[s] = json_object_new_array();
		settles[s] = json_object_new_array();
		for (int k = 0; k < NR_SUBS; k++) {
			cost[s][k] = json_object_new_array();
			prog[s][k] = json_object_new_array();
		}
	}
	attaches = json_object_new_array();
	detaches = json_object_new_array();
	dry_runs = json_object_new_array();
	checks = json_object_new_array();
	copy_beside(argv[1], 10000);
	entries = json_object_new_object();
	for (int s = RULES_1; s < NR_STATES; s++)
		record_entries(s);

	/* Round 0 not counted: first-use costs (pages of mktmectl, map memory). */
	for (int r = 0; r <= rounds; r++) {
		for (int k = 0; k < NR_STATES; k++) {
			enum state s = (k + r) % NR_STATES;

			double ms;

			enter(s, r > 0);
			ms = settle();
			if (r > 0)
				add(settles[s], ms);
			measure(s, r, r > 0);
		}
		/* The compile alone, no map written: where a load's time goes. */
		policy_file(10000, file, sizeof(file));
		if (r > 0) {
			add(dry_runs, run_ctl(TMP "/out", (const char *[]){ "policy", "load", "--dry-run", file, NULL }));
			add(checks, run_ctl(TMP "/out", (const char *[]){ "policy", "check", "--offline", file, NULL }));
		}
		fprintf(stderr, "policy_bench: round %d of %d done\n", r, rounds);
	}
	enter(NO_BPF, false);
	cg_setup(false);

	uname(&u);
	json_object_object_add(root, "kernel", json_object_new_string(u.release));
	json_object_object_add(root, "rounds", json_object_new_int(rounds));
	json_object_object_add(root, "cycles", json_object_new_int64(cycles));
	json_object_object_add(root, "blocks", json_object_new_int(blocks));
	json_object_object_add(root, "cycle", json_object_new_string(
		"open /dev/mktme, MKTME_IOC_SET_KEY, mmap 4 KiB, [write one byte], munmap, close"));
	c = json_object_new_object();
	l = json_object_new_object();
	st = json_object_new_object();
	pr = json_object_new_object();
	for (int s = 0; s < NR_STATES; s++) {
		json_object *o = json_object_new_object(), *po = json_object_new_object();

		for (int k = 0; k < NR_SUBS; k++) {
			json_object_object_add(o, sub_names[k], cost[s][k]);
			json_object_object_add(po, sub_names[k], prog[s][k]);
		}
		json_object_object_add(c, state_names[s], o);
		json_object_object_add(st, state_names[s], settles[s]);
		if (s != NO_BPF)
			json_object_object_add(pr, state_names[s], po);
		else
			json_object_put(po);
		if (s != NO_BPF && s != NOP_PROGS)
			json_object_object_add(l, state_names[s], loads[s]);
		else
			json_object_put(loads[s]);
	}
	json_object_object_add(root, "cost_us", c);
	json_object_object_add(root, "prog_us_per_decision", pr);
	json_object_object_add(root, "stat_blocks", json_object_new_int(stat_blocks));
	json_object_object_add(root, "load_ms", l);
	json_object_object_add(root, "settle_ms", st);
	json_object_object_add(root, "first_attach_ms", json_object_new_double(first_attach_ms));
	json_object_object_add(root, "attach_ms", attaches);
	json_object_object_add(root, "detach_ms", detaches);
	json_object_object_add(root, "dry_run_10000_ms", dry_runs);
	json_object_object_add(root, "check_offline_10000_ms", checks);
	json_object_object_add(root, "map_entries", entries);
	if (json_object_to_file_ext(argv[1], root, JSON_C_TO_STRING_PRETTY))
		die("writing %s: %s", argv[1], json_util_get_last_err());
	json_object_put(root);
	return 0;
}
