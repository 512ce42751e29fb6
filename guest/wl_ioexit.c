/*
 * workload=ioexit iters=N: N port-I/O reads of the test device's ID
 * register, timed with the TSC. Each one is a full exit to the VMM and back
 * (KVM_EXIT_IO, or the native accelerator's SIGSEGV trap and decode), so
 * seconds / ops is the port-I/O round trip the benchmarks report as
 * io_exit_us. A wrong ID means the exit path is broken: exit code 1.
 */
#include "guest/abi.h"
#include "guest/plat.h"
#include "guest/workload.h"
#include "guest/x86.h"

int wl_ioexit(struct wl_ctl *c)
{
	uint64_t n = c->p->iters, bad = 0;

	c->r.t_start = plat_now_tsc();
	for (uint64_t i = 0; i < n; i++)
		bad += inl(GMM_TDEV_PORT) != GMM_TDEV_ID;
	c->r.t_end = plat_now_tsc();
	c->r.ops = n;
	if (bad)
		wl_print(c, "gmm-guest: ioexit: the test device returned a wrong ID");
	return bad ? 1 : GMM_EXIT_OK;
}
