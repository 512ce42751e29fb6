/*
 * QEMU boot, 64-bit ring 0 (pvh.S has relocated the image and runs at
 * PVH_BASE + gpa): build what gmm's loader would have built, then drop to
 * the ring-3 `_start` exactly as gmm enters it.
 *   - map guest-physical space above the first GiB (gva = base + gpa);
 *   - boot_info: RAM ranges from the PVH memmap minus the image, the
 *     command line (copied: QEMU's copy sits in RAM we hand out), the TSC
 *     frequency, accel = GMM_ACCEL_QEMU;
 *   - a TSS (rsp0, and an I/O bitmap allowing every port: the nested KVM
 *     here ignores IOPL for ring-3 port I/O) and an IDT whose stubs report
 *     exceptions on the UART and exit through isa-debug-exit.
 * Ring 0 is emulated at about 1 us per instruction under nested KVM, so
 * this stays short: about 2k PD entries for a 1 GiB guest, no printing.
 */
#include "guest/plat_backend.h"
#include "guest/pvh.h"
#include "guest/fmt.h"

#define GIB            (1ULL << 30)
#define SZ_2M          (2ULL << 20)
#define PIT_HZ         1193182ULL
#define PIT_LATCH      59659          /* 50 ms */
#define DEBUG_EXIT     0xf4
#define EXIT_BOOT_FAIL 1              /* QEMU status 3 */
#define EXIT_EXCEPTION 64             /* + vector: QEMU status (64+v)*2+1 */

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	uint8_t iomap[8192 + 1];          /* every port allowed, then the 0xff terminator */
} __attribute__((packed));

extern uint64_t pvh_gdt[7];
extern struct {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed)) pvh_gdtr;
extern char _start[];

static struct gmm_boot_info boot_info;
static char cmdline[GMM_CMDLINE_MAX];
static struct tss64 tss __attribute__((aligned(64)));
static uint64_t idt[32 * 2] __attribute__((aligned(16)));

static inline void *gva(uint64_t gpa)
{
	return (void *)(PVH_BASE + gpa);
}

static inline uint64_t gpa_of(const void *p)
{
	return (uint64_t)p - PVH_BASE;
}

__attribute__((noreturn)) static void boot_fail(const char *why)
{
	qemu_uart_puts("gmm-guest: PVH boot failed: ");
	qemu_uart_puts(why);
	qemu_uart_puts("\n");
	outl(DEBUG_EXIT, EXIT_BOOT_FAIL);
	for (;;)
		__asm__ volatile("hlt");
}

/* PDs for [1 GiB, top): PDPT-high entries 1.. (the first GiB is pvh.S's). */
static void map_gpa_space(uint64_t top)
{
	uint64_t *pdpt = pvh_pgt[2];

	for (uint64_t g = 1; g < top / GIB; g++) {
		uint64_t *pd = pvh_pgt[3 + g];

		for (uint64_t j = 0; j < 512; j++)
			pd[j] = (g * GIB + j * SZ_2M) | PTE_P | PTE_RW | PTE_US | PTE_PS;
		pdpt[(PVH_PDPT_HI + g) & 511] = gpa_of(pd) | PTE_P | PTE_RW | PTE_US;
	}
	/* no TLB flush needed: these entries were never present */
}

static void add_range(uint64_t start, uint64_t end)
{
	start = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	end &= ~(PAGE_SIZE - 1);
	if (end <= start || boot_info.nr_ranges == GMM_MAX_RANGES)
		return;
	boot_info.ranges[boot_info.nr_ranges++] = (struct gmm_ram_range){ start, end - start };
}

/* RAM from the memmap, above the image, below `top`, outside the hole. */
static void ram_ranges(const struct hvm_memmap_entry *mm, uint32_t n, uint64_t free_start, uint64_t top)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = mm[i].addr, e = mm[i].addr + mm[i].size;

		if (mm[i].type != HVM_MEMMAP_RAM)
			continue;
		boot_info.ram_bytes += mm[i].size;
		s = s > free_start ? s : free_start;
		e = e < top ? e : top;
		if (s < GMM_GPA_HOLE_START)
			add_range(s, e < GMM_GPA_HOLE_START ? e : GMM_GPA_HOLE_START);
		add_range(s > GMM_GPA_HOLE_END ? s : GMM_GPA_HOLE_END, e);
	}
}

static uint64_t memmap_top(const struct hvm_memmap_entry *mm, uint32_t n)
{
	uint64_t top = GMM_GPA_HOLE_END;  /* the hole is mapped too (garbage) */

	for (uint32_t i = 0; i < n; i++)
		if (mm[i].type == HVM_MEMMAP_RAM && mm[i].addr + mm[i].size > top)
			top = mm[i].addr + mm[i].size;
	top = (top + GIB - 1) & ~(GIB - 1);
	return top < PVH_MAX_GIB * GIB ? top : PVH_MAX_GIB * GIB;
}

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* CPUID 0x15 (crystal ratio) or the hypervisor timing leaf 0x40000010
 * when QEMU exposes them (-cpu host,+invtsc...), else the PIT: 50 ms of
 * channel 2 in one-shot mode, timed with the TSC. */
