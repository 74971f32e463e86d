#!/usr/bin/env python3
"""seed_from_log.py LOG OUT: the DMAR table bytes from a kernel log's
'# dmar OFFSET: xx xx ...' lines (dmar.raw_table_dump), as a fuzz seed."""
import re
import sys

LINE = re.compile(r"#\s+dmar ([0-9a-f]{4}):((?: [0-9a-f]{2})+)$")


def main():
    data = bytearray()
    for line in open(sys.argv[1], errors="replace"):
        m = LINE.search(line.rstrip())
        if m:
            if int(m.group(1), 16) != len(data):
                sys.exit(f"seed_from_log: a gap at offset {m.group(1)}")
            data += bytes(int(x, 16) for x in m.group(2).split())
    if not data:
        sys.exit("seed_from_log: no 'dmar' dump lines in the log")
    open(sys.argv[2], "wb").write(data)
    print(f"{len(data)} bytes")


if __name__ == "__main__":
    main()
