/*
 * workload=crash kind=ud|pf|gp|div (or crash=KIND after another workload):
 * fault on purpose so the VMM's crash report can be tested. Each kind is a
 * single instruction in asm, so the compiler cannot reason it away as UB.
 */
#include "guest/plat.h"
#include "guest/workload.h"

/* Far beyond any guest's RAM: gmm's page tables map at most 46 GiB from
 * the base and QEMU's at most 64 GiB; under the native accelerator it is
 * in the PROT_NONE rest of the guest's own 1 TiB slot. */
#define WILD_OFFSET (512ULL << 30)

void wl_crash_now(struct wl_ctl *c, enum crash_kind kind)
{
	uint64_t wild = c->base + WILD_OFFSET + 0xbad0, x = 1, zero = 0;
	char buf[128];
	struct sbuf sb;

	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "crash: kind=");
	sb_puts(&sb, crash_name(kind));
	sb_puts(&sb, " on purpose");
	if (kind == CRASH_PF) {
		sb_puts(&sb, ", store to ");
		sb_putx(&sb, wild);
	}
	wl_print(c, buf);
	switch (kind) {
	case CRASH_UD:
		__asm__ volatile("ud2");
		break;
	case CRASH_PF:
		__asm__ volatile("movq $0x6d6d67, (%0)" : : "r"(wild) : "memory");
		break;
	case CRASH_GP:
		/* privileged at CPL 3 under every accelerator (unlike cli, which
		 * IOPL 3 allows, or hlt, which the native accelerator emulates) */
		__asm__ volatile("mov %%cr0, %0" : "=r"(x));
		break;
	case CRASH_DIV:
		__asm__ volatile("xor %%edx, %%edx\n\tdivq %1" : "+a"(x) : "r"(zero) : "rdx");
		break;
	case CRASH_NONE:
		return;
	}
	c->r.sink ^= x;
	wl_print(c, "crash: still running after the fault: the VMM ignored it");
}

int wl_crash(struct wl_ctl *c)
{
	wl_crash_now(c, c->p->crash);
	return 1;
}
