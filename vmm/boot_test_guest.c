/*
 * Loader for gmm's test guest: an ELF64 static PIE linked at GMM_GPA_IMAGE
 * with only R_X86_64_RELATIVE relocations. Segments go to their link
 * addresses as guest-physical addresses; relocations add the base, so the
 * image runs at gva = base + gpa on both accelerators. Everything read from
 * the file is bounds-checked: a corrupt ELF is an error, never a crash.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot.h"
#include "vmm/vm.h"
#include "vmm/x86_tables.h"

#define SZ_2M (2ULL << 20)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

static bool range_in(uint64_t off, uint64_t n, uint64_t len)
{
	return off <= len && n <= len - off;
}

static int load_segments(struct vm *vm, const uint8_t *elf, size_t len, const Elf64_Ehdr *eh,
			 uint64_t *image_end, char *err, size_t errlen)
{
	*image_end = GMM_GPA_IMAGE;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(elf + eh->e_phoff + (uint64_t)i * sizeof(*ph));
		uint8_t *dst;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_filesz > ph->p_memsz || !range_in(ph->p_offset, ph->p_filesz, len) ||
		    ph->p_paddr < GMM_GPA_IMAGE) {
			snprintf(err, errlen, "kernel %s: bad PT_LOAD segment %d", vm->cfg.kernel, i);
			return -ENOEXEC;
		}
		dst = guest_mem_gpa_to_hva(&vm->mem, ph->p_paddr, ph->p_memsz);
		if (!dst) {
			snprintf(err, errlen, "kernel %s: segment %d at %#llx does not fit in %llu bytes of RAM",
				 vm->cfg.kernel, i, (unsigned long long)ph->p_paddr,
				 (unsigned long long)vm->cfg.mem_bytes);
			return -E2BIG;
		}
		memcpy(dst, elf + ph->p_offset, ph->p_filesz);
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
		if (ph->p_paddr + ph->p_memsz > *image_end)
			*image_end = ph->p_paddr + ph->p_memsz;
	}
	return 0;
}

/* Apply DT_RELA; the image is already in guest memory at its link address. */
static int apply_relocations(struct vm *vm, const uint8_t *elf, size_t len, const Elf64_Ehdr *eh,
			     char *err, size_t errlen)
{
	uint64_t base = (uint64_t)vm->mem.window, rela = 0, relasz = 0, relaent = sizeof(Elf64_Rela);

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(elf + eh->e_phoff + (uint64_t)i * sizeof(*ph));

		if (ph->p_type != PT_DYNAMIC)
			continue;
		if (!range_in(ph->p_offset, ph->p_filesz, len))
			goto bad;
		for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= ph->p_filesz; off += sizeof(Elf64_Dyn)) {
			const Elf64_Dyn *d = (const void *)(elf + ph->p_offset + off);

			if (d->d_tag == DT_NULL)
				break;
			if (d->d_tag == DT_RELA) rela = d->d_un.d_ptr;
			else if (d->d_tag == DT_RELASZ) relasz = d->d_un.d_val;
			else if (d->d_tag == DT_RELAENT) relaent = d->d_un.d_val;
			else if (d->d_tag == DT_REL || d->d_tag == DT_JMPREL) goto bad;
		}
	}
	if (!relasz)
		return 0;
	if (relaent != sizeof(Elf64_Rela) || relasz % relaent)
		goto bad;
	for (uint64_t off = 0; off < relasz; off += relaent) {
		const Elf64_Rela *r = guest_mem_gpa_to_hva(&vm->mem, rela + off, sizeof(*r));
		uint64_t *where, val;

		if (!r || ELF64_R_TYPE(r->r_info) != R_X86_64_RELATIVE)
			goto bad;
		where = guest_mem_gpa_to_hva(&vm->mem, r->r_offset, 8);
		if (!where || r->r_offset < GMM_GPA_IMAGE)
			goto bad;
		val = base + (uint64_t)r->r_addend;
		memcpy(where, &val, 8);
	}
	return 0;
bad:
	snprintf(err, errlen, "kernel %s: unsupported or corrupt relocations (the test guest must be a "
		 "static PIE with only R_X86_64_RELATIVE)", vm->cfg.kernel);
	return -ENOEXEC;
}

static int check_header(struct vm *vm, const uint8_t *elf, size_t len, char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const void *)elf;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 || (eh->e_type != ET_DYN && eh->e_type != ET_EXEC) || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !range_in(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len)) {
		snprintf(err, errlen, "kernel %s: not a gmm test guest (x86-64 ELF static PIE) "
			 "nor a Linux kernel", vm->cfg.kernel);
		return -ENOEXEC;
	}
	return 0;
}

