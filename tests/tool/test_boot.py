"""Bad input on a real boot: a missing kernel on the ESP, an unknown cmdline
key. Each must end in one clear message and a non-zero exit, quickly, never
a hang. A corrupt kernel.elf is refused by the loader's ELF checks, which
the host tests run on the same files (tests/host/test_elf_check.c): the
missing kernel's boot is the refusal's one trip through the firmware to the
tool. Needs QEMU and build/esp.img (make)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from vtdlabtool import cli, qemu

pytestmark = pytest.mark.skipif(
    not (shutil.which(qemu.QEMU) and os.path.isfile(qemu.ESP_IMAGE)),
    reason="needs qemu-system-x86_64 and build/esp.img (run make)")

# How long a test waits for the tool before calling it a hang. Generous: on
# a busy host QEMU may take many seconds to start; what a test checks is
# that no watchdog ended the run (WATCHDOG_WORDS), not how fast it was.
HANG_S = 120
# What the tool says when its watchdog, rather than a clear error, ended a
# boot (qemu._stream).
WATCHDOG_WORDS = ("ran past its", "no console output for")


def image_without_kernel(tmp_path):
    img = tmp_path / "esp.img"
    shutil.copyfile(qemu.ESP_IMAGE, img)
    subprocess.run(["mdel", "-i", str(img), "::/vtdlab/kernel.elf"], check=True,
                   env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    return str(img)


def run_cli(args, capsys, pvh=False):
    """pvh: boot kernel.elf directly, for what the kernel decides (cmdline,
    bring-up); the loader's own checks need the UEFI boot."""
    rc = cli.main(["run", "-q", "--profile", "no-iommu"] + (["--pvh"] if pvh else []) + args)
    out = capsys.readouterr()
    text = out.out + out.err
    assert not any(w in text for w in WATCHDOG_WORDS), "a watchdog ended the run, not a clear error:\n" + text
    return rc, text


def test_missing_kernel(tmp_path, capsys):
    rc, out = run_cli(["--image", image_without_kernel(tmp_path)], capsys)
    assert rc == 1
    assert "the UEFI loader stopped: cannot read \\vtdlab\\kernel.elf" in out


def test_unknown_cmdline_key(capsys):
    """Through QEMU's -append (PVH). The UEFI loader hands the kernel its
    cmdline file unread: every UEFI boot of make test (default, the USB image) selects its
    cases through that file, and the kernel's refusal is the same however
    the cmdline came. This boot is the refusal's way from the kernel to the
    tool's exit status; what the parser refuses and the message it gives
    for each key (an unknown reclaim policy or flush mode, cpus=0, ...) the
    host tests check on the same parser (tests/host/test_cmdline.c)."""
    rc, out = run_cli(["--cmdline", "frobnicate=1"], capsys, True)
    assert rc == 2
    assert "the kernel rejected the cmdline" in out and "unknown key 'frobnicate'" in out


def test_pvh_takes_no_firmware_or_image(capsys):
    rc, out = run_cli(["--pvh", "--usb"], capsys)
    assert rc == 2 and "--pvh boots build/kernel.elf without firmware" in out


# The reproducer's kva page (tests/kernel/reclaim_cases.h: RECLAIM_SLOT(0)).
VA_TARGET = 0xffffa01000000000


def test_async_batch_is_one_pasid_invalidation_before_the_reuse(tmp_path, capsys):
    """QEMU's own trace of one reproducer run under async: the batch that
    frees the unmapped page's tables and frame is one PASID-based IOTLB
    invalidation of that VA (not one per page), and it comes before the
    device's write through the old VA, which then faults."""
    log = tmp_path / "serial.log"
    rc = cli.main(["run", "-q", "--pvh", "--profile", "default", "--tests", "reclaim.async_leaves_reused_frames_alone",
                   "--log", str(log), "--qemu-arg", "-trace", "--qemu-arg", "vtd_inv_desc"])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    trace = (tmp_path / "serial.log.qemu-stderr").read_text().splitlines()
    piotlb = [i for i, l in enumerate(trace) if "type p-iotlb" in l]
    at_target = [i for i in piotlb if f"high {VA_TARGET:#x} " in trace[i] + " "]
    refused = [i for i, l in enumerate(trace) if f"translation failure (dev=00:04:00, iova={VA_TARGET:#x})" in l]
    assert len(at_target) == 1, [trace[i] for i in piotlb]
    assert refused and at_target[0] < refused[0], trace


