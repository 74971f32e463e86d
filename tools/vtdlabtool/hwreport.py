"""The hardware report: one Markdown page from a real machine's serial log
(`vtdlab parse LOG --report hw`), for a user to send in. It says what the
machine is (the SMBIOS and ACPI OEM names the kernel prints), its
remapping units and their key capabilities, whether DSA was found and
used, the paging-structure-cache table (suite pwc) and the reclaim
verdicts, then every case that failed or skipped with its reason.

Everything comes from the log: a line the kernel did not print shows as
"not in the log", never as a guess.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from . import ktap, verdict

_BOOT = re.compile(r"^# vtdlab: (machine|ACPI OEM|platform|smp|cmdline|console|memory|PCI): ?(.*)$")
_DRHD = re.compile(r"^# vtdlab:\s+DRHD (\d+): registers at (0x[0-9a-f]+) .*segment (\d+)")
_CAP = re.compile(r"^unit (\d+) (CAP|ECAP) (0x[0-9a-f]+):$")
_PWC_LEVEL = re.compile(r"^pwc: (PML4E|PDPTE|PDE)\s+cached=(yes|no) kept_across_ih1=(yes|no) "
                        r"dropped_by_ih0=(yes|no) leaf_cached=(yes|no)")
_PWC_WALK = re.compile(r"^pwc: reclaim=(\S+) stale_walk=(yes|no) \((.*)\)$")
_DSA_FOUND = re.compile(r"^DSA (\S+) version (0x[0-9a-f]+): (.*)$")
_DSA_BOUND = re.compile(r"^DSA (\S+) bound to PASID (0x[0-9a-f]+) with (\w+) requests")

# The capability bits a reader of the report wants first (VT-d spec 11.4.2, 11.4.3).
_CAP_BITS = {"CM": 7, "RWBF": 4, "PSI": 39, "FL1GP": 56}
_ECAP_BITS = {"C": 0, "QI": 1, "DT": 2, "IR": 3, "EIM": 4, "PT": 6, "PRS": 29, "SRS": 31, "PASID": 40,
              "SMTS": 43, "SLTS": 46, "FLTS": 47, "SMPWC": 48}
_NOT_IN_LOG = "not in the log"


def _key_caps(cap: Optional[int], ecap: Optional[int]) -> str:
    if cap is None or ecap is None:
        return _NOT_IN_LOG
    on = [n for n, b in _ECAP_BITS.items() if ecap >> b & 1] + [n for n, b in _CAP_BITS.items() if cap >> b & 1]
    return " ".join(on) or "none of the listed"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def build(text: str, run: verdict.RunResult, source: str = "") -> str:
    lines = [ktap.clean_line(l) for l in text.splitlines()]
    boot: Dict[str, str] = {}
    units: Dict[int, Dict[str, object]] = {}
    for line in lines:
        m = _BOOT.match(line)
        if m and m.group(1) not in boot:
            boot[m.group(1)] = m.group(2).strip()
        m = _DRHD.match(line)
        if m:
            units.setdefault(int(m.group(1)), {}).update(base=m.group(2), segment=m.group(3))
    by_suite: Dict[str, List[verdict.CaseResult]] = {}
    for r in run.cases:
        by_suite.setdefault(r.suite, []).append(r)
        for d in r.diagnostics:
            m = _CAP.match(d)
            if m:
                units.setdefault(int(m.group(1)), {})[m.group(2)] = int(m.group(3), 16)

    c = run.counts()
    out: List[str] = ["# vtdlab hardware report", ""]
    if source:
        out += [f"From `{source}`.", ""]
    out += ["| | |", "|---|---|"]
    rows = [("machine", boot.get("machine")), ("ACPI OEM", boot.get("ACPI OEM")),
            ("platform", boot.get("platform")), ("CPUs", boot.get("smp")), ("memory", boot.get("memory")),
            ("PCI", boot.get("PCI")), ("cmdline", boot.get("cmdline") or "(none)"),
            ("verdict", ("PASS" if run.ok else "FAIL") +
             f": {c['pass']} passed, {c['fail'] + c['timeout'] + c['error']} failed, {c['skip']} skipped"
             + (f"; problems: {'; '.join(run.problems)}" if run.problems else ""))]
    out += [f"| {k} | {_cell(v if v is not None else _NOT_IN_LOG)} |" for k, v in rows]

    out += ["", "## Remapping units", ""]
    if units:
        out += ["| unit | registers | segment | CAP | ECAP | key capabilities |", "|---|---|---|---|---|---|"]
        for n in sorted(units):
            u = units[n]
            cap, ecap = u.get("CAP"), u.get("ECAP")
            out.append(f"| {n} | {u.get('base', '?')} | {u.get('segment', '?')} | "
                       f"{'0x%016x' % cap if cap is not None else '?'} | "
                       f"{'0x%016x' % ecap if ecap is not None else '?'} | {_key_caps(cap, ecap)} |")
    else:
        out.append("No DMAR unit in the log.")

    out += ["", "## Intel DSA", ""]
    out += _dsa_section(by_suite.get("dsa", []))
    out += ["", "## Paging-structure caches (suite pwc)", ""]
    out += _pwc_section(by_suite.get("pwc", []))
    out += ["", "## Reclaim verdicts", ""]
    out += _reclaim_section(by_suite.get("pwc", []), by_suite.get("reclaim", []))

    out += ["", "## Results by suite", "", "| suite | passed | failed | skipped |", "|---|---|---|---|"]
    for suite, cases in by_suite.items():
        p = sum(1 for r in cases if r.status in (ktap.PASS, ktap.XFAIL))
        s = sum(1 for r in cases if r.status == ktap.SKIP)
        out.append(f"| {suite or '(top level)'} | {p} | {len(cases) - p - s} | {s} |")
    bad = [r for r in run.cases if r.status not in ktap.GOOD]
    skipped = [r for r in run.cases if r.status == ktap.SKIP]
    out += ["", "## Failures", ""]
    out += [f"- `{r.full_name}` ({r.status}): {r.reason or 'no reason printed'}" for r in bad] or ["None."]
    out += ["", "## Skips", ""]
    out += [f"- `{r.full_name}`: {r.reason}" for r in skipped] or ["None."]
    out += ["", "---", "Send this page with the serial log it came from (README: \"Running on a real "
            "machine\").", ""]
    return "\n".join(out)


def _dsa_section(cases: List[verdict.CaseResult]) -> List[str]:
    if not cases:
        return ["The dsa suite did not run."]
    out = []
    for r in cases:
        for d in r.diagnostics:
            m = _DSA_FOUND.match(d)
            if m:
                out.append(f"- DSA at {m.group(1)}, version {m.group(2)}: {m.group(3)}")
            m = _DSA_BOUND.match(d)
            if m:
                out.append(f"- bound to PASID {m.group(2)} with {m.group(3)} requests")
    out += [f"- `{r.case}`: {r.status}" + (f" ({r.reason})" if r.reason else "") for r in cases]
    return out


def _pwc_section(cases: List[verdict.CaseResult]) -> List[str]:
    rows = []
    for r in cases:
        for d in r.diagnostics:
            m = _PWC_LEVEL.match(d)
            if m:
                rows.append((r.case,) + m.groups())
    if not rows:
        why = next((r.reason for r in cases if r.status == ktap.SKIP), "the pwc suite did not run")
        return [f"No level was probed: {why}."]
    out = ["| case | level | cached | kept across IH=1 | dropped by IH=0 | leaf cached |", "|---|---|---|---|---|---|"]
    out += [f"| {case} | {lvl} | {a} | {b} | {c} | {d} |" for case, lvl, a, b, c, d in rows]
    if any(case.startswith("qemu_") for case, *_ in rows):
        out += ["", "The qemu_* rows are the emulator's (leaf-only caching), not a real unit's."]
    return out


def _reclaim_section(pwc: List[verdict.CaseResult], reclaim: List[verdict.CaseResult]) -> List[str]:
    out = []
    walks = [(r.case,) + m.groups() for r in pwc for d in r.diagnostics for m in [_PWC_WALK.match(d)] if m]
    if walks:
        out += ["Stale walk through a freed, reused page table (pwc):", "",
                "| case | policy | stale walk | detail |", "|---|---|---|---|"]
        out += [f"| {case} | {p} | {w} | {_cell(detail)} |" for case, p, w, detail in walks]
        out.append("")
    if reclaim:
        out += ["Stale write into a reused frame and the policies' checks (reclaim):", ""]
        out += [f"- `{r.case}`: {r.status}" + (f" ({r.reason})" if r.reason else "") for r in reclaim]
    return out or ["Neither pwc nor reclaim ran."]
