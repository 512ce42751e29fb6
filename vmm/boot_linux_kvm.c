/*
 * The KVM state a Linux guest needs beyond what the test guest uses:
 *
 *   - VM-wide, before any vCPU exists (KVM refuses these afterwards): the
 *     in-kernel irqchip (8259 PICs, IOAPIC, a LAPIC per vCPU) and the 8254
 *     PIT. Linux's timer and idle loop depend on them: with an in-kernel
 *     LAPIC, `hlt` waits in KVM for the next interrupt instead of exiting to
 *     gmm (whose dispatcher would take it for "this vCPU is finished").
 *   - per vCPU: the 64-bit boot protocol's entry state (boot_linux.c put it
 *     in vcpu->entry), the FPU reset state, the MSRs a BIOS leaves set, and
 *     the LAPIC's LINT0/LINT1 in virtual-wire mode as the MP spec describes
 *     a PC at power-on.
 *
 * KVM_SET_CPUID2 is done by accel_kvm.c for every guest; it passes
 * KVM_GET_SUPPORTED_CPUID through, which includes the KVM paravirt leaves
 * (kvmclock), so the kernel calibrates nothing against slow emulated I/O.
 * For Linux, linux_fix_cpuid() then hides CMPXCHG16B (see there).
 *
 * The nested KVM here runs guest ring 0 in an instruction emulator with
 * gaps (measured with Debian's 6.1 kernel, each a KVM_EXIT_INTERNAL_ERROR,
 * emulation failure): CMPXCHG16B (hidden via CPUID), XRSTOR (this KVM
 * forces XSAVE into CPUID whatever gmm sets, so the command line needs
 * `noxsave`), and INT3 at CPL 0 (the kernel's int3 self-test in
 * alternative_instructions(), ~70 s into boot: the end of the road here
 * until gmm emulates #BP delivery). docs/linux-guests.md has the details.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/boot.h"
#include "vmm/boot_linux.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define MSR_IA32_MISC_ENABLE        0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MSR_MTRR_DEF_TYPE           0x2ff
#define MTRR_DEF_TYPE_E             (1ULL << 11)
#define MTRR_TYPE_WRBACK            6

#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

static int vm_ioctl_err(const char *what, const char *why, char *err, size_t errlen)
{
	int e = errno;

	snprintf(err, errlen, "kvm: %s: %s%s", what, strerror(e), why);
	return -e;
}

int linux_kvm_setup_vm(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY }; /* port 0x61 handled in KVM */
	uint64_t ident = LINUX_KVM_IDENTITY_MAP_GPA;
	int fd = kvm_vm_fd(vm);

	if (fd < 0) {
		snprintf(err, errlen, "kernel %s: a Linux kernel needs accel=kvm", vm->cfg.kernel);
		return -ENOTSUP;
	}
	/* The default address already; set so the hole's layout is written
	 * down in one place (boot_linux.h). Only Intel uses it, for real mode. */
	if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
		return vm_ioctl_err("KVM_SET_IDENTITY_MAP_ADDR", "", err, errlen);
	if (ioctl(fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vm_ioctl_err("KVM_CREATE_IRQCHIP", " (a Linux guest needs the in-kernel PIC, IOAPIC "
				    "and LAPIC)", err, errlen);
	if (ioctl(fd, KVM_CREATE_PIT2, &pit) < 0)
		return vm_ioctl_err("KVM_CREATE_PIT2", " (a Linux guest needs the in-kernel PIT)", err, errlen);
	return 0;
}

int linux_kvm_irq_pulse(struct vm *vm, unsigned irq)
{
	struct kvm_irq_level l = { .irq = irq, .level = 1 };
	int fd = kvm_vm_fd(vm);

	if (fd < 0)
		return -ENOTSUP;
	if (ioctl(fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	l.level = 0;
	return ioctl(fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
}

/* No IDT (limit 0): any exception before the kernel loads its own is a
 * triple fault, which gmm reports as a crash with the registers. */
static int linux_set_sregs(int fd, const struct vcpu_regs *e)
{
	struct kvm_sregs sregs;

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	flat_seg(&sregs.cs, e->cs, 11, 1);  /* execute/read, accessed */
	flat_seg(&sregs.ss, e->ss, 3, 0);   /* read/write, accessed */
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss;
	sregs.ldt.unusable = 1;
	sregs.gdt.base = LINUX_GPA_GDT;
	sregs.gdt.limit = LINUX_GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = e->cr0;
	sregs.cr3 = e->cr3;
	sregs.cr4 = e->cr4;
	sregs.efer = e->efer;
	return ioctl(fd, KVM_SET_SREGS, &sregs) < 0 ? -errno : 0;
}

static int linux_set_regs(int fd, const struct vcpu_regs *e)
{
	struct kvm_regs regs;
	struct kvm_fpu fpu;

	memset(&regs, 0, sizeof(regs));
	regs.rip = e->rip;
	regs.rsi = e->rsi;
	regs.rsp = regs.rbp = e->rsp;
	regs.rflags = e->rflags;
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;      /* FNINIT state */
	fpu.mxcsr = 0x1f80;   /* all SIMD exceptions masked */
	return ioctl(fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

/* What firmware leaves set: fast strings on (the kernel keys rep movs/stos
 * use off it) and MTRRs enabled with write-back as the default type (with
 * MTRRs off the kernel turns PAT off too). */
static int linux_set_msrs(int fd)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} m;
	int n;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 2;
	m.e[0].index = MSR_IA32_MISC_ENABLE;
	m.e[0].data = MSR_IA32_MISC_ENABLE_FAST_STRING;
	m.e[1].index = MSR_MTRR_DEF_TYPE;
	m.e[1].data = MTRR_DEF_TYPE_E | MTRR_TYPE_WRBACK;
	n = ioctl(fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return -errno;
	if (n != 2) /* not fatal: the kernel copes, a little slower */
		log_warn("kvm: KVM_SET_MSRS set %d of 2 boot MSRs (%#x refused)", n, m.e[n].index);
	return 0;
}

static uint32_t lvt_mode(uint32_t reg, uint32_t mode)
{
	return (reg & ~0x700u) | (mode << 8);
}

/* Virtual-wire mode: LINT0 takes the PIC's ExtINT, LINT1 NMIs. */
static int linux_set_lint(int fd)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	memcpy(&v, lapic.regs + APIC_LVT_LINT0, 4);
	v = lvt_mode(v, APIC_MODE_EXTINT);
	memcpy(lapic.regs + APIC_LVT_LINT0, &v, 4);
	memcpy(&v, lapic.regs + APIC_LVT_LINT1, 4);
	v = lvt_mode(v, APIC_MODE_NMI);
	memcpy(lapic.regs + APIC_LVT_LINT1, &v, 4);
	return ioctl(fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

#define CPUID_1_ECX_CX16  (1u << 13)

/* Take CMPXCHG16B away from the guest. On the nested KVM here ring 0 runs
 * in an instruction emulator that cannot execute it (KVM_EXIT_INTERNAL_
 * ERROR, emulation failure, in SLUB's cmpxchg_double the moment the page
 * allocator comes up); without CPUID.1:ECX.CX16 the kernel uses its
 * locked fallback. Costs a little on real hardware, works everywhere.
 * accel_kvm.c set the CPUID already; KVM accepts a new one until the
 * vCPU first runs. */
static int linux_fix_cpuid(int fd)
{
	int nent = 128, ret;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		ret = ioctl(fd, KVM_GET_CPUID2, c);
		if (ret < 0 && errno == E2BIG) {
			free(c);
			nent *= 2;
			continue;
		}
		if (ret == 0) {
			for (uint32_t i = 0; i < c->nent; i++)
				if (c->entries[i].function == 1)
					c->entries[i].ecx &= ~CPUID_1_ECX_CX16;
			ret = ioctl(fd, KVM_SET_CPUID2, c);
		}
		ret = ret < 0 ? -errno : 0;
		free(c);
		return ret;
	}
}

/* Only vCPU 0 boots. Any other (none today: boot_linux_load() refuses
 * vcpus > 1) stays in KVM_MP_STATE_UNINITIALIZED, the state an in-kernel
 * LAPIC gives every AP, waiting in KVM for INIT/SIPI. */
int kvm_linux_setup_vcpu(struct vcpu *vcpu, int vcpu_fd)
{
	const char *step = "KVM_GET/SET_CPUID2";
	int ret;

	if (vcpu->id != 0)
		return 0;
	ret = linux_fix_cpuid(vcpu_fd);
	if (!ret) {
		step = "KVM_SET_SREGS";
		ret = linux_set_sregs(vcpu_fd, &vcpu->entry);
	}
	if (!ret) {
		step = "KVM_SET_REGS/FPU";
		ret = linux_set_regs(vcpu_fd, &vcpu->entry);
	}
	if (!ret) {
		step = "KVM_SET_MSRS";
		ret = linux_set_msrs(vcpu_fd);
	}
	if (!ret) {
		step = "KVM_SET_LAPIC";
		ret = linux_set_lint(vcpu_fd);
	}
	if (ret)
		log_error("guest '%s' vCPU %d: %s: %s", vcpu->vm->cfg.name, vcpu->id, step, strerror(-ret));
	return ret;
}

