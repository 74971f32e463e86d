"""The page-table form of the bug on the hw-model profile (vtdlab's QEMU with
paging-structure caches, x-psc=on), checked from the unit's own trace: the
device's write through a freed, reused table under reclaim=none came from a
paging-structure-cache hit at the level the kernel reported, into the table
it reported, with nothing evicted (so the hit was the entry the walk through
A cached, kept because nothing invalidated it). Needs build/kernel.elf and
vtdlab's QEMU (`make qemu`): a run without it fails naming that, it does not
skip."""
import os
import re

import pytest

from vtdlabtool import cli, qemu

pytestmark = pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="needs build/kernel.elf (run make)")

# What tests/kernel/pwc.c reports for reclaim=none when the walk went
# through a freed table: the cached entry's level, the table, B's address.
REPORTED = re.compile(r"pwc: reclaim=none: the walk came through a cached (\w+) \(level (\d)\) into the freed "
                      r"table at (0x[0-9a-f]+) for va (0x[0-9a-f]+)")


def test_stale_table_walk_is_a_paging_structure_cache_hit(tmp_path, capsys):
    log = tmp_path / "serial.log"
    rc = cli.main(["run", "-q", "--pvh", "--profile", "hw-model", "--tests", "pwc.stale_table_walk_per_policy",
                   "--log", str(log), "--qemu-arg", "-trace", "--qemu-arg", "vtd_psc_*"])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    reported = REPORTED.search(log.read_text())
    assert reported, "the kernel reported no walk through a freed table under reclaim=none"
    level, table, va = int(reported.group(2)), int(reported.group(3), 16), int(reported.group(4), 16)

    trace = (tmp_path / "serial.log.qemu-stderr").read_text().splitlines()
    assert not [l for l in trace if "vtd_psc_evict" in l], "the unit evicted paging-structure-cache entries"
    # B is walked first under reclaim=none (the policies run in that
    # order, and the probe before them uses its own space): that walk's
    # lookup is the first hit or miss naming B.
    lookups = [l for l in trace
               if re.search(r"vtd_psc_(hit|miss) ", l) and re.search(rf"iova {va:#x}\b", l)]
    assert lookups, f"the unit traced no paging-structure-cache lookup for {va:#x}"
    first = lookups[0]
    assert "vtd_psc_hit " in first, f"B's walk under reclaim=none missed the cache: {first}"
    assert f" level {level} " in first, f"the hit was not at the level the kernel reported ({level}): {first}"
    assert re.search(rf"next {table:#x}\b", first), f"the hit did not lead into the freed table {table:#x}: {first}"
