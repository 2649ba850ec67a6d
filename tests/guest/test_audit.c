// SPDX-License-Identifier: GPL-2.0
/*
 * The audit streams under a flood (issue 10 §4), in the guest, as root:
 * one tenant's allows never take the place of another tenant's denials,
 * `audit: denials` logs no allow but counts every one, a full denial ring
 * buffer is counted and shows as a gap in the sequence numbers, and a
 * second reader is refused, naming the first, instead of stealing records.
 *
 * A tenant's own flood of denials, over the denial_records_per_second the
 * policy gives its subtree, is counted rather than logged, and cannot push
 * another tenant's denials out either.
 *
 * Every test drains the streams first (mktmectl audit), so that it reads
 * only what it caused. The programs stay attached between tests and are
 * detached at the end, as in test_policy.
 */
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"
#include "../../bpf/mktme_policy.h"

#define CG_ROOT "/sys/fs/cgroup"
#define CG "/mktme-audit"
#define POLICY_FILE "/tmp/mktme-audit-policy.yaml"
#define FLOOD_UID 1234

/* flood/own: a cgroup the flood tenant made itself in its delegated subtree. */
static const char *const cgroups[] = { CG, CG "/flood", CG "/flood/own", CG "/victim" };

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void load(const char *yaml)
{
	int rc;

	write_file(POLICY_FILE, yaml);
	rc = guest_sh(NULL, "%s policy load %s >&2", guest_ctl(), POLICY_FILE);
	cr_assert_eq(rc, 0, "mktmectl policy load: exit %d", rc);
}

/* Read (and so empty) both streams: what a test reads next is its own. */
static void drain(void)
{
	cr_assert_eq(guest_sh(NULL, "%s audit >/dev/null", guest_ctl()), 0, "mktmectl audit");
}

static void cg_enter(const char *cg)
{
	char path[256], pid[32];
	int fd;

	snprintf(path, sizeof(path), CG_ROOT "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(120);
	close(fd);
}

/* open + SET_KEY: 0 or an errno (the child's; no assertions). */
static int bind_key(key_serial_t key, int *fdp)
{
	int fd = open(MKTME_DEV, O_RDWR | O_CLOEXEC), err;

	if (fd < 0)
		return 100;
	err = ioctl(fd, MKTME_IOC_SET_KEY, (unsigned long)key) ? errno : 0;
	if (fdp && !err)
		*fdp = fd;
	else
		close(fd);
	return err;
}

/*
 * In cgroup @cg, bind @key @n times: a child that exits 0 if every bind
 * gave @want, 1 otherwise.
 */
static void binds_in(const char *cg, key_serial_t key, int n, int want)
{
	pid_t pid = fork();
	int st;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int wrong = 0;

		cg_enter(cg);
		for (int i = 0; i < n; i++)
			wrong += bind_key(key, NULL) != want;
		if (wrong)
			fprintf(stderr, "%d of %d binds in %s did not give %d\n", wrong, n, cg, want);
		_exit(wrong ? 1 : 0);
	}
	st = guest_wait_child(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "binds in %s: status %d", cg, st);
}

/* ---- counting in the audit output --------------------------------------- */

/* Lines of @text holding every one of @a, @b and @c (NULL: any). */
static long lines_with(const char *text, const char *a, const char *b, const char *c)
{
	long n = 0;

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char *line = strndup(l, len);

		n += line && strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c));
		free(line);
		l = end ? end + 1 : NULL;
	}
	return n;
}

/* The sum of the numbers after @field on lines with @a and @b. */
static unsigned long long sum_of(const char *text, const char *field, const char *a, const char *b)
{
	unsigned long long sum = 0;

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char *line = strndup(l, len), *f;

		if (line && strstr(line, a) && (!b || strstr(line, b)) && (f = strstr(line, field)))
			sum += strtoull(f + strlen(field), NULL, 10);
		free(line);
		l = end ? end + 1 : NULL;
	}
	return sum;
}

static int cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * The sequence numbers of the lines with @a and @b must be @n distinct,
 * consecutive numbers; the first is returned.
 */
