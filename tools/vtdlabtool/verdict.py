"""Turns one or more boots' logs into case results and a verdict, and writes
them as JUnit XML and JSON."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from . import ktap
from .qemu import EXIT_BAD_CMDLINE, EXIT_DONE, EXIT_PANIC

LOG_TAIL = 15
RESUMED_PREFIX = "resumed:"
# The harness's assertion diagnostics: "file.c:123: what was expected ..."
_ASSERTION = re.compile(r"^\S+:\d+: ")


def _reason(case: ktap.Test) -> str:
    if case.reason or case.status != ktap.FAIL:
        return case.reason
    return next((d for d in case.diagnostics if _ASSERTION.match(d)), "")


@dataclass
class CaseResult:
    suite: str
    case: str
    status: str
    reason: str = ""
    duration_us: Optional[int] = None
    diagnostics: List[str] = field(default_factory=list)
    metrics: Dict[str, list] = field(default_factory=dict)
    boot: int = 1
    expected: Optional[str] = None   # the outcome an expectations file asked for

    @property
    def full_name(self) -> str:
        return f"{self.suite}.{self.case}" if self.suite else self.case


@dataclass
class RunResult:
    cases: List[CaseResult] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)   # anything that makes the run fail
    notes: List[str] = field(default_factory=list)      # worth knowing, not a failure (serial noise, resets)
    boots: int = 0
    seconds: float = 0.0
    profile: str = ""

    def counts(self) -> Dict[str, int]:
        c = {s: 0 for s in (ktap.PASS, ktap.FAIL, ktap.SKIP, ktap.TIMEOUT, ktap.ERROR, ktap.XFAIL)}
        for r in self.cases:
            c[r.status] += 1
        return c

    @property
    def passed(self) -> int:
        return sum(1 for r in self.cases if r.status in (ktap.PASS, ktap.XFAIL))

    @property
    def skipped(self) -> int:
        return sum(1 for r in self.cases if r.status == ktap.SKIP)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.cases if r.status not in ktap.GOOD) + len(self.problems)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and bool(self.cases)


def boot_problem(log: ktap.Log, exit_code: Optional[int], hang: Optional[str]) -> Optional[str]:
    """Why a boot did not end the way a complete run ends, or None."""
    if log.loader_error:
        return f"the UEFI loader stopped: {log.loader_error}"
    if log.cmdline_error:
        return f"the kernel rejected its cmdline: {log.cmdline_error}"
    if hang:
        return f"hang: {hang}"
    if log.panic:
        return f"kernel panic: {log.panic}"
    if exit_code == EXIT_DONE and log.complete:
        return None
    if exit_code == 0:
        return "the machine reset (triple fault) or powered off"
    if exit_code == EXIT_BAD_CMDLINE:
        return "the kernel rejected its cmdline"
    if exit_code == EXIT_PANIC:
        return "kernel panic"
    if not log.started:
        return f"QEMU exited with {exit_code} before any KTAP output"
    return f"the log ends without a totals line (QEMU exit code {exit_code})"


def add_boot(run: RunResult, log: ktap.Log, boot_no: int, problem: Optional[str]) -> Optional[int]:
    """Adds one boot's results. Returns the global case number to resume
    from when a case crashed the boot, else None."""
    run.boots = boot_no
    for p in log.problems:
        if log.complete:
            run.problems.append(f"boot {boot_no}: KTAP: {p}")
    ran = 0
    for suite, case in log.cases():
        ran += 1
        if case.status == ktap.SKIP and case.reason.startswith(RESUMED_PREFIX):
            continue
        run.cases.append(CaseResult(suite, case.name, case.status, _reason(case), case.duration_us,
                                    case.diagnostics, {k: list(v) for k, v in case.metrics.items()}, boot_no))
    if problem is None:
        return None
    tail = [l for l in log.lines if l.strip()][-LOG_TAIL:]
    if log.running:
        suite, _, case = log.running.partition(".")
        run.cases.append(CaseResult(suite, case, ktap.ERROR, f"crashed: {problem}", None, tail, {}, boot_no))
        return ran + 2  # the crashed case is ran + 1; go on after it
    run.problems.append(f"boot {boot_no}: {problem}" + ("\n  last lines:\n    " + "\n    ".join(tail) if tail else ""))
    return None


OUTCOMES = (ktap.PASS, ktap.FAIL, ktap.SKIP, ktap.TIMEOUT, ktap.ERROR)


def parse_expectation(value: str):
    """"pass", or "skip: reason prefix" (any outcome may carry a prefix the
    case's reason must start with). Returns (outcome, prefix or None), or
    None when the value is not of that form."""
    outcome, sep, prefix = value.partition(":")
    outcome = outcome.strip()
    if outcome not in OUTCOMES:
        return None
    return outcome, (prefix.strip() if sep else None)


def expectation_of(r: CaseResult) -> str:
    """The expectation a case's result satisfies: its outcome, and for a skip
    its reason (what `vtdlab expectations` writes)."""
    return f"{r.status}: {r.reason}" if r.status == ktap.SKIP and r.reason else r.status


def apply_expectations(run: RunResult, expected: Dict[str, str], complete: bool = False,
                       source: str = "the expectations") -> None:
    """Cases listed in an expectations file must end exactly as listed (and
    with a reason that starts as listed, where one is); such a case that does
    is counted as an expected failure (xfail) when the outcome is a failure.
    complete: every case that ran must be listed; one that is not fails, so
    a new case cannot land without its expected outcome."""
    seen = set()
    for r in run.cases:
        want = expected.get(r.full_name)
        if want is None:
            if complete:
                r.reason = (f"no expectation for this case in {source} (it ended {expectation_of(r)}); "
                            f"add it")
                r.status = ktap.FAIL
            continue
        seen.add(r.full_name)
        r.expected = want
        outcome, prefix = parse_expectation(want)
        if r.status == outcome and (prefix is None or r.reason.startswith(prefix)):
            r.status = ktap.XFAIL if outcome not in ktap.GOOD else outcome
        else:
            r.reason = f"expected {want}, got {expectation_of(r) if r.status == ktap.SKIP else r.status}" + (
                f" ({r.reason})" if r.reason and r.status != ktap.SKIP else "")
            r.status = ktap.FAIL
    for name in sorted(set(expected) - seen):
        run.problems.append(f"expected case {name} ({expected[name]}) did not run")


def to_ktap(run: RunResult) -> str:
    """One KTAP version 1 document for the whole run, however many boots it
    took: every case once, in the order it ran, as the kernel reported it
    (the crashed case of a resumed run as `not ok ... # ERROR`), grouped
    into its suite. Call it before apply_expectations, which rewrites
    outcomes against the expectations file."""
    suites: Dict[str, List[CaseResult]] = {}
    for r in run.cases:
        suites.setdefault(r.suite, []).append(r)
    out = ["KTAP version 1",
           f"# vtdlab: profile {run.profile}: {len(run.cases)} cases merged from {run.boots} boot(s)",
           f"1..{len(suites)}"]

    def result(indent: str, number: int, name: str, status: str, reason: str) -> str:
        ok = "ok" if status in (ktap.PASS, ktap.SKIP) else "not ok"
        directive = {ktap.SKIP: "SKIP", ktap.TIMEOUT: "TIMEOUT", ktap.ERROR: "ERROR"}.get(status)
        tail = f" # {directive} {reason}".rstrip() if directive else ""
        return f"{indent}{ok} {number} {name}{tail}"

    for i, (name, cases) in enumerate(suites.items(), 1):
        pad = " " * ktap.INDENT
        out += [f"{pad}KTAP version 1", f"{pad}# Subtest: {name}", f"{pad}1..{len(cases)}"]
        for j, r in enumerate(cases, 1):
            out += [f"{pad}# {d}" for d in r.diagnostics if d]
            out += [f"{pad}# metric {k}={v} {u}".rstrip() for k, (v, u) in r.metrics.items()]
            if r.duration_us is not None:
                out.append(f"{pad}# duration_us: {r.duration_us}")
            out.append(result(pad, j, r.case, r.status, r.reason))
        statuses = {r.status for r in cases}
        bad = statuses - {ktap.PASS, ktap.SKIP}
        status = ktap.FAIL if bad else ktap.SKIP if statuses == {ktap.SKIP} else ktap.PASS
        out.append(result("", i, name, status, "every case skipped" if status == ktap.SKIP else ""))
    return "\n".join(out) + "\n"


def to_json(run: RunResult) -> str:
    metrics = {}
    for r in run.cases:
        for k, v in r.metrics.items():
            metrics[k] = {"value": v[0], "unit": v[1]}
    doc = {
        "verdict": "pass" if run.ok else "fail",
        "profile": run.profile,
        "boots": run.boots,
        "seconds": round(run.seconds, 3),
        "totals": dict(run.counts(), passed=run.passed, failed=run.failed, skipped=run.skipped),
        "problems": run.problems,
        "notes": run.notes,
        "cases": [dict(asdict(r), name=r.full_name) for r in run.cases],
        "metrics": metrics,
    }
    return json.dumps(doc, indent=2) + "\n"


def to_junit(run: RunResult) -> str:
    top = ET.Element("testsuites", name=f"vtdlab-{run.profile}", tests=str(len(run.cases)),
                     failures=str(run.failed), time=f"{run.seconds:.3f}")
    suites: Dict[str, ET.Element] = {}
    for r in run.cases:
        s = suites.get(r.suite)
        if s is None:
            s = suites[r.suite] = ET.SubElement(top, "testsuite", name=r.suite or "vtdlab")
        tc = ET.SubElement(s, "testcase", classname=f"vtdlab.{r.suite}", name=r.case,
                           time=f"{(r.duration_us or 0) / 1e6:.6f}")
        if r.status == ktap.SKIP:
            ET.SubElement(tc, "skipped", message=r.reason)
        elif r.status in (ktap.TIMEOUT, ktap.ERROR):
            ET.SubElement(tc, "error", message=f"{r.status}: {r.reason}", type=r.status)
        elif r.status == ktap.FAIL:
            ET.SubElement(tc, "failure", message=r.reason or "failed")
        if r.metrics:
            props = ET.SubElement(tc, "properties")
            for k, (value, unit) in sorted(r.metrics.items()):
                ET.SubElement(props, "property", name=f"metric.{k}", value=f"{value} {unit}")
        if r.diagnostics:
            ET.SubElement(tc, "system-out").text = "\n".join(r.diagnostics)
    for s in suites.values():
        cases = s.findall("testcase")
        s.set("tests", str(len(cases)))
        s.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        s.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        s.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    if run.problems:
        s = ET.SubElement(top, "testsuite", name="vtdlab.run", tests=str(len(run.problems)))
        for i, p in enumerate(run.problems, 1):
            tc = ET.SubElement(s, "testcase", classname="vtdlab.run", name=f"problem_{i}")
            ET.SubElement(tc, "error", message=p.splitlines()[0], type="run").text = p
    return ET.tostring(top, encoding="unicode") + "\n"
