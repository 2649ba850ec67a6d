// SPDX-License-Identifier: GPL-2.0
#include "bpfobj.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "assign_state.h"
#include "cgroup.h"
#include "main.h"
#include "mktme_policy.skel.h"
#include "pin_dir.h"

/*
 * The decisions, the charge's release, the guards of the pins
 * (bpf/mktme_policy.bpf.c, "Self-protection"), then the exec records
 * (exec, fork). Names as the kernel keeps them (BPF_OBJ_NAME_LEN: 15
 * characters).
 */
const char *const prog_names[N_PROGS] = {
	"mktme_create", "mktme_bind", "mktme_mmap", "mktme_key_free",
	"mktme_map_open", "mktme_unlink", "mktme_rmdir", "mktme_rename", "mktme_setattr",
	"mktme_exec", "mktme_fork", "mktme_revoked",
};

/*
 * Attach order: the charges' release first (key_free, revoked), so that no
 * key created while the others attach is charged and then never released;
 * the exec records next, so
 * that every task exec'd from then on is known to the decisions; the
 * guards before the decisions, so that nothing is enforced before the pins
 * are protected.
 */
static const int attach_order[N_PROGS] = { 3, 11, 10, 9, 4, 5, 6, 7, 8, 0, 1, 2 };

static struct bpf_program *skel_prog(struct mktme_policy_bpf *skel, int i)
{
	struct bpf_program *progs[N_PROGS] = {
		skel->progs.mktme_create, skel->progs.mktme_bind, skel->progs.mktme_mmap,
		skel->progs.mktme_key_free, skel->progs.mktme_map_open, skel->progs.mktme_unlink,
		skel->progs.mktme_rmdir, skel->progs.mktme_rename, skel->progs.mktme_setattr,
		skel->progs.mktme_exec, skel->progs.mktme_fork, skel->progs.mktme_revoked,
	};

	return progs[i];
}

static int pin_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", cli.pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int obj_get(const char *name)
{
	char path[512];

	if (pin_path(path, sizeof(path), name))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

void pins_close(struct pins *p)
{
	int *fds[] = { &p->dir_fd, &p->policy, &p->tpl, &p->live, &p->keys, &p->counters,
		       &p->assign, &p->state, &p->stats, &p->events, &p->denials, &p->seq,
		       &p->denials_last };

	/* Closing the directory drops the flock. */
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int pins_open(struct pins *p, bool lock)
{
	struct {
		int *fd;
		const char *name;
	} maps[] = {
		{ &p->policy, "mktme_policy" }, { &p->tpl, "mktme_rules_tpl" },
		{ &p->live, "mktme_live" },	{ &p->keys, "mktme_keys" },
		{ &p->counters, "mktme_counters" }, { &p->assign, "mktme_assign" },
		{ &p->state, "mktme_state" },	{ &p->stats, "mktme_stats" },
		{ &p->events, "mktme_events" },	{ &p->denials, "mktme_denials" },
		{ &p->seq, "mktme_seq" },	{ &p->denials_last, "mktme_denials_last" },
	};
	struct pins init = PINS_INIT;
	char why[PATH_MAX + 128];
	int err;

	*p = init;
	p->locked = lock;
	p->dir_fd = open(cli.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (p->dir_fd < 0)
		return -errno;
	/* Pins someone else could have replaced are not ours to trust. */
	err = pin_dir_check(cli.pin_dir, NULL, why, sizeof(why));
	if (err)
		goto unsafe;
	if (lock && flock(p->dir_fd, LOCK_EX)) {
		err = -errno;
		pins_close(p);
		return err;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		err = pin_check(p->dir_fd, maps[i].name, why, sizeof(why));
		if (err == -ENOENT) {
			pins_close(p);
			return err;
		}
		if (err)
			goto unsafe;
		*maps[i].fd = obj_get(maps[i].name);
		if (*maps[i].fd < 0) {
			err = *maps[i].fd == -1 ? -errno : *maps[i].fd;
			pins_close(p);
			return err;
		}
	}
	return 0;
unsafe:
	fprintf(stderr, "mktmectl: not using the pins under %s: %s\n", cli.pin_dir, why);
	pins_close(p);
	return err;
}

int stats_read(const struct pins *p, struct mktme_pol_stats *st)
{
	int ncpu = libbpf_num_possible_cpus();
	struct mktme_pol_stats *v;
	__u32 zero = 0;

	memset(st, 0, sizeof(*st));
	if (ncpu < 0)
		return ncpu;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->stats, &zero, v)) {
		int err = -errno;

		free(v);
		return err;
	}
	for (int i = 0; i < ncpu; i++) {
		st->decisions += v[i].decisions;
		st->denials += v[i].denials;
		st->denials_lost += v[i].denials_lost;
		st->allows_lost += v[i].allows_lost;
		st->keys_untracked += v[i].keys_untracked;
	}
	free(v);
	return 0;
}

static int mkdir_p(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool link_pinned(const char *prog)
{
	char name[64], path[512];

	snprintf(name, sizeof(name), "link_%s", prog);
	if (pin_path(path, sizeof(path), name))
		return false;
	return access(path, F_OK) == 0;
}

/*
 * The kernel's LSM links running one of our programs, by link id, and how
 * many there are. A set attached from another pin directory (or whose pins
 * were removed) shows up here and not under ours.
 */
int programs_in_kernel(unsigned int *ids, size_t max, size_t *n)
{
	__u32 id = 0;

	*n = 0;
	while (bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		__u32 len = sizeof(li);
		int fd = bpf_link_get_fd_by_id(id), pfd;
		bool ours = false;

		if (fd < 0)
			continue;	/* gone meanwhile */
		memset(&li, 0, sizeof(li));
		if (!bpf_obj_get_info_by_fd(fd, &li, &len) && li.type == BPF_LINK_TYPE_TRACING &&
		    li.tracing.attach_type == BPF_LSM_MAC) {
			pfd = bpf_prog_get_fd_by_id(li.prog_id);
			len = sizeof(pi);
			memset(&pi, 0, sizeof(pi));
			if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pi, &len))
				for (int i = 0; i < N_PROGS; i++)
					ours |= !strcmp(pi.name, prog_names[i]);
			if (pfd >= 0)
				close(pfd);
		}
		close(fd);
		if (!ours)
			continue;
		if (*n < max)
			ids[*n] = id;
		(*n)++;
	}
	return errno == ENOENT ? 0 : -errno;
}

