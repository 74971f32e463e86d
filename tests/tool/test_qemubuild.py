"""vtdlab's QEMU build (qemu/, tools/vtdlabtool/qemubuild.py) and the choice
of binary a profile runs on (qemu.find_qemu), on bad input: without building
or fetching QEMU. Each bad-input test has its good-input twin."""
import dataclasses
import hashlib
import os
import subprocess

import pytest

from conftest import TOP

from vtdlabtool import cli, qemu, qemubuild

BUILD_SH = os.path.join(TOP, "qemu", "build.sh")

ORIGINAL = "int answer(void)\n{\n    return 41;\n}\n"
PATCHED = "int answer(void)\n{\n    return 42;\n}\n"
# A throwaway patch in the form qemu/patches/ holds (-p1, a/ and b/ prefixes).
GOOD_PATCH = """--- a/src/answer.c
+++ b/src/answer.c
@@ -1,4 +1,4 @@
 int answer(void)
 {
-    return 41;
+    return 42;
 }
"""
# Its context no longer matches the tree (as after an upstream change).
STALE_PATCH = """--- a/src/answer.c
+++ b/src/answer.c
@@ -1,4 +1,4 @@
 long answer(void)
 {
-    return 41;
+    return 43;
 }
"""


@pytest.fixture
def tree(tmp_path):
    t = tmp_path / "tree"
    (t / "src").mkdir(parents=True)
    (t / "src" / "answer.c").write_text(ORIGINAL)
    return t


def patch_dir(tmp_path, patches, name="patches"):
    d = tmp_path / name
    d.mkdir()
    for n, text in patches.items():
        (d / n).write_text(text)
    (d / "series").write_text("# test series\n\n" + "".join(n + "\n" for n in patches))
    return d


def fake_source(**over):
    source = qemubuild.load_source()
    return dataclasses.replace(source, **over)


# --------------------------------------------------------------- pinned source

def test_checked_in_source_pins_parse():
    s = qemubuild.load_source()
    assert s.version == s.deb_version.split(":")[-1]
    assert "--target-list=x86_64-softmmu" in s.configure
    series = qemubuild.read_series()
    assert series and all(os.path.isfile(os.path.join(qemubuild.PATCH_DIR, n)) for n in series), series


def test_verify_accepts_pinned_files(tmp_path):
    (tmp_path / "o.tar.xz").write_bytes(b"orig")
    (tmp_path / "d.tar.xz").write_bytes(b"debian")
    s = fake_source(orig="o.tar.xz", orig_sha256=hashlib.sha256(b"orig").hexdigest(),
                    debian="d.tar.xz", debian_sha256=hashlib.sha256(b"debian").hexdigest())
    qemubuild.verify_sources(s, str(tmp_path))


def test_verify_names_the_file_whose_checksum_differs(tmp_path):
    (tmp_path / "o.tar.xz").write_bytes(b"orig")
    (tmp_path / "d.tar.xz").write_bytes(b"tampered")
    s = fake_source(orig="o.tar.xz", orig_sha256=hashlib.sha256(b"orig").hexdigest(),
                    debian="d.tar.xz", debian_sha256=hashlib.sha256(b"debian").hexdigest())
    with pytest.raises(qemubuild.QemuBuildError) as e:
        qemubuild.verify_sources(s, str(tmp_path))
    assert str(e.value).startswith("d.tar.xz: sha256 is " + hashlib.sha256(b"tampered").hexdigest())
    assert hashlib.sha256(b"debian").hexdigest() in str(e.value)


def test_verify_names_a_missing_file(tmp_path):
    (tmp_path / "d.tar.xz").write_bytes(b"debian")
    s = fake_source(orig="o.tar.xz", debian="d.tar.xz")
    with pytest.raises(qemubuild.QemuBuildError, match=r"^o\.tar\.xz: missing from"):
        qemubuild.verify_sources(s, str(tmp_path))


