// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl daemon [--policy FILE] [--no-audit]
 *
 * Attaches (or adopts) the programs, loads FILE, and then keeps it in force:
 * reload on SIGHUP and when FILE changes (inotify on its directory, so an
 * editor's rename counts), re-resolve every 2 s so that cgroups created
 * after the load get their rules and removed ones are dropped, and stream
 * the audit ring buffer as JSON lines on stdout. Exits on SIGINT/SIGTERM
 * (or a crash) leaving everything pinned: enforcement stays, and the next
 * daemon adopts the pins.
 *
 * A bad FILE at start: exit 2, the policy in force untouched. A bad FILE
 * later: logged with its position, the generation in force kept.
 */
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "audit.h"
#include "bpfobj.h"
#include "main.h"
#include "names.h"
#include "policy.h"

#define REFRESH_MS 2000	/* re-resolve cgroups */
#define STAT_MS 500		/* without inotify: look at the file */

/* What identifies a version of the policy file. */
struct stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static void file_stamp(const char *file, struct stamp *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(file, &st))
		return;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
}

static bool stamp_changed(const char *file, struct stamp *s)
{
	struct stamp now;

	file_stamp(file, &now);
	if (!memcmp(&now, s, sizeof(now)))
		return false;
	*s = now;
	return true;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mktmectl daemon: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Same map contents, the meta entry (generation, time) aside. */
static bool same_entries(const struct compiled *a, const struct compiled *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct compiled_entry *x = &a->e[i], *y = NULL;

		if (x->key.kind == MKTME_KIND_META)
			continue;
		for (size_t j = 0; j < b->n && !y; j++)
			if (!memcmp(&b->e[j].key, &x->key, sizeof(x->key)))
				y = &b->e[j];
		if (!y || memcmp(&x->val, &y->val, sizeof(x->val)))
			return false;
	}
	return true;
}

enum why { WHY_START, WHY_SIGHUP, WHY_FILE, WHY_REFRESH };

/*
 * Compile @file and switch to it. WHY_REFRESH: missing cgroups are pending,
 * and nothing happens unless the entries changed. Returns 0, -2 (bad file),
 * -1 (runtime error).
 */
static int apply(const char *file, enum why why)
{
	static const char *const whys[] = { "start", "SIGHUP", "file changed", "cgroups changed" };
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root, .missing_ok = why == WHY_REFRESH };
	struct pins p;
	struct policy pol;
	struct compiled c, cur;
	struct assignment *a = NULL;
	struct diag d;
	char err[512];
	size_t n = 0;
	unsigned int gen;
	int ret = pins_open(&p, true);

	if (ret) {
		logf_("cannot open the pins under %s: %s", cli.pin_dir, strerror(-ret));
		return -1;
	}
	gen = generation_last(&p);
	if (policy_parse_file(file, &pol, &d) || policy_resolve(&pol, &o, &d)) {
		policy_free(&pol);	/* parse failures leave it empty: harmless */
		goto bad;
	}
	if (assignments_read(&p, &a, &n)) {
		logf_("cannot read the assignments: %s", strerror(errno));
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
	if (why == WHY_REFRESH && policy_current(&p, &cur) == 0) {
		bool same = same_entries(&c, &cur);

		compiled_free(&cur);
		if (same) {
			ret = 0;
			goto done;
		}
	}
	if (policy_switch(&p, &c, err, sizeof(err))) {
		logf_("%s: %s; generation %u stays in force", whys[why], err, gen);
		ret = -1;
	} else {
		logf_("%s: loaded %s as generation %u (mode %s, %zu rules, %zu assignments, %zu pending)",
		      whys[why], file, gen + 1, name_of(mode_names, pol.mode), pol.nr_rules, n,
		      c.nr_pending);
		ret = 0;
	}
done:
	compiled_free(&c);
	policy_free(&pol);
	pins_close(&p);
	return ret;
bad:
	pins_close(&p);
	diag_print(&d, stderr);
	logf_("%s: %s is not valid; %s", whys[why], file,
	      gen ? "the generation in force was left exactly as it was" : "no policy is in force");
	return -2;
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "Usage: mktmectl daemon [--policy FILE] [--no-audit]\n");
	return fail(EXIT_USAGE, "%s", msg);
}

