/*
 * The test guest's virtio-balloon driver (virtio 1.2, 5.5), run by a vCPU
 * of its own (balloon=1: the last vCPU the VMM started) since the guest
 * has no interrupts and no threads: that vCPU polls the device's config
 * space about every millisecond and moves pages between gpool and the
 * balloon as the host's target (num_pages) says, the way Linux's
 * virtio_balloon fills and leaks its balloon, in batches of up to 256
 * page numbers. With the features negotiated it also keeps the host's
 * statistics buffer filled (STATS_VQ), gives pages back when a workload
 * vCPU runs out of memory (DEFLATE_ON_OOM), and reports free memory to
 * the host (REPORTING), about every 100 ms.
 *
 * The other vCPUs talk to it through shared counters in guest memory:
 * balloon_deflate_on_oom() (a request it serves between two batches) and
 * balloon_stop() (vCPU 0, before its report).
 */
#ifndef GMM_GUEST_BALLOON_H
#define GMM_GUEST_BALLOON_H

#include "guest/compiler.h"

/* Reserve the driver needs (main.c carves it off the top of RAM): four
 * virtqueues' rings, the PFN arrays and the statistics buffer. */
#define BALLOON_RESERVE_BYTES (24 * PAGE_SIZE)

struct balloon_cfg {
	int cpu;                      /* the balloon vCPU */
	uint64_t base;                /* gva of gpa 0 */
	uint64_t tsc_hz;
	uint64_t ram_bytes;           /* MEMTOT */
	uint64_t features_mask;       /* balloon_features=: balloon feature bits to accept */
	void *mem;                    /* BALLOON_RESERVE_BYTES of reserve */
	uint64_t (*minflt)(void);     /* pages the workload first touched so far */
};

/* What the driver did, for the results (report.c). */
struct balloon_results {
	bool found;                   /* a device was found and initialized */
	uint64_t features;            /* negotiated, VIRTIO_F_VERSION_1 included */
	uint64_t pages;               /* held now */
	uint64_t inflated, deflated;  /* pages over the run */
	uint64_t oom_deflated;        /* of deflated: given back for a workload's allocation */
	uint64_t reported_pages;      /* free pages reported to the host */
	uint64_t stats_sent;          /* statistics buffers posted */
};

/* The balloon vCPU's whole life: probe, negotiate, poll until stopped. */
__attribute__((noreturn)) void balloon_main(const struct balloon_cfg *cfg);
/* vCPU 0 at the end: ask the balloon vCPU to stop after its request in
 * flight and wait for it (a few seconds at most). */
void balloon_stop(uint64_t tsc_hz);
/* A workload vCPU found gpool empty: with DEFLATE_ON_OOM negotiated, ask
 * the balloon vCPU to give some pages back and wait until it has. True
 * when it gave back pages (another vCPU may still take them first);
 * false when it could not (no device, feature not negotiated, balloon
 * empty). */
bool balloon_deflate_on_oom(void);
/* The figures so far (relaxed reads; exact once balloon_stop() returned). */
void balloon_results(struct balloon_results *r);

#endif
