/*
 * The guest's two run-time back ends of plat.h (the host runner links its
 * own). plat.c picks one from boot_info->accel at plat_init().
 */
#ifndef GMM_GUEST_PLAT_BACKEND_H
#define GMM_GUEST_PLAT_BACKEND_H

#include "guest/plat.h"

struct plat_ops {
	void (*init)(uint64_t base, const struct gmm_boot_info *bi);
	void (*print)(int cpu, const char *line);
	void (*result)(int cpu, const char *key, const char *value);
	__attribute__((noreturn)) void (*exit)(int cpu, uint32_t code);
	__attribute__((noreturn)) void (*vcpu_done)(int cpu);
};

extern const struct plat_ops plat_tdev_ops;  /* gmm: test device, kvm or native */
extern const struct plat_ops plat_qemu_ops;  /* QEMU: UART + isa-debug-exit */

/* The COM1 UART, polled (plat_qemu.c; also used by the PVH boot code). */
void qemu_uart_puts(const char *s);

/* Spin forever: ring 3 cannot hlt, and there is nothing left to do. */
__attribute__((noreturn)) static inline void plat_park(void)
{
	for (;;)
		cpu_relax();
}

#endif