def test_build_sh_verify_fails_on_a_fake_orig_tarball(tmp_path):
    s = qemubuild.load_source()
    (tmp_path / s.orig).write_bytes(b"not the orig tarball")
    r = subprocess.run(["bash", BUILD_SH, "verify", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith(f"qemu: error: {s.orig}: sha256 is "), r.stderr
    assert s.orig_sha256 in r.stderr


def test_bad_source_env_is_named(tmp_path):
    env = tmp_path / "source.env"
    text = open(qemubuild.SOURCE_ENV).read()
    env.write_text(text.replace("QEMU_ORIG_SHA256=", "QEMU_ORIG_SHA256=xyz"))
    with pytest.raises(qemubuild.QemuBuildError, match="QEMU_ORIG_SHA256 is not a sha256"):
        qemubuild.load_source(str(env))
    env.write_text(text + "QEMU_TYPO=1\n")
    with pytest.raises(qemubuild.QemuBuildError, match="QEMU_TYPO=1"):
        qemubuild.load_source(str(env))


# --------------------------------------------------------------- patch series

def test_throwaway_patch_applies_and_is_recorded(tmp_path, tree):
    d = patch_dir(tmp_path, {"0001-answer.patch": GOOD_PATCH})
    assert qemubuild.sync_series(str(tree), str(d), say=lambda m: None) == ["0001-answer.patch"]
    assert (tree / "src" / "answer.c").read_text() == PATCHED
    assert qemubuild.applied_series(str(tree)) == ["0001-answer.patch"]
    # Again: nothing to do, nothing changes.
    qemubuild.sync_series(str(tree), str(d), say=lambda m: None)
    assert (tree / "src" / "answer.c").read_text() == PATCHED


def test_patch_that_no_longer_applies_is_named_and_tree_untouched(tmp_path, tree):
    d = patch_dir(tmp_path, {"0001-stale.patch": STALE_PATCH})
    with pytest.raises(qemubuild.QemuBuildError) as e:
        qemubuild.sync_series(str(tree), str(d), say=lambda m: None)
    assert str(e.value).startswith("patch qemu/patches/0001-stale.patch does not apply to")
    assert (tree / "src" / "answer.c").read_text() == ORIGINAL
    assert qemubuild.applied_series(str(tree)) == []
    assert sorted(os.listdir(tree / "src")) == ["answer.c"]   # no .rej/.orig left


def test_build_sh_apply_fails_naming_the_patch(tmp_path, tree):
    d = patch_dir(tmp_path, {"0001-answer.patch": GOOD_PATCH, "0002-stale.patch": STALE_PATCH})
    r = subprocess.run(["bash", BUILD_SH, "apply", str(tree), "--patches", str(d)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "qemu: error: patch qemu/patches/0002-stale.patch does not apply" in r.stderr, r.stderr
    # The first applied and is recorded, so the next sync starts from there.
    assert qemubuild.applied_series(str(tree)) == ["0001-answer.patch"]


def test_edited_patch_is_reversed_then_reapplied(tmp_path, tree):
    d = patch_dir(tmp_path, {"0001-answer.patch": GOOD_PATCH})
    qemubuild.sync_series(str(tree), str(d), say=lambda m: None)
    (d / "0001-answer.patch").write_text(GOOD_PATCH.replace("42", "44"))
    said = []
    qemubuild.sync_series(str(tree), str(d), say=said.append)
    assert (tree / "src" / "answer.c").read_text() == PATCHED.replace("42", "44")
    assert said == ["qemu: reversing 0001-answer.patch (changed or no longer in the series)",
                    "qemu: applying 0001-answer.patch"]
    # Dropped from the series: reversed to the original.
    (d / "series").write_text("")
    qemubuild.sync_series(str(tree), str(d), say=lambda m: None)
    assert (tree / "src" / "answer.c").read_text() == ORIGINAL
    assert qemubuild.applied_series(str(tree)) == []


def path_without_tools(tmp_path, monkeypatch):
    """A PATH with no program at all: patch and tar are missing."""
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_missing_patch_tool_is_one_message_and_the_tree_untouched(tmp_path, tree, monkeypatch):
    d = patch_dir(tmp_path, {"0001-answer.patch": GOOD_PATCH})
    path_without_tools(tmp_path, monkeypatch)
    with pytest.raises(qemubuild.QemuBuildError, match=r"^patch qemu/patches/0001-answer\.patch: 'patch' is not "
                       r"installed; .*deps\.sh --qemu"):
        qemubuild.sync_series(str(tree), str(d), say=lambda m: None)
    assert (tree / "src" / "answer.c").read_text() == ORIGINAL
    assert qemubuild.applied_series(str(tree)) == []


def fake_tarballs(tmp_path, debian_patch):
    """A source package in the shape unpack takes: the orig tarball with
    its top directory, and the debian tarball whose series names one patch."""
    downloads = tmp_path / "downloads"
    (tmp_path / "o" / "qemu-x" / "src").mkdir(parents=True)
    (tmp_path / "o" / "qemu-x" / "src" / "answer.c").write_text(ORIGINAL)
    (tmp_path / "d" / "debian" / "patches").mkdir(parents=True)
    (tmp_path / "d" / "debian" / "patches" / "series").write_text("answer.patch\n")
    (tmp_path / "d" / "debian" / "patches" / "answer.patch").write_text(debian_patch)
    downloads.mkdir()
    fast = dict(os.environ, XZ_OPT="-0")   # the fastest xz: these are a few bytes
    for name, top, base in (("o.tar.xz", "qemu-x", "o"), ("d.tar.xz", "debian", "d")):
        subprocess.run(["tar", "-cJf", str(downloads / name), "-C", str(tmp_path / base), top], check=True, env=fast)
    return fake_source(orig="o.tar.xz", debian="d.tar.xz", topdir="qemu-x"), downloads


def test_unpack_gives_the_patched_tree(tmp_path):
    source, downloads = fake_tarballs(tmp_path, GOOD_PATCH)
    dest = tmp_path / "src"
    qemubuild.unpack(source, str(downloads), str(dest))
    assert (dest / "src" / "answer.c").read_text() == PATCHED
    assert sorted(os.listdir(tmp_path)) == ["d", "downloads", "o", "src"]


def test_an_unpack_that_fails_leaves_nothing_behind(tmp_path, monkeypatch):
    # A Debian patch that does not apply: one message, no half-made tree.
    source, downloads = fake_tarballs(tmp_path, STALE_PATCH)
    dest = tmp_path / "src"
    with pytest.raises(qemubuild.QemuBuildError, match=r"^patch debian/patches/answer\.patch .*does not apply"):
        qemubuild.unpack(source, str(downloads), str(dest))
    assert sorted(os.listdir(tmp_path)) == ["d", "downloads", "o"]
    # A tarball that is not one.
    (downloads / "o.tar.xz").write_bytes(b"not a tarball")
    with pytest.raises(qemubuild.QemuBuildError, match=r"^unpacking o\.tar\.xz failed"):
        qemubuild.unpack(source, str(downloads), str(dest))
    assert sorted(os.listdir(tmp_path)) == ["d", "downloads", "o"]
    # No tar at all.
    path_without_tools(tmp_path, monkeypatch)
    with pytest.raises(qemubuild.QemuBuildError, match=r"^unpacking o\.tar\.xz: 'tar' is not installed"):
        qemubuild.unpack(source, str(downloads), str(dest))
    assert sorted(os.listdir(tmp_path)) == ["d", "downloads", "no-tools", "o"]


def test_series_naming_a_missing_patch(tmp_path):
    d = patch_dir(tmp_path, {})
    (d / "series").write_text("0001-gone.patch\n")
    with pytest.raises(qemubuild.QemuBuildError, match="patch '0001-gone.patch' does not exist"):
        qemubuild.read_series(str(d))
    (d / "series").write_text("../escape.patch\n")
    with pytest.raises(qemubuild.QemuBuildError, match="is not a patch file name"):
        qemubuild.read_series(str(d))


def test_cache_key_follows_the_patches(tmp_path):
    s = qemubuild.load_source()
    d = patch_dir(tmp_path, {"0001-answer.patch": GOOD_PATCH})
    key = qemubuild.cache_key(s, str(d))
    assert key.startswith(s.version + "-") and key == qemubuild.cache_key(s, str(d))
    (d / "0001-answer.patch").write_text(GOOD_PATCH.replace("42", "44"))
    assert qemubuild.cache_key(s, str(d)) != key
    empty = patch_dir(tmp_path, {}, "empty")
    assert qemubuild.cache_key(s, str(empty)) != key
    assert qemubuild.cache_key(dataclasses.replace(s, configure=s.configure + ["--enable-debug"]),
                               str(empty)) != qemubuild.cache_key(s, str(empty))


def test_missing_build_dependency_is_named(tmp_path, monkeypatch):
    # dpkg-query that knows no package: as on a machine without them.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (fake / "dpkg-query").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(qemubuild.QemuBuildError) as e:
        qemubuild.check_deps()
    assert "libfdt-dev" in str(e.value) and "deps.sh --qemu" in str(e.value)


# --------------------------------------------------------------- which binary

@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv(qemubuild.CACHE_ENV, str(root))
    return root


def install_fake(root):
    key = qemubuild.cache_key(qemubuild.load_source())
    b = root / key / "bin" / qemubuild.BINARY
    b.parent.mkdir(parents=True)
    b.write_text("#!/bin/sh\nexit 0\n")
    b.chmod(0o755)
    return key, str(b)


def test_vtdlab_qemu_not_built_is_an_error_not_a_fallback(cache):
    key = qemubuild.cache_key(qemubuild.load_source())
    with pytest.raises(qemu.SetupError) as e:
        qemu.find_qemu({"qemu": "vtdlab"})
    assert str(e.value) == f"vtdlab's QEMU {key} is not built: run `make qemu`"


def test_run_on_unbuilt_vtdlab_qemu_exits_2(cache, capsys):
    assert cli.main(["run", "--pvh", "--profile", "default", "--qemu", "vtdlab"]) == 2
    assert "is not built: run `make qemu`" in capsys.readouterr().err


def test_vtdlab_qemu_runs_with_debian_roms(cache):
    key, path = install_fake(cache)
    b = qemu.find_qemu({"qemu": "vtdlab"})
    assert (b.kind, b.path, b.label) == ("vtdlab", path, f"vtdlab {key}")
    cmd = qemu.build_command({}, None, "/k.elf", pvh_cmdline="", binary=b)
    assert cmd[:7] == [path, "-L", "/usr/share/qemu", "-L", "/usr/share/seabios", "-L", "/usr/lib/ipxe/qemu"]
    # --qemu overrides the profile, both ways.
    assert qemu.find_qemu({"qemu": "stock"}, "vtdlab").path == path
    assert qemu.find_qemu({"qemu": "vtdlab"}, "stock").kind == "stock"


def test_stock_qemu_is_the_one_on_path(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / qemu.QEMU).write_text("#!/bin/sh\n")
    (fake / qemu.QEMU).chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    b = qemu.find_qemu({"qemu": "stock"})
    assert (b.path, b.args) == (str(fake / qemu.QEMU), [])
    assert qemu.build_command({}, None, "/k.elf", pvh_cmdline="", binary=b)[0] == b.path
    assert qemu.find_qemu({}).kind == qemu.DEFAULT_QEMU


def test_unknown_qemu_kind_is_named():
    with pytest.raises(qemu.SetupError, match="profile's \"qemu\" is 'debian', not one of vtdlab, stock"):
        qemu.find_qemu({"qemu": "debian"})


def test_an_installed_key_is_reused_without_building(cache, monkeypatch):
    key, path = install_fake(cache)

    def no_build(*args, **kwargs):
        raise AssertionError("a built key must not be rebuilt")
    monkeypatch.setattr(qemubuild, "check_deps", no_build)
    monkeypatch.setattr(qemubuild, "prepare_tree", no_build)
    said = []
    assert qemubuild.build(say=said.append) == path
    assert said == [f"qemu: vtdlab's QEMU {key} is built: {path}"]


def test_install_renames_a_whole_directory_into_place(cache, tmp_path):
    built = tmp_path / "qemu-system-x86_64"
    built.write_text("#!/bin/sh\n")
    s = qemubuild.load_source()
    path = qemubuild._install(s, str(cache), "k1", [], str(built), 1.0)
    assert path == str(cache / "k1" / "bin" / qemubuild.BINARY) and os.access(path, os.X_OK)
    assert '"key": "k1"' in (cache / "k1" / "BUILD-INFO.json").read_text()
    # Another build installed the same key first: its binary stays, no debris.
    assert qemubuild._install(s, str(cache), "k1", [], str(built), 1.0) == path
    assert sorted(os.listdir(cache)) == ["k1"]
