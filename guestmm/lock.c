/* The contended half of gmm_lock(): spin on a plain load (no cache-line
 * ping-pong), then yield so a preempted holder can run. */
#include "guestmm/lock.h"

__thread char gmm_lock_self_marker;

void gmm_lock_contended(struct gmm_lock *l)
{
	for (unsigned spins = 0;; spins++) {
		if (!atomic_load_explicit(&l->locked, memory_order_relaxed) &&
		    !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
			return;
		if (spins < 1000)
			cpu_relax();
		else
			sched_yield();
	}
}
