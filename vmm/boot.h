/*
 * Boot loaders: put a kernel into a guest's memory and set each vCPU's entry
 * registers. boot_load() looks at the file and picks the loader: gmm's test
 * guest (an ELF static PIE), or Linux (a vmlinux ELF or a bzImage; KVM only).
 */
#ifndef GMM_VMM_BOOT_H
#define GMM_VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;

#define GUEST_STACK_BYTES  (256ULL << 10)
#define KERNEL_MAX_BYTES   (256ULL << 20)

int boot_load(struct vm *vm, char *err, size_t errlen);

/* Helpers the loaders share. */
int boot_read_file(const char *path, uint8_t **data, size_t *len, size_t max);

int boot_test_guest_load(struct vm *vm, const uint8_t *elf, size_t len, char *err, size_t errlen);
/* Linux: vmlinux (ELF64 ET_EXEC) or bzImage ("HdrS"). */
int boot_linux_load(struct vm *vm, const uint8_t *img, size_t len, char *err, size_t errlen);
int boot_is_linux(const uint8_t *img, size_t len);
/* Linux: load a vCPU's boot-protocol entry state into KVM (vcpu_fd). */
struct vcpu;
int kvm_linux_setup_vcpu(struct vcpu *vcpu, int vcpu_fd);
/* Hook into accel_kvm.c for the Linux loader: the KVM VM fd, -1 if vm does
 * not run on kvm. boot_linux_load() creates the in-kernel irqchip and PIT
 * on it, which KVM accepts only before the first vCPU: vm_create() runs
 * accel->vm_init() then boot_load(), and vCPUs are created at vm_start(). */
int kvm_vm_fd(const struct vm *vm);

#endif
