"""The command line on bad input: one clear message and a non-zero exit."""
import json
import os
import re

import pytest

from conftest import LOGS

from vtdlabtool import cli, run


def test_parse_good_log(capsys):
    assert cli.main(["parse", os.path.join(LOGS, "default.log")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed, \d+ skipped", last), last


def test_parse_writes_reports(tmp_path):
    junit, js = tmp_path / "r.xml", tmp_path / "r.json"
    rc = cli.main(["parse", os.path.join(LOGS, "selftest.log"), "--junit", str(junit), "--json", str(js)])
    assert rc == 1
    assert junit.read_text().startswith("<testsuites")
    assert '"verdict": "fail"' in js.read_text()


def test_parse_log_without_ktap(tmp_path, capsys):
    p = tmp_path / "x.log"
    p.write_text("hello\n")
    assert cli.main(["parse", str(p)]) == 2
    assert "no KTAP output" in capsys.readouterr().err


def test_parse_missing_file(capsys):
    assert cli.main(["parse", "/nonexistent/log"]) == 2
    assert "No such file" in capsys.readouterr().err


def test_unknown_profile(capsys):
    assert cli.main(["run", "--profile", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'nosuch'" in err and "default" in err


def test_missing_firmware(capsys):
    assert cli.main(["run", "--firmware", "/nonexistent/OVMF.fd"]) == 2
    assert "firmware '/nonexistent/OVMF.fd' does not exist" in capsys.readouterr().err


def test_missing_qemu(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli.main(["run", "--qemu", "stock"]) == 2
    assert "qemu-system-x86_64 is not installed" in capsys.readouterr().err


def test_bad_expectations(tmp_path, capsys):
    p = tmp_path / "e.json"
    p.write_text('{"a.b": "maybe"}')
    assert cli.main(["parse", os.path.join(LOGS, "default.log"), "--expect", str(p)]) == 2
    assert "unknown outcomes" in capsys.readouterr().err


def test_profiles_listed(capsys):
    assert cli.main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "no-iommu" in out


def test_qemu_args_starting_with_a_dash_are_values():
    assert cli._bind_qemu_args(["run", "--qemu-arg", "-trace", "--qemu-arg", "vtd_inv_desc*", "-q"]) == \
        ["run", "--qemu-arg=-trace", "--qemu-arg=vtd_inv_desc*", "-q"]
    a = cli.build_parser().parse_args(cli._bind_qemu_args(["run", "--qemu-arg", "-icount"]))
    assert a.qemu_arg == ["-icount"]


def test_expectations_written_from_a_report_pass_on_the_same_log(tmp_path, capsys):
    report, exp = tmp_path / "r.json", tmp_path / "e.json"
    log = os.path.join(LOGS, "no-iommu.log")
    assert cli.main(["parse", log, "--json", str(report)]) == 0
    assert cli.main(["expectations", str(report), "-o", str(exp)]) == 0
    data = json.loads(exp.read_text())
    assert any(v.startswith("skip: ") for v in data.values())
    assert cli.main(["parse", log, "--expect", str(exp)]) == 0
    # one case left out: the run fails and names it
    name = sorted(data)[0]
    del data[name]
    exp.write_text(json.dumps(data))
    assert cli.main(["parse", log, "--expect", str(exp)]) == 1
    assert f"{name}: no expectation for this case" in capsys.readouterr().out


def test_run_directories_of_dead_runs_are_removed(tmp_path):
    dead = tmp_path / f"{run.RUN_DIR_PREFIX}999999999-abc"
    dead.mkdir()
    (dead / "esp.img").write_bytes(b"x")
    alive = tmp_path / f"{run.RUN_DIR_PREFIX}{os.getpid()}-def"
    alive.mkdir()
    leftover = tmp_path / f"{run.RUN_DIR_PREFIX}xyz"  # an older tool's, no pid in the name
    leftover.mkdir()
    other = tmp_path / "kernel.elf"
    other.write_bytes(b"x")
    run._remove_dead_runs(str(tmp_path))
    assert not dead.exists() and not leftover.exists() and alive.exists() and other.exists()


def test_a_run_directory_is_never_taken_for_a_dead_one_while_it_is_made(tmp_path, monkeypatch):
    """Another tool cleaning up between this run's mkdtemp and anything it
    writes next must leave the new directory alone (make test runs several
    tools at once: a pid file written after mkdtemp once lost that race)."""
    made = []
    real = run.tempfile.mkdtemp

    def mkdtemp_then_another_tool_cleans(**kw):
        path = real(**kw)
        made.append(path)
        run._remove_dead_runs(kw["dir"])
        assert os.path.isdir(path), "the new run directory was removed as a dead run's"
        raise RuntimeError("stop here")

    monkeypatch.setattr(run.tempfile, "mkdtemp", mkdtemp_then_another_tool_cleans)
    monkeypatch.setattr(run.qemu, "BUILD", str(tmp_path))
    with pytest.raises(RuntimeError, match="stop here"):
        cli.main(["run", "-q", "--profile", "no-iommu", "--pvh"])
    assert made
