"""vtdlab decode: the kernel's decoders on the host. The DMAR decoder is
checked field by field against iasl's own disassembly (Debian's
acpica-tools, which make deps installs) of tables iasl compiled from
tests/acpi/: dmar-two-segments.asl (two units in two segments, bridge, I/O
APIC and HPET scopes, INCLUDE_PCI_ALL, RMRR, ATSR, RHSA and ANDD) and
dmar-three-units.asl (a one-socket server's shape, written after the
decoder: three units, overlapping RMRRs, an all-ports ATSR, two RHSAs and
two ANDDs)."""
import json
import os
import re
import shutil
import subprocess

import pytest

from vtdlabtool import cli, qemu

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACPI = os.path.join(TOP, "tests", "acpi")
SOURCE = os.path.join(ACPI, "dmar-two-segments.asl")
# Each table and how many of each structure it has.
TABLES = {
    "dmar-two-segments.asl": {"drhd": 2, "rmrr": 1, "atsr": 1, "rhsa": 1, "andd": 1},
    "dmar-three-units.asl": {"drhd": 3, "rmrr": 2, "atsr": 1, "rhsa": 2, "andd": 2},
}
DECODE = os.path.join(qemu.BUILD, "host", "vtdlab-decode")
IASL = shutil.which("iasl")



@pytest.fixture(autouse=True)
def built():
    # not a skip: make test builds it, and a decoder nobody ran is not tested
    assert os.path.isfile(DECODE), f"{DECODE} is missing: run make"

# "[030h 0048   2]                Subtable Type : 0000 [Hardware Unit Definition]"
FIELD = re.compile(r"^\[[0-9A-F]+h [0-9]+ +[0-9]+\] +([^:]+?) : (.*)$")


def compiled(tmp_path, source=SOURCE):
    assert IASL, "iasl is missing: make deps installs acpica-tools"
    src = tmp_path / "dmar.asl"
    shutil.copyfile(source, src)
    subprocess.run([IASL, "-p", str(tmp_path / "dmar"), str(src)], check=True, stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=30)
    return tmp_path / "dmar.aml"


def disassembled(aml):
    """iasl -d's fields, in order, as (name, value) with brackets dropped."""
    subprocess.run([IASL, "-d", str(aml)], check=True, stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=30, cwd=aml.parent)
    out = []
    for line in aml.with_suffix(".dsl").read_text().splitlines():
        m = FIELD.match(line.strip())
        if m:
            out.append((m.group(1), m.group(2).split(" [")[0].strip()))
    return out


def subtables(fields):
    """Group the disassembly: each subtable its fields and its scopes."""
    tables, scope = [], None
    for name, value in fields:
        if name == "Subtable Type":
            tables.append({"type": int(value, 16), "fields": {}, "scopes": []})
            scope = None
        elif not tables:
            continue
        elif name == "Device Scope Type":
            scope = {"Device Scope Type": int(value, 16), "paths": []}
            tables[-1]["scopes"].append(scope)
        elif name == "PCI Path" and scope is not None:
            dev, fn = value.split(",")
            scope["paths"].append([int(dev, 16), int(fn, 16)])
        elif scope is not None:
            scope[name] = value
        else:
            tables[-1]["fields"][name] = value
    return tables


