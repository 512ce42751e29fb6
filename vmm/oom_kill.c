/* The OOM killer; see oom_kill.h. */
#include "vmm/oom_kill.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/stage2.h"
#include "vmm/vm.h"

#define OOM_SCORE_ADJ_MIN (-1000)

static pthread_mutex_t oom_lock = PTHREAD_MUTEX_INITIALIZER; /* oom_lock */

long oom_badness(uint64_t resident, uint64_t swap, uint64_t tables, uint64_t total, int adj)
{
	long points;

	if (adj == OOM_SCORE_ADJ_MIN)
		return 0;
	points = (long)(resident + swap + tables);
	/* oom_score_adj is in thousandths of the pool, as the kernel's is of RAM */
	points += adj * (long)(total / 1000);
	return points > 0 ? points : 1;
}

enum oom_result oom_kill(struct host *h, uint32_t requester, const char *why)
{
	struct vm *vms[HOST_MAX_GUESTS], *victim = NULL;
	int n, best = -1;
	long best_points = 0;
	uint64_t total = h->pool ? h->pool->mm->nr_frames : 0;
	enum oom_result ret;
	char reason[256];

	pthread_mutex_lock(&oom_lock);
	n = host_get_all(h, vms, HOST_MAX_GUESTS);
	/* a guest still giving its memory back (a victim, or one stopped
	 * for any reason): wait for it rather than kill another (the
	 * kernel's "a task is already exiting" check) */
	for (int i = 0; i < n; i++) {
		struct stage2 *s2 = vms[i]->mem.s2;

		if (s2 && s2->cfg.owner != requester && vm_is_stopped(vms[i]) && !s2->released) {
			for (int j = 0; j < n; j++)
				host_put_guest(h, vms[j]);
			pthread_mutex_unlock(&oom_lock);
			return OOM_KILLED_OTHER;
		}
	}
	log_warn("oom-kill: %s", why);
	log_warn("oom-kill: [  guest ] resident_pages swap_pages table_pages oom_score_adj name");
	for (int i = 0; i < n; i++) {
		struct stage2 *s2 = vms[i]->mem.s2;
		uint64_t res, swp, tab;
		long points;

		if (!s2 || vm_is_stopped(vms[i]))
			continue;
		res = atomic_load(&s2->resident_frames);
		swp = atomic_load(&s2->swap_pages);
		tab = atomic_load(&s2->table_frames);
		log_warn("oom-kill: [%7u] %14llu %10llu %11llu %13d %s", s2->cfg.owner, (unsigned long long)res,
			 (unsigned long long)swp, (unsigned long long)tab, vms[i]->cfg.oom_score_adj, vms[i]->cfg.name);
		points = oom_badness(res, swp, tab, total, vms[i]->cfg.oom_score_adj);
		if (points > best_points) {
			best_points = points;
			best = i;
		}
	}
	if (best < 0) {
		log_warn("oom-kill: no guest may be killed (all stopped or oom_score_adj -1000)");
		ret = OOM_NO_VICTIM;
	} else {
		victim = vms[best];
		snprintf(reason, sizeof(reason), "out of memory: killed by the OOM killer (badness %ld pages)",
			 best_points);
		log_warn("oom-kill: killed guest %s (badness %ld)", victim->cfg.name, best_points);
		ret = victim->mem.s2->cfg.owner == requester ? OOM_KILLED_SELF : OOM_KILLED_OTHER;
		if (ret == OOM_KILLED_OTHER)
			vm_request_stop(victim, -1, false, reason);
	}
	for (int i = 0; i < n; i++)
		host_put_guest(h, vms[i]);
	pthread_mutex_unlock(&oom_lock);
	return ret;
}
