/* Guest lifecycle; see vm.h. */
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot.h"
#include "vmm/host_pool.h"
#include "vmm/log.h"
#include "vmm/signals.h"
#include "vmm/stage2.h"

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_CREATED:  return "created";
	case VM_RUNNING:  return "running";
	case VM_STOPPING: return "stopping";
	case VM_STOPPED:  return "stopped";
	}
	return "?";
}

static const void *vm_tdev_mailbox(void *ctx, struct vcpu *vcpu)
{
	struct vm *vm = ctx;

	return guest_mem_gpa_to_hva(&vm->mem, GMM_GPA_MAILBOX + (uint64_t)vcpu->id * 4096, 4096);
}

static void vm_tdev_result(void *ctx, const char *key, const char *value)
{
	vm_add_result(ctx, key, value);
}

static void vm_tdev_exit(void *ctx, struct vcpu *vcpu, uint32_t code)
{
	struct vm *vm = ctx;
	char why[64];

	snprintf(why, sizeof(why), "guest exited with code %u (vCPU %d)", code, vcpu->id);
	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_RUNNING)
		vm->exited = true;
	pthread_mutex_unlock(&vm->lock);
	vm_request_stop(vm, (int)code, false, why);
}

static void vm_tdev_vcpu_done(void *ctx, struct vcpu *vcpu)
{
	(void)ctx;
	atomic_store(&vcpu->stop, true); /* the dispatcher parks it */
}

static const struct testdev_ops vm_testdev_ops = {
	.mailbox = vm_tdev_mailbox,
	.result = vm_tdev_result,
	.exit = vm_tdev_exit,
	.vcpu_done = vm_tdev_vcpu_done,
};

static int vm_init_devices(struct vm *vm)
{
	int ret;

	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	ret = uart_init(&vm->uart, &vm->pio, GMM_UART_PORT, &vm->console);
	if (!ret)
		ret = testdev_init(&vm->tdev, &vm->pio, &vm_testdev_ops, vm, &vm->console);
	if (!ret && vm->cfg.balloon.enabled)
		ret = vm_balloon_init(vm);
	return ret;
}

/* The pool could not back the guest: stop it, with the reason. */
static void vm_stage2_oom(void *ctx, const char *why)
{
	vm_request_stop(ctx, -1, false, why);
}

static int vm_dirty_log_enable(void *ctx, int slot, bool on)
{
	struct vm *vm = ctx;

	return vm->accel->dirty_log_enable(vm, slot, on);
}

static int vm_dirty_log_fetch(void *ctx, int slot, uint64_t *bitmap)
{
	struct vm *vm = ctx;

	return vm->accel->dirty_log_fetch(vm, slot, bitmap);
}

static uint64_t bytes_to_pages(uint64_t b)
{
	return b == LIMIT_UNSET ? STAGE2_LIMIT_NONE : b >> 12;
}

struct stage2_limits limits_pages(const struct limits_config *l)
{
	return (struct stage2_limits){ bytes_to_pages(l->max), bytes_to_pages(l->high), bytes_to_pages(l->low),
				       bytes_to_pages(l->min), bytes_to_pages(l->swap_max) };
}

static int vm_create_mem(struct vm *vm, struct host_pool *pool)
{
	const struct vm_config *cfg = &vm->cfg;
	struct stage2_config s2 = {
		.fault_around_pages = (unsigned)(cfg->fault_around_bytes >> 12),
		.thp = strcmp(cfg->thp, "always") == 0,
		.thp_collapse = strcmp(cfg->thp, "never") != 0,
		.prefault = cfg->prefault,
		.owner = (uint32_t)vm->id + 1, /* 0 is the VMM's own frames */
		.name = cfg->name,
		.oom = vm_stage2_oom,
		.ctx = vm,
		.dirty_ops = vm->accel->dirty_log_fetch ? &vm->dirty_ops : NULL,
		.swap = pool ? pool->swap : NULL,
		.limits = limits_pages(&cfg->limits),
		.numa = cfg->numa.parsed,
		.self_serve = vm->accel == &accel_native_ops && pool && pool->self_serve_faults,
	};
	struct guest_mem_config mc = {
		.ram_bytes = cfg->mem_bytes,
		.executable = vm->accel == &accel_native_ops,
		.thp = strcmp(cfg->thp, "never") != 0, /* anon: MADV_HUGEPAGE */
		.backend = strcmp(cfg->backend, "anon") ? GUEST_MEM_POOL : GUEST_MEM_ANON,
		.pool = pool,
		.stage2 = &s2,
	};

	enum hugetlb_size hs;

	if (mc.backend == GUEST_MEM_POOL && !pool)
		return -EINVAL;
	vm->dirty_ops = (struct stage2_dirty_ops){
		.enable = vm_dirty_log_enable, .fetch = vm_dirty_log_fetch, .ctx = vm,
	};
	if (hugetlb_size_parse(cfg->hugepages, &hs))
		return -EINVAL;
	if (hs != HUGETLB_NONE) {
		/* all RAM in hugetlb pages: no THP, no khugepaged (docs/hugetlb.md) */
		if (mc.backend != GUEST_MEM_POOL || pool->huge[hs].memfd < 0)
			return -EINVAL;
		s2.hugetlb = &pool->huge[hs];
		s2.thp = s2.thp_collapse = mc.thp = false;
	}
	return guest_mem_create(&vm->mem, &mc);
}

