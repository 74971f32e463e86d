"""The screen summary (harness/summary.c) read back from QEMU's screendump of
the gop profile's framebuffer: the verdict in large red letters, the
counts, the failed case with its reason, each drawn exactly from the
console font, in the layout summary.c uses. The same boot is make test's
boot of the USB image (build/vtdlab-usb.img, what `dd` writes to a stick)
through UEFI from QEMU's usb-storage, running the boot suite on a GOP
framebuffer (the console's glyph check among them), as a real machine
boots the stick: one UEFI boot for the three."""
import json
import os
import re

import pytest

from vtdlabtool import cli, qemu

FONT_C = os.path.join(qemu.BUILD, "gen", "font.c")
# harness/summary.c's layout
MARGIN, VERDICT_SCALE, COUNTS_SCALE, LINE_GAP, ROW = 16, 6, 2, 4, 16
RED, GREY = (0xf0, 0x40, 0x40), (0xc0, 0xc0, 0xc0)



@pytest.fixture(autouse=True)
def built():
    assert os.path.isfile(qemu.USB_IMAGE) and os.path.isfile(FONT_C), \
        "build/vtdlab-usb.img or the font is missing: run make image"


def font():
    rows = re.findall(r"\{ (0x[^}]*)\}, /\* ", open(FONT_C).read())
    assert len(rows) == 0x7e - 0x20 + 1
    return {chr(0x20 + i): [int(x, 16) for x in r.split(",")] for i, r in enumerate(rows)}


def ppm(path):
    data = open(path, "rb").read()
    magic, size, maxval, pixels = data.split(b"\n", 3)
    assert magic == b"P6" and maxval == b"255"
    w, h = map(int, size.split())
    return w, h, pixels


def wrong_pixels(img, glyphs, text, x0, y0, scale, color):
    """Pixels of text at (x0, y0) that differ from the font drawn at scale."""
    w, _, px = img
    wrong = 0
    for i, ch in enumerate(text):
        glyph = glyphs[ch]
        for y in range(16 * scale):
            for x in range(8 * scale):
                lit = glyph[y // scale] & (0x80 >> (x // scale))
                o = ((y0 + y) * w + x0 + (i * 8 * scale) + x) * 3
                wrong += tuple(px[o:o + 3]) != (color if lit else (0, 0, 0))
    return wrong


def test_a_failing_run_reads_fail_across_the_room(tmp_path, capsys):
    shot, js, log = tmp_path / "screen.ppm", tmp_path / "run.json", tmp_path / "serial.log"
    rc = cli.main(["run", "-q", "--usb", "--profile", "gop", "--tests", "boot.*,selftest.fails_on_purpose",
                   "--screendump", str(shot), "--json", str(js), "--log", str(log)])
    capsys.readouterr()
    assert rc == 1  # the self-test case fails on purpose
    # the firmware took the loader from the USB stick (its device path ends in a USB node)
    assert re.search(r"^BdsDxe: starting Boot\w+ .* from \S*/USB\(", log.read_text(errors="replace"), re.M), \
        "the firmware did not start the loader from the USB image"
    cases = {c["name"]: c["status"] for c in json.load(open(js))["cases"]}
    boot = {k: v for k, v in cases.items() if k.startswith("boot.")}
    # every boot case passes through UEFI on a GOP framebuffer, the glyph check included
    assert boot.get("boot.framebuffer_console_draws_glyphs") == "pass", cases
    assert len(boot) > 1 and set(boot.values()) == {"pass"}, cases
    assert cases["selftest.fails_on_purpose"] == "fail"
    img, glyphs = ppm(shot), font()
    y = MARGIN
    assert wrong_pixels(img, glyphs, "FAIL", MARGIN, y, VERDICT_SCALE, RED) == 0
    y += ROW * VERDICT_SCALE + LINE_GAP
    assert wrong_pixels(img, glyphs, f"{len(boot)} passed, 1 failed, 0 skipped", MARGIN, y, COUNTS_SCALE, GREY) == 0
    y += ROW * COUNTS_SCALE + LINE_GAP
    assert wrong_pixels(img, glyphs, "VT-d: no remapping unit (no DMAR table)", MARGIN, y, 1, GREY) == 0
    y += ROW + LINE_GAP + LINE_GAP
    assert wrong_pixels(img, glyphs, "FAIL selftest.fails_on_purpose: 1 + 1: expected 3 = 0x3 (3), saw 0x2 (2)",
                        MARGIN, y, 1, RED) == 0
    # and what it is not: the green PASS
    assert wrong_pixels(img, glyphs, "PASS", MARGIN, MARGIN, VERDICT_SCALE, (0x40, 0xe0, 0x40)) > 0
