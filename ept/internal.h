/*
 * ept/ internals shared by its .c files; nothing outside ept/ includes this.
 *
 * Levels count the SDM way: 4 = PML4 (gpa bits 47:39), 3 = PDPT (38:30),
 * 2 = PD (29:21), 1 = PT (20:12). An entry at level l spans
 * 1 << ept_level_shift(l) gfns.
 */
#ifndef GMM_EPT_INTERNAL_H
#define GMM_EPT_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ept/ept.h"

#define EPT_LEVELS 4

struct ept {
	struct ept_table_ops ops;      /* set at create, read-only */
	pfn_t pml4_pfn;                /* set at create, read-only */
	uint64_t *pml4;                /* its mapping, read-only */
	/*
	 * lock: protects the table tree (which tables exist, every non-A/D
	 * bit of every entry) and orders the counter updates. A/D bits are
	 * set without it (CPU, ept_mkyoung() under it but racing harvest)
	 * and cleared atomically, so leaves are written with atomic stores
	 * and exchanges even under the lock.
	 */
	pthread_mutex_t lock;
	_Atomic uintptr_t owner;       /* pthread_self() of the holder, 0 if free */
	_Atomic uint64_t stat[NR_EPT_STAT_ITEMS]; /* written under lock, read anywhere */
};

#define ept_assert_held(ept) assert(ept_lock_held(ept))

/* The one-call form of an op: its _locked twin under the lock (a GNU
 * statement expression, as the kernel's guard macros are). */
#define EPT_LOCKED_CALL(ept, call) ({		\
	__typeof__(call) __ret;			\
	ept_lock(ept);				\
	__ret = (call);				\
	ept_unlock(ept);			\
	__ret;					\
})

static inline unsigned ept_level_shift(int level)
{
	return 9u * (unsigned)(level - 1);
}

static inline unsigned ept_index(gfn_t gfn, int level)
{
	return (unsigned)(gfn >> ept_level_shift(level)) & (EPT_PTRS_PER_TABLE - 1);
}

static inline uint64_t ept_read(const uint64_t *ep)
{
	return __atomic_load_n(ep, __ATOMIC_ACQUIRE);
}

static inline void ept_write(uint64_t *ep, uint64_t e)
{
	__atomic_store_n(ep, e, __ATOMIC_RELEASE);
}

static inline uint64_t ept_xchg(uint64_t *ep, uint64_t e)
{
	return __atomic_exchange_n(ep, e, __ATOMIC_ACQ_REL);
}

/* A level-2 entry that is a leaf: a present PS entry or any non-zero
 * software entry (a page table is always present). */
static inline bool ept_pde_is_leaf(uint64_t e)
{
	return e && (!ept_entry_present(e) || (e & EPT_PS));
}

static inline uint64_t *ept_table_va(struct ept *ept, pfn_t pfn)
{
	return ept->ops.table_va(ept->ops.ctx, pfn);
}

/* Table frames (ept.c). */
int ept_alloc_table(struct ept *ept, pfn_t *pfn);
void ept_free_table(struct ept *ept, pfn_t pfn);

/* The slot for a leaf of order at gfn (ept.c). With alloc, missing tables
 * above it are allocated; without, NULL means a table is missing. For
 * order 0 under a 2 MiB leaf: NULL with -EEXIST. */
uint64_t *ept_leaf_slot(struct ept *ept, gfn_t gfn, unsigned order, bool alloc, int *err);
/* The level-2 slot covering gfn, or NULL if an upper table is missing. */
uint64_t *ept_pde_slot(struct ept *ept, gfn_t gfn);

/* Counters: nr leaves like e, of order, come (+) or go (-). */
void ept_account(struct ept *ept, uint64_t e, unsigned order, long nr);
/* Replace a leaf, keeping counters right; returns the old entry. */
uint64_t ept_set_leaf(struct ept *ept, uint64_t *ep, unsigned order, uint64_t e);

static inline void ept_stat_add(struct ept *ept, enum ept_stat_item i, long nr)
{
	atomic_fetch_add_explicit(&ept->stat[i], (uint64_t)nr, memory_order_relaxed);
}

/*
 * Range walker (walk.c), like the kernel's walk_page_range() with
 * mm_walk_ops: leaf() sees every non-zero leaf meeting [start, end) in gfn
 * order with a pointer to it; a non-zero return stops the walk.
 * split_partial splits 2 MiB leaves straddling start or end first.
 */
struct ept_walk_ctl {
	int (*leaf)(struct ept *ept, uint64_t *ep, gfn_t gfn, unsigned order, void *priv);
	void *priv;
	bool split_partial;
};
int ept_walk_range(struct ept *ept, gfn_t start, gfn_t end, struct ept_walk_ctl *c);

/* gfn range sanity: start < end <= EPT_GFN_LIMIT. */
static inline bool ept_range_valid(gfn_t start, gfn_t end)
{
	return start < end && end <= EPT_GFN_LIMIT;
}

#endif
