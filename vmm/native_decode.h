/*
 * Instruction decoding for the native accelerator: turn the instruction at
 * a trapping RIP into the exit KVM would have produced (port I/O, MMIO, hlt)
 * and apply a read's result to the register state afterwards. Capstone does
 * the x86 decoding; only the forms the test guest uses for devices are
 * accepted (in/out, mov/movzx to or from memory, hlt). Anything else is an
 * exception, reported as one.
 */
#ifndef GMM_VMM_NATIVE_DECODE_H
#define GMM_VMM_NATIVE_DECODE_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "vmm/accel.h"

enum native_insn_kind {
	NATIVE_INSN_IO,
	NATIVE_INSN_MMIO,
	NATIVE_INSN_HLT,
	NATIVE_INSN_OTHER,
};

struct native_insn {
	enum native_insn_kind kind;
	unsigned len;          /* bytes, to advance RIP */
	bool is_write;
	unsigned size;         /* access size */
	int dst_greg;          /* for reads: gregs index to write, -1 none */
	unsigned dst_size;     /* destination register width */
	bool dst_high8;        /* ah/bh/ch/dh */
	bool zero_extend;      /* movzx */
	uint64_t value;        /* for writes: the value */
	uint16_t port;         /* io */
	char mnemonic[32];
};

/* Decode code[0..n) at rip with gregs as the register state. Returns 0, or
 * -1 when the bytes are no instruction. */
int native_decode(csh cs, const uint8_t *code, size_t n, uint64_t rip, const greg_t *gregs,
		  struct native_insn *out);
/* Write a read's data into the destination register as the CPU would. */
void native_apply_read(greg_t *gregs, const struct native_insn *insn, uint64_t data);

#endif
