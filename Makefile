# gmm: build, test, run. The README's two commands are `make run` and `make test`.
#
# Two builds of the same sources:
#   build/      release (-O2): build/gmm, benchmarks, `make run`
#   build/san/  ASan+UBSan: unit tests, fuzz regressions, integration tests
# Library sources are found by wildcard: a new .c in guestmm/, ept/, devices/,
# balloon/ or vmm/ is built without touching this file.

CC       ?= gcc
BUILD    := build
SAN      := $(BUILD)/san
PYTHON   := /usr/bin/python3

PKG_CFLAGS := $(shell pkg-config --cflags capstone jansson libxml-2.0 2>/dev/null)
WARN     := -Wall -Wextra -Werror
BASE_CFLAGS := -std=gnu11 $(WARN) -g -D_GNU_SOURCE -pthread -I. $(PKG_CFLAGS) -MMD -MP
REL_CFLAGS  := $(BASE_CFLAGS) -O2
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_CFLAGS  := $(BASE_CFLAGS) -O1 $(SAN_FLAGS)
LIBS     := -lcapstone -ljansson -lxml2 -lpthread -lm

# Everything but main() goes into libgmm.a so tests and benchmarks link it.
# LIB_DIRS and UNIT_SRCS can be narrowed on the command line to build one
# module alone, e.g. `make BUILD=/tmp/b LIB_DIRS=guestmm UNIT_SRCS=tests/unit/test_buddy.c unit`.
LIB_DIRS  ?= guestmm ept devices balloon vmm vmm/libvirt
LIB_SRCS  := $(filter-out vmm/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS     := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SAN_LIB_OBJS := $(LIB_SRCS:%.c=$(SAN)/obj/%.o)

UNIT_SRCS  ?= $(wildcard tests/unit/*.c)
# bench/bare_runner.c is gmm-bare, linked from the guest objects (guest/module.mk)
BENCH_SRCS := $(filter-out bench/bare_runner.c,$(wildcard bench/*.c))

GMM      := $(BUILD)/gmm
SAN_GMM  := $(SAN)/gmm
GUEST    := $(BUILD)/guest/gmm-guest.elf

# Kernel-style quiet build: `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all san deps run test unit integration fuzz-regress clean \
        bench-guest bench-fault bench-overcommit bench-alloc bench-libvirt bench-window \
        bench-replacement bench-swapcycle bench-hintfault
.DEFAULT_GOAL := all

all: $(GMM) $(GUEST) $(BUILD)/bench/gmm-bare $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
san: $(SAN_GMM) $(SAN)/tests/unit/unit_tests

deps:
	@scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo '  CC      $@'
	$(Q)$(CC) $(REL_CFLAGS) -c $< -o $@

$(SAN)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo '  CC      $@'
	$(Q)$(CC) $(SAN_CFLAGS) -c $< -o $@

$(BUILD)/libgmm.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(SAN)/libgmm.a: $(SAN_LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(GMM): $(BUILD)/obj/vmm/main.o $(BUILD)/libgmm.a
	@echo '  LD      $@'
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)

$(SAN_GMM): $(SAN)/obj/vmm/main.o $(SAN)/libgmm.a
	@echo '  LD      $@'
	$(Q)$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

# All unit tests link into one Criterion binary: one summary line.
$(SAN)/tests/unit/unit_tests: $(UNIT_SRCS:%.c=$(SAN)/obj/%.o) $(SAN)/libgmm.a
	@mkdir -p $(@D)
	@echo '  LD      $@'
	$(Q)$(CC) $(SAN_CFLAGS) -o $@ $^ -lcriterion $(LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libgmm.a
	@mkdir -p $(@D)
	@echo '  LD      $@'
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)

# The test guest: freestanding, its own flags (guest/module.mk).
include guest/module.mk

run: deps
	$(MAKE) all
	$(GMM) run --config configs/demo.json

unit: $(SAN)/tests/unit/unit_tests
	$(SAN)/tests/unit/unit_tests

integration: $(SAN_GMM) $(GMM) $(GUEST) $(BUILD)/bench/bench_swapcycle
	GMM=$(SAN_GMM) GMM_RELEASE=$(GMM) GMM_GUEST=$(GUEST) \
	  $(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/integration

test: deps
	$(MAKE) all san
	$(MAKE) unit
	$(MAKE) fuzz-regress
	$(MAKE) integration

# Fuzzers (tests/fuzz/README.md): each tests/fuzz/fuzz_<name>.c is a libFuzzer
# target built by clang into $(FUZZ)/fuzz_<name>, linked with only the
# library sources FUZZ_SRCS_<name> lists (compiled by clang into $(FUZZ)/obj).
# A new fuzzer needs its file and its FUZZ_SRCS_ line (FUZZ_LIBS_ if it
# links a library), nothing else.
# FUZZ_NAMES can be narrowed on the command line: `make FUZZ_NAMES=virtq fuzz`.
# `make fuzz-regress` runs every fuzzer once over tests/fuzz/regress/<name>/
# and tests/fuzz/corpus/<name>/; a crash, leak or UB report fails it.
FUZZ_CC     ?= clang
FUZZ        := $(BUILD)/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_NAMES  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(FUZZ_NAMES:%=$(FUZZ)/fuzz_%)

FUZZ_SRCS_virtq       := devices/virtq.c
FUZZ_SRCS_virtio_mmio := devices/virtq.c devices/virtio_mmio.c devices/bus.c
FUZZ_SRCS_balloon     := devices/virtq.c devices/virtio_mmio.c devices/bus.c balloon/balloon_dev.c
FUZZ_SRCS_libvirt_rpc := vmm/libvirt/xdr.c vmm/libvirt/rpc.c vmm/libvirt/rpc_dispatch.c
FUZZ_SRCS_libvirt_remote := vmm/libvirt/xdr.c vmm/libvirt/rpc.c vmm/libvirt/rpc_dispatch.c vmm/libvirt/remote_util.c \
                            vmm/libvirt/remote_connect.c vmm/libvirt/remote_domain.c vmm/libvirt/remote_memory.c \
                            vmm/libvirt/remote_event.c vmm/libvirt/remote_program.c vmm/libvirt/remote_proc_names.c \
                            tests/fuzz/fake_domains.c
FUZZ_SRCS_config      := vmm/config.c vmm/numa_topology.c vmm/hugetlb.c vmm/size.c vmm/log.c vmm/swap_config.c vmm/mpol_names.c
# libraries a fuzzer links beyond libc and pthreads
FUZZ_LIBS_config      := -ljansson
FUZZ_SRCS_domain_xml  := vmm/libvirt/domain_xml.c vmm/libvirt/domain_xml_format.c $(FUZZ_SRCS_config)
FUZZ_LIBS_domain_xml  := -lxml2 -ljansson

$(FUZZ)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo '  FUZZCC  $@'
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

define FUZZ_LINK
ifeq ($(strip $(FUZZ_SRCS_$(1))),)
$(FUZZ)/fuzz_$(1):
	@echo 'Makefile: FUZZ_SRCS_$(1) is not set: list the library sources tests/fuzz/fuzz_$(1).c needs' >&2; exit 1
else
$(FUZZ)/fuzz_$(1): $(FUZZ)/obj/tests/fuzz/fuzz_$(1).o $(patsubst %.c,$(FUZZ)/obj/%.o,$(FUZZ_SRCS_$(1)))
	@echo '  LD      $$@'
	$$(Q)$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LIBS_$(1)) -lpthread
endif
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call FUZZ_LINK,$(f))))

.PHONY: fuzz
fuzz: $(FUZZ_BINS)

fuzz-regress: $(FUZZ_BINS)
	$(Q)set -e; for n in $(FUZZ_NAMES); do \
	  files=$$(find tests/fuzz/regress/$$n tests/fuzz/corpus/$$n -type f 2>/dev/null | sort) || true; \
	  echo "  FUZZ    $$n: $$(echo $$files | wc -w) inputs"; \
	  [ -n "$$files" ] || continue; \
	  if ! $(FUZZ)/fuzz_$$n $$files >$(FUZZ)/$$n.regress.log 2>&1; then \
	    tail -n 60 $(FUZZ)/$$n.regress.log; \
	    echo "fuzz-regress: fuzz_$$n failed (log: $(FUZZ)/$$n.regress.log)" >&2; exit 1; \
	  fi; \
	done

bench-guest: all
	$(PYTHON) bench/bench_guest.py

bench-fault: all
	$(PYTHON) bench/bench_fault.py

bench-overcommit: all
	$(PYTHON) bench/bench_overcommit.py

bench-libvirt: all
	$(PYTHON) bench/bench_libvirt.py

bench-alloc: $(BUILD)/bench/bench_alloc
	$(BUILD)/bench/bench_alloc

bench-window: $(BUILD)/bench/bench_window
	$(BUILD)/bench/bench_window

bench-hintfault: $(BUILD)/bench/bench_hintfault
	$(BUILD)/bench/bench_hintfault

bench-swapcycle: $(BUILD)/bench/bench_swapcycle
	$(PYTHON) bench/bench_swapcycle.py

# the simulation draws with the test guest's own Zipf sampler (hosted objects)
$(BUILD)/bench/sim_replacement: $(BUILD)/obj/bench/sim_replacement.o $(BUILD)/bare/guest/zipf.o $(BUILD)/bare/guest/mathx.o
	@mkdir -p $(@D)
	@echo '  LD      $@'
	$(Q)$(CC) $(REL_CFLAGS) -o $@ $^ -lm

bench-replacement: $(BUILD)/bench/sim_replacement
	$(BUILD)/bench/sim_replacement

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
