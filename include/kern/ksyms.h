/*
 * kern/ksyms.h - the kernel's own symbol table, for backtraces
 * (kern/kern_ksyms.c).
 *
 * tools/gensyms.py reads the function symbols of a first link of the kernel
 * and emits them as a sorted table in the .ksyms section of the second,
 * final link.  The table lies after all code, so adding it moves no
 * function.
 */
#ifndef KERN_KSYMS_H
#define KERN_KSYMS_H

#include <kern/types.h>

/*
 * The name of the function containing addr, with *offset set to addr minus
 * its start; NULL if addr is not in kernel text.  Any context.
 */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);

/* The address of the function called name, or 0. */
uint64_t ksym_address(const char *name);

/*
 * Walk the frame-pointer chain from (rip, rbp), calling fn for each return
 * address, at most max frames.  Stops at a frame pointer that is zero,
 * misaligned, not a kernel address, or not moving up the stack.
 * Returns the number of frames visited.  Any context.
 */
typedef void (*backtrace_fn_t)(int depth, uint64_t pc, void *arg);
int backtrace_walk(uint64_t rip, uint64_t rbp, int max, backtrace_fn_t fn,
		   void *arg);

#endif /* KERN_KSYMS_H */
