/* ept/: split and collapse of 2 MiB leaves, and a randomized run of every
 * operation against a reference map, checked entry by entry. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept/ept.h"
#include "tests/unit/test_ept.h"

#define RWX (EPT_PROT_READ | EPT_PROT_WRITE | EPT_PROT_EXEC)

static struct test_tables tt;
static struct ept *ept;

static void setup(void)
{
	test_tables_init(&tt);
	ept = test_ept_create(&tt);
}

static void teardown(void)
{
	cr_expect_eq(ept_check(ept, stderr), 0);
	ept_destroy(ept);
	cr_expect_eq(tt.live, 0);
	cr_expect_eq(tt.bad_frees, 0);
	test_tables_fini(&tt);
}

TestSuite(ept_split, .init = setup, .fini = teardown);

static uint64_t entry_at(gfn_t gfn, unsigned *order)
{
	uint64_t e;

	cr_assert_eq(ept_lookup(ept, gfn, &e, order), 0);
	return e;
}

static void map_run(gfn_t gfn, pfn_t pfn, unsigned n, uint64_t prot)
{
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(ept_map(ept, gfn + i, pfn + i, 0, prot), 0);
}

Test(ept_split, split_2m_leaf_gives_512_contiguous_4k_entries)
{
	uint64_t prot = EPT_PROT_READ | EPT_PROT_EXEC, hpa;
	unsigned order, i;

	cr_assert_eq(ept_map(ept, 2048, 0x8000, EPT_ORDER_2M, prot), 0);
	cr_assert_eq(ept_mkyoung(ept, 2048, true), 0);
	cr_assert_eq(ept_split(ept, 2048 + 100), 0);
	for (i = 0; i < 512; i++) {
		uint64_t e = entry_at(2048 + i, &order);

		cr_assert_eq(order, 0);
		cr_assert_eq(ept_entry_pfn(e), 0x8000 + i);
		cr_assert_eq(ept_entry_prot(e), prot);
		cr_assert_eq(e & (EPT_A | EPT_D), EPT_A | EPT_D, "A/D kept");
		cr_assert_eq(e & EPT_PS, 0);
		cr_assert_eq(e & 0x78, 0x70, "WB + IPAT kept");
	}
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), (2048 + 300ULL) << 12, EPT_X, &hpa), 0);
	cr_assert_eq(hpa, (0x8000ULL + 300) << 12);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 512);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 0);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 4);
}

Test(ept_split, split_of_software_2m_entries_keeps_their_state)
{
	unsigned order;
	uint64_t e;

	cr_assert_eq(ept_set_ballooned(ept, 0, EPT_ORDER_2M, NULL), 0);
	cr_assert_eq(ept_split(ept, 0), 0);
	e = entry_at(17, &order);
	cr_assert_eq(ept_entry_state(e), EPT_STATE_BALLOONED);
	cr_assert_eq(order, 0);
	cr_assert_eq(ept_stat(ept, EPT_BALLOONED), 512);

	cr_assert_eq(ept_map(ept, 512, 1024, EPT_ORDER_2M, EPT_PROT_READ), 0);
	cr_assert_eq(ept_set_access_test(ept, 512, EPT_ORDER_2M, NULL), 0);
	cr_assert_eq(ept_split(ept, 512), 0);
	e = entry_at(512 + 9, &order);
	cr_assert_eq(ept_entry_state(e), EPT_STATE_ACCESS_TEST);
	cr_assert_eq(ept_entry_pfn(e), 1024 + 9);
	cr_assert_eq(ept_restore(ept, 512 + 9, 0), 0);
	cr_assert_eq(ept_entry_prot(entry_at(512 + 9, &order)), EPT_PROT_READ);
	cr_assert_eq(ept_stat(ept, EPT_ACCESS_TEST), 511);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 1);
}

Test(ept_split, split_refuses_page_tables_and_holes)
{
	cr_assert_eq(ept_split(ept, 0), -ENOENT);
	cr_assert_eq(ept_map(ept, 3, 3, 0, RWX), 0);
	cr_assert_eq(ept_split(ept, 0), -EINVAL);
	cr_assert_eq(ept_split(ept, EPT_GFN_LIMIT), -EINVAL);
}

Test(ept_split, split_without_memory_is_enomem_and_keeps_the_leaf)
{
	unsigned order;

	cr_assert_eq(ept_map(ept, 512, 512, EPT_ORDER_2M, RWX), 0);
	tt.fail_after = 0;
	cr_assert_eq(ept_split(ept, 512), -ENOMEM);
	cr_assert_eq(ept_protect(ept, 512, 513, EPT_PROT_READ), -ENOMEM);
	tt.fail_after = -1;
	entry_at(600, &order);
	cr_assert_eq(order, EPT_ORDER_2M);
}

Test(ept_split, collapse_of_contiguous_entries_gives_2m_leaf_and_frees_table)
{
	unsigned order;
	uint64_t e, hpa;

	map_run(1024, 0x4000, 512, RWX);
	cr_assert_eq(ept_mkyoung(ept, 1030, false), 0);
	cr_assert_eq(ept_mkyoung(ept, 1500, true), 0);
	cr_assert_eq(tt.live, 4);
	cr_assert_eq(ept_collapse(ept, 1200), 0);
	cr_assert_eq(tt.live, 3, "the page table went back");
	e = entry_at(1111, &order);
	cr_assert_eq(order, EPT_ORDER_2M);
	cr_assert_eq(e, (0x4000ULL << 12) | EPT_PS | 0x77 | EPT_A | EPT_D, "A/D are the OR");
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), 1111ULL << 12, EPT_W, &hpa), 0);
	cr_assert_eq(hpa, (0x4000ULL + 87) << 12);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 1);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 0);
	cr_assert_eq(ept_collapse(ept, 1024), -EINVAL, "already 2M");
}

Test(ept_split, collapse_refuses_non_contiguous_frames)
{
	map_run(0, 0x4000, 300, RWX);
	map_run(300, 0x4000 + 301, 212, RWX);
	cr_assert_eq(ept_collapse(ept, 0), -EINVAL);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 512, "nothing changed");
}

Test(ept_split, collapse_refuses_mixed_permissions)
{
	map_run(0, 0x4000, 511, RWX);
	map_run(511, 0x4000 + 511, 1, EPT_PROT_READ);
	cr_assert_eq(ept_collapse(ept, 0), -EINVAL);
}

Test(ept_split, collapse_refuses_a_misaligned_frame_run)
{
	map_run(0, 0x4001, 512, RWX);
	cr_assert_eq(ept_collapse(ept, 0), -EINVAL);
}

Test(ept_split, collapse_refuses_holes_and_software_entries)
{
	map_run(0, 0x4000, 512, RWX);
	cr_assert_eq(ept_unmap(ept, 77, 0, NULL), 0);
	cr_assert_eq(ept_collapse(ept, 0), -EINVAL);
	cr_assert_eq(ept_set_swapped(ept, 77, 0, 1, NULL), 0);
	cr_assert_eq(ept_collapse(ept, 0), -EINVAL);
	cr_assert_eq(ept_collapse(ept, 512), -ENOENT);
}

Test(ept_split, split_then_collapse_gives_back_the_same_leaf)
{
	uint64_t before, after;
	unsigned order;

	cr_assert_eq(ept_map(ept, 512, 0x600, EPT_ORDER_2M, EPT_PROT_READ | EPT_PROT_UEXEC | EPT_PROT_EXEC), 0);
	before = entry_at(512, &order);
	cr_assert_eq(ept_split(ept, 512), 0);
	cr_assert_eq(ept_collapse(ept, 512), 0);
	after = entry_at(512, &order);
	cr_assert_eq(after, before);
	cr_assert_eq(tt.live, 3);
}

/* ---- randomized run against a reference map ---- */

