/*
 * The platform layer: the only things the workload code asks of whatever
 * runs it. Three back ends implement it:
 *   - gmm's test device (plat_tdev.c): one port, per-vCPU mailbox pages;
 *   - QEMU (plat_qemu.c): the COM1 UART and isa-debug-exit;
 *   - a host process (bench/bare_runner.c): stdout and exit(), for the
 *     "no VMM" reference figures.
 * In the guest, plat.c picks gmm or QEMU at run time from boot_info->accel;
 * the host runner links its own implementation instead of plat.c.
 *
 * `cpu` is the calling vCPU's id: the guest has no thread-local storage
 * (%fs/%gs are off limits), so per-vCPU state travels as an argument.
 */
#ifndef GMM_GUEST_PLAT_H
#define GMM_GUEST_PLAT_H

#include "guest/abi.h"
#include "guest/compiler.h"
#include "guest/x86.h"

/* boot_info->accel for the host runner (not a VMM accelerator, so not in abi.h). */
#define PLAT_ACCEL_HOST 0

/* Called by every vCPU before anything else; must be idempotent. */
void plat_init(int cpu, uint64_t base, const struct gmm_boot_info *bi);
/* One line of text for the console (no trailing newline needed). */
void plat_print(int cpu, const char *line);
/* One result: key is [a-z0-9_]+, value is text without spaces. */
void plat_result(int cpu, const char *key, const char *value);
/* Stop the whole guest with this exit code. */
__attribute__((noreturn)) void plat_exit(int cpu, uint32_t code);
/* This vCPU has finished its share; it stops, the others go on. */
__attribute__((noreturn)) void plat_vcpu_done(int cpu);
/* Short name of what runs us: "kvm", "native", "qemu", "host". */
const char *plat_name(void);
/* False where `in`/`out` would not reach a device model (host process). */
bool plat_has_port_io(void);

/* What every platform calls, once per vCPU, with the entry registers of
 * abi.h in ABI order (entry.S under gmm and QEMU, a thread on the host). */
__attribute__((noreturn)) void guest_main(uint64_t vcpu_id, const char *cmdline, uint64_t ram_bytes,
					  uint64_t base, uint64_t tsc_hz, const struct gmm_boot_info *bi);

static inline uint64_t plat_now_tsc(void)
{
	return rdtsc();
}

#endif
