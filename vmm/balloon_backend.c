/*
 * The guest's virtio-balloon, wired up: the device model (balloon/) on the
 * guest's MMIO bus, and the backend that says what a ballooned or reported
 * page means for host memory. Pool guests: stage-2 entries and pool frames
 * (vmm/stage2_balloon.c). Anon guests (what other VMMs do):
 * MADV_DONTNEED on the window, which cannot give back part of a THP
 * without the kernel splitting it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "balloon/balloon_dev.h"
#include "guest/abi.h"
#include "vmm/boot_linux.h"
#include "vmm/vm.h"

static void *balloon_gpa_to_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	return guest_mem_gpa_to_hva(ctx, gpa, len);
}

/* RAM the balloon may take: not the system area gmm built (page tables,
 * GDT/TSS, boot info, mailboxes) and not outside RAM. */
static bool balloon_gfn_ok(void *ctx, uint64_t gfn)
{
	struct vm *vm = ctx;

	return gfn >= STAGE2_SYSTEM_AREA_GFNS && gfn < (1ULL << 40) &&
	       guest_mem_is_ram(&vm->mem, gfn << 12);
}

static long pool_inflate(void *ctx, const uint64_t *gfns, size_t n)
{
	struct vm *vm = ctx;

	return stage2_balloon_inflate(vm->mem.s2, gfns, n);
}

static void pool_owed(void *ctx, uint64_t pages)
{
	struct vm *vm = ctx;

	stage2_balloon_owed(vm->mem.s2, pages);
}

static long pool_deflate(void *ctx, const uint64_t *gfns, size_t n)
{
	struct vm *vm = ctx;

	return stage2_balloon_deflate(vm->mem.s2, gfns, n);
}

static long pool_report(void *ctx, uint64_t gfn, uint64_t nr)
{
	struct vm *vm = ctx;

	return stage2_free_page_report(vm->mem.s2, gfn, nr);
}

static long pool_flush(void *ctx)
{
	struct vm *vm = ctx;

	return stage2_balloon_flush(vm->mem.s2);
}

/* anon: drop the pages; resident memory is what mincore says after */
static long anon_discard(struct vm *vm, uint64_t gfn, uint64_t nr)
{
	void *hva = guest_mem_gpa_to_hva(&vm->mem, gfn << 12, nr << 12);

	if (!hva)
		return -EFAULT;
	return madvise(hva, nr << 12, MADV_DONTNEED) ? -errno : (long)nr;
}

static long anon_inflate(void *ctx, const uint64_t *gfns, size_t n)
{
	long total = 0;

	for (size_t i = 0; i < n;) {
		size_t len = 1;
		long r;

		while (i + len < n && gfns[i + len] == gfns[i] + len)
			len++;
		r = anon_discard(ctx, gfns[i], len);
		if (r < 0)
			return r;
		total += r;
		i += len;
	}
	return total;
}

static long anon_deflate(void *ctx, const uint64_t *gfns, size_t n)
{
	(void)ctx;
	(void)gfns;
	return (long)n; /* nothing to do: the next touch faults a zero page in */
}

static long anon_report(void *ctx, uint64_t gfn, uint64_t nr)
{
	return anon_discard(ctx, gfn, nr);
}

static long anon_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

/* Linux takes an interrupt per notification; the test guest polls. */
static void balloon_irq(void *ctx, bool level)
{
	struct vm *vm = ctx;

	if (level && vm->kind == GUEST_LINUX)
		linux_kvm_irq_pulse(vm, LINUX_VIRTIO_IRQ);
}

int vm_balloon_init(struct vm *vm)
{
	bool pool = vm->mem.s2 != NULL;
	struct balloon_config bc = {
		.mmio_base = GMM_GPA_MMIO_BASE,
		.ram_bytes = vm->cfg.mem_bytes,
		.stats_period_s = (unsigned)vm->cfg.balloon.stats_period,
		.name = vm->cfg.name,
		.mem = { .gpa_to_hva = balloon_gpa_to_hva, .ctx = &vm->mem },
		.irq = balloon_irq,
		.irq_ctx = vm,
		.be = {
			.gfn_ok = balloon_gfn_ok,
			.inflate = pool ? pool_inflate : anon_inflate,
			.deflate = pool ? pool_deflate : anon_deflate,
			.report = pool ? pool_report : anon_report,
			.flush = pool ? pool_flush : anon_flush,
			.owed = pool ? pool_owed : NULL,
			.ctx = vm,
		},
	};
	int ret;

	vm->balloon = calloc(1, sizeof(*vm->balloon));
	if (!vm->balloon)
		return -ENOMEM;
	ret = balloon_dev_init(vm->balloon, &vm->mmio, &bc);
	if (ret) {
		free(vm->balloon);
		vm->balloon = NULL;
	}
	return ret;
}

void vm_balloon_stop(struct vm *vm)
{
	if (vm->balloon)
		balloon_dev_destroy(vm->balloon, &vm->mmio);
}
