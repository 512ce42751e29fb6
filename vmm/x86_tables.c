/* See x86_tables.h. Bit layouts from the SDM vol. 3, chapters 3-6. */
#include "vmm/x86_tables.h"

#include <errno.h>
#include <string.h>

#include "vmm/vm.h"

/* Inside GMM_GPA_PERCPU: GDTs, TSSs, one I/O bitmap, exception stacks.
 * The nested KVM on these machines ignores RFLAGS.IOPL for ring-3 port I/O
 * (measured: `out` at CPL 3 with IOPL 3 raises #GP) but honours the TSS I/O
 * permission bitmap, so every TSS points at one shared all-zero bitmap
 * (every port allowed: each access then exits to gmm). */
#define GDT_AREA       0x0000  /* 64 bytes per vCPU */
#define GDT_STRIDE     64
#define TSS_AREA       0x1000  /* 128 bytes per vCPU */
#define TSS_STRIDE     128
#define IOBITMAP_AREA  0x3000  /* 8 KiB of bits + the 0xff terminator byte */
#define IOBITMAP_BYTES 8192
#define EXCSTACK_AREA  0x6000  /* 4 KiB per vCPU */
#define EXCSTACK_BYTES 4096
#define PERCPU_END     (EXCSTACK_AREA + GMM_MAX_VCPUS * EXCSTACK_BYTES)
_Static_assert(GMM_GPA_PERCPU + PERCPU_END <= GMM_GPA_MAILBOX, "per-vCPU area overlaps the mailboxes");
#define IDT_OFFSET     0x400  /* inside the stub page */
#define STUB_BYTES     16
#define NR_VECTORS     32
#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_PS (1ULL << 7)

/* The TSS limit covers the bitmap and its terminator, wherever it sits. */
static uint16_t iomap_offset(int id)
{
	return (uint16_t)(IOBITMAP_AREA - (TSS_AREA + id * TSS_STRIDE));
}

uint32_t x86_tss_limit(int id)
{
	return iomap_offset(id) + IOBITMAP_BYTES;
}

int x86_vector_has_error_code(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

void x86_cpu_layout(const struct vm *vm, int id, struct x86_cpu_layout *l)
{
	uint64_t base = (uint64_t)vm->mem.window + GMM_GPA_PERCPU;

	l->cr3 = GMM_GPA_PGTABLE;
	l->gdt_gva = base + GDT_AREA + (uint64_t)id * GDT_STRIDE;
	l->tss_gva = base + TSS_AREA + (uint64_t)id * TSS_STRIDE;
	l->tss_limit = x86_tss_limit(id);
	l->idt_gva = (uint64_t)vm->mem.window + GMM_GPA_EXC_STUBS + IDT_OFFSET;
	l->exc_stack_top_gva = base + EXCSTACK_AREA + (uint64_t)(id + 1) * EXCSTACK_BYTES;
}

/* gva = base + gpa over [0, span): PML4 -> one PDPT -> a PD per GiB. The
 * base is 1 TiB aligned, so everything hangs off one PML4 entry. */
static int build_page_tables(struct vm *vm)
{
	uint64_t base = (uint64_t)vm->mem.window;
	uint64_t nr_pd = (vm->mem.span_bytes + (1ULL << 30) - 1) >> 30;
	uint64_t *pml4, *pdpt;
	uint64_t i;

	if (GMM_GPA_PGTABLE + (2 + nr_pd) * 4096 > GMM_GPA_IMAGE)
		return -E2BIG;
	pml4 = guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_PGTABLE, (2 + nr_pd) * 4096);
	if (!pml4)
		return -EFAULT;
	memset(pml4, 0, (2 + nr_pd) * 4096);
	pdpt = pml4 + 512;
	pml4[(base >> 39) & 511] = (GMM_GPA_PGTABLE + 4096) | PTE_P | PTE_RW | PTE_US;
	for (i = 0; i < nr_pd; i++) {
		uint64_t pd_gpa = GMM_GPA_PGTABLE + (2 + i) * 4096;
		uint64_t *pd = pml4 + 512 * (2 + i);

		pdpt[((base >> 30) + i) & 511] = pd_gpa | PTE_P | PTE_RW | PTE_US;
		for (int j = 0; j < 512; j++)
			pd[j] = ((i << 30) + ((uint64_t)j << 21)) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	}
	return 0;
}

