/* See mathx.h. Classic range reduction plus short polynomials. */
#include "guest/mathx.h"

#define LN2_HI  6.93147180369123816490e-01 /* ln 2, high bits (exact k*LN2_HI) */
#define LN2_LO  1.90821492927058770002e-10
#define LOG2E   1.44269504088896338700e+00
#define SQRT2   1.41421356237309504880

static inline uint64_t dbl_bits(double d)
{
	uint64_t u;

	__builtin_memcpy(&u, &d, 8);
	return u;
}

static inline double bits_dbl(uint64_t u)
{
	double d;

	__builtin_memcpy(&d, &u, 8);
	return d;
}

/* 2^k for k in [-1022, 1023]. */
static inline double pow2i(int k)
{
	return bits_dbl((uint64_t)(k + 1023) << 52);
}

/* exp(x) = 2^k * exp(r), |r| <= ln2/2; Taylor to r^13 is below 1 ulp there.
 * Constants are written as multiplications by reciprocals: a division costs
 * as much as the rest of the polynomial. */
double mx_exp(double x)
{
	double kf, r, r2, r4, p;
	int k;

	if (x != x)
		return x;
	if (x > 709.78)
		return __builtin_inf();
	if (x < -745.2)
		return 0.0;
	kf = x * LOG2E;
	k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
	r = (x - k * LN2_HI) - k * LN2_LO;
	/* Estrin's scheme: the terms pair up independently, so the latency
	 * is a few multiply-adds deep instead of 13 (Horner), which is most
	 * of a Zipf sample's cost. */
	r2 = r * r;
	r4 = r2 * r2;
	p = ((1.0 + r) + (0.5 + r * (1.0 / 6)) * r2) +
	    ((1.0 / 24 + r * (1.0 / 120)) + (1.0 / 720 + r * (1.0 / 5040)) * r2) * r4 +
	    (((1.0 / 40320 + r * (1.0 / 362880)) + (1.0 / 3628800 + r * (1.0 / 39916800)) * r2) +
	     (1.0 / 479001600 + r * (1.0 / 6227020800.0)) * r4) * (r4 * r4);
	/* split the scale so 2^k never leaves the normal range */
	if (k > 1023)
		return p * pow2i(1023) * pow2i(k - 1023);
	if (k < -1022)
		return p * pow2i(-1022) * pow2i(k + 1022);
	return p * pow2i(k);
}

/* log(x) = k ln2 + log(m), m in [sqrt(1/2), sqrt(2)), with
 * log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.172: odd series to s^21. */
double mx_log(double x)
{
	uint64_t u;
	int k;
	double m, s, s2, s4, s8, p;

	if (x != x || x < 0)
		return __builtin_nan("");
	if (x == 0)
		return -__builtin_inf();
	if (x == __builtin_inf())
		return x;
	u = dbl_bits(x);
	k = 0;
	if (!(u >> 52)) {             /* subnormal: scale up by 2^54 */
		x *= 18014398509481984.0;
		u = dbl_bits(x);
		k = -54;
	}
	k += (int)(u >> 52) - 1023;
	m = bits_dbl((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
	if (m > SQRT2) {
		m *= 0.5;
		k++;
	}
	s = (m - 1.0) / (m + 1.0);
	s2 = s * s;
	s4 = s2 * s2;
	s8 = s4 * s4;
	/* 1 + s2/3 + s4/5 + ... + s20/21, Estrin's scheme as in mx_exp() */
	p = ((1.0 + s2 * (1.0 / 3)) + (1.0 / 5 + s2 * (1.0 / 7)) * s4) +
	    ((1.0 / 9 + s2 * (1.0 / 11)) + (1.0 / 13 + s2 * (1.0 / 15)) * s4) * s8 +
	    ((1.0 / 17 + s2 * (1.0 / 19)) + s4 * (1.0 / 21)) * (s8 * s8);
	return k * LN2_HI + (2.0 * s * p + k * LN2_LO);
}

/* Near 0, exp(x)-1 and log(1+x) lose everything to cancellation: use the
 * series there; elsewhere the plain forms are accurate enough for sampling. */
double mx_expm1(double x)
{
	if (x > -1e-5 && x < 1e-5)
		return x * (1.0 + x * (0.5 + x * (1.0 / 6 + x / 24)));
	return mx_exp(x) - 1.0;
}

double mx_log1p(double x)
{
	if (x > -1e-5 && x < 1e-5)
		return x * (1.0 - x * (0.5 - x * (1.0 / 3 - x * 0.25)));
	return mx_log(1.0 + x);
}

double mx_pow(double x, double y)
{
	return mx_exp(y * mx_log(x));
}
