// SPDX-License-Identifier: GPL-2.0
/*
 * The operations of the /dev/mktme fuzzer (fuzz_device.c drives them): keys
 * (add, revoke, unlink), regions (open, SET_KEY, GET_INFO, close, an fd passed
 * to another thread), mappings (mmap of every size, offset and alignment the
 * device treats differently: 4 KiB, 2 MiB, 2 MiB ± 4 KiB, misaligned; touch,
 * mprotect, mremap, madvise, mbind, munmap, whole or in part) and fork.
 *
 * Every choice comes from the worker's own stream, whatever the kernel
 * answered (an operation on an empty slot draws the same numbers and does
 * nothing), so a seed and an operation count replay the same calls.
 *
 * Beyond what the kernel's sanitizers see, each operation checks what the
 * device promises (include/uapi/linux/mktme.h, docs/design.md §2.4-2.5):
 *  - a touched page reads zero or the tag this region and file offset wrote,
 *    never another region's or offset's, and zero outside the tag (pages are
 *    zeroed before reuse); its PTE carries the region's KeyID;
 *  - PROT_NONE faults; PROT_EXEC, MAP_PRIVATE, growing mremap, MREMAP_DONTUNMAP
 *    and MADV_DONTNEED are refused; an unbound region cannot be mapped; a
 *    region binds once.
 * SIGBUS is allowed (RLIMIT_MEMLOCK, no memory, a revoked key), as are the
 * documented errors of each call.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/mempolicy.h>
#include <linux/mktme.h>

#include "fuzz_device.h"

__thread struct fz_worker *fz_self;

/* ---- reporting ------------------------------------------------------------ */

void fz_note(struct fz_worker *w, const char *fmt, ...)
{
	char *h = w->history[w->op % FZ_HISTORY];
	int n = snprintf(h, sizeof(w->history[0]), "#%llu ", (unsigned long long)w->op);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h + n, sizeof(w->history[0]) - n, fmt, ap);
	va_end(ap);
	/* dprintf, not stdio: a forked child must not wait on a stdio lock
	 * another thread held at fork(). */
	if (w->verbose)
		dprintf(2, "fuzz_device: %d.%d %s\n", w->proc, w->thread, h);
}

void fz_fail(struct fz_worker *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->failures++;
	/* One write per line: the workers' lines must not interleave. */
	dprintf(2, "fuzz_device: FAIL seed %llu worker %d.%d op #%llu: %s\n",
		(unsigned long long)w->seed, w->proc, w->thread, (unsigned long long)w->op, msg);
	for (uint64_t i = w->op >= FZ_HISTORY ? w->op - FZ_HISTORY + 1 : 0; i <= w->op; i++)
		dprintf(2, "fuzz_device:   %d.%d %s\n", w->proc, w->thread, w->history[i % FZ_HISTORY]);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct fz_worker *w = fz_self;

	(void)si;
	(void)uc;
	if (w && w->armed) {
		w->armed = 0;
		w->last_signal = sig;
		siglongjmp(w->jb, 1);
	}
	/* Outside a touch: a real crash of the fuzzer. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void fz_install_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* ---- helpers ---------------------------------------------------------------- */

static int pick_slot(struct fz_worker *w, int n)
{
	return (int)fz_below(&w->orng, (uint32_t)n);
}

static int free_map_slots(struct fz_worker *w)
{
	int n = 0;

	for (int i = 0; i < FZ_MAPS; i++)
		n += !w->maps[i].addr;
	return n;
}

static struct fz_map *new_map_slot(struct fz_worker *w)
{
	for (int i = 0; i < FZ_MAPS; i++)
		if (!w->maps[i].addr)
			return &w->maps[i];
	return NULL;
}

static size_t mapped_bytes(struct fz_worker *w)
{
	size_t n = 0;

	for (int i = 0; i < FZ_MAPS; i++)
		n += w->maps[i].addr ? w->maps[i].len : 0;
	return n;
}

static int region_info(int fd, struct mktme_region_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, MKTME_IOC_GET_INFO, info) ? errno : 0;
}