#define NR_REGIONS 6
#define REGION_GFNS 512u

/* 2 MiB regions spread over different PML4/PDPT/PD slots, two adjacent. */
static const gfn_t region_base[NR_REGIONS] = {
	0, 512, 1ULL << 18, 1ULL << 27, (1ULL << 27) + (5ULL << 18), EPT_GFN_LIMIT - 512,
};

struct ref_page {
	unsigned state;         /* EPT_STATE_* */
	pfn_t pfn;
	uint64_t prot;
	unsigned swp_type;
	uint64_t swp_off;
};

struct ref_region {
	struct ref_page pg[REGION_GFNS];
	bool is_2m;             /* one 2 MiB leaf (present or software) */
	bool has_table;         /* a page table exists */
	pfn_t pfn_base;         /* frames this region's maps come from */
};

struct ref {
	struct ref_region r[NR_REGIONS];
	uint64_t seed;
	unsigned nr_split, nr_collapsed, nr_map2m, nr_revoked; /* successes */
};

static uint64_t rnd(struct ref *m)
{
	/* xorshift64*: reproducible from the printed seed */
	m->seed ^= m->seed >> 12;
	m->seed ^= m->seed << 25;
	m->seed ^= m->seed >> 27;
	return m->seed * 2685821657736338717ULL;
}

