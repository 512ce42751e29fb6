/*
 * The signals gmm uses on vCPU threads. SIGNAL_KICK interrupts a running
 * vCPU (KVM_RUN returns EINTR; a native guest is left at once). Handlers run
 * on an alternate stack (SA_ONSTACK): on the native accelerator the
 * interrupted stack is guest memory.
 */
#ifndef GMM_VMM_SIGNALS_H
#define GMM_VMM_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

#define SIGNAL_KICK SIGUSR1

/* Install process-wide handlers; once, before any vCPU starts. */
void signals_init(void);

/*
 * The realizer briefly maps a guest range PROT_NONE while it swaps the
 * mapping under it (stage2_realize.c, realize_unmap()). An access to it
 * then is not an error: run the access again. True if the fault in si is
 * such an access and should be retried (yields the CPU first); gives up
 * after a bounded number of retries at one address, so a real bug still
 * surfaces. The SIGSEGV guard installed by signals_init() uses it for gmm's
 * own threads; the native accelerator for guest code.
 */
bool signals_ram_bridge_retry(const siginfo_t *si);
/* On a vCPU thread: accept kicks (they are blocked elsewhere). */
void signals_unblock_kick(void);
/* Give the calling thread an alternate signal stack; returns -errno.
 * Teardown restores the stack it replaced and frees ours; a thread that
 * set one up must tear it down before it exits (vm.c's vCPU thread does). */
int signals_altstack_setup(void);
void signals_altstack_teardown(void);

/* Called by the kick handler; the native accelerator leaves the guest if
 * the interrupted thread is running guest code. */
void accel_native_kick(void *ucontext);

#endif