/* Our link ids in the kernel that are not pinned under the pin directory. */
static size_t programs_foreign(char *list, size_t len)
{
	unsigned int in_kernel[64], prog_ids[N_PROGS], pinned[N_PROGS];
	char names[N_PROGS][32];
	size_t n = 0, foreign = 0, off = 0;

	programs_attached(names, prog_ids, pinned);
	if (programs_in_kernel(in_kernel, 64, &n))
		return 0;
	list[0] = '\0';
	for (size_t i = 0; i < n && i < 64; i++) {
		bool here = false;

		for (int k = 0; k < N_PROGS; k++)
			here |= pinned[k] && pinned[k] == in_kernel[i];
		if (here)
			continue;
		foreign++;
		if (off < len)
			off += snprintf(list + off, len - off, "%s%u", foreign > 1 ? ", " : "", in_kernel[i]);
	}
	return foreign;
}

int programs_ensure(bool *adopted)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct mktme_policy_bpf *skel = NULL;
	struct pin_guard guard;
	char why[PATH_MAX + 128], foreign[256];
	int missing = 0, err, lock_fd = -1, ret = EXIT_RUNTIME;

	*adopted = false;
	err = mkdir_p(cli.pin_dir);
	if (err)
		return fail(EXIT_RUNTIME, "cannot create %s: %s (is bpffs mounted on /sys/fs/bpf?). Nothing was changed.",
			    cli.pin_dir, strerror(-err));
	/* Squatted (another user's directory), or someone could swap the pins: refuse. */
	err = pin_dir_check(cli.pin_dir, &guard, why, sizeof(why));
	if (err)
		return fail(EXIT_RUNTIME, "refusing to pin the programs under %s: %s. Whoever owns or may write it could rename or replace the pins; remove it (as root) and load again. Nothing was attached.",
			    cli.pin_dir, why);
	lock_fd = open(cli.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX)) {
		ret = fail(EXIT_RUNTIME, "cannot lock %s: %s", cli.pin_dir, strerror(errno));
		goto out;
	}
	for (int i = 0; i < N_PROGS; i++)
		missing += !link_pinned(prog_names[i]);
	/* Never a second set beside one that runs: both would decide. */
	if (programs_foreign(foreign, sizeof(foreign))) {
		ret = fail(EXIT_RUNTIME, "mktme programs are already attached but not pinned under %s (link ids %s): another pin directory, or pins removed by hand. Loading would run a second set beside them; detach them where they are pinned (mktmectl --bpffs-dir DIR policy unload --detach) or reboot. Nothing was attached.",
			   cli.pin_dir, foreign);
		goto out;
	}
	if (!missing) {
		*adopted = true;
		ret = EXIT_OK;
		goto out;
	}

	/* Maps are pinned by name: a partial earlier load is reused, not doubled. */
	opts.pin_root_path = cli.pin_dir;
	skel = mktme_policy_bpf__open_opts(&opts);
	if (!skel) {
		ret = fail(EXIT_RUNTIME, "cannot open the BPF object: %s", strerror(errno));
		goto out;
	}
	skel->rodata->guard_dev = guard.kdev;
	for (int i = 0; i < PIN_GUARD_DIRS; i++)
		skel->rodata->guard_ino[i] = guard.ino[i];
	err = mktme_policy_bpf__load(skel);
	if (err) {
		ret = fail(err == -ESRCH || err == -ENOENT ? EXIT_NO_LSM : EXIT_RUNTIME,
			   "cannot load the BPF programs: %s (does this kernel have the mktme LSM hooks and BTF? libbpf's log above says more). Nothing was attached.",
			   strerror(-err));
		goto out;
	}
	for (int o = 0; o < N_PROGS; o++) {
		int i = attach_order[o];
		char name[64], path[512];
		struct bpf_link *link;

		if (link_pinned(prog_names[i]))
			continue;
		link = bpf_program__attach_lsm(skel_prog(skel, i));
		if (!link) {
			ret = fail(EXIT_RUNTIME, "cannot attach %s: %s", prog_names[i], strerror(errno));
			goto out;
		}
		snprintf(name, sizeof(name), "link_%s", prog_names[i]);
		pin_path(path, sizeof(path), name);
		err = bpf_link__pin(link, path);
		bpf_link__destroy(link);	/* the pin keeps it attached */
		if (err) {
			ret = fail(EXIT_RUNTIME, "cannot pin %s: %s", path, strerror(-err));
			goto out;
		}
	}
	ret = EXIT_OK;
