/*
 * KVM and userfaultfd constants newer than Debian 12's linux-libc-dev (6.1
 * headers); the running kernels here are newer. Every constant defined here
 * says which kernel introduced it. Include this after <linux/kvm.h>.
 */
#ifndef GMM_VMM_KVM_COMPAT_H
#define GMM_VMM_KVM_COMPAT_H

#include <linux/kvm.h>
#include <linux/userfaultfd.h>

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

/* userfaultfd write-protect resolved by the kernel itself, no message
 * per write: the written state is read back with PAGEMAP_SCAN (Linux 6.7). */
/* Linux 6.3: UFFDIO_CONTINUE may install the page write-protected, so a
 * hinting fault under uffd-wp write tracking keeps the write tracked. */
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* The pagemap ioctl (Linux 6.7, include/uapi/linux/fs.h): scan a range of
 * the caller's address space for pages in given categories and, with
 * PM_SCAN_WP_MATCHING, write-protect the matches again in the same walk. */
#ifndef PAGEMAP_SCAN
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#endif

#endif
