/*
 * QEMU boot: the PVH entry (`-kernel gmm-guest.elf`). QEMU's multiboot
 * loader refuses ELF64, but its PVH loader takes any ELF with a
 * XEN_ELFNOTE_PHYS32_ENTRY note: it loads the PT_LOAD segments at their
 * p_paddr and enters here in 32-bit protected mode, paging off, with
 * %ebx = guest-physical address of struct hvm_start_info and no stack.
 *
 * This gets to 64-bit ring 0 at the same address gmm would run the image
 * (gva = PVH_BASE + gpa), relocates the image there, and calls
 * pvh_boot_main() (pvh_boot.c), which finishes the setup and drops to the
 * ring-3 `_start` (entry.S). Under nested KVM ring 0 is emulated at about
 * 1 us per instruction: this file does the least that has to be done here.
 *
 * The image is a static PIE, so no absolute address may appear in code:
 * the 32-bit part addresses everything relative to %ebp, which holds the
 * run-time address of label 1 (link address == load address under PVH, and
 * guest.ld asserts pvh_start is the first byte at 0x100000).
 */
#include "guest/pvh.h"

	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* namesz: "Xen\0" */
	.long 8                         /* descsz: QEMU reads the entry as 64 bits */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.quad 0x100000                  /* pvh_start, asserted by guest.ld */

	.section .text.pvh, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	movl $(1f - pvh_start + 0x100000), %ebp
1:	movl %ebx, %esi                 /* hvm_start_info, kept for pvh_boot_main */

	/* Page tables (.noclear: zeroed here, QEMU's RAM is not ours to
	 * trust): PML4[0] -> PDPT low (identity, supervisor only: a
	 * ring-3 null pointer faults), PML4[PVH_PML4_HI] -> PDPT high (user);
	 * both map their first GiB through one PD of 2 MiB pages. pvh_boot.c
	 * maps the rest of guest-physical space above 1 GiB. */
	leal (pvh_pgt - 1b)(%ebp), %edi
	xorl %eax, %eax
	movl $(4 * 4096 / 4), %ecx
	rep stosl
	leal (pvh_pgt - 1b)(%ebp), %edi
	leal (0x1000 + PTE_P + PTE_RW)(%edi), %eax
	movl %eax, (%edi)
	leal (0x2000 + PTE_P + PTE_RW + PTE_US)(%edi), %eax
	movl %eax, (PVH_PML4_HI * 8)(%edi)
	leal (0x3000 + PTE_P + PTE_RW + PTE_US)(%edi), %eax
	movl %eax, 0x1000(%edi)
	movl %eax, (0x2000 + PVH_PDPT_HI * 8)(%edi)
	movl $(PTE_P + PTE_RW + PTE_US + PTE_PS), %eax
	xorl %ecx, %ecx
2:	movl %eax, 0x3000(%edi, %ecx, 8)
	addl $0x200000, %eax
	incl %ecx
	cmpl $512, %ecx
	jb 2b

	/* Long mode, with SSE on from the start: the C code is built with it. */
	movl %cr4, %eax
	orl $(CR4_PAE + CR4_OSFXSR + CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4
	movl %edi, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	leal (pvh_gdt - 1b)(%ebp), %eax
	movl %eax, (pvh_gdtr + 2 - 1b)(%ebp)
	lgdt (pvh_gdtr - 1b)(%ebp)
	movl %cr0, %eax
	andl $~CR0_EM, %eax
	orl $(CR0_PG + CR0_MP + CR0_NE), %eax
	movl %eax, %cr0

	/* Far return into the 64-bit code segment (ljmp would need an
	 * absolute address). The stack is the identity-mapped ring-0 stack. */
	leal (pvh_kstack_top - 1b)(%ebp), %esp
	pushl $PVH_SEL_KCODE
	leal (3f - 1b)(%ebp), %eax
	pushl %eax
	lret

	.code64
3:	movl $PVH_SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	/* Leave the identity map: continue at PVH_BASE + here. */
	movabsq $PVH_BASE, %r15
	leaq 4f(%rip), %rax
	addq %r15, %rax
	jmpq *%rax
4:	leaq pvh_kstack_top(%rip), %rsp

	/* Zero .bss (small: the big page tables and stacks are in .noclear)
	 * rather than trust what firmware left in RAM. */
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq

	/* Self-relocation, what gmm's loader does for it: for each
	 * R_X86_64_RELATIVE, *(base + r_offset) = base + r_addend. The build
	 * checks there is no other type; any other is skipped here. */
	leaq __rela_start(%rip), %rcx
	leaq __rela_end(%rip), %rdx
5:	cmpq %rdx, %rcx
	jae 7f
	cmpl $R_X86_64_RELATIVE, 8(%rcx)
	jne 6f
	movq (%rcx), %rax
	movq 16(%rcx), %rbx
	addq %r15, %rbx
	movq %rbx, (%r15, %rax)
6:	addq $24, %rcx
	jmp 5b

7:	movl %esi, %edi                 /* hvm_start_info gpa, zero-extended */
	call pvh_boot_main
	ud2

/* pvh_enter_ring3(rip, rsp, args[6]): iretq to CPL 3 with IOPL 3 and the
 * entry registers of abi.h (args = rdi, rsi, rdx, rcx, r8, r9); every other
 * register zero, as gmm enters. */
	.text
	.globl pvh_enter_ring3
pvh_enter_ring3:
	pushq $PVH_SEL_UDATA            /* ss */
	pushq %rsi                      /* rsp */
	pushq $0x3002                   /* rflags: IOPL 3, IF 0, bit 1 */
	pushq $PVH_SEL_UCODE            /* cs */
	pushq %rdi                      /* rip */
	movq %rdx, %rax
	movq 0(%rax), %rdi
	movq 8(%rax), %rsi
	movq 16(%rax), %rdx
	movq 24(%rax), %rcx
	movq 32(%rax), %r8
	movq 40(%rax), %r9
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ebp, %ebp
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	iretq

	.data
	.balign 16
	.globl pvh_gdt
pvh_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 kernel code: 64-bit, DPL 0 */
	.quad 0x00cf92000000ffff        /* 0x10 kernel data */
	.quad 0x00cff2000000ffff        /* 0x18 user data, DPL 3 */
	.quad 0x00affa000000ffff        /* 0x20 user code: 64-bit, DPL 3 */
	.quad 0, 0                      /* 0x28 TSS, filled by pvh_boot.c */
pvh_gdt_end:
	.balign 16
	.globl pvh_gdtr
pvh_gdtr:
	.word pvh_gdt_end - pvh_gdt - 1
	.quad 0                         /* base: filled at run time */

/* Big, and needing no zeroing (written before use, or stacks): kept out
 * of .bss so pvh.S need not clear them under slow ring-0 emulation. */
	.section .noclear, "aw", @nobits
	.balign 4096
	.globl pvh_pgt
pvh_pgt:
	.space PVH_PGT_PAGES * 4096
	.balign 16
	.space PVH_KSTACK_BYTES
	.globl pvh_kstack_top
pvh_kstack_top:
	.balign 16
	.space PVH_USTACK_BYTES
	.globl pvh_ustack_top
pvh_ustack_top:

	.section .note.GNU-stack, "", @progbits
