// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl audit [--follow]: one line per logged decision, from the denial
 * ring buffer (mktme_denials) and the allows' (mktme_events, `audit: all`).
 * Debian's bpftool 7.1 cannot read a ring buffer; this can. Every record
 * has its stream's sequence number; records the kernel dropped and numbers
 * this reader never saw are reported, never passed over in silence.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfobj.h"
#include "cgroup.h"
#include "json.h"
#include "main.h"
#include "names.h"

/* What one stream's reader has seen of its sequence numbers. */
struct gaps {
	bool started;
	unsigned long long base;	/* every seq below it is accounted for */
	unsigned long long seen;	/* bit i: base + i was read */
	unsigned long long top;		/* highest seq read, + 1 */
};

/*
 * A record takes its number just before it reserves its place in the ring
 * buffer, so two CPUs deciding at once can store theirs out of order: a
 * number is only called missing once 64 later ones were read, or when the
 * stream was idle, or at exit.
 */
#define GAP_WINDOW 64

struct reader;

struct stream {
	struct reader *r;
	enum mktme_pol_stream id;
	struct gaps g;
	unsigned long long dropped;	/* the kernel's count, last reported */
};

struct reader {
	bool json;
	FILE *out;
	struct stream s[MKTME_NR_STREAMS];
	/*
	 * The last few cgroup paths: finding one walks the cgroup tree. A
	 * record names up to three cgroups; an entry given out for the record
	 * being printed (stamp == record) is not reused for another of its
	 * cgroups, which would free a path the record still prints.
	 */
	struct {
		unsigned long long id;
		unsigned long long stamp;
		char *path;
	} cache[16];
	unsigned int next;
	unsigned long long record;
};

struct audit {
	struct reader r;
	struct ring_buffer *rb;
	int lock_fd, stats_fd, denials_fd, events_fd;
	bool read_any;
};

static const char *const stream_names[] = { "denials", "allows" };
static const char *const ring_names[] = { "mktme_denials", "mktme_events" };

static const char *cg_path(struct reader *r, unsigned long long id)
{
	char *path = NULL;
	unsigned int i;

	if (!id)
		return NULL;
	for (i = 0; i < 16; i++) {
		if (r->cache[i].path && r->cache[i].id == id) {
			r->cache[i].stamp = r->record;
			return r->cache[i].path;
		}
	}
	if (cgroup_path(cgroup_root(cli.cgroup_root), id, &path))
		return NULL;
	do
		i = r->next++ % 16;
	while (r->cache[i].path && r->cache[i].stamp == r->record);
	free(r->cache[i].path);
	r->cache[i].id = id;
	r->cache[i].stamp = r->record;
	r->cache[i].path = path;
	return path;
}

/* Event times are CLOCK_BOOTTIME: shift to wall-clock time for people. */
static void wall_time(unsigned long long boot_ns, char *buf, size_t len)
{
	struct timespec rt, bt;
	long long ns;
	time_t sec;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	ns = (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec -
	     ((long long)bt.tv_sec * 1000000000LL + bt.tv_nsec) + (long long)boot_ns;
	sec = ns / 1000000000LL;
	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), len - strlen(buf), ".%06lldZ", (ns % 1000000000LL) / 1000);
}

/* @n records of @st missing, from seq @first to @last. */
static void report_missing(struct stream *st, unsigned long long n, unsigned long long first,
			   unsigned long long last)
{
	struct reader *r = st->r;

	if (r->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "missing", json_u64(n));
		json_object_object_add(o, "stream", json_object_new_string(stream_names[st->id]));
		json_object_object_add(o, "first_seq", json_u64(first));
		json_object_object_add(o, "last_seq", json_u64(last));
		json_emit(o, r->out, false);
	} else {
		fprintf(r->out, "MISSING %llu %s record%s, seq %llu to %llu: dropped by a full ring buffer, or read by a reader before this one\n",
			n, st->id == MKTME_STREAM_DENIALS ? "denial" : "allow", n == 1 ? "" : "s", first,
			last);
	}
	fflush(r->out);
}

