/*
 * damselfly/kpmap.h - the kernel's shared page, /dev/kpmap: a page of
 * numbers the kernel keeps up to date, which a program maps read-only
 * and reads with no system call (the idea is DragonFly's /dev/kpmap).
 * The kernel side is kern/kern_memio.c; docs/user.md, section 6.
 *
 *   int fd = open("/dev/kpmap", O_RDONLY);
 *   const struct kpmap *kp = mmap(NULL, 4096, PROT_READ, MAP_SHARED,
 *                                 fd, 0);
 *   uint64_t now = kp->kp_ticks;         clock ticks since boot
 *
 * The page is the kernel's: it is mapped shared and read-only (a write
 * mapping, a private one or one past the page is refused) and stays
 * after every program that mapped it has gone.  Check kp_version first.
 */
#ifndef DAMSELFLY_KPMAP_H
#define DAMSELFLY_KPMAP_H

#ifdef HMR_KERNEL
#include <kern/types.h>
#else
#include <stdint.h>
#endif

#define KPMAP_VERSION 1

struct kpmap {
	uint32_t kp_version;		/* KPMAP_VERSION */
	uint32_t kp_hz;			/* clock ticks a second */
	uint64_t kp_tsc_hz;		/* TSC ticks a second */
	volatile uint64_t kp_ticks;	/* CPU 0's clock ticks since boot:
					 * written at every tick */
	uint32_t kp_ncpus;		/* CPUs running */
	uint32_t kp_pad;
};

#endif /* DAMSELFLY_KPMAP_H */