def test_missing_image(capsys):
    rc, out = run_cli(["--image", "/nonexistent/esp.img"], capsys)
    assert rc == 2 and "does not exist" in out


def test_more_cpus_than_listed_starts_those_there_are(tmp_path, capsys):
    log = tmp_path / "serial.log"
    rc, out = run_cli(["--cmdline", "cpus=8", "--tests", "smp.cpus_online*", "--log", str(log)], capsys, pvh=True)
    assert rc == 0, out
    text = log.read_text()
    assert "cpus=8 asked for, the MADT lists 2 enabled: starting 2" in text
    assert "2 of 2 listed CPUs online" in text


@pytest.mark.parametrize("inject,message", [
    ("ap-fault", "cpu 1 (APIC id 1) faulted during bring-up: #PF page fault"),
    ("ap-hang", "APIC id 1 did not come up within 500 ms of its start-up IPIs; left out"),
])
def test_an_ap_that_fails_to_start_is_reported_and_left_out(tmp_path, capsys, inject, message):
    log = tmp_path / "serial.log"
    rc, out = run_cli(["--cmdline", f"inject={inject}", "--tests", "boot.memory_map,smp.cpus_online*",
                       "--log", str(log)], capsys, pvh=True)
    text = log.read_text()
    assert message in text
    assert "1 of 2 listed CPUs online" in text
    # the run went on to its end: the other case ran, the CPU check failed
    assert "ok 1 memory_map" in text and "not ok 1 cpus_online_match_madt_and_cmdline" in text
    assert rc == 1


