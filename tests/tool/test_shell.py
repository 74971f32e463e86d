"""The kernel's shell under QEMU, driven through the session `vtdlab shell
--cmd` runs (vtdlabtool/shell.py): one PVH boot per profile, every
command's answer checked against what the case run before it set up
(keep=1 leaves it up), against the host's build of the same decoders
(`vtdlab decode`), and against memory read back with `mem`; every bad input
gets its one-line error, and the shell still answers after them."""
import json
import os
import re
import subprocess
from dataclasses import asdict

import pytest

from vtdlabtool import cli, qemu, shell

KERNEL_VMA_BASE = 0xffffffff80000000   # boot/boot_info.h
PAGE = 4096
# vtd_legacy.dma_through_4k_leaves maps its source page at this IOVA
# (FIXTURE_IOVA + 1 GiB, for 4 KiB leaves) read-only and the page after it
# read-write, and fills the source with this pattern (tests/kernel/vtd_legacy.c).
LEGACY_IOVA = 0x80000000
LEGACY_PATTERN0 = 0x9e3779b97f4a7c15
SVA_PASID = 1
EDU = "00:04.0"

BAD_INPUT = {
    "bogus": "unknown command 'bogus' (help lists them)",
    "regs": "regs takes UNIT",
    "regs 7": "no unit 7 (the DMAR lists 1)",
    "regs x": "'x' is not a unit number",
    "context 00:09.0": "no PCI function 00:09.0 (pci lists them)",
    "context 0:4": "'0:4' is not a PCI address BB:DD.F",
    "context 00:20.0": "'00:20.0' is not a PCI address BB:DD.F",
    "pasid 00:04.0 0x100000": "PASID 1048576 is past the 20 bits a PASID has",
    "walk 00:04.0": "walk takes BB:DD.F IOVA, or BB:DD.F PASID VA",
    "walk 00:04.0 12q": "address '12q' is not a number",
    "mem 0xfed90000 8": "0xfed90000..0xfed90007 is not RAM in the memory map: not read",
    "mem 0 0": "length 0: give 1 to 4096 bytes",
    "irte 0 99999": "index 99999 is past the table's",
    "run boot.*": "unit 0 is in use (GSTS 0x",      # keep=1 left it on
    "trace qi maybe": "trace qi takes on or off, not 'maybe'",
    "trace dma on": "trace knows qi and mmio, not 'dma'",
    "mem 0x1000 0x1ffffffffffffffff": "length '0x1ffffffffffffffff' does not fit in 64 bits",
    "a b c d e f g h i": "more than 8 words",
    "x" * 200: "a line longer than 127 characters: dropped",
}


def session(tmp_path, profile, tests):
    cmd = shell.qemu_command(profile, tests, None, True, [], None)
    return shell.Session(str(tmp_path / f"{profile}.log"), cmd=cmd)


def ask(s, commands):
    answers = s.run(commands)
    assert [a.cmd for a in answers] == commands
    return {a.cmd: asdict(a) for a in answers}


