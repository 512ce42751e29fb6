/* Linux boot (vmlinux / bzImage); being written (issue 3). */
#include <errno.h>
#include <stdio.h>

#include "vmm/boot.h"
#include "vmm/vm.h"

int boot_linux_load(struct vm *vm, const uint8_t *img, size_t len, char *err, size_t errlen)
{
	(void)img;
	(void)len;
	snprintf(err, errlen, "kernel %s: Linux boot is not available in this build", vm->cfg.kernel);
	return -EOPNOTSUPP;
}

int kvm_linux_setup_vcpu(struct vcpu *vcpu, int vcpu_fd)
{
	(void)vcpu;
	(void)vcpu_fd;
	return -EOPNOTSUPP;
}
