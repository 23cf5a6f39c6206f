/*
 * hmr_disk.h - the HMR on-disk format.  Everything here is what a block on
 * the disk contains; nothing here is in-memory-only state.
 *
 * HMR keeps HAMMER's idea of one global B+tree of versioned records (each
 * record carries create_tid/delete_tid, records are never overwritten) and
 * commits it the HAMMER2 way: copy-on-write up to a superblock, two
 * superblock slots used alternately.  All integers are little-endian (the
 * only byte order the project targets); every structure has a static size
 * check below, and docs/hmr.md draws each one.
 *
 * Disk layout, in 4096-byte blocks:
 *
 *   +---------+---------+---------+-------------+-------------+-----------+
 *   | 0       | 1       | 2       | 3 .. 3+F-1  | 3+F..3+2F-1 | the rest  |
 *   | zeroed  | super A | super B | freemap #0  | freemap #1  | nodes,    |
 *   |         | (even)  | (odd)   |             |             | meta, data|
 *   +---------+---------+---------+-------------+-------------+-----------+
 *
 *   F = ceil(nblocks / HMR_FM_PER_BLOCK).  Commit N writes super slot
 *   (N & 1) and freemap copy (N & 1).
 *
 * Every metadata block (superblock, node, freemap block) starts with the
 * 32-byte struct hmr_blkhdr: magic, CRC32C of the whole block with the crc
 * field zero, the block number it was written to (catches misdirected
 * writes), the commit that wrote it, and the filesystem id.
 */
#ifndef FS_HMR_DISK_H
#define FS_HMR_DISK_H

#include "hmr_shim.h"

#define HMR_BLOCK_SIZE 4096	/* all I/O and allocation */
#define HMR_SECTOR_SIZE 512	/* a torn write tears at this grain */
#define HMR_VERSION 1

/* Magics are four ASCII bytes read as a little-endian u32. */
#define HMR_MAGIC_SUPER 0x53524d48u   /* "HMRS" */
#define HMR_MAGIC_NODE 0x4e524d48u    /* "HMRN" */
#define HMR_MAGIC_FREEMAP 0x46524d48u /* "HMRF" */

/* Fixed block numbers. */
#define HMR_BLK_RESERVED 0
#define HMR_BLK_SUPER_A 1
#define HMR_BLK_SUPER_B 2
#define HMR_BLK_FREEMAP 3

/* Common header of superblocks, nodes and freemap blocks (32 bytes). */
struct hmr_blkhdr {
	uint32_t magic;	     /* HMR_MAGIC_* */
	uint32_t crc;	     /* CRC32C of the 4096-byte block, crc = 0 */
	uint64_t blkno;	     /* where this copy belongs */
	uint64_t generation; /* commit TID that wrote it */
	uint64_t fsid;	     /* random per filesystem */
};

/* Superblock flags. */
#define HMR_SUPER_CLEAN_UNMOUNT 0x1u

/*
 * The superblock (4096 bytes; unnamed bytes are zero).
 *
 *   0x00 hdr (32)        0x20 version      0x24 block_size
 *   0x28 nblocks         0x30 commit_tid   0x38 next_obj_id
 *   0x40 root_blkno      0x48 root_crc     0x4C root_level
 *   0x4E freemap_copy    0x50 freemap_blkno[2]
 *   0x60 freemap_nblocks 0x64 flags        0x68 free_blocks
 *   0x70 commit_time_ns  0x78 label[64]    0xB8 freemap_crc
 *   0xBC root_gen_lo     0xC0 mirror_tid   0xC8 features_incompat
 *   0xCC features_compat 0xD0 reserved ... 0xFFF
 */
