/*
 * kvservice_test.c - the example key/value service: the message-server
 * pattern working from the same CPU and from every other CPU.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kvservice.h>
#include <kern/ktest.h>

static struct kv_service kv;

KTEST(kvservice, put_get_del_round_trip)
{
	uint64_t v = 0;

	KT_ASSERT_EQ(kv_start(&kv, -1), 0);
	KT_EXPECT_EQ(kv_get(&kv, 7, &v), ENOENT);
	KT_EXPECT_EQ(kv_put(&kv, 7, 700), 0);
	KT_EXPECT_EQ(kv_get(&kv, 7, &v), 0);
	KT_EXPECT_EQ(v, 700);
	KT_EXPECT_EQ(kv_put(&kv, 7, 701), 0);	/* overwrite */
	KT_EXPECT_EQ(kv_get(&kv, 7, &v), 0);
	KT_EXPECT_EQ(v, 701);
	KT_EXPECT_EQ(kv_del(&kv, 7), 0);
	KT_EXPECT_EQ(kv_del(&kv, 7), ENOENT);
	KT_EXPECT_EQ(kv_get(&kv, 7, &v), ENOENT);
	kv_stop(&kv);
}

KTEST(kvservice, fills_up_with_enospc_and_keeps_every_key)
{
	uint64_t v;
	int stored = 0;

	KT_ASSERT_EQ(kv_start(&kv, -1), 0);
	for (uint64_t k = 1; k <= KV_SLOTS + 10; k++)
		if (kv_put(&kv, k * 1000003, k) == 0)
			stored++;
	KT_EXPECT_EQ(stored, KV_SLOTS - 1);
	KT_EXPECT_EQ(kv_put(&kv, 424242, 1), ENOSPC);
	for (uint64_t k = 1; k <= (uint64_t)stored; k++) {
		KT_ASSERT_EQ(kv_get(&kv, k * 1000003, &v), 0);
		KT_EXPECT_EQ(v, k);
	}
	/* A delete makes room again, and tombstones keep probing right. */
	KT_EXPECT_EQ(kv_del(&kv, 5 * 1000003), 0);
	KT_EXPECT_EQ(kv_put(&kv, 424242, 1), 0);
	KT_EXPECT_EQ(kv_get(&kv, (uint64_t)stored * 1000003, &v), 0);
	kv_stop(&kv);
}

KTEST(kvservice, clients_on_every_cpu_reach_a_service_on_one)
{
	uint64_t v;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	KT_ASSERT_EQ(kv_start(&kv, ncpus - 1), 0);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		lwkt_migratecpu(cpu);
		KT_EXPECT_EQ(kv_put(&kv, (uint64_t)cpu, (uint64_t)cpu * 11), 0);
	}
	lwkt_migratecpu(0);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		KT_ASSERT_EQ(kv_get(&kv, (uint64_t)cpu, &v), 0);
		KT_EXPECT_EQ(v, (uint64_t)cpu * 11);
	}
	kv_stop(&kv);
}