static uint64_t tsc_calibrate(void)
{
	uint32_t a, b, c, d;
	uint64_t t0;

	cpuid(0, &a, &b, &c, &d);
	if (a >= 0x15) {
		cpuid(0x15, &a, &b, &c, &d);
		if (a && b && c)
			return (uint64_t)c * b / a;
	}
	cpuid(1, &a, &b, &c, &d);
	if (c & (1u << 31)) {
		cpuid(0x40000000, &a, &b, &c, &d);
		if (a >= 0x40000010) {
			cpuid(0x40000010, &a, &b, &c, &d);
			if (a)
				return (uint64_t)a * 1000;
		}
	}
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate on, speaker off */
	outb(0x43, 0xb0);                                  /* ch 2, lo/hi, mode 0 */
	outb(0x42, PIT_LATCH & 0xff);
	outb(0x42, PIT_LATCH >> 8);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		;
	return (rdtsc() - t0) * PIT_HZ / PIT_LATCH / 1000 * 1000;
}

static void setup_tss_gdt(void)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;

	tss.rsp[0] = (uint64_t)pvh_kstack_top;
	tss.iomap_base = __builtin_offsetof(struct tss64, iomap);
	tss.iomap[8192] = 0xff;
	/* 64-bit available TSS (type 9), 16-byte descriptor */
	pvh_gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		     (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	pvh_gdt[6] = base >> 32;
	pvh_gdtr.base = (uint64_t)pvh_gdt;  /* the high address, not the identity one */
	__asm__ volatile("lgdt %0" : : "m"(pvh_gdtr));
	__asm__ volatile("ltr %w0" : : "r"(PVH_SEL_TSS));
}

static void setup_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };

	for (int v = 0; v < 32; v++) {
		uint64_t off = (uint64_t)pvh_exc_stubs + (uint64_t)v * 16;

		/* interrupt gate, DPL 0, kernel code selector */
		idt[2 * v] = (off & 0xffff) | ((uint64_t)PVH_SEL_KCODE << 16) | (0x8eULL << 40) |
			     (((off >> 16) & 0xffff) << 48);
		idt[2 * v + 1] = off >> 32;
	}
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void pvh_boot_main(uint32_t start_info_gpa)
{
	const struct hvm_start_info *si = gva(start_info_gpa);
	const struct hvm_memmap_entry *mm;
	uint64_t top, args[6];

	if (start_info_gpa >= GIB || si->magic != HVM_START_MAGIC)
		boot_fail("no hvm_start_info (not booted by a PVH loader?)");
	if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries || si->memmap_paddr >= GIB)
		boot_fail("no memory map in hvm_start_info (needs PVH version 1)");
	mm = gva(si->memmap_paddr);
	top = memmap_top(mm, si->memmap_entries);
	map_gpa_space(top);
	if (si->cmdline_paddr && si->cmdline_paddr < top) {
		const char *src = gva(si->cmdline_paddr);

		for (size_t i = 0; i < GMM_CMDLINE_MAX - 1 && src[i]; i++)
			cmdline[i] = src[i];
	}
	boot_info.magic = GMM_BOOT_MAGIC;
	boot_info.version = GMM_BOOT_VERSION;
	boot_info.nr_vcpus = 1;
	boot_info.base = PVH_BASE;
	boot_info.cmdline_gpa = gpa_of(cmdline);
	boot_info.accel = GMM_ACCEL_QEMU;
	ram_ranges(mm, si->memmap_entries, (gpa_of(__image_end) + SZ_2M - 1) & ~(SZ_2M - 1), top);
	if (!boot_info.nr_ranges)
		boot_fail("no RAM above the image");
	boot_info.tsc_hz = tsc_calibrate();
	setup_tss_gdt();
	setup_idt();
	args[0] = 0;
	args[1] = (uint64_t)cmdline;
	args[2] = boot_info.ram_bytes;
	args[3] = PVH_BASE;
	args[4] = boot_info.tsc_hz;
	args[5] = (uint64_t)&boot_info;
	pvh_enter_ring3((uint64_t)_start, (uint64_t)pvh_ustack_top, args);
}

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP",
	"#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

/* Any exception, ring 3 or 0: one report line, then exit QEMU. */
void pvh_exception(const struct pvh_exc_frame *f)
{
	char buf[256];
	struct sbuf sb;
	uint64_t cr2;
	const char *name = f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] : "#??";

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "gmm-guest: exception ");
	sb_puts(&sb, name);
	sb_puts(&sb, " (vector ");
	sb_putu(&sb, f->vector);
	sb_puts(&sb, ") error ");
	sb_putx(&sb, f->error);
	sb_puts(&sb, " at rip ");
	sb_putx(&sb, f->rip);
	sb_puts(&sb, " rsp ");
	sb_putx(&sb, f->rsp);
	sb_puts(&sb, " cr2 ");
	sb_putx(&sb, cr2);
	sb_puts(&sb, (f->cs & 3) == 3 ? " (ring 3)\n" : " (ring 0)\n");
	qemu_uart_puts(buf);
	outl(DEBUG_EXIT, (uint32_t)(EXIT_EXCEPTION + (f->vector & 31)));
}