struct hmr_super {
	struct hmr_blkhdr hdr;
	uint32_t version;
	uint32_t block_size;
	uint64_t nblocks;
	uint64_t commit_tid;  /* == hdr.generation: the TID of this commit */
	uint64_t next_obj_id; /* never reused; the root is 1 */
	uint64_t root_blkno;
	uint32_t root_crc; /* expected CRC of the root node */
	uint16_t root_level;
	uint16_t freemap_copy; /* == commit_tid & 1 */
	uint64_t freemap_blkno[2];
	uint32_t freemap_nblocks; /* per copy */
	uint32_t flags;
	uint64_t free_blocks;
	uint64_t commit_time_ns;
	char label[64];
	uint32_t freemap_crc;	    /* CRC32C over the copy's entries */
	uint32_t root_gen_lo;	    /* low 32 bits of the root's generation */
	uint64_t mirror_tid;	    /* reserved for mirroring; 0 today */
	uint32_t features_incompat; /* reserved: e.g. compression in use */
	uint32_t features_compat;
	uint8_t reserved[HMR_BLOCK_SIZE - 0xD0];
};

/* Record keys: localization (low 16 bits say what kind of record). */
#define HMR_LOCALIZE_INODE 1u
#define HMR_LOCALIZE_MISC 2u

/* Record types (rec_type). */
#define HMR_REC_INODE 0x0001
#define HMR_REC_DATA 0x0010
#define HMR_REC_DIRENT 0x0011
#define HMR_REC_SYMLINK 0x0014
#define HMR_REC_SNAPSHOT 0x0016

/* Object types, H1's numbering (inode obj_type, dirent obj_type). */
#define HMR_OBJ_DIR 1
#define HMR_OBJ_REG 2
#define HMR_OBJ_FIFO 4
#define HMR_OBJ_CDEV 5
#define HMR_OBJ_BDEV 6
#define HMR_OBJ_SYMLINK 7
#define HMR_OBJ_SOCK 9

#define HMR_OBJID_ROOT 1

/* Leaf btype: how the payload is stored.  Only NONE exists in version 1;
 * the field reserves room for per-record compression without a format
 * change (a compressed payload would carry its own length header). */
#define HMR_COMP_NONE 0

/*
 * The 40-byte element base, H1's hmr_base.  Sort order: localization,
 * obj_id, rec_type, key, create_tid.  delete_tid is not part of the key;
 * it is the one field a commit sets on an existing record.
 */
struct hmr_base {
	uint64_t obj_id;
	uint64_t key;
	uint64_t create_tid; /* never 0 in a record */
	uint64_t delete_tid; /* 0 = live */
	uint16_t rec_type;
	uint8_t obj_type;
	uint8_t btype; /* leaf: HMR_COMP_*; internal: 0 */
	uint32_t localization;
};

/* Internal element: the base is the inclusive left bound of the child. */
struct hmr_int_elm {
	uint64_t child_blkno;
	uint32_t child_crc;    /* CRC the child must have */
	uint32_t child_gen_lo; /* low 32 bits of its generation */
	uint64_t mirror_tid;   /* highest TID below (for mirroring) */
};

/* Leaf element: one record and where its payload lives. */
struct hmr_leaf_elm {
	uint64_t data_off; /* byte offset of the payload; 0 = none */
	uint32_t data_len;
	uint32_t data_crc; /* CRC32C of the payload bytes */
	uint32_t create_ts; /* seconds, for display only */
	uint32_t delete_ts;
};

/* One 64-byte element; node type says which half of the union is live. */
struct hmr_elm {
	struct hmr_base base;
	union {
		struct hmr_int_elm in;
		struct hmr_leaf_elm lf;
	};
};

#define HMR_NODE_ELMS 63     /* elements per node */
#define HMR_LEAF_MAX 63	     /* records per leaf */
#define HMR_INT_MAX 62	     /* children per internal node (+ right bound) */
#define HMR_NODE_LEAF 'L'
#define HMR_NODE_INTERNAL 'I'
#define HMR_MAX_DEPTH 16

