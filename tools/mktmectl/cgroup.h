/* SPDX-License-Identifier: GPL-2.0 */
/* Cgroup v2 paths and the ids BPF sees for them. */
#ifndef MKTMECTL_CGROUP_H
#define MKTMECTL_CGROUP_H

#include <stdint.h>

#define CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"

/* @root if set, else $MKTME_CGROUP_ROOT, else /sys/fs/cgroup. */
const char *cgroup_root(const char *root);

/*
 * The id of cgroup @path ("/a/b", relative to @root): on cgroup2 the file
 * handle of the directory is the kernfs node id, which is what
 * bpf_get_current_ancestor_cgroup_id() returns. Returns 0 with the id, or a
 * negative errno (-ENOENT: no such cgroup, -ENOTDIR: not a directory).
 */
int cgroup_id(const char *root, const char *path, uint64_t *id);

/*
 * The path under @root of the cgroup with id @id, found by walking the tree
 * (bounded by MKTME_MAX_DEPTH levels). Returns 0 and a malloc'ed path, or
 * -ENOENT if no such cgroup exists (any more).
 */
int cgroup_path(const char *root, uint64_t id, char **path);

#endif
