/*
 * The few libm functions the Zipf sampler needs, for a guest without libm.
 * Accurate to a few ulp over the ranges the sampler uses; no errno, no
 * exceptions, no subnormal care beyond "does not crash".
 */
#ifndef GMM_GUEST_MATHX_H
#define GMM_GUEST_MATHX_H

#include "guest/compiler.h"

double mx_exp(double x);
double mx_log(double x);
double mx_expm1(double x);
double mx_log1p(double x);
double mx_pow(double x, double y); /* x > 0 */

#endif
