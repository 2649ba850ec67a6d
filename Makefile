# mktme: top-level build. `make demo` and `make test` are the two entry points
# (README.md); both install what is missing from Debian's packages first.
#
# Everything built goes under build/ (ignored). The compiler cache lives
# outside the repository (kernel/build.sh).

SHELL := /bin/bash
# No implicit rules: make must never try to "rebuild" vmlinux from vmlinux.o
# (kbuild's intermediate) while a kernel build is linking.
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
ROOT := $(CURDIR)
BUILD := $(ROOT)/build
KDIR := $(BUILD)/kernel
KOBJ := $(KDIR)/obj
VMLINUX := $(KOBJ)/vmlinux
HDRS := $(KDIR)/headers/include
BPF_OUT := $(BUILD)/bpf
TEST_OUT := $(BUILD)/tests

CC := gcc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)

# Userspace: C11, warnings are errors. The kernel's installed uapi headers come
# first so <linux/mktme.h> is the one built with the kernel.
USER_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I$(HDRS) -I$(BPF_OUT)
BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -D__TARGET_ARCH_x86 -I$(BPF_OUT) -Ibpf

# Prerequisites that name per-target variables ($$(VAR_$$*)) need this.
.SECONDEXPANSION:

.PHONY: all deps kernel qemu userspace test demo bench vm check clean help
all: userspace

help:
	@echo "make demo     boot the guest and show the policy layer at work"
	@echo "make test     build everything and run every test suite (host, KUnit, guest)"
	@echo "make bench    measure /dev/mktme against its baselines, and the policy layer's cost (build/bench/)"
	@echo "make vm       an interactive shell in the guest"
	@echo "make kernel   build only the guest kernel"
	@echo "make qemu     build the TME-MK model, QEMU with tools/qemu/patches (build/qemu/)"
	@echo "make test-debug  the guest suites, KUnit and selftests under the debug kernel"
	@echo "                 (KASAN, lockdep, kmemleak, UBSAN, DEBUG_PAGEALLOC; build/debug)"
	@echo "make fuzz-kernel fuzz /dev/mktme in the guest (FUZZ_SECONDS, FUZZ_SEED, FUZZ_KERNEL)"
	@echo "make check    checkpatch on the kernel code"
	@echo "make clean    remove build/ (the compiler cache is kept)"
	@echo "make install  mktmectl, man page, completion, systemd unit, example policy (PREFIX, DESTDIR)"
	@echo "make uninstall"
	@echo "make deb      a Debian package of the above (build/deb/)"
	@echo "make kernel-deb  a Debian kernel package for real machines (hours; build/kernel-deb/)"

deps:
	@scripts/deps.sh

# KCONFIG_EXTRA: more config fragments on top of mktme.fragment (mk/debug.mk).
KCONFIG_EXTRA ?=
kernel: deps
	@MKTME_KBUILD=$(KDIR) MKTME_KCONFIG_EXTRA="$(KCONFIG_EXTRA)" kernel/build.sh

# Userspace needs the kernel's headers and BTF, so it is made in a second pass
# that sees the freshly built vmlinux.
userspace: kernel
	@$(MAKE) --no-print-directory build-userspace

# The TME-MK model: Debian's qemu 7.2 source with tools/qemu/patches, TCG only
# (tools/qemu/build.sh; compiles through the kernel's ccache).
qemu: deps
	@tools/qemu/build.sh

test: userspace qemu
	@tests/run

demo: userspace
	@tools/demo/run

bench: userspace
	@bench/run

vm: kernel
	tools/vm/run --shell

check:
	@MKTME_BUILD=$(BUILD) scripts/checkpatch.sh

clean:
	rm -rf $(BUILD)

# ---- second pass: everything built from the kernel -------------------------

