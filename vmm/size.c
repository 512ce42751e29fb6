/* See size.h. */
#include "vmm/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int size_parse(const char *s, uint64_t *bytes)
{
	static const struct { const char *suffix; int shift; } units[] = {
		{ "", 0 }, { "B", 0 }, { "K", 10 }, { "KB", 10 }, { "KIB", 10 }, { "M", 20 }, { "MB", 20 },
		{ "MIB", 20 }, { "G", 30 }, { "GB", 30 }, { "GIB", 30 }, { "T", 40 }, { "TB", 40 }, { "TIB", 40 },
	};
	uint64_t v = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].suffix))
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*bytes = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

const char *size_format(uint64_t b, char *buf)
{
	static const char sfx[] = "KMGT";
	int i;

	for (i = 4; i > 0; i--) {
		if (b && !(b & ((1ULL << (10 * i)) - 1))) {
			snprintf(buf, 32, "%llu%c", (unsigned long long)(b >> (10 * i)), sfx[i - 1]);
			return buf;
		}
	}
	snprintf(buf, 32, "%llu", (unsigned long long)b);
	return buf;
}
