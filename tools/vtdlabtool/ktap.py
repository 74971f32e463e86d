"""KTAP version 1 parser (Linux Documentation/dev-tools/ktap.rst) and the
verdict on one boot's serial log.

The parser is generic (any nesting, indentation of four spaces per level);
the vtdlab conventions on top of it are the kernel's diagnostic lines:
``# running: suite.case`` before a case, ``# duration_us: N`` and
``# metric name=value unit`` inside it, ``# vtdlab: totals: ...`` at the end,
``# vtdlab: panic: ...`` and ``# vtdlab: cmdline error: ...`` when it stops
early, and ``vtdlab-boot: error: ...`` from the UEFI loader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

INDENT = 4
PASS, FAIL, SKIP, TIMEOUT, ERROR, XFAIL = "pass", "fail", "skip", "timeout", "error", "xfail"
# Outcomes that do not make a run fail.
GOOD = (PASS, SKIP, XFAIL)

_ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1bc")
_VERSION = re.compile(r"^(KTAP|TAP) version (\d+)$")
_PLAN = re.compile(r"^1\.\.(\d+)$")
_RESULT = re.compile(r"^(ok|not ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(.*))?$")
_SUBTEST = re.compile(r"^# Subtest: (.*)$")
# The unit may have words: "TSC cycles, QEMU TCG" says where it was timed.
_METRIC = re.compile(r"^metric (\S+)=(-?\d+(?:\.\d+)?)(?: (.*))?$")
_RUNNING = re.compile(r"^running: (\S+)$")
_DURATION = re.compile(r"^duration_us: (\d+)$")
_TOTALS = re.compile(r"^vtdlab: totals: (.*)$")
_PANIC = re.compile(r"^vtdlab: panic: (.*)$")
_CMDLINE_ERROR = re.compile(r"^vtdlab: cmdline error: (.*)$")
_LOADER_ERROR = re.compile(r"vtdlab-boot: error: (.*)$")
_DIRECTIVES = {"SKIP": SKIP, "TIMEOUT": TIMEOUT, "ERROR": ERROR, "XFAIL": XFAIL, "TODO": XFAIL}


def clean_line(raw: str) -> str:
    """Strips terminal escapes (OVMF's console) and line-end noise."""
    return _ANSI.sub("", raw).replace("\r", "").rstrip("\n")


@dataclass
class Test:
    name: str = ""
    number: int = 0
    status: Optional[str] = None
    reason: str = ""
    plan: Optional[int] = None
    diagnostics: List[str] = field(default_factory=list)
    subtests: List["Test"] = field(default_factory=list)
    duration_us: Optional[int] = None
    metrics: Dict[str, tuple] = field(default_factory=dict)


@dataclass
class Log:
    """One boot's log, parsed."""
    root: Test
    problems: List[str]            # KTAP format violations
    started: bool                  # a KTAP version line was seen
    totals: Optional[str]          # the kernel's closing totals line
    panic: Optional[str]
    cmdline_error: Optional[str]
    loader_error: Optional[str]
    running: Optional[str]         # the case started last without a result
    lines: List[str]

    @property
    def complete(self) -> bool:
        return self.totals is not None

    def cases(self):
        """(suite, Test) for every case-level result, in order."""
        for suite in self.root.subtests:
            if suite.subtests or suite.plan is not None:
                for case in suite.subtests:
                    yield suite.name, case
            elif suite.status is not None:
                yield "", suite


def _parse_result(content: str) -> Optional[Test]:
    m = _RESULT.match(content)
    if not m:
        return None
    ok, number, name, directive = m.group(1), int(m.group(2)), (m.group(3) or "").strip(), m.group(4)
    status = PASS if ok == "ok" else FAIL
    reason = ""
    if directive:
        word, _, rest = directive.partition(" ")
        if word.upper() in _DIRECTIVES:
            status = _DIRECTIVES[word.upper()]
            reason = rest.strip()
        else:
            reason = directive.strip()
    return Test(name=name, number=number, status=status, reason=reason)


def parse(text: str) -> Log:
    lines = [clean_line(l) for l in text.splitlines()]
    root = Test(name="")
    problems: List[str] = []
    # stack[d] is the open test whose results are at indentation d
    stack: List[Test] = []
    pending_diag: Dict[int, List[str]] = {}
    started = False
    totals = panic = cmdline_error = loader_error = running = None
    duration: Optional[int] = None
    metrics: Dict[str, tuple] = {}

    for lineno, line in enumerate(lines, 1):
        m = _LOADER_ERROR.search(line)
        if m:
            # the loader prints on COM1 and ConOut, which OVMF also routes to
            # the serial port; the first copy is whole, a later one may be cut
            loader_error = loader_error or m.group(1)
            continue
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // INDENT
        if not started:
            m = _VERSION.match(stripped)
            if m and depth == 0:
                started = True
                stack = [root]
                continue
            m = _CMDLINE_ERROR.match(stripped[2:]) if stripped.startswith("# ") else None
            if m:
                cmdline_error = m.group(1)
            m = _PANIC.match(stripped[2:]) if stripped.startswith("# ") else None
            if m:
                panic = m.group(1)
            continue

        if _VERSION.match(stripped):
            if depth == 0:
                problems.append(f"line {lineno}: a second top-level version line")
                continue
            if depth > len(stack):
                problems.append(f"line {lineno}: subtest nested {depth} deep under {len(stack) - 1}")
                continue
            del stack[depth:]
            sub = Test()
            stack.append(sub)
            continue
        m = _SUBTEST.match(stripped)
        if m and depth < len(stack):
            stack[depth].name = m.group(1).strip()
            continue
        m = _PLAN.match(stripped)
        if m and depth < len(stack):
            if stack[depth].plan is not None:
                problems.append(f"line {lineno}: a second plan for '{stack[depth].name}'")
            stack[depth].plan = int(m.group(1))
            continue
        if stripped.startswith("#"):
            diag = stripped[1:].strip()
            mm = _TOTALS.match(diag)
            if mm:
                totals = mm.group(1)
            mm = _PANIC.match(diag)
            if mm:
                panic = mm.group(1)
            mm = _RUNNING.match(diag)
            if mm:
                running = mm.group(1)
                continue
            mm = _DURATION.match(diag)
            if mm:
                duration = int(mm.group(1))
                continue
            mm = _METRIC.match(diag)
            if mm:
                value = float(mm.group(2)) if "." in mm.group(2) else int(mm.group(2))
                metrics[mm.group(1)] = (value, mm.group(3) or "")
                continue
            # While a case runs, lines the kernel prints at another depth
            # (queue and MMIO traces, another CPU's NMI dump) are that
            # case's: they go with the results one level inside the suite.
            at = len(stack) - 1 if running and len(stack) > 1 else depth
            pending_diag.setdefault(at, []).append(diag)
            continue
        result = _parse_result(stripped)
        if result is None:
            continue
        if depth >= len(stack):
            problems.append(f"line {lineno}: result '{stripped}' outside any plan")
            continue
        parent = stack[depth]
        if len(stack) > depth + 1:
            # closes the subtest opened one level deeper
            sub = stack.pop()
            if sub.name and result.name and sub.name != result.name:
                problems.append(f"line {lineno}: subtest '{sub.name}' closed as '{result.name}'")
            sub.number, sub.status, sub.reason = result.number, result.status, result.reason
            sub.name = sub.name or result.name
            del stack[depth + 1:]
            result = sub
        result.diagnostics = pending_diag.pop(depth, []) + result.diagnostics
        result.duration_us, duration = duration, None
        result.metrics, metrics = metrics, {}
        expected = len(parent.subtests) + 1
        if result.number != expected:
            problems.append(f"line {lineno}: '{result.name}' numbered {result.number}, expected {expected}")
        parent.subtests.append(result)
        if running and result.name and running.endswith("." + result.name):
            running = None

    # A truncated log leaves subtests open: attach them, unfinished, so
    # their cases count and their plans are checked.
    for depth in range(len(stack) - 1, 0, -1):
        sub = stack[depth]
        if sub not in stack[depth - 1].subtests:
            problems.append(f"subtest '{sub.name}' has no result line")
            stack[depth - 1].subtests.append(sub)
    if started:
        _check_plans(root, problems)
    elif not (cmdline_error or loader_error or panic):
        problems.append("no KTAP version line in the log")
    return Log(root, problems, started, totals, panic, cmdline_error, loader_error, running, lines)


def _check_plans(t: Test, problems: List[str]) -> None:
    if t.plan is not None and t.plan != len(t.subtests):
        what = f"'{t.name}'" if t.name else "the top level"
        problems.append(f"plan of {what} says {t.plan}, {len(t.subtests)} results seen")
    for s in t.subtests:
        if s.subtests or s.plan is not None:
            _check_plans(s, problems)