static uint64_t rnd_prot(struct ref *m)
{
	static const uint64_t p[] = { RWX, RWX, RWX, EPT_PROT_READ,
				      EPT_PROT_READ | EPT_PROT_WRITE, EPT_PROT_EXEC | EPT_PROT_UEXEC };

	return p[rnd(m) % 6];
}

static bool region_all(struct ref_region *r, unsigned state)
{
	for (unsigned i = 0; i < REGION_GFNS; i++)
		if (r->pg[i].state != state)
			return false;
	return true;
}

/* The lookup the model predicts for region r page i. */
static void expect_entry(struct ref_region *r, gfn_t base, unsigned i)
{
	struct ref_page *p = &r->pg[i];
	unsigned order;
	uint64_t e = entry_at(base + i, &order);

	cr_assert_eq(ept_entry_state(e), p->state, "gfn 0x%lx: state %u, model %u",
		     base + i, ept_entry_state(e), p->state);
	cr_assert_eq(order, r->is_2m || !r->has_table ? EPT_ORDER_2M : 0, "gfn 0x%lx order", base + i);
	switch (p->state) {
	case EPT_STATE_PRESENT:
	case EPT_STATE_MIGRATING:
	case EPT_STATE_ACCESS_TEST:
		cr_assert_eq(ept_entry_pfn(e) + (order ? i : 0), p->pfn, "gfn 0x%lx pfn", base + i);
		cr_assert_eq(ept_entry_prot(e), p->prot, "gfn 0x%lx prot", base + i);
		break;
	case EPT_STATE_SWAPPED:
		cr_assert_eq(ept_swp_type(e), p->swp_type);
		cr_assert_eq(ept_swp_offset(e), p->swp_off);
		break;
	default:
		break;
	}
}

static void expect_counters(struct ref *m)
{
	uint64_t n[NR_EPT_STAT_ITEMS] = { 0 };

	for (int k = 0; k < NR_REGIONS; k++) {
		struct ref_region *r = &m->r[k];

		for (unsigned i = 0; i < REGION_GFNS; i++) {
			switch (r->pg[i].state) {
			case EPT_STATE_PRESENT:
				if (r->is_2m)
					n[EPT_PRESENT_2M] += i == 0;
				else
					n[EPT_PRESENT_4K]++;
				break;
			case EPT_STATE_SWAPPED:     n[EPT_SWAPPED]++; break;
			case EPT_STATE_BALLOONED:   n[EPT_BALLOONED]++; break;
			case EPT_STATE_MIGRATING:   n[EPT_MIGRATING]++; break;
			case EPT_STATE_ACCESS_TEST: n[EPT_ACCESS_TEST]++; break;
			}
		}
	}
	for (int s = EPT_PRESENT_4K; s < NR_EPT_STAT_ITEMS; s++)
		cr_assert_eq(ept_stat(ept, s), n[s], "%s: %lu, model %lu", ept_stat_names[s],
			     ept_stat(ept, s), n[s]);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), tt.live);
}

