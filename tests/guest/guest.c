// SPDX-License-Identifier: GPL-2.0
#include "guest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "../../bpf/mktme_policy.h"

char *guest_read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0)
		goto fail;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *bigger = realloc(buf, 2 * cap + 1);

			if (!bigger)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
fail:
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	free(buf);
	return NULL;
}

const char *guest_build_path(const char *rel)
{
	static char path[4096];
	const char *build = getenv("MKTME_BUILD");

	snprintf(path, sizeof(path), "%s/%s", build ? build : "build", rel);
	return path;
}

const char *guest_src_path(const char *rel)
{
	static char path[4096];
	const char *src = getenv("MKTME_SRC");

	snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
	return path;
}

bool guest_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		bool start = p == list || strchr(", \n", p[-1]);
		bool end = p[wl] == '\0' || strchr(", \n", p[wl]);

		if (start && end)
			return true;
		p += wl;
	}
	return false;
}

/* ---- mktme core helpers ------------------------------------------------- */

long guest_read_long(const char *path)
{
	char *s = guest_read_file(path, NULL);
	char *end;
	long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s) {
		free(s);
		errno = EINVAL;
		return -1;
	}
	free(s);
	return v;
}

int guest_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n < 0 ? -errno : (size_t)n == strlen(s) ? 0 : -EIO;
	close(fd);
	return err;
}

int guest_timeout_factor(void)
{
	const char *s = getenv("MKTME_TIMEOUT_FACTOR");
	int f = s ? atoi(s) : 1;

	return f > 0 ? f : 1;
}

long guest_wait_long(const char *path, long want, int timeout_ms)
{
	long v = guest_read_long(path);

	timeout_ms *= guest_timeout_factor();

	for (int waited = 0; v != want && waited < timeout_ms; waited += 20) {
		usleep(20 * 1000);
		v = guest_read_long(path);
	}
	return v;
}

static const char *mktme_path(const char *dir, const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

long mktme_sysfs(const char *name)
{
	const char *path = mktme_path(MKTME_SYSFS, name);
	long v = guest_read_long(path);

	cr_assert_geq(v, 0, "cannot read %s: %s", path, strerror(errno));
	return v;
}

long mktme_debugfs(const char *name)
{
	const char *path = mktme_path(MKTME_DEBUGFS, name);
	long v = guest_read_long(path);

	cr_assert_geq(v, 0, "cannot read %s: %s", path, strerror(errno));
	return v;
}

void mktme_debugfs_set(const char *name, long value)
{
	const char *path = mktme_path(MKTME_DEBUGFS, name);
	char buf[32];
	int err;

	snprintf(buf, sizeof(buf), "%ld\n", value);
	err = guest_write_str(path, buf);
	cr_assert_eq(err, 0, "write %ld to %s: %s", value, path, strerror(-err));
}

long mktme_wait_debugfs(const char *name, long want)
{
	return guest_wait_long(mktme_path(MKTME_DEBUGFS, name), want, MKTME_WAIT_MS);
}

static bool backend_is_hw(void)
{
	char *b = guest_read_file(MKTME_SYSFS "/backend", NULL);
	bool hw = b && !strcmp(b, "hw\n");

	free(b);
	return hw;
}

long mktme_program_calls(void)
{
	struct hwmodel_pconfig *v;
	long calls = 0;
	size_t n;

	if (!backend_is_hw())
		return mktme_debugfs("program_calls");
	n = hwmodel_pconfigs(0, &v);
	for (size_t i = 0; i < n; i++)
		calls += v[i].package == 0;
	free(v);
	return calls;
}

long mktme_wait_program_calls(long want)
{
	long waited = 0, limit = (long)MKTME_WAIT_MS * guest_timeout_factor(), v;

	while ((v = mktme_program_calls()) != want && waited < limit) {
		usleep(20000);
		waited += 20;
	}
	return v;
}

long mktme_wait_keyids(long want)
{
	return guest_wait_long(mktme_path(MKTME_SYSFS, "keyids_in_use"), want, MKTME_WAIT_MS);
}

long mktme_keyid_refs(int keyid)
{
	char *s = guest_read_file(MKTME_DEBUGFS "/keyids", NULL);
	long refs = -1;

	cr_assert_not_null(s, "cannot read %s/keyids: %s", MKTME_DEBUGFS, strerror(errno));
	/* "keyid refs state last_command alg", one KeyID a line (keyid.c). */
	for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		int k;
		long r;

		if (sscanf(line, "%d %ld ", &k, &r) == 2 && k == keyid) {
			refs = r;
			break;
		}
	}
	free(s);
	cr_assert_geq(refs, 0, "KeyID %d not listed in %s/keyids", keyid, MKTME_DEBUGFS);
	return refs;
}

