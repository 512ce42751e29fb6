/*
 * ACPI SRAT and SLIT for a Linux guest with NUMA cells (see the header).
 * Layouts from the ACPI specification (6.5: 5.2.5 RSDP, 5.2.8 XSDT,
 * 5.2.16 SRAT, 5.2.17 SLIT), as the kernel's include/acpi/actbl*.h spell
 * them. Every table's bytes add up to 0 (its checksum); the RSDP has two,
 * over its first 20 bytes and over all 36.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guestmm/pool.h"
#include "vmm/boot_linux_acpi.h"
#include "vmm/host_pool.h"
#include "vmm/vm.h"

struct acpi_rsdp {
	char signature[8];          /* "RSD PTR " */
	uint8_t checksum;           /* first 20 bytes */
	char oem_id[6];
	uint8_t revision;           /* 2: ACPI 2.0+, XSDT */
	uint32_t rsdt_address;      /* none: 0 */
	uint32_t length;            /* 36 */
	uint64_t xsdt_address;
	uint8_t extended_checksum;  /* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;            /* the whole table */
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct srat_cpu {                   /* Processor Local APIC/SAPIC Affinity */
	uint8_t type;               /* 0 */
	uint8_t length;             /* 16 */
	uint8_t proximity_lo;
	uint8_t apic_id;
	uint32_t flags;             /* bit 0: enabled */
	uint8_t sapic_eid;
	uint8_t proximity_hi[3];
	uint32_t clock_domain;
} __attribute__((packed));

struct srat_mem {                   /* Memory Affinity */
	uint8_t type;               /* 1 */
	uint8_t length;             /* 40 */
	uint32_t proximity;
	uint16_t reserved1;
	uint64_t base;
	uint64_t bytes;
	uint32_t reserved2;
	uint32_t flags;             /* bit 0: enabled; 1 hot-pluggable, 2 non-volatile: no */
	uint64_t reserved3;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_header) == 36, "header");
_Static_assert(sizeof(struct srat_cpu) == ACPI_SRAT_CPU_BYTES, "SRAT cpu");
_Static_assert(sizeof(struct srat_mem) == ACPI_SRAT_MEM_BYTES, "SRAT mem");

#define SRAT_ENABLED 1u
#define ALIGN16(x) (((x) + 15) & ~(size_t)15)

static uint8_t acpi_checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *b++);
	return (uint8_t)-sum;
}

static void header_init(struct acpi_header *h, const char *sig, uint32_t length, uint8_t revision)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, "GMM   ", 6);
	memcpy(h->oem_table_id, "GMMNUMA ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "GMM ", 4);
	h->creator_revision = 1;
}

/* The table at buf + off is complete: set its checksum. */
static void table_seal(uint8_t *buf, size_t off)
{
	struct acpi_header h;

	memcpy(&h, buf + off, sizeof(h));
	buf[off + offsetof(struct acpi_header, checksum)] = 0;
	buf[off + offsetof(struct acpi_header, checksum)] = acpi_checksum(buf + off, h.length);
}

static size_t srat_bytes(const struct acpi_numa *in)
{
	size_t n = ACPI_SRAT_HEADER_BYTES + (size_t)in->nr_cpus * ACPI_SRAT_CPU_BYTES;

	for (int j = 0; j < in->nr_cells; j++)
		n += (size_t)in->cells[j].nr_ranges * ACPI_SRAT_MEM_BYTES;
	return n;
}

static void srat_write(const struct acpi_numa *in, uint8_t *t)
{
	struct acpi_header h;
	size_t off = ACPI_SRAT_HEADER_BYTES;
	uint32_t reserved1 = 1;     /* "must be 1" for compatibility */

	header_init(&h, "SRAT", (uint32_t)srat_bytes(in), 3);
	memcpy(t, &h, sizeof(h));
	memcpy(t + sizeof(h), &reserved1, 4);
	memset(t + sizeof(h) + 4, 0, 8);
	for (int v = 0; v < in->nr_cpus; v++, off += ACPI_SRAT_CPU_BYTES) {
		struct srat_cpu c = { .type = 0, .length = ACPI_SRAT_CPU_BYTES, .proximity_lo = in->cpu_cell[v],
				      .apic_id = (uint8_t)v, .flags = SRAT_ENABLED };

		memcpy(t + off, &c, sizeof(c));
	}
	for (int j = 0; j < in->nr_cells; j++)
		for (int r = 0; r < in->cells[j].nr_ranges; r++, off += ACPI_SRAT_MEM_BYTES) {
			struct srat_mem m = { .type = 1, .length = ACPI_SRAT_MEM_BYTES, .proximity = (uint32_t)j,
					      .base = in->cells[j].gpa[r], .bytes = in->cells[j].bytes[r],
					      .flags = SRAT_ENABLED };

			memcpy(t + off, &m, sizeof(m));
		}
}

static void slit_write(const struct acpi_numa *in, uint8_t *t)
{
	struct acpi_header h;
	uint64_t n = (uint64_t)in->nr_cells;

	header_init(&h, "SLIT", (uint32_t)(ACPI_SLIT_HEADER_BYTES + n * n), 1);
	memcpy(t, &h, sizeof(h));
	memcpy(t + sizeof(h), &n, 8);
	for (int a = 0; a < in->nr_cells; a++)
		for (int b = 0; b < in->nr_cells; b++)
			t[ACPI_SLIT_HEADER_BYTES + a * in->nr_cells + b] = in->distance[a][b];
}