static void set_present(struct ref_page *p, pfn_t pfn, uint64_t prot)
{
	*p = (struct ref_page){ .state = EPT_STATE_PRESENT, .pfn = pfn, .prot = prot };
}

static void op_map4k(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	pfn_t pfn = rnd(m) % 4 ? r->pfn_base + i : rnd(m) % EPT_PFN_LIMIT;
	uint64_t prot = rnd(m) % 3 ? RWX : rnd_prot(m);
	int want = 0, ret;

	if (r->is_2m || r->pg[i].state == EPT_STATE_PRESENT)
		want = -EEXIST;
	ret = ept_map(ept, base + i, pfn, 0, prot);
	cr_assert_eq(ret, want, "map4k gfn 0x%lx: %d, model %d", base + i, ret, want);
	if (!ret) {
		set_present(&r->pg[i], pfn, prot);
		r->has_table = true;
	}
}

/* Fill every hole of a region with its contiguous frames: collapse bait. */
static void op_populate(struct ref_region *r, gfn_t base)
{
	if (r->is_2m)
		return;
	for (unsigned i = 0; i < REGION_GFNS; i++) {
		if (r->pg[i].state != EPT_STATE_NONE)
			continue;
		cr_assert_eq(ept_map(ept, base + i, r->pfn_base + i, 0, RWX), 0);
		set_present(&r->pg[i], r->pfn_base + i, RWX);
		r->has_table = true;
	}
}

static void op_map2m(struct ref *m, struct ref_region *r, gfn_t base)
{
	uint64_t prot = rnd_prot(m);
	int want = 0, ret;

	if (r->is_2m ? r->pg[0].state == EPT_STATE_PRESENT : !region_all(r, EPT_STATE_NONE))
		want = -EEXIST;
	ret = ept_map(ept, base, r->pfn_base, EPT_ORDER_2M, prot);
	cr_assert_eq(ret, want, "map2m 0x%lx", base);
	if (ret)
		return;
	for (unsigned i = 0; i < REGION_GFNS; i++)
		set_present(&r->pg[i], r->pfn_base + i, prot);
	r->is_2m = true;
	r->has_table = false;
	m->nr_map2m++;
}

static void expect_old(struct ref_page *p, uint64_t old, unsigned i, bool huge)
{
	cr_assert_eq(ept_entry_state(old), p->state);
	if (p->state == EPT_STATE_PRESENT)
		cr_assert_eq(ept_entry_pfn(old) + (huge ? i : 0), p->pfn);
}

static void op_unmap(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	bool huge = rnd(m) % 4 == 0;
	uint64_t old = 0;
	int want, ret;

	if (huge) {
		i = 0;
		want = r->is_2m ? 0 : r->has_table ? -EINVAL : -ENOENT;
	} else {
		want = r->is_2m ? -EINVAL : r->pg[i].state == EPT_STATE_NONE ? -ENOENT : 0;
	}
	ret = ept_unmap(ept, base + i, huge ? EPT_ORDER_2M : 0, &old);
	cr_assert_eq(ret, want, "unmap gfn 0x%lx huge %d: %d, model %d", base + i, huge, ret, want);
	if (ret)
		return;
	expect_old(&r->pg[i], old, i, huge);
	for (unsigned j = huge ? 0 : i; j < (huge ? REGION_GFNS : i + 1); j++)
		r->pg[j] = (struct ref_page){ .state = EPT_STATE_NONE };
	if (huge)
		r->is_2m = false;
}

static void op_swap(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	unsigned type = rnd(m) % 64;
	uint64_t off = rnd(m) % (1ULL << 40);
	int ret = ept_set_swapped(ept, base + i, type, off, NULL);

	cr_assert_eq(ret, r->is_2m ? -EEXIST : 0, "swap gfn 0x%lx", base + i);
	if (ret)
		return;
	r->pg[i] = (struct ref_page){ .state = EPT_STATE_SWAPPED, .swp_type = type, .swp_off = off };
	r->has_table = true;
}

