/*
 * machine/frame.h - the registers saved on the stack by an interrupt or
 * exception (kern/trap_vectors.S builds it).
 *
 *        high addresses
 *        +-----------+
 *        | ss        |  \
 *        | rsp       |   |  pushed by the CPU (SDM vol. 3A, 6.14.2
 *        | rflags    |   |  "64-Bit Mode Stack Frame")
 *        | cs        |   |
 *        | rip       |  /
 *        | err       |  CPU's error code, or 0 pushed by the stub
 *        | vector    |  pushed by the stub
 *        | rax..r15  |  pushed by trap_common
 *        +-----------+ <- struct trapframe *, rsp at the call to trap()
 */
#ifndef MACHINE_FRAME_H
#define MACHINE_FRAME_H

#include <kern/types.h>

struct trapframe {
	uint64_t tf_r15, tf_r14, tf_r13, tf_r12;
	uint64_t tf_r11, tf_r10, tf_r9, tf_r8;
	uint64_t tf_rbp, tf_rdi, tf_rsi, tf_rdx;
	uint64_t tf_rcx, tf_rbx, tf_rax;
	uint64_t tf_vector;
	uint64_t tf_err;
	uint64_t tf_rip, tf_cs, tf_rflags, tf_rsp, tf_ss;
};

_Static_assert(sizeof(struct trapframe) == 22 * 8,
	       "trapframe must match trap_vectors.S");

#endif /* MACHINE_FRAME_H */
