/* See signals.h. */
#include "vmm/signals.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/guest_mem.h"

#define ALTSTACK_BYTES (1 << 20) /* room for ASan and the exit dispatch */

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)sig;
	(void)si;
	accel_native_kick(uc);
	errno = saved;
}

/* A bridge lasts microseconds; a million retries at one address is not
 * a bridge any more. */
#define RAM_BRIDGE_MAX_RETRIES (1U << 20)

static __thread uintptr_t bridge_addr;
static __thread unsigned bridge_retries;

bool signals_ram_bridge_retry(const siginfo_t *si)
{
	uintptr_t addr = (uintptr_t)si->si_addr;

	if (si->si_signo != SIGSEGV || si->si_code != SEGV_ACCERR || !guest_mem_hva_is_ram(addr))
		return false;
	if (addr != bridge_addr) {
		bridge_addr = addr;
		bridge_retries = 0;
	}
	if (++bridge_retries > RAM_BRIDGE_MAX_RETRIES)
		return false;
	sched_yield();
	return true;
}

static struct sigaction segv_prev;

/* gmm's own code touching guest RAM (boot loaders, the mailbox, the
 * instruction decoder) during a bridge waits it out; any other SIGSEGV
 * goes where it went before. */
static void segv_guard(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (signals_ram_bridge_retry(si)) {
		errno = saved;
		return;
	}
	if (segv_prev.sa_flags & SA_SIGINFO && segv_prev.sa_sigaction) {
		segv_prev.sa_sigaction(sig, si, uc);
	} else if (segv_prev.sa_handler != SIG_DFL && segv_prev.sa_handler != SIG_IGN && segv_prev.sa_handler) {
		segv_prev.sa_handler(sig);
	} else {
		signal(sig, SIG_DFL); /* returning re-faults: dies with a core */
	}
	errno = saved;
}

void signals_init(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_guard;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &segv_prev);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = kick_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGNAL_KICK, &sa, NULL);
	/* Only vCPU threads take kicks; threads created later inherit this. */
	sigemptyset(&set);
	sigaddset(&set, SIGNAL_KICK);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void signals_unblock_kick(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGNAL_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * The calling thread's own alternate stack and the one it replaced. The
 * replaced one matters: ASan installs its own altstack on every thread and,
 * at thread exit, unmaps whatever altstack is installed then. Leaving ours
 * in place would have ASan munmap() malloc memory; so teardown puts the
 * previous stack back, and the vCPU thread calls it on every exit path.
 */
static __thread void *altstack_own;
static __thread stack_t altstack_prev;

int signals_altstack_setup(void)
{
	stack_t ss;

	if (altstack_own)
		return 0;
	ss.ss_sp = malloc(ALTSTACK_BYTES);
	if (!ss.ss_sp)
		return -ENOMEM;
	ss.ss_size = ALTSTACK_BYTES;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, &altstack_prev)) {
		int e = -errno;

		free(ss.ss_sp);
		return e;
	}
	altstack_own = ss.ss_sp;
	return 0;
}

void signals_altstack_teardown(void)
{
	stack_t off = { .ss_flags = SS_DISABLE };

	if (!altstack_own)
		return;
	/* SS_ONSTACK in the saved flags only says where that thread was */
	altstack_prev.ss_flags &= ~SS_ONSTACK;
	if (sigaltstack(altstack_prev.ss_sp ? &altstack_prev : &off, NULL))
		return; /* still on it: keep it rather than free a live stack */
	free(altstack_own);
	altstack_own = NULL;
}
