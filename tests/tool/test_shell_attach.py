"""`vtdlab shell` without --cmd: the terminal attached to the kernel's shell
under QEMU, driven through a pseudo-terminal as a person at a terminal
drives it. The pty is the tool's controlling terminal (a session of its
own), so a typed Ctrl-C is SIGINT to its process group and closing the
pty is a hangup, as in a terminal window. On every way out QEMU must be
gone and the terminal left in the mode it was in before (QEMU puts it in
raw mode). The ways out that do not depend on the guest (Ctrl-C, a
hangup, the tool killed outright) run QEMU paused (-S), its console on
the terminal already: no boot, the same processes."""
import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import TOP

from vtdlabtool import qemu, shell

VTDLAB = ["/usr/bin/python3", os.path.join(TOP, "tools", "vtdlab")]
# Deadlines catch hangs; a busy host may take seconds to start QEMU.
WAIT_S = 60.0
# vtd_fault.fault_stays_pending_until_cleared writes to this IOVA, which
# nothing maps (UNMAPPED_IOVA, tests/kernel/vtd_fault.c), from edu at
# 00:04.0 on the legacy profile: reason 0x05, a write without W.
FAULT_CASE = "vtd_fault.fault_stays_pending_until_cleared"
FAULT_IOVA = 0x40123000
FAULT_SID = "00:04.0"
FAULT_REASON = 0x05
PROMPT = shell.PROMPT.encode()

pytestmark = pytest.mark.skipif(not os.path.isfile(qemu.KERNEL_ELF), reason="build/kernel.elf is not built (make)")


