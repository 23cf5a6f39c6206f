# fs/hmr/hmr.mk - build rules for the HMR filesystem core, its host tools,
# its host tests and its benchmark.  Included by the top-level Makefile,
# which defines BUILD, HOSTCC, HOST_CFLAGS and HTEST_SRC.
#
# The core (fs/hmr/hmr_*.c except the host shim) includes no libc header;
# build/host/hmr-freestanding.stamp proves it by compiling every core file
# with -ffreestanding -nostdinc, and the test binaries depend on it.

HMR_CORE_SRC := $(filter-out fs/hmr/hmr_shim_host.c,$(wildcard fs/hmr/hmr_*.c))
HMR_HOST_SRC := $(HMR_CORE_SRC) fs/hmr/hmr_shim_host.c tools/hmr_bdev.c
HMR_HDRS := $(wildcard include/fs/hmr*.h) fs/hmr/hmr_private.h tools/hmr_bdev.h
HMR_CFLAGS = $(HOST_CFLAGS) -Ifs/hmr -Itools -pthread
HMR_TEST_LIB := tests/host/hmr/hmr_testlib.c
HMR_TEST_HDRS := tests/host/hmr/hmr_testlib.h
HMR_FUSE_FLAGS = $(shell pkg-config --cflags fuse3 2>/dev/null)
HMR_FUSE_LIBS = $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3)

HMR_GCC_INC := $(shell $(HOSTCC) -print-file-name=include)

$(BUILD)/host/hmr-freestanding.stamp: $(HMR_CORE_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	@for f in $(HMR_CORE_SRC); do \
	  $(HOSTCC) -c -o /dev/null -std=gnu11 -ffreestanding -nostdinc \
	    -isystem $(HMR_GCC_INC) -DHMR_KERNEL -Wall -Wextra -Werror \
	    -Iinclude -Iinclude/fs -Ifs/hmr $$f || exit 1; done
	@touch $@

$(BUILD)/host/mkfs.hmr: tools/mkfs_hmr.c $(HMR_HOST_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HMR_CFLAGS) -o $@ tools/mkfs_hmr.c $(HMR_HOST_SRC)

$(BUILD)/host/fsck.hmr: tools/fsck_hmr.c $(HMR_HOST_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HMR_CFLAGS) -o $@ tools/fsck_hmr.c $(HMR_HOST_SRC)

$(BUILD)/host/hmrctl: tools/hmrctl.c $(HMR_HOST_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HMR_CFLAGS) -o $@ tools/hmrctl.c $(HMR_HOST_SRC)

# The FUSE daemon runs for minutes under stress: build it without ASan.
$(BUILD)/host/hmr-fuse: tools/hmr_fuse.c $(HMR_HOST_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -g -Wall -Wextra -Iinclude -Ifs/hmr -Itools -pthread \
	  $(HMR_FUSE_FLAGS) -o $@ tools/hmr_fuse.c $(HMR_HOST_SRC) $(HMR_FUSE_LIBS)

HMR_UNIT_SRC := $(wildcard tests/host/hmr/hmr_unit_test.c tests/host/hmr/hmr_fsck_test.c \
		  tests/host/hmr/hmr_read_test.c tests/host/hmr/hmr_reblock_test.c \
		  tests/host/hmr/hmr_model_test.c tests/host/hmr/hmr_snap_test.c \
		  tests/host/hmr/hmr_errors_test.c tests/host/hmr/hmr_space_test.c \
		  tests/host/hmr/hmr_mutant_test.c tests/host/hmr/hmr_golden_test.c)
HMR_CRASH_SRC := $(wildcard tests/host/hmr/hmr_crash_test.c \
		   tests/host/hmr/hmr_corrupt_test.c)

$(BUILD)/host/hmr_unit_test: $(HMR_UNIT_SRC) $(HMR_TEST_LIB) $(HMR_TEST_HDRS) \
    $(HMR_HOST_SRC) $(HMR_HDRS) $(HTEST_SRC) $(BUILD)/host/hmr-freestanding.stamp
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HMR_CFLAGS) -Itests/host/hmr -o $@ $(HMR_UNIT_SRC) \
	  $(HMR_TEST_LIB) $(HMR_HOST_SRC) $(HTEST_SRC)

$(BUILD)/host/hmr_crash_test: $(HMR_CRASH_SRC) $(HMR_TEST_LIB) \
    $(HMR_TEST_HDRS) $(HMR_HOST_SRC) $(HMR_HDRS) $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HMR_CFLAGS) -Itests/host/hmr -o $@ $(HMR_CRASH_SRC) \
	  $(HMR_TEST_LIB) $(HMR_HOST_SRC) $(HTEST_SRC)

