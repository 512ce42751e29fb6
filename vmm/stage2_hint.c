/*
 * Hinting faults: what reclaim learns about reads (docs/reclaim.md).
 *
 * The dirty log tells reclaim which pages a guest wrote; nothing tells it
 * which it read. The kernel's answer for memory it cannot see the accessed
 * bits of is a hinting fault (NUMA balancing's change_prot_numa(), idle
 * page tracking's PG_idle): take the mapping away while keeping the page,
 * and see whether anyone comes back for it.
 *
 * Here: arming a frame sets FRAME_idle and zaps the window's PTEs over it
 * with MADV_DONTNEED. The frame stays in the pool memfd and in the EPT
 * (gmm's stage-2 still maps it), so nothing is copied or freed; under KVM
 * the MMU notifier drops the real EPT entry with the PTE. The window's
 * pool mappings are registered with userfaultfd in minor mode, so the
 * guest's next touch (read or write, from ring 3 or through KVM) stops in
 * handle_userfault() as a minor fault, which stage2_hint_fault() answers:
 * FRAME_idle cleared, FRAME_referenced set, the PTE put back from the page
 * cache at once (UFFDIO_CONTINUE; a 2 MiB frame is mapped again whole so
 * it keeps its PMD). Reclaim (stage2_swap.c) arms pages as they go to the
 * inactive list and when it first finds one at the inactive tail; at the
 * tail a referenced page is activated, an armed page nobody touched is
 * evicted.
 *
 * Cost, measured (docs/reclaim.md): arming 2.5-3 us a page, a hinting
 * fault 11-14 us on native; far less than a wrongly evicted page (a swap
 * write and a swap read, 50-100 us, plus the guest's wait).
 */
#include "vmm/stage2.h"

#include <errno.h>
#include <stdlib.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "guestmm/pool.h"
#include "vmm/guest_mem.h"
#include "vmm/host_pool.h"
#include "vmm/kvm_compat.h"
#include "vmm/stage2_internal.h"

bool minor_registered(const struct stage2 *s2)
{
	return (s2->cfg.swap || s2->cfg.numa.balancing || stage2_homed(s2)) &&
	       (s2->uffd_features & UFFD_FEATURE_MINOR_SHMEM);
}

bool hint_enabled(const struct stage2 *s2)
{
	return minor_registered(s2) && !s2->hp->reclaim_random;
}

