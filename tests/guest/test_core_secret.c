// SPDX-License-Identifier: GPL-2.0
/*
 * The secret-memory guarantees of /dev/mktme (DESIGN.md §2.4, issue 3):
 * the four checks of the kernel's memfd_secret selftest (RLIMIT_MEMLOCK
 * unless CAP_IPC_LOCK, no file I/O on the fd, process_vm_readv, ptrace
 * PEEKDATA), plus /proc/pid/mem, O_DIRECT from and into the region, a core
 * dump that leaves the region out, and hibernation refused while pages of a
 * region exist.
 *
 * Every refusal has a positive control on ordinary memory in the same test,
 * so that "it failed" means "it was refused", not "the test was broken".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#define ERR_FILE_IO		EINVAL	/* no ->read/->write/splice: fs/read_write.c */

TestSuite(core_secret, .init = guest_settle, .timeout = GUEST_TIMEOUT(120));

/* A byte sequence nobody else has in memory: xorshift64 from @seed. */
static void secret_fill(char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed;

	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

#define SECRET_SEED 0x6d6b746d65736563ULL	/* "mktmesec" */

/* ---- 1. RLIMIT_MEMLOCK ------------------------------------------------- */

/*
 * dev.c: a region opened without CAP_IPC_LOCK refuses a mapping larger than
 * RLIMIT_MEMLOCK (EAGAIN, like mlock_future_check() and memfd_secret in
 * 5.14), and a fault that would take the owner's locked_vm past the limit
 * raises SIGBUS (as memfd_secret does). With CAP_IPC_LOCK at open, no limit.
 */
static int mlock_child(size_t limit)
{
	key_serial_t k;
	int fd, fd2;
	char *p, *q;

	if (guest_drop_cap(CAP_IPC_LOCK))
		return 10;
	/* Its own key: the parent's is not in this process's keyrings. */
	k = mktme_key_add("core-secret-mlock-child", PAYLOAD_CPU_128);
	fd = open(MKTME_DEV, O_RDWR);
	if (k < 0 || fd < 0 || mktme_set_key(fd, k))
		return 11;
	/* Up to the limit: mapped and populated. */
	p = mmap(NULL, limit, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 12;
	memset(p, 2, limit);
	/* A mapping larger than the limit: refused at mmap. */
	q = mmap(NULL, 2 * limit, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (q != MAP_FAILED)
		return 13;
	if (errno != EAGAIN)
		return 14;
	/* One page more, in another region: refused at the fault. */
	fd2 = open(MKTME_DEV, O_RDWR);
	if (fd2 < 0 || mktme_set_key(fd2, k))
		return 15;
	q = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	if (q == MAP_FAILED)
		return 16;
	if (guest_write_in_child(q) != SIGBUS)
		return 17;
	/* The first region gone, its pages are uncharged: now it fits. */
	munmap(p, limit);
	close(fd);
	if (guest_write_in_child(q) != 0)
		return 18;
	return 0;
}

Test(core_secret, mlock_limit_applies_without_cap_ipc_lock)
{
	const rlim_t limit = 8 * PAGE_SZ;
	struct rlimit rl = { limit, limit };
	key_serial_t k = mktme_key_add_ok("core-secret-mlock", PAYLOAD_CPU_128);
	long pages = mktme_sysfs("pages_mapped");
	int fd, status;
	char *p;
	pid_t pid;

	/* Opened with CAP_IPC_LOCK (root): the limit does not apply. */
	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	fd = mktme_region(k);
	p = mktme_map(fd, 2 * limit, PROT_READ | PROT_WRITE);
	memset(p, 1, 2 * limit);
	cr_assert_eq(mktme_info(fd).nr_pages, 2 * limit / PAGE_SZ);
	cr_assert_eq(munmap(p, 2 * limit), 0);
	close(fd);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(mlock_child(limit));
	status = guest_wait_child(pid);
	cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "child: 10 capset, 11 key/open/SET_KEY, 12 mmap within the limit refused, "
		     "13 mmap over the limit accepted, 14 its errno not EAGAIN, 15-16 second region, "
		     "17 fault over the limit not SIGBUS, 18 fault after uncharge failed; got %d",
		     WEXITSTATUS(status));
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages, "pages left after the child exited");
	mktme_key_drop(k);
}

/* ---- 2. file I/O on the fd ---------------------------------------------- */

Test(core_secret, file_io_on_the_fd_is_refused)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 1);
	char buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	int pipefd[2];
	loff_t off = 0;

	memset(r.p, 0x33, PAGE_SZ);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(read(r.fd, buf, sizeof(buf)), -1, "read() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "read: %s", strerror(errno));
	cr_assert_eq(pread(r.fd, buf, sizeof(buf), 0), -1, "pread() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "pread: %s", strerror(errno));
	cr_assert_eq(readv(r.fd, &iov, 1), -1, "readv() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "readv: %s", strerror(errno));
	cr_assert_eq(write(r.fd, buf, sizeof(buf)), -1, "write() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "write: %s", strerror(errno));
	cr_assert_eq(pwrite(r.fd, buf, sizeof(buf), 0), -1, "pwrite() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "pwrite: %s", strerror(errno));

	/* Nor through the kernel's in-kernel readers (no ->splice_read either). */
	cr_assert_eq(pipe2(pipefd, O_NONBLOCK), 0);
	cr_assert_eq(sendfile(pipefd[1], r.fd, &off, sizeof(buf)), -1, "sendfile() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "sendfile: %s", strerror(errno));
	cr_assert_eq(splice(r.fd, &off, pipefd[1], NULL, sizeof(buf), 0), -1, "splice() worked");
	cr_assert_eq(errno, ERR_FILE_IO, "splice: %s", strerror(errno));
	/* Positive control: the pipe does carry what is written into it. */
	cr_assert_eq(write(pipefd[1], "c", 1), 1);
	cr_assert_eq(read(pipefd[0], buf, sizeof(buf)), 1, "the pipe held more than the control byte");
	cr_assert_eq(buf[0], 'c');
	close(pipefd[0]);
	close(pipefd[1]);

	/* The write()s above carried zeros: the region must not have taken them. */
	for (size_t i = 0; i < PAGE_SZ; i++)
		cr_assert_eq(r.p[i], 0x33, "file I/O changed byte %zu of the region", i);
	guest_region_free(&r);
}

/* ---- 3. process_vm_readv / writev ---------------------------------------- */

Test(core_secret, process_vm_readv_and_writev_are_refused)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 1);
	static char normal[64];
	int to_child[2], from_child[2];
	pid_t pid;
	int status;

	secret_fill(r.p, PAGE_SZ, SECRET_SEED);
	memset(normal, 'N', sizeof(normal));
	cr_assert_eq(pipe(to_child), 0);
	cr_assert_eq(pipe(from_child), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* Another process reads the parent, as the selftest does. */
		char buf[64], c;
		struct iovec l = { buf, sizeof(buf) }, rv;
		pid_t ppid = getppid();

		if (read(to_child[0], &c, 1) != 1)
			_exit(9);
		rv.iov_base = normal;
		rv.iov_len = sizeof(buf);
		if (process_vm_readv(ppid, &l, 1, &rv, 1, 0) != (ssize_t)sizeof(buf) ||
		    memcmp(buf, normal, sizeof(buf)))
			_exit(10);	/* the control failed: proves nothing */
		memset(buf, 0, sizeof(buf));
		rv.iov_base = r.p;
		if (process_vm_readv(ppid, &l, 1, &rv, 1, 0) != -1)
			_exit(11);
		if (errno != EFAULT)
			_exit(12);
		memset(buf, 'W', sizeof(buf));
		if (process_vm_writev(ppid, &l, 1, &rv, 1, 0) != -1)
			_exit(13);
		if (errno != EFAULT)
			_exit(14);
		if (write(from_child[1], "1", 1) != 1)
			_exit(15);
		_exit(0);
	}
	cr_assert_eq(write(to_child[1], "1", 1), 1);
	status = guest_wait_child(pid);
	cr_assert(WIFEXITED(status), "child died: %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "child: 10 control read of normal memory failed, 11 readv of the region worked, "
		     "12 readv errno not EFAULT, 13 writev worked, 14 writev errno; got %d",
		     WEXITSTATUS(status));
	{
		char want[PAGE_SZ];

		secret_fill(want, PAGE_SZ, SECRET_SEED);
		cr_assert(memcmp(r.p, want, PAGE_SZ) == 0, "process_vm_writev changed the region");
	}
	/* The same from the process itself. */
	{
		char buf[64];
		struct iovec l = { buf, sizeof(buf) }, rv = { r.p, sizeof(buf) };

		cr_assert_eq(process_vm_readv(getpid(), &l, 1, &rv, 1, 0), -1, "readv of own region worked");
		cr_assert_eq(errno, EFAULT);
	}
	guest_region_free(&r);
}

/* ---- 4. ptrace PEEKDATA / POKEDATA ---------------------------------------- */

Test(core_secret, ptrace_peek_and_poke_are_refused)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 1);
	static volatile long normal = 0x1122334455667788L;
	pid_t pid;
	int status;
	long word;

	secret_fill(r.p, PAGE_SZ, SECRET_SEED);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* The tracee: keeps the inherited mapping, stops for its tracer. */
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		_exit(0);
	}
	status = guest_wait_child(pid);
	cr_assert(WIFSTOPPED(status), "tracee did not stop: %#x", status);

	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, (void *)&normal, NULL);
	cr_assert_eq(errno, 0, "control PEEKDATA of normal memory: %s", strerror(errno));
	cr_assert_eq(word, normal, "control PEEKDATA read %#lx", word);

	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, r.p, NULL);
	cr_assert_eq(word, -1, "PEEKDATA of the region read %#lx", word);
	cr_assert_eq(errno, EIO, "PEEKDATA: %s", strerror(errno));
	cr_assert_eq(ptrace(PTRACE_POKEDATA, pid, r.p, (void *)0x4141414141414141L), -1,
		     "POKEDATA into the region worked");
	cr_assert_eq(errno, EIO, "POKEDATA: %s", strerror(errno));
	{
		char want[16];

		secret_fill(want, sizeof(want), SECRET_SEED);
		cr_assert(memcmp(r.p, want, sizeof(want)) == 0, "POKEDATA changed the shared region");
	}
	kill(pid, SIGKILL);
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	waitpid(pid, &status, 0);
	guest_region_free(&r);
}

