// SPDX-License-Identifier: GPL-2.0
/*
 * The policy's owner (owner.h): a POSIX lock, so that a daemon that dies
 * (even by SIGKILL) stops owning at once, and F_GETLK names the holder.
 * The note beside it is written by rename, so a reader sees it whole.
 */
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "main.h"
#include "run_dir.h"

/* "owner--sys-fs-bpf-mktme-v2.lock" for the pin directory /sys/fs/bpf/mktme/v2. */
static void name_for(const char *kind, const char *suffix, char *name, size_t len)
{
	size_t n = (size_t)snprintf(name, len, "%s-", kind);

	for (const char *c = cli.pin_dir; *c && n + 1 < len; c++)
		name[n++] = *c == '/' ? '-' : *c;
	name[n] = '\0';
	snprintf(name + n, len - n, "%s", suffix);
}

static int open_in_run_dir(const char *kind, const char *suffix, int flags, char *why, size_t whylen)
{
	char name[256];
	/* Only a daemon makes the directory: asking whether one runs changes nothing. */
	int dfd = run_dir_open(flags & O_CREAT, why, whylen), fd, err;

	if (dfd < 0)
		return dfd;
	name_for(kind, suffix, name, sizeof(name));
	fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	err = fd < 0 ? -errno : 0;
	close(dfd);
	return err ? err : fd;
}

int owner_take(const char *file, char *why, size_t whylen)
{
	char body[4200];
	int fd = open_in_run_dir("owner", ".lock", O_RDWR | O_CREAT, why, whylen), err, n;

	if (fd < 0)
		return fd;
	err = run_lock_take(fd, "daemons that come and go", why, whylen);
	if (err) {
		if (err != -EBUSY)
			snprintf(why, whylen, "%s", strerror(-err));
		close(fd);
		return err;
	}
	n = snprintf(body, sizeof(body), "%d\n%s\n", (int)getpid(), file);
	if (ftruncate(fd, 0) || pwrite(fd, body, n, 0) != n) {
		err = -errno;
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

int owner_get(pid_t *pid, char *who, size_t wholen, char *file, size_t filelen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char body[4200], why[256];
	ssize_t n;
	int fd = open_in_run_dir("owner", ".lock", O_RDWR, why, sizeof(why));

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (fcntl(fd, F_GETLK, &fl)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (fl.l_type == F_UNLCK) {
		close(fd);
		return 0;
	}
	*pid = fl.l_pid;
	lock_holder(fl.l_pid, who, wholen);
	n = pread(fd, body, sizeof(body) - 1, 0);
	close(fd);
	body[n > 0 ? n : 0] = '\0';
	{
		char *nl = strchr(body, '\n'), *f = nl ? nl + 1 : body + strlen(body);

		snprintf(file, filelen, "%.*s", (int)strcspn(f, "\n"), f);
	}
	return 1;
}

int owner_override_set(const char *what)
{
	char why[256], tmpname[256], name[256];
	int fd = open_in_run_dir("override", ".tmp", O_WRONLY | O_CREAT | O_TRUNC, why, sizeof(why));
	int dfd, err = 0;
	size_t len = strlen(what);

	if (fd < 0)
		return fd;
	if (write(fd, what, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	name_for("override", ".tmp", tmpname, sizeof(tmpname));
	name_for("override", "", name, sizeof(name));
	dfd = run_dir_open(false, why, sizeof(why));
	if (dfd < 0)
		return dfd;
	if (!err && renameat(dfd, tmpname, dfd, name))
		err = -errno;
	if (err)
		unlinkat(dfd, tmpname, 0);
	close(dfd);
	return err;
}

int owner_override_get(char *buf, size_t len)
{
	char why[256];
	int fd = open_in_run_dir("override", "", O_RDONLY, why, sizeof(why));
	ssize_t n;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 1;
}

int owner_override_clear(void)
{
	char why[256], name[256];
	int dfd = run_dir_open(false, why, sizeof(why)), err = 0;

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	name_for("override", "", name, sizeof(name));
	if (unlinkat(dfd, name, 0) && errno != ENOENT)
		err = -errno;
	close(dfd);
	return err;
}
