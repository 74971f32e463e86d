"""vtdlab command line: run, parse, debug, bench-boot, profiles.

Exit status: 0 when every case passed or skipped (or failed exactly as an
expectations file says), 1 when anything failed, crashed or hung, 2 when
the run could not start (bad arguments, missing QEMU, firmware or image).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import List, Optional

from . import bench, hwreport, ktap, lava, qemu, run, runs, serial_log, shell, verdict, watch
from .run import DEFAULT_SILENCE_S, DEFAULT_TIMEOUT_S, EXIT_FAILED, EXIT_OK, EXIT_SETUP, summarize
from .run import _err, write as _write


def _load_expectations(path: Optional[str]) -> dict:
    if not path:
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise qemu.SetupError(f"cannot read expectations '{path}': {e}")
    if not isinstance(data, dict):
        raise qemu.SetupError(f"expectations '{path}': not a JSON object of suite.case -> outcome")
    bad = {k: v for k, v in data.items() if not isinstance(v, str) or verdict.parse_expectation(v) is None}
    if bad:
        raise qemu.SetupError(f"expectations '{path}' name unknown outcomes (want one of "
                              f"{', '.join(verdict.OUTCOMES)}, optionally 'outcome: reason prefix'): {bad}")
    return data


def cmd_run(a) -> int:
    if a.serial:
        # a real machine instead of QEMU: what watch does
        if a.run or a.profile or a.tests or a.cmdline or a.qemu_arg or a.pvh or a.usb or a.image or a.screendump:
            _err("run --serial reads a real machine's port: it takes no --run, --profile, --tests, --cmdline, "
                 "--qemu-arg, --pvh, --usb, --image or --screendump (the machine's cmdline is on its stick)")
            return EXIT_SETUP
        a.report = a.output = None
        return cmd_watch(a)
    try:
        options = _run_options(a)
    except (qemu.SetupError, runs.RunsError) as e:
        _err(str(e))
        return EXIT_SETUP
    return run.run(options)[0]


def _run_options(a) -> run.Options:
    """The run's options from the arguments; with --run, from runs.json
    (--tests narrows the run's selection, --cmdline adds to its own,
    --pvh boots it without firmware) with the expectations its cases
    resolve to."""
    o = run.Options(profile=a.profile or "default", tests=a.tests, cmdline=a.cmdline, pvh=a.pvh, usb=a.usb,
                    image=a.image, firmware=a.firmware, qemu_args=list(a.qemu_arg), log=a.log, junit=a.junit,
                    json=a.json, timeout=a.timeout, deadline=a.deadline, silence=a.silence,
                    screendump=a.screendump, quiet=a.quiet, verbose=a.verbose, qemu=a.qemu, kernel=a.kernel)
    if a.run:
        if a.profile or a.usb or a.expect:
            raise qemu.SetupError(f"--run {a.run} sets the profile, how it boots and the expectations: "
                                  "it takes no --profile, --usb or --expect (--pvh boots a UEFI run directly)")
        r = runs.get_run(a.run)
        o.profile, o.pvh, o.usb = r.profile, r.boot == "pvh" or a.pvh, r.boot == "usb" and not a.pvh
        suites = runs.load_suites()
        o.tests = runs.narrow(suites, r, a.tests) if a.tests else r.tests
        o.cmdline = " ".join(x for x in (r.cmdline, a.cmdline) if x) or None
        o.qemu = a.qemu or r.qemu
        o.kernel = a.kernel or r.kernel
        resolved = runs.resolve(suites, r.tag, o.tests or runs.KERNEL_ALL)
        o.expected = {k: v for k, v in resolved.items() if v is not None}
        o.expected_source = f"{os.path.relpath(runs.SUITES)}/<suite>.json (run {r.tag})"
    elif a.expect:
        o.expected, o.expected_source = _load_expectations(a.expect), a.expect
    if any(w.startswith("shell=") and w != "shell=0" for w in (o.cmdline or "").split()):
        raise qemu.SetupError("a run has no terminal for the kernel's shell (shell= on --cmdline): use "
                              "'vtdlab shell', which boots it with one")
    return o


def cmd_parse(a) -> int:
    try:
        with open(a.log, errors="replace") as f:
            text = f.read()
        expected = _load_expectations(a.expect)
    except (OSError, qemu.SetupError) as e:
        _err(str(e))
        return EXIT_SETUP
    # A log from elsewhere has no exit code: a boot is complete when it has
    # totals; a second KTAP header means the machine reset (serial_log).
    sr = serial_log.merge(text.splitlines(), "log")
    if not any(l.started or l.loader_error or l.cmdline_error or l.panic for l in sr.logs):
        _err(f"'{a.log}' holds no KTAP output (no 'KTAP version' line)" +
             (f"; {sr.noise.note()}" if sr.noise.garbage else ""))
        return EXIT_SETUP
    return finish_serial_run(sr.run, text, a, expected, a.expect, os.path.basename(a.log))


def finish_serial_run(run_result, text: str, a, expected: dict, source: Optional[str], name: str) -> int:
    """What parse and watch end with: expectations (from source, a file
    every case must be listed in), the JUnit and JSON reports, the hardware
    report when asked for, and the verdict."""
    verdict.apply_expectations(run_result, expected, complete=bool(source), source=source or "")
    _write(a.junit, verdict.to_junit(run_result))
    _write(a.json, verdict.to_json(run_result))
    if a.report == "hw":
        page = hwreport.build(text, run_result, source=name)
        if a.output:
            _write(a.output, page)
            print(f"vtdlab: hardware report: {a.output}")
        else:
            print(page)
            return EXIT_OK if run_result.ok else EXIT_FAILED
    summarize(run_result)
    return EXIT_OK if run_result.ok else EXIT_FAILED


def cmd_watch(a) -> int:
    """A real machine's serial port, live: the log streamed to the terminal
    and the log file, then parse's verdict on what arrived."""
    try:
        expected = _load_expectations(a.expect)
        if a.baud <= 0:
            raise qemu.SetupError(f"--baud {a.baud}: give the port's rate in bits per second, e.g. 115200")
        if a.silence <= 0:
            raise qemu.SetupError(f"--silence {a.silence:g}: give a number of seconds above 0")
        log_path = a.log or _default_serial_log(a.serial)
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        show = None if a.quiet else (lambda line: print(line, flush=True))
        w = watch.watch(a.serial, a.baud, log_path, a.silence, a.timeout, show)
    except (qemu.SetupError, OSError) as e:
        _err(str(e))
        return EXIT_SETUP
    # An interrupt is not the machine's doing: the log just ends there.
    sr = serial_log.merge(w.raw_lines, f"serial {a.serial}", None if w.interrupted or w.gave_up else w.end_problem,
                          reset_at_end=w.gave_up)
    if w.gave_up:
        # the machine's doing, but no one case's: its repeats of the cases
        # an earlier boot recorded are dropped, so the run says it
        sr.run.problems.append(f"{w.end_problem}: boot {sr.run.boots} ended in a reset too, and the watch stopped "
                               f"at boot {sr.run.boots + 1}'s KTAP header (not in the log)")
    sr.run.seconds = w.seconds
    if w.interrupted:
        sr.run.problems.append(f"interrupted by {w.interrupted} before the run ended (the port let go)")
    if w.disconnects:
        sr.run.notes.append(f"{a.serial} went away {w.disconnects} time(s) and came back (bytes sent while it "
                            "was gone are lost)")
    if sr.run.cases:
        _write(log_path + ".ktap", verdict.to_ktap(sr.run))
    if not a.quiet:
        print(f"vtdlab: serial log: {log_path}")
    return finish_serial_run(sr.run, "\n".join(w.raw_lines) + "\n", a, expected, a.expect,
                             os.path.basename(log_path))


