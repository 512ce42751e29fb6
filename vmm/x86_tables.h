/*
 * The x86 structures gmm builds in the test guest's reserved low frames so
 * that under KVM it runs in long mode at CPL 3 without any ring-0 code of its
 * own: 4-level page tables (gva = base + gpa, 2 MiB pages, user), one GDT and
 * TSS per vCPU, one shared I/O permission bitmap allowing every port, a shared IDT whose ring-0 stubs report the vector on
 * GMM_EXC_PORT and halt. The native accelerator needs none of it (the guest
 * runs on the host's own tables) but the layout is the same.
 */
#ifndef GMM_VMM_X86_TABLES_H
#define GMM_VMM_X86_TABLES_H

#include <stdint.h>

struct vm;

#define X86_SEL_KCODE  0x08
#define X86_SEL_KDATA  0x10
#define X86_SEL_UDATA  0x1b  /* 0x18 | RPL 3 */
#define X86_SEL_UCODE  0x23  /* 0x20 | RPL 3 */
#define X86_SEL_TSS    0x28
#define X86_GDT_ENTRIES 7

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_MP (1ULL << 1)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_WP (1ULL << 16)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define X86_CR4_OSFXSR (1ULL << 9)
#define X86_CR4_OSXMMEXCPT (1ULL << 10)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define X86_RFLAGS_FIXED (1ULL << 1)
#define X86_RFLAGS_IOPL3 (3ULL << 12)

/* Where one vCPU's structures live (guest-virtual addresses, base added). */
struct x86_cpu_layout {
	uint64_t cr3;          /* gpa of the PML4 */
	uint64_t gdt_gva;
	uint64_t tss_gva;
	uint32_t tss_limit;
	uint64_t idt_gva;
	uint64_t exc_stack_top_gva;
};

void x86_cpu_layout(const struct vm *vm, int vcpu_id, struct x86_cpu_layout *l);
/* Write page tables, GDTs, TSSs, IDT and stubs into guest memory. */
int x86_tables_build(struct vm *vm);
uint32_t x86_tss_limit(int vcpu_id);
/* True if the vector pushes an error code. */
int x86_vector_has_error_code(int vector);

#endif
