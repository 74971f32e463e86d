"""`vtdlab shell`: the kernel's command shell (shell/shell.c) from the host.

Under QEMU it boots kernel.elf through its PVH entry with shell=1 (after
the cases --tests selects; --keep leaves the last one's unit and tables
up); with --serial it talks to a real machine already at the prompt.
Without --cmd the terminal is attached to it; with --cmd each command is
sent, its answer read up to the next prompt and printed (JSON with
--json: the lines, the error if any, and the decoded entries, fields and
walk levels parsed from them)."""
from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import termios
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from . import ktap, qemu, watch

# shell/shell.h
OUT = "| "
PROMPT = "vtdlab> "
READY_MARK = "vtdlab: shell: ready"
# shell=auto's offer: a key within a few seconds gives the shell.
AUTO_MARK = "for a shell (shell=auto)"
DONE_MARK = "# vtdlab: done"
ERROR = "error: "
# How long the boot may take to reach the prompt, and one command to answer.
BOOT_WAIT_S = 120.0
ANSWER_WAIT_S = 30.0
# A real UART is fed one character at a time: the kernel echoes each one
# (to the framebuffer as well) before it reads the next.
SERIAL_CHAR_GAP_S = 0.002

_ENTRY = re.compile(r"^(.+?) at 0x([0-9a-f]+):((?: 0x[0-9a-f]{16})+)$")
_FIELD = re.compile(r"^\s+(\S+)\s+(?:qw(\d) )?\[(\d+):(\d+)\] = 0x([0-9a-f]+) \((.*)\)$")
_LEVEL = re.compile(r"^\s+(\S+)\s+\[\s*(\d+)\] at 0x([0-9a-f]+) = 0x([0-9a-f]+)(.*)$")
_REACHES = re.compile(r"^reaches 0x([0-9a-f]+) \(a (\d+) KiB page")


class ShellError(Exception):
    """The shell could not be reached, or stopped answering."""


@dataclass
class Answer:
    cmd: str
    lines: List[str]
    error: Optional[str] = None
    entries: List[dict] = field(default_factory=list)   # decoded entries, with their fields
    walk: List[dict] = field(default_factory=list)      # each level of a walk
    reaches: Optional[int] = None                       # where a walk ends, a physical address
    results: List[dict] = field(default_factory=list)   # run: each case's outcome, from its KTAP


def decode(cmd: str, lines: List[str]) -> Answer:
    """The structure of a command's answer, from the lines the decoders
    print (vtd_describe_entry's fields, the walk's levels)."""
    a = Answer(cmd, lines)
    if any(line.startswith("KTAP version") for line in lines):
        log = ktap.parse("\n".join(lines) + "\n")
        a.results = [{"name": f"{suite}.{case.name}", "status": case.status, "reason": case.reason}
                     for suite, case in log.cases()]
        return a
    for line in lines:
        if line.startswith(ERROR):
            a.error = line[len(ERROR):]
            continue
        m = _ENTRY.match(line)
        if m:
            a.entries.append({"what": m.group(1), "pa": int(m.group(2), 16),
                              "qwords": [int(x, 16) for x in m.group(3).split()], "fields": {}})
            continue
        m = _FIELD.match(line)
        if m:
            name, value = m.group(1), int(m.group(5), 16)
            if a.entries:
                a.entries[-1]["fields"][name] = value
            else:   # cap / ecap: the register's own fields
                a.entries.append({"what": cmd.split()[0], "fields": {name: value}})
            continue
        m = _LEVEL.match(line)
        if m:
            a.walk.append({"level": m.group(1), "index": int(m.group(2)), "pa": int(m.group(3), 16),
                           "entry": int(m.group(4), 16), "present": "not present" not in m.group(5)})
            continue
        m = _REACHES.match(line)
        if m:
            a.reaches = int(m.group(1), 16)
    return a


