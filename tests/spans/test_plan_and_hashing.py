"""Part planning at the edges, and streaming hashes equal to one-shot hashes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from sequenzia.spans.hashing import hash_chunks, hash_file, hash_stream, xxh3_128_hex
from sequenzia.spans.plan import REQUEST_MARGIN, SpanPlan, part_size_for

MiB = 2**20


def test_part_size_from_live_limits() -> None:
    assert part_size_for(20 * MiB, 25 * MiB) == 20 * MiB
    assert part_size_for(100 * MiB, 25 * MiB) == 25 * MiB - REQUEST_MARGIN  # boosted guild
    assert part_size_for(10 * MiB, 25 * MiB) == 10 * MiB  # the 2025 limit
    assert part_size_for(20 * MiB, 25 * MiB, configured=8 * MiB) == 8 * MiB
    assert part_size_for(20 * MiB, 25 * MiB, configured=64 * MiB) == 20 * MiB
    with pytest.raises(ValueError):
        part_size_for(0, 25 * MiB)
    with pytest.raises(ValueError):
        part_size_for(20 * MiB, 25 * MiB, configured=-1)


@pytest.mark.parametrize(
    ("size", "count", "spanned", "last"),
    [
        (0, 1, False, 0),
        (1, 1, False, 1),
        (99, 1, False, 99),
        (100, 1, False, 100),
        (101, 2, True, 1),
        (1000, 10, True, 100),
    ],
)
def test_plan_edges(size: int, count: int, spanned: bool, last: int) -> None:
    plan = SpanPlan(size, 100)
    assert plan.count == count and plan.spanned is spanned
    assert plan.part_range(count - 1)[1] == last
    assert sum(plan.part_range(i)[1] for i in range(count)) == size
    with pytest.raises(IndexError):
        plan.part_range(count)


def test_bad_plans() -> None:
    with pytest.raises(ValueError):
        SpanPlan(-1, 10)
    with pytest.raises(ValueError):
        SpanPlan(10, 0)


def test_streaming_hashes_match(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    whole = xxh3_128_hex(data)
    assert len(whole) == 32
    assert hash_stream(io.BytesIO(data)) == whole
    assert hash_chunks([data[:5], data[5 : MiB + 3], data[MiB + 3 :]]) == whole
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(path) == whole
    assert hash_file(path, 100, 2000) == xxh3_128_hex(data[100:2100])
    with pytest.raises(EOFError):
        hash_stream(io.BytesIO(b"abc"), 10)
    assert xxh3_128_hex(b"") == hash_chunks([])