out:
	mktme_policy_bpf__destroy(skel);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

int programs_remove(void)
{
	static const char *const names[] = {
		"link_mktme_create", "link_mktme_bind", "link_mktme_mmap",
		/* the guards after the decisions, the key charges' release last */
		"link_mktme_map_open", "link_mktme_unlink", "link_mktme_rmdir", "link_mktme_rename",
		"link_mktme_setattr", "link_mktme_exec", "link_mktme_fork", "link_mktme_revoked",
		"link_mktme_key_free",
		"mktme_rules", "mktme_policy", "mktme_rules_tpl", "mktme_live", "mktme_keys", "mktme_exe",
		"mktme_counters", "mktme_assign", "mktme_state", "mktme_stats", "mktme_events",
		"mktme_denials", "mktme_seq", "mktme_denials_last",
	};
	int ret = 0;

	/* Links first: enforcement ends before the state goes. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512];

		pin_path(path, sizeof(path), names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	rmdir(cli.pin_dir);
	return ret;
}

int policy_current(const struct pins *p, struct compiled *c)
{
	struct mktme_pol_rule_key k, next;
	struct mktme_pol_rule_val v;
	__u32 zero = 0, id;
	void *prev = NULL;
	int fd, err = 0;

	memset(c, 0, sizeof(*c));
	if (bpf_map_lookup_elem(p->policy, &zero, &id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		if (compiled_add(c, &k, &v)) {
			err = -ENOMEM;
			break;
		}
	}
	close(fd);
	if (err)
		compiled_free(c);
	return err;
}

unsigned int generation_last(const struct pins *p)
{
	struct mktme_pol_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->state, &zero, &st))
		return 0;
	return st.generation;
}

int policy_switch(const struct pins *p, const struct compiled *c, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct bpf_map_info info;
	__u32 len = sizeof(info), zero = 0;
	const struct mktme_pol_meta *meta = compiled_meta(c);
	struct mktme_pol_state st = { .changed_at = time(NULL) };
	char path[512];
	int inner = -1, btf_fd = -1, ret = -1;

	/* The generation's BTF is the programs' own: bpftool shows named fields. */
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(p->tpl, &info, &len) && info.btf_id) {
		btf_fd = bpf_btf_get_fd_by_id(info.btf_id);
		if (btf_fd >= 0) {
			opts.btf_fd = btf_fd;
			opts.btf_key_type_id = info.btf_key_type_id;
			opts.btf_value_type_id = info.btf_value_type_id;
		}
	}
	inner = bpf_map_create(BPF_MAP_TYPE_HASH, "mktme_rules", sizeof(struct mktme_pol_rule_key),
			       sizeof(struct mktme_pol_rule_val), MKTME_RULES_ENTRIES, &opts);
	if (inner < 0) {
		snprintf(err, errlen, "cannot create the new generation's map: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (bpf_map_update_elem(inner, &c->e[i].key, &c->e[i].val, BPF_NOEXIST)) {
			snprintf(err, errlen, "cannot fill the new generation (entry %zu of %zu): %s",
				 i + 1, c->n, strerror(errno));
			goto out;
		}
	}
	/* The switch: one update. Before it nothing the programs read changed. */
	if (bpf_map_update_elem(p->policy, &zero, &inner, BPF_ANY)) {
		snprintf(err, errlen, "cannot switch to the new generation: %s", strerror(errno));
		goto out;
	}
	ret = 0;
	st.generation = meta ? meta->generation : 0;
	if (bpf_map_update_elem(p->state, &zero, &st, BPF_ANY))
		fprintf(stderr, "mktmectl: warning: cannot record generation %u: %s\n",
			st.generation, strerror(errno));
	/* For bpftool: the generation in force under a fixed name. */
	pin_path(path, sizeof(path), "mktme_rules");
	unlink(path);
	if (bpf_obj_pin(inner, path))
		fprintf(stderr, "mktmectl: warning: cannot pin %s: %s\n", path, strerror(errno));