static void op_balloon(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	bool huge = rnd(m) % 4 == 0;
	int want, ret;

	if (huge)
		want = r->is_2m || region_all(r, EPT_STATE_NONE) ? 0 : -EEXIST;
	else
		want = r->is_2m ? -EEXIST : 0;
	ret = ept_set_ballooned(ept, huge ? base : base + i, huge ? EPT_ORDER_2M : 0, NULL);
	cr_assert_eq(ret, want, "balloon gfn 0x%lx huge %d", base + i, huge);
	if (ret)
		return;
	for (unsigned j = huge ? 0 : i; j < (huge ? REGION_GFNS : i + 1); j++)
		r->pg[j] = (struct ref_page){ .state = EPT_STATE_BALLOONED };
	if (huge) {
		r->is_2m = true;
		r->has_table = false;
	} else {
		r->has_table = true;
	}
}

/* set_migrating / set_access_test / restore: leaf must be of that order. */
static int revoke_want(struct ref_region *r, unsigned i, bool huge, bool restore)
{
	unsigned s;

	if (huge != r->is_2m)
		return huge && !r->has_table ? -ENOENT : -EINVAL;
	s = r->pg[huge ? 0 : i].state;
	if (restore)
		return s == EPT_STATE_MIGRATING || s == EPT_STATE_ACCESS_TEST ? 0 :
		       s == EPT_STATE_NONE ? -ENOENT : -EINVAL;
	return s == EPT_STATE_PRESENT ? 0 : -ENOENT;
}

static void op_revoke(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	bool huge = rnd(m) % 3 == 0;
	unsigned kind = rnd(m) % 3, order = huge ? EPT_ORDER_2M : 0;
	gfn_t gfn = huge ? base : base + i;
	int want = revoke_want(r, i, huge, kind == 2), ret;

	if (!huge && r->is_2m)
		want = -EINVAL;
	if (kind == 0)
		ret = ept_set_migrating(ept, gfn, order, NULL);
	else if (kind == 1)
		ret = ept_set_access_test(ept, gfn, order, NULL);
	else
		ret = ept_restore(ept, gfn, order);
	cr_assert_eq(ret, want, "revoke kind %u gfn 0x%lx huge %d: %d, model %d",
		     kind, gfn, huge, ret, want);
	if (ret)
		return;
	m->nr_revoked++;
	for (unsigned j = huge ? 0 : i; j < (huge ? REGION_GFNS : i + 1); j++)
		r->pg[j].state = kind == 0 ? EPT_STATE_MIGRATING :
				 kind == 1 ? EPT_STATE_ACCESS_TEST : EPT_STATE_PRESENT;
}

static void op_protect(struct ref *m, struct ref_region *r, gfn_t base)
{
	unsigned a = rnd(m) % REGION_GFNS, b = rnd(m) % REGION_GFNS;
	uint64_t prot = rnd_prot(m);
	unsigned lo = a < b ? a : b, hi = (a < b ? b : a) + 1;

	if (rnd(m) % 4 == 0)
		lo = 0, hi = REGION_GFNS;
	cr_assert_eq(ept_protect(ept, base + lo, base + hi, prot), 0);
	if (r->is_2m && (lo != 0 || hi != REGION_GFNS)) {
		r->is_2m = false;       /* split_huge_pmd() */
		r->has_table = true;
	}
	for (unsigned j = lo; j < hi; j++) {
		unsigned s = r->pg[j].state;

		if (s == EPT_STATE_PRESENT || s == EPT_STATE_MIGRATING || s == EPT_STATE_ACCESS_TEST)
			r->pg[j].prot = prot;
	}
}

static void op_split(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	int want = r->is_2m ? 0 : r->has_table ? -EINVAL : -ENOENT;

	cr_assert_eq(ept_split(ept, base + i), want, "split 0x%lx", base + i);
	if (!want) {
		r->is_2m = false;
		r->has_table = true;
		m->nr_split++;
	}
}