def host_decode(*words):
    """The host's build of the kernel's decoders (what `vtdlab decode` runs)."""
    p = subprocess.run([cli.DECODE, "--json", *words], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["fields"]


def mem_qwords(answer):
    data = bytes(int(b, 16) for line in answer["lines"] for b in line.split(":", 1)[1].split())
    return [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]


def line_with(answer, words):
    return next((l for l in answer["lines"] if words in l), None)


def check_bad_input(answers, survivor):
    for cmd, message in BAD_INPUT.items():
        a = answers[cmd]
        assert a["error"] and a["error"].startswith(message), (cmd, a)
        assert len(a["lines"]) == 1, (cmd, a["lines"])        # one line, nothing else
    assert survivor["error"] is None and survivor["lines"], survivor   # still there after them


def check_registers(answers):
    regs = answers["regs 0"]["lines"]
    cap = int(re.search(r"CAP\s+0x008 = 0x([0-9a-f]+)", "\n".join(regs)).group(1), 16)
    ecap = int(re.search(r"ECAP\s+0x010 = 0x([0-9a-f]+)", "\n".join(regs)).group(1), 16)
    # the kernel's decoders and the host's build of them agree field by field
    assert answers["cap 0"]["entries"][0]["fields"] == host_decode("cap", hex(cap))
    assert answers["ecap 0"]["entries"][0]["fields"] == host_decode("ecap", hex(ecap))
    return cap, ecap


@pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="build/kernel.elf is not built (make)")
def test_shell_on_the_default_profile(tmp_path):
    kva = KERNEL_VMA_BASE + PAGE
    cmds = ["help", "units", "regs 0", "cap 0", "ecap 0", "root 0", f"context {EDU}", f"pasid {EDU} {SVA_PASID}",
            f"walk {EDU} {SVA_PASID} {hex(kva)}", f"walk {EDU} 0x1000", f"walk {EDU} 7 0x1000", "iq 0",
            "faults 0", "irte 0", "pci", "dmar"]
    s = session(tmp_path, "default", "sva.dma_through_kernel_va_4k")
    with s:
        answers = ask(s, cmds)
        log = open(s.log_path).read()
        kernel_base = int(re.search(r"kernel at 0x([0-9a-f]+)", log).group(1), 16)
        pe = answers[f"pasid {EDU} {SVA_PASID}"]["entries"][1]
        more = ask(s, [f"mem {hex(pe['pa'])} 16"] + list(BAD_INPUT) + ["units", "regs 0"])
    assert "# keep=1: unit at 0xfed90000 left up for the shell" in log

    assert all(line_with(answers["help"], c) for c in ("units", "context", "walk", "iq", "faults", "mem PA LEN"))
    assert re.search(r"scalable, first stage, PASID, queue.*GSTS 0x[0-9a-f]+ \( TES RTPS QIES",
                     answers["units"]["lines"][0])
    check_registers(answers)
    assert "scalable mode; root table set (RTPS), translation on (TES)" in answers["root 0"]["lines"][0]

    root, ctx = answers[f"context {EDU}"]["entries"]
    assert root["what"] == "scalable root entry" and root["fields"]["LP"] == 1
    assert ctx["what"] == "scalable context entry"
    assert ctx["pa"] == (root["fields"]["LCTP"] << 12) + 0x20 * 32     # devfn 00:04.0 = 0x20
    assert ctx["fields"]["P"] == 1 and ctx["fields"]["PASIDE"] == 1
    dirent, pe = answers[f"pasid {EDU} {SVA_PASID}"]["entries"]
    assert dirent["pa"] == ctx["fields"]["PASIDDIRPTR"] << 12            # directory entry 0
    assert pe["pa"] == (dirent["fields"]["SMPTBLPTR"] << 12) + SVA_PASID * 64
    assert pe["fields"]["P"] == 1 and pe["fields"]["PGTT"] == 1           # first stage: the kernel's tables

    # SVA bound the kernel's own tables: a kernel text VA reaches the image
    walk = answers[f"walk {EDU} {SVA_PASID} {hex(kva)}"]
    assert walk["walk"][0]["pa"] == (pe["fields"]["FLPTR"] << 12) + 511 * 8
    assert [lv["level"] for lv in walk["walk"]] == ["PML4E", "PDPTE", "PDE", "PTE"]
    assert walk["reaches"] == kernel_base + PAGE
    rid = answers[f"walk {EDU} 0x1000"]
    assert rid["lines"][0] == f"a request without PASID uses RID_PASID {ctx['fields']['RID_PASID']}"
    assert line_with(answers[f"walk {EDU} 7 0x1000"], "the PASID entry is not present")

    iq = answers["iq 0"]["lines"]
    assert iq[0].startswith("queue on (GSTS.QIES=1)")
    at_head = next(i for i, l in enumerate(iq) if "<- IQH" in l)
    assert " wait " in iq[at_head - 1], iq     # the case's last batch ended with its wait
    faults = answers["faults 0"]["lines"]
    assert faults[-1] == f"{sum(1 for l in faults if l.startswith('record '))} record(s) pending"
    assert answers["irte 0"]["lines"][0].startswith("IRTA 0x")
    edu = line_with(answers["pci"], "0000:00:04.0 1234:11e8")
    assert edu and "MSI" in edu and "unit 0, requester id 00:04.0" in edu
    assert line_with(answers["dmar"], "DRHD 0: registers at 0xfed90000")

    # mem reads what the unit reads: the PASID entry; then the bad input
    assert mem_qwords(more[f"mem {hex(pe['pa'])} 16"]) == pe["qwords"][:2]
    check_bad_input(more, more["units"])
    # nothing the commands did wrote to the unit: every register reads as before
    assert more["regs 0"]["lines"] == answers["regs 0"]["lines"]
    assert "# vtdlab: done (exit code 0x10)" in open(s.log_path).read()   # exit left the shell


@pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="build/kernel.elf is not built (make)")
def test_shell_on_the_legacy_profile(tmp_path):
    src, dst, hole = hex(LEGACY_IOVA), hex(LEGACY_IOVA + PAGE), hex(LEGACY_IOVA + 2 * PAGE)
    first = ["units", "regs 0", "cap 0", "ecap 0", "root 0", f"context {EDU}", f"walk {EDU} {src}",
             f"walk {EDU} {dst}", f"walk {EDU} {hole}", f"pasid {EDU} 1", "iq 0", "faults 0"]
    s = session(tmp_path, "legacy", "vtd_legacy.dma_through_4k_leaves")
    with s:
        answers = ask(s, first)
        reached = [answers[f"walk {EDU} {x}"]["reaches"] for x in (src, dst)]
        assert all(reached), answers[f"walk {EDU} {src}"]
        mem = ask(s, [f"mem {hex(x)} 32" for x in reached] + list(BAD_INPUT) + ["units", "regs 0"])
    assert "translation on (TES)" in answers["root 0"]["lines"][0] and "legacy mode" in answers["root 0"]["lines"][0]
    check_registers(answers)
    root, ctx = answers[f"context {EDU}"]["entries"]
    assert root["what"] == "root entry" and ctx["what"] == "context entry"
    assert ctx["pa"] == (root["fields"]["CTP"] << 12) + 0x20 * 16
    # the host's decoder of the same qwords says the same
    assert ctx["fields"] == host_decode("context", *map(hex, ctx["qwords"]))
    assert ctx["fields"]["P"] == 1 and ctx["fields"]["TT"] == 0 and ctx["fields"]["AW"] == 2
    w_src, w_dst = answers[f"walk {EDU} {src}"], answers[f"walk {EDU} {dst}"]
    assert [lv["level"] for lv in w_src["walk"]] == ["SL-PML4E", "SL-PDPE", "SL-PDE", "SL-PTE"]
    assert w_src["walk"][0]["pa"] == ctx["fields"]["SLPTPTR"] << 12
    assert w_src["walk"][-1]["entry"] & 3 == 1 and w_dst["walk"][-1]["entry"] & 3 == 3   # read-only, then RW
    assert w_src["reaches"] and w_dst["reaches"] and w_src["reaches"] != w_dst["reaches"]
    assert line_with(answers[f"walk {EDU} {hole}"], "stops at the SL-PTE: not present")
    assert answers[f"pasid {EDU} 1"]["error"].startswith("unit 0 is in legacy mode")
    assert answers["iq 0"]["lines"][0].startswith("queue off")
    # the control for test_shell_attach's pending fault: the case here
    # faults nowhere, and faults says none is pending
    assert answers["faults 0"]["lines"] == [
        "FSTS 0x00000000: PFO 0, PPF 0, IQE 0, ICE 0, ITE 0, FRI 0; 1 fault recording registers", "0 record(s) pending"]

    # the frames the walks reach hold what the case's DMA moved: the
    # source's pattern, copied by the device into the destination
    want = [LEGACY_PATTERN0 + i for i in range(4)]
    assert mem_qwords(mem[f"mem {hex(w_src['reaches'])} 32"]) == want
    assert mem_qwords(mem[f"mem {hex(w_dst['reaches'])} 32"]) == want
    check_bad_input(mem, mem["units"])
    assert mem["regs 0"]["lines"] == answers["regs 0"]["lines"]   # the reads wrote nothing


