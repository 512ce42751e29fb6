# The test guest (guest/) and its host twin, the bare runner (bench/gmm-bare).
# Included by the top Makefile. Needs nothing from vmm/, guestmm/ or
# libgmm.a: `make build/guest/gmm-guest.elf build/bench/gmm-bare` builds
# while the rest of the tree does not. See docs/test-guest.md.

# Workload code, built twice: freestanding for the guest, hosted for gmm-bare.
GUEST_COMMON := access balloon cmdline fmt gpool main mathx report verify virtio wset zipf \
                wl_after wl_crash wl_garbage wl_hog wl_ioexit wl_random wl_touch wl_zipf
# Guest only: run-time back ends (gmm test device, QEMU) and libc's four.
GUEST_ONLY   := libc plat plat_qemu plat_tdev
# Ring 0 under QEMU only (PVH boot and exception stubs): exempt from the
# ring-3 instruction check below.
GUEST_RING0  := pvh pvh_boot pvh_exc
GUEST_ASM    := entry pvh pvh_exc

# Freestanding: no libc, no stack protector (it reads %fs), no unwind
# tables, hidden symbols so data is reached PC-relative (see compiler.h).
# SSE is allowed: gmm and the PVH path both enable it.
GUEST_CFLAGS := -std=gnu11 $(WARN) -O2 -g -I. -ffreestanding -fno-stack-protector -fPIE \
                -fvisibility=hidden -fno-asynchronous-unwind-tables -fno-unwind-tables \
                -fcf-protection=none -fno-plt -MMD -MP
GUEST_LDFLAGS := -nostdlib -static-pie -Wl,-T,guest/guest.ld -Wl,--no-dynamic-linker \
                 -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--build-id=none

GUEST_OBJDIR := $(BUILD)/guest/obj
GUEST_C      := $(filter-out $(GUEST_ASM),$(GUEST_COMMON) $(GUEST_ONLY) $(GUEST_RING0))
GUEST_OBJS   := $(patsubst %,$(GUEST_OBJDIR)/guest/%.o,$(GUEST_C) $(GUEST_ASM))
GUEST_RING3_OBJS := $(patsubst %,$(GUEST_OBJDIR)/guest/%.o,$(GUEST_COMMON) $(GUEST_ONLY) entry)

$(GUEST_OBJDIR)/guest/%.o: guest/%.c
	@mkdir -p $(@D)
	@echo '  CC      $@'
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OBJDIR)/guest/%.o: guest/%.S
	@mkdir -p $(@D)
	@echo '  CC      $@'
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

# Ring-3 code must not use what gmm's ring 3 cannot run: syscall/int
# (no kernel), cpuid (exits, and the native accelerator cannot emulate it),
# %fs/%gs (no TLS), or privileged instructions. wl_crash's deliberate
# `mov %cr0` (crash=gp) is the one privileged exception and is not listed.
GUEST_FORBIDDEN := '\s(syscall|sysenter|sysret|int|int3|into|cpuid|hlt|cli|sti|lgdt|lidt|ltr|wrmsr|rdmsr|invlpg)(\s|$$)|%[fg]s:'
$(GUEST_OBJDIR)/ring3.ok: $(GUEST_RING3_OBJS)
	@bad=$$(objdump -d --no-show-raw-insn $^ | grep -E $(GUEST_FORBIDDEN)); \
	if [ -n "$$bad" ]; then echo "guest: forbidden instruction in ring-3 code:"; echo "$$bad"; exit 1; fi
	@touch $@

# Link, then refuse an image gmm's loader or the PVH self-relocation would
# get wrong: any relocation but R_X86_64_RELATIVE, a PT_INTERP, or no
# PT_DYNAMIC (where loaders find the relocations). ld marks a PIE linked at
# a non-zero address ET_EXEC; it is still position independent, and gmm's
# loader takes either type.
$(GUEST): $(GUEST_OBJS) guest/guest.ld $(GUEST_OBJDIR)/ring3.ok
	@mkdir -p $(@D)
	@echo '  LD      $@'
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@.tmp $(GUEST_OBJS)
	@readelf -rW $@.tmp | awk '/R_X86_64_/ && $$3 != "R_X86_64_RELATIVE" { print "guest: relocation " $$3 " at " $$1 " (only R_X86_64_RELATIVE is allowed)"; bad = 1 } END { exit bad }'
	@! readelf -lW $@.tmp | grep -q INTERP || { echo "guest: has a PT_INTERP"; exit 1; }
	@readelf -lW $@.tmp | grep -q DYNAMIC || { echo "guest: no PT_DYNAMIC (not linked as a PIE)"; exit 1; }
	$(Q)mv $@.tmp $@

# ---- gmm-bare: the same workloads as a plain host process ----------------
# bench/bare_runner.c is the host back end of guest/plat.h. It links the
# workload objects, not libgmm.a, so it has its own rule (the top Makefile
# leaves it out of its bench/*.c wildcard).
BARE_CFLAGS := -std=gnu11 $(WARN) -O2 -g -D_GNU_SOURCE -pthread -I. -MMD -MP
BARE_OBJS   := $(BUILD)/bare/bench/bare_runner.o $(patsubst %,$(BUILD)/bare/guest/%.o,$(GUEST_COMMON))

$(BUILD)/bare/%.o: %.c
	@mkdir -p $(@D)
	@echo '  CC      $@'
	$(Q)$(CC) $(BARE_CFLAGS) -c $< -o $@

$(BUILD)/bench/gmm-bare: $(BARE_OBJS)
	@mkdir -p $(@D)
	@echo '  LD      $@'
	$(Q)$(CC) $(BARE_CFLAGS) -o $@ $^ -lpthread

.PHONY: guest bare
guest: $(GUEST)
bare: $(BUILD)/bench/gmm-bare
