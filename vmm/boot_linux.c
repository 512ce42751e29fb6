/*
 * Linux boot (KVM only) through the x86 64-bit boot protocol, the way
 * Firecracker boots a kernel: no firmware, no real-mode setup code. gmm
 * writes what boot.rst ("64-bit Boot Protocol") asks of a boot loader:
 *
 *   - the kernel: a vmlinux at its PT_LOAD physical addresses, or a
 *     bzImage's protected-mode part at 1 MiB (boot_linux_image.c);
 *   - the zero page (struct boot_params): the bzImage's own setup header,
 *     or a minimal one for a vmlinux, the command line and initrd pointers,
 *     the e820 map and, with numa.cells, acpi_rsdp_addr: ACPI SRAT and
 *     SLIT tables in the reserved BIOS area (boot_linux_acpi.c);
 *   - a GDT with flat __BOOT_CS (0x10) and __BOOT_DS (0x18) and identity
 *     page tables over the first 4 GiB (kernel, zero page, command line);
 *   - vCPU 0 in long mode at the 64-bit entry (startup_64) with RSI = the
 *     zero page and interrupts off (boot_linux_kvm.c loads it into KVM).
 *
 * The layout is in boot_linux.h. The console is the 8250 UART at 0x3f8
 * (earlyprintk=serial console=ttyS0 on the command line).
 */
#include <asm/bootparam.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot.h"
#include "vmm/boot_linux.h"
#include "vmm/boot_linux_acpi.h"
#include "vmm/vm.h"
#include "vmm/x86_tables.h"

/* e820 types (arch/x86/include/asm/e820/types.h; not in the uapi headers). */
#define E820_TYPE_RAM       1
#define E820_TYPE_RESERVED  2

#define PAGE_MASK_4K  (~0xfffULL)
#define PTE_P   (1ULL << 0)
#define PTE_RW  (1ULL << 1)
#define PTE_PS  (1ULL << 7)

static bool is_bzimage(const uint8_t *img, size_t len)
{
	return len >= 0x206 && !memcmp(img + 0x202, "HdrS", 4);
}

/* Top of low RAM, below both the hole and the kernel's initrd_addr_max,
 * page aligned down: the initrd goes as high as it may, like QEMU and
 * Firecracker put it, leaving the room above the kernel to the kernel. */
static int initrd_place(struct vm *vm, const struct linux_image *li, size_t len, uint64_t *gpa,
			char *err, size_t errlen)
{
	uint64_t top = linux_low_ram_end(vm), floor = (li->kernel_end + 0xfff) & PAGE_MASK_4K;

	if (li->initrd_addr_max < top - 1)
		top = li->initrd_addr_max + 1;
	top &= PAGE_MASK_4K;
	if (len > top || ((top - len) & PAGE_MASK_4K) < floor) {
		snprintf(err, errlen, "initrd %s: %zu bytes do not fit in RAM between the kernel's end (%#llx) "
			 "and %#llx (mem %llu MiB)", vm->cfg.initrd, len, (unsigned long long)floor,
			 (unsigned long long)top, (unsigned long long)(vm->cfg.mem_bytes >> 20));
		return -E2BIG;
	}
	*gpa = (top - len) & PAGE_MASK_4K;
	return 0;
}

static int initrd_load(struct vm *vm, const struct linux_image *li, uint64_t *gpa, uint64_t *bytes,
		       char *err, size_t errlen)
{
	uint8_t *data;
	size_t len;
	int ret;

	*gpa = *bytes = 0;
	if (!vm->cfg.initrd[0])
		return 0;
	ret = boot_read_file(vm->cfg.initrd, &data, &len, linux_low_ram_end(vm));
	if (ret) {
		snprintf(err, errlen, "initrd %s: %s", vm->cfg.initrd,
			 ret == -EFBIG ? "empty or larger than the guest's RAM below 3 GiB" :
			 ret == -EINVAL ? "not a regular file" : strerror(-ret));
		return ret;
	}
	ret = initrd_place(vm, li, len, gpa, err, errlen);
	if (!ret) {
		memcpy(guest_mem_gpa_to_hva(&vm->mem, *gpa, len), data, len);
		*bytes = len;
	}
	free(data);
	return ret;
}

/* The kernel copies at most cmdline_size bytes (COMMAND_LINE_SIZE - 1 for
 * a vmlinux); a longer line is refused rather than silently cut. */
