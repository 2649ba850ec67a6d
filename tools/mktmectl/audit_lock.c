// SPDX-License-Identifier: GPL-2.0
/*
 * One reader per audit stream. A BPF ring buffer has a single consumer
 * position (kernel/bpf/ringbuf.c): a second reader does not get a copy, it
 * takes records the first one then never sees. So a reader first takes an
 * exclusive POSIX lock on /run/mktme/audit-ID.lock, ID being the denial
 * ring buffer's map id (a new load of the programs, a new ring, a new
 * lock); a second reader is refused with the holder's pid and command line
 * (F_GETLK reports the holder's pid, which flock() would not).
 *
 * /run/mktme is root's, 0700 (systemd's RuntimeDirectory for the unit, kept
 * across restarts: a lock file removed under its holder would let a second
 * reader lock a new one). It is checked before use: whoever could write it
 * could swap the lock file and read beside the holder.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "run_dir.h"

#define RUN_DIR "/run/mktme"

void lock_holder(pid_t pid, char *who, size_t len)
{
	char path[64], cmd[256] = "";
	ssize_t n = 0;
	int fd;

	if (pid <= 0) {
		snprintf(who, len, "a process in another pid namespace");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
	}
	for (ssize_t i = 0; i < n - 1; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	if (n > 0)
		snprintf(who, len, "pid %d (%.200s)", (int)pid, cmd);
	else
		snprintf(who, len, "pid %d", (int)pid);
}

int run_dir_open(bool create, char *why, size_t whylen)
{
	const char *dir = getenv("MKTME_RUN_DIR");
	struct stat st;
	int dfd;

	if (!dir || !*dir)
		dir = RUN_DIR;
	if (create && mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(why, whylen, "%s is not ours alone (owner uid %u, mode %04o)", dir,
			 (unsigned int)st.st_uid, (unsigned int)st.st_mode & 07777);
		close(dfd);
		return -EPERM;
	}
	return dfd;
}

int run_lock_take(int fd, const char *churn, char *who, size_t wholen)
{
	/* A holder may let go between the two calls: then try once more. */
	for (int tries = 0; tries < 3; tries++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (!fcntl(fd, F_SETLK, &fl))
			return 0;
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
		fl.l_type = F_WRLCK;
		if (!fcntl(fd, F_GETLK, &fl) && fl.l_type != F_UNLCK) {
			lock_holder(fl.l_pid, who, wholen);
			return -EBUSY;
		}
	}
	snprintf(who, wholen, "%s", churn);
	return -EBUSY;
}

int audit_lock(int ring_fd, char *who, size_t wholen)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char name[64];
	int dfd, fd, err;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(ring_fd, &info, &len))
		return -errno;
	dfd = run_dir_open(true, who, wholen);
	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "audit-%u.lock", info.id);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	err = fd < 0 ? -errno : 0;
	close(dfd);
	if (err)
		return err;
	err = run_lock_take(fd, "readers that come and go", who, wholen);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}