int do_daemon(int argc, char **argv)
{
	const char *file = NULL;
	char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
	bool audit = true, adopted;
	struct ring_buffer *rb = NULL;
	struct pins p;
	sigset_t mask;
	int sfd = -1, ifd = -1, ret;
	struct timespec last, now;
	struct stamp seen;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--policy") && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(argv[i], "--no-audit"))
			audit = false;
		else
			return usage_err("bad argument");
	}
	if ((ret = need_caps("the daemon", CAPS_ATTACH)) || (ret = need_bpf_lsm()))
		return ret;
	/* Signals and the file watch first: a change during the first load counts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (file) {
		snprintf(tmp, sizeof(tmp), "%s", file);
		snprintf(dir, sizeof(dir), "%s", dirname(tmp));
		snprintf(tmp, sizeof(tmp), "%s", file);
		snprintf(base, sizeof(base), "%s", basename(tmp));
		int err;

		ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		err = errno;
		if (ifd >= 0 && inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
			err = errno;
			close(ifd);
			ifd = -1;
		}
		/* Kernels without CONFIG_INOTIFY_USER: look at the file instead. */
		if (ifd < 0)
			logf_("cannot watch %s with inotify (%s): checking %s every %d ms instead",
			      dir, strerror(err), file, STAT_MS);
		file_stamp(file, &seen);
	}
	ret = programs_ensure(&adopted);
	if (ret)
		return ret;
	logf_("%s the programs (pins under %s)", adopted ? "adopted" : "attached and pinned",
	      cli.pin_dir);
	assign_state_apply();	/* errors are logged; the policy file loads regardless */
	if (file) {
		ret = apply(file, WHY_START);
		if (ret == -2)
			return fail(EXIT_USAGE, "%s is not valid (above); nothing was changed", file);
		if (ret)
			return fail(EXIT_RUNTIME, "cannot load %s; nothing was changed", file);
	}

	if (audit) {
		if (pins_open(&p, false) == 0) {
			rb = audit_reader(p.events, true, stdout);
			pins_close(&p);	/* the reader holds its own reference */
		}
		if (!rb)
			logf_("cannot read the audit ring buffer: audit stream off");
	}

	logf_("ready: %s%s", file ? "watching " : "no policy file", file ? file : "");
	clock_gettime(CLOCK_MONOTONIC, &last);
	for (;;) {
		struct pollfd fds[3] = {
			{ sfd, POLLIN, 0 },
			{ ifd, POLLIN, 0 },
			{ rb ? ring_buffer__epoll_fd(rb) : -1, POLLIN, 0 },
		};
		long waited;

		if (poll(fds, 3, ifd >= 0 ? REFRESH_MS : STAT_MS) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP && file)
					apply(file, WHY_SIGHUP);
				else if (si.ssi_signo != SIGHUP)
					break;
			}
		}
		if (fds[1].revents & POLLIN) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			bool ours = false;
			ssize_t len;

			/* Editors write in bursts: settle, then take them all at once. */
			usleep(100 * 1000);
			while ((len = read(ifd, buf, sizeof(buf))) > 0) {
				for (char *q = buf; q < buf + len;) {
					struct inotify_event *ev = (struct inotify_event *)q;

					if (ev->len && !strcmp(ev->name, base))
						ours = true;
					q += sizeof(*ev) + ev->len;
				}
			}
			if (ours) {
				file_stamp(file, &seen);
				apply(file, WHY_FILE);
			}
		}
		if (file && ifd < 0 && stamp_changed(file, &seen))
			apply(file, WHY_FILE);
		if (rb && (fds[2].revents & POLLIN))
			ring_buffer__consume(rb);
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
		if (file && waited >= REFRESH_MS) {
			apply(file, WHY_REFRESH);
			last = now;
		}
	}
	if (rb) {
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
	}
	if (ifd >= 0)
		close(ifd);
	if (sfd >= 0)
		close(sfd);
	logf_("exiting; the programs and the policy stay pinned under %s and in force", cli.pin_dir);
	return EXIT_OK;
}
