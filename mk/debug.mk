# make test-debug: the guest suites, KUnit and the selftests under the debug
# kernel (kernel/config/debug.fragment on top of mktme.fragment: KASAN,
# lockdep, kmemleak, UBSAN, DEBUG_PAGEALLOC, DEBUG_VM). Everything is built
# again in build/debug (its own kernel tree, and userspace against that
# kernel's headers and BTF, which test_chain compares with the running
# kernel's), with the same compiler cache. Any kernel report fails the run
# (tools/vm/kernel-reports). Not part of `make test` or CI: a cold debug build
# and run take too long on 2 cores (README.md); run it before closing a kernel
# issue.
#
#   make test-debug              build (if needed) and run
#   make kernel-debug            only the debug kernel
#   DEBUG_TIMEOUT_FACTOR=N       guest and suite timeouts times N (default 6)

DEBUG_BUILD := $(ROOT)/build/debug
DEBUG_FRAGMENT := kernel/config/debug.fragment
DEBUG_BZIMAGE := $(DEBUG_BUILD)/kernel/obj/arch/x86/boot/bzImage
DEBUG_TIMEOUT_FACTOR ?= 6
# KASAN's shadow (1/8) and quarantine, kmemleak's pool: more than the 2 GiB
# of a normal boot.
DEBUG_VM_MEM ?= 3G
DEBUG_MAKE = $(MAKE) --no-print-directory BUILD=$(DEBUG_BUILD) KCONFIG_EXTRA=$(DEBUG_FRAGMENT) \
	GUEST_TIMEOUT_FACTOR=$(DEBUG_TIMEOUT_FACTOR)
# acpi=noirq: the guest kernel has no PCI MSI, so virtio's interrupts are
# routed by the i440FX DSDT's _PRT method, a 128-iteration AML While loop.
# Under KASAN and lockdep on TCG it overran ACPICA's loop timeout
# (AE_AML_LOOP_TIMEOUT, drivers/acpi/acpica/dscontrol.c), every virtio device
# got "PCI INT A: no GSI", and the boot hung idle mounting its 9p root.
# The BIOS's PIRQ table (arch/x86/pci/irq.c) routes them instead.
# no5lvl: with 5-level paging (TCG's -cpu max has LA57) a timer interrupt
# that lands early in identify_cpu() (arch/x86/kernel/cpu/common.c), after
# it has zeroed boot_cpu_data's feature words and before they are read
# again, sees pgtable_l5_enabled() false (cpu_feature_enabled(X86_FEATURE_LA57)
# before alternatives, arch/x86/include/asm/pgtable_64_types.h), so KASAN's
# addr_has_metadata() takes the 5-level direct map for wild memory: one
# boot of test-debug reported "KASAN: wild-memory-access in
# do_raw_spin_lock" from handle_edge_irq() at cpu_detect(), before any of
# our code ran. make test keeps 5-level paging.
DEBUG_ENV = MKTME_BZIMAGE=$(DEBUG_BZIMAGE) MKTME_VM_MEM=$(DEBUG_VM_MEM) MKTME_VM_APPEND="acpi=noirq no5lvl"

.PHONY: kernel-debug userspace-debug test-debug
kernel-debug:
	@$(DEBUG_MAKE) kernel

userspace-debug:
	@$(DEBUG_MAKE) userspace

# Every guest suite: the hw backend's too, under the TME-MK model (qemu).
# The core suites' hwmodel boot without ciphertext: under KASAN it took 20
# min, and every access through a KeyID an I/O access would make it hours;
# test_hw_cipher keeps its own tme-ciphertext=on, and make test runs the
# core suites with ciphertext.
test-debug: userspace-debug qemu
	@$(DEBUG_ENV) MKTME_TEST_BUILD=$(DEBUG_BUILD) MKTME_TIMEOUT_FACTOR=$(DEBUG_TIMEOUT_FACTOR) \
		MKTME_HWMODEL_PROPS=tme-keyid-bits=5 tests/run kunit guest hwmodel
