#!/usr/bin/env bash
# Builds picolibc, the kernel's C library, into build/picolibc/sysroot.
# Debian has no x86-64 build of it, so the source comes from Debian's archive
# (trixie) through a private apt configuration; apt checks it against the
# suite's signed Sources index and this script against the hash below.
# Built once: freestanding, higher-half (-mcmodel=kernel), no red zone (the
# kernel takes interrupts on its own stack). SSE stays allowed here; the
# kernel enables it and saves XMM state on every trap.
set -euo pipefail
out=$(mkdir -p "${1:-build/picolibc}" && cd "${1:-build/picolibc}" && pwd)
VERSION=1.8.10
SHA256=d1fc2a20f217472f8d9da084a519a25678e8d91852a41c7f3f1840d3508f7163
sysroot="$out/sysroot"
[ -f "$sysroot/lib/libc.a" ] && exit 0

apt_dir="$out/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
      -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
tarball="$out/picolibc_$VERSION.orig.tar.gz"
if [ ! -f "$tarball" ]; then
    apt-get "${opts[@]}" -qq update
    (cd "$out" && apt-get "${opts[@]}" -qq --tar-only source "picolibc=$VERSION-2" >/dev/null)
fi
echo "$SHA256  $tarball" | sha256sum -c --quiet - || { echo "picolibc: $tarball has the wrong hash" >&2; exit 1; }

rm -rf "$out/src" "$out/build"
mkdir -p "$out/src"
tar xzf "$tarball" -C "$out/src" --strip-components=1
cat > "$out/cross.txt" <<CROSS
[binaries]
c = 'gcc'
ar = 'gcc-ar'
strip = 'strip'
nm = 'nm'

[host_machine]
system = 'none'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'

[properties]
skip_sanity_check = true
needs_exe_wrapper = true

[built-in options]
c_args = ['-ffreestanding', '-fno-pic', '-mcmodel=kernel', '-mno-red-zone', '-fno-stack-protector', '-ffile-prefix-map=$out=picolibc']
c_link_args = ['-nostdlib']
CROSS
meson setup "$out/build" "$out/src" --cross-file "$out/cross.txt" --prefix "$sysroot" \
    --includedir include --libdir lib --buildtype release \
    -Dthread-local-storage=false -Dmultilib=false -Dtests=false -Dpicocrt=false \
    -Dsemihost=false -Dspecsdir=none -Dsingle-thread=true -Dnewlib-global-errno=true \
    -Dformat-default=long-long -Dio-long-long=true >"$out/setup.log"
ninja -C "$out/build" install >"$out/build.log"
echo "picolibc $VERSION: $sysroot"
