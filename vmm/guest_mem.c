/* Guest RAM windows; see guest_mem.h. */
#include "vmm/guest_mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/abi.h"
#include "vmm/stage2.h"

#define SZ_2M (2ULL << 20)

/* Window slots in use. Lookups come from signal handlers on the native
 * accelerator, so readers use atomics only, never the lock. */
static pthread_mutex_t windows_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct guest_mem *) windows[GUEST_MEM_MAX_WINDOWS];

static uint64_t window_addr(int idx)
{
	return GUEST_MEM_WINDOW_BASE + (uint64_t)idx * GUEST_MEM_SLOT_STRIDE;
}

/* A free window slot whose 1 TiB of address space is free too, reserved
 * inaccessible (the guard regions): its index, *slot its address. A slot
 * something else already maps into (a library's arena, say) is skipped. */
static int window_claim(struct guest_mem *mem, void **slot)
{
	int i, err = -ENOSPC;

	*slot = MAP_FAILED;
	pthread_mutex_lock(&windows_lock);
	for (i = 0; i < GUEST_MEM_MAX_WINDOWS; i++) {
		struct guest_mem *expected = NULL;

		if (!atomic_compare_exchange_strong(&windows[i], &expected, mem))
			continue;
		*slot = mmap((void *)window_addr(i), GUEST_MEM_SLOT_STRIDE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (*slot != MAP_FAILED)
			break;
		err = -errno;
		atomic_store(&windows[i], NULL);
		if (err != -EEXIST)
			break;
	}
	pthread_mutex_unlock(&windows_lock);
	return i >= GUEST_MEM_MAX_WINDOWS || *slot == MAP_FAILED ? err : i;
}

static void layout_slots(struct guest_mem *mem, uint64_t ram_bytes)
{
	uint64_t low = ram_bytes < GMM_GPA_HOLE_START ? ram_bytes : GMM_GPA_HOLE_START;

	mem->nr_slots = 1;
	mem->slots[0] = (struct guest_mem_slot){ 0, low, NULL };
	mem->span_bytes = low;
	if (ram_bytes > GMM_GPA_HOLE_START) {
		mem->slots[1] = (struct guest_mem_slot){ GMM_GPA_HOLE_END, ram_bytes - low, NULL };
		mem->nr_slots = 2;
		mem->span_bytes = GMM_GPA_HOLE_END + (ram_bytes - low);
	}
	/* The device hole is always part of the span: MMIO devices live there
	 * whatever the RAM size. */
	if (mem->span_bytes < GMM_GPA_HOLE_END)
		mem->span_bytes = GMM_GPA_HOLE_END;
	mem->span_bytes = (mem->span_bytes + SZ_2M - 1) & ~(SZ_2M - 1);
}

/* The pool backend: a stage-2 table and fault thread; RAM slots stay
 * anonymous, not present, and registered for stage-2 faults, or, for a
 * guest with a home range, are mapped over it once (stage2_home_map()). */
static int pool_backend_init(struct guest_mem *mem, const struct guest_mem_config *cfg)
{
	int ret;

	mem->s2 = calloc(1, sizeof(*mem->s2));
	if (!mem->s2)
		return -ENOMEM;
	ret = stage2_create(mem->s2, cfg->pool, mem, cfg->stage2);
	if (!ret && stage2_homed(mem->s2))
		ret = stage2_home_map(mem->s2);
	for (int i = 0; i < mem->nr_slots && !ret && !stage2_homed(mem->s2); i++)
		ret = stage2_register(mem->s2, mem->slots[i].hva, mem->slots[i].bytes);
	if (!ret)
		ret = stage2_start(mem->s2);
	return ret;
}

int guest_mem_create(struct guest_mem *mem, const struct guest_mem_config *cfg)
{
	uint64_t ram_bytes = cfg->ram_bytes;
	int prot = PROT_READ | PROT_WRITE | (cfg->executable ? PROT_EXEC : 0);
	void *slot;
	int idx, i, ret;

	memset(mem, 0, sizeof(*mem));
	if (ram_bytes < GMM_GPA_IMAGE * 2 || ram_bytes % 4096)
		return -EINVAL;
	layout_slots(mem, ram_bytes);
	if (mem->span_bytes > GUEST_MEM_MAX_SPAN)
		return -E2BIG;
	idx = window_claim(mem, &slot);
	if (idx < 0)
		return idx;
	mem->window = slot;
	mem->window_index = idx;
	mem->ram_bytes = ram_bytes;
	mem->backend = cfg->backend;
	mem->executable = cfg->executable;
	mem->thp = cfg->thp;
	for (i = 0; i < mem->nr_slots; i++) {
		struct guest_mem_slot *s = &mem->slots[i];

		s->hva = (char *)slot + s->gpa;
		if (mmap(s->hva, s->bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
			 -1, 0) == MAP_FAILED) {
			int err = -errno;

			guest_mem_destroy(mem);
			return err;
		}
		/* Advice only: a host with THP disabled says EINVAL, and 4 KiB
		 * pages are then what it has. The pool backend's anonymous
		 * memory is never filled (it only catches faults). */
		madvise(s->hva, s->bytes, cfg->thp && cfg->backend == GUEST_MEM_ANON ? MADV_HUGEPAGE :
			MADV_NOHUGEPAGE);
	}
	if (cfg->backend == GUEST_MEM_POOL) {
		ret = pool_backend_init(mem, cfg);
		if (ret) {
			guest_mem_destroy(mem);
			return ret;
		}
	}
	return 0;
}

void guest_mem_release(struct guest_mem *mem)
{
	if (!mem->window || !mem->s2 || mem->released)
		return;
	stage2_stop(mem->s2);
	/* Every pool mapping of the window goes before any frame is punched
	 * or freed (DESIGN.md); the slot stays reserved, inaccessible. */
	mmap(mem->window, GUEST_MEM_SLOT_STRIDE, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	stage2_release(mem->s2);
	mem->released = true;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (!mem->window)
		return;
	if (mem->s2)
		stage2_stop(mem->s2);
	/* unmapped before any frame is punched or freed (DESIGN.md) */
	munmap(mem->window, GUEST_MEM_SLOT_STRIDE);
	if (mem->s2) {
		stage2_destroy(mem->s2);
		free(mem->s2);
		mem->s2 = NULL;
	}
	atomic_store(&windows[mem->window_index], NULL);
	mem->window = NULL;
}

void *guest_mem_gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < mem->nr_slots; i++) {
		const struct guest_mem_slot *s = &mem->slots[i];

		if (gpa >= s->gpa && gpa - s->gpa <= s->bytes && len <= s->bytes - (gpa - s->gpa))
			return (char *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

bool guest_mem_is_ram(const struct guest_mem *mem, uint64_t gpa)
{
	return guest_mem_gpa_to_hva(mem, gpa, 1) != NULL;
}

bool guest_mem_owns_hva(const struct guest_mem *mem, uint64_t hva)
{
	uint64_t base = (uint64_t)mem->window;

	return hva >= base && hva - base < GUEST_MEM_SLOT_STRIDE;
}

struct guest_mem *guest_mem_lookup_hva(uint64_t hva)
{
	uint64_t idx;

	if (hva < GUEST_MEM_WINDOW_BASE)
		return NULL;
	idx = (hva - GUEST_MEM_WINDOW_BASE) / GUEST_MEM_SLOT_STRIDE;
	if (idx >= GUEST_MEM_MAX_WINDOWS)
		return NULL;
	return atomic_load(&windows[idx]);
}

bool guest_mem_hva_is_ram(uint64_t hva)
{
	struct guest_mem *mem = guest_mem_lookup_hva(hva);

	return mem && hva - (uint64_t)mem->window < mem->span_bytes &&
	       guest_mem_is_ram(mem, hva - (uint64_t)mem->window);
}

bool guest_mem_resident_is_cheap(const struct guest_mem *mem)
{
	return mem->s2 != NULL;
}

uint64_t guest_mem_resident_bytes(const struct guest_mem *mem)
{
	static const size_t chunk = 1 << 16; /* pages per mincore call */
	unsigned char vec[1 << 16];
	uint64_t pages = 0;

	if (mem->s2)
		return atomic_load(&mem->s2->resident_frames) << 12;
	for (int i = 0; i < mem->nr_slots; i++) {
		const struct guest_mem_slot *s = &mem->slots[i];
		uint64_t npages = s->bytes / 4096;

		for (uint64_t p = 0; p < npages; p += chunk) {
			size_t n = npages - p < chunk ? npages - p : chunk;

			if (mincore((char *)s->hva + p * 4096, n * 4096, vec))
				continue;
			for (size_t j = 0; j < n; j++)
				pages += vec[j] & 1;
		}
	}
	return pages * 4096;
}
