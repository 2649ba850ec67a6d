# The 6.12 tree's own mm selftests that the mktme core must not break
# (issue 3): memfd_secret, the baseline /dev/mktme is measured against, and
# protection_keys, whose pkey bits (PTE 59..62) sit next to the emulated KeyID
# bits (52..56) and go through the same _PAGE_CHG_MASK on mprotect().
# Built from the kernel tree the guest kernel is built from, the way
# tools/testing/selftests/mm/Makefile builds them (6.12 moved them there from
# selftests/vm): every test links vm_util.c and thp_settings.c; CFLAGS as there
# (-I the tree, uapi headers, tools uapi headers, -U_FORTIFY_SOURCE, -no-pie,
# -D_GNU_SOURCE= from lib.mk); memfd_secret adds -lcap; protection_keys is
# that Makefile's protection_keys_64 (-m64 -mxsave, -ldl). tests/run runs them
# in a guest boot of their own (SELFTEST_BOOTARGS there).

SELFTESTS_SRC := $(KDIR)/src/tools/testing/selftests
SELFTESTS_MM := $(SELFTESTS_SRC)/mm
SELFTESTS_OUT := $(TEST_OUT)/selftests
SELFTESTS := $(SELFTESTS_OUT)/memfd_secret $(SELFTESTS_OUT)/protection_keys
SELFTEST_CFLAGS := -Wall -O2 -g -I$(KDIR)/src -isystem $(HDRS) \
	-isystem $(KDIR)/src/tools/include/uapi -U_FORTIFY_SOURCE -no-pie -D_GNU_SOURCE=
SELFTEST_LDLIBS := -lrt -lpthread -lm
SELFTEST_MM_LIB := $(SELFTESTS_MM)/vm_util.c $(SELFTESTS_MM)/thp_settings.c

USERSPACE_TARGETS += $(SELFTESTS)

$(SELFTESTS_OUT)/memfd_secret: $(SELFTESTS_MM)/memfd_secret.c $(SELFTEST_MM_LIB) $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(SELFTEST_CFLAGS) -o $@ $(filter %.c,$^) $(SELFTEST_LDLIBS) -lcap

$(SELFTESTS_OUT)/protection_keys: $(SELFTESTS_MM)/protection_keys.c $(SELFTEST_MM_LIB) $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(SELFTEST_CFLAGS) -m64 -mxsave -o $@ $(filter %.c,$^) $(SELFTEST_LDLIBS) -lrt -ldl

.PHONY: selftests
selftests: $(SELFTESTS)
