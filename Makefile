# Damselfly - the one build entry.
#
#   make            build both kernels, the boot ISO and the host tools
#   make run        boot the kernel in QEMU, serial console on this terminal
#   make test       host tests + in-kernel tests (KTAP) + runner self-tests
#   make bench      deterministic instruction counts under QEMU -icount,
#                   production and checked kernels side by side
#   make mutate     break the core on purpose (tests/mutants.txt): do the tests notice?
#   make gdb        QEMU halted with a GDB stub, and a .gdbinit to attach
#   make compile_commands.json   for clangd
#   make clean
#
# Variables:  CROSS=x86_64-elf-  use a cross toolchain for the kernel
#             ACCEL=kvm|tcg       force QEMU's accelerator (default: KVM if usable)
#             SMP=N MEM=256M      machine shape for run and gdb
#             CMDLINE="..."       kernel command line for run and gdb
#             DISK=my.img         the HMR disk make run attaches
#                                 (default build/disk.img, made once)
#             NET=user|none       make run's network card: QEMU's user-mode
#                                 network, closed to the outside (default), or none
#             HTTPPORT=8080       the host port (on 127.0.0.1) that reaches the
#                                 kernel's HTTP server on port 80
#             CI=true             warnings are errors
#             INVARIANTS=1        make run / make gdb boot the checked kernel
#             MUTANTS=a,b         make mutate: only these mutants (names or patterns)

BUILD     := build
CROSS     ?=
CC        := $(CROSS)gcc
LD        := $(CROSS)ld
NM        := $(CROSS)nm
HOSTCC    ?= gcc
PYTHON    ?= python3
NPROC     := $(shell nproc 2>/dev/null || echo 2)

SMP       ?= 2
MEM       ?= 256M
CMDLINE   ?=
DISK      ?= $(BUILD)/disk.img
NET       ?= user
HTTPPORT  ?= 8080
GDBPORT   ?= 1234

# ---------------------------------------------------------------------------
# Kernel compiler flags: freestanding, no red zone (interrupts push onto the
# stack below rsp), no SSE/x87 (their registers are not saved on a switch),
# kernel code model (the image lives in the top 2 GiB), frame pointers kept
# (the backtrace walks them).
WERROR    := $(if $(filter true,$(CI)),-Werror,)
KCFLAGS   := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -nostdinc \
	     -isystem $(shell $(CC) -print-file-name=include) \
	     -fno-stack-protector -fno-pic -fno-pie -mno-red-zone \
	     -mgeneral-regs-only -mcmodel=kernel -fno-omit-frame-pointer \
	     -mno-omit-leaf-frame-pointer -fno-asynchronous-unwind-tables \
	     -fno-common -fno-strict-aliasing -Wall -Wextra -Wno-unused-parameter \
	     $(WERROR) -Iinclude -DHMR_KERNEL -MMD -MP
KASFLAGS  := -g -Iinclude -D__ASSEMBLER__ -MMD -MP
# Two kernels from one tree.  The checked kernel is built with INVARIANTS,
# which compiles in the contract checks that the fast paths keep out of
# the production kernel (INVARIANT() in kern/panic.h); make test boots it.
# The production kernel is the one make run boots; make bench measures
# both, so the price of the checks is visible.
CHECKED   := -DINVARIANTS
KLDFLAGS  := -nostdlib -static -z max-page-size=0x1000 -z noexecstack \
	     --no-warn-rwx-segments -T linker.ld

# Host tests: the same pure files, compiled for Linux with sanitizers.
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter \
	       -fsanitize=address,undefined -fno-omit-frame-pointer \
	       -Iinclude -Itests/host $(WERROR)
HTEST_SRC   := tests/host/htest.c

