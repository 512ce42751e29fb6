/*
 * LRU lists of guest frames: the kernel's lruvec (include/linux/mmzone.h,
 * mm/swap.c, the list half of mm/vmscan.c). One lruvec per guest (a guest
 * is gmm's memcg) and pool node, as mem_cgroup_lruvec(memcg, pgdat): a
 * node's kswapd reclaims the frames of its node; two lists because every
 * guest frame is anonymous memory: inactive and active. A frame goes on
 * the lists of the node its pfn is in (frame_nid()). Frames are linked through their
 * descriptors' lru_next/lru_prev (pfns), newest at the head, so scanning
 * takes the oldest from the tail. A huge frame sits on a list as its head
 * frame and counts as 512 pages (it is aged as a unit).
 *
 * Locking: lv->lock (the kernel's lru_lock) protects the lists, the
 * frames' lru links and their lru/active flags while listed. Isolation
 * takes frames off the list under the lock and hands them to the caller,
 * which owns them (FRAME_lru clear) until it puts them back or frees them.
 */
#ifndef GMM_GUESTMM_LRU_H
#define GMM_GUESTMM_LRU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "guestmm/frame.h"
#include "guestmm/zone.h"

struct gmm_pool;

enum gmm_lru_list {
	LRU_INACTIVE_ANON,
	LRU_ACTIVE_ANON,
	NR_GMM_LRU_LISTS
};

struct gmm_lru_head {
	uint32_t first;         /* newest, FRAME_NIL when empty */
	uint32_t last;          /* oldest: where scanning starts */
	uint64_t nr_pages;      /* 4 KiB pages on the list (a huge frame counts 512) */
	uint64_t nr_entries;    /* frames on the list */
};

/* One guest's lists on every node; GMM_LRU_ANY_NODE: all of them. */
#define GMM_LRU_ANY_NODE (-1)
struct gmm_lruvec {
	pthread_mutex_t lock;
	int next_nid;           /* GMM_LRU_ANY_NODE isolation takes nodes in turn */
	uint64_t inserted[NR_GMM_LRU_LISTS]; /* pages ever put at a list's head, every node:
					      * a listed page's distance from the head is
					      * how many came in after it */
	struct gmm_lru_head lists[GMM_MAX_NODES][NR_GMM_LRU_LISTS];
};

void gmm_lruvec_init(struct gmm_lruvec *lv);
void gmm_lruvec_destroy(struct gmm_lruvec *lv);

/* folio_add_lru(): the frame (a head for a huge frame) goes at the head of
 * the active or inactive list; sets FRAME_lru (and FRAME_active). Returns
 * that list's gmm_lru_inserted() once the frame is on it. */
uint64_t gmm_lru_add(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active);
/* Take a listed frame off its list (freeing, unmapping); false if it was
 * not listed (isolated by someone else, or never added). */
bool gmm_lru_del(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn);
/* folio_activate() / deactivate on a listed frame: move it to the head of
 * the other list. False if it was not listed. */
bool gmm_lru_move(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active);

/* isolate_lru_folios(): take up to max frames from the tail of list on
 * node nid (GMM_LRU_ANY_NODE: the nodes in turn, a frame at a time) into
 * out[] (oldest first), clearing FRAME_lru; returns how many. *pages gets
 * the 4 KiB pages they hold. */
size_t gmm_lru_isolate(struct gmm_pool *pool, struct gmm_lruvec *lv, int nid, enum gmm_lru_list list, pfn_t *out,
		       size_t max, uint64_t *pages);
/* Put an isolated frame back at the head of a list (folio_putback_lru). */
void gmm_lru_putback(struct gmm_pool *pool, struct gmm_lruvec *lv, pfn_t pfn, bool active);

/* Pages on a list now, on every node or on one (read under the lock). */
uint64_t gmm_lru_pages(struct gmm_lruvec *lv, enum gmm_lru_list list);
uint64_t gmm_lru_node_pages(struct gmm_lruvec *lv, int nid, enum gmm_lru_list list);
/* Pages ever put at the head of a list, every node (read under the lock):
 * the clock a page's age on the list is read off (aging ahead of
 * eviction, vmm/stage2_hint.c). */
uint64_t gmm_lru_inserted(struct gmm_lruvec *lv, enum gmm_lru_list list);

/* Walk every listed frame (head to tail) checking links, counts and flags;
 * returns problems, each printed to f (may be NULL). */
int gmm_lru_check(struct gmm_pool *pool, struct gmm_lruvec *lv, FILE *f);

#endif
