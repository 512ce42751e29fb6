/*
 * Linux kernel images: an uncompressed vmlinux (ELF64 ET_EXEC) or a bzImage
 * (the x86 boot protocol's setup header at 0x1f1, Documentation/arch/x86/
 * boot.rst). Each is copied into guest RAM and described in a struct
 * linux_image; see boot_linux.h. Everything read from the file is
 * bounds-checked with overflow-safe arithmetic: a corrupt or truncated file
 * is a one-line error naming the kernel, never a crash.
 */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot_linux.h"
#include "vmm/vm.h"

#define SZ_1M (1ULL << 20)

static bool range_in(uint64_t off, uint64_t n, uint64_t len)
{
	return off <= len && n <= len - off;
}

uint64_t linux_low_ram_end(const struct vm *vm)
{
	return vm->mem.ram_bytes < GMM_GPA_HOLE_START ? vm->mem.ram_bytes : GMM_GPA_HOLE_START;
}

/* [gpa, gpa + n) lies in RAM between 1 MiB and the hole: the kernel must
 * stay out of gmm's boot area below 1 MiB and inside the identity map. */
static bool in_high_low_ram(const struct vm *vm, uint64_t gpa, uint64_t n)
{
	uint64_t end = linux_low_ram_end(vm);

	return gpa >= LINUX_GPA_HIGH && range_in(gpa, n, end);
}

static int too_big(struct vm *vm, const char *what, uint64_t gpa, uint64_t n, char *err, size_t errlen)
{
	snprintf(err, errlen, "kernel %s: %s [%#llx, +%#llx) does not fit in RAM between 1 MiB and %#llx "
		 "(mem %llu MiB)", vm->cfg.kernel, what, (unsigned long long)gpa, (unsigned long long)n,
		 (unsigned long long)linux_low_ram_end(vm), (unsigned long long)(vm->cfg.mem_bytes >> 20));
	return -E2BIG;
}

/* ---- vmlinux ------------------------------------------------------------ */

static int vmlinux_check_header(struct vm *vm, const Elf64_Ehdr *eh, size_t len, char *err, size_t errlen)
{
	if (len < sizeof(*eh) || eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC) {
		snprintf(err, errlen, "kernel %s: not an x86-64 vmlinux (ELF64 ET_EXEC)", vm->cfg.kernel);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || !eh->e_phnum ||
	    !range_in(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len)) {
		snprintf(err, errlen, "kernel %s: truncated or corrupt ELF: program headers lie outside "
			 "the file's %zu bytes", vm->cfg.kernel, len);
		return -ENOEXEC;
	}
	return 0;
}

/* One PT_LOAD to its physical address (p_paddr), the rest of p_memsz zeroed. */
static int vmlinux_load_segment(struct vm *vm, const uint8_t *img, size_t len, const Elf64_Phdr *ph, int i,
				struct linux_image *li, char *err, size_t errlen)
{
	uint8_t *dst;
	char what[32];

	if (ph->p_filesz > ph->p_memsz || !range_in(ph->p_offset, ph->p_filesz, len)) {
		snprintf(err, errlen, "kernel %s: truncated or corrupt ELF: segment %d (file bytes %#llx, +%#llx) "
			 "lies outside the file's %zu bytes", vm->cfg.kernel, i,
			 (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz, len);
		return -ENOEXEC;
	}
	snprintf(what, sizeof(what), "segment %d", i);
	if (!in_high_low_ram(vm, ph->p_paddr, ph->p_memsz))
		return too_big(vm, what, ph->p_paddr, ph->p_memsz, err, errlen);
	dst = guest_mem_gpa_to_hva(&vm->mem, ph->p_paddr, ph->p_memsz);
	if (!dst)
		return too_big(vm, what, ph->p_paddr, ph->p_memsz, err, errlen);
	memcpy(dst, img + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	if (ph->p_paddr < li->kernel_start)
		li->kernel_start = ph->p_paddr;
	if (ph->p_paddr + ph->p_memsz > li->kernel_end)
		li->kernel_end = ph->p_paddr + ph->p_memsz;
	return 0;
}

/* vmlinux links ENTRY(phys_startup_64): e_entry is already physical. Accept
 * a virtual one too, translated through the segment that holds it. */
static bool vmlinux_entry(const Elf64_Phdr *ph, int n, uint64_t e, uint64_t *gpa)
{
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && e >= ph[i].p_paddr && e - ph[i].p_paddr < ph[i].p_memsz) {
			*gpa = e;
			return true;
		}
	for (int i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && e >= ph[i].p_vaddr && e - ph[i].p_vaddr < ph[i].p_memsz) {
			*gpa = ph[i].p_paddr + (e - ph[i].p_vaddr);
			return true;
		}
	return false;
}

int linux_load_vmlinux(struct vm *vm, const uint8_t *img, size_t len, struct linux_image *li,
		       char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Phdr *ph;
	int ret, nr_load = 0;

	ret = vmlinux_check_header(vm, eh, len, err, errlen);
	if (ret)
		return ret;
	ph = (const void *)(img + eh->e_phoff);
	memset(li, 0, sizeof(*li));
	li->kernel_start = UINT64_MAX;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !ph[i].p_memsz)
			continue;
		ret = vmlinux_load_segment(vm, img, len, &ph[i], i, li, err, errlen);
		if (ret)
			return ret;
		nr_load++;
	}
	if (!nr_load || !vmlinux_entry(ph, eh->e_phnum, eh->e_entry, &li->entry_gpa)) {
		snprintf(err, errlen, "kernel %s: corrupt vmlinux: %s", vm->cfg.kernel,
			 nr_load ? "the entry point lies in no PT_LOAD segment" : "no PT_LOAD segment");
		return -ENOEXEC;
	}
	li->cmdline_max = LINUX_COMMAND_LINE_SIZE - 1;
	li->initrd_addr_max = LINUX_INITRD_ADDR_MAX;
	return 0;
}

