#!/usr/bin/env python3
"""vtdlab's own QEMU: Debian's pinned source package plus qemu/patches/,
built once per machine into a cache keyed by version and patch series.

  build       fetch, check, unpack, patch, configure, build, install (no-op
              when this key is installed already)
  check       QEMU's own qtests for intel-iommu and q35 against that build
  source DIR  Debian's patched tree (the one vtdlab's patches apply on) in DIR
  key | path  the cache key | the installed binary (exit 1 when not built)
  verify DIR  the pinned files in DIR against the pinned checksums
  apply TREE  qemu/patches/series onto TREE (--patches DIR: another series)

qemu/README.md says why this version and how the pieces fit. Standalone
(no package-relative imports): qemu/build.sh runs this file with Debian's
python; tools/vtdlabtool/qemu.py imports it to find the binary.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
QEMU_DIR = os.path.join(TOP, "qemu")
SOURCE_ENV = os.path.join(QEMU_DIR, "source.env")
PATCH_DIR = os.path.join(QEMU_DIR, "patches")
SERIES = "series"
DEPS_SCRIPT = os.path.join(TOP, "scripts", "deps.sh")
BINARY = "qemu-system-x86_64"
DEBIAN_PYTHON = "/usr/bin/python3"

# Where built binaries live: machine-wide when it can be written (root, or a
# group that owns it), else per user. VTDLAB_QEMU_CACHE replaces both (CI,
# tests). Layout under a root: <key>/bin/qemu-system-x86_64 and
# <key>/BUILD-INFO.json (installed), downloads/ (source package, private apt
# state), work/<debian version>/ (the patched tree and the build tree, kept
# so qemu-check and a patch author's rebuild are incremental), .lock.
SYSTEM_CACHE = "/var/cache/vtdlab/qemu"
CACHE_ENV = "VTDLAB_QEMU_CACHE"
# Bumped when what the key covers changes meaning.
KEY_SCHEME = 1
KEY_HASH_CHARS = 12

# Debian's ROM directories (qemu-system-data, seabios, ipxe-qemu), the
# firmware path Debian's own binary is configured with (`-L help` lists it):
# the +ds source has no firmware blobs, so vtdlab's build reads Debian's at
# run time through -L. (q35's default NIC wants ipxe's efi-e1000e.rom.)
ROM_DIRS = ("/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu")

# QEMU's own tests for the unit: intel-iommu-test reads the registers of
# a scalable-mode, first-stage unit and checks them across a reset;
# q35-test boots the machine intel-iommu sits on; device-introspect-test
# lists and instantiates every device type's properties, intel-iommu's
# among them; test-x86-cpuid-compat checks CPUID by model and property
# (MOVDIR64B's opt-in under TCG, patch 0014). (bios-tables-test's DMAR
# case needs KVM and edk2 blobs.)
QTESTS = ("intel-iommu-test", "intel-iommu-psc-test", "q35-test", "device-introspect-test",
          "test-x86-cpuid-compat")
QTEST_TIMEOUT_S = 900

SOURCE_KEYS = ("QEMU_DEB_VERSION", "QEMU_SUITE", "QEMU_MIRROR", "QEMU_ORIG", "QEMU_ORIG_SHA256",
               "QEMU_DEBIAN", "QEMU_DEBIAN_SHA256", "QEMU_TOPDIR", "QEMU_CONFIGURE")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# A patch name in the series: a plain file name in qemu/patches/.
PATCH_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


def progress(message: str) -> None:
    """Progress, flushed so a build's log shows where it is."""
    print(message, flush=True)


class QemuBuildError(Exception):
    """Bad input or a failed step: the message names what, and what to do."""


@dataclass(frozen=True)
class Source:
    deb_version: str       # with epoch, as apt names it: 1:10.2.2+ds-1
    suite: str
    mirror: str
    orig: str
    orig_sha256: str
    debian: str
    debian_sha256: str
    topdir: str
    configure: List[str]

    @property
    def version(self) -> str:
        """Debian's version without the epoch, as file names carry it."""
        return self.deb_version.split(":", 1)[-1]


