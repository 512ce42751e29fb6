/*
 * Range walks: the walker every range operation is built on (the kernel's
 * walk_page_range()), and the range operations themselves: ept_walk(),
 * ept_protect() (change_protection()), ept_harvest_ad() (idle page
 * tracking / the dirty log) and ept_mkyoung().
 */
#include <errno.h>

#include "ept/internal.h"

static int walk_table(struct ept *ept, uint64_t *t, int level, gfn_t base,
		      gfn_t start, gfn_t end, struct ept_walk_ctl *c);

/* A 2 MiB leaf only partly inside [start, end). */
static bool straddles(gfn_t g, gfn_t start, gfn_t end)
{
	return g < start || g + (1ULL << EPT_ORDER_2M) > end;
}

/* One entry of a table at level: a leaf goes to c->leaf, a table is
 * walked. Entries above level 2 are tables (gmm makes no 1 GiB leaf;
 * ept_check() reports one). */
static int walk_entry(struct ept *ept, uint64_t *ep, int level, gfn_t g,
		      gfn_t start, gfn_t end, struct ept_walk_ctl *c)
{
	uint64_t e = ept_read(ep);
	int err;

	if (!e)
		return 0;
	if (level == 1)
		return c->leaf(ept, ep, g, EPT_ORDER_4K, c->priv);
	if (level == 2 && ept_pde_is_leaf(e)) {
		if (!c->split_partial || !straddles(g, start, end))
			return c->leaf(ept, ep, g, EPT_ORDER_2M, c->priv);
		err = ept_split_locked(ept, g);
		if (err)
			return err;
		e = ept_read(ep);
	}
	if (!ept_entry_present(e) || (e & EPT_PS))
		return 0;
	return walk_table(ept, ept_table_va(ept, ept_entry_pfn(e)), level - 1,
			  g, start, end, c);
}

static int walk_table(struct ept *ept, uint64_t *t, int level, gfn_t base,
		      gfn_t start, gfn_t end, struct ept_walk_ctl *c)
{
	unsigned shift = ept_level_shift(level);
	unsigned i = start > base ? (unsigned)((start - base) >> shift) : 0;
	int ret;

	for (; i < EPT_PTRS_PER_TABLE; i++) {
		gfn_t g = base + ((gfn_t)i << shift);

		if (g >= end)
			break;
		ret = walk_entry(ept, &t[i], level, g, start, end, c);
		if (ret)
			return ret;
	}
	return 0;
}

int ept_walk_range(struct ept *ept, gfn_t start, gfn_t end, struct ept_walk_ctl *c)
{
	ept_assert_held(ept);
	return walk_table(ept, ept->pml4, EPT_LEVELS, 0, start, end, c);
}

/* ept_walk(): hand the callback a copy of each leaf. */
struct walk_user {
	ept_walk_fn cb;
	void *arg;
};

static int walk_user_leaf(struct ept *ept, uint64_t *ep, gfn_t gfn, unsigned order, void *priv)
{
	struct walk_user *w = priv;

	(void)ept;
	return w->cb(gfn, ept_read(ep), order, w->arg);
}

int ept_walk_locked(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, ept_walk_fn cb, void *arg)
{
	struct walk_user w = { .cb = cb, .arg = arg };
	struct ept_walk_ctl c = { .leaf = walk_user_leaf, .priv = &w };

	if (!cb || !ept_range_valid(gfn_start, gfn_end))
		return -EINVAL;
	return ept_walk_range(ept, gfn_start, gfn_end, &c);
}

int ept_walk(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, ept_walk_fn cb, void *arg)
{
	return EPT_LOCKED_CALL(ept, ept_walk_locked(ept, gfn_start, gfn_end, cb, arg));
}

/* change_pte_range(): new permissions for present and revoked leaves,
 * compare-exchanged so A/D set meanwhile by the CPU stay. */
