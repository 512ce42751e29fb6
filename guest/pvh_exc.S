/*
 * QEMU boot: ring-0 exception stubs for vectors 0-31 (pvh_boot.c points the
 * IDT at them). Each pushes a zero error code where the CPU pushes none,
 * then its vector, so every frame looks alike (struct pvh_exc_frame), saves
 * the registers and calls pvh_exception(), which reports and exits QEMU.
 * Under gmm these are unused: gmm has its own stubs (vmm/x86_tables.c).
 */
#include "guest/pvh.h"

	.text
	.balign 16
	.globl pvh_exc_stubs
pvh_exc_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign 16
	.if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp pvh_exc_common
	.endr

pvh_exc_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	andq $-16, %rsp
	call pvh_exception
1:	hlt                             /* no isa-debug-exit: stop here */
	jmp 1b

	.section .note.GNU-stack, "", @progbits
