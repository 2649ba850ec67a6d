/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The /dev/mktme fuzzer (tests/fuzz/fuzz_device.c): runs in the guest only.
 * Shared by the driver (processes, counters, verdict) and the operations
 * (fuzz_device_ops.c).
 */
#ifndef MKTME_FUZZ_DEVICE_H
#define MKTME_FUZZ_DEVICE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <keyutils.h>

#define FZ_KEYS		4	/* key slots per thread */
#define FZ_REGIONS	4	/* region (fd) slots per thread */
#define FZ_MAPS		8	/* mapping slots per thread */
#define FZ_POOL		8	/* fds passed between the threads of a process */
#define FZ_HISTORY	16	/* last operations kept for a failure report */
#define FZ_MAX_THREADS	16

#define SZ_4K		4096UL
#define SZ_2M		(2UL << 20)

/* splitmix64: one independent stream per worker thread, from the seed alone. */
struct fz_rng {
	uint64_t s;
};

static inline uint64_t fz_next(struct fz_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t fz_below(struct fz_rng *r, uint32_t n)
{
	return (uint32_t)(fz_next(r) % n);
}

static inline bool fz_chance(struct fz_rng *r, uint32_t percent)
{
	return fz_below(r, 100) < percent;
}

struct fz_region {
	int fd;			/* -1: empty slot */
	unsigned int uid;	/* names the region's pages in their tags */
	bool shared;		/* another thread may hold it: its state is unknown */
};

struct fz_map {
	char *addr;		/* NULL: empty slot */
	size_t len;
	off_t off;		/* file offset of addr */
	int prot;
	unsigned int uid;	/* the region's */
	unsigned int keyid;	/* the region's, from GET_INFO at mmap */
	bool dontfork;
};

/* A process's pool of region fds passed between its threads. */
struct fz_pool {
	pthread_mutex_t lock;
	pthread_mutex_t layout;	/* reserve + MAP_FIXED + clean-up, and mmap(NULL) */
	int n;
	struct fz_region r[FZ_POOL];
};

struct fz_stats {
	unsigned long ops, ok, errors, sigbus, segv_expected, forks, touched;
};

struct fz_worker {
	int proc, thread;
	bool unprivileged;	/* uid 65534, no capabilities */
	struct fz_rng rng;	/* the worker's stream: two draws per operation */
	struct fz_rng orng;	/* the current operation's own choices */
	uint64_t seed;
	uint64_t max_ops;	/* 0: until the deadline */
	double deadline;	/* CLOCK_MONOTONIC seconds */
	int verbose;
	struct fz_pool *pool;
	unsigned int *next_uid;	/* per process, under pool->lock */
	size_t map_budget;	/* bytes this thread may have mapped at once */

	key_serial_t keys[FZ_KEYS];
	struct fz_region regs[FZ_REGIONS];
	struct fz_map maps[FZ_MAPS];
	int qfd;		/* an unbound region, for QUERY_PTE */

	char history[FZ_HISTORY][160];
	uint64_t op;		/* number of the operation running */
	int failures;
	struct fz_stats st;

	/* SIGSEGV/SIGBUS during a touch come back here (fz_touch_guarded). */
	sigjmp_buf jb;
	volatile int armed;
	volatile int last_signal;
};

/* fuzz_device_ops.c */
void fz_worker_init(struct fz_worker *w);
/* One operation chosen from the worker's stream. */
void fz_step(struct fz_worker *w);
/* Record what the current operation does, for -v and failure reports. */
void fz_note(struct fz_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A broken expectation: counted, and printed with the seed and recent history. */
void fz_fail(struct fz_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* SIGSEGV/SIGBUS handler for the worker threads. */
void fz_install_signals(void);
extern __thread struct fz_worker *fz_self;

#endif
