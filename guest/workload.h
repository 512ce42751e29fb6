/*
 * What every workload gets (struct wl_ctl, one per vCPU, like the kernel's
 * scan_control: the inputs of one run bundled) and what it hands back
 * (struct wl_result, aggregated over vCPUs by vCPU 0 in main.c).
 */
#ifndef GMM_GUEST_WORKLOAD_H
#define GMM_GUEST_WORKLOAD_H

#include "guest/cmdline.h"
#include "guest/compiler.h"
#include "guest/rng.h"
#include "guest/wset.h"

#define WL_STALL_US      8   /* an op this slow waited for something: a cached op takes < 1 us */
#define WL_STALL_BUCKETS 16  /* up to 32 ms and beyond (last bucket) */

struct wl_result {
	uint64_t ops;              /* touches (touch, hog) or accesses (random, zipf) */
	uint64_t pages_touched;    /* distinct pages written at least once */
	uint64_t verify_failures;  /* mismatching words seen */
	uint64_t fresh_dirty_pages; /* verify=1: pages not all zero at their first touch */
	uint64_t verify_passes;    /* full passes over the slice */
	uint64_t verify_cycles;    /* TSC cycles spent in full passes */
	uint64_t t_start, t_end;   /* main phase, TSC */
	uint64_t prefill_start, prefill_end; /* prefill phase, TSC; 0 if none */
	uint64_t hog_passes;       /* hog: wraps around the slice */
	uint64_t freed_pages;      /* free=: working-set pages given back to gpool */
	uint64_t grow_pages;       /* grow=: pages allocated from gpool and stamped */
	uint64_t grow_oom_pages;   /* grow=: pages it could not get */
	uint64_t sink;             /* xor of values read, so reads stay reads */
	/* stalls=1: timed-phase ops slower than WL_STALL_US, what a fault
	 * costs the guest (a swap-in, a hinting fault) as the guest sees it,
	 * whichever VMM or kernel served it */
	uint64_t stall_ops, stall_cycles;
	uint64_t stall_hist[WL_STALL_BUCKETS]; /* by log2 of the op's us: [2^i, 2^(i+1)) */
};

struct wl_ctl {
	const struct wl_params *p;
	int cpu;                   /* this vCPU */
	int nr_cpus;               /* vCPUs taking part */
	int balloon_cpu;           /* the vCPU driving the balloon (balloon=1), else -1 */
	uint32_t accel;            /* boot_info->accel (GMM_ACCEL_*, PLAT_ACCEL_HOST) */
	uint64_t base;             /* gva of gpa 0 */
	uint64_t ram_bytes;
	uint64_t tsc_hz;
	struct wset set;           /* this vCPU's slice of the working set */
	uint64_t wset_pages;       /* the whole working set, all vCPUs */
	uint64_t iters;            /* this vCPU's share of iters */
	uint64_t *touched;         /* bit per slice page already touched, or NULL (prefill=0 only) */
	uint64_t stamped;          /* slice pages [0, stamped) hold their verify stamp */
	bool wset_freed;           /* free=: the slice went back to gpool; not verified any more */
	uint64_t *grow_gfns;       /* grow=: this vCPU's record of the pages it grew (reserve) */
	uint64_t grow_share;       /* grow=: pages this vCPU is to grow */
	struct rng rng;
	unsigned reported;         /* verify mismatches printed so far */
	struct wl_result r;
};

/* Every workload returns its exit code (GMM_EXIT_*); hog never returns. */
int wl_touch(struct wl_ctl *c);
int wl_random(struct wl_ctl *c);
int wl_zipf(struct wl_ctl *c);
int wl_hog(struct wl_ctl *c);
int wl_crash(struct wl_ctl *c);
int wl_garbage(struct wl_ctl *c);
int wl_ioexit(struct wl_ctl *c);
/* crash= on another workload: fault now, as kind= says. */
void wl_crash_now(struct wl_ctl *c, enum crash_kind kind);

/* In main.c: wait until every vCPU taking part has reached `phase`. */
void wl_sync(struct wl_ctl *c, unsigned phase);
/* In main.c: another vCPU's live result (read with relaxed atomics). */
const struct wl_result *wl_peer_result(int cpu);

/* Shared by the memory workloads (access.c). */
void wl_prefill(struct wl_ctl *c);                    /* touch/stamp every slice page */
void wl_first_touch(struct wl_ctl *c, uint64_t *page);/* one page's first write */
int wl_access_run(struct wl_ctl *c, uint64_t (*pick)(struct wl_ctl *c, void *arg), void *arg);
/* TSC at the end of a timed phase, less the verify passes run in it. */
uint64_t wl_phase_end(struct wl_ctl *c, uint64_t verify_cycles_at_start);
/* After the main phase: free=, hold=, grow=, then the final full verify
 * pass (verify=1) and the grown pages' check; the exit code from the
 * failures. */
int wl_finish(struct wl_ctl *c);

/* In wl_after.c: the phases after the main one (free=, hold=, grow=), and
 * the check of the pages grow= stamped. */
void wl_after_main(struct wl_ctl *c);
void wl_check_grown(struct wl_ctl *c);

static inline bool wl_is_touched(const struct wl_ctl *c, uint64_t i)
{
	return (c->touched[i >> 6] >> (i & 63)) & 1;
}

static inline void wl_mark_touched(struct wl_ctl *c, uint64_t i)
{
	c->touched[i >> 6] |= 1ULL << (i & 63);
}

/* In report.c: vCPU 0 sums every vCPU's result and reports it (results,
 * then one human summary line). */
void wl_report(struct wl_ctl *c, uint32_t exit_code);
/* The balloon_* results (balloon=1), also sent live by hog. */
void wl_report_balloon(struct wl_ctl *c);
/* In main.c: reserve bytes the guest carves off the top of RAM for this
 * command line (the host runner sizes its mapping with it). */
uint64_t wl_reserve_bytes(const struct wl_params *p, const struct gmm_boot_info *bi, int nr_cpus);

/* Say something on the console: "gmm-guest: " + text. */
void wl_print(struct wl_ctl *c, const char *text);

/* In access.c: the TSC value `seconds` after `from` (duration=, hold=), or
 * 0 when the TSC frequency is unknown, which vCPU 0 then says with
 * `unknown` ("hold: TSC frequency unknown; not holding"). */
uint64_t wl_deadline(struct wl_ctl *c, uint64_t from, uint64_t seconds, const char *unknown);

#endif
