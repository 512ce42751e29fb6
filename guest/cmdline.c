/* See cmdline.h. */
#include "guest/cmdline.h"

#include "guest/abi.h"

enum key_type { K_WORKLOAD, K_SIZE, K_COUNT, K_U64, K_BOOL, K_DOUBLE, K_CRASH };

#define W(x)     (1u << (x))
#define W_MEM    (W(WL_TOUCH) | W(WL_RANDOM) | W(WL_ZIPF) | W(WL_HOG))
#define W_OPS    (W(WL_RANDOM) | W(WL_ZIPF))
#define W_ALL    ((1u << NR_WL) - 1)
#define W_AFTER  (W(WL_TOUCH) | W_OPS)  /* memory workloads that end: they have an "after" */

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	unsigned workloads;     /* which workloads take it */
	double min, max;        /* for numbers */
};

#define F(field) __builtin_offsetof(struct wl_params, field)

static const struct key keys[] = {
	{ "workload",     K_WORKLOAD, F(workload),      W_ALL, 0, 0 },
	{ "size",         K_SIZE,     F(size_bytes),    W_MEM, 4096, 1ULL << 44 },
	{ "iters",        K_COUNT,    F(iters),         W_OPS | W(WL_IOEXIT), 0, 1e18 },
	{ "duration",     K_COUNT,    F(duration_s),    W_OPS, 0, 1e6 },
	{ "theta",        K_DOUBLE,   F(theta),         W(WL_ZIPF), 0, 10 },
	{ "verify",       K_BOOL,     F(verify),        W_MEM, 0, 1 },
	{ "verify_every", K_COUNT,    F(verify_every),  W(WL_TOUCH) | W_OPS, 0, 1e18 },
	{ "seed",         K_U64,      F(seed),          W_MEM | W(WL_GARBAGE), 0, 0 },
	{ "write_pct",    K_COUNT,    F(write_pct),     W_OPS, 0, 100 },
	{ "prefill",      K_BOOL,     F(prefill),       W_OPS, 0, 1 },
	{ "hot",          K_SIZE,     F(hot_bytes),     W(WL_RANDOM), 4096, 1ULL << 44 },
	{ "scatter",      K_BOOL,     F(scatter),       W(WL_ZIPF), 0, 1 },
	{ "stalls",       K_BOOL,     F(stalls),        W_OPS, 0, 1 },
	{ "vcpus",        K_COUNT,    F(vcpus),         W_ALL, 1, GMM_MAX_VCPUS },
	{ "step",         K_SIZE,     F(step_bytes),    W(WL_HOG), 8, 1ULL << 40 },
	{ "rate",         K_COUNT,    F(rate_pages),    W(WL_HOG), 0, 1e15 },
	{ "print_every",  K_COUNT,    F(print_every_s), W(WL_HOG), 1, 1e6 },
	{ "kind",         K_CRASH,    F(crash),         W(WL_CRASH), 0, 0 },
	{ "crash",        K_CRASH,    F(crash),         W_OPS | W(WL_TOUCH) | W(WL_GARBAGE), 0, 0 },
	{ "count",        K_COUNT,    F(count),         W(WL_GARBAGE), 0, 1e9 },
	{ "corrupt",      K_COUNT,    F(corrupt),       W(WL_TOUCH) | W_OPS, 0, 1e9 },
	{ "balloon",      K_BOOL,     F(balloon),       W_MEM, 0, 1 },
	{ "balloon_features", K_U64,  F(balloon_features), W_MEM, 0, 0 },
	{ "hold",         K_COUNT,    F(hold_s),        W_AFTER, 0, 1e6 },
	{ "free",         K_BOOL,     F(free_wset),     W_AFTER, 0, 1 },
	{ "grow",         K_SIZE,     F(grow_bytes),    W_AFTER, 4096, 1ULL << 44 },
};

_Static_assert(ARRAY_SIZE(keys) <= 32, "wl_params.keys_set has a bit per key");

static const char *const wl_names[NR_WL] = {
	[WL_TOUCH] = "touch", [WL_RANDOM] = "random", [WL_ZIPF] = "zipf",
	[WL_HOG] = "hog", [WL_CRASH] = "crash", [WL_GARBAGE] = "garbage",
	[WL_IOEXIT] = "ioexit",
};

