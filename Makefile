# vtdlab build. `make` builds the loader, the kernel and the ESP image;
# `make run` boots the default suite; `make test` runs every test.
# Everything goes to build/; nothing outside it is written except by
# `make deps` (as root) and `make qemu`, whose build is shared by every clone
# on the machine (/var/cache/vtdlab/qemu, or ~/.cache/vtdlab/qemu without root).

BUILD      := build
CC         := gcc
NASM       := nasm
LD         := ld
OBJCOPY    := objcopy
# Debian's python3-* packages (pytest, matplotlib) belong to the system
# interpreter, which a pyenv or venv on PATH would hide.
PYTHON     := $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
# Debian's python3-pytest lives with Debian's python3, whatever python3 is
# first on PATH.
PYTEST     := /usr/bin/python3 -m pytest
VTDLAB     := $(PYTHON) tools/vtdlab
# Fixed timestamps for files on the FAT images (mtools and mkfs.fat honour it).
export SOURCE_DATE_EPOCH := 1700000000

# ---------------------------------------------------------------- kernel
KERNEL_DIRS := kernel mm lib iommu devices harness shell tests/kernel
# The sanitizers' own suite is built into the sanitized kernels only.
SAN_SUITE   := tests/kernel/sanitizers.c
KERNEL_C    := $(filter-out $(SAN_SUITE),$(sort $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.c))))
KERNEL_ASM  := $(sort $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.asm)))
KERNEL_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(KERNEL_C)) $(patsubst %.asm,$(BUILD)/%.asm.o,$(KERNEL_ASM)) \
               $(BUILD)/gen/font.o
# The framebuffer console's font, from Debian's console-setup-linux.
FONT_PSF    := $(BUILD)/font/pkg/usr/share/consolefonts/Lat15-Fixed16.psf.gz

GCC_INCLUDE := $(shell $(CC) -print-file-name=include)
# picolibc, built from Debian's source by scripts/build-picolibc.sh.
PICOLIBC     := $(BUILD)/picolibc/sysroot
PICOLIBC_LIB := $(PICOLIBC)/lib/libc.a
# Kernel code itself uses no SSE (-mgeneral-regs-only); picolibc may, and
# the trap path saves XMM state for it.
KERNEL_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
    -ffreestanding -nostdinc -isystem $(PICOLIBC)/include -isystem $(GCC_INCLUDE) -I. \
    -fno-pic -mcmodel=kernel -mno-red-zone -mgeneral-regs-only \
    -fno-stack-protector -fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
    -ffile-prefix-map=$(CURDIR)=. -MMD -MP
KERNEL_LDFLAGS := -nostdlib -static -z noexecstack -T linker.ld -z max-page-size=4096 --build-id=none

# ---------------------------------------------------------------- loader
EFI_INC   := /usr/include/efi
EFI_LIB   := /usr/lib
EFI_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
    -I$(EFI_INC) -I$(EFI_INC)/x86_64 -Iboot \
    -fpic -ffreestanding -fno-stack-protector -fno-stack-check -fshort-wchar \
    -mno-red-zone -maccumulate-outgoing-args -DGNU_EFI_USE_MS_ABI \
    -ffile-prefix-map=$(CURDIR)=.
EFI_LDFLAGS := -nostdlib -shared -Bsymbolic -znocombreloc --build-id=none \
    -T $(EFI_LIB)/elf_x86_64_efi.lds $(EFI_LIB)/crt0-efi-x86_64.o
EFI_SECTIONS := -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym \
    -j .rel -j .rela -j '.rel.*' -j '.rela.*' -j .reloc

# ---------------------------------------------------------------- images
ESP_IMG      := $(BUILD)/esp.img
USB_IMG      := $(BUILD)/vtdlab-usb.img
ESP_MIB      := 64
# The USB image: GPT, one EFI System partition from 1 MiB on. Fixed GUIDs
# keep the image reproducible.
GPT_ESP_START := 2048
GPT_DISK_GUID := 7f3c4a1e-5d2b-4e8a-9c61-2b7d9e0f4a11
GPT_PART_GUID := 1c9e2f64-8a3d-4b5e-a7c0-5e6f7a8b9c0d
FAT_VOLUME_ID := 0x7644746c
DEFAULT_CMDLINE := tests=*
# The USB image goes to a machine nobody may be watching from a host: after
# the run it waits a few seconds for a key on the serial console and gives
# a shell if one comes (shell/shell.h). The host tool's runs write their
# own cmdline into their copy, so none of them waits.
USB_CMDLINE     := $(DEFAULT_CMDLINE) shell=auto

