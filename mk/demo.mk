# make demo's helper program (tools/demo/).
DEMO_OUT := $(BUILD)/demo
USERSPACE_TARGETS += $(DEMO_OUT)/mktme-map

$(DEMO_OUT)/mktme-map: tools/demo/mktme-map.c $(KDIR)/headers/.stamp
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(USER_CFLAGS) -o $@ $< -lkeyutils
