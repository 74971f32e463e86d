"""`vtdlab watch` against a pseudo-terminal driven like a real port: a real
two-boot log (QEMU's boots of the self-test, whose last case resets the
machine) replayed with noise in it, and a disconnect made by closing the
pty and removing the path the tool was given, then creating a new pty
there. What it reports must be what `vtdlab parse` gives the same bytes,
and the cases those of the clean log. A pty cannot show a wrong baud rate
or a real unplug (README)."""
import json
import os
import queue
import signal
import subprocess
import threading
import time
import tty

import pytest

from conftest import LOGS, TOP

from vtdlabtool import cli, ktap, serial_log, watch

VTDLAB = ["/usr/bin/python3", os.path.join(TOP, "tools", "vtdlab")]
TWO_BOOTS = os.path.join(LOGS, "selftest-two-boots.log")
WAIT_S = 20.0
pytest.importorskip("serial", reason="pyserial (Debian's python3-serial) is not installed")

# A result line with noise inside it: read unfiltered it would be a case
# of its own (the negative control below shows it is).
NOISY_RESULT = b"    not ok 5 \xff\xfeundefined_noise\n"
LEAD_NOISE = b"\x00\xff"


class Pty:
    """A pty pair whose slave is reached through `link`, as a USB adapter
    is through /dev/serial/by-id: the tool opens the link."""

    def __init__(self, link):
        self.link = link
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave = slave
        os.symlink(os.ttyname(slave), link)

    def write(self, data: bytes):
        os.write(self.master, data)

    def unplug(self):
        os.unlink(self.link)
        os.close(self.master)
        os.close(self.slave)


