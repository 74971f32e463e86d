"""One kernel run: boots QEMU until every selected case has run (a crashed
case's boot is resumed after it, up to MAX_BOOTS), merges the boots'
results, checks them against the expectations and writes the reports.
`vtdlab run` and `vtdlab bench` both run through here."""
from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from . import ktap, qemu, verdict

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_SILENCE_S = 60.0
MAX_BOOTS = 8
EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2
# What the kernel says when tests= selected nothing (harness/harness.c).
NO_CASE_MARK = "no test case matches"


@dataclass
class Options:
    profile: str = "default"
    tests: Optional[str] = None           # the kernel's tests= globs; None: its default
    cmdline: Optional[str] = None         # more kernel cmdline
    pvh: bool = False                     # kernel.elf through its PVH entry, no firmware
    usb: bool = False                     # the USB image through usb-storage
    image: Optional[str] = None
    firmware: Optional[str] = None
    qemu_args: List[str] = field(default_factory=list)
    log: Optional[str] = None
    junit: Optional[str] = None
    json: Optional[str] = None
    expected: Optional[Dict[str, str]] = None   # suite.case -> outcome; when given, every case must be in it
    expected_source: str = ""
    timeout: float = DEFAULT_TIMEOUT_S
    deadline: Optional[float] = None
    silence: float = DEFAULT_SILENCE_S
    screendump: Optional[str] = None
    quiet: bool = False                   # no echo of the serial log
    verbose: bool = False                 # print the QEMU command
    summary: bool = True                  # print the verdict at the end
    qemu: Optional[str] = None            # vtdlab or stock: overrides the profile's choice
    kernel: Optional[str] = None          # a sanitized build (qemu.KERNEL_VARIANTS), through PVH


def _err(msg: str) -> None:
    print(f"vtdlab: error: {msg}", file=sys.stderr)


def write(path: Optional[str], text: str) -> None:
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def summarize(run: verdict.RunResult, out=None) -> None:
    out = out or sys.stdout
    c = run.counts()
    print(f"vtdlab: profile {run.profile}: {run.boots} boot(s), {run.seconds:.1f} s: "
          f"{c['pass']} pass, {c['xfail']} expected failures, {c['skip']} skip, {c['fail']} fail, "
          f"{c['timeout']} timeout, {c['error']} error", file=out)
    for r in run.cases:
        if r.status not in ktap.GOOD:
            print(f"  {r.status.upper():8} {r.full_name}: {r.reason}", file=out)
    for p in run.problems:
        print(f"  PROBLEM  {p}", file=out)
    for n in run.notes:
        print(f"  NOTE     {n}", file=out)
    print(f"{run.passed} passed, {run.failed} failed, {run.skipped} skipped", file=out)


def run(o: Options) -> Tuple[int, Optional[verdict.RunResult]]:
    """Boots until the run is complete: (exit status, the verdict), the
    verdict None when the run could not start."""
    try:
        if o.pvh and (o.usb or o.image or o.firmware):
            raise qemu.SetupError("--pvh boots build/kernel.elf without firmware: it takes no --usb, --image "
                                  "or --firmware")
        if o.kernel and not o.pvh:
            raise qemu.SetupError(f"--kernel {o.kernel} boots build/{o.kernel}/kernel.elf directly: it needs --pvh "
                                  "(the images hold build/kernel.elf)")
        elf = qemu.kernel_elf(o.kernel)
        profile = qemu.get_profile(o.profile)
        firmware = None if o.pvh else qemu.find_firmware(o.firmware)
        binary = qemu.find_qemu(profile, o.qemu)
        if o.pvh and not os.path.isfile(elf):
            raise qemu.SetupError(f"'{elf}' does not exist; run 'make" + (" sanitizers'" if o.kernel else "'"))
    except qemu.SetupError as e:
        _err(str(e))
        return EXIT_SETUP, None
    base_cmdline = " ".join(x for x in (f"tests={o.tests}" if o.tests else "", o.cmdline or "",
                                        f"screen_hold_ms={qemu.SCREEN_HOLD_MS}" if o.screendump else "") if x)
    source = elf if o.pvh else o.image or (qemu.USB_IMAGE if o.usb else qemu.ESP_IMAGE)
    top = qemu.BUILD if os.path.isdir(qemu.BUILD) else tempfile.gettempdir()
    _remove_dead_runs(top)
    # The pid is in the name from the moment the directory exists: a pid
    # file written after mkdtemp left a window in which another tool's
    # _remove_dead_runs took the new directory for a dead run's.
    workdir = tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-", dir=top)
    try:
        return _run_boots(o, profile, binary, firmware, base_cmdline, source, workdir)
    finally:
        # The run's copy of the image goes on every exit path.
        shutil.rmtree(workdir, ignore_errors=True)



RUN_DIR_PREFIX = "vtdlab-run-"


