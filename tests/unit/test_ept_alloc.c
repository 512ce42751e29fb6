/* Test doubles for the ept tests: see test_ept.h. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test_ept.h"

static uint64_t tt_alloc(void *ctx)
{
	struct test_tables *tt = ctx;
	uint64_t idx = tt->nr_slots;
	void *va;

	if (tt->fail_after == 0)
		return EPT_PFN_NONE;
	if (tt->fail_after > 0)
		tt->fail_after--;
	va = aligned_alloc(4096, 4096);
	cr_assert_not_null(va);
	memset(va, 0, 4096);            /* the ops contract: zeroed */
	tt->va = realloc(tt->va, (idx + 1) * sizeof(*tt->va));
	cr_assert_not_null(tt->va);
	tt->va[idx] = va;
	tt->nr_slots++;
	tt->live++;
	tt->allocs++;
	return TEST_TABLE_PFN_BASE + idx;
}

static void *tt_va(void *ctx, uint64_t pfn)
{
	struct test_tables *tt = ctx;
	uint64_t idx = pfn - TEST_TABLE_PFN_BASE;

	cr_assert(pfn >= TEST_TABLE_PFN_BASE && idx < tt->nr_slots && tt->va[idx],
		  "table_va of a pfn 0x%lx that is no live table", (unsigned long)pfn);
	return tt->va[idx];
}

static void tt_free(void *ctx, uint64_t pfn)
{
	struct test_tables *tt = ctx;
	uint64_t idx = pfn - TEST_TABLE_PFN_BASE;

	if (pfn < TEST_TABLE_PFN_BASE || idx >= tt->nr_slots || !tt->va[idx]) {
		tt->bad_frees++;
		return;
	}
	free(tt->va[idx]);
	tt->va[idx] = NULL;
	tt->live--;
	tt->frees++;
}

void test_tables_init(struct test_tables *tt)
{
	memset(tt, 0, sizeof(*tt));
	tt->fail_after = -1;
}

void test_tables_fini(struct test_tables *tt)
{
	uint64_t i;

	for (i = 0; i < tt->nr_slots; i++)
		free(tt->va[i]);
	free(tt->va);
	tt->va = NULL;
}

struct ept_table_ops test_tables_ops(struct test_tables *tt)
{
	return (struct ept_table_ops){
		.alloc_table = tt_alloc, .free_table = tt_free,
		.table_va = tt_va, .ctx = tt,
	};
}

struct ept *test_ept_create(struct test_tables *tt)
{
	struct ept_table_ops ops = test_tables_ops(tt);
	struct ept *ept;

	cr_assert_eq(ept_create(&ops, &ept), 0);
	return ept;
}

static uint64_t *hw_table(struct test_tables *tt, uint64_t e)
{
	return tt_va(tt, (e & 0x000ffffffffff000ULL) >> 12);
}

uint64_t hw_leaf(struct test_tables *tt, uint64_t eptp, uint64_t gpa, int *level)
{
	uint64_t *t = hw_table(tt, eptp), e = 0;
	int l;

	for (l = 4; l >= 1; l--) {
		e = t[(gpa >> (12 + 9 * (l - 1))) & 511];
		*level = l;
		if (!(e & 7) || l == 1 || (l <= 3 && (e & (1ULL << 7))))
			return e;
		t = hw_table(tt, e);
	}
	return e;
}

int hw_translate(struct test_tables *tt, uint64_t eptp, uint64_t gpa,
		 uint64_t access, uint64_t *hpa)
{
	uint64_t *t = hw_table(tt, eptp), e, perm = 7;
	bool ad = eptp & (1ULL << 6);
	int l;

	for (l = 4; l >= 1; l--) {
		uint64_t *ep = &t[(gpa >> (12 + 9 * (l - 1))) & 511];
		bool leaf;

		e = __atomic_load_n(ep, __ATOMIC_ACQUIRE);
		if (!(e & 7))
			return -1;                      /* not present */
		perm &= e;
		leaf = l == 1 || (l == 2 && (e & (1ULL << 7)));
		if (ad)
			__atomic_fetch_or(ep, 1ULL << 8, __ATOMIC_ACQ_REL);
		if (!leaf) {
			t = hw_table(tt, e);
			continue;
		}
		if ((perm & access) != access)
			return -1;                      /* permission violation */
		if (ad && (access & 2))
			__atomic_fetch_or(ep, 1ULL << 9, __ATOMIC_ACQ_REL);
		if (l == 1)
			*hpa = (e & 0x000ffffffffff000ULL) | (gpa & 0xfff);
		else
			*hpa = (e & 0x000fffffffe00000ULL) | (gpa & 0x1fffff);
		return 0;
	}
	return -1;
}