/* Account for every seq below @upto: those not read are reported missing. */
static void gaps_account(struct stream *st, unsigned long long upto)
{
	struct gaps *g = &st->g;
	unsigned long long n = 0, first = 0, last = 0, span;

	if (!g->started || upto <= g->base)
		return;
	span = upto - g->base;
	for (unsigned long long i = 0; i < GAP_WINDOW && i < span; i++) {
		if (g->seen & (1ULL << i))
			continue;
		if (!n++)
			first = g->base + i;
		last = g->base + i;
	}
	if (span > GAP_WINDOW) {
		if (!n)
			first = g->base + GAP_WINDOW;
		n += span - GAP_WINDOW;
		last = upto - 1;
	}
	g->seen = span >= GAP_WINDOW ? 0 : g->seen >> span;
	g->base = upto;
	if (n)
		report_missing(st, n, first, last);
}

/* Record @seq as read; false if it came after it was reported missing. */
static bool gaps_note(struct stream *st, unsigned long long seq)
{
	struct gaps *g = &st->g;

	if (!g->started) {
		g->started = true;
		g->base = g->top = seq;
		g->seen = 0;
	}
	if (seq < g->base)
		return false;
	if (seq >= g->base + GAP_WINDOW)
		gaps_account(st, seq - GAP_WINDOW + 1);
	g->seen |= 1ULL << (seq - g->base);
	if (seq + 1 > g->top)
		g->top = seq + 1;
	while (g->seen & 1) {
		g->seen >>= 1;
		g->base++;
	}
	return true;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct stream *st = ctx;
	struct reader *r = st->r;
	const struct mktme_pol_event *e = data;
	char when[64], key[MKTME_NAME_LEN + 1], comm[17];
	const char *cg, *rcg, *bcg, *verdict = name_of(verdict_names, e->verdict);
	bool enforced = e->ret != 0, late;

	if (size < sizeof(*e))
		return 0;
	r->record++;
	late = !gaps_note(st, e->seq);
	wall_time(e->time_ns, when, sizeof(when));
	snprintf(key, sizeof(key), "%.*s", MKTME_NAME_LEN, e->key);
	snprintf(comm, sizeof(comm), "%.*s", 16, e->comm);
	cg = cg_path(r, e->cgid);
	rcg = cg_path(r, e->rule_cgid);
	bcg = cg_path(r, e->budget_cgid);
	if (r->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "stream", json_object_new_string(stream_names[st->id]));
		json_object_object_add(o, "seq", json_u64(e->seq));
		if (late)
			json_object_object_add(o, "reported_missing", json_object_new_boolean(true));
		json_object_object_add(o, "time", json_object_new_string(when));
		json_object_object_add(o, "time_boot_ns", json_u64(e->time_ns));
		json_object_object_add(o, "hook", json_object_new_string(name_of(op_names, e->hook)));
		json_object_object_add(o, "verdict", json_object_new_string(verdict));
		json_object_object_add(o, "enforced", json_object_new_boolean(enforced));
		json_object_object_add(o, "ret", json_object_new_int(e->ret));
		json_object_object_add(o, "reason", json_object_new_string(name_of(reason_names, e->reason)));
		json_object_object_add(o, "rule_id", json_object_new_int64(e->rule_id));
		json_object_object_add(o, "rule_cgroup_id", e->rule_cgid ? json_u64(e->rule_cgid) : NULL);
		json_object_object_add(o, "rule_cgroup", json_str(rcg));
		if (e->budget_cgid) {
			json_object_object_add(o, "budget_cgroup_id", json_u64(e->budget_cgid));
			json_object_object_add(o, "budget_cgroup", json_str(bcg));
			json_object_object_add(o, "suppressed_before", json_object_new_int64(e->suppressed));
		}
		json_object_object_add(o, "mode", json_object_new_string(name_of(mode_names, e->mode)));
		json_object_object_add(o, "generation", json_object_new_int64(e->generation));
		json_object_object_add(o, "pid", json_object_new_int64(e->pid));
		json_object_object_add(o, "uid", json_object_new_int64(e->uid));
		json_object_object_add(o, "comm", json_object_new_string(comm));
		json_object_object_add(o, "cgroup_id", json_u64(e->cgid));
		json_object_object_add(o, "cgroup", json_str(cg));
		json_object_object_add(o, "key", json_object_new_string(key));
		json_object_object_add(o, "key_name_too_long", json_object_new_boolean(e->flags & MKTME_EV_NAME_TOO_LONG));
		json_object_object_add(o, "key_serial", json_object_new_int64(e->key_serial));
		json_object_object_add(o, "keyid", json_object_new_int64(e->keyid));
		json_emit(o, r->out, false);
		return 0;
	}
	fprintf(r->out, "%s #%llu%s %-5s %-6s pid %u (%s) uid %u cgroup %s key \"%s\"%s serial %d keyid %u: ",
		when, (unsigned long long)e->seq, late ? " (late: reported missing)" : "",
		e->verdict == MKTME_DENY ? (enforced ? "DENY" : "deny*") : "allow",
		name_of(op_names, e->hook), e->pid, comm, e->uid, cg ? cg : "?", key,
		e->flags & MKTME_EV_NAME_TOO_LONG ? "(name truncated)" : "", e->key_serial, e->keyid);
	switch (e->reason) {
	case MKTME_REASON_RULE:
		fprintf(r->out, "rule %u at %s", e->rule_id, rcg ? rcg : "?");
		break;
	case MKTME_REASON_QUOTA:
		fprintf(r->out, "live-key limit of %s reached", rcg ? rcg : "?");
		break;
	default:
		fprintf(r->out, "%s", name_of(reason_names, e->reason));
	}
	fprintf(r->out, ", generation %u, %s%s", e->generation, name_of(mode_names, e->mode),
		e->verdict == MKTME_DENY && !enforced ? " (not enforced)" : "");
	if (e->suppressed)
		fprintf(r->out, " (%u earlier denial%s of %s not logged: over its denial_records_per_second)",
			e->suppressed, e->suppressed == 1 ? "" : "s", bcg ? bcg : "?");
	fputc('\n', r->out);
	fflush(r->out);
	return 0;
}

