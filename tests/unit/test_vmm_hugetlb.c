/*
 * hugetlb guests (hugepages=2M) on a real host pool and guest window,
 * without a vCPU, like test_vmm_stage2.c. They need free 2 MiB hugetlb
 * pages from the kernel: with too few, each test is skipped and says so
 * (the integration tests reserve pages themselves). Criterion may run them
 * all at once, so each asks for what all of them take together.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/hugetlb.h"
#include "vmm/stage2.h"

#define MB (1ULL << 20)
#define PAGES 4                 /* the guest's RAM: 8M, four 2 MiB pages */
#define ALL_TESTS_PAGES (4 * PAGES - 1)

struct rig {
	struct host_pool *hp;
	struct guest_mem mem;
	struct hugetlb_region *r;
};

static void need_free_pages(void)
{
	char err[256];

	if (hugetlb_host_check(HUGETLB_2M, ALL_TESTS_PAGES, "test", err, sizeof(err)))
		cr_skip_test("%s", err);
}

/* region_pages may be fewer than the guest's PAGES (overcommit). */
static void rig_up(struct rig *r, uint64_t region_pages, bool prefault)
{
	struct pool_config pc = {
		.size_bytes = 32 * MB, .nodes = 1, .reserve_bytes = 0, .hugetlb_2m_bytes = region_pages * 2 * MB,
	};
	struct stage2_config sc = { .fault_around_pages = 16, .owner = 3, .name = "h", .prefault = prefault,
				  .limits = STAGE2_NO_LIMITS };
	struct guest_mem_config mc = { .ram_bytes = PAGES * 2 * MB, .backend = GUEST_MEM_POOL, .stage2 = &sc };
	char err[256];

	cr_assert_eq(host_pool_create(&pc, &r->hp, err, sizeof(err)), 0, "%s", err);
	r->r = &r->hp->huge[HUGETLB_2M];
	sc.hugetlb = r->r;
	mc.pool = r->hp;
	cr_assert_eq(guest_mem_create(&r->mem, &mc), 0);
}

static void rig_down(struct rig *r)
{
	guest_mem_destroy(&r->mem);
	cr_assert_eq(hugetlb_nr_free(r->r), r->r->nr_pages, "every hugetlb page came back");
	cr_assert_eq(hugetlb_held_bytes(r->r), 0, "and was punched");
	cr_assert_eq(gmm_pool_free_frames(r->hp->mm) + gmm_pool_pcp_frames(r->hp->mm), r->hp->mm->nr_frames,
		     "every table frame came back");
	host_pool_destroy(r->hp);
}

static uint64_t *page(struct rig *r, gfn_t gfn)
{
	return (uint64_t *)((char *)r->mem.window + (gfn << 12));
}

static uint64_t stat(struct rig *r, enum stage2_stat_item i)
{
	return atomic_load(&r->mem.s2->stat[i]);
}

#define G(mb) ((gfn_t)(mb) * 256)

