/*
 * hmr_crc.c - CRC32C and the self-check every metadata block carries.
 *
 * HMR checks everything it reads with CRC32C (the Castagnoli polynomial,
 * reflected form 0x82F63B78, as in iSCSI, RFC 3720 appendix B.4, and as in
 * HAMMER2's ISCSI32 check method).  A metadata block's own CRC covers all
 * 4096 bytes with its crc field read as zero; its parent (or the
 * superblock) keeps a second copy of that CRC, which is what catches a
 * block that is internally consistent but stale or misplaced.
 *
 * The tables are built once, on first use, by whichever thread gets there
 * first; a thread that arrives while they are being built waits for them
 * (crc_table_once).  Reading a half-built table would give wrong CRCs,
 * which HMR would report as corruption.
 */
#include "hmr_private.h"

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t crc_table[8][256];

/* The once-guard of crc_table: UNBUILT -> BUILDING (one thread, by CAS)
 * -> READY (published with release order, so a thread that reads READY
 * with acquire order also sees every table entry). */
enum { CRC_UNBUILT, CRC_BUILDING, CRC_READY };
static int crc_table_state = CRC_UNBUILT;

/* Fill the slicing-by-8 tables: table[0] is the classic byte table. */
static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ ((c & 1) ? CRC32C_POLY_REFLECTED : 0);
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Build the tables unless done; return when they are READY.  The loser
 * of the race spins: building takes microseconds, once per boot. */
static void crc_table_once(void)
{
	int expect = CRC_UNBUILT;

	if (__atomic_compare_exchange_n(&crc_table_state, &expect, CRC_BUILDING,
					0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
		crc_table_build();
		__atomic_store_n(&crc_table_state, CRC_READY, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&crc_table_state, __ATOMIC_ACQUIRE) != CRC_READY)
		;
}

/* Eight bytes at a time; `p` need not be aligned. */
static uint32_t _crc_step8(uint32_t crc, const uint8_t *p)
{
	uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
	uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

	return crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
	       crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
	       crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
	       crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
}

/*
 * hmr_crc32c - continue a CRC32C over `len` bytes.  Start with crc = 0.
 * Any thread, any time; no locks.  Never blocks, except that the very
 * first calls wait for the tables to be built.
 */
uint32_t hmr_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	HMR_ASSERT(buf != NULL || len == 0, "hmr_crc32c: NULL buffer");
	if (__atomic_load_n(&crc_table_state, __ATOMIC_ACQUIRE) != CRC_READY)
		crc_table_once();
	crc = ~crc;
	for (; len >= 8; len -= 8, p += 8)
		crc = _crc_step8(crc, p);
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/*
 * hmr_block_crc - the self-CRC of a 4096-byte metadata block: bytes 0..3
 * (magic), four zero bytes in place of the crc field, bytes 8..4095.
 */
uint32_t hmr_block_crc(const void *block)
{
	static const uint8_t zero[4];
	const uint8_t *b = block;
	uint32_t crc;

	crc = hmr_crc32c(0, b, 4);
	crc = hmr_crc32c(crc, zero, 4);
	return hmr_crc32c(crc, b + 8, HMR_BLOCK_SIZE - 8);
}

/* hmr_block_seal - store the self-CRC into the block's header. */
void hmr_block_seal(void *block)
{
	struct hmr_blkhdr *h = block;

	h->crc = hmr_block_crc(block);
}

/*
 * hmr_blkhdr_check - does this block look like the metadata block we
 * expect at `blkno`?  Returns 0, or EIO naming nothing (callers say what
 * they were reading).  Checks magic, self-CRC, block number and fsid.
 */
int hmr_blkhdr_check(const void *block, uint32_t magic, uint64_t blkno,
		     uint64_t fsid)
{
	const struct hmr_blkhdr *h = block;

	if (h->magic != magic || h->blkno != blkno || h->fsid != fsid)
		return EIO;
	return h->crc == hmr_block_crc(block) ? 0 : EIO;
}