/* Is key @serial in /proc/keys (the key tree), whatever its state? */
static bool key_in_tree(key_serial_t serial)
{
	char *s = guest_read_file("/proc/keys", NULL);
	bool found = false;

	cr_assert_not_null(s, "/proc/keys: %s", strerror(errno));
	for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strtoul(line, NULL, 16) == (unsigned long)serial) {
			found = true;
			break;
		}
	free(s);
	return found;
}

void guest_key_gc_barrier(void)
{
	for (int round = 0; round < 2; round++) {
		key_serial_t k = add_key("user", "guest-gc-barrier", "x", 1, KEY_SPEC_PROCESS_KEYRING);
		int waited = 0;

		cr_assert_gt(k, 0, "add_key(user, guest-gc-barrier): %s", strerror(errno));
		cr_assert_eq(keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING), 0, "unlink: %s", strerror(errno));
		for (; key_in_tree(k) && waited < MKTME_WAIT_MS; waited += 5)
			usleep(5 * 1000);
		cr_assert(!key_in_tree(k), "the key garbage collector did not take key %d in %d s", k,
			  MKTME_WAIT_MS / 1000);
	}
}

key_serial_t mktme_key_add(const char *desc, const char *payload)
{
	return add_key(MKTME_KEY_TYPE, desc, payload, strlen(payload), KEY_SPEC_PROCESS_KEYRING);
}

key_serial_t mktme_key_add_ok(const char *desc, const char *payload)
{
	key_serial_t k = mktme_key_add(desc, payload);

	cr_assert_gt(k, 0, "add_key(mktme, %s, \"%s\"): %s", desc, payload, strerror(errno));
	return k;
}

int mktme_key_keyid(key_serial_t key)
{
	char buf[128];
	long n = keyctl_read(key, buf, sizeof(buf) - 1);
	unsigned int keyid;

	if (n < 0)
		return -errno;
	buf[n < (long)sizeof(buf) - 1 ? n : (long)sizeof(buf) - 1] = '\0';
	if (sscanf(buf, "keyid=%u ", &keyid) != 1)
		return -EBADMSG;
	return keyid;
}

long mktme_settle(void)
{
	long v = mktme_wait_keyids(0);

	if (v != 0) {
		char *table = guest_read_file(MKTME_DEBUGFS "/keyids", NULL);

		cr_assert_fail("%ld KeyIDs still in use %d s after the tests before this one: "
			       "a key or region leaked (%s/keyids):\n%s", v, MKTME_WAIT_MS / 1000,
			       MKTME_DEBUGFS, table ? table : strerror(errno));
	}
	return v;
}

void guest_settle(void)
{
	mktme_settle();
}

void mktme_key_drop(key_serial_t key)
{
	cr_assert_eq(keyctl_unlink(key, KEY_SPEC_PROCESS_KEYRING), 0, "unlink key %d: %s", key,
		     strerror(errno));
}

int mktme_open(void)
{
	int fd = open(MKTME_DEV, O_RDWR | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open %s: %s", MKTME_DEV, strerror(errno));
	return fd;
}

int mktme_set_key(int fd, key_serial_t key)
{
	return ioctl(fd, MKTME_IOC_SET_KEY, (unsigned long)key) == 0 ? 0 : errno;
}

int mktme_region(key_serial_t key)
{
	int fd = mktme_open();
	int err = mktme_set_key(fd, key);

	cr_assert_eq(err, 0, "MKTME_IOC_SET_KEY(%d): %s", key, strerror(err));
	return fd;
}

void *mktme_map(int fd, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap %zu bytes of %s: %s", len, MKTME_DEV, strerror(errno));
	return p;
}

int mktme_query(int fd, const void *addr, struct mktme_pte_query *q)
{
	memset(q, 0, sizeof(*q));
	q->addr = (uintptr_t)addr;
	return ioctl(fd, MKTME_IOC_QUERY_PTE, q) == 0 ? 0 : errno;
}

struct mktme_region_info mktme_info(int fd)
{
	struct mktme_region_info info;

	memset(&info, 0xff, sizeof(info));
	cr_assert_eq(ioctl(fd, MKTME_IOC_GET_INFO, &info), 0, "MKTME_IOC_GET_INFO: %s",
		     strerror(errno));
	return info;
}

struct guest_region guest_region_new(const char *payload, size_t pages)
{
	static int n;
	struct guest_region r;
	char name[48];

	/* One name per key: add_key() with a name in use replaces that key. */
	snprintf(name, sizeof(name), "guest-region-%d-%d", getpid(), n++);
	r.key = mktme_key_add_ok(name, payload);
	r.keyid = mktme_key_keyid(r.key);
	cr_assert_gt(r.keyid, 0, "KeyID of key %d: %s", r.key, strerror(-r.keyid));
	r.fd = mktme_region(r.key);
	r.len = pages * PAGE_SZ;
	r.p = mktme_map(r.fd, r.len, PROT_READ | PROT_WRITE);
	return r;
}

void guest_region_free(struct guest_region *r)
{
	cr_assert_eq(munmap(r->p, r->len), 0);
	close(r->fd);
	mktme_key_drop(r->key);
}

int guest_write_in_child(volatile char *p)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		*p = 7;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return WEXITSTATUS(status) ? -1 : 0;
}

