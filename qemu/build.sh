#!/usr/bin/env bash
# vtdlab's QEMU: Debian's pinned source (source.env) plus patches/series,
# built into the machine-wide cache (qemu/README.md). With no argument:
# build and install unless this version and patch series are built already.
# `qemu/build.sh --help` lists the other commands (check, source, key, path,
# verify, apply). Runs the builder with Debian's python, which has the meson
# QEMU's configure needs; a pyenv python on PATH has none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/../tools/vtdlabtool/qemubuild.py" "$@"
