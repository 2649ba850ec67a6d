/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the guest test suites. */
#ifndef MKTME_TESTS_GUEST_H
#define MKTME_TESTS_GUEST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Every Criterion .timeout in tests/guest is GUEST_TIMEOUT(seconds): the debug
 * kernel (make test-debug) is several times slower, and its build of the suites
 * gets -DGUEST_TIMEOUT_FACTOR=N, the factor run-in-guest's guard and the boot's
 * bound are scaled by too. tests/host/test_run_driver.c refuses a bare number.
 */
#ifndef GUEST_TIMEOUT_FACTOR
#define GUEST_TIMEOUT_FACTOR 1
#endif
#define GUEST_TIMEOUT(seconds) ((seconds) * GUEST_TIMEOUT_FACTOR)

/* Whole file, NUL-terminated, or NULL with errno set. Caller frees. */
char *guest_read_file(const char *path, size_t *len);

/* $MKTME_BUILD/rel: the host build directory, visible read-only in the guest. */
const char *guest_build_path(const char *rel);

/*
 * $MKTME_SRC/rel: the checkout's own files (run-in-guest sets MKTME_SRC to
 * the checkout it runs from; unset, the current directory, as the host
 * tests' relative paths). Not beside $MKTME_BUILD: make test-debug builds
 * in build/debug.
 */
const char *guest_src_path(const char *rel);

/* Is @word an element of the comma/space/newline-separated @list? */
bool guest_list_has(const char *list, const char *word);

/* ---- mktme core (issue 3) ------------------------------------------------
 *
 * Where the kernel exposes things. The names follow DESIGN.md §2 and issue 3;
 * kept here, in one place, so that a rename in the core is one edit.
 */
#include <stdint.h>
#include <sys/types.h>
#include <keyutils.h>
#include <linux/mktme.h>

#define MKTME_DEV		"/dev/mktme"
#define MKTME_SYSFS		"/sys/kernel/mm/mktme"
#define MKTME_DEBUGFS		"/sys/kernel/debug/mktme"
#define MKTME_KEY_TYPE		"mktme"
#define PAGE_SZ			4096UL

/* Payloads used everywhere. */
#define PAYLOAD_CPU_128		"type=cpu algorithm=aes-xts-128"
#define PAYLOAD_CPU_256		"type=cpu algorithm=aes-xts-256"

/* A number in a file (sysfs, debugfs, procfs); -1 with errno if unreadable. */
long guest_read_long(const char *path);
/* Write @s to @path: 0, or -errno. */
int guest_write_str(const char *path, const char *s);
/* $MKTME_TIMEOUT_FACTOR (tests/run sets it: 1, or more under the debug kernel),
 * by which every bounded wait here is multiplied. */
int guest_timeout_factor(void);
/* Poll @path every 20 ms until it reads @want or @timeout_ms (times the
 * factor) passed; the last value read. */
long guest_wait_long(const char *path, long want, int timeout_ms);

/* /sys/kernel/mm/mktme/NAME and /sys/kernel/debug/mktme/NAME, as numbers;
 * the test fails if the file is missing. */
long mktme_sysfs(const char *name);
long mktme_debugfs(const char *name);
void mktme_debugfs_set(const char *name, long value);
/*
 * How long the waits below wait for an event that must come (a key destroyed
 * by the key garbage collector, a KeyID released): generous, for TCG on a
 * loaded machine; a wait that succeeds returns as soon as the event is seen.
 */
#define MKTME_WAIT_MS		30000
/* Wait for debugfs NAME == @want: the value last read. The reprogramming of
 * a released KeyID happens just after keyids_in_use drops. */
long mktme_wait_debugfs(const char *name, long want);
/*
 * KEY_PROGRAM executions so far, whichever the backend: the emulated one's
 * debugfs program_calls; under the TME-MK model (hw backend), the PCONFIGs
 * the model logged on package 0, where every program starts (with nothing
 * injected there is no rollback, so one per program). The wait polls it as
 * mktme_wait_debugfs() does.
 */
long mktme_program_calls(void);
long mktme_wait_program_calls(long want);
/* Wait (key destruction is asynchronous) for keyids_in_use == @want. */
long mktme_wait_keyids(long want);
/* References on @keyid (debugfs keyids: the key's, each region's); the test
 * fails if the KeyID is not listed. */
long mktme_keyid_refs(int keyid);
/*
 * Return once the key garbage collector (security/keys/gc.c) has run a full
 * pass since the call: every key that had no reference left before it has
 * been destroyed (->destroy run). One work item runs the passes one after
 * the other; a throw-away key is unlinked and waited out of /proc/keys,
 * then a second one: unless a single pass outlasts both (a pass scans the
 * key tree in microseconds), a pass that started after the call has
 * finished. The event to wait for before asserting that something was NOT
 * released by a key's destruction.
 */
void guest_key_gc_barrier(void);

/* add_key("mktme", @desc, @payload) into the process keyring: serial, or -1 with errno. */
key_serial_t mktme_key_add(const char *desc, const char *payload);
/* The same; the test fails unless it succeeded. */
key_serial_t mktme_key_add_ok(const char *desc, const char *payload);
/* The KeyID of @key, from keyctl read ("keyid=N type=T alg=A"), or -errno. */
int mktme_key_keyid(key_serial_t key);
/* Wait until every KeyID is back (keyids_in_use 0: the keys of earlier
 * tests are destroyed asynchronously, after their process is gone); the test
 * fails, with the debugfs keyids table, if that does not happen. */