KERNEL_DIRS := boot kern drivers vm fs net tests/kern tests/vm tests/fs tests/net
KSRCS := $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.c) $(wildcard $(d)/*.S))
# The HMR core (shared with the host tools) is built into the kernel too,
# with the kernel's shim (include/fs/hmr_shim_kern.h, fs/hmr_kern.c).
HMR_KSRCS := $(filter-out fs/hmr/hmr_shim_host.c,$(wildcard fs/hmr/hmr_*.c))
KOBJS      := $(patsubst %,$(BUILD)/obj/%.o,$(KSRCS) $(HMR_KSRCS))
KOBJS_PROD := $(patsubst %,$(BUILD)/obj-prod/%.o,$(KSRCS) $(HMR_KSRCS))

# The checked kernel (INVARIANTS) and the production kernel.
KERNEL      := $(BUILD)/kernel.elf
KERNEL_PROD := $(BUILD)/kernel-prod.elf
RUN_KERNEL  := $(if $(INVARIANTS),$(KERNEL),$(KERNEL_PROD))
ISO         := $(BUILD)/damselfly.iso

HOST_TEST_BINS  :=
HOST_TOOLS      :=
HOST_BENCH_CMDS :=

.PHONY: all kernel kernel-prod iso run test bench gdb clean deps host-tests mutate user
all: deps kernel kernel-prod iso host-tools $(BUILD)/disk.img $(BUILD)/user.img

# Subsystems with host-side programs add their rules here.
-include fs/hmr/hmr.mk
-include tests/host/host.mk

# The power-cut checker (tools/hmr_powercut.c) runs HMR's fsck on a
# thousand disk states after each boot of the hmrcut group: built
# optimised and without sanitizers, so that costs seconds.
$(BUILD)/host/hmr-powercut: tools/hmr_powercut.c $(HMR_HOST_SRC) $(HMR_HDRS)
	@mkdir -p $(dir $@)
	$(HOSTCC) -O2 -g -Wall -Wextra $(WERROR) -Iinclude -Ifs/hmr -Itools \
	  -pthread -o $@ tools/hmr_powercut.c $(HMR_HOST_SRC)
HOST_TOOLS += $(BUILD)/host/hmr-powercut

deps:
	@tools/setup-deps

# ---------------------------------------------------------------------------
# The kernels: each is two links, the second with the symbol table
# (tools/gensyms.py).  Objects of the checked kernel go to build/obj/,
# those of the production kernel to build/obj-prod/.

kernel: $(KERNEL)
kernel-prod: $(KERNEL_PROD)

$(BUILD)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) $(CHECKED) -c $< -o $@

$(BUILD)/obj/fs/hmr/%.c.o: fs/hmr/%.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) $(CHECKED) -Iinclude/fs -Ifs/hmr -c $< -o $@

$(BUILD)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(KASFLAGS) $(CHECKED) -c $< -o $@

$(BUILD)/obj-prod/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/obj-prod/fs/hmr/%.c.o: fs/hmr/%.c
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -Iinclude/fs -Ifs/hmr -c $< -o $@

$(BUILD)/obj-prod/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(KASFLAGS) -c $< -o $@

$(BUILD)/ksyms_empty.o: tools/gensyms.py
	@mkdir -p $(BUILD)
	$(PYTHON) tools/gensyms.py --empty > $(BUILD)/ksyms_empty.S
	$(CC) -c $(BUILD)/ksyms_empty.S -o $@

# $(call KERNEL_RULES,name,objects): build/name.elf from the objects.
define KERNEL_RULES
$(BUILD)/$(1).pass1.elf: $(2) $(BUILD)/ksyms_empty.o linker.ld
	$(LD) $(KLDFLAGS) -o $$@ $(2) $(BUILD)/ksyms_empty.o

$(BUILD)/$(1).elf: $(BUILD)/$(1).pass1.elf tools/gensyms.py
	$(NM) -n $$< > $(BUILD)/$(1).pass1.nm
	$(PYTHON) tools/gensyms.py < $(BUILD)/$(1).pass1.nm > $(BUILD)/$(1).ksyms.S
	$(CC) -c $(BUILD)/$(1).ksyms.S -o $(BUILD)/$(1).ksyms.o
	$(LD) $(KLDFLAGS) -o $$@ $(2) $(BUILD)/$(1).ksyms.o
	$(NM) -n $$@ > $(BUILD)/$(1).nm
	$(PYTHON) tools/gensyms.py --check $(BUILD)/$(1).nm < $(BUILD)/$(1).pass1.nm
	@grub-file --is-x86-multiboot2 $$@ || \
		{ echo "$$@: not a valid Multiboot2 image (grub-file)"; rm -f $$@; exit 1; }
endef
$(eval $(call KERNEL_RULES,kernel,$(KOBJS)))
$(eval $(call KERNEL_RULES,kernel-prod,$(KOBJS_PROD)))

# ---------------------------------------------------------------------------
# The boot ISO for make run / make gdb (the test runner makes its own): the
# production kernel, or the checked one with INVARIANTS=1.  Remade whenever
# the choice changes (build/iso.kernel remembers it).

iso: $(ISO)

$(BUILD)/iso.kernel: FORCE
	@mkdir -p $(BUILD)
	@echo $(RUN_KERNEL) | cmp -s - $@ || echo $(RUN_KERNEL) > $@

# The command line baked into the ISO's grub.cfg: a new CMDLINE remakes it.
# With make run's network card the kernel gets the address QEMU's user-mode
# network expects of its guest, unless CMDLINE gives one.
ifeq ($(NET),user)
ifeq ($(filter ip=%,$(CMDLINE)),)
override CMDLINE := ip=10.0.2.15/24 gw=10.0.2.2 $(CMDLINE)
endif
endif

$(BUILD)/iso.cmdline: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CMDLINE)' | cmp -s - $@ || echo '$(CMDLINE)' > $@

$(ISO): $(RUN_KERNEL) iso/grub.cfg $(BUILD)/iso.kernel $(BUILD)/iso.cmdline
	@rm -rf $(BUILD)/iso && mkdir -p $(BUILD)/iso/boot/grub
	cp $(RUN_KERNEL) $(BUILD)/iso/boot/kernel.elf
	sed 's|@CMDLINE@|$(CMDLINE)|' iso/grub.cfg > $(BUILD)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $@ $(BUILD)/iso 2> $(BUILD)/grub-mkrescue.log || \
		{ cat $(BUILD)/grub-mkrescue.log; exit 1; }

# User programs (tests/user/*.c): static Linux x86-64 executables built by
# Debian's musl-gcc, copied to /bin of the disks below.  build/user.img is
# the disk of the `user` test group (tests/ktest-groups), which QEMU opens
# with snapshot=on, so parallel boots never change it.

USER_CC     := musl-gcc
USER_CFLAGS := -static -O2 -g -Wall -Wextra -Wno-unused-parameter $(WERROR) \
	       -Iinclude/uapi
USER_PROGS  := $(patsubst tests/user/%.c,$(BUILD)/userroot/bin/%,\
		$(wildcard tests/user/*.c))

user: $(BUILD)/user.img

$(BUILD)/userroot/bin/%: tests/user/%.c $(wildcard tests/user/*.h) \
			 $(wildcard include/uapi/damselfly/*.h)
	@mkdir -p $(dir $@)
	$(USER_CC) $(USER_CFLAGS) -o $@ $<

# Debian's busybox-static (tools/packages.txt) as /bin/busybox, with a
# link per applet the tests and `init=/bin/sh` use.  The shell scripts of
# tests/busybox/ go to /bbtest with, beside each, its output from the
# same busybox run on the build host (tools/busybox-expect): the user
# suite runs each script in Damselfly and compares, and `make test`'s
# tests/host/test_busybox_serial.py types them over the serial line.
BUSYBOX         := /bin/busybox
BUSYBOX_APPLETS := sh ash ls cat echo mkdir rm rmdir cp mv wc sort head \
		   tail tr grep sed uniq cut printf test true false env \
		   pwd sleep touch ln readlink basename dirname seq expr \
		   kill ps uname date find xargs stat du df clear
BB_SCRIPTS      := $(wildcard tests/busybox/*.sh)
BB_FILES        := $(patsubst tests/busybox/%,$(BUILD)/userroot/bbtest/%,\
		   $(BB_SCRIPTS) $(BB_SCRIPTS:.sh=.out))
USER_PROGS      += $(BUILD)/userroot/bin/busybox $(BB_FILES)

$(BUILD)/userroot/bin/busybox: $(BUSYBOX)
	@mkdir -p $(dir $@)
	cp $(BUSYBOX) $@
	for a in $(BUSYBOX_APPLETS); do ln -sf busybox $(dir $@)$$a; done

$(BUILD)/userroot/bbtest/%.sh: tests/busybox/%.sh
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/userroot/bbtest/%.out: tests/busybox/%.sh tools/busybox-expect $(BUSYBOX)
	@mkdir -p $(dir $@)
	tools/busybox-expect $(BUSYBOX) $< > $@

$(BUILD)/user.img: $(USER_PROGS) | $(BUILD)/host/mkfs.hmr
	mkdir -p $(BUILD)/userroot/dev
	$(BUILD)/host/mkfs.hmr $@.tmp 64M --label user --from $(BUILD)/userroot
	mv $@.tmp $@

# build/disk.img: an HMR image holding docs/, the README, a few samples and
# an empty /dev (where devfs mounts),
# made once with mkfs.hmr --from; delete it to start over.  make run gives
# the kernel $(DISK) as a virtio disk, which it mounts as /.
$(BUILD)/disk.img: | $(BUILD)/host/mkfs.hmr $(USER_PROGS)
	@rm -rf $(BUILD)/diskroot && mkdir -p $(BUILD)/diskroot/samples \
		$(BUILD)/diskroot/dev
	cp -r docs README.md $(BUILD)/diskroot/
	cp -a $(BUILD)/userroot/bin $(BUILD)/diskroot/
	printf 'Hello from an HMR disk.\n' > $(BUILD)/diskroot/samples/hello.txt
	ln -s ../README.md $(BUILD)/diskroot/samples/readme-link
	$(BUILD)/host/mkfs.hmr $@.tmp 128M --label damselfly --from $(BUILD)/diskroot
	mv $@.tmp $@

DISK_ARGS = -drive file=$(DISK),if=none,id=disk0,format=raw \
	    -device virtio-blk-pci,drive=disk0,disable-legacy=on

# make run's network: a virtio-net card on QEMU's user-mode network (the
# guest is 10.0.2.15, QEMU's router 10.0.2.2).  restrict=on keeps the guest
# from reaching anything beyond QEMU itself; the one way in is the host's
# 127.0.0.1:$(HTTPPORT), forwarded to the kernel's HTTP server.
ifeq ($(NET),user)
NET_ARGS = -netdev user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$(HTTPPORT)-:80 \
	   -device virtio-net-pci,netdev=net0
else ifeq ($(NET),none)
NET_ARGS =
else
$(error NET=$(NET): say NET=user or NET=none)
endif

# KVM when it can really boot the ISO here, else TCG (tools/qemu-accel);
# ACCEL=kvm|tcg overrides.  Evaluated when a recipe runs, after the ISO exists.
export ACCEL
QEMU := qemu-system-x86_64 -machine q35 -m $(MEM) -smp $(SMP) \
	$$(tools/qemu-accel --args $(ISO)) \
	-no-reboot -display none -cdrom $(ISO) -boot d \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04

run: deps $(ISO) $(DISK)
	@echo "Booting Damselfly ($$(tools/qemu-accel $(ISO)), $(SMP) CPUs, disk $(DISK), network $(NET)). Leave QEMU with Ctrl-A then X."
	@$(QEMU) $(DISK_ARGS) $(NET_ARGS) -serial mon:stdio; status=$$?; \
	  [ $$status -eq 0 ] || [ $$status -eq 33 ] || echo "QEMU exited with $$status"

gdb: deps $(ISO)
	@printf 'file %s\ntarget remote localhost:%s\nset disassemble-next-line on\n' \
		"$(RUN_KERNEL)" "$(GDBPORT)" > .gdbinit
	@echo "QEMU waits for GDB on port $(GDBPORT). In another terminal:"
	@echo "    gdb -x .gdbinit      then e.g.  hbreak kmain  and  continue"
	$(QEMU) -serial mon:stdio -S -gdb tcp::$(GDBPORT)

# ---------------------------------------------------------------------------
# Tests and benchmarks.

host-tools: $(HOST_TOOLS)
host-tests: $(HOST_TEST_BINS)

# The tests boot the checked kernel; the production one is built too, so
# that a change which breaks only it is caught here.
test: deps $(KERNEL) $(KERNEL_PROD) $(ISO) host-tools $(HOST_TEST_BINS) $(BUILD)/user.img
	$(PYTHON) tools/ktest --kernel $(KERNEL) --grub-cfg iso/grub.cfg \
		--host $(HOST_TEST_BINS) --pyunit tests/host/test_ktap.py tests/host/test_ktest_runner.py tests/host/test_linuxpeer.py \
		tests/host/test_mutate.py tests/host/test_powercut.py tests/host/test_imagelock.py \
		tests/host/test_busybox_serial.py \
		--selftest -j$(NPROC)

# HOST_BENCH_CMDS: one word (an executable) per host benchmark.
bench: deps $(KERNEL) $(KERNEL_PROD) $(ISO) host-tools $(HOST_BENCH_BINS) \
       $(USER_PROGS)
	$(PYTHON) tools/kbench --kernel $(KERNEL_PROD) --checked-kernel $(KERNEL) \
		--grub-cfg iso/grub.cfg --cc $(HOSTCC) \
		$(foreach c,$(HOST_BENCH_CMDS),--host-cmd "$(c)")

# Each mutant of tests/mutants.txt is built and tested in its own copy of the
# tree under build/mutate/; not part of `make test` (it takes a while).
MUTANTS     ?=
MUTATE_JOBS ?= $(NPROC)
mutate: deps
	nice -n 10 $(PYTHON) tools/mutate -j$(MUTATE_JOBS) $(MUTANTS)

compile_commands.json: $(KSRCS)
	$(PYTHON) tools/compile_commands.py '$(CC)' '$(KCFLAGS) $(CHECKED)' $(KSRCS) > $@

clean:
	rm -rf $(BUILD) .gdbinit

FORCE:
.PHONY: FORCE

-include $(KOBJS:.o=.d) $(KOBJS_PROD:.o=.d)
