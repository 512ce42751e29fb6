/*
 * The contract between gmm and the test guest: entry registers, the boot
 * information block, the guest-physical layout gmm prepares, and the test
 * device's port protocol. Included by both sides (the guest is built
 * freestanding, so only fixed-width types and no libc).
 *
 * Like the x86 boot protocol's boot_params, the block is versioned and only
 * ever grows at the end.
 */
#ifndef GMM_GUEST_ABI_H
#define GMM_GUEST_ABI_H

#include <stdint.h>

/* ---- entry ---------------------------------------------------------------
 * Every vCPU enters the ELF's entry point at CPL 3 with:
 *   rdi = vCPU id (0..nr_vcpus-1)
 *   rsi = guest-virtual address of the NUL-terminated command line
 *   rdx = guest RAM size in bytes
 *   rcx = base: guest-virtual address of guest-physical 0 (gva = base + gpa)
 *   r8  = TSC frequency in Hz
 *   r9  = guest-virtual address of struct gmm_boot_info
 *   rsp = top of this vCPU's stack, 16-byte aligned
 * All other registers are zero; IF=0, and every port is open to ring 3
 * (RFLAGS.IOPL=3 and, because the nested KVM here ignores IOPL, a TSS I/O
 * bitmap that allows all ports). The guest has no
 * interrupts: its drivers poll. It must not use syscall, int, cpuid, %fs or
 * %gs, and must not execute privileged instructions (hlt, cli, ...): under
 * the native accelerator those trap, under KVM they fault.
 */

#define GMM_BOOT_MAGIC   0x31424d4d47ULL /* "GMMB1" */
#define GMM_BOOT_VERSION 2   /* 2: NUMA cells */
#define GMM_MAX_VCPUS    64
#define GMM_MAX_RANGES   4
#define GMM_MAX_CELLS    8

/* Guest-physical layout gmm builds (all below the image are reserved frames:
 * unevictable, never ballooned). */
#define GMM_GPA_BOOT_INFO   0x00001000ULL /* struct gmm_boot_info */
#define GMM_GPA_CMDLINE     0x00002000ULL /* 4 KiB, NUL-terminated */
#define GMM_CMDLINE_MAX     4096
#define GMM_GPA_EXC_STUBS   0x00003000ULL /* ring-0 exception stubs */
#define GMM_GPA_PERCPU      0x00010000ULL /* GDTs, TSSs, I/O bitmap, exception stacks */
#define GMM_GPA_MAILBOX     0x00090000ULL /* per vCPU: one 4 KiB mailbox page */
#define GMM_GPA_PGTABLE     0x000d0000ULL /* PML4, PDPT, PDs (up to 0x100000) */
#define GMM_GPA_IMAGE       0x00100000ULL /* the guest ELF is linked and loaded here */

/* RAM above 3 GiB continues at 4 GiB; [3 GiB, 4 GiB) is the device hole. */
#define GMM_GPA_HOLE_START  0xc0000000ULL
#define GMM_GPA_HOLE_END    0x100000000ULL
#define GMM_GPA_MMIO_BASE   0xd0000000ULL /* virtio-mmio devices, 4 KiB apart */
/* virtio-mmio slot i is at GMM_GPA_MMIO_BASE + i * 0x1000; a driver probes
 * slots 0..GMM_VIRTIO_MMIO_SLOTS-1 (MagicValue "virt", DeviceID != 0). An
 * empty slot reads all ones. The balloon, when configured, is slot 0. */
#define GMM_VIRTIO_MMIO_SLOTS 8
#define GMM_VIRTIO_MMIO_SLOT_SIZE 0x1000

struct gmm_ram_range {
	uint64_t gpa;
	uint64_t bytes;
};

/* A guest NUMA cell (numa.cells, docs/numa.md): RAM from gpa on, bytes of
 * it, in RAM order; a cell that reaches 3 GiB continues at 4 GiB, as RAM
 * does. cpu_mask has bit i set for vCPU i; node is the host pool node its
 * memory is bound to. Cells cover all RAM, in order, and every vCPU once. */
struct gmm_numa_cell {
	uint64_t gpa;
	uint64_t bytes;
	uint64_t cpu_mask;
	uint32_t node;
	uint32_t pad;
};

struct gmm_boot_info {
	uint64_t magic;          /* GMM_BOOT_MAGIC */
	uint32_t version;        /* GMM_BOOT_VERSION */
	uint32_t nr_vcpus;
	uint64_t ram_bytes;      /* all guest RAM, both sides of the hole */
	uint64_t base;           /* gva of gpa 0 */
	uint64_t tsc_hz;
	uint64_t cmdline_gpa;
	uint64_t mailbox_gpa;    /* vCPU i's mailbox: mailbox_gpa + i * 4096 */
	uint32_t nr_ranges;      /* RAM free for the workload, in ranges[] */
	uint32_t accel;          /* GMM_ACCEL_* that runs the guest */
	struct gmm_ram_range ranges[GMM_MAX_RANGES];
	/* version 2 */
	uint32_t nr_cells;       /* 0: no cells configured */
	uint32_t pad;
	struct gmm_numa_cell cells[GMM_MAX_CELLS];
};
_Static_assert(sizeof(struct gmm_boot_info) <= GMM_GPA_CMDLINE - GMM_GPA_BOOT_INFO,
	       "boot_info must fit its page");

#define GMM_ACCEL_KVM    1
#define GMM_ACCEL_NATIVE 2
#define GMM_ACCEL_QEMU   3 /* set by the guest itself when it booted by PVH */

/* ---- test device ---------------------------------------------------------
 * One 32-bit port. `out %eax, (%dx)` with dx = GMM_TDEV_PORT issues the
 * command in eax; its payload is in the issuing vCPU's mailbox page.
 * `in (%dx), %eax` returns GMM_TDEV_ID.
 */
#define GMM_TDEV_PORT  0x0510
#define GMM_TDEV_ID    0x474d4d54u /* "GMMT" */

enum gmm_tdev_cmd {
	GMM_TDEV_PRINT     = 1, /* mailbox: NUL-terminated text for the console */
	GMM_TDEV_RESULT    = 2, /* mailbox: NUL-terminated "key=value" */
	GMM_TDEV_EXIT      = 3, /* mailbox: uint32_t exit code; the guest stops */
	GMM_TDEV_VCPU_DONE = 4, /* this vCPU parks; the others go on */
};

/* Ring-0 exception stubs (KVM only) report `out %al, (%dx)` with the vector
 * in al on this port, then halt; the exception frame is on the vCPU's
 * exception stack (TSS rsp0). */
#define GMM_EXC_PORT   0x0511

/* The 8250 UART (console) at the PC's COM1. */
#define GMM_UART_PORT  0x03f8

/* Exit codes the guest uses. */
#define GMM_EXIT_OK            0
#define GMM_EXIT_VERIFY_FAILED 2
#define GMM_EXIT_BAD_CMDLINE   3

#endif
