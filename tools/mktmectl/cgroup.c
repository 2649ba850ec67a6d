// SPDX-License-Identifier: GPL-2.0
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mktme_policy.h"

const char *cgroup_root(const char *root)
{
	const char *env;

	if (root && *root)
		return root;
	env = getenv("MKTME_CGROUP_ROOT");
	return env && *env ? env : CGROUP_ROOT_DEFAULT;
}

static int handle_id(int dirfd, const char *rel, uint64_t *id)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	int mnt_id;

	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, rel, &h.fh, &mnt_id, *rel ? 0 : AT_EMPTY_PATH))
		return -errno;
	/*
	 * kernfs hands out exactly its 64-bit node id. Other file systems (the
	 * host tests' stand-in trees) give longer handles whose first bytes
	 * identify the inode well enough for a test; they never reach BPF.
	 */
	*id = 0;
	memcpy(id, h.fh.f_handle, h.fh.handle_bytes < 8 ? h.fh.handle_bytes : 8);
	return 0;
}

int cgroup_id(const char *root, const char *path, uint64_t *id)
{
	struct stat st;
	int dirfd, ret;

	while (*path == '/')
		path++;
	dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	if (fstatat(dirfd, *path ? path : ".", &st, 0)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = -ENOTDIR;
		goto out;
	}
	ret = handle_id(dirfd, path, id);
out:
	close(dirfd);
	return ret;
}

/* Depth-first under @dirfd; @path holds the path so far ("" for the root). */
static int walk(int dirfd, char *path, size_t len, size_t cap, int depth, uint64_t id)
{
	DIR *dir;
	struct dirent *de;
	int ret = -ENOENT;

	if (depth >= MKTME_MAX_DEPTH)
		return -ENOENT;
	dir = fdopendir(dirfd);
	if (!dir) {
		close(dirfd);
		return -ENOENT;
	}
	while (ret == -ENOENT && (de = readdir(dir))) {
		uint64_t cid;
		size_t n = strlen(de->d_name);
		int sub;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + n + 1 > cap)
			continue;
		if (handle_id(dirfd, de->d_name, &cid))
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		if (cid == id)
			ret = 0;
		else if ((sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
			ret = walk(sub, path, len + 1 + n, cap, depth + 1, id);
		if (ret)
			path[len] = '\0';
	}
	closedir(dir);
	return ret;
}

int cgroup_path(const char *root, uint64_t id, char **out)
{
	char *path;
	uint64_t rid;
	int fd, ret;

	ret = cgroup_id(root, "/", &rid);
	if (ret)
		return ret;
	path = calloc(1, 4096 + 2);
	if (!path)
		return -ENOMEM;
	if (rid == id) {
		strcpy(path, "/");
		*out = path;
		return 0;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return -errno;
	}
	ret = walk(fd, path, 0, 4096, 0, id);
	if (ret) {
		free(path);
		return ret;
	}
	*out = path;
	return 0;
}
