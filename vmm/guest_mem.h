/*
 * Guest RAM as the VMM sees it: one window of host address space per guest,
 * at or above 0x200000000000, whose address is also the guest-virtual base
 * (gva = window + gpa on both accelerators). RAM sits in up to two slots
 * around the device hole [3 GiB, 4 GiB); the hole and the rest of the
 * guest's 1 TiB slot of address space stay PROT_NONE, so a wild access is a
 * fault, never another guest's memory.
 *
 * This is the one interface the rest of vmm/ uses for guest memory. Two
 * backends sit behind it, and the accelerators and devices cannot tell:
 *   pool: RAM lives in frames of the host pool, mapped where the guest's
 *         stage-2 table says, filled on demand (stage2.h);
 *   anon: plain anonymous memory, what other VMMs do (for comparisons).
 */
#ifndef GMM_VMM_GUEST_MEM_H
#define GMM_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_SLOT_STRIDE  (1ULL << 40)          /* 1 TiB of address space per guest */
#define GUEST_MEM_WINDOW_BASE  0x200000000000ULL
#define GUEST_MEM_MAX_WINDOWS  64
#define GUEST_MEM_MAX_SPAN     (46ULL << 30)          /* what the guest page tables can map */

struct guest_mem_slot {
	uint64_t gpa;
	uint64_t bytes;
	void *hva;
};

enum guest_mem_backend {
	GUEST_MEM_POOL,        /* frames of the host pool behind a stage-2 table */
	GUEST_MEM_ANON,        /* plain anonymous memory, what other VMMs use */
};

struct host_pool;
struct stage2;
struct stage2_config;

struct guest_mem_config {
	uint64_t ram_bytes;
	bool executable;       /* PROT_EXEC (native accelerator) */
	bool thp;              /* anon: MADV_HUGEPAGE; pool: 2 MiB frames */
	enum guest_mem_backend backend;
	struct host_pool *pool;                 /* backend pool */
	const struct stage2_config *stage2;     /* backend pool */
};

struct guest_mem {
	void *window;          /* hva of gpa 0, == the guest-virtual base */
	uint64_t span_bytes;   /* gpa range covered: at least up to the hole's end, 2 MiB aligned */
	uint64_t ram_bytes;
	int nr_slots;
	struct guest_mem_slot slots[2];
	int window_index;
	enum guest_mem_backend backend;
	bool executable;       /* mapped PROT_EXEC (native accelerator) */
	bool thp;              /* MADV_HUGEPAGE on RAM, as QEMU does */
	struct stage2 *s2;     /* backend pool: the stage-2 table and fault path */
	bool released;         /* guest_mem_release(): RAM given back */
};

/* Reserve a window and back its RAM. anon: thp asks the host for
 * transparent huge pages (MADV_HUGEPAGE), otherwise they are refused
 * (MADV_NOHUGEPAGE) so the setting means the same whatever the host's THP
 * mode. pool: the RAM is registered for stage-2 faults and the fault
 * thread started (the loader's writes fault in like the guest's). */
int guest_mem_create(struct guest_mem *mem, const struct guest_mem_config *cfg);
/* Stop the fault thread, unmap the window, give every frame back. */
void guest_mem_destroy(struct guest_mem *mem);
/* The same for a stopped guest whose record stays (its counters, its
 * name in `gmm list`): the window stays reserved and inaccessible. */
void guest_mem_release(struct guest_mem *mem);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM slot,
 * else NULL. Overflow-safe: safe on any values a guest supplies. */
void *guest_mem_gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
bool guest_mem_is_ram(const struct guest_mem *mem, uint64_t gpa);
/* True if hva lies in this guest's 1 TiB slot of address space. */
bool guest_mem_owns_hva(const struct guest_mem *mem, uint64_t hva);

/* Host memory the RAM holds now: pool, its frames; anon, resident pages
 * by mincore. */
uint64_t guest_mem_resident_bytes(const struct guest_mem *mem);
/* True when guest_mem_resident_bytes() is a counter read (pool); false
 * when it walks the page tables (anon: mincore over all of RAM, which
 * looks every swapped page up in the swap cache). */
bool guest_mem_resident_is_cheap(const struct guest_mem *mem);

/* Find the guest window that contains hva (native fault routing). */
struct guest_mem *guest_mem_lookup_hva(uint64_t hva);
/* True if hva is guest RAM in some window. Async-signal-safe: the access
 * fault guard (signals.c) asks it about a PROT_NONE bridge. */
bool guest_mem_hva_is_ram(uint64_t hva);

#endif