long guest_meminfo_kb(const char *field)
{
	char *s = guest_read_file("/proc/meminfo", NULL);
	size_t fl = strlen(field);
	long v = -1;

	cr_assert_not_null(s);
	for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	}
	free(s);
	cr_assert_geq(v, 0, "no %s in /proc/meminfo", field);
	return v;
}

bool guest_memmem(const void *hay, size_t hlen, const void *needle, size_t len)
{
	return memmem(hay, hlen, needle, len) != NULL;
}

int guest_wait_child(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid %d: %s", pid, strerror(errno));
	return status;
}

int guest_drop_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	unsigned int i = cap / 32, bit = 1U << (cap % 32);

	if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
		return -errno;
	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[i].effective &= ~bit;
	d[i].permitted &= ~bit;
	d[i].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

char *guest_cgroup_self(void)
{
	char *s = guest_read_file("/proc/self/cgroup", NULL), *path, *nl;

	cr_assert_not_null(s, "/proc/self/cgroup: %s", strerror(errno));
	cr_assert(!strncmp(s, "0::", 3), "not on cgroup v2 alone: %s", s);
	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	cr_assert_gt(asprintf(&path, "/sys/fs/cgroup%s", strcmp(s + 3, "/") ? s + 3 : ""), 0);
	free(s);
	return path;
}

void guest_cgroup_enter(const char *dir)
{
	char path[512], pid[32];
	int err;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	err = guest_write_str(path, pid);
	cr_assert_eq(err, 0, "enter %s: %s", dir, strerror(-err));
}

long guest_cgroup_stat(const char *dir, const char *field)
{
	char path[512], *s, *line;
	size_t fl = strlen(field);
	long v = -1;

	snprintf(path, sizeof(path), "%s/memory.stat", dir);
	s = guest_read_file(path, NULL);
	cr_assert_not_null(s, "%s: %s", path, strerror(errno));
	for (line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, field, fl) && line[fl] == ' ') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	}
	free(s);
	cr_assert_geq(v, 0, "no %s in %s", field, path);
	return v;
}

long guest_wait_cgroup_stat(const char *dir, const char *field, long want)
{
	long limit = (long)MKTME_WAIT_MS * guest_timeout_factor(), v = guest_cgroup_stat(dir, field);

	for (long waited = 0; v < want && waited < limit; waited += 20) {
		usleep(20 * 1000);
		v = guest_cgroup_stat(dir, field);
	}
	return v;
}

