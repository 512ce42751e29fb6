/* Crash reports; see crash.h. Reads like the kernel's oops: one header line,
 * then fixed-column registers, then the code. */
#include "vmm/crash.h"

#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/vm.h"

static const char *const exc_names[32] = {
	[0] = "#DE divide error", [1] = "#DB debug", [2] = "NMI", [3] = "#BP breakpoint",
	[4] = "#OF overflow", [5] = "#BR bound range", [6] = "#UD invalid opcode",
	[7] = "#NM device not available", [8] = "#DF double fault", [10] = "#TS invalid TSS",
	[11] = "#NP segment not present", [12] = "#SS stack fault",
	[13] = "#GP general protection", [14] = "#PF page fault", [16] = "#MF x87 error",
	[17] = "#AC alignment check", [18] = "#MC machine check", [19] = "#XM SIMD error",
	[20] = "#VE virtualization", [21] = "#CP control protection",
};

const char *x86_exception_name(int vector)
{
	if (vector < 0 || vector >= 32 || !exc_names[vector])
		return "exception";
	return exc_names[vector];
}

#define PTE_P   1ULL
#define PTE_PS  (1ULL << 7)
#define PTE_ADDR 0x000ffffffffff000ULL

const void *vm_gva_to_hva(struct vm *vm, const struct vcpu_regs *regs, uint64_t gva, size_t len)
{
	uint64_t table, gpa;
	int level;

	if (vm->kind == GUEST_TEST) {
		uint64_t base = (uint64_t)vm->mem.window;

		if (gva < base)
			return NULL;
		return guest_mem_gpa_to_hva(&vm->mem, gva - base, len);
	}
	if (!(regs->cr0 & 0x80000000ULL)) /* paging off: flat */
		return guest_mem_gpa_to_hva(&vm->mem, gva, len);
	table = regs->cr3 & PTE_ADDR;
	for (level = 3; level >= 0; level--) {
		const uint64_t *ent = guest_mem_gpa_to_hva(&vm->mem, table + ((gva >> (12 + 9 * level)) & 511) * 8, 8);

		if (!ent || !(*ent & PTE_P))
			return NULL;
		if (level > 0 && level < 3 && (*ent & PTE_PS)) {
			uint64_t size = 1ULL << (12 + 9 * level);

			gpa = (*ent & PTE_ADDR & ~(size - 1)) | (gva & (size - 1));
			return guest_mem_gpa_to_hva(&vm->mem, gpa, len);
		}
		table = *ent & PTE_ADDR;
	}
	return guest_mem_gpa_to_hva(&vm->mem, table | (gva & 4095), len);
}

void crash_disasm(struct vm *vm, const struct vcpu_regs *regs, char *buf, size_t buflen, int max_insns)
{
	uint8_t code[32];
	size_t n = 0, off = 0, count, i;
	csh cs;
	cs_insn *insn;

	buf[0] = '\0';
	/* Read byte by byte so a page boundary or RAM end stops us cleanly. */
	while (n < sizeof(code)) {
		const uint8_t *p = vm_gva_to_hva(vm, regs, regs->rip + n, 1);

		if (!p)
			break;
		code[n++] = *p;
	}
	if (!n) {
		snprintf(buf, buflen, "    <rip %#" PRIx64 " is not in guest RAM>\n", regs->rip);
		return;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(buf, buflen, "    <capstone unavailable>\n");
		return;
	}
	count = cs_disasm(cs, code, n, regs->rip, max_insns, &insn);
	for (i = 0; i < count && off < buflen; i++)
		off += snprintf(buf + off, buflen - off, "    %#" PRIx64 ": %-8s %s%s\n", insn[i].address,
				insn[i].mnemonic, insn[i].op_str, i == 0 ? "    <-- rip" : "");
	if (!count && off < buflen) {
		off += snprintf(buf + off, buflen - off, "    %#" PRIx64 ": (bad)", regs->rip);
		for (i = 0; i < n && i < 16 && off < buflen; i++)
			off += snprintf(buf + off, buflen - off, " %02x", code[i]);
		if (off < buflen)
			snprintf(buf + off, buflen - off, "\n");
	}
	if (count)
		cs_free(insn, count);
	cs_close(&cs);
}

void crash_report(struct vcpu *vcpu, const struct vcpu_exit *exit)
{
	struct vm *vm = vcpu->vm;
	struct vcpu_regs r;
	char code[1024];
	const char *what = "fatal exit";

	memset(&r, 0, sizeof(r));
	if (vm->accel->vcpu_get_regs(vcpu, &r))
		fprintf(stderr, "gmm: guest '%s' vCPU %d: registers unavailable\n", vm->cfg.name, vcpu->id);
	if (exit->reason == VCPU_EXIT_SHUTDOWN)
		what = "triple fault (shutdown)";
	else if (exit->exc.what)
		what = exit->exc.what;
	crash_disasm(vm, &r, code, sizeof(code), 4);
	/* One fprintf: reports from two crashing guests do not interleave. */
	fprintf(stderr,
		"gmm: guest '%s' vCPU %d crashed (%s): %s, error %#" PRIx64 ", addr %#" PRIx64 "\n"
		"  RIP: %016" PRIx64 " RFLAGS: %08" PRIx64 " CS: %04x SS: %04x CPL: %d\n"
		"  RAX: %016" PRIx64 " RBX: %016" PRIx64 " RCX: %016" PRIx64 "\n"
		"  RDX: %016" PRIx64 " RSI: %016" PRIx64 " RDI: %016" PRIx64 "\n"
		"  RBP: %016" PRIx64 " RSP: %016" PRIx64 " R8:  %016" PRIx64 "\n"
		"  R9:  %016" PRIx64 " R10: %016" PRIx64 " R11: %016" PRIx64 "\n"
		"  R12: %016" PRIx64 " R13: %016" PRIx64 " R14: %016" PRIx64 "\n"
		"  R15: %016" PRIx64 " CR0: %08" PRIx64 " CR2: %016" PRIx64 "\n"
		"  CR3: %016" PRIx64 " CR4: %08" PRIx64 " EFER: %08" PRIx64 "\n"
		"  Code:\n%s",
		vm->cfg.name, vcpu->id, vm->accel->name, what, exit->exc.error_code, exit->exc.addr,
		r.rip, r.rflags, r.cs, r.ss, r.cpl, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
		r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.cr0, r.cr2, r.cr3, r.cr4, r.efer,
		code);
}