/*
 * A B-tree node, exactly one block:
 *
 *   0x000 hdr (32)  0x020 count u16  0x022 type u8  0x023 level u8
 *   0x024 reserved  0x028 mirror_tid 0x030 reserved[16]
 *   0x040 elms[0]   0x080 elms[1] ...  0xFC0 elms[62]
 *
 * Internal: elms[0..count-1] point at children; elms[i].base is child i's
 * inclusive left bound and elms[count].base the node's exclusive right
 * bound.  Leaf: elms[0..count-1] are records in key order.
 */
struct hmr_node {
	struct hmr_blkhdr hdr;
	uint16_t count;
	uint8_t type;  /* HMR_NODE_LEAF or HMR_NODE_INTERNAL */
	uint8_t level; /* leaves are level 0 */
	uint32_t reserved0;
	uint64_t mirror_tid;
	uint8_t reserved1[16];
	struct hmr_elm elms[HMR_NODE_ELMS];
};

/* Freemap entries: one byte per block. */
#define HMR_FM_FREE 0x00
#define HMR_FM_META_MAX 0x40 /* 1..64: a meta block with that many units */
#define HMR_FM_STATIC 0xFE   /* superblocks, freemap, block 0 */
#define HMR_FM_OWNED 0xFF    /* a node, a data block, a long symlink */
#define HMR_FM_PER_BLOCK 4032
#define HMR_META_UNIT 64
#define HMR_META_UNITS (HMR_BLOCK_SIZE / HMR_META_UNIT)

/* A freemap block: header, then one entry per block it covers. */
struct hmr_freemap_blk {
	struct hmr_blkhdr hdr;
	uint64_t first_blkno; /* block number of ent[0] */
	uint32_t nentries;
	uint32_t copy; /* 0 or 1 */
	uint8_t reserved[16];
	uint8_t ent[HMR_FM_PER_BLOCK];
};

/* INODE payload (128 bytes = 2 meta units). */
struct hmr_inode_data {
	uint16_t version;
	uint16_t mode; /* permission bits and S_IF* type bits */
	uint8_t obj_type;
	uint8_t pad[3];
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t nlinks;
	uint64_t parent_obj_id;
	uint64_t ctime_ns;
	uint64_t mtime_ns;
	uint64_t atime_ns; /* not history-tracked: HMR is noatime */
	uint64_t btime_ns;
	uint32_t rdev;
	uint32_t iflags;
	char symlink[48]; /* inline symlink target when it fits */
};
#define HMR_SYMLINK_INLINE 48

/* DIRENT payload: 16 bytes, then the name (not NUL-terminated). */
struct hmr_dirent_data {
	uint64_t obj_id;
	uint32_t localization;
	uint16_t namelen;
	uint8_t obj_type;
	uint8_t pad;
	char name[];
};
#define HMR_NAME_MAX 255

/* SNAPSHOT payload (128 bytes). */
struct hmr_snap_data {
	uint64_t tid;
	uint64_t time_ns;
	char label[64];
	uint8_t reserved[48];
};

_Static_assert(sizeof(struct hmr_blkhdr) == 32, "block header is 32 bytes");
_Static_assert(sizeof(struct hmr_super) == HMR_BLOCK_SIZE, "superblock");
_Static_assert(sizeof(struct hmr_base) == 40, "element base is 40 bytes");
_Static_assert(sizeof(struct hmr_elm) == 64, "element is 64 bytes");
_Static_assert(sizeof(struct hmr_node) == HMR_BLOCK_SIZE, "node is a block");
_Static_assert(sizeof(struct hmr_freemap_blk) == HMR_BLOCK_SIZE, "freemap");
_Static_assert(sizeof(struct hmr_inode_data) == 128, "inode data");
_Static_assert(sizeof(struct hmr_dirent_data) == 16, "dirent header");
_Static_assert(sizeof(struct hmr_snap_data) == 128, "snapshot data");
_Static_assert(__builtin_offsetof(struct hmr_super, freemap_crc) == 0xB8,
	       "superblock offsets follow the drawing");
_Static_assert(__builtin_offsetof(struct hmr_node, elms) == 0x40,
	       "node elements start at 0x40");

#endif /* FS_HMR_DISK_H */
