/* ept/: entry format against the SDM, map/lookup/unmap, software states,
 * protect, walks, A/D harvesting, counters, table frames, dumps. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept/ept.h"
#include "tests/unit/test_ept.h"

#define BIT(n) (1ULL << (n))
#define RWX    (EPT_PROT_READ | EPT_PROT_WRITE | EPT_PROT_EXEC)

static struct test_tables tt;
static struct ept *ept;

static void setup(void)
{
	test_tables_init(&tt);
	ept = test_ept_create(&tt);
}

static void teardown(void)
{
	if (ept) {
		cr_expect_eq(ept_check(ept, stderr), 0);
		ept_destroy(ept);
	}
	ept = NULL;
	cr_expect_eq(tt.live, 0, "%lu table frames leaked", (unsigned long)tt.live);
	cr_expect_eq(tt.bad_frees, 0);
	test_tables_fini(&tt);
}

TestSuite(ept, .init = setup, .fini = teardown);
TestSuite(ept_entry);

/* ---- the format, bit by bit from SDM 29.3.2 ---- */

Test(ept_entry, leaf_4k_rwx_wb_is_the_sdm_bit_pattern)
{
	uint64_t want = BIT(0) | BIT(1) | BIT(2) |      /* R W X */
			(6ULL << 3) |                    /* memory type WB */
			BIT(6) |                         /* ignore PAT */
			(0x12345ULL << 12);              /* frame, bits 51:12 */

	cr_assert_eq(ept_mk_leaf(0x12345, EPT_ORDER_4K, RWX), want);
	cr_assert_eq(want, 0x12345077ULL);
	cr_assert(ept_entry_present(want));
	cr_assert_eq(ept_entry_pfn(want), 0x12345);
	cr_assert_eq(ept_entry_prot(want), RWX);
}

Test(ept_entry, leaf_2m_has_bit_7_and_2m_address_bits)
{
	uint64_t e = ept_mk_leaf(0x200, EPT_ORDER_2M, EPT_PROT_READ);

	cr_assert_eq(e, BIT(0) | (6ULL << 3) | BIT(6) | BIT(7) | (0x200ULL << 12));
	cr_assert_eq(e & 0x1ff000ULL, 0, "bits 20:12 of a 2M leaf are zero");
	cr_assert_eq(ept_entry_pfn(e), 0x200);
}

Test(ept_entry, table_entry_is_full_permission_without_memory_type)
{
	uint64_t e = ept_mk_table(0x777);

	cr_assert_eq(e, BIT(0) | BIT(1) | BIT(2) | BIT(10) | (0x777ULL << 12));
}

Test(ept_entry, software_entries_are_not_present_to_hardware)
{
	uint64_t e[] = {
		ept_mk_swp(63, (1ULL << 40) - 1), ept_mk_swp(0, 0),
		ept_mk_ballooned(0), ept_mk_ballooned(EPT_ORDER_2M),
		ept_mk_revoked(ept_mk_leaf(0xabc, 0, RWX | EPT_PROT_UEXEC), EPT_STATE_MIGRATING),
		ept_mk_revoked(ept_mk_leaf(0xa00, 9, RWX), EPT_STATE_ACCESS_TEST),
	};
	size_t i;

	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		cr_assert_eq(e[i] & (BIT(0) | BIT(1) | BIT(2) | BIT(10)), 0, "entry %zu", i);
		cr_assert_eq(e[i] & BIT(63), 0, "suppress-#VE stays clear");
		cr_assert_neq(e[i], 0);
		cr_assert(!ept_entry_present(e[i]));
	}
}

Test(ept_entry, swap_entry_round_trips_type_and_offset)
{
	uint64_t offs[] = { 0, 1, 0x123456789ULL, (1ULL << 40) - 1 };
	unsigned types[] = { 0, 1, 31, 63 };
	size_t i, j;

	for (i = 0; i < 4; i++) {
		for (j = 0; j < 4; j++) {
			uint64_t e = ept_mk_swp(types[j], offs[i]);

			cr_assert_eq(ept_entry_state(e), EPT_STATE_SWAPPED);
			cr_assert_eq(ept_swp_type(e), types[j]);
			cr_assert_eq(ept_swp_offset(e), offs[i]);
			cr_assert_eq(e >> 60, 1, "tag SWAPPED in bits 62:60");
		}
	}
	cr_assert(!ept_swp_valid(64, 0));
	cr_assert(!ept_swp_valid(0, 1ULL << 40));
}

