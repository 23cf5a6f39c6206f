/*
 * hmr_unit_test.c - unit tests of the HMR core and the spec's behaviours
 * that need no kernel (named behaviour_NN_...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

HTEST(hmr_btree, insert_and_find_many_keys_in_order)
{
	struct hmr_bdev *dev = tl_fresh_dev(4096);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed(), n = 5000;

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	for (uint64_t i = 0; i < n; i++) {
		struct hmr_elm e = { 0 };

		e.base.localization = 9;
		e.base.obj_id = 7;
		e.base.rec_type = 3;
		e.base.key = tl_rand(&seed) | 1;
		e.base.create_tid = m->tid;
		HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
	}
	HT_EXPECT_GE(m->root_level, 1);
	struct hmr_base k = { .localization = 9 };
	struct hmr_cursor c;
	uint64_t count = 0, last = 0;
	int error;
	for (error = hmr_bt_seek(m, &k, &c); !error; error = hmr_bt_next(&c)) {
		if (hmr_bt_elm(&c)->base.localization != 9)
			break;
		HT_ASSERT_TRUE(count == 0 || hmr_bt_elm(&c)->base.key > last);
		last = hmr_bt_elm(&c)->base.key;
		count++;
	}
	HT_EXPECT_EQ(count, n);
	hmr_mount_abandon(m);
	hmr_bdev_close(dev);
}
