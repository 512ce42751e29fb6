/*
 * Installing and removing leaves: map, unmap, the software states, and
 * restore. The twins of set_pte_at(), ptep_get_and_clear(),
 * set_pte_at(swp_entry_to_pte()) and remove_migration_pte().
 */
#include <errno.h>

#include "ept/internal.h"

static int check_gfn_order(gfn_t gfn, unsigned order)
{
	if (order != EPT_ORDER_4K && order != EPT_ORDER_2M)
		return -EINVAL;
	if (gfn >= EPT_GFN_LIMIT || (gfn & ((1ULL << order) - 1)))
		return -EINVAL;
	return 0;
}

static bool pt_all_none(const uint64_t *pt)
{
	unsigned i;

	for (i = 0; i < EPT_PTRS_PER_TABLE; i++)
		if (pt[i])
			return false;
	return true;
}

/*
 * The slot a new leaf of order goes in, tables allocated on the way. A
 * 2 MiB leaf may replace a page table only if it holds nothing: the table
 * is freed (as a THP fault may reuse an empty pmd).
 */
static int install_slot(struct ept *ept, gfn_t gfn, unsigned order, uint64_t **epp)
{
	uint64_t *ep, e;
	int err = 0;

	ep = ept_leaf_slot(ept, gfn, order, true, &err);
	if (!ep)
		return err;
	e = ept_read(ep);
	if (order == EPT_ORDER_2M && e && !ept_pde_is_leaf(e)) {
		if (!pt_all_none(ept_table_va(ept, ept_entry_pfn(e))))
			return -EEXIST;
		ept_write(ep, 0);
		ept_free_table(ept, ept_entry_pfn(e));
	}
	*epp = ep;
	return 0;
}

/* The existing non-NONE leaf of exactly this order at gfn. */
static int find_leaf(struct ept *ept, gfn_t gfn, unsigned order, uint64_t **epp)
{
	uint64_t *ep, e;
	int err = 0;

	ep = ept_leaf_slot(ept, gfn, order, false, &err);
	if (!ep)
		return err == -EEXIST ? -EINVAL : -ENOENT; /* -EEXIST: a 2M leaf */
	e = ept_read(ep);
	if (!e)
		return -ENOENT;
	if (order == EPT_ORDER_2M && !ept_pde_is_leaf(e))
		return -EINVAL;                             /* a page table */
	*epp = ep;
	return 0;
}

int ept_map_locked(struct ept *ept, gfn_t gfn, pfn_t pfn, unsigned order, uint64_t prot)
{
	uint64_t *ep;
	int err;

	ept_assert_held(ept);
	err = check_gfn_order(gfn, order);
	if (err)
		return err;
	if (!ept_prot_valid(prot) || pfn >= EPT_PFN_LIMIT ||
	    (pfn & ((1ULL << order) - 1)))
		return -EINVAL;
	err = install_slot(ept, gfn, order, &ep);
	if (err)
		return err;
	if (ept_entry_present(ept_read(ep)))
		return -EEXIST;
	ept_set_leaf(ept, ep, order, ept_mk_leaf(pfn, order, prot));
	return 0;
}

int ept_unmap_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	uint64_t *ep, o;
	int err;

	ept_assert_held(ept);
	err = check_gfn_order(gfn, order);
	if (!err)
		err = find_leaf(ept, gfn, order, &ep);
	if (err)
		return err;
	o = ept_set_leaf(ept, ep, order, 0);
	if (old)
		*old = o;
	return 0;
}

/* Put a software entry sw of order at gfn over whatever leaf is there. */
static int install_sw(struct ept *ept, gfn_t gfn, unsigned order, uint64_t sw, uint64_t *old)
{
	uint64_t *ep, o;
	int err;

	ept_assert_held(ept);
	err = check_gfn_order(gfn, order);
	if (!err)
		err = install_slot(ept, gfn, order, &ep);
	if (err)
		return err;
	o = ept_set_leaf(ept, ep, order, sw);
	if (old)
		*old = o;
	return 0;
}

int ept_set_swapped_locked(struct ept *ept, gfn_t gfn, unsigned type, uint64_t offset, uint64_t *old)
{
	if (!ept_swp_valid(type, offset))
		return -EINVAL;
	return install_sw(ept, gfn, EPT_ORDER_4K, ept_mk_swp(type, offset), old);
}

int ept_set_ballooned_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return install_sw(ept, gfn, order, ept_mk_ballooned(order), old);
}

/* Present -> MIGRATING/ACCESS_TEST. A compare-exchange loop, not a plain
 * store: the CPU may set A/D while we compute, and they must survive. */
static int revoke(struct ept *ept, gfn_t gfn, unsigned order, unsigned state, uint64_t *old)
{
	uint64_t *ep, e, n;
	int err;

	ept_assert_held(ept);
	err = check_gfn_order(gfn, order);
	if (!err)
		err = find_leaf(ept, gfn, order, &ep);
	if (err)
		return err;
	e = ept_read(ep);
	do {
		if (!ept_entry_present(e))
			return -ENOENT;
		n = ept_mk_revoked(e, state);
	} while (!__atomic_compare_exchange_n(ep, &e, n, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	ept_account(ept, e, order, -1);
	ept_account(ept, n, order, 1);
	if (old)
		*old = e;
	return 0;
}

int ept_set_migrating_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return revoke(ept, gfn, order, EPT_STATE_MIGRATING, old);
}

int ept_set_access_test_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return revoke(ept, gfn, order, EPT_STATE_ACCESS_TEST, old);
}

int ept_restore_locked(struct ept *ept, gfn_t gfn, unsigned order)
{
	uint64_t *ep, e;
	int err;

	ept_assert_held(ept);
	err = check_gfn_order(gfn, order);
	if (!err)
		err = find_leaf(ept, gfn, order, &ep);
	if (err)
		return err;
	e = ept_read(ep);
	if (ept_entry_state(e) != EPT_STATE_MIGRATING &&
	    ept_entry_state(e) != EPT_STATE_ACCESS_TEST)
		return -EINVAL;
	ept_set_leaf(ept, ep, order, ept_mk_restored(e));
	return 0;
}

/* The one-call forms: take the lock around the _locked op. */

int ept_map(struct ept *ept, gfn_t gfn, pfn_t pfn, unsigned order, uint64_t prot)
{
	return EPT_LOCKED_CALL(ept, ept_map_locked(ept, gfn, pfn, order, prot));
}

int ept_unmap(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return EPT_LOCKED_CALL(ept, ept_unmap_locked(ept, gfn, order, old));
}

int ept_set_swapped(struct ept *ept, gfn_t gfn, unsigned type, uint64_t offset, uint64_t *old)
{
	return EPT_LOCKED_CALL(ept, ept_set_swapped_locked(ept, gfn, type, offset, old));
}

int ept_set_ballooned(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return EPT_LOCKED_CALL(ept, ept_set_ballooned_locked(ept, gfn, order, old));
}

int ept_set_migrating(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return EPT_LOCKED_CALL(ept, ept_set_migrating_locked(ept, gfn, order, old));
}

int ept_set_access_test(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old)
{
	return EPT_LOCKED_CALL(ept, ept_set_access_test_locked(ept, gfn, order, old));
}

int ept_restore(struct ept *ept, gfn_t gfn, unsigned order)
{
	return EPT_LOCKED_CALL(ept, ept_restore_locked(ept, gfn, order));
}