def _stat(pid):
    """(name, state, parent) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            comm, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
        fields = rest.split()
        return comm, fields[0], int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def _qemu_children(pid):
    """QEMU processes whose parent is pid (alive, not zombies)."""
    out = []
    for d in os.listdir("/proc"):
        st = _stat(d) if d.isdigit() else None
        # the name too: a child between fork and exec is still a python
        if st and st[2] == pid and st[1] != "Z" and st[0].startswith("qemu-system"):
            out.append(int(d))
    return out


def _running(pid):
    """pid is a live process (not a zombie), whoever its parent is now."""
    st = _stat(pid)
    return st is not None and st[1] != "Z"


@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_a_signal_stops_qemu_and_still_writes_the_reports(tmp_path, sig):
    report = tmp_path / "r.json"
    junit = tmp_path / "r.xml"
    tool = os.path.join(os.path.dirname(qemu.__file__), "..", "vtdlab")
    output = tmp_path / "tool.out"
    with open(output, "w") as out:
        p = subprocess.Popen([sys.executable, tool, "run", "-q", "--profile", "no-iommu", "--json", str(report),
                              "--junit", str(junit)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + HANG_S
    while not _qemu_children(p.pid) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    qemus = _qemu_children(p.pid)
    assert qemus, f"QEMU never started (tool exit {p.poll()}): {output.read_text()}"
    p.send_signal(getattr(signal, f"SIG{sig}"))
    assert p.wait(timeout=HANG_S) == 1
    # QEMU's own pid: once the tool is gone, a QEMU left running would be
    # init's child, which asking for the tool's children never finds
    deadline = time.monotonic() + HANG_S
    while any(_running(q) for q in qemus) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [q for q in qemus if _running(q)], f"QEMU {qemus} outlived the tool"
    doc = json.loads(report.read_text())
    assert doc["verdict"] == "fail"
    assert any(f"interrupted by SIG{sig}" in x for x in doc["problems"])
    assert f"interrupted by SIG{sig}" in junit.read_text()


def test_the_deadline_bounds_the_whole_run(tmp_path, capsys):
    report = tmp_path / "r.json"
    # every case of no-iommu: over a second of boot, which the deadline cuts short
    rc, out = run_cli(["--deadline", "0.3", "--json", str(report)], capsys, pvh=True)
    assert rc == 1
    doc = json.loads(report.read_text())
    assert any("passed its --deadline of 0.3 s" in x for x in doc["problems"]), doc["problems"]


def test_a_pattern_that_selects_nothing_says_why(capsys):
    rc, out = run_cli(["--tests", "self*"], capsys, pvh=True)
    assert rc == 1
    assert "no test case ran: vtdlab: no test case matches tests=self* (suites that run only when a pattern " \
           "starts with their name: bench_unmap, selftest, bench_scaling, bench_collateral, bench_queue)" in out


def test_an_entry_change_is_one_index_invalidation_before_the_new_vector(tmp_path, capsys):
    """QEMU's own trace of the interrupt-remapping case that changes an
    entry's vector: a global invalidation when the table is set, then for
    each write of entry 5 one index-selective interrupt-entry-cache
    invalidation of index 5, before the MSI remapped through it, which
    carries the old vector (0x46) and then the new one (0x47)."""
    log = tmp_path / "serial.log"
    rc = cli.main(["run", "-q", "--pvh", "--profile", "default", "--log", str(log),
                   "--tests", "intremap.vector_change_with_index_invalidation_takes_effect",
                   "--qemu-arg", "-trace", "--qemu-arg", "vtd_ir_remap",
                   "--qemu-arg", "-trace", "--qemu-arg", "vtd_inv_desc_iec"])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    trace = [l for l in (tmp_path / "serial.log.qemu-stderr").read_text().splitlines()
             if l.startswith(("vtd_ir_remap ", "vtd_inv_desc_iec "))]
    assert trace == [
        "vtd_inv_desc_iec granularity 0x0 index 0x0 mask 0x0",
        "vtd_inv_desc_iec granularity 0x1 index 0x5 mask 0x0",
        "vtd_ir_remap index 5 trigger 0 vector 70 deliver 0 dest 0x0 mode 0",
        "vtd_inv_desc_iec granularity 0x1 index 0x5 mask 0x0",
        "vtd_ir_remap index 5 trigger 0 vector 71 deliver 0 dest 0x0 mode 0",
    ], trace


def _translation_on(trace):
    """The switch of every address space that turns translation on, as
    QEMU traced it: the devices it switched and the memory-map rebuilds
    (flatview_new) between them and after, up to the next switch."""
    start = next(i for i, l in enumerate(trace) if l.startswith("vtd_switch_address_space_all ")
                 and "iommu enabled=1" in trace[i + 1])
    burst = []
    for l in trace[start + 1:]:
        if l.startswith("vtd_switch_address_space_all "):
            break
        if l.startswith("vtd_switch_address_space "):
            burst.append("switch")
        elif l.startswith("flatview_new "):
            burst.append("rebuild")
    return trace[start], burst


@pytest.mark.parametrize("batch", ["on", "off"])
def test_translation_switched_on_rebuilds_the_memory_maps_once(tmp_path, capsys, batch):
    """Patch 0017 (x-switch-batch): the fixture's GCMD.TE switches every
    device's address space, and QEMU rebuilds the memory maps once, after
    the last device; =off is the control, Debian's QEMU's way: a rebuild
    after each device's regions."""
    log = tmp_path / "serial.log"
    rc = cli.main(["run", "-q", "--pvh", "--profile", "default", "--log", str(log),
                   "--tests", "sva.dma_through_kernel_va_4k",
                   "--qemu-arg", "-trace", "--qemu-arg", "vtd_switch_address_space*",
                   "--qemu-arg", "-trace", "--qemu-arg", "flatview_new",
                   "--qemu-arg", "-global", "--qemu-arg", f"intel-iommu.x-switch-batch={batch}"])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    all_line, burst = _translation_on((tmp_path / "serial.log.qemu-stderr").read_text().splitlines())
    devices = burst.count("switch")
    assert devices >= 3 and f"switching {devices} address spaces (in one memory transaction={int(batch == 'on')})" \
        in all_line, all_line
    if batch == "on":
        # every device switched, then the rebuilds of one transaction
        assert burst[:devices] == ["switch"] * devices and "rebuild" in burst[devices:], burst
    else:
        # each device's switch rebuilds the maps before the next one's
        assert all(burst[i + 1] == "rebuild" for i, x in enumerate(burst) if x == "switch"), burst


def test_the_console_follows_the_spcr_and_the_cmdline_overrides_it(capsys):
    """The spcr-com2 profile reads COM2 only, which its SPCR table names: the
    run passes there; with console=com1 the kernel writes to COM1, which goes
    nowhere, and the run sees no KTAP at all (the negative control)."""
    rc = cli.main(["run", "-q", "--pvh", "--profile", "spcr-com2", "--tests", "boot.memory_map"])
    out = capsys.readouterr()
    assert rc == 0, out.out + out.err
    rc = cli.main(["run", "-q", "--pvh", "--profile", "spcr-com2", "--tests", "boot.memory_map",
                   "--cmdline", "console=com1", "--timeout", "20"])
    out = capsys.readouterr()
    assert rc == 1
    assert "before any KTAP output" in out.out + out.err
