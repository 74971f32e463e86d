"""vtdlab bench's host side: bad parameters refused before any boot, and a
report built from a saved serial log (what a run on hardware gives)."""
import json
import os
import re

import pytest

from vtdlabtool import bench, cli


def test_iterations_out_of_range_are_refused(capsys, tmp_path):
    assert cli.main(["bench", "--iters", "0", "--out", str(tmp_path)]) == 2
    assert "--iters must be 1..10000, not 0" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_unknown_policy_is_refused(capsys, tmp_path):
    assert cli.main(["bench", "--policies", "sync,lazy", "--out", str(tmp_path)]) == 2
    assert "unknown lazy (known: none, sync, async, async-percpu, rcu)" in capsys.readouterr().err


def test_policy_names_are_read_from_the_kernels_one_list(tmp_path):
    # Every policy the kernel enumerates, in its order.
    with open(bench.CMDLINE_H) as f:
        enumerated = re.findall(r"X\((RECLAIM_CHOICE_\w+), ", f.read())
    assert len(bench.POLICIES) == len(enumerated) == len(set(bench.POLICIES))
    assert bench.POLICIES[enumerated.index("RECLAIM_CHOICE_ASYNC_PERCPU")] == "async-percpu"
    # Continued over lines or not, the list is read whole; no list is an error.
    h = tmp_path / "cmdline.h"
    h.write_text('#define RECLAIM_POLICY_LIST(X) \\\n    X(RECLAIM_CHOICE_A, "a") \\\n    X(RECLAIM_CHOICE_B, "b-c")\n'
                 '#define OTHER(X) X(RECLAIM_CHOICE_C, "c")\n')
    assert bench.policy_names(str(h)) == ["a", "b-c"]
    h.write_text("")
    with pytest.raises(bench.BenchError):
        bench.policy_names(str(h))


LOG = """KTAP version 1
1..1
    KTAP version 1
    # Subtest: bench_unmap
    1..1
    # metric bench_unmap.unmap_cost.baseline_16pages_unmap_median=1000 TSC cycles
    # metric bench_unmap.unmap_cost.baseline_16pages_tables_freed=20 pages
    # metric bench_unmap.unmap_cost.baseline_16pages_unmaps=10 unmaps
    # metric bench_unmap.unmap_cost.sync-per-page_16pages_unmap_median=9000 TSC cycles
    # metric bench_unmap.unmap_cost.sync-per-page_16pages_invalidations=160 descriptors
    # metric bench_unmap.unmap_cost.sync-per-page_16pages_waits=160 waits
    # metric bench_unmap.unmap_cost.sync-per-page_16pages_tables_freed=20 pages
    # metric bench_unmap.unmap_cost.sync-per-page_16pages_unmaps=10 unmaps
    # metric bench_unmap.unmap_cost.async_16pages_unmap_median=1100 TSC cycles
    # metric bench_unmap.unmap_cost.async_16pages_invalidations=1 descriptors
    # metric bench_unmap.unmap_cost.async_16pages_waits=1 waits
    # metric bench_unmap.unmap_cost.async_16pages_tables_freed=20 pages
    # metric bench_unmap.unmap_cost.async_16pages_unmaps=10 unmaps
    # metric bench_unmap.unmap_cost.sync_16pages_waits=10 waits
    # metric bench_unmap.unmap_cost.sync_16pages_unmaps=10 unmaps
    ok 1 unmap_cost
ok 1 bench_unmap
# vtdlab: totals: pass=1 fail=0 skip=0 timeout=0 error=0
"""


def test_report_from_a_serial_log(tmp_path, capsys):
    log = tmp_path / "hw.log"
    log.write_text(LOG)
    out = tmp_path / "out"
    assert cli.main(["bench", "--parse", str(log), "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"]
    # the plots too (make deps installs matplotlib); the other reports
    # below leave them out: rendering them is most of a report's time
    assert "plots: policies.png, policies.svg" in capsys.readouterr().out
    assert (out / "policies.png").stat().st_size and (out / "policies.svg").stat().st_size
    md = (out / "results.md").read_text()
    # 160 invalidations for 20 freed tables against 1 for 20: 160x fewer
    assert "| async issues >= 32x fewer invalidations per freed table page than per-page sync (16 pages) | " \
           "160x (8.00 vs 0.050) | met |" in md
    assert "| async costs at most 1.2x the no-device baseline per 16-page unmap (median, timed) | 1.10x | met |" in md
    assert "| range sync issues 1 wait per unmap (16 pages) | 1.00 | met |" in md
    assert "| async | 16 | 0.100 | 0.100 | 2.00 | 0.050 | 1100 |" in md


@pytest.fixture
def no_plots(monkeypatch):
    monkeypatch.setattr(bench, "plot", lambda doc, out: [])


def test_a_log_cut_short_is_marked_incomplete(tmp_path, capsys, no_plots):
    log = tmp_path / "hw.log"
    log.write_text(LOG.split("    ok 1 unmap_cost")[0])
    out = tmp_path / "out"
    assert cli.main(["bench", "--parse", str(log), "--out", str(out)]) == 1
    doc = json.loads((out / "results.json").read_text())
    assert not doc["complete"]
    assert "INCOMPLETE" in (out / "results.md").read_text()


def _report(tmp_path, log_text):
    log = tmp_path / "hw.log"
    log.write_text(log_text)
    out = tmp_path / "out"
    assert cli.main(["bench", "--parse", str(log), "--out", str(out)]) == 0
    return (out / "results.md").read_text()


def test_a_policy_cheaper_than_the_baseline_is_withheld(tmp_path, capsys, no_plots):
    # async does the baseline's unmap and more, yet reads 0.09x of it: the
    # comparison contradicts itself and is not printed as a figure
    md = _report(tmp_path, LOG.replace("async_16pages_unmap_median=1100", "async_16pages_unmap_median=90"))
    assert "| async | 16 | 0.100 | 0.100 | 2.00 | 0.050 | 90 |" in md
    assert "0.09x" not in md.split("Withheld")[0]
    assert "| async | 16 | 0.100 | 0.100 | 2.00 | 0.050 | 90 | 0 | WITHHELD |" in md
    assert "- async at 16 pages measured 0.09x the no-device baseline, cheaper than doing nothing" in md
    assert "| async costs at most 1.2x the no-device baseline per 16-page unmap (median, timed) | withheld: " \
           "async at 16 pages measured 0.09x the no-device baseline, cheaper than doing nothing | not measured |" in md


def test_a_baseline_that_drifted_withholds_every_comparison_at_its_size(tmp_path, capsys, no_plots):
    end = "    # metric bench_unmap.unmap_cost.baseline-end_16pages_unmap_median=5000 TSC cycles\n"
    md = _report(tmp_path, LOG.replace("    ok 1 unmap_cost", end + "    ok 1 unmap_cost"))
    assert "- 16 pages: the baseline drifted from 1000 to 5000 across the run" in md
    assert "| async | 16 | 0.100 | 0.100 | 2.00 | 0.050 | 1100 | 0 | WITHHELD |" in md
    assert "withheld: the baseline drifted from 1000 to 5000 across the run | not measured |" in md


def test_a_baseline_that_held_still_gives_ratios(tmp_path, capsys, no_plots):
    end = "    # metric bench_unmap.unmap_cost.baseline-end_16pages_unmap_median=1200 TSC cycles\n"
    md = _report(tmp_path, LOG.replace("    ok 1 unmap_cost", end + "    ok 1 unmap_cost"))
    assert "Withheld" not in md
    assert "| async | 16 | 0.100 | 0.100 | 2.00 | 0.050 | 1100 | 0 | 1.10x |" in md
