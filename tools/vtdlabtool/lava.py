"""LAVA job definitions for vtdlab: a lab of many machines runs the image
through its scheduler (LAVA, which kernelci and most board farms use) and
gets every KTAP case as a LAVA test case.

A machine job deploys the USB image with the device's flasher, powers the
machine on (its firmware boots the stick by UEFI: boot method `minimal`)
and watches the serial console with a `monitors` test action. The QEMU
variant is the same job for a lab's virtual devices: the ESP image and
OVMF deployed to tmpfs, QEMU started with a profile's devices.

The jobs are plain data; tests/tool/test_lava.py validates each against
LAVA's own schema (Debian's lava-common) and applies the monitor pattern
to real logs.
"""
from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Optional

from . import qemu

CLASSES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lava_classes.json")

# Where a run starts and ends on the console (harness/ktap.c, kernel/exit.c).
MONITOR_START = "KTAP version 1"
MONITOR_END = "# vtdlab: done"
# One case's result line, indented under its suite (suite lines are not,
# so they do not count as cases). LAVA has one `result` group: the
# lookahead steps over "ok N name # " to take SKIP when the directive is
# there, and falls back to the line's own "ok" or "not ok" otherwise
# (TIMEOUT and ERROR directives are failures of a "not ok" line).
MONITOR_PATTERN = (r"    (?=(?:(?:not ok|ok) \d+ [^\s#]+ # )?(?P<result>SKIP|not ok|ok))"
                   r"(?:not ok|ok) \d+ (?P<test_case_id>[^\s#]+)")
FIXUPDICT = {"ok": "pass", "not ok": "fail", "SKIP": "skip"}


class LavaError(Exception):
    """Bad input for a job: an unknown class or profile, a missing URL."""


def load_classes(path: str = CLASSES) -> Dict[str, dict]:
    with open(path) as f:
        return json.load(f)


def _monitor_test(minutes: int) -> dict:
    return {"timeout": {"minutes": minutes},
            "monitors": [{"name": "vtdlab", "start": MONITOR_START, "end": MONITOR_END,
                          "pattern": MONITOR_PATTERN, "fixupdict": dict(FIXUPDICT)}]}


def machine_job(class_name: str, image_url: str, classes: Optional[dict] = None) -> dict:
    """A job for a real machine of the class: the USB image flashed, a UEFI
    boot, the console watched."""
    classes = classes if classes is not None else load_classes()
    if class_name not in classes:
        raise LavaError(f"unknown machine class '{class_name}' (known: {', '.join(sorted(classes))})")
    if not image_url:
        raise LavaError("a machine job needs --image-url: where the lab fetches vtdlab-usb.img")
    c = classes[class_name]
    return {
        "job_name": f"vtdlab {class_name}",
        "device_type": c["device_type"],
        "visibility": "public",
        "priority": "medium",
        "timeouts": {"job": {"minutes": c["minutes"] + 20}, "action": {"minutes": c["minutes"]},
                     "connection": {"minutes": 2}},
        "metadata": {"vtdlab.class": class_name, "vtdlab.description": c["description"],
                     "vtdlab.cmdline": c["cmdline"]},
        "actions": [
            {"deploy": {"to": "flasher", "timeout": {"minutes": 10}, "images": {"image": {"url": image_url}}}},
            {"boot": {"method": "minimal", "timeout": {"minutes": 5}}},
            {"test": _monitor_test(c["minutes"])},
        ],
    }


def qemu_job(profile_name: str, esp_url: str, firmware_url: str, minutes: int = 10) -> dict:
    """The QEMU variant: a profile's machine as a lab's virtual device."""
    try:
        profile = qemu.get_profile(profile_name)
    except qemu.SetupError as e:
        raise LavaError(str(e)) from e
    if not esp_url or not firmware_url:
        raise LavaError("a QEMU job needs --image-url (esp.img) and --firmware-url (OVMF.fd)")
    memory = profile.get("memory", "256M")
    if not re.fullmatch(r"\d+M", memory):
        raise LavaError(f"profile '{profile_name}' memory '{memory}' is not in MiB")
    extra = ["-nodefaults", "-no-reboot"] + qemu.DEBUG_EXIT_ARGS + qemu.profile_args(profile)
    if profile.get("accel"):
        extra += ["-accel", profile["accel"]]
    return {
        "job_name": f"vtdlab qemu {profile_name}",
        "device_type": "qemu",
        "visibility": "public",
        "priority": "medium",
        "timeouts": {"job": {"minutes": minutes + 10}, "action": {"minutes": minutes},
                     "connection": {"minutes": 2}},
        "context": {"arch": "amd64", "machine": "q35", "cpu": profile.get("cpu", "max"),
                    "memory": int(memory[:-1]), "no_kvm": True, "extra_options": extra},
        "metadata": {"vtdlab.profile": profile_name, "vtdlab.description": profile.get("description", "")},
        "actions": [
            {"deploy": {"to": "tmpfs", "timeout": {"minutes": 5},
                        "images": {"firmware": {"url": firmware_url, "image_arg": "-bios {firmware}"},
                                   "esp": {"url": esp_url,
                                           "image_arg": "-drive if=none,id=esp,format=raw,file={esp} "
                                                        "-device ide-hd,drive=esp"}}}},
            {"boot": {"method": "qemu", "media": "tmpfs", "timeout": {"minutes": 5}}},
            {"test": _monitor_test(minutes)},
        ],
    }


def results_from_log(text: str) -> List[tuple]:
    """(test_case_id, LAVA result) for every line the monitor would take,
    as LAVA's monitor does: the pattern searched in the console output,
    the result through the fixupdict."""
    out = []
    for m in re.finditer(MONITOR_PATTERN, text):
        out.append((m.group("test_case_id"), FIXUPDICT.get(m.group("result"), "unknown")))
    return out


# ---------------------------------------------------------------- YAML

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\- /]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS and not s.endswith(" "):
        return s
    return json.dumps(s)  # a JSON string is a YAML double-quoted scalar


def _leaf(v) -> str:
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _scalar(v)


def to_yaml(data, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars (what a job holds)."""
    pad = " " * indent
    lines = []
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, (dict, list)) and v:
                lines += [f"{pad}{_scalar(k)}:", to_yaml(v, indent + 2)]
            else:
                lines.append(f"{pad}{_scalar(k)}: {_leaf(v)}")
    elif isinstance(data, list):
        for v in data:
            if isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 2).splitlines()
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_leaf(v)}")
    else:
        lines.append(pad + _scalar(data))
    return "\n".join(lines)


def write(job: dict, path: Optional[str]) -> str:
    text = "# generated by tools/vtdlab lava-job\n" + to_yaml(job) + "\n"
    if path:
        with open(path, "w") as f:
            f.write(text)
    return text
