/*
 * The native accelerator, for hosts without /dev/kvm: the test guest's
 * ring-3 code runs directly on the vCPU thread, over the same guest RAM
 * window (gva = window + gpa, so no translation at all). What would exit
 * under KVM traps here instead: in/out and hlt raise #GP (no I/O privilege)
 * and so SIGSEGV; the device hole and everything past RAM are PROT_NONE, so
 * an access there is SIGSEGV too. The handler, on an alternate stack (the
 * interrupted stack is guest memory), decodes the instruction with Capstone
 * into the exit KVM would give, calls the same dispatcher, applies a read's
 * result, advances RIP and returns into the guest. Leaving the guest (stop,
 * exit, crash) is a siglongjmp back to vcpu_run.
 *
 * This is no isolation boundary: the guest shares gmm's address space. It
 * runs gmm's own trusted test guest only; Linux kernels are refused.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "vmm/crash.h"
#include "vmm/log.h"
#include "vmm/native_decode.h"
#include "vmm/signals.h"
#include "vmm/tsc.h"
#include "vmm/vm.h"

struct native_vcpu {
	sigjmp_buf leave;           /* back to native_vcpu_run */
	volatile sig_atomic_t in_guest;
	vcpu_exit_fn handle;
	csh cs;
	struct vcpu_regs trap_regs; /* state at the last trap, for reports */
};

static __thread struct vcpu *native_current;
static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static struct sigaction old_segv, old_bus, old_ill, old_fpe, old_trap;

/* Enter the guest with the registers in *r; never returns (the guest
 * leaves by a trap and siglongjmp). Offsets follow struct vcpu_regs. */
void native_enter(const struct vcpu_regs *r) __attribute__((noreturn));
__asm__(".text\n"
	".globl native_enter\n"
	".type native_enter,@function\n"
	"native_enter:\n"
	"  mov %rdi, %rax\n"
	"  mov 8(%rax), %rbx\n"
	"  mov 16(%rax), %rcx\n"
	"  mov 24(%rax), %rdx\n"
	"  mov 32(%rax), %rsi\n"
	"  mov 48(%rax), %rbp\n"
	"  mov 64(%rax), %r8\n"
	"  mov 72(%rax), %r9\n"
	"  mov 80(%rax), %r10\n"
	"  mov 88(%rax), %r11\n"
	"  mov 96(%rax), %r12\n"
	"  mov 104(%rax), %r13\n"
	"  mov 112(%rax), %r14\n"
	"  mov 120(%rax), %r15\n"
	"  mov 40(%rax), %rdi\n"
	"  mov 56(%rax), %rsp\n"
	"  push 128(%rax)\n"
	"  mov 0(%rax), %rax\n"
	"  cld\n"
	"  ret\n"
	".size native_enter, .-native_enter\n");

_Static_assert(__builtin_offsetof(struct vcpu_regs, rsp) == 56, "native_enter offsets");
_Static_assert(__builtin_offsetof(struct vcpu_regs, rip) == 128, "native_enter offsets");

static void regs_from_uc(struct vcpu_regs *r, const ucontext_t *uc)
{
	const greg_t *g = uc->uc_mcontext.gregs;

	memset(r, 0, sizeof(*r));
	r->rax = g[REG_RAX]; r->rbx = g[REG_RBX]; r->rcx = g[REG_RCX]; r->rdx = g[REG_RDX];
	r->rsi = g[REG_RSI]; r->rdi = g[REG_RDI]; r->rbp = g[REG_RBP]; r->rsp = g[REG_RSP];
	r->r8 = g[REG_R8]; r->r9 = g[REG_R9]; r->r10 = g[REG_R10]; r->r11 = g[REG_R11];
	r->r12 = g[REG_R12]; r->r13 = g[REG_R13]; r->r14 = g[REG_R14]; r->r15 = g[REG_R15];
	r->rip = g[REG_RIP]; r->rflags = g[REG_EFL]; r->cr2 = g[REG_CR2];
	r->cs = 0x33; r->ss = 0x2b; r->cpl = 3;
}

static void native_leave(struct native_vcpu *nv) __attribute__((noreturn));
static void native_leave(struct native_vcpu *nv)
{
	nv->in_guest = 0;
	siglongjmp(nv->leave, 1);
}

static void exit_exception(struct vcpu_exit *exit, int vector, const char *what, uint64_t err, uint64_t addr)
{
	memset(exit, 0, sizeof(*exit));
	exit->reason = VCPU_EXIT_EXCEPTION;
	exit->exc.vector = vector;
	exit->exc.what = what;
	exit->exc.error_code = err;
	exit->exc.addr = addr;
}

/* A fault on an address: MMIO if it is in this guest's gpa span but not
 * RAM (as KVM, with no memslot there, would exit); a page fault otherwise. */
