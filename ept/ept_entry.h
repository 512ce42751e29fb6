/*
 * One EPT entry: the hardware format and gmm's software encodings.
 *
 * Hardware format, Intel SDM Vol. 3C 29.3.2 "EPT Translation Mechanism"
 * (tables "Format of an EPT PML4 Entry" ... "Format of an EPT Page-Table
 * Entry"), as the CPU reads it:
 *
 *   bit  0     R    read access
 *   bit  1     W    write access
 *   bit  2     X    execute access (supervisor-mode linear addresses when
 *                   mode-based execute control is on)
 *   bits 5:3   MT   EPT memory type, leaves only (6 = WB); 0 in tables
 *   bit  6     IPAT ignore guest PAT memory type, leaves only
 *   bit  7     PS   in a PDE: 2 MiB leaf; in a PDPTE: 1 GiB leaf (never
 *                   made by gmm); ignored in a PTE
 *   bit  8     A    accessed (set by the CPU when EPTP bit 6 enables A/D)
 *   bit  9     D    dirty, leaves only
 *   bit  10    XU   user-mode execute (mode-based execute control)
 *   bits 51:12 ADDR frame address (2 MiB leaf: bits 51:21, 20:12 zero)
 *   bits 62:52      ignored by the CPU: available to software
 *   bit  63    SVE  suppress #VE (gmm never enables #VE: always 0)
 *
 * An entry is present when any of bits 2:0 is set, or bit 10 when
 * mode-based execute control is on (SDM 29.3.2). gmm never writes bit 10
 * into a non-present entry, so "R=W=X=XU=0" is "not present" for every
 * VM-execution setting, and then every other bit belongs to software, the
 * way the kernel keeps swap entries in non-present PTEs.
 *
 * Software encodings (non-present: bits 2:0 and 10 clear):
 *
 *   bits 62:60 TAG  enum ept_state: 0 NONE, 1 SWAPPED, 2 BALLOONED,
 *                   3 MIGRATING, 4 ACCESS_TEST (5..7 reserved)
 *   SWAPPED:     bits 57:52 swap type (0..63), bits 51:12 swap offset
 *                (40 bits: 4 PiB per swap file), 4 KiB only, as the
 *                kernel keeps swap entries in PTEs, never in PMDs
 *   BALLOONED:   the tag only (plus bit 7 when it covers 2 MiB)
 *   MIGRATING,
 *   ACCESS_TEST: the present entry with its permission bits moved:
 *                ADDR, MT, IPAT, PS, A, D stay where they were, R/W/X go
 *                to bits 54:52 and XU to bit 55. The frame stays named
 *                (the pfn being migrated; the frame a hinting fault will
 *                find again), and restoring is a bit move.
 *
 * A non-zero non-present PDE is a software 2 MiB entry (tables are always
 * present); gmm also sets bit 7 in it so a raw dump reads the same way.
 *
 * Everything here is pure arithmetic on a uint64_t: no table, no lock.
 */
#ifndef GMM_EPT_ENTRY_H
#define GMM_EPT_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/ept_types.h"

/* Hardware bits (SDM 29.3.2). */
#define EPT_R               (1ULL << 0)
#define EPT_W               (1ULL << 1)
#define EPT_X               (1ULL << 2)
#define EPT_MT_SHIFT        3
#define EPT_MT_MASK         (7ULL << EPT_MT_SHIFT)
#define EPT_MT_UC           0ULL
#define EPT_MT_WB           6ULL
#define EPT_IPAT            (1ULL << 6)
#define EPT_PS              (1ULL << 7)
#define EPT_A               (1ULL << 8)
#define EPT_D               (1ULL << 9)
#define EPT_XU              (1ULL << 10)
#define EPT_ADDR_MASK       0x000ffffffffff000ULL   /* bits 51:12 */
#define EPT_ADDR_2M_MASK    0x000fffffffe00000ULL   /* bits 51:21 */
#define EPT_SW_AVAIL_MASK   0x7ff0000000000000ULL   /* bits 62:52 */
#define EPT_SVE             (1ULL << 63)