.PHONY: all kernel sanitizers loader image run test test-host test-tool test-kernel deps debug clean bench-boot bench fuzz \
        qemu qemu-check

# The kernel's VT-d decoders built for the host: tools/vtdlab decode.
DECODE := $(BUILD)/host/vtdlab-decode
# ACPI tables QEMU profiles add with -acpitable.
ACPI_TABLES := $(BUILD)/acpi/spcr-com2.aml

all: $(ESP_IMG) $(DECODE) $(ACPI_TABLES)

kernel: $(BUILD)/kernel.elf
loader: $(BUILD)/BOOTX64.EFI

# V=1 shows the full commands. Assembly objects carry no DWARF: NASM 2.16
# records the absolute build directory in it, which would make the kernel
# differ between checkouts; their labels are in .symtab all the same.
Q := $(if $(V),,@)

$(PICOLIBC_LIB):
	bash scripts/build-picolibc.sh $(BUILD)/picolibc

$(FONT_PSF):
	bash scripts/fetch-deb.sh bookworm console-setup-linux $(BUILD)/font

$(BUILD)/gen/font.c: $(FONT_PSF) scripts/psf2c.py
	@mkdir -p $(dir $@)
	$(Q)$(PYTHON) scripts/psf2c.py $< $@

$(BUILD)/gen/font.o: $(BUILD)/gen/font.c | $(PICOLIBC_LIB)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c | $(PICOLIBC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/%.asm.o: %.asm
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NASM    $<")
	$(Q)$(NASM) -f elf64 --reproducible $< -o $@

$(BUILD)/kernel.elf: $(KERNEL_OBJ) linker.ld $(PICOLIBC_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJ) $(PICOLIBC_LIB)

# ---------------------------------------------------------------- sanitized kernels
# build/<variant>/kernel.elf: the same kernel with compiler checks and
# vtdlab's own runtime for them (kernel/san/, docs/sanitizers.md), booted
# by the runs in tools/vtdlabtool/runs.json that name the variant as their
# "kernel". make run, the images and make bench use build/kernel.elf only.
SAN_VARIANTS := kasan kcsan
SAN_C        := $(sort $(wildcard kernel/san/*.c))
# What no variant instruments: the sanitizers' runtime and the path a
# report takes (console, symbols, backtrace), which a check tripping inside
# would re-enter; the PVH entry, which runs before there is a console, and
# the GDT's setup, which an AP runs before it has a CPU number; the
# heap, whose headers between objects are poisoned to everyone else.
SAN_EXEMPT   := $(SAN_C) kernel/printk.c kernel/serial.c kernel/symbols.c kernel/traps.c kernel/pvh.c kernel/gdt.c \
               mm/heap.c
# UBSan: the checks that make sense freestanding; not pointer-overflow,
# which the higher-half address arithmetic trips. It and the lock-order
# checker come with every variant.
SAN_UBSAN    := -fsanitize=undefined -fno-sanitize=pointer-overflow
# kasan: KASAN-style checks in outline mode (every access a call into
# kernel/san/kasan.c, whose shadow covers the heap, the frames, the image
# and the stacks), with redzones around address-taken locals (which the
# compiler poisons inline, at the shadow offset below) and around globals
# (registered by constructors). The offset puts the shadow of the image's
# window (linker.ld: KASAN_IMAGE_WINDOW, 8 MiB from KERNEL_VMA) right
# above the window: (KERNEL_VMA >> 3) + offset = KERNEL_VMA + 8 MiB.
# memcpy, memset and memmove, which the compiler calls and never checks,
# are kasan.c's checking ones in instrumented objects.
KASAN_SHADOW_OFFSET := 0xdfffffff90800000
# Each variant's runtime: the common report path, UBSan's handlers and the
# lock-order checker, and its own.
SAN_COMMON   := kernel/san/report.c kernel/san/ubsan.c kernel/san/lockdep.c
SAN_RUNTIME_kasan := $(SAN_COMMON) kernel/san/kasan.c
SAN_RUNTIME_kcsan := $(SAN_COMMON) kernel/san/kcsan.c
SAN_DEFS_kasan  := -DVTDLAB_SAN_KASAN -DVTDLAB_SAN_UBSAN -DVTDLAB_SAN_LOCKDEP \
                   -DVTDLAB_KASAN_SHADOW_OFFSET=$(KASAN_SHADOW_OFFSET)ul
SAN_INSTR_kasan := $(SAN_UBSAN) -fsanitize=kernel-address --param asan-instrumentation-with-call-threshold=0 \
                   -fasan-shadow-offset=$(KASAN_SHADOW_OFFSET) --param asan-stack=1 --param asan-globals=1 \
                   --param asan-use-after-return=0
SAN_POST_kasan  := $(OBJCOPY) --redefine-sym memcpy=kasan_memcpy --redefine-sym memset=kasan_memset \
                   --redefine-sym memmove=kasan_memmove
# kcsan: KCSAN-style race detection (kernel/san/kcsan.c); a build of its
# own, since gcc refuses thread with kernel-address. Volatile accesses
# (MMIO, what a device writes) are told apart and never watched; no
# function entry and exit hooks (the runtime keeps no history); fences
# are implemented, so gcc's note that TSan ignores them is not an error.
SAN_DEFS_kcsan  := -DVTDLAB_SAN_KCSAN -DVTDLAB_SAN_UBSAN -DVTDLAB_SAN_LOCKDEP
SAN_INSTR_kcsan := $(SAN_UBSAN) -fsanitize=thread --param tsan-distinguish-volatile=1 \
                   --param tsan-instrument-func-entry-exit=0 -Wno-tsan

define san_variant
$(BUILD)/$(1)/%.o: %.c | $(PICOLIBC_LIB)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  CC [$(1)] $$<")
	$$(Q)$$(CC) $$(KERNEL_CFLAGS) $$(SAN_DEFS_$(1)) $$(if $$(filter $$<,$$(SAN_EXEMPT)),,$$(SAN_INSTR_$(1))) -c $$< -o $$@
	$$(if $$(filter $$<,$$(SAN_EXEMPT)),,$$(if $$(SAN_POST_$(1)),$$(Q)$$(SAN_POST_$(1)) $$@))

SAN_OBJ_$(1) := $$(patsubst %.c,$(BUILD)/$(1)/%.o,$$(KERNEL_C) $$(SAN_RUNTIME_$(1)) $$(SAN_SUITE)) $$(filter %.asm.o,$$(KERNEL_OBJ)) \
                $(BUILD)/gen/font.o

$(BUILD)/$(1)/kernel.elf: $$(SAN_OBJ_$(1)) linker.ld $(PICOLIBC_LIB)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(LD) $$(KERNEL_LDFLAGS) -o $$@ $$(SAN_OBJ_$(1)) $(PICOLIBC_LIB)
endef
$(foreach v,$(SAN_VARIANTS),$(eval $(call san_variant,$(v))))
SAN_KERNELS := $(foreach v,$(SAN_VARIANTS),$(BUILD)/$(v)/kernel.elf)
sanitizers: $(SAN_KERNELS)

$(BUILD)/boot/%.efi.o: boot/%.c boot/boot_info.h
$(BUILD)/boot/%.efi.o: boot/%.c boot/boot_info.h boot/elf_check.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.efi.o: tests/bench/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/%.so: $(BUILD)/%.efi.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(EFI_LDFLAGS) $< -o $@ -L$(EFI_LIB) -lgnuefi -lefi

# The loader and its ELF checks (pure: the host tests link them too).
$(BUILD)/boot/loader.so: $(BUILD)/boot/loader.efi.o $(BUILD)/boot/elf_check.efi.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LD) $(EFI_LDFLAGS) $^ -o $@ -L$(EFI_LIB) -lgnuefi -lefi

$(BUILD)/BOOTX64.EFI: $(BUILD)/boot/loader.so
	@$(if $(Q),echo "  EFI     $@")
	$(Q)$(OBJCOPY) $(EFI_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

# An EFI application that only exits QEMU: the baseline for bench-boot.
$(BUILD)/empty.efi: $(BUILD)/bench/empty_efi.so
	@$(if $(Q),echo "  EFI     $@")
	$(Q)$(OBJCOPY) $(EFI_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

$(BUILD)/cmdline:
	@mkdir -p $(BUILD)
	printf '%s\n' '$(DEFAULT_CMDLINE)' > $@

$(BUILD)/usb-cmdline: Makefile
	@mkdir -p $(BUILD)
	printf '%s\n' '$(USB_CMDLINE)' > $@

# $(1): the FAT image (with its offset), $(2): the cmdline file it gets.
define fat_populate
	mmd -i $(1) ::/EFI ::/EFI/BOOT ::/vtdlab
	mcopy -i $(1) $(BUILD)/BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i $(1) $(BUILD)/kernel.elf ::/vtdlab/kernel.elf
	mcopy -i $(1) $(2) ::/vtdlab/cmdline
endef

$(ESP_IMG): $(BUILD)/BOOTX64.EFI $(BUILD)/kernel.elf $(BUILD)/cmdline
	rm -f $@
	mkfs.fat -C --invariant -i $(FAT_VOLUME_ID) -F 32 -n VTDLAB $@ $$(( $(ESP_MIB) * 1024 )) >/dev/null
	$(call fat_populate,$@,$(BUILD)/cmdline)

image: $(USB_IMG)

$(USB_IMG): $(BUILD)/BOOTX64.EFI $(BUILD)/kernel.elf $(BUILD)/usb-cmdline
	rm -f $@
	truncate -s $$(( ($(ESP_MIB) + 2) * 1024 * 1024 )) $@
	printf 'label: gpt\nlabel-id: %s\nstart=%s, size=%sMiB, type=uefi, uuid=%s, name="EFI System"\n' \
	    $(GPT_DISK_GUID) $(GPT_ESP_START) $(ESP_MIB) $(GPT_PART_GUID) | sfdisk -q $@
	mkfs.fat --invariant -i $(FAT_VOLUME_ID) -F 32 -n VTDLAB --offset $(GPT_ESP_START) $@ $$(( $(ESP_MIB) * 1024 )) >/dev/null
	$(call fat_populate,$@@@$$(( $(GPT_ESP_START) * 512 )),$(BUILD)/usb-cmdline)
	@echo "USB image: $@ (write it with: dd if=$@ of=/dev/sdX bs=4M conv=fsync)"

# ---------------------------------------------------------------- running
deps:
	bash scripts/deps.sh

# Installs what is missing (or says how, without root), and fetches the
# faster firmware once.
$(BUILD)/.deps-ok: scripts/deps.sh
	@bash scripts/deps.sh --check >/dev/null 2>&1 || bash scripts/deps.sh
	@mkdir -p $(BUILD)
	@bash scripts/fetch-deb.sh trixie ovmf $(BUILD)/ovmf >/dev/null 2>&1 || echo "note: using the installed OVMF (trixie's could not be fetched)"
	@touch $@

# vtdlab's QEMU: Debian's pinned source with qemu/patches/ (qemu/README.md),
# built once per version and patch series (~6-10 min on 2 cores) into a cache
# every clone reuses. qemu-check runs QEMU's own qtests for the unit on it.
qemu: $(BUILD)/.deps-ok
	@bash qemu/build.sh build

qemu-check:
	@bash qemu/build.sh check

run: $(BUILD)/.deps-ok qemu $(ESP_IMG)
	$(VTDLAB) run

debug: $(BUILD)/.deps-ok qemu $(ESP_IMG)
	$(VTDLAB) debug

bench-boot: $(BUILD)/.deps-ok qemu $(ESP_IMG) $(BUILD)/empty.efi
	$(VTDLAB) bench-boot

# The reclaim benchmarks: build/bench/results.{json,md}, plots, serial logs.
BENCH_ITERS ?= 200
bench: $(BUILD)/.deps-ok qemu $(ESP_IMG)
	$(VTDLAB) bench --iters $(BENCH_ITERS)

# ---------------------------------------------------------------- tests
HOST_CC     := clang
HOST_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I. -DHOST_TEST \
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_TESTS  := $(patsubst tests/host/%.c,$(BUILD)/host/%,$(sort $(wildcard tests/host/test_*.c)))
# The pure modules host tests link against.
HOST_PURE   := shell/shell_args.c lib/glob.c iommu/dmar.c iommu/cap_reg.c iommu/qi_desc.c iommu/context_entry.c iommu/root_entry.c iommu/fault_record.c lib/errno.c kernel/cmdline.c harness/ktap.c boot/elf_check.c kernel/acpi_tables.c mm/frame.c mm/pgtable.c mm/heap.c iommu/pasid_entry.c kernel/pvh_info.c iommu/irt_entry.c devices/dsa_desc.c devices/pci_bridge.c devices/pci_pasid.c devices/pci_ats.c kernel/smbios.c

# What each test's source includes (some compile a kernel source whole,
# #include "../../devices/dsa.c") is listed by the compiler in $@.dep; with
# -MP a header later removed or renamed does not stop the build (the
# suffix is not .d so lists written without -MP are no longer read).
$(BUILD)/host/%: tests/host/%.c $(HOST_PURE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  HOSTCC  $@")
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $< $(HOST_PURE) -o $@ -lcmocka
	$(Q)$(HOST_CC) -I. -DHOST_TEST -MM -MP -MT $@ $< > $@.dep

# ACPI tables QEMU profiles add with -acpitable (tests/acpi/*.asl, through iasl).
$(BUILD)/acpi/%.aml: tests/acpi/%.asl | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  IASL    $@")
	$(Q)iasl -p $(basename $@) $< < /dev/null > $(basename $@).iasl.log 2>&1 || { cat $(basename $@).iasl.log; exit 1; }

# The kernel's decoders on the host (tools/vtdlab decode runs it).
$(DECODE): tools/decode/vtdlab-decode.c $(HOST_PURE) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  HOSTCC  $@")
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $< $(HOST_PURE) -o $@

test-host: $(BUILD)/.deps-ok $(HOST_TESTS) $(DECODE)

# libFuzzer on the firmware-table parsers; FUZZ_SECONDS to run longer.
FUZZ_SECONDS ?= 60
FUZZ_BIN     := $(BUILD)/fuzz/fuzz_acpi
$(FUZZ_BIN): tests/fuzz/fuzz_acpi.c iommu/dmar.c kernel/acpi_tables.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(HOST_CC) -std=gnu11 -g -O1 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $^ -o $@

fuzz: $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz/corpus tests/fuzz/corpus

# Linux's kunit_tool, from Debian's linux-source: make test checks every
# kernel run's KTAP with it, as a parser independent of vtdlab's own.
KUNIT_TARBALL := /usr/src/linux-source-6.12.tar.xz
KUNIT_TOOL    := $(BUILD)/kunit/linux-source-6.12/tools/testing/kunit/kunit.py
$(KUNIT_TOOL): | $(BUILD)/.deps-ok
	@mkdir -p $(BUILD)/kunit
	tar -xJf $(KUNIT_TARBALL) -C $(BUILD)/kunit --wildcards 'linux-source-6.12/tools/testing/kunit/*'
	@touch $@

test: $(BUILD)/.deps-ok qemu $(ESP_IMG) $(USB_IMG) $(SAN_KERNELS) $(HOST_TESTS) $(DECODE) $(ACPI_TABLES) $(FUZZ_BIN) $(KUNIT_TOOL)
	$(PYTHON) tools/run-tests

clean:
	rm -rf $(BUILD)

-include $(KERNEL_OBJ:.o=.d) $(HOST_TESTS:=.dep) $(foreach v,$(SAN_VARIANTS),$(SAN_OBJ_$(v):.o=.d))
.SECONDARY:
