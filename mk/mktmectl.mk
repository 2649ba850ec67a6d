# mktmectl and the policy library (tools/mktmectl/, bpf/mktme_policy.*).
#
# build/mktmectl/libpolicy.a is everything that needs no kernel: the YAML
# parser, the compiler, `policy check`. The host tests link it, so
# `make build/tests/host/test_policy_parse` works before any kernel is built.
# The mktmectl binary embeds the BPF skeleton and so needs the kernel's BTF.

MKTMECTL_OUT := $(BUILD)/mktmectl
# The uapi header from the source tree when the kernel's headers are not
# installed yet (USER_CFLAGS puts the installed ones first).
MKTMECTL_CFLAGS := -Itools/mktmectl -Ibpf -Ikernel/src/include/uapi

LIBPOLICY_SRCS := $(addprefix tools/mktmectl/,policy_parse.c yaml_tree.c policy_compile.c \
	policy_print.c policy_check.c cgroup.c names.c json.c assign_state.c pin_dir.c)
LIBPOLICY_OBJS := $(patsubst tools/mktmectl/%.c,$(MKTMECTL_OUT)/obj/%.o,$(LIBPOLICY_SRCS))
LIBPOLICY := $(MKTMECTL_OUT)/libpolicy.a
LIBPOLICY_LIBS := -lfyaml -ljson-c

MKTMECTL_SRCS := $(addprefix tools/mktmectl/,main.c policy.c key.c assign.c audit.c audit_lock.c owner.c \
	status.c daemon.c notify.c pins.c programs.c generation.c assign_map.c caps.c)
MKTMECTL_OBJS := $(patsubst tools/mktmectl/%.c,$(MKTMECTL_OUT)/obj/%.o,$(MKTMECTL_SRCS))
MKTMECTL := $(MKTMECTL_OUT)/mktmectl

MKTMECTL_HDRS := $(wildcard tools/mktmectl/*.h) bpf/mktme_policy.h \
	kernel/src/include/uapi/linux/mktme.h

USERSPACE_TARGETS += $(MKTMECTL)

$(MKTMECTL_OUT)/obj/%.o: tools/mktmectl/%.c $(MKTMECTL_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) $(MKTMECTL_CFLAGS) -c -o $@ $<

# The programs' skeleton: only the loader needs it.
$(MKTMECTL_OUT)/obj/programs.o: $(BPF_OUT)/mktme_policy.skel.h

$(LIBPOLICY): $(LIBPOLICY_OBJS)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(MKTMECTL): $(MKTMECTL_OBJS) $(LIBPOLICY)
	@echo "  LD      $@"
	@$(CC) -o $@ $(MKTMECTL_OBJS) $(LIBPOLICY) $(LIBPOLICY_LIBS) -lbpf -lelf -lz -lkeyutils -lcap

.PHONY: mktmectl libpolicy
mktmectl: $(MKTMECTL)
libpolicy: $(LIBPOLICY)

# Host tests of the policy layer: the library, and the shared decision header.
POLICY_HOST_TESTS := test_policy_parse test_policy_compile test_policy_decide test_policy_output \
	test_assign_state test_pin_dir
$(foreach t,$(POLICY_HOST_TESTS),$(eval HOST_TEST_DEPS_$(t) := $(LIBPOLICY)))
$(foreach t,$(POLICY_HOST_TESTS),$(eval HOST_TEST_LDLIBS_$(t) := $(LIBPOLICY_LIBS)))
$(foreach t,$(POLICY_HOST_TESTS),$(eval HOST_TEST_CFLAGS_$(t) := $(MKTMECTL_CFLAGS)))
# The compile tests count the resolver's cgroup lookups (one per cgroup, however many rules).
HOST_TEST_LDLIBS_test_policy_compile += -Wl,--wrap=cgroup_id
POLICY_HOST_BINS := $(addprefix $(TEST_OUT)/host/,$(POLICY_HOST_TESTS))
.PHONY: policy-host-tests
policy-host-tests: $(POLICY_HOST_BINS)

# The command line as the binary (tests/host/test_cli.c): run, not linked.
$(TEST_OUT)/host/test_cli: $(MKTMECTL)
HOST_TEST_CFLAGS_test_cli := -DMKTMECTL='"$(MKTMECTL)"'
HOST_TEST_LDLIBS_test_cli := -ljson-c

# The top Makefile's targets are absolute paths; let the relative spelling
# (make build/mktmectl/mktmectl, make build/tests/host/test_policy_parse) work.
$(patsubst $(ROOT)/%,%,$(POLICY_HOST_BINS) $(MKTMECTL) $(LIBPOLICY)): build/%: $(BUILD)/%
	@:

# tests/guest/test_policy.c's upgrade test: mktmectl with a second build of
# the programs (the same source with MKTME_TEST_VARIANT: other bytes, so
# another build id) to replace the attached ones with, and back.
VARIANT_OUT := $(TEST_OUT)/mktmectl-variant
MKTMECTL_VARIANT := $(VARIANT_OUT)/mktmectl
USERSPACE_TARGETS += $(MKTMECTL_VARIANT)

$(VARIANT_OUT)/mktme_policy.bpf.o: bpf/mktme_policy.bpf.c $(BPF_OUT)/vmlinux.h $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	@echo "  BPF     $@"
	@$(CLANG) $(BPF_CFLAGS) -DMKTME_TEST_VARIANT=1 -c $< -o $@

$(VARIANT_OUT)/mktme_policy.skel.h: $(VARIANT_OUT)/mktme_policy.bpf.o
	@echo "  SKEL    $@"
	@$(BPFTOOL) gen skeleton $< name mktme_policy_bpf >$@.tmp && mv $@.tmp $@

# The skeleton is found through -I$(VARIANT_OUT) before USER_CFLAGS' -I$(BPF_OUT).
$(VARIANT_OUT)/programs.o: tools/mktmectl/programs.c $(MKTMECTL_HDRS) $(VARIANT_OUT)/mktme_policy.skel.h
	@echo "  CC      $@"
	@$(CC) -I$(VARIANT_OUT) $(USER_CFLAGS) $(MKTMECTL_CFLAGS) -c -o $@ $<

$(MKTMECTL_VARIANT): $(filter-out %/programs.o,$(MKTMECTL_OBJS)) $(VARIANT_OUT)/programs.o $(LIBPOLICY)
	@echo "  LD      $@"
	@$(CC) -o $@ $^ $(LIBPOLICY_LIBS) -lbpf -lelf -lz -lkeyutils -lcap
GUEST_TEST_LDLIBS_test_policy := -ljson-c
