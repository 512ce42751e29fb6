/*
 * The guest command line: `workload=NAME key=value ...`, space separated.
 * A key table maps each key to a field of struct wl_params and says which
 * workloads take it, so an unknown key, a bad value or a key the workload
 * does not take is refused with one line naming the key.
 */
#ifndef GMM_GUEST_CMDLINE_H
#define GMM_GUEST_CMDLINE_H

#include "guest/compiler.h"
#include "guest/fmt.h"

enum wl_kind {
	WL_TOUCH,
	WL_RANDOM,
	WL_ZIPF,
	WL_HOG,
	WL_CRASH,
	WL_GARBAGE,
	WL_IOEXIT,    /* port-I/O round trips, timed: the exit cost */
	NR_WL,
};

enum crash_kind {
	CRASH_NONE,
	CRASH_UD,   /* ud2: #UD */
	CRASH_PF,   /* store through a pointer far outside RAM: #PF */
	CRASH_GP,   /* a privileged instruction at CPL 3: #GP */
	CRASH_DIV,  /* integer divide by zero: #DE */
};

struct wl_params {
	enum wl_kind workload;     /* workload=, default touch */
	uint64_t size_bytes;       /* size=, 0 = all free RAM */
	uint64_t iters;            /* iters=, random/zipf ops over all vCPUs */
	uint64_t duration_s;       /* duration=, random/zipf: stop the ops after this many seconds (0: iters only) */
	double theta;              /* theta=, zipf skew */
	bool verify;               /* verify= */
	uint64_t verify_every;     /* verify_every=, ops between full passes; 0 = at the end only */
	uint64_t seed;             /* seed= */
	unsigned write_pct;        /* write_pct=, share of random/zipf ops that write */
	bool prefill;              /* prefill=, touch the whole set before random/zipf ops */
	bool scatter;              /* scatter=, spread zipf's hot ranks over the set */
	bool stalls;               /* stalls=, random/zipf: time every op, count the slow ones */
	unsigned vcpus;            /* vcpus=, 0 = every vCPU the VMM started */
	uint64_t step_bytes;       /* step=, hog: distance between touches */
	uint64_t rate_pages;       /* rate=, hog: pages/s, 0 = unthrottled */
	uint64_t print_every_s;    /* print_every=, hog: seconds between progress lines */
	enum crash_kind crash;     /* kind= (workload=crash) or crash= (after any workload) */
	uint64_t count;            /* count=, garbage: accesses of each kind */
	uint64_t hot_bytes;        /* hot=, random: accesses only the set's first hot bytes (0: all) */
	uint64_t corrupt;          /* corrupt=, verify self-test: words to flip before the final pass */
	bool balloon;              /* balloon=, the last vCPU drives a virtio-balloon */
	uint64_t balloon_features; /* balloon_features=, balloon feature bits to accept (default all) */
	uint64_t hold_s;           /* hold=, seconds to keep running after the main phase */
	bool free_wset;            /* free=, give the working set back to gpool after the main phase */
	uint64_t grow_bytes;       /* grow=, allocate this much more from gpool after the main phase */
	uint32_t keys_set;         /* bit per key table entry given on the line */
};

/* Fills *p (defaults first). Returns 0, or -1 with a one-line reason in err. */
int cmdline_parse(const char *cmdline, struct wl_params *p, struct sbuf *err);
const char *wl_name(enum wl_kind w);
const char *crash_name(enum crash_kind c);
/* Parse "512M"-style sizes and "20M"-style counts (shared with the host runner). */
int parse_size(const char *s, size_t n, uint64_t *out);
int parse_count(const char *s, size_t n, uint64_t *out);

#endif
