#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks to build and run vtdlab.
# Idempotent; needs root. `make deps` runs it; `make run`/`make test` run it
# only when something is missing (scripts/deps.sh --check says what).
#   --check        exit 1 naming what is missing, install nothing
#   --qemu         install only what building vtdlab's QEMU needs (qemu/)
#   --check-qemu   exit 1 naming what of that is missing (qemu/build.sh asks)
set -euo pipefail

BACKPORTS_LIST=/etc/apt/sources.list.d/vtdlab-bookworm-backports.list
SECURITY_LIST=/etc/apt/sources.list.d/vtdlab-bookworm-security.list
QEMU_MIN_MAJOR=10
PKGS=(ovmf nasm gnu-efi mtools dosfstools fdisk   # meson, ninja-build: QEMU_BUILD_PKGS
      libcmocka-dev python3-pytest gdb clang lld llvm libclang-rt-14-dev xz-utils
      linux-source-6.12   # Linux's kunit_tool: an independent KTAP parser for make test
      python3-matplotlib  # make bench's plots
      python3-serial      # pyserial: vtdlab watch reads a real machine's serial port
      lava-common         # LAVA's job schema, which the lava-job tests validate against
      acpica-tools)       # iasl: DMAR tables for the decoder's tests, checked against its disassembly
# Building vtdlab's QEMU from Debian's source (qemu/build.sh). meson must be
# >= QEMU_MESON_MIN for the python configure runs (Debian's): bookworm has
# 1.0, bookworm-backports 1.7. python3-pycotap is not needed: Debian's
# disable-pycotap.patch, applied with Debian's series, drops that check.
QEMU_MESON_MIN=1.5
QEMU_BUILD_PKGS=(meson ninja-build gcc pkg-config python3-venv libglib2.0-dev libpixman-1-dev
                 libfdt-dev device-tree-compiler patch xz-utils debian-archive-keyring
                 qemu-system-data seabios ipxe-qemu)   # the ROMs vtdlab's build runs with (-L)

missing_qemu_build() {
    local m=() v
    for p in "${QEMU_BUILD_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || m+=("$p")
    done
    v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null || true)
    if [ -n "$v" ] && dpkg --compare-versions "$v" lt "$QEMU_MESON_MIN"; then
        m+=("meson>=$QEMU_MESON_MIN(bookworm-backports;installed:$v)")
    fi
    echo "${m[@]}"
}

missing() {
    local m=()
    command -v qemu-system-x86_64 >/dev/null 2>&1 || m+=(qemu-system-x86)
    if command -v qemu-system-x86_64 >/dev/null 2>&1; then
        local v
        v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
        [ "${v:-0}" -ge "$QEMU_MIN_MAJOR" ] || m+=("qemu-system-x86>=$QEMU_MIN_MAJOR")
    fi
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || m+=("$p")
    done
    m+=($(missing_qemu_build))
    echo "${m[@]}"
}

if [ "${1:-}" = "--check" ] || [ "${1:-}" = "--check-qemu" ]; then
    if [ "$1" = "--check" ]; then m=$(missing); else m=$(missing_qemu_build); fi
    [ -z "$m" ] && exit 0
    echo "missing: $m"
    exit 1
fi

add_backports() {
    # Backports are pinned low by Debian's release file, so adding the suite
    # never upgrades anything unless asked for with -t.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" > "$BACKPORTS_LIST"
    fi
}

# --qemu installs what building vtdlab's QEMU needs, no option everything:
# one path for both, the set named by the function that finds what is missing.
if [ "${1:-}" = "--qemu" ]; then check=missing_qemu_build; else check=missing; fi
m=$($check)
if [ -z "$m" ]; then
    echo "deps: everything is installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing: $m" >&2
    echo "deps: run as root:  sudo $0 ${1:-}" >&2
    exit 1
fi

# bookworm's own QEMU is 7.2 and has no first-stage translation; 10.0 (the
# control run's) and meson >= 1.5 (the build's) are in bookworm-backports.
add_backports
export DEBIAN_FRONTEND=noninteractive
if [ "$check" = missing ]; then
    # linux-source-6.12 (for kunit_tool) is published in bookworm-security,
    # which Debian's own install lists; add it where an image left it out.
    if ! grep -rqs 'bookworm-security' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian-security bookworm-security main" > "$SECURITY_LIST"
    fi
    apt-get update -qq
    apt-get install -y -qq -t bookworm-backports qemu-system-x86 qemu-utils meson
    apt-get install -y -qq "${PKGS[@]}" "${QEMU_BUILD_PKGS[@]}"
else
    apt-get update -qq
    apt-get install -y -qq -t bookworm-backports meson
    apt-get install -y -qq "${QEMU_BUILD_PKGS[@]}"
fi
m=$($check)
if [ -n "$m" ]; then
    echo "deps: still missing after install: $m" >&2
    exit 1
fi
echo "deps: done (meson $(dpkg-query -W -f='${Version}' meson)$([ "$check" = missing ] && echo ", $(qemu-system-x86_64 --version | head -1)"))"