# The threading tests run under ThreadSanitizer instead of ASan (the two
# cannot be combined): any unordered access from two threads fails them.
HMR_TSAN_FLAGS = $(filter-out -fsanitize=address%,$(HOST_CFLAGS)) \
	-fsanitize=thread -Ifs/hmr -Itools -Itests/host/hmr -pthread
$(BUILD)/host/hmr_thread_test: tests/host/hmr/hmr_thread_test.c \
    $(HMR_TEST_LIB) $(HMR_TEST_HDRS) $(HMR_HOST_SRC) $(HMR_HDRS) $(HTEST_SRC)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HMR_TSAN_FLAGS) -o $@ tests/host/hmr/hmr_thread_test.c \
	  $(HMR_TEST_LIB) $(HMR_HOST_SRC) $(HTEST_SRC)

# The FUSE test drives the tools; it needs them built first.
$(BUILD)/host/hmr_fuse_test: tests/host/hmr/hmr_fuse_test.c $(HTEST_SRC) \
    $(BUILD)/host/mkfs.hmr $(BUILD)/host/fsck.hmr $(BUILD)/host/hmr-fuse \
    $(BUILD)/host/hmrctl
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ tests/host/hmr/hmr_fuse_test.c $(HTEST_SRC)

# The benchmark is built optimised and without sanitizers: it is measured.
$(BUILD)/host/hmr_bench: tools/hmr_bench.c $(HMR_HOST_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -g -Wall -Wextra -Iinclude -Ifs/hmr -Itools -pthread \
	  -o $@ tools/hmr_bench.c $(HMR_HOST_SRC) -llmdb

# Each program joins the lists once its source exists.
HMR_TOOLS := $(BUILD)/host/mkfs.hmr $(BUILD)/host/fsck.hmr
HMR_TOOLS += $(if $(wildcard tools/hmrctl.c),$(BUILD)/host/hmrctl)
HMR_TOOLS += $(if $(wildcard tools/hmr_fuse.c),$(BUILD)/host/hmr-fuse)
HMR_TESTS := $(BUILD)/host/hmr_unit_test
HMR_TESTS += $(if $(HMR_CRASH_SRC),$(BUILD)/host/hmr_crash_test)
HMR_TESTS += $(if $(wildcard tests/host/hmr/hmr_thread_test.c),$(BUILD)/host/hmr_thread_test)
HMR_TESTS += $(if $(wildcard tests/host/hmr/hmr_fuse_test.c),$(BUILD)/host/hmr_fuse_test)
HOST_TOOLS += $(HMR_TOOLS)
HOST_TEST_BINS += $(HMR_TESTS)
# `make bench` builds host-tools first, so the benchmark is one of them.
ifneq ($(wildcard tools/hmr_bench.c),)
HOST_TOOLS += $(BUILD)/host/hmr_bench
HOST_BENCH_BINS += $(BUILD)/host/hmr_bench
# One word per command: make bench passes each to kbench --host-cmd.
HOST_BENCH_CMDS += tools/hmr_bench.sh
endif

.PHONY: hmr-tools hmr-test hmr-bench
hmr-tools: $(HMR_TOOLS)
hmr-test: $(HMR_TESTS)
	@for t in $^; do echo "== $$t"; $$t || exit 1; done
hmr-bench: $(BUILD)/host/hmr_bench
	sh tools/hmr_bench.sh $(BUILD)/host/hmr_bench