static const char *const crash_names[] = {
	[CRASH_NONE] = "none", [CRASH_UD] = "ud", [CRASH_PF] = "pf",
	[CRASH_GP] = "gp", [CRASH_DIV] = "div",
};

const char *wl_name(enum wl_kind w)
{
	return (unsigned)w < NR_WL ? wl_names[w] : "?";
}

const char *crash_name(enum crash_kind c)
{
	return (unsigned)c < ARRAY_SIZE(crash_names) ? crash_names[c] : "?";
}

static void set_defaults(struct wl_params *p)
{
	*p = (struct wl_params){
		.workload = WL_TOUCH,
		.iters = 1000000,
		.theta = 0.99,
		.seed = 1,
		.write_pct = 50,
		.prefill = true,
		.scatter = true,
		.step_bytes = PAGE_SIZE,
		.print_every_s = 5,
		.count = 1000,
		.balloon_features = UINT64_MAX,
	};
}

static int parse_digits(const char *s, size_t n, size_t *used, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*used = i;
	*out = v;
	return i ? 0 : -1;
}

/* Shifts a parsed value by a unit, refusing overflow. */
static int scale(uint64_t *v, uint64_t unit)
{
	if (unit && *v > UINT64_MAX / unit)
		return -1;
	*v *= unit;
	return 0;
}

/* Bytes, or K/M/G/T (binary) suffixed: "4096", "512M", "2g". */
int parse_size(const char *s, size_t n, uint64_t *out)
{
	size_t used;
	uint64_t unit = 1;

	if (parse_digits(s, n, &used, out))
		return -1;
	if (used + 1 == n) {
		switch (s[used] | 0x20) {
		case 'k': unit = 1ULL << 10; break;
		case 'm': unit = 1ULL << 20; break;
		case 'g': unit = 1ULL << 30; break;
		case 't': unit = 1ULL << 40; break;
		default: return -1;
		}
	} else if (used != n) {
		return -1;
	}
	return scale(out, unit);
}

/* A count, or k/M/G (decimal) suffixed: "1000000", "20M". */
int parse_count(const char *s, size_t n, uint64_t *out)
{
	size_t used;
	uint64_t unit = 1;

	if (parse_digits(s, n, &used, out))
		return -1;
	if (used + 1 == n) {
		switch (s[used] | 0x20) {
		case 'k': unit = 1000; break;
		case 'm': unit = 1000000; break;
		case 'g': unit = 1000000000; break;
		default: return -1;
		}
	} else if (used != n) {
		return -1;
	}
	return scale(out, unit);
}

/* Decimal seed, or hex with 0x. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
		if (n > 18)
			return -1;
		for (size_t i = 2; i < n; i++) {
			char c = (char)(s[i] | 0x20);

			if (c >= '0' && c <= '9')
				v = v * 16 + (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (uint64_t)(c - 'a' + 10);
			else
				return -1;
		}
		*out = v;
		return 0;
	}
	{
		size_t used;

		return parse_digits(s, n, &used, out) || used != n ? -1 : 0;
	}
}

/* "0.99", "1", ".5": no exponents, no sign. */
static int parse_double(const char *s, size_t n, double *out)
{
	double v = 0, place = 0.1;
	size_t i = 0, digits = 0;

	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
		v = v * 10 + (s[i] - '0');
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++, place /= 10)
			v += (s[i] - '0') * place;
	*out = v;
	return digits && i == n ? 0 : -1;
}