static int protect_leaf(struct ept *ept, uint64_t *ep, gfn_t gfn, unsigned order, void *priv)
{
	uint64_t prot = *(uint64_t *)priv;
	uint64_t e = ept_read(ep), n;

	(void)ept, (void)gfn, (void)order;
	do {
		unsigned s = ept_entry_state(e);

		if (s != EPT_STATE_PRESENT && s != EPT_STATE_MIGRATING &&
		    s != EPT_STATE_ACCESS_TEST)
			return 0;
		n = ept_entry_with_prot(e, prot);
	} while (!__atomic_compare_exchange_n(ep, &e, n, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

int ept_protect_locked(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, uint64_t prot)
{
	struct ept_walk_ctl c = { .leaf = protect_leaf, .priv = &prot, .split_partial = true };

	ept_assert_held(ept);
	if (!ept_prot_valid(prot) || !ept_range_valid(gfn_start, gfn_end))
		return -EINVAL;
	return ept_walk_range(ept, gfn_start, gfn_end, &c);
}

int ept_protect(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, uint64_t prot)
{
	return EPT_LOCKED_CALL(ept, ept_protect_locked(ept, gfn_start, gfn_end, prot));
}

struct harvest_ctl {
	gfn_t start, end;
	uint64_t *young, *dirty;
	uint64_t mask;          /* EPT_A and/or EPT_D: what to test and clear */
	long nr_reported;
};

static void bitmap_set_range(uint64_t *map, uint64_t from, uint64_t to)
{
	for (; from < to; from++)
		map[from / 64] |= 1ULL << (from % 64);
}

/* ptep_test_and_clear_young(), for A and D at once: one atomic AND. */
static int harvest_leaf(struct ept *ept, uint64_t *ep, gfn_t gfn, unsigned order, void *priv)
{
	struct harvest_ctl *h = priv;
	gfn_t lo = gfn > h->start ? gfn : h->start;
	gfn_t hi = gfn + (1ULL << order) < h->end ? gfn + (1ULL << order) : h->end;
	uint64_t had;

	(void)ept;
	if (!ept_entry_present(ept_read(ep)))
		return 0;
	had = __atomic_fetch_and(ep, ~h->mask, __ATOMIC_ACQ_REL) & h->mask;
	if (!had)
		return 0;
	if (had & EPT_A)
		bitmap_set_range(h->young, lo - h->start, hi - h->start);
	if (had & EPT_D)
		bitmap_set_range(h->dirty, lo - h->start, hi - h->start);
	h->nr_reported++;
	return 0;
}

long ept_harvest_ad(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end,
		    uint64_t *young, uint64_t *dirty)
{
	struct harvest_ctl h = {
		.start = gfn_start, .end = gfn_end, .young = young, .dirty = dirty,
		.mask = (young ? EPT_A : 0) | (dirty ? EPT_D : 0),
	};
	struct ept_walk_ctl c = { .leaf = harvest_leaf, .priv = &h };

	if (!ept_range_valid(gfn_start, gfn_end))
		return -EINVAL;
	if (!h.mask)
		return 0;
	ept_lock(ept);
	ept_walk_range(ept, gfn_start, gfn_end, &c);
	ept_unlock(ept);
	return h.nr_reported;
}

int ept_mkyoung(struct ept *ept, gfn_t gfn, bool dirty)
{
	uint64_t *ep = NULL, e;
	unsigned order;
	int ret;

	ept_lock(ept);
	ret = ept_lookup_locked(ept, gfn, &e, &order);
	if (!ret && ept_entry_present(e))
		ep = ept_leaf_slot(ept, gfn, order, false, &ret);
	if (ep)
		__atomic_fetch_or(ep, EPT_A | (dirty ? EPT_D : 0), __ATOMIC_ACQ_REL);
	else if (!ret)
		ret = -ENOENT;
	ept_unlock(ept);
	return ep ? 0 : ret;
}
