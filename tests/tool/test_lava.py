"""LAVA jobs (tools/vtdlabtool/lava.py): every job the tool writes passes
LAVA's own schema (Debian's lava-common, which make deps installs), and the
monitor pattern takes from real console logs exactly the cases vtdlab's
own parser sees, with the same outcomes."""
import pytest
import yaml

from conftest import read_log

from vtdlabtool import cli, ktap, lava, qemu

# Not a skip when missing: make deps installs it, and a job nobody checked
# against LAVA's schema is not what this test claims.
from lava_common import schemas  # noqa: E402

IMAGE = "https://lab.example/vtdlab/vtdlab-usb.img"


def valid(job):
    """The job as a lab would read it: the YAML text parsed, then LAVA's schema."""
    data = yaml.safe_load(lava.write(job, None))
    assert data == job  # the YAML says what the dict says
    schemas.validate(data, strict=True)
    return data


@pytest.mark.parametrize("name", sorted(lava.load_classes()))
def test_every_machine_class_job_is_valid(name):
    job = valid(lava.machine_job(name, IMAGE))
    assert job["actions"][0]["deploy"]["images"]["image"]["url"] == IMAGE
    assert job["actions"][1]["boot"]["method"] == "minimal"


@pytest.mark.parametrize("profile", ["default", "smp", "legacy", "no-iommu"])
def test_every_qemu_job_is_valid(profile):
    job = valid(lava.qemu_job(profile, "https://lab.example/esp.img", "https://lab.example/OVMF.fd"))
    extra = job["context"]["extra_options"]
    assert all(a in extra for a in qemu.get_profile(profile)["args"])


def test_the_schema_would_catch_a_broken_job():
    job = lava.machine_job("vtd", IMAGE)
    job["actions"][2]["test"]["monitors"][0]["fixupdict"]["ok"] = "passed"
    with pytest.raises(Exception):
        schemas.validate(job, strict=True)


@pytest.mark.parametrize("log", ["default.log", "selftest.log", "no-iommu.log"])
def test_the_monitor_pattern_sees_what_vtdlab_sees(log):
    text = read_log(log)
    outcome = {ktap.PASS: "pass", ktap.SKIP: "skip"}
    want = [(c.name, outcome.get(c.status, "fail")) for _, c in ktap.parse(text).cases()]
    got = lava.results_from_log(text)
    assert got == want
    assert {r for _, r in got} <= {"pass", "fail", "skip"}


def test_bad_input_is_refused(capsys):
    assert cli.main(["lava-job", "--class", "nosuch", "--image-url", IMAGE]) == 2
    assert "unknown machine class 'nosuch'" in capsys.readouterr().err
    assert cli.main(["lava-job"]) == 2
    assert "needs --image-url" in capsys.readouterr().err
    assert cli.main(["lava-job", "--qemu", "--profile", "nosuch", "--image-url", "x", "--firmware-url", "y"]) == 2
    assert "unknown profile 'nosuch'" in capsys.readouterr().err