Test(ept_entry, revoked_entry_keeps_frame_and_restores_permissions)
{
	uint64_t p = ept_mk_leaf(0x4321, 0, EPT_PROT_READ | EPT_PROT_EXEC | EPT_PROT_UEXEC) |
		     EPT_A | EPT_D;
	uint64_t r = ept_mk_revoked(p, EPT_STATE_ACCESS_TEST);

	cr_assert_eq(ept_entry_state(r), EPT_STATE_ACCESS_TEST);
	cr_assert_eq(ept_entry_pfn(r), 0x4321);
	cr_assert_eq(ept_entry_prot(r), EPT_PROT_READ | EPT_PROT_EXEC | EPT_PROT_UEXEC);
	cr_assert_eq(ept_mk_restored(r), p);
}

Test(ept_entry, write_without_read_is_not_a_valid_prot)
{
	cr_assert(!ept_prot_valid(EPT_PROT_WRITE));
	cr_assert(!ept_prot_valid(0));
	cr_assert(!ept_prot_valid(EPT_PROT_UEXEC));
	cr_assert(!ept_prot_valid(BIT(5)));
	cr_assert(ept_prot_valid(EPT_PROT_EXEC));
	cr_assert(ept_prot_valid(EPT_PROT_READ | EPT_PROT_WRITE));
}

/* ---- create / destroy / EPTP ---- */

Test(ept, create_allocates_one_pml4_table)
{
	cr_assert_eq(tt.live, 1);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 1);
}

Test(ept, eptp_has_wb_walk_length_ad_enable_and_pml4)
{
	uint64_t eptp = ept_eptp(ept);

	cr_assert_eq(eptp & 7, 6, "memory type WB");
	cr_assert_eq((eptp >> 3) & 7, 3, "page-walk length - 1");
	cr_assert(eptp & BIT(6), "A/D enabled");
	cr_assert_eq(eptp >> 12, TEST_TABLE_PFN_BASE, "the first table is the PML4");
}

Test(ept, destroy_frees_every_table_frame)
{
	gfn_t gfns[] = { 0, 1, 513, 1ULL << 18, 1ULL << 27, EPT_GFN_LIMIT - 1 };
	size_t i;

	for (i = 0; i < sizeof(gfns) / sizeof(gfns[0]); i++)
		cr_assert_eq(ept_map(ept, gfns[i], 100 + i, 0, RWX), 0);
	cr_assert_eq(ept_map(ept, 1024, 0x400, EPT_ORDER_2M, RWX), 0);
	cr_assert_gt(tt.live, 5);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), tt.live);
	ept_destroy(ept);
	ept = NULL;
	cr_assert_eq(tt.live, 0);
	cr_assert_eq(tt.frees, tt.allocs);
}

Test(ept, create_fails_cleanly_without_memory)
{
	struct test_tables t2;
	struct ept_table_ops ops;
	struct ept *e2 = (struct ept *)1;

	test_tables_init(&t2);
	t2.fail_after = 0;
	ops = test_tables_ops(&t2);
	cr_assert_eq(ept_create(&ops, &e2), -ENOMEM);
	cr_assert_null(e2);
	ops.table_va = NULL;
	cr_assert_eq(ept_create(&ops, &e2), -EINVAL);
	test_tables_fini(&t2);
}

/* ---- map / lookup / unmap ---- */

Test(ept, map_4k_writes_the_sdm_entry_the_cpu_walks)
{
	uint64_t e, hpa;
	unsigned order;
	int level;

	cr_assert_eq(ept_map(ept, 0x12345, 0xabcde, 0, RWX), 0);
	cr_assert_eq(ept_lookup(ept, 0x12345, &e, &order), 0);
	cr_assert_eq(e, (0xabcdeULL << 12) | 0x77);
	cr_assert_eq(order, 0);
	cr_assert_eq(hw_leaf(&tt, ept_eptp(ept), 0x12345ULL << 12, &level), e);
	cr_assert_eq(level, 1);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), (0x12345ULL << 12) | 0x9a, EPT_R, &hpa), 0);
	cr_assert_eq(hpa, (0xabcdeULL << 12) | 0x9a);
}