static void rsdp_write(uint8_t *buf, uint64_t xsdt_gpa)
{
	struct acpi_rsdp r;

	memset(&r, 0, sizeof(r));
	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, "GMM   ", 6);
	r.revision = 2;
	r.length = sizeof(r);
	r.xsdt_address = xsdt_gpa;
	r.checksum = acpi_checksum(&r, 20);
	r.extended_checksum = acpi_checksum(&r, sizeof(r));
	memcpy(buf, &r, sizeof(r));
}

static int acpi_numa_check(const struct acpi_numa *in)
{
	if (in->nr_cells < 1 || in->nr_cells > ACPI_MAX_CELLS || in->nr_cpus < 0 || in->nr_cpus > GMM_MAX_VCPUS)
		return -EINVAL;
	for (int v = 0; v < in->nr_cpus; v++)
		if (in->cpu_cell[v] >= in->nr_cells)
			return -EINVAL;
	for (int j = 0; j < in->nr_cells; j++)
		if (in->cells[j].nr_ranges < 1 || in->cells[j].nr_ranges > 2)
			return -EINVAL;
	return 0;
}

long acpi_numa_build(const struct acpi_numa *in, void *buf, size_t size, uint64_t gpa)
{
	size_t xsdt = ALIGN16(sizeof(struct acpi_rsdp)), srat, slit, end;
	uint8_t *b = buf;
	struct acpi_header h;
	uint64_t ptr;

	if (acpi_numa_check(in))
		return -EINVAL;
	srat = ALIGN16(xsdt + sizeof(h) + 2 * 8);
	slit = ALIGN16(srat + srat_bytes(in));
	end = slit + ACPI_SLIT_HEADER_BYTES + (size_t)in->nr_cells * (size_t)in->nr_cells;
	if (end > size)
		return -E2BIG;
	memset(b, 0, end);
	header_init(&h, "XSDT", (uint32_t)(sizeof(h) + 2 * 8), 1);
	memcpy(b + xsdt, &h, sizeof(h));
	ptr = gpa + srat;
	memcpy(b + xsdt + sizeof(h), &ptr, 8);
	ptr = gpa + slit;
	memcpy(b + xsdt + sizeof(h) + 8, &ptr, 8);
	srat_write(in, b + srat);
	slit_write(in, b + slit);
	table_seal(b, xsdt);
	table_seal(b, srat);
	table_seal(b, slit);
	rsdp_write(b, gpa + xsdt);
	return (long)end;
}

/* The guest's cells as the tables describe them: RAM ranges (a cell past
 * 3 GiB continues at 4 GiB) and the pool's distances between their nodes,
 * at least 11 off the diagonal (two cells on one host node are still two
 * proximity domains, and Linux refuses a SLIT with 10 there). */
static void acpi_numa_from_vm(struct vm *vm, struct acpi_numa *in)
{
	const struct stage2_numa *p = &vm->cfg.numa.parsed;
	struct gmm_pool *mm = vm->mem.s2->hp->mm;

	memset(in, 0, sizeof(*in));
	in->nr_cpus = vm->nr_vcpus;
	in->nr_cells = p->nr_cells;
	memcpy(in->cpu_cell, p->vcpu_cell, sizeof(in->cpu_cell));
	for (int j = 0; j < p->nr_cells; j++) {
		struct acpi_numa_cell *c = &in->cells[j];
		uint64_t start, end, ram;

		stage2_numa_cell_span(p, j, &start, &end, &ram);
		c->nr_ranges = 1;
		c->gpa[0] = start;
		c->bytes[0] = ram;
		if (end - start != ram) {   /* straddles the hole */
			c->nr_ranges = 2;
			c->bytes[0] = GMM_GPA_HOLE_START - start;
			c->gpa[1] = GMM_GPA_HOLE_END;
			c->bytes[1] = end - GMM_GPA_HOLE_END;
		}
		for (int k = 0; k < p->nr_cells; k++) {
			uint8_t d = mm->distance[p->cell_node[j]][p->cell_node[k]];

			in->distance[j][k] = j == k ? 10 : d < 11 ? 11 : d;
		}
	}
}

int linux_acpi_write(struct vm *vm, uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	struct acpi_numa in;
	void *dst;
	long n;

	*rsdp_gpa = 0;
	if (!vm->cfg.numa.parsed.nr_cells)
		return 0;
	dst = guest_mem_gpa_to_hva(&vm->mem, LINUX_GPA_ACPI, LINUX_ACPI_MAX_BYTES);
	if (!vm->mem.s2 || !dst) {
		snprintf(err, errlen, "numa.cells: no room for the ACPI tables at %#llx",
			 (unsigned long long)LINUX_GPA_ACPI);
		return -EINVAL;
	}
	acpi_numa_from_vm(vm, &in);
	n = acpi_numa_build(&in, dst, LINUX_ACPI_MAX_BYTES, LINUX_GPA_ACPI);
	if (n < 0) {
		snprintf(err, errlen, "numa.cells: cannot build the ACPI SRAT/SLIT: %s", strerror((int)-n));
		return (int)n;
	}
	*rsdp_gpa = LINUX_GPA_ACPI;
	return 0;
}
