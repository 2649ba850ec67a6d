# make bench (bench/): the program that measures in the guest; bench/run
# boots the guest, runs it and writes build/bench/results.{json,md} and the
# chart. Built with everything else, so that make test compiles it.
BENCH_OUT := $(BUILD)/bench
USERSPACE_TARGETS += $(BENCH_OUT)/mktme_bench

$(BENCH_OUT)/mktme_bench: bench/mktme_bench.c $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) -o $@ $< -lkeyutils -ljson-c

# The policy layer's cost and load times (issue 10 §5): bench/policy_bench.c.
USERSPACE_TARGETS += $(BENCH_OUT)/policy_bench

$(BENCH_OUT)/policy_bench: bench/policy_bench.c $(BPF_OUT)/bench_nop.skel.h $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) -o $@ $< -lkeyutils -ljson-c -lbpf