/* Records the kernel dropped (a full ring) since the last look: said loudly. */
static void check_dropped(struct audit *a)
{
	struct pins p = { .stats = a->stats_fd };
	struct mktme_pol_stats st;

	if (stats_read(&p, &st))
		return;
	for (int i = 0; i < MKTME_NR_STREAMS; i++) {
		struct stream *s = &a->r.s[i];
		unsigned long long now = i == MKTME_STREAM_DENIALS ? st.denials_lost : st.allows_lost;

		if (now <= s->dropped)
			continue;
		if (a->r.json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "dropped", json_u64(now - s->dropped));
			json_object_object_add(o, "dropped_total", json_u64(now));
			json_object_object_add(o, "stream", json_object_new_string(stream_names[i]));
			json_emit(o, a->r.out, false);
		} else {
			fprintf(a->r.out, "DROPPED %llu %s record%s: %s was full (%llu since the programs were loaded)\n",
				now - s->dropped, i == MKTME_STREAM_DENIALS ? "denial" : "allow",
				now - s->dropped == 1 ? "" : "s", ring_names[i], now);
		}
		fflush(a->r.out);
		s->dropped = now;
	}
}

static int dup_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

struct audit *audit_open(const struct pins *p, bool json, FILE *out, int *errp, char *err,
			 size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));
	int e = 0;

	*errp = -ENOMEM;
	snprintf(err, errlen, "out of memory");
	if (!a)
		return NULL;
	a->lock_fd = a->stats_fd = a->denials_fd = a->events_fd = -1;
	a->r.json = json;
	a->r.out = out;
	for (int i = 0; i < MKTME_NR_STREAMS; i++) {
		a->r.s[i].r = &a->r;
		a->r.s[i].id = i;
	}
	a->lock_fd = audit_lock(p->denials, err, errlen);
	if (a->lock_fd < 0) {
		e = a->lock_fd;
		if (e != -EBUSY && e != -EPERM)
			snprintf(err, errlen, "cannot take the audit lock: %s", strerror(-e));
		goto fail;
	}
	a->stats_fd = dup_fd(p->stats);
	a->denials_fd = dup_fd(p->denials);
	a->events_fd = dup_fd(p->events);
	if (a->stats_fd < 0 || a->denials_fd < 0 || a->events_fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	/* Denials first: ring_buffer__consume() reads the rings in the order added. */
	a->rb = ring_buffer__new(a->denials_fd, on_event, &a->r.s[MKTME_STREAM_DENIALS], NULL);
	if (!a->rb || ring_buffer__add(a->rb, a->events_fd, on_event, &a->r.s[MKTME_STREAM_ALLOWS])) {
		e = -errno;
		snprintf(err, errlen, "cannot read the ring buffers: %s", strerror(errno));
		goto fail;
	}
	return a;
fail:
	*errp = e ? e : -EINVAL;
	if (a->rb) {
		/* Nothing read: audit_close() would print what waits. */
		ring_buffer__free(a->rb);
		a->rb = NULL;
	}
	audit_close(a);
	return NULL;
}

