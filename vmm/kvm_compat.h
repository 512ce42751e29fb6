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

/* KVM_RUN fails with EFAULT and fills run->memory_fault when a guest
 * access cannot be backed by the memslot's host memory (Linux 6.8,
 * KVM_CAP_MEMORY_FAULT_INFO). The union member is {flags, gpa, size}. */
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif
struct gmm_kvm_memory_fault {
	__u64 flags;
	__u64 gpa;
	__u64 size;
};

#endif
