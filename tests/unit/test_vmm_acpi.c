/* ACPI SRAT/SLIT for Linux guests with NUMA cells (vmm/boot_linux_acpi.c):
 * built into a buffer and read back as the kernel would. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/boot_linux_acpi.h"

#define GPA 0xe0000ULL

static uint8_t buf[8192];

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The table at gpa, checked: signature, length within the build, checksum. */
static const uint8_t *table(uint64_t gpa, const char *sig, long built)
{
	const uint8_t *t;

	cr_assert(gpa >= GPA && gpa < GPA + (uint64_t)built, "%s at %#lx", sig, gpa);
	t = buf + (gpa - GPA);
	cr_assert(!memcmp(t, sig, 4), "%.4s, want %s", t, sig);
	cr_assert(gpa + rd32(t + 4) <= GPA + (uint64_t)built, "%s length %u", sig, rd32(t + 4));
	cr_assert_eq(sum(t, rd32(t + 4)), 0, "%s checksum", sig);
	return t;
}

/* Two cells on nodes 1 and 0 of a pool with distance 21; the second
 * straddles the hole. */
static struct acpi_numa two_cells(void)
{
	struct acpi_numa in = {
		.nr_cpus = 3,
		.cpu_cell = { 0, 1, 1 },
		.nr_cells = 2,
		.cells = { { 1, { 0 }, { 2ULL << 30 } },
			   { 2, { 2ULL << 30, 4ULL << 30 }, { 1ULL << 30, 1ULL << 30 } } },
		.distance = { { 10, 21 }, { 21, 10 } },
	};
	return in;
}

/* RSDP -> XSDT -> [SRAT, SLIT]: the XSDT's entries, in that order. */
static void walk(long n, const uint8_t **srat, const uint8_t **slit)
{
	const uint8_t *xsdt;

	cr_assert(!memcmp(buf, "RSD PTR ", 8));
	cr_assert_eq(buf[15], 2, "RSDP revision");
	cr_assert_eq(sum(buf, 20), 0, "RSDP checksum");
	cr_assert_eq(rd32(buf + 20), 36, "RSDP length");
	cr_assert_eq(sum(buf, 36), 0, "RSDP extended checksum");
	xsdt = table(rd64(buf + 24), "XSDT", n);
	cr_assert_eq(rd32(xsdt + 4), 36 + 16, "XSDT: two entries");
	*srat = table(rd64(xsdt + 36), "SRAT", n);
	*slit = table(rd64(xsdt + 44), "SLIT", n);
}

Test(acpi, tables_chain_from_the_rsdp_with_right_checksums)
{
	struct acpi_numa in = two_cells();
	const uint8_t *srat, *slit;
	long n = acpi_numa_build(&in, buf, sizeof(buf), GPA);

	cr_assert_gt(n, 0, "%ld", n);
	walk(n, &srat, &slit);
	cr_assert_eq(GPA % 16, 0); /* the legacy scan looks at 16-byte boundaries */
}

