#!/usr/bin/env bash
# For a patch author, after editing or adding a patch in qemu/patches/ (and
# its line in patches/series): rebuild vtdlab's QEMU incrementally and
# install it under its new key. The kept tree reverses the patches that
# changed and applies the new versions, so ninja recompiles only the files
# they touch (a minute or two, not the full build). With --check, QEMU's own
# qtests for the unit follow (make qemu-check).
#   qemu/dev.sh [--check]
# Then: tools/vtdlab run --pvh --qemu vtdlab --profile <profile> ...
# A fresh tree to write a patch against: qemu/build.sh source DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/build.sh" build
if [ "${1:-}" = "--check" ]; then
    "$here/build.sh" check
fi
echo "binary: $("$here/build.sh" path)"
