/*
 * QEMU boot (PVH): constants shared by pvh.S (32-bit entry, long mode) and
 * pvh_boot.c (64-bit ring-0 setup), and the PVH start-of-day structures
 * (Xen's arch-x86/hvm/start_info.h, version 1). Nothing here runs under gmm,
 * which enters the ring-3 `_start` directly.
 */
#ifndef GMM_GUEST_PVH_H
#define GMM_GUEST_PVH_H

#define PVH_BASE          0x200000000000  /* gva of gpa 0, as under gmm */
#define PVH_PML4_HI       ((PVH_BASE >> 39) & 511)
#define PVH_PDPT_HI       ((PVH_BASE >> 30) & 511)
#define PVH_MAX_GIB       64              /* guest-physical space mapped (one PD per GiB) */
#define PVH_PGT_PAGES     (3 + PVH_MAX_GIB) /* PML4, PDPT low, PDPT high, PDs */
#define PVH_KSTACK_BYTES  16384           /* ring 0: setup, then exceptions (TSS rsp0) */
#define PVH_USTACK_BYTES  262144          /* ring 3: vCPU 0, as gmm gives each vCPU */

#define PVH_SEL_KCODE     0x08
#define PVH_SEL_KDATA     0x10
#define PVH_SEL_UDATA     0x1b            /* 0x18 | RPL 3 */
#define PVH_SEL_UCODE     0x23            /* 0x20 | RPL 3 */
#define PVH_SEL_TSS       0x28

#define PTE_P   0x001
#define PTE_RW  0x002
#define PTE_US  0x004
#define PTE_PS  0x080

#define CR0_MP  0x00000002
#define CR0_EM  0x00000004
#define CR0_NE  0x00000020
#define CR0_PG  0x80000000
#define CR4_PAE 0x00000020
#define CR4_OSFXSR     0x00000200
#define CR4_OSXMMEXCPT 0x00000400
#define MSR_EFER       0xc0000080
#define EFER_LME       0x00000100

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define R_X86_64_RELATIVE        8

#ifndef __ASSEMBLER__
#include "guest/compiler.h"

#define HVM_START_MAGIC  0x336ec578
#define HVM_MEMMAP_RAM   1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;    /* version >= 1 */
	uint32_t memmap_entries;  /* version >= 1 */
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* The ring-0 registers an exception stub saves (pvh_exc.S), then the CPU's frame. */
struct pvh_exc_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Linker-script and pvh.S symbols. */
extern uint64_t pvh_pgt[PVH_PGT_PAGES][512];
extern char pvh_kstack_top[];
extern char pvh_ustack_top[];
extern char __image_end[];
extern const uint64_t pvh_exc_stubs[];   /* 32 stubs, 16 bytes apart */

__attribute__((noreturn)) void pvh_boot_main(uint32_t start_info_gpa);
__attribute__((noreturn)) void pvh_enter_ring3(uint64_t rip, uint64_t rsp, const uint64_t args[6]);
void pvh_exception(const struct pvh_exc_frame *f);
#endif

#endif