static int cmdline_write(struct vm *vm, const struct linux_image *li, char *err, size_t errlen)
{
	char line[GMM_CMDLINE_MAX + 64];
	size_t n;
	char *dst;

	/* the balloon's virtio-mmio slot, as QEMU's microvm announces its
	 * devices: Linux has no way to discover them otherwise */
	snprintf(line, sizeof(line), "%s", vm->cfg.cmdline);
	if (vm->balloon && !strstr(line, "virtio_mmio.device="))
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%svirtio_mmio.device=4K@%#llx:%d",
			 line[0] ? " " : "", (unsigned long long)GMM_GPA_MMIO_BASE, LINUX_VIRTIO_IRQ);
	n = strlen(line);
	dst = guest_mem_gpa_to_hva(&vm->mem, LINUX_GPA_CMDLINE, n + 1);
	if (n > li->cmdline_max || !dst) {
		snprintf(err, errlen, "cmdline: %zu bytes, but the kernel takes at most %u", n, li->cmdline_max);
		return -E2BIG;
	}
	memcpy(dst, line, n + 1);
	return 0;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e;

	if (!size || bp->e820_entries >= E820_MAX_ENTRIES_ZEROPAGE)
		return;
	e = &bp->e820_table[bp->e820_entries++];
	e->addr = addr;
	e->size = size;
	e->type = type;
}

/* What a PC BIOS reports: low RAM up to the EBDA, the EBDA/VGA/BIOS area
 * reserved, RAM from 1 MiB to the hole, and RAM again from 4 GiB. */
static void e820_build(struct vm *vm, struct boot_params *bp)
{
	e820_add(bp, 0, LINUX_GPA_EBDA, E820_TYPE_RAM);
	e820_add(bp, LINUX_GPA_EBDA, LINUX_GPA_HIGH - LINUX_GPA_EBDA, E820_TYPE_RESERVED);
	e820_add(bp, LINUX_GPA_HIGH, linux_low_ram_end(vm) - LINUX_GPA_HIGH, E820_TYPE_RAM);
	for (int i = 0; i < vm->mem.nr_slots; i++)
		if (vm->mem.slots[i].gpa >= GMM_GPA_HOLE_END)
			e820_add(bp, vm->mem.slots[i].gpa, vm->mem.slots[i].bytes, E820_TYPE_RAM);
}

/* boot.rst: a bzImage's setup header goes into the zero page as read from
 * the file, then the loader fills in its own fields. A vmlinux has none:
 * gmm writes the few fields the kernel reads (as Firecracker does). */
static void zero_page_write(struct vm *vm, const struct linux_image *li, uint64_t initrd_gpa,
			    uint64_t initrd_bytes, uint64_t rsdp_gpa)
{
	struct boot_params *bp = guest_mem_gpa_to_hva(&vm->mem, LINUX_GPA_ZERO_PAGE, sizeof(*bp));
	struct setup_header *h = &bp->hdr;

	memset(bp, 0, sizeof(*bp));
	if (li->setup_hdr) {
		memcpy(h, li->setup_hdr, li->setup_hdr_len);
		h->code32_start = LINUX_GPA_BZ_LOAD;
	} else {
		h->boot_flag = 0xaa55;
		h->header = 0x53726448; /* "HdrS" */
		h->kernel_alignment = 0x1000000;
		h->cmdline_size = li->cmdline_max;
	}
	h->type_of_loader = 0xff;  /* "undefined": gmm has no registered loader id */
	h->loadflags |= LOADED_HIGH;
	h->cmd_line_ptr = LINUX_GPA_CMDLINE;
	h->ramdisk_image = (uint32_t)initrd_gpa;
	h->ramdisk_size = (uint32_t)initrd_bytes;
	/* protocol 2.14's field; the kernel reads it whatever the version
	 * (x86_default_get_root_pointer()), and finds the RSDP by its legacy
	 * scan of 0xe0000.. besides */
	bp->acpi_rsdp_addr = rsdp_gpa;
	e820_build(vm, bp);
}

static uint64_t seg_desc(uint32_t access, uint32_t flags)
{
	/* base 0, limit 0xfffff (4 GiB with G); access byte at 40-47, flags at 52-55 */
	return 0xffffULL | (0xfULL << 48) | ((uint64_t)access << 40) | ((uint64_t)flags << 52);
}

