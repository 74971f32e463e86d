"""The layering docs/design.md states ("Which way the includes point"),
checked on the tree's includes as scripts/include_edges.py counts them."""
import importlib.util
import os

from conftest import TOP

_spec = importlib.util.spec_from_file_location("include_edges", os.path.join(TOP, "scripts", "include_edges.py"))
include_edges = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(include_edges)

EDGES = include_edges.edges(include_edges.sources(None, TOP))
# The platform set-up that maps registers and firmware tables through mm/'s
# MMIO region, or takes AP stacks from it, and main.c, which brings every
# layer up.
KERNEL_ABOVE_MM = {"kernel/acpi.c", "kernel/apic.c", "kernel/clock.c", "kernel/fbcon.c", "kernel/ap_start.c",
                   "kernel/main.c"}
# The sanitizers' runtime (docs/sanitizers.md): KASAN's shadow covers the
# frames mm/ hands out, and a finding fails the case the harness runs.
SANITIZER_SHADOW = {"kernel/san/kasan.c"}
SANITIZER_REPORTS = {"kernel/san/report.c", "kernel/san/ubsan.c"}


def including(src, dst):
    """The files of folder src that include a file of folder dst."""
    return {a for a, b in EDGES if include_edges.folder_of(a) == src and include_edges.folder_of(b) == dst}


def test_the_edges_are_read():
    # A parse that found nothing would pass everything below.
    assert "mm/walker.h" in {b for a, b in EDGES if a == "mm/kva.c"}
    assert including("iommu", "mm") and including("mm", "kernel")


def test_mm_reaches_no_iommu_and_no_device():
    assert including("mm", "iommu") == set()
    assert including("mm", "devices") == set()


def test_devices_reach_no_iommu():
    assert including("devices", "iommu") == set()


def test_only_main_reaches_up_from_kernel():
    for dst in ("harness", "iommu", "devices"):
        allowed = {"kernel/main.c"} | (SANITIZER_REPORTS if dst == "harness" else set())
        assert including("kernel", dst) <= allowed, f"kernel/ -> {dst}/"


def test_kernel_reaches_mm_only_from_the_platform_set_up():
    assert including("kernel", "mm") <= KERNEL_ABOVE_MM | SANITIZER_SHADOW


def test_nothing_below_the_harness_includes_it():
    for src in ("mm", "iommu", "devices", "lib"):
        assert including(src, "harness") == set(), f"{src}/ -> harness/"


def test_lib_includes_no_layer():
    for dst in ("kernel", "mm", "iommu", "devices", "harness"):
        assert including("lib", dst) == set(), f"lib/ -> {dst}/"


def test_only_main_reaches_the_shell():
    """The bring-up shell sits on top, beside the harness."""
    for src in ("kernel", "mm", "iommu", "devices", "lib", "harness"):
        allowed = {"kernel/main.c"} if src == "kernel" else set()
        assert including(src, "shell") <= allowed, f"{src}/ -> shell/"
