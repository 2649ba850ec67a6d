// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl daemon [--policy FILE] [--no-audit]
 *
 * Attaches (or adopts) the programs, loads FILE, and then keeps it in force:
 * reload on SIGHUP and when FILE's content changes, re-resolve every 2 s so
 * that cgroups created after the load get their rules and removed ones are
 * dropped, and stream the audit ring buffers as JSON lines on stdout. Exits
 * on SIGINT/SIGTERM (or a crash) leaving everything pinned: enforcement
 * stays, and the next daemon adopts the pins. A failing poll() or signalfd
 * exits 1, for systemd to restart it.
 *
 * With FILE the daemon owns the policy (owner.h): the command line's
 * `policy load`/`unload` are refused while it runs; with --force they are
 * done, and the daemon stands back (said once) until FILE changes, SIGHUP,
 * or its restart, then attaches the programs again if they were detached.
 * Programs detached without that (not through mktmectl) are attached again
 * at the next refresh. The refresh also reads FILE: inotify does not see
 * every write (a hard link in another directory, another mount namespace).
 * Cgroups the policy waits for are named whenever that set changes.
 *
 * A bad FILE at start: exit 2, the policy in force untouched. A bad FILE
 * later: logged with its position, the generation in force kept, and the
 * periodic re-resolution goes on with the last good content, never with
 * the rejected file.
 *
 * Following FILE: an inotify watch on its directory (and on the directory
 * its symlinks resolve to), and any event there makes the daemon read FILE
 * again and compare content. A name-based watch would miss a Kubernetes
 * ConfigMap update, where the kubelet swaps a "..data" symlink
 * (DIR/policy.yaml -> ..data/policy.yaml, ..data -> ..2026_12_02_...):
 * FILE's own name never appears in an event.
 *
 * The daemon is the audit streams' one reader (audit.h): under systemd its
 * stdout is the journal, which any number of readers can follow without
 * taking records from each other. If another reader holds the streams, it
 * says who, and takes them over when that reader is gone.
 *
 * Under systemd (Type=notify): READY=1 once the first policy is loaded and
 * enforced (or, without FILE, once the programs are attached), STATUS= with
 * the generation in force, STOPPING=1 on exit; log lines carry journald
 * priorities ("<3>") when stderr is the journal (JOURNAL_STREAM).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "audit.h"
#include "bpfobj.h"
#include "main.h"
#include "names.h"
#include "notify.h"
#include "owner.h"
#include "policy.h"

#define REFRESH_MS 2000	/* re-resolve cgroups */
#define STAT_MS 500		/* without a directory watch: read the file */
#define SETTLE_MS 20		/* let a burst of events (an editor, the kubelet) end */