static bool fault_is_mmio(struct vcpu *vcpu, uint64_t addr, uint64_t *gpa)
{
	struct guest_mem *mem = &vcpu->vm->mem;
	uint64_t base = (uint64_t)mem->window;

	if (addr < base || addr - base >= mem->span_bytes)
		return false;
	*gpa = addr - base;
	return !guest_mem_is_ram(mem, *gpa);
}

/* Fill exit from the trapping instruction; returns true if it is an exit
 * to emulate (then *insn says how to finish it). */
static bool native_classify(struct vcpu *vcpu, struct native_vcpu *nv, int sig, siginfo_t *si,
			    ucontext_t *uc, struct native_insn *insn, struct vcpu_exit *exit)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = g[REG_RIP], addr = (uint64_t)si->si_addr, gpa = 0;
	const uint8_t *code = vm_gva_to_hva(vcpu->vm, &nv->trap_regs, rip, 15);
	bool decoded = code && !native_decode(nv->cs, code, 15, rip, g, insn);

	if (sig == SIGSEGV && si->si_code == SI_KERNEL && decoded && insn->kind == NATIVE_INSN_IO) {
		memset(exit, 0, sizeof(*exit));
		exit->reason = VCPU_EXIT_IO;
		exit->io.port = insn->port;
		exit->io.size = insn->size;
		exit->io.is_write = insn->is_write;
		exit->io.data = (uint32_t)insn->value;
		return true;
	}
	if (sig == SIGSEGV && si->si_code == SI_KERNEL && decoded && insn->kind == NATIVE_INSN_HLT) {
		memset(exit, 0, sizeof(*exit));
		exit->reason = VCPU_EXIT_HLT;
		return true;
	}
	if (sig == SIGSEGV && si->si_code != SI_KERNEL && fault_is_mmio(vcpu, addr, &gpa)) {
		if (decoded && insn->kind == NATIVE_INSN_MMIO) {
			memset(exit, 0, sizeof(*exit));
			exit->reason = VCPU_EXIT_MMIO;
			exit->mmio.gpa = gpa;
			exit->mmio.size = insn->size;
			exit->mmio.is_write = insn->is_write;
			exit->mmio.data = insn->value;
			return true;
		}
		exit_exception(exit, 14, "MMIO access by an instruction the native accelerator cannot emulate",
			       g[REG_ERR], addr);
		return false;
	}
	switch (sig) {
	case SIGSEGV:
		if (si->si_code == SI_KERNEL)
			exit_exception(exit, 13, "#GP general protection", g[REG_ERR], 0);
		else
			exit_exception(exit, 14, "#PF page fault outside guest RAM", g[REG_ERR], addr);
		break;
	case SIGBUS:  exit_exception(exit, 14, "#PF bus error on guest memory", 0, addr); break;
	case SIGILL:  exit_exception(exit, 6, "#UD invalid opcode", 0, 0); break;
	case SIGFPE:  exit_exception(exit, 0, "#DE divide error", 0, 0); break;
	default:      exit_exception(exit, 3, "#BP/#DB debug trap", 0, 0); break;
	}
	return false;
}

static void native_finish(ucontext_t *uc, const struct native_insn *insn, const struct vcpu_exit *exit)
{
	greg_t *g = uc->uc_mcontext.gregs;

	if (exit->reason == VCPU_EXIT_IO && !exit->io.is_write)
		native_apply_read(g, insn, exit->io.data);
	else if (exit->reason == VCPU_EXIT_MMIO && !exit->mmio.is_write)
		native_apply_read(g, insn, exit->mmio.data);
	g[REG_RIP] += insn->len;
}

