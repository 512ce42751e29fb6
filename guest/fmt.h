/*
 * Tiny string and number formatting for the freestanding guest (no libc):
 * a bounded string builder that truncates instead of overflowing.
 */
#ifndef GMM_GUEST_FMT_H
#define GMM_GUEST_FMT_H

#include "guest/compiler.h"

struct sbuf {
	char *buf;
	size_t cap;   /* bytes in buf, including the NUL */
	size_t len;
};

size_t str_len(const char *s);
bool str_eq(const char *a, const char *b);
/* True if the n bytes at a are exactly the string b. */
bool str_eqn(const char *a, size_t n, const char *b);

void sb_init(struct sbuf *sb, char *buf, size_t cap);
void sb_putc(struct sbuf *sb, char c);
void sb_puts(struct sbuf *sb, const char *s);
void sb_putn(struct sbuf *sb, const char *s, size_t n);
void sb_putu(struct sbuf *sb, uint64_t v);
void sb_putx(struct sbuf *sb, uint64_t v);            /* 0x1f */
void sb_putfix(struct sbuf *sb, double v, int decimals); /* 12.345 */
void sb_putsi(struct sbuf *sb, double v);             /* 1.9M, 12.3k, 850 */
void sb_putsize(struct sbuf *sb, uint64_t bytes);     /* 512M, 1.5G, 4096 */

#endif
