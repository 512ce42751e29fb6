/*
 * Stage-2 tables: one 4-level Intel EPT per guest, mapping gfn -> pfn.
 *
 * The EPT is the source of truth for where guest memory lives (DESIGN.md
 * "Stage-2 tables"): the realizer makes the window follow it, the fault
 * path reads it, reclaim, swap, the balloon, migration and hinting faults
 * write it. Entries are real EPT entries (ept/ept_entry.h has the SDM
 * layout and the software encodings of non-present states); the table
 * frames come from the caller through struct ept_table_ops, so ept/ needs
 * neither guestmm/ nor KVM.
 *
 * Leaves are 4 KiB PTEs or 2 MiB PDEs (bit 7), never 1 GiB. A leaf is
 * present (R/W/X) or one of the software states NONE, SWAPPED, BALLOONED,
 * MIGRATING, ACCESS_TEST.
 *
 * Locking: one mutex per EPT (struct ept's lock), in DESIGN.md's order
 * guest lifecycle > window mmap > EPT > lruvec > zone. Every ept_foo()
 * below takes it for the one call; ept_foo_locked() is the same operation
 * for a caller that holds it already (ept_lock()) to make several
 * operations one atomic step, e.g. lookup, then map what it found. The
 * _locked forms assert the lock is held. The table ops are called with the
 * lock held, so they must not take it (they may take lruvec/zone locks).
 * Accessed/dirty bits are the exception to "the lock protects entries":
 * the CPU (or a realizer feeding a dirty log) sets them at any time, so
 * every write of a leaf is atomic and A/D are cleared with an atomic AND.
 *
 * Errors are negative errno: -EINVAL (bad gfn/pfn/order/prot, or the
 * entry is not in the state the call needs), -EEXIST (something is
 * mapped there), -ENOENT (nothing there), -ENOMEM (alloc_table failed).
 */
#ifndef GMM_EPT_H
#define GMM_EPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/ept_entry.h"
#include "ept/ept_types.h"

struct ept;

/* Where table frames come from. Called with the EPT lock held. */
struct ept_table_ops {
	/* allocate one zeroed 4 KiB table frame (the caller allocates it from
	 * the host pool as an unmovable frame); returns pfn or EPT_PFN_NONE */
	uint64_t (*alloc_table)(void *ctx);
	void (*free_table)(void *ctx, uint64_t pfn);
	void *(*table_va)(void *ctx, uint64_t pfn); /* where the table frame is mapped in gmm */
	void *ctx;
};

/* Counters, kept up to date by every operation, readable without the lock
 * (relaxed atomics: a reader may see one op half-counted, like vmstat). */
enum ept_stat_item {
	EPT_TABLE_PAGES,     /* table frames held, the PML4 included */
	EPT_PRESENT_4K,      /* present 4 KiB leaves (entries) */
	EPT_PRESENT_2M,      /* present 2 MiB leaves (entries) */
	EPT_SWAPPED,         /* SWAPPED entries (4 KiB each) */
	EPT_BALLOONED,       /* BALLOONED, in 4 KiB pages (a 2 MiB entry is 512) */
	EPT_MIGRATING,       /* MIGRATING, in 4 KiB pages */
	EPT_ACCESS_TEST,     /* ACCESS_TEST, in 4 KiB pages */
	NR_EPT_STAT_ITEMS
};
/* Printed names ("ept_table_pages", ...), the keys of `gmm stat`. */
extern const char *const ept_stat_names[NR_EPT_STAT_ITEMS];

/* Allocates the PML4. 0, -EINVAL (ops incomplete) or -ENOMEM. */
int ept_create(const struct ept_table_ops *ops, struct ept **out);
/* Frees every table frame through ops->free_table, then the EPT. The
 * caller owns the frames the leaves name and any swap slots. */
void ept_destroy(struct ept *ept);

void ept_lock(struct ept *ept);
void ept_unlock(struct ept *ept);
bool ept_lock_held(struct ept *ept);   /* by the calling thread */

uint64_t ept_stat(struct ept *ept, enum ept_stat_item item);

/* The EPTP (SDM 25.6.11): WB (6) in bits 2:0, walk length - 1 (3) in
 * bits 5:3, A/D enable bit 6, PML4 frame address in bits 51:12. */
uint64_t ept_eptp(const struct ept *ept);

/*
 * The leaf covering gfn: *entry is the raw entry (0 = NONE) and *order 0
 * or 9 the size it covers. For NONE, *order is 9 when no page table exists
 * for the 2 MiB range (nothing mapped in it: a huge frame could go there)
 * and 0 otherwise. Frame of this gfn in a 2 MiB leaf: pfn + (gfn & 511).
 */
int ept_lookup(struct ept *ept, gfn_t gfn, uint64_t *entry, unsigned *order);
int ept_lookup_locked(struct ept *ept, gfn_t gfn, uint64_t *entry, unsigned *order);

/*
 * Map gfn -> pfn as a present leaf of order 0 or 9 (gfn and pfn 512-aligned
 * for 9) with prot (EPT_PROT_*, ept_prot_valid()) and type WB. Replaces a
 * software state (the fault path maps over SWAPPED, BALLOONED, a finished
 * MIGRATING); -EEXIST over a present leaf, over a 4 KiB map into a 2 MiB
 * entry (split first), or a 2 MiB map over a page table holding anything
 * (an all-NONE page table is freed and replaced).
 */
