/*
 * Zipf-distributed ranks in [1, n] with P(k) ~ 1/k^theta, by
 * rejection-inversion (W. Hörmann, G. Derflinger, "Rejection-inversion to
 * generate variates from monotone discrete distributions", 1996): O(1) time
 * and O(1) memory for any n, so the guest needs no table (a CDF table for a
 * 64 GiB working set would itself be 128 MiB). Typically one log and one
 * exp per sample.
 */
#ifndef GMM_GUEST_ZIPF_H
#define GMM_GUEST_ZIPF_H

#include "guest/compiler.h"
#include "guest/rng.h"

struct zipf {
	uint64_t n;
	double theta;
	double h_x1;      /* H(1.5) - 1 */
	double h_n;       /* H(n + 0.5) */
	double s;         /* the squeeze: accept without evaluating H when k - x <= s */
};

/* theta >= 0 (0 is uniform); n >= 1. */
void zipf_init(struct zipf *z, uint64_t n, double theta);
uint64_t zipf_sample(const struct zipf *z, struct rng *r);
/* workload=zipf scatter=1 puts rank k at page (k - 1) * mult mod n: the
 * multiplier, about n/phi and coprime to n (1 for n <= 2), so ranks next
 * to each other land far apart and every page is some rank's. */
uint64_t zipf_scatter_mult(uint64_t n);

#endif