def _run_dir_pid(name: str) -> Optional[int]:
    """The pid a run directory's name carries (vtdlab-run-<pid>-<random>),
    None for a name without one."""
    pid = name[len(RUN_DIR_PREFIX):].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def _remove_dead_runs(top: str) -> None:
    """Run directories whose tool died without cleaning up (SIGKILL): the
    pid their name carries is gone. Those of runs still going are left
    alone; a name without a pid is an older tool's leftover."""
    for name in os.listdir(top):
        if not name.startswith(RUN_DIR_PREFIX):
            continue
        pid = _run_dir_pid(name)
        if pid is None or not _alive(pid):
            shutil.rmtree(os.path.join(top, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _default_log(profile: str) -> str:
    """Without --log, the latest run of each profile keeps its log here."""
    d = os.path.join(qemu.BUILD if os.path.isdir(qemu.BUILD) else tempfile.gettempdir(), "runs")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"{profile}.log")


def _screendump_on_mark(monitor: str, out: str, show, run):
    """An on_line callback: echoes as show does, and once the kernel says
    its summary is on the screen, has QEMU dump the screen to out."""
    def on_line(line: str) -> None:
        if show:
            show(line)
        if qemu.SCREEN_SUMMARY_MARK in line:
            try:
                qemu.screendump(monitor, out)
            except (OSError, qemu.SetupError) as e:
                run.problems.append(f"no screendump: {e}")
    return on_line


def _run_boots(o: Options, profile, binary, firmware, base_cmdline, source, workdir) -> Tuple[int, verdict.RunResult]:
    """Boots until the run is complete (resuming after a crashed case); the
    JUnit and JSON reports are written however it ends, with the reason."""
    log_path = o.log or _default_log(o.profile)
    run = verdict.RunResult(profile=o.profile)
    start = time.monotonic()
    deadline = start + o.deadline if o.deadline else None
    resume = 0
    exit_code = None   # set when the run could not go on: setup or loader error
    last_lines: List[str] = []
    show = (lambda line: print(line, flush=True)) if not o.quiet else None

    def stop(problem: str, code: int, message: Optional[str] = None) -> None:
        nonlocal exit_code
        _err(message or problem)
        run.problems.append(problem)
        exit_code = code

    try:
        for boot_no in range(1, MAX_BOOTS + 1):
            cmdline = " ".join(x for x in (base_cmdline, f"resume={resume}" if resume else "") if x)
            timeout = o.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    run.problems.append(f"the run passed its --deadline of {o.deadline:g} s")
                    break
            try:
                # A direct boot reads kernel.elf as it is; a UEFI boot its
                # own copy of the image, with this boot's cmdline in it.
                image = source if o.pvh else qemu.prepare_image(source, workdir, cmdline, o.usb)
            except qemu.SetupError as e:
                stop(str(e), EXIT_SETUP)
                break
            extra = list(o.qemu_args)
            on_line = show
            if o.screendump:
                monitor = os.path.join(workdir, "monitor.sock")
                extra += ["-monitor", f"unix:{monitor},server=on,wait=off"]
                on_line = _screendump_on_mark(monitor, os.path.abspath(o.screendump), show, run)
            cmd = qemu.build_command(profile, firmware, image, o.usb, extra,
                                     pvh_cmdline=cmdline if o.pvh else None, binary=binary)
            if o.verbose:
                print("vtdlab: " + " ".join(shlex.quote(x) for x in cmd), file=sys.stderr)
            this_log = log_path if boot_no == 1 else f"{log_path}.boot{boot_no}"
            boot = qemu.run_boot(cmd, this_log, timeout, o.silence, on_line)
            log = ktap.parse(boot.text)
            last_lines = log.lines
            if boot.exit_code not in (qemu.EXIT_DONE, qemu.EXIT_BAD_CMDLINE, qemu.EXIT_PANIC, 0) \
                    and not log.started and boot.stderr.strip():
                stop(f"QEMU failed (exit {boot.exit_code}): {boot.stderr.strip().splitlines()[-1]}", EXIT_SETUP)
                break
            if log.cmdline_error:
                stop(f"the kernel rejected the cmdline '{cmdline}': {log.cmdline_error}", EXIT_SETUP)
                break
            if log.loader_error:
                stop(f"the UEFI loader stopped: {log.loader_error}", EXIT_FAILED,
                     f"the UEFI loader stopped: {log.loader_error} (log: {this_log})")
                break
            if boot.hang and deadline is not None and time.monotonic() >= deadline:
                boot.hang = f"the run passed its --deadline of {o.deadline:g} s"
            problem = verdict.boot_problem(log, boot.exit_code, boot.hang)
            resume = verdict.add_boot(run, log, boot_no, problem)
            if resume is None:
                break
            print(f"vtdlab: boot {boot_no} crashed in {log.running} ({problem}); "
                  f"rebooting to go on from case {resume}", file=sys.stderr)
        else:
            run.problems.append(f"gave up after {MAX_BOOTS} boots")
    except qemu.Interrupted as e:
        run.problems.append(f"interrupted by {e} before the run ended (QEMU stopped)")
        exit_code = EXIT_FAILED
    run.seconds = time.monotonic() - start
    if run.cases:
        # Beside every boot's log, the run as one document (what a resumed
        # run's separate logs cannot be for a KTAP parser).
        write(log_path + ".ktap", verdict.to_ktap(run))
    if o.expected is not None:
        verdict.apply_expectations(run, o.expected, complete=exit_code is None, source=o.expected_source)
    if not run.cases and not run.problems:
        why = next((l.strip("# ") for l in last_lines if NO_CASE_MARK in l), "")
        run.problems.append("no test case ran" + (f": {why}" if why else ""))
    write(o.junit, verdict.to_junit(run))
    write(o.json, verdict.to_json(run))
    if exit_code is not None:
        if not o.quiet and o.summary:
            summarize(run)
        return exit_code, run
    if o.summary:
        if not o.quiet or not run.ok:
            print(f"vtdlab: serial log: {log_path}")
        summarize(run)
    return (EXIT_OK if run.ok else EXIT_FAILED), run


