// SPDX-License-Identifier: GPL-2.0
/*
 * Whose the pin directory is (tools/mktmectl/pin_dir.c): every way a
 * directory on the way to the pins, or a pin, can be another user's or
 * writable by others is refused, naming the component. A tmpfs stands in
 * for bpffs, so a directory that passes every ownership check ends at
 * "not on a BPF filesystem" (the guest's test_cli covers bpffs itself).
 * Runs as root (it chowns).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pin_dir.h"

static char top[PATH_MAX], pins[PATH_MAX + 16], why[PATH_MAX + 128];

static void mk(const char *path, mode_t mode, uid_t uid)
{
	cr_assert(mkdir(path, mode) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
	cr_assert_eq(chmod(path, mode), 0);
	cr_assert_eq(chown(path, uid, 0), 0);
}

static void setup(void)
{
	char tmpl[] = "/tmp/mktme-pin-dir.XXXXXX";

	cr_assert_eq(geteuid(), 0, "needs root (chown)");
	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(top, sizeof(top), "%s", tmpl);
	chmod(top, 0755);
	snprintf(pins, sizeof(pins), "%s/v1", top);
	mk(pins, 0700, 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(pin_dir, .init = setup, .fini = teardown);

/* Refused with -EPERM and @want in the reason. */
static void refused(const char *dir, const char *want)
{
	int ret = pin_dir_check(dir, NULL, why, sizeof(why));

	cr_assert_eq(ret, -EPERM, "%s: %d (%s), want -EPERM", dir, ret, why);
	cr_assert(strstr(why, want), "%s: \"%s\" has no \"%s\"", dir, why, want);
}

Test(pin_dir, root_only_all_the_way_down_passes_the_ownership_checks)
{
	int ret = pin_dir_check(pins, NULL, why, sizeof(why));

	/* Everything but the filesystem is right. */
	cr_assert_eq(ret, -EINVAL, "%d: %s", ret, why);
	cr_assert(strstr(why, "not on a BPF filesystem"), "%s", why);
}

Test(pin_dir, a_pin_directory_of_another_user_is_refused)
{
	cr_assert_eq(chown(pins, 65534, 65534), 0);
	refused(pins, "/v1 is owned by uid 65534, not root");
}

Test(pin_dir, a_squatted_parent_is_refused)
{
	/* The squatter made the parent and let root make v1 in it. */
	cr_assert_eq(chown(top, 65534, 65534), 0);
	refused(pins, "is owned by uid 65534, not root");
	cr_assert(strstr(why, top) && !strstr(why, "/v1 "), "names the parent: %s", why);
}

Test(pin_dir, a_pin_directory_others_may_enter_is_refused)
{
	cr_assert_eq(chmod(pins, 0755), 0);
	refused(pins, "has mode 0755 (want 0700");
	cr_assert_eq(chmod(pins, 0710), 0);
	refused(pins, "has mode 0710");
}

Test(pin_dir, a_parent_writable_by_others_needs_the_sticky_bit)
{
	cr_assert_eq(chmod(top, 0777), 0);
	refused(pins, "writable by others without the sticky bit");
	cr_assert_eq(chmod(top, 0775), 0);
	refused(pins, "has mode 0775: writable by others");
	/* As bpffs's own root: 1777 is fine, others cannot rename root's entries. */
	cr_assert_eq(chmod(top, 01777), 0);
	cr_assert_eq(pin_dir_check(pins, NULL, why, sizeof(why)), -EINVAL, "%s", why);
}

Test(pin_dir, a_symbolic_link_on_the_way_is_refused)
{
	char link[PATH_MAX + 16], via[PATH_MAX + 32];

	snprintf(link, sizeof(link), "%s/ln", top);
	cr_assert_eq(symlink(pins, link), 0);
	refused(link, "is a symbolic link");
	snprintf(via, sizeof(via), "%s/ln/x", top);
	refused(via, "/ln is a symbolic link");
}

Test(pin_dir, relative_and_missing_paths_are_errors)
{
	char missing[PATH_MAX + 32];

	cr_assert_eq(pin_dir_check("sys/fs/bpf/mktme", NULL, why, sizeof(why)), -EINVAL);
	snprintf(missing, sizeof(missing), "%s/nope/v1", top);
	cr_assert_eq(pin_dir_check(missing, NULL, why, sizeof(why)), -ENOENT, "%s", why);
	cr_assert(strstr(why, "/nope"), "%s", why);
}

Test(pin_dir, a_pin_must_be_roots_and_0600)
{
	int dfd = open(pins, O_RDONLY | O_DIRECTORY), fd;

	cr_assert_geq(dfd, 0);
	fd = openat(dfd, "mktme_policy", O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(pin_check(dfd, "mktme_policy", why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(fchmodat(dfd, "mktme_policy", 0644, 0), 0);
	cr_assert_eq(pin_check(dfd, "mktme_policy", why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "mode 0644"), "%s", why);
	cr_assert_eq(fchmodat(dfd, "mktme_policy", 0600, 0), 0);
	cr_assert_eq(fchownat(dfd, "mktme_policy", 65534, 0, 0), 0);
	cr_assert_eq(pin_check(dfd, "mktme_policy", why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "owned by uid 65534"), "%s", why);
	cr_assert_eq(symlinkat("/etc/passwd", dfd, "mktme_keys"), 0);
	cr_assert_eq(pin_check(dfd, "mktme_keys", why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "not a pin"), "%s", why);
	cr_assert_eq(pin_check(dfd, "mktme_live", why, sizeof(why)), -ENOENT);
	close(dfd);
}
