/*
 * hmr_shim_host.c - the host side of hmr_shim.h, on top of libc.
 *
 * This is the one file of fs/hmr/ that may include libc headers: it is
 * what the kernel replaces with its own allocator, mutex and clock.
 * hmr_fake_time_ns lets tests make timestamps deterministic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fs/hmr_shim.h"

uint64_t hmr_fake_time_ns; /* tests: nonzero freezes the clock */

/* calloc: the core relies on zeroed memory for fresh structures. */
void *hmr_alloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void *hmr_alloc_raw(size_t size)
{
	return malloc(size ? size : 1);
}

void hmr_free(void *ptr)
{
	free(ptr);
}

/* The mount lock is a default (non-recursive) mutex: the core never
 * re-enters a public function while holding it. */
void hmr_lock_init(hmr_lock_t *lock)
{
	pthread_mutex_init(lock, NULL);
}

void hmr_lock_acquire(hmr_lock_t *lock)
{
	pthread_mutex_lock(lock);
}

void hmr_lock_release(hmr_lock_t *lock)
{
	pthread_mutex_unlock(lock);
}

void hmr_lock_destroy(hmr_lock_t *lock)
{
	pthread_mutex_destroy(lock);
}

/* Wall-clock time for timestamps; tests freeze it via hmr_fake_time_ns. */
uint64_t hmr_now_ns(void)
{
	struct timespec ts;

	if (hmr_fake_time_ns)
		return hmr_fake_time_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Quiet unless HMR_LOG is set, so tests that inject faults stay readable. */
void hmr_log(const char *fmt, ...)
{
	va_list ap;

	if (!getenv("HMR_LOG"))
		return;
	va_start(ap, fmt);
	fputs("hmr: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A broken contract: say where and why, then abort (a core dump and the
 * sanitizers' backtrace give the rest). */
void hmr_panic(const char *file, int line, const char *why)
{
	fprintf(stderr, "hmr panic at %s:%d: %s\n", file, line, why);
	abort();
}