int guest_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (cpu < 0 || c == cpu)
			CPU_SET(c, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

bool guest_kernel_log_has(const char *needle)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	bool found;

	cr_assert_gt(len, 0, "klogctl: %s", strerror(errno));
	buf = calloc(1, len + 1);
	cr_assert_not_null(buf);
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	cr_assert_geq(len, 0, "klogctl: %s", strerror(errno));
	found = strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

static int guest_vsh(char **out, bool with_stderr, const char *fmt, va_list ap)
{
	char *cmd = NULL, *buf = NULL, chunk[4096];
	size_t len = 0, n;
	FILE *p;
	int st;

	cr_assert_geq(vasprintf(&cmd, fmt, ap), 0, "vasprintf: %s", strerror(errno));
	if (with_stderr) {
		char *both = NULL;

		cr_assert_geq(asprintf(&both, "%s 2>&1", cmd), 0, "asprintf: %s", strerror(errno));
		free(cmd);
		cmd = both;
	}
	fprintf(stderr, "$ %s\n", cmd);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "popen %s: %s", cmd, strerror(errno));
	buf = calloc(1, 1);
	cr_assert_not_null(buf);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if (!out) {
			fwrite(chunk, 1, n, stderr);
			continue;
		}
		buf = realloc(buf, len + n + 1);
		cr_assert_not_null(buf);
		memcpy(buf + len, chunk, n);
		len += n;
		buf[len] = '\0';
	}
	st = pclose(p);
	cr_assert_neq(st, -1, "pclose %s: %s", cmd, strerror(errno));
	free(cmd);
	if (out) {
		fputs(buf, stderr);
		*out = buf;
	} else {
		free(buf);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int guest_sh(char **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = guest_vsh(out, false, fmt, ap);
	va_end(ap);
	return rc;
}

int guest_sh_all(char **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = guest_vsh(out, true, fmt, ap);
	va_end(ap);
	return rc;
}

const char *guest_ctl(void)
{
	static char path[4096];

	if (!path[0])
		snprintf(path, sizeof(path), "%s", guest_build_path("mktmectl/mktmectl"));
	return path;
}

int guest_meta_in_force(struct mktme_pol_meta *meta)
{
	int slot = bpf_obj_get(MKTME_PIN_DIR "/mktme_policy"), fd, ret = -1;
	__u32 zero = 0, id;

	if (slot < 0)
		return -1;
	if (!bpf_map_lookup_elem(slot, &zero, &id) && (fd = bpf_map_get_fd_by_id(id)) >= 0) {
		ret = bpf_map_lookup_elem(fd, &zero, meta) ? -1 : 0;
		close(fd);
	}
	close(slot);
	return ret;
}

static char *hwmodel_log(void)
{
	const char *dir = getenv("MKTME_OUT");
	char path[4096];
	char *log;

	cr_assert_not_null(dir, "MKTME_OUT is not set: not run by tools/vm/run");
	snprintf(path, sizeof(path), "%s/tme-mk.log", dir);
	log = guest_read_file(path, NULL);
	cr_assert_not_null(log, "cannot read %s (not under tools/vm/run --hw-model?): %s", path,
			   strerror(errno));
	return log;
}

struct hwmodel_msrs hwmodel_msrs(void)
{
	struct hwmodel_msrs m = { 0 };
	char *log = hwmodel_log();
	char *line = strstr(log, "tme-mk ");

	cr_assert_not_null(line, "no MSR line in the model's log");
	cr_assert_eq(sscanf(line, "tme-mk capability=%llx activate=%llx partitioning=%llx keyids=%u "
			    "phys-bits=%u", &m.capability, &m.activate, &m.partitioning, &m.keyids,
			    &m.phys_bits), 5, "unreadable MSR line: %.120s", line);
	free(log);
	return m;
}

size_t hwmodel_pconfigs(size_t skip, struct hwmodel_pconfig **out)
{
	char *log = hwmodel_log(), *save = NULL, *line;
	size_t n = 0, seen = 0, cap = 0;
	struct hwmodel_pconfig *v = NULL;

	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct hwmodel_pconfig p = { 0 };
		int got;

		if (strncmp(line, "pconfig ", 8))
			continue;
		if (seen++ < skip)
			continue;
		got = sscanf(line, "pconfig package=%d cpu=%d keyid=%u cmd=%u alg=%x rc=%u state=%15s",
			     &p.package, &p.cpu, &p.keyid, &p.cmd, &p.alg, &p.rc, p.state);
		cr_assert(got == 6 || got == 7, "unreadable PCONFIG line: %s", line);
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = realloc(v, cap * sizeof(*v));
			cr_assert_not_null(v);
		}
		v[n++] = p;
	}
	free(log);
	*out = v;
	return n;
}

const char *hwmodel_state(int package, unsigned int keyid)
{
	static char state[16];
	struct hwmodel_pconfig *v;
	size_t n = hwmodel_pconfigs(0, &v);

	snprintf(state, sizeof(state), "unprogrammed");
	for (size_t i = 0; i < n; i++)
		if (v[i].package == package && v[i].keyid == keyid && v[i].state[0])
			snprintf(state, sizeof(state), "%s", v[i].state);
	free(v);
	return state;
}

unsigned long long guest_pte_pfn_mask(void)
{
	static unsigned long long mask;
	char *info, *p;
	unsigned int bits = 0;

	if (mask)
		return mask;
	info = guest_read_file("/proc/cpuinfo", NULL);
	cr_assert_not_null(info, "cannot read /proc/cpuinfo: %s", strerror(errno));
	p = strstr(info, "address sizes");
	cr_assert(p && sscanf(p, "address sizes : %u bits physical", &bits) == 1 && bits > 12 &&
		  bits <= 52, "no physical address width in /proc/cpuinfo");
	free(info);
	mask = ((1ULL << bits) - 1) & ~0xfffULL;
	return mask;
}