Test(acpi, srat_gives_each_vcpu_and_each_ram_range_its_cell)
{
	struct acpi_numa in = two_cells();
	const uint8_t *srat, *slit, *e;
	long n = acpi_numa_build(&in, buf, sizeof(buf), GPA);

	walk(n, &srat, &slit);
	cr_assert_eq(srat[8], 3, "SRAT revision");
	cr_assert_eq(rd32(srat + 36), 1, "SRAT reserved1 is 1");
	cr_assert_eq(rd32(srat + 4), ACPI_SRAT_HEADER_BYTES + 3 * ACPI_SRAT_CPU_BYTES + 3 * ACPI_SRAT_MEM_BYTES);
	e = srat + ACPI_SRAT_HEADER_BYTES;
	for (int v = 0; v < 3; v++, e += ACPI_SRAT_CPU_BYTES) {
		cr_assert(e[0] == 0 && e[1] == ACPI_SRAT_CPU_BYTES, "cpu %d: type/length", v);
		cr_assert_eq(e[3], v, "APIC id = vCPU id");
		cr_assert_eq(e[2], in.cpu_cell[v], "vCPU %d proximity domain", v);
		cr_assert(!e[9] && !e[10] && !e[11], "proximity domain high bytes");
		cr_assert_eq(rd32(e + 4) & 1, 1, "enabled");
	}
	static const struct {
		uint32_t pxm;
		uint64_t base, len;
	} want[] = { { 0, 0, 2ULL << 30 }, { 1, 2ULL << 30, 1ULL << 30 }, { 1, 4ULL << 30, 1ULL << 30 } };
	for (int i = 0; i < 3; i++, e += ACPI_SRAT_MEM_BYTES) {
		cr_assert(e[0] == 1 && e[1] == ACPI_SRAT_MEM_BYTES, "mem %d: type/length", i);
		cr_assert_eq(rd32(e + 2), want[i].pxm, "mem %d proximity domain", i);
		cr_assert_eq(rd64(e + 8), want[i].base, "mem %d base", i);
		cr_assert_eq(rd64(e + 16), want[i].len, "mem %d length", i);
		cr_assert_eq(rd32(e + 28), 1, "mem %d: enabled, not hot-pluggable, not non-volatile", i);
	}
	cr_assert_eq(e, srat + rd32(srat + 4));
}

Test(acpi, slit_holds_the_distances_between_cells)
{
	struct acpi_numa in = two_cells();
	const uint8_t *srat, *slit;
	long n = acpi_numa_build(&in, buf, sizeof(buf), GPA);

	walk(n, &srat, &slit);
	cr_assert_eq(slit[8], 1, "SLIT revision");
	cr_assert_eq(rd32(slit + 4), ACPI_SLIT_HEADER_BYTES + 4);
	cr_assert_eq(rd64(slit + 36), 2, "localities");
	cr_assert(slit[44] == 10 && slit[45] == 21 && slit[46] == 21 && slit[47] == 10);
}

Test(acpi, too_small_a_buffer_or_bad_input_is_refused)
{
	struct acpi_numa in = two_cells();

	cr_assert_eq(acpi_numa_build(&in, buf, 200, GPA), -E2BIG);
	in.cpu_cell[2] = 2;
	cr_assert_eq(acpi_numa_build(&in, buf, sizeof(buf), GPA), -EINVAL);
	in = two_cells();
	in.nr_cells = 0;
	cr_assert_eq(acpi_numa_build(&in, buf, sizeof(buf), GPA), -EINVAL);
	in = two_cells();
	in.cells[0].nr_ranges = 3;
	cr_assert_eq(acpi_numa_build(&in, buf, sizeof(buf), GPA), -EINVAL);
}

Test(acpi, eight_cells_and_sixty_four_vcpus_fit_the_reserved_area)
{
	struct acpi_numa in = { .nr_cpus = GMM_MAX_VCPUS, .nr_cells = ACPI_MAX_CELLS };
	const uint8_t *srat, *slit;
	long n;

	for (int j = 0; j < ACPI_MAX_CELLS; j++) {
		in.cells[j] = (struct acpi_numa_cell){ 2, { (uint64_t)j << 30, (8ULL + j) << 30 }, { 1ULL << 20, 1ULL << 20 } };
		for (int k = 0; k < ACPI_MAX_CELLS; k++)
			in.distance[j][k] = (uint8_t)(j == k ? 10 : 20 + j + k);
	}
	for (int v = 0; v < GMM_MAX_VCPUS; v++)
		in.cpu_cell[v] = (uint8_t)(v % ACPI_MAX_CELLS);
	n = acpi_numa_build(&in, buf, sizeof(buf), GPA);
	cr_assert(n > 0 && (uint64_t)n <= LINUX_ACPI_MAX_BYTES, "%ld", n);
	walk(n, &srat, &slit);
	cr_assert_eq(rd64(slit + 36), 8);
	cr_assert_eq(slit[44 + 7 * 8 + 6], 33);
}