static unsigned long long assert_consecutive(const char *text, const char *a, const char *b, long n)
{
	unsigned long long *seq = calloc(n + 1, sizeof(*seq));
	long k = 0;

	cr_assert_not_null(seq);
	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char *line = strndup(l, len), *f;

		if (line && strstr(line, a) && strstr(line, b) && (f = strstr(line, "\"seq\":"))) {
			cr_assert_lt(k, n, "more than %ld records", n);
			seq[k++] = strtoull(f + 6, NULL, 10);
		}
		free(line);
		l = end ? end + 1 : NULL;
	}
	cr_assert_eq(k, n, "%ld records with a seq, want %ld", k, n);
	qsort(seq, n, sizeof(*seq), cmp_u64);
	for (long i = 1; i < n; i++)
		cr_assert_eq(seq[i], seq[i - 1] + 1, "seq %llu then %llu: not consecutive", seq[i - 1],
			     seq[i]);
	k = seq[0];
	free(seq);
	return k;
}

/* The programs' counters for (@cg, @key), from the pinned map: zeros if none yet. */
static struct mktme_pol_counter counter(const char *cg, const char *key)
{
	struct mktme_pol_count_key k;
	struct mktme_pol_counter c;
	char path[300], name[MKTME_NAME_LEN];
	struct stat st;
	int fd = bpf_obj_get(MKTME_PIN_DIR "/mktme_counters");

	cr_assert_geq(fd, 0, "bpf_obj_get mktme_counters: %s", strerror(errno));
	snprintf(path, sizeof(path), CG_ROOT "%s", cg);
	/* A cgroup v2 directory's inode number is its cgroup id. */
	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	memset(&k, 0, sizeof(k));
	k.cgid = st.st_ino;
	memset(name, 0, sizeof(name));
	snprintf(name, sizeof(name), "%s", key);
	k.name_fp = mktme_name_fp(name);
	memset(&c, 0, sizeof(c));
	if (bpf_map_lookup_elem(fd, &k, &c)) {
		cr_assert_eq(errno, ENOENT, "lookup (%s, %s): %s", cg, key, strerror(errno));
		memset(&c, 0, sizeof(c));
	}
	close(fd);
	return c;
}

/* One number of `mktmectl -j status`. */
static unsigned long long status_num(const char *field)
{
	char *out, want[64], *f;
	unsigned long long v;

	guest_sh(&out, "%s -j status", guest_ctl());
	snprintf(want, sizeof(want), "\"%s\":", field);
	f = strstr(out, want);
	cr_assert_not_null(f, "no %s in status: %s", field, out);
	v = strtoull(f + strlen(want), NULL, 10);
	free(out);
	return v;
}

/* ---- setup -------------------------------------------------------------- */

static pid_t reader_pid;

static void cleanup(void)
{
	if (reader_pid > 0) {
		kill(reader_pid, SIGKILL);
		waitpid(reader_pid, NULL, 0);
		reader_pid = 0;
	}
	guest_sh(NULL, "%s policy unload >/dev/null 2>&1", guest_ctl());
	keyctl_clear(KEY_SPEC_SESSION_KEYRING);
	for (int i = sizeof(cgroups) / sizeof(cgroups[0]) - 1; i >= 0; i--) {
		char path[256];

		snprintf(path, sizeof(path), CG_ROOT "%s", cgroups[i]);
		rmdir(path);
	}
}

static key_serial_t KA, KB;

static void setup(void)
{
	setenv("MKTME_STATE_DIR", "/tmp/mktme-audit-state", 1);
	cleanup();
	cr_assert_geq(keyctl_join_session_keyring(NULL), 0, "session keyring: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), CG_ROOT "%s", cgroups[i]);
		cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
			  strerror(errno));
	}
	KA = add_key(MKTME_KEY_TYPE, "ka", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		     KEY_SPEC_SESSION_KEYRING);
	KB = add_key(MKTME_KEY_TYPE, "kb", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
		     KEY_SPEC_SESSION_KEYRING);
	cr_assert(KA > 0 && KB > 0, "add_key: %s", strerror(errno));
}

TestSuite(audit, .init = setup, .fini = cleanup, .timeout = GUEST_TIMEOUT(900));

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	guest_sh(NULL, "%s policy unload --detach >/dev/null 2>&1", guest_ctl());
}