# The programs mktmectl loads (bpf/), and the guest tests' own (tests/bpf/).
BPF_PROGS := $(patsubst bpf/%.bpf.c,%,$(wildcard bpf/*.bpf.c)) \
	$(patsubst tests/bpf/%.bpf.c,%,$(wildcard tests/bpf/*.bpf.c)) \
	$(patsubst bench/%.bpf.c,%,$(wildcard bench/*.bpf.c))
SKELS := $(patsubst %,$(BPF_OUT)/%.skel.h,$(BPF_PROGS))

GUEST_TESTS := $(patsubst tests/guest/%.c,$(TEST_OUT)/guest/%,$(wildcard tests/guest/test_*.c))
HOST_TESTS := $(patsubst tests/host/%.c,$(TEST_OUT)/host/%,$(wildcard tests/host/test_*.c))

# Under the kernel tree's lock: never read vmlinux or install headers while
# kernel/build.sh (ours or a concurrent one) is relinking.
.PHONY: build-userspace build-userspace-locked
build-userspace:
	@flock $(KDIR)/.lock $(MAKE) --no-print-directory build-userspace-locked

# Built by kernel/build.sh, never by this Makefile.
$(VMLINUX): ;

build-userspace-locked: $(KDIR)/headers/.stamp $(BUILD)/btf/vmlinux.btf $(SKELS) $(GUEST_TESTS) $(HOST_TESTS) $$(USERSPACE_TARGETS)

$(KDIR)/headers/.stamp: $(VMLINUX) $(shell find kernel/src -path '*/uapi/*' -name '*.h')
	@echo "  HDRINST $(KDIR)/headers"
	@$(MAKE) -s -C $(KDIR)/src O=$(KOBJ) headers_install INSTALL_HDR_PATH=$(KDIR)/headers >/dev/null
	@touch $@

# The running kernel's /sys/kernel/btf/vmlinux must equal this (tests/guest/test_chain.c).
$(BUILD)/btf/vmlinux.btf: $(VMLINUX)
	@mkdir -p $(@D)
	@objcopy -O binary --only-section=.BTF $< $@

# vmlinux.h is rewritten only when it changes, so BPF objects rebuild only then.
$(BPF_OUT)/vmlinux.h: $(VMLINUX)
	@mkdir -p $(@D)
	@$(BPFTOOL) btf dump file $< format c >$@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_OUT)/vmlinux.h $(wildcard bpf/*.h)
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_OUT)/%.bpf.o: tests/bpf/%.bpf.c $(BPF_OUT)/vmlinux.h $(wildcard bpf/*.h)
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_OUT)/%.bpf.o: bench/%.bpf.c $(BPF_OUT)/vmlinux.h
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	@echo "  SKEL    $@"
	@$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf >$@.tmp && mv $@.tmp $@

# guest.c uses libkeyutils; a guest test may link more: GUEST_TEST_LDLIBS_<name>.
# OpenSSL computes the AES-XTS the TME-MK model must have stored.
GUEST_TEST_LDLIBS_test_hw_cipher := -lcrypto
# GUEST_TIMEOUT_FACTOR scales every Criterion .timeout (tests/guest/guest.h);
# make test-debug sets it to its DEBUG_TIMEOUT_FACTOR.
GUEST_TIMEOUT_FACTOR ?= 1
GUEST_LIB := tests/guest/guest.c
$(TEST_OUT)/guest/%: tests/guest/%.c $(GUEST_LIB) tests/guest/guest.h $(SKELS) $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) -DGUEST_TIMEOUT_FACTOR=$(GUEST_TIMEOUT_FACTOR) -Itests/guest -o $@ $< $(GUEST_LIB) -lcriterion -lbpf -lelf -lz -lkeyutils $(GUEST_TEST_LDLIBS_$*)
# The nokmem suite is test_core_memcg.c built again for a boot of its own.
$(TEST_OUT)/guest/test_core_memcg_nokmem: tests/guest/test_core_memcg.c

# A host test may link more: HOST_TEST_DEPS_<name> (objects, archives) and
# HOST_TEST_LDLIBS_<name>, set by the mk/*.mk fragment of what it tests.
$(TEST_OUT)/host/%: tests/host/%.c tests/host/host.c $(wildcard tests/host/*.h) $$(HOST_TEST_DEPS_$$*)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) -Itests/host $(HOST_TEST_CFLAGS_$*) -o $@ $< tests/host/host.c $(HOST_TEST_DEPS_$*) -lcriterion $(HOST_TEST_LDLIBS_$*)

# Relative spellings of build outputs (make build/tests/host/test_x) name the
# absolute targets above.
build/%: $(BUILD)/% ;

# Component fragments (mktmectl, policy, ...) add their own targets to
# build-userspace through USERSPACE_TARGETS.
-include $(wildcard mk/*.mk)
