"""Profiles, firmware, boot images and one QEMU boot with its watchdogs."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import selectors
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

from . import qemubuild
from .ktap import clean_line

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(TOP, "build")
PROFILES = os.path.join(HERE, "profiles.json")
QEMU = "qemu-system-x86_64"

# isa-debug-exit as every profile configures it; QEMU exits with (v << 1) | 1
# for a value v the kernel writes (kernel/exit.h).
DEBUG_EXIT_ARGS = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
EXIT_DONE = (0x10 << 1) | 1
EXIT_BAD_CMDLINE = (0x11 << 1) | 1
EXIT_PANIC = (0x12 << 1) | 1

# Firmware, best first: trixie's OVMF fetched by scripts/fetch-deb.sh boots
# ~1.6 s faster than bookworm's, which probes a TPM on every boot.
FIRMWARE_CANDIDATES = [
    os.path.join(BUILD, "ovmf", "pkg", "usr", "share", "qemu", "OVMF.fd"),
    "/usr/share/ovmf/OVMF.fd",
    "/usr/share/qemu/OVMF.fd",
]

ESP_IMAGE = os.path.join(BUILD, "esp.img")
KERNEL_ELF = os.path.join(BUILD, "kernel.elf")
# The sanitized builds of the kernel (Makefile: SAN_VARIANTS), each
# build/<variant>/kernel.elf; a run names one with "kernel" (runs.json) or
# --kernel. Booted through PVH only: the images hold build/kernel.elf.
KERNEL_VARIANTS = ("kasan", "kcsan")


def kernel_elf(variant: Optional[str] = None) -> str:
    """The kernel a direct boot loads: the normal one, or a variant's."""
    if variant is None:
        return KERNEL_ELF
    if variant not in KERNEL_VARIANTS:
        raise SetupError(f"no kernel build '{variant}' (known: {', '.join(KERNEL_VARIANTS)})")
    return os.path.join(BUILD, variant, "kernel.elf")
USB_IMAGE = os.path.join(BUILD, "vtdlab-usb.img")
# Where the EFI System partition starts in the USB image (Makefile).
USB_ESP_OFFSET = 2048 * 512
CMDLINE_PATH = "::/vtdlab/cmdline"


class SetupError(Exception):
    """Something needed before a boot is missing or wrong."""


def load_profiles(path: str = PROFILES) -> dict:
    with open(path) as f:
        return json.load(f)


def get_profile(name: str, path: str = PROFILES) -> dict:
    profiles = load_profiles(path)
    if name not in profiles:
        raise SetupError(f"unknown profile '{name}' (known: {', '.join(sorted(profiles))})")
    return profiles[name]


def find_firmware(explicit: Optional[str] = None) -> str:
    if explicit:
        if not os.path.isfile(explicit):
            raise SetupError(f"firmware '{explicit}' does not exist")
        return explicit
    for fw in FIRMWARE_CANDIDATES:
        if os.path.isfile(fw):
            return fw
    raise SetupError("no OVMF firmware found (looked in " + ", ".join(FIRMWARE_CANDIDATES) +
                     "); run 'make deps' as root")


# Which QEMU a profile runs on, its "qemu" key: "vtdlab", vtdlab's own build
# of Debian's source with qemu/patches/ (qemu/README.md), or "stock",
# Debian's packaged binary on PATH (the control). A profile without the key
# runs on DEFAULT_QEMU.
QEMU_VTDLAB, QEMU_STOCK = "vtdlab", "stock"
QEMU_KINDS = (QEMU_VTDLAB, QEMU_STOCK)
DEFAULT_QEMU = QEMU_VTDLAB


@dataclass(frozen=True)
class QemuBinary:
    kind: str          # one of QEMU_KINDS
    path: str
    args: List[str]    # before every other argument: the ROM directories (-L)
    label: str         # for messages: "stock" or "vtdlab <key>"


def qemu_kind(profile: dict, override: Optional[str] = None) -> str:
    """The QEMU a run uses: --qemu, else the profile's "qemu", else the default."""
    kind = override or profile.get("qemu", DEFAULT_QEMU)
    if kind not in QEMU_KINDS:
        where = "--qemu" if override else 'the profile\'s "qemu"'
        raise SetupError(f"{where} is '{kind}', not one of {', '.join(QEMU_KINDS)}")
    return kind


def find_qemu(profile: Optional[dict] = None, override: Optional[str] = None) -> QemuBinary:
    """The binary a profile runs on. vtdlab's build is never replaced by the
    stock one: when it is not built, the run cannot start."""
    kind = qemu_kind(profile or {}, override)
    if kind == QEMU_STOCK:
        path = shutil.which(QEMU)
        if not path:
            raise SetupError(f"{QEMU} is not installed; run 'make deps' as root")
        return QemuBinary(kind, path, [], "stock")
    try:
        key = qemubuild.cache_key(qemubuild.load_source())
        path = qemubuild.installed_binary(key)
        if not path:
            raise SetupError(f"vtdlab's QEMU {key} is not built: run `make qemu`")
        # Debian's ROMs: the source package vtdlab builds from has none.
        return QemuBinary(kind, path, qemubuild.rom_args(), f"vtdlab {key}")
    except qemubuild.QemuBuildError as e:
        raise SetupError(str(e))


