/*
 * A guest: its memory, devices, vCPUs and lifecycle. One struct vm per guest;
 * several live in one gmm process, each stopped without disturbing others.
 *
 * Locking: vm->lock protects state, nr_running, the exit fields and
 * results[]; it is never held while a vCPU runs guest code or while a device
 * handler runs. Counters are atomics.
 */
#ifndef GMM_VMM_VM_H
#define GMM_VMM_VM_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "devices/bus.h"
#include "devices/testdev.h"
#include "devices/uart.h"
#include "guest/abi.h"
#include "vmm/accel.h"
#include "vmm/console.h"
#include "vmm/guest_mem.h"
#include "vmm/stage2.h"

#define VM_NAME_MAX     64
#define VM_MAX_RESULTS  64

/* limits: memcg's knobs in bytes; LIMIT_UNSET where not given. */
#define LIMIT_UNSET UINT64_MAX
struct limits_config {
	uint64_t max, high, low, min, swap_max;
};

/* balloon: a virtio-balloon device (docs/balloon.md); 0/1 flags */
struct balloon_user_config {
	int enabled;
	int stats_period;              /* seconds between statistics requests, 0: on demand */
	int auto_mode;                 /* "auto": the host policy may inflate it under pressure */
};

/* numa.cells[j]: a guest NUMA node; the cells cut RAM in order */
struct numa_cell_config {
	char cpus[64];                 /* its vCPUs, "0-1,3"; empty: memory only */
	uint64_t mem_bytes;            /* its share of RAM, whole 2 MiB */
	int node;                      /* the pool node it is bound to; -1: not given */
};

/* numa (docs/numa.md): the guest's memory policy over the pool's nodes */
struct numa_guest_config {
	char policy[24];               /* default | local | bind | preferred | preferred-many |
				        * interleave | weighted-interleave */
	char nodes[64];                /* "0-1,3" */
	char weights[64];              /* weighted-interleave: "3,1", one per node of nodes */
	int vcpu_node;                 /* the node the vCPUs run on: "local" */
	int balancing;                 /* pages follow the vCPUs (NUMA balancing) */
	int nr_cells;                  /* numa.cells: 0 none */
	struct numa_cell_config cells[STAGE2_MAX_CELLS];
	struct stage2_numa parsed;     /* filled by config_finish() */
};

struct vm_config {
	char name[VM_NAME_MAX];
	uint64_t mem_bytes;
	int vcpus;
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];         /* Linux only; empty: none */
	char cmdline[GMM_CMDLINE_MAX];
	char console[PATH_MAX];        /* empty or "-": gmm's stderr */
	char thp[16];                  /* always | madvise | never: huge frames (docs/thp.md) */
	char backend[8];               /* pool | anon */
	uint64_t fault_around_bytes;   /* pool: block mapped per stage-2 fault */
	int prefault;                  /* pool: map all RAM at start (-mem-prealloc) */
	int dirty_log;                 /* pool: write tracking on from the start */
	int oom_score_adj;             /* -1000 (never killed) .. 1000 */
	struct limits_config limits;   /* pool: memory.max/high/low/min, memory.swap.max */
	char hugepages[8];             /* none | 2M | 1G: all RAM in hugetlb pages (docs/hugetlb.md) */
	struct balloon_user_config balloon;
	struct numa_guest_config numa;
};

enum vm_state {
	VM_CREATED,
	VM_RUNNING,
	VM_STOPPING,   /* a stop was requested; vCPUs are parking */
	VM_STOPPED,    /* all vCPUs parked and joined */
};

enum guest_kind {
	GUEST_TEST,    /* gmm's test guest ELF (static PIE) */
	GUEST_LINUX,   /* vmlinux ELF or bzImage */
};

struct vcpu {
	struct vm *vm;
	int id;
	pthread_t thread;
	bool thread_started;
	void *accel_priv;
	atomic_bool stop;      /* set by vm_request_stop; the run loop parks */
	atomic_bool parked;
	struct vcpu_regs entry; /* registers at entry, set by the loader */
};

struct vm_result {
	char key[64];
	char value[256];
};

struct vm_counters {
	atomic_ulong exits_io;
	atomic_ulong exits_mmio;
	atomic_ulong pio_unhandled;   /* ports nobody owns: reads all ones */
	atomic_ulong mmio_unhandled;  /* gpas nobody owns */
	atomic_ulong bad_accesses;    /* odd sizes, straddles */
};

struct vm {
	struct vm_config cfg;
	int id;
	const struct accel_ops *accel;
	void *accel_priv;
	struct guest_mem mem;
	struct stage2_dirty_ops dirty_ops; /* the accelerator's dirty log, for stage2 */
	struct bus pio, mmio;
	struct console console;
	struct uart uart;
	struct testdev tdev;
	struct balloon_dev *balloon;  /* NULL without one (vmm/balloon_backend.c) */
	_Atomic uint64_t balloon_auto_pages; /* of its target, what the host policy asked for */
	enum guest_kind kind;
	uint64_t tsc_hz;
	int nr_vcpus;
	struct vcpu *vcpus;
	struct vm_counters stat;

	pthread_mutex_t lock;
	pthread_cond_t cond;          /* signalled when a vCPU parks */
	enum vm_state state;
	int nr_running;
	bool exited;                  /* the guest exited by itself */
	bool crashed;
	int exit_code;
	char stop_reason[160];
	struct vm_result results[VM_MAX_RESULTS];
	int nr_results;
	struct timespec start_time, end_time;
	uint64_t peak_resident_bytes;
};

/* Build a guest from its config: memory, devices, accelerator state, and
 * the loaded kernel. Nothing runs yet. On error returns -errno with a
 * one-line reason in err. */
struct host_pool;
int vm_create(const struct vm_config *cfg, const struct accel_ops *accel, struct host_pool *pool, int id,
	      struct vm **out, char *err, size_t errlen);
/* Start one thread per vCPU. */
int vm_start(struct vm *vm);
/* Ask every vCPU to park; the guest stops with exit_code. Idempotent: the
 * first reason wins. Safe from any thread, including a vCPU's own. */
void vm_request_stop(struct vm *vm, int exit_code, bool crashed, const char *reason);
/* Wait until every vCPU has parked, join the threads; state becomes STOPPED. */
void vm_wait(struct vm *vm);
/* True once all vCPUs have parked (without blocking). */
bool vm_is_stopped(struct vm *vm);
/* A guest's limits in pages, as stage2 keeps them. */
struct stage2_limits limits_pages(const struct limits_config *l);
void vm_destroy(struct vm *vm);
/* A stopped guest gives its RAM back to the pool; its record stays for
 * stat, list and the summary. No-op until every vCPU has parked. */
void vm_release_memory(struct vm *vm);

void vm_add_result(struct vm *vm, const char *key, const char *value);
/* NULL if the guest did not report key. Call after vm_wait. */
const char *vm_result(struct vm *vm, const char *key);
double vm_run_seconds(struct vm *vm);
const char *vm_state_name(enum vm_state s);
/* Sample host memory held by the guest's RAM, keeping the peak. */
uint64_t vm_sample_resident(struct vm *vm);

/* The guest's virtio-balloon (vmm/balloon_backend.c): the device on its
 * MMIO bus with the stage-2 (or anon) backend; stopped before its memory
 * goes. */
int vm_balloon_init(struct vm *vm);
void vm_balloon_stop(struct vm *vm);

/* The exit dispatcher both accelerators use (vcpu.c). */
enum vcpu_action vcpu_handle_exit(struct vcpu *vcpu, struct vcpu_exit *exit);

#endif
