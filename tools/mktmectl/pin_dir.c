// SPDX-License-Identifier: GPL-2.0
#include "pin_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <linux/magic.h>

#define PIN_DIR_DEPTH 32	/* components of the pin directory's path */

/* One directory on the way down: why it is unsafe, or NULL. */
static const char *unsafe(const struct stat *st, bool last)
{
	static char why[96];

	if (S_ISLNK(st->st_mode))
		return "is a symbolic link";
	if (!S_ISDIR(st->st_mode))
		return "is not a directory";
	if (st->st_uid != 0) {
		snprintf(why, sizeof(why), "is owned by uid %u, not root", (unsigned int)st->st_uid);
		return why;
	}
	/* The pin directory: nobody but root may even look up names in it. */
	if (last && (st->st_mode & 077)) {
		snprintf(why, sizeof(why), "has mode %04o (want 0700: root's alone)",
			 (unsigned int)(st->st_mode & 07777));
		return why;
	}
	/* Above it, others may write only where the sticky bit stops them renaming root's entries. */
	if (!last && (st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		snprintf(why, sizeof(why), "has mode %04o: writable by others without the sticky bit",
			 (unsigned int)(st->st_mode & 07777));
		return why;
	}
	return NULL;
}

int pin_dir_check(const char *dir, struct pin_guard *g, char *why, size_t len)
{
	char path[PATH_MAX];
	struct stat st[PIN_DIR_DEPTH], root;
	struct statfs sfs;
	size_t n = 0, plen = strlen(dir);
	const char *bad;

	if (dir[0] != '/' || plen >= sizeof(path)) {
		snprintf(why, len, "%s: not an absolute path", dir);
		return -EINVAL;
	}
	/* Every component, from / down, without following symbolic links. */
	memcpy(path, dir, plen + 1);
	while (plen > 1 && path[plen - 1] == '/')
		path[--plen] = '\0';
	for (size_t i = 1; i <= plen; i++) {
		char c = path[i];

		if (c != '/' && c != '\0')
			continue;
		path[i] = '\0';
		if (n == PIN_DIR_DEPTH) {
			snprintf(why, len, "%s: more than %d directories deep", dir, PIN_DIR_DEPTH);
			return -EINVAL;
		}
		if (lstat(path, &st[n])) {
			int err = -errno;

			snprintf(why, len, "%s: %s", path, strerror(errno));
			return err;
		}
		bad = unsafe(&st[n], i == plen);
		if (bad) {
			snprintf(why, len, "%s %s", path, bad);
			return -EPERM;
		}
		n++;
		path[i] = c;
	}
	if (lstat("/", &root)) {
		snprintf(why, len, "/: %s", strerror(errno));
		return -EIO;
	}
	bad = unsafe(&root, false);
	if (bad) {
		snprintf(why, len, "/ %s", bad);
		return -EPERM;
	}
	if (statfs(dir, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		snprintf(why, len, "%s is not on a BPF filesystem (bpffs)", dir);
		return -EINVAL;
	}
	if (!g)
		return 0;
	/* st[n - 1] is the pin directory; guard up to the bpffs root, not it. */
	memset(g, 0, sizeof(*g));
	g->kdev = (major(st[n - 1].st_dev) << 20) | minor(st[n - 1].st_dev);
	for (size_t k = 0; k < n; k++) {
		size_t j = n - 1 - k;
		const struct stat *s = &st[j];
		dev_t parent = j ? st[j - 1].st_dev : root.st_dev;

		/* The bpffs root (its parent is on another filesystem) is not guarded. */
		if (s->st_dev != st[n - 1].st_dev || parent != s->st_dev)
			break;
		if (k == PIN_GUARD_DIRS) {
			snprintf(why, len, "%s is more than %d directories below the bpffs root", dir,
				 PIN_GUARD_DIRS);
			return -EINVAL;
		}
		g->ino[k] = s->st_ino;
	}
	return 0;
}

int pin_check(int dir_fd, const char *name, char *why, size_t len)
{
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		int err = -errno;

		snprintf(why, len, "%s: %s", name, strerror(errno));
		return err;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
		snprintf(why, len, "%s is %s, owned by uid %u, mode %04o (want a pin of root's, 0600)",
			 name, S_ISREG(st.st_mode) ? "a pin" : "not a pin", (unsigned int)st.st_uid,
			 (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}
