"""A serial console's log as a real machine gives it: noise taken out, the
boots a reset starts split apart at their KTAP headers, and the boots
merged into one run. `vtdlab parse` (a log captured elsewhere) and
`vtdlab watch` (a port read live) both come here, so the same bytes get
the same verdict whichever way they arrived."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from . import ktap, qemu, verdict

# Printable ASCII and tab are all the kernel prints; anything else on a line
# is the line's noise (a floating RX line, a break at reset, a wrong baud).
_NOISE_CHAR = re.compile(r"[^\x20-\x7e\t]")
# The noise a port gives before a line: a reset, a break or a plug-in puts
# a NUL or an 0xff (not UTF-8: read as U+FFFD) before the first real byte.
_LEAD_NOISE = "\x00\ufffd"
_DONE = re.compile(r"^# vtdlab: done \(exit code 0x([0-9a-f]+)\)$")
_KTAP_HEADER = re.compile(r"^(KTAP|TAP) version \d+$")
# How much of a garbage line a report quotes.
GARBAGE_QUOTE = 40


def clean(raw: str) -> Tuple[str, Optional[str]]:
    """One raw line as the log keeps it, and what the parser reads of it:
    None for a garbage line (noise inside it), the line without the noise
    before it otherwise."""
    line = ktap.clean_line(raw)
    # Only noise is stripped, never spaces: they are KTAP's indentation.
    text = line.lstrip(_LEAD_NOISE)
    if _NOISE_CHAR.search(text):
        return line, None
    return line, text


@dataclass
class Noise:
    """The lines a log had noise in: dropped whole (garbage), or kept with
    their edges trimmed."""
    garbage: List[Tuple[int, str]] = field(default_factory=list)   # (line number, quote)
    trimmed: int = 0
    lines: int = 0

    def note(self) -> Optional[str]:
        if not self.garbage and not self.trimmed:
            return None
        parts = []
        if self.garbage:
            no, quote = self.garbage[0]
            parts.append(f"{len(self.garbage)} garbage line(s) not parsed (first at log line {no}: {quote!r})")
        if self.trimmed:
            parts.append(f"{self.trimmed} line(s) with NUL or 0xff bytes before them, trimmed")
        return "serial noise: " + "; ".join(parts) + " (a floating or noisy line, a reset, or a wrong --baud)"


@dataclass
class Boot:
    lines: List[str]               # what the parser reads (garbage lines as "")
    first_line: int                # 1-based, in the whole log
    reset: bool = False            # another boot's header followed: the machine reset


def exit_code_of(lines: List[str]) -> Optional[int]:
    """The exit code of the kernel's closing line, as QEMU's isa-debug-exit
    would report it, or None when it never closed."""
    for line in reversed(lines):
        m = _DONE.match(line.strip())
        if m:
            return (int(m.group(1), 16) << 1) | 1
    return None


def _is_ktap_line(line: str) -> bool:
    s = line.strip()
    return bool(s) and (s.startswith("#") or s.startswith("ok ") or s.startswith("not ok ")
                        or s.startswith("1..") or bool(_KTAP_HEADER.match(s)))


def split_boots(parsed: List[str]) -> List[Boot]:
    """Parser lines into boots. A top-level KTAP header after one already
    seen starts a new boot: the machine reset. What came between the last
    line of the old boot's KTAP and the new header (the firmware's banner,
    the loader's lines) goes with the new boot."""
    boots: List[Boot] = [Boot([], 1)]
    seen_header = False
    for i, line in enumerate(parsed):
        if _KTAP_HEADER.match(line):   # top level: no indentation
            if seen_header:
                old = boots[-1]
                keep = len(old.lines)
                while keep and not _is_ktap_line(old.lines[keep - 1]):
                    keep -= 1
                moved = old.lines[keep:]
                del old.lines[keep:]
                old.reset = True
                boots.append(Boot(moved, old.first_line + keep))
            seen_header = True
        boots[-1].lines.append(line)
    return boots


@dataclass
class SerialRun:
    run: verdict.RunResult
    boots: List[Boot]
    logs: List[ktap.Log]
    noise: Noise


def is_top_level_header(text: str) -> bool:
    """A parser line that opens a boot's KTAP document."""
    return bool(_KTAP_HEADER.match(text))


def merge(raw_lines: List[str], profile: str, end_problem: Optional[str] = None,
          reset_at_end: bool = False) -> SerialRun:
    """The run a serial log records. end_problem: why the last boot was cut
    short (silence, a limit, an interrupt), None when the log just ends
    there; reset_at_end: the last boot ended in a reset whose next header
    the log leaves out (the watch's limit of boots). A machine that resets
    boots again with the same cmdline, so a
    later boot may run cases an earlier one recorded: the first result of
    each case stands, and the repeat is noted."""
    noise = Noise(lines=len(raw_lines))
    parsed: List[str] = []
    for no, raw in enumerate(raw_lines, 1):
        line, text = clean(raw)
        if text is None:
            noise.garbage.append((no, line[:GARBAGE_QUOTE]))
            parsed.append("")
        else:
            if text != line:
                noise.trimmed += 1
            parsed.append(text)
    boots = split_boots(parsed)
    run = verdict.RunResult(profile=profile)
    logs = []
    seen = set()
    for no, boot in enumerate(boots, 1):
        log = ktap.parse("\n".join(boot.lines) + "\n")
        logs.append(log)
        last = no == len(boots)
        if boot.reset or (last and reset_at_end):
            # qemu's exit status 0 is what a reset gives under -no-reboot
            problem = verdict.boot_problem(log, 0, None)
        else:
            code = exit_code_of(boot.lines)
            problem = verdict.boot_problem(log, qemu.EXIT_DONE if code is None else code,
                                           end_problem if last else None)
            if not (log.started or log.loader_error or log.cmdline_error or log.panic):
                problem = "no KTAP header in the log" + (f" ({end_problem})" if end_problem and last else "")
            elif problem is None and not log.complete:
                problem = "the log ends without a totals line"
        this = verdict.RunResult(profile=profile)
        verdict.add_boot(this, log, no, problem)
        repeats = [c.full_name for c in this.cases if c.full_name in seen]
        run.cases += [c for c in this.cases if c.full_name not in seen]
        seen.update(c.full_name for c in this.cases)
        run.problems += this.problems
        run.boots = no
        if repeats:
            run.notes.append(f"boot {no} ran {len(repeats)} case(s) an earlier boot had recorded (it booted "
                             f"without resume=): the first result of each kept ({', '.join(repeats[:3])}"
                             f"{', ...' if len(repeats) > 3 else ''})")
        if boot.reset:
            run.notes.append(f"boot {no} ended in a reset: boot {no + 1}'s KTAP header at log line "
                             f"{boots[no].first_line + _header_index(boots[no].lines)}")
    n = noise.note()
    if n:
        run.notes.append(n)
    if not any(l.started for l in logs) and noise.garbage:
        run.problems.append(f"no KTAP header, and {len(noise.garbage)} of {noise.lines} lines were garbage: "
                            "is the baud rate right (--baud; the kernel uses 115200 unless the SPCR says "
                            "otherwise)?")
    return SerialRun(run, boots, logs, noise)


def _header_index(lines: List[str]) -> int:
    return next((i for i, l in enumerate(lines) if _KTAP_HEADER.match(l)), 0)
