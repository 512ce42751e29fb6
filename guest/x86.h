/*
 * The few x86 instructions the ring-3 guest code uses, as inline asm.
 * Port I/O is allowed at CPL 3 by the TSS I/O bitmap gmm and the QEMU boot
 * path install; under gmm's native accelerator it traps and is emulated.
 * Nothing here is privileged, and nothing uses %fs/%gs, cpuid or syscall.
 */
#ifndef GMM_GUEST_X86_H
#define GMM_GUEST_X86_H

#include "guest/compiler.h"

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Spin-wait hint: a waiting vCPU must not starve its sibling hyperthread. */
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

#endif