int ept_map(struct ept *ept, gfn_t gfn, pfn_t pfn, unsigned order, uint64_t prot);
int ept_map_locked(struct ept *ept, gfn_t gfn, pfn_t pfn, unsigned order, uint64_t prot);

/* Make the order-sized leaf at gfn NONE; *old (may be NULL) gets what was
 * there (A/D as last seen). -ENOENT if NONE, -EINVAL if the leaf there has
 * another order. Page tables stay (as the kernel keeps them until
 * free_pgtables()); ept_map() of a 2 MiB leaf or a collapse reclaims them. */
int ept_unmap(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_unmap_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);

/*
 * Software states. *old (may be NULL) gets the replaced entry: the frame
 * it names is the caller's to free.
 *   set_swapped:     4 KiB only, over anything 4 KiB (try_to_unmap()).
 *   set_ballooned:   order 0 or 9, over anything of that order.
 *   set_migrating,
 *   set_access_test: over a present leaf of that order (-ENOENT if none):
 *                    the frame and permissions are kept in the entry.
 *   restore:         MIGRATING/ACCESS_TEST back to the present leaf it was
 *                    (migration failed; a hinting fault came back).
 * A finished migration maps the new frame over MIGRATING with ept_map().
 */
int ept_set_swapped(struct ept *ept, gfn_t gfn, unsigned type, uint64_t offset, uint64_t *old);
int ept_set_swapped_locked(struct ept *ept, gfn_t gfn, unsigned type, uint64_t offset, uint64_t *old);
int ept_set_ballooned(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_set_ballooned_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_set_migrating(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_set_migrating_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_set_access_test(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_set_access_test_locked(struct ept *ept, gfn_t gfn, unsigned order, uint64_t *old);
int ept_restore(struct ept *ept, gfn_t gfn, unsigned order);
int ept_restore_locked(struct ept *ept, gfn_t gfn, unsigned order);

/*
 * mprotect() for [gfn_start, gfn_end): every present leaf gets prot, and
 * MIGRATING/ACCESS_TEST entries get it as their saved permissions. A 2 MiB
 * leaf straddling an end is split first, like split_huge_pmd() (-ENOMEM
 * possible; what was done before stays done). Holes are skipped.
 */
int ept_protect(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, uint64_t prot);
int ept_protect_locked(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, uint64_t prot);

/*
 * Split the 2 MiB entry covering gfn into a page table of 512 4 KiB
 * entries: present -> pfn + i with the same prot, type and A/D;
 * MIGRATING/ACCESS_TEST likewise; BALLOONED -> 512 BALLOONED.
 * -ENOENT if nothing covers gfn at 2 MiB, -EINVAL if it is a page table.
 */
int ept_split(struct ept *ept, gfn_t gfn);
int ept_split_locked(struct ept *ept, gfn_t gfn);

/*
 * khugepaged's collapse, in place: the page table covering gfn holds 512
 * present entries with the same prot and type whose frames are contiguous
 * from a 512-aligned pfn -> one 2 MiB leaf (A/D: the OR of the 512), and
 * the page table is freed. -EINVAL otherwise (nothing changes), -ENOENT
 * if no page table covers gfn.
 */
int ept_collapse(struct ept *ept, gfn_t gfn);
int ept_collapse_locked(struct ept *ept, gfn_t gfn);

/*
 * walk_page_range(): call cb for every non-NONE leaf (present or software)
 * meeting [gfn_start, gfn_end), in gfn order; gfn is the leaf's first gfn
 * (2 MiB aligned for order 9, possibly below gfn_start). A non-zero return
 * stops the walk and is returned. cb runs with the lock held: it may call
 * _locked ops on the leaf it was given, but not split or collapse.
 */
typedef int (*ept_walk_fn)(gfn_t gfn, uint64_t entry, unsigned order, void *arg);
int ept_walk(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, ept_walk_fn cb, void *arg);
int ept_walk_locked(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end, ept_walk_fn cb, void *arg);

/*
 * Test-and-clear accessed / dirty over [gfn_start, gfn_end) (idle page
 * tracking, the dirty log). For each present leaf with A (D) set, the bit
 * is cleared with an atomic AND and bit (gfn - gfn_start) of young (dirty)
 * is set for every gfn of the leaf in the range; a NULL bitmap leaves that
 * bit alone. A 2 MiB leaf is harvested as a unit. Bitmaps hold
 * gfn_end - gfn_start bits (uint64_t words) and are not cleared first.
 * Returns how many leaves reported something, or -EINVAL.
 */
long ept_harvest_ad(struct ept *ept, gfn_t gfn_start, gfn_t gfn_end,
		    uint64_t *young, uint64_t *dirty);

/* pte_mkyoung()/pte_mkdirty() on the present leaf covering gfn, for a
 * realizer that learns about accesses from a dirty log or hinting fault
 * rather than the CPU. Atomic OR. -ENOENT if not present. */
int ept_mkyoung(struct ept *ept, gfn_t gfn, bool dirty);

/* Consistency walk: counters match the tables, every table frame is
 * counted, 2 MiB leaves are aligned, no 1 GiB leaf, no reserved tag, no
 * W-without-R. Prints one line per problem to f (may be NULL) and
 * returns how many it found. */
int ept_check(struct ept *ept, FILE *f);

/* Print the walk for gfn: each level's raw entry, decoded. */
void ept_dump_gfn(struct ept *ept, gfn_t gfn, FILE *f);
/* Decode one entry at level 1..4 into buf ("pfn 0x1234 R W X WB IPAT A"). */
int ept_entry_str(uint64_t e, int level, char *buf, size_t len);

#endif