out:
	if (inner >= 0)
		close(inner);
	if (btf_fd >= 0)
		close(btf_fd);
	return ret;
}

int policy_clear(const struct pins *p)
{
	char path[512];
	__u32 zero = 0;

	if (bpf_map_delete_elem(p->policy, &zero) && errno != ENOENT)
		return -errno;
	pin_path(path, sizeof(path), "mktme_rules");
	unlink(path);
	return 0;
}

/* What the pinned mktme_assign map holds. */
static int map_read(const struct pins *p, struct assignment **out, size_t *n)
{
	struct mktme_pol_cg_key k, next;
	struct mktme_pol_assign_val v;
	struct assignment *a = NULL;
	void *prev = NULL;
	size_t cap = 0;

	*n = 0;
	while (bpf_map_get_next_key(p->assign, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(p->assign, &k, &v))
			continue;
		if (*n == cap) {
			struct assignment *na;

			cap = cap ? cap * 2 : 16;
			na = realloc(a, cap * sizeof(*a));
			if (!na) {
				free(a);
				errno = ENOMEM;
				return -ENOMEM;
			}
			a = na;
		}
		memset(&a[*n], 0, sizeof(a[*n]));
		a[*n].cgid = k.cgid;
		memcpy(a[*n].name, k.name, sizeof(a[*n].name));
		a[*n].name[sizeof(a[*n].name) - 1] = '\0';
		a[*n].id = v.id;
		a[*n].assigned_at = v.assigned_at;
		a[*n].owner_any = v.flags & MKTME_AF_OWNER_ANY;
		(*n)++;
	}
	*out = a;
	return 0;
}

static struct mktme_pol_cg_key assign_key(const struct assignment *a)
{
	struct mktme_pol_cg_key k;

	memset(&k, 0, sizeof(k));
	k.cgid = a->cgid;
	snprintf(k.name, sizeof(k.name), "%s", a->name);
	return k;
}

/* The map to hold exactly @a: for bpftool, and the fallback above. */
static int map_mirror(const struct pins *p, const struct assignment *a, size_t n)
{
	struct mktme_pol_cg_key k, kept, next;
	void *prev = NULL;
	int err = 0;

	while (bpf_map_get_next_key(p->assign, prev, &next) == 0) {
		bool keep = false;

		k = next;
		for (size_t i = 0; i < n && !keep; i++) {
			struct mktme_pol_cg_key ak = assign_key(&a[i]);

			keep = !memcmp(&ak, &k, sizeof(k));
		}
		if (!keep && bpf_map_delete_elem(p->assign, &k) == 0)
			continue;	/* deleted: the walk goes on from the one kept before */
		kept = k;
		prev = &kept;
	}
	for (size_t i = 0; i < n; i++) {
		struct mktme_pol_cg_key ak = assign_key(&a[i]);
		struct mktme_pol_assign_val v = {
			.assigned_at = a[i].assigned_at,
			.id = a[i].id,
			.flags = a[i].owner_any ? MKTME_AF_OWNER_ANY : 0,
		}, cur;

		/* The daemon mirrors every 2 s: write only what differs. */
		if (!bpf_map_lookup_elem(p->assign, &ak, &cur) && !memcmp(&cur, &v, sizeof(v)))
			continue;
		if (bpf_map_update_elem(p->assign, &ak, &v, BPF_ANY))
			err = -errno;
	}
	return err;
}

