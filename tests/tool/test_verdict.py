"""Verdicts, crash resume bookkeeping, expectations and report formats."""
import json
import xml.etree.ElementTree as ET

from conftest import read_log

from vtdlabtool import runs, ktap, qemu, verdict


def run_of(text, exit_code=qemu.EXIT_DONE, hang=None):
    log = ktap.parse(text)
    run = verdict.RunResult(profile="test")
    resume = verdict.add_boot(run, log, 1, verdict.boot_problem(log, exit_code, hang))
    return run, resume


def test_good_log_passes():
    run, resume = run_of(read_log("default.log"))
    assert resume is None and run.ok and run.failed == 0
    assert run.passed + run.skipped == len(run.cases) > 10


def test_failures_fail_the_run_with_reasons():
    run, _ = run_of(read_log("selftest.log"))
    assert not run.ok and run.failed == 4
    fail = [c for c in run.cases if c.status == ktap.FAIL][0]
    assert "expected 3" in fail.reason  # taken from the assertion diagnostic


def test_expectations_turn_expected_failures_into_xfail():
    run, _ = run_of(read_log("selftest.log"))
    expected = runs.resolve(runs.load_suites(), "selftest", runs.get_run("selftest").selection)
    # this log holds the first five cases (the full self-test resets the machine)
    verdict.apply_expectations(run, {k: v for k, v in expected.items() if k in {c.full_name for c in run.cases}})
    assert run.ok, [(c.full_name, c.status, c.reason) for c in run.cases]
    assert run.counts()[ktap.XFAIL] == 4


def test_expectation_not_met_is_a_failure():
    run, _ = run_of(read_log("default.log"))
    verdict.apply_expectations(run, {"boot.memory_map": "fail", "nosuch.case": "error"})
    assert not run.ok
    mm = [c for c in run.cases if c.full_name == "boot.memory_map"][0]
    assert mm.status == ktap.FAIL and mm.reason.startswith("expected fail, got pass")
    assert any("nosuch.case" in p for p in run.problems)


def test_crash_in_a_case_is_that_case_error_and_resumes_after_it():
    lines = read_log("default.log").splitlines()
    cut = next(i for i, l in enumerate(lines) if "running: mm.kva_2m_leaf" in l)
    run, resume = run_of("\n".join(lines[:cut + 1]) + "\n", exit_code=0)
    crashed = run.cases[-1]
    assert crashed.full_name == "mm.kva_2m_leaf" and crashed.status == ktap.ERROR
    assert "triple fault" in crashed.reason
    ran = sum(1 for _ in ktap.parse("\n".join(lines[:cut + 1])).cases())
    assert resume == ran + 2


def test_resumed_boot_skips_are_not_counted_twice():
    text = ("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..3\n"
            "    ok 1 a # SKIP resumed: case 1 ran in an earlier boot\n"
            "    ok 2 b # SKIP resumed: case 2 ran in an earlier boot\n"
            "    # running: s.c\n    ok 3 c\nok 1 s\n# vtdlab: totals: pass=1\n")
    run, resume = run_of(text)
    assert resume is None
    assert [c.full_name for c in run.cases] == ["s.c"]


def test_real_reset_log_attributes_the_crash():
    run, resume = run_of(read_log("selftest-reset.log"), exit_code=0)
    crashed = run.cases[-1]
    assert crashed.full_name == "selftest.resets_machine_on_purpose"
    assert crashed.status == ktap.ERROR and "reset" in crashed.reason
    assert resume == 7


def test_hang_and_crash_outside_a_case_are_problems():
    run, resume = run_of("KTAP version 1\n1..1\n", hang="no console output for 60 s")
    assert resume is None and not run.ok
    assert "hang" in run.problems[0]
    run, _ = run_of("KTAP version 1\n1..0\n", exit_code=qemu.EXIT_PANIC)
    assert "panic" in run.problems[0]


def test_junit_and_json_reports():
    run, _ = run_of(read_log("selftest.log"))
    doc = json.loads(verdict.to_json(run))
    assert doc["verdict"] == "fail" and doc["totals"]["failed"] == 4
    assert {c["status"] for c in doc["cases"]} == {"pass", "fail", "timeout", "error"}
    root = ET.fromstring(verdict.to_junit(run))
    suite = root.find("testsuite")
    assert suite.get("name") == "selftest"
    assert suite.get("failures") == "1" and suite.get("errors") == "3"
    assert root.find(".//testcase[@name='times_out_on_purpose']/error").get("type") == "timeout"