int hint_register(struct stage2 *s2, gfn_t gfn, uint64_t nr)
{
	struct uffdio_register reg = {
		.range = { .start = gfn_hva(s2, gfn), .len = nr << GMM_FRAME_SHIFT },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR |
			(s2->dirty_mode == STAGE2_DIRTY_UFFD_WP || s2->swap_keep ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	return ioctl(s2->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

/* A run of the window being gathered by hint_register_window(): pool
 * mappings (minor mode) or anything else (anonymous, hugetlb). */
struct window_run {
	struct stage2 *s2;
	gfn_t cursor;      /* the slot is classified up to here */
	gfn_t start, end;  /* the open run, [start, end); empty when equal */
	bool pool;
	int ret;
};

static void flush_run(struct window_run *r)
{
	if (r->end > r->start && !r->ret)
		r->ret = r->pool ? hint_register(r->s2, r->start, r->end - r->start) :
				   stage2_register(r->s2, (void *)gfn_hva(r->s2, r->start),
						   (r->end - r->start) << GMM_FRAME_SHIFT);
	r->start = r->end;
}

static void add_run(struct window_run *r, gfn_t start, gfn_t end, bool pool)
{
	if (start >= end)
		return;
	if (r->end != start || r->pool != pool) {
		flush_run(r);
		r->start = start;
		r->pool = pool;
	}
	r->end = end;
	r->cursor = end;
}

static int classify_leaf(gfn_t gfn, uint64_t entry, unsigned order, void *arg)
{
	struct window_run *r = arg;
	gfn_t end = gfn + (1ULL << order);
	/* a pool mapping is there while the page is present, and after it
	 * was evicted (its PTEs zapped, the VMA kept: realize_zap()) */
	bool pool = ept_entry_state(entry) == EPT_STATE_SWAPPED ||
		    (ept_entry_present(entry) && !host_pool_hugetlb(r->s2->hp, ept_entry_pfn(entry)));

	if (gfn < r->cursor)
		gfn = r->cursor; /* a 2 MiB leaf that starts below the slot */
	add_run(r, r->cursor, gfn, false);
	add_run(r, gfn, end, pool);
	return r->ret;
}

int hint_register_window(struct stage2 *s2)
{
	for (int i = 0; i < s2->mem->nr_slots; i++) {
		const struct guest_mem_slot *sl = &s2->mem->slots[i];
		gfn_t lo = sl->gpa >> GMM_FRAME_SHIFT, hi = lo + (sl->bytes >> GMM_FRAME_SHIFT);
		struct window_run r = { .s2 = s2, .cursor = lo, .start = lo, .end = lo };

		if (stage2_homed(s2)) { /* one pool mapping, the whole slot */
			int ret = hint_register(s2, lo, hi - lo);

			if (ret)
				return ret;
			continue;
		}
		ept_walk(s2->ept, lo, hi, classify_leaf, &r);
		if (r.cursor > hi)
			r.end = hi; /* a 2 MiB leaf past the slot's end */
		add_run(&r, r.cursor, hi, false);
		flush_run(&r);
		if (r.ret)
			return r.ret;
	}
	return 0;
}

/* Frames sorted and coalesced at a time: the NUMA scan's batch (256) in
 * four, reclaim's (SHRINK_BATCH) in one. */
#define HINT_ARM_BATCH 64U

/* A home window's arm also takes the inactive, untested pages up to this
 * many gfns either side of each page it was given (arm_neighbours()),
 * and at most HINT_ARM_ITEMS frames a batch in all. */
#define HINT_ARM_NEIGHBOURS 8U
#define HINT_ARM_ITEMS (HINT_ARM_BATCH * 4)

/* A frame being armed: where its pages start in the guest, and how many. */
struct arm_item {
	gfn_t gfn;
	uint64_t pages;
	pfn_t pfn;
};

static int cmp_arm_gfn(const void *a, const void *b)
{
	const struct arm_item *x = a, *y = b;

	return (x->gfn > y->gfn) - (x->gfn < y->gfn);
}

/* A run of items with consecutive gfns: one madvise(). A zap of a
 * written shared PTE flushes the TLB of every CPU the process runs on
 * before it returns, a hypercall on this machine (30-60 us with a vCPU on
 * the other CPU, docs/benchmarks.md): one call a run pays it once a page
 * table instead of once a page, as the kernel's reclaim batches its
 * flushes (TTU_BATCH_FLUSH) for what it unmaps together. */
struct arm_span {
	unsigned first, n;  /* items[first..first+n) */
	uint64_t pages;     /* gfns zapped: the items' pages and the gaps bridged */
	int ret;
};

/* What a gfn next to a page being armed is to the arm (home windows). */
enum arm_neighbour {
	NB_STOP,    /* in use: a zap over it would cost the guest a fault for nothing */
	NB_BRIDGE,  /* no PTE to take (never touched, swapped out, armed already): a zap may cross it */
	NB_ARM,     /* an untested page on the inactive list: reclaim arms it at its tail anyway */
};

static enum arm_neighbour neighbour_kind(struct stage2 *s2, gfn_t gfn, pfn_t *pfn)
{
	struct gmm_frame *f;
	uint64_t e;
	unsigned order;

	if (!guest_mem_is_ram(s2->mem, gfn << GMM_FRAME_SHIFT))
		return NB_STOP;
	if (ept_lookup(s2->ept, gfn, &e, &order) || !ept_entry_present(e))
		return NB_BRIDGE;
	*pfn = ept_entry_pfn(e);
	f = pfn_to_frame(s2->hp->mm, *pfn);
	if (order || f->owner != s2->cfg.owner || f->gfn != gfn)
		return NB_STOP;
	if (frame_test_idle(f))
		return NB_BRIDGE;
	if (!frame_test_lru(f) || frame_test_active(f) || frame_test_referenced(f) || frame_test_unevictable(f) ||
	    frame_test_reclaim(f) || frame_test_swapcache(f))
		return NB_STOP;
	return NB_ARM;
}

/* Same 2 MiB of the guest (one page table of the window: a zap's walk
 * stays short) and the same RAM slot (checked by neighbour_kind()). */
static bool same_block(gfn_t a, gfn_t b)
{
	return a >> HUGE_ORDER == b >> HUGE_ORDER;
}

/*
 * A home window's scattered arms cost a TLB flush of every CPU each (a
 * hypercall, about 30 us with the guest on the other CPU), whatever
 * their length: arm the inactive, untested pages next to each one in the
 * same call. They would each be armed, in a call of their own, when they
 * first reach the inactive tail; armed early (FRAME_armed_early), that
 * visit rotates them without a zap, and they are tested over a longer
 * time than a page armed there (evicting them at that first visit
 * instead cut their time on the list in half: 4% more swap-ins). A zap
 * may cross gfns with no PTE (never touched, swapped, armed already) but
 * stops at a page in use: taking its PTE would cost the guest a hinting
 * fault. items[0..ni) sorted by gfn; returns the new count, items sorted
 * again.
 */
static unsigned arm_neighbours(struct stage2 *s2, struct arm_item *items, unsigned ni, unsigned cap)
{
	unsigned n = ni;

	for (unsigned j = 0; j < ni && n < cap; j++) {
		for (int dir = -1; dir <= 1; dir += 2) {
			gfn_t g = items[j].gfn;

			for (unsigned d = 1; d <= HINT_ARM_NEIGHBOURS && n < cap; d++) {
				pfn_t pfn = GMM_PFN_NONE;
				enum arm_neighbour k;

				if ((dir < 0 && g == 0) || !same_block(items[j].gfn, g + dir))
					break;
				g += dir;
				k = neighbour_kind(s2, g, &pfn);
				if (k == NB_STOP)
					break;
				if (k == NB_ARM && !frame_test_set_idle(pfn_to_frame(s2->hp->mm, pfn))) {
					frame_set_armed_early(pfn_to_frame(s2->hp->mm, pfn));
					items[n++] = (struct arm_item){ .gfn = g, .pages = 1, .pfn = pfn };
				}
			}
		}
	}
	if (n > ni)
		qsort(items, n, sizeof(items[0]), cmp_arm_gfn);
	return n;
}

/* May one zap run from the end of item a to item b? Only over gfns with
 * no PTE, in one 2 MiB block (home windows). */
static bool arm_bridge(struct stage2 *s2, const struct arm_item *a, const struct arm_item *b)
{
	gfn_t end = a->gfn + a->pages;

	if (b->gfn == end)
		return true;
	if (!stage2_homed(s2) || b->gfn - end > 2 * HINT_ARM_NEIGHBOURS || !same_block(a->gfn, b->gfn))
		return false;
	for (gfn_t g = end; g < b->gfn; g++) {
		pfn_t pfn;

		if (neighbour_kind(s2, g, &pfn) != NB_BRIDGE)
			return false;
	}
	return true;
}

/* Still this guest's frame at that gfn? (after the lock was let go) */
static bool arm_item_mapped(struct stage2 *s2, const struct arm_item *it)
{
	uint64_t e;
	unsigned order;

	return s2->ept && !ept_lookup(s2->ept, it->gfn, &e, &order) && ept_entry_present(e) &&
	       ept_entry_pfn(e) == it->pfn;
}

/*
 * Zap items[0..ni), sorted by gfn, their idle bits set. A home window is
 * one shared mapping for the guest's life (stage2_home.c), so a zap of it
 * can only take PTEs away, never data, whatever happened to the pages
 * meanwhile: its zaps run without s2->lock, and the guest's faults do not
 * wait behind them (a scattered batch is tens of zaps, each a flush).
 * arms_in_flight holds the window up (stage2_stop() waits for it) and
 * tells eviction that an idle page may still have its PTE (unmap_runs()
 * zaps it then rather than trust the arm). A touch between the idle bit
 * and the zap is missed, as a young bit set just before the kernel's
 * clear is. Other windows are remapped under the lock: zapped under it.
 */
static void arm_batch(struct stage2 *s2, struct arm_item *items, unsigned ni)
{
	struct gmm_pool *mm = s2->hp->mm;
	struct arm_span spans[HINT_ARM_ITEMS];
	unsigned nspans = 0;
	bool unlocked = stage2_homed(s2);

	for (unsigned j = 0; j < ni; j++) {
		if (!j || !arm_bridge(s2, &items[j - 1], &items[j]))
			spans[nspans++] = (struct arm_span){ .first = j };
		else
			spans[nspans - 1].pages += items[j].gfn - (items[j - 1].gfn + items[j - 1].pages);
		spans[nspans - 1].n++;
		spans[nspans - 1].pages += items[j].pages;
		stage2_dirty_harvest_range_locked(s2, items[j].gfn, items[j].pages);
	}
	if (unlocked) {
		s2->arms_in_flight++;
		pthread_mutex_unlock(&s2->lock);
	}
	for (unsigned r = 0; r < nspans; r++)
		spans[r].ret = realize_zap(s2, items[spans[r].first].gfn, spans[r].pages);
	if (unlocked)
		pthread_mutex_lock(&s2->lock);
	for (unsigned r = 0; r < nspans; r++) {
		if (!spans[r].ret) {
			uint64_t armed = 0;

			for (unsigned i = spans[r].first; i < spans[r].first + spans[r].n; i++)
				armed += items[i].pages;
			s2_count(s2, S2_HINT_ARMED, armed);
			s2_count(s2, S2_HINT_ARM_ZAPS, 1);
			continue;
		}
		/* still mapped: no test (and eviction must zap it itself) */
		for (unsigned i = spans[r].first; i < spans[r].first + spans[r].n; i++)
			if (!unlocked || arm_item_mapped(s2, &items[i])) {
				frame_clear_idle(pfn_to_frame(mm, items[i].pfn));
				frame_clear_armed_early(pfn_to_frame(mm, items[i].pfn));
			}
	}
	if (unlocked && --s2->arms_in_flight == 0)
		pthread_cond_broadcast(&s2->io_done);
}

void hint_arm_locked(struct stage2 *s2, const pfn_t *pfns, unsigned n)
{
	struct gmm_pool *mm = s2->hp->mm;
	struct arm_item items[HINT_ARM_ITEMS];
	unsigned ni = 0;

	for (unsigned i = 0; i <= n; i++) {
		bool sorted = true;

		/* the window goes once stage2_stop() has seen no arm in flight */
		if (s2->stopping)
			return;
		if (i < n) {
			struct gmm_frame *f = pfn_to_frame(mm, pfns[i]);

			/* a caller's list can be older than its last unlock (an
			 * eviction's write, an earlier batch's zaps): evicted
			 * meanwhile, the frame may be someone else's now */
			if (f->owner != s2->cfg.owner ||
			    !arm_item_mapped(s2, &(struct arm_item){ .gfn = f->gfn, .pfn = pfns[i] }))
				continue;
			if (frame_test_unevictable(f) || frame_test_set_idle(f))
				continue;
			items[ni++] = (struct arm_item){
				.gfn = f->gfn,
				.pages = frame_test_head(f) ? HUGE_FRAMES : 1,
				.pfn = pfns[i],
			};
			if (ni < HINT_ARM_BATCH)
				continue;
		}
		if (!ni)
			break;
		/* the LRU gives frames in the order they joined it, mostly
		 * gfn order after a stream of faults or a prefill */
		for (unsigned j = 1; j < ni && sorted; j++)
			sorted = items[j - 1].gfn < items[j].gfn;
		if (!sorted)
			qsort(items, ni, sizeof(items[0]), cmp_arm_gfn);
		if (stage2_homed(s2) && hint_enabled(s2))
			ni = arm_neighbours(s2, items, ni, HINT_ARM_ITEMS);
		arm_batch(s2, items, ni);
		ni = 0;
	}
}

/* Put the PTE of one page back from the page cache; under uffd-wp write
 * tracking, write-protected, so its next write is still seen. A page
 * that kept its swap slot stays write-protected if its zapped PTE's
 * marker still was (unwritten since its swap-in: the slot stays good);
 * a write fault, or a marker gone, and the slot goes. */
static bool continue_page(struct stage2 *s2, gfn_t gfn, bool write)
{
	struct uffdio_continue c = {
		.range = { .start = gfn_hva(s2, gfn), .len = GMM_FRAME_SIZE },
		.mode = s2->dirty_mode == STAGE2_DIRTY_UFFD_WP ? UFFDIO_CONTINUE_MODE_WP : 0,
	};

	if (swap_kept(s2, gfn)) {
		if (!write && swap_kept_clean(s2, gfn))
			c.mode = UFFDIO_CONTINUE_MODE_WP;
		else
			swap_kept_drop(s2, gfn);
	}
	if (!ioctl(s2->uffd, UFFDIO_CONTINUE, &c))
		return true;
	if (errno == EINVAL && c.mode) { /* a kernel before 6.3: unprotected, reported written */
		c.mode = 0;
		c.mapped = 0;
		swap_kept_drop(s2, gfn);
		if (!ioctl(s2->uffd, UFFDIO_CONTINUE, &c))
			return true;
	}
	/* EEXIST: another vCPU's fault put it back first (or, for a fault
	 * handed over by stage2_sigbus(), the same one sent twice) */
	uffd_wake(s2, gfn, 1);
	return false;
}

void stage2_hint_fault(struct stage2 *s2, uint64_t gpa, bool write)
{
	gfn_t gfn = gpa >> GMM_FRAME_SHIFT;
	bool unarmed = false;
	uint64_t e;
	unsigned order;

	pthread_mutex_lock(&s2->lock);
	if (!s2->ept) {
		uffd_wake(s2, gfn, 1); /* going away */
		pthread_mutex_unlock(&s2->lock);
		return;
	}
	if (ept_lookup(s2->ept, gfn, &e, &order) || !ept_entry_present(e)) {
		/* not the guest's page any more: evicted with its PTEs zapped
		 * (evict_zap()), and the pool offset the window still maps there
		 * holds someone else's frame now. Never CONTINUE it: a stage-2
		 * fault, which reads the page back from swap. */
		pthread_mutex_unlock(&s2->lock);
		stage2_fault(s2, gpa, write);
		return;
	}
	if (!host_pool_hugetlb(s2->hp, ept_entry_pfn(e))) {
		struct gmm_frame *f = pfn_to_frame(s2->hp->mm, ept_entry_pfn(e));

		if (frame_test_clear_idle(f)) {
			frame_clear_armed_early(f);
			frame_set_referenced(f);
			s2_count(s2, S2_HINT_FAULTS, 1);
		} else {
			unarmed = true; /* counted once its PTE is seen missing */
		}
		/* NUMA balancing: a page touched from a far node may move
		 * there now (it is then mapped and the toucher woken) */
		if (numa_hint_migrate(s2, e, order)) {
			pthread_mutex_unlock(&s2->lock);
			return;
		}
	}
	if (order == HUGE_ORDER) {
		/* a new mapping of the whole frame (registered again by
		 * realize_map): the retried touch gets a PMD, not 512 PTEs */
		gfn_t g2 = gfn & ~(gfn_t)(HUGE_FRAMES - 1);

		if (unarmed)
			s2_count(s2, S2_MINOR_UNARMED, 1);
		if (realize_map(s2, g2, ept_entry_pfn(e), HUGE_FRAMES))
			continue_page(s2, gfn, write);
		else
			uffd_wake(s2, g2, HUGE_FRAMES);
	} else if (continue_page(s2, gfn, write) && unarmed) {
		s2_count(s2, S2_MINOR_UNARMED, 1);
	}
	pthread_mutex_unlock(&s2->lock);
}

/*
 * Aging ahead of eviction. A page new on the inactive list (a fault, a
 * swap-in) was armed only when it first reached the tail, and judged a
 * whole trip later. A burst of new pages therefore reached the tail as a
 * run with no test behind it: reclaim had to arm the whole run before it
 * could free anything, and every guest's faults waited meanwhile
 * (bench-overcommit: tens of thousands of pages armed in a second, every
 * vCPU stalled, docs/reclaim.md). MGLRU keeps its aging ahead of eviction
 * for the same reason (should_run_aging()): kswapd arms each new page
 * once half the list came in after it, after each of its turns at the
 * guest, so the tail finds pages tested over the second half of their
 * trip. A page the ring lost (full, or armed early with a neighbour) is
 * still armed at the tail as before.
 */
struct arm_ahead_entry {
	uint64_t inserted;  /* the inactive list's gmm_lru_inserted() once it was on */
	uint32_t pfn;
	uint32_t gfn;
};

/* At most this many pages wait (16 bytes each): a quarter of the guest's
 * RAM, within the half of the list they wait for. */
#define ARM_AHEAD_MAX (1U << 16)

void hint_note_new(struct stage2 *s2, pfn_t pfn, gfn_t gfn, uint64_t inserted)
{
	struct arm_ahead_entry *e;

	if (!s2->cfg.swap || !hint_enabled(s2) || gfn > UINT32_MAX || pfn > UINT32_MAX)
		return;
	if (!s2->ahead) {
		uint64_t pages = 0;

		for (int i = 0; i < s2->mem->nr_slots; i++)
			pages += s2->mem->slots[i].bytes >> GMM_FRAME_SHIFT;
		pages /= 4;
		s2->ahead_cap = pages < ARM_AHEAD_MAX ? (uint32_t)(pages ? pages : 1) : ARM_AHEAD_MAX;
		s2->ahead = calloc(s2->ahead_cap, sizeof(*s2->ahead));
		if (!s2->ahead)
			return; /* armed at the tail, as before */
	}
	if (s2->ahead_len == s2->ahead_cap) { /* the oldest is left to the tail */
		s2->ahead_first = (s2->ahead_first + 1) % s2->ahead_cap;
		s2->ahead_len--;
	}
	e = &s2->ahead[(s2->ahead_first + s2->ahead_len++) % s2->ahead_cap];
	*e = (struct arm_ahead_entry){
		.inserted = inserted,
		.pfn = (uint32_t)pfn,
		.gfn = (uint32_t)gfn,
	};
}

void hint_ahead_free(struct stage2 *s2)
{
	free(s2->ahead);
	s2->ahead = NULL;
	s2->ahead_first = s2->ahead_len = s2->ahead_cap = 0;
}

uint64_t stage2_age_ahead(struct stage2 *s2, uint64_t max)
{
	uint64_t looked = 0, handed = 0, now, half;
	pfn_t pfns[HINT_ARM_BATCH];
	unsigned n = 0;

	pthread_mutex_lock(&s2->lock);
	now = gmm_lru_inserted(&s2->lru, LRU_INACTIVE_ANON);
	half = gmm_lru_pages(&s2->lru, LRU_INACTIVE_ANON) / 2;
	while (s2->ahead_len && looked < max && s2->ept && !s2->stopping && !s2->dead) {
		struct arm_ahead_entry e = s2->ahead[s2->ahead_first];
		pfn_t pfn = GMM_PFN_NONE;

		if (now - e.inserted < half)
			break; /* the rest came in later still */
		s2->ahead_first = (s2->ahead_first + 1) % s2->ahead_cap;
		s2->ahead_len--;
		looked++;
		/* still the page that joined: untested, inactive, this gfn's */
		if (neighbour_kind(s2, e.gfn, &pfn) != NB_ARM || pfn != e.pfn)
			continue;
		pfns[n++] = pfn;
		handed++;
		if (n == HINT_ARM_BATCH) {
			hint_arm_locked(s2, pfns, n); /* may let the lock go */
			n = 0;
		}
	}
	if (n)
		hint_arm_locked(s2, pfns, n);
	s2_count(s2, S2_HINT_ARMED_AHEAD, handed);
	pthread_mutex_unlock(&s2->lock);
	return handed;
}