def prepare_image(source: str, workdir: str, cmdline: str, usb: bool) -> str:
    """A private copy of the boot image carrying this run's cmdline."""
    if not os.path.isfile(source):
        raise SetupError(f"boot image '{source}' does not exist; run 'make" + (" image'" if usb else "'"))
    os.makedirs(workdir, exist_ok=True)
    image = os.path.join(workdir, os.path.basename(source))
    shutil.copyfile(source, image)
    cmdfile = os.path.join(workdir, "cmdline")
    with open(cmdfile, "w") as f:
        f.write(cmdline + "\n")
    target = f"{image}@@{USB_ESP_OFFSET}" if usb else image
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    r = subprocess.run(["mcopy", "-o", "-i", target, cmdfile, CMDLINE_PATH], env=env,
                       capture_output=True, text=True)
    if r.returncode:
        raise SetupError(f"cannot write the cmdline into {image}: {r.stderr.strip()}")
    return image


# Which of QEMU's serial ports the log is read from: COM1 unless the
# profile's "console" says com2 (COM1 then goes nowhere).
SERIAL_PORTS = {"com1": ["-serial", "stdio"], "com2": ["-serial", "null", "-serial", "stdio"]}


def serial_args(profile: dict) -> List[str]:
    name = profile.get("console", "com1")
    if name not in SERIAL_PORTS:
        raise SetupError(f"profile console '{name}' is not one of {', '.join(SERIAL_PORTS)}")
    return list(SERIAL_PORTS[name])


def profile_args(profile: dict, binary: Optional[QemuBinary] = None) -> List[str]:
    """The profile's QEMU arguments, {build} standing for the build directory
    (where the ACPI tables a profile adds are built), and its "vtdlab_args"
    when the boot runs on vtdlab's QEMU (binary): properties of vtdlab's
    patches, which Debian's stock binary (the control) does not know."""
    args = profile.get("args", [])
    if binary is not None and binary.kind == QEMU_VTDLAB:
        args = args + profile.get("vtdlab_args", [])
    return [a.replace("{build}", BUILD) for a in args]


# A direct (PVH) boot still starts in a BIOS: QEMU hands kernel.elf over
# through its pvh.bin option ROM, which the BIOS runs. SeaBIOS's minimal
# build, the one QEMU's microvm machine boots (Debian's seabios package),
# sets up PCI, the ACPI and SMBIOS tables and the CPUs as the full build
# does, and probes no disk, keyboard or USB controller, which no direct
# boot uses: about 0.1 s of host CPU less a boot under TCG, on the ~50
# direct boots of a make test.
PVH_BIOS = "bios-microvm.bin"


def build_command(profile: dict, firmware: str, image: str, usb: bool = False,
                  extra: Optional[List[str]] = None, gdb: bool = False,
                  pvh_cmdline: Optional[str] = None, binary: Optional[QemuBinary] = None) -> List[str]:
    """The QEMU command for one boot: of the image through UEFI firmware, or,
    with pvh_cmdline, of kernel.elf (image) directly through its PVH entry
    on PVH_BIOS, with the cmdline on -append and kernel.elf
    again as the module its symbols are read from (kernel/pvh.c). binary
    (find_qemu's) is the QEMU; without it, the stock one on PATH."""
    head = [binary.path, *binary.args] if binary else [QEMU]
    cmd = head + ["-machine", "q35", "-accel", profile.get("accel", "tcg"), "-nodefaults", "-no-reboot",
           "-display", "none", "-m", profile.get("memory", "256M"),
           "-cpu", profile.get("cpu", "max"), "-bios", PVH_BIOS if pvh_cmdline is not None else firmware] + \
          serial_args(profile) + DEBUG_EXIT_ARGS
    cmd += profile_args(profile, binary)
    if pvh_cmdline is not None:
        cmd += ["-kernel", image, "-initrd", image, "-append", pvh_cmdline]
    elif usb:
        cmd += ["-device", "qemu-xhci,id=xhci",
                "-drive", f"if=none,id=usbstick,format=raw,file={image}",
                "-device", "usb-storage,bus=xhci.0,drive=usbstick"]
    else:
        cmd += ["-drive", f"if=none,id=esp,format=raw,file={image}", "-device", "ide-hd,drive=esp"]
    if gdb:
        cmd += ["-s", "-S"]
    cmd += list(extra or [])
    return cmd


@dataclass
class Boot:
    text: str
    exit_code: Optional[int]
    hang: Optional[str]        # why the watchdog killed QEMU, if it did
    seconds: float
    first_ktap_s: Optional[float]
    stderr: str


# The loader returns to the firmware after an error, which then waits in its
# boot menu: stop QEMU on the loader's message instead.
LOADER_ERROR_MARK = "vtdlab-boot: error:"


