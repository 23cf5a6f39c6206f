/*
 * machine/cpufunc.h - single x86-64 instructions as inline functions.
 *
 * Each wrapper is one instruction (or a fixed pair) so that C code reads as
 * what the CPU does.  References are to the Intel SDM, volume 2 (instruction
 * set) unless noted.
 */
#ifndef MACHINE_CPUFUNC_H
#define MACHINE_CPUFUNC_H

#include <kern/types.h>

static inline void outb(uint16_t port, uint8_t val)
{
	__asm__ volatile("outb %0, %1" : : "a"(val), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t val;

	__asm__ volatile("inb %1, %0" : "=a"(val) : "Nd"(port));
	return val;
}

static inline void outw(uint16_t port, uint16_t val)
{
	__asm__ volatile("outw %0, %1" : : "a"(val), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t val)
{
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t val;

	__asm__ volatile("inl %1, %0" : "=a"(val) : "Nd"(port));
	return val;
}

static inline void cpu_disable_intr(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void cpu_enable_intr(void)
{
	__asm__ volatile("sti" : : : "memory");
}

static inline void cpu_halt(void)
{
	__asm__ volatile("hlt" : : : "memory");
}

static inline void cpu_pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* RFLAGS.IF (SDM vol. 1, 3.4.3.3): are maskable interrupts enabled? */
#define PSL_I	0x200

static inline uint64_t read_rflags(void)
{
	uint64_t rf;

	__asm__ volatile("pushfq; popq %0" : "=r"(rf));
	return rf;
}

static inline void write_rflags(uint64_t rf)
{
	__asm__ volatile("pushq %0; popfq" : : "r"(rf) : "memory", "cc");
}

/* Disable interrupts and return the old RFLAGS for intr_restore(). */
static inline uint64_t intr_disable(void)
{
	uint64_t rf = read_rflags();

	cpu_disable_intr();
	return rf;
}

static inline void intr_restore(uint64_t rf)
{
	write_rflags(rf);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)val), "d"(val >> 32));
}

static inline uint64_t rcr2(void)
{
	uint64_t v;

	__asm__ volatile("movq %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t rcr3(void)
{
	uint64_t v;

	__asm__ volatile("movq %%cr3, %0" : "=r"(v));
	return v;
}

static inline uint64_t rcr0(void)
{
	uint64_t v;

	__asm__ volatile("movq %%cr0, %0" : "=r"(v));
	return v;
}

static inline uint64_t rcr4(void)
{
	uint64_t v;

	__asm__ volatile("movq %%cr4, %0" : "=r"(v));
	return v;
}

static inline void cpuid_count(uint32_t leaf, uint32_t sub, uint32_t regs[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]),
			   "=d"(regs[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t read_rbp(void)
{
	uint64_t v;

	__asm__ volatile("movq %%rbp, %0" : "=r"(v));
	return v;
}

#endif /* MACHINE_CPUFUNC_H */
