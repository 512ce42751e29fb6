/*
 * Frame descriptors: one struct gmm_frame per 4 KiB frame of the host pool,
 * the twin of the kernel's struct page / struct folio.
 *
 * A frame is the 4 KiB page at pool offset pfn * 4096. Its descriptor lives
 * in the pool's frame array (pool->frames[pfn]); the descriptor never moves,
 * so a struct gmm_frame * is as good a name as a pfn.
 *
 * Large frames (order > 0) behave like folios: the head descriptor speaks
 * for the whole block (flags, refcount, mapcount, order, owner, gfn) and a
 * tail descriptor carries nothing of its own. frame_head() finds a tail's
 * head by alignment instead of a stored compound_head pointer: blocks are
 * naturally aligned and the descriptor array is aligned to 64 << MAX_ORDER
 * bytes, so the head of a tail is the nearest aligned descriptor that is an
 * allocated FRAME_head whose order covers it (at most MAX_ORDER probes).
 * Why not store the pointer as the kernel does: writing 511 tail
 * descriptors (511 cache lines) was most of the cost of handing out a
 * 2 MiB frame; the probe costs nothing for heads and order-0 frames,
 * which are what the hot paths (slab free, faults) look up.
 *
 * pfn_t and gfn_t are both plain 64-bit numbers, kept as distinct typedefs
 * so every signature says which address space it speaks: a pfn indexes the
 * host pool, a gfn is a guest-physical frame number (gpa >> 12). Never pass
 * one for the other; the reverse map (frame->gfn) is the only place a frame
 * records a gfn.
 */
#ifndef GMM_GUESTMM_FRAME_H
#define GMM_GUESTMM_FRAME_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ept/ept_types.h carries the same two typedefs behind the same guard so
 * ept/ builds without guestmm/; either header may come first. */
#ifndef GMM_PFN_T_DEFINED
#define GMM_PFN_T_DEFINED
typedef uint64_t pfn_t;   /* host pool frame number: pool offset >> 12 */
typedef uint64_t gfn_t;   /* guest frame number: guest-physical address >> 12 */
#endif

#define GMM_FRAME_SHIFT     12
#define GMM_FRAME_SIZE      (1UL << GMM_FRAME_SHIFT)
#define GMM_PFN_NONE        ((pfn_t)~0ULL)        /* "no frame": allocation failed */
#define GMM_GFN_NONE        ((gfn_t)~0ULL)        /* frame maps no guest page */
#define FRAME_NIL           UINT32_MAX            /* end of a 32-bit pfn-linked list */

/*
 * Flag bits, with the meaning of the kernel's page/folio flags (PG_*).
 * buddy, pcp and slab are page types in the kernel (page_type); here they
 * are bits in the same word so one load tells a frame's state.
 */
enum frame_flag_bit {
	FRAME_locked,       /* PG_locked: I/O or migration holds the frame */
	FRAME_referenced,   /* PG_referenced: accessed since last aging */
	FRAME_uptodate,     /* PG_uptodate: contents valid (read in, zeroed) */
	FRAME_dirty,        /* PG_dirty: differs from its swap copy */
	FRAME_lru,          /* PG_lru: on an LRU list (lru_next/lru_prev) */
	FRAME_active,       /* PG_active: on the active list */
	FRAME_workingset,   /* PG_workingset: refaulted while in the working set */
	FRAME_head,         /* PG_head: first frame of a large (order > 0) block */
	FRAME_swapbacked,   /* PG_swapbacked: anon-like, reclaimed to swap */
	FRAME_swapcache,    /* PG_swapcache: private holds a swap entry */
	FRAME_reclaim,      /* PG_reclaim: being written back for reclaim */
	FRAME_unevictable,  /* PG_unevictable: never reclaimed (guest tables, boot data) */
	FRAME_mlocked,      /* PG_mlocked: pinned by policy */
	FRAME_reserved,     /* PG_reserved: never handed to the buddy */
	FRAME_pinned,       /* pinned for device DMA / long-term access */
	FRAME_balloon,      /* PageBalloon: given back by a guest balloon */
	FRAME_offline,      /* PageOffline: logically offline */
	FRAME_hwpoison,     /* PG_hwpoison: corrupted, taken out of use */
	FRAME_buddy,        /* PageBuddy: head of a free block on a free list */
	FRAME_pcp,          /* on a per-cpu free list (order 0) */
	FRAME_slab,         /* PageSlab: head of a slab; slab fields valid */
	FRAME_large_kmalloc,/* PageLargeKmalloc: gmm_kmalloc() beyond the size classes */
	FRAME_idle,         /* PG_idle (mm/page_idle.c): armed for a hinting fault, untouched since */
	FRAME_isolated,     /* a free frame compaction took out of the buddy as a migration
			     * destination (isolate_freepages()): no references, on no list */
	FRAME_armed_early,  /* armed with a neighbour before reaching the inactive tail: its
			     * first visit there rotates it without another arm (stage2_hint.c) */
	NR_FRAME_FLAGS
};
static_assert(NR_FRAME_FLAGS <= 64, "frame flags fit one word");

