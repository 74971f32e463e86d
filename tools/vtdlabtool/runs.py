"""The kernel runs `make test` does (runs.json) and their expectations
(tests/expected/suites/<suite>.json).

A run is a tag, a profile, the cases it selects (the kernel's tests= globs),
more cmdline, how it boots (pvh: kernel.elf directly; uefi: the ESP
through OVMF; usb: the USB image through OVMF and usb-storage) and which
kernel build (a sanitized one, build/<kernel>/kernel.elf, boots through
pvh).

An expectation file holds one suite: each case's outcome ("pass", or
"skip: <reason prefix>"), either one string for every run that selects the
case, or an object of run tag -> outcome with "*" for the runs not named.
Every case a run selects resolves to exactly one outcome; a case with no
entry, or whose object names neither the run nor "*", has none, and the run
fails it. An override naming a run that does not select the case is
reported by check().
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from . import verdict
from .qemu import KERNEL_VARIANTS, QEMU_KINDS

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
RUNS = os.path.join(HERE, "runs.json")
# Where the expectations were kept one file per run (<tag>.json: what
# fold() reads) and where they are kept one file per suite.
EXPECTED = os.path.join(TOP, "tests", "expected")
SUITES = os.path.join(EXPECTED, "suites")
BOOTS = ("pvh", "uefi", "usb")
ALL_RUNS = "*"       # in an expectation object: every run not named
KERNEL_ALL = "*"     # the kernel's selection without tests= (kernel/cmdline.c)


class RunsError(Exception):
    pass


@dataclass
class Run:
    tag: str
    description: str
    profile: str
    boot: str
    tests: Optional[str] = None
    cmdline: Optional[str] = None
    why: str = ""
    qemu: Optional[str] = None   # vtdlab or stock: overrides the profile's binary (the control run)
    kernel: Optional[str] = None  # a sanitized build (qemu.KERNEL_VARIANTS) instead of build/kernel.elf

    @property
    def selection(self) -> str:
        return self.tests or KERNEL_ALL

    def args(self, with_tests: bool = True) -> List[str]:
        """The run as `vtdlab run` arguments."""
        a = ["--pvh"] if self.boot == "pvh" else ["--usb"] if self.boot == "usb" else []
        a += ["--profile", self.profile]
        if self.tests and with_tests:
            a += ["--tests", self.tests]
        if self.cmdline:
            a += ["--cmdline", self.cmdline]
        if self.qemu:
            a += ["--qemu", self.qemu]
        if self.kernel:
            a += ["--kernel", self.kernel]
        return a


def load_runs(path: str = RUNS) -> List[Run]:
    try:
        with open(path) as f:
            data = json.load(f)
        runs = [Run(**r) for r in data]
    except (OSError, ValueError, TypeError) as e:
        raise RunsError(f"cannot read the runs '{path}': {e}")
    tags = Counter(r.tag for r in runs)
    dup = sorted(t for t, n in tags.items() if n > 1)
    if dup:
        raise RunsError(f"'{path}' defines these runs more than once: {', '.join(dup)}")
    bad_qemu = [r.tag for r in runs if r.qemu not in (None,) + QEMU_KINDS]
    if bad_qemu:
        raise RunsError(f"'{path}': runs {', '.join(bad_qemu)} name a QEMU that is not one of {', '.join(QEMU_KINDS)}")
    bad_kernel = [r.tag for r in runs if r.kernel not in (None,) + KERNEL_VARIANTS or r.kernel and r.boot != "pvh"]
    if bad_kernel:
        raise RunsError(f"'{path}': runs {', '.join(bad_kernel)} name a kernel build that is not one of "
                        f"{', '.join(KERNEL_VARIANTS)} booted through pvh")
    bad = [r.tag for r in runs if r.boot not in BOOTS]
    if bad:
        raise RunsError(f"'{path}': runs {', '.join(bad)} boot neither of {', '.join(BOOTS)}")
    return runs


def get_run(tag: str, path: str = RUNS) -> Run:
    for r in load_runs(path):
        if r.tag == tag:
            return r
    raise RunsError(f"no run '{tag}' in {path} (see 'vtdlab profiles')")


# The kernel's selection (harness/harness.c suite_selected, lib/glob.c): a
# case runs when a comma-separated glob ('*', '?') matches suite.case, and
# for a suite that runs only when asked (SUITE_EXPLICIT: the self-test, the
# benchmarks) when a pattern also names the suite (its name followed by
# the end, '.' or '*').
def _glob(pattern: str) -> "re.Pattern[str]":
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z",
                      re.S)


def _names(globs: str, suite: str) -> bool:
    return any(p.startswith(suite) and (len(p) == len(suite) or p[len(suite)] in ".*")
               for p in globs.split(",") if p)


# A tests= pattern starting with this excludes what the rest matches
# (lib/glob.h: GLOB_EXCLUDE).
EXCLUDE = "-"


def selects(globs: str, suite: str, case: str, explicit: bool) -> bool:
    """What the kernel runs for tests=globs (lib/glob.c, harness/harness.c)."""
    full = f"{suite}.{case}"
    patterns = [p for p in globs.split(",") if p]
    if not any(_glob(p).match(full) for p in patterns if not p.startswith(EXCLUDE)):
        return False
    if any(_glob(p[len(EXCLUDE):]).match(full) for p in patterns if p.startswith(EXCLUDE)):
        return False
    return not explicit or _names(globs, suite)


# --- expectation files: one per suite --------------------------------------

@dataclass
class Suite:
    name: str
    explicit: bool            # runs only when a pattern names it
    cases: Dict[str, object]  # case -> outcome, or {run tag or "*": outcome}


def _check_outcome(where: str, value) -> None:
    if not isinstance(value, str) or verdict.parse_expectation(value) is None:
        raise RunsError(f"{where}: {value!r} is not an outcome (want one of {', '.join(verdict.OUTCOMES)}, "
                        f"optionally 'outcome: reason prefix')")


def load_suites(directory: str = SUITES) -> Dict[str, Suite]:
    suites = {}
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except OSError as e:
        raise RunsError(f"cannot list the expectations in '{directory}': {e}")
    for n in names:
        path = os.path.join(directory, n)
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise RunsError(f"cannot read expectations '{path}': {e}")
        if not isinstance(data, dict) or not isinstance(data.get("cases"), dict) \
                or set(data) - {"explicit", "cases"}:
            raise RunsError(f"'{path}': not a suite's expectations ({{\"explicit\": bool, \"cases\": "
                            f"{{case: outcome or {{run: outcome}}}}}})")
        for case, v in data["cases"].items():
            for run, outcome in (v.items() if isinstance(v, dict) else [("", v)]):
                _check_outcome(f"{path}: {case}" + (f" ({run})" if run else ""), outcome)
        suites[n[:-len(".json")]] = Suite(n[:-len(".json")], bool(data.get("explicit")), data["cases"])
    return suites


def outcome_for(entry, tag: str) -> Optional[str]:
    if isinstance(entry, dict):
        return entry.get(tag, entry.get(ALL_RUNS))
    return entry


def resolve(suites: Dict[str, Suite], tag: str, globs: str) -> Dict[str, Optional[str]]:
    """Every listed case the selection picks -> its outcome in run `tag`
    (None: an entry that gives this run none)."""
    out = {}
    for s in suites.values():
        for case, entry in s.cases.items():
            if selects(globs, s.name, case, s.explicit):
                out[f"{s.name}.{case}"] = outcome_for(entry, tag)
    return out


# The longest tests= value the kernel takes: CMDLINE_VALUE_MAX (kernel/cmdline.h)
# less its terminating NUL.
TESTS_VALUE_MAX = 255


def narrow(suites: Dict[str, Suite], run: Run, globs: str) -> str:
    """The tests= value for the cases both run's selection and globs pick,
    among those the expectations list: a suite's "*" where all of its are
    picked, its cases by name otherwise. The kernel takes one list of
    patterns (any of them, less the excluding ones), which cannot say
    "both"; so the cases are named."""
    parts = []
    for s in sorted(suites.values(), key=lambda x: x.name):
        both = [c for c in sorted(s.cases)
                if selects(run.selection, s.name, c, s.explicit) and selects(globs, s.name, c, s.explicit)]
        if both and len(both) == len(s.cases):
            parts.append(f"{s.name}.*")
        else:
            parts += [f"{s.name}.{c}" for c in both]
    if not parts:
        raise RunsError(f"--tests {globs} selects none of run {run.tag}'s cases (tests={run.selection})")
    value = ",".join(parts)
    if len(value) > TESTS_VALUE_MAX:
        raise RunsError(f"--tests {globs} narrows run {run.tag} to {len(parts)} cases, whose names do not fit the "
                        f"kernel's tests= ({len(value)} of at most {TESTS_VALUE_MAX} characters): narrow it further")
    return value


def check(suites: Dict[str, Suite], runs: List[Run]) -> List[str]:
    """What is wrong with the expectations as a whole: an override naming no
    run or a run that does not select its case, a "*" that every selecting
    run overrides, an entry no run selects, a case some selecting run gets
    no outcome for."""
    tags = {r.tag for r in runs}
    problems = []
    for s in suites.values():
        for case, entry in s.cases.items():
            selecting = [r.tag for r in runs if selects(r.selection, s.name, case, s.explicit)]
            where = f"{s.name}.{case}"
            if not selecting:
                problems.append(f"{where}: no run selects this case")
                continue
            if not isinstance(entry, dict):
                continue
            for t in sorted(set(entry) - {ALL_RUNS}):
                if t not in tags:
                    problems.append(f"{where}: the override for '{t}' names no run")
                elif t not in selecting:
                    problems.append(f"{where}: the override for '{t}' is unused (that run does not select it)")
            if ALL_RUNS in entry and all(t in entry for t in selecting):
                problems.append(f"{where}: the '*' outcome is unused (every run that selects it overrides it)")
            missing = [t for t in selecting if outcome_for(entry, t) is None]
            if missing:
                problems.append(f"{where}: no outcome for {', '.join(missing)}")
    return problems


# --- the conversion from one file per run -----------------------------------

def _explicit(suite: str, cases: List[str], per_run: Dict[str, Dict[str, str]], runs: List[Run]) -> bool:
    """A suite runs only when named if a run whose globs match its cases
    without naming it lists none of them (the kernel left them out)."""
    evidence = False
    for r in runs:
        if r.tag not in per_run or _names(r.selection, suite) \
                or not any(selects(r.selection, suite, c, False) for c in cases):
            continue
        if any(k.partition(".")[0] == suite for k in per_run[r.tag]):
            return False
        evidence = True
    return evidence


def expand(suites: Dict[str, Suite], runs: List[Run]) -> Dict[str, Dict[str, Optional[str]]]:
    """Each run's view: tag -> {suite.case: outcome}."""
    return {r.tag: resolve(suites, r.tag, r.selection) for r in runs}