/* Permissions, as passed to ept_map()/ept_protect(): the entry's own bits. */
#define EPT_PROT_READ       EPT_R
#define EPT_PROT_WRITE      EPT_W
#define EPT_PROT_EXEC       EPT_X
#define EPT_PROT_UEXEC      EPT_XU
#define EPT_PROT_MASK       (EPT_R | EPT_W | EPT_X | EPT_XU)
#define EPT_PROT_RWX        (EPT_R | EPT_W | EPT_X)

/* What gmm writes in a leaf besides ADDR/prot: guest RAM is ordinary
 * write-back memory and the guest's PAT is ignored, as KVM does for RAM
 * when no non-coherent DMA is assigned (vmx_get_mt_mask()). */
#define EPT_LEAF_ATTR       ((EPT_MT_WB << EPT_MT_SHIFT) | EPT_IPAT)

/* A non-leaf entry: full permissions so the leaf alone decides (SDM: the
 * access rights of a translation are the AND over every level). */
#define EPT_TABLE_PROT      (EPT_R | EPT_W | EPT_X | EPT_XU)

/* Software encodings, in the ignored bits 62:52 and the address field. */
#define EPT_SW_TAG_SHIFT    60
#define EPT_SW_TAG_MASK     (7ULL << EPT_SW_TAG_SHIFT)
#define EPT_SWP_TYPE_SHIFT  52
#define EPT_SWP_TYPE_BITS   6
#define EPT_SWP_TYPE_MASK   (((1ULL << EPT_SWP_TYPE_BITS) - 1) << EPT_SWP_TYPE_SHIFT)
#define EPT_SWP_OFFSET_SHIFT 12
#define EPT_SWP_OFFSET_BITS 40
#define EPT_SAVED_PROT_SHIFT 52     /* R/W/X -> 54:52, XU -> 55 */
#define EPT_SAVED_PROT_MASK (0xfULL << EPT_SAVED_PROT_SHIFT)

enum ept_state {
	EPT_STATE_NONE = 0,         /* nothing: first touch allocates */
	EPT_STATE_SWAPPED = 1,      /* contents in a swap slot */
	EPT_STATE_BALLOONED = 2,    /* given back by the guest's balloon */
	EPT_STATE_MIGRATING = 3,    /* frame being copied: faults wait */
	EPT_STATE_ACCESS_TEST = 4,  /* hinting fault armed: frame kept */
	EPT_STATE_PRESENT = 8,      /* not a tag: R, W, X or XU set */
};
#define EPT_STATE_TAG_MAX   EPT_STATE_ACCESS_TEST

static inline bool ept_entry_present(uint64_t e)
{
	return (e & EPT_PROT_MASK) != 0;
}

/* The state of a leaf; for a non-present entry, its tag (a reserved tag
 * 5..7 comes back as is: ept_check() reports it). */
static inline unsigned ept_entry_state(uint64_t e)
{
	if (ept_entry_present(e))
		return EPT_STATE_PRESENT;
	return (unsigned)((e & EPT_SW_TAG_MASK) >> EPT_SW_TAG_SHIFT);
}

/* Frame of a present, MIGRATING or ACCESS_TEST entry (the head frame of a
 * 2 MiB one). Meaningless for other states. */
static inline pfn_t ept_entry_pfn(uint64_t e)
{
	return (e & EPT_ADDR_MASK) >> EPT_PAGE_SHIFT;
}

/* Permissions of a present entry, or the ones MIGRATING/ACCESS_TEST saved. */
static inline uint64_t ept_entry_prot(uint64_t e)
{
	uint64_t s;

	if (ept_entry_present(e))
		return e & EPT_PROT_MASK;
	s = (e & EPT_SAVED_PROT_MASK) >> EPT_SAVED_PROT_SHIFT;
	return (s & EPT_PROT_RWX) | ((s & 8) ? EPT_XU : 0);
}

/* A permission set gmm will write: R, W or X present, nothing outside
 * EPT_PROT_MASK, and never W without R (SDM 29.3.3.1: an EPT
 * misconfiguration). */