def test_skip_expectations_match_the_reason_prefix():
    run, _ = run_of(read_log("no-iommu.log"))
    skipped = next(c for c in run.cases if c.status == ktap.SKIP)
    good = {skipped.full_name: f"skip: {skipped.reason[:10]}"}
    verdict.apply_expectations(run, good)
    assert skipped.status == ktap.SKIP and run.ok
    run, _ = run_of(read_log("no-iommu.log"))
    skipped = next(c for c in run.cases if c.status == ktap.SKIP)
    verdict.apply_expectations(run, {skipped.full_name: "skip: some other reason"})
    assert skipped.status == ktap.FAIL
    assert skipped.reason.startswith("expected skip: some other reason, got skip: ")


def test_pass_expectations_match_the_note_prefix():
    # A passing case's note ("ok N name # note", the kernel's test_note):
    # "pass: device: Intel DSA" holds only for a pass that says so.
    text = ("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: sva\n    1..2\n"
            "    ok 1 a # device: Intel DSA at 00:04.0\n    ok 2 b # device: edu at 00:03.0\nok 1 sva\n")
    run, _ = run_of(text)
    a, b = run.cases
    assert a.status == b.status == ktap.PASS and a.reason.startswith("device: Intel DSA")
    verdict.apply_expectations(run, {"sva.a": "pass: device: Intel DSA", "sva.b": "pass: device: Intel DSA"})
    assert a.status == ktap.PASS
    assert b.status == ktap.FAIL and b.reason == "expected pass: device: Intel DSA, got pass (device: edu at 00:03.0)"


def test_a_case_that_skipped_where_it_should_pass_fails():
    run, _ = run_of(read_log("no-iommu.log"))
    skipped = next(c for c in run.cases if c.status == ktap.SKIP)
    verdict.apply_expectations(run, {skipped.full_name: "pass"})
    assert skipped.status == ktap.FAIL and skipped.reason.startswith("expected pass, got skip: ")


def test_complete_expectations_fail_an_unlisted_case():
    run, _ = run_of(read_log("no-iommu.log"))
    listed = {c.full_name: verdict.expectation_of(c) for c in run.cases[1:]}
    verdict.apply_expectations(run, listed, complete=True, source="e.json")
    first = run.cases[0]
    assert first.status == ktap.FAIL and "no expectation for this case in e.json" in first.reason
    assert all(c.status in ktap.GOOD for c in run.cases[1:])


def test_expectation_values_parsed():
    assert verdict.parse_expectation("pass") == ("pass", None)
    assert verdict.parse_expectation("skip: no edu") == ("skip", "no edu")
    assert verdict.parse_expectation("maybe") is None


def test_metrics_are_junit_properties():
    run, _ = run_of(read_log("no-iommu.log"))
    root = ET.fromstring(verdict.to_junit(run))
    props = root.findall(".//testcase[@name='cpus_online_match_madt_and_cmdline']/properties/property")
    assert any(p.get("name").startswith("metric.") and p.get("value").endswith(" us") for p in props)


def test_a_resumed_run_is_one_merged_ktap_document():
    # boot 1 crashes in mm.kva_2m_leaf; boot 2 goes on after it
    lines = read_log("default.log").splitlines()
    cut = next(i for i, l in enumerate(lines) if "running: mm.kva_2m_leaf" in l)
    first = ktap.parse("\n".join(lines[:cut + 1]) + "\n")
    run = verdict.RunResult(profile="test")
    resume = verdict.add_boot(run, first, 1, verdict.boot_problem(first, 0, None))
    full = ktap.parse(read_log("default.log"))
    rest = [(s, c) for s, c in full.cases()][resume - 1:]
    second = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: rest\n" + \
        f"    1..{len(rest)}\n" + "".join(f"    ok {i} {c.name}\n" for i, (_, c) in enumerate(rest, 1)) + \
        "ok 1 rest\n# vtdlab: totals: done\n"
    verdict.add_boot(run, ktap.parse(second), 2, None)

    merged = ktap.parse(verdict.to_ktap(run))
    assert merged.problems == []
    got = [(s, c.name, c.status) for s, c in merged.cases()]
    assert got == [(r.suite, r.case, r.status) for r in run.cases]
    crashed = [c for _, c in merged.cases() if c.name == "kva_2m_leaf"][0]
    assert crashed.status == ktap.ERROR and "triple fault" in crashed.reason
    # each suite's result says whether any of its cases failed
    assert {s.name: s.status for s in merged.root.subtests}["mm"] == ktap.FAIL
