/*
 * hmr_testlib.h - helpers shared by the HMR host tests: devices, mounting,
 * path walking, whole-file I/O, fsck, and a textual digest of a whole
 * namespace used to compare states (model vs HMR, crash vs commit).
 */
#ifndef HMR_TESTLIB_H
#define HMR_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "fs/hmr.h"
#include "hmr_bdev.h"

extern uint64_t hmr_fake_time_ns;

/* A fresh in-memory device formatted with mkfs (fixed fsid). */
struct hmr_bdev *tl_fresh_dev(uint64_t nblocks);
/* Mount rw (asserts success). */
struct hmr_mount *tl_mount(struct hmr_bdev *dev);
/* Unmount (commit) and mount again. */
struct hmr_mount *tl_remount(struct hmr_mount *m, struct hmr_bdev *dev);
/* Resolve "a/b/c" from the root as of asof; 0 and *ino or an errno. */
int tl_walk(struct hmr_mount *m, uint64_t asof, const char *path,
	    uint64_t *ino);
/* Create or truncate-and-write a whole file at path (parent must exist). */
int tl_put(struct hmr_mount *m, const char *path, const void *data,
	   size_t len);
/* Read a whole file; *out is malloc'd.  0 or errno. */
int tl_get(struct hmr_mount *m, uint64_t asof, const char *path,
	   uint8_t **out, size_t *len);
/* Run fsck; returns the number of problems (messages printed as # lines
 * when verbose is set). */
int tl_fsck(struct hmr_bdev *dev, int verbose);
/* A malloc'd text digest of the namespace as of asof: one line per path
 * with type, mode, nlinks, size and content CRC, sorted by path. */
char *tl_digest(struct hmr_mount *m, uint64_t asof);
/* Deterministic PRNG (splitmix64). */
uint64_t tl_rand(uint64_t *state);
/* Parent dir ino and leaf name of a path. */
int tl_parent(struct hmr_mount *m, const char *path, uint64_t *dir,
	      const char **leaf);
/* An environment knob: HMR_TEST_SCALE (default 1). */
int tl_scale(void);

#endif
