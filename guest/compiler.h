/*
 * Included by every test-guest source. In the freestanding guest build every
 * symbol is hidden, declarations included: the compiler then reaches data
 * PC-relative instead of through GOT slots, so the static PIE needs no
 * relocations beyond R_X86_64_RELATIVE (pointers stored in data). Not in
 * the hosted build (gmm-bare), where it would hide libc's declarations too.
 */
#ifndef GMM_GUEST_COMPILER_H
#define GMM_GUEST_COMPILER_H

#if !__STDC_HOSTED__
#pragma GCC visibility push(hidden)
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define likely(x)     __builtin_expect(!!(x), 1)
#define unlikely(x)   __builtin_expect(!!(x), 0)
#define PAGE_SIZE     4096ULL
#define PAGE_SHIFT    12
#define WORDS_PER_PAGE 512

#endif