static bool collapsible(struct ref_region *r)
{
	struct ref_page *p0 = &r->pg[0];

	if (p0->state != EPT_STATE_PRESENT || p0->pfn % REGION_GFNS)
		return false;
	for (unsigned i = 0; i < REGION_GFNS; i++) {
		struct ref_page *p = &r->pg[i];

		if (p->state != EPT_STATE_PRESENT || p->pfn != p0->pfn + i || p->prot != p0->prot)
			return false;
	}
	return true;
}

static void op_collapse(struct ref *m, struct ref_region *r, gfn_t base, unsigned i)
{
	int want = r->is_2m ? -EINVAL : !r->has_table ? -ENOENT : collapsible(r) ? 0 : -EINVAL;

	cr_assert_eq(ept_collapse(ept, base + i), want, "collapse 0x%lx", base + i);
	if (!want) {
		r->is_2m = true;
		r->has_table = false;
		m->nr_collapsed++;
	}
}

/* Empty a region (zap_page_range()), so 2 MiB maps get their chance. */
static void op_zap(struct ref_region *r, gfn_t base)
{
	if (r->is_2m) {
		cr_assert_eq(ept_unmap(ept, base, EPT_ORDER_2M, NULL), 0);
		r->is_2m = false;
		memset(r->pg, 0, sizeof(r->pg));        /* all NONE */
		return;
	}
	for (unsigned i = 0; i < REGION_GFNS; i++) {
		if (r->pg[i].state == EPT_STATE_NONE)
			continue;
		cr_assert_eq(ept_unmap(ept, base + i, 0, NULL), 0);
		r->pg[i].state = EPT_STATE_NONE;
	}
}

static void random_op(struct ref *m)
{
	int k = (int)(rnd(m) % NR_REGIONS);
	struct ref_region *r = &m->r[k];
	unsigned i = (unsigned)(rnd(m) % REGION_GFNS);
	gfn_t base = region_base[k];

	switch (rnd(m) % 20) {
	case 0: case 1: case 2: case 3: op_map4k(m, r, base, i); break;
	case 4: case 5: op_populate(r, base); break;
	case 6: case 7: op_map2m(m, r, base); break;
	case 8: case 9: op_unmap(m, r, base, i); break;
	case 10: op_swap(m, r, base, i); break;
	case 11: op_balloon(m, r, base, i); break;
	case 12: case 13: op_revoke(m, r, base, i); break;
	case 14: op_protect(m, r, base); break;
	case 15: op_split(m, r, base, i); break;
	case 16: op_zap(r, base); break;
	default: op_collapse(m, r, base, i); break;
	}
}

static void expect_all(struct ref *m)
{
	for (int k = 0; k < NR_REGIONS; k++)
		for (unsigned i = 0; i < REGION_GFNS; i++)
			expect_entry(&m->r[k], region_base[k], i);
	expect_counters(m);
	cr_assert_eq(ept_check(ept, stderr), 0);
}

Test(ept_split, random_ops_match_a_reference_map, .timeout = 120)
{
	struct ref *m = calloc(1, sizeof(*m));
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int n;

	cr_assert_not_null(m);
	if (getenv("EPT_TEST_SEED"))
		seed = strtoull(getenv("EPT_TEST_SEED"), NULL, 0);
	cr_log_info("ept random test seed 0x%lx", seed);
	m->seed = seed;
	for (int k = 0; k < NR_REGIONS; k++)
		m->r[k].pfn_base = 0x10000 + (pfn_t)k * 4096;   /* 2M-aligned */
	for (n = 0; n < 20000; n++) {
		random_op(m);
		if (n % 500 == 0)
			expect_all(m);
	}
	expect_all(m);
	cr_log_info("split %u collapsed %u map2m %u revoked %u",
		    m->nr_split, m->nr_collapsed, m->nr_map2m, m->nr_revoked);
	/* the run must have exercised the interesting paths, not only refusals */
	cr_assert_gt(m->nr_split, 10);
	cr_assert_gt(m->nr_collapsed, 10);
	cr_assert_gt(m->nr_map2m, 10);
	cr_assert_gt(m->nr_revoked, 100);
	free(m);
}
