// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz /dev/mktme from several processes and threads at once, in the guest
 * (`make fuzz-kernel`, mk/fuzz.mk; never on the host). The operations and
 * what each checks are in fuzz_device_ops.c.
 *
 *   fuzz_device [--seed N] [--seconds S | --ops LIST] [--procs P] [--threads T]
 *               [--settle S] [--memfree-slack MB] [-v]
 *
 * P processes of T threads; the odd-numbered processes run as uid 65534
 * without capabilities (RLIMIT_MEMLOCK and the key quota apply to them).
 * Thread t of process p draws its operations from its own stream, seeded
 * from N, p and t alone, so what it does does not depend on the others. The
 * run ends at the deadline; each thread's operation count is printed as an
 * --ops LIST ("p.t=COUNT,..."), which with the same seed replays the same
 * sequence of operations, each with the same seed for its own choices, in
 * each thread. The kernel's answers can differ between runs (the threads'
 * interleaving is the scheduler's, KeyIDs are shared), and an operation acts
 * on what its thread holds then: a replay is the same program, not
 * necessarily the same calls.
 *
 * At the end, with every worker gone: each number in /sys/kernel/mm/mktme/
 * (keyids_in_use, keyids_quarantined, pages_mapped, blocks, blocks_empty,
 * single_pages, and any the core adds) must come back to its value before
 * the run or below it, after giving back the empty blocks (blocks_drain), within --settle
 * seconds (keys die asynchronously); MemFree too, within --memfree-slack.
 * Anything else, a worker that hangs past the deadline, or a failed check
 * fails the run with the seed. Exit 0 only if all is well.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_device.h"

#define SYSFS		"/sys/kernel/mm/mktme"
#define MAX_COUNTERS	32
#define MAX_PROCS	16

struct options {
	uint64_t seed;
	double seconds;
	int procs, threads;
	double settle;
	long memfree_slack_kb;
	int verbose;
	/* --ops: per worker thread, 0 = until the deadline. */
	uint64_t ops[MAX_PROCS][FZ_MAX_THREADS];
	bool replay;
};

struct counters {
	int n;
	char name[MAX_COUNTERS][256];
	long value[MAX_COUNTERS];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
	struct fz_rng r = { x };

	return fz_next(&r);
}

/* ---- the kernel's numbers ----------------------------------------------------- */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v;
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%ld", &v) == 1;
	fclose(f);
	return ok ? v : -1;
}

static void write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	fputs(s, f);
	fclose(f);
}

/* Every file in /sys/kernel/mm/mktme that reads as one number. */
static int read_counters(struct counters *c)
{
	DIR *d = opendir(SYSFS);
	struct dirent *e;

	if (!d)
		return -1;
	c->n = 0;
	while ((e = readdir(d)) && c->n < MAX_COUNTERS) {
		char path[512];
		long v;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS "/%s", e->d_name);
		v = read_long(path);
		if (v < 0)
			continue;
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", e->d_name);
		c->value[c->n++] = v;
	}
	closedir(d);
	return 0;
}

static long counter(const struct counters *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name))
			return c->value[i];
	return -1;
}

static long meminfo_kb(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	size_t n = strlen(field);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

/* Free pages on the per-CPU lists are not in MemFree (6.12 NR_FREE_PAGES). */
static long pcp_free_kb(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long pages = 0, n;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	fclose(f);
	return pages * 4;
}

/* Give back what can be given back: empty blocks (and caches, the shrinkers). */
static long settled_memfree(void)
{
	sync();
	write_str("/proc/sys/vm/drop_caches", "3");
	write_str(SYSFS "/blocks_drain", "1");
	return meminfo_kb("MemFree") + pcp_free_kb();
}

/* ---- workers ------------------------------------------------------------------ */

static void *worker_thread(void *arg)
{
	struct fz_worker *w = arg;

	fz_self = w;
	fz_worker_init(w);
	while (w->max_ops ? w->op < w->max_ops : now() < w->deadline)
		fz_step(w);
	return NULL;
}

static void drop_privileges(void)
{
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
		perror("fuzz_device: dropping to uid 65534");
		exit(2);
	}
}

/* Operations done by each thread, shared with the parent for the replay line. */
static uint64_t (*done_ops)[FZ_MAX_THREADS];