Test(ept, map_2m_is_one_pde_leaf_the_cpu_walks)
{
	uint64_t e, hpa;
	unsigned order;
	int level;
	gfn_t gfn = 3 * 512;

	cr_assert_eq(ept_map(ept, gfn, 0x1000, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_lookup(ept, gfn + 77, &e, &order), 0);
	cr_assert_eq(order, EPT_ORDER_2M);
	cr_assert_eq(e, (0x1000ULL << 12) | BIT(7) | 0x77);
	cr_assert_eq(hw_leaf(&tt, ept_eptp(ept), (gfn + 77) << 12, &level), e);
	cr_assert_eq(level, 2);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), ((gfn + 77) << 12) | 5, EPT_W, &hpa), 0);
	cr_assert_eq(hpa, ((0x1000ULL + 77) << 12) | 5);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 1);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 0);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 3, "pml4, pdpt, pd; no page table");
}

Test(ept, unmap_returns_old_entry_and_leaves_none)
{
	uint64_t old = 0, e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 42, 4242, 0, EPT_PROT_READ), 0);
	cr_assert_eq(ept_unmap(ept, 42, 0, &old), 0);
	cr_assert_eq(ept_entry_pfn(old), 4242);
	cr_assert_eq(ept_entry_prot(old), EPT_PROT_READ);
	cr_assert_eq(ept_lookup(ept, 42, &e, &order), 0);
	cr_assert_eq(e, 0);
	cr_assert_eq(order, 0, "the page table stays");
	cr_assert_eq(ept_unmap(ept, 42, 0, &old), -ENOENT);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 0);
}

Test(ept, lookup_of_untouched_2m_range_reports_order_9)
{
	uint64_t e = 1;
	unsigned order = 0;

	cr_assert_eq(ept_lookup(ept, 5000, &e, &order), 0);
	cr_assert_eq(e, 0);
	cr_assert_eq(order, EPT_ORDER_2M);
	cr_assert_eq(ept_lookup(ept, EPT_GFN_LIMIT, &e, &order), -EINVAL);
}

Test(ept, map_rejects_bad_prot_alignment_and_range)
{
	cr_assert_eq(ept_map(ept, 1, 1, 0, 0), -EINVAL);
	cr_assert_eq(ept_map(ept, 1, 1, 0, EPT_PROT_WRITE), -EINVAL);
	cr_assert_eq(ept_map(ept, 1, 1, 0, BIT(8)), -EINVAL);
	cr_assert_eq(ept_map(ept, 1, 1, 3, RWX), -EINVAL);
	cr_assert_eq(ept_map(ept, 512, 513, EPT_ORDER_2M, RWX), -EINVAL);
	cr_assert_eq(ept_map(ept, 513, 512, EPT_ORDER_2M, RWX), -EINVAL);
	cr_assert_eq(ept_map(ept, EPT_GFN_LIMIT, 1, 0, RWX), -EINVAL);
	cr_assert_eq(ept_map(ept, 1, EPT_PFN_LIMIT, 0, RWX), -EINVAL);
	cr_assert_eq(tt.live, 1, "a refused map allocates nothing");
}