def cmd_shell(a) -> int:
    """The kernel's shell: booted under QEMU, or on a real machine's port;
    commands from --cmd, else the terminal attached."""
    log_path = a.log or os.path.join(qemu.BUILD if os.path.isdir(qemu.BUILD) else tempfile.gettempdir(), "runs",
                                     f"shell-{a.profile or 'default'}.log" if not a.serial
                                     else f"shell-{os.path.basename(a.serial)}.log")
    try:
        if a.serial and (a.profile or a.tests or a.keep or a.cmdline or a.qemu_arg):
            raise qemu.SetupError("--serial talks to a machine already at its prompt: it takes no --profile, "
                                  "--tests, --keep, --cmdline or --qemu-arg (put shell=1 or shell=auto on the "
                                  "machine's cmdline)")
        cmd = None if a.serial else shell.qemu_command(a.profile or "default", a.tests, a.cmdline, a.keep,
                                                       list(a.qemu_arg), a.qemu)
        if not a.cmd:
            return _shell_attached(a, cmd)
        with shell.Session(log_path, cmd=cmd, device=a.serial, baud=a.baud, boot_wait_s=a.timeout) as session:
            answers = session.run(a.cmd)
    except (qemu.SetupError, OSError) as e:
        _err(str(e))
        return EXIT_SETUP
    except shell.ShellError as e:
        _err(f"{e} (console log: {log_path})")
        return EXIT_FAILED
    shell.print_answers(answers, a.json)
    # a command that was refused makes the exit status say so
    return EXIT_FAILED if any(x.error for x in answers) else EXIT_OK


