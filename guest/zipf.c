/* See zipf.h. h(x) = x^-theta; H is its integral, shifted so H(1) = 0:
 * H(x) = (x^(1-theta) - 1) / (1 - theta), written with expm1/log1p so that
 * theta = 1 (H = log x) needs no special case. */
#include "guest/zipf.h"

#include "guest/mathx.h"

/* log1p(x)/x and expm1(x)/x, continuous through 0. */
static double helper1(double x)
{
	if (x > 1e-8 || x < -1e-8)
		return mx_log1p(x) / x;
	return 1.0 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
}

static double helper2(double x)
{
	if (x > 1e-8 || x < -1e-8)
		return mx_expm1(x) / x;
	return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3) * (1.0 + 0.25 * x));
}

static double zipf_h(const struct zipf *z, double x)
{
	return mx_exp(-z->theta * mx_log(x));
}

static double zipf_H(const struct zipf *z, double x)
{
	double lx = mx_log(x);

	return helper2((1.0 - z->theta) * lx) * lx;
}

static double zipf_H_inv(const struct zipf *z, double x)
{
	double t = x * (1.0 - z->theta);

	if (t < -1.0)
		t = -1.0;  /* rounding; keeps log1p defined (result: rank 1) */
	return mx_exp(helper1(t) * x);
}

void zipf_init(struct zipf *z, uint64_t n, double theta)
{
	z->n = n ? n : 1;
	z->theta = theta;
	z->h_x1 = zipf_H(z, 1.5) - 1.0;
	z->h_n = zipf_H(z, (double)z->n + 0.5);
	z->s = 2.0 - zipf_H_inv(z, zipf_H(z, 2.5) - zipf_h(z, 2.0));
}

uint64_t zipf_sample(const struct zipf *z, struct rng *r)
{
	for (;;) {
		double u = z->h_n + rng_double(r) * (z->h_x1 - z->h_n);
		double x = zipf_H_inv(z, u);
		double kd = x + 0.5;
		uint64_t k = kd < 1.0 ? 1 : (uint64_t)kd;

		if (k > z->n)
			k = z->n;
		if ((double)k - x <= z->s || u >= zipf_H(z, (double)k + 0.5) - zipf_h(z, (double)k))
			return k;
	}
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

uint64_t zipf_scatter_mult(uint64_t n)
{
	uint64_t m = (uint64_t)((double)n * 0.6180339887) | 1;

	if (n <= 2)
		return 1;
	while (gcd(m, n) != 1)
		m += 2;
	return m % n ? m % n : 1;
}