/* Process @p: its threads, then one line each on stdout. Exit 1 on any failure. */
static void run_process(const struct options *o, int p, double deadline)
{
	struct fz_worker *w = calloc(o->threads, sizeof(*w));
	pthread_t tid[FZ_MAX_THREADS];
	struct fz_pool pool = { .lock = PTHREAD_MUTEX_INITIALIZER,
				.layout = PTHREAD_MUTEX_INITIALIZER };
	unsigned int next_uid = (unsigned int)p << 20;
	int failures = 0;

	if (!w)
		exit(2);
	if (p % 2)
		drop_privileges();
	fz_install_signals();
	for (int t = 0; t < o->threads; t++) {
		w[t] = (struct fz_worker){
			.proc = p, .thread = t, .unprivileged = p % 2, .seed = o->seed,
			.rng = { mix(o->seed ^ mix(((uint64_t)p << 32) | (uint64_t)t)) },
			.max_ops = o->ops[p][t], .deadline = deadline, .verbose = o->verbose,
			.pool = &pool, .next_uid = &next_uid, .map_budget = 24UL << 20,
		};
		if (pthread_create(&tid[t], NULL, worker_thread, &w[t])) {
			fprintf(stderr, "fuzz_device: cannot start thread %d.%d\n", p, t);
			exit(2);
		}
	}
	for (int t = 0; t < o->threads; t++) {
		struct fz_stats *s = &w[t].st;

		pthread_join(tid[t], NULL);
		failures += w[t].failures;
		done_ops[p][t] = w[t].op;
		printf("fuzz_device: worker %d.%d%s: %llu ops (%lu ok, %lu errors as allowed, %lu SIGBUS, "
		       "%lu forks, %lu pages touched), %d failures\n",
		       p, t, w[t].unprivileged ? " (uid 65534)" : "", (unsigned long long)w[t].op,
		       s->ok, s->errors, s->sigbus, s->forks, s->touched, w[t].failures);
	}
	fflush(stdout);
	/* Regions, mappings and keys go with the process: its exit is part of the test. */
	_exit(failures ? 1 : 0);
}

/* ---- options ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: fuzz_device [--seed N] [--seconds S | --ops LIST] [--procs P] [--threads T]\n"
		   "                   [--settle S] [--memfree-slack MB] [-v]\n"
		   "  --ops LIST  replay: p.t=COUNT,... as a run printed it (with its --seed)\n");
}

static int parse_ops(struct options *o, char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		int p, t;
		unsigned long long n;

		if (sscanf(tok, "%d.%d=%llu", &p, &t, &n) != 3 || p < 0 || p >= MAX_PROCS || t < 0 ||
		    t >= FZ_MAX_THREADS)
			return -1;
		o->ops[p][t] = n ? n : 1;
	}
	o->replay = true;
	return 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
	int factor = getenv("MKTME_TIMEOUT_FACTOR") ? atoi(getenv("MKTME_TIMEOUT_FACTOR")) : 1;

	*o = (struct options){ .seed = 1, .seconds = 60, .procs = 3, .threads = 3,
			       .settle = 60.0 * (factor > 0 ? factor : 1), .memfree_slack_kb = 16 << 10 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v")) {
			o->verbose = 1;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--seconds"))
			o->seconds = atof(v);
		else if (!strcmp(a, "--procs"))
			o->procs = atoi(v);
		else if (!strcmp(a, "--threads"))
			o->threads = atoi(v);
		else if (!strcmp(a, "--settle"))
			o->settle = atof(v);
		else if (!strcmp(a, "--memfree-slack"))
			o->memfree_slack_kb = atol(v) << 10;
		else if (!strcmp(a, "--ops")) {
			char *list = strdup(v);
			int err = list ? parse_ops(o, list) : -1;

			free(list);
			if (err)
				return -1;
		} else
			return -1;
	}
	if (o->procs < 1 || o->procs > MAX_PROCS || o->threads < 1 || o->threads > FZ_MAX_THREADS ||
	    o->seconds <= 0 || o->settle <= 0)
		return -1;
	return 0;
}

/* ---- the run ------------------------------------------------------------------ */

/* Wait for every worker; false if one failed or outlived @deadline + grace. */
static bool wait_workers(const struct options *o, pid_t *pids, double deadline)
{
	double limit = deadline + o->settle;
	bool ok = true;
	int left = o->procs;

	while (left > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid == 0) {
			if (now() > limit)
				break;
			usleep(100 * 1000);
			continue;
		}
		if (pid < 0)
			break;
		for (int p = 0; p < o->procs; p++) {
			if (pids[p] != pid)
				continue;
			pids[p] = 0;
			left--;
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				fprintf(stderr, "fuzz_device: FAIL seed %llu: worker %d %s %d\n",
					(unsigned long long)o->seed, p,
					WIFEXITED(status) ? "exited" : "killed by signal",
					WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
				ok = false;
			}
		}
	}
	for (int p = 0; p < o->procs; p++) {
		if (!pids[p])
			continue;
		fprintf(stderr, "fuzz_device: FAIL seed %llu: worker %d still running %.0f s after the "
			"deadline (a hang: see the guest's kernel log)\n",
			(unsigned long long)o->seed, p, now() - deadline);
		kill(pids[p], SIGKILL);
		ok = false;
	}
	return ok;
}

