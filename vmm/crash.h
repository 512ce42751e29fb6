/* Crash report: when a guest faults fatally, print its registers and the
 * instructions at RIP (Capstone) to stderr. Only that guest stops. */
#ifndef GMM_VMM_CRASH_H
#define GMM_VMM_CRASH_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/accel.h"

struct vcpu;
struct vm;

void crash_report(struct vcpu *vcpu, const struct vcpu_exit *exit);
const char *x86_exception_name(int vector);
/* Translate a guest-virtual address with the guest's own page tables (cr3,
 * 4-level) or, for the test guest, by its fixed base. NULL if unmapped. */
const void *vm_gva_to_hva(struct vm *vm, const struct vcpu_regs *regs, uint64_t gva, size_t len);
/* Disassemble up to max_insns instructions at rip into buf. */
void crash_disasm(struct vm *vm, const struct vcpu_regs *regs, char *buf, size_t buflen, int max_insns);

#endif
