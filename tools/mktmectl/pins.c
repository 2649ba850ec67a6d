// SPDX-License-Identifier: GPL-2.0
/* The pinned maps: opening them (checked, locked) and reading the program stats. */
#include "pins.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "main.h"
#include "mktme_policy.h"
#include "pin_dir.h"

int pin_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", cli.pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pin_obj_get(const char *name)
{
	char path[512];

	if (pin_path(path, sizeof(path), name))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

void pins_close(struct pins *p)
{
	int *fds[] = { &p->dir_fd, &p->policy, &p->gen_rules, &p->gen_cgroups, &p->meta_tpl,
		       &p->rules_tpl, &p->cgroups_tpl, &p->live, &p->keys, &p->counters,
		       &p->assign, &p->state, &p->source, &p->stats, &p->events, &p->denials,
		       &p->seq,
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
		{ &p->policy, "mktme_policy" },	{ &p->gen_rules, "mktme_gen_rules" },
		{ &p->gen_cgroups, "mktme_gen_cgroups" }, { &p->meta_tpl, "mktme_meta_tpl" },
		{ &p->rules_tpl, "mktme_rules_tpl" }, { &p->cgroups_tpl, "mktme_cgroups_tpl" },
		{ &p->live, "mktme_live" },	{ &p->keys, "mktme_keys" },
		{ &p->counters, "mktme_counters" }, { &p->assign, "mktme_assign" },
		{ &p->state, "mktme_state" },	{ &p->source, "mktme_source" },
		{ &p->stats, "mktme_stats" },
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
		*maps[i].fd = pin_obj_get(maps[i].name);
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
		st->denials_suppressed += v[i].denials_suppressed;
		st->allows_lost += v[i].allows_lost;
		st->keys_untracked += v[i].keys_untracked;
	}
	free(v);
	return 0;
}

