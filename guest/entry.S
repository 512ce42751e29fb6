/*
 * The ring-3 entry every vCPU starts at, under gmm (kvm and native) and,
 * after pvh.S and pvh_boot.c, under QEMU. The entry registers of abi.h
 * (rdi = vCPU id, rsi = cmdline, rdx = RAM bytes, rcx = base, r8 = TSC Hz,
 * r9 = boot_info) are already the SysV argument registers of guest_main(),
 * so this only terminates the frame chain and calls it with the stack
 * aligned (rsp is 16-byte aligned at entry; the call pushes 8).
 */
	.text
	.globl _start
	.type _start, @function
_start:
	xorl %ebp, %ebp
	andq $-16, %rsp
	call guest_main
	ud2                             /* guest_main never returns */
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