static uint64_t seg_desc(uint32_t access, uint32_t flags)
{
	/* base 0, limit 0xfffff; access byte at bits 40-47, flags at 52-55 */
	return 0xffffULL | (0xfULL << 48) | ((uint64_t)access << 40) | ((uint64_t)flags << 52);
}

static void build_gdt_tss(struct vm *vm, int id)
{
	struct x86_cpu_layout l;
	uint8_t *area = guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_PERCPU, PERCPU_END);
	uint64_t *gdt = (uint64_t *)(area + GDT_AREA + id * GDT_STRIDE);
	uint8_t *tss = area + TSS_AREA + id * TSS_STRIDE;
	uint64_t tss_base, rsp0;
	uint16_t iomap = iomap_offset(id);

	x86_cpu_layout(vm, id, &l);
	memset(gdt, 0, GDT_STRIDE);
	memset(tss, 0, TSS_STRIDE);
	gdt[1] = seg_desc(0x9a, 0xa);  /* kernel code: P, DPL0, exec/read; G, L */
	gdt[2] = seg_desc(0x92, 0xc);  /* kernel data */
	gdt[3] = seg_desc(0xf2, 0xc);  /* user data, DPL3 */
	gdt[4] = seg_desc(0xfa, 0xa);  /* user code, DPL3, L */
	tss_base = l.tss_gva;
	/* 64-bit available TSS (type 9), 16-byte descriptor; byte granular limit */
	gdt[5] = (l.tss_limit & 0xffff) | ((tss_base & 0xffffff) << 16) | (0x89ULL << 40) |
		 ((uint64_t)((l.tss_limit >> 16) & 0xf) << 48) | (((tss_base >> 24) & 0xff) << 56);
	gdt[6] = tss_base >> 32;
	rsp0 = l.exc_stack_top_gva;
	memcpy(tss + 4, &rsp0, 8);
	memcpy(tss + 0x66, &iomap, 2);
}

static void build_io_bitmap(struct vm *vm)
{
	uint8_t *bm = guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_PERCPU + IOBITMAP_AREA, IOBITMAP_BYTES + 1);

	memset(bm, 0, IOBITMAP_BYTES); /* 0 = allowed */
	bm[IOBITMAP_BYTES] = 0xff;     /* the SDM's required terminator */
}

/* Each stub: [push $0] push $vector; push %rax; push %rdx;
 * mov $GMM_EXC_PORT,%dx; mov $vector,%al; out %al,(%dx); hlt; jmp .-1 */
static void build_idt(struct vm *vm)
{
	uint64_t base = (uint64_t)vm->mem.window;
	uint8_t *page = guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_EXC_STUBS, 4096);
	uint64_t *idt = (uint64_t *)(page + IDT_OFFSET);

	memset(page, 0, 4096);
	for (int v = 0; v < NR_VECTORS; v++) {
		uint8_t *s = page + v * STUB_BYTES;
		uint64_t off = base + GMM_GPA_EXC_STUBS + v * STUB_BYTES;
		int n = 0;

		if (!x86_vector_has_error_code(v)) {
			s[n++] = 0x6a; s[n++] = 0x00;
		}
		s[n++] = 0x6a; s[n++] = (uint8_t)v;
		s[n++] = 0x50;
		s[n++] = 0x52;
		s[n++] = 0x66; s[n++] = 0xba; s[n++] = GMM_EXC_PORT & 0xff; s[n++] = GMM_EXC_PORT >> 8;
		s[n++] = 0xb0; s[n++] = (uint8_t)v;
		s[n++] = 0xee;
		s[n++] = 0xf4;
		s[n++] = 0xeb; s[n++] = 0xfd;
		/* 64-bit interrupt gate, DPL 0, selector kernel code */
		idt[2 * v] = (off & 0xffff) | ((uint64_t)X86_SEL_KCODE << 16) | (0x8eULL << 40) |
			     (((off >> 16) & 0xffff) << 48);
		idt[2 * v + 1] = off >> 32;
	}
}

int x86_tables_build(struct vm *vm)
{
	int ret = build_page_tables(vm);

	if (ret)
		return ret;
	build_idt(vm);
	build_io_bitmap(vm);
	for (int i = 0; i < vm->nr_vcpus; i++)
		build_gdt_tss(vm, i);
	return 0;
}