struct gmm_kmem_cache;

/*
 * Locking: flags are atomic; frame_set_X/frame_clear_X/frame_test_*_X may
 * run on any frame at any time (reclaim ages frames while faults map them).
 * The __frame_* variants are plain read-modify-write for frames the caller
 * owns exclusively (a free frame under its zone lock, a frame being
 * prepared), exactly like the kernel's __SetPageX.
 * refcount/mapcount are atomic. lru_next/lru_prev belong to whichever list
 * the frame is on: a zone free list (zone lock), a pcp list (pcp lock), an
 * LRU (lruvec lock, later) or a slab partial list (cache list_lock).
 * Everything else is owned by whoever allocated the frame.
 */
struct gmm_frame {
	_Atomic uint64_t flags;         /* 1 << FRAME_x */
	_Atomic int32_t refcount;       /* 0 while free; 1 from the allocation */
	_Atomic int32_t mapcount;       /* EPT mappings of this frame, 0 = unmapped */
	uint32_t lru_next;              /* pfn of next on the frame's list, FRAME_NIL at end */
	uint32_t lru_prev;              /* pfn of previous, FRAME_NIL at head */
	uint64_t numa_last;             /* NUMA balancing: 1 + the node of the last hinting
					 * fault on it, 0 none (the kernel's last_cpupid) */
	union {
		struct {                /* guest / anonymous frames */
			gfn_t gfn;      /* reverse map: the guest page this frame backs */
			uint64_t private; /* swap entry while FRAME_swapcache */
		};
		struct {                /* FRAME_slab heads (struct slab in the kernel) */
			struct gmm_kmem_cache *slab_cache;
			void *slab_freelist; /* first free object, linked through the objects */
		};
	};
	uint32_t owner;                 /* owning guest id (0 = the VMM itself) */
	uint8_t order;                  /* block order: valid on heads (free or allocated) */
	uint8_t mt;                     /* migratetype of the free list / pcp list it is on */
	uint8_t zone_id;                /* index of its zone in the pool: set once */
	uint8_t slab_frozen;            /* slab is some cpu's active slab */
	uint16_t slab_inuse;            /* objects handed out (cpu slab: all) */
	uint16_t slab_objects;          /* objects in this slab */
	uint32_t memcg_id;              /* charged cgroup (later issue), 0 = none */
};
static_assert(sizeof(struct gmm_frame) == 64,
	      "a frame descriptor is one cache line, a power of two (frame_head())");
#define GMM_FRAME_ARRAY_ALIGN  (sizeof(struct gmm_frame) << 10)  /* 64 << MAX_ORDER */

#define FRAME_FLAG_MASK(bit)   (1ULL << (bit))

static inline bool frame_test_flag(const struct gmm_frame *f, enum frame_flag_bit b)
{
	return atomic_load_explicit(&f->flags, memory_order_relaxed) & FRAME_FLAG_MASK(b);
}

/* Atomic bit ops, acquire/release like the kernel's test_and_set_bit_lock
 * where it matters (FRAME_locked), relaxed is enough for the others. */
