/*
 * The EPT object: creation and teardown, the lock, counters, the EPTP,
 * table frames, and finding the slot of a leaf (the kernel's
 * pgd/p4d/pud/pmd_alloc() chain, one level fewer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ept/internal.h"

const char *const ept_stat_names[NR_EPT_STAT_ITEMS] = {
	[EPT_TABLE_PAGES] = "ept_table_pages",
	[EPT_PRESENT_4K]  = "ept_present_4k",
	[EPT_PRESENT_2M]  = "ept_present_2m",
	[EPT_SWAPPED]     = "ept_swapped",
	[EPT_BALLOONED]   = "ept_ballooned",
	[EPT_MIGRATING]   = "ept_migrating",
	[EPT_ACCESS_TEST] = "ept_access_test",
};

/* EPTP fields (SDM 25.6.11 "Extended-Page-Table Pointer (EPTP)"). */
#define EPTP_MT_WB          6ULL
#define EPTP_WALK_LEN_SHIFT 3           /* page-walk length - 1 */
#define EPTP_AD_ENABLE      (1ULL << 6)

int ept_alloc_table(struct ept *ept, pfn_t *pfn)
{
	uint64_t *va;

	*pfn = ept->ops.alloc_table(ept->ops.ctx);
	if (*pfn == EPT_PFN_NONE)
		return -ENOMEM;
	if (*pfn >= EPT_PFN_LIMIT) {
		/* an entry could not name it: refuse rather than truncate */
		ept->ops.free_table(ept->ops.ctx, *pfn);
		return -ENOMEM;
	}
	/* The ops promise a zeroed frame; a stale entry here would map
	 * another guest's memory, so make sure for the price of 4 KiB. */
	va = ept_table_va(ept, *pfn);
	memset(va, 0, EPT_PAGE_SIZE);
	ept_stat_add(ept, EPT_TABLE_PAGES, 1);
	return 0;
}

void ept_free_table(struct ept *ept, pfn_t pfn)
{
	ept->ops.free_table(ept->ops.ctx, pfn);
	ept_stat_add(ept, EPT_TABLE_PAGES, -1);
}

int ept_create(const struct ept_table_ops *ops, struct ept **out)
{
	struct ept *ept;
	int err;

	*out = NULL;
	if (!ops || !ops->alloc_table || !ops->free_table || !ops->table_va)
		return -EINVAL;
	ept = calloc(1, sizeof(*ept));
	if (!ept)
		return -ENOMEM;
	ept->ops = *ops;
	pthread_mutex_init(&ept->lock, NULL);
	err = ept_alloc_table(ept, &ept->pml4_pfn);
	if (err) {
		pthread_mutex_destroy(&ept->lock);
		free(ept);
		return err;
	}
	ept->pml4 = ept_table_va(ept, ept->pml4_pfn);
	*out = ept;
	return 0;
}

/* free_pgtables(): every table under this one, then the table itself. */
static void free_table_tree(struct ept *ept, pfn_t pfn, int level)
{
	uint64_t *t = ept_table_va(ept, pfn);
	unsigned i;

	for (i = 0; level > 1 && i < EPT_PTRS_PER_TABLE; i++) {
		uint64_t e = t[i];

		if (ept_entry_present(e) && !(e & EPT_PS))
			free_table_tree(ept, ept_entry_pfn(e), level - 1);
	}
	ept_free_table(ept, pfn);
}

void ept_destroy(struct ept *ept)
{
	if (!ept)
		return;
	free_table_tree(ept, ept->pml4_pfn, EPT_LEVELS);
	pthread_mutex_destroy(&ept->lock);
	free(ept);
}

void ept_lock(struct ept *ept)
{
	pthread_mutex_lock(&ept->lock);
	atomic_store_explicit(&ept->owner, (uintptr_t)pthread_self(), memory_order_relaxed);
}

void ept_unlock(struct ept *ept)
{
	atomic_store_explicit(&ept->owner, 0, memory_order_relaxed);
	pthread_mutex_unlock(&ept->lock);
}

bool ept_lock_held(struct ept *ept)
{
	return atomic_load_explicit(&ept->owner, memory_order_relaxed) ==
	       (uintptr_t)pthread_self();
}

uint64_t ept_stat(struct ept *ept, enum ept_stat_item item)
{
	if ((unsigned)item >= NR_EPT_STAT_ITEMS)
		return 0;
	return atomic_load_explicit(&ept->stat[item], memory_order_relaxed);
}

uint64_t ept_eptp(const struct ept *ept)
{
	return EPTP_MT_WB | ((uint64_t)(EPT_LEVELS - 1) << EPTP_WALK_LEN_SHIFT) |
	       EPTP_AD_ENABLE | (ept->pml4_pfn << EPT_PAGE_SHIFT);
}