static void journal_detect(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd(1): only when stderr is still that stream, not redirected. */
	cli.journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
		     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void logp(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logp(int prio, const char *fmt, ...)
{
	va_list ap;

	if (cli.journal)
		fprintf(stderr, "<%d>", prio);
	fprintf(stderr, "mktmectl daemon: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A policy diagnostic, one log line per line, at error priority. */
static void log_diag(const struct diag *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m) {
		diag_print(d, stderr);
		return;
	}
	diag_print(d, m);
	fclose(m);
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
		logp(LOG_ERR, "%s", l);
	free(text);
}

/* One version of the policy file's content. */
struct content {
	char *buf;
	size_t len;
	char err[128];	/* the file could not be read: why (buf NULL) */
};

static void content_free(struct content *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static bool content_same(const struct content *a, const struct content *b)
{
	if (a->err[0] || b->err[0])
		return !strcmp(a->err, b->err);
	return a->len == b->len && a->buf && b->buf && !memcmp(a->buf, b->buf, a->len);
}

/* FILE as it is now, through whatever symlinks lead to it. */
static void content_read(const char *file, struct content *c)
{
	struct stat st;
	int fd;

	memset(c, 0, sizeof(*c));
	/* O_NONBLOCK: a FIFO put in its place must not hang the daemon. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(c->err, sizeof(c->err), "cannot open: %s", strerror(errno));
		return;
	}
	if (fstat(fd, &st))
		snprintf(c->err, sizeof(c->err), "cannot stat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(c->err, sizeof(c->err), "not a regular file");
	else if (st.st_size > POLICY_MAX_FILE)
		snprintf(c->err, sizeof(c->err), "file is %lld bytes (at most %d)",
			 (long long)st.st_size, POLICY_MAX_FILE);
	else if (!(c->buf = malloc(st.st_size + 1)))
		snprintf(c->err, sizeof(c->err), "out of memory");
	while (c->buf && c->len < (size_t)st.st_size) {
		ssize_t n = read(fd, c->buf + c->len, st.st_size - c->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c->len += n;
	}
	if (c->buf)
		c->buf[c->len] = '\0';
	close(fd);
}

static struct content copy_of(const struct content *c)
{
	struct content n = *c;

	if (c->buf) {
		n.buf = malloc(c->len + 1);
		if (n.buf)
			memcpy(n.buf, c->buf, c->len + 1);
		else
			snprintf(n.err, sizeof(n.err), "out of memory");
	}
	return n;
}

enum why { WHY_START, WHY_SIGHUP, WHY_FILE, WHY_REFRESH };
static const char *const whys[] = { "start", "SIGHUP", "file changed", "cgroups changed" };

static unsigned int gen_in_force;
/* The override note last logged (owner.h): said once, not at every refresh. */
static char override_seen[512];
/* The cgroups last reported as not there: said again only when they change. */
static char *pending_seen;
/* The programs were attached again: the audit streams are new ones. */
static bool reattached;

/*
 * Name the cgroups a policy waits for, when that set changes: a mistyped
 * path under may_appear_later would otherwise wait forever, unseen.
 */
static void report_pending(const struct policy *pol, const char *file)
{
	char *list = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&list, &len);
	int n = 0;

	if (!m)
		return;
	for (size_t i = 0; i < pol->nr_rules; i++)
		if (pol->rules[i].cgroup && !pol->rules[i].cgid)
			fprintf(m, "%s%s (%s:%d)", n++ ? ", " : "", pol->rules[i].cgroup, file,
				pol->rules[i].cgroup_pos.line);
	for (size_t i = 0; i < pol->nr_limits; i++)
		if (pol->limits[i].cgroup && !pol->limits[i].cgid)
			fprintf(m, "%s%s (%s:%d)", n++ ? ", " : "", pol->limits[i].cgroup, file,
				pol->limits[i].cgroup_pos.line);
	fclose(m);
	if (list && (pending_seen ? strcmp(list, pending_seen) : n > 0)) {
		if (n)
			logp(LOG_WARNING, "%d cgroup(s) of the policy do not exist (yet): %s; their rules are pending and apply once the cgroup is created. A path that should exist is misspelled, or the cgroup was removed.",
			     n, list);
		else
			logp(LOG_NOTICE, "every cgroup of the policy exists now; nothing is pending");
	}
	free(pending_seen);
	pending_seen = list;
}

/*
 * A `policy load --force` or `policy unload --force` overrode us: leave the
 * policy in force alone (said once per override). true: stand back.
 */
static bool overridden(void)
{
	char what[512];
	int ret = owner_override_get(what, sizeof(what));

	if (ret < 0) {
		/* Unreadable: keep enforcing FILE rather than guess. */
		snprintf(what, sizeof(what), "cannot read the override note: %s", strerror(-ret));
		if (strcmp(what, override_seen))
			logp(LOG_ERR, "%s; FILE stays in force", what);
		snprintf(override_seen, sizeof(override_seen), "%s", what);
		return false;
	}
	if (ret == 0)
		return false;
	if (strcmp(what, override_seen)) {
		logp(LOG_WARNING, "the policy was changed outside the daemon: %s. Standing back: the daemon changes nothing until its policy file changes, it gets SIGHUP (systemctl reload), or it restarts",
		     what);
		notify("STATUS=standing back: overridden by %s", what);
	}
	snprintf(override_seen, sizeof(override_seen), "%s", what);
	return true;
}

/*
 * Our own turn (start, SIGHUP, a new file): an override ends here, and
 * programs someone detached are attached again. 0, or -1 (logged).
 */
static int take_back(void)
{
	struct pins p;
	char what[512];
	enum programs_how how;
	int ret;

	if (owner_override_get(what, sizeof(what)) == 1) {
		logp(LOG_NOTICE, "taking the policy back (it was overridden: %s)", what);
		ret = owner_override_clear();
		if (ret) {
			logp(LOG_ERR, "cannot remove the override note: %s", strerror(-ret));
			return -1;
		}
	}
	override_seen[0] = '\0';
	ret = pins_open(&p, false);
	pins_close(&p);
	if (ret != -ENOENT)
		return 0;	/* open, or an error apply() reports */
	if (programs_ensure(&how))
		return -1;
	reattached = true;
	logp(LOG_NOTICE, "the programs were detached: %s them again (pins under %s)",
	     how == PROGRAMS_ADOPTED ? "adopted" : "attached and pinned", cli.pin_dir);
	return 0;
}

/*
 * Whether @cont compiles: parsed, its cgroups resolved as apply() resolves
 * them for @why, compiled without the assignments (which cannot make a file
 * invalid). Before anything changes, so that a bad file leaves the programs
 * and an override as they are. 0, or -2 with the reason logged.
 */
static int validate(const char *file, const struct content *cont, enum why why)
{
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root, .missing_ok = why == WHY_REFRESH };
	struct policy pol;
	struct compiled c;
	struct diag d;
	int ret = 0;

	memset(&d, 0, sizeof(d));
	if (cont->err[0]) {
		diag_set(&d, file, (struct pos){ 0, 0 }, "%s", cont->err);
		ret = -2;
	} else if (policy_parse_buf(file, cont->buf, cont->len, &pol, &d)) {
		ret = -2;
	} else {
		if (policy_resolve(&pol, &o, &d) || policy_compile(&pol, NULL, 0, 1, &c, &d))
			ret = -2;
		else
			compiled_free(&c);
		policy_free(&pol);
	}
	if (ret)
		log_diag(&d);
	return ret;
}

/*
 * Fewer programs attached than hooks (logged). A whole set of another
 * build's is left alone: a newer mktmectl may have just put it there, and
 * an older daemon must not undo the upgrade (its own start does, at once).
 */
static bool missing_programs(void)
{
	char names[N_PROGS][32];
	unsigned int progs[N_PROGS], links[N_PROGS];
	int n = programs_attached(names, progs, links);

	if (n >= N_PROGS)
		return false;
	logp(LOG_WARNING, "only %d of the %d programs are attached (a link pin removed?); attaching what is missing",
	     n < 0 ? 0 : n, N_PROGS);
	return true;
}

static void notify_status(void)
{
	notify("STATUS=generation %u in force", gen_in_force);
}

/*
 * Compile @c (the content of @file) and switch to it. WHY_REFRESH: missing
 * cgroups are pending, and nothing happens unless the entries changed.
 * Returns 0, -2 (bad file), -1 (runtime error).
 */
static int apply(const char *file, const struct content *cont, enum why why)
{
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root, .missing_ok = why == WHY_REFRESH };
	struct pins p;
	struct policy pol;
	struct compiled c, cur;
	struct assignment *a = NULL;
	struct diag d;
	char err[512];
	size_t n = 0;
	unsigned int gen;
	int ret;

	if (why != WHY_REFRESH) {
		/* A bad file neither ends an override nor attaches anything. */
		if (validate(file, cont, why)) {
			logp(LOG_ERR, "%s: %s is not valid; the policy in force was left exactly as it was",
			     whys[why], file);
			return -2;
		}
		if (take_back())
			return -1;
	}
	ret = pins_open(&p, true);
	/*
	 * Under the pins' lock: a forced command writes its note before it takes
	 * the lock, so once it has switched, this sees the note.
	 */
	if (why == WHY_REFRESH && (!ret || ret == -ENOENT) && overridden()) {
		if (!ret)
			pins_close(&p);
		return 0;
	}
	if (!ret && why == WHY_REFRESH && missing_programs()) {
		/*
		 * Hooks without a program (a link pin removed by hand): the maps
		 * are there, so only this shows it. Enforcement is ours: attach
		 * what is missing.
		 */
		enum programs_how how;

		pins_close(&p);
		if (programs_ensure(&how))
			return -1;
		reattached = true;
		ret = pins_open(&p, true);
	}
	if (ret == -ENOENT && why == WHY_REFRESH) {
		/* Detached without a note (not through mktmectl): enforcement is ours. */
		logp(LOG_WARNING, "the programs were detached (nothing pinned under %s) without `policy unload --detach --force`; attaching them again",
		     cli.pin_dir);
		if (take_back())
			return -1;
		ret = pins_open(&p, true);
	}
	if (ret) {
		logp(LOG_ERR, "cannot open the pins under %s: %s", cli.pin_dir, strerror(-ret));
		return -1;
	}
	gen = generation_last(&p);
	memset(&pol, 0, sizeof(pol));
	memset(&d, 0, sizeof(d));
	if (cont->err[0]) {
		diag_set(&d, file, (struct pos){ 0, 0 }, "%s", cont->err);
		goto bad;
	}
	if (policy_parse_buf(file, cont->buf, cont->len, &pol, &d) || policy_resolve(&pol, &o, &d)) {
		policy_free(&pol);	/* parse failures leave it empty: harmless */
		goto bad;
	}
	if (assignments_read(&p, &a, &n)) {
		logp(LOG_ERR, "cannot read the assignments: %s", strerror(errno));
		policy_free(&pol);
		pins_close(&p);
		return -1;
	}
	ret = policy_compile(&pol, a, n, gen + 1, &c, &d);
	free(a);
	if (ret) {
		policy_free(&pol);
		goto bad;
	}
	report_pending(&pol, file);
	if (why == WHY_REFRESH && policy_current(&p, &cur) == 0) {
		bool same = compiled_same(&c, &cur);

		compiled_free(&cur);
		if (same) {
			ret = 0;
			goto done;
		}
	}
	if (policy_switch(&p, &c, err, sizeof(err))) {
		logp(LOG_ERR, "%s: %s; generation %u stays in force", whys[why], err, gen);
		ret = -1;
	} else {
		logp(LOG_NOTICE, "%s: loaded %s as generation %u (mode %s, %zu rules, %zu assignments, %zu pending)",
		     whys[why], file, gen + 1, name_of(mode_names, pol.mode), pol.nr_rules, n,
		     c.nr_pending);
		gen_in_force = gen + 1;
		notify_status();
		ret = 0;
	}
done:
	compiled_free(&c);
	policy_free(&pol);
	pins_close(&p);
	return ret;
bad:
	pins_close(&p);
	log_diag(&d);
	logp(LOG_ERR, "%s: %s is not valid; %s", whys[why], file,
	     gen ? "the generation in force was left exactly as it was" : "no policy is in force");
	return -2;
}

/*
 * The policy file and what watches it: its directory, and the directory its
 * symlinks lead to when that is another one (re-resolved at each look).
 */
struct follow {
	const char *file;
	char dir[PATH_MAX];
	char real_dir[PATH_MAX];
	int ifd;
	int wd_dir, wd_real;
	struct content seen;	/* the content last looked at (loaded or rejected) */
	struct content good;	/* the content last loaded */
};

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | \
		    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

static void follow_rewatch(struct follow *f)
{
	char real[PATH_MAX], tmp[PATH_MAX];

	if (f->ifd < 0)
		return;
	if (f->wd_dir < 0) {
		f->wd_dir = inotify_add_watch(f->ifd, f->dir, WATCH_MASK);
		if (f->wd_dir >= 0)
			logp(LOG_INFO, "watching %s again", f->dir);
	}
	if (!realpath(f->file, real)) {
		real[0] = '\0';
	} else {
		snprintf(tmp, sizeof(tmp), "%s", real);
		snprintf(real, sizeof(real), "%s", dirname(tmp));
	}
	if (!strcmp(real, f->real_dir) && (f->wd_real >= 0 || !real[0]))
		return;
	if (f->wd_real >= 0 && f->wd_real != f->wd_dir)
		inotify_rm_watch(f->ifd, f->wd_real);
	f->wd_real = -1;
	snprintf(f->real_dir, sizeof(f->real_dir), "%s", real);
	if (real[0] && strcmp(real, f->dir))
		f->wd_real = inotify_add_watch(f->ifd, real, WATCH_MASK);
}

static int follow_init(struct follow *f, const char *file)
{
	char tmp[PATH_MAX];
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->file = file;
	f->wd_dir = f->wd_real = -1;
	snprintf(tmp, sizeof(tmp), "%s", file);
	snprintf(f->dir, sizeof(f->dir), "%s", dirname(tmp));
	f->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (f->ifd < 0)
		err = errno;
	else if ((f->wd_dir = inotify_add_watch(f->ifd, f->dir, WATCH_MASK)) < 0)
		err = errno;
	if (err) {
		/* Kernels without CONFIG_INOTIFY_USER, or no such directory yet. */
		logp(LOG_WARNING, "cannot watch %s with inotify (%s): reading %s every %d ms instead",
		     f->dir, strerror(err), file, STAT_MS);
	}
	follow_rewatch(f);
	return f->ifd;
}

static void follow_free(struct follow *f)
{
	if (f->ifd >= 0)
		close(f->ifd);
	content_free(&f->seen);
	content_free(&f->good);
}

/* Drain the inotify queue: did anything happen to what we watch? */
static bool follow_events(struct follow *f)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	ssize_t len;

	while ((len = read(f->ifd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)q;

			any = true;
			/* The directory went away (or was unmounted): watch it again when it is back. */
			if (ev->mask & IN_IGNORED) {
				if (ev->wd == f->wd_dir)
					f->wd_dir = -1;
				if (ev->wd == f->wd_real)
					f->wd_real = -1;
			}
			q += sizeof(*ev) + ev->len;
		}
	}
	return any;
}

/* Load FILE anew if its content differs from what was last looked at (@force: anyway). */
static void follow_look(struct follow *f, enum why why, bool force)
{
	struct content now;
	int ret;

	follow_rewatch(f);
	content_read(f->file, &now);
	if (!force && content_same(&now, &f->seen)) {
		content_free(&now);
		return;
	}
	ret = apply(f->file, &now, why);
	/* A runtime error says nothing about the file: looked at again at the next refresh. */
	if (ret != -1) {
		content_free(&f->seen);
		f->seen = copy_of(&now);
	}
	if (ret == 0) {
		content_free(&f->good);
		f->good = now;
	} else {
		content_free(&now);
	}
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int run(const char *file, bool audit);

/*
 * Become the audit streams' reader. Refused (another reader has them):
 * logged once with who, and tried again later by the caller.
 */
static void audit_take(struct audit **a, bool *refused, char *why, size_t len)
{
	struct pins p;
	char err[512];
	int ret = pins_open(&p, false);

	if (ret) {
		snprintf(err, sizeof(err), "%s", strerror(-ret));
	} else {
		*a = audit_open(&p, true, stdout, &ret, err, sizeof(err));
		pins_close(&p);	/* the reader holds its own references */
	}
	if (*a) {
		if (*refused)
			logp(LOG_NOTICE, "audit: streaming again (%s is gone)", why);
		*refused = false;
		return;
	}
	if (*refused && !strcmp(why, err))
		return;
	*refused = true;
	snprintf(why, len, "%s", err);
	if (ret == -EBUSY)
		logp(LOG_WARNING, "audit: NOT streaming: the audit stream is being read by %s (one reader only: a second would take its records); trying again every %d s",
		     err, REFRESH_MS / 1000);
	else
		logp(LOG_WARNING, "audit: NOT streaming: %s; trying again every %d s", err,
		     REFRESH_MS / 1000);
}

/*
 * The pinned programs' rings are not the ones @a reads: someone else
 * detached and attached the programs again (policy unload --detach --force,
 * then a load). Detached now: false, as there is nothing newer to read.
 */
static bool audit_replaced(const struct audit *a)
{
	struct pins p;
	bool replaced;

	if (pins_open(&p, false))
		return false;
	replaced = !audit_reads(a, p.denials);
	pins_close(&p);
	return replaced;
}

int do_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'P' },
		{ "no-audit", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	bool audit = true;
	int ret;

	opts_begin();
	while ((ret = opts_next(argc, argv, "", opts)) != -1) {
		if (ret == 'P')
			file = optarg;
		else if (ret == 'A')
			audit = false;
		else
			return opts_error(ret, argv);
	}
	if ((ret = opts_operands(argc, argv, 0, NULL)))
		return ret;
	journal_detect();
	ret = run(file, audit);
	notify("STOPPING=1\nSTATUS=exited (%d); the policy in force stays pinned", ret);
	return ret;
}

static int run(const char *file, bool audit)
{
	enum programs_how how;
	bool failed = false;
	struct audit *a = NULL;
	char why[512] = "";
	bool audit_refused = false;
	struct follow f = { .ifd = -1, .wd_dir = -1, .wd_real = -1 };
	sigset_t mask;
	int sfd = -1, owner_fd = -1, ret;
	struct timespec last, audit_tried;

	if ((ret = need_caps("the daemon", CAPS_ATTACH)) || (ret = need_bpf_lsm()))
		return ret;
	if (notify_init(why, sizeof(why)))
		return fail(EXIT_RUNTIME, "NOTIFY_SOCKET is set (a Type=notify unit waits for READY=1), but %s; nothing was changed",
			    why);
	/* Signals and the file watch first: a change during the first load counts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		/* Deaf to SIGTERM and SIGHUP otherwise: exit, for a restart. */
		return fail(EXIT_RUNTIME, "signalfd: %s; nothing was changed", strerror(errno));
	if (file) {
		char who[512];

		owner_fd = owner_take(file, who, sizeof(who));
		if (owner_fd == -EBUSY) {
			ret = fail(EXIT_RUNTIME, "another daemon owns the policy under %s: %s; two would undo each other's loads. Stop it first (systemctl stop mktme). Nothing was changed.",
				   cli.pin_dir, who);
			goto out;
		}
		if (owner_fd < 0) {
			ret = fail(EXIT_RUNTIME, "cannot take ownership of the policy (a lock under /run/mktme): %s; nothing was changed",
				   owner_fd == -EPERM ? who : strerror(-owner_fd));
			goto out;
		}
		follow_init(&f, file);
		/* Checked before the programs are attached or any state is applied. */
		content_read(file, &f.seen);
		if (validate(file, &f.seen, WHY_START)) {
			ret = fail(EXIT_USAGE, "%s is not valid (above); nothing was changed", file);
			goto out;
		}
	}
	ret = programs_ensure(&how);
	if (ret)
		goto out;
	logp(how == PROGRAMS_UPGRADED ? LOG_NOTICE : LOG_INFO, "%s the programs (pins under %s)",
	     how == PROGRAMS_ADOPTED ? "adopted" :
	     how == PROGRAMS_UPGRADED ? "upgraded (this build's replaced the attached ones, every map kept)" :
	     "attached and pinned", cli.pin_dir);
	/*
	 * Runtime assignments kept outside the pins are put back here, before
	 * the first generation is built from them.
	 */
	assign_state_apply();	/* errors are logged; the policy file loads regardless */
	if (file) {
		/* What was checked above; a change since is an inotify event to come. */
		f.good = copy_of(&f.seen);
		ret = apply(file, &f.good, WHY_START);
		if (ret == -2) {
			ret = fail(EXIT_USAGE, "%s is not valid (above); nothing was changed", file);
			goto out;
		}
		if (ret) {
			ret = fail(EXIT_RUNTIME, "cannot load %s; nothing was changed", file);
			goto out;
		}
	}

	if (audit)
		audit_take(&a, &audit_refused, why, sizeof(why));

	logp(LOG_INFO, "ready: %s%s", file ? "watching " : "no policy file", file ? file : "");
	/* Only now is the policy enforced: units ordered after this one may start. */
	if (file)
		notify("READY=1\nSTATUS=generation %u in force", gen_in_force);
	else
		notify("READY=1\nSTATUS=programs attached; no policy file, the policy in force left as it is");
	clock_gettime(CLOCK_MONOTONIC, &last);
	audit_tried = last;
	for (;;) {
		bool watched = f.ifd >= 0 && f.wd_dir >= 0;
		struct pollfd fds[3] = {
			{ sfd, POLLIN, 0 },
			{ f.ifd, POLLIN, 0 },
			{ a ? audit_epoll_fd(a) : -1, POLLIN, 0 },
		};
		int n = poll(fds, 3, !file || watched ? REFRESH_MS : STAT_MS);
		if (n < 0 && errno != EINTR) {
			/* Deaf to signals and files: exit non-zero, for a restart. */
			logp(LOG_ERR, "poll: %s; exiting", strerror(errno));
			failed = true;
			break;
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			ssize_t got = read(sfd, &si, sizeof(si));

			if (got == sizeof(si)) {
				if (si.ssi_signo == SIGHUP && file)
					follow_look(&f, WHY_SIGHUP, true);
				else if (si.ssi_signo != SIGHUP)
					break;
			} else if (got >= 0 || (errno != EINTR && errno != EAGAIN)) {
				logp(LOG_ERR, "reading the signalfd: %s; exiting",
				     got < 0 ? strerror(errno) : "short read");
				failed = true;
				break;
			}
		}
		if (fds[1].revents & POLLIN) {
			usleep(SETTLE_MS * 1000);
			if (follow_events(&f))
				follow_look(&f, WHY_FILE, false);
		}
		if (file && !watched)
			follow_look(&f, WHY_FILE, false);
		/* A wait with nothing at all: a gap at the streams' end is real. */
		if (a)
			audit_consume(a, n == 0);
		if (file && ms_since(&last) >= REFRESH_MS) {
			/* Read the file too: inotify misses a write through a hard link elsewhere,
			 * or on a mount changed from another namespace. */
			follow_look(&f, WHY_FILE, false);
			/* The content in force, not the file: a rejected file stays rejected. */
			apply(file, &f.good, WHY_REFRESH);
		}
		if (ms_since(&last) >= REFRESH_MS) {
			if (a && audit_replaced(a)) {
				logp(LOG_NOTICE, "audit: the programs were attached again by another command; reading their streams");
				reattached = true;
			}
			clock_gettime(CLOCK_MONOTONIC, &last);
		}
		if (reattached && a) {
			/* The old rings are no longer written: read the new programs' ones. */
			audit_close(a);
			a = NULL;
			audit_take(&a, &audit_refused, why, sizeof(why));
		}
		reattached = false;
		if (audit && !a && ms_since(&audit_tried) >= REFRESH_MS) {
			audit_take(&a, &audit_refused, why, sizeof(why));
			clock_gettime(CLOCK_MONOTONIC, &audit_tried);
		}
	}
	audit_close(a);
	logp(LOG_INFO, "exiting; the programs and the policy stay pinned under %s and in force",
	     cli.pin_dir);
	ret = failed ? EXIT_RUNTIME : EXIT_OK;
out:
	follow_free(&f);
	if (sfd >= 0)
		close(sfd);
	if (owner_fd >= 0)
		close(owner_fd);	/* the lock goes with it */
	return ret;
}