def _shell_attached(a, cmd) -> int:
    """The terminal on the shell: QEMU's stdio (exit or Ctrl-C leaves QEMU), or
    pyserial's miniterm on the port (Ctrl-] leaves it)."""
    if cmd is not None:
        print("vtdlab: QEMU's serial console on this terminal (exit leaves the shell and QEMU, Ctrl-C ends QEMU)",
              file=sys.stderr)
        try:
            problem = shell.attach_outcome(shell.attach(cmd))
        except qemu.Interrupted as e:
            problem = f"interrupted ({e})"
        if problem:
            try:
                _err(problem)
            except OSError:   # a hangup: the terminal to say it on is gone
                pass
            return EXIT_FAILED
        return EXIT_OK
    watch.import_serial()   # pyserial, or a clear message
    from serial.tools import miniterm  # noqa: E402
    sys.argv = ["miniterm", a.serial, str(a.baud)]
    miniterm.main(default_port=a.serial, default_baudrate=a.baud)
    return EXIT_OK


def _default_serial_log(device: str) -> str:
    """Without --log: build/runs/serial-<device name>.log."""
    d = os.path.join(qemu.BUILD if os.path.isdir(qemu.BUILD) else tempfile.gettempdir(), "runs")
    return os.path.join(d, f"serial-{os.path.basename(device)}.log")


def cmd_debug(a) -> int:
    try:
        profile = qemu.get_profile(a.profile or "default")
        firmware = qemu.find_firmware(a.firmware)
        binary = qemu.find_qemu(profile, a.qemu)
        workdir = tempfile.mkdtemp(prefix="vtdlab-debug-", dir=qemu.BUILD)
        cmdline = " ".join(x for x in (f"tests={a.tests}" if a.tests else "", a.cmdline or "") if x)
        image = qemu.prepare_image(qemu.ESP_IMAGE, workdir, cmdline, False)
    except qemu.SetupError as e:
        _err(str(e))
        return EXIT_SETUP
    log_path = os.path.join(workdir, "serial.log")
    cmd = qemu.build_command(profile, firmware, image, False, a.qemu_arg, gdb=True, binary=binary)
    cmd[cmd.index("stdio")] = f"file:{log_path}"
    print(f"vtdlab: QEMU paused with its gdb stub on :1234; serial log: {log_path}")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=qemu.qemu_env())
    # The kernel is loaded by the firmware, not present at reset: hardware
    # breakpoints survive the load, software ones would be overwritten.
    gdb = ["gdb", "-q", os.path.join(qemu.BUILD, "kernel.elf"),
           "-ex", "target remote :1234", "-ex", f"hbreak {a.break_at}", "-ex", "continue"]
    try:
        return subprocess.call(gdb)
    finally:
        proc.kill()
        proc.wait()
        os.unlink(image)  # the serial log stays for the user