int vm_create(const struct vm_config *cfg, const struct accel_ops *accel, struct host_pool *pool, int id,
	      struct vm **out, char *err, size_t errlen)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret, i;

	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->id = id;
	vm->accel = accel;
	vm->nr_vcpus = cfg->vcpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	ret = console_open(&vm->console, cfg->name, cfg->console[0] ? cfg->console : NULL);
	if (ret) {
		snprintf(err, errlen, "console %s: %s", cfg->console, strerror(-ret));
		free(vm);
		return ret;
	}
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
	}
	ret = vm_create_mem(vm, pool);
	if (ret) {
		snprintf(err, errlen, "guest memory (%llu bytes): %s", (unsigned long long)cfg->mem_bytes,
			 strerror(-ret));
		goto fail;
	}
	ret = vm_init_devices(vm);
	if (ret) {
		snprintf(err, errlen, "devices: %s", strerror(-ret));
		goto fail;
	}
	ret = accel->vm_init(vm);
	if (ret) {
		snprintf(err, errlen, "%s: cannot create the VM: %s", accel->name, strerror(-ret));
		goto fail;
	}
	vm->tsc_hz = accel->tsc_hz(vm);
	ret = boot_load(vm, err, errlen);
	if (ret)
		goto fail;
	if (cfg->dirty_log) {
		ret = stage2_dirty_start(vm->mem.s2);
		if (ret) {
			snprintf(err, errlen, "dirty_log: cannot start write tracking: %s", strerror(-ret));
			goto fail;
		}
	}
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return ret;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];

	snprintf(name, sizeof(name), "v%d-%.12s", vcpu->id, vm->cfg.name);
	pthread_setname_np(pthread_self(), name);
	if (vm->mem.s2) { /* its faults are local to the guest's vCPU node */
		stage2_vcpu_thread(vm->mem.s2, vcpu->id, (int)gettid());
		int nid = stage2_vcpu_node(vm->mem.s2, vcpu->id);

		if (host_pool_pin_to_node(vm->mem.s2->hp, nid))
			log_warn("%s: vCPU %d: cannot run on node %d's CPUs", vm->cfg.name, vcpu->id, nid);
	}
	if (vm->accel->vcpu_init(vcpu)) {
		vm_request_stop(vm, -1, true, "vCPU initialisation failed");
	} else if (!atomic_load(&vcpu->stop)) {
		vm->accel->vcpu_run(vcpu, vcpu_handle_exit);
	}
	signals_altstack_teardown(); /* whatever path we took: see signals.c */
	pthread_mutex_lock(&vm->lock);
	atomic_store(&vcpu->parked, true);
	if (--vm->nr_running == 0) {
		clock_gettime(CLOCK_MONOTONIC, &vm->end_time);
		if (vm->state == VM_RUNNING) {
			/* every vCPU finished without an exit command */
			vm->state = VM_STOPPING;
			snprintf(vm->stop_reason, sizeof(vm->stop_reason), "all vCPUs halted");
		}
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vm_start(struct vm *vm)
{
	int i, ret;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_CREATED) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	vm->state = VM_RUNNING;
	clock_gettime(CLOCK_MONOTONIC, &vm->start_time);
	vm->end_time = vm->start_time;
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		pthread_mutex_lock(&vm->lock);
		vm->nr_running++;
		pthread_mutex_unlock(&vm->lock);
		ret = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (ret) {
			pthread_mutex_lock(&vm->lock);
			vm->nr_running--;
			pthread_mutex_unlock(&vm->lock);
			vm_request_stop(vm, -1, true, "cannot start vCPU thread");
			return -ret;
		}
		vm->vcpus[i].thread_started = true;
	}
	return 0;
}

