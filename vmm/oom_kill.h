/*
 * The OOM killer (mm/oom_kill.c one level up): when a fault finds no frame
 * even after reclaim freed nothing several times in a row, pick the guest
 * whose stop frees the most memory (badness: resident + swapped + table
 * pages, scaled by oom_score_adj; -1000: never), print a report in the
 * kernel's spirit (every guest's resident, swap, tables, adj), and stop
 * it. docs/oom.md.
 */
#ifndef GMM_VMM_OOM_KILL_H
#define GMM_VMM_OOM_KILL_H

#include <stdint.h>

struct host;

enum oom_result {
	OOM_NO_VICTIM,      /* nobody eligible: the faulting guest stops itself */
	OOM_KILLED_SELF,    /* the faulting guest was the victim */
	OOM_KILLED_OTHER,   /* another guest is being stopped: retry the fault */
};

/* out_of_memory(): requester is the owner id of the guest whose fault
 * failed (stage2_config.owner). Serialized by a lock of its own. */
enum oom_result oom_kill(struct host *h, uint32_t requester, const char *why);

/* oom_badness() of one guest in pages, 0 if it is not eligible. */
long oom_badness(uint64_t resident, uint64_t swap, uint64_t tables, uint64_t total, int adj);

#endif
