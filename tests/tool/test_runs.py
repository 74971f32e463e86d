"""The table of runs (runs.json) and the expectations shared between runs
(one file per suite, per-run overrides): selection as the kernel does it,
one resolved outcome per selected case, overrides no run uses reported, and
the conversion from one file per run giving back every run's file."""
import json

import pytest

from vtdlabtool import bench, cli, qemu, runs, verdict

RUNS = [runs.Run("all", "every case", "default", "pvh"),
        runs.Run("bare", "no unit", "no-iommu", "pvh"),
        runs.Run("sva", "sva only", "default", "pvh", tests="sva.*"),
        runs.Run("self", "self-test", "no-iommu", "pvh", tests="selftest.*")]

PER_RUN = {
    "all": {"boot.memory_map": "pass", "sva.bind": "pass", "sva.walk": "pass"},
    "bare": {"boot.memory_map": "pass", "sva.bind": "skip: no VT-d unit", "sva.walk": "skip: no VT-d unit"},
    "sva": {"sva.bind": "pass", "sva.walk": "pass"},
    "self": {"selftest.fails_on_purpose": "fail"},
}


def test_selection_is_the_kernels():
    assert runs.selects("*", "boot", "memory_map", False)
    assert runs.selects("sva.*,boot.m?mory_map", "boot", "memory_map", False)
    assert not runs.selects("sva.*", "boot", "memory_map", False)
    assert not runs.selects("sva.*", "sva_stale", "x", False)
    # a suite that runs only when asked: a pattern must name it
    assert not runs.selects("*", "selftest", "fails_on_purpose", True)
    assert runs.selects("selftest.*", "selftest", "fails_on_purpose", True)
    assert runs.selects("selftest*sva*", "selftest", "faults_with_sva_bound", True)
    assert not runs.selects("selftest_x.*", "selftest", "faults", True)
    # an excluding pattern, as lib/glob.c takes it (tests/host/test_glob.c)
    assert runs.selects("*,-smp.*", "boot", "clock", False)
    assert not runs.selects("*,-smp.*", "smp", "lock", False)
    assert not runs.selects("-smp.*,*", "smp", "lock", False)
    assert not runs.selects("-smp.*", "boot", "clock", False)
    assert not runs.selects("*,-selftest.*", "selftest", "fails_on_purpose", True)


def test_fold_shares_what_is_common_and_gives_every_run_back():
    suites = runs.fold(PER_RUN, RUNS)
    assert suites["boot"].cases == {"memory_map": "pass"}
    assert suites["sva"].cases["bind"] == {"*": "pass", "bare": "skip: no VT-d unit"}
    assert suites["selftest"].explicit and not suites["sva"].explicit
    assert runs.expand(suites, RUNS) == PER_RUN
    assert runs.check(suites, RUNS) == []


def test_a_new_case_with_one_outcome_is_one_entry():
    suites = runs.fold(PER_RUN, RUNS)
    suites["sva"].cases["new_case"] = "pass"
    views = runs.expand(suites, RUNS)
    assert [t for t, v in views.items() if v.get("sva.new_case") == "pass"] == ["all", "bare", "sva"]


def test_fold_refuses_a_run_file_that_leaves_out_a_case_its_selection_picks():
    broken = dict(PER_RUN, sva={"sva.bind": "pass"})   # sva.walk left out: that run fails it today
    with pytest.raises(runs.RunsError, match="run sva: .* sva.walk"):
        runs.fold(broken, RUNS)


def test_a_case_whose_entry_gives_a_run_no_outcome_fails_that_run():
    suites = runs.fold(PER_RUN, RUNS)
    suites["sva"].cases["walk"] = {"all": "pass", "bare": "skip: no VT-d unit"}   # no "*", no "sva"
    assert runs.check(suites, RUNS) == ["sva.walk: no outcome for sva"]
    resolved = runs.resolve(suites, "sva", "sva.*")
    assert resolved["sva.walk"] is None
    run = verdict.RunResult(cases=[verdict.CaseResult("sva", "walk", "pass")])
    verdict.apply_expectations(run, {k: v for k, v in resolved.items() if v is not None}, complete=True)
    assert not run.ok and run.cases[0].reason.startswith("no expectation for this case")


def test_overrides_no_run_uses_are_reported():
    suites = runs.fold(PER_RUN, RUNS)
    suites["boot"].cases["memory_map"] = {"*": "pass", "sva": "skip: x", "nosuch": "pass"}
    suites["sva"].cases["walk"] = {"*": "pass", "all": "pass", "bare": "pass", "sva": "pass"}
    suites["sva"].cases["gone"] = "pass"
    suites["edu"] = runs.Suite("edu", True, {"never": "pass"})
    assert runs.check(suites, RUNS) == [
        "boot.memory_map: the override for 'nosuch' names no run",
        "boot.memory_map: the override for 'sva' is unused (that run does not select it)",
        "sva.walk: the '*' outcome is unused (every run that selects it overrides it)",
        "edu.never: no run selects this case"]