def load_source(path: str = SOURCE_ENV) -> Source:
    values = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise QemuBuildError(f"cannot read {path}: {e.strerror}")
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or key not in SOURCE_KEYS:
            raise QemuBuildError(f"{path}:{n}: expected one of {', '.join(SOURCE_KEYS)}=VALUE, got '{line}'")
        values[key] = value.strip()
    missing = [k for k in SOURCE_KEYS if not values.get(k)]
    if missing:
        raise QemuBuildError(f"{path}: {', '.join(missing)} not set")
    for k in ("QEMU_ORIG_SHA256", "QEMU_DEBIAN_SHA256"):
        if not SHA256_RE.match(values[k]):
            raise QemuBuildError(f"{path}: {k} is not a sha256 (64 lowercase hex digits)")
    return Source(values["QEMU_DEB_VERSION"], values["QEMU_SUITE"], values["QEMU_MIRROR"],
                  values["QEMU_ORIG"], values["QEMU_ORIG_SHA256"], values["QEMU_DEBIAN"],
                  values["QEMU_DEBIAN_SHA256"], values["QEMU_TOPDIR"], values["QEMU_CONFIGURE"].split())


def read_series(patch_dir: str = PATCH_DIR) -> List[str]:
    """The patch names in series order; each must exist in patch_dir."""
    path = os.path.join(patch_dir, SERIES)
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise QemuBuildError(f"cannot read {path}: {e.strerror}")
    names: List[str] = []
    for n, line in enumerate(lines, 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not PATCH_NAME_RE.match(name) or name == SERIES:
            raise QemuBuildError(f"{path}:{n}: '{name}' is not a patch file name in {patch_dir}")
        if name in names:
            raise QemuBuildError(f"{path}:{n}: '{name}' is listed twice")
        if not os.path.isfile(os.path.join(patch_dir, name)):
            raise QemuBuildError(f"{path}:{n}: patch '{name}' does not exist in {patch_dir}")
        names.append(name)
    return names


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(source: Source, patch_dir: str = PATCH_DIR) -> str:
    """<Debian version>-<hash>: the hash covers the pinned source, configure's
    options and every patch's name and content in series order, so any change
    to what is built gives a new key (and a binary beside the old one)."""
    h = hashlib.sha256()
    h.update(f"vtdlab-qemu-key {KEY_SCHEME}\n".encode())
    h.update(f"source {source.deb_version} {source.orig_sha256} {source.debian_sha256}\n".encode())
    h.update(("configure " + " ".join(source.configure) + "\n").encode())
    for name in read_series(patch_dir):
        h.update(f"patch {name} {_sha256_file(os.path.join(patch_dir, name))}\n".encode())
    return f"{source.version}-{h.hexdigest()[:KEY_HASH_CHARS]}"


def user_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vtdlab", "qemu")


def cache_roots() -> List[str]:
    """Where an installed binary is looked for, in order."""
    if os.environ.get(CACHE_ENV):
        return [os.environ[CACHE_ENV]]
    return [SYSTEM_CACHE, user_cache()]


def _can_write(path: str) -> bool:
    """path is writable, or does not exist and its nearest existing parent is."""
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.access(path, os.W_OK | os.X_OK)


def writable_root() -> str:
    for root in cache_roots():
        if _can_write(root):
            return root
    raise QemuBuildError("no writable cache for vtdlab's QEMU (tried " + ", ".join(cache_roots()) +
                         f"); set {CACHE_ENV} to a writable directory")


def binary_in(root: str, key: str) -> str:
    return os.path.join(root, key, "bin", BINARY)


def installed_binary(key: str) -> Optional[str]:
    for root in cache_roots():
        path = binary_in(root, key)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def verify_file(path: str, want: str) -> None:
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise QemuBuildError(f"{name}: missing from {os.path.dirname(path)}")
    got = _sha256_file(path)
    if got != want:
        raise QemuBuildError(f"{name}: sha256 is {got}, but qemu/source.env pins {want} "
                             f"(delete {path} to fetch it again)")


def verify_sources(source: Source, directory: str) -> None:
    verify_file(os.path.join(directory, source.orig), source.orig_sha256)
    verify_file(os.path.join(directory, source.debian), source.debian_sha256)


def _spawn(cmd: List[str], what: str, **kw) -> subprocess.CompletedProcess:
    """subprocess.run, with a tool that is not there (or cannot be run) one
    message naming the step, not a traceback."""
    try:
        return subprocess.run(cmd, **kw)
    except OSError as e:
        missing = isinstance(e, FileNotFoundError) and e.filename == cmd[0]
        raise QemuBuildError(f"{what}: '{cmd[0]}' is not installed; install the build dependencies as root: "
                             f"{DEPS_SCRIPT} --qemu" if missing else f"{what}: cannot run {cmd[0]}: {e}") from None


def _run(cmd: List[str], what: str, cwd: Optional[str] = None, log: Optional[str] = None,
         env: Optional[dict] = None) -> None:
    """cmd, its output in log when given; a failure names the step and shows
    the end of its output."""
    if log:
        with open(log, "w") as f:
            r = _spawn(cmd, what, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env)
    else:
        r = _spawn(cmd, what, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode:
        if log:
            with open(log, errors="replace") as f:
                tail = f.read().splitlines()[-20:]
        else:
            tail = (r.stdout + r.stderr).splitlines()[-20:]
        raise QemuBuildError(f"{what} failed (exit {r.returncode})" + (f"; log: {log}" if log else "") +
                             "".join("\n  " + t for t in tail))


def _apt_options(apt_dir: str) -> List[str]:
    """A private apt: its own sources list, lists and cache; the machine's
    apt configuration and state are neither read nor changed."""
    user = "root" if os.geteuid() == 0 else (os.environ.get("USER") or str(os.geteuid()))
    return ["-o", f"Dir::Etc::SourceList={apt_dir}/sources.list",
            "-o", f"Dir::Etc::SourceParts={apt_dir}/parts",
            "-o", f"Dir::State::Lists={apt_dir}/lists",
            "-o", f"Dir::Cache={apt_dir}/cache",
            "-o", "Dir::State::status=/dev/null",
            "-o", f"APT::Sandbox::User={user}"]


def fetch(source: Source, downloads: str) -> None:
    """The source package through apt, which checks the .dsc and both files
    against the suite's signed Sources index; then against the pins."""
    os.makedirs(downloads, exist_ok=True)
    have = all(os.path.isfile(os.path.join(downloads, f)) for f in (source.orig, source.debian))
    if not have:
        apt_dir = os.path.join(downloads, "apt")
        for d in ("lists/partial", "cache/archives/partial", "parts"):
            os.makedirs(os.path.join(apt_dir, d), exist_ok=True)
        with open(os.path.join(apt_dir, "sources.list"), "w") as f:
            f.write(f"deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                    f"{source.mirror} {source.suite} main\n")
        opts = _apt_options(apt_dir)
        if "snapshot.debian.org" in source.mirror:
            # An archived Release file is past its Valid-Until; the files are
            # still checked against its signed index and against the pins.
            opts += ["-o", "Acquire::Check-Valid-Until=false"]
        progress(f"qemu: fetching Debian's qemu {source.deb_version} source from {source.suite}")
        _run(["apt-get", *opts, "-qq", "update"], f"apt-get update ({source.mirror} {source.suite})")
        _run(["apt-get", *opts, "-qq", "--download-only", "source", f"qemu={source.deb_version}"],
             f"apt-get source qemu={source.deb_version} (is it still served by {source.suite}? "
             "qemu/README.md says what to do when it is not)", cwd=downloads)
    verify_sources(source, downloads)


def apply_patch(tree: str, patch: str, label: str) -> None:
    """One patch with -p1 and no fuzz, tried first so one that does not
    apply leaves the tree as it was."""
    base = ["patch", "-p1", "--fuzz=0", "--batch", "--forward", "--no-backup-if-mismatch", "-d", tree, "-i", patch]
    r = _spawn(base + ["--dry-run"], f"patch {label}", capture_output=True, text=True)
    if r.returncode:
        detail = "".join("\n  " + line for line in (r.stdout + r.stderr).splitlines()[-10:])
        raise QemuBuildError(f"patch {label} does not apply to {tree}{detail}")
    _run(base + ["--silent"], f"patch {label}")


def reverse_patch(tree: str, patch: str, label: str) -> None:
    base = ["patch", "-p1", "-R", "--fuzz=0", "--batch", "--no-backup-if-mismatch", "-d", tree, "-i", patch]
    r = _spawn(base + ["--dry-run"], f"reversing patch {label}", capture_output=True, text=True)
    if r.returncode:
        raise QemuBuildError(f"patch {label} does not reverse cleanly in {tree}")
    _run(base + ["--silent"], f"reversing patch {label}")


APPLIED = ".vtdlab-applied"   # in a patched tree: copies of the patches applied, in order


def applied_series(tree: str) -> List[str]:
    path = os.path.join(tree, APPLIED, SERIES)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [line for line in f.read().splitlines() if line]


def _record_applied(tree: str, names: List[str]) -> None:
    path = os.path.join(tree, APPLIED, SERIES)
    with open(path + ".tmp", "w") as f:
        f.write("".join(n + "\n" for n in names))
    os.replace(path + ".tmp", path)


def _same_patch(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def sync_series(tree: str, patch_dir: str = PATCH_DIR, say: Callable[[str], None] = progress) -> List[str]:
    """Brings tree to exactly patch_dir's series: the patches applied before
    (kept as copies in tree/.vtdlab-applied) that differ from the series
    from the first difference on are reversed, newest first, and the rest of
    the series applied in order. Only the files those patches touch change,
    so an incremental build recompiles only those. Returns the names applied."""
    names = read_series(patch_dir)
    record = os.path.join(tree, APPLIED)
    os.makedirs(record, exist_ok=True)
    done = applied_series(tree)
    keep = 0
    while (keep < len(done) and keep < len(names) and done[keep] == names[keep]
           and _same_patch(os.path.join(record, done[keep]), os.path.join(patch_dir, names[keep]))):
        keep += 1
    for name in reversed(done[keep:]):
        say(f"qemu: reversing {name} (changed or no longer in the series)")
        reverse_patch(tree, os.path.join(record, name), f"{name} (as applied before)")
        done.remove(name)
        _record_applied(tree, done)
        os.unlink(os.path.join(record, name))
    for name in names[keep:]:
        say(f"qemu: applying {name}")
        apply_patch(tree, os.path.join(patch_dir, name), f"qemu/patches/{name}")
        shutil.copyfile(os.path.join(patch_dir, name), os.path.join(record, name))
        done.append(name)
        _record_applied(tree, done)
    return names


def _debian_series(debian_patches: str) -> List[str]:
    """Debian's quilt series: a name per line, optionally followed by patch
    options (none in this package; -p1 is what it uses)."""
    names = []
    with open(os.path.join(debian_patches, SERIES)) as f:
        for line in f.read().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line.split()[0])
    return names


def unpack(source: Source, downloads: str, dest: str) -> None:
    """Debian's source tree in dest (which must not exist): the orig tarball,
    the debian/ directory and Debian's own patches, in their order. vtdlab's
    patches go on top of this tree (qemu/README.md says why). Made beside
    dest and renamed into place whole: a step that fails leaves neither."""
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        _run(["tar", "-xJf", os.path.join(downloads, source.orig), "-C", tmp], f"unpacking {source.orig}")
        tree = os.path.join(tmp, source.topdir)
        if not os.path.isdir(tree):
            raise QemuBuildError(f"{source.orig} has no top directory {source.topdir} "
                                 "(QEMU_TOPDIR in qemu/source.env)")
        _run(["tar", "-xJf", os.path.join(downloads, source.debian), "-C", tree], f"unpacking {source.debian}")
        debian_patches = os.path.join(tree, "debian", "patches")
        try:
            series = _debian_series(debian_patches)
        except OSError as e:
            raise QemuBuildError(f"{source.debian}: no Debian patch series: {e}") from None
        for name in series:
            apply_patch(tree, os.path.join(debian_patches, name), f"debian/patches/{name} (Debian's own)")
        os.rename(tree, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _locked(root: str) -> Iterator[None]:
    """One build per cache at a time; a second waits, then finds the binary."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"qemu: another build of vtdlab's QEMU holds {root}/.lock; waiting for it")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def check_deps() -> None:
    """The build dependencies, checked by scripts/deps.sh (one list)."""
    r = subprocess.run(["bash", DEPS_SCRIPT, "--check-qemu"], capture_output=True, text=True)
    if r.returncode:
        raise QemuBuildError("cannot build vtdlab's QEMU: build dependencies " + r.stdout.strip() +
                             f"; install them as root: {DEPS_SCRIPT} --qemu")


def _ninja(build_dir: str, targets: List[str], log: str, say: Callable[[str], None]) -> None:
    """ninja with its output in log and a progress line every tenth."""
    with open(log, "w") as f:
        proc = subprocess.Popen(["ninja", "-C", build_dir, *targets], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
        next_tenth = 1
        for line in proc.stdout:
            f.write(line)
            f.flush()   # the log shows where a slow build is
            m = re.match(r"\[(\d+)/(\d+)\]", line)
            if m and int(m.group(2)) >= 100 and int(m.group(1)) * 10 >= next_tenth * int(m.group(2)):
                say(f"qemu: {m.group(1)}/{m.group(2)} build steps")
                next_tenth = int(m.group(1)) * 10 // int(m.group(2)) + 1
        code = proc.wait()
    if code:
        with open(log, errors="replace") as f:
            tail = f.read().splitlines()[-25:]
        raise QemuBuildError(f"ninja {' '.join(targets)} failed (exit {code}); log: {log}" +
                             "".join("\n  " + t for t in tail))


CONFIGURED = ".vtdlab-configure"   # in the build tree: the options it was configured with


def prepare_tree(source: Source, root: str, say: Callable[[str], None] = progress) -> tuple:
    """The work tree of this source version at the current series, configured:
    (source tree, build tree)."""
    work = os.path.join(root, "work", source.version)
    src, bld = os.path.join(work, "src"), os.path.join(work, "build")
    if os.path.isdir(src):
        try:
            sync_series(src, say=say)
        except QemuBuildError as e:
            if "does not reverse cleanly" not in str(e):
                raise
            # Someone edited the kept tree by hand: start it over.
            say(f"qemu: {e}; unpacking the source again")
            shutil.rmtree(work)
    if not os.path.isdir(src):
        downloads = os.path.join(root, "downloads")
        fetch(source, downloads)
        say(f"qemu: unpacking Debian's qemu {source.deb_version} and applying Debian's patches")
        os.makedirs(work, exist_ok=True)
        shutil.rmtree(bld, ignore_errors=True)
        unpack(source, downloads, src)
        sync_series(src, say=say)
    flags = " ".join(source.configure)
    stamp = os.path.join(bld, CONFIGURED)
    configured = os.path.isfile(stamp) and open(stamp).read() == flags and \
        os.path.isfile(os.path.join(bld, "build.ninja"))
    if not configured:
        shutil.rmtree(bld, ignore_errors=True)
        os.makedirs(bld)
        say(f"qemu: configure {flags}")
        _run([os.path.join(src, "configure"), *source.configure], "QEMU's configure", cwd=bld,
             log=os.path.join(work, "configure.log"))
        with open(stamp, "w") as f:
            f.write(flags)
    return src, bld


def _patch_list() -> List[dict]:
    return [{"name": n, "sha256": _sha256_file(os.path.join(PATCH_DIR, n))} for n in read_series()]


def _install(source: Source, root: str, key: str, patches: List[dict], built: str, seconds: float) -> str:
    """Copied into a temporary directory beside the final one and renamed into
    place, so a reader sees no binary or a whole one."""
    final = os.path.join(root, key)
    tmp = tempfile.mkdtemp(prefix=f".{key}.", dir=root)
    try:
        os.chmod(tmp, 0o755)
        os.makedirs(os.path.join(tmp, "bin"), mode=0o755)
        dest = os.path.join(tmp, "bin", BINARY)
        shutil.copyfile(built, dest)
        os.chmod(dest, 0o755)
        info = {"key": key, "debian_version": source.deb_version, "configure": source.configure,
                "patches": patches,
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build_seconds": round(seconds)}
        with open(os.path.join(tmp, "BUILD-INFO.json"), "w") as f:
            json.dump(info, f, indent=1)
        os.chmod(os.path.join(tmp, "BUILD-INFO.json"), 0o644)
        try:
            os.rename(tmp, final)
        except OSError:
            if not os.path.isfile(binary_in(root, key)):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return binary_in(root, key)


def build(say: Callable[[str], None] = progress) -> str:
    """The binary of the current source and series, built when missing."""
    source = load_source()
    key = cache_key(source)
    patches = _patch_list()
    found = installed_binary(key)
    if found:
        say(f"qemu: vtdlab's QEMU {key} is built: {found}")
        return found
    check_deps()
    root = writable_root()
    with _locked(root):
        found = installed_binary(key)
        if found:
            say(f"qemu: vtdlab's QEMU {key} is built: {found}")
            return found
        start = time.monotonic()
        kept = os.path.isfile(os.path.join(root, "work", source.version, "build", "build.ninja"))
        say(f"qemu: building vtdlab's QEMU {key} in {root} " +
            ("(incremental: the kept build tree recompiles what the patches touch)" if kept
             else "(about 6-10 minutes on 2 cores)"))
        _, bld = prepare_tree(source, root, say)
        _ninja(bld, [BINARY], os.path.join(bld, "vtdlab-ninja.log"), say)
        if cache_key(source) != key:
            raise QemuBuildError("qemu/patches changed during the build: run it again to build "
                                 "and install what is there now")
        seconds = time.monotonic() - start
        path = _install(source, root, key, patches, os.path.join(bld, BINARY), seconds)
    say(f"qemu: built vtdlab's QEMU {key} in {seconds / 60:.1f} min: {path}")
    return path


def rom_args() -> List[str]:
    missing = [d for d in ROM_DIRS if not os.path.isdir(d)]
    if missing:
        raise QemuBuildError(f"Debian's QEMU ROMs are missing ({', '.join(missing)}): "
                             "install qemu-system-data, seabios and ipxe-qemu (make deps)")
    return [a for d in ROM_DIRS for a in ("-L", d)]


def check(names: List[str], say: Callable[[str], None] = progress) -> int:
    """QEMU's own qtests, built in the kept build tree and run against the
    installed binary with Debian's ROMs (through a wrapper named like the
    binary: libqtest derives the target from the name)."""
    binary = build(say)
    source = load_source()
    root = os.path.dirname(os.path.dirname(os.path.dirname(binary)))
    if not _can_write(root):
        root = writable_root()
    with _locked(root):
        _, bld = prepare_tree(source, root, say)
        say(f"qemu: building the qtests {', '.join(names)}")
        _ninja(bld, [f"tests/qtest/{n}" for n in names], os.path.join(bld, "vtdlab-qtest-ninja.log"), say)
    failed = []
    with tempfile.TemporaryDirectory(prefix="vtdlab-qtest-") as tmp:
        wrapper = os.path.join(tmp, BINARY)
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in [binary, *rom_args()]) + ' "$@"\n')
        os.chmod(wrapper, 0o755)
        env = dict(os.environ, QTEST_QEMU_BINARY=wrapper, MALLOC_PERTURB_="1",
                   G_TEST_SRCDIR=os.path.join(bld, "..", "src", "tests", "qtest"),
                   G_TEST_BUILDDIR=os.path.join(bld, "tests", "qtest"))
        for name in names:
            start = time.monotonic()
            test = os.path.join(bld, "tests", "qtest", name)
            try:
                r = subprocess.run([test, "--tap", "-k"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=QTEST_TIMEOUT_S, cwd=bld)
                out, ended = r.stdout.decode(errors="replace"), r.returncode and f"exit {r.returncode}"
            except subprocess.TimeoutExpired as e:
                out, ended = (e.stdout or b"").decode(errors="replace"), f"killed after {QTEST_TIMEOUT_S} s"
            results = [line for line in out.splitlines() if re.match(r"(not )?ok ", line)]
            bad = [line for line in results if line.startswith("not ok")]
            skipped = [line for line in results if re.search(r"#\s*SKIP", line, re.I)]
            if bad or ended or not results:
                verdict = "FAIL" + (f" ({ended})" if ended else "" if results else " (no results)")
            else:
                verdict = "PASS"
            say(f"qemu-check: {verdict:6} {name}: {len(results) - len(bad) - len(skipped)} ok, "
                f"{len(skipped)} skipped, {len(bad)} not ok, {time.monotonic() - start:.1f} s")
            for line in bad:
                say(f"  {line}")
            if verdict != "PASS":
                failed.append(name)
                with open(os.path.join(bld, f"vtdlab-{name}.log"), "w") as f:
                    f.write(out)
                say(f"  log: {os.path.join(bld, f'vtdlab-{name}.log')}")
    say(f"qemu-check: {len(names) - len(failed)} of {len(names)} qtest programs passed"
        f" on vtdlab's QEMU {os.path.basename(os.path.dirname(os.path.dirname(binary)))}")
    return 1 if failed else 0


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="qemu/build.sh", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("build")
    c = sub.add_parser("check")
    c.add_argument("qtests", nargs="*", default=list(QTESTS))
    s = sub.add_parser("source")
    s.add_argument("dir")
    sub.add_parser("key")
    sub.add_parser("path")
    v = sub.add_parser("verify")
    v.add_argument("dir")
    a = sub.add_parser("apply")
    a.add_argument("tree")
    a.add_argument("--patches", default=PATCH_DIR)
    args = p.parse_args(argv)
    try:
        if args.cmd in (None, "build"):
            build()
        elif args.cmd == "check":
            return check(args.qtests)
        elif args.cmd == "source":
            source = load_source()
            if os.path.exists(args.dir):
                raise QemuBuildError(f"{args.dir} exists already")
            downloads = os.path.join(writable_root(), "downloads")
            fetch(source, downloads)
            unpack(source, downloads, args.dir)
            print(f"qemu: Debian's qemu {source.deb_version}, patched by Debian, in {args.dir}")
        elif args.cmd == "key":
            print(cache_key(load_source()))
        elif args.cmd == "path":
            key = cache_key(load_source())
            found = installed_binary(key)
            if not found:
                raise QemuBuildError(f"vtdlab's QEMU {key} is not built: run `make qemu`")
            print(found)
        elif args.cmd == "verify":
            verify_sources(load_source(), args.dir)
            print(f"qemu: {args.dir}: both files match qemu/source.env")
        elif args.cmd == "apply":
            names = sync_series(args.tree, args.patches)
            print(f"qemu: {args.tree}: {len(names)} patch(es) applied")
    except QemuBuildError as e:
        print(f"qemu: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
