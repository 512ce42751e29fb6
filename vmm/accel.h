/*
 * The accelerator interface: what runs a vCPU. Two implementations, like
 * QEMU's kvm and tcg: "kvm" (/dev/kvm) and "native" (the test guest's ring-3
 * code run directly on the vCPU thread, traps decoded with Capstone). Both
 * turn what the guest does into the same struct vcpu_exit, handled by the one
 * dispatcher in vcpu.c; nothing above this interface knows which ran.
 */
#ifndef GMM_VMM_ACCEL_H
#define GMM_VMM_ACCEL_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;

enum vcpu_exit_reason {
	VCPU_EXIT_IO,        /* port I/O */
	VCPU_EXIT_MMIO,      /* access to a gpa with no RAM behind it */
	VCPU_EXIT_HLT,
	VCPU_EXIT_SHUTDOWN,  /* triple fault */
	VCPU_EXIT_EXCEPTION, /* guest exception the VMM cannot resolve */
	VCPU_EXIT_FAIL,      /* the accelerator could not run the vCPU */
	VCPU_EXIT_STOP,      /* a stop request reached the vCPU */
};

struct vcpu_exit {
	enum vcpu_exit_reason reason;
	union {
		struct {
			uint16_t port;
			uint8_t size;      /* 1, 2, 4 */
			bool is_write;
			uint32_t data;     /* in: value written; out: value read */
		} io;
		struct {
			uint64_t gpa;
			uint8_t size;      /* 1, 2, 4, 8 */
			bool is_write;
			uint64_t data;
		} mmio;
		struct {
			int vector;        /* x86 exception vector, -1 if none */
			uint64_t error_code;
			uint64_t addr;     /* cr2 / faulting address, if any */
			const char *what;  /* one-line reason */
		} exc;
	};
};

/* Guest register state, for entry and for crash reports. */
struct vcpu_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint16_t cs, ss;
	int cpl;
};

enum vcpu_action {
	VCPU_CONTINUE,  /* exit handled: run on */
	VCPU_PARK,      /* this vCPU is finished (stopped, done or crashed) */
};

/* The dispatcher both accelerators call for each exit. For a read, it
 * fills exit->io.data / exit->mmio.data before returning. */
typedef enum vcpu_action (*vcpu_exit_fn)(struct vcpu *vcpu, struct vcpu_exit *exit);

struct accel_ops {
	const char *name;
	/* After guest memory exists: register it with the accelerator. */
	int (*vm_init)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);
	/* Create vCPU state and load the entry registers (vcpu->entry). Called
	 * on the vCPU's own thread. */
	int (*vcpu_init)(struct vcpu *vcpu);
	/* Run until handle() says VCPU_PARK or the accelerator gives up; each
	 * exit goes through handle(). On the vCPU's thread. */
	void (*vcpu_run)(struct vcpu *vcpu, vcpu_exit_fn handle);
	/* From any thread: make vcpu_run notice vcpu->stop soon. */
	void (*vcpu_kick)(struct vcpu *vcpu);
	/* Register state now (on the vCPU thread, while stopped in an exit). */
	int (*vcpu_get_regs)(struct vcpu *vcpu, struct vcpu_regs *regs);
	void (*vcpu_destroy)(struct vcpu *vcpu);
	/* The guest's TSC frequency in Hz. */
	uint64_t (*tsc_hz)(struct vm *vm);
	/* The accelerator's own dirty log of RAM slot `slot` (guest_mem's
	 * slot index), NULL if it has none: turn it on or off; fetch the
	 * bitmap of pages written since the last fetch, re-arming it. */
	int (*dirty_log_enable)(struct vm *vm, int slot, bool on);
	int (*dirty_log_fetch)(struct vm *vm, int slot, uint64_t *bitmap);
};

extern const struct accel_ops accel_kvm_ops;
extern const struct accel_ops accel_native_ops;

/* "auto" picks kvm when /dev/kvm opens. Returns NULL and sets *why for an
 * unknown name or kvm without /dev/kvm. */
const struct accel_ops *accel_select(const char *name, const char **why);
bool accel_kvm_available(void);

#endif