long mktme_settle(void);
/* The same, as a Criterion .init. */
void guest_settle(void);
/* Unlink from the process keyring (the last reference: the key is destroyed). */
void mktme_key_drop(key_serial_t key);

/* open(/dev/mktme), asserted. */
int mktme_open(void);
/* open + SET_KEY @key, asserted. */
int mktme_region(key_serial_t key);
/* ioctl(SET_KEY): 0 or errno. */
int mktme_set_key(int fd, key_serial_t key);
/* mmap(MAP_SHARED) of the region, asserted. */
void *mktme_map(int fd, size_t len, int prot);
/* MKTME_IOC_QUERY_PTE on @addr: 0 or errno. */
int mktme_query(int fd, const void *addr, struct mktme_pte_query *q);
/* MKTME_IOC_GET_INFO, asserted. */
struct mktme_region_info mktme_info(int fd);

/* A key of its own (unique name), a region bound to it, and a read-write
 * mapping of @pages pages; all asserted. */
struct guest_region {
	key_serial_t key;
	int keyid;
	int fd;
	char *p;
	size_t len;
};
struct guest_region guest_region_new(const char *payload, size_t pages);
/* Unmap, close, unlink the key. */
void guest_region_free(struct guest_region *r);

/* Write one byte at @p from a child process: 0 if that worked, the signal
 * that killed the child if not, -1 on any other outcome. No assertions:
 * usable from a child. */
int guest_write_in_child(volatile char *p);

/*
 * The page-frame bits of a page-table entry: 12 up to the kernel's physical
 * address width (/proc/cpuinfo "address sizes", x86_phys_bits), which on
 * TME-MK is reduced by the KeyID bits that sit just above it.
 */
unsigned long long guest_pte_pfn_mask(void);
/* A /proc/meminfo field, in kB. */
long guest_meminfo_kb(const char *field);
/* Is @needle (len bytes) anywhere in @hay (hlen bytes)? */
bool guest_memmem(const void *hay, size_t hlen, const void *needle, size_t len);
/* Wait for child @pid; its raw wait status. */
int guest_wait_child(pid_t pid);
/* Drop @cap from the effective, permitted and inheritable sets (prctl + capset). */
int guest_drop_cap(int cap);

/* The cgroup v2 directory of this process (/sys/fs/cgroup/...). Caller frees. */
char *guest_cgroup_self(void);
/* Move this process into cgroup directory @dir, asserted. */
void guest_cgroup_enter(const char *dir);
/* A field of @dir/memory.stat (bytes), asserted. */
long guest_cgroup_stat(const char *dir, const char *field);
/*
 * guest_cgroup_stat() once it is at least @want, or its last value after
 * MKTME_WAIT_MS (times the factor). memory.stat lags what was charged by up
 * to a per-CPU batch until mm/memcontrol.c's flush work (every 2 s) or
 * enough updates catch it up: read at once, 512 pages just charged showed
 * as 387.
 */
long guest_wait_cgroup_stat(const char *dir, const char *field, long want);
/* Run the calling task on @cpu only (every CPU for @cpu < 0): 0 or -errno.
 * No assertion inside: forked children call it and exit with a code. */
int guest_pin_cpu(int cpu);
/* Whether the kernel log (the whole ring buffer) holds @needle, asserted readable. */
bool guest_kernel_log_has(const char *needle);

/*
 * A shell command (popen(), formatted from @fmt): its exit status, or 128 +
 * the signal that killed it. Its stdout goes into *@out if @out is given
 * (NUL-terminated, freed by the caller), else to our stderr; guest_sh_all()
 * takes its stderr along (" 2>&1" after the whole command). The command and
 * what was captured are logged to stderr; the test fails if it cannot be run.
 */
int guest_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int guest_sh_all(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The mktmectl of the host build, in a buffer of its own (guest_build_path()
 * reuses one), so that it can be passed next to another path. */
const char *guest_ctl(void);

/*
 * The metadata of the policy generation in force, read as the programs read
 * it: the mktme_policy slot under MKTME_PIN_DIR, then its meta map's one
 * entry. 0, or -1 (errno set) if there is none or it cannot be read.
 */
struct mktme_pol_meta;
int guest_meta_in_force(struct mktme_pol_meta *meta);

/* ---- the TME-MK model (tools/qemu; tools/vm/run --hw-model) -------------
 *
 * The model logs what firmware locked into the TME MSRs and every PCONFIG it
 * executed to $MKTME_OUT/tme-mk.log (QEMU's tme-log property; the host file
 * is read through the 9p share, uncached). One line per PCONFIG:
 * "pconfig package=P cpu=C keyid=K cmd=N alg=0xA rc=R[ state=S]".
 */
struct hwmodel_pconfig {
	int package, cpu;
	unsigned int keyid, cmd, alg, rc;
	char state[16];		/* the entry's new state on success, else "" */
};
struct hwmodel_msrs {
	unsigned long long capability, activate, partitioning;
	unsigned int keyids, phys_bits;
};
/* The model's MSR line, asserted present. */
struct hwmodel_msrs hwmodel_msrs(void);
/* The PCONFIG lines after the first @skip of them, into *@out (caller
 * frees); their number. */
size_t hwmodel_pconfigs(size_t skip, struct hwmodel_pconfig **out);
/* The state of @keyid in @package's key table after every PCONFIG logged
 * so far ("unprogrammed" if none succeeded for it). */
const char *hwmodel_state(int package, unsigned int keyid);

#endif