/* ---- /proc/pid/mem -------------------------------------------------------- */

static void assert_proc_mem_refuses(const char *path, char *region, const char *normal, size_t nlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	char buf[64];

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, buf, nlen, (off_t)(uintptr_t)normal), (ssize_t)nlen,
		     "control read of normal memory through %s: %s", path, strerror(errno));
	cr_assert(memcmp(buf, normal, nlen) == 0, "control read through %s is wrong", path);

	memset(buf, 0, sizeof(buf));
	cr_assert_eq(pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)region), -1,
		     "%s read the region", path);
	cr_assert_eq(errno, EIO, "%s read: %s", path, strerror(errno));
	memset(buf, 'W', sizeof(buf));
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), (off_t)(uintptr_t)region), -1,
		     "%s wrote the region", path);
	cr_assert_eq(errno, EIO, "%s write: %s", path, strerror(errno));
	close(fd);
}

Test(core_secret, proc_pid_mem_is_refused)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 1);
	static char normal[32] = "normal memory, readable";
	char want[64], path[64];
	pid_t pid;

	secret_fill(r.p, PAGE_SZ, SECRET_SEED);
	assert_proc_mem_refuses("/proc/self/mem", r.p, normal, sizeof(normal));

	/* Another process's view of the same pages. */
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	assert_proc_mem_refuses(path, r.p, normal, sizeof(normal));
	kill(pid, SIGKILL);
	guest_wait_child(pid);

	secret_fill(want, sizeof(want), SECRET_SEED);
	cr_assert(memcmp(r.p, want, sizeof(want)) == 0, "/proc/pid/mem changed the region");
	guest_region_free(&r);
}

