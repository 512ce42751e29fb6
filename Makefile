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

PKG_CFLAGS := $(shell pkg-config --cflags capstone jansson 2>/dev/null)
WARN     := -Wall -Wextra -Werror
BASE_CFLAGS := -std=gnu11 $(WARN) -g -D_GNU_SOURCE -pthread -I. $(PKG_CFLAGS) -MMD -MP
REL_CFLAGS  := $(BASE_CFLAGS) -O2
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_CFLAGS  := $(BASE_CFLAGS) -O1 $(SAN_FLAGS)
LIBS     := -lcapstone -ljansson -lpthread -lm

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
        bench-guest bench-fault bench-overcommit bench-alloc
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

integration: $(SAN_GMM) $(GMM) $(GUEST)
	GMM=$(SAN_GMM) GMM_RELEASE=$(GMM) GMM_GUEST=$(GUEST) \
	  $(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/integration

test: deps
	$(MAKE) all san
	$(MAKE) unit
	$(MAKE) integration

bench-guest: all
	$(PYTHON) bench/bench_guest.py

bench-fault: all
	$(PYTHON) bench/bench_fault.py

bench-overcommit: all
	$(PYTHON) bench/bench_overcommit.py

bench-alloc: $(BUILD)/bench/bench_alloc
	$(BUILD)/bench/bench_alloc

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