static bool errno_in(int err, const int *ok, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ok[i] == err)
			return true;
	return false;
}

#define ERRNO_IN(err, ...) \
	errno_in(err, (const int[]){ __VA_ARGS__ }, sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

/* The tag a region's page holds at its start once written: region and offset. */
static uint64_t page_tag(unsigned int uid, off_t off)
{
	return ((uint64_t)uid << 40) ^ (uint64_t)(off / SZ_4K) ^ 0x6d6b746d65000000ULL;
}

/*
 * Split @m so that [@from, @to) (offsets into the mapping, page-aligned) is
 * a slot of its own, if there are slots for the pieces; else the whole
 * mapping. Returns the slot covering the range.
 */
static struct fz_map *split_map(struct fz_worker *w, struct fz_map *m, size_t *from, size_t *to)
{
	int need = (*from > 0) + (*to < m->len);
	struct fz_map whole = *m, *p;

	if (need > free_map_slots(w)) {
		*from = 0;
		*to = m->len;
		return m;
	}
	if (*from > 0) {
		p = new_map_slot(w);
		*p = whole;
		p->len = *from;
	}
	if (*to < whole.len) {
		p = new_map_slot(w);
		*p = whole;
		p->addr = whole.addr + *to;
		p->off = whole.off + (off_t)*to;
		p->len = whole.len - *to;
	}
	m->addr = whole.addr + *from;
	m->off = whole.off + (off_t)*from;
	m->len = *to - *from;
	*to -= *from;
	*from = 0;
	return m;
}

/* A random page-aligned subrange [*from, *to) of a mapping of @len bytes. */
static void pick_range(struct fz_worker *w, size_t len, size_t *from, size_t *to)
{
	size_t pages = len / SZ_4K;

	switch (fz_below(&w->orng, 4)) {
	case 0: /* whole */
		*from = 0;
		*to = len;
		break;
	case 1: /* head */
		*from = 0;
		*to = (1 + fz_below(&w->orng, (uint32_t)pages)) * SZ_4K;
		break;
	case 2: /* tail */
		*from = fz_below(&w->orng, (uint32_t)pages) * SZ_4K;
		*to = len;
		break;
	default: /* middle */
		*from = fz_below(&w->orng, (uint32_t)pages) * SZ_4K;
		*to = *from + (1 + fz_below(&w->orng, (uint32_t)(pages - *from / SZ_4K))) * SZ_4K;
		break;
	}
}

/* ---- keys ------------------------------------------------------------------- */

static const char *const payloads[] = {
	"type=cpu",
	"type=cpu algorithm=aes-xts-128",
	"type=cpu algorithm=aes-xts-256",
	"type=clear",
	"type=no-encrypt",
	"type=user algorithm=aes-xts-128 key=000102030405060708090a0b0c0d0e0f "
	"tweak=f0e0d0c0b0a090807060504030201000",
};

static void op_key_add(struct fz_worker *w)
{
	int slot = pick_slot(w, FZ_KEYS);
	bool bad = fz_chance(&w->orng, 5);
	const char *payload = bad ? "type=bogus" : payloads[fz_below(&w->orng, 6)];
	char desc[48];
	key_serial_t k;

	snprintf(desc, sizeof(desc), "fz-%d.%d-%llu", w->proc, w->thread, (unsigned long long)w->op);
	fz_note(w, "add_key %s \"%s\" -> slot %d", desc, payload, slot);
	k = add_key("mktme", desc, payload, strlen(payload), KEY_SPEC_PROCESS_KEYRING);
	if (k < 0) {
		w->st.errors++;
		/* ENOKEY: no KeyID left; EDQUOT: the key quota; EPERM, ENOSPC:
		 * a per-user KeyID cap; ENOMEM. */
		if (!bad && !ERRNO_IN(errno, ENOKEY, EDQUOT, EPERM, ENOSPC, ENOMEM, EAGAIN, EBUSY))
			fz_fail(w, "add_key(\"%s\"): %s", payload, strerror(errno));
		return;
	}
	if (bad)
		fz_fail(w, "add_key(\"type=bogus\") succeeded");
	/* The slot's old key goes (its KeyID stays with the regions bound to
	 * it): KeyIDs are few, and keys kept until exit would take them all. */
	if (w->keys[slot])
		keyctl_unlink(w->keys[slot], KEY_SPEC_PROCESS_KEYRING);
	w->keys[slot] = k;
	w->st.ok++;
}

static void op_key_revoke(struct fz_worker *w)
{
	int slot = pick_slot(w, FZ_KEYS);

	if (!w->keys[slot])
		return;
	fz_note(w, "revoke key %d", w->keys[slot]);
	if (keyctl_revoke(w->keys[slot]) && errno != EKEYREVOKED)
		w->st.errors++;
}

static void op_key_unlink(struct fz_worker *w)
{
	int slot = pick_slot(w, FZ_KEYS);

	if (!w->keys[slot])
		return;
	fz_note(w, "unlink key %d", w->keys[slot]);
	if (keyctl_unlink(w->keys[slot], KEY_SPEC_PROCESS_KEYRING))
		w->st.errors++;
	w->keys[slot] = 0;
}

/* ---- regions ---------------------------------------------------------------- */

static void op_open(struct fz_worker *w)
{
	int slot = pick_slot(w, FZ_REGIONS);
	struct fz_region *r = &w->regs[slot];

	if (r->fd >= 0)
		return;
	r->fd = open("/dev/mktme", O_RDWR | O_CLOEXEC);
	fz_note(w, "open -> slot %d fd %d", slot, r->fd);
	if (r->fd < 0) {
		fz_fail(w, "open(/dev/mktme): %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&w->pool->lock);
	r->uid = ++*w->next_uid;
	pthread_mutex_unlock(&w->pool->lock);
	r->shared = false;
}

static void op_set_key(struct fz_worker *w)
{
	struct fz_region *r = &w->regs[pick_slot(w, FZ_REGIONS)];
	int kslot = pick_slot(w, FZ_KEYS);
	uint32_t how = fz_below(&w->orng, 10);
	long serial;

	/* Mostly a key this thread holds: the first from a random slot on. */
	for (int i = 0; i < FZ_KEYS && !w->keys[kslot]; i++)
		kslot = (kslot + 1) % FZ_KEYS;
	serial = how == 0 ? 0 : how == 1 ? -1 : how == 2 ? 0x7fffffff : w->keys[kslot];
	struct mktme_region_info before, after;
	int err;

	if (r->fd < 0)
		return;
	fz_note(w, "SET_KEY fd %d key %ld", r->fd, serial);
	region_info(r->fd, &before);
	err = ioctl(r->fd, MKTME_IOC_SET_KEY, serial) ? errno : 0;
	if (err) {
		w->st.errors++;
		if (!ERRNO_IN(err, EINVAL, EBUSY, ENOKEY, EACCES, EKEYREVOKED, EKEYEXPIRED, EPERM))
			fz_fail(w, "SET_KEY(%ld): %s", serial, strerror(err));
		return;
	}
	w->st.ok++;
	if (before.key_serial && !r->shared)
		fz_fail(w, "SET_KEY(%ld) on a region bound to %d succeeded", serial, before.key_serial);
	if (serial <= 0)
		fz_fail(w, "SET_KEY(%ld) succeeded", serial);
	if (region_info(r->fd, &after) || !after.keyid || (!r->shared && after.key_serial != serial))
		fz_fail(w, "after SET_KEY(%ld): GET_INFO serial %d KeyID %u", serial, after.key_serial,
			after.keyid);
}

static void op_close(struct fz_worker *w)
{
	int slot = pick_slot(w, FZ_REGIONS);
	struct fz_region *r = &w->regs[slot];

	if (r->fd < 0)
		return;
	fz_note(w, "close slot %d fd %d", slot, r->fd);
	close(r->fd);
	r->fd = -1;
}

/* Give a dup of a region to the process's pool, or take one from it. */
static void op_pass(struct fz_worker *w)
{
	int slot = pick_slot(w, FZ_REGIONS);
	bool give = fz_chance(&w->orng, 50);
	struct fz_region *r = &w->regs[slot];

	pthread_mutex_lock(&w->pool->lock);
	if (give && r->fd >= 0 && w->pool->n < FZ_POOL) {
		int fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);

		if (fd >= 0) {
			r->shared = true;
			w->pool->r[w->pool->n] = *r;
			w->pool->r[w->pool->n++].fd = fd;
			fz_note(w, "pass fd %d (region %u) as %d", r->fd, r->uid, fd);
		}
	} else if (!give && r->fd < 0 && w->pool->n > 0) {
		*r = w->pool->r[--w->pool->n];
		fz_note(w, "take fd %d (region %u) into slot %d", r->fd, r->uid, slot);
	}
	pthread_mutex_unlock(&w->pool->lock);
}

/* ---- mappings --------------------------------------------------------------- */

static size_t pick_len(struct fz_worker *w)
{
	switch (fz_below(&w->orng, 7)) {
	case 0: return SZ_4K;
	case 1: return (1 + fz_below(&w->orng, 64)) * SZ_4K;
	case 2: return SZ_2M;
	case 3: return 2 * SZ_2M;
	case 4: return SZ_2M + SZ_4K;
	case 5: return SZ_2M - SZ_4K;
	default: return (1 + fz_below(&w->orng, 1024)) * SZ_4K;
	}
}

static off_t pick_off(struct fz_worker *w)
{
	switch (fz_below(&w->orng, 4)) {
	case 0: return 0;
	case 1: return (off_t)fz_below(&w->orng, 3) * (off_t)SZ_2M;
	case 2: return (off_t)fz_below(&w->orng, 3) * (off_t)SZ_2M + (off_t)SZ_4K;
	default: return (off_t)fz_below(&w->orng, 1024) * (off_t)SZ_4K;
	}
}

/*
 * A place for @len bytes: NULL (the kernel's choice, 2 MiB-aligned for
 * multiples of 2 MiB), or a reserved range at 2 MiB plus @misalign pages,
 * so that huge and misaligned placements both happen. Under the process's
 * layout lock, with the MAP_FIXED that follows and the clean-up after it
 * fails: a failed MAP_FIXED leaves a hole that another thread's mmap(NULL)
 * could take, and the clean-up would then unmap that thread's mapping.
 */
static char *reserve_at(size_t len, size_t misalign)
{
	size_t span = len + 2 * SZ_2M;
	char *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *at, *end;

	if (res == MAP_FAILED)
		return NULL;
	at = (char *)(((uintptr_t)res + SZ_2M - 1) & ~(SZ_2M - 1)) + misalign;
	end = at + len;
	if (at > res)
		munmap(res, (size_t)(at - res));
	if (res + span > end)
		munmap(end, (size_t)(res + span - end));
	return at;
}

static void op_mmap(struct fz_worker *w)
{
	struct fz_region *r = &w->regs[pick_slot(w, FZ_REGIONS)];
	size_t len = pick_len(w);
	off_t off = pick_off(w);
	uint32_t placement = fz_below(&w->orng, 3);
	size_t misalign = fz_below(&w->orng, 512) * SZ_4K;
	uint32_t kind = fz_below(&w->orng, 100);
	int prot = kind < 70 ? PROT_READ | PROT_WRITE : kind < 88 ? PROT_READ :
		   kind < 94 ? PROT_NONE : PROT_READ | PROT_EXEC;
	int flags = fz_chance(&w->orng, 5) ? MAP_PRIVATE : MAP_SHARED;
	bool populate = fz_chance(&w->orng, 10);
	struct mktme_region_info info;
	struct fz_map *m;
	char *at = NULL, *p;
	int err;

	if (r->fd < 0 || !(m = new_map_slot(w)) || mapped_bytes(w) + len > w->map_budget)
		return;
	if (populate)
		flags |= MAP_POPULATE;
	region_info(r->fd, &info);
	pthread_mutex_lock(&w->pool->layout);
	if (placement == 1)
		at = reserve_at(len, 0);
	else if (placement == 2)
		at = reserve_at(len, misalign);
	p = mmap(at, len, prot, flags | (at ? MAP_FIXED : 0), r->fd, off);
	err = p == MAP_FAILED ? errno : 0;
	if (err && at)
		munmap(at, len);
	pthread_mutex_unlock(&w->pool->layout);
	fz_note(w, "mmap fd %d len %#zx off %#llx at %p prot %d flags %#x -> %p %s", r->fd, len,
		(unsigned long long)off, (void *)at, prot, flags, p == MAP_FAILED ? NULL : (void *)p,
		err ? strerror(err) : "");
	if (err) {
		w->st.errors++;
		if (!ERRNO_IN(err, ENOKEY, EKEYREVOKED, EKEYEXPIRED, EAGAIN, ENOMEM, EINVAL, EPERM))
			fz_fail(w, "mmap: %s", strerror(err));
		else if ((flags & MAP_PRIVATE) && err != EINVAL)
			fz_fail(w, "mmap(MAP_PRIVATE): %s, not EINVAL", strerror(err));
		else if (!(flags & MAP_PRIVATE) && (prot & PROT_EXEC) && err != EPERM)
			fz_fail(w, "mmap(PROT_EXEC): %s, not EPERM", strerror(err));
		return;
	}
	w->st.ok++;
	if (flags & MAP_PRIVATE)
		fz_fail(w, "mmap(MAP_PRIVATE) succeeded");
	if (prot & PROT_EXEC)
		fz_fail(w, "mmap(PROT_EXEC) succeeded");
	if (!r->shared && !info.keyid)
		fz_fail(w, "mmap of a region that GET_INFO says is unbound succeeded");
	if (region_info(r->fd, &info) || !info.keyid) {
		fz_fail(w, "mapped region: GET_INFO KeyID %u", info.keyid);
		munmap(p, len);
		return;
	}
	*m = (struct fz_map){ .addr = p, .len = len, .off = off, .prot = prot, .uid = r->uid,
			      .keyid = info.keyid };
}

/* Write (if @write) and check every @step-th page of [@from, @to). */
static void touch_pages(struct fz_worker *w, struct fz_map *m, size_t from, size_t to,
			size_t step, bool write)
{
	for (size_t o = from; o < to; o += step) {
		volatile uint64_t *p = (volatile uint64_t *)(m->addr + o);
		uint64_t tag = page_tag(m->uid, m->off + (off_t)o);
		/* A word the fuzzer never writes: zero, or the page was not
		 * zeroed before it came to this region. */
		size_t spot = 2 + fz_below(&w->orng, SZ_4K / 8 - 2);
		struct mktme_pte_query q = { .addr = (uintptr_t)p };
		uint64_t v, z;

		if (write) {
			p[0] = tag;
			p[1] = ~tag;
		}
		v = p[0];
		z = p[spot];
		w->st.touched++;
		if (v != 0 && (v != tag || p[1] != ~tag))
			fz_fail(w, "page at file offset %#llx of region %u holds %#llx, not its tag %#llx",
				(unsigned long long)(m->off + (off_t)o), m->uid, (unsigned long long)v,
				(unsigned long long)tag);
		if (z)
			fz_fail(w, "page at file offset %#llx of region %u: word %zu is %#llx, not zero",
				(unsigned long long)(m->off + (off_t)o), m->uid, spot, (unsigned long long)z);
		if (ioctl(w->qfd, MKTME_IOC_QUERY_PTE, &q))
			fz_fail(w, "QUERY_PTE %p: %s", (void *)p, strerror(errno));
		else if (q.level == MKTME_PTE_NONE || q.keyid != m->keyid)
			fz_fail(w, "touched page %p (region %u, KeyID %u): level %u KeyID %u", (void *)p,
				m->uid, m->keyid, q.level, q.keyid);
	}
}

/*
 * touch_pages() with SIGSEGV and SIGBUS caught: 0, or the signal that ended
 * it. A PROT_NONE mapping must fault: reading it is a failure if it does not.
 * Nothing but @w is used after the jump back.
 */
static int guarded_touch(struct fz_worker *w, struct fz_map *m, size_t from, size_t to,
			 size_t step, bool write)
{
	w->last_signal = 0;
	if (sigsetjmp(w->jb, 1))
		return w->last_signal;
	w->armed = 1;
	if (m->prot == PROT_NONE) {
		(void)*(volatile char *)(m->addr + from);
		w->armed = 0;
		fz_fail(w, "read of a PROT_NONE mapping at %p did not fault", (void *)(m->addr + from));
		return 0;
	}
	touch_pages(w, m, from, to, step, write);
	w->armed = 0;
	return 0;
}

static void op_touch(struct fz_worker *w)
{
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	uint32_t how = fz_below(&w->orng, 4);
	bool write = fz_chance(&w->orng, 70);
	size_t from, to, step;
	int sig;

	if (!m->addr)
		return;
	switch (how) {
	case 0: /* one page */
		from = fz_below(&w->orng, (uint32_t)(m->len / SZ_4K)) * SZ_4K;
		to = from + SZ_4K;
		step = SZ_4K;
		break;
	case 1: /* every 2 MiB */
		from = 0;
		to = m->len;
		step = SZ_2M;
		break;
	default: /* all, at most 1024 pages */
		pick_range(w, m->len, &from, &to);
		step = SZ_4K;
		if ((to - from) / step > 1024)
			to = from + 1024 * step;
		break;
	}
	write = write && (m->prot & PROT_WRITE);
	fz_note(w, "touch %p+%#zx..%#zx step %#zx %s prot %d", (void *)m->addr, from, to, step,
		write ? "write" : "read", m->prot);
	sig = guarded_touch(w, m, from, to, step, write);
	if (sig == SIGBUS)
		w->st.sigbus++;
	else if (sig && m->prot == PROT_NONE)
		w->st.segv_expected++;
	else if (sig)
		fz_fail(w, "SIGSEGV touching %p..%p (prot %d, len %#zx)", (void *)(m->addr + from),
			(void *)(m->addr + to), m->prot, m->len);
}

static void op_mprotect(struct fz_worker *w)
{
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE,
				     PROT_READ | PROT_EXEC };
	int prot = prots[fz_below(&w->orng, 4)];
	size_t from, to;

	if (!m->addr)
		return;
	pick_range(w, m->len, &from, &to);
	m = split_map(w, m, &from, &to);
	fz_note(w, "mprotect %p len %#zx prot %d", (void *)m->addr, m->len, prot);
	if (mprotect(m->addr, m->len, prot)) {
		w->st.errors++;
		if (!(prot & PROT_EXEC) || errno != EACCES)
			fz_fail(w, "mprotect(%d): %s", prot, strerror(errno));
		return;
	}
	if (prot & PROT_EXEC)
		fz_fail(w, "mprotect(PROT_EXEC) succeeded");
	m->prot = prot;
}

static void op_munmap(struct fz_worker *w)
{
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	size_t from, to;

	if (!m->addr)
		return;
	pick_range(w, m->len, &from, &to);
	m = split_map(w, m, &from, &to);
	fz_note(w, "munmap %p len %#zx", (void *)m->addr, m->len);
	if (munmap(m->addr, m->len))
		fz_fail(w, "munmap: %s", strerror(errno));
	memset(m, 0, sizeof(*m));
}

static void op_mremap(struct fz_worker *w)
{
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	uint32_t how = fz_below(&w->orng, 4);
	size_t pages, newlen, misalign;
	char *p, *at;
	int err;

	if (!m->addr)
		return;
	pages = m->len / SZ_4K;
	switch (how) {
	case 0: /* shrink */
		if (pages < 2)
			return;
		newlen = (1 + fz_below(&w->orng, (uint32_t)pages - 1)) * SZ_4K;
		fz_note(w, "mremap shrink %p %#zx -> %#zx", (void *)m->addr, m->len, newlen);
		p = mremap(m->addr, m->len, newlen, 0);
		if (p == MAP_FAILED) {
			fz_fail(w, "mremap shrink: %s", strerror(errno));
			return;
		}
		m->len = newlen;
		break;
	case 1: /* grow: VM_DONTEXPAND */
		newlen = m->len + SZ_2M;
		fz_note(w, "mremap grow %p %#zx -> %#zx", (void *)m->addr, m->len, newlen);
		p = mremap(m->addr, m->len, newlen, MREMAP_MAYMOVE);
		if (p != MAP_FAILED) {
			fz_fail(w, "mremap grew a VM_DONTEXPAND mapping");
			m->addr = p;
			m->len = newlen;
		}
		break;
	case 2: /* move, to 2 MiB-aligned or not */
		misalign = fz_chance(&w->orng, 50) ? 0 : fz_below(&w->orng, 512) * SZ_4K;
		pthread_mutex_lock(&w->pool->layout);
		at = reserve_at(m->len, misalign);
		p = at ? mremap(m->addr, m->len, m->len, MREMAP_MAYMOVE | MREMAP_FIXED, at) : MAP_FAILED;
		err = p == MAP_FAILED ? errno : 0;
		if (err && at)
			munmap(at, m->len);
		pthread_mutex_unlock(&w->pool->layout);
		fz_note(w, "mremap move %p len %#zx -> %p", (void *)m->addr, m->len, (void *)at);
		if (err) {
			w->st.errors++;
			if (err != ENOMEM)
				fz_fail(w, "mremap move: %s", strerror(err));
			return;
		}
		m->addr = p;
		break;
	default: /* MREMAP_DONTUNMAP: refused for VM_PFNMAP */
		fz_note(w, "mremap dontunmap %p len %#zx", (void *)m->addr, m->len);
		p = mremap(m->addr, m->len, m->len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
		if (p != MAP_FAILED) {
			fz_fail(w, "mremap(MREMAP_DONTUNMAP) of a VM_PFNMAP mapping succeeded");
			munmap(p, m->len);
		}
		break;
	}
}

static void op_madvise(struct fz_worker *w)
{
	static const int advice[] = { MADV_DONTNEED, MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK,
				      MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_POPULATE_READ,
				      MADV_POPULATE_WRITE, MADV_COLD, MADV_PAGEOUT, MADV_FREE,
				      MADV_REMOVE, MADV_WILLNEED, MADV_SEQUENTIAL, MADV_MERGEABLE,
				      MADV_DONTDUMP };
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	int adv = advice[fz_below(&w->orng, sizeof(advice) / sizeof(advice[0]))];
	size_t from, to;
	int err;

	if (!m->addr)
		return;
	pick_range(w, m->len, &from, &to);
	/* Advice that changes VMA flags splits the VMA: a slot must stay one
	 * VMA (mremap works within one), and fork behaviour is per slot. */
	m = split_map(w, m, &from, &to);
	fz_note(w, "madvise %p+%#zx..%#zx %d", (void *)m->addr, from, to, adv);
	err = madvise(m->addr + from, to - from, adv) ? errno : 0;
	if (err)
		w->st.errors++;
	if (adv == MADV_DONTNEED && err != EINVAL)
		fz_fail(w, "madvise(MADV_DONTNEED) on a region: %s, not EINVAL", strerror(err));
	if (!err && adv == MADV_DONTFORK)
		m->dontfork = true;
	if (!err && adv == MADV_DOFORK)
		m->dontfork = false;
}

/* Bind a mapping's memory policy to one of the guest's two nodes. */
static void op_mbind(struct fz_worker *w)
{
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	unsigned long nodes = 1UL << fz_below(&w->orng, 2);

	if (!m->addr)
		return;
	fz_note(w, "mbind %p len %#zx nodes %#lx", (void *)m->addr, m->len, nodes);
	if (syscall(SYS_mbind, m->addr, m->len, MPOL_BIND, &nodes, 8 * sizeof(nodes), 0))
		w->st.errors++;
}

static void op_query(struct fz_worker *w)
{
	struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
	size_t o = m->addr ? fz_below(&w->orng, (uint32_t)(m->len / SZ_4K)) * SZ_4K : 0;
	struct mktme_pte_query q = { .addr = (uintptr_t)(m->addr + o) };

	if (!m->addr)
		return;
	fz_note(w, "QUERY_PTE %p", (void *)(m->addr + o));
	if (ioctl(w->qfd, MKTME_IOC_QUERY_PTE, &q))
		fz_fail(w, "QUERY_PTE %p: %s", (void *)(m->addr + o), strerror(errno));
	else if (q.level != MKTME_PTE_NONE && q.keyid != m->keyid && (q.flags & MKTME_PTE_F_PRESENT))
		fz_fail(w, "page %p of region %u maps KeyID %u, not %u", (void *)(m->addr + o), m->uid,
			q.keyid, m->keyid);
}

/*
 * fork: the child touches, unmaps and reprotects what it inherited (the
 * pages are the parent's: shared regions), then exits; the parent waits.
 * Only system calls in the child: another thread may hold a libc lock.
 */
static void op_fork(struct fz_worker *w)
{
	uint64_t child_seed = fz_next(&w->orng);
	int status;
	pid_t pid;

	fz_note(w, "fork");
	pid = fork();
	if (pid < 0) {
		w->st.errors++;
		return;
	}
	if (pid == 0) {
		w->orng.s = child_seed;
		w->failures = 0;
		for (int i = 0; i < 8; i++) {
			struct fz_map *m = &w->maps[pick_slot(w, FZ_MAPS)];
			uint32_t what = fz_below(&w->orng, 3);

			if (!m->addr || m->dontfork)
				continue;
			w->op++;
			if (what == 0) {
				size_t o = fz_below(&w->orng, (uint32_t)(m->len / SZ_4K)) * SZ_4K;

				fz_note(w, "child: touch %p", (void *)(m->addr + o));
				if ((m->prot & PROT_READ) &&
				    guarded_touch(w, m, o, o + SZ_4K, SZ_4K, !!(m->prot & PROT_WRITE)) == SIGSEGV)
					fz_fail(w, "child: SIGSEGV at %p", (void *)(m->addr + o));
			} else if (what == 1) {
				fz_note(w, "child: munmap %p", (void *)m->addr);
				munmap(m->addr, m->len);
				m->addr = NULL;
			} else {
				fz_note(w, "child: mprotect %p read-only", (void *)m->addr);
				if (!mprotect(m->addr, m->len, PROT_READ))
					m->prot = PROT_READ;
			}
		}
		_exit(w->failures ? 1 : 0);
	}
	w->st.forks++;
	if (waitpid(pid, &status, 0) != pid)
		fz_fail(w, "waitpid: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		fz_fail(w, "forked child: %s %d", WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* ---- dispatch --------------------------------------------------------------- */

static const struct {
	void (*fn)(struct fz_worker *w);
	unsigned int weight;
} ops[] = {
	{ op_key_add, 6 },  { op_key_revoke, 2 }, { op_key_unlink, 2 }, { op_open, 5 },
	{ op_set_key, 6 },  { op_close, 3 },	  { op_pass, 2 },	 { op_mmap, 12 },
	{ op_touch, 20 },   { op_mprotect, 5 },	  { op_munmap, 6 },	 { op_mremap, 4 },
	{ op_madvise, 4 },  { op_mbind, 2 },	  { op_query, 3 },	 { op_fork, 1 },
};

void fz_worker_init(struct fz_worker *w)
{
	for (int i = 0; i < FZ_REGIONS; i++)
		w->regs[i].fd = -1;
	w->qfd = open("/dev/mktme", O_RDWR | O_CLOEXEC);
	if (w->qfd < 0)
		fz_fail(w, "open(/dev/mktme): %s", strerror(errno));
}

void fz_step(struct fz_worker *w)
{
	unsigned int total = 0, pick;
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		total += ops[i].weight;
	/* Two draws per operation from the worker's stream, whatever happens:
	 * which operation, and the seed of its own choices. */
	pick = fz_below(&w->rng, total);
	for (i = 0; pick >= ops[i].weight; i++)
		pick -= ops[i].weight;
	w->orng.s = fz_next(&w->rng);
	w->st.ops++;
	w->history[w->op % FZ_HISTORY][0] = '\0';
	ops[i].fn(w);
	w->op++;
}