int assignments_read(const struct pins *p, struct assignment **out, size_t *n)
{
	static char last_err[sizeof(((struct diag *)0)->msg) + 300];
	const char *dir = state_dir(cli.state_dir);
	struct state s;
	struct diag d;
	size_t pending;
	int ret;

	if (state_load(dir, &s, &d)) {
		char msg[sizeof(last_err)];
		FILE *m = fmemopen(msg, sizeof(msg), "w");

		if (m) {
			diag_print(&d, m);
			fclose(m);
			msg[sizeof(msg) - 1] = '\0';
			if (strcmp(msg, last_err)) {
				fprintf(stderr, "mktmectl: %smktmectl: the assignments in force are kept until the state file can be read again\n",
					msg);
				snprintf(last_err, sizeof(last_err), "%s", msg);
			}
		}
		return map_read(p, out, n);
	}
	last_err[0] = '\0';
	ret = state_resolve(&s, cgroup_root(cli.cgroup_root), out, n, &pending);
	state_free(&s);
	if (ret) {
		errno = -ret;
		return ret;
	}
	if (p->locked && (ret = map_mirror(p, *out, *n)))
		fprintf(stderr, "mktmectl: warning: the pinned mktme_assign map does not mirror the state file: %s\n",
			strerror(-ret));
	return 0;
}

int policy_reassign(const struct pins *p, char *err, size_t errlen)
{
	struct compiled cur, next;
	struct policy pol;
	struct assignment *a = NULL;
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root };
	struct diag d;
	size_t n = 0, keep = 0;
	int ret;

	if (policy_current(p, &cur))
		return 0;
	ret = policy_decompile(&cur, &o, &pol);
	compiled_free(&cur);
	if (ret) {
		snprintf(err, errlen, "cannot read the policy in force: %s", strerror(-ret));
		return -1;
	}
	/* The file's rules stay as they are; assignments are taken afresh. */
	for (size_t i = 0; i < pol.nr_rules; i++) {
		if (pol.rules[i].from_assign) {
			struct policy_rule *r = &pol.rules[i];

			free(r->cgroup);
			for (size_t k = 0; k < r->nr_keys; k++)
				free(r->keys[k].name);
			free(r->keys);
			continue;
		}
		pol.rules[keep++] = pol.rules[i];
	}
	pol.nr_rules = keep;
	ret = assignments_read(p, &a, &n);
	if (!ret)
		ret = policy_compile(&pol, a, n, generation_last(p) + 1, &next, &d);
	if (ret) {
		snprintf(err, errlen, "%s", ret == -ENOMEM ? "out of memory" : d.msg);
		free(a);
		policy_free(&pol);
		return -1;
	}
	ret = policy_switch(p, &next, err, errlen);
	compiled_free(&next);
	free(a);
	policy_free(&pol);
	return ret;
}

int programs_attached(char names[N_PROGS][32], unsigned int prog_ids[N_PROGS],
		      unsigned int link_ids[N_PROGS])
{
	int attached = 0;

	for (int i = 0; i < N_PROGS; i++) {
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		__u32 len = sizeof(li);
		char name[64];
		int fd, pfd;

		names[i][0] = '\0';
		prog_ids[i] = 0;
		link_ids[i] = 0;
		snprintf(name, sizeof(name), "link_%s", prog_names[i]);
		fd = obj_get(name);
		if (fd < 0)
			continue;
		memset(&li, 0, sizeof(li));
		if (!bpf_obj_get_info_by_fd(fd, &li, &len)) {
			link_ids[i] = li.id;
			pfd = bpf_prog_get_fd_by_id(li.prog_id);
			if (pfd >= 0) {
				len = sizeof(pi);
				memset(&pi, 0, sizeof(pi));
				if (!bpf_obj_get_info_by_fd(pfd, &pi, &len)) {
					snprintf(names[i], 32, "%s", pi.name);
					prog_ids[i] = pi.id;
					attached++;
				}
				close(pfd);
			}
		}
		close(fd);
	}
	return attached;
}