/* ---- O_DIRECT ------------------------------------------------------------ */

#define RAMDISK "/dev/ram0"

Test(core_secret, o_direct_from_and_into_the_region_is_refused)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);
	char *normal = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *back = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char want[PAGE_SZ];
	int fd;

	cr_assert_neq(normal, MAP_FAILED);
	cr_assert_neq(back, MAP_FAILED);
	fd = open(RAMDISK, O_RDWR | O_DIRECT | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s O_DIRECT: %s", RAMDISK, strerror(errno));

	/* Control: O_DIRECT from ordinary memory reaches the disk. */
	memset(normal, 'N', PAGE_SZ);
	cr_assert_eq(pwrite(fd, normal, PAGE_SZ, 0), (ssize_t)PAGE_SZ, "control O_DIRECT write: %s",
		     strerror(errno));
	cr_assert_eq(pread(fd, back, PAGE_SZ, 0), (ssize_t)PAGE_SZ, "control O_DIRECT read: %s",
		     strerror(errno));
	cr_assert(memcmp(back, normal, PAGE_SZ) == 0, "control: the ram disk did not keep the data");

	/* From the region: the pages cannot be pinned. */
	secret_fill(r.p, 2 * PAGE_SZ, SECRET_SEED);
	cr_assert_eq(pwrite(fd, r.p, PAGE_SZ, 0), -1, "O_DIRECT write from the region worked");
	cr_assert_eq(errno, EFAULT, "O_DIRECT write: %s", strerror(errno));
	memset(back, 0, PAGE_SZ);
	cr_assert_eq(pread(fd, back, PAGE_SZ, 0), (ssize_t)PAGE_SZ);
	/* Still the control's bytes: nothing of the region reached the disk. */
	cr_assert(memcmp(back, normal, PAGE_SZ) == 0, "the disk changed: region bytes reached it?");

	/* Into the region: neither. */
	cr_assert_eq(pread(fd, r.p + PAGE_SZ, PAGE_SZ, 0), -1, "O_DIRECT read into the region worked");
	cr_assert_eq(errno, EFAULT, "O_DIRECT read: %s", strerror(errno));
	secret_fill(want, PAGE_SZ, SECRET_SEED);
	cr_assert(memcmp(r.p, want, PAGE_SZ) == 0, "region changed");

	close(fd);
	munmap(normal, PAGE_SZ);
	munmap(back, PAGE_SZ);
	guest_region_free(&r);
}