/* Every counter back to @base within the settle time; false and a line for each that is not. */
static bool settle_counters(const struct options *o, const struct counters *base, long memfree)
{
	double limit = now() + o->settle;
	struct counters c;
	long mf;
	bool ok;

	do {
		ok = true;
		mf = settled_memfree();
		if (read_counters(&c))
			return false;
		/* Lower is no leak: a run can also release what an earlier one
		 * left (a quarantined KeyID is retried when the pool runs dry). */
		for (int i = 0; i < base->n; i++)
			ok = ok && counter(&c, base->name[i]) <= base->value[i];
		ok = ok && mf >= memfree - o->memfree_slack_kb;
		if (!ok)
			usleep(200 * 1000);
	} while (!ok && now() < limit);
	for (int i = 0; i < base->n; i++) {
		long v = counter(&c, base->name[i]);

		if (v < 0 || v > base->value[i]) {
			fprintf(stderr, "fuzz_device: FAIL seed %llu: %s is %ld, %ld before the run "
				"(after %.0f s)\n", (unsigned long long)o->seed, base->name[i], v,
				base->value[i], o->settle);
			ok = false;
		}
	}
	if (mf < memfree - o->memfree_slack_kb) {
		fprintf(stderr, "fuzz_device: FAIL seed %llu: MemFree %ld kB, %ld kB before the run "
			"(more than %ld kB missing)\n", (unsigned long long)o->seed, mf, memfree,
			o->memfree_slack_kb);
		ok = false;
	}
	return ok;
}

int main(int argc, char **argv)
{
	struct options o;
	struct counters base;
	pid_t pids[MAX_PROCS];
	double start, deadline;
	long memfree;
	bool ok;

	if (parse_options(&o, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (access("/dev/mktme", R_OK | W_OK) || geteuid() != 0) {
		fprintf(stderr, "fuzz_device: needs root and /dev/mktme (the guest: make fuzz-kernel)\n");
		return 2;
	}
	memfree = settled_memfree();
	if (read_counters(&base) || counter(&base, "keyids_in_use") < 0) {
		fprintf(stderr, "fuzz_device: cannot read " SYSFS "\n");
		return 2;
	}
	printf("fuzz_device: seed %llu, %d processes x %d threads, %s; baseline:", (unsigned long long)o.seed,
	       o.procs, o.threads, o.replay ? "replaying --ops" : "until the deadline");
	for (int i = 0; i < base.n; i++)
		printf(" %s=%ld", base.name[i], base.value[i]);
	printf(" MemFree=%ld kB\n", memfree);
	fflush(stdout);

	done_ops = mmap(NULL, sizeof(uint64_t) * MAX_PROCS * FZ_MAX_THREADS, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (done_ops == MAP_FAILED) {
		perror("fuzz_device: mmap");
		return 2;
	}
	start = now();
	deadline = start + o.seconds;
	for (int p = 0; p < o.procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			perror("fuzz_device: fork");
			return 2;
		}
		if (pids[p] == 0)
			run_process(&o, p, deadline);
	}
	ok = wait_workers(&o, pids, o.replay ? start + 24 * 3600 : deadline);
	printf("fuzz_device: workers done after %.0f s; waiting up to %.0f s for the counters\n",
	       now() - start, o.settle);
	printf("fuzz_device: replay with: --seed %llu --procs %d --threads %d --ops ",
	       (unsigned long long)o.seed, o.procs, o.threads);
	for (int p = 0; p < o.procs; p++)
		for (int t = 0; t < o.threads; t++)
			printf("%s%d.%d=%llu", p || t ? "," : "", p, t, (unsigned long long)done_ops[p][t]);
	printf("\n");
	fflush(stdout);
	ok = settle_counters(&o, &base, memfree) && ok;
	printf("fuzz_device: %s (seed %llu)\n", ok ? "PASS" : "FAIL", (unsigned long long)o.seed);
	return ok ? 0 : 1;
}