/*
 * Whether @pid holds a POSIX lock (the audit stream's, tools/mktmectl/
 * audit_lock.c), from /proc/locks: looking takes no lock. Asking with
 * `mktmectl audit` did: a poll that held the stream at the moment the
 * reader started got the reader refused, and every poll after that read
 * the stream itself (under the debug kernel, 45 minutes of polls).
 */
static bool holds_posix_lock(pid_t pid)
{
	char line[256], kind[16];
	bool found = false;
	FILE *f = fopen("/proc/locks", "r");
	int p;

	cr_assert_not_null(f, "/proc/locks: %s", strerror(errno));
	/* "1: POSIX  ADVISORY  WRITE 284 00:1a:1234 0 EOF"; a waiter's has "->". */
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*d: %15s %*s %*s %d", kind, &p) == 2 &&
			!strcmp(kind, "POSIX") && p == pid;
	fclose(f);
	return found;
}

/*
 * `mktmectl -j audit --follow` into @log, returned once it holds the
 * streams: until then a second reader still gets them, after that it is
 * refused (exit 1), and *@refusal says how.
 */
static pid_t start_reader(const char *log, char **refusal)
{
	char *out = NULL;
	int rc, st;

	reader_pid = fork();
	cr_assert_neq(reader_pid, -1);
	if (reader_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		execl(guest_ctl(), "mktmectl", "-j", "audit", "--follow", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; !holds_posix_lock(reader_pid); i++) {
		cr_assert_neq(waitpid(reader_pid, &st, WNOHANG), reader_pid,
			      "the reader exited (status %d) before it held the stream", st);
		cr_assert_lt(i, 300 * guest_timeout_factor(), "the reader never held the stream");
		usleep(100 * 1000);
	}
	rc = guest_sh_all(&out, "%s audit", guest_ctl());
	cr_assert_eq(rc, 1, "a second reader: exit %d: %s", rc, out);
	*refusal = out;
	return reader_pid;
}

/* Wait until @log has @n lines with @a and @b; its content. */
static char *wait_lines(const char *log, const char *a, const char *b, long n)
{
	char *s = NULL;

	for (int i = 0; i < 600 * guest_timeout_factor(); i++) {
		free(s);
		s = guest_read_file(log, NULL);
		if (s && lines_with(s, a, b, NULL) >= n)
			break;
		usleep(100 * 1000);
	}
	cr_assert_not_null(s, "%s: %s", log, strerror(errno));
	return s;
}

/* SIGTERM to the reader; it must exit 0, having read the rest. */
static void stop_reader(void)
{
	int st;

	kill(reader_pid, SIGTERM);
	st = guest_wait_child(reader_pid);
	reader_pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reader: status %d", st);
}

/* The flood tenant may use ka, as uid FLOOD_UID; the victim may use nothing. */
#define TENANTS(audit)                                                               \
	"version: 1\naudit: " audit "\ndefault: deny\nrules:\n"                      \
	"  - {cgroup: " CG "/flood, uid: 1234, keys: [ka], verdict: allow}\n"

/* ---- tests -------------------------------------------------------------- */

/*
 * The case: tenant "flood" (its own cgroup and uid) maps its key
 * as fast as it can, every call an allow that `audit: all` logs, and does
 * not stop while tenant "victim" is denied 1,000 times. Nobody reads until
 * the end: the worst case, a reader stalled. All 1,000 denials must be
 * there, with consecutive sequence numbers; the allows that did not fit
 * are reported as dropped, not passed over.
 */
Test(audit, a_flood_of_allows_hides_no_denial)
{
	volatile unsigned long *done = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
					    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long floods;
	char *out;
	pid_t flood;
	int st;

	cr_assert_neq((void *)done, MAP_FAILED);
	load(TENANTS("all"));
	drain();
	flood = fork();
	cr_assert_neq(flood, -1);
	if (flood == 0) {
		int fd = -1;

		cg_enter(CG "/flood");
		if (setuid(FLOOD_UID))
			_exit(121);
		if (bind_key(KA, &fd))
			_exit(122);
		for (;;) {
			char *p = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			if (p == MAP_FAILED)
				_exit(123);
			munmap(p, PAGE_SZ);
			__atomic_add_fetch(done, 1, __ATOMIC_RELAXED);
		}
	}
	/* More allows than their ring holds before the first denial. */
	for (int i = 0; i < 600 * guest_timeout_factor() && *done < 4000; i++)
		usleep(100 * 1000);
	cr_assert_geq(*done, 4000, "the flood made %lu calls in a minute", *done);
	binds_in(CG "/victim", KA, 1000, EPERM);
	floods = *done;
	kill(flood, SIGKILL);
	st = guest_wait_child(flood);
	cr_assert(WIFSIGNALED(st), "the flood stopped by itself: status %d", st);
	fprintf(stderr, "flood: %lu allowed mmaps\n", floods);

	cr_assert_eq(guest_sh(&out, "%s -j audit", guest_ctl()), 0);
	cr_assert_eq(lines_with(out, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", NULL), 1000,
		     "not every one of the 1,000 denials was delivered");
	assert_consecutive(out, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", 1000);
	cr_assert_eq(lines_with(out, "\"missing\":", "\"stream\":\"denials\"", NULL), 0);
	cr_assert_gt(lines_with(out, "\"stream\":\"allows\"", "\"verdict\":\"allow\"", "\"uid\":1234"), 0,
		     "audit: all logs allows");
	cr_assert_gt(sum_of(out, "\"dropped\":", "\"stream\":\"allows\"", NULL), 0,
		     "allows that did not fit are not reported dropped");
	free(out);
	munmap((void *)done, PAGE_SZ);
}

/*
 * The default, `audit: denials`: no allow is logged, every allow is still
 * counted, and a denial is both in the stream and, for bpftool, in
 * mktme_denials_last at its sequence number.
 */
Test(audit, denials_only_logs_no_allow_and_counts_it)
{
	unsigned long long before, after, seq, slot;
	char *out, cmd[256], want[64];

	load(TENANTS("denials"));
	drain();
	before = counter(CG "/flood", "ka").bind_allowed;
	{
		pid_t pid = fork();
		int st;

		cr_assert_neq(pid, -1);
		if (pid == 0) {
			int wrong = 0;

			cg_enter(CG "/flood");
			if (setuid(FLOOD_UID))
				_exit(121);
			for (int i = 0; i < 10; i++)
				wrong += bind_key(KA, NULL) != 0;
			_exit(wrong);
		}
		st = guest_wait_child(pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "allowed binds: status %d", st);
	}
	binds_in(CG "/flood", KB, 1, EPERM);
	after = counter(CG "/flood", "ka").bind_allowed;
	cr_assert_eq(after - before, 10, "10 allowed binds, counted %llu", after - before);

	cr_assert_eq(guest_sh(&out, "%s -j audit", guest_ctl()), 0);
	cr_assert_eq(lines_with(out, "\"verdict\":\"allow\"", NULL, NULL), 0, "an allow was logged: %s", out);
	cr_assert_eq(lines_with(out, "\"stream\":\"denials\"", "\"key\":\"kb\"", "\"cgroup\":\"" CG "/flood\""), 1,
		     "%s", out);
	seq = assert_consecutive(out, "\"stream\":\"denials\"", "\"key\":\"kb\"", 1);
	free(out);

	/* bpftool shows the same record, field by field (BTF), at slot seq % 1024. */
	slot = seq % MKTME_DENIALS_LAST;
	snprintf(cmd, sizeof(cmd), "bpftool map lookup pinned %s/mktme_denials_last key hex %02llx %02llx 00 00",
		 MKTME_PIN_DIR, slot & 0xff, slot >> 8);
	cr_assert_eq(guest_sh(&out, "%s", cmd), 0, "%s", cmd);
	snprintf(want, sizeof(want), "\"seq\": %llu,", seq);
	cr_assert(strstr(out, want) && strstr(out, "\"key\": \"kb\""), "bpftool, want %s: %s", want, out);
	free(out);
}

/*
 * A reader that stalls (SIGSTOP) while more denials come than mktme_denials
 * holds: the ones that did not fit are counted (status says so), and when
 * the reader goes on it reports exactly that many missing sequence numbers
 * and the kernel's dropped count, and gets the next denial.
 */
Test(audit, a_full_denial_ring_is_counted_and_shows_as_a_gap)
{
	const char *log = "/tmp/mktme-audit-stalled.json";
	const long n = MKTME_DENIALS_BYTES / (sizeof(struct mktme_pol_event) + 8) + 500;
	unsigned long long lost0, lost;
	char total[64], *out;
	long got;

	load(TENANTS("denials"));
	drain();
	lost0 = status_num("denials_lost");
	start_reader(log, &out);
	free(out);
	cr_assert_eq(kill(reader_pid, SIGSTOP), 0);
	binds_in(CG "/victim", KB, n, EPERM);
	lost = status_num("denials_lost") - lost0;
	cr_assert_gt(lost, 0, "%ld denials, none lost: the ring is bigger than this test thinks", n);
	guest_sh(&out, "%s status", guest_ctl());
	cr_assert(strstr(out, "DENIAL RECORDS LOST"), "status does not say so: %s", out);
	free(out);
	cr_assert_eq(kill(reader_pid, SIGCONT), 0);
	out = wait_lines(log, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", n - lost);
	free(out);
	/* Room again: the next denial is read, after the gap. */
	binds_in(CG "/victim", KB, 1, EPERM);
	out = wait_lines(log, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", n - lost + 1);
	free(out);
	stop_reader();

	out = guest_read_file(log, NULL);
	cr_assert_not_null(out);
	got = lines_with(out, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", NULL);
	cr_assert_eq((unsigned long long)got + lost, (unsigned long long)n + 1,
		     "%ld records read and %llu lost, of %ld denials", got, lost, n + 1);
	cr_assert_eq(sum_of(out, "\"missing\":", "\"stream\":\"denials\"", NULL), lost,
		     "the gap in the sequence numbers is not the %llu lost", lost);
	/* The reader reports what the kernel dropped, and the total since the load. */
	snprintf(total, sizeof(total), "\"dropped_total\":%llu,", lost0 + lost);
	cr_assert_eq(lines_with(out, total, "\"stream\":\"denials\"", NULL), 1,
		     "the reader did not report the %llu dropped: want %s", lost, total);
	free(out);
}

/*
 * A ring buffer has one consumer position: a second reader would take
 * records from the first. It is refused, naming the first; once the first
 * is gone, a reader gets the stream again.
 */
Test(audit, a_second_reader_is_refused_and_names_the_first)
{
	const char *log = "/tmp/mktme-audit-reader.json";
	char *out, want[64];
	int rc;

	load(TENANTS("denials"));
	drain();
	start_reader(log, &out);
	snprintf(want, sizeof(want), "being read by pid %d (", (int)reader_pid);
	cr_assert(strstr(out, want) && strstr(out, "audit --follow") && strstr(out, "Nothing was read"),
		  "want \"%s\": %s", want, out);
	free(out);
	cr_assert_eq(guest_sh(&out, "%s -j audit", guest_ctl()), 1);
	cr_assert(strstr(out, "\"error\":") && strstr(out, "being read by pid"), "%s", out);
	free(out);

	/* The first reader still gets every denial. */
	binds_in(CG "/victim", KB, 5, EPERM);
	out = wait_lines(log, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", 5);
	cr_assert_eq(lines_with(out, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", NULL), 5, "%s", out);
	free(out);

	stop_reader();
	rc = guest_sh_all(&out, "%s audit", guest_ctl());
	cr_assert_eq(rc, 0, "the stream is free again: exit %d: %s", rc, out);
	free(out);
}

static double boot_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_BOOTTIME, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

#define FLOOD_RATE 20

/*
 * One tenant's flood of *denials*: tenant "flood", from a cgroup it made
 * itself below its own (so making cgroups gains it no budget), is denied
 * as fast as it can, more times than mktme_denials holds, and goes on while
 * tenant "victim" is denied 1,000 times. Nobody reads until the end. The
 * policy gives the flood's subtree FLOOD_RATE denial records a second:
 * every one of the victim's denials is delivered and none is lost; the
 * flood's records stay within its budget; and every flood denial is either
 * logged or counted as suppressed, the count carried by the subtree's next
 * record. Without the budget the victim's denials are lost to the full ring.
 */
Test(audit, a_flood_of_denials_hides_no_other_tenants_denial)
{
	volatile unsigned long *done = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
					    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const long ring = MKTME_DENIALS_BYTES / (sizeof(struct mktme_pol_event) + 8);
	unsigned long long lost0, supp0, supp, claimed;
	unsigned long floods;
	double t0, elapsed;
	long logged;
	char *out;
	pid_t flood;
	int st;

	cr_assert_neq((void *)done, MAP_FAILED);
	load("version: 1\ndefault: deny\n"
	     "limits:\n  - {cgroup: " CG "/flood, denial_records_per_second: 20}\n"
	     "rules:\n  - {cgroup: " CG "/flood, uid: 1234, keys: [ka], verdict: allow}\n");
	/* What the maps hold, read back: the budget survives the compile. */
	cr_assert_eq(guest_sh(&out, "%s -j policy show", guest_ctl()), 0);
	cr_assert(strstr(out, "\"denial_records_per_second\":20"), "%s", out);
	free(out);
	drain();
	lost0 = status_num("denials_lost");
	supp0 = status_num("denials_suppressed");
	t0 = boot_seconds();
	flood = fork();
	cr_assert_neq(flood, -1);
	if (flood == 0) {
		cg_enter(CG "/flood/own");
		if (setuid(FLOOD_UID))
			_exit(121);
		for (;;) {
			if (bind_key(KB, NULL) != EPERM)
				_exit(122);
			__atomic_add_fetch(done, 1, __ATOMIC_RELAXED);
		}
	}
	/* More denials than their ring holds before the victim's first. */
	for (int i = 0; i < 1200 * guest_timeout_factor() && *done < (unsigned long)ring + 1000; i++)
		usleep(100 * 1000);
	cr_assert_geq(*done, ring + 1000, "the flood made %lu calls in two minutes", *done);
	binds_in(CG "/victim", KB, 1000, EPERM);
	kill(flood, SIGKILL);
	st = guest_wait_child(flood);
	elapsed = boot_seconds() - t0;
	cr_assert(WIFSIGNALED(st), "the flood stopped by itself: status %d", st);
	floods = *done;
	supp = status_num("denials_suppressed") - supp0;
	fprintf(stderr, "flood: %lu denials in %.1f s, %llu suppressed\n", floods, elapsed, supp);
	guest_sh(&out, "%s status", guest_ctl());
	cr_assert(strstr(out, "denials not logged: over their cgroup's denial_records_per_second"), "%s", out);
	free(out);

	cr_assert_eq(guest_sh(&out, "%s -j audit", guest_ctl()), 0);
	cr_assert_eq(lines_with(out, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/victim\"", NULL), 1000,
		     "not every one of the victim's 1,000 denials was delivered");
	cr_assert_eq(lines_with(out, "\"missing\":", NULL, NULL), 0, "records were lost");
	cr_assert_eq(status_num("denials_lost"), lost0, "records were lost");
	logged = lines_with(out, "\"stream\":\"denials\"", "\"cgroup\":\"" CG "/flood/own\"", NULL);
	cr_assert_eq(lines_with(out, "\"cgroup\":\"" CG "/flood/own\"", "\"budget_cgroup\":\"" CG "/flood\"", NULL),
		     logged, "a flood record not under its subtree's budget");
	cr_assert_leq(logged, (long)(FLOOD_RATE * (elapsed + 1)) + 1,
		      "%ld flood records in %.1f s: over %d a second and a second's burst", logged, elapsed,
		      FLOOD_RATE);
	cr_assert_gt(supp, 0);
	/* Each denial logged or suppressed; the one in flight when killed may be either. */
	cr_assert(logged + supp == floods || logged + supp == floods + 1,
		  "%ld logged + %llu suppressed, of %lu denials", logged, supp, floods);
	claimed = sum_of(out, "\"suppressed_before\":", "\"cgroup\":\"" CG "/flood/own\"", NULL);
	free(out);

	/* After a second's pause the subtree logs again, carrying the rest of the count. */
	usleep(1100 * 1000);
	binds_in(CG "/flood/own", KB, 1, EPERM);
	cr_assert_eq(guest_sh(&out, "%s -j audit", guest_ctl()), 0);
	cr_assert_eq(lines_with(out, "\"cgroup\":\"" CG "/flood/own\"", NULL, NULL), 1, "%s", out);
	cr_assert_eq(claimed + sum_of(out, "\"suppressed_before\":", "\"cgroup\":\"" CG "/flood/own\"", NULL),
		     supp, "the records do not account for the %llu suppressed: %s", supp, out);
	free(out);
	munmap((void *)done, PAGE_SZ);
}
