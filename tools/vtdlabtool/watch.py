"""`vtdlab watch --serial DEV`: a real machine's serial port read live.

The log goes to the terminal and the log file line by line as it arrives;
at the end the bytes received get the verdict `vtdlab parse` gives the same
log (serial_log.merge), with the reports of a QEMU run. What real ports do
is handled: the machine resetting (a new KTAP header starts the next boot),
the device path going away and coming back (a USB adapter re-plugged: the
port is reopened when it reappears), noise (garbage lines reported, never
parsed), and silence past --silence."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

from . import qemu, serial_log

DEFAULT_BAUD = 115200
# How often a vanished port is looked for again, and how long one read
# waits for bytes before the clocks are checked.
REOPEN_POLL_S = 0.2
READ_WAIT_S = 0.2
MAX_BOOTS = 8


class PyserialMissing(qemu.SetupError):
    pass


# Where Debian's python3-serial installs pyserial (pure Python): a pyenv or
# venv python first on PATH does not look there.
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def import_serial():
    """pyserial, from this python's path or Debian's package, or a
    SetupError that says how to get it."""
    debian_dir = DEBIAN_DIST_PACKAGES
    try:
        import serial  # noqa: F401
        return serial
    except ImportError:
        pass
    if os.path.isfile(os.path.join(debian_dir, "serial", "__init__.py")):
        sys.path.append(debian_dir)
        try:
            import serial  # noqa: F401
            return serial
        except ImportError:
            pass
        finally:
            sys.path.remove(debian_dir)
    raise PyserialMissing(
            f"pyserial is not installed for {sys.executable}: install Debian's python3-serial "
            f"(make deps, or apt-get install python3-serial)")


@dataclass
class Watch:
    raw_lines: List[str]
    end_problem: Optional[str]     # why the last boot was cut short
    seconds: float
    disconnects: int
    interrupted: Optional[str]
    # The boot that reached max_boots ended in a reset (the next KTAP
    # header came) and the watch stopped there: the header and what
    # followed are not in raw_lines.
    gave_up: bool = False


# The kernel's line when its shell comes up (shell/shell.h): the run is
# over, and `vtdlab shell --serial` is how to go on.
SHELL_READY_MARK = "# vtdlab: shell: ready"


def _line_ends_boot(line: str) -> bool:
    """The kernel's last line of a run: after it the machine halts (or
    exits QEMU), or waits in its shell."""
    return serial_log.exit_code_of([line]) is not None or line.startswith(SHELL_READY_MARK)


def watch(device: str, baud: int, log_path: str, silence_s: float, timeout_s: Optional[float],
          on_line: Optional[Callable[[str], None]] = None, say: Callable[[str], None] = None,
          max_boots: int = MAX_BOOTS) -> Watch:
    """Reads device until the kernel's closing line in a boot, a silence of
    silence_s (also while the device is gone), timeout_s in all, or
    max_boots headers. Every line goes to log_path as it completes
    (flushed, so the log survives the tool), then to on_line."""
    serial = import_serial()
    say = say or (lambda m: print(f"vtdlab: {m}", file=sys.stderr, flush=True))
    start = last_byte = time.monotonic()
    lines: List[str] = []
    buf = b""
    port = None
    gone_since: Optional[float] = None
    disconnects = 0
    headers = 0
    end_problem = interrupted = None
    gave_up = False

    def open_port():
        return serial.Serial(port=device, baudrate=baud, timeout=READ_WAIT_S)

    try:
        port = open_port()
    except (serial.SerialException, OSError) as e:
        raise qemu.SetupError(f"cannot open the serial port '{device}': {e}")
    say(f"watching {device} at {baud} baud; log: {log_path}")
    with open(log_path, "w") as log:
        try:
            while True:
                now = time.monotonic()
                if timeout_s is not None and now - start > timeout_s:
                    end_problem = f"the watch ran past its {timeout_s:g} s limit"
                    break
                if now - last_byte > silence_s:
                    end_problem = (f"no console output for {silence_s:g} s" +
                                   (f" ({device} gone since {now - gone_since:.1f} s)" if gone_since else ""))
                    break
                if port is None:
                    time.sleep(REOPEN_POLL_S)
                    if not os.path.exists(device):
                        continue
                    try:
                        port = open_port()
                    except (serial.SerialException, OSError):
                        continue
                    say(f"{device} is back after {time.monotonic() - gone_since:.1f} s; reading on")
                    gone_since = None
                    continue
                try:
                    chunk = port.read(port.in_waiting or 1)
                except (serial.SerialException, OSError) as e:
                    # A re-plugged adapter comes back as a new device at the
                    # same path: close ours and wait for it. A partial line
                    # stays in the buffer, as any capture program keeps it.
                    _close(port)
                    port = None
                    gone_since = time.monotonic()
                    disconnects += 1
                    say(f"{device} went away ({e}); waiting for it to come back")
                    continue
                if not chunk:
                    continue
                last_byte = time.monotonic()
                buf += chunk
                done = False
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8", "replace").replace("\r", "")
                    text = serial_log.clean(line)[1]
                    if text is not None and serial_log.is_top_level_header(text):
                        headers += 1
                        if headers > max_boots:
                            # left out of the log: it holds the boots judged
                            end_problem = f"gave up after {max_boots} boots: the machine keeps resetting"
                            gave_up = done = True
                            break
                    lines.append(line)
                    log.write(line + "\n")
                    log.flush()
                    if on_line:
                        on_line(line)
                    if text is not None and _line_ends_boot(text):
                        done = True
                        break
                if done:
                    break
        except qemu.Interrupted as e:
            interrupted = str(e)
            end_problem = f"interrupted by {e} before the run ended"
        finally:
            if buf and headers <= max_boots:
                line = buf.decode("utf-8", "replace").replace("\r", "")
                lines.append(line)
                log.write(line + "\n")
            if port is not None:
                _close(port)
    return Watch(lines, end_problem, time.monotonic() - start, disconnects, interrupted, gave_up)


def _close(port) -> None:
    try:
        port.close()
    except Exception:   # a vanished device may fail even its close
        pass
