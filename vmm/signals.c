/* See signals.h. */
#include "vmm/signals.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ALTSTACK_BYTES (1 << 20) /* room for ASan and the exit dispatch */

static void kick_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)sig;
	(void)si;
	accel_native_kick(uc);
	errno = saved;
}

void signals_init(void)
{
	struct sigaction sa;
	sigset_t set;

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

int signals_altstack_setup(void **stack)
{
	stack_t ss;

	ss.ss_sp = malloc(ALTSTACK_BYTES);
	if (!ss.ss_sp)
		return -ENOMEM;
	ss.ss_size = ALTSTACK_BYTES;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL)) {
		int e = -errno;

		free(ss.ss_sp);
		return e;
	}
	*stack = ss.ss_sp;
	return 0;
}

void signals_altstack_teardown(void *stack)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!stack)
		return;
	sigaltstack(&ss, NULL);
	free(stack);
}
