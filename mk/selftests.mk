# The 6.1 tree's own vm selftests that the mktme core must not break
# (issue 3): memfd_secret, the baseline /dev/mktme is measured against, and
# protection_keys, whose pkey bits (PTE 59..62) sit next to the emulated KeyID
# bits (52..57) and go through the same _PAGE_CHG_MASK on mprotect().
# Built from the kernel tree the guest kernel is built from, with the flags
# of tools/testing/selftests/vm/Makefile; tests/run runs them in a guest boot
# of their own (SELFTEST_BOOTARGS there).

SELFTESTS_SRC := $(KDIR)/src/tools/testing/selftests
SELFTESTS_OUT := $(TEST_OUT)/selftests
SELFTESTS := $(SELFTESTS_OUT)/memfd_secret $(SELFTESTS_OUT)/protection_keys
SELFTEST_CFLAGS := -Wall -O2 -g -I$(KDIR)/src -isystem $(HDRS)

USERSPACE_TARGETS += $(SELFTESTS)

$(SELFTESTS_OUT)/memfd_secret: $(SELFTESTS_SRC)/vm/memfd_secret.c $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(SELFTEST_CFLAGS) -o $@ $< -lrt -lpthread -lcap

$(SELFTESTS_OUT)/protection_keys: $(SELFTESTS_SRC)/vm/protection_keys.c $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(SELFTEST_CFLAGS) -no-pie -m64 -mxsave -o $@ $< -lrt -ldl -lpthread

.PHONY: selftests
selftests: $(SELFTESTS)
