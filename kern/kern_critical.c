/*
 * kern_critical.c - storage for the early, per-CPU critical-section count
 * (see kern/critical.h).  Owned by each CPU; touched only by itself.
 */
#include <kern/critical.h>

int crit_count_early[MAXCPU];
