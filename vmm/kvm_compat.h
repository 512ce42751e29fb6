/*
 * KVM and userfaultfd constants newer than Debian 12's linux-libc-dev (6.1
 * headers); the running kernels here are newer. Every constant defined here
 * says which kernel introduced it. Include this after <linux/kvm.h>.
 */
#ifndef GMM_VMM_KVM_COMPAT_H
#define GMM_VMM_KVM_COMPAT_H

#include <linux/kvm.h>

/* KVM_GET_TSC_KHZ also works on the VM fd since Linux 6.0 (already in the
 * 6.1 headers; noted here because gmm relies on the VM-fd form). */

#endif