def fold(per_run: Dict[str, Dict[str, str]], runs: List[Run]) -> Dict[str, Suite]:
    """Suite files from per-run expectations: each case's most common outcome
    over the runs that list it becomes "*", the others overrides. Raises
    RunsError unless expanding the result gives back exactly the input."""
    unknown = sorted(set(per_run) - {r.tag for r in runs})
    if unknown:
        raise RunsError(f"expectations for runs that runs.json does not define: {', '.join(unknown)}")
    by_case: Dict[Tuple[str, str], Dict[str, str]] = {}
    for r in runs:
        for full, outcome in per_run.get(r.tag, {}).items():
            suite, _, case = full.partition(".")
            by_case.setdefault((suite, case), {})[r.tag] = outcome
    suites: Dict[str, Suite] = {}
    for suite in sorted({suite for suite, _ in by_case}):
        cases = [c for s, c in by_case if s == suite]
        suites[suite] = Suite(suite, _explicit(suite, cases, per_run, runs), {})
    for (suite, case), outcomes in by_case.items():
        s = suites[suite]
        selecting = [r.tag for r in runs if selects(r.selection, suite, case, s.explicit)]
        common = Counter(outcomes.values()).most_common()
        best = max(common, key=lambda x: (x[1], x[0] == "pass"))[0]
        if len(set(outcomes.values())) == 1 and set(outcomes) == set(selecting):
            s.cases[case] = best
        else:
            entry = {t: o for t, o in outcomes.items() if o != best}
            # "*" only where it gives every selecting run not named the outcome it had
            if all(outcomes.get(t) == best for t in selecting if t not in entry):
                entry[ALL_RUNS] = best
            else:
                entry.update({t: o for t, o in outcomes.items()})
            s.cases[case] = {k: entry[k] for k in [ALL_RUNS] + [r.tag for r in runs] if k in entry}
    for s in suites.values():
        s.cases = dict(sorted(s.cases.items()))
    back = expand(suites, [r for r in runs if r.tag in per_run])
    for tag, want in per_run.items():
        got = back[tag]
        if got != want:
            diff = sorted(k for k in set(got) | set(want) if k not in got or k not in want or got[k] != want[k])
            raise RunsError(f"run {tag}: the folded expectations do not give back its file for "
                            f"{', '.join(diff[:5])}{' ...' if len(diff) > 5 else ''} (a case its "
                            f"selection picks that the file leaves out, or the reverse)")
    return suites