def test_fold_tree_takes_a_per_run_file_kept_through_a_merge(tmp_path):
    suites_dir = tmp_path / "suites"
    for tag, view in PER_RUN.items():
        (tmp_path / f"{tag}.json").write_text(json.dumps(view))
    written, removed = runs.fold_tree(RUNS, str(tmp_path), str(suites_dir))
    assert len(removed) == 4 and not list(tmp_path.glob("*.json"))
    first = {p: open(p).read() for p in written}
    # another branch added a case to two runs' old files
    (tmp_path / "all.json").write_text(json.dumps(dict(PER_RUN["all"], **{"sva.new": "pass"})))
    (tmp_path / "sva.json").write_text(json.dumps(dict(PER_RUN["sva"], **{"sva.new": "pass"})))
    with pytest.raises(runs.RunsError, match="run bare: .*sva.new"):
        runs.fold_tree(RUNS, str(tmp_path), str(suites_dir))
    assert {p: open(p).read() for p in written} == first   # nothing written
    (tmp_path / "bare.json").write_text(json.dumps(dict(PER_RUN["bare"], **{"sva.new": "skip: no VT-d unit"})))
    runs.fold_tree(RUNS, str(tmp_path), str(suites_dir))
    assert json.loads((suites_dir / "sva.json").read_text())["cases"]["new"] == \
        {"*": "pass", "bare": "skip: no VT-d unit"}


def test_the_trees_runs_and_expectations_agree():
    tree = runs.load_runs()
    suites = runs.load_suites()
    assert runs.check(suites, tree) == []
    for view in runs.expand(suites, tree).values():
        assert view and None not in view.values()


def test_bench_boots_what_the_smoke_run_checks():
    smoke = runs.get_run(bench.SMOKE_RUN)
    for b in bench.BOOTS:
        suite = b["tests"].split(".")[0]
        assert runs.selects(smoke.selection, suite, "any", True), b["name"]


def test_run_takes_no_profile_beside_a_run(capsys):
    assert cli.main(["run", "--run", "legacy", "--profile", "default"]) == 2
    assert "--run legacy sets the profile" in capsys.readouterr().err
    assert cli.main(["run", "--run", "nosuch"]) == 2
    assert "no run 'nosuch'" in capsys.readouterr().err


def test_bad_suite_file_is_refused(tmp_path):
    (tmp_path / "boot.json").write_text(json.dumps({"cases": {"memory_map": {"*": "passed"}}}))
    with pytest.raises(runs.RunsError, match="'passed' is not an outcome"):
        runs.load_suites(str(tmp_path))
    (tmp_path / "boot.json").write_text(json.dumps({"boot.memory_map": "pass"}))
    with pytest.raises(runs.RunsError, match="not a suite's expectations"):
        runs.load_suites(str(tmp_path))


def test_run_files_name_each_run_once(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([{"tag": "a", "description": "", "profile": "p", "boot": "pvh"}] * 2))
    with pytest.raises(runs.RunsError, match="more than once: a"):
        runs.load_runs(str(path))
    path.write_text(json.dumps([{"tag": "a", "description": "", "profile": "p", "boot": "floppy"}]))
    with pytest.raises(runs.RunsError, match="boot neither"):
        runs.load_runs(str(path))
    path.write_text(json.dumps([{"tag": "a", "description": "", "profile": "p", "boot": "pvh", "qemu": "debian"}]))
    with pytest.raises(runs.RunsError, match="name a QEMU that is not one of vtdlab, stock"):
        runs.load_runs(str(path))


def _options(*argv):
    return cli._run_options(cli.build_parser().parse_args(["run", *argv]))


def test_tests_narrow_a_runs_selection_instead_of_replacing_it():
    run = runs.get_run("legacy-aw39")   # vtd_legacy, vtd_stale, vtd_fault, vtd_qi
    suites = runs.load_suites()
    o = _options("--run", run.tag, "--tests", "*stale*")
    picked = set(runs.resolve(suites, run.tag, o.tests))
    assert picked and set(o.expected) == picked
    # what both select, nothing the run leaves out (sva_stale.*) ...
    assert all(k.startswith("vtd_stale.") for k in picked)
    assert picked == {f"vtd_stale.{c}" for c in suites["vtd_stale"].cases}
    # ... and an excluding pattern narrows it further
    o = _options("--run", run.tag, "--tests", "vtd_*,-vtd_legacy.*,-vtd_fault.*,-vtd_qi.*")
    assert set(runs.resolve(suites, run.tag, o.tests)) == picked
    # the control: without --tests the run's own selection
    o = _options("--run", run.tag)
    assert o.tests == run.tests


