/*
 * kern/setjmp.h - non-local return inside the kernel (kern/setjmp.S).
 *
 * kern_setjmp() returns 0 when called and 1 (or val) when kern_longjmp()
 * later jumps back to it.  The frame that called kern_setjmp() must still be
 * live when kern_longjmp() runs.  Only the test harness uses this.
 */
#ifndef KERN_SETJMP_H
#define KERN_SETJMP_H

#include <kern/types.h>

struct kjmp_buf {
	uint64_t regs[9];	/* rbx rbp r12-r15 rsp rip rflags */
};

int kern_setjmp(struct kjmp_buf *env) __attribute__((returns_twice));
void kern_longjmp(struct kjmp_buf *env, int val) __noreturn;

#endif /* KERN_SETJMP_H */