static void chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
	if (old->sa_flags & SA_SIGINFO && old->sa_sigaction) {
		old->sa_sigaction(sig, si, uc);
	} else if (old->sa_handler == SIG_IGN) {
		return;
	} else if (old->sa_handler != SIG_DFL && old->sa_handler) {
		old->sa_handler(sig);
	} else {
		/* a fault in gmm itself: die the default way, with a core */
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static const struct sigaction *old_action(int sig)
{
	switch (sig) {
	case SIGSEGV: return &old_segv;
	case SIGBUS:  return &old_bus;
	case SIGILL:  return &old_ill;
	case SIGFPE:  return &old_fpe;
	default:      return &old_trap;
	}
}

static void native_trap(int sig, siginfo_t *si, void *uc_)
{
	struct vcpu *vcpu = native_current;
	struct native_vcpu *nv = vcpu ? vcpu->accel_priv : NULL;
	ucontext_t *uc = uc_;
	struct native_insn insn;
	struct vcpu_exit exit;
	int saved = errno;

	if (sig == SIGBUS && si->si_code == BUS_ADRERR) {
		/* a self-served guest's page fault (stage2_sigbus()): served
		 * here when this vCPU's guest code touched its own RAM, else
		 * handed to the fault thread; either way the access runs again */
		bool own = nv && nv->in_guest;
		bool write = own && (((ucontext_t *)uc_)->uc_mcontext.gregs[REG_ERR] & 2);

		if (own)
			nv->in_guest = 0;
		if (stage2_sigbus((uint64_t)si->si_addr, write, own ? &vcpu->vm->mem : NULL)) {
			if (own) {
				nv->in_guest = 1;
				/* a stop that came while we served */
				if (atomic_load(&vcpu->stop))
					native_leave(nv);
			}
			errno = saved;
			return;
		}
		if (own)
			nv->in_guest = 1;
	}
	if (!nv || !nv->in_guest) {
		chain(old_action(sig), sig, si, uc_);
		return;
	}
	if (signals_ram_bridge_retry(si)) {
		errno = saved; /* the realizer is swapping this page's mapping */
		return;
	}
	nv->in_guest = 0;
	regs_from_uc(&nv->trap_regs, uc);
	if (!native_classify(vcpu, nv, sig, si, uc, &insn, &exit)) {
		nv->handle(vcpu, &exit); /* a crash: reports and parks */
		native_leave(nv);
	}
	if (nv->handle(vcpu, &exit) != VCPU_CONTINUE)
		native_leave(nv);
	native_finish(uc, &insn, &exit);
	nv->in_guest = 1;
	/* a stop that raced with this exit: its kick found us out of the guest */
	if (atomic_load(&vcpu->stop))
		native_leave(nv);
	errno = saved;
}

void accel_native_kick(void *uc)
{
	struct vcpu *vcpu = native_current; /* set only while a native vCPU runs */
	struct native_vcpu *nv;

	(void)uc;
	if (!vcpu)
		return;
	nv = vcpu->accel_priv;
	if (nv && nv->in_guest && atomic_load(&vcpu->stop))
		native_leave(nv);
}

static void native_install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = native_trap;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGNAL_KICK);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGILL, &sa, &old_ill);
	sigaction(SIGFPE, &sa, &old_fpe);
	sigaction(SIGTRAP, &sa, &old_trap);
}

static int native_vm_init(struct vm *vm)
{
	if (!vm->mem.executable)
		return -EINVAL;
	pthread_once(&native_once, native_install_handlers);
	vm->accel_priv = (void *)&accel_native_ops; /* no per-VM state */
	return 0;
}

static void native_vm_destroy(struct vm *vm)
{
	vm->accel_priv = NULL;
}

static int native_vcpu_init(struct vcpu *vcpu)
{
	struct native_vcpu *nv = calloc(1, sizeof(*nv));
	int ret;

	if (!nv)
		return -ENOMEM;
	vcpu->accel_priv = nv;
	if (vcpu->vm->kind != GUEST_TEST)
		return -ENOTSUP;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &nv->cs) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(nv->cs, CS_OPT_DETAIL, CS_OPT_ON);
	ret = signals_altstack_setup();
	if (ret)
		return ret;
	signals_unblock_kick();
	return 0;
}

static void native_vcpu_run(struct vcpu *vcpu, vcpu_exit_fn handle)
{
	struct native_vcpu *nv = vcpu->accel_priv;

	nv->handle = handle;
	if (sigsetjmp(nv->leave, 1)) {
		native_current = NULL;
		return;
	}
	native_current = vcpu;
	nv->in_guest = 1;
	if (atomic_load(&vcpu->stop))
		native_leave(nv);
	native_enter(&vcpu->entry);
}

static void native_vcpu_kick(struct vcpu *vcpu)
{
	pthread_kill(vcpu->thread, SIGNAL_KICK);
}

static int native_vcpu_get_regs(struct vcpu *vcpu, struct vcpu_regs *r)
{
	struct native_vcpu *nv = vcpu->accel_priv;

	*r = nv->trap_regs;
	return 0;
}

static void native_vcpu_destroy(struct vcpu *vcpu)
{
	struct native_vcpu *nv = vcpu->accel_priv;

	if (nv->cs)
		cs_close(&nv->cs);
	free(nv);
	vcpu->accel_priv = NULL;
}

static uint64_t native_tsc_hz(struct vm *vm)
{
	(void)vm;
	return tsc_host_hz();
}

const struct accel_ops accel_native_ops = {
	.name = "native",
	.vm_init = native_vm_init,
	.vm_destroy = native_vm_destroy,
	.vcpu_init = native_vcpu_init,
	.vcpu_run = native_vcpu_run,
	.vcpu_kick = native_vcpu_kick,
	.vcpu_get_regs = native_vcpu_get_regs,
	.vcpu_destroy = native_vcpu_destroy,
	.tsc_hz = native_tsc_hz,
};

const struct accel_ops *accel_select(const char *name, const char **why)
{
	*why = NULL;
	if (!name || !strcmp(name, "auto"))
		return accel_kvm_available() ? &accel_kvm_ops : &accel_native_ops;
	if (!strcmp(name, "native"))
		return &accel_native_ops;
	if (!strcmp(name, "kvm")) {
		if (accel_kvm_available())
			return &accel_kvm_ops;
		*why = "accel=kvm but /dev/kvm cannot be opened";
		return NULL;
	}
	*why = "must be auto, kvm or native";
	return NULL;
}
