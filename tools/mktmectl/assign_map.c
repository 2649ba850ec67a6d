// SPDX-License-Identifier: GPL-2.0
/*
 * The assignments to compile with: the state file's (assign_state.h), and
 * the pinned mktme_assign map that mirrors them for bpftool (and stands in
 * for the file while it cannot be read).
 */
#include "assign_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "assign_state.h"
#include "cgroup.h"
#include "grow.h"
#include "main.h"
#include "pins.h"

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
		if (grow(&a, &cap, *n, sizeof(*a))) {
			free(a);
			errno = ENOMEM;
			return -ENOMEM;
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