/* numa.cells as the guest sees them (docs/test-guest.md). */
static void write_cells(struct vm *vm, struct gmm_boot_info *bi)
{
	const struct stage2_numa *p = &vm->cfg.numa.parsed;

	_Static_assert(GMM_MAX_CELLS == STAGE2_MAX_CELLS, "one cell limit");
	bi->nr_cells = (uint32_t)p->nr_cells;
	for (int j = 0; j < p->nr_cells; j++) {
		struct gmm_numa_cell *c = &bi->cells[j];
		uint64_t end;

		stage2_numa_cell_span(p, j, &c->gpa, &end, &c->bytes);
		c->node = p->cell_node[j];
		for (int v = 0; v < vm->nr_vcpus; v++)
			if (p->vcpu_cell[v] == j)
				c->cpu_mask |= 1ULL << v;
	}
}

/* Boot info, command line and the RAM left for the workload. */
static int write_boot_info(struct vm *vm, uint64_t free_start, char *err, size_t errlen)
{
	struct gmm_boot_info *bi = guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_BOOT_INFO, sizeof(*bi));
	char *cmdline = guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_CMDLINE, GMM_CMDLINE_MAX);

	memset(bi, 0, sizeof(*bi));
	bi->magic = GMM_BOOT_MAGIC;
	bi->version = GMM_BOOT_VERSION;
	bi->nr_vcpus = vm->nr_vcpus;
	bi->ram_bytes = vm->mem.ram_bytes;
	bi->base = (uint64_t)vm->mem.window;
	bi->tsc_hz = vm->tsc_hz;
	bi->cmdline_gpa = GMM_GPA_CMDLINE;
	bi->mailbox_gpa = GMM_GPA_MAILBOX;
	bi->accel = vm->accel == &accel_kvm_ops ? GMM_ACCEL_KVM : GMM_ACCEL_NATIVE;
	for (int i = 0; i < vm->mem.nr_slots; i++) {
		const struct guest_mem_slot *s = &vm->mem.slots[i];
		uint64_t start = s->gpa > free_start ? s->gpa : free_start;

		if (start < s->gpa + s->bytes)
			bi->ranges[bi->nr_ranges++] = (struct gmm_ram_range){ start, s->gpa + s->bytes - start };
	}
	if (!bi->nr_ranges) {
		snprintf(err, errlen, "mem: %llu bytes leave no RAM for the workload after the image",
			 (unsigned long long)vm->cfg.mem_bytes);
		return -E2BIG;
	}
	write_cells(vm, bi);
	snprintf(cmdline, GMM_CMDLINE_MAX, "%s", vm->cfg.cmdline);
	return 0;
}

static void set_entry(struct vm *vm, uint64_t entry_gva, uint64_t stacks_gpa)
{
	uint64_t base = (uint64_t)vm->mem.window;

	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu_regs *r = &vm->vcpus[i].entry;

		memset(r, 0, sizeof(*r));
		r->rip = entry_gva;
		r->rsp = base + stacks_gpa + (uint64_t)(i + 1) * GUEST_STACK_BYTES;
		r->rdi = i;
		r->rsi = base + GMM_GPA_CMDLINE;
		r->rdx = vm->mem.ram_bytes;
		r->rcx = base;
		r->r8 = vm->tsc_hz;
		r->r9 = base + GMM_GPA_BOOT_INFO;
		r->rflags = X86_RFLAGS_FIXED | X86_RFLAGS_IOPL3;
		r->cpl = 3;
	}
}

int boot_test_guest_load(struct vm *vm, const uint8_t *elf, size_t len, char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const void *)elf;
	uint64_t image_end, stacks, free_start;
	int ret;

	ret = check_header(vm, elf, len, err, errlen);
	if (!ret)
		ret = load_segments(vm, elf, len, eh, &image_end, err, errlen);
	if (!ret)
		ret = apply_relocations(vm, elf, len, eh, err, errlen);
	if (ret)
		return ret;
	stacks = ALIGN_UP(image_end, 65536);
	free_start = ALIGN_UP(stacks + (uint64_t)vm->nr_vcpus * GUEST_STACK_BYTES, SZ_2M);
	if (!guest_mem_gpa_to_hva(&vm->mem, stacks, free_start - stacks)) {
		snprintf(err, errlen, "mem: %llu bytes is too small for the image and %d vCPU stacks",
			 (unsigned long long)vm->cfg.mem_bytes, vm->nr_vcpus);
		return -E2BIG;
	}
	ret = write_boot_info(vm, free_start, err, errlen);
	if (ret)
		return ret;
	ret = x86_tables_build(vm);
	if (ret) {
		snprintf(err, errlen, "mem: cannot build guest page tables: %s", strerror(-ret));
		return ret;
	}
	set_entry(vm, (uint64_t)vm->mem.window + eh->e_entry, stacks);
	return 0;
}
