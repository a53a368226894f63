"""A freed part-sized buffer leaves the process, not only the first one."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from pathlib import Path
from sequenzia.memory.allocator import return_large_buffers

def rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "fixed":
    assert return_large_buffers()
before = rss_mib()
for _ in range(3):  # the first free is the one that raises glibc's dynamic threshold
    part = bytearray(20 * 1024 * 1024)
    part[::4096] = b"x" * len(part[::4096])  # touch every page: resident
    del part
print(rss_mib() - before)
"""


def grown_mib(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_freed_parts_return_to_the_system() -> None:
    assert grown_mib("fixed") < 5, "with the fixed threshold every freed part is unmapped"
    # the default the fix is for: the part stays resident after its free
    assert grown_mib("default") >= 15
