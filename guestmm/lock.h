/*
 * The locks guestmm uses: a small test-and-set spinlock that remembers its
 * owner, so a function can assert it holds it (lockdep_assert_held() in
 * the kernel).
 *
 * Why a spinlock, and our own: zone and pcp critical sections are a few
 * list operations (tens of ns), the kernel uses spinlocks for both, and
 * an inline lock saves the library call of pthread_spin_lock (measurable
 * on the order-0 pair; see docs/buddy.md). A waiter spins with `pause`
 * and yields the cpu after a while, so a preempted holder (more vCPU
 * threads than host cpus) costs a reschedule, not a burnt time slice.
 */
#ifndef GMM_GUESTMM_LOCK_H
#define GMM_GUESTMM_LOCK_H

#include <assert.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct gmm_lock {
	_Atomic int locked;
	_Atomic uintptr_t owner;    /* gmm_lock_self() of the holder, 0 if free */
};

/* One byte per thread whose address names the thread (cheaper than
 * pthread_self(), which is a library call). */
extern __thread char gmm_lock_self_marker;

static inline uintptr_t gmm_lock_self(void)
{
	return (uintptr_t)&gmm_lock_self_marker;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline void gmm_lock_init(struct gmm_lock *l)
{
	atomic_store_explicit(&l->locked, 0, memory_order_relaxed);
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
}

static inline void gmm_lock_destroy(struct gmm_lock *l)
{
	(void)l;
}

void gmm_lock_contended(struct gmm_lock *l);

static inline void gmm_lock(struct gmm_lock *l)
{
	if (__builtin_expect(atomic_exchange_explicit(&l->locked, 1, memory_order_acquire), 0))
		gmm_lock_contended(l);
	atomic_store_explicit(&l->owner, gmm_lock_self(), memory_order_relaxed);
}

static inline bool gmm_trylock(struct gmm_lock *l)
{
	if (atomic_load_explicit(&l->locked, memory_order_relaxed) ||
	    atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
		return false;
	atomic_store_explicit(&l->owner, gmm_lock_self(), memory_order_relaxed);
	return true;
}

static inline void gmm_unlock(struct gmm_lock *l)
{
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
	atomic_store_explicit(&l->locked, 0, memory_order_release);
}

static inline bool gmm_lock_held_by_me(struct gmm_lock *l)
{
	return atomic_load_explicit(&l->owner, memory_order_relaxed) == gmm_lock_self();
}

#define lockdep_assert_held(l) assert(gmm_lock_held_by_me(l))

#endif
