"""vtdlab bench: boots the benchmark suites (tests/kernel/bench.c), gathers
their metric lines into build/bench/results.json, writes results.md (tables)
and plots. Counted figures (descriptors, waits, table pages) hold on any
platform; timed ones are labelled with where they were measured."""
import json
import os
import platform
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

from . import ktap, qemu, run, runs, verdict

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "build", "bench")
# make test's one iteration of every benchmark (runs.json), so none rots.
SMOKE_RUN = "bench-smoke"
# What the benchmarks measure on: vCPUs in parallel host threads, no icount
# (the smoke run takes icount's cheap DMAs instead: it checks they run, not
# what they measure).
BENCH_PROFILE = "smp"

ITERS_MAX = 10000   # kernel/cmdline.h: BENCH_ITERS_MAX
CMDLINE_H = os.path.join(TOP, "kernel", "cmdline.h")


def policy_names(header: str = CMDLINE_H) -> List[str]:
    """The reclaim policies' names in the kernel's order, read from the one
    list the kernel parses and prints them from (RECLAIM_POLICY_LIST)."""
    with open(header) as f:
        text = f.read()
    m = re.search(r"#define RECLAIM_POLICY_LIST\(X\)((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        raise BenchError(f"{header}: no RECLAIM_POLICY_LIST")
    return re.findall(r'X\(RECLAIM_CHOICE_\w+, "([a-z-]+)"\)', m.group(1))


SIZES = [1, 16, 512]

# What each boot runs (on the smoke run's profile); seconds per 100 iterations, measured on this
# repository's 2-core reference machine, for the estimate printed first.
BOOTS = [
    {"name": "unmap", "tests": "bench_unmap.*", "s_per_100": 1.5, "fixed": 3.0},
    {"name": "scaling", "tests": "bench_scaling.*", "s_per_100": 0.3, "fixed": 1.5},
    {"name": "queue", "tests": "bench_queue.*", "s_per_100": 0.3, "fixed": 1.5},
    # Question 3's collateral cost, from QEMU's own trace: the device's IOTLB
    # misses on a working set that did not change, and where the walks of
    # the pages it reads after range and all-in-PASID flushes start in the
    # paging-structure caches. On the model profile (counted figures only:
    # its icount makes a DMA cheap, and its unit has the caches to trace).
    {"name": "collateral", "tests": "bench_collateral.*", "s_per_100": 0.0, "fixed": 3.0,
     "profile": "hw-model",
     "qemu": ["-trace", "vtd_iotlb_page_hit", "-trace", "vtd_iotlb_page_update",
              "-trace", "vtd_psc_hit", "-trace", "vtd_psc_miss", "-trace", "vtd_psc_fill",
              "-trace", "vtd_psc_evict"]},
    # The hand check: QEMU's own count of PASID-based invalidations for one
    # policy, against what the metrics say.
    {"name": "trace", "tests": "bench_unmap.*", "s_per_100": 0.2, "fixed": 2.0,
     "cmdline": "bench_policies=async", "qemu": ["-trace", "vtd_inv_desc"]},
]

# The binding (tables set up) and the unbinding each issue one all-in-PASID
# PASID-based invalidation of their own (iommu/sva.c).
BIND_UNBIND_P_IOTLB = 2

# tests/kernel/bench.c: VA_WS(mode) = KVA_BASE + (320 + mode) GiB, one
# working set of WS_PAGES pages per flush mode (0: range, 1: all), the
# slot's first pages; the pages after them are read once each, cold, one
# after every flush.
KVA_BASE = 0xffffa00000000000
WS_SLOT, WS_PAGES = 320, 8
WS_MODES = ("range", "all")
PAGE_SHIFT, SLOT_SHIFT = 12, 30
IOTLB = re.compile(r"vtd_iotlb_page_(hit|update) .*iova 0x([0-9a-f]+)")
# intel-iommu's paging-structure-cache trace (qemu/patches/0002): a walk's
# lookup is one hit (the deepest cached entry on its path, with its level)
# or one miss (no entry: the walk starts at the root); a fill is an entry
# the walk cached; an evict, one the cache let go for room.
PSC_LOOKUP = re.compile(r"vtd_psc_(hit|miss) .*?(?:level (\d+) )?iova 0x([0-9a-f]+)")
PSC_FILL = re.compile(r"vtd_psc_fill .* level (\d+) ")
PSC_EVICT = "vtd_psc_evict"
# The levels a first-stage walk of the kva area reads without any cached
# entry (4-level tables, mm/pgtable.h), unless the trace fills a deeper one.
WALK_LEVELS = 4

# Timed figures that contradict themselves are withheld, not printed: a
# configuration that does at least the baseline's work (every policy: the
# same unmap, plus flushes) measured under this fraction of the baseline's
# median; and a baseline whose two measurements (before the policies and
# after them, tests/kernel/bench.c) differ by more than this factor either
# way, the machine having drifted under the measurement.
BELOW_BASELINE = 0.8
BASELINE_DRIFT = 1.5

METRIC = re.compile(r"^(?P<config>[a-z+-]+?)_(?P<pages>\d+)pages_(?P<what>.+)$")
SCALE = re.compile(r"^(?P<policy>[a-z-]+)_(?P<cpus>\d+)cpu_(?P<what>.+)$")


class BenchError(Exception):
    pass


POLICIES = policy_names()


def environment() -> Dict[str, object]:
    def first_line(cmd: List[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "unknown"
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        firmware = qemu.find_firmware(None)
    except qemu.SetupError as e:
        firmware = f"none ({e})"
    return {"qemu": first_line([qemu.QEMU, "--version"]), "firmware": str(firmware), "host_cpu": cpu,
            "host_cores": os.cpu_count(), "host": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def estimate_s(boots: List[dict], iters: int) -> float:
    return sum(b["fixed"] + b["s_per_100"] * iters / 100 for b in boots)


def metrics_of(report: dict) -> Dict[str, Tuple[float, str]]:
    """suite.case.name -> (value, unit), name alone as the key."""
    out = {}
    for full, m in report.get("metrics", {}).items():
        out[full.split(".", 2)[-1]] = (m["value"], m["unit"])
    return out


def run_boot(b: dict, iters: int, policies: Optional[str], out: str, profile: str) -> dict:
    log = os.path.join(out, f"{b['name']}.log")
    rep = os.path.join(out, f"{b['name']}.json")
    cmdline = f"bench_iters={iters}" + (f" bench_policies={policies}" if policies and "cmdline" not in b else "")
    if "cmdline" in b:
        cmdline += " " + b["cmdline"]
    code, result = run.run(run.Options(profile=profile, tests=b["tests"], cmdline=cmdline, log=log, json=rep,
                                       qemu_args=list(b.get("qemu", [])), quiet=True, summary=False))
    if result is None:
        report = {"verdict": "fail", "problems": ["the run could not start (see above)"], "metrics": {}, "cases": []}
    else:
        report = json.loads(verdict.to_json(result))
    problems = list(report.get("problems", []))
    for c in report.get("cases", []):
        if c.get("status") != ktap.PASS:
            problems.append(f"{c.get('name')}: {c.get('status')} {c.get('reason', '')}".strip())
    trace, iotlb, psc = None, None, None
    if b["name"] == "collateral":
        try:
            with open(log + ".qemu-stderr", errors="replace") as f:
                iotlb, psc, why = collateral_counts(f)
            problems += why
        except OSError:
            problems.append("no QEMU trace was written")
    if b["name"] == "trace":
        try:
            with open(log + ".qemu-stderr", errors="replace") as f:
                trace = sum(1 for line in f if "type p-iotlb" in line)
        except OSError:
            problems.append("no QEMU trace was written")
    return {"name": b["name"], "profile": profile, "cmdline": cmdline, "log": log,
            "complete": code == run.EXIT_OK and not problems, "problems": problems,
            "metrics": {k: {"value": v, "unit": u} for k, (v, u) in metrics_of(report).items()},
            "traced_p_iotlb": trace, "iotlb": iotlb, "psc": psc}


def _ws_page(iova: int) -> Optional[Tuple[str, int]]:
    """(flush mode, page index in its slot) of a working-set slot's address."""
    mode = ((iova - KVA_BASE) >> SLOT_SHIFT) - WS_SLOT
    if not 0 <= mode < len(WS_MODES):
        return None
    return WS_MODES[mode], ((iova - KVA_BASE) & ((1 << SLOT_SHIFT) - 1)) >> PAGE_SHIFT


def collateral_counts(lines) -> Tuple[dict, dict, List[str]]:
    """bench_collateral's figures from QEMU's trace of it, per flush mode:
    the IOTLB's hits and updates on the working set (not on the cold
    pages), and the walks the device made after the flushes, by where the
    paging-structure caches let them start (the device's first use of each
    working-set page, before any flush, is not counted): from the root
    (a miss), or below a cached entry of level 4, 3 or 2 (a hit), and the
    table entries they read. With the problems that make the figures
    meaningless (no lookup traced at all: a unit without the caches; an
    eviction: an entry went for room, not because a flush dropped it)."""
    iotlb = {m: {"hit": 0, "update": 0} for m in WS_MODES}
    psc = {m: {"walks": 0, "cold_walks": 0, "from_root": 0, "below": {}, "entries_read": 0} for m in WS_MODES}
    lookups, problems, levels, evicted = [], [], WALK_LEVELS, 0
    for line in lines:
        x = IOTLB.search(line)
        if x:
            where = _ws_page(int(x[2], 16))
            if where and where[1] < WS_PAGES:
                iotlb[where[0]][x[1]] += 1
            continue
        x = PSC_LOOKUP.search(line)
        if x:
            lookups.append((x[1], int(x[2]) if x[2] else None, int(x[3], 16)))
            continue
        x = PSC_FILL.search(line)
        if x:
            levels = max(levels, int(x[1]))
        elif PSC_EVICT in line:
            evicted += 1
    seen = set()
    for kind, level, iova in lookups:
        where = _ws_page(iova)
        if not where:
            continue
        mode, page = where
        if page < WS_PAGES and (mode, page) not in seen:
            seen.add((mode, page))   # the working set's first use: before any flush
            continue
        p = psc[mode]
        p["walks"] += 1
        p["cold_walks"] += page >= WS_PAGES
        if kind == "miss":
            p["from_root"] += 1
            p["entries_read"] += levels
        else:
            p["below"][level] = p["below"].get(level, 0) + 1
            p["entries_read"] += level - 1
    if not lookups:
        problems.append("QEMU traced no paging-structure-cache lookup (vtd_psc_hit/miss): the unit has no "
                        "paging-structure caches (x-psc)")
    if evicted:
        problems.append(f"the unit evicted {evicted} paging-structure-cache entries: the walks do not show what "
                        "the flushes dropped (raise x-psc-size)")
    return iotlb, psc, problems


def _table(metrics: Dict[str, dict], pattern, outer: str, inner: str) -> Dict[str, Dict[int, Dict[str, float]]]:
    """outer -> inner (a number) -> what -> value, from the metric names."""
    t: Dict[str, Dict[int, Dict[str, float]]] = {}
    for k, m in metrics.items():
        x = pattern.match(k)
        if x:
            t.setdefault(x[outer], {}).setdefault(int(x[inner]), {})[x["what"]] = m["value"]
    return t


def unmap_table(metrics: Dict[str, dict]) -> Dict[str, Dict[int, Dict[str, float]]]:
    """config -> pages -> what -> value."""
    return _table(metrics, METRIC, "config", "pages")


def scaling_table(metrics: Dict[str, dict]) -> Dict[str, Dict[int, Dict[str, float]]]:
    """policy -> CPUs -> what -> value."""
    return _table(metrics, SCALE, "policy", "cpus")


def _unit(metrics: Dict[str, dict], suffix: str) -> str:
    for k, m in metrics.items():
        if k.endswith(suffix):
            return m["unit"]
    return "?"


def baseline_drift(unmap: dict, pages: int) -> Optional[str]:
    """Why the baseline at this size cannot be compared with, or None."""
    a = unmap.get("baseline", {}).get(pages, {}).get("unmap_median")
    b = unmap.get("baseline-end", {}).get(pages, {}).get("unmap_median")
    if a and b and max(a / b, b / a) > BASELINE_DRIFT:
        return f"the baseline drifted from {a:.0f} to {b:.0f} across the run"
    return None


def versus_baseline(unmap: dict, config: str, pages: int) -> Tuple[Optional[float], Optional[str]]:
    """(median / baseline median, None), or (None, why it is withheld)."""
    base = unmap.get("baseline", {}).get(pages, {}).get("unmap_median")
    med = unmap.get(config, {}).get(pages, {}).get("unmap_median")
    if not base or med is None:
        return None, None
    drift = baseline_drift(unmap, pages)
    if drift:
        return None, drift
    r = med / base
    if config not in ("baseline", "baseline-end") and r < BELOW_BASELINE:
        return None, f"{config} at {pages} pages measured {r:.2f}x the no-device baseline, cheaper than doing nothing"
    return r, None


def withheld(unmap: dict) -> List[str]:
    """Every timed comparison the report withholds, and why."""
    out = []
    for pages in SIZES:
        drift = baseline_drift(unmap, pages)
        if drift:
            out.append(f"{pages} pages: {drift}")
            continue
        for c in sorted(unmap):
            r, why = versus_baseline(unmap, c, pages)
            if why:
                out.append(why)
    return out


def goals(unmap: dict, scale: dict) -> List[Tuple[str, str, str]]:
    """(goal, measured, verdict) rows; a goal that cannot be computed says so."""
    rows = []
    a16 = unmap.get("async", {}).get(16, {})
    r, why = versus_baseline(unmap, "async", 16)
    rows.append(("async costs at most 1.2x the no-device baseline per 16-page unmap (median, timed)",
                 f"{r:.2f}x" if r else ("withheld: " + why if why else "n/a"),
                 "met" if r and r <= 1.2 else ("not met" if r else "not measured")))
    old = unmap.get("sync-per-page", {}).get(16, {})
    per_freed = lambda d: d["invalidations"] / d["tables_freed"] if d.get("tables_freed") else None
    po, pa = (per_freed(old) if old else None), (per_freed(a16) if a16 else None)
    if po and pa is not None:
        factor = po / pa if pa else float("inf")
        rows.append(("async issues >= 32x fewer invalidations per freed table page than per-page sync (16 pages)",
                     f"{factor:.0f}x ({po:.2f} vs {pa:.3f})", "met" if factor >= 32 else "not met"))
    s16 = unmap.get("sync", {}).get(16, {})
    if s16.get("unmaps"):
        w = s16["waits"] / s16["unmaps"]
        rows.append(("range sync issues 1 wait per unmap (16 pages)", f"{w:.2f}", "met" if w == 1 else "not met"))
    pc = scale.get("async-percpu", {})
    if 1 in pc and 2 in pc:
        one, two = pc[1].get("unmaps_per_s_per_cpu"), pc[2].get("unmaps_per_s_per_cpu")
        sp = 2 * two / one if one else None
        g = scale.get("async", {})
        gsp = 2 * g[2]["unmaps_per_s_per_cpu"] / g[1]["unmaps_per_s_per_cpu"] if 1 in g and 2 in g and \
            g[1].get("unmaps_per_s_per_cpu") else None
        rows.append(("async-percpu with 2 CPUs reaches >= 1.8x its 1-CPU throughput (timed; global list beside it)",
                     f"{sp:.2f}x (async: {gsp:.2f}x)" if sp and gsp else "n/a",
                     "met" if sp and sp >= 1.8 else "not met"))
    return rows


def write_markdown(doc: dict, path: str) -> str:
    env = doc["environment"]
    runs = {r["name"]: r for r in doc["runs"]}
    m_unmap = runs.get("unmap", {}).get("metrics", {})
    m_scale = runs.get("scaling", {}).get("metrics", {})
    unmap, scale = unmap_table(m_unmap), scaling_table(m_scale)
    timed = _unit(m_unmap, "_unmap_median")
    lines = [f"# vtdlab bench results", "",
             f"Measured {env['date']} under {env['qemu']}, firmware {os.path.basename(env['firmware'])}, "
             f"host {env['host_cpu']} ({env['host_cores']} cores), {doc['iterations']} iterations per "
             f"measurement. {'COMPLETE' if doc['complete'] else 'INCOMPLETE: ' + '; '.join(doc['problems'])}", "",
             "Counted figures (invalidation descriptors and waits given to the unit, page-table pages freed) hold "
             "on any platform and lead here. Timed figures are " + timed + ": under QEMU an invalidation is "
             "processed inside the tail write, so they say little about silicon.", "",
             "## Per unmap (one CPU unmapping, edu bound by SVA; baseline: the same unmaps with nothing to flush "
             "for, the binding's walker unregistered, before the policies and again after them: baseline-end)", ""]
    configs = ["baseline", "sync-per-page"] + [c for p in POLICIES for c in (p, p + "+all") if c in unmap] + \
        ["baseline-end"]
    head = "| policy | pages | invalidations / unmap | waits / unmap | tables freed / unmap | invalidations / freed table | median | p99 | median vs baseline |"
    lines += [head, "|---" * (head.count("|") - 1) + "|"]
    for c in configs:
        for pages in SIZES:
            d = unmap.get(c, {}).get(pages)
            if not d:
                continue
            n = d.get("unmaps") or 1
            inv, waits, freed = d.get("invalidations"), d.get("waits"), d.get("tables_freed", 0)
            r, why = versus_baseline(unmap, c, pages)
            per = lambda v: "-" if v is None else f"{v / n:.3f}"
            per_table = "-" if inv is None or not freed else f"{inv / freed:.3f}"
            lines.append(f"| {c} | {pages} | {per(inv)} | {per(waits)} | {freed / n:.2f} | {per_table} | "
                         f"{d.get('unmap_median', 0):.0f} | {d.get('unmap_p99', 0):.0f} | "
                         f"{'WITHHELD' if why else (f'{r:.2f}x' if r is not None else 'n/a')} |")
    flagged = withheld(unmap)
    if flagged:
        lines += ["", "Withheld (figures that contradict themselves; the medians above are as measured):", ""]
        lines += [f"- {w}" for w in flagged]
    lines += ["", "## Deferral (the deferred policies: pages held, batches, time from unmap to the pool)", "",
              "| policy | pages | pending peak | batches | batches/s | unmap to free, mean |", "|---|---|---|---|---|---|"]
    for c in configs:
        for pages in SIZES:
            d = unmap.get(c, {}).get(pages)
            if d and "batches" in d:
                lines.append(f"| {c} | {pages} | {d.get('pending_peak', 0):.0f} | {d['batches']:.0f} | "
                             f"{d.get('batches_per_s', 0):.0f} | {d.get('unmap_to_free_mean', 0):.0f} |")
    lines += ["", "## Scaling (16-page unmaps on every CPU at once, no device: the free path itself)", "",
              f"| policy | CPUs | unmaps/s per CPU | list lock per take ({_unit(m_scale, '_list_lock_per_take')}) | median unmap |",
              "|---|---|---|---|---|"]
    for p in POLICIES:
        for n in sorted(scale.get(p, {})):
            d = scale[p][n]
            lines.append(f"| {p} | {n} | {d.get('unmaps_per_s_per_cpu', 0):.0f} | {d.get('list_lock_per_take', 0):.0f}"
                         f" | {d.get('unmap_median', 0):.0f} |")
    col = runs.get("collateral")
    if col and col.get("iotlb"):
        lines += ["", "## Flush granularity: misses a flush causes elsewhere (QEMU's IOTLB trace)", "",
                  f"The device reads a working set of {WS_PAGES} unchanged pages after every batch flush of a "
                  "16-page unmap elsewhere (async); misses are IOTLB updates beyond the first fill.", "",
                  "| reclaim_flush | flushes | working-set reads after them | IOTLB hits | misses caused | misses per flush |",
                  "|---|---|---|---|---|---|"]
        for m in WS_MODES:
            c = col["iotlb"][m]
            flushes = col["metrics"].get(f"{m}_flushes", {}).get("value", 0)
            reads = col["metrics"].get(f"{m}_working_set_reads", {}).get("value", 0)
            caused = max(c["update"] - WS_PAGES, 0)
            lines.append(f"| {m} | {flushes:.0f} | {reads:.0f} | {c['hit']} | {caused} | "
                         f"{caused / flushes if flushes else 0:.1f} |")
    if col and col.get("psc"):
        lines += ["", "## Flush granularity: walks after a flush, by the paging-structure caches (QEMU's trace, "
                  f"profile {col.get('profile', '?')})", "",
                  "After every batch flush the device reads one page it has not read before, next to its working "
                  "set, then the working set again. A walk starts below the deepest paging-structure-cache entry "
                  "on its path (PDE: level 2, one table entry left to read), or from the root when the flush left "
                  "none (a miss: every level read again). The working set's first reads, before any flush, are "
                  "not counted.", "",
                  "| reclaim_flush | flushes | walks | of them cold pages | from the root (misses) | below a PML4E "
                  "| below a PDPTE | below a PDE | table entries read | misses per flush | entries read per flush |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for m in WS_MODES:
            p = col["psc"][m]
            flushes = col["metrics"].get(f"{m}_flushes", {}).get("value", 0)
            below = {int(k): v for k, v in p["below"].items()}
            per = lambda v: f"{v / flushes:.1f}" if flushes else "-"
            lines.append(f"| {m} | {flushes:.0f} | {p['walks']} | {p['cold_walks']} | {p['from_root']} | "
                         f"{below.get(4, 0)} | {below.get(3, 0)} | {below.get(2, 0)} | {p['entries_read']} | "
                         f"{per(p['from_root'])} | {per(p['entries_read'])} |")
    qm = runs.get("queue", {}).get("metrics", {})
    if qm:
        lines += ["", "## The invalidation queue on its own (legacy mode, page-selective IOTLB invalidations)", "",
                  f"| descriptors per wait | submit and wait, median | p99 | per descriptor, median ({_unit(qm, '_submit_and_wait_median')}) |",
                  "|---|---|---|---|"]
        for n in sorted(int(k[5:].split("_")[0]) for k in qm if k.endswith("_submit_and_wait_median")):
            g = lambda what: qm.get(f"batch{n}_{what}", {}).get("value")
            per = g("per_descriptor_median")
            lines.append(f"| {g('descriptors_per_wait'):.0f} | {g('submit_and_wait_median'):.0f} | "
                         f"{g('submit_and_wait_p99'):.0f} | {'-' if per is None else f'{per:.0f}'} |")
    lines += ["", "## Goals", "", "| goal | measured | verdict |", "|---|---|---|"]
    lines += [f"| {g} | {m} | {v} |" for g, m, v in goals(unmap, scale)]
    tr = runs.get("trace")
    if tr:
        measured = sum(m["value"] for k, m in tr["metrics"].items() if k.endswith("_invalidations")
                       and k != "bound_invalidations")
        bound = tr["metrics"].get("bound_invalidations", {}).get("value")
        traced = tr["traced_p_iotlb"]
        want = None if bound is None else bound + BIND_UNBIND_P_IOTLB
        lines += ["", "## Hand check against QEMU's trace", "",
                  f"The trace run (`{tr['cmdline']}`, log `{os.path.relpath(tr['log'], TOP)}`): the metrics count "
                  f"{measured:.0f} invalidation descriptors in the measured windows and {bound} while the device was "
                  f"bound (warm-up rounds included); QEMU traced {traced} `type p-iotlb` descriptors in the whole "
                  f"boot, which must be {want} (those, plus the binding's and the unbinding's all-in-PASID one "
                  f"each): {'EQUAL' if traced == want else 'DIFFERENT'}."]
    lines += ["", "Every number traces to a `# metric` line in the serial logs next to this file "
              f"({', '.join(os.path.basename(r['log']) for r in doc['runs'])})."]
    text = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return text


def plot(doc: dict, out: str) -> List[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    runs = {r["name"]: r for r in doc["runs"]}
    unmap = unmap_table(runs.get("unmap", {}).get("metrics", {}))
    scale = scaling_table(runs.get("scaling", {}).get("metrics", {}))
    made = []

    def save(fig, name):
        fig.tight_layout()
        for ext in ("png", "svg"):
            path = os.path.join(out, f"{name}.{ext}")
            fig.savefig(path)
            made.append(path)
        plt.close(fig)

    configs = [c for c in ["sync-per-page"] + [c for p in POLICIES for c in (p, p + "+all")] if c in unmap]
    if configs:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        width = 0.8 / len(SIZES)
        for i, pages in enumerate(SIZES):
            xs = [j + i * width for j in range(len(configs))]
            inv = [unmap[c].get(pages, {}).get("invalidations", 0) / max(unmap[c].get(pages, {}).get("unmaps", 1), 1)
                   for c in configs]
            cyc = [unmap[c].get(pages, {}).get("unmap_median", 0) for c in configs]
            axes[0].bar(xs, inv, width, label=f"{pages} pages")
            axes[1].bar(xs, cyc, width, label=f"{pages} pages")
        for ax, title in ((axes[0], "invalidation descriptors per unmap (counted)"),
                          (axes[1], "median cycles per unmap (timed, " + doc["environment"]["qemu"].split("(")[0].strip() + ")")):
            ax.set_xticks([j + width for j in range(len(configs))])
            ax.set_xticklabels(configs, rotation=30, ha="right")
            # Linear below 0.01: a batch's share of one invalidation stays visible.
            ax.set_yscale("symlog", linthresh=0.01)
            ax.set_title(title, fontsize=10)
            ax.legend(fontsize=8)
        save(fig, "policies")
    if scale:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for p in POLICIES:
            if p in scale:
                ns = sorted(scale[p])
                ax.plot(ns, [scale[p][n].get("unmaps_per_s_per_cpu", 0) for n in ns], marker="o", label=p)
        ax.set_xlabel("CPUs unmapping at once")
        ax.set_ylabel("16-page unmaps per second per CPU (timed)")
        ax.set_title("scaling, " + doc["environment"]["qemu"].split("(")[0].strip(), fontsize=10)
        ax.legend(fontsize=8)
        save(fig, "scaling")
    return made


def assemble(runs: List[dict], iters: int, out: str, env: Optional[dict] = None) -> dict:
    problems = [f"{r['name']}: {p}" for r in runs for p in r["problems"]]
    doc = {"environment": env or environment(), "iterations": iters, "runs": runs,
           "complete": all(r["complete"] for r in runs) and bool(runs), "problems": problems}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    write_markdown(doc, os.path.join(out, "results.md"))
    doc["plots"] = plot(doc, out)
    return doc


def parse_log(path: str, iters: int, out: str) -> dict:
    """A serial log from a run elsewhere (hardware): the same report."""
    with open(path, errors="replace") as f:
        log = ktap.parse(f.read())
    run = verdict.RunResult(profile="log")
    verdict.add_boot(run, log, 1, None if log.complete else "the log ends without a totals line")
    report = json.loads(verdict.to_json(run))
    name = "scaling" if any(k.split(".")[0] == "bench_scaling" for k in report["metrics"]) else "unmap"
    r = {"name": name, "profile": "log", "cmdline": "", "log": path, "complete": log.complete,
         "problems": list(report["problems"]), "traced_p_iotlb": None,
         "metrics": {k: {"value": v[0], "unit": v[1]} for k, v in metrics_of(report).items()}}
    return assemble([r], iters, out)


def main(iters: int, policies: Optional[str], out: str, log: Optional[str], quick: bool) -> int:
    if not 1 <= iters <= ITERS_MAX:
        raise BenchError(f"--iters must be 1..{ITERS_MAX}, not {iters}")
    if policies:
        bad = [p for p in policies.split(",") if p not in POLICIES]
        if bad:
            raise BenchError(f"--policies: unknown {', '.join(bad)} (known: {', '.join(POLICIES)})")
    if log:
        doc = parse_log(log, iters, out)
    else:
        boots = BOOTS[:2] if quick else BOOTS
        total = estimate_s(boots, iters)
        print(f"vtdlab bench: {len(boots)} boots, {iters} iterations each measurement; about {total:.0f} s "
              f"on a 2-core machine like the reference", flush=True)
        os.makedirs(out, exist_ok=True)
        done, start = [], time.monotonic()
        for i, b in enumerate(boots, 1):
            profile = b.get("profile", BENCH_PROFILE)
            print(f"  [{i}/{len(boots)}] {b['name']}: profile {profile}, {b['tests']} ...", end="", flush=True)
            t = time.monotonic()
            r = run_boot(b, iters, policies, out, profile)
            done.append(r)
            print(f" {time.monotonic() - t:.0f} s, {len(r['metrics'])} metrics"
                  + ("" if r["complete"] else f", INCOMPLETE: {'; '.join(r['problems'])[:200]}"), flush=True)
            if r.get("psc"):
                print("        walks after the flushes (from the root): " + ", ".join(
                    f"{m} {r['psc'][m]['walks']} ({r['psc'][m]['from_root']})" for m in WS_MODES), flush=True)
        doc = assemble(done, iters, out)
        print(f"vtdlab bench: {time.monotonic() - start:.0f} s in all", flush=True)
    print(f"results: {os.path.join(out, 'results.md')}, {os.path.join(out, 'results.json')}"
          + (f", plots: {', '.join(os.path.basename(p) for p in doc['plots'])}" if doc["plots"] else
             ", no plots (python3-matplotlib is not installed)"))
    if not doc["complete"]:
        print("vtdlab bench: INCOMPLETE: " + "; ".join(doc["problems"]), file=sys.stderr)
        return 1
    return 0
