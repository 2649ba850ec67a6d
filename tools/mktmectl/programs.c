// SPDX-License-Identifier: GPL-2.0
/*
 * Loading and attaching the programs (once; adopted afterwards), detaching
 * them, and telling which are attached. Nothing here touches a policy
 * generation (generation.c).
 */
#include "programs.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "main.h"
#include "mktme_policy.skel.h"
#include "pin_dir.h"
#include "pins.h"

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

/* How long an unpinned link may take to go (links_gone()). */
#define LINK_GONE_MS 10000

/*
 * This build's identity: FNV-1a over the BPF object mktmectl embeds. It
 * only tells "the programs attached are the ones this mktmectl would
 * load"; it protects nothing (mktme_build is guarded like every pin).
 */
uint64_t programs_build_id(void)
{
	size_t sz;
	const unsigned char *p = mktme_policy_bpf__elf_bytes(&sz);
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sz; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t programs_attached_build(void)
{
	__u32 zero = 0;
	__u64 id = 0;
	int fd = pin_obj_get("mktme_build");

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, &id))
		id = 0;
	close(fd);
	return id;
}

const char *programs_how_str(enum programs_how how)
{
	switch (how) {
	case PROGRAMS_ADOPTED:
		return "adopted";
	case PROGRAMS_ATTACHED:
		return "attached";
	case PROGRAMS_UPGRADED:
		return "upgraded";
	}
	return "?";
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

/* The id of the link pinned as @name, or 0. */
static __u32 pinned_link_id(const char *name)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	int fd = pin_obj_get(name);

	if (fd < 0)
		return 0;
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(fd, &li, &len))
		li.id = 0;
	close(fd);
	return li.id;
}

/*
 * Unpinning a link does not detach it at once: the pin's reference goes
 * when bpffs frees the inode, after an RCU grace period, and the link's
 * release may be deferred to a workqueue (kernel/bpf/inode.c
 * bpf_free_inode(), kernel/bpf/syscall.c bpf_link_put()). Until then the
 * program still runs and the link is still in the kernel's list. Wait for
 * @ids to be gone, for at most @ms milliseconds: 0, or -ETIMEDOUT.
 */
static int links_gone(const __u32 *ids, int n, int ms)
{
	for (int waited = 0;; waited += 10) {
		bool any = false;

		for (int i = 0; i < n; i++) {
			int fd = ids[i] ? bpf_link_get_fd_by_id(ids[i]) : -1;

			if (fd >= 0) {
				any = true;
				close(fd);
			}
		}
		if (!any)
			return 0;
		if (waited >= ms)
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
}

/*
 * A link_NAME_new pin is left by a load stopped between pinning a new link
 * and renaming it over the old (attach_one()): both programs run on that
 * hook. Dropping it detaches the new one; the old one stays. (Not
 * "NAME.new": bpffs refuses names with a dot, kernel/bpf/inode.c
 * bpf_lookup().)
 */
static int drop_stale_new(__u32 ids[N_PROGS])
{
	int ret = 0;

	for (int i = 0; i < N_PROGS; i++) {
		char name[64], path[512];

		snprintf(name, sizeof(name), "link_%s_new", prog_names[i]);
		pin_path(path, sizeof(path), name);
		ids[i] = pinned_link_id(name);
		if (unlink(path) && errno != ENOENT && !ret)
			ret = -errno;
	}
	return ret;
}

size_t programs_halfway(char *list, size_t len)
{
	size_t n = 0, off = 0;

	list[0] = '\0';
	for (int i = 0; i < N_PROGS; i++) {
		char name[64], path[512];

		snprintf(name, sizeof(name), "link_%s_new", prog_names[i]);
		pin_path(path, sizeof(path), name);
		if (access(path, F_OK))
			continue;
		n++;
		if (off < len)
			off += snprintf(list + off, len - off, "%s%s", n > 1 ? ", " : "", name);
	}
	return n;
}

/*
 * Attach program @i and pin its link as link_NAME. The new link is pinned
 * under a temporary name and renamed over the old pin, if any: rename()
 * drops the old pin, the old link's last reference, which detaches the old
 * program (kernel/bpf/syscall.c, bpf_link_put). So the hook runs the old
 * program, then both for a moment, then the new one: never neither. An
 * LSM link cannot be given a new program in place: BPF_LINK_UPDATE needs
 * the link's update_prog, which tracing links (LSM ones among them) do
 * not have in 6.12 (kernel/bpf/syscall.c, bpf_tracing_link_lops).
 */
static int attach_one(struct mktme_policy_bpf *skel, int i, __u32 *old_id)
{
	char name[64], path[512], tmp[520];
	struct bpf_link *link;
	int err;

	snprintf(name, sizeof(name), "link_%s", prog_names[i]);
	pin_path(path, sizeof(path), name);
	*old_id = pinned_link_id(name);
	snprintf(tmp, sizeof(tmp), "%s_new", path);
	link = bpf_program__attach_lsm(skel_prog(skel, i));
	if (!link)
		return fail(EXIT_RUNTIME, "cannot attach %s: %s", prog_names[i], strerror(errno));
	err = bpf_link__pin(link, tmp);
	bpf_link__destroy(link);	/* the pin keeps it attached */
	if (err)
		return fail(EXIT_RUNTIME, "cannot pin %s: %s", tmp, strerror(-err));
	if (rename(tmp, path))
		return fail(EXIT_RUNTIME, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	return EXIT_OK;
}

int programs_ensure(enum programs_how *how)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct mktme_policy_bpf *skel = NULL;
	struct pin_guard guard;
	char why[PATH_MAX + 128], foreign[256];
	int missing = 0, err, lock_fd = -1, ret = EXIT_RUNTIME;
	bool upgrade, same;
	__u32 old_ids[N_PROGS] = { 0 };

	*how = PROGRAMS_ADOPTED;
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
	err = drop_stale_new(old_ids);
	if (err) {
		ret = fail(EXIT_RUNTIME, "cannot remove a link pinned by an upgrade that stopped half-way under %s: %s. Nothing was changed.",
			   cli.pin_dir, strerror(-err));
		goto out;
	}
	/* Gone before the check for links not pinned here would count them. */
	if (links_gone(old_ids, N_PROGS, LINK_GONE_MS)) {
		ret = fail(EXIT_RUNTIME, "a link unpinned from %s (left by an upgrade that stopped half-way) is still attached after %d s. Nothing else was changed; load again.",
			   cli.pin_dir, LINK_GONE_MS / 1000);
		goto out;
	}
	memset(old_ids, 0, sizeof(old_ids));
	for (int i = 0; i < N_PROGS; i++)
		missing += !link_pinned(prog_names[i]);
	/* Never a second set beside one that runs: both would decide. */
	if (programs_foreign(foreign, sizeof(foreign))) {
		ret = fail(EXIT_RUNTIME, "mktme programs are already attached but not pinned under %s (link ids %s): another pin directory, or pins removed by hand. Loading would run a second set beside them; detach them where they are pinned (mktmectl --bpffs-dir DIR policy unload --detach) or reboot. Nothing was attached.",
			   cli.pin_dir, foreign);
		goto out;
	}
	same = programs_attached_build() == programs_build_id();
	if (!missing && same) {
		*how = PROGRAMS_ADOPTED;
		ret = EXIT_OK;
		goto out;
	}
	/*
	 * Links pinned by another build (or by one from before mktme_build:
	 * id 0): replace every one with this build's. This build's, some
	 * missing (a load stopped half-way): attach those.
	 */
	upgrade = missing < N_PROGS && !same;

	/* Maps are pinned by name: a partial earlier load, or the build replaced, is reused. */
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
			   "cannot load the BPF programs: %s (does this kernel have the mktme LSM hooks and BTF? A build whose maps differ from the pinned ones cannot reuse them: libbpf's log above says more). %s",
			   strerror(-err), upgrade ? "The programs attached were left as they were." :
			   "Nothing was attached.");
		goto out;
	}
	for (int o = 0; o < N_PROGS; o++) {
		int i = attach_order[o];

		if (same && link_pinned(prog_names[i]))
			continue;
		ret = attach_one(skel, i, &old_ids[i]);
		if (ret)
			goto out;
	}
	/* Last: a build stopped half-way finds another's id and finishes the job. */
	err = bpf_map__update_elem(skel->maps.mktme_build, &(__u32){ 0 }, sizeof(__u32),
				   &(__u64){ programs_build_id() }, sizeof(__u64), BPF_ANY);
	if (err) {
		ret = fail(EXIT_RUNTIME, "cannot record the build attached in %s/mktme_build: %s",
			   cli.pin_dir, strerror(-err));
		goto out;
	}
	/* Done when the old build's programs no longer run, not a moment before. */
	if (links_gone(old_ids, N_PROGS, LINK_GONE_MS))
		note("the old build's programs are still being detached (the kernel releases unpinned links after an RCU grace period); meanwhile both builds decide");
	*how = upgrade ? PROGRAMS_UPGRADED : PROGRAMS_ATTACHED;
	ret = EXIT_OK;
