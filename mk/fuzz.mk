# Fuzzing the policy parser end to end (DESIGN.md §4): tests/fuzz/.
#
#   make fuzz                  run the fuzzer for FUZZ_SECONDS (60) on the seed
#                              corpus; new inputs go to build/fuzz/corpus,
#                              crashes to build/fuzz/artifacts
#   make build/fuzz/fuzz_policy   only build it
#
# The target is built with clang and libFuzzer (libclang-rt-14-dev) from the
# libpolicy sources themselves, instrumented, not from the gcc-built archive.
# A short deterministic run is part of `make test`: tests/host/test_fuzz_smoke.c.
# It needs no kernel: the policy library falls back to the source tree's uapi
# header (mk/mktmectl.mk).

FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_OUT := $(BUILD)/fuzz
FUZZ_POLICY := $(FUZZ_OUT)/fuzz_policy
FUZZ_CORPUS := tests/fuzz/corpus
FUZZ_DICT := tests/fuzz/policy.dict
# Recursive (=), and $$ in the prerequisites: mk/mktmectl.mk is read after
# this file.
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -I$(HDRS) $(MKTMECTL_CFLAGS)

$(FUZZ_POLICY): tests/fuzz/fuzz_policy.c $$(LIBPOLICY_SRCS) $$(MKTMECTL_HDRS) mk/fuzz.mk
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_policy.c $(LIBPOLICY_SRCS) $(LIBPOLICY_LIBS)

.PHONY: fuzz fuzz-policy
fuzz-policy: $(FUZZ_POLICY)

# The first corpus directory is the one libFuzzer writes to: build/, never
# the repository.
fuzz: deps $(FUZZ_POLICY)
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/artifacts
	$(FUZZ_POLICY) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -dict=$(FUZZ_DICT) \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/ -print_final_stats=1 \
		$(FUZZ_OUT)/corpus $(FUZZ_CORPUS)

# The smoke test runs the fuzzer binary, it does not link it: a direct
# prerequisite rather than HOST_TEST_DEPS_test_fuzz_smoke, which the host
# test rule passes to the linker.
$(TEST_OUT)/host/test_fuzz_smoke: $(FUZZ_POLICY)
HOST_TEST_CFLAGS_test_fuzz_smoke := -DFUZZ_POLICY='"$(FUZZ_POLICY)"' \
	-DFUZZ_CORPUS='"$(FUZZ_CORPUS)"' -DFUZZ_DICT='"$(FUZZ_DICT)"'

build/fuzz/fuzz_policy build/tests/host/test_fuzz_smoke: build/%: $(BUILD)/%
	@:

# ---- the device fuzzer (tests/fuzz/fuzz_device.c), run in the guest ---------
#
#   make fuzz-kernel [FUZZ_SECONDS=60] [FUZZ_SEED=1] [FUZZ_KERNEL=debug|normal]
#                    [FUZZ_PROCS=3] [FUZZ_THREADS=3] [FUZZ_ARGS=...]
#
# Boots the debug kernel (mk/debug.mk; FUZZ_KERNEL=normal: the test kernel),
# runs fuzz_device for FUZZ_SECONDS and checks the core's counters came back;
# any kernel report fails it too (tools/vm/run). Output: build/fuzz-kernel/
# (console.log, dmesg, run.log). Replay: FUZZ_ARGS="--ops ..." from its last
# lines, with the same FUZZ_SEED. Built with everything else, so `make test`
# compiles it.
FUZZ_DEVICE := $(FUZZ_OUT)/fuzz_device
FUZZ_DEVICE_SRCS := tests/fuzz/fuzz_device.c tests/fuzz/fuzz_device_ops.c
USERSPACE_TARGETS += $(FUZZ_DEVICE)

$(FUZZ_DEVICE): $(FUZZ_DEVICE_SRCS) tests/fuzz/fuzz_device.h $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) -Itests/fuzz -o $@ $(FUZZ_DEVICE_SRCS) -lkeyutils -lpthread

FUZZ_SEED ?= 1
FUZZ_KERNEL ?= debug
FUZZ_PROCS ?= 3
FUZZ_THREADS ?= 3
FUZZ_ARGS ?=
FUZZ_KERNEL_OUT := $(ROOT)/build/fuzz-kernel

.PHONY: fuzz-kernel
ifeq ($(FUZZ_KERNEL),debug)
fuzz-kernel: userspace-debug
	@$(DEBUG_ENV) MKTME_TIMEOUT_FACTOR=$(DEBUG_TIMEOUT_FACTOR) tests/fuzz/run-device \
		$(FUZZ_KERNEL_OUT) $(DEBUG_BUILD)/fuzz/fuzz_device --seed $(FUZZ_SEED) \
		--seconds $(FUZZ_SECONDS) --procs $(FUZZ_PROCS) --threads $(FUZZ_THREADS) \
		--memfree-slack 128 $(FUZZ_ARGS)
else ifeq ($(FUZZ_KERNEL),normal)
fuzz-kernel: userspace
	@tests/fuzz/run-device $(FUZZ_KERNEL_OUT) $(FUZZ_DEVICE) --seed $(FUZZ_SEED) \
		--seconds $(FUZZ_SECONDS) --procs $(FUZZ_PROCS) --threads $(FUZZ_THREADS) $(FUZZ_ARGS)
else
fuzz-kernel:
	@echo "FUZZ_KERNEL=$(FUZZ_KERNEL): debug or normal" >&2; exit 2
endif
