// SPDX-License-Identifier: GPL-2.0
/*
 * The chain every later test stands on: the guest runs the project's own
 * kernel, with BPF LSM active and BTF exposed, and a BPF LSM program built from
 * bpf/ loads, attaches, denies for one process only, and detaches cleanly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "selftest_deny.skel.h"

Test(chain, kernel_is_the_project_build)
{
	/*
	 * The BTF the running kernel exposes is byte-for-byte the .BTF section
	 * of the vmlinux we built: nothing else can produce that.
	 */
	size_t running_len, built_len;
	char *running = guest_read_file("/sys/kernel/btf/vmlinux", &running_len);
	char *built = guest_read_file(guest_build_path("btf/vmlinux.btf"), &built_len);

	cr_assert_not_null(running, "cannot read /sys/kernel/btf/vmlinux");
	cr_assert_not_null(built, "cannot read the built kernel's BTF (make bpf)");
	cr_assert_eq(running_len, built_len, "BTF size differs: running %zu, built %zu",
		     running_len, built_len);
	cr_assert(memcmp(running, built, built_len) == 0, "BTF content differs");
	free(running);
	free(built);
}

/* The value of `#define NAME "value"` in @header (a generated kernel header), malloc'ed. */
static char *header_string(const char *header, const char *name)
{
	char *text = guest_read_file(guest_build_path(header), NULL), *p, *end, *v = NULL;
	char pattern[64];

	cr_assert_not_null(text, "cannot read %s: %s", guest_build_path(header), strerror(errno));
	snprintf(pattern, sizeof(pattern), "#define %s", name);
	p = strstr(text, pattern);
	if (p && (p = strchr(p + strlen(pattern), '"')) && (end = strchr(p + 1, '"')))
		v = strndup(p + 1, end - p - 1);
	free(text);
	cr_assert_not_null(v, "no %s in %s", name, header);
	return v;
}

Test(chain, kernel_release_and_version_match_build)
{
	struct utsname u;
	char *release = guest_read_file(guest_build_path("kernel/obj/include/config/kernel.release"), NULL);
	char *version = header_string("kernel/obj/include/generated/utsversion.h", "UTS_VERSION");
	char *by = header_string("kernel/obj/include/generated/compile.h", "LINUX_COMPILE_BY");
	char *host = header_string("kernel/obj/include/generated/compile.h", "LINUX_COMPILE_HOST");
	char *proc = guest_read_file("/proc/version", NULL);
	char who[256];

	cr_assert_not_null(release);
	cr_assert_not_null(proc);
	cr_assert_eq(uname(&u), 0);
	release[strcspn(release, "\n")] = '\0';
	cr_assert_str_eq(u.release, release);
	/* The build number and timestamp (KBUILD_BUILD_TIMESTAMP, kernel/build.sh). */
	cr_assert_str_eq(u.version, version, "uname -v is not the build's UTS_VERSION");
	/* KBUILD_BUILD_USER@KBUILD_BUILD_HOST, set by kernel/build.sh. */
	snprintf(who, sizeof(who), "(%s@%s)", by, host);
	cr_assert(strstr(proc, who), "/proc/version lacks %s: %s", who, proc);
	free(release);
	free(version);
	free(by);
	free(host);
	free(proc);
}

Test(chain, bpf_is_an_active_lsm)
{
	size_t len;
	char *lsm = guest_read_file("/sys/kernel/security/lsm", &len);

	cr_assert_not_null(lsm, "securityfs not mounted or no lsm file");
	cr_assert(guest_list_has(lsm, "bpf"), "bpf not in the active LSMs: %s", lsm);
	free(lsm);
}

static int try_mprotect(void *page)
{
	return mprotect(page, 4096, PROT_READ) == 0 ? 0 : errno;
}

/* The same mprotect() from a child process: another tgid. */
static int try_mprotect_in_child(void *page)
{
	int status;
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(try_mprotect(page));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(chain, bpf_lsm_denies_for_own_pid_only_until_detached)
{
	struct selftest_deny_bpf *skel;
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(page, MAP_FAILED);
	cr_assert_eq(try_mprotect(page), 0, "mprotect fails before any program is loaded");

	skel = selftest_deny_bpf__open();
	cr_assert_not_null(skel, "open skeleton: %s", strerror(errno));
	skel->rodata->target_tgid = getpid();
	cr_assert_eq(selftest_deny_bpf__load(skel), 0, "load: %s", strerror(errno));
	cr_assert_eq(selftest_deny_bpf__attach(skel), 0, "attach: %s", strerror(errno));

	cr_assert_eq(try_mprotect(page), EPERM, "attached program did not deny our mprotect");
	cr_assert_eq(try_mprotect_in_child(page), 0, "another process was denied too");
	cr_assert_eq(skel->bss->denied, 1, "program counted %llu denials, want 1",
		     (unsigned long long)skel->bss->denied);

	selftest_deny_bpf__destroy(skel);
	cr_assert_eq(try_mprotect(page), 0, "mprotect still denied after detach");
	munmap(page, 4096);
}
