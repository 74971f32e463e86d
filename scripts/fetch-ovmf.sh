#!/usr/bin/env bash
# Fetch trixie's OVMF (arch all, no dependencies) into build/ovmf without
# touching the machine's apt sources: bookworm's OVMF 2022.11 spends ~1.6 s
# of every boot in a TPM probe. Uses a private apt configuration (own sources
# list, lists and cache directories under build/); apt verifies the package
# against the signed Release file of the suite. Falls back silently: the
# caller uses the installed firmware when this fails.
set -euo pipefail
out=${1:-build/ovmf}
root=$(mkdir -p "$out" && cd "$out" && pwd)
apt_dir="$root/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$apt_dir/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
      -o "Dir::Etc::SourceParts=$apt_dir/parts"
      -o "Dir::State::Lists=$apt_dir/lists"
      -o "Dir::Cache=$apt_dir/cache"
      -o "Dir::State::status=/dev/null"
      -o "APT::Sandbox::User=root" -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64")
apt-get "${opts[@]}" -qq update
cd "$apt_dir"
rm -f ovmf_*.deb
apt-get "${opts[@]}" -qq download ovmf
rm -rf "$root/pkg"
dpkg-deb -x ovmf_*.deb "$root/pkg"
fw=$(find "$root/pkg" -name OVMF.fd | sort | head -1)
[ -n "$fw" ] || { echo "fetch-ovmf: no firmware in the package" >&2; exit 1; }
echo "$fw"