/* ---- bzImage ------------------------------------------------------------ */

#define BZ_HDR_OFFSET     0x1f1
#define BZ_HDR_END_MIN    (BZ_HDR_OFFSET + offsetof(struct setup_header, init_size) + 4)
#define BZ_ENTRY64_OFFSET 0x200  /* boot.rst: 64-bit entry = loaded address + 0x200 */

/* The setup header: its length is 0x202 + the byte at 0x201 (boot.rst,
 * "The Real-Mode Kernel Header"); gmm needs protocol 2.12+ for xloadflags. */
static int bz_read_header(struct vm *vm, const uint8_t *img, size_t len, struct setup_header *h,
			  size_t *hdr_len, char *err, size_t errlen)
{
	size_t end = len > 0x201 ? 0x202 + (size_t)img[0x201] : 0;

	if (end > len || end < BZ_HDR_END_MIN) {
		snprintf(err, errlen, "kernel %s: bad bzImage setup header (ends at %#zx; the file has %zu bytes)",
			 vm->cfg.kernel, end, len);
		return -ENOEXEC;
	}
	*hdr_len = end - BZ_HDR_OFFSET;
	if (*hdr_len > sizeof(*h))
		*hdr_len = sizeof(*h); /* a newer protocol: fields gmm does not know stay in the file */
	memset(h, 0, sizeof(*h));
	memcpy(h, img + BZ_HDR_OFFSET, *hdr_len);
	if (h->version < 0x020c || !(h->xloadflags & XLF_KERNEL_64)) {
		snprintf(err, errlen, "kernel %s: bzImage (boot protocol %u.%02u) has no 64-bit entry "
			 "(XLF_KERNEL_64); gmm boots 64-bit kernels only", vm->cfg.kernel,
			 h->version >> 8, h->version & 0xff);
		return -ENOEXEC;
	}
	return 0;
}

/* Where the decompressor will run and unpack, as arch/x86/boot/compressed/
 * head_64.S computes it: a relocatable kernel at the load address rounded up
 * to kernel_alignment but not below LOAD_PHYSICAL_ADDR (pref_address), a
 * fixed one at pref_address. It needs init_size bytes there. */
static int bz_runtime_start(struct vm *vm, const struct setup_header *h, uint64_t *start, char *err, size_t errlen)
{
	uint64_t align = h->kernel_alignment;

	if (h->relocatable_kernel) {
		if (!align || (align & (align - 1)) || align > GMM_GPA_HOLE_START) {
			snprintf(err, errlen, "kernel %s: bad bzImage header: kernel_alignment %#llx", vm->cfg.kernel,
				 (unsigned long long)align);
			return -ENOEXEC;
		}
		*start = (LINUX_GPA_BZ_LOAD + align - 1) & ~(align - 1);
		if (*start < h->pref_address)
			*start = h->pref_address;
	} else {
		*start = h->pref_address;
	}
	return 0;
}

int linux_load_bzimage(struct vm *vm, const uint8_t *img, size_t len, struct linux_image *li,
		       char *err, size_t errlen)
{
	struct setup_header h;
	size_t hdr_len;
	uint64_t pm_off, pm_len, run;
	uint8_t *dst;
	int ret;

	ret = bz_read_header(vm, img, len, &h, &hdr_len, err, errlen);
	if (ret)
		return ret;
	pm_off = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (pm_off >= len || (uint64_t)h.syssize * 16 > len - pm_off) {
		snprintf(err, errlen, "kernel %s: truncated bzImage: %zu bytes, the setup header asks for %llu",
			 vm->cfg.kernel, len, (unsigned long long)(pm_off + (uint64_t)h.syssize * 16));
		return -ENOEXEC;
	}
	pm_len = len - pm_off; /* all of it, as QEMU loads it (a signature may trail) */
	ret = bz_runtime_start(vm, &h, &run, err, errlen);
	if (ret)
		return ret;
	dst = guest_mem_gpa_to_hva(&vm->mem, LINUX_GPA_BZ_LOAD, pm_len);
	if (!dst || !in_high_low_ram(vm, LINUX_GPA_BZ_LOAD, pm_len))
		return too_big(vm, "protected-mode kernel", LINUX_GPA_BZ_LOAD, pm_len, err, errlen);
	if (!in_high_low_ram(vm, run, h.init_size))
		return too_big(vm, "init_size", run, h.init_size, err, errlen);
	memcpy(dst, img + pm_off, pm_len);

	memset(li, 0, sizeof(*li));
	li->entry_gpa = LINUX_GPA_BZ_LOAD + BZ_ENTRY64_OFFSET;
	li->kernel_start = LINUX_GPA_BZ_LOAD;
	li->kernel_end = run + h.init_size > LINUX_GPA_BZ_LOAD + pm_len ? run + h.init_size :
			 LINUX_GPA_BZ_LOAD + pm_len;
	li->cmdline_max = h.cmdline_size;
	li->initrd_addr_max = h.initrd_addr_max;
	li->setup_hdr = img + BZ_HDR_OFFSET;
	li->setup_hdr_len = hdr_len;
	return 0;
}
