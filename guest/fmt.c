/* See fmt.h. */
#include "guest/fmt.h"

size_t str_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

bool str_eqn(const char *a, size_t n, const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i] || !b[i])
			return false;
	return b[n] == '\0';
}

void sb_init(struct sbuf *sb, char *buf, size_t cap)
{
	sb->buf = buf;
	sb->cap = cap;
	sb->len = 0;
	if (cap)
		buf[0] = '\0';
}

void sb_putc(struct sbuf *sb, char c)
{
	if (sb->len + 1 < sb->cap) {
		sb->buf[sb->len++] = c;
		sb->buf[sb->len] = '\0';
	}
}

void sb_putn(struct sbuf *sb, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		sb_putc(sb, s[i]);
}

void sb_puts(struct sbuf *sb, const char *s)
{
	while (*s)
		sb_putc(sb, *s++);
}

void sb_putu(struct sbuf *sb, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		sb_putc(sb, tmp[--n]);
}

void sb_putx(struct sbuf *sb, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 60;

	sb_puts(sb, "0x");
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		sb_putc(sb, hex[(v >> shift) & 0xf]);
}

/* Fixed point with rounding; enough for rates and seconds (|v| < 1.8e19). */
void sb_putfix(struct sbuf *sb, double v, int decimals)
{
	uint64_t scale = 1, whole, frac;

	if (v != v) {
		sb_puts(sb, "nan");
		return;
	}
	if (v < 0) {
		sb_putc(sb, '-');
		v = -v;
	}
	if (v >= 1.8e19) {
		sb_puts(sb, "inf");
		return;
	}
	for (int i = 0; i < decimals; i++)
		scale *= 10;
	whole = (uint64_t)v;
	frac = (uint64_t)((v - (double)whole) * (double)scale + 0.5);
	if (frac >= scale) {
		whole++;
		frac -= scale;
	}
	sb_putu(sb, whole);
	if (decimals <= 0)
		return;
	sb_putc(sb, '.');
	for (uint64_t d = scale / 10; d; d /= 10) {
		sb_putc(sb, (char)('0' + frac / d));
		frac %= d;
	}
}

void sb_putsi(struct sbuf *sb, double v)
{
	static const char unit[] = " kMGT";
	int u = 0;

	while (v >= 1000.0 && u < 4) {
		v /= 1000.0;
		u++;
	}
	sb_putfix(sb, v, u && v < 100.0 ? 1 : 0);
	if (u)
		sb_putc(sb, unit[u]);
}

void sb_putsize(struct sbuf *sb, uint64_t bytes)
{
	static const char unit[] = "KMGT";
	int u = -1;
	double v = (double)bytes;

	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	if (u < 0) {
		sb_putu(sb, bytes);
		return;
	}
	sb_putfix(sb, v, v == (double)(uint64_t)v ? 0 : 1);
	sb_putc(sb, unit[u]);
}