def test_tests_that_select_none_of_a_runs_cases_are_refused(capsys):
    with pytest.raises(runs.RunsError, match=r"--tests sva\.\* selects none of run legacy-aw39's cases"):
        _options("--run", "legacy-aw39", "--tests", "sva.*")
    assert cli.main(["run", "--run", "legacy-aw39", "--tests", "sva.*"]) == 2
    assert "selects none of run legacy-aw39's cases" in capsys.readouterr().err


def test_a_run_may_boot_a_sanitized_kernel(tmp_path):
    """"kernel" names a build of the kernel (build/<kernel>/kernel.elf),
    booted directly: an unknown build, or one a UEFI run would have to put
    on its image, is refused."""
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([{"tag": "a", "description": "", "profile": "p", "boot": "pvh", "kernel": "kasan"}]))
    r = runs.load_runs(str(path))[0]
    assert r.args() == ["--pvh", "--profile", "p", "--kernel", "kasan"]
    path.write_text(json.dumps([{"tag": "a", "description": "", "profile": "p", "boot": "pvh", "kernel": "msan"}]))
    with pytest.raises(runs.RunsError, match="runs a name a kernel build that is not one of kasan"):
        runs.load_runs(str(path))
    path.write_text(json.dumps([{"tag": "a", "description": "", "profile": "p", "boot": "uefi", "kernel": "kasan"}]))
    with pytest.raises(runs.RunsError, match="booted through pvh"):
        runs.load_runs(str(path))


def test_run_options_take_the_runs_kernel():
    """--run gives the run's kernel build; the unsanitized kernel stays what
    a run without one (and make run, make bench) boots."""
    parser = cli.build_parser()
    sanitized = [r for r in runs.load_runs() if r.kernel]
    assert sanitized and all(r.boot == "pvh" for r in sanitized)
    o = cli._run_options(parser.parse_args(["run", "--run", sanitized[0].tag]))
    assert o.kernel == sanitized[0].kernel and o.pvh
    assert cli._run_options(parser.parse_args(["run", "--run", "default"])).kernel is None
    assert cli._run_options(parser.parse_args(["run", "--pvh", "--kernel", "kasan"])).kernel == "kasan"


def test_a_sanitized_kernel_boots_only_directly(capsys):
    assert cli.main(["run", "--kernel", "kasan", "--profile", "no-iommu"]) == 2
    assert "--kernel kasan boots build/kasan/kernel.elf directly: it needs --pvh" in capsys.readouterr().err


def test_vtdlab_args_go_to_vtdlabs_qemu_only():
    """A profile's vtdlab_args (its patches' properties) reach vtdlab's
    QEMU, never Debian's stock binary, which would refuse them: the
    default-stock control runs the default profile without them."""
    profile = qemu.get_profile("default")
    assert profile["vtdlab_args"] == ["-global", "edu.x-dma-delay-ms=1"]
    stock = qemu.QemuBinary(qemu.QEMU_STOCK, "/usr/bin/qemu-system-x86_64", [], "stock")
    ours = qemu.QemuBinary(qemu.QEMU_VTDLAB, "/cache/bin/qemu-system-x86_64", [], "vtdlab key")
    with_stock = qemu.build_command(profile, None, "kernel.elf", pvh_cmdline="", binary=stock)
    with_ours = qemu.build_command(profile, None, "kernel.elf", pvh_cmdline="", binary=ours)
    assert "edu.x-dma-delay-ms=1" not in with_stock
    i = with_ours.index("edu.x-dma-delay-ms=1")
    assert with_ours[i - 1] == "-global", with_ours


def test_qemu_runs_with_the_users_glibc_tunables_and_huge_pages_for_its_heap(monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert qemu.qemu_env()["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    assert qemu.qemu_env()["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    # the user's own value of it stands (glibc would take the last)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2")
    assert qemu.qemu_env()["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2"


def test_each_profiles_vtdlab_globals_name_one_of_its_devices():
    """A -global for a device type the profile has not would set nothing
    and say nothing (the DMA delay would stay 100 ms)."""
    for name, profile in qemu.load_profiles().items():
        extra = profile.get("vtdlab_args", [])
        devices = {a.split(",", 1)[0] for a in profile.get("args", [])}
        for flag, value in zip(extra[::2], extra[1::2]):
            assert flag == "-global" and value.split(".", 1)[0] in devices, (name, value)
