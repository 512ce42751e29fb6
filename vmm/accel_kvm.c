/*
 * The kvm accelerator: /dev/kvm with the guest RAM window registered as
 * memslots that skip the device hole (an access to the hole must be an MMIO
 * exit). The test guest runs at CPL 3 on page tables and descriptor tables
 * gmm built (x86_tables.c): ring 0 is emulated and slow on the nested KVM
 * here, so nothing runs there but the exception stubs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/boot.h"
#include "vmm/crash.h"
#include "vmm/kvm_compat.h"
#include "vmm/log.h"
#include "vmm/signals.h"
#include "vmm/tsc.h"
#include "vmm/vm.h"
#include "vmm/x86_tables.h"

struct kvm_vm {
	int fd;
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	bool have_crash_regs;   /* set while reporting an exception from the stubs */
	struct vcpu_regs crash_regs;
};

static int kvm_fd = -1;
static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;

static void kvm_open_once(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(fd);
		return;
	}
	kvm_fd = fd;
}

bool accel_kvm_available(void)
{
	pthread_once(&kvm_once, kvm_open_once);
	return kvm_fd >= 0;
}

/* Memslot i over guest_mem slot i; flags: KVM_MEM_LOG_DIRTY_PAGES or 0.
 * Changing only the flags of a slot is allowed while vCPUs run. */
