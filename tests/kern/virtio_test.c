/*
 * virtio_test.c - the virtio transport against devices that misbehave.
 *
 * QEMU's devices behave, so these tests give the transport a device made
 * of plain memory: registers that hold what was last stored in them, and
 * rings the test writes itself.  Each check is one the driver relies on
 * to refuse a bad device with a message instead of trusting it.
 */
#include <kern/errno.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <drivers/virtio.h>

/* Offsets in the common configuration (virtio 1.2, 4.1.4.3). */
#define FAKE_DF		4
#define FAKE_STATUS	20
#define FAKE_Q_SIZE	24

static uint8_t fake_common[64] __aligned(8);

static void fake_device(struct virtio_dev *vd, uint32_t features_word)
{
	memset(fake_common, 0, sizeof(fake_common));
	memset(vd, 0, sizeof(*vd));
	vd->name = "fake";
	vd->common = fake_common;
	vd->msix_entries = 1;
	/* Both feature words read back as this one (no select logic). */
	*(uint32_t *)(fake_common + FAKE_DF) = features_word;
}

KTEST(virtio, a_device_without_version_1_is_refused)
{
	struct virtio_dev vd;

	fake_device(&vd, 0);		/* offers nothing */
	KT_EXPECT_EQ(virtio_negotiate(&vd, VIRTIO_F_INDIRECT_DESC), ENODEV);
	KT_EXPECT_TRUE(fake_common[FAKE_STATUS] & VIRTIO_STATUS_FAILED);
}

KTEST(virtio, a_device_with_version_1_gets_only_what_both_want)
{
	struct virtio_dev vd;

	/* Bit 0 of the high word is VERSION_1 (bit 32); bit 28 of the low
	 * word INDIRECT_DESC; bit 29 EVENT_IDX is not wanted. */
	fake_device(&vd, 1u | 1u << 28 | 1u << 29);
	KT_ASSERT_EQ(virtio_negotiate(&vd, VIRTIO_F_INDIRECT_DESC), 0);
	KT_EXPECT_TRUE(vd.features & VIRTIO_F_VERSION_1);
	KT_EXPECT_TRUE(vd.features & VIRTIO_F_INDIRECT_DESC);
	KT_EXPECT_FALSE(vd.features & VIRTIO_F_EVENT_IDX);
	KT_EXPECT_TRUE(fake_common[FAKE_STATUS] & VIRTIO_STATUS_FEATURES_OK);
}

KTEST(virtio, a_queue_size_that_is_not_a_power_of_two_is_refused)
{
	struct virtio_dev vd;
	struct virtqueue vq;

	fake_device(&vd, 1);
	*(uint16_t *)(fake_common + FAKE_Q_SIZE) = 3;
	KT_EXPECT_EQ(virtqueue_setup(&vd, &vq, 0, 256, 0, 0), EINVAL);
	*(uint16_t *)(fake_common + FAKE_Q_SIZE) = 0;	/* no such queue */
	KT_EXPECT_EQ(virtqueue_setup(&vd, &vq, 0, 256, 0, 0), ENOENT);
}

/* A used ring that names a descriptor never given to the device. */
KTEST(virtio, a_completion_for_a_descriptor_not_in_flight_stops_the_queue)
{
	static struct vring_desc desc[8];
	static uint8_t avail[64] __aligned(8), used[128] __aligned(8);
	static void *cookies[8];
	struct virtio_dev vd = { .name = "fake" };
	struct virtqueue vq = {
		.vd = &vd, .size = 8, .desc = desc, .num_free = 8,
		.avail = (void *)avail, .used = (void *)used,
		.cookie = cookies,
	};
	struct vring_used *u = (void *)used;
	struct vq_seg seg = { 0x1000, 512, false };

	memset(used, 0, sizeof(used));
	memset(cookies, 0, sizeof(cookies));
	for (int i = 0; i < 8; i++)
		desc[i].next = i + 1;
	u->ring[0].id = 5;		/* nothing was offered */
	u->idx = 1;
	KT_EXPECT_TRUE(virtqueue_get(&vq, NULL) == NULL);
	KT_EXPECT_TRUE(vq.broken);
	KT_EXPECT_EQ(virtqueue_add(&vq, &seg, 1, &seg), EIO);
	u->ring[0].id = 200;		/* beyond the ring */
	vq.broken = false;
	KT_EXPECT_TRUE(virtqueue_get(&vq, NULL) == NULL);
	KT_EXPECT_TRUE(vq.broken);
}