static inline bool ept_prot_valid(uint64_t prot)
{
	if (prot & ~EPT_PROT_MASK)
		return false;
	if (!(prot & EPT_PROT_RWX))
		return false;
	return !((prot & EPT_W) && !(prot & EPT_R));
}

/* A present leaf: pfn (2 MiB aligned when order is 9), prot, WB + IPAT. */
static inline uint64_t ept_mk_leaf(pfn_t pfn, unsigned order, uint64_t prot)
{
	uint64_t e = (pfn << EPT_PAGE_SHIFT) & EPT_ADDR_MASK;

	e |= (prot & EPT_PROT_MASK) | EPT_LEAF_ATTR;
	if (order == EPT_ORDER_2M)
		e |= EPT_PS;
	return e;
}

/* A non-leaf entry pointing at the table in frame pfn. */
static inline uint64_t ept_mk_table(pfn_t pfn)
{
	return ((pfn << EPT_PAGE_SHIFT) & EPT_ADDR_MASK) | EPT_TABLE_PROT;
}

static inline uint64_t ept_mk_tag(unsigned state)
{
	return (uint64_t)state << EPT_SW_TAG_SHIFT;
}

/* swp_entry(): a SWAPPED entry. type < 64 and offset < 2^40, checked by
 * ept_swp_valid(); out-of-range bits would be lost. */
static inline uint64_t ept_mk_swp(unsigned type, uint64_t offset)
{
	return ept_mk_tag(EPT_STATE_SWAPPED) |
	       (((uint64_t)type << EPT_SWP_TYPE_SHIFT) & EPT_SWP_TYPE_MASK) |
	       ((offset << EPT_SWP_OFFSET_SHIFT) & EPT_ADDR_MASK);
}

static inline bool ept_swp_valid(unsigned type, uint64_t offset)
{
	return type < (1u << EPT_SWP_TYPE_BITS) &&
	       offset < (1ULL << EPT_SWP_OFFSET_BITS);
}

static inline unsigned ept_swp_type(uint64_t e)
{
	return (unsigned)((e & EPT_SWP_TYPE_MASK) >> EPT_SWP_TYPE_SHIFT);
}

static inline uint64_t ept_swp_offset(uint64_t e)
{
	return (e & EPT_ADDR_MASK) >> EPT_SWP_OFFSET_SHIFT;
}

static inline uint64_t ept_mk_ballooned(unsigned order)
{
	return ept_mk_tag(EPT_STATE_BALLOONED) |
	       (order == EPT_ORDER_2M ? EPT_PS : 0);
}

/* Present -> MIGRATING or ACCESS_TEST: drop R/W/X/XU (the CPU now sees
 * nothing) and keep them in bits 55:52; pfn, type and A/D stay put. */
static inline uint64_t ept_mk_revoked(uint64_t present, unsigned state)
{
	uint64_t p = present & EPT_PROT_MASK;
	uint64_t saved = (p & EPT_PROT_RWX) | ((p & EPT_XU) ? 8 : 0);

	return (present & ~(EPT_PROT_MASK | EPT_SW_AVAIL_MASK)) |
	       ept_mk_tag(state) | (saved << EPT_SAVED_PROT_SHIFT);
}

/* MIGRATING/ACCESS_TEST -> the present entry it was made from. */
static inline uint64_t ept_mk_restored(uint64_t revoked)
{
	return (revoked & ~(EPT_SW_TAG_MASK | EPT_SAVED_PROT_MASK)) |
	       ept_entry_prot(revoked);
}

/* Replace the permissions of a present or revoked entry, keeping the rest. */
static inline uint64_t ept_entry_with_prot(uint64_t e, uint64_t prot)
{
	if (ept_entry_present(e))
		return (e & ~EPT_PROT_MASK) | prot;
	return ept_mk_revoked((ept_mk_restored(e) & ~EPT_PROT_MASK) | prot,
			      ept_entry_state(e));
}

#endif