def suite_text(s: Suite) -> str:
    doc = {"explicit": True, "cases": s.cases} if s.explicit else {"cases": s.cases}
    return json.dumps(doc, indent=2) + "\n"


def fold_tree(runs: List[Run], expected: str = EXPECTED, suites_dir: str = SUITES) -> Tuple[List[str], List[str]]:
    """`vtdlab expectations --fold`: the per-run files (<expected>/<tag>.json)
    into suite files (<suites_dir>/<suite>.json). Suite files already there
    give each run its view first and a per-run file replaces its run's view,
    so a per-run file kept through a merge folds in beside them. Returns
    (suite files written, per-run files removed); nothing is written when
    the result does not give back every run's expectations."""
    views = {}
    if os.path.isdir(suites_dir):
        views = {t: {k: v for k, v in view.items() if v is not None}
                 for t, view in expand(load_suites(suites_dir), runs).items()}
    read = []
    for r in runs:
        path = os.path.join(expected, f"{r.tag}.json")
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise RunsError(f"cannot read expectations '{path}': {e}")
        if not isinstance(data, dict):
            raise RunsError(f"'{path}': not a JSON object of suite.case -> outcome")
        for k, v in data.items():
            _check_outcome(f"{path}: {k}", v)
        views[r.tag] = data
        read.append(path)
    suites = fold(views, runs)
    os.makedirs(suites_dir, exist_ok=True)
    written = []
    for name in os.listdir(suites_dir):
        if name.endswith(".json") and name[:-len(".json")] not in suites:
            os.unlink(os.path.join(suites_dir, name))
    for s in suites.values():
        path = os.path.join(suites_dir, f"{s.name}.json")
        with open(path, "w") as f:
            f.write(suite_text(s))
        written.append(path)
    for path in read:
        os.unlink(path)
    return written, read
