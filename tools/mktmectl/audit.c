// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl audit [--follow]: one line per decision from the mktme_events
 * ring buffer. Debian's bpftool 7.1 cannot read a ring buffer; this can.
 */
#include "audit.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "bpfobj.h"
#include "cgroup.h"
#include "json.h"
#include "main.h"
#include "names.h"

struct reader {
	bool json;
	FILE *out;
	/* The last few cgroup paths: finding one walks the cgroup tree. */
	struct {
		unsigned long long id;
		char *path;
	} cache[16];
	unsigned int next;
};

static const char *cg_path(struct reader *r, unsigned long long id)
{
	char *path = NULL;
	unsigned int i;

	if (!id)
		return NULL;
	for (i = 0; i < 16; i++)
		if (r->cache[i].path && r->cache[i].id == id)
			return r->cache[i].path;
	if (cgroup_path(cgroup_root(cli.cgroup_root), id, &path))
		return NULL;
	i = r->next++ % 16;
	free(r->cache[i].path);
	r->cache[i].id = id;
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

static int on_event(void *ctx, void *data, size_t size)
{
	struct reader *r = ctx;
	const struct mktme_pol_event *e = data;
	char when[64], key[MKTME_NAME_LEN + 1], comm[17];
	const char *cg, *rcg, *verdict = name_of(verdict_names, e->verdict);
	bool enforced = e->ret != 0;

	if (size < sizeof(*e))
		return 0;
	wall_time(e->time_ns, when, sizeof(when));
	snprintf(key, sizeof(key), "%.*s", MKTME_NAME_LEN, e->key);
	snprintf(comm, sizeof(comm), "%.*s", 16, e->comm);
	cg = cg_path(r, e->cgid);
	rcg = cg_path(r, e->rule_cgid);
	if (r->json) {
		struct json_object *o = json_object_new_object();

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
	fprintf(r->out, "%s %-5s %-6s pid %u (%s) uid %u cgroup %s key \"%s\"%s serial %d keyid %u: ",
		when, e->verdict == MKTME_DENY ? (enforced ? "DENY" : "deny*") : "allow",
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
	fprintf(r->out, ", generation %u, %s%s\n", e->generation, name_of(mode_names, e->mode),
		e->verdict == MKTME_DENY && !enforced ? " (not enforced)" : "");
	fflush(r->out);
	return 0;
}

struct ring_buffer *audit_reader(int events_fd, bool json, FILE *out)
{
	struct reader *r = calloc(1, sizeof(*r));
	struct ring_buffer *rb;

	if (!r)
		return NULL;
	r->json = json;
	r->out = out;
	/* Lives as long as the process: readers are made once per run. */
	rb = ring_buffer__new(events_fd, on_event, r, NULL);
	if (!rb)
		free(r);
	return rb;
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
	struct pins p;
	struct ring_buffer *rb;
	bool follow = false;
	int ret;

	opts_begin();
	while ((ret = opts_next(argc, argv, "f", opts)) != -1) {
		if (ret != 'f')
			return opts_error(ret, argv);
		follow = true;
	}
	if (optind != argc + 1)
		return usage_fail("unexpected argument \"%s\"", argv[optind - 1]);
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
	rb = audit_reader(p.events, cli.json, stdout);
	if (!rb) {
		pins_close(&p);
		return fail(EXIT_RUNTIME, "cannot read the ring buffer: %s", strerror(errno));
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ret = ring_buffer__consume(rb);
	while (follow && !stop && ret >= 0) {
		ret = ring_buffer__poll(rb, 500);
		if (ret == -EINTR)
			ret = 0;
	}
	ring_buffer__free(rb);
	pins_close(&p);
	if (ret < 0)
		return fail(EXIT_RUNTIME, "reading the ring buffer: %s", strerror(-ret));
	return EXIT_OK;
}
