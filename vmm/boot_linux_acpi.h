/*
 * ACPI tables for a Linux guest with NUMA cells (numa.cells, docs/numa.md,
 * docs/linux-guests.md): what a firmware would leave for the kernel to
 * find its NUMA topology, and nothing else.
 *
 *   RSDP (revision 2) -> XSDT -> SRAT: a Processor Local APIC Affinity
 *                                      structure per vCPU (APIC id = vCPU
 *                                      id, proximity domain = its cell) and
 *                                      a Memory Affinity structure per RAM
 *                                      range of each cell (two for a cell
 *                                      straddling the device hole)
 *                             -> SLIT: distances between cells, the pool's
 *                                      distances of their nodes
 *
 * No MADT, FADT or DSDT: with one vCPU (a Linux guest has one for now) the
 * kernel finds its boot CPU without a MADT and keeps the interrupt set-up
 * it has without ACPI tables (the PIC; no MP table either); SRAT and SLIT
 * are read early (acpi_numa_init()) whatever comes after.
 */
#ifndef GMM_VMM_BOOT_LINUX_ACPI_H
#define GMM_VMM_BOOT_LINUX_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "guest/abi.h"

/* Where the tables go: the BIOS area the e820 map reserves, 16-byte
 * aligned, so the kernel's legacy RSDP scan of [0xe0000, 0x100000) finds
 * the RSDP too (boot_params.acpi_rsdp_addr points at it). */
#define LINUX_GPA_ACPI        0xe0000ULL
#define LINUX_ACPI_MAX_BYTES  0x10000ULL

#define ACPI_MAX_CELLS 8

struct acpi_numa_cell {
	int nr_ranges;             /* 1, or 2 for a cell straddling the hole */
	uint64_t gpa[2], bytes[2];
};

/* What the tables say: the guest's vCPUs and cells. */
struct acpi_numa {
	int nr_cpus;                          /* APIC ids 0..nr_cpus-1 */
	uint8_t cpu_cell[GMM_MAX_VCPUS];      /* the proximity domain of each */
	int nr_cells;                         /* 1..ACPI_MAX_CELLS */
	struct acpi_numa_cell cells[ACPI_MAX_CELLS];
	uint8_t distance[ACPI_MAX_CELLS][ACPI_MAX_CELLS]; /* SLIT: 10 on the diagonal, 11..254 else */
};

/* ACPI signatures and table layouts the unit test reads back. */
#define ACPI_SRAT_HEADER_BYTES 48          /* the table header, 4 + 8 reserved */
#define ACPI_SRAT_CPU_BYTES    16          /* Processor Local APIC/SAPIC Affinity, type 0 */
#define ACPI_SRAT_MEM_BYTES    40          /* Memory Affinity, type 1 */
#define ACPI_SLIT_HEADER_BYTES 44          /* the table header + number of localities */

/* Build the tables into buf, which the guest sees at gpa; the RSDP is at
 * buf's start. Returns the bytes used, or -E2BIG / -EINVAL. Pure: no VM. */
long acpi_numa_build(const struct acpi_numa *in, void *buf, size_t size, uint64_t gpa);

/* The Linux loader's part: the tables for vm's cells at LINUX_GPA_ACPI;
 * *rsdp_gpa is their RSDP, 0 when the guest has no cells. */
struct vm;
int linux_acpi_write(struct vm *vm, uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