/*
 * A chain is never longer than the queue (virtio 1.2, 2.7.5.3.1), an
 * indirect one included: the device may refuse one that is.  So a chain
 * longer than the queue is EINVAL (it can never go, unlike ENOSPC, which
 * means "later"), with or without indirect descriptors, and nothing is
 * taken from the ring; a chain exactly as long as the queue goes.
 */
KTEST(virtio, a_chain_longer_than_the_queue_is_refused)
{
	static struct vring_desc desc[8], ind[8 * VQ_MAX_INDIRECT];
	static uint8_t avail[64] __aligned(8), used[128] __aligned(8);
	static void *cookies[8];
	static struct vq_seg segs[9];
	struct virtio_dev vd = { .name = "fake" };
	struct virtqueue vq = {
		.vd = &vd, .size = 8, .desc = desc, .num_free = 8,
		.avail = (void *)avail, .used = (void *)used,
		.cookie = cookies, .indirect = ind, .use_indirect = true,
	};

	memset(avail, 0, sizeof(avail));
	memset(cookies, 0, sizeof(cookies));
	for (int i = 0; i < 8; i++)
		desc[i].next = i + 1;
	for (int i = 0; i < 9; i++)
		segs[i] = (struct vq_seg){ 0x1000 + i * 512, 512, false };
	KT_EXPECT_EQ(virtqueue_add(&vq, segs, 9, segs), EINVAL);
	KT_EXPECT_EQ(vq.num_free, 8);
	KT_EXPECT_EQ(virtqueue_add(&vq, segs, 8, segs), 0);	/* fits */
	KT_EXPECT_EQ(vq.num_free, 7);
	/* Straight in the ring: too long for ever, not "no room now". */
	vq.use_indirect = false;
	KT_EXPECT_EQ(virtqueue_add(&vq, segs, 9, &segs[1]), EINVAL);
	KT_EXPECT_EQ(vq.num_free, 7);
}

/*
 * Device configuration is read at each field's width (virtio 1.2,
 * 4.1.3.1): a u8 with one 8-bit read, a u16 with one 16-bit read, a u32
 * with one 32-bit read, and a u64 with two 32-bit reads (low word first)
 * inside the generation loop.  A byte-at-a-time reader gets the same
 * values from QEMU, so the test records the accesses themselves through
 * virtio_config_read_hook.
 */
static struct { unsigned off, width; } cfg_reads[32];
static unsigned ncfg_reads;

static void record_cfg_read(unsigned off, unsigned width)
{
	if (ncfg_reads < nitems(cfg_reads))
		cfg_reads[ncfg_reads] = (typeof(cfg_reads[0])){ off, width };
	ncfg_reads++;
}

/* Read len bytes at off of the fake device; true if that took exactly
 * one access of each (offset, width) pair in want, in order. */
static bool reads_were(struct virtio_dev *vd, unsigned off, void *out,
		       unsigned len, const unsigned *want, unsigned nwant)
{
	ncfg_reads = 0;
	virtio_read_config_hook_set(record_cfg_read);
	virtio_read_config(vd, off, out, len);
	virtio_read_config_hook_set(NULL);
	if (ncfg_reads != nwant)
		return false;
	for (unsigned i = 0; i < nwant; i++)
		if (cfg_reads[i].off != want[2 * i] ||
		    cfg_reads[i].width != want[2 * i + 1])
			return false;
	return true;
}

KTEST(virtio, config_fields_are_read_at_their_own_width)
{
	static uint8_t cfg[16] __aligned(8);
	struct virtio_dev vd;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	fake_device(&vd, 1);
	vd.devcfg = cfg;
	vd.devcfg_len = sizeof(cfg);
	*(uint64_t *)cfg = 0x0123456789abcdefULL;
	*(uint32_t *)(cfg + 8) = 0xdeadbeef;
	*(uint16_t *)(cfg + 12) = 0x4242;
	cfg[14] = 0x7f;
	KT_EXPECT_TRUE(reads_were(&vd, 0, &u64, 8, (unsigned[]){ 0, 4, 4, 4 },
				  2));
	KT_EXPECT_EQ(u64, 0x0123456789abcdefULL);
	KT_EXPECT_TRUE(reads_were(&vd, 8, &u32, 4, (unsigned[]){ 8, 4 }, 1));
	KT_EXPECT_EQ(u32, 0xdeadbeef);
	KT_EXPECT_TRUE(reads_were(&vd, 12, &u16, 2, (unsigned[]){ 12, 2 }, 1));
	KT_EXPECT_EQ(u16, 0x4242);
	KT_EXPECT_TRUE(reads_were(&vd, 14, &u8, 1, (unsigned[]){ 14, 1 }, 1));
	KT_EXPECT_EQ(u8, 0x7f);
}
