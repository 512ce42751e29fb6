/* Diagnostics to stderr, one line each, "gmm: ..." (stdout carries only the
 * JSON summary lines). log_ratelimited() bounds what a misbehaving guest can
 * make gmm print. */
#ifndef GMM_VMM_LOG_H
#define GMM_VMM_LOG_H

#include <stdbool.h>

extern bool log_quiet;

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