Test(ept, map_over_present_or_into_2m_leaf_is_eexist)
{
	cr_assert_eq(ept_map(ept, 7, 70, 0, RWX), 0);
	cr_assert_eq(ept_map(ept, 7, 71, 0, RWX), -EEXIST);
	cr_assert_eq(ept_map(ept, 0, 0, EPT_ORDER_2M, RWX), -EEXIST, "page table in use");
	cr_assert_eq(ept_map(ept, 1024, 1024, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_map(ept, 1030, 5, 0, RWX), -EEXIST, "split first");
	cr_assert_eq(ept_map(ept, 1024, 2048, EPT_ORDER_2M, RWX), -EEXIST);
	cr_assert_eq(ept_unmap(ept, 1030, 0, NULL), -EINVAL, "order must match");
	cr_assert_eq(ept_unmap(ept, 0, EPT_ORDER_2M, NULL), -EINVAL, "a page table");
}

Test(ept, map_2m_over_emptied_page_table_frees_it)
{
	cr_assert_eq(ept_map(ept, 7, 70, 0, RWX), 0);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 4);
	cr_assert_eq(ept_unmap(ept, 7, 0, NULL), 0);
	cr_assert_eq(ept_map(ept, 0, 512, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 3);
	cr_assert_eq(tt.live, 3);
}

Test(ept, table_allocation_failure_is_enomem_and_consistent)
{
	tt.fail_after = 1;      /* the PDPT succeeds, the PD fails */
	cr_assert_eq(ept_map(ept, 9, 9, 0, RWX), -ENOMEM);
	cr_assert_eq(ept_check(ept, stderr), 0);
	tt.fail_after = -1;
	cr_assert_eq(ept_map(ept, 9, 9, 0, RWX), 0);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 4);
}

/* ---- software states ---- */

Test(ept, swapped_entry_holds_the_swap_slot)
{
	uint64_t old, e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 100, 1000, 0, RWX), 0);
	cr_assert_eq(ept_set_swapped(ept, 100, 3, 0xdeadbeefULL, &old), 0);
	cr_assert_eq(ept_entry_pfn(old), 1000, "the caller frees the frame");
	cr_assert_eq(ept_lookup(ept, 100, &e, &order), 0);
	cr_assert_eq(ept_entry_state(e), EPT_STATE_SWAPPED);
	cr_assert_eq(ept_swp_type(e), 3);
	cr_assert_eq(ept_swp_offset(e), 0xdeadbeefULL);
	cr_assert_eq(ept_stat(ept, EPT_SWAPPED), 1);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 0);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), 100ULL << 12, EPT_R, &old), -1);
	/* swap-in: the fault path maps the new frame over it */
	cr_assert_eq(ept_map(ept, 100, 2000, 0, RWX), 0);
	cr_assert_eq(ept_stat(ept, EPT_SWAPPED), 0);
	cr_assert_eq(ept_set_swapped(ept, 100, 64, 0, NULL), -EINVAL);
	cr_assert_eq(ept_set_swapped(ept, 100, 0, 1ULL << 40, NULL), -EINVAL);
}

Test(ept, ballooned_2m_entry_counts_512_pages)
{
	uint64_t e;
	unsigned order;

	cr_assert_eq(ept_set_ballooned(ept, 512, EPT_ORDER_2M, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_BALLOONED), 512);
	cr_assert_eq(ept_lookup(ept, 700, &e, &order), 0);
	cr_assert_eq(ept_entry_state(e), EPT_STATE_BALLOONED);
	cr_assert_eq(order, EPT_ORDER_2M);
	cr_assert_eq(ept_set_ballooned(ept, 3, 0, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_BALLOONED), 513);
	cr_assert_eq(ept_unmap(ept, 512, EPT_ORDER_2M, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_BALLOONED), 1);
}

Test(ept, migrating_keeps_the_pfn_and_restore_brings_it_back)
{
	uint64_t old, e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 8, 800, 0, EPT_PROT_READ | EPT_PROT_WRITE), 0);
	cr_assert_eq(ept_set_migrating(ept, 8, 0, &old), 0);
	cr_assert_eq(ept_lookup(ept, 8, &e, &order), 0);
	cr_assert_eq(ept_entry_state(e), EPT_STATE_MIGRATING);
	cr_assert_eq(ept_entry_pfn(e), 800);
	cr_assert_eq(ept_stat(ept, EPT_MIGRATING), 1);
	cr_assert_eq(ept_restore(ept, 8, 0), 0);
	cr_assert_eq(ept_lookup(ept, 8, &e, &order), 0);
	cr_assert_eq(e, old);
	/* migration done: the new frame with the saved prot */
	cr_assert_eq(ept_set_migrating(ept, 8, 0, &old), 0);
	cr_assert_eq(ept_map(ept, 8, 900, 0, ept_entry_prot(old)), 0);
	cr_assert_eq(ept_stat(ept, EPT_MIGRATING), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 1);
	cr_assert_eq(ept_set_migrating(ept, 9, 0, NULL), -ENOENT);
	cr_assert_eq(ept_restore(ept, 8, 0), -EINVAL);
}