/* One step down: the table entry *ep names, allocating it if alloc.
 * NULL with *err = 0 when missing and !alloc. */
static uint64_t *ept_next_table(struct ept *ept, uint64_t *ep, bool alloc, int *err)
{
	uint64_t e = ept_read(ep);
	pfn_t pfn;

	*err = 0;
	if (e) {
		/* the caller checked for leaves at level 2; above it gmm
		 * makes none, so anything non-zero is a table */
		return ept_table_va(ept, ept_entry_pfn(e));
	}
	if (!alloc)
		return NULL;
	*err = ept_alloc_table(ept, &pfn);
	if (*err)
		return NULL;
	ept_write(ep, ept_mk_table(pfn));
	return ept_table_va(ept, pfn);
}

/* Down to the PD covering gfn. */
static uint64_t *ept_get_pd(struct ept *ept, gfn_t gfn, bool alloc, int *err)
{
	uint64_t *pdpt, *pd;

	pdpt = ept_next_table(ept, &ept->pml4[ept_index(gfn, 4)], alloc, err);
	if (!pdpt)
		return NULL;
	pd = ept_next_table(ept, &pdpt[ept_index(gfn, 3)], alloc, err);
	return pd;
}

uint64_t *ept_pde_slot(struct ept *ept, gfn_t gfn)
{
	int err;
	uint64_t *pd = ept_get_pd(ept, gfn, false, &err);

	return pd ? &pd[ept_index(gfn, 2)] : NULL;
}

uint64_t *ept_leaf_slot(struct ept *ept, gfn_t gfn, unsigned order, bool alloc, int *err)
{
	uint64_t *pd, *pdep, *pt;

	ept_assert_held(ept);
	pd = ept_get_pd(ept, gfn, alloc, err);
	if (!pd)
		return NULL;
	pdep = &pd[ept_index(gfn, 2)];
	if (order == EPT_ORDER_2M)
		return pdep;
	if (ept_pde_is_leaf(ept_read(pdep))) {
		*err = -EEXIST;
		return NULL;
	}
	pt = ept_next_table(ept, pdep, alloc, err);
	return pt ? &pt[ept_index(gfn, 1)] : NULL;
}

void ept_account(struct ept *ept, uint64_t e, unsigned order, long nr)
{
	long pages = nr * (1L << order);

	switch (ept_entry_state(e)) {
	case EPT_STATE_PRESENT:
		ept_stat_add(ept, order ? EPT_PRESENT_2M : EPT_PRESENT_4K, nr);
		break;
	case EPT_STATE_SWAPPED:
		ept_stat_add(ept, EPT_SWAPPED, pages);
		break;
	case EPT_STATE_BALLOONED:
		ept_stat_add(ept, EPT_BALLOONED, pages);
		break;
	case EPT_STATE_MIGRATING:
		ept_stat_add(ept, EPT_MIGRATING, pages);
		break;
	case EPT_STATE_ACCESS_TEST:
		ept_stat_add(ept, EPT_ACCESS_TEST, pages);
		break;
	default:        /* NONE, or a reserved tag nobody counts */
		break;
	}
}

uint64_t ept_set_leaf(struct ept *ept, uint64_t *ep, unsigned order, uint64_t e)
{
	uint64_t old;

	ept_assert_held(ept);
	/* exchange, not store: A/D the CPU set since our last read go to
	 * the caller with the old entry */
	old = ept_xchg(ep, e);
	ept_account(ept, old, order, -1);
	ept_account(ept, e, order, 1);
	return old;
}

int ept_lookup_locked(struct ept *ept, gfn_t gfn, uint64_t *entry, unsigned *order)
{
	uint64_t *pd, pde, *pt;
	int err;

	ept_assert_held(ept);
	*entry = 0;
	*order = EPT_ORDER_2M;
	if (gfn >= EPT_GFN_LIMIT)
		return -EINVAL;
	pd = ept_get_pd(ept, gfn, false, &err);
	if (!pd)
		return 0;
	pde = ept_read(&pd[ept_index(gfn, 2)]);
	if (!pde || ept_pde_is_leaf(pde)) {
		*entry = pde;
		return 0;
	}
	pt = ept_table_va(ept, ept_entry_pfn(pde));
	*entry = ept_read(&pt[ept_index(gfn, 1)]);
	*order = EPT_ORDER_4K;
	return 0;
}

int ept_lookup(struct ept *ept, gfn_t gfn, uint64_t *entry, unsigned *order)
{
	int ret;

	ept_lock(ept);
	ret = ept_lookup_locked(ept, gfn, entry, order);
	ept_unlock(ept);
	return ret;
}
