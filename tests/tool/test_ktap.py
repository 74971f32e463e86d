"""The KTAP parser on real logs from the kernel and on hand-made ones."""
from conftest import read_log

from vtdlabtool import ktap


def test_real_default_log_is_valid_and_complete():
    log = ktap.parse(read_log("default.log"))
    assert log.started and log.complete and not log.problems
    names = [s.name for s in log.root.subtests]
    assert names == ["boot", "mm"]
    cases = list(log.cases())
    assert len(cases) == sum(s.plan for s in log.root.subtests)
    assert all(c.status in (ktap.PASS, ktap.SKIP) for _, c in cases)
    assert all(c.duration_us is not None for _, c in cases)
    metric = [c for _, c in cases if c.metrics]
    assert metric and "mm.kva_tables_shared_and_released.pt_pages_allocated" in metric[0].metrics


def test_real_selftest_log_reports_each_kind_of_failure():
    log = ktap.parse(read_log("selftest.log"))
    assert log.complete and not log.problems
    status = {c.name: c.status for _, c in log.cases()}
    assert status == {
        "fails_on_purpose": ktap.FAIL,
        "times_out_on_purpose": ktap.TIMEOUT,
        "faults_on_purpose": ktap.ERROR,
        "overflows_stack_on_purpose": ktap.ERROR,
        "run_went_on_and_recorded_each": ktap.PASS,
    }
    suite = log.root.subtests[0]
    assert suite.status == ktap.FAIL
    faulted = [c for _, c in log.cases() if c.name == "faults_on_purpose"][0]
    assert faulted.reason.startswith("#PF page fault")
    assert any(d.startswith("backtrace") for d in faulted.diagnostics)


NESTED = """junk before the log
KTAP version 1
1..2
    KTAP version 1
    # Subtest: outer
    1..2
        KTAP version 1
        # Subtest: inner
        1..1
        ok 1 deep
    ok 1 inner
    not ok 2 flat # SKIP no device
ok 1 outer
not ok 2 leaf # TODO known broken
# vtdlab: totals: pass=1
"""


def test_nested_subtests_and_directives():
    log = ktap.parse(NESTED)
    assert not log.problems, log.problems
    outer, leaf = log.root.subtests
    assert outer.name == "outer" and outer.status == ktap.PASS
    inner, flat = outer.subtests
    assert inner.subtests[0].name == "deep"
    assert flat.status == ktap.SKIP and flat.reason == "no device"
    assert leaf.status == ktap.XFAIL


def test_plan_mismatch_and_numbering_are_problems():
    text = "KTAP version 1\n1..3\nok 1 a\nok 3 b\n# vtdlab: totals: x\n"
    log = ktap.parse(text)
    assert any("numbered 3, expected 2" in p for p in log.problems)
    assert any("plan of the top level says 3, 2 results seen" in p for p in log.problems)


def test_truncated_log_names_the_running_case():
    lines = read_log("default.log").splitlines()
    cut = next(i for i, l in enumerate(lines) if "running: mm.kva_2m_leaf" in l)
    log = ktap.parse("\n".join(lines[:cut + 1]) + "\n")
    assert not log.complete
    assert log.running == "mm.kva_2m_leaf"
    assert any("plan of 'mm'" in p for p in log.problems)


def test_no_ktap_at_all():
    log = ktap.parse("BdsDxe: loading Boot0001\nsomething else\n")
    assert not log.started
    assert log.problems == ["no KTAP version line in the log"]


def test_loader_and_cmdline_errors_are_recognised():
    log = ktap.parse("\x1b[2J\x1b[01;01Hvtdlab-boot: error: kernel.elf is not an ELF file\r\n")
    assert log.loader_error == "kernel.elf is not an ELF file"
    log = ktap.parse("# vtdlab: cmdline error: unknown key 'x'\n# vtdlab: done (exit code 0x11)\n")
    assert log.cmdline_error == "unknown key 'x'"


def test_panic_is_recorded():
    text = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n" \
           "    # running: s.c\n# vtdlab: panic: exception outside any test case\n"
    log = ktap.parse(text)
    assert log.panic == "exception outside any test case"
    assert log.running == "s.c"


def test_lines_printed_at_suite_level_while_a_case_runs_belong_to_it():
    text = "\n".join([
        "KTAP version 1", "1..1",
        "    KTAP version 1", "    # Subtest: vtd_qi", "    1..2",
        "    # running: vtd_qi.first",
        "# qi: [  0] 0000000000000005 0000000000000000  wait",
        "    ok 1 first",
        "# vtdlab: between cases",
        "    # running: vtd_qi.second",
        "    ok 2 second",
        "ok 1 vtd_qi",
        "# vtdlab: totals: pass=2 fail=0 skip=0 timeout=0 error=0",
    ]) + "\n"
    log = ktap.parse(text)
    cases = {c.name: c for _, c in log.cases()}
    assert "qi: [  0] 0000000000000005 0000000000000000  wait" in cases["first"].diagnostics
    assert not cases["second"].diagnostics
    assert not log.problems


def test_metric_units_may_have_words():
    text = ("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n"
            "    # metric s.c.t_median=1234 TSC cycles, QEMU TCG\n    # metric s.c.n=7\n    ok 1 c\nok 1 s\n")
    got = {}
    for _, c in ktap.parse(text).cases():
        got.update(c.metrics)
    assert got["s.c.t_median"] == (1234, "TSC cycles, QEMU TCG")
    assert got["s.c.n"] == (7, "")