Test(ept, access_test_hides_the_page_from_the_cpu_until_restored)
{
	uint64_t hpa, e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 1024, 4096, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_set_access_test(ept, 1024, EPT_ORDER_2M, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_ACCESS_TEST), 512);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 0);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), 1030ULL << 12, EPT_R, &hpa), -1);
	cr_assert_eq(ept_lookup(ept, 1030, &e, &order), 0);
	cr_assert_eq(ept_entry_pfn(e), 4096);
	cr_assert_eq(ept_restore(ept, 1024, EPT_ORDER_2M), 0);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), 1030ULL << 12, EPT_R, &hpa), 0);
	cr_assert_eq(hpa, 4102ULL << 12);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 1);
}

/* ---- protect ---- */

Test(ept, protect_changes_permissions_the_cpu_sees)
{
	uint64_t hpa, e;
	unsigned order;
	gfn_t g;

	for (g = 0; g < 8; g++)
		cr_assert_eq(ept_map(ept, g, 100 + g, 0, RWX), 0);
	cr_assert_eq(ept_protect(ept, 2, 5, EPT_PROT_READ), 0);
	for (g = 0; g < 8; g++) {
		int want = (g >= 2 && g < 5) ? -1 : 0;

		cr_assert_eq(hw_translate(&tt, ept_eptp(ept), g << 12, EPT_W, &hpa), want, "gfn %lu", g);
		cr_assert_eq(hw_translate(&tt, ept_eptp(ept), g << 12, EPT_R, &hpa), 0);
	}
	cr_assert_eq(ept_lookup(ept, 3, &e, &order), 0);
	cr_assert_eq(e & ~(EPT_A | EPT_D), (103ULL << 12) | 0x71);
	cr_assert_eq(ept_protect(ept, 0, 8, EPT_PROT_WRITE), -EINVAL);
}

Test(ept, protect_of_part_of_a_2m_leaf_splits_it)
{
	uint64_t e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 512, 1024, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_protect(ept, 600, 601, EPT_PROT_READ), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 512);
	cr_assert_eq(ept_lookup(ept, 600, &e, &order), 0);
	cr_assert_eq(order, 0);
	cr_assert_eq(ept_entry_prot(e), EPT_PROT_READ);
	cr_assert_eq(ept_entry_pfn(e), 1024 + 88);
	cr_assert_eq(ept_lookup(ept, 601, &e, &order), 0);
	cr_assert_eq(ept_entry_prot(e), RWX);
	/* covering the whole leaf keeps it 2M */
	cr_assert_eq(ept_map(ept, 1024, 2048, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_protect(ept, 1024, 1536, EPT_PROT_READ | EPT_PROT_EXEC), 0);
	cr_assert_eq(ept_lookup(ept, 1100, &e, &order), 0);
	cr_assert_eq(order, EPT_ORDER_2M);
	cr_assert_eq(ept_entry_prot(e), EPT_PROT_READ | EPT_PROT_EXEC);
}

Test(ept, protect_updates_the_saved_prot_of_revoked_entries)
{
	uint64_t e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 5, 50, 0, RWX), 0);
	cr_assert_eq(ept_set_access_test(ept, 5, 0, NULL), 0);
	cr_assert_eq(ept_protect(ept, 0, 10, EPT_PROT_READ), 0);
	cr_assert_eq(ept_restore(ept, 5, 0), 0);
	cr_assert_eq(ept_lookup(ept, 5, &e, &order), 0);
	cr_assert_eq(ept_entry_prot(e), EPT_PROT_READ);
}

/* ---- walks ---- */

struct visit_log {
	gfn_t gfn[64];
	unsigned order[64];
	unsigned state[64];
	int n, stop_at;
};