class Transport:
    """Bytes to and from the shell: QEMU's stdio or a real serial port."""

    def __init__(self, log):
        self.buf = ""
        self.log = log

    def read_until(self, marks, limit_s: float) -> str:
        """Everything up to and including the first of marks; what follows
        stays buffered."""
        deadline = time.monotonic() + limit_s
        while True:
            hits = [(self.buf.find(m), m) for m in marks if m in self.buf]
            if hits:
                at, m = min(hits)
                text, self.buf = self.buf[:at + len(m)], self.buf[at + len(m):]
                return text
            left = deadline - time.monotonic()
            if left <= 0:
                tail = self.buf[-300:]
                raise ShellError(f"no {' or '.join(repr(m) for m in marks)} within {limit_s:g} s; last output: "
                                 f"{tail!r}")
            chunk = self._read(min(left, 0.2))
            if chunk is None:
                raise ShellError(f"the console closed before {' or '.join(repr(m) for m in marks)}; last output: "
                                 f"{self.buf[-300:]!r}")
            if chunk:
                text = chunk.decode("utf-8", "replace").replace("\r", "")
                self.log.write(text)
                self.log.flush()
                self.buf += text


    def drain(self, limit_s: float) -> None:
        """What is still to come, into the log, until the console closes."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            chunk = self._read(0.2)
            if chunk is None:
                return
            if chunk:
                self.log.write(chunk.decode("utf-8", "replace").replace("\r", ""))
        self.log.flush()


class QemuTransport(Transport):
    def __init__(self, cmd: List[str], log):
        super().__init__(log)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(log.name + ".qemu-stderr", "w"),
                                     preexec_fn=qemu._die_with_parent, env=qemu.qemu_env())
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def _read(self, wait: float):
        if not self.sel.select(timeout=wait):
            return None if self.proc.poll() is not None else b""
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        return chunk or None

    def send(self, text: str) -> None:
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise ShellError("QEMU exited: the shell is gone")

    def close(self) -> Optional[int]:
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.sel.close()


class SerialTransport(Transport):
    def __init__(self, device: str, baud: int, log):
        super().__init__(log)
        serial = watch.import_serial()
        try:
            self.port = serial.Serial(port=device, baudrate=baud, timeout=0.2)
        except (serial.SerialException, OSError) as e:
            raise qemu.SetupError(f"cannot open the serial port '{device}': {e}")
        self.errors = (serial.SerialException, OSError)

    def _read(self, wait: float):
        try:
            return self.port.read(self.port.in_waiting or 1)
        except self.errors as e:
            raise ShellError(f"the serial port failed: {e}")

    def send(self, text: str) -> None:
        for ch in text:
            self.port.write(ch.encode())
            time.sleep(SERIAL_CHAR_GAP_S)

    def close(self) -> Optional[int]:
        self.port.close()
        return None


def answer_lines(text: str) -> List[str]:
    """The shell's own lines of a command's output (its echo and anything
    else, e.g. another CPU's diagnostics, left out)."""
    return [l[len(OUT):] for l in text.split("\n") if l.startswith(OUT)]


def run_commands(t: Transport, commands: List[str]) -> List[Answer]:
    answers = []
    for c in commands:
        if "\n" in c or "\r" in c:
            raise ShellError(f"--cmd {c!r}: one line per command")
        t.send(c + "\n")
        text = t.read_until([PROMPT], ANSWER_WAIT_S)
        answers.append(decode(c, answer_lines(text)))
    return answers


class Session:
    """A shell to send commands to: booted under QEMU up to its prompt
    (cmd), or a real machine's port (device) whose shell already waits.
    close() leaves the shell (and so QEMU) or lets go of the port."""

    def __init__(self, log_path: str, cmd: Optional[List[str]] = None, device: Optional[str] = None,
                 baud: int = watch.DEFAULT_BAUD, boot_wait_s: float = BOOT_WAIT_S):
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.t = None
        try:
            self.t = SerialTransport(device, baud, self.log) if device else QemuTransport(cmd, self.log)
            if device:
                self.t.send("\n")   # a fresh prompt from a shell already waiting
            elif AUTO_MARK in self.t.read_until([READY_MARK, AUTO_MARK], boot_wait_s):
                self.t.send("\n")     # the key shell=auto waits for
                self.t.read_until([READY_MARK], ANSWER_WAIT_S)
            self.t.read_until([PROMPT], ANSWER_WAIT_S if device else boot_wait_s)
        except BaseException:
            self.close(leave=False)
            raise

    def run(self, commands: List[str]) -> List[Answer]:
        return run_commands(self.t, commands)

    def close(self, leave: bool = True) -> None:
        try:
            if leave and isinstance(self.t, QemuTransport):
                self.t.send("exit\n")
                self.t.read_until([DONE_MARK], ANSWER_WAIT_S)
                self.t.drain(ANSWER_WAIT_S)   # the rest of the line, until QEMU exits
        finally:
            if isinstance(self.t, QemuTransport) and self.t.proc.poll() is None:
                self.t.proc.kill()
            if self.t is not None:
                self.t.close()
            self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(leave=exc[0] is None)


def attach(cmd: List[str]) -> int:
    """QEMU with its serial console on this terminal, until it ends; its
    exit status. QEMU puts the terminal in raw mode with signals still on,
    so a typed Ctrl-C is SIGINT to the tool and QEMU alike. On every way
    out QEMU goes: it dies with the tool (parent-death signal, so even a
    SIGKILL of the tool ends it), an interrupt or a hangup (closing the
    terminal, SIGHUP, made an Interrupted here) kills it, and the
    terminal's mode is put back, which a QEMU killed cannot do itself."""
    mode = None
    if sys.stdin.isatty():
        mode = termios.tcgetattr(sys.stdin.fileno())

    def hangup(signum, frame):
        raise qemu.Interrupted(signum)
    old = signal.signal(signal.SIGHUP, hangup)
    proc = None
    try:
        proc = subprocess.Popen(cmd, preexec_fn=qemu._die_with_parent, env=qemu.qemu_env())
        return proc.wait()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        signal.signal(signal.SIGHUP, old)
        if mode is not None:
            try:
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, mode)
            except (termios.error, OSError):   # the terminal is gone (a hangup)
                pass


