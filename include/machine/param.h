/*
 * machine/param.h - compile-time limits of the machine layer.
 */
#ifndef MACHINE_PARAM_H
#define MACHINE_PARAM_H

#define MAXCPU		16	/* per-CPU tables are static arrays this long */
#define CACHE_LINE_SIZE	64

#endif /* MACHINE_PARAM_H */