static int log_visit(gfn_t gfn, uint64_t e, unsigned order, void *arg)
{
	struct visit_log *v = arg;

	cr_assert_lt(v->n, 64);
	v->gfn[v->n] = gfn;
	v->order[v->n] = order;
	v->state[v->n] = ept_entry_state(e);
	v->n++;
	return v->n == v->stop_at ? 99 : 0;
}

Test(ept, walk_visits_exactly_the_mapped_gfns_in_order)
{
	struct visit_log v = { .n = 0 };
	gfn_t want[] = { 1, 5, 511, 512, 1536, 1ULL << 27 };

	cr_assert_eq(ept_map(ept, 5, 1, 0, RWX), 0);
	cr_assert_eq(ept_map(ept, 1ULL << 27, 2, 0, RWX), 0);
	cr_assert_eq(ept_set_swapped(ept, 511, 0, 9, NULL), 0);
	cr_assert_eq(ept_map(ept, 1536, 512, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_set_ballooned(ept, 512, 0, NULL), 0);
	cr_assert_eq(ept_map(ept, 1, 3, 0, RWX), 0);
	cr_assert_eq(ept_map(ept, 6, 4, 0, RWX), 0);
	cr_assert_eq(ept_unmap(ept, 6, 0, NULL), 0);       /* NONE: not visited */
	cr_assert_eq(ept_walk(ept, 0, EPT_GFN_LIMIT, log_visit, &v), 0);
	cr_assert_eq(v.n, 6);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(v.gfn[i], want[i], "visit %d: gfn %lu", i, v.gfn[i]);
	cr_assert_eq(v.order[4], EPT_ORDER_2M);
	cr_assert_eq(v.state[2], EPT_STATE_SWAPPED);
	cr_assert_eq(v.state[3], EPT_STATE_BALLOONED);
}

Test(ept, walk_stops_when_the_callback_says_so)
{
	struct visit_log v = { .stop_at = 2 };

	for (gfn_t g = 10; g < 20; g++)
		cr_assert_eq(ept_map(ept, g, g, 0, RWX), 0);
	cr_assert_eq(ept_walk(ept, 12, 18, log_visit, &v), 99);
	cr_assert_eq(v.n, 2);
	cr_assert_eq(v.gfn[0], 12);
	cr_assert_eq(v.gfn[1], 13);
	cr_assert_eq(ept_walk(ept, 5, 5, log_visit, &v), -EINVAL);
}

Test(ept, walk_reports_a_straddling_2m_leaf_at_its_base)
{
	struct visit_log v = { .n = 0 };

	cr_assert_eq(ept_map(ept, 512, 512, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_walk(ept, 600, 700, log_visit, &v), 0);
	cr_assert_eq(v.n, 1);
	cr_assert_eq(v.gfn[0], 512);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 1, "a walk never splits");
}

/* ---- accessed / dirty ---- */

Test(ept, harvest_reports_and_clears_what_the_cpu_set)
{
	uint64_t young[1] = { 0 }, dirty[1] = { 0 }, hpa, e;
	unsigned order;

	for (gfn_t g = 0; g < 8; g++)
		cr_assert_eq(ept_map(ept, g, 100 + g, 0, RWX), 0);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), 2ULL << 12, EPT_R, &hpa), 0);
	cr_assert_eq(hw_translate(&tt, ept_eptp(ept), 5ULL << 12, EPT_W, &hpa), 0);
	cr_assert_eq(ept_harvest_ad(ept, 0, 8, young, dirty), 2);
	cr_assert_eq(young[0], BIT(2) | BIT(5));
	cr_assert_eq(dirty[0], BIT(5));
	cr_assert_eq(ept_lookup(ept, 5, &e, &order), 0);
	cr_assert_eq(e & (EPT_A | EPT_D), 0, "cleared");
	young[0] = dirty[0] = 0;
	cr_assert_eq(ept_harvest_ad(ept, 0, 8, young, dirty), 0);
	cr_assert_eq(young[0] | dirty[0], 0);
}

