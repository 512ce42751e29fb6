/*
 * Helpers shared by the ept unit tests (test_ept_alloc.c): a table-frame
 * allocator that counts live tables and can be told to fail, and a model
 * of the CPU's EPT walk (SDM 29.3.2) that reads only raw table memory.
 */
#ifndef GMM_TEST_EPT_H
#define GMM_TEST_EPT_H

#include <stdint.h>

#include "ept/ept.h"

struct test_tables {
	void **va;              /* va[pfn - TEST_TABLE_PFN_BASE] */
	uint64_t nr_slots;
	uint64_t live, allocs, frees, bad_frees;
	long fail_after;        /* allocations left before failing; -1: never */
};

#define TEST_TABLE_PFN_BASE 0x70000ULL

void test_tables_init(struct test_tables *tt);
void test_tables_fini(struct test_tables *tt);
struct ept_table_ops test_tables_ops(struct test_tables *tt);
/* create an EPT on tt, asserting success */
struct ept *test_ept_create(struct test_tables *tt);

/* The CPU's walk: translate gpa for an access (EPT_R/EPT_W/EPT_X) from
 * eptp, setting A on every entry used and D on a written leaf as the
 * CPU does with EPTP bit 6. 0 and *hpa, or -1 on an EPT violation. */
int hw_translate(struct test_tables *tt, uint64_t eptp, uint64_t gpa,
		 uint64_t access, uint64_t *hpa);
/* The raw leaf the CPU would use for gpa (0 if a table is missing). */
uint64_t hw_leaf(struct test_tables *tt, uint64_t eptp, uint64_t gpa, int *level);

#endif
