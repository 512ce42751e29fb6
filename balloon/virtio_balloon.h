/*
 * The virtio-balloon device's wire format (virtio 1.2, 5.5 "Traditional
 * Memory Balloon Device"): feature bits, queue roles, config space and
 * statistics tags. Shared by gmm's device model (balloon/balloon_dev.c) and
 * the test guest's driver (guest/balloon.c), so only fixed-width types.
 */
#ifndef GMM_BALLOON_VIRTIO_BALLOON_H
#define GMM_BALLOON_VIRTIO_BALLOON_H

#include <stdint.h>

#define VIRTIO_ID_BALLOON 5

/* Feature bits (numbers, not masks). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST  0  /* not offered: deflated pages are usable at once */
#define VIRTIO_BALLOON_F_STATS_VQ        1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM  2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT  3  /* not offered (migration hinting) */
#define VIRTIO_BALLOON_F_PAGE_POISON     4  /* not offered */
#define VIRTIO_BALLOON_F_REPORTING       5

/*
 * Queues, in the order they exist; one that was not negotiated takes no
 * index (Linux and QEMU both number the present ones consecutively):
 *   0 inflateq, 1 deflateq, then statsq if F_STATS_VQ, then reporting_vq
 *   if F_REPORTING. So without F_STATS_VQ the reporting queue is 2.
 */
#define VIRTIO_BALLOON_Q_INFLATE 0
#define VIRTIO_BALLOON_Q_DEFLATE 1
#define VIRTIO_BALLOON_MAX_QUEUES 4

/* inflateq and deflateq carry arrays of le32 page frame numbers of 4 KiB
 * pages, whatever the guest's page size. */
#define VIRTIO_BALLOON_PFN_SHIFT 12

/* Config space (little-endian). The device writes num_pages (the target
 * size, in 4 KiB pages); the driver writes actual (pages it holds). */
struct virtio_balloon_config {
	uint32_t num_pages;
	uint32_t actual;
	uint32_t free_page_hint_cmd_id; /* F_FREE_PAGE_HINT only */
	uint32_t poison_val;            /* F_PAGE_POISON only */
};

/* statsq: the driver's buffer is an array of these, packed. */
struct virtio_balloon_stat {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

#define VIRTIO_BALLOON_S_SWAP_IN  0   /* pages swapped in */
#define VIRTIO_BALLOON_S_SWAP_OUT 1   /* pages swapped out */
#define VIRTIO_BALLOON_S_MAJFLT   2   /* major faults */
#define VIRTIO_BALLOON_S_MINFLT   3   /* minor faults */
#define VIRTIO_BALLOON_S_MEMFREE  4   /* free memory, bytes */
#define VIRTIO_BALLOON_S_MEMTOT   5   /* total memory, bytes */
#define VIRTIO_BALLOON_S_AVAIL    6   /* available memory, bytes */
#define VIRTIO_BALLOON_S_CACHES   7   /* disk caches, bytes */
#define VIRTIO_BALLOON_S_HTLB_PGALLOC 8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL  9
#define VIRTIO_BALLOON_S_NR       10

#endif
