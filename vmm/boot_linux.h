/*
 * The Linux loader's private contract (boot_linux*.c): where gmm puts what
 * the x86 boot protocol (Documentation/arch/x86/boot.rst) asks a boot loader
 * to provide, and the plan the image parsers hand to the loader.
 *
 * Guest-physical layout, all in the low 1 MiB, which Linux reserves for
 * itself from early boot on (so none of it is ever handed out as RAM while
 * still in use; the kernel copies boot_params and the command line before
 * it touches memory of its own):
 *
 *   0x01000  GDT: null, null, __BOOT_CS (0x10), __BOOT_DS (0x18)
 *   0x07000  zero page: struct boot_params, RSI at entry
 *   0x08000  a small boot stack (startup_64 sets its own at once)
 *   0x09000  PML4, 0x0a000 PDPT, 0x0b000.. four PDs: identity map of 4 GiB
 *            with 2 MiB pages, covering the kernel, zero page, cmdline
 *   0x20000  the command line
 *   0x9fc00  end of low RAM (where a PC's EBDA starts); [0x9fc00, 1 MiB)
 *            is reserved in the e820 map, as a PC BIOS leaves it
 *   0x100000 a bzImage's protected-mode kernel (a vmlinux goes to its own
 *            PT_LOAD physical addresses, 16 MiB for Debian's)
 *
 * The layout is fixed, so the vCPU setup recomputes nothing: the loader
 * stores the entry point in vcpu->entry like the test-guest loader does.
 */
#ifndef GMM_VMM_BOOT_LINUX_H
#define GMM_VMM_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

#define LINUX_GPA_GDT         0x1000ULL
#define LINUX_GPA_ZERO_PAGE   0x7000ULL
#define LINUX_GPA_STACK_TOP   0x8ff0ULL
#define LINUX_GPA_PML4        0x9000ULL
#define LINUX_GPA_PDPT        0xa000ULL
#define LINUX_GPA_PD          0xb000ULL
#define LINUX_IDENT_MAP_GIB   4ULL
#define LINUX_GPA_CMDLINE     0x20000ULL
#define LINUX_GPA_EBDA        0x9fc00ULL
#define LINUX_GPA_HIGH        0x100000ULL   /* 1 MiB: where "high" memory starts */
#define LINUX_GPA_BZ_LOAD     LINUX_GPA_HIGH /* boot.rst: protected-mode kernel at 0x100000 */

/* Selectors the 64-bit boot protocol requires (boot.rst: __BOOT_CS,
 * __BOOT_DS), and the GDT entries behind them. */
#define LINUX_BOOT_CS         0x10
#define LINUX_BOOT_DS         0x18
#define LINUX_GDT_ENTRIES     4

/* Without a setup header (vmlinux), the limits of protocol 2.03+ kernels. */
#define LINUX_COMMAND_LINE_SIZE  2048         /* arch/x86/include/asm/setup.h */
#define LINUX_INITRD_ADDR_MAX    0x7fffffffULL

/* virtio-mmio devices for Linux: slot i at GMM_GPA_MMIO_BASE + i * 4 KiB
 * raises ISA IRQ LINUX_VIRTIO_IRQ + i through the in-kernel PIC/IOAPIC
 * (edge: a pulse per notification, as kvmtool does). The loader adds
 * "virtio_mmio.device=4K@0xd0000000:5" to the command line for each
 * device unless the line already names it. */
#define LINUX_VIRTIO_IRQ 5
/* Pulse IRQ line irq of a Linux guest (KVM_IRQ_LINE high, then low). */
int linux_kvm_irq_pulse(struct vm *vm, unsigned irq);

/* Where KVM keeps the real-mode TSS and identity page table it needs on
 * Intel for a vCPU in real mode (an AP's SIPI trampoline): three pages
 * just below 4 GiB, inside the device hole, like QEMU and Firecracker. */
#define LINUX_KVM_IDENTITY_MAP_GPA  0xfffbc000ULL

/* What an image parser found and placed: the loader turns it into the
 * zero page, e820 map and entry registers. */
struct linux_image {
	uint64_t entry_gpa;       /* 64-bit entry: startup_64 */
	uint64_t kernel_start;    /* lowest gpa the kernel occupies or needs */
	uint64_t kernel_end;      /* one past the highest (init_size included) */
	uint32_t cmdline_max;     /* longest command line, NUL excluded */
	uint64_t initrd_addr_max; /* highest byte an initrd may occupy */
	const uint8_t *setup_hdr; /* bzImage: its setup header bytes, else NULL */
	size_t setup_hdr_len;     /* bytes from 0x1f1 */
};

/* Parse and copy into guest memory. -errno with a one-line reason. */
int linux_load_vmlinux(struct vm *vm, const uint8_t *img, size_t len, struct linux_image *li,
		       char *err, size_t errlen);
int linux_load_bzimage(struct vm *vm, const uint8_t *img, size_t len, struct linux_image *li,
		       char *err, size_t errlen);
/* The end of RAM below the device hole: where low memory stops. */
uint64_t linux_low_ram_end(const struct vm *vm);

/* KVM state that must exist before any vCPU is created (boot_linux_kvm.c):
 * the in-kernel irqchip (PIC, IOAPIC, LAPICs) and PIT. */
int linux_kvm_setup_vm(struct vm *vm, char *err, size_t errlen);

#endif