class Interrupted(Exception):
    """SIGINT or SIGTERM while a run was under way (see install_signal_handlers)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def install_signal_handlers() -> dict:
    """SIGINT and SIGTERM become Interrupted, so every `finally` runs: QEMU is
    killed and the reports are written. Returns the handlers replaced."""
    def handler(signum, frame):
        raise Interrupted(signum)
    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


def restore_signal_handlers(old: dict) -> None:
    for s, h in old.items():
        signal.signal(s, h)


_PR_SET_PDEATHSIG = 1

# glibc (2.35 on) backs QEMU's heap with transparent huge pages when asked:
# its start-up touches ~2000 fewer pages, each a page fault, which a
# virtual machine like this one makes dear: ~0.04 s of host CPU a boot
# (0.19 -> 0.14 s for a boot of one case), on the ~80 boots of a make test.
# An older glibc ignores the name; the host's THP setting still decides.
QEMU_GLIBC_TUNABLES = "glibc.malloc.hugetlb=1"


def qemu_env() -> dict:
    """The environment a QEMU runs in: the tool's, with QEMU_GLIBC_TUNABLES
    after the user's tunables unless they name it already (glibc keeps a
    name's last value, so the user's would be overridden)."""
    env = dict(os.environ)
    user = env.get("GLIBC_TUNABLES", "")
    name = QEMU_GLIBC_TUNABLES.split("=", 1)[0]
    if name not in (t.split("=", 1)[0] for t in user.split(":")):
        env["GLIBC_TUNABLES"] = ":".join(t for t in (user, QEMU_GLIBC_TUNABLES) if t)
    return env


def _die_with_parent() -> None:
    """In the QEMU child before exec: the kernel kills it if the tool dies
    (even by SIGKILL), so no QEMU outlives its run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def run_boot(cmd: List[str], log_path: str, timeout_s: float, silence_s: float,
             on_line: Optional[Callable[[str], None]] = None) -> Boot:
    """Runs QEMU, streams the serial console line by line into log_path
    (flushed per line, so the log survives a crash of either side) and
    kills QEMU when the whole boot or one silence takes too long, or the
    loader reports an error."""
    start = time.monotonic()
    stderr_path = log_path + ".qemu-stderr"
    lines: List[str] = []
    with open(log_path, "w") as log, open(stderr_path, "w") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                preexec_fn=_die_with_parent, env=qemu_env())
        try:
            boot = _stream(proc, log, lines, start, timeout_s, silence_s, on_line)
        except BaseException:
            # An interrupt, or the tool's own error: QEMU goes with it.
            proc.kill()
            proc.wait()
            raise
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    first_ktap, hang = boot
    with open(stderr_path) as f:
        stderr = f.read()
    return Boot("\n".join(lines) + "\n", None if hang else code, hang, time.monotonic() - start,
                first_ktap, stderr)


def _stream(proc, log, lines: List[str], start: float, timeout_s: float, silence_s: float,
            on_line: Optional[Callable[[str], None]]):
    """The console of one boot into lines and the log; (first KTAP time,
    why it was stopped as a hang or None)."""
    first_ktap = None
    hang = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    last_output = time.monotonic()
    while True:
        now = time.monotonic()
        if now - start > timeout_s:
            hang = f"the boot ran past its {timeout_s:.0f} s limit"
        elif now - last_output > silence_s:
            hang = f"no console output for {silence_s:.0f} s"
        if hang:
            proc.kill()
            break
        if not sel.select(timeout=0.2):
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        last_output = time.monotonic()
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = clean_line(raw.decode("utf-8", "replace"))
            if first_ktap is None and line.startswith("KTAP version"):
                first_ktap = time.monotonic() - start
            lines.append(line)
            log.write(line + "\n")
            log.flush()
            if on_line:
                on_line(line)
            if LOADER_ERROR_MARK in line:
                proc.kill()
    if buf:
        lines.append(buf.decode("utf-8", "replace"))
        log.write(lines[-1] + "\n")
    sel.close()
    return first_ktap, hang


# The kernel's line once the summary is on the framebuffer (kernel/cmdline.h).
SCREEN_SUMMARY_MARK = "vtdlab: summary on screen"
SCREEN_HOLD_MS = 300
MONITOR_TIMEOUT_S = 5.0


def screendump(monitor_path: str, out_path: str) -> None:
    """QEMU's human monitor on a unix socket: screendump to a PPM file,
    waited for until the monitor prompts again."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(MONITOR_TIMEOUT_S)
        s.connect(monitor_path)

        def until_prompt():
            buf = b""
            while not buf.rstrip().endswith(b"(qemu)"):
                chunk = s.recv(4096)
                if not chunk:
                    raise SetupError("QEMU's monitor closed before it answered")
                buf += chunk
            return buf

        until_prompt()
        s.sendall(f"screendump {out_path}\n".encode())
        answer = until_prompt().decode(errors="replace")
    if not os.path.isfile(out_path):
        raise SetupError(f"QEMU wrote no screendump: {answer.strip()}")
