/*
 * ept_check(): walk every table and compare what is there with the
 * counters and the format rules, like the kernel's debug_vm_pgtable()
 * and page_table_check. For tests, and for `gmm` debugging sessions.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ept/internal.h"

struct check_ctl {
	FILE *f;
	int problems;
	uint64_t seen[NR_EPT_STAT_ITEMS];   /* counted from the tables */
};

static void complain(struct check_ctl *cc, gfn_t gfn, int level, uint64_t e, const char *what)
{
	cc->problems++;
	if (cc->f)
		fprintf(cc->f, "ept: check: gfn 0x%" PRIx64 " level %d entry 0x%016" PRIx64 ": %s\n",
			gfn, level, e, what);
}

/* Count one leaf the way ept_account() does. */
static void count_leaf(struct check_ctl *cc, uint64_t e, unsigned order)
{
	uint64_t pages = 1ULL << order;

	switch (ept_entry_state(e)) {
	case EPT_STATE_PRESENT:
		cc->seen[order ? EPT_PRESENT_2M : EPT_PRESENT_4K]++;
		break;
	case EPT_STATE_SWAPPED:     cc->seen[EPT_SWAPPED] += pages; break;
	case EPT_STATE_BALLOONED:   cc->seen[EPT_BALLOONED] += pages; break;
	case EPT_STATE_MIGRATING:   cc->seen[EPT_MIGRATING] += pages; break;
	case EPT_STATE_ACCESS_TEST: cc->seen[EPT_ACCESS_TEST] += pages; break;
	default: break;
	}
}

static void check_leaf(struct check_ctl *cc, gfn_t gfn, int level, uint64_t e)
{
	unsigned s = ept_entry_state(e);
	unsigned order = level == 2 ? EPT_ORDER_2M : EPT_ORDER_4K;

	if (s == EPT_STATE_PRESENT && (e & EPT_W) && !(e & EPT_R))
		complain(cc, gfn, level, e, "write without read (EPT misconfiguration)");
	if (s != EPT_STATE_PRESENT && s > EPT_STATE_TAG_MAX)
		complain(cc, gfn, level, e, "reserved software tag");
	if (level == 2 && s == EPT_STATE_SWAPPED)
		complain(cc, gfn, level, e, "swap entry in a 2M slot");
	if (level == 2 && s != EPT_STATE_BALLOONED &&
	    (e & EPT_ADDR_MASK & ~EPT_ADDR_2M_MASK))
		complain(cc, gfn, level, e, "2M leaf with a frame not 2M-aligned");
	count_leaf(cc, e, order);
}

static void check_table(struct ept *ept, struct check_ctl *cc, pfn_t pfn, int level, gfn_t base)
{
	const uint64_t *t = ept_table_va(ept, pfn);
	unsigned shift = ept_level_shift(level), i;

	cc->seen[EPT_TABLE_PAGES]++;
	for (i = 0; i < EPT_PTRS_PER_TABLE; i++) {
		uint64_t e = ept_read(&t[i]);
		gfn_t g = base + ((gfn_t)i << shift);

		if (!e)
			continue;
		if (level == 1 || (level == 2 && ept_pde_is_leaf(e))) {
			check_leaf(cc, g, level, e);
			continue;
		}
		if (!ept_entry_present(e) || (e & EPT_PS)) {
			complain(cc, g, level, e, level == 3 && (e & EPT_PS) ?
				 "1G leaf (gmm makes none)" : "non-table entry above the PD");
			continue;
		}
		if (e & EPT_MT_MASK)
			complain(cc, g, level, e, "memory type bits in a table entry (reserved)");
		check_table(ept, cc, ept_entry_pfn(e), level - 1, g);
	}
}

int ept_check(struct ept *ept, FILE *f)
{
	struct check_ctl cc = { .f = f };
	int i;

	ept_lock(ept);
	check_table(ept, &cc, ept->pml4_pfn, EPT_LEVELS, 0);
	for (i = 0; i < NR_EPT_STAT_ITEMS; i++) {
		uint64_t have = ept_stat(ept, i);

		if (have == cc.seen[i])
			continue;
		cc.problems++;
		if (f)
			fprintf(f, "ept: check: %s is %" PRIu64 ", tables hold %" PRIu64 "\n",
				ept_stat_names[i], have, cc.seen[i]);
	}
	ept_unlock(ept);
	return cc.problems;
}
