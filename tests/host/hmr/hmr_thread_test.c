/*
 * hmr_thread_test.c - the HMR core used from several threads at once.
 *
 * This binary is built with ThreadSanitizer (-fsanitize=thread), which
 * reports any two accesses to one memory word from two threads that no
 * lock or atomic orders, even when the timing of this run happened to be
 * harmless.  A report stops the binary in the test that caused it
 * (halt_on_error below), so a race is a failed test, not a warning.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* TSan reads its options from here before main(): stop at the first
 * report, so the test running at that moment is the one blamed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:exitcode=66";
}

/* ---- CRC tables: built once, whoever asks first ---- */

#define CRC_THREADS 4

static pthread_barrier_t crc_start;
static uint32_t crc_seen[CRC_THREADS];

static void *crc_worker(void *arg)
{
	uint32_t *out = arg;

	pthread_barrier_wait(&crc_start);
	*out = hmr_crc32c(0, "123456789", 9);
	return NULL;
}

/*
 * Several threads make the process's very first CRC calls together (this
 * suite registers first in this binary, so nothing has built the tables
 * yet).  They must all get the standard CRC32C check value, and TSan must
 * see the tables built and published under the once-guard.
 */
HTEST(hmr_crc_first_use, concurrent_first_calls_build_the_tables_once)
{
	pthread_t t[CRC_THREADS];

	pthread_barrier_init(&crc_start, NULL, CRC_THREADS);
	for (int i = 0; i < CRC_THREADS; i++)
		pthread_create(&t[i], NULL, crc_worker, &crc_seen[i]);
	for (int i = 0; i < CRC_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&crc_start);
	for (int i = 0; i < CRC_THREADS; i++)
		HT_EXPECT_EQ(crc_seen[i], 0xE3069283u); /* RFC 3720 check value */
}