Test(ept, harvest_of_young_only_leaves_dirty_alone)
{
	uint64_t young[1] = { 0 }, dirty[1] = { 0 }, e;
	unsigned order;

	cr_assert_eq(ept_map(ept, 3, 3, 0, RWX), 0);
	cr_assert_eq(ept_mkyoung(ept, 3, true), 0);
	cr_assert_eq(ept_harvest_ad(ept, 0, 64, young, NULL), 1);
	cr_assert_eq(young[0], BIT(3));
	cr_assert_eq(ept_lookup(ept, 3, &e, &order), 0);
	cr_assert_eq(e & (EPT_A | EPT_D), EPT_D);
	cr_assert_eq(ept_harvest_ad(ept, 0, 64, NULL, dirty), 1);
	cr_assert_eq(dirty[0], BIT(3));
	cr_assert_eq(ept_mkyoung(ept, 4, false), -ENOENT);
}

Test(ept, harvest_of_a_2m_leaf_marks_every_gfn_in_range)
{
	uint64_t young[8] = { 0 };

	cr_assert_eq(ept_map(ept, 512, 0, EPT_ORDER_2M, RWX), 0);
	cr_assert_eq(ept_mkyoung(ept, 700, false), 0);
	cr_assert_eq(ept_harvest_ad(ept, 512 + 64, 512 + 128, young, NULL), 1);
	cr_assert_eq(young[0], ~0ULL);
	cr_assert_eq(young[1], 0, "only the range's bits");
}

/* ---- counters, check, dump ---- */

Test(ept, counters_follow_every_operation)
{
	cr_assert_eq(ept_map(ept, 0, 0, 0, RWX), 0);
	cr_assert_eq(ept_map(ept, 1, 1, 0, RWX), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 2);
	cr_assert_eq(ept_set_swapped(ept, 0, 1, 1, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 1);
	cr_assert_eq(ept_stat(ept, EPT_SWAPPED), 1);
	cr_assert_eq(ept_set_ballooned(ept, 0, 0, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_SWAPPED), 0);
	cr_assert_eq(ept_stat(ept, EPT_BALLOONED), 1);
	cr_assert_eq(ept_set_access_test(ept, 1, 0, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 0);
	cr_assert_eq(ept_stat(ept, EPT_ACCESS_TEST), 1);
	cr_assert_eq(ept_unmap(ept, 1, 0, NULL), 0);
	cr_assert_eq(ept_stat(ept, EPT_ACCESS_TEST), 0);
	cr_assert_eq(ept_map(ept, 1024, 1024, 9, RWX), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 1);
	cr_assert_eq(ept_split(ept, 1024), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 512);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 5);
	cr_assert_eq(ept_collapse(ept, 1024), 0);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_2M), 1);
	cr_assert_eq(ept_stat(ept, EPT_PRESENT_4K), 0);
	cr_assert_eq(ept_stat(ept, EPT_TABLE_PAGES), 4);
	cr_assert_str_eq(ept_stat_names[EPT_TABLE_PAGES], "ept_table_pages");
	cr_assert_str_eq(ept_stat_names[EPT_PRESENT_4K], "ept_present_4k");
	cr_assert_str_eq(ept_stat_names[EPT_PRESENT_2M], "ept_present_2m");
	cr_assert_str_eq(ept_stat_names[EPT_SWAPPED], "ept_swapped");
	cr_assert_str_eq(ept_stat_names[EPT_BALLOONED], "ept_ballooned");
}

Test(ept, check_finds_a_misaligned_2m_leaf_written_behind_its_back)
{
	uint64_t *pd;
	int level;
	FILE *f = fopen("/dev/null", "w");

	cr_assert_eq(ept_map(ept, 512, 512, EPT_ORDER_2M, RWX), 0);
	hw_leaf(&tt, ept_eptp(ept), 512ULL << 12, &level);
	cr_assert_eq(level, 2);
	/* find the PD: the last table allocated */
	pd = tt.va[tt.nr_slots - 1];
	cr_assert_eq(pd[1] & EPT_PS, EPT_PS);
	pd[1] |= 1ULL << 12;
	cr_assert_gt(ept_check(ept, f), 0);
	pd[1] &= ~(1ULL << 12);
	cr_assert_eq(ept_check(ept, f), 0);
	fclose(f);
}

