#!/usr/bin/env python3
"""The include edges between the kernel's folders (docs/design.md, "Layers").

    scripts/include_edges.py [REV] [--from DIR --to DIR]...

Reads the C sources and headers of the product folders at git revision REV
(default: the working tree), resolves each #include "..." the way the build
does (beside the including file, then from the top of the tree, -I.), and
prints, for every pair of folders, how many include lines cross from one to
the other. With --from/--to pairs it lists those edges file by file, each
pair's count last.
"""
import argparse
import os
import re
import subprocess
import sys

FOLDERS = ("boot", "kernel", "mm", "lib", "iommu", "devices", "harness", "tests/kernel")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    for f in sorted(FOLDERS, key=len, reverse=True):
        if path.startswith(f + "/"):
            return f
    return None


def sources(rev, top="."):
    """{path from top: text} of every .c and .h under FOLDERS, at rev or
    on disk."""
    if rev is None:
        out = {}
        for folder in FOLDERS:
            for dirpath, _, names in os.walk(os.path.join(top, folder)):
                for n in names:
                    if n.endswith((".c", ".h")):
                        p = os.path.join(dirpath, n)
                        with open(p, encoding="utf-8", errors="replace") as fh:
                            out[os.path.relpath(p, top)] = fh.read()
        return out
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", *FOLDERS], cwd=top,
                           check=True, capture_output=True, text=True).stdout.split()
    return {p: subprocess.run(["git", "show", f"{rev}:{p}"], cwd=top, check=True, capture_output=True,
                              text=True, errors="replace").stdout
            for p in names if p.endswith((".c", ".h"))}


def edges(files):
    """(from file, to file) for every include of a file in the tree."""
    out = []
    for path, text in files.items():
        for inc in INCLUDE.findall(text):
            beside = os.path.normpath(os.path.join(os.path.dirname(path), inc))
            target = beside if beside in files else os.path.normpath(inc)
            if target in files:
                out.append((path, target))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", nargs="?", help="git revision (default: the working tree)")
    ap.add_argument("--from", dest="src", action="append", default=[], help="folder the edges leave")
    ap.add_argument("--to", dest="dst", action="append", default=[], help="folder the edges enter")
    args = ap.parse_args()
    if len(args.src) != len(args.dst):
        ap.error("give --from and --to in pairs")
    found = edges(sources(args.rev))
    if not args.src:
        counts = {}
        for a, b in found:
            fa, fb = folder_of(a), folder_of(b)
            if fa != fb:
                counts[(fa, fb)] = counts.get((fa, fb), 0) + 1
        for (fa, fb), n in sorted(counts.items()):
            print(f"{fa} -> {fb}: {n}")
        return 0
    for src, dst in zip(args.src, args.dst):
        mine = sorted((a, b) for a, b in found if folder_of(a) == src and folder_of(b) == dst)
        for a, b in mine:
            print(f"  {a} -> {b}")
        print(f"{src} -> {dst}: {len(mine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