def _take_terminal():
    """In the tool's child, after setsid: its stdin, the pty, becomes its
    controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _program(pid):
    """The name of the program pid runs ('' once it is gone); a child
    between fork and exec still runs python."""
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def _running(pid):
    """pid is a process that has not ended (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Terminal:
    """The tool on a pty. What it prints is read from the master side;
    keys are written to it. A slave descriptor stays open here so the
    terminal's mode can be read after the tool is gone."""

    def __init__(self, args, controlling=True):
        self.master, self.slave = os.openpty()
        self.mode_before = termios.tcgetattr(self.slave)
        self.p = subprocess.Popen(VTDLAB + ["shell"] + args, stdin=self.slave, stdout=self.slave,
                                  stderr=self.slave, cwd=TOP, start_new_session=True,
                                  preexec_fn=_take_terminal if controlling else None)
        self.seen = b""
        self.qemu = None

    def read_until(self, mark: bytes) -> bytes:
        deadline = time.monotonic() + WAIT_S
        while mark not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"no {mark!r} within {WAIT_S} s; the terminal shows: {self.seen[-500:]!r}")
            try:
                chunk = os.read(self.master, 65536)
            except OSError:          # EIO: every slave closed, the tool and QEMU gone
                chunk = b""
            if not chunk:
                raise AssertionError(f"the terminal closed before {mark!r}: {self.seen[-500:]!r}")
            self.seen += chunk
        at = self.seen.index(mark) + len(mark)
        text, self.seen = self.seen[:at], self.seen[at:]
        return text

    def type(self, keys: bytes):
        os.write(self.master, keys)

    def find_qemu(self):
        """QEMU, the tool's child, once it has the terminal (raw mode:
        canonical input off)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and self.p.poll() is None:
            kids = [int(d) for d in os.listdir("/proc") if d.isdigit() and _parent_of(int(d)) == self.p.pid]
            qemus = [k for k in kids if _program(k).startswith("qemu-system")]
            if qemus and not termios.tcgetattr(self.slave)[3] & termios.ICANON:
                self.qemu = qemus[0]
                return self.qemu
            time.sleep(0.02)
        raise AssertionError(f"QEMU never took the terminal (tool exit {self.p.poll()}): {self.seen[-500:]!r}")

    def finish(self):
        """The tool's exit status; everything it printed after the last
        read. QEMU must be gone too (not just no longer the tool's child)."""
        rc = self.p.wait(timeout=WAIT_S)
        while self.master is not None:
            try:
                ready = select.select([self.master], [], [], 0.1)[0]
                chunk = os.read(self.master, 65536) if ready else b""
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.seen += chunk
        deadline = time.monotonic() + WAIT_S
        while self.qemu and _running(self.qemu) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.qemu and not _running(self.qemu), f"QEMU (pid {self.qemu}) outlived the tool"
        return rc

    def close(self):
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        if self.qemu and _running(self.qemu):
            os.kill(self.qemu, signal.SIGKILL)


@pytest.fixture
def terminal():
    made = []

    def make(args, controlling=True):
        made.append(Terminal(args, controlling))
        return made[-1]
    yield make
    for t in made:
        t.close()


def test_attached_shell_answers_and_exits_cleanly(terminal, tmp_path):
    """A person's session: the case leaves its fault pending (keep=1),
    `faults 0` typed at the prompt shows it decoded, `exit` leaves the
    shell, the machine, QEMU and the tool (status 0), and the terminal is
    back in the mode it was in."""
    t = terminal(["--profile", "legacy", "--tests", FAULT_CASE, "--keep"])
    t.read_until(b"\n" + PROMPT)
    t.find_qemu()
    t.type(b"faults 0\r")
    text = t.read_until(PROMPT).decode("utf-8", "replace").replace("\r", "")
    lines = shell.answer_lines(text)
    assert lines[0].startswith("FSTS 0x") and "PPF 1" in lines[0], lines
    records = [l for l in lines if l.startswith("record ")]
    assert len(records) == 1 and lines[-1] == "1 record(s) pending", lines
    m = re.match(r"record (\d+): write by (\S+) at 0x([0-9a-f]+): reason 0x([0-9a-f]{2}) \((.*)\) "
                 r"\(FRCD 0x([0-9a-f]{16}) 0x([0-9a-f]{16})\)  <- FRI$", records[0])
    assert m, records[0]
    assert int(m.group(1)) == int(re.search(r"FRI (\d+)", lines[0]).group(1))     # the record FRI names
    assert (m.group(2), int(m.group(3), 16), int(m.group(4), 16)) == (FAULT_SID, FAULT_IOVA, FAULT_REASON)
    # the raw record, decoded by the host's build of the same decoder
    hi, lo = m.group(6), m.group(7)
    decoded = subprocess.run([os.path.join(qemu.BUILD, "host", "vtdlab-decode"), "fault", "0x" + hi, "0x" + lo],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert records[0].split(": ", 1)[1].startswith(decoded), (decoded, records[0])
    t.type(b"exit\r")
    t.read_until(b"# vtdlab: done (exit code 0x10)")
    assert t.finish() == 0, t.seen
    assert termios.tcgetattr(t.slave) == t.mode_before


def test_ctrl_c_ends_qemu_and_the_tool(terminal, tmp_path):
    """Ctrl-C typed: SIGINT to the tool and QEMU. The tool says it was
    interrupted (status 1), QEMU is gone, and the terminal is back in its
    mode although QEMU, killed, could not put it back itself."""
    t = terminal(["--profile", "no-iommu", "--qemu-arg", "-S"])
    t.find_qemu()
    t.type(b"\x03")
    rc = t.finish()
    assert rc == 1 and b"vtdlab: error: interrupted (SIGINT)" in t.seen, (rc, t.seen)
    assert termios.tcgetattr(t.slave) == t.mode_before


def test_closing_the_terminal_ends_qemu_and_the_tool(terminal, tmp_path):
    """The terminal window closed: a hangup. The tool ends by its own
    handling (status 1), not killed by the signal, and QEMU with it."""
    t = terminal(["--profile", "no-iommu", "--qemu-arg", "-S"])
    t.find_qemu()
    os.close(t.master)
    t.master = None
    assert t.finish() == 1


def test_the_tool_killed_outright_takes_qemu_with_it(terminal, tmp_path):
    """SIGKILL runs nothing in the tool; the pty is no controlling terminal
    here, so no hangup reaches QEMU either: only the tool's child set-up
    (parent-death signal) can end it."""
    t = terminal(["--profile", "no-iommu", "--qemu-arg", "-S"], controlling=False)
    t.find_qemu()
    t.p.kill()
    assert t.finish() == -signal.SIGKILL