Test(ept, check_finds_a_counter_that_disagrees)
{
	uint64_t *pd = NULL;
	int level;

	cr_assert_eq(ept_map(ept, 512, 512, EPT_ORDER_2M, RWX), 0);
	hw_leaf(&tt, ept_eptp(ept), 512ULL << 12, &level);
	pd = tt.va[tt.nr_slots - 1];
	pd[2] = ept_mk_leaf(1024, EPT_ORDER_2M, RWX);   /* behind ept's back */
	cr_assert_eq(ept_check(ept, NULL), 1);
	pd[2] = 0;
}

Test(ept, dump_gfn_prints_each_level_decoded)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_eq(ept_map(ept, 0x12345, 0xabcde, 0, RWX), 0);
	cr_assert_eq(ept_mkyoung(ept, 0x12345, true), 0);
	ept_dump_gfn(ept, 0x12345, f);
	fclose(f);
	cr_assert(strstr(buf, "gfn 0x12345"), "%s", buf);
	cr_assert(strstr(buf, "pml4"), "%s", buf);
	cr_assert(strstr(buf, "pdpt"), "%s", buf);
	cr_assert(strstr(buf, "pd "), "%s", buf);
	cr_assert(strstr(buf, "4K pfn 0xabcde RWX- WB IPAT A D"), "%s", buf);
	free(buf);
}

Test(ept_entry, entry_str_names_software_states)
{
	char buf[96];

	ept_entry_str(ept_mk_swp(2, 0x99), 1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "swapped type 2 offset 0x99");
	ept_entry_str(ept_mk_ballooned(9), 2, buf, sizeof(buf));
	cr_assert_str_eq(buf, "ballooned 2M");
	ept_entry_str(ept_mk_revoked(ept_mk_leaf(0x10, 0, EPT_PROT_READ), EPT_STATE_ACCESS_TEST),
		      1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "access-test pfn 0x10 saved R---");
}

/* ---- locking ---- */

Test(ept, locked_variants_make_lookup_then_map_one_step)
{
	uint64_t e;
	unsigned order;

	cr_assert(!ept_lock_held(ept));
	ept_lock(ept);
	cr_assert(ept_lock_held(ept));
	cr_assert_eq(ept_lookup_locked(ept, 77, &e, &order), 0);
	cr_assert_eq(e, 0);
	cr_assert_eq(ept_map_locked(ept, 77, 7, 0, RWX), 0);
	cr_assert_eq(ept_set_access_test_locked(ept, 77, 0, NULL), 0);
	cr_assert_eq(ept_restore_locked(ept, 77, 0), 0);
	cr_assert_eq(ept_unmap_locked(ept, 77, 0, &e), 0);
	cr_assert_eq(ept_entry_pfn(e), 7);
	ept_unlock(ept);
	cr_assert(!ept_lock_held(ept));
}

struct cpu_arg {
	uint64_t eptp;
	_Atomic int go;
};

/* The CPU: write every page once, setting A and D behind ept's back. */
static void *cpu_thread(void *p)
{
	struct cpu_arg *a = p;
	uint64_t hpa;

	while (!atomic_load(&a->go))
		;
	for (gfn_t g = 0; g < 512; g++)
		if (hw_translate(&tt, a->eptp, g << 12, EPT_W, &hpa))
			abort();
	return NULL;
}

Test(ept, protect_racing_the_cpu_loses_no_accessed_or_dirty_bit)
{
	struct cpu_arg a = { .go = 0 };
	pthread_t t;
	uint64_t e;
	unsigned order;

	for (gfn_t g = 0; g < 512; g++)
		cr_assert_eq(ept_map(ept, g, 0x1000 + g, 0, RWX), 0);
	a.eptp = ept_eptp(ept);
	pthread_create(&t, NULL, cpu_thread, &a);
	atomic_store(&a.go, 1);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(ept_protect(ept, 0, 512, i & 1 ? RWX : RWX | EPT_PROT_UEXEC), 0);
	pthread_join(t, NULL);
	for (gfn_t g = 0; g < 512; g++) {
		e = 0;
		cr_assert_eq(ept_lookup(ept, g, &e, &order), 0);
		cr_assert_eq(e & (EPT_A | EPT_D), EPT_A | EPT_D, "gfn %lu lost A/D", g);
	}
}