/* ---- core dumps ------------------------------------------------------------ */

#define CORE_PATTERN "/proc/sys/kernel/core_pattern"
#define MARKER "mktme-core-marker:normal-memory-is-dumped"

/*
 * A process with a region of @len bytes (2 MiB: mapped with a PMD) and a
 * marker in ordinary memory dumps core: the marker is in the core, no
 * sampled piece of the region is (VM_DONTDUMP).
 */
static void core_dump_leaves_out(size_t len, size_t stride)
{
	char *old_pattern = guest_read_file(CORE_PATTERN, NULL);
	char path[64];
	size_t clen;
	char *core, *secret;
	pid_t pid;
	int status;

	cr_assert_not_null(old_pattern);
	cr_assert_eq(guest_write_str(CORE_PATTERN, "/tmp/mktme-core.%p"), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		key_serial_t k = mktme_key_add("core-secret-dump", PAYLOAD_CPU_128);
		int fd = open(MKTME_DEV, O_RDWR);
		char *p, *heap = malloc(PAGE_SZ);
		struct mktme_pte_query q;

		if (k < 0 || fd < 0 || !heap || mktme_set_key(fd, k))
			_exit(10);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(11);
		secret_fill(p, len, SECRET_SEED);
		if (mktme_query(fd, p, &q) ||
		    q.level != (len >= (2UL << 20) ? MKTME_PTE_2M : MKTME_PTE_4K))
			_exit(12);
		for (size_t i = 0; i + sizeof(MARKER) <= PAGE_SZ; i += sizeof(MARKER))
			memcpy(heap + i, MARKER, sizeof(MARKER));
		setrlimit(RLIMIT_CORE, &rl);
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	status = guest_wait_child(pid);
	guest_write_str(CORE_PATTERN, old_pattern);
	cr_assert(WIFSIGNALED(status), "child did not crash: status %#x (exit 12: wrong page size)",
		  status);
	cr_assert(WCOREDUMP(status), "no core dump written (signal %d)", WTERMSIG(status));

	snprintf(path, sizeof(path), "/tmp/mktme-core.%d", pid);
	core = guest_read_file(path, &clen);
	cr_assert_not_null(core, "read %s: %s", path, strerror(errno));
	unlink(path);
	cr_assert(guest_memmem(core, clen, MARKER, sizeof(MARKER)),
		  "the core (%zu bytes) lacks the marker from normal memory", clen);
	secret = malloc(len);
	cr_assert_not_null(secret);
	secret_fill(secret, len, SECRET_SEED);
	for (size_t off = 0; off < len; off += stride)
		cr_assert(!guest_memmem(core, clen, secret + off, 32),
			  "the core contains region bytes from offset %zu", off);
	free(secret);
	free(core);
	free(old_pattern);
}

Test(core_secret, core_dump_leaves_the_region_out)
{
	core_dump_leaves_out(4 * PAGE_SZ, PAGE_SZ / 2);
}

Test(core_secret, core_dump_leaves_a_2m_mapped_region_out)
{
	core_dump_leaves_out(2UL << 20, 64 * 1024);
}

/* ---- hibernation ------------------------------------------------------------ */

static bool disk_listed(void)
{
	char *s = guest_read_file("/sys/power/state", NULL);
	bool listed;

	cr_assert_not_null(s, "/sys/power/state: %s", strerror(errno));
	listed = guest_list_has(s, "disk");
	free(s);
	return listed;
}

/*
 * Hibernation is refused while pages of a region exist: the image would
 * hold their plaintext (emulated) or ciphertext no KeyID decrypts after
 * resume (hw). A key, or a bound and mapped region, without pages does not
 * refuse it on the emulated backend, whose key table is kernel memory and
 * goes into the image; on hw a live key does (its bytes are not kept to
 * program it again): shown under the TME-MK model (tests/run hwmodel).
 */
Test(core_secret, hibernation_refused_while_pages_of_a_region_exist)
{
	char *backend = guest_read_file(MKTME_SYSFS "/backend", NULL);
	bool hw = backend && !strcmp(backend, "hw\n");
	key_serial_t k;
	int fd, err;
	char *p;

	free(backend);

	cr_assert_eq(mktme_sysfs("keyids_in_use"), 0,
		     "precondition: an earlier test left KeyIDs in use");
	cr_assert_eq(mktme_sysfs("pages_mapped"), 0, "precondition: an earlier test left pages");
	cr_assert(disk_listed(), "no \"disk\" in /sys/power/state with no KeyID in use");

	/* A key, then a mapped region, with no page: nothing to lose. */
	k = mktme_key_add_ok("core-secret-hibernate", PAYLOAD_CPU_128);
	if (hw)
		cr_assert(!disk_listed(), "hw: \"disk\" offered while a key lives");
	else
		cr_assert(disk_listed(), "\"disk\" refused for a key that has no page");
	fd = mktme_region(k);
	p = mktme_map(fd, 2 * PAGE_SZ, PROT_READ | PROT_WRITE);
	if (hw)
		cr_assert(!disk_listed(), "hw: \"disk\" offered while a key lives");
	else
		cr_assert(disk_listed(), "\"disk\" refused for a mapped region that has no page");

	/* One page: refused, and the log says why. */
	p[0] = 1;
	cr_assert(!disk_listed(), "\"disk\" offered while a region has a page");
	/* Safe to try only because it is not offered: refused before anything freezes. */
	err = guest_write_str("/sys/power/state", "disk");
	cr_assert_eq(err, -EPERM, "echo disk > /sys/power/state: %s", strerror(-err));
	cr_assert(guest_kernel_log_has("hibernation refused: 1 pages of /dev/mktme regions exist"),
		  "no kernel log line saying why hibernation was refused");

	/* The page outlives the key, and so does the refusal: after a key GC pass. */
	mktme_key_drop(k);
	guest_key_gc_barrier();
	cr_assert_eq(mktme_sysfs("keyids_in_use"), 1, "the KeyID was released under the region's page");
	cr_assert(!disk_listed(), "\"disk\" offered while a region holds a page");

	munmap(p, 2 * PAGE_SZ);
	close(fd);
	cr_assert_eq(mktme_wait_keyids(0), 0);
	cr_assert(disk_listed(), "\"disk\" not offered again after the last page went");
}