def test_cli_prints_answers_and_refuses_mixed_targets(capsys):
    answers = [shell.decode("context 00:04.0", ["context entry at 0x1000: 0x0000000000510001 0x0000000000000102",
                                                "  P       qw0 [0:0] = 0x1 (present)",
                                                "  DID     qw1 [23:8] = 0x1 (domain id)"]),
               shell.decode("regs 9", ["error: no unit 9 (the DMAR lists 1)"])]
    shell.print_answers(answers, True)
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["entries"] == [{"what": "context entry", "pa": 0x1000, "qwords": [0x510001, 0x102],
                                  "fields": {"P": 1, "DID": 1}}]
    assert doc[1]["error"] == "no unit 9 (the DMAR lists 1)"
    assert cli.main(["shell", "--serial", "/dev/null", "--profile", "legacy", "--cmd", "units"]) == 2
    assert "--serial talks to a machine already at its prompt" in capsys.readouterr().err
    assert cli.main(["run", "--profile", "legacy", "--cmdline", "shell=1"]) == 2
    assert "use 'vtdlab shell'" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="build/kernel.elf is not built (make)")
def test_shell_runs_cases_with_their_ktap_apart(tmp_path):
    """run GLOB (on a unit no case left on: legacy-aw39, nothing kept): the
    cases' KTAP on the shell's lines, so the boot's own log still parses
    as the run it was (no case); trace qi on adds the queue's descriptors
    to the next run (and the run before it, the control, has none). The
    boot has shell=auto, the USB image's: the session presses its key."""
    case = "vtd_qi.batch_behind_one_wait"      # 64 page-selective IOTLB invalidations behind one wait
    s = shell.Session(str(tmp_path / "legacy-aw39.log"),
                      cmd=shell.qemu_command("legacy-aw39", None, None, False, [], None, auto=True))
    with s:
        # the second run carries two trailing spaces, which the shell
        # ignores: the same command under its own key in the answers
        answers = ask(s, [f"run {case}", "trace qi on", f"run {case}  ", "trace", "run", "units"])
    untraced, traced = answers[f"run {case}"], answers[f"run {case}  "]
    for a in (untraced, traced):
        assert [(r["name"], r["status"]) for r in a["results"]] == [(case, "pass")]
    assert not [l for l in untraced["lines"] if l.startswith("# qi:")]
    qi = [l for l in traced["lines"] if l.startswith("# qi:")]
    assert len(qi) == 66 and all(" IOTLB gran 3 DID 1 addr " in l for l in qi[:64]), qi
    assert all(" wait SW " in l for l in qi[64:]), qi[64:]
    assert answers["trace"]["lines"] == ["trace for run: qi on, mmio off"]
    assert answers["run"]["error"] == "run takes GLOBS (as tests= takes them)"
    assert answers["units"]["lines"][0].startswith("unit 0 at 0xfed90000")
    from vtdlabtool import serial_log
    sr = serial_log.merge(open(s.log_path).read().splitlines(), "log")
    assert sr.run.cases == [] and sr.run.boots == 1          # the shell's KTAP is not the boot's
    log = open(s.log_path).read()
    assert "# vtdlab: shell: press a key on the serial console within 5 s for a shell (shell=auto)\n" \
           "# vtdlab: shell: ready" in log