void vm_request_stop(struct vm *vm, int exit_code, bool crashed, const char *reason)
{
	int i;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_RUNNING || (vm->state == VM_STOPPING && !vm->stop_reason[0])) {
		vm->state = VM_STOPPING;
		vm->exit_code = exit_code;
		vm->crashed = crashed;
		snprintf(vm->stop_reason, sizeof(vm->stop_reason), "%s", reason);
	}
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (atomic_exchange(&v->stop, true))
			continue; /* already asked (or parking by itself) */
		if (v->thread_started && !atomic_load(&v->parked) && !pthread_equal(v->thread, pthread_self()))
			vm->accel->vcpu_kick(v);
	}
}

bool vm_is_stopped(struct vm *vm)
{
	bool stopped;

	pthread_mutex_lock(&vm->lock);
	stopped = vm->state != VM_CREATED && vm->nr_running == 0;
	pthread_mutex_unlock(&vm->lock);
	return stopped;
}

/* A kick can race with a vCPU just leaving an exit; re-kick every 20 ms
 * until each vCPU has parked. */
void vm_wait(struct vm *vm)
{
	int i;

	pthread_mutex_lock(&vm->lock);
	while (vm->nr_running > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) == ETIMEDOUT) {
			for (i = 0; i < vm->nr_vcpus; i++) {
				struct vcpu *v = &vm->vcpus[i];

				if (atomic_load(&v->stop) && v->thread_started && !atomic_load(&v->parked))
					vm->accel->vcpu_kick(v);
			}
		}
	}
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	}
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_CREATED)
		vm->state = VM_STOPPED;
	pthread_mutex_unlock(&vm->lock);
	vm_sample_resident(vm);
}

uint64_t vm_sample_resident(struct vm *vm)
{
	uint64_t now = guest_mem_resident_bytes(&vm->mem);

	pthread_mutex_lock(&vm->lock);
	if (now > vm->peak_resident_bytes)
		vm->peak_resident_bytes = now;
	pthread_mutex_unlock(&vm->lock);
	return now;
}

void vm_release_memory(struct vm *vm)
{
	if (!vm_is_stopped(vm) || vm->mem.released)
		return;
	vm_wait(vm); /* every vCPU thread joined; state STOPPED; the peak sampled */
	vm_balloon_stop(vm); /* its worker works on the memory */
	guest_mem_release(&vm->mem);
}

void vm_destroy(struct vm *vm)
{
	int i;

	if (!vm)
		return;
	if (vm->state == VM_RUNNING || vm->state == VM_STOPPING) {
		vm_request_stop(vm, -1, false, "destroyed");
		vm_wait(vm);
	}
	if (vm->vcpus) {
		for (i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].accel_priv)
				vm->accel->vcpu_destroy(&vm->vcpus[i]);
	}
	vm_balloon_stop(vm);
	if (vm->accel_priv)
		vm->accel->vm_destroy(vm);
	free(vm->balloon);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	guest_mem_destroy(&vm->mem);
	console_close(&vm->console);
	free(vm->vcpus);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

void vm_add_result(struct vm *vm, const char *key, const char *value)
{
	int i;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_results; i++)
		if (!strcmp(vm->results[i].key, key))
			break;
	if (i < VM_MAX_RESULTS) {
		snprintf(vm->results[i].key, sizeof(vm->results[i].key), "%s", key);
		snprintf(vm->results[i].value, sizeof(vm->results[i].value), "%s", value);
		if (i == vm->nr_results)
			vm->nr_results++;
	}
	pthread_mutex_unlock(&vm->lock);
}

const char *vm_result(struct vm *vm, const char *key)
{
	for (int i = 0; i < vm->nr_results; i++)
		if (!strcmp(vm->results[i].key, key))
			return vm->results[i].value;
	return NULL;
}

double vm_run_seconds(struct vm *vm)
{
	struct timespec end = vm->end_time;

	if (vm->state == VM_RUNNING || vm->state == VM_STOPPING)
		clock_gettime(CLOCK_MONOTONIC, &end);
	return (end.tv_sec - vm->start_time.tv_sec) + (end.tv_nsec - vm->start_time.tv_nsec) / 1e9;
}
