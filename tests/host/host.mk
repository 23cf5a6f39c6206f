# host.mk - host tests of the kernel's pure code, compiled for Linux with
# AddressSanitizer and UBSan (included by the top-level Makefile).

HOST_TEST_BINS += $(BUILD)/host/printf_test $(BUILD)/host/multiboot2_test \
		  $(BUILD)/host/cmdline_test $(BUILD)/host/acpi_test \
		  $(BUILD)/host/physmap_test

$(BUILD)/host/printf_test: tests/host/printf_test.c kern/subr_prf.c $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $^

$(BUILD)/host/multiboot2_test: tests/host/multiboot2_test.c boot/multiboot2.c $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $^

$(BUILD)/host/cmdline_test: tests/host/cmdline_test.c kern/kern_cmdline.c $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $^

$(BUILD)/host/acpi_test: tests/host/acpi_test.c drivers/acpi_parse.c $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $^

$(BUILD)/host/physmap_test: tests/host/physmap_test.c vm/vm_physmap.c boot/multiboot2.c $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $^
