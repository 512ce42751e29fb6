/* See plat.h: the guest's run-time choice between gmm and QEMU. */
#include "guest/plat_backend.h"

static const struct plat_ops *ops = &plat_tdev_ops;
static uint32_t accel;

void plat_init(int cpu, uint64_t base, const struct gmm_boot_info *bi)
{
	(void)cpu;
	/* Every vCPU stores the same values: a benign race. */
	accel = bi->magic == GMM_BOOT_MAGIC ? bi->accel : GMM_ACCEL_KVM;
	ops = accel == GMM_ACCEL_QEMU ? &plat_qemu_ops : &plat_tdev_ops;
	ops->init(base, bi);
}

void plat_print(int cpu, const char *line)
{
	ops->print(cpu, line);
}

void plat_result(int cpu, const char *key, const char *value)
{
	ops->result(cpu, key, value);
}

void plat_exit(int cpu, uint32_t code)
{
	ops->exit(cpu, code);
}

void plat_vcpu_done(int cpu)
{
	ops->vcpu_done(cpu);
}

const char *plat_name(void)
{
	switch (accel) {
	case GMM_ACCEL_KVM:    return "kvm";
	case GMM_ACCEL_NATIVE: return "native";
	case GMM_ACCEL_QEMU:   return "qemu";
	}
	return "unknown";
}

bool plat_has_port_io(void)
{
	return true;
}