/* The map id behind @fd, 0 if unknown. */
static __u32 map_id(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

bool audit_reads(const struct audit *a, int ring_fd)
{
	__u32 id = map_id(a->denials_fd);

	return id && id == map_id(ring_fd);
}

int audit_epoll_fd(const struct audit *a)
{
	return ring_buffer__epoll_fd(a->rb);
}

int audit_consume(struct audit *a, bool idle)
{
	int n;

	check_dropped(a);
	n = ring_buffer__consume(a->rb);
	if (n > 0)
		return n;
	if (idle && n == 0)
		for (int i = 0; i < MKTME_NR_STREAMS; i++)
			gaps_account(&a->r.s[i], a->r.s[i].g.top);
	return n;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->rb) {
		ring_buffer__consume(a->rb);
		check_dropped(a);
		for (int i = 0; i < MKTME_NR_STREAMS; i++)
			gaps_account(&a->r.s[i], a->r.s[i].g.top);
		ring_buffer__free(a->rb);
	}
	for (int i = 0; i < 16; i++)
		free(a->r.cache[i].path);
	if (a->lock_fd >= 0)
		close(a->lock_fd);	/* the lock goes with it */
	if (a->stats_fd >= 0)
		close(a->stats_fd);
	if (a->denials_fd >= 0)
		close(a->denials_fd);
	if (a->events_fd >= 0)
		close(a->events_fd);
	free(a);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int do_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	struct pins p;
	struct audit *a;
	bool follow = false;
	int ret;

	opts_begin();
	while ((ret = opts_next(argc, argv, "f", opts)) != -1) {
		if (ret != 'f')
			return opts_error(ret, argv);
		follow = true;
	}
	if ((ret = opts_operands(argc, argv, 0, NULL)))
		return ret;
	/*
	 * Reading the stream consumes it (a reader advances the ring buffer's
	 * consumer position), so it needs what every change needs: the
	 * programs' guard refuses the pinned maps for writing to anyone
	 * without CAP_SYS_ADMIN in the initial user namespace.
	 */
	ret = need_caps("reading the audit stream", NEED_SYS_ADMIN);
	if (ret)
		return ret;
	ret = pins_open(&p, false);
	if (ret)
		return fail(ret == -EACCES || ret == -EPERM ? EXIT_PERM : EXIT_RUNTIME,
			    "no audit stream: %s under %s",
			    ret == -ENOENT ? "the mktme programs are not loaded (nothing pinned)" : strerror(-ret),
			    cli.pin_dir);
	a = audit_open(&p, cli.json, stdout, &ret, err, sizeof(err));
	pins_close(&p);
	if (!a && ret == -EBUSY)
		return fail(EXIT_RUNTIME,
			    "the audit stream is being read by %s: a ring buffer has one reader, and a second would take records from it. Read that reader's output instead (the daemon's: its standard output, under systemd journalctl -u mktme), or stop it; the latest denials are also in %s/mktme_denials_last (bpftool map dump). Nothing was read.",
			    err, cli.pin_dir);
	if (!a)
		return fail(EXIT_RUNTIME, "cannot read the audit stream: %s. Nothing was read.", err);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ret = audit_consume(a, false);
	while (follow && !stop && ret >= 0) {
		struct pollfd pfd = { audit_epoll_fd(a), POLLIN, 0 };
		int n = poll(&pfd, 1, 500);

		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		ret = audit_consume(a, n == 0);
	}
	audit_close(a);
	if (ret < 0 && ret != -EINTR)
		return fail(EXIT_RUNTIME, "reading the ring buffer: %s", strerror(-ret));
	return EXIT_OK;
}