#define FRAME_FLAG_OPS(name)                                                         \
static inline bool frame_test_##name(const struct gmm_frame *f)                      \
{ return frame_test_flag(f, FRAME_##name); }                                         \
static inline void frame_set_##name(struct gmm_frame *f)                             \
{ atomic_fetch_or_explicit(&f->flags, FRAME_FLAG_MASK(FRAME_##name), memory_order_relaxed); } \
static inline void frame_clear_##name(struct gmm_frame *f)                           \
{ atomic_fetch_and_explicit(&f->flags, ~FRAME_FLAG_MASK(FRAME_##name), memory_order_relaxed); } \
static inline bool frame_test_set_##name(struct gmm_frame *f)                        \
{ return atomic_fetch_or_explicit(&f->flags, FRAME_FLAG_MASK(FRAME_##name),          \
				  memory_order_acq_rel) & FRAME_FLAG_MASK(FRAME_##name); } \
static inline bool frame_test_clear_##name(struct gmm_frame *f)                      \
{ return atomic_fetch_and_explicit(&f->flags, ~FRAME_FLAG_MASK(FRAME_##name),        \
				   memory_order_acq_rel) & FRAME_FLAG_MASK(FRAME_##name); } \
static inline void __frame_set_##name(struct gmm_frame *f)                           \
{ uint64_t v = atomic_load_explicit(&f->flags, memory_order_relaxed);               \
  atomic_store_explicit(&f->flags, v | FRAME_FLAG_MASK(FRAME_##name), memory_order_relaxed); } \
static inline void __frame_clear_##name(struct gmm_frame *f)                         \
{ uint64_t v = atomic_load_explicit(&f->flags, memory_order_relaxed);               \
  atomic_store_explicit(&f->flags, v & ~FRAME_FLAG_MASK(FRAME_##name), memory_order_relaxed); }

FRAME_FLAG_OPS(locked)
FRAME_FLAG_OPS(referenced)
FRAME_FLAG_OPS(uptodate)
FRAME_FLAG_OPS(dirty)
FRAME_FLAG_OPS(lru)
FRAME_FLAG_OPS(active)
FRAME_FLAG_OPS(workingset)
FRAME_FLAG_OPS(head)
FRAME_FLAG_OPS(swapbacked)
FRAME_FLAG_OPS(swapcache)
FRAME_FLAG_OPS(reclaim)
FRAME_FLAG_OPS(unevictable)
FRAME_FLAG_OPS(mlocked)
FRAME_FLAG_OPS(reserved)
FRAME_FLAG_OPS(pinned)
FRAME_FLAG_OPS(balloon)
FRAME_FLAG_OPS(offline)
FRAME_FLAG_OPS(hwpoison)
FRAME_FLAG_OPS(buddy)
FRAME_FLAG_OPS(pcp)
FRAME_FLAG_OPS(slab)
FRAME_FLAG_OPS(large_kmalloc)
FRAME_FLAG_OPS(idle)
FRAME_FLAG_OPS(armed_early)

/* Printed names of the flags (dump_frame, checker reports), like the
 * kernel's pageflag_names[]. */
extern const char *const frame_flag_names[NR_FRAME_FLAGS];

/* Like folio_trylock(): true if we took FRAME_locked. */
static inline bool frame_trylock(struct gmm_frame *f)
{
	return !frame_test_set_locked(f);
}

static inline void frame_unlock(struct gmm_frame *f)
{
	atomic_fetch_and_explicit(&f->flags, ~FRAME_FLAG_MASK(FRAME_locked), memory_order_release);
}

static inline int frame_ref_count(const struct gmm_frame *f)
{
	return atomic_load_explicit(&f->refcount, memory_order_relaxed);
}

/* Like compound_head(): the head of the block f belongs to while it is
 * allocated; f itself for heads, order-0 frames and free frames. The
 * caller holds a reference on the block (or its lock), as in the kernel. */
static inline struct gmm_frame *frame_head(struct gmm_frame *f)
{
	if (__builtin_expect(frame_ref_count(f) > 0, 1))
		return f;       /* heads and order-0 frames hold the references */
	for (unsigned o = 1; o <= 10; o++) {
		struct gmm_frame *h = (struct gmm_frame *)((uintptr_t)f &
							   ~((sizeof(*f) << o) - 1));

		if (h != f && frame_test_flag(h, FRAME_head) && h->order >= o &&
		    frame_ref_count(h) > 0)
			return h;
	}
	return f;
}

/* PageTail(): f is a tail of an allocated large block. */
static inline bool frame_is_tail(struct gmm_frame *f)
{
	return frame_head(f) != f;
}

/* folio_order(): the block order a head speaks for (0 for tails). */
static inline unsigned frame_order(const struct gmm_frame *f)
{
	return frame_test_head(f) ? f->order : 0;
}

/* folio_get(): the caller already holds a reference. */
static inline void frame_get(struct gmm_frame *f)
{
	atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
}

/* folio_try_get(): take a reference unless the frame is free (refcount 0). */
static inline bool frame_try_get(struct gmm_frame *f)
{
	int32_t c = atomic_load_explicit(&f->refcount, memory_order_relaxed);

	while (c > 0)
		if (atomic_compare_exchange_weak_explicit(&f->refcount, &c, c + 1,
							  memory_order_acquire, memory_order_relaxed))
			return true;
	return false;
}

/* put_page_testzero(): true when this dropped the last reference; the
 * caller then frees the frame with gmm_free_frames(). */
static inline bool frame_put_testzero(struct gmm_frame *f)
{
	return atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_acq_rel) == 1;
}

static inline int frame_mapcount(const struct gmm_frame *f)
{
	return atomic_load_explicit(&f->mapcount, memory_order_relaxed);
}

#endif