def attach_outcome(status: int) -> Optional[str]:
    """What QEMU's exit status says of an attached session: None when it
    ended as asked (exit, or reboot under -no-reboot), else why not."""
    if status in (qemu.EXIT_DONE, 0):
        return None
    if status == qemu.EXIT_PANIC:
        return "the kernel panicked (see the terminal above)"
    if status == qemu.EXIT_BAD_CMDLINE:
        return "the kernel rejected its cmdline (see the terminal above)"
    if status < 0:
        return f"QEMU was killed by {signal.Signals(-status).name}"
    return f"QEMU ended with status {status}"


def qemu_command(profile_name: str, tests: Optional[str], cmdline: Optional[str], keep: bool,
                 qemu_args: List[str], qemu_kind: Optional[str], auto: bool = False) -> List[str]:
    profile = qemu.get_profile(profile_name)
    binary = qemu.find_qemu(profile, qemu_kind)
    if not os.path.isfile(qemu.KERNEL_ELF):
        raise qemu.SetupError(f"'{qemu.KERNEL_ELF}' does not exist; run 'make'")
    # Without --tests no case runs: the shell comes up at once.
    words = [f"tests={tests or '-*'}", "shell=auto" if auto else "shell=1", "keep=1" if keep else "", cmdline or ""]
    return qemu.build_command(profile, None, qemu.KERNEL_ELF, False, qemu_args,
                              pvh_cmdline=" ".join(w for w in words if w), binary=binary)


def print_answers(answers: List[Answer], as_json: bool, out=None) -> None:
    out = out or sys.stdout
    if as_json:
        out.write(json.dumps([asdict(a) for a in answers], indent=2) + "\n")
        return
    for a in answers:
        print(PROMPT + a.cmd, file=out)
        for line in a.lines:
            print(line, file=out)
