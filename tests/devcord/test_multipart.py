"""Uploads parsed as they arrive: however TCP cuts the body, the files come out whole."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sequenzia.devcord.multipart import BodyTooLarge, MultipartError, MultipartReader, Part

BOUNDARY = b"f2b4d1c0a9e84e7b9c3d5a6f7e8d9c0b"
# file data full of near-misses: a CR, CRLF, CRLF--, and all but the last byte of the delimiter
TRICKY = b"\r\r\n\r\n-\r\n--" + b"\r\n--" + BOUNDARY[:-1] + b"x" + b"\r\n--" + BOUNDARY[:5]


def body(payload: bytes, files: list[tuple[str, bytes]]) -> bytes:
    """payload_json, then files[n], as discord.py (aiohttp) frames them."""
    out = [
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="payload_json"\r\n'
        b"Content-Type: application/json\r\n\r\n" + payload + b"\r\n"
    ]
    for n, (name, data) in enumerate(files):
        out.append(
            b"--"
            + BOUNDARY
            + f'\r\nContent-Disposition: form-data; name="files[{n}]"; filename="{name}"\r\n'.encode()
            + b"Content-Type: application/octet-stream\r\n\r\n"
            + data
            + b"\r\n"
        )
    out.append(b"--" + BOUNDARY + b"--\r\n")
    return b"".join(out)


def read(tmp_path: Path, chunks: list[bytes], max_bytes: int = 1 << 30) -> list[Part]:
    reader = MultipartReader(BOUNDARY, tmp_path, max_bytes)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def contents(parts: list[Part]) -> list[tuple[str | None, str | None, bytes]]:
    return [
        (p.name, p.filename, p.path.read_bytes() if p.path is not None else p.data) for p in parts
    ]


def test_every_cut_of_the_body_gives_the_same_parts(tmp_path: Path) -> None:
    files = [("a.bin", TRICKY * 3), ("empty", b""), ("b.bin", TRICKY + b"\r\n--")]
    whole = body(b'{"content": "x"}', files)
    expected = [("payload_json", None, b'{"content": "x"}')] + [
        (f"files[{n}]", name, data) for n, (name, data) in enumerate(files)
    ]
    for cut in range(len(whole) + 1):
        parts = read(tmp_path, [whole[:cut], whole[cut:]])
        assert contents(parts) == expected, f"cut at {cut}"
        assert [p.size for p in parts] == [len(data) for _, _, data in expected]
    assert contents(read(tmp_path, [whole[i : i + 1] for i in range(len(whole))])) == expected
    rng = random.Random(7)
    for _ in range(50):
        cuts = sorted(rng.sample(range(len(whole)), 8))
        chunks = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
        assert contents(read(tmp_path, chunks)) == expected


def test_file_parts_go_to_disk_and_discard_removes_them(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(300_000)
    reader = MultipartReader(BOUNDARY, tmp_path, 1 << 30)
    whole = body(b"{}", [("big", data)])
    for at in range(0, len(whole), 65536):
        reader.feed(whole[at : at + 65536])
    (payload, big) = reader.finish()
    assert payload.path is None and big.path is not None and big.path.parent == tmp_path
    assert big.path.read_bytes() == data
    reader.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("whole", "message"),
    [
        (b"no delimiter at all", "no part delimited"),
        (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data", "headers are not terminated"),
        (body(b"{}", [("cut", b"data")])[:-40], "not closed by the boundary"),
    ],
)
def test_malformed_bodies_fail_and_leave_no_file(
    tmp_path: Path, whole: bytes, message: str
) -> None:
    with pytest.raises(MultipartError, match=message):
        read(tmp_path, [whole])
    assert list(tmp_path.iterdir()) == []


def test_a_body_over_the_limit_is_dropped_as_it_arrives(tmp_path: Path) -> None:
    whole = body(b"{}", [("big", b"x" * 10_000)])
    reader = MultipartReader(BOUNDARY, tmp_path, 5_000)
    reader.feed(whole[:4_000])
    assert len(list(tmp_path.iterdir())) == 1, "the file part is being written"
    reader.feed(whole[4_000:])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BodyTooLarge):
        reader.finish()