static void gdt_write(struct vm *vm)
{
	uint64_t *gdt = guest_mem_gpa_to_hva(&vm->mem, LINUX_GPA_GDT, LINUX_GDT_ENTRIES * 8);

	memset(gdt, 0, LINUX_GDT_ENTRIES * 8);
	gdt[LINUX_BOOT_CS / 8] = seg_desc(0x9b, 0xa); /* P, DPL 0, code exec/read; G, L */
	gdt[LINUX_BOOT_DS / 8] = seg_desc(0x93, 0xc); /* P, DPL 0, data read/write; G, D/B */
}

/* Identity map of [0, 4 GiB) in 2 MiB pages: PML4[0] -> PDPT[0..3] -> PDs. */
static void page_tables_write(struct vm *vm)
{
	uint64_t bytes = (2 + LINUX_IDENT_MAP_GIB) * 4096;
	uint64_t *pml4 = guest_mem_gpa_to_hva(&vm->mem, LINUX_GPA_PML4, bytes);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;

	memset(pml4, 0, bytes);
	pml4[0] = LINUX_GPA_PDPT | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < LINUX_IDENT_MAP_GIB; i++) {
		pdpt[i] = (LINUX_GPA_PD + i * 4096) | PTE_P | PTE_RW;
		for (uint64_t j = 0; j < 512; j++)
			pd[i * 512 + j] = (i << 30) | (j << 21) | PTE_P | PTE_RW | PTE_PS;
	}
}

/* boot.rst, 64-bit boot protocol: long mode with paging, CS = __BOOT_CS,
 * DS/ES/SS = __BOOT_DS, interrupts off, RSI = boot_params. Only the boot
 * vCPU is set; kvm_linux_setup_vcpu() loads this into KVM. */
static void entry_set(struct vm *vm, const struct linux_image *li)
{
	struct vcpu_regs *r = &vm->vcpus[0].entry;

	memset(r, 0, sizeof(*r));
	r->rip = li->entry_gpa;
	r->rsi = LINUX_GPA_ZERO_PAGE;
	r->rsp = LINUX_GPA_STACK_TOP;
	r->rflags = X86_RFLAGS_FIXED;
	r->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	r->cr3 = LINUX_GPA_PML4;
	r->cr4 = X86_CR4_PAE;
	r->efer = X86_EFER_LME | X86_EFER_LMA;
	r->cs = LINUX_BOOT_CS;
	r->ss = LINUX_BOOT_DS;
}

/* With no MP table and no ACPI MADT the kernel finds only the boot CPU,
 * so more vCPUs would be threads that never run: refuse them until gmm
 * writes an MP table or a MADT (numa.cells' ACPI tables have none). */
static int check_vcpus(struct vm *vm, char *err, size_t errlen)
{
	if (vm->nr_vcpus == 1)
		return 0;
	snprintf(err, errlen, "vcpus: a Linux guest boots with 1 vCPU for now (gmm writes no MP table or "
		 "ACPI MADT, so the kernel could not find the others); got %d", vm->nr_vcpus);
	return -EINVAL;
}

int boot_linux_load(struct vm *vm, const uint8_t *img, size_t len, char *err, size_t errlen)
{
	struct linux_image li;
	uint64_t initrd_gpa, initrd_bytes, rsdp_gpa;
	int ret;

	ret = check_vcpus(vm, err, errlen);
	if (!ret)
		ret = is_bzimage(img, len) ? linux_load_bzimage(vm, img, len, &li, err, errlen) :
					     linux_load_vmlinux(vm, img, len, &li, err, errlen);
	if (!ret)
		ret = initrd_load(vm, &li, &initrd_gpa, &initrd_bytes, err, errlen);
	if (!ret)
		ret = cmdline_write(vm, &li, err, errlen);
	if (!ret)
		ret = linux_acpi_write(vm, &rsdp_gpa, err, errlen);
	if (ret)
		return ret;
	zero_page_write(vm, &li, initrd_gpa, initrd_bytes, rsdp_gpa);
	gdt_write(vm);
	page_tables_write(vm);
	ret = linux_kvm_setup_vm(vm, err, errlen);
	if (ret)
		return ret;
	entry_set(vm, &li);
	return 0;
}