def decode(*args):
    p = subprocess.run([DECODE, "--json"] + [str(a) for a in args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def hex_(v):
    return int(v.strip('"'), 16)


def same_scopes(ours, theirs):
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o["type"] == t["Device Scope Type"]
        assert o["enumeration_id"] == hex_(t["Enumeration ID"])
        assert o["start_bus"] == hex_(t["PCI Bus Number"])
        assert o["path"] == t["paths"]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_dmar_decoded_as_iasl_disassembles_it(tmp_path, table):
    aml = compiled(tmp_path, os.path.join(ACPI, table))
    fields = disassembled(aml)
    ours = decode("dmar", aml)
    head = dict(fields[:12])
    assert ours["host_address_width"] == hex_(head["Host Address Width"]) + 1
    assert ours["flags"] == hex_(head["Flags"])
    seen = {"drhd": 0, "rmrr": 0, "atsr": 0, "rhsa": 0, "andd": 0}
    for t in subtables(fields):
        f = t["fields"]
        if t["type"] == 0:
            u = ours["drhd"][seen["drhd"]]
            seen["drhd"] += 1
            assert u["flags"] == hex_(f["Flags"]) and u["segment"] == hex_(f["PCI Segment Number"])
            assert u["base"] == hex_(f["Register Base Address"])
            same_scopes(u["scopes"], t["scopes"])
        elif t["type"] == 1:
            r = ours["rmrr"][seen["rmrr"]]
            seen["rmrr"] += 1
            assert r["segment"] == hex_(f["PCI Segment Number"])
            assert r["base"] == hex_(f["Base Address"]) and r["limit"] == hex_(f["End Address (limit)"])
            same_scopes(r["scopes"], t["scopes"])
        elif t["type"] == 2:
            a = ours["atsr"][seen["atsr"]]
            seen["atsr"] += 1
            assert a["flags"] == hex_(f["Flags"]) and a["segment"] == hex_(f["PCI Segment Number"])
            same_scopes(a["scopes"], t["scopes"])
        elif t["type"] == 3:
            h = ours["rhsa"][seen["rhsa"]]
            seen["rhsa"] += 1
            assert h["base"] == hex_(f["Base Address"]) and h["proximity_domain"] == hex_(f["Proximity Domain"])
        elif t["type"] == 4:
            n = ours["andd"][seen["andd"]]
            seen["andd"] += 1
            assert n["device_number"] == hex_(f["Device Number"])
            assert n["name"] == f["Device Name"].strip('"')
    assert seen == TABLES[table]
    assert {k: len(ours[k]) for k in seen} == seen
    assert ours["problems"] == []


def test_a_malformed_dmar_names_the_offset(tmp_path):
    data = bytearray(compiled(tmp_path).read_bytes())
    data[48 + 2] = 0xff  # the first structure's length, past the table's end
    bad = tmp_path / "bad.aml"
    bad.write_bytes(bytes(data))
    ours = decode("dmar", bad)
    assert any("at offset 48 has length 255, past the table's" in p for p in ours["problems"]), ours["problems"]
    text = subprocess.run([DECODE, "dmar", str(bad)], capture_output=True, text=True).stdout
    assert "problem: structure type 0 at offset 48" in text


def test_registers_records_and_descriptors():
    # QEMU's CAP and ECAP (docs/qemu.md)
    cap = decode("cap", "0x01d2008c222f0606")["fields"]
    assert cap["SAGAW"] == 0x6 and cap["ND"] == 6 and cap["MGAW"] == 47
    ecap = decode("ecap", "0x0000890000f00f4a")["fields"]
    assert ecap["QI"] == 1 and ecap["IR"] == 1 and ecap["SMTS"] == 1 and ecap["FLTS"] == 1 and ecap["SLTS"] == 0
    # a DMA write fault by 00:04.0 at 0x12345000, reason 0x05
    f = decode("fault", "0x8000000500000020", "0x12345000")
    assert f["reason"] == 5 and f["sid"] == 0x20 and f["address"] == 0x12345000 and not f["read"]
    # an interrupt-remapping fault: the index, not an address
    f = decode("fault", "0x8000002600000020", "0x0005000000000000")
    assert f["interrupt"] and f["index"] == 5 and "source-id validation" in f["reason_name"]
    assert decode("fault", "0x0", "0x0") == {"fault": False}
    # a global IOTLB invalidation (type 2, granularity 1), a wait (type 5)
    assert decode("desc", "0x12", "0")["type_name"] == "IOTLB"
    assert decode("desc", "0x0000000700000025", "0x1000")["type"] == 5
    # a legacy context entry: present, SLPTPTR 0x12345, AW 2, DID 7
    ctx = decode("context", "0x12345001", "0x702")["fields"]
    assert ctx == {"P": 1, "FPD": 0, "TT": 0, "SLPTPTR": 0x12345, "AW": 2, "DID": 7}
    # a first-stage PASID entry: PGTT 1, AW 2, DID 1, SRE, FLPTR 0xb8c
    pe = decode("pasid-entry", "0x49", "0x1", "0xb8c001")["fields"]
    assert pe["P"] == 1 and pe["PGTT"] == 1 and pe["AW"] == 2 and pe["DID"] == 1 and pe["SRE"] == 1
    assert pe["FLPTR"] == 0xb8c


def test_bad_input_is_refused(tmp_path):
    for args in (["cap", "xyz"], ["fault", "1"], ["nosuch"], ["dmar", str(tmp_path / "missing")],
                 ["desc", "1", "2", "3"]):
        p = subprocess.run([DECODE] + args, capture_output=True, text=True)
        assert p.returncode == 2 and p.stderr.startswith("vtdlab-decode: "), (args, p.stderr)
    notdmar = tmp_path / "x.bin"
    notdmar.write_bytes(b"APIC" + b"\0" * 60)
    p = subprocess.run([DECODE, "dmar", str(notdmar)], capture_output=True, text=True)
    assert p.returncode == 2 and "not a DMAR table" in p.stderr


def test_the_host_tool_runs_it(capsys):
    assert cli.main(["decode", "cap", "0x01d2008c222f0606"]) == 0
    assert "SAGAW   [12:8] = 0x6" in capsys.readouterr().out
