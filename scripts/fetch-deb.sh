#!/usr/bin/env bash
# fetch-deb.sh SUITE PACKAGE DIR: unpacks one Debian package into DIR/pkg
# without installing it and without touching the machine's apt sources: a
# private apt configuration (own sources list, lists and cache under DIR)
# downloads it, and apt checks it against the suite's signed Release file.
# Used for files the build wants from a package whose install would drag in
# more than the file: trixie's OVMF (bookworm's spends ~1.6 s of every boot
# probing a TPM) and a console font for the framebuffer console.
set -euo pipefail
suite=$1 package=$2
out=$(mkdir -p "$3" && cd "$3" && pwd)
apt_dir="$out/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
    > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
      -o "Dir::Etc::SourceParts=$apt_dir/parts"
      -o "Dir::State::Lists=$apt_dir/lists"
      -o "Dir::Cache=$apt_dir/cache"
      -o "Dir::State::status=/dev/null"
      -o "APT::Sandbox::User=root" -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64")
apt-get "${opts[@]}" -qq update
cd "$apt_dir"
rm -f "${package}"_*.deb
apt-get "${opts[@]}" -qq download "$package"
rm -rf "$out/pkg"
dpkg-deb -x "${package}"_*.deb "$out/pkg"
