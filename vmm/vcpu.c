/*
 * The one exit dispatcher (kvmtool's kvm_cpu__start switch): both
 * accelerators hand every exit here. Port I/O and MMIO go to the bus; what
 * nobody owns is counted and ignored (reads see all ones), so a guest
 * writing garbage to ports or the device hole harms nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/crash.h"
#include "vmm/log.h"
#include "vmm/vm.h"

static enum vcpu_action vcpu_io(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	struct vm *vm = vcpu->vm;
	uint32_t data = exit->io.data;
	int ret;

	atomic_fetch_add(&vm->stat.exits_io, 1);
	ret = bus_access(&vm->pio, vcpu, exit->io.port, &data, exit->io.size, exit->io.is_write);
	if (ret == -ENOENT) {
		atomic_fetch_add(&vm->stat.pio_unhandled, 1);
		data = 0xffffffffu;
	} else if (ret) {
		atomic_fetch_add(&vm->stat.bad_accesses, 1);
		data = 0xffffffffu;
	}
	if (!exit->io.is_write)
		exit->io.data = exit->io.size == 4 ? data : data & ((1u << (8 * exit->io.size)) - 1);
	return atomic_load(&vcpu->stop) ? VCPU_PARK : VCPU_CONTINUE;
}

static enum vcpu_action vcpu_mmio(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	struct vm *vm = vcpu->vm;
	uint64_t data = exit->mmio.data;
	int ret;

	atomic_fetch_add(&vm->stat.exits_mmio, 1);
	ret = bus_access(&vm->mmio, vcpu, exit->mmio.gpa, &data, exit->mmio.size, exit->mmio.is_write);
	if (ret == -ENOENT) {
		atomic_fetch_add(&vm->stat.mmio_unhandled, 1);
		data = ~0ULL;
	} else if (ret) {
		atomic_fetch_add(&vm->stat.bad_accesses, 1);
		data = ~0ULL;
	}
	if (!exit->mmio.is_write)
		exit->mmio.data = exit->mmio.size == 8 ? data : data & ((1ULL << (8 * exit->mmio.size)) - 1);
	return atomic_load(&vcpu->stop) ? VCPU_PARK : VCPU_CONTINUE;
}

static enum vcpu_action vcpu_crash(struct vcpu *vcpu, struct vcpu_exit *exit, const char *what)
{
	char reason[160];

	crash_report(vcpu, exit);
	snprintf(reason, sizeof(reason), "vCPU %d: %s", vcpu->id, what);
	vm_request_stop(vcpu->vm, -1, true, reason);
	return VCPU_PARK;
}

enum vcpu_action vcpu_handle_exit(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	if (atomic_load(&vcpu->stop) && exit->reason != VCPU_EXIT_EXCEPTION)
		return VCPU_PARK;
	switch (exit->reason) {
	case VCPU_EXIT_IO:
		return vcpu_io(vcpu, exit);
	case VCPU_EXIT_MMIO:
		return vcpu_mmio(vcpu, exit);
	case VCPU_EXIT_HLT:
		/* No interrupts exist to wake it: a halted vCPU is finished. */
		log_info("guest '%s' vCPU %d halted", vcpu->vm->cfg.name, vcpu->id);
		return VCPU_PARK;
	case VCPU_EXIT_SHUTDOWN:
		return vcpu_crash(vcpu, exit, "triple fault");
	case VCPU_EXIT_EXCEPTION:
		return vcpu_crash(vcpu, exit, exit->exc.what ? exit->exc.what : "exception");
	case VCPU_EXIT_FAIL:
		return vcpu_crash(vcpu, exit, exit->exc.what ? exit->exc.what : "accelerator failure");
	case VCPU_EXIT_STOP:
		return VCPU_PARK;
	}
	return VCPU_PARK;
}