static int parse_bool(const char *s, size_t n, bool *out)
{
	if (str_eqn(s, n, "1") || str_eqn(s, n, "yes") || str_eqn(s, n, "on") || str_eqn(s, n, "true"))
		*out = true;
	else if (str_eqn(s, n, "0") || str_eqn(s, n, "no") || str_eqn(s, n, "off") || str_eqn(s, n, "false"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_enum(const char *s, size_t n, const char *const *names, int nr, int first)
{
	for (int i = first; i < nr; i++)
		if (str_eqn(s, n, names[i]))
			return i;
	return -1;
}

static void err_key(struct sbuf *err, const char *key, const char *v, size_t vn, const char *why)
{
	sb_puts(err, key);
	sb_putc(err, '=');
	sb_putn(err, v, vn);
	sb_puts(err, ": ");
	sb_puts(err, why);
}

/* One value into its field; returns 0 or -1 with err filled. */
static int parse_value(const struct key *k, const char *v, size_t vn, struct wl_params *p,
		       struct sbuf *err)
{
	char *field = (char *)p + k->off;
	uint64_t u = 0;
	double d = 0;
	int e;

	switch (k->type) {
	case K_WORKLOAD:
		e = parse_enum(v, vn, wl_names, NR_WL, 0);
		if (e < 0) {
			err_key(err, k->name, v, vn, "unknown workload (touch, random, zipf, hog, crash, garbage, ioexit)");
			return -1;
		}
		p->workload = (enum wl_kind)e;
		return 0;
	case K_CRASH:
		e = parse_enum(v, vn, crash_names, (int)ARRAY_SIZE(crash_names), CRASH_UD);
		if (e < 0) {
			err_key(err, k->name, v, vn, "unknown crash kind (ud, pf, gp, div)");
			return -1;
		}
		p->crash = (enum crash_kind)e;
		return 0;
	case K_BOOL:
		if (parse_bool(v, vn, (bool *)field)) {
			err_key(err, k->name, v, vn, "not a boolean (0/1)");
			return -1;
		}
		return 0;
	case K_DOUBLE:
		if (parse_double(v, vn, &d) || d < k->min || d > k->max) {
			err_key(err, k->name, v, vn, "not a number in range");
			return -1;
		}
		*(double *)field = d;
		return 0;
	case K_U64:
		if (parse_u64(v, vn, &u)) {
			err_key(err, k->name, v, vn, "not a number (decimal or 0x hex)");
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case K_SIZE:
	case K_COUNT:
		if ((k->type == K_SIZE ? parse_size(v, vn, &u) : parse_count(v, vn, &u)) ||
		    (double)u < k->min || (double)u > k->max) {
			err_key(err, k->name, v, vn, k->type == K_SIZE ?
				"bad size (bytes or a K/M/G/T suffix, in range)" :
				"bad count (a number or a k/M/G suffix, in range)");
			return -1;
		}
		if (k->off == F(write_pct) || k->off == F(vcpus))
			*(unsigned *)field = (unsigned)u;
		else
			*(uint64_t *)field = u;
		return 0;
	}
	return -1;
}

static int parse_token(const char *t, size_t n, struct wl_params *p, struct sbuf *err)
{
	size_t eq = 0;

	while (eq < n && t[eq] != '=')
		eq++;
	if (eq == n || eq == 0) {
		sb_putn(err, t, n);
		sb_puts(err, ": expected key=value");
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!str_eqn(t, eq, keys[i].name))
			continue;
		p->keys_set |= 1u << i;
		return parse_value(&keys[i], t + eq + 1, n - eq - 1, p, err);
	}
	sb_putn(err, t, eq);
	sb_puts(err, ": unknown key");
	return -1;
}

static bool key_given(const struct wl_params *p, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (str_eq(keys[i].name, name))
			return p->keys_set & (1u << i);
	return false;
}

/* After the whole line: every key given must belong to the workload. */
static int check_keys(const struct wl_params *p, struct sbuf *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!(p->keys_set & (1u << i)) || (keys[i].workloads & W(p->workload)))
			continue;
		sb_puts(err, keys[i].name);
		sb_puts(err, ": not a parameter of workload=");
		sb_puts(err, wl_name(p->workload));
		return -1;
	}
	if (p->workload == WL_CRASH && p->crash == CRASH_NONE) {
		sb_puts(err, "workload=crash needs kind=ud|pf|gp|div");
		return -1;
	}
	if (p->corrupt && !p->verify) {
		sb_puts(err, "corrupt: needs verify=1 (it tests the checker)");
		return -1;
	}
	if (p->corrupt && p->free_wset) {
		sb_puts(err, "corrupt: not with free=1 (the freed working set is not verified)");
		return -1;
	}
	if (key_given(p, "balloon_features") && !p->balloon) {
		sb_puts(err, "balloon_features: needs balloon=1");
		return -1;
	}
	if (p->step_bytes % 8) {
		sb_puts(err, "step: must be a multiple of 8 bytes");
		return -1;
	}
	return 0;
}

int cmdline_parse(const char *cmdline, struct wl_params *p, struct sbuf *err)
{
	const char *s = cmdline;

	set_defaults(p);
	for (;;) {
		size_t n = 0;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		while (s[n] && s[n] != ' ' && s[n] != '\t' && s[n] != '\n')
			n++;
		if (parse_token(s, n, p, err))
			return -1;
		s += n;
	}
	return check_keys(p, err);
}
