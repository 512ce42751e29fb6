/*
 * The two frame-number types every ept/ signature speaks in.
 *
 * gfn_t is a guest frame number (guest-physical address >> 12), pfn_t a
 * host pool frame number (pool offset >> 12). They are the same width but
 * kept as distinct typedefs so a prototype says which address space it
 * means (STYLE.md b.2).
 *
 * guestmm/frame.h defines the same two typedefs. ept/ must build without
 * guestmm/, so it carries its own copy behind GMM_PFN_T_DEFINED: a header
 * that defines them first sets the guard and the other one skips its copy.
 * Should both copies ever be seen anyway, C11 (6.7p3) allows repeating a
 * typedef with the same type, so the two headers can be included in any
 * order.
 */
#ifndef GMM_EPT_TYPES_H
#define GMM_EPT_TYPES_H

#include <stdint.h>

#ifndef GMM_PFN_T_DEFINED
#define GMM_PFN_T_DEFINED
typedef uint64_t pfn_t;   /* host pool frame number: pool offset >> 12 */
typedef uint64_t gfn_t;   /* guest frame number: guest-physical address >> 12 */
#endif

/* "No frame": what ept_table_ops.alloc_table returns on failure. */
#define EPT_PFN_NONE        ((pfn_t)~0ULL)

#define EPT_PAGE_SHIFT      12
#define EPT_PAGE_SIZE       (1ULL << EPT_PAGE_SHIFT)

/* Orders a leaf can have: a 4 KiB PTE or a 2 MiB PDE (bit 7 set). */
#define EPT_ORDER_4K        0u
#define EPT_ORDER_2M        9u
#define EPT_PTRS_PER_TABLE  512u

/* A 4-level walk translates 48-bit guest-physical addresses (SDM 29.3.2):
 * gfns are below 2^36. Entries hold a 40-bit frame number (bits 51:12). */
#define EPT_GFN_LIMIT       (1ULL << 36)
#define EPT_PFN_LIMIT       (1ULL << 40)

#endif