static int kvm_set_slot(struct vm *vm, int i, uint32_t flags)
{
	struct kvm_vm *kv = vm->accel_priv;
	struct kvm_userspace_memory_region r = {
		.slot = (uint32_t)i,
		.flags = flags,
		.guest_phys_addr = vm->mem.slots[i].gpa,
		.memory_size = vm->mem.slots[i].bytes,
		.userspace_addr = (uint64_t)vm->mem.slots[i].hva,
	};

	return ioctl(kv->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

static int kvm_dirty_log_enable(struct vm *vm, int slot, bool on)
{
	if (slot < 0 || slot >= vm->mem.nr_slots)
		return -EINVAL;
	return kvm_set_slot(vm, slot, on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

/* KVM_GET_DIRTY_LOG without manual protect: copy and clear, and KVM
 * write-protects the pages again. */
static int kvm_dirty_log_fetch(struct vm *vm, int slot, uint64_t *bitmap)
{
	struct kvm_vm *kv = vm->accel_priv;
	struct kvm_dirty_log log = { .slot = (uint32_t)slot, .dirty_bitmap = bitmap };

	if (slot < 0 || slot >= vm->mem.nr_slots)
		return -EINVAL;
	return ioctl(kv->fd, KVM_GET_DIRTY_LOG, &log) < 0 ? -errno : 0;
}

static int kvm_vm_init(struct vm *vm)
{
	struct kvm_vm *kv;
	int i;

	if (!accel_kvm_available())
		return -ENODEV;
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (kv->fd < 0) {
		int e = -errno;

		free(kv);
		return e;
	}
	vm->accel_priv = kv;
	/* Intel needs a TSS area for real mode; harmless elsewhere. */
	ioctl(kv->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	for (i = 0; i < vm->mem.nr_slots; i++) {
		int ret = kvm_set_slot(vm, i, 0);

		if (ret)
			return ret;
	}
	return 0;
}

/* Hook for the Linux loader (boot.h): boot_linux_load() needs the VM fd to
 * create the in-kernel irqchip and PIT. It runs from boot_load(), after
 * kvm_vm_init() and before any vCPU exists (vCPUs are created on their
 * threads at vm_start()), which is when KVM accepts them. */
int kvm_vm_fd(const struct vm *vm)
{
	const struct kvm_vm *kv = vm->accel == &accel_kvm_ops ? vm->accel_priv : NULL;

	return kv ? kv->fd : -1;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *kv = vm->accel_priv;

	close(kv->fd);
	free(kv);
	vm->accel_priv = NULL;
}

static uint64_t kvm_tsc_hz(struct vm *vm)
{
	struct kvm_vm *kv = vm->accel_priv;
	int khz = ioctl(kv->fd, KVM_GET_TSC_KHZ, 0); /* VM ioctl since 6.0 */

	return khz > 0 ? (uint64_t)khz * 1000 : tsc_host_hz();
}

static int kvm_set_cpuid(struct kvm_vcpu *kc)
{
	int nent = 128, ret;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		ret = ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (ret < 0 && errno == E2BIG) {
			free(c);
			nent *= 2;
			continue;
		}
		if (ret == 0)
			ret = ioctl(kc->fd, KVM_SET_CPUID2, c);
		ret = ret < 0 ? -errno : 0;
		free(c);
		return ret;
	}
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = sel & 3;
	s->s = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
}

/* Long mode, CPL 3, IOPL 3, SSE on: the state the test guest expects. */
static int kvm_setup_test_guest(struct vcpu *vcpu, struct kvm_vcpu *kc)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	struct x86_cpu_layout l;
	const struct vcpu_regs *e = &vcpu->entry;

	if (ioctl(kc->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	x86_cpu_layout(vcpu->vm, vcpu->id, &l);
	seg(&sregs.cs, X86_SEL_UCODE, 11, 1);
	seg(&sregs.ss, X86_SEL_UDATA, 3, 0);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = l.tss_gva;
	sregs.tr.limit = l.tss_limit;
	sregs.tr.selector = X86_SEL_TSS;
	sregs.tr.type = 11; /* busy 64-bit TSS */
	sregs.tr.present = 1;
	sregs.ldt.unusable = 1;
	sregs.gdt.base = l.gdt_gva;
	sregs.gdt.limit = X86_GDT_ENTRIES * 8 - 1;
	sregs.idt.base = l.idt_gva;
	sregs.idt.limit = 32 * 16 - 1;
	sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	sregs.cr3 = l.cr3;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sregs.efer = X86_EFER_LME | X86_EFER_LMA;
	if (ioctl(kc->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rip = e->rip; regs.rsp = e->rsp; regs.rflags = e->rflags;
	regs.rdi = e->rdi; regs.rsi = e->rsi; regs.rdx = e->rdx; regs.rcx = e->rcx;
	regs.r8 = e->r8; regs.r9 = e->r9;
	if (ioctl(kc->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(kc->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

static int kvm_vcpu_init(struct vcpu *vcpu)
{
	struct kvm_vm *kv = vcpu->vm->accel_priv;
	struct kvm_vcpu *kc = calloc(1, sizeof(*kc));
	int ret;

	if (!kc)
		return -ENOMEM;
	vcpu->accel_priv = kc;
	kc->fd = ioctl(kv->fd, KVM_CREATE_VCPU, vcpu->id);
	if (kc->fd < 0)
		return -errno;
	kc->run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	kc->run = mmap(NULL, kc->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kc->fd, 0);
	if (kc->run == MAP_FAILED) {
		kc->run = NULL;
		return -errno;
	}
	ret = kvm_set_cpuid(kc);
	if (ret)
		return ret;
	signals_unblock_kick();
	if (vcpu->vm->kind == GUEST_TEST)
		return kvm_setup_test_guest(vcpu, kc);
	return kvm_linux_setup_vcpu(vcpu, kc->fd);
}

static void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vcpu *kc = vcpu->accel_priv;

	if (kc->run)
		munmap(kc->run, kc->run_size);
	if (kc->fd >= 0)
		close(kc->fd);
	free(kc);
	vcpu->accel_priv = NULL;
}

static int kvm_get_regs_raw(struct kvm_vcpu *kc, struct vcpu_regs *r)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(kc->fd, KVM_GET_REGS, &regs) < 0 || ioctl(kc->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	r->rax = regs.rax; r->rbx = regs.rbx; r->rcx = regs.rcx; r->rdx = regs.rdx;
	r->rsi = regs.rsi; r->rdi = regs.rdi; r->rbp = regs.rbp; r->rsp = regs.rsp;
	r->r8 = regs.r8; r->r9 = regs.r9; r->r10 = regs.r10; r->r11 = regs.r11;
	r->r12 = regs.r12; r->r13 = regs.r13; r->r14 = regs.r14; r->r15 = regs.r15;
	r->rip = regs.rip; r->rflags = regs.rflags;
	r->cr0 = sregs.cr0; r->cr2 = sregs.cr2; r->cr3 = sregs.cr3; r->cr4 = sregs.cr4;
	r->efer = sregs.efer;
	r->cs = sregs.cs.selector; r->ss = sregs.ss.selector;
	r->cpl = sregs.ss.dpl;
	return 0;
}

static int kvm_vcpu_get_regs(struct vcpu *vcpu, struct vcpu_regs *r)
{
	struct kvm_vcpu *kc = vcpu->accel_priv;

	if (kc->have_crash_regs) {
		*r = kc->crash_regs;
		return 0;
	}
	return kvm_get_regs_raw(kc, r);
}

/* An exception stub ran (ring 0) and reported its vector. Rebuild the
 * ring-3 state from the frame on the exception stack:
 * rdx, rax, vector, error code, rip, cs, rflags, rsp, ss. */
static bool kvm_exception_exit(struct vcpu *vcpu, struct kvm_vcpu *kc, uint8_t vector, struct vcpu_exit *exit)
{
	struct vcpu_regs *r = &kc->crash_regs;
	const uint64_t *f;

	if (kvm_get_regs_raw(kc, r) || r->cpl != 0)
		return false; /* ring 3 wrote the port: just an unowned port */
	f = vm_gva_to_hva(vcpu->vm, r, r->rsp, 9 * 8);
	memset(exit, 0, sizeof(*exit));
	exit->reason = VCPU_EXIT_EXCEPTION;
	exit->exc.vector = vector;
	exit->exc.what = x86_exception_name(vector);
	if (f) {
		r->rdx = f[0]; r->rax = f[1]; exit->exc.error_code = f[3];
		r->rip = f[4]; r->cs = f[5]; r->rflags = f[6]; r->rsp = f[7]; r->ss = f[8];
		r->cpl = r->cs & 3;
	}
	exit->exc.addr = vector == 14 ? r->cr2 : 0;
	kc->have_crash_regs = true;
	return true;
}

/* One KVM_EXIT_IO; string I/O (rep ins/outs) arrives as count elements. */
static enum vcpu_action kvm_io(struct vcpu *vcpu, struct kvm_vcpu *kc, vcpu_exit_fn handle)
{
	struct kvm_run *run = kc->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	struct vcpu_exit exit;

	if (out && run->io.port == GMM_EXC_PORT && vcpu->vm->kind == GUEST_TEST &&
	    kvm_exception_exit(vcpu, kc, data[0], &exit))
		return handle(vcpu, &exit);
	for (uint32_t i = 0; i < run->io.count; i++) {
		enum vcpu_action act;

		memset(&exit, 0, sizeof(exit));
		exit.reason = VCPU_EXIT_IO;
		exit.io.port = run->io.port;
		exit.io.size = run->io.size;
		exit.io.is_write = out;
		if (out)
			memcpy(&exit.io.data, data + i * run->io.size, run->io.size);
		act = handle(vcpu, &exit);
		if (!out)
			memcpy(data + i * run->io.size, &exit.io.data, run->io.size);
		if (act != VCPU_CONTINUE)
			return act;
	}
	return VCPU_CONTINUE;
}

static enum vcpu_action kvm_mmio(struct vcpu *vcpu, struct kvm_vcpu *kc, vcpu_exit_fn handle)
{
	struct kvm_run *run = kc->run;
	struct vcpu_exit exit;
	enum vcpu_action act;

	memset(&exit, 0, sizeof(exit));
	exit.reason = VCPU_EXIT_MMIO;
	exit.mmio.gpa = run->mmio.phys_addr;
	exit.mmio.size = run->mmio.len;
	exit.mmio.is_write = run->mmio.is_write;
	if (run->mmio.len > 8)
		exit.mmio.size = 8;
	if (exit.mmio.is_write)
		memcpy(&exit.mmio.data, run->mmio.data, exit.mmio.size);
	act = handle(vcpu, &exit);
	if (!exit.mmio.is_write)
		memcpy(run->mmio.data, &exit.mmio.data, exit.mmio.size);
	return act;
}

static enum vcpu_action kvm_fail(struct vcpu *vcpu, vcpu_exit_fn handle, const char *what, uint64_t code)
{
	struct vcpu_exit exit;

	memset(&exit, 0, sizeof(exit));
	exit.reason = VCPU_EXIT_FAIL;
	exit.exc.vector = -1;
	exit.exc.what = what;
	exit.exc.error_code = code;
	return handle(vcpu, &exit);
}

static enum vcpu_action kvm_dispatch(struct vcpu *vcpu, struct kvm_vcpu *kc, vcpu_exit_fn handle)
{
	struct kvm_run *run = kc->run;
	struct vcpu_exit exit;

	memset(&exit, 0, sizeof(exit));
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return kvm_io(vcpu, kc, handle);
	case KVM_EXIT_MMIO:
		return kvm_mmio(vcpu, kc, handle);
	case KVM_EXIT_HLT:
		exit.reason = VCPU_EXIT_HLT;
		return handle(vcpu, &exit);
	case KVM_EXIT_SHUTDOWN:
		exit.reason = VCPU_EXIT_SHUTDOWN;
		exit.exc.vector = 8;
		return handle(vcpu, &exit);
	case KVM_EXIT_FAIL_ENTRY:
		return kvm_fail(vcpu, handle, "KVM entry failed", run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return kvm_fail(vcpu, handle, "KVM internal error", run->internal.suberror);
	case KVM_EXIT_SYSTEM_EVENT:
		exit.reason = VCPU_EXIT_SHUTDOWN;
		return handle(vcpu, &exit);
	default:
		return kvm_fail(vcpu, handle, "unhandled KVM exit", run->exit_reason);
	}
}

/*
 * EFAULT from KVM_RUN while the realizer has a RAM range PROT_NONE
 * (realize_unmap()'s bridge, microseconds long): enter again. Anything
 * else, or a bridge that never ends, is a failure.
 */
#define KVM_BRIDGE_MAX_RETRIES (1U << 20)

static bool kvm_ram_bridge(struct vcpu *vcpu, struct kvm_vcpu *kc, unsigned *retries)
{
	const struct gmm_kvm_memory_fault *mf = (const void *)kc->run->padding;

	if (kc->run->exit_reason == KVM_EXIT_MEMORY_FAULT && !guest_mem_is_ram(&vcpu->vm->mem, mf->gpa))
		return false;
	if (++*retries > KVM_BRIDGE_MAX_RETRIES)
		return false;
	sched_yield();
	return true;
}

static void kvm_vcpu_run(struct vcpu *vcpu, vcpu_exit_fn handle)
{
	struct kvm_vcpu *kc = vcpu->accel_priv;
	unsigned efault_retries = 0;

	for (;;) {
		if (atomic_load(&vcpu->stop))
			return;
		if (ioctl(kc->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				kc->run->immediate_exit = 0;
				continue;
			}
			if (errno == EFAULT && kvm_ram_bridge(vcpu, kc, &efault_retries))
				continue;
			if (kvm_fail(vcpu, handle, errno == EFAULT ? "KVM_RUN: bad guest memory (EFAULT)" :
				     "KVM_RUN failed", errno) != VCPU_CONTINUE)
				return;
			continue;
		}
		efault_retries = 0;
		if (kvm_dispatch(vcpu, kc, handle) != VCPU_CONTINUE)
			return;
	}
}

/* immediate_exit closes the race with a vCPU about to enter KVM_RUN; the
 * signal interrupts one already inside. */
static void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu *kc = vcpu->accel_priv;

	if (kc && kc->run)
		__atomic_store_n(&kc->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, SIGNAL_KICK);
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.vcpu_get_regs = kvm_vcpu_get_regs,
	.vcpu_destroy = kvm_vcpu_destroy,
	.tsc_hz = kvm_tsc_hz,
	.dirty_log_enable = kvm_dirty_log_enable,
	.dirty_log_fetch = kvm_dirty_log_fetch,
};