# shell=auto's wait in the tests, and what a wait may overshoot it by: the
# kernel polls for the key with udelay, which with interrupts on halts to
# the next tick of its 100 Hz timer (kernel/clock.c); five ticks' margin.
AUTO_WAIT_MS = 100
TICK_MS = 10
WAIT_MARGIN_MS = 5 * TICK_MS


def boot_without_terminal(tmp_path, name, cmdline):
    """A PVH boot of the legacy profile with nothing on QEMU's stdin, as
    `vtdlab run` boots; its log lines. The profile runs under icount with
    sleep=off: a halted CPU skips ahead to its next timer, so the guest's
    clock measures its waits in virtual time, which a busy host does not
    stretch, and the wait costs no host time."""
    profile = qemu.get_profile("legacy")
    cmd = qemu.build_command(profile, None, qemu.KERNEL_ELF, pvh_cmdline=cmdline,
                             binary=qemu.find_qemu(profile, None))
    b = qemu.run_boot(cmd, str(tmp_path / f"{name}.log"), 120, 60)
    assert b.exit_code == qemu.EXIT_DONE and not b.hang, (b.exit_code, b.hang, b.text[-500:])
    return b.text.splitlines()


@pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="build/kernel.elf is not built (make)")
def test_shell_auto_without_a_key_ends_the_run_as_usual(tmp_path):
    """shell=auto after a case (interrupts on), no key (QEMU's stdin is
    empty): the kernel says it waits and how long, waits that long by its
    clock (it said how long it waited), says no key came, and the run ends
    as any run does. (A key gives the prompt:
    test_shell_runs_cases_with_their_ktap_apart.)"""
    lines = boot_without_terminal(tmp_path, "auto", f"tests=boot.memory_map shell=auto shell_wait_ms={AUTO_WAIT_MS}")
    assert lines[-3] == f"# vtdlab: shell: press a key on the serial console within {AUTO_WAIT_MS} ms for a " \
                        "shell (shell=auto)", lines[-6:]
    waited = re.fullmatch(r"# vtdlab: shell: no key pressed in (\d+) ms", lines[-2])
    assert waited, lines[-6:]
    assert AUTO_WAIT_MS <= int(waited.group(1)) < AUTO_WAIT_MS + WAIT_MARGIN_MS, lines[-2]
    assert lines[-1] == "# vtdlab: done (exit code 0x10)"
    assert not [l for l in lines if shell.READY_MARK in l or shell.PROMPT in l]
    from vtdlabtool import serial_log
    run = serial_log.merge(lines, "log").run
    assert run.ok and [(c.full_name, c.status) for c in run.cases] == [("boot.memory_map", "pass")], run.problems


@pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="build/kernel.elf is not built (make)")
def test_a_run_that_asks_for_no_shell_has_no_wait_and_no_prompt(tmp_path):
    """The control: the same boot without shell=. Nothing of the shell's,
    no offer to wait, no prompt: the totals, then done."""
    lines = boot_without_terminal(tmp_path, "plain", "tests=boot.memory_map")
    assert not [l for l in lines if "vtdlab: shell" in l or shell.PROMPT in l or shell.AUTO_MARK in l]
    assert lines[-1] == "# vtdlab: done (exit code 0x10)", lines[-4:]


def test_only_the_usb_image_waits_for_a_key():
    """shell=auto is on the USB stick's cmdline (a person at the machine),
    on no other image make builds."""
    esp, usb = (os.path.join(qemu.BUILD, n) for n in ("cmdline", "usb-cmdline"))
    if not (os.path.isfile(esp) and os.path.isfile(usb)):
        pytest.skip("the images' cmdline files are not built (make)")
    assert "shell=auto" in open(usb).read().split()
    assert not [w for w in open(esp).read().split() if w.startswith("shell=")]
