/*
 * Reading tables for people: one entry decoded, and the walk of one gfn
 * level by level (the kernel's show_pte() / dump_pagetable()).
 */
#include <inttypes.h>
#include <stdio.h>

#include "ept/internal.h"

static const char *const level_names[EPT_LEVELS + 1] = {
	[1] = "pt", [2] = "pd", [3] = "pdpt", [4] = "pml4",
};

static const char *const state_names[] = {
	[EPT_STATE_NONE] = "none",
	[EPT_STATE_SWAPPED] = "swapped",
	[EPT_STATE_BALLOONED] = "ballooned",
	[EPT_STATE_MIGRATING] = "migrating",
	[EPT_STATE_ACCESS_TEST] = "access-test",
};

static int prot_str(uint64_t prot, char *buf, size_t len)
{
	return snprintf(buf, len, "%s%s%s%s", prot & EPT_R ? "R" : "-",
			prot & EPT_W ? "W" : "-", prot & EPT_X ? "X" : "-",
			prot & EPT_XU ? "U" : "-");
}

static int present_str(uint64_t e, int level, char *buf, size_t len)
{
	char p[8];
	bool leaf = level == 1 || (e & EPT_PS);
	unsigned mt = (unsigned)((e & EPT_MT_MASK) >> EPT_MT_SHIFT);

	prot_str(e, p, sizeof(p));
	if (!leaf)
		return snprintf(buf, len, "table pfn 0x%" PRIx64 " %s%s", ept_entry_pfn(e),
				p, e & EPT_A ? " A" : "");
	return snprintf(buf, len, "%s pfn 0x%" PRIx64 " %s %s%s%s%s",
			level == 1 ? "4K" : level == 2 ? "2M" : "1G",
			ept_entry_pfn(e), p, mt == EPT_MT_WB ? "WB" : mt == 0 ? "UC" : "MT?",
			e & EPT_IPAT ? " IPAT" : "", e & EPT_A ? " A" : "",
			e & EPT_D ? " D" : "");
}

int ept_entry_str(uint64_t e, int level, char *buf, size_t len)
{
	unsigned s = ept_entry_state(e);
	char p[8];

	if (s == EPT_STATE_PRESENT)
		return present_str(e, level, buf, len);
	switch (s) {
	case EPT_STATE_NONE:
	case EPT_STATE_BALLOONED:
		return snprintf(buf, len, "%s%s", state_names[s], e & EPT_PS ? " 2M" : "");
	case EPT_STATE_SWAPPED:
		return snprintf(buf, len, "swapped type %u offset 0x%" PRIx64,
				ept_swp_type(e), ept_swp_offset(e));
	case EPT_STATE_MIGRATING:
	case EPT_STATE_ACCESS_TEST:
		prot_str(ept_entry_prot(e), p, sizeof(p));
		return snprintf(buf, len, "%s%s pfn 0x%" PRIx64 " saved %s", state_names[s],
				e & EPT_PS ? " 2M" : "", ept_entry_pfn(e), p);
	default:
		return snprintf(buf, len, "bad tag %u", s);
	}
}

static void dump_entry(FILE *f, int level, unsigned idx, uint64_t e)
{
	char buf[96];

	ept_entry_str(e, level, buf, sizeof(buf));
	fprintf(f, "  %-4s[%3u] 0x%016" PRIx64 " %s\n", level_names[level], idx, e, buf);
}

void ept_dump_gfn(struct ept *ept, gfn_t gfn, FILE *f)
{
	uint64_t *t, e = 0;
	int level;

	fprintf(f, "ept: gfn 0x%" PRIx64 " (gpa 0x%" PRIx64 ") eptp 0x%" PRIx64 "\n",
		gfn, gfn << EPT_PAGE_SHIFT, ept_eptp(ept));
	if (gfn >= EPT_GFN_LIMIT) {
		fprintf(f, "  beyond the 48-bit guest-physical space\n");
		return;
	}
	ept_lock(ept);
	t = ept->pml4;
	for (level = EPT_LEVELS; level >= 1; level--) {
		e = ept_read(&t[ept_index(gfn, level)]);
		dump_entry(f, level, ept_index(gfn, level), e);
		if (!ept_entry_present(e) || level == 1 || (e & EPT_PS))
			break;
		t = ept_table_va(ept, ept_entry_pfn(e));
	}
	ept_unlock(ept);
}
