/*
 * 2 MiB <-> 4 KiB: splitting a 2 MiB leaf into a page table
 * (__split_huge_pmd()) and collapsing a page table of 512 contiguous
 * 4 KiB leaves back into one (khugepaged's collapse_huge_page(), in place:
 * the frames already are one aligned block, so nothing is copied).
 */
#include <errno.h>

#include "ept/internal.h"

/* Entry i of the page table that replaces 2 MiB entry e: the same bits
 * without PS, and for entries that name a frame, the i-th frame. */
static uint64_t split_child(uint64_t e, unsigned i)
{
	uint64_t c = e & ~EPT_PS;

	switch (ept_entry_state(e)) {
	case EPT_STATE_PRESENT:
	case EPT_STATE_MIGRATING:
	case EPT_STATE_ACCESS_TEST:
		return c + ((uint64_t)i << EPT_PAGE_SHIFT);
	default:                /* BALLOONED: the tag alone */
		return c;
	}
}

static void fill_children(uint64_t *pt, uint64_t e)
{
	unsigned i;

	for (i = 0; i < EPT_PTRS_PER_TABLE; i++)
		ept_write(&pt[i], split_child(e, i));
}

int ept_split_locked(struct ept *ept, gfn_t gfn)
{
	uint64_t *pdep, *pt, e;
	pfn_t pfn;
	int err;

	ept_assert_held(ept);
	if (gfn >= EPT_GFN_LIMIT)
		return -EINVAL;
	pdep = ept_pde_slot(ept, gfn);
	e = pdep ? ept_read(pdep) : 0;
	if (!e)
		return -ENOENT;
	if (!ept_pde_is_leaf(e))
		return -EINVAL;
	if (ept_entry_state(e) == EPT_STATE_SWAPPED)
		return -EINVAL;         /* never made at 2 MiB */
	err = ept_alloc_table(ept, &pfn);
	if (err)
		return err;
	pt = ept_table_va(ept, pfn);
	/* Fill the table from a snapshot, then swap it in only if the PDE
	 * still is that snapshot: A/D the CPU sets meanwhile must reach
	 * the children, so a changed PDE means fill again. (On hardware the
	 * caller then flushes with INVEPT; in gmm the realizer remaps.) */
	do {
		fill_children(pt, e);
	} while (!__atomic_compare_exchange_n(pdep, &e, ept_mk_table(pfn), false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	ept_account(ept, e, EPT_ORDER_2M, -1);
	ept_account(ept, split_child(e, 0), EPT_ORDER_4K, EPT_PTRS_PER_TABLE);
	return 0;
}

int ept_split(struct ept *ept, gfn_t gfn)
{
	return EPT_LOCKED_CALL(ept, ept_split_locked(ept, gfn));
}

/* What must match across the 512 entries: permissions and memory type. */
#define COLLAPSE_SAME_MASK (EPT_PROT_MASK | EPT_MT_MASK | EPT_IPAT)

/* The 2 MiB leaf pt could become, or 0 if it cannot
 * (hpage_collapse_scan_pmd()'s checks, minus the ones about sharing). */
static uint64_t collapse_target(const uint64_t *pt)
{
	uint64_t first = ept_read(&pt[0]), ad = 0;
	pfn_t base = ept_entry_pfn(first);
	unsigned i;

	if (!ept_entry_present(first) || (base & (EPT_PTRS_PER_TABLE - 1)))
		return 0;
	for (i = 0; i < EPT_PTRS_PER_TABLE; i++) {
		uint64_t e = ept_read(&pt[i]);

		if (!ept_entry_present(e) || ept_entry_pfn(e) != base + i ||
		    (e & COLLAPSE_SAME_MASK) != (first & COLLAPSE_SAME_MASK))
			return 0;
		ad |= e & (EPT_A | EPT_D);
	}
	return ept_mk_leaf(base, EPT_ORDER_2M, first & EPT_PROT_MASK) |
	       (first & (EPT_MT_MASK | EPT_IPAT)) | ad;
}

/* A/D left in the old table after the switch (the CPU may have set some
 * between the scan and the exchange) move to the new leaf. */
static void collapse_carry_ad(uint64_t *pdep, const uint64_t *pt)
{
	uint64_t ad = 0;
	unsigned i;

	for (i = 0; i < EPT_PTRS_PER_TABLE; i++)
		ad |= ept_read(&pt[i]) & (EPT_A | EPT_D);
	if (ad)
		__atomic_fetch_or(pdep, ad, __ATOMIC_ACQ_REL);
}

int ept_collapse_locked(struct ept *ept, gfn_t gfn)
{
	uint64_t *pdep, *pt, pde, leaf;

	ept_assert_held(ept);
	if (gfn >= EPT_GFN_LIMIT)
		return -EINVAL;
	pdep = ept_pde_slot(ept, gfn);
	pde = pdep ? ept_read(pdep) : 0;
	if (!pde)
		return -ENOENT;
	if (ept_pde_is_leaf(pde))
		return -EINVAL;         /* already 2 MiB */
	pt = ept_table_va(ept, ept_entry_pfn(pde));
	leaf = collapse_target(pt);
	if (!leaf)
		return -EINVAL;
	ept_write(pdep, leaf);
	collapse_carry_ad(pdep, pt);
	ept_stat_add(ept, EPT_PRESENT_4K, -(long)EPT_PTRS_PER_TABLE);
	ept_stat_add(ept, EPT_PRESENT_2M, 1);
	ept_free_table(ept, ept_entry_pfn(pde));
	return 0;
}

int ept_collapse(struct ept *ept, gfn_t gfn)
{
	return EPT_LOCKED_CALL(ept, ept_collapse_locked(ept, gfn));
}