class Tool:
    """`vtdlab watch` in its own process; its stderr lines are read as
    they come, so the test can wait for what it says."""

    def __init__(self, args):
        self.p = subprocess.Popen(VTDLAB + ["watch", "-q"] + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.said = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stderr:
            self.stderr.append(line)
            self.said.put(line)

    def wait_for(self, words):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self.said.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if words in line:
                return line
        raise AssertionError(f"the tool never said '{words}'; it said: {''.join(self.stderr)}")

    def finish(self):
        out, _ = self.p.communicate(timeout=WAIT_S)
        return self.p.returncode, out


def wait_logged(log, n_lines):
    """Until the tool's log holds n_lines lines: what was sent was read."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if os.path.exists(log) and open(log, "rb").read().count(b"\n") >= n_lines:
            return
        time.sleep(0.02)
    raise AssertionError(f"the tool logged fewer than {n_lines} lines in {WAIT_S} s")


def normalised(doc):
    """A report without what differs by nature: the time, the source's
    name, and the note only a live port can make (that it went away)."""
    out = {k: v for k, v in doc.items() if k not in ("seconds", "profile")}
    out["notes"] = [n for n in doc["notes"] if "went away" not in n]
    return out


def test_replay_with_reset_noise_and_disconnect_gives_parse_verdict(tmp_path):
    clean = open(TWO_BOOTS, "rb").read().splitlines(keepends=True)
    header2 = next(i for i, l in enumerate(clean) if i and l.startswith(b"KTAP version"))
    ok5 = next(i for i, l in enumerate(clean) if l.startswith(b"    ok 5 "))
    unplug_at = ok5 + 4          # inside boot 1's suite, cases still to come
    sent = []                    # exactly the bytes the port carried, in order

    link, log, js, junit = (str(tmp_path / n) for n in ("ttyVTD", "w.log", "w.json", "w.xml"))
    port = Pty(link)
    tool = Tool(["--serial", link, "--log", log, "--json", js, "--junit", junit, "--silence", str(WAIT_S)])
    tool.wait_for("watching")

    def send(data):
        sent.append(data)
        port.write(data)

    for i, line in enumerate(clean[:unplug_at]):
        if i == ok5:
            send(NOISY_RESULT)
        send(line)
    wait_logged(log, unplug_at + 1)
    port.unplug()
    tool.wait_for("went away")
    time.sleep(0.3)                    # the path stays gone for a while
    port = Pty(link)
    tool.wait_for("is back")
    for i, line in enumerate(clean[unplug_at:], unplug_at):
        send(LEAD_NOISE + line if i == header2 else line)   # a reset's noise before the new header
    rc, _ = tool.finish()
    port.unplug()

    replay = tmp_path / "replay.log"
    replay.write_bytes(b"".join(sent))
    # what the tool logged is what the port carried
    assert open(log, "rb").read() == replay.read_bytes().decode("utf-8", "replace").encode()

    pjs, pjunit = tmp_path / "p.json", tmp_path / "p.xml"
    prc = cli.main(["parse", str(replay), "--json", str(pjs), "--junit", str(pjunit)])
    watched, parsed = json.load(open(js)), json.load(open(pjs))
    assert rc == prc == 1                  # the self-test's cases fail on purpose
    assert normalised(watched) == normalised(parsed)
    strip = lambda x: x.replace(f'name="vtdlab-serial {link}"', "").replace('name="vtdlab-log"', "")
    w_xml, p_xml = open(junit).read(), pjunit.read_text()
    assert strip(w_xml).split('time="')[0] == strip(p_xml).split('time="')[0]
    assert [(c["name"], c["status"]) for c in watched["cases"]] == [(c["name"], c["status"]) for c in parsed["cases"]]

    # the same cases as the clean log: noise dropped, the disconnect lost nothing
    cli.main(["parse", TWO_BOOTS, "--json", str(tmp_path / "clean.json")])
    plain = json.load(open(tmp_path / "clean.json"))
    assert [(c["name"], c["status"], c["reason"]) for c in watched["cases"]] == \
           [(c["name"], c["status"], c["reason"]) for c in plain["cases"]]
    crashed = next(c for c in watched["cases"] if c["name"] == "selftest.resets_machine_on_purpose")
    assert crashed["status"] == "error" and crashed["reason"].startswith("crashed: the machine reset")
    assert next(c for c in watched["cases"] if c["name"] == "selftest.resumed_after_the_reset")["boot"] == 2
    assert watched["boots"] == 2
    notes = " | ".join(watched["notes"])
    assert "1 garbage line(s) not parsed" in notes and "1 line(s) with NUL or 0xff bytes before them" in notes
    assert "went away 1 time(s)" in notes
    # the merged KTAP beside the log has every case once
    merged = ktap.parse(open(log + ".ktap").read())
    assert [c.name for _, c in merged.cases()] == [c["name"].split(".", 1)[1] for c in watched["cases"]]

    # negative control: boot 1 read unfiltered, the noisy line is a case of its own
    boot1 = replay.read_bytes().split(LEAD_NOISE + b"KTAP version")[0]
    raw = ktap.parse(boot1.decode("utf-8", "replace"))
    assert any("undefined_noise" in c.name for _, c in raw.cases())
    assert not any("undefined_noise" in c["name"] for c in watched["cases"])


def test_parse_splits_a_log_at_the_reset(tmp_path):
    """A machine that resets mid-run writes a second KTAP document into
    the same serial log: parse must read it as two boots (the crashed case
    recorded, every case once), as a QEMU run of the same boots does."""
    js = tmp_path / "p.json"
    assert cli.main(["parse", TWO_BOOTS, "--json", str(js)]) == 1   # the self-test fails on purpose
    doc = json.load(open(js))
    names = [c["name"] for c in doc["cases"]]
    assert len(names) == len(set(names)) == 16, names
    assert doc["boots"] == 2 and doc["problems"] == [], doc["problems"]
    crashed = next(c for c in doc["cases"] if c["name"] == "selftest.resets_machine_on_purpose")
    assert crashed["status"] == "error" and crashed["reason"].startswith("crashed: the machine reset")


def test_a_port_that_never_comes_back_is_silence(tmp_path):
    """--silence counts while the port is gone too (a quiet port that stays
    is the same clock: no byte for that long), and ends the watch as a
    hang of the case that was running."""
    link, log, js = str(tmp_path / "ttyVTD"), str(tmp_path / "w.log"), str(tmp_path / "w.json")
    port = Pty(link)
    tool = Tool(["--serial", link, "--log", log, "--json", js, "--silence", "1"])
    tool.wait_for("watching")
    clean = open(TWO_BOOTS, "rb").read().splitlines(keepends=True)
    for line in clean[:30]:
        port.write(line)
    wait_logged(log, 30)
    port.unplug()
    rc, _ = tool.finish()
    doc = json.load(open(js))
    assert rc == 1
    # the case that was running when the port went is the one recorded
    last = doc["cases"][-1]
    assert last["status"] == "error", last
    assert "hang: no console output for 1 s" in last["reason"] and "gone since" in last["reason"], last


def test_interrupt_still_writes_the_reports(tmp_path):
    link, log, js = str(tmp_path / "ttyVTD"), str(tmp_path / "w.log"), str(tmp_path / "w.json")
    port = Pty(link)
    tool = Tool(["--serial", link, "--log", log, "--json", js, "--silence", str(WAIT_S)])
    tool.wait_for("watching")
    clean = open(TWO_BOOTS, "rb").read().splitlines(keepends=True)
    for line in clean[:30]:
        port.write(line)
    wait_logged(log, 30)
    tool.p.send_signal(signal.SIGINT)
    rc, _ = tool.finish()
    port.unplug()
    doc = json.load(open(js))
    assert rc == 1
    assert "interrupted by SIGINT before the run ended (the port let go)" in doc["problems"], doc["problems"]
    assert doc["cases"] and not any("hang" in c["reason"] for c in doc["cases"])


def test_wrong_baud_garbage_is_never_parsed(tmp_path):
    """What a wrong baud rate looks like: bytes with the high bit set and
    control characters. A pty cannot change the rate, so it is replayed."""
    raw = b"\n".join([b"\x8f\xfe\x01ok 1 x\x83", b"\x92\x00\x9c\x8b KTAP version 1 \x99", b"ok\x07 2 y",
                      b"\xe9\xff"]) + b"\n"
    sr = serial_log.merge(raw.decode("utf-8", "replace").splitlines(), "log")
    assert not sr.run.cases
    assert any("is the baud rate right" in p for p in sr.run.problems), sr.run.problems


def test_leading_noise_trimmed_keeping_indentation():
    assert serial_log.clean("\x00\ufffd    ok 1 a")[1] == "    ok 1 a"
    assert serial_log.clean("    ok 1 a\ufffd")[1] is None
    assert serial_log.clean("    ok 1 \x01a")[1] is None


def test_missing_device_and_pyserial(tmp_path, capsys, monkeypatch):
    assert cli.main(["watch", "--serial", str(tmp_path / "none")]) == 2
    assert "cannot open the serial port" in capsys.readouterr().err
    assert cli.main(["run", "--serial", str(tmp_path / "none")]) == 2        # run --serial is watch
    assert "cannot open the serial port" in capsys.readouterr().err
    assert cli.main(["run", "--serial", str(tmp_path / "none"), "--profile", "legacy"]) == 2
    assert "run --serial reads a real machine's port" in capsys.readouterr().err
    from vtdlabtool import watch
    import builtins
    real = builtins.__import__

    def no_serial(name, *a, **k):
        if name == "serial":
            raise ImportError("no serial")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_serial)
    monkeypatch.setattr(watch, "DEBIAN_DIST_PACKAGES", str(tmp_path))
    assert cli.main(["watch", "--serial", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "pyserial is not installed" in err and "python3-serial" in err, err


def test_the_shell_coming_up_ends_the_watch(tmp_path):
    """After the run a machine with shell=1 waits at its prompt: the watch
    ends there with the run's verdict, not after --silence."""
    link, log, js = str(tmp_path / "ttyVTD"), str(tmp_path / "w.log"), str(tmp_path / "w.json")
    clean = open(os.path.join(LOGS, "selftest-two-boots.log"), "rb").read().splitlines(keepends=True)
    boot2 = clean[next(i for i, l in enumerate(clean) if i and l.startswith(b"KTAP version")):]
    port = Pty(link)
    tool = Tool(["--serial", link, "--log", log, "--json", js, "--silence", str(WAIT_S)])
    tool.wait_for("watching")
    start = time.monotonic()
    for line in boot2[:-1]:          # every line but the closing "done"
        port.write(line)
    port.write(b"# vtdlab: shell: ready (help lists the commands, exit leaves)\nvtdlab> ")
    rc, _ = tool.finish()
    port.unplug()
    assert time.monotonic() - start < WAIT_S / 2
    doc = json.load(open(js))
    assert doc["problems"] == [] and [c["status"] for c in doc["cases"]].count("pass") == 1, doc
    assert rc == 0


def watch_replay(tmp_path, name, data: bytes):
    """`vtdlab watch` (in this process) on a pty fed data by a thread, as
    a machine sends it; its exit status and JSON report."""
    link, log, js = (str(tmp_path / f"{name}.{x}") for x in ("tty", "log", "json"))
    port = Pty(link)

    def send():
        # the watch opens its log once it has the port (pyserial's open
        # drops what the port held before it)
        deadline = time.monotonic() + WAIT_S
        while not os.path.exists(log) and time.monotonic() < deadline:
            time.sleep(0.01)
        view = memoryview(data)
        while view:
            view = view[os.write(port.master, view):]
    writer = threading.Thread(target=send, daemon=True)
    writer.start()
    try:
        rc = cli.main(["watch", "-q", "--serial", link, "--log", log, "--json", js, "--silence", str(WAIT_S)])
    finally:
        writer.join(WAIT_S)
        port.unplug()
    return rc, json.load(open(js)), log


def test_a_machine_that_keeps_resetting_is_given_up_after_the_limit(tmp_path):
    """Boot 1 of the two-boot log, whose last case resets the machine,
    nine times over: a machine that boots the image again without resume=
    and resets in the same case every time. The watch follows 8 boots
    (watch.MAX_BOOTS), stops at the 9th KTAP header without waiting for
    --silence, and its verdict says why; the 9th boot is not in the log,
    and each case is recorded once, from its first boot."""
    clean = open(TWO_BOOTS, "rb").read()
    header2 = clean.index(b"\nKTAP version", 1) + 1
    boot1, boot2 = clean[:header2], clean[header2:]
    rc, doc, log = watch_replay(tmp_path, "resets", boot1 * 9 + boot2)
    assert rc == 1
    assert doc["boots"] == watch.MAX_BOOTS == 8
    assert "gave up after 8 boots: the machine keeps resetting" in " | ".join(doc["problems"]), doc["problems"]
    assert open(log, "rb").read() == boot1 * 8                       # what the watch judged, and no more
    crashed = [c for c in doc["cases"] if c["name"] == "selftest.resets_machine_on_purpose"]
    assert len(crashed) == 1 and crashed[0]["boot"] == 1 and crashed[0]["status"] == "error", crashed
    assert crashed[0]["reason"].startswith("crashed: the machine reset"), crashed

    # the control: the 8th boot resumes and finishes (boot 2 of the log):
    # 8 headers is within the limit, the watch ends at the kernel's done,
    # and its verdict is parse's on the same bytes
    rc, doc, log = watch_replay(tmp_path, "finishes", boot1 * 7 + boot2)
    assert doc["boots"] == 8 and not [p for p in doc["problems"] if "gave up" in p], doc["problems"]
    prc = cli.main(["parse", log, "--json", str(tmp_path / "p.json")])
    assert rc == prc and normalised(doc) == normalised(json.load(open(tmp_path / "p.json")))