out:
	mktme_policy_bpf__destroy(skel);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}

/*
 * Unpins everything: the links first, in this order (enforcement ends before
 * the state goes), then the generation in force (pinned under names of its
 * own), then every map of the programs' object, named by the object itself
 * so that a map added to bpf/mktme_policy.bpf.c cannot be left behind.
 * -ENOTEMPTY: something else is left in the directory, which stays.
 */
int programs_remove(void)
{
	static const char *const names[] = {
		"link_mktme_create", "link_mktme_bind", "link_mktme_mmap",
		/* the guards after the decisions, the key charges' release last */
		"link_mktme_map_open", "link_mktme_unlink", "link_mktme_rmdir", "link_mktme_rename",
		"link_mktme_setattr", "link_mktme_exec", "link_mktme_fork", "link_mktme_revoked",
		"link_mktme_key_free",
		"mktme_meta", "mktme_rules", "mktme_cgroups",
	};
	__u32 stale[N_PROGS] = { 0 };
	struct mktme_policy_bpf *skel;
	struct bpf_map *m;
	char path[512];
	int ret;

	/* Links first (a stopped upgrade's too): enforcement ends before the state goes. */
	ret = drop_stale_new(stale);
	if (!ret && links_gone(stale, N_PROGS, LINK_GONE_MS))
		ret = -ETIMEDOUT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pin_path(path, sizeof(path), names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	skel = mktme_policy_bpf__open();
	if (!skel)
		return ret ? ret : -errno;
	bpf_object__for_each_map(m, skel->obj) {
		if (!bpf_map__is_internal(m)) {
			pin_path(path, sizeof(path), bpf_map__name(m));
			if (unlink(path) && errno != ENOENT)
				ret = -errno;
		}
	}
	mktme_policy_bpf__destroy(skel);
	if (rmdir(cli.pin_dir) && errno != ENOENT && !ret)
		ret = -errno;
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
		fd = pin_obj_get(name);
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

bool programs_current(void)
{
	char names[N_PROGS][32], halfway[64];
	unsigned int progs[N_PROGS], links[N_PROGS];

	return programs_attached(names, progs, links) == N_PROGS &&
	       !programs_halfway(halfway, sizeof(halfway)) &&
	       programs_attached_build() == programs_build_id();
}