Test(hugetlb, a_touch_maps_the_whole_2m_page_from_the_region)
{
	struct rig r;
	uint64_t e;
	unsigned order;

	need_free_pages();
	rig_up(&r, PAGES, false);
	page(&r, G(2) + 7)[0] = 42;
	cr_assert_eq(stat(&r, S2_FAULT_HUGETLB), 1);
	cr_assert_eq(atomic_load(&r.mem.s2->resident_frames), 512);
	cr_assert_eq(stage2_translate(r.mem.s2, G(3) << 12, &e, &order), 0);
	cr_assert(ept_entry_present(e) && order == 9, "one 2 MiB leaf over the page");
	cr_assert_not_null(host_pool_hugetlb(r.hp, ept_entry_pfn(e)), "a pfn of the hugetlb region");
	cr_assert_eq(page(&r, G(3) + 255)[100], 0, "the rest of the page is there, zeroed");
	cr_assert_eq(stat(&r, S2_FAULTS), 1, "no second fault inside the page");
	cr_assert_eq(hugetlb_nr_free(r.r), PAGES - 1);
	cr_assert_eq(hugetlb_held_bytes(r.r), 2 * MB);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(hugetlb, pages_are_never_split_and_unmapped_only_whole)
{
	struct rig r;

	need_free_pages();
	rig_up(&r, PAGES, false);
	page(&r, G(2))[0] = 1;
	page(&r, G(4))[0] = 2;
	cr_assert_eq(stage2_split(r.mem.s2, G(2)), -EINVAL);
	cr_assert_eq(stage2_collapse(r.mem.s2, G(2)), -EAGAIN);
	cr_assert_eq(stage2_unmap_range(r.mem.s2, G(2) + 5, 1), 0, "a partial range leaves the page");
	cr_assert_eq(page(&r, G(2))[0], 1);
	cr_assert_eq(stage2_unmap_range(r.mem.s2, G(2), 512), 512);
	cr_assert_eq(hugetlb_nr_free(r.r), PAGES - 1, "freed back to the region");
	cr_assert_eq(hugetlb_held_bytes(r.r), 2 * MB, "and punched: the kernel has it back");
	cr_assert_eq(page(&r, G(2))[0], 0, "the next touch is a fresh zeroed page");
	cr_assert_eq(page(&r, G(4))[0], 2);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(hugetlb, a_page_goes_back_once_its_last_4k_page_is_ballooned_and_the_rest_waits)
{
	struct rig r;
	gfn_t g[512];

	need_free_pages();
	rig_up(&r, PAGES, false);
	page(&r, G(2))[0] = 1;
	page(&r, G(4))[0] = 2;
	for (int i = 0; i < 512; i++)
		g[i] = G(2) + (gfn_t)i;
	cr_assert_eq(stage2_balloon_inflate(r.mem.s2, g, 511), 0, "a hugetlb page is never split");
	cr_assert_eq(atomic_load(&r.mem.s2->balloon_pending_pages), 511);
	cr_assert_eq(stage2_balloon_flush(r.mem.s2), 0, "a flush cannot split it either");
	cr_assert_eq(atomic_load(&r.mem.s2->balloon_pending_pages), 511, "the rest is reported pending");
	cr_assert_eq(stage2_balloon_inflate(r.mem.s2, &g[511], 1), 512, "the last page frees it whole");
	cr_assert_eq(atomic_load(&r.mem.s2->balloon_pending_pages), 0);
	cr_assert_eq(hugetlb_nr_free(r.r), PAGES - 1, "back in the region");
	cr_assert_eq(ept_stat(r.mem.s2->ept, EPT_BALLOONED), 512);
	cr_assert_eq(page(&r, G(4))[0], 2);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(hugetlb, prefault_maps_every_page)
{
	struct rig r;

	need_free_pages();
	rig_up(&r, PAGES, true);
	cr_assert_eq(stat(&r, S2_FAULT_HUGETLB), PAGES);
	cr_assert_eq(stat(&r, S2_PREFAULT_PAGES), PAGES * 512);
	cr_assert_eq(hugetlb_nr_free(r.r), 0);
	cr_assert_eq(stage2_check(r.mem.s2, stderr), 0);
	rig_down(&r);
}

Test(hugetlb, an_exhausted_region_is_out_of_memory_not_4k_pages)
{
	struct rig r;

	need_free_pages();
	rig_up(&r, PAGES - 1, false);
	for (int i = 0; i < PAGES - 1; i++)
		page(&r, G(2 * i))[0] = 1;
	page(&r, G(2 * (PAGES - 1)))[0] = 1; /* zero-filled: the guest would be stopped */
	cr_assert_eq(stat(&r, S2_OOM), 1);
	cr_assert_eq(stat(&r, S2_FAULT_HUGETLB), PAGES - 1);
	cr_assert_eq(atomic_load(&r.r->alloc_failed), 1);
	cr_assert_eq(r.hp->mm->nr_frames - gmm_pool_free_frames(r.hp->mm) - gmm_pool_pcp_frames(r.hp->mm),
		     atomic_load(&r.mem.s2->table_frames), "no 4 KiB frame taken for RAM");
	rig_down(&r);
}

Test(hugetlb, too_few_free_kernel_pages_refuses_the_pool_naming_the_sysfs_file)
{
	struct pool_config pc = { .size_bytes = 32 * MB, .nodes = 1, .hugetlb_2m_bytes = 1ULL << 40 };
	struct host_pool *hp = NULL;
	char err[512] = "";

	cr_assert_neq(host_pool_create(&pc, &hp, err, sizeof(err)), 0);
	cr_assert(strstr(err, "host.pool.hugetlb_2m: needs 524288 free 2M hugetlb pages") || strstr(err, "no 2M"),
		  "%s", err);
	cr_assert(strstr(err, "/sys/kernel/mm/hugepages/hugepages-2048kB"), "%s", err);
}
