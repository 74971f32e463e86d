"""The hardware report (`vtdlab parse LOG --report hw`,
tools/vtdlabtool/hwreport.py): from a real QEMU log, every section says
what the kernel printed; from a log with the lines a DSA machine prints
(the kernel's own formats: the pwc table, DSA found and bound), the
hardware rows; lines the kernel did not print are "not in the log"."""
import os
import subprocess
import sys

from conftest import TOP, read_log

from vtdlabtool import hwreport, ktap, verdict


def report(text):
    run = verdict.RunResult(profile="log")
    verdict.add_boot(run, ktap.parse(text), 1, None)
    return hwreport.build(text, run, source="x.log")


def test_a_qemu_log_gives_machine_units_and_the_emulator_rows():
    page = report(read_log("default-pvh.log"))
    assert "| machine | QEMU Standard PC (Q35 + ICH9, 2009); firmware SeaBIOS" in page
    assert "| ACPI OEM | BOCHS  BXPC     revision 0x1 |" in page
    assert "| platform | QEMU TCG |" in page
    # the unit's CAP/ECAP from the dmar suite, and the bits decoded from them
    assert "| 0 | 0xfed90000 | 0 | 0x01d2008c222f0606 | 0x0000890000f00f4a | QI IR PT PASID SMTS FLTS PSI FL1GP |" in page
    assert "| qemu_caches_leaf_entries_only | PDE | no | no | yes | yes |" in page
    assert "The qemu_* rows are the emulator's" in page
    assert "| qemu_stale_table_walk_faults_under_every_policy | none | no |" in page
    assert "`dsa_found_and_a_dedicated_wq_enabled`: skip (no Intel DSA" in page
    assert "| verdict | PASS: " in page


HW_LOG = """KTAP version 1
1..2
# vtdlab: machine: Intel Corporation ArcherCity; firmware Intel Corporation EGSDCRB1.SYS.0105 (SMBIOS 3.5)
# vtdlab: platform: bare metal
    KTAP version 1
    # Subtest: pwc
    1..2
    # running: pwc.levels_cached_and_kept_across_ih1
    # pwc: PML4E cached=yes kept_across_ih1=yes dropped_by_ih0=yes leaf_cached=yes (Y landed in x)
    # pwc: PDE   cached=yes kept_across_ih1=no dropped_by_ih0=yes leaf_cached=yes (Y landed in x)
    ok 1 levels_cached_and_kept_across_ih1
    # running: pwc.stale_table_walk_per_policy
    # pwc: reclaim=none stale_walk=yes (2 of 2 freed tables reused; sink CHANGED; reused tables untouched; 0 fault(s))
    # pwc: reclaim=sync stale_walk=no (2 of 2 freed tables reused; sink untouched; reused tables untouched; 1 fault(s))
    ok 2 stale_table_walk_per_policy
ok 1 pwc
    KTAP version 1
    # Subtest: dsa
    1..2
    # running: dsa.dsa_found_and_a_dedicated_wq_enabled
    # DSA 6a:01.0 version 0x100: 8 WQs (128 entries), 4 groups, 4 engines
    ok 1 dsa_found_and_a_dedicated_wq_enabled
    # running: dsa.memmove_fill_and_compare_through_kernel_vas
    # DSA 6a:01.0 bound to PASID 0x1 with supervisor requests
    not ok 2 memmove_fill_and_compare_through_kernel_vas
    # tests/kernel/dsa.c:1: the copy differs
ok 2 dsa
# vtdlab: totals: pass=3 fail=1 skip=0 timeout=0 error=0
"""


def test_a_dsa_machine_gives_the_hardware_rows():
    page = report(HW_LOG)
    assert "| machine | Intel Corporation ArcherCity; firmware Intel Corporation EGSDCRB1.SYS.0105 (SMBIOS 3.5) |" in page
    assert "| levels_cached_and_kept_across_ih1 | PML4E | yes | yes | yes | yes |" in page
    assert "| levels_cached_and_kept_across_ih1 | PDE | yes | no | yes | yes |" in page
    assert "emulator's" not in page
    assert "| stale_table_walk_per_policy | none | yes | 2 of 2 freed tables reused; sink CHANGED;" in page
    assert "- DSA at 6a:01.0, version 0x100: 8 WQs (128 entries), 4 groups, 4 engines" in page
    assert "- bound to PASID 0x1 with supervisor requests" in page
    assert "| verdict | FAIL: 3 passed, 1 failed, 0 skipped |" in page
    assert "- `dsa.memmove_fill_and_compare_through_kernel_vas` (fail)" in page
    # what the log does not say is said to be missing, not made up
    assert "| ACPI OEM | not in the log |" in page
    assert "No DMAR unit in the log." in page


def test_parse_writes_the_report_file(tmp_path):
    log = os.path.join(TOP, "tests", "logs", "default-pvh.log")
    out = tmp_path / "report.md"
    p = subprocess.run([sys.executable, os.path.join(TOP, "tools", "vtdlab"), "parse", log, "--report", "hw",
                        "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.read_text().startswith("# vtdlab hardware report")
    bad = subprocess.run([sys.executable, os.path.join(TOP, "tools", "vtdlab"), "parse", log, "--report", "sw"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "invalid choice" in bad.stderr