def cmd_bench_boot(a) -> int:
    """Boot cost against the firmware's own: a bare OVMF boot of an EFI
    application that only exits QEMU, side by side with the same run booted
    through UEFI and directly through the PVH entry (no firmware)."""
    try:
        firmware = qemu.find_firmware(a.firmware)
        profile = qemu.get_profile(a.profile)
        binary = qemu.find_qemu(profile, a.qemu)
        empty = os.path.join(qemu.BUILD, "empty.efi")
        if not os.path.isfile(empty):
            raise qemu.SetupError(f"{empty} is missing; run 'make bench-boot'")
    except qemu.SetupError as e:
        _err(str(e))
        return EXIT_SETUP
    workdir = tempfile.mkdtemp(prefix="vtdlab-bench-", dir=qemu.BUILD)
    try:
        return _bench_boot(a, firmware, profile, binary, empty, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _bench_boot(a, firmware, profile, binary, empty, workdir) -> int:
    base = qemu.prepare_image(qemu.ESP_IMAGE, workdir, f"tests={a.tests}", False)
    empty_img = os.path.join(workdir, "empty.img")
    os.rename(base, empty_img)
    subprocess.run(["mcopy", "-o", "-i", empty_img, empty, "::/EFI/BOOT/BOOTX64.EFI"], check=True,
                   env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    image = qemu.prepare_image(qemu.ESP_IMAGE, workdir, f"tests={a.tests}", False)
    results = {"empty_efi": [], "vtdlab": [], "vtdlab_first_ktap": [], "vtdlab_pvh": [], "vtdlab_pvh_first_ktap": []}
    # the same profile (devices, icount) for all: the differences are
    # vtdlab's own and the firmware's
    commands = (("empty_efi", qemu.build_command(profile, firmware, empty_img, binary=binary)),
                ("vtdlab", qemu.build_command(profile, firmware, image, binary=binary)),
                ("vtdlab_pvh", qemu.build_command(profile, firmware, qemu.KERNEL_ELF,
                                                  pvh_cmdline=f"tests={a.tests}", binary=binary)))
    for _ in range(a.runs):
        for name, cmd in commands:
            boot = qemu.run_boot(cmd, os.path.join(workdir, name + ".log"), DEFAULT_TIMEOUT_S, DEFAULT_SILENCE_S)
            results[name].append(boot.seconds)
            if name != "empty_efi" and boot.first_ktap_s is not None:
                results[name + "_first_ktap"].append(boot.first_ktap_s)
    med = {k: statistics.median(v) for k, v in results.items() if v}
    print(f"# firmware: {firmware}")
    for k, v in results.items():
        print(f"# metric boot.{k}_s={med.get(k, 0):.3f} s (runs: {' '.join(f'{x:.3f}' for x in v)})")
    print(f"# metric boot.vtdlab_over_empty_s={med['vtdlab'] - med['empty_efi']:.3f} s")
    print(f"# metric boot.pvh_saves_s={med['vtdlab'] - med['vtdlab_pvh']:.3f} s")
    return EXIT_OK


def cmd_bench(a) -> int:
    try:
        return bench.main(a.iters, a.policies, a.out, a.parse, a.quick)
    except (bench.BenchError, OSError) as e:
        _err(str(e))
        return EXIT_SETUP


def cmd_expectations(a) -> int:
    """An expectations file from a run's JSON report: every case with the
    outcome it had (and a skip's reason), for review before it is kept.
    --fold and --check work on make test's expectations instead."""
    if a.fold or a.check:
        return _suite_expectations(a)
    if not a.report:
        _err("expectations: give a --json report, or --fold or --check")
        return EXIT_SETUP
    try:
        with open(a.report) as f:
            doc = json.load(f)
        cases = doc["cases"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        _err(f"cannot read the JSON report '{a.report}': {e}")
        return EXIT_SETUP
    out = {}
    for c in cases:
        status = c.get("expected") or c["status"]
        if c["status"] == ktap.SKIP and c.get("reason"):
            status = f"skip: {c['reason']}"
        out[c["name"]] = status
    text = json.dumps(out, indent=2) + "\n"
    if a.output:
        _write(a.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _suite_expectations(a) -> int:
    try:
        kernel_runs = runs.load_runs()
        if a.fold:
            written, removed = runs.fold_tree(kernel_runs)
            print(f"vtdlab: folded {len(removed)} per-run file(s) into {len(written)} suite file(s) in "
                  f"{os.path.relpath(runs.SUITES)}")
        problems = runs.check(runs.load_suites(), kernel_runs)
    except runs.RunsError as e:
        _err(str(e))
        return EXIT_SETUP
    for p in problems:
        print(f"vtdlab: expectations: {p}")
    return EXIT_FAILED if problems else EXIT_OK


def cmd_lava_job(a) -> int:
    """A LAVA job definition (YAML) for a machine class, or with --qemu for a
    profile; --write-image puts the class's cmdline into a copy of the USB
    image for the lab to serve."""
    try:
        if a.qemu:
            job = lava.qemu_job(a.profile, a.image_url, a.firmware_url)
        else:
            job = lava.machine_job(a.machine_class, a.image_url)
            if a.write_image:
                cmdline = lava.load_classes()[a.machine_class]["cmdline"]
                workdir = tempfile.mkdtemp(prefix="vtdlab-lava-", dir=qemu.BUILD if os.path.isdir(qemu.BUILD)
                                           else None)
                try:
                    copy = qemu.prepare_image(qemu.USB_IMAGE, workdir, cmdline, True)
                    shutil.move(copy, a.write_image)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
    except (lava.LavaError, qemu.SetupError, OSError) as e:
        _err(str(e))
        return EXIT_SETUP
    text = lava.write(job, a.output)
    if not a.output:
        sys.stdout.write(text)
    return EXIT_OK


DECODE = os.path.join(qemu.BUILD, "host", "vtdlab-decode")


def cmd_decode(a) -> int:
    """The kernel's VT-d decoders, built for the host (tools/decode)."""
    if not os.path.isfile(DECODE):
        _err(f"'{DECODE}' does not exist; run 'make'")
        return EXIT_SETUP
    sys.stdout.flush()
    p = subprocess.run([DECODE] + (["--json"] if a.json else []) + a.what, capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p.returncode


def cmd_profiles(a) -> int:
    try:
        profiles, kernel_runs = qemu.load_profiles(), runs.load_runs()
    except (qemu.SetupError, runs.RunsError) as e:
        _err(str(e))
        return EXIT_SETUP
    print("profiles:")
    for name, p in sorted(profiles.items()):
        print(f"  {name:22} [{p.get('qemu', qemu.DEFAULT_QEMU)}] {p.get('description', '')}")
    print("runs (make test; vtdlab run --run TAG):")
    for r in kernel_runs:
        what = ", ".join(x for x in (f"profile {r.profile}", r.boot, f"kernel {r.kernel}" if r.kernel else "",
                                     f"tests={r.tests}" if r.tests else "",
                                     r.cmdline or "") if x)
        print(f"  {r.tag:22} {r.description} ({what})")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vtdlab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--profile", help="QEMU profile (see 'vtdlab profiles'; default: default)")
        sp.add_argument("--tests", help="comma-separated globs over suite.case (kernel default: *)")
        sp.add_argument("--cmdline", help="more kernel cmdline, 'key=value ...'")
        sp.add_argument("--qemu-arg", action="append", default=[], help="passed to QEMU after the profile's")
        sp.add_argument("--qemu", choices=qemu.QEMU_KINDS,
                        help="run on vtdlab's QEMU build (make qemu) or Debian's stock one, "
                             "whatever the profile says")
        sp.add_argument("--firmware", help="OVMF image to use instead of the best one found")

    r = sub.add_parser("run", help="boot in QEMU and give a verdict")
    common(r)
    r.add_argument("--run", metavar="TAG", help="one of make test's runs (tools/vtdlabtool/runs.json, 'vtdlab "
                   "profiles' lists them): its profile, boot, cases and cmdline, checked against its expectations "
                   "in tests/expected/suites/")
    r.add_argument("--log", help="where to keep the serial log")
    r.add_argument("--junit", help="write JUnit XML here")
    r.add_argument("--json", help="write a JSON summary here")
    r.add_argument("--expect", help="JSON {suite.case: outcome or 'skip: reason prefix'} that every case "
                   "run must be listed in and end as")
    r.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="limit for one boot, seconds")
    r.add_argument("--deadline", type=float, help="limit for the whole run, every boot of it, seconds")
    r.add_argument("--silence", type=float, default=DEFAULT_SILENCE_S,
                   help="a boot with no console output for this long is a hang, seconds")
    r.add_argument("--pvh", action="store_true",
                   help="boot build/kernel.elf directly through its PVH entry, without UEFI firmware: seconds "
                   "faster, for development runs (UEFI is what real machines and a plain run use)")
    r.add_argument("--kernel", choices=qemu.KERNEL_VARIANTS,
                   help="with --pvh: boot this sanitized build, build/KERNEL/kernel.elf (make sanitizers), "
                   "instead of build/kernel.elf")
    r.add_argument("--usb", action="store_true", help="boot the USB image (make image) through usb-storage")
    r.add_argument("--screendump", metavar="PPM", help="the framebuffer's summary at the end of the run, as "
                   "QEMU's screendump (a profile with a display, e.g. gop)")
    r.add_argument("--image", help="boot this image instead of build/esp.img")
    r.add_argument("-q", "--quiet", action="store_true", help="do not echo the serial log")
    r.add_argument("-v", "--verbose", action="store_true", help="print the QEMU command")
    r.add_argument("--serial", metavar="DEV", help="no QEMU: read a real machine's port, as 'vtdlab watch' does")
    r.add_argument("--baud", type=int, default=watch.DEFAULT_BAUD, help="with --serial: bits per second")
    r.set_defaults(func=cmd_run)

    ps = sub.add_parser("parse", help="verdict on a serial log captured elsewhere")
    ps.add_argument("log")
    ps.add_argument("--junit")
    ps.add_argument("--json")
    ps.add_argument("--expect")
    ps.add_argument("--report", choices=["hw"],
                    help="hw: a Markdown page from a real machine's log (machine, units, DSA, the pwc table, "
                         "reclaim verdicts) to send in")
    ps.add_argument("-o", "--output", help="write the report here instead of printing it")
    ps.set_defaults(func=cmd_parse)

    w = sub.add_parser("watch", help="read a real machine's serial port live and give a verdict (pyserial)")
    w.add_argument("--serial", required=True, metavar="DEV", help="the port, e.g. /dev/ttyUSB0 (a by-id path "
                   "survives a re-plug best: /dev/serial/by-id/...)")
    w.add_argument("--baud", type=int, default=watch.DEFAULT_BAUD, help="bits per second (default 115200, the "
                   "kernel's unless the firmware's SPCR says otherwise)")
    w.add_argument("--log", help="where to keep the serial log (default build/runs/serial-DEV.log)")
    w.add_argument("--junit")
    w.add_argument("--json")
    w.add_argument("--expect")
    w.add_argument("--silence", type=float, default=DEFAULT_SILENCE_S,
                   help="no byte for this long (the port gone included) ends the watch as a hang, seconds; "
                        "counts from the start too: give a firmware's slow POST room")
    w.add_argument("--timeout", type=float, help="limit for the whole watch, seconds (default: none)")
    w.add_argument("--report", choices=["hw"], help="hw: the hardware report, as parse --report hw")
    w.add_argument("-o", "--output", help="write the report here instead of printing it")
    w.add_argument("-q", "--quiet", action="store_true", help="do not echo the serial log")
    w.set_defaults(func=cmd_watch)

    sh = sub.add_parser("shell", help="the kernel's command shell: under QEMU or on a real machine's port")
    sh.add_argument("--profile", help="QEMU profile to boot (PVH, default: default)")
    sh.add_argument("--serial", metavar="DEV", help="a real machine's port, its shell already waiting "
                    "(shell=1 or shell=auto on its cmdline)")
    sh.add_argument("--baud", type=int, default=watch.DEFAULT_BAUD)
    sh.add_argument("--tests", help="the cases to run before the shell (default: none)")
    sh.add_argument("--keep", action="store_true", help="keep=1: the last case's unit and tables stay up to "
                    "look at")
    sh.add_argument("--cmdline", help="more kernel cmdline")
    sh.add_argument("--qemu-arg", action="append", default=[], help="passed to QEMU after the profile's")
    sh.add_argument("--qemu", choices=qemu.QEMU_KINDS, help="as for run")
    sh.add_argument("--cmd", action="append", default=[], help="a command to run (repeat it); without one the "
                    "terminal is attached")
    sh.add_argument("--json", action="store_true", help="the answers as JSON: lines, error, decoded entries "
                    "and walk levels")
    sh.add_argument("--log", help="where to keep the console log (default build/runs/shell-*.log)")
    sh.add_argument("--timeout", type=float, default=shell.BOOT_WAIT_S,
                    help="how long the boot may take to reach the prompt, seconds")
    sh.set_defaults(func=cmd_shell)

    d = sub.add_parser("debug", help="QEMU paused with gdb attached, kernel symbols loaded")
    common(d)
    d.add_argument("--break-at", default="kmain", help="first hardware breakpoint")
    d.set_defaults(func=cmd_debug)

    b = sub.add_parser("bench-boot", help="boot time against a bare OVMF boot")
    b.add_argument("--profile", default="default")
    b.add_argument("--firmware")
    b.add_argument("--qemu", choices=qemu.QEMU_KINDS, help="as for run")
    b.add_argument("--tests", default="boot.*,mm.*", help="suites to run (default: boot and mm, the boot cost)")
    b.add_argument("--runs", type=int, default=5)
    b.set_defaults(func=cmd_bench_boot)

    bn = sub.add_parser("bench", help="the reclaim benchmarks: build/bench/results.{json,md} and plots")
    bn.add_argument("--iters", type=int, default=100, help="repetitions of each measurement (1..10000)")
    bn.add_argument("--policies", help="comma-separated subset of none,sync,async,async-percpu,rcu")
    bn.add_argument("--out", default=bench.OUT, help="where results and logs go (default build/bench)")
    bn.add_argument("--parse", metavar="LOG", help="no boot: the report from a serial log (e.g. from hardware)")
    bn.add_argument("--quick", action="store_true", help="leave out the QEMU-trace run")
    bn.set_defaults(func=cmd_bench)

    ex = sub.add_parser("expectations", help="an --expect file from a run's --json report; --fold, --check: "
                        "the expectations of make test's runs")
    ex.add_argument("report", nargs="?")
    ex.add_argument("-o", "--output")
    ex.add_argument("--fold", action="store_true", help="fold tests/expected/<run>.json files into "
                    "tests/expected/suites/<suite>.json (beside the suite files there) and remove them")
    ex.add_argument("--check", action="store_true", help="report overrides no run uses, entries no run "
                    "selects and cases a selecting run gets no outcome for")
    ex.set_defaults(func=cmd_expectations)

    lj = sub.add_parser("lava-job", help="a LAVA job definition: a machine class, or a profile under QEMU")
    lj.add_argument("--class", dest="machine_class", default="vtd",
                    help="machine class from tools/vtdlabtool/lava_classes.json (default vtd)")
    lj.add_argument("--qemu", action="store_true", help="the QEMU variant, for a lab's virtual devices")
    lj.add_argument("--profile", default="default", help="with --qemu: the profile whose machine to run")
    lj.add_argument("--image-url", help="where the lab fetches the image (vtdlab-usb.img; esp.img with --qemu)")
    lj.add_argument("--firmware-url", help="with --qemu: where the lab fetches OVMF.fd")
    lj.add_argument("--write-image", metavar="IMG", help="also write the USB image with the class's cmdline here")
    lj.add_argument("-o", "--output", help="write the job here instead of stdout")
    lj.set_defaults(func=cmd_lava_job)

    dc = sub.add_parser("decode", help="decode a DMAR table, CAP/ECAP, a fault record, a descriptor or an entry",
                        description="dmar FILE | cap VALUE | ecap VALUE | fault HI LO | desc QW0 QW1 [QW2 QW3] | "
                                    "context QW0 QW1 | pasid-entry QW0 [.. QW7]")
    dc.add_argument("--json", action="store_true", help="JSON for scripts")
    dc.add_argument("what", nargs=argparse.REMAINDER)
    dc.set_defaults(func=cmd_decode)

    pr = sub.add_parser("profiles", help="list the QEMU profiles and make test's runs")
    pr.set_defaults(func=cmd_profiles)
    return p


def _bind_qemu_args(argv: List[str]) -> List[str]:
    """'--qemu-arg -trace' would read as a new option to argparse; QEMU's
    arguments start with '-', so the word after --qemu-arg is always its
    value."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--qemu-arg" and i + 1 < len(argv):
            out.append(f"--qemu-arg={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main_into(argv: List[str], out_path: str, cwd: str) -> None:
    """main() in a process forked for it (tools/run-tests' fork server):
    its output, stdout and stderr, into out_path, its status as the
    process's exit status, as a subprocess running the tool would give."""
    fd = os.open(out_path, os.O_WRONLY | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    sys.exit(main(argv))


def main(argv: List[str]) -> int:
    a = build_parser().parse_args(_bind_qemu_args(argv))
    old = qemu.install_signal_handlers()
    try:
        return a.func(a)
    except (KeyboardInterrupt, qemu.Interrupted) as e:
        _err(f"interrupted ({e or 'SIGINT'})")
        return EXIT_FAILED
    finally:
        qemu.restore_signal_handlers(old)
