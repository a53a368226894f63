"""Part and header captions: v1 round trips, strict parsing, legacy Kanmi captions."""

from __future__ import annotations

import pytest

from sequenzia.spans.captions import (
    CaptionError,
    HeaderCaption,
    PartCaption,
    header_caption,
    parse_header,
    parse_part,
    part_caption,
)

H = "0123456789abcdef0123456789abcdef"
FID = "9f1c2e7a4b3d4c5e8f90a1b2c3d4e5f6"


def test_part_round_trip() -> None:
    text = part_caption(FID, 0, 3, 20 * 2**20, H)
    assert text == f"seqz-part/1 file={FID} part=1/3 size=20971520 xxh3={H}"
    assert parse_part(text) == PartCaption(FID, 0, 3, 20971520, H)
    assert parse_header(text) is None


@pytest.mark.parametrize("name", ["holiday.mp4", "a b ç 🧩.mkv", "100%.zip", "x=y name=z.bin"])
def test_header_round_trip(name: str) -> None:
    text = header_caption(FID, name, 7, 123456789, H, note="from my camera")
    lines = text.split("\n")
    assert lines[0].startswith("seqz-file/1 ")
    assert " " not in lines[0].split(" name=", 1)[1], "the name is one percent-encoded word"
    assert "7 parts" in lines[1] and lines[2] == "from my camera"
    assert parse_header(text) == HeaderCaption(FID, name, 7, 123456789, H)
    assert parse_part(text) is None


@pytest.mark.parametrize(
    "content",
    [
        f"seqz-part/1 file={FID} part=0/3 size=1 xxh3={H}",
        f"seqz-part/1 file={FID} part=4/3 size=1 xxh3={H}",
        f"seqz-part/1 file={FID} part=1/3 size=1 xxh3=XYZ",
        f"seqz-part/1 file=../etc part=1/3 size=1 xxh3={H}",
        "seqz-part/1 garbage",
    ],
)
def test_malformed_part_captions_are_errors(content: str) -> None:
    with pytest.raises(CaptionError):
        parse_part(content)


@pytest.mark.parametrize(
    "content",
    [
        f"seqz-file/1 file={FID} parts=2 size=5 xxh3={H} name=a%2Fb",
        f"seqz-file/1 file={FID} parts=2 size=5 xxh3={H} name=",
        f"seqz-file/1 file={FID} parts=x size=5 xxh3={H} name=a",
    ],
)
def test_malformed_headers_are_errors(content: str) -> None:
    with pytest.raises(CaptionError):
        parse_header(content)


def test_writers_refuse_what_readers_would_refuse() -> None:
    with pytest.raises(ValueError):
        part_caption(FID, 3, 3, 1, H)
    with pytest.raises(ValueError):
        part_caption("bad id!", 0, 1, 1, H)
    with pytest.raises(ValueError):
        header_caption(FID, "n", 1, 1, "nothex")


def test_legacy_kanmi_captions() -> None:
    part = "🧩 ID: 8f2a1b\n📦 Part: 3/5"
    assert parse_part(part) == PartCaption("8f2a1b", 2, 5, None, None, legacy=True)
    header = "**🧩 File : 8f2a1b**\n🏷 Name: Holiday Video.mp4\n📀 Size: 98.1 MB"
    assert parse_header(header) == HeaderCaption(
        "8f2a1b", "Holiday Video.mp4", None, None, None, legacy=True
    )
    assert parse_part(header) is None
    assert parse_header(part) is None
    with pytest.raises(CaptionError):
        parse_part("🧩 ID: 8f2a1b\n📦 Part: 6/5")


def test_ordinary_messages_are_neither() -> None:
    for content in ("", "just a photo", "Part: 1/2 of my story", "seqz-partial thing"):
        assert parse_part(content) is None
        assert parse_header(content) is None
